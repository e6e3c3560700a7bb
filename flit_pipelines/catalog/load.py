"""Loading a destination catalog data file into typed, frozen objects (see the package docstring)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CATALOG_DIR = Path(__file__).resolve().parent
KINDS = ("pipedrive", "highlevel", "salesforce")


class CatalogError(ValueError):
    """Unknown destination kind, entity or Salesforce object (the message names it)."""


@dataclass(frozen=True)
class Synonym:
    """A documented other name of a field or entity, and the document that gives it."""

    term: str
    source: str


@dataclass(frozen=True)
class FieldDef:
    """One standard field of a destination entity.

    ``name``: the API name (dotted for nested properties: ``postal_address.route``); ``type``: a kind
    (package docstring); ``values``: allowed values (enums, picklists); ``many``: takes several source
    columns (Pipedrive ``emails``/``phones``); ``format``: the formatter (``transform.formatters``) the
    wire format needs; ``compose``: parts a person-facing source splits it into (``name`` <- first,
    last name); ``compose_of``: sibling fields this one is a rendering of (``postal_address.value``);
    ``max_length``: characters (Salesforce text fields); ``with_``: filled from the same source column
    as that sibling field, in its own wire format (Pipedrive ``due_time`` with ``due_date``);
    ``requires``: accepted only in a state of the record (``status lost``): never proposed alone.
    """

    name: str
    label: str
    type: str = "text"
    description: str = ""
    required: bool = False
    create_only: bool = False
    write_only: bool = False
    local: bool = False
    many: bool = False
    format: str | None = None
    escape: str | None = None
    values: tuple[str, ...] = ()
    compose: tuple[str, ...] = ()
    compose_of: tuple[str, ...] = ()
    max_length: int | None = None
    synonyms: tuple[Synonym, ...] = ()
    source: str | None = None
    with_: str | None = None
    requires: str | None = None

    @property
    def names(self) -> list[str]:
        """Every name a source column may be matched on: API name (its last part when nested), label,
        documented synonyms."""
        return [self.name.rsplit(".", 1)[-1], self.label, *(s.term for s in self.synonyms)]


@dataclass(frozen=True)
class LookupDef:
    """A field holding another record's ID: ``entity`` is the parent entity (``objects``: Salesforce
    objects a reference accepts, ``*`` any)."""

    name: str
    label: str
    entity: str
    objects: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class EntityDef:
    """A destination entity: its standard fields, lookups and whether it takes custom fields.

    ``open``: fields are not listed (custom objects, user-mapping columns): a spec may name any.
    ``seed_terms``: what the seed tables call the records that land here (patient, appointment...).
    ``objects``: Salesforce ``sobject`` only, one EntityDef per standard object.
    """

    name: str
    label: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    lookups: dict[str, LookupDef] = field(default_factory=dict)
    custom_fields: bool = False
    open: bool = False
    match_only: bool = False
    seed_terms: tuple[Synonym, ...] = ()
    objects: dict[str, "EntityDef"] = field(default_factory=dict)
    description: str = ""
    also_as: str | None = None  # records of this entity also land as that one ("contact", "sobject/Contact")


@dataclass(frozen=True)
class CustomFieldTypes:
    """Custom fields of a CRM: ``types`` maps a kind (``text``, ``long_text``, ``number``, ``money``,
    ``date``, ``enum``, ``bool``...) to the CRM's type name; ``all_types`` every documented type;
    ``entities`` the entities that take custom fields; ``placement`` where they live (folders,
    categories); ``naming`` how names are written (``label``, ``underscore``, ``api__c``)."""

    types: dict[str, str]
    all_types: tuple[str, ...]
    entities: tuple[str, ...]
    placement: str
    naming: str
    source: str


@dataclass(frozen=True)
class Catalog:
    """One CRM's catalog."""

    destination: str
    entities: dict[str, EntityDef]
    custom_fields: CustomFieldTypes
    documents: tuple[str, ...] = ()

    def entity(self, name: str, sobject: str | None = None) -> EntityDef:
        """The entity ``name``; for Salesforce ``sobject`` with ``sobject`` set, that object's EntityDef
        (a custom object ``X__c`` or an unknown one gives an open EntityDef).

        Raises CatalogError for an entity the CRM does not have."""
        if name not in self.entities:
            raise CatalogError(f"{self.destination} has no entity {name!r} (known: {sorted(self.entities)})")
        ent = self.entities[name]
        if sobject is None or not ent.objects:
            return ent
        if sobject in ent.objects:
            return ent.objects[sobject]
        return EntityDef(name=sobject, label=sobject, custom_fields=True, open=True,
                         description="custom object: fields are its own")

    def target_entity(self, target: Any) -> EntityDef:
        """The EntityDef a spec ``Target`` writes (Salesforce: ``options.sobject``)."""
        return self.entity(target.entity, (target.options or {}).get("sobject"))

    def synonym_counts(self) -> dict[str, int]:
        """How many documented synonyms the catalog holds, per source document."""
        counts: Counter[str] = Counter()
        for ent in self._all_entities():
            counts.update(s.source for s in ent.seed_terms)
            for f in ent.fields.values():
                counts.update(s.source for s in f.synonyms)
        return dict(sorted(counts.items()))

    def _all_entities(self) -> list[EntityDef]:
        out = []
        for ent in self.entities.values():
            out.append(ent)
            out.extend(ent.objects.values())
        return out


