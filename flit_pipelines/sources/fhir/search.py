"""FHIR RESTful search as the fallback for servers without Bulk Data (FHIR R4 §3.1.1 "Search").

* ``GET [base]/<Type>?_count=<page size>[&_lastUpdated=gt<since>][&<the object's fixed parameters>]``
  -> a ``Bundle`` of type ``searchset``; the reader follows ``link[relation=next].url`` (never builds
  page URLs), moved onto the configured server's scheme and host so the token never goes elsewhere;
  a ``next`` link already followed in this read raises instead of looping.
* Entries with ``search.mode`` ``match`` (or no mode, of the requested type) are the object's rows;
  ``outcome`` entries (OperationOutcome warnings) are counted and skipped.
* ``_include`` / ``_revinclude`` in an object's endpoint (``Patient?_revinclude=RelatedPerson:patient``)
  bring other resources in the same pages. They are spooled (``IncludeSpool``, per wave run, one
  NDJSON file per type, each resource once) and, once the including read reached its end, serve a
  later full read of that type in the same run without a single request: the pages of
  ``RelatedPerson`` are saved. Delta reads (``since``) never use the spool (an include only
  follows resources that changed themselves).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from flit_pipelines.sources.fhir.client import FhirApiError, FhirClient

__all__ = ["IncludeSpool", "search_pages"]

log = logging.getLogger(__name__)

INCLUDE_PARAMS = ("_include", "_revinclude")


class IncludeSpool:
    """Included resources of one wave run, by type (module docstring).

    Args:
        root: ``<state dir>/includes``; other runs' spools under it are removed on creation.
        run_id: the wave run.
    """

    def __init__(self, root: Path, run_id: str):
        self.directory = root / run_id.replace("/", "_")
        if root.exists():
            for other in root.iterdir():
                if other != self.directory:
                    shutil.rmtree(other, ignore_errors=True)
        self._seen: dict[str, set[str]] = {}
        self._open: dict[str, Any] = {}

    def add(self, resources: list[dict[str, Any]]) -> None:
        """Append included ``resources`` not spooled yet in this read (to ``<Type>.ndjson.part``)."""
        for res in resources:
            rtype, ident = res.get("resourceType"), res.get("id")
            if not isinstance(rtype, str) or not isinstance(ident, str) or not rtype.isalpha():
                continue
            seen = self._seen.setdefault(rtype, set())
            if ident in seen:
                continue
            seen.add(ident)
            fh = self._open.get(rtype)
            if fh is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                fh = self._open[rtype] = open(self.directory / f"{rtype}.ndjson.part", "w", encoding="utf-8")  # noqa: SIM115
            fh.write(json.dumps(res, separators=(",", ":"), ensure_ascii=False) + "\n")

    def commit(self) -> None:
        """The including read reached its end: its spooled types become readable."""
        for rtype, fh in self._open.items():
            fh.close()
            (self.directory / f"{rtype}.ndjson.part").replace(self.directory / f"{rtype}.ndjson")
        self._open.clear()
        self._seen.clear()

    def abandon(self) -> None:
        """The including read stopped early: drop what it spooled."""
        for rtype, fh in self._open.items():
            fh.close()
            (self.directory / f"{rtype}.ndjson.part").unlink(missing_ok=True)
        self._open.clear()
        self._seen.clear()

    def available(self, rtype: str) -> Path | None:
        """The complete spool file of ``rtype``, or None."""
        path = self.directory / f"{rtype}.ndjson"
        return path if path.exists() else None


def _rebase(link: str, current: str, base: str) -> str:
    parts = urlsplit(urljoin(current, link))
    origin = urlsplit(base)
    return urlunsplit((origin.scheme, origin.netloc, parts.path, parts.query, ""))


def search_pages(client: FhirClient, rtype: str, params: dict[str, str], *, since: str | None, page_size: int,
                 spool: IncludeSpool | None = None) -> Iterator[list[dict[str, Any]]]:
    """The matched resources of a search, one list per page (module docstring).

    Raises:
        FhirApiError: a failed page (path template ``/<Type>`` and status), a body that is not a
            Bundle, or a ``next`` link that repeats a page.
    """
    label = f"/{rtype}"
    query = {**params, "_count": str(page_size)}
    if since:
        query["_lastUpdated"] = f"gt{since}"
    url: str | None = f"{client.url(rtype)}?{urlencode(query)}"
    requested: set[str] = set()
    while url is not None:
        if url in requested:
            raise FhirApiError(label, None, "GET (Bundle.link next repeats a page already read)")
        requested.add(url)
        bundle = client.get_json(url, label)
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise FhirApiError(label, 200, "GET (the answer is not a Bundle)")
        client.stats.add("search_pages")
        matches, included = [], []
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(res, dict):
                continue
            mode = (entry.get("search") or {}).get("mode") if isinstance(entry.get("search"), dict) else None
            if mode == "outcome" or res.get("resourceType") == "OperationOutcome":
                continue
            if mode == "include" or res.get("resourceType") != rtype:
                included.append(res)
            else:
                matches.append(res)
        if spool is not None and included:
            spool.add(included)
        yield matches
        link = next((ln.get("url") for ln in bundle.get("link") or []
                     if isinstance(ln, dict) and ln.get("relation") == "next" and isinstance(ln.get("url"), str)), None)
        url = _rebase(link, url, client.base_url) if link else None
