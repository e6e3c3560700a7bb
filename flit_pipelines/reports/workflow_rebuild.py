"""Workflow-rebuild specification: what the source's configuration implies the CRM admin must rebuild.

From the extracted source frames (one typed frame per spec object) and the spec:

* recall types with their observed intervals (objects with recall-type / due-date / prior-date
  columns, e.g. Dentrix ``v_patient_recall``): per type the median and mode of days between the
  prior visit and the due date, and how many patients carry it;
* appointment facts a reminder rule depends on: appointment types/reasons with typical lengths,
  status values meaning no-show / cancelled (and their counts), and the lead time between the
  booking (creation, or last modification when the source has no creation time) and the visit;
* a checklist of CRM workflows to rebuild, in the destination's vocabulary (HighLevel workflows,
  Salesforce Flows, Pipedrive automations), tied to the custom fields, tags, calendars and
  pipelines the spec provisions.

Objects and columns are found by name and type in the spec, not by one spec's names; whatever is
missing is reported as missing. Every status code carries its meaning (the practice's code table, the
documented meaning, or the spec's value map: ``reports.source_codes``) or "unknown code N"; lengths,
intervals and lead times are written in minutes, hours, days, weeks or months (``reports.wording``).
Output holds counts, configuration values (types, status codes) and field names, never per-patient
values; type values seen fewer than ``MIN_TYPE_COUNT`` times are folded into "(other)" so free-text reasons do not leak.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from flit_pipelines.reports.design_doc import field_triggers, tag_names, type_class
from flit_pipelines.reports.source_codes import CodeLabels
from flit_pipelines.reports.wording import days_text, duration_text
from flit_pipelines.spec.model import MigrationSpec, SourceObject

MIN_TYPE_COUNT = 2
MAX_TYPES = 25

_RECALL_OBJ = re.compile(r"recall|recare|continuing_care", re.I)
_APPT_OBJ = re.compile(r"appoint|appt|encounter|visit|booking|schedule", re.I)
_NOT_APPT_OBJ = re.compile(r"status|code|note|type|reason", re.I)
_MEANINGS: tuple[tuple[str, re.Pattern], ...] = (
    ("no-show", re.compile(r"no.?show|broken|missed|\bdna\b|did not attend|failed", re.I)),
    ("cancelled", re.compile(r"cancel", re.I)),
    ("completed", re.compile(r"complete|checked.?out|finished|kept|arrived|showed|attended|seen|done", re.I)),
    ("confirmed", re.compile(r"confirm", re.I)),
    ("scheduled", re.compile(r"sched|book|pending|new|planned|open", re.I)),
)


# -- helpers ---------------------------------------------------------------------------------------
def _cols(obj: SourceObject, pattern: str, types: tuple[str, ...] | None = None,
          exclude: str | None = None) -> list[str]:
    rx, ex = re.compile(pattern, re.I), re.compile(exclude, re.I) if exclude else None
    return [c for c, s in obj.columns.items()
            if rx.search(c) and (types is None or s.type in types) and not (ex and ex.search(c))]


def _first(*candidates: list[str]) -> str | None:
    for c in candidates:
        if c:
            return c[0]
    return None


def _utc(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce", utc=True)


def _num(x: Any) -> float | int | None:
    if x is None or pd.isna(x):
        return None
    x = float(x)
    return int(x) if x.is_integer() else round(x, 2)


def _patient_col(obj: SourceObject) -> str | None:
    return obj.wave_key or _first(_cols(obj, r"^(patient_?id|patid|patient)$"), _cols(obj, r"patient|patid"))


def meaning_of(value: Any, label: Any = None) -> str:
    """``no-show`` | ``cancelled`` | ``completed`` | ``confirmed`` | ``scheduled`` | ``other`` for a status
    value and its label (label checked first, then the value)."""
    for text in (label, value):
        if text is None or (not isinstance(text, str) and pd.isna(text)):
            continue
        for name, rx in _MEANINGS:
            if rx.search(str(text)):
                return name
    return "other"


# -- recalls ----------------------------------------------------------------------------------------
def recall_objects(spec: MigrationSpec) -> dict[str, dict[str, str | None]]:
    """Objects that describe recalls: ``{object: {"type", "due", "prior", "patient"}}`` column names.
    An object qualifies by its name (recall/recare) or a column named like ``recall_type``; it needs a
    due-date column."""
    out = {}
    for name, obj in spec.objects.items():
        if not (_RECALL_OBJ.search(name) or _cols(obj, r"recall.?type|recare.?type")):
            continue
        dates = ("date", "datetime")
        due = _first(_cols(obj, r"due|next", dates), _cols(obj, r"recall.*date", dates))
        if due is None:
            continue
        out[name] = {
            "type": _first(_cols(obj, r"recall.?type|recare.?type"), _cols(obj, r"type", ("string",)),
                           _cols(obj, r"descr|name|code", ("string",))),
            "due": due,
            "prior": _first(_cols(obj, r"prior|last|previous|done|completed", dates, exclude=r"modif|updat|creat")),
            "patient": _patient_col(obj),
        }
    return out


def recall_intervals(frame: pd.DataFrame, cols: dict[str, str | None]) -> list[dict[str, Any]]:
    """Per recall type (sorted by patients desc, then type): ``{"recall_type", "records", "patients",
    "with_interval", "interval_days_median", "interval_days_mode", "interval_days_min",
    "interval_days_max", "interval_months"}``; intervals are whole days from prior to due date
    (None when the object has no prior-date column or no row has both dates)."""
    if frame is None or not len(frame):
        return []
    df = pd.DataFrame({"recall_type": frame[cols["type"]].astype("string").fillna("(none)")
                       if cols.get("type") else pd.Series("(all)", index=frame.index)})
    df["patient"] = frame[cols["patient"]] if cols.get("patient") else pd.Series(range(len(frame)), index=frame.index)
    if cols.get("prior"):
        days = (_utc(frame[cols["due"]]).dt.normalize() - _utc(frame[cols["prior"]]).dt.normalize()).dt.days
        df["days"] = days.astype("Float64")
    else:
        df["days"] = pd.Series(pd.NA, index=frame.index, dtype="Float64")
    g = df.groupby("recall_type", sort=True)
    stats = pd.DataFrame({
        "records": g.size(), "patients": g["patient"].nunique(), "with_interval": g["days"].count(),
        "interval_days_median": g["days"].median(), "interval_days_min": g["days"].min(),
        "interval_days_max": g["days"].max(),
    })
    known = df.dropna(subset=["days"])
    if len(known):
        vc = known.groupby(["recall_type", "days"]).size().rename("n").reset_index()
        mode = vc.sort_values(["recall_type", "n", "days"], ascending=[True, False, True]) \
            .drop_duplicates("recall_type").set_index("recall_type")["days"]
        stats["interval_days_mode"] = mode
    else:
        stats["interval_days_mode"] = pd.NA
    stats = stats.reset_index().sort_values(["patients", "recall_type"], ascending=[False, True])
    out = []
    for r in stats.itertuples(index=False):
        med = _num(r.interval_days_median)
        out.append({"recall_type": str(r.recall_type), "records": int(r.records), "patients": int(r.patients),
                    "with_interval": int(r.with_interval), "interval_days_median": med,
                    "interval_days_mode": _num(r.interval_days_mode), "interval_days_min": _num(r.interval_days_min),
                    "interval_days_max": _num(r.interval_days_max),
                    "interval_months": None if med is None else round(med / 30.4375, 1)})
    return out


# -- appointments -----------------------------------------------------------------------------------
def appointment_objects(spec: MigrationSpec) -> dict[str, dict[str, str | None]]:
    """Objects that describe appointments/visits and the columns used: ``{object: {"date", "end",
    "status", "status_label", "broken", "type", "length", "created", "created_basis"}}``. An object
    qualifies by its name (appointment/encounter/visit/booking, not a code table) and a date column."""
    out = {}
    dates = ("date", "datetime")
    for name, obj in spec.objects.items():
        if not _APPT_OBJ.search(name) or _NOT_APPT_OBJ.search(name.replace("appointments", "")):
            continue
        date = _first(_cols(obj, r"^(appointment_?date|appt_?date|start|starts_at|start_?time|start_?date"
                                 r"|scheduled_?(at|for)|date)$", dates),
                      _cols(obj, r"start|appoint|date", dates, exclude=r"modif|updat|creat|cancel|end|stop"))
        if date is None:
            continue
        status = _first(_cols(obj, r"^(status_?id|status|appointment_?status|appt_?status)$"),
                        _cols(obj, r"status", exclude=r"desc|name|text|reason"))
        created = _first(_cols(obj, r"creat|booked|entered", dates))
        basis = "created"
        if created is None and obj.modified_at and obj.columns[obj.modified_at].type in dates:
            created, basis = obj.modified_at, "modified"
        out[name] = {
            "date": date,
            "end": _first(_cols(obj, r"^(end|ends_at|end_?time|stop)$", dates)),
            "status": status,
            "status_label": _first(_cols(obj, r"status.*(name|desc|text)|status_label", ("string",))),
            "broken": _first(_cols(obj, r"^(is_?)?broken$|no.?show")),
            "type": _first(_cols(obj, r"appointment_?type|appt_?type|booking_?type|visit_?type|^type$",
                                 ("string",)),
                           _cols(obj, r"class|category", ("string",)),
                           _cols(obj, r"reason", ("string",), exclude=r"cancel")),
            "length": _first(_cols(obj, r"^(length|duration|duration_?minutes|length_?minutes|minutes)$",
                                   ("int", "float"))),
            "created": created, "created_basis": basis if created else None,
        }
    return out


def workflow_objects(spec: MigrationSpec) -> set[str]:
    """Every object ``workflow_rebuild_spec`` reads: recall and appointment objects, and the code tables
    the spec joins on a status column (their rows label the status codes in the practice's words)."""
    return {*recall_objects(spec), *appointment_objects(spec), *CodeLabels(spec).code_objects()}


def _lead_time(days: pd.Series, basis: str, column: str) -> dict[str, Any]:
    d = days.dropna()
    ahead = d[d >= 0]
    q = ahead.quantile([0.25, 0.5, 0.75, 0.9]) if len(ahead) else pd.Series(dtype=float)
    buckets = pd.cut(ahead, [-1, 0, 1, 7, 30, 90, float("inf")],
                     labels=["same day", "1 day", "2-7 days", "8-30 days", "31-90 days", "over 90 days"])
    return {
        "basis": basis, "column": column, "rows": int(len(d)), "rows_before_visit": int(len(ahead)),
        "rows_after_visit": int((d < 0).sum()),
        "days_p25": _num(q.get(0.25)), "days_median": _num(q.get(0.5)), "days_p75": _num(q.get(0.75)),
        "days_p90": _num(q.get(0.9)),
        "buckets": {str(k): int(v) for k, v in buckets.value_counts(sort=False).items()},
    }


def appointment_facts(spec: MigrationSpec, name: str, cols: dict[str, str | None],
                      frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Facts of one appointment object (shape in ``workflow_rebuild_spec``)."""
    f = frames.get(name)
    out: dict[str, Any] = {"object": name, "columns": cols, "rows": 0 if f is None else int(len(f)),
                           "types": [], "statuses": [], "no_show": 0, "cancelled": 0, "lead_time": None}
    if f is None or not len(f):
        out["note"] = "no rows extracted" if f is not None else "object not extracted"
        return out
    length = None
    if cols["length"]:
        length = pd.to_numeric(f[cols["length"]], errors="coerce")
    elif cols["end"]:
        length = (_utc(f[cols["end"]]) - _utc(f[cols["date"]])).dt.total_seconds() / 60
    if cols["type"]:
        t = f[cols["type"]].astype("string").str.strip().fillna("(none)")
        df = pd.DataFrame({"type": t, "length": length if length is not None else pd.NA})
        g = df.groupby("type")
        st = pd.DataFrame({"count": g.size(), "length_minutes_median": g["length"].median(),
                           "length_minutes_mode": g["length"].agg(lambda s: s.mode().min() if s.notna().any()
                                                                  else pd.NA)})
        st = st.sort_values(["count"], ascending=False, kind="stable")
        keep = st[st["count"] >= MIN_TYPE_COUNT].head(MAX_TYPES)
        out["types"] = [{"type": str(k), "count": int(r["count"]),
                         "length_minutes_median": _num(r["length_minutes_median"]),
                         "length_minutes_mode": _num(r["length_minutes_mode"])}
                        for k, r in keep.iterrows()]
        other = int(len(f) - keep["count"].sum())
        if other:
            out["types"].append({"type": "(other)", "count": other, "length_minutes_median": None,
                                 "length_minutes_mode": None})
    if length is not None:
        out["length_minutes_median"] = _num(length.median())
    if cols["status"]:
        s = f[cols["status"]].astype("string")
        codes = CodeLabels(spec, frames)
        labels = dict(codes.labels(name, cols["status"]))
        if cols["status_label"]:  # the row's own status text (e.g. Ascend statusDescription) comes first
            lab = pd.DataFrame({"v": s, "l": f[cols["status_label"]].astype("string")}).dropna()
            labels.update({str(k): str(v) for k, v in lab.drop_duplicates("v").itertuples(index=False)})
        counts = s.fillna("(none)").value_counts()
        out["statuses"] = [{"value": str(v), "count": int(n),
                            "label": ("no status recorded" if v == "(none)" else
                                      labels.get(str(v)) or codes.label(name, cols["status"], v)),
                            "meaning": meaning_of(v, labels.get(str(v)))} for v, n in counts.items()]
        for row in out["statuses"]:
            if row["meaning"] == "no-show":
                out["no_show"] += row["count"]
            elif row["meaning"] == "cancelled":
                out["cancelled"] += row["count"]
    if cols["broken"]:
        b = f[cols["broken"]].astype("string").str.lower().isin(["1", "true", "t", "yes", "y"])
        out["broken_flag_rows"] = int(b.sum())
    created, basis = cols["created"], cols["created_basis"]  # the basis is set with the column
    if created and basis:
        days = (_utc(f[cols["date"]]) - _utc(f[created])).dt.total_seconds() / 86400
        out["lead_time"] = _lead_time(days.floordiv(1), basis, created)
    return out


# -- checklist --------------------------------------------------------------------------------------
def _crm_fields(spec: MigrationSpec) -> list[tuple[str, str, str, str, list[str] | None]]:
    """(target, crm object, field, type class, options) of every custom field."""
    out = []
    for tname, t in spec.targets.items():
        obj = str(t.options.get("sobject") or t.options.get("object_key") or t.entity)
        for name, cf in t.custom_fields.items():
            out.append((tname, obj, name, type_class(cf.type), cf.options))
    return out


def workflow_checklist(spec: MigrationSpec, recalls: list[dict[str, Any]],
                       appointments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The CRM workflows to rebuild: ``[{"name", "crm", "trigger", "conditions", "actions", "why"}]``,
    in the destination's vocabulary. Empty ``conditions`` means none."""
    kind = spec.destination.kind
    items: list[dict[str, Any]] = []
    rtypes = [r for o in recalls for r in o.get("types", [])]
    fields = _crm_fields(spec)
    seen: set[tuple[str, str]] = set()

    def add(name, trigger, actions, why, conditions=None):
        items.append({"name": name, "crm": kind, "trigger": trigger, "conditions": conditions or [],
                      "actions": actions, "why": why})

    # recall / date-driven reminders
    recall_dates = [f for f in fields if f[3] == "date" and re.search(r"recall|recare|next|follow.?up", f[2], re.I)]
    type_field = next((f[2] for f in fields if re.search(r"recall.?type", f[2], re.I)), None)
    for tname, obj, fname, _, _ in recall_dates:
        if (obj, fname) in seen:
            continue
        seen.add((obj, fname))
        conds = [f"{type_field} = {r['recall_type']} (every {days_text(r['interval_days_median']) or 'interval unknown'})"
                 for r in rtypes] if type_field and rtypes else []
        trig = {"highlevel": f"Workflow trigger 'Custom Date Reminder' on contact field {fname}",
                "salesforce": f"Record-triggered Flow on {obj} with a scheduled path relative to {fname}",
                "pipedrive": f"Automation on {obj} field {fname} (date reached / days before)"}.get(kind, fname)
        add(f"{'Recall due' if re.search('recall|recare', fname, re.I) else 'Date reminder'}: {fname}", trig,
            ["send reminder (SMS/e-mail) a set number of days before the date", "second reminder on the date",
             "create a call task when the date passes without a booked appointment"],
            f"{fname} ({tname}) carries the next due date from the source", conds)
    if rtypes and not recall_dates:
        add("Recall due (needs a date field)", "none yet: the spec maps no recall date field",
            ["add a DATE custom field for the next recall date to the spec, then build a date reminder on it"],
            f"source recall types {', '.join(r['recall_type'] for r in rtypes)} have no CRM date field")
    # appointment reminders
    appt_targets = [(n, t) for n, t in spec.targets.items()
                    if t.entity == "appointment" or (t.options.get("sobject") == "Event")
                    or (t.entity == "activity" and _APPT_OBJ.search(t.from_ or ""))]
    lead = next((a["lead_time"] for a in appointments if a.get("lead_time")), None)
    lead_note = (f"bookings are made a median {days_text(lead['days_median'])} ahead ({lead['basis']} time)"
                 if lead and lead.get("days_median") is not None else "no booking time in the source")
    for n, t in appt_targets:
        cal = t.options.get("calendar")
        trig = {"highlevel": f"Workflow trigger 'Customer Booked Appointment' / 'Appointment Status' "
                             f"(calendar {cal or 'of the practice'})",
                "salesforce": "Record-triggered Flow on Event with scheduled paths before StartDateTime",
                "pipedrive": "Automation on activity added/updated (type of the visit), reminder before due date"}[kind]
        add(f"Appointment reminder ({n})", trig,
            ["confirmation on booking", "reminder 2 days before", "reminder 2 hours before"],
            f"source appointments migrate into {n}; {lead_note}")
    # no-show / cancellation follow-ups
    ns = sum(a.get("no_show", 0) for a in appointments)
    cx = sum(a.get("cancelled", 0) for a in appointments)
    tags = {tag for t in spec.targets.values() for tag in tag_names(t)}
    for meaning, count, rx in (("No-show", ns, r"no.?show|broken"), ("Cancellation", cx, r"cancel")):
        tag = next((x for x in sorted(tags) if re.search(rx, x, re.I)), None)
        pick = next(((f[1], f[2], o) for f in fields if f[3] == "picklist" and re.search(r"status", f[2], re.I)
                     for o in (f[4] or []) if re.search(rx, str(o), re.I)), None)
        if tag and kind == "highlevel":
            trig = f"Workflow trigger 'Contact Tag' added: {tag}"
        elif pick:
            trig = {"salesforce": f"Record-triggered Flow on {pick[0]} when {pick[1]} changes to '{pick[2]}'",
                    "pipedrive": f"Automation when {pick[1]} changes to '{pick[2]}'",
                    "highlevel": f"Workflow trigger 'Contact Changed': {pick[1]} = {pick[2]}"}[kind]
        elif kind == "highlevel" and appt_targets:
            trig = f"Workflow trigger 'Appointment Status' = {'no-show' if meaning == 'No-show' else 'cancelled'}"
        elif count:
            trig = "none yet: the spec maps no status field or tag for it"
        else:
            continue
        add(f"{meaning} follow-up", trig, ["send a rebooking message", "create a call task for the front desk"],
            f"{count} {meaning.lower()} appointments in the source")
    # balances
    for tname, obj, fname, cls, _ in fields:
        if cls == "money" and re.search(r"balance|outstanding|overdue", fname, re.I) and (obj, fname) not in seen:
            seen.add((obj, fname))
            trig = {"highlevel": f"Workflow trigger 'Contact Changed' on {fname} (filter: above threshold)",
                    "salesforce": f"Record-triggered Flow on {obj} when {fname} > threshold",
                    "pipedrive": f"Automation when {fname} is updated and above threshold"}[kind]
            add(f"Balance follow-up: {fname}", trig, field_triggers(fname, "monetary"),
                f"{fname} ({tname}) carries the source balance")
    # pipelines
    for n, t in spec.targets.items():
        pname = (t.pipeline.name if t.pipeline else None) or t.options.get("pipeline")
        stages = (t.pipeline.stages if t.pipeline else None) or t.options.get("stages") or []
        if not pname:
            continue
        trig = {"highlevel": f"Workflow trigger 'Pipeline Stage Changed' (pipeline {pname})",
                "salesforce": f"Record-triggered Flow on stage change ({pname})",
                "pipedrive": f"Automation 'Deal stage changed' (pipeline {pname})"}[kind]
        add(f"Stage change: {pname}", trig, [f"per stage: {', '.join(map(str, stages))}"] if stages else [],
            f"target {n} places records in pipeline {pname}")
    return items


# -- entry points -----------------------------------------------------------------------------------
def workflow_rebuild_spec(spec: MigrationSpec, frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The workflow-rebuild specification as data.

    Args:
        spec: the migration spec (objects and targets are searched by name and column type).
        frames: object name -> typed extract frame (``run_extract`` output); missing objects are
            reported as not extracted. Code objects joined on a status column (e.g. Dentrix
            ``appt_status_codes``) supply status labels when present.

    Returns::

        {"migration", "title", "source": kind, "destination": kind,
         "recalls": {"available": bool, "note": str | None,
                     "objects": [{"object", "columns": {type, due, prior, patient}, "rows",
                                  "types": [{"recall_type", "records", "patients", "with_interval",
                                             "interval_days_median", "interval_days_mode",
                                             "interval_days_min", "interval_days_max",
                                             "interval_months"}]}]},
         "appointments": {"available": bool, "note": str | None,
                          "objects": [{"object", "columns", "rows", "length_minutes_median"?,
                                       "types": [{"type", "count", "length_minutes_median",
                                                  "length_minutes_mode"}],
                                       "statuses": [{"value", "label", "count", "meaning"}],
                                       "no_show", "cancelled", "broken_flag_rows"?,
                                       "lead_time": {"basis", "column", "rows", "rows_before_visit",
                                                     "rows_after_visit", "days_p25", "days_median",
                                                     "days_p75", "days_p90", "buckets"} | None}]},
         "workflows": [{"name", "crm", "trigger", "conditions", "actions", "why"}]}

    Never raises on missing objects or columns; raises KeyError only if a frame lacks a column its
    spec object declares.
    """
    robjs = []
    for name, cols in recall_objects(spec).items():
        f = frames.get(name)
        robjs.append({"object": name, "columns": cols, "rows": None if f is None else int(len(f)),
                      "types": recall_intervals(f, cols) if f is not None else [],
                      **({"note": "object not extracted"} if f is None else {})})
    anote = None
    aobjs = [appointment_facts(spec, n, c, frames) for n, c in appointment_objects(spec).items()]
    if not aobjs:
        anote = "The source has no appointment object: appointment reminder rules must be configured by hand."
    rnote = None
    if not robjs:
        rnote = ("The source has no recall object: recall types and intervals are not in the data; take them "
                 "from the practice's recall setup and configure them by hand.")
    return {
        "migration": spec.migration, "title": spec.title, "source": spec.source.kind,
        "destination": spec.destination.kind,
        "recalls": {"available": bool(robjs), "note": rnote, "objects": robjs},
        "appointments": {"available": bool(aobjs), "note": anote, "objects": aobjs},
        "workflows": workflow_checklist(spec, robjs, aobjs),
    }


def _days(days: Any) -> str:
    """"6 months (182 days)": the interval in the unit people use, with the exact days."""
    text = days_text(days)
    return f"{text} ({_num(days)} days)" if text and not text.endswith(("day", "days")) else text


def _c(x: Any) -> str:
    return "" if x is None else str(x).replace("|", "\\|").replace("\n", " ")


def workflow_rebuild_markdown(doc: dict[str, Any]) -> str:
    """Render ``workflow_rebuild_spec`` output as Markdown for the CRM admin: recall types table,
    appointment types/statuses/lead time per appointment object, then the workflow checklist with
    ``- [ ]`` items. Tolerates missing keys."""
    L = [f"# Workflow rebuild specification: {doc.get('title') or doc.get('migration', '')}", "",
         f"Source `{doc.get('source', '')}` → CRM `{doc.get('destination', '')}`. What the source system's "
         "configuration and history imply, so an admin can rebuild recalls and reminders in the CRM.", "",
         "## Recall types", ""]
    rec = doc.get("recalls") or {}
    if rec.get("note"):
        L += [rec["note"], ""]
    for o in rec.get("objects") or []:
        L += [f"From object `{o.get('object')}` (due date `{(o.get('columns') or {}).get('due')}`, prior date "
              f"`{(o.get('columns') or {}).get('prior')}`).", ""]
        if o.get("note"):
            L += [o["note"], ""]
        if o.get("types"):
            L += ["| Recall type | Patients | Records | Typical interval (median) | Most common interval | "
                  "Shortest – longest |", "|---|---|---|---|---|---|"]
            for r in o["types"]:
                L.append(f"| {_c(r['recall_type'])} | {r['patients']} | {r['records']} | "
                         f"{_c(_days(r['interval_days_median']))} | {_c(_days(r['interval_days_mode']))} | "
                         f"{_c(days_text(r['interval_days_min']))} – {_c(days_text(r['interval_days_max']))} |")
            L.append("")
    L += ["## Appointment reminder rules", ""]
    app = doc.get("appointments") or {}
    if app.get("note"):
        L += [app["note"], ""]
    for o in app.get("objects") or []:
        L += [f"### Object `{o.get('object')}` ({o.get('rows', 0)} rows)", ""]
        if o.get("note"):
            L += [o["note"], ""]
        if o.get("types"):
            L += ["| Appointment type / reason | Count | Typical length (median) | Most common length |",
                  "|---|---|---|---|"]
            L += [f"| {_c(t['type'])} | {t['count']} | {_c(duration_text(t['length_minutes_median']))} | "
                  f"{_c(duration_text(t['length_minutes_mode']))} |" for t in o["types"]]
            L.append("")
        if o.get("statuses"):
            L += ["| Status code | What it means in the source | Counts as | Count |", "|---|---|---|---|"]
            L += [f"| {_c(s['value'])} | {_c(s['label'] or s['value'])} | {s['meaning']} | {s['count']} |"
                  for s in o["statuses"]]
            L += ["", f"No-shows: **{o.get('no_show', 0)}**, cancellations: **{o.get('cancelled', 0)}**. Meanings come "
                  "from the practice's status-code table when it is extracted, else from the meaning public "
                  "material documents, else from the value the field map sends for the code; \"unknown code N\" "
                  "means none of them names it.", ""]
        lt = o.get("lead_time")
        if lt:
            L += [f"Lead time from {lt['basis']} time (`{lt['column']}`) to the visit: median "
                  f"{_c(days_text(lt['days_median']))} (a quarter within {_c(days_text(lt['days_p25']))}, "
                  f"three quarters within {_c(days_text(lt['days_p75']))}, nine in ten within "
                  f"{_c(days_text(lt['days_p90']))}); {lt['rows_after_visit']} rows were {lt['basis']} after "
                  "the visit.", ""]
            if lt.get("buckets"):
                L += ["| Booked ahead | Appointments |", "|---|---|"]
                L += [f"| {k} | {v} |" for k, v in lt["buckets"].items()] + [""]
            if lt["basis"] == "modified":
                L += ["_The source keeps no booking time; the last modification time is an upper bound._", ""]
        else:
            L += ["No booking time in the source: lead time unknown.", ""]
    L += ["## CRM workflows to rebuild", ""]
    for w in doc.get("workflows") or []:
        L.append(f"- [ ] **{_c(w.get('name'))}**: trigger {_c(w.get('trigger'))}")
        for c in w.get("conditions") or []:
            L.append(f"  - condition: {_c(c)}")
        for a in w.get("actions") or []:
            L.append(f"  - action: {_c(a)}")
        if w.get("why"):
            L.append(f"  - why: {_c(w['why'])}")
    if not doc.get("workflows"):
        L.append("_No workflow could be inferred from this migration._")
    return "\n".join(L).rstrip() + "\n"