def _syn(items: list[dict] | None) -> tuple[Synonym, ...]:
    return tuple(Synonym(str(s["term"]), str(s["source"])) for s in items or [])


def _field(name: str, raw: dict) -> FieldDef:
    return FieldDef(
        name=name, label=raw.get("label") or name, type=raw.get("type", "text"), description=raw.get("description", ""),
        required=bool(raw.get("required")), create_only=bool(raw.get("create_only")),
        write_only=bool(raw.get("write_only")), local=bool(raw.get("local")), many=bool(raw.get("many")),
        format=raw.get("format"), escape=raw.get("escape"), values=tuple(map(str, raw.get("values") or ())),
        compose=tuple(raw.get("compose") or ()), compose_of=tuple(raw.get("compose_of") or ()),
        max_length=raw.get("max_length"), synonyms=_syn(raw.get("synonyms")), source=raw.get("source"),
        with_=raw.get("with"), requires=raw.get("requires"))


def _entity(name: str, raw: dict) -> EntityDef:
    lookups = {k: LookupDef(k, v.get("label") or k, v["entity"], tuple(v.get("objects") or ()), bool(v.get("required")))
               for k, v in (raw.get("lookups") or {}).items()}
    objects = {k: _entity(k, dict(v, custom_fields=True)) for k, v in (raw.get("objects") or {}).items()}
    return EntityDef(
        name=name, label=raw.get("label") or name,
        fields={k: _field(k, v) for k, v in (raw.get("fields") or {}).items()}, lookups=lookups,
        custom_fields=bool(raw.get("custom_fields")), open=bool(raw.get("open")), match_only=bool(raw.get("match_only")),
        seed_terms=_syn(raw.get("seed_terms")), objects=objects, description=raw.get("description", ""),
        also_as=raw.get("also_as"))


@lru_cache(maxsize=None)
def load_catalog(kind: str) -> Catalog:
    """The catalog of destination ``kind`` (``pipedrive``, ``highlevel``, ``salesforce``), cached.

    Raises CatalogError for an unknown kind."""
    if kind not in KINDS:
        raise CatalogError(f"no catalog for destination {kind!r} (known: {', '.join(KINDS)})")
    raw = yaml.safe_load((CATALOG_DIR / f"{kind}.yaml").read_text(encoding="utf-8"))
    cf = raw["custom_fields"]
    return Catalog(
        destination=kind, entities={k: _entity(k, v) for k, v in raw["entities"].items()},
        custom_fields=CustomFieldTypes(types=dict(cf["types"]), all_types=tuple(cf["all_types"]),
                                       entities=tuple(cf["entities"]), placement=cf["placement"],
                                       naming=cf["naming"], source=cf["source"]),
        documents=tuple(raw.get("documents") or ()))
