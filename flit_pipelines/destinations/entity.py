"""One destination entity's behaviour, and the router a destination keeps of them (Singer's sinks).

A CRM destination (``destinations/<crm>/``) holds one ``EntityHandler`` per entity it writes (a
HighLevel contact, a Pipedrive deal, a Salesforce custom object...). The handler builds that entity's
request bodies, creates, updates and finds its records, reads them back, deletes and restores them;
a quirk of one entity lives in its handler's module. The destination class routes each call of the
load loop, the checks, rollback and the reports to ``handlers.of(target)``: the one place that looks
at ``target.entity``.

Rows and bodies are plain dicts (one payload row, one JSON body); destination IDs are strings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import pandas as pd

from flit_pipelines.errors import FlitError
from flit_pipelines.spec.model import Target

__all__ = ["EntityHandler", "EntityRouter", "UnsupportedEntity"]


class UnsupportedEntity(FlitError):
    """A target names an entity the destination has no handler for, or asks a handler for an
    operation its entity does not offer (names the destination, entity and operation; no values)."""


class EntityHandler(ABC):
    """What one destination entity does. Subclasses set ``entity`` (the spec's ``Target.entity``) and
    implement the four abstract methods; the others default to "not offered" (``UnsupportedEntity``)
    or to the neutral answer stated on each, so a handler implements only what its entity needs.
    """

    entity: str = ""

    # -- writing (required) -------------------------------------------------------------------------
    @abstractmethod
    def build_body(self, target_name: str, target: Target, row: dict[str, Any],
                   resolved_fks: dict[str, Any]) -> dict[str, Any]:
        """The request body of one payload row (foreign keys already resolved to destination IDs).

        Raises ValueError naming the field (never the value) when the row cannot be sent."""

    @abstractmethod
    def create(self, target_name: str, target: Target, body: dict[str, Any], row: dict[str, Any]) -> Any:
        """Create one record; returns the destination's ``SendResult``."""

    @abstractmethod
    def update(self, target_name: str, target: Target, dest_id: str, body: dict[str, Any],
               row: dict[str, Any]) -> Any:
        """Update one record (idempotent); returns the destination's ``SendResult``."""

    @abstractmethod
    def find_existing(self, target_name: str, target: Target) -> Mapping[str, str]:
        """Source ID -> destination ID of the records already carrying this target's source key."""

    # -- optional, with neutral defaults ------------------------------------------------------------
    def prepare(self, target_name: str, target: Target) -> None:  # noqa: B027 (an optional hook, not abstract)
        """Resolve what bodies need (field keys, pipeline IDs) without writing. Default: nothing."""

    def flag(self, target_name: str, target: Target, row: dict[str, Any]) -> str | None:
        """A reason not to send this row (a document that cannot be read), or None. Default: None."""
        return None

    def normalise_body(self, target_name: str, target: Target, body: dict[str, Any]) -> dict[str, Any]:
        """A body in ``read_fields``' shape (vendor defaults filled, write-only fields dropped).
        Default: the body unchanged."""
        return body

    def write_only_fields(self, target_name: str, target: Target) -> frozenset[str]:
        """Fields the API accepts but never returns (left out of read-back comparisons). Default: none."""
        return frozenset()

    # -- optional, not offered unless implemented ----------------------------------------------------
    def read_back(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame:
        """Live records for the IDs: columns ``dest_id``, ``source_key`` and the target's money columns."""
        raise self.unsupported("read_back")

    def read_fields(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Live values of every field the target writes, per ID still live (gone IDs absent)."""
        raise self.unsupported("read_fields")

    def source_key_counts(self, target_name: str, target: Target) -> dict[str, int]:
        """Source key -> number of live destination records carrying it (the duplicate check)."""
        raise self.unsupported("source_key_counts")

    def delete(self, target_name: str, target: Target, dest_ids: Sequence[str]) -> pd.DataFrame:
        """Delete the records; columns ``dest_id``, ``deleted``, ``error``."""
        raise self.unsupported("delete")

    def restore(self, target_name: str, target: Target, dest_id: str, prior: dict[str, Any]) -> Any:
        """Write a ``read_fields`` result back (rollback of a pre-existing record)."""
        raise self.unsupported("restore")

    def unsupported(self, operation: str) -> UnsupportedEntity:
        """The error for an operation this entity does not offer."""
        return UnsupportedEntity(f"{type(self).__name__}: {operation} is not offered for {self.entity or 'this'} "
                                 "records")


H = TypeVar("H", bound=EntityHandler)


class EntityRouter(Generic[H]):
    """Entity name -> handler of one destination: the only place that branches on ``Target.entity``.

    Args:
        destination: the destination's name for messages (``"HighLevel"``).
        handlers: the handlers, keyed by their ``entity``.
    Raises:
        ValueError: two handlers claim one entity.
    """

    def __init__(self, destination: str, handlers: Iterable[H]):
        self.destination = destination
        self._handlers: dict[str, H] = {}
        for h in handlers:
            if h.entity in self._handlers:
                raise ValueError(f"{destination}: two handlers for entity {h.entity!r}")
            self._handlers[h.entity] = h

    @property
    def entities(self) -> tuple[str, ...]:
        """The entities this destination writes, in registration order."""
        return tuple(self._handlers)

    def of(self, target: Target) -> H:
        """The handler of ``target.entity``.

        Raises UnsupportedEntity naming the entity and the ones offered."""
        try:
            return self._handlers[target.entity]
        except KeyError:
            raise UnsupportedEntity(f"{self.destination} has no {target.entity!r} entity (it writes: "
                                    f"{', '.join(self._handlers)})") from None
