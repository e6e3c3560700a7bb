"""Which destination entity a source object lands in, and the words of objects and columns: identifiers
that must not move, labels, custom-field kinds, names and categories (used by ``proposal.build`` and
``proposal.adapt``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flit_pipelines.catalog import Catalog, EntityDef, FieldDef
from flit_pipelines.proposal.names import normalise, tokens
from flit_pipelines.proposal.profile import ColumnProfile, ObjectProfile, SourceProfile
from flit_pipelines.proposal.evidence import word_overlap
from flit_pipelines.proposal.score import score_column

ENTITY_THRESHOLD = 0.5

# HL7 FHIR R4 resource names (hl7.org/fhir/R4/resourcelist.html) as a general record-kind vocabulary.
FHIR_KINDS = {"encounter": "visit", "practitioner": "provider", "careplan": "care plan", "documentreference": "document",
              "observation": "lab result", "medicationrequest": "medication", "claim": "claim", "coverage": "insurance"}
# Identifiers that must never move (issue 11; README "PHI stays put"): name words -> what they are.
IDENTIFIER_WORDS = {("social", "security"): "SSN", ("ssn",): "SSN", ("driver",): "driver's licence number",
                    ("drivers",): "driver's licence number", ("licence", "number"): "driver's licence number",
                    ("passport",): "passport number"}
UNIQUE_ENTITIES = {"person", "contact", "organization", "user", "Contact", "Account"}
MODIFIED_WORDS = {"modified", "updated", "modstamp", "changed"}
_VIEW_PREFIX = re.compile(r"^(?:v|vw|view|tbl|t)_", re.I)


@dataclass(frozen=True)
class EntityKey:
    """An entity of the catalog, with the Salesforce object where the entity is ``sobject``."""

    entity: str
    sobject: str | None = None

    @property
    def label(self) -> str:
        return self.sobject or self.entity


def identifier_kind(col: ColumnProfile) -> str | None:
    """'SSN' / "driver's licence number" / 'passport number' when the column holds such identifiers."""
    words = set(normalise(col.name).split()) | set(tokens(col.name))
    for need, what in IDENTIFIER_WORDS.items():
        if set(need) <= words:
            return what
    if col.recognisers.get("ssn", 0) >= 0.5:
        return "SSN"
    return None


def singular(word: str) -> str:
    """``patients`` -> ``patient``, ``studies`` -> ``study`` (object names)."""
    w = word
    if w.lower().endswith("ies"):
        return w[:-3] + "y"
    if w.lower().endswith("s") and not w.lower().endswith("ss"):
        return w[:-1]
    return w


def object_words(name: str) -> str:
    """Matching form of an object name: view prefixes dropped, singular, FHIR kinds mapped."""
    base = _VIEW_PREFIX.sub("", name.split(".")[-1])
    parts = [singular(t) for t in tokens(base)]
    joined = "".join(parts)
    if joined in FHIR_KINDS:
        return FHIR_KINDS[joined]
    words = normalise(" ".join(parts), drop_self=False)
    return " ".join(FHIR_KINDS.get(w, w) for w in words.split())


def title_of(name: str) -> str:
    """``payer_transitions`` -> ``Payer transition``."""
    words = object_words(name)
    return words[:1].upper() + words[1:] if words else name


def identifier(name: str, taken: set[str]) -> str:
    """A snake-case identifier for a header (``"First Name"`` -> ``first_name``), unique in ``taken``."""
    base = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_") or "column"
    if base[0].isdigit():
        base = "c_" + base
    out, i = base, 2
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


def entity_keys(catalog: Catalog) -> list[EntityKey]:
    """Entities a from-scratch proposal may target (ones that need an admin's setup first are left out:
    HighLevel opportunities need a pipeline created by hand, custom objects a schema)."""
    keys: list[EntityKey] = []
    for name, ent in catalog.entities.items():
        if name in ("custom_object_record", "opportunity"):
            continue
        if ent.objects:
            keys.extend(EntityKey(name, o) for o in ent.objects if o != "Lead")
        else:
            keys.append(EntityKey(name))
    return keys


def _fields_with_parts(ent: EntityDef) -> dict[str, FieldDef]:
    """The entity's sendable fields plus one pseudo-field per part of a composed field (``name#first name``)."""
    out = {k: f for k, f in ent.fields.items() if not f.compose_of and not f.write_only and not f.with_
           and not f.requires}
    for k, f in ent.fields.items():
        for part in f.compose:
            out[f"{k}#{part}"] = FieldDef(name=part, label=part, type="text")
    return out


@dataclass
class _ObjectFit:
    key: EntityKey
    score: float
    name_score: float
    strong: int


def _fit(obj: ObjectProfile, key: EntityKey, ent: EntityDef) -> _ObjectFit:
    words = object_words(obj.name)
    terms = [s.term for s in ent.seed_terms] or [ent.label]
    name_score = max(word_overlap(words, normalise(t, drop_self=False)) for t in terms)
    fields = _fields_with_parts(ent)
    strong = 0
    for i, col in enumerate(obj.columns.values()):
        cands = score_column(col, fields, position=i, entity_label=ent.label) if fields else []
        if cands and cands[0].confidence >= 0.8:
            strong += 1
    score = 0.75 * name_score + 0.25 * min(1.0, strong / 3)  # what the records are called weighs most
    return _ObjectFit(key, score, name_score, strong)


