"""``flit propose NEW --like EXISTING``: adapt an approved spec to a drifted source of the same kind.

Everything of the existing spec is kept (targets, derive steps, value maps, settings, waves); only
what the source changed is proposed:

* **renamed** columns: each declared column whose header is gone is matched (one-to-one, Hungarian)
  to a header the spec does not read, by name (normalised, abbreviations expanded, run-together words
  split; the same letters in other case and separators match outright; a JSON field stays in its
  nested object) and by values
  (a ``date`` column needs dates, ``money`` amounts...); the column keeps its canonical name and gets
  ``source: <new header>``, so nothing else of the spec changes;
* a **date split** into year / month / day columns: the three are declared and the old column becomes
  a ``date_from_parts`` derive step in every target of the object;
* a **name joined** into one column (first + last -> full name): the parts are derived back from it;
* **removed** columns: an optional one is filled with nulls (as before); a required one becomes
  optional, marked ``review: required``;
* **added** columns: proposed like a from-scratch column on the object's first target (a free
  standard field, else a typed custom field); identifiers (SSN, licence, passport) are never read;
* **reordered** columns need nothing: readers match headers by name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from flit_pipelines.catalog import Catalog
from flit_pipelines.proposal.assign import assign
from flit_pipelines.proposal.build import EntityKey, ScratchBuilder, _fields_with_parts, identifier, identifier_kind
from flit_pipelines.proposal.errors import ProposalError
from flit_pipelines.proposal.evidence import name_similarity
from flit_pipelines.proposal.mappings import spec_mappings
from flit_pipelines.proposal.model import ColumnDecision, Proposal, TargetPlan
from flit_pipelines.proposal.names import normalise
from flit_pipelines.proposal.profile import ColumnProfile, ObjectProfile, SourceProfile
from flit_pipelines.proposal.score import HIGH, REVIEW, Candidate, score_column
from flit_pipelines.proposal.sources import read_csv_directory, read_database, read_spec_source
from flit_pipelines.sources.csv_export import resolve_directory
from flit_pipelines.spec.load import load_spec
from flit_pipelines.spec.model import MigrationSpec

RENAME_THRESHOLD = 0.55
_TYPE_RECOGNISERS = {"date": ("date", "datetime"), "datetime": ("datetime", "date"), "money": ("number",),
                     "float": ("number",), "int": ("integer",), "bool": ("bool",)}
_PARTS = {"year": 0, "month": 1, "day": 2}


def _compact(header: str) -> str:
    """Letters and digits of a header, lower case (``op_id``, ``OPID``, ``Op Id`` -> ``opid``)."""
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _type_fit(declared: str, col: ColumnProfile) -> float:
    if declared in _TYPE_RECOGNISERS:
        return col.best(*_TYPE_RECOGNISERS[declared]) if col.fill_rate else 0.5
    strong = col.best("date", "datetime", "money")
    return 1.0 - 0.5 * strong


def _match_objects(spec: MigrationSpec, profile: SourceProfile) -> dict[str, str | None]:
    """Spec object -> profiled object: same file/table stem, else the best column-name overlap."""
    out: dict[str, str | None] = {}
    by_stem = {Path(o.location).stem.lower().split(".")[-1]: name for name, o in profile.objects.items()}
    for oname, obj in spec.objects.items():
        # a file's stem; a table's own name without its schema (admin.v_patient -> v_patient)
        stem = (Path(obj.file).stem if obj.file else str(obj.table or obj.endpoint or oname).split(".")[-1]).lower()
        if stem in by_stem:
            out[oname] = by_stem[stem]
            continue
        if oname in profile.objects:
            out[oname] = oname
            continue
        want = {normalise(c.source or n) for n, c in obj.columns.items()}
        best, score = None, 0.0
        for pname, p in profile.objects.items():
            have = {normalise(h) for h in p.columns}
            s = len(want & have) / max(len(want), 1)
            if s > score:
                best, score = pname, s
        out[oname] = best if score >= 0.5 else None
    return out


def previous_profile(spec: MigrationSpec) -> SourceProfile | None:
    """A profile of the source ``spec`` reads today (its own directory or database, from the environment
    variables it names, or its bundled default), to tell renamed from new columns; None if unreadable."""
    cfg = spec.source
    try:
        if cfg.kind == "csv_export":
            where = os.environ.get(cfg.directory_env) or cfg.default_directory
            return read_csv_directory(resolve_directory(where), rows=2_000) if where else None
        if cfg.kind == "database" and os.environ.get(cfg.url_env):
            schema = next((o.table.split(".")[0] for o in spec.objects.values() if o.table and "." in o.table), None)
            return read_database(os.environ[cfg.url_env], schema=schema, rows=2_000)
    except (OSError, ValueError, RuntimeError):
        return None
    return None


def _value_similarity(old: ColumnProfile | None, new: ColumnProfile) -> float:
    """0..1: the same code values (Jaccard), or the same recogniser profile and type (weaker)."""
    if old is None:
        return 0.0
    if old.values and new.values:
        a, b = set(old.values), set(new.values)
        return 0.95 * len(a & b) / len(a | b)
    if old.inferred_type != new.inferred_type:
        return 0.0
    keys = [k for k in old.recognisers if old.recognisers[k] or new.recognisers.get(k)]
    if not keys:
        return 0.3
    diff = sum(abs(old.recognisers[k] - new.recognisers.get(k, 0.0)) for k in keys) / len(keys)
    return 0.5 * (1 - diff)


class Adapter:
    """Adapts one spec (module docstring); ``propose()`` returns the Proposal."""

    def __init__(self, spec: MigrationSpec, raw: dict, profile: SourceProfile, catalog: Catalog, memory: dict):
        self.spec, self.raw, self.profile, self.catalog, self.memory = spec, raw, profile, catalog, memory
        self.decisions: list[ColumnDecision] = []
        self.column_notes: dict[tuple[str, str], tuple[str, bool]] = {}
        self.notes: list[str] = []
        self.targets: dict[str, TargetPlan] = {}
        for tname, t in raw["targets"].items():
            known = {"entity", "from", "description", "derive", "fields", "custom_fields", "lookups", "options",
                     "pipeline", "match"}
            self.targets[tname] = TargetPlan(
                name=tname, entity=t["entity"], from_=t["from"], description=t.get("description", ""),
                derive=list(t.get("derive") or []), fields=dict(t.get("fields") or {}),
                custom_fields=dict(t.get("custom_fields") or {}), lookups=dict(t.get("lookups") or {}),
                options=dict(t.get("options") or {}), pipeline=t.get("pipeline"), match=t.get("match"),
                extra={k: v for k, v in t.items() if k not in known})
        self.mapped: dict[tuple[str, str], list] = {}
        for m in spec_mappings(spec):
            self.mapped.setdefault((m.object, m.column), []).append(m)

    def propose(self, previous: SourceProfile | None) -> dict[str, dict]:
        """Adapt every object; returns the new ``objects`` block (plain data)."""
        matched = _match_objects(self.spec, self.profile)
        objects: dict[str, dict] = {}
        for oname, obj in self.spec.objects.items():
            raw_obj = json.loads(json.dumps(self.raw["objects"][oname]))
            objects[oname] = raw_obj
            pname = matched.get(oname)
            if pname is None:
                if not obj.optional:
                    self.notes.append(f"object {oname}: not found in the new source (review)")
                continue
            prof = self.profile.objects[pname]
            if pname != oname or (obj.file and Path(obj.file).name != prof.location):
                if obj.file:
                    raw_obj["file"] = prof.location
            before = None
            if previous is not None:
                pmatch = _match_objects(self.spec, previous).get(oname)
                before = previous.objects[pmatch] if pmatch else None
            self._object(oname, raw_obj, prof, before)
            self._prune_checks(oname, raw_obj)
        return objects

    def _prune_checks(self, oname: str, raw_obj: dict) -> None:
        """Drop the object's row checks (``STOP >= START``) that name a column the new source no longer
        has (a date split into parts, names joined); each is listed in the notes for the reviewer."""
        kept = []
        for check in raw_obj.get("checks") or []:
            gone = [c for c in (check.get("left"), check.get("right")) if c not in raw_obj["columns"]]
            if gone:
                label = check.get("name") or f"{check.get('left')} {check.get('op')} {check.get('right')}"
                self.notes.append(f"{oname}: check '{label}' dropped: {', '.join(gone)} no longer read as such "
                                  "(re-declare it on the rebuilt column if still wanted; review)")
            else:
                kept.append(check)
        if "checks" in raw_obj:
            raw_obj["checks"] = kept

    def _object(self, oname: str, raw_obj: dict, prof: ObjectProfile, before: ObjectProfile | None) -> None:
        obj = self.spec.objects[oname]
        headers = list(prof.columns)
        lower = {h.lower(): h for h in headers}
        cols = raw_obj["columns"]
        used: set[str] = set()
        missing: list[str] = []
        for cname, c in obj.columns.items():
            h = c.source or cname
            hit = lower.get(h.lower())
            if hit is not None:
                used.add(hit)
                if hit != h:
                    cols[cname] = {**(cols[cname] or {}), "source": hit}
                self._decide_kept(oname, cname, hit, 1.0, [f"header '{hit}' unchanged"])
            else:
                missing.append(cname)
        free = [h for h in headers if h not in used]
        # renamed columns: one-to-one over missing x free
        cands: dict[str, list[Candidate]] = {}
        for cname in missing:
            c = obj.columns[cname]
            old = c.source or cname
            out = []
            was = before.columns.get(old) if before is not None else None
            for h in free:
                col = prof.columns[h]
                if identifier_kind(col) or (before is not None and h in before.columns):
                    continue
                # record words kept first ("patient_id" is not the object's own "id"), dropped second
                # ("pt_first_name" is "first_name")
                sim_old = max(name_similarity(normalise(h, drop_self=False), [old, cname], expand=True)[0],
                              0.97 * name_similarity(normalise(h), [old, cname], expand=True)[0])
                if _compact(h) in (_compact(old), _compact(cname)):
                    sim_old = 1.0  # the same letters, other case and separators (op_id -> OPID)
                if old.rpartition(".")[0] != h.rpartition(".")[0]:
                    sim_old *= 0.8  # a JSON field renamed stays in its nested object (patient.id -> patient.pt_id)
                fit = _type_fit(c.type, col)
                conf = sim_old * (0.4 + 0.6 * fit) if c.type != "string" else sim_old * (0.7 + 0.3 * fit)
                same = _value_similarity(was, col)
                evidence = [f"'{old}' ~ '{h}' ({sim_old:.2f})", f"values fit {c.type} ({fit:.0%})"]
                if same > conf:
                    conf = same
                    evidence.append(f"same values as the former '{old}' ({same:.2f})")
                out.append(Candidate(h, round(conf, 4), evidence))
            cands[cname] = out
        renamed = assign(cands, set(), RENAME_THRESHOLD)
        for cname, cand in renamed.items():
            h = cand.field
            cols[cname] = {**(cols[cname] or {}), "source": h}
            used.add(h)
            review = cand.confidence < REVIEW
            self.column_notes[(oname, cname)] = (f"renamed in the source: '{obj.columns[cname].source or cname}' -> "
                                                 f"'{h}', confidence {cand.confidence:.2f}: " + "; ".join(cand.evidence),
                                                 review)
            self._decide_kept(oname, cname, h, cand.confidence, cand.evidence, review=review)
        still = [c for c in missing if c not in renamed]
        free = [h for h in headers if h not in used]
        still, free = self._date_parts(oname, raw_obj, prof, still, free)
        still, free = self._joined_name(oname, raw_obj, prof, still, free)
        for cname in still:
            c = obj.columns[cname]
            if before is not None and (c.source or cname) not in before.columns:
                continue  # absent before too: nothing changed
            body = dict(cols[cname] or {})
            review = c.required
            body["required"] = False
            cols[cname] = body
            self.column_notes[(oname, cname)] = (
                f"'{c.source or cname}' is no longer in the source: read as empty" + (
                    "; it was required: check the targets that use it" if review else ""), review)
            self.notes.append(f"{oname}.{cname}: removed from the source")
        self._added(oname, raw_obj, prof, free, before)

    def _decide_kept(self, oname: str, cname: str, header: str, conf: float, evidence: list[str], *,
                     review: bool = False) -> None:
        ms = self.mapped.get((oname, cname), [])
        std = sorted((m for m in ms if m.kind == "standard"), key=lambda m: m.via != "direct")  # its own field first
        cus = [m for m in ms if m.kind == "custom"]
        lk = [m for m in ms if m.kind == "lookup"]
        if std:
            m = std[0]
            dec, target, field = ("direct" if m.via == "direct" else "transform"), m.target, m.field
        elif cus:
            dec, target, field = "custom_field", cus[0].target, cus[0].field
        elif lk:
            dec, target, field = "lookup", lk[0].target, lk[0].field
        else:
            targets = [t for t, tp in self.targets.items() if tp.from_ == oname]
            dec, target, field = "transform", (targets[0] if targets else None), "derived fields, keys or filters"
        alts = [{"target": m.target, "destination_field": m.field, "confidence": round(conf, 3)} for m in ms[1:4]]
        self.decisions.append(ColumnDecision(oname, header, dec, target, field, conf, evidence, alts, review=review))

    def _date_parts(self, oname, raw_obj, prof, still, free):
        obj = self.spec.objects[oname]
        for cname in [c for c in still if obj.columns[c].type in ("date", "datetime")]:
            base = set(normalise(obj.columns[cname].source or cname).split()) - {"date", "time"}
            parts: dict[int, str] = {}
            for h in free:
                words = set(normalise(h).split())
                part = next((i for w, i in _PARTS.items() if w in words), None)
                if part is not None and (not base or words & base) and prof.columns[h].best("integer") >= 0.95:
                    parts.setdefault(part, h)
            if len(parts) != 3:
                continue
            heads = [parts[0], parts[1], parts[2]]
            names = []
            for h in heads:
                n = f"{cname}_{['year', 'month', 'day'][heads.index(h)]}"
                raw_obj["columns"][n] = {"type": "int", "source": h}
                names.append(n)
                self.column_notes[(oname, n)] = (f"{cname} is split into year/month/day in the source", False)
                self.decisions.append(ColumnDecision(oname, h, "transform", self._first_target(oname), cname, 0.9,
                                                     [f"'{h}' is the {['year', 'month', 'day'][heads.index(h)]} of "
                                                      f"the former {cname}", "rebuilt with date_from_parts"]))
            del raw_obj["columns"][cname]
            step = {"name": cname, "columns": names, "format": "date_from_parts"}
            for t in self.targets.values():
                if t.from_ == oname:
                    t.derive.insert(0, dict(step))
                    t.notes[("derive", cname)] = "date rebuilt from its parts"
            self._fix_key_refs(oname, raw_obj, cname)
            self.notes.append(f"{oname}.{cname}: split into {', '.join(heads)} (derived back with date_from_parts)")
            still = [c for c in still if c != cname]
            free = [h for h in free if h not in heads]
        return still, free

    def _joined_name(self, oname, raw_obj, prof, still, free):
        obj = self.spec.objects[oname]
        first = next((c for c in still if set(normalise(obj.columns[c].source or c).split()) & {"first", "given"}), None)
        last = next((c for c in still if set(normalise(obj.columns[c].source or c).split()) & {"last", "surname", "family"}),
                    None)
        if not (first and last):
            return still, free
        full = next((h for h in free if normalise(h) in ("name", "full name") and prof.columns[h].fill_rate > 0), None)
        if full is None:
            return still, free
        n = identifier_name(full, set(raw_obj["columns"]))
        raw_obj["columns"][n] = {"source": full}
        for c in (first, last):
            del raw_obj["columns"][c]
        steps = [{"name": first, "expr": f"{n}.str.split(' ', n=1).str[0]"},
                 {"name": last, "expr": f"{n}.str.split(' ', n=1).str[-1]"}]
        for t in self.targets.values():
            if t.from_ == oname:
                t.derive[0:0] = [dict(s) for s in steps]
        self.column_notes[(oname, n)] = (f"first and last name joined in the source: split back into {first}, {last}",
                                         True)
        self.decisions.append(ColumnDecision(oname, full, "transform", self._first_target(oname), f"{first} + {last}",
                                             0.7, ["one name column where the spec had first and last name"],
                                             review=True))
        self.notes.append(f"{oname}: {first} and {last} joined into '{full}' (split back by derive; review)")
        return [c for c in still if c not in (first, last)], [h for h in free if h != full]

    def _fix_key_refs(self, oname: str, raw_obj: dict, cname: str) -> None:
        for k in ("primary_key", "modified_at", "wave_key"):
            if raw_obj.get(k) == cname:
                raw_obj.pop(k)

    def _first_target(self, oname: str) -> str | None:
        return next((t for t, tp in self.targets.items() if tp.from_ == oname), None)

    def _added(self, oname: str, raw_obj: dict, prof: ObjectProfile, free: list[str],
               before: ObjectProfile | None) -> None:
        tname = self._first_target(oname)
        for h in free:
            col = prof.columns[h]
            ident = identifier_kind(col)
            if ident or (before is not None and h in before.columns) or tname is None or col.fill_rate == 0:
                reason = (f"identifier that must not move ({ident}): never read" if ident else
                          "not in the approved spec before either: left out as before"
                          if before is not None and h in before.columns else
                          "no values in the source" if col.fill_rate == 0 else f"{oname} feeds no target")
                self.decisions.append(ColumnDecision(oname, h, "not_migrated", None, None, 1.0, reason=reason,
                                                     fill_rate=col.fill_rate))
                continue
            t = self.targets[tname]
            sub = SourceProfile(kind=self.profile.kind, where="", objects={oname: ObjectProfile(
                oname, prof.location, prof.rows_profiled, {h: col})})
            b = ScratchBuilder(sub, self.catalog, memory=self.memory)
            b.objects[oname] = {"location": prof.location, "columns": dict(raw_obj["columns"])}
            b.canon[oname] = {}
            ent = self.catalog.entity(t.entity, t.options.get("sobject"))
            fields = {k: f for k, f in _fields_with_parts(ent).items() if k.split("#")[0] not in t.fields}
            key = EntityKey(t.entity, t.options.get("sobject"))
            cands = score_column(col, fields, memory=self.memory.get((key.label, normalise(h))), entity_label=ent.label)
            n = identifier_name(h, set(raw_obj["columns"]))
            body = {} if col.inferred_type == "string" else {"type": col.inferred_type}
            if n != h:
                body["source"] = h
            if col.inferred_type in ("date", "datetime") and col.date_format not in ("%Y-%m-%d", "ISO8601"):
                body.pop("type", None)
            raw_obj["columns"][n] = {**body, "required": False}
            top = cands[0] if cands else None
            if top is not None and top.confidence >= HIGH and "#" not in top.field and not fields[top.field].many:
                src: dict[str, Any] = {"column": n}
                if fields[top.field].format and fields[top.field].format != "contact_list":
                    src["format"] = fields[top.field].format
                if top.value_map:
                    src["value_map"] = top.value_map
                t.fields[top.field] = src
                t.notes[("fields", top.field)] = f"added column '{h}', confidence {top.confidence:.2f}: " + "; ".join(
                    top.evidence)
                self.decisions.append(ColumnDecision(oname, h, "direct" if set(src) == {"column"} else "transform",
                                                     tname, top.field, top.confidence, top.evidence,
                                                     fill_rate=col.fill_rate))
                continue
            if not ent.custom_fields:
                del raw_obj["columns"][n]
                self.decisions.append(ColumnDecision(oname, h, "not_migrated", None, None, 1.0, fill_rate=col.fill_rate,
                                                     reason=f"added column; {ent.label} takes no custom fields"))
                continue
            b.targets[tname] = TargetPlan(name=tname, entity=t.entity, from_=oname, sobject=t.options.get("sobject"),
                                          custom_fields=t.custom_fields)
            b.canon[oname][h] = n
            b._leftovers(b.targets[tname], ent, key, ObjectProfile(oname, prof.location, prof.rows_profiled, {h: col}),
                         [h], {h: cands}, set())
            for (sec, k), v in b.targets[tname].notes.items():
                t.notes[(sec, k)] = "added column: " + v
                t.review.add((sec, k))  # a new custom field in an approved spec is always reviewed
            for d in b.decisions:
                d.review = True
                self.decisions.append(d)
            self.notes.append(f"{oname}: added column '{h}'")


def identifier_name(header: str, taken: set[str]) -> str:
    """The canonical name of a new header (``identifier``), unique among ``taken``."""
    return identifier(header, set(taken))


def propose_like(migration: str, destination: str, like: str, *, csv=None, db=None, schema=None,
                 spec_dir: Path, catalog: Catalog, memory: dict) -> tuple[Proposal, SourceProfile]:
    """Adapt ``like`` (a spec in ``spec_dir``) to the source given (or its own source)."""

    path = Path(spec_dir) / f"{like}.yaml"
    if not path.exists():
        raise ProposalError(f"--like {like}: no spec {path}")
    spec = load_spec(path)
    if spec.destination.kind != destination:
        raise ProposalError(f"--like {like} loads into {spec.destination.kind}, not {destination}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if csv:
        if spec.source.kind not in ("csv_export", "database"):
            raise ProposalError(f"--like {like}: a {spec.source.kind} source is re-read with --like alone")
        profile = read_csv_directory(csv)
    elif db:
        profile = read_database(db, schema=schema)
    else:
        profile, _headers = read_spec_source(spec)
    adapter = Adapter(spec, raw, profile, catalog, memory)
    objects = adapter.propose(previous_profile(spec))
    raw_approval_free = {k: v for k, v in raw.items() if k != "approval"}
    p = Proposal(
        migration=migration, destination=destination, mode="like", title=f"{raw['title']} (adapted)",
        source=raw_approval_free["source"], environment=raw["environment"], destination_block=raw["destination"],
        objects=objects, targets=adapter.targets, decisions=adapter.decisions, root=spec.waves.root,
        seed_objects=raw["seed_objects"], waves=raw["waves"], delta=raw.get("delta"),
        header_notes=["", f"adapted from {like}: " + ("; ".join(adapter.notes) if adapter.notes else "no change found")],
        like=like, column_notes=adapter.column_notes)
    return p, profile

