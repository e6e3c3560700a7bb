"""FHIR R4 source: Bulk Data export and search, SMART Backend Services, FHIRPath-like flattening.

Modules, one concern each:

* ``paths``: FHIRPath-like column paths (``name[use=official].given[0]``, ``telecom[system=email].value``,
  ``extension[url=...].valueString``, ``[]`` explode, ``&`` concatenation, ``refId()``, ``base64()``);
* ``flatten``: resources -> text columns in bounded chunks, validated with ``fhir.resources`` R4B models;
* ``auth``: bearer token, or SMART Backend Services (signed JWT assertion, discovered token endpoint);
* ``client``: the HTTP side on ``flit_pipelines.http`` (limiter, retries, patience, OperationOutcome errors);
* ``bulk``: the Bulk Data export lifecycle, resumable on disk;
* ``search``: search paging over ``Bundle.link`` next, ``_lastUpdated``, ``_include`` spool;
* ``source``: ``FhirSource``, the ``sources.base.Source`` the registry opens for ``kind: fhir_api``.
"""

from flit_pipelines.sources.fhir.auth import BackendServicesAuth, BearerAuth, load_private_key
from flit_pipelines.sources.fhir.bulk import BulkExportErrors, BulkExportFailed, BulkExportTimeout
from flit_pipelines.sources.fhir.client import FhirApiError, FhirAuthError, FhirClient
from flit_pipelines.sources.fhir.source import FhirSource

__all__ = ["BackendServicesAuth", "BearerAuth", "BulkExportErrors", "BulkExportFailed", "BulkExportTimeout",
           "FhirApiError", "FhirAuthError", "FhirClient", "FhirSource", "load_private_key"]