def choose_entities(profile: SourceProfile, catalog: Catalog) -> dict[str, EntityKey | None]:
    """Object -> the entity it lands in (None: no entity of its own)."""
    fits: dict[str, list[_ObjectFit]] = {}
    for oname, obj in profile.objects.items():
        scored = [_fit(obj, k, catalog.entity(k.entity, k.sobject)) for k in entity_keys(catalog)]
        fits[oname] = sorted(scored, key=lambda f: -f.score)
    chosen: dict[str, EntityKey | None] = {}
    taken: set[tuple[str, str | None]] = set()
    also = catalog.entities["user"].also_as if "user" in catalog.entities else None
    also_key = EntityKey(also.partition("/")[0], also.partition("/")[2] or None) if also else None
    order = sorted(fits, key=lambda o: -(fits[o][0].score if fits[o] else 0))
    for oname in order:
        chosen[oname] = None
        for fit in fits[oname]:
            if fit.score < ENTITY_THRESHOLD or fit.name_score < 0.5:
                break
            k = (fit.key.entity, fit.key.sobject)
            unique = fit.key.entity in UNIQUE_ENTITIES or fit.key.sobject in UNIQUE_ENTITIES
            if unique and k in taken:
                if fit.key.entity == "user" and also_key is not None:  # more staff: they land where users' records do
                    chosen[oname] = also_key
                    break
                continue
            chosen[oname] = fit.key
            taken.add(k)
            break
    # a user-matched object needs an e-mail column to match users by; without one its records land
    # only where the catalog says users' records also land (staff as contacts), after the others so
    # the patients' object stays the root
    for oname, key in list(chosen.items()):
        if key is not None and key.entity == "user":
            if not any(c.best("email") >= 0.8 for c in profile.objects[oname].columns.values()):
                del chosen[oname]
                chosen[oname] = also_key
    return chosen


def _person_key(catalog: Catalog) -> EntityKey:
    return {"pipedrive": EntityKey("person"), "highlevel": EntityKey("contact"),
            "salesforce": EntityKey("sobject", "Contact")}[catalog.destination]


TITLE_FIELDS = ("name", "title", "subject", "content", "body", "Subject", "LastName", "Name", "Title")
_LABEL_WORDS = {"name", "title", "description", "subject", "summary", "reason", "text", "note", "comment"}


def label_score(col: ColumnProfile) -> float:
    """How much a column reads like a record's label: label words in its name, text of some length,
    not an ID, code, date or number (0..1)."""
    words = set(normalise(col.name).split())
    score = 0.5 if words & _LABEL_WORDS else 0.0
    if col.inferred_type == "string" and (col.max_length or 0) > 10 and col.best("uuid", "date", "datetime", "email",
                                                                              "phone") < 0.5:
        score += 0.3
    return score + 0.2 * col.fill_rate


def custom_kind(col: ColumnProfile) -> str:
    """The custom-field kind for a column: date, datetime, number, money, bool, enum, long_text, text."""
    t = col.inferred_type
    if t in ("date", "datetime", "money", "bool"):
        return t
    if t in ("int", "float"):
        return "number"
    if col.recognisers.get("date", 0) >= 0.97:
        return "date"
    if col.values is not None and 1 < len(col.values) <= 12 and col.best("integer") < 0.5:
        return "enum"
    if col.recognisers.get("free_text", 0) >= 0.3 or (col.max_length or 0) > 255:
        return "long_text"
    return "text"


CATEGORY_WORDS = {"Insurance": {"insurance", "payer", "member", "group", "policy", "carrier", "coverage", "subscriber"},
                  "Financial": {"balance", "amount", "payment", "charge", "cost", "fee", "paid", "price", "income",
                                "expense", "expenses", "revenue", "coverage"},
                  "Clinical": {"diagnosis", "medication", "allergy", "lab", "clinical", "procedure", "treatment",
                               "prescription", "condition", "code", "history"}}


def category_of(col_name: str, default: str) -> str:
    """A custom-field category (folder) from the column's words, else ``default``."""
    words = set(normalise(col_name).split())
    for cat, vocab in CATEGORY_WORDS.items():
        if words & vocab:
            return cat
    return default


def custom_name(label: str, naming: str, taken: set[str]) -> str:
    """A custom field name in the CRM's style (``Marital status``, ``Marital_Status``, ``Marital_Status__c``)."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", label) if w]
    if naming == "underscore":
        base = "_".join(w[:1].upper() + w[1:] for w in words)
    elif naming == "api__c":
        base = "_".join(w[:1].upper() + w[1:] for w in words)[:37] + "__c"
    else:
        base = " ".join(words)[:1].upper() + " ".join(words)[1:]
    out, i = base, 2
    while out in taken:
        out = base.replace("__c", f"_{i}__c") if naming == "api__c" else f"{base} {i}"
        i += 1
    taken.add(out)
    return out


def label_of(col: str) -> str:
    """A person-facing label from a header: ``MARITAL`` -> ``Marital``, ``pt_dob`` -> ``Date of birth``."""
    words = normalise(col, drop_self=False, singular=False)
    return words[:1].upper() + words[1:] if words else col
