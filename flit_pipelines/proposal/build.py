"""From a source profile to a proposal: which object lands in which entity, and every column's fate.

Steps (each deterministic):

1. **Entities.** Each object is scored against each entity of the destination catalog: its name
   against the entity's seed terms (what the seed tables call the records landing there, plus HL7
   FHIR resource names as a general vocabulary: Encounter = visit), and how many of its columns fit
   the entity's fields well. Person-like entities (the patient's contact/person, organizations, users)
   take one object each.
2. **Columns.** ``score.score_column`` against the entity's fields (and the parts of composed fields:
   first + last name -> a full ``name``), then one-to-one ``assign.assign``.
3. **The rest.** Foreign keys become lookups to the parent's target; identifiers that must not move
   (SSN, driver's licence, passport) are ``not_migrated`` and never read; other unmatched columns
   become typed custom fields where the entity takes them, or lines of its long-text field (Pipedrive
   activities take no custom fields); child objects without an entity of their own (medications,
   observations) become one long-text summary field on the root record, joined by their foreign key.
"""

from __future__ import annotations

from typing import Any

from flit_pipelines.catalog import Catalog, EntityDef, FieldDef
from flit_pipelines.proposal.assign import assign
from flit_pipelines.proposal.entities import (  # noqa: F401 - adapt and the benchmark import them from here too
    _VIEW_PREFIX, MODIFIED_WORDS, TITLE_FIELDS, EntityKey, _fields_with_parts, _person_key, category_of,
    choose_entities, custom_kind, custom_name, identifier, identifier_kind, label_of, label_score, title_of,
)
from flit_pipelines.proposal.model import ColumnDecision, Proposal, TargetPlan
from flit_pipelines.proposal.names import normalise
from flit_pipelines.proposal.profile import ColumnProfile, ObjectProfile, SourceProfile
from flit_pipelines.proposal.evidence import field_kind
from flit_pipelines.proposal.score import PROPOSE, REVIEW, Candidate, score_column

