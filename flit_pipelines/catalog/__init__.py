"""Destination field catalogs: one data file per CRM (``pipedrive.yaml``, ``highlevel.yaml``,
``salesforce.yaml``), generated from the vendors' documents by ``scripts/gen_catalogs.py``.

The load code and the map proposer read the same catalog (one per CRM, never two). The typed API:

    cat = load_catalog("highlevel")
    contact = cat.entity("contact")                 # EntityDef
    contact.fields["gender"].create_only            # True: UpdateContactDto has no gender
    cat.entity("sobject", sobject="Contact")        # Salesforce: one EntityDef per standard object
    cat.custom_fields.types["money"]                # "MONETORY": the CRM's custom-field type for a kind
    cat.synonym_counts()                            # {"Pipedrive OpenAPI v2 addPerson": 7, ...}

Field ``type`` is a kind shared by every CRM (``text``, ``long_text``, ``email``, ``phone``, ``date``,
``datetime``, ``duration``, ``number``, ``money``, ``bool``, ``enum``, ``list``, ``url``, ``path``,
``file``, ``country``, ``state``, ``postal_code``, ``object``): the proposer checks source values
against it. ``local`` fields are read by our loader (a file's path), never sent; ``write_only`` ones
are sent but never returned by the vendor; ``create_only`` ones are accepted on create only.
"""

from flit_pipelines.catalog.load import (
    CATALOG_DIR,
    Catalog,
    CatalogError,
    CustomFieldTypes,
    EntityDef,
    FieldDef,
    LookupDef,
    Synonym,
    load_catalog,
)

__all__ = ["CATALOG_DIR", "Catalog", "CatalogError", "CustomFieldTypes", "EntityDef", "FieldDef", "LookupDef",
           "Synonym", "load_catalog"]