FIELD_THRESHOLD = PROPOSE
class ScratchBuilder:
    """Builds a from-scratch ``Proposal`` (module docstring). ``memory``: (entity label, normalised
    header) -> {field: who/when} of mappings reviewers confirmed before."""

    def __init__(self, profile: SourceProfile, catalog: Catalog, *, memory: dict | None = None):
        self.profile = profile
        self.catalog = catalog
        self.memory = memory or {}
        self.decisions: list[ColumnDecision] = []
        self.targets: dict[str, TargetPlan] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.canon: dict[str, dict[str, str]] = {}  # object -> header -> canonical column name
        self.object_notes: dict[str, str] = {}

    # -- declared columns ------------------------------------------------------------------------------
    def column(self, obj: str, header: str, **extra: Any) -> str:
        """Declare ``header`` of ``obj`` in the draft spec; returns its canonical name."""
        names = self.canon.setdefault(obj, {})
        if header in names:
            return names[header]
        spec_obj = self.objects[obj]
        name = identifier(header, set(spec_obj["columns"]))
        names[header] = name
        col = self.profile.objects[obj].columns[header]
        ctype = col.inferred_type
        if ctype in ("date", "datetime") and col.date_format not in ("%Y-%m-%d", "ISO8601"):
            ctype = "string"  # parsed by a derive step with the format found (parse_date)
        body: dict[str, Any] = {} if ctype == "string" else {"type": ctype}
        if name != header:
            body["source"] = header
        body.update(extra)
        spec_obj["columns"][name] = body
        return name

    # -- the whole proposal ----------------------------------------------------------------------------
    def build(self) -> tuple[dict[str, TargetPlan], dict[str, dict], list[ColumnDecision], str | None]:
        """Targets, objects and decisions. Returns (targets, objects, decisions, root object)."""
        chosen = choose_entities(self.profile, self.catalog)
        person = _person_key(self.catalog)
        root = next((o for o, k in chosen.items() if k == person), None)
        if root is None:
            root = max(self.profile.objects, key=lambda o: self.profile.objects[o].rows_profiled, default=None)
        for oname, prof in self.profile.objects.items():
            self.objects[oname] = {"location": prof.location, "columns": {}}
        target_of: dict[str, str] = {}
        key_of: dict[str, EntityKey] = {}
        for oname in self.profile.objects:  # targets in source order
            key = chosen.get(oname)
            if key is None:
                continue
            base = _VIEW_PREFIX.sub("", oname.split(".")[-1]).lower()
            also = self.catalog.entity(key.entity).also_as
            if also:  # providers also land as staff contacts (HighLevel, Salesforce seed tables)
                ent, _, sob = also.partition("/")
                cname = identifier(f"{base}_contacts", set(self.targets))
                akey = EntityKey(ent, sob or None)
                self.targets[cname] = TargetPlan(name=cname, entity=ent, from_=oname, sobject=akey.sobject,
                                                 description=f"{title_of(oname)} records as {akey.label} too")
                key_of[cname] = akey
            tname = identifier(base if not also else f"{base}_users", set(self.targets))
            self.targets[tname] = TargetPlan(name=tname, entity=key.entity, from_=oname, sobject=key.sobject,
                                             description=f"{title_of(oname)} records as {key.label}")
            target_of[oname], key_of[tname] = tname, key
        self._keys(root)
        done: set[tuple[str, str]] = set()
        for tname, t in list(self.targets.items()):
            self._target(t, key_of[tname], target_of, key_of, root, done)
        self._children(root, target_of, done)
        for oname, prof in self.profile.objects.items():
            for header, col in prof.columns.items():
                if (oname, header) not in done:
                    self._not_migrated(oname, col, target_of)
        for oname in list(self.objects):
            if not self.objects[oname]["columns"]:
                del self.objects[oname]
        return self.targets, self.objects, self.decisions, root

    def _keys(self, root: str | None) -> None:
        for oname, prof in self.profile.objects.items():
            o = self.objects[oname]
            if prof.primary_key:
                o["primary_key"] = self.column(oname, prof.primary_key, nullable=False)
            fk_root = next((fk for fk in prof.foreign_keys if fk.parent == root), None)
            if oname == root and prof.primary_key:
                o["wave_key"] = o["primary_key"]
            elif fk_root is not None:
                o["wave_key"] = self.column(oname, fk_root.column)
            mod = [c for c, p in prof.columns.items() if p.inferred_type == "datetime"
                   and set(normalise(c).split()) & MODIFIED_WORDS]
            if mod and prof.columns[mod[0]].date_format == "ISO8601":
                o["modified_at"] = self.column(oname, mod[0])

    def _decide(self, d: ColumnDecision) -> None:
        d.review = d.decision != "not_migrated" and d.confidence < REVIEW
        self.decisions.append(d)

    def _target(self, t: TargetPlan, key: EntityKey, target_of: dict[str, str], key_of: dict[str, EntityKey],
                root: str | None, done: set[tuple[str, str]]) -> None:
        ent = self.catalog.entity(key.entity, key.sobject)
        prof = self.profile.objects[t.from_]
        if key.sobject:
            t.options["sobject"] = key.sobject
        if key.entity == "activity" or key.entity == "appointment":
            pass
        if self.catalog.destination == "highlevel" and key.entity == "appointment":
            t.options["calendar"] = f"{title_of(t.from_)} calendar"
        if self.catalog.destination == "pipedrive" and key.entity == "deal":
            t.pipeline = {"name": title_of(t.from_), "stages": ["Open"]}
        fks = {fk.column: fk for fk in prof.foreign_keys}
        skip: set[str] = set()
        # lookups from discovered foreign keys
        for col, fk in fks.items():
            parent_t = target_of.get(fk.parent)
            if parent_t is None:
                continue
            lk = self._lookup_for(ent, key_of[parent_t])
            if lk is None or lk in t.lookups:
                continue
            cname = self.column(t.from_, col)
            required = fk.parent == root or ent.lookups[lk].required
            body: dict[str, Any] = {"target": parent_t, "column": cname}
            if key_of[parent_t].entity == "user":
                body["fallback"] = "owner"
            elif required:
                body["required"] = True
            t.lookups[lk] = body
            conf = 0.9 + 0.1 * fk.inclusion - (0.1 if fk.inclusion < 1 else 0)
            self._decide(ColumnDecision(t.from_, col, "lookup", t.name, lk, conf,
                                        [f"{fk.inclusion:.0%} of values are {fk.parent}.{fk.parent_column}",
                                         f"{ent.label} lookup {lk} -> {key_of[parent_t].label}"],
                                        fill_rate=prof.columns[col].fill_rate))
            skip.add(col)
            done.add((t.from_, col))
        if key.entity == "user":
            email = max(prof.columns.values(), key=lambda c: c.best("email"))
            t.match = {"by": "email", "column": self.column(t.from_, email.name)}
            if (t.from_, email.name) not in done:
                self._decide(ColumnDecision(t.from_, email.name, "lookup", t.name, "match by email",
                                            email.best("email"),
                                            [f"{email.best('email'):.0%} e-mails: users are matched, never created"],
                                            fill_rate=email.fill_rate))
                done.add((t.from_, email.name))
            for other in prof.columns.values():
                if (t.from_, other.name) not in done and identifier_kind(other) is None:
                    self._decide(ColumnDecision(
                        t.from_, other.name, "not_migrated", None, None, 1.0,
                        reason="users are matched by e-mail, never created: other fields stay in the source",
                        fill_rate=other.fill_rate))
                    done.add((t.from_, other.name))
            return
        fields = _fields_with_parts(ent)
        cands: dict[str, list[Candidate]] = {}
        cols: dict[str, ColumnProfile] = {}
        for i, (header, column) in enumerate(prof.columns.items()):
            if header in skip or header == prof.primary_key or identifier_kind(column) or column.fill_rate == 0:
                continue
            mem = self.memory.get((key.label, normalise(header)))
            cands[header] = score_column(column, fields, position=i, memory=mem, entity_label=ent.label)
            cols[header] = column
        many = {k for k, f in fields.items() if f.many}
        chosen = assign(cands, many, FIELD_THRESHOLD)
        parts: dict[str, list[tuple[int, str]]] = {}
        many_cols: dict[str, list[str]] = {}
        for header, cand in chosen.items():
            f = fields[cand.field]
            cname = self.column(t.from_, header)
            if "#" in cand.field:
                base, part = cand.field.split("#", 1)
                parts.setdefault(base, []).append((ent.fields[base].compose.index(part), cname))
                dec, dest = "transform", base
            elif f.many:
                many_cols.setdefault(cand.field, []).append(cname)
                dec, dest = "transform", cand.field
            else:
                t.fields[cand.field] = self._value_source(t, header, cname, f, cand)
                src = t.fields[cand.field]
                dec = "direct" if set(src) == {"column"} else "transform"
                dest = cand.field
                if cand.confidence < REVIEW or cand.unmapped:
                    t.review.add(("fields", cand.field))
                t.notes[("fields", cand.field)] = f"{dec}, confidence {cand.confidence:.2f}: " + "; ".join(cand.evidence)
                if cand.unmapped:  # codes, never personal values (profile.code_values)
                    t.notes[("fields", cand.field)] += (f"; codes without an allowed value: {', '.join(cand.unmapped)}"
                                                        f" (allowed: {', '.join(f.values)})")
            alts = [{"target": t.name, "destination_field": c.field.split("#")[0], "confidence": round(c.confidence, 3)}
                    for c in cands[header] if c.field != cand.field][:3]
            self._decide(ColumnDecision(t.from_, header, dec, t.name, dest, cand.confidence, cand.evidence, alts,
                                        fill_rate=cols[header].fill_rate))
            done.add((t.from_, header))
        for base, items in parts.items():
            names = [c for _i, c in sorted(items)]
            if len(names) == 1:
                t.fields[base] = {"column": names[0]}
            else:
                t.fields[base] = {"template": " ".join("{" + n + "}" for n in names)}
            t.notes[("fields", base)] = f"composed from {len(names)} columns"
        for fname, names in many_cols.items():
            labels = [("mobile" if "mobile" in normalise(n) else "work" if "work" in normalise(n) else "home")
                      for n in names]
            t.fields[fname] = {"columns": names, "format": ent.fields[fname].format or "contact_list",
                               "args": {"labels": labels}}
            t.notes[("fields", fname)] = f"{len(names)} column(s) into one list"
        for fname, f in ent.fields.items():  # renderings of composed siblings (postal_address.value)
            # any part needs the rendering: Pipedrive refuses an address object without its value
            if f.compose_of and any(p in t.fields and "column" in t.fields[p] for p in f.compose_of):
                present = [t.fields[p]["column"] for p in f.compose_of if p in t.fields and "column" in t.fields[p]]
                t.fields[fname] = {"template": ", ".join("{" + c + "}" for c in present)}
                t.notes[("fields", fname)] = "rendered from the address parts"
        for fname, f in ent.fields.items():  # same column, own wire format (due_time with due_date)
            if f.with_ and f.with_ in t.fields and "column" in t.fields[f.with_] and fname not in t.fields:
                t.fields[fname] = {"column": t.fields[f.with_]["column"], **({"format": f.format} if f.format else {})}
                t.notes[("fields", fname)] = f"from the column of {f.with_}"
        self._required(t, ent, cands, cols, done)
        leftovers = [h for h in cols if (t.from_, h) not in done]
        if prof.primary_key and (t.from_, prof.primary_key) not in done:
            leftovers.insert(0, prof.primary_key)
        self._leftovers(t, ent, key, prof, leftovers, cands, done)

    def _lookup_for(self, ent: EntityDef, parent: EntityKey) -> str | None:
        matches = []
        for name, lk in ent.lookups.items():
            if lk.entity == parent.entity and (not parent.sobject or not lk.objects or parent.sobject in lk.objects
                                               or "*" in lk.objects):
                rank = (2 if "participant" in name else 1 if name.lower().startswith(parent.entity[:4].lower()) else 0)
                matches.append((rank, name))
            elif parent.entity == "user" and lk.entity == "user":
                matches.append((1 if "owner" in name.lower() or "assigned" in name.lower() else 0, name))
        return max(matches)[1] if matches else None

    def _value_source(self, t: TargetPlan, header: str, cname: str, f: FieldDef, cand: Candidate) -> dict[str, Any]:
        col = self.profile.objects[t.from_].columns[header]
        src: dict[str, Any] = {"column": cname}
        kind = field_kind(f)
        declared = self.objects[t.from_]["columns"][cname]
        if kind in ("text", "long_text", "enum", "postal_code", "state", "country", "phone") and declared.get(
                "type") in ("int", "float", "money", "bool"):
            declared.pop("type")  # a text field takes the source's text as it is (codes keep leading zeros)
        if col.inferred_type in ("date", "datetime") and col.date_format not in ("%Y-%m-%d", "ISO8601"):
            parsed = f"{cname}_parsed"
            if not any(d.get("name") == parsed for d in t.derive):
                t.derive.append({"name": parsed, "column": cname, "format": "parse_date",
                                 "args": {"input_format": col.date_format}})
            src["column"] = parsed
        if f.format and f.format not in ("contact_list", "duration_hhmm"):
            src["format"] = f.format
            if f.format == "datetime_offset":
                src["args"] = {"tz": "UTC"}
        elif kind == "date" and col.inferred_type in ("date", "datetime"):
            src["format"] = "date"
        if cand.value_map:
            src["value_map"] = dict(cand.value_map)
        if f.escape == "html" and "format" not in src:
            return {"template": "{" + src["column"] + "}", "escape": "html"}
        return src

    def _required(self, t: TargetPlan, ent: EntityDef, cands: dict[str, list[Candidate]],
                  cols: dict[str, ColumnProfile], done: set[tuple[str, str]]) -> None:
        """A required (or record-naming) text field nothing was assigned to takes the column that reads
        most like a label (a name, title or description: ``label_score``), even from an optional text
        field; with none, a template naming the object and its key. Always marked for review."""
        wanted = [k for k, f in ent.fields.items() if (f.required or k in TITLE_FIELDS) and not f.local
                  and k not in t.fields and field_kind(f) in ("text", "long_text") and not f.compose_of]
        wanted.sort(key=lambda k: (not ent.fields[k].required, TITLE_FIELDS.index(k) if k in TITLE_FIELDS else 99))
        if ent.name in ("person", "contact", "Contact"):
            wanted = [k for k in wanted if k in ("name", "LastName")][:1] if not any(
                k in t.fields for k in ("name", "firstName", "lastName", "LastName", "FirstName")) else []
        for fname in wanted:
            f = ent.fields[fname]
            optional = {c: k for k, src in t.fields.items() if k not in TITLE_FIELDS and not ent.fields[k].required
                        and set(src) <= {"column"} and field_kind(ent.fields[k]) in ("text", "long_text")
                        for c in [src.get("column")]}
            pool = [h for h in cols if (t.from_, h) not in done or self.canon[t.from_].get(h) in optional]
            best = max(pool, key=lambda h: label_score(cols[h]), default=None)
            if best is None or label_score(cols[best]) < 0.3:
                pk = self.profile.objects[t.from_].primary_key
                tmpl = f"{title_of(t.from_)}" + (" {" + self.column(t.from_, pk) + "}" if pk else "")
                t.fields[fname] = {"template": tmpl}
                t.review.add(("fields", fname))
                t.notes[("fields", fname)] = "required: no column reads like a label; named after the object"
                continue
            cname = self.column(t.from_, best)
            moved = optional.get(cname)
            if moved:
                del t.fields[moved]
                self.decisions = [d for d in self.decisions if not (d.object == t.from_ and d.column == best)]
            t.fields[fname] = ({"template": "{" + cname + "}", "escape": "html"} if f.escape == "html"
                               else {"column": cname})
            t.review.add(("fields", fname))
            conf = min(0.7, 0.4 + 0.4 * label_score(cols[best]))
            t.notes[("fields", fname)] = f"required field; the column that reads most like a label ({conf:.2f})"
            self._decide(ColumnDecision(t.from_, best, "direct", t.name, fname, conf,
                                        [f"{ent.label} needs {fname}; '{best}' reads like a label"],
                                        fill_rate=cols[best].fill_rate))
            done.add((t.from_, best))

    def _leftovers(self, t: TargetPlan, ent: EntityDef, key: EntityKey, prof: ObjectProfile, headers: list[str],
                   cands: dict[str, list[Candidate]], done: set[tuple[str, str]]) -> None:
        naming = self.catalog.custom_fields.naming
        taken = set(t.custom_fields)
        text_field = next((k for k, f in ent.fields.items() if f.type == "long_text" and not f.local), None)
        lines: list[str] = []
        for header in headers:
            col = prof.columns[header]
            if (t.from_, header) in done or col.fill_rate == 0 or identifier_kind(col):
                continue
            cname = self.column(t.from_, header)
            is_pk = header == prof.primary_key
            alts = [{"target": t.name, "destination_field": c.field.split("#")[0], "confidence": round(c.confidence, 3)}
                    for c in cands.get(header, [])][:3]
            if ent.custom_fields:
                kind = "text" if is_pk else custom_kind(col)  # an ID is text, never a number
                label = f"{title_of(t.from_)} ID" if is_pk else label_of(header)
                name = custom_name(label, naming, taken)
                body: dict[str, Any] = {"column": cname}
                ctype = self.catalog.custom_fields.types.get(kind, self.catalog.custom_fields.types["text"])
                body["type"] = ctype
                if kind in ("date", "datetime") and ctype.upper() == "DATE":
                    body["format"] = "date"
                elif kind == "money":
                    body["format"] = "money"
                elif kind == "number" and self.catalog.destination == "pipedrive":
                    body["format"] = "float"
                if kind == "bool" and ctype not in ("Checkbox",):
                    body["options"] = ["Yes", "No"]
                    body["value_map"] = {"true": "Yes", "false": "No"}
                elif kind == "enum" and col.values:
                    body["options"] = list(col.values)
                if naming == "api__c":
                    body["args"] = {"label": label}
                body["category"] = "Identity" if is_pk else category_of(header, title_of(t.from_))
                t.custom_fields[name] = body
                conf = 0.9 if is_pk else 0.8 if col.fill_rate >= 0.05 else 0.6
                why = ["primary key: kept as the record's source ID"] if is_pk else [
                    f"no standard {ent.label} field fits (best {alts[0]['destination_field']} "
                    f"{alts[0]['confidence']:.2f})" if alts else f"no standard {ent.label} field",
                    f"type {kind} from the profile; {col.fill_rate:.0%} filled"]
                t.notes[("custom_fields", name)] = f"custom field, confidence {conf:.2f}: " + "; ".join(why)
                if conf < REVIEW:
                    t.review.add(("custom_fields", name))
                self._decide(ColumnDecision(t.from_, header, "custom_field", t.name, name, conf, why, alts,
                                            fill_rate=col.fill_rate))
            elif text_field is not None:
                lines.append(f"{label_of(header)}: {{{cname}}}")
                self._decide(ColumnDecision(t.from_, header, "transform", t.name, text_field, 0.8,
                                            [f"{ent.label} takes no custom fields: kept as a line of {text_field}"],
                                            alts, fill_rate=col.fill_rate))
            else:
                self._decide(ColumnDecision(t.from_, header, "not_migrated", None, None, 1.0,
                                            reason=f"{ent.label} takes no custom fields and has no text field",
                                            fill_rate=col.fill_rate))
            done.add((t.from_, header))
        if lines and text_field is not None:
            existing = t.fields.get(text_field)
            head = ""
            if existing and "column" in existing:
                head = "{" + existing["column"] + "}\n"
            elif existing and "template" in existing:
                head = existing["template"] + "\n"
            escape = ent.fields[text_field].escape
            sep = "<br>" if escape == "html" else "\n"
            t.fields[text_field] = {"template": head.replace("\n", sep) + sep.join(lines)}
            if escape:
                t.fields[text_field]["escape"] = escape
            t.notes[("fields", text_field)] = f"{len(lines)} source fields kept as lines of the text"

    def _children(self, root: str | None, target_of: dict[str, str], done: set[tuple[str, str]]) -> None:
        """Child objects of the root without an entity: one long-text summary custom field on the root."""
        if root is None or root not in target_of:
            return
        rt = self.targets[target_of[root]]
        ent = self.catalog.entity(rt.entity, rt.sobject)
        if not ent.custom_fields:
            return
        taken = set(rt.custom_fields)
        for oname, prof in self.profile.objects.items():
            if oname in target_of or oname == root:
                continue
            fk = next((f for f in prof.foreign_keys if f.parent == root), None)
            if fk is None:
                continue
            keep = [h for h, c in prof.columns.items() if h not in (fk.column, prof.primary_key) and c.fill_rate > 0
                    and identifier_kind(c) is None and not any(f.column == h for f in prof.foreign_keys)
                    and not set(normalise(h).split()) & MODIFIED_WORDS][:5]
            if not keep:
                continue
            by = self.column(oname, fk.column)
            names = [self.column(oname, h) for h in keep]
            dated = next((n for h, n in zip(keep, names, strict=True) if prof.columns[h].inferred_type in ("date", "datetime")
                          and prof.columns[h].date_format in ("%Y-%m-%d", "ISO8601")), None)
            template = " ".join("{" + n + (":date" if n == dated else "") + "}" for n in names)
            step: dict[str, Any] = {"name": identifier(f"{oname}_summary", {d["name"] for d in rt.derive}),
                                    "from": oname, "by": by, "agg": "join", "template": template, "separator": "\n",
                                    "limit": 50}
            if dated:
                step["order_by"] = "-" + dated
            rt.derive.append(step)
            label = title_of(oname) + " history"
            name = custom_name(label, self.catalog.custom_fields.naming, taken)
            body: dict[str, Any] = {"column": step["name"], "type": self.catalog.custom_fields.types["long_text"],
                                    "category": category_of(oname, "History")}
            if self.catalog.custom_fields.naming == "api__c":
                body["args"] = {"label": label}
            rt.custom_fields[name] = body
            rt.review.add(("custom_fields", name))
            rt.notes[("custom_fields", name)] = (f"{oname} rows joined by {fk.column} (foreign key to {root}); "
                                                 "choose the columns and order in review")
            for h in keep:
                self._decide(ColumnDecision(oname, h, "custom_field", rt.name, name, 0.7,
                                            [f"{oname} has no entity of its own; {fk.column} links it to {root}",
                                             "joined into one long-text field of the root record"],
                                            fill_rate=prof.columns[h].fill_rate))
                done.add((oname, h))
            self._decide(ColumnDecision(oname, fk.column, "lookup", rt.name, name, 0.9,
                                        [f"{fk.inclusion:.0%} of values are {root}.{fk.parent_column}: joins the summary"],
                                        fill_rate=prof.columns[fk.column].fill_rate))
            done.add((oname, fk.column))

    def _not_migrated(self, oname: str, col: ColumnProfile, target_of: dict[str, str]) -> None:
        ident = identifier_kind(col)
        prof = self.profile.objects[oname]
        if ident:
            reason = f"identifier that must not move ({ident}): never read"
        elif col.fill_rate == 0:
            reason = "no values in the source"
        elif set(normalise(col.name).split()) & MODIFIED_WORDS:
            reason = "source modification time: drives delta pickup (modified_at), not a CRM field"
        elif oname not in target_of:
            parents = [f"{fk.parent}" for fk in prof.foreign_keys]
            referenced = [f"{o}.{fk.column}" for o, p in self.profile.objects.items() for fk in p.foreign_keys
                          if fk.parent == oname]
            reason = (f"{oname} has no destination entity" + (f" (referenced by {', '.join(referenced[:3])})"
                      if referenced else "") + (f" (links to {', '.join(parents[:3])})" if parents else "")
                      + ": join it into a target in review")
        else:
            reason = "no field fits and the entity takes no custom fields"
        self._decide(ColumnDecision(oname, col.name, "not_migrated", None, None, 1.0, reason=reason,
                                    fill_rate=col.fill_rate))


def propose_scratch(profile: SourceProfile, catalog: Catalog, *, migration: str, source: dict[str, Any],
                    environment: dict[str, dict[str, Any]], destination_block: dict[str, Any],
                    memory: dict | None = None) -> Proposal:
    """A whole-spec proposal for ``catalog``'s destination from ``profile`` (module docstring)."""
    b = ScratchBuilder(profile, catalog, memory=memory)
    targets, objects, decisions, root = b.build()
    seeds = [{"name": title_of(t.from_), "sources": [t.from_], "targets": [t.name],
              "lands_in": f"{t.sobject or catalog.entity(t.entity).label}" + (
                  f" with {len(t.custom_fields)} custom fields" if t.custom_fields else "")} for t in targets.values()]
    return Proposal(migration=migration, destination=catalog.destination, mode="scratch",
                    title=f"{migration} (proposed)", source=source, environment=environment,
                    destination_block=destination_block, objects=objects, targets=targets, decisions=decisions,
                    root=root, seed_objects=seeds, waves={"root": root, "sample_size": 200})
