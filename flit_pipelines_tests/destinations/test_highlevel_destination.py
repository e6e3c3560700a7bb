"""HighLevelDestination driven through ``load_target`` against the real HTTP HighLevel sandbox.

The spec is ``fixtures/highlevel/tiny_highlevel.yaml`` (every entity of the destination contract);
the source frames are built here, payloads with the real ``build_payload``, the ledger is a SQLite
file in ``tmp_path``. A small in-test HTTP proxy ("lossy proxy") sits in front of the sandbox where a
test needs a create that the server *executes* while its answer is lost (504 or a dropped
connection after forwarding): the sandbox's own faults answer before executing.
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
from pathlib import Path

import pandas as pd
import pytest
import requests

from flit_pipelines.destinations.base import load_target
from flit_pipelines.destinations.highlevel.bodies import SHARED_TAG
from flit_pipelines.destinations.highlevel.client import HighLevelClient
from flit_pipelines.destinations.highlevel.destination import HighLevelDestination
from flit_pipelines.destinations.highlevel.errors import SchemaError
from flit_pipelines.ledger import Ledger
from flit_sandboxes.highlevel import running_sandbox
from flit_pipelines.spec import load_spec
from flit_pipelines.transform.payload import build_payload

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "highlevel" / "tiny_highlevel.yaml"
TOKEN = "test-token"
AGENCY = "agency-token"
LOCATION = "loc_sandbox"
PIPELINES = [{"name": "Patient Lifecycle", "stages": ["New Patient", "Active", "Recall"]}]
USERS = [{"email": "admin@sandbox.example", "firstName": "Sandbox", "lastName": "Admin"},
         {"email": "dr.one@clinic.example", "firstName": "Dr", "lastName": "One"}]
ORDER = ["users", "patients", "patient_notes", "visits", "recalls", "plans", "lifecycle", "uploads", "links"]
FAMILY_EMAIL = "smith.family@example.test"
FAMILY_PHONE = "+15550001000"


def _frames() -> dict[str, pd.DataFrame]:
    def s(rows: list[dict]) -> pd.DataFrame:
        return pd.DataFrame(rows).astype("string")

    patient = {"email": None, "phone": None, "birth_date": None, "provider_id": None, "balance": None,
               "plan_status": None, "alerts": None, "stage": "Active", "tags": None}
    return {
        "providers": s([{"provider_id": "D1", "email": "Dr.One@clinic.example"},
                        {"provider_id": "D2", "email": "gone@clinic.example"}]),
        "patients": s([
            {**patient, "patient_id": "1", "first_name": "Ann", "last_name": "Smith", "email": FAMILY_EMAIL,
             "phone": FAMILY_PHONE, "birth_date": "1980-02-03", "provider_id": "D1", "balance": "12.50",
             "plan_status": "Open", "alerts": "Latex;Diabetes", "tags": "Dental Patient,Guarantor"},
            {**patient, "patient_id": "2", "first_name": "Bob", "last_name": "Smith", "email": FAMILY_EMAIL,
             "phone": FAMILY_PHONE, "provider_id": "D2", "balance": "0", "stage": "New Patient",
             "tags": "Dental Patient"},
            {**patient, "patient_id": "3", "first_name": "Cy", "last_name": "Lone", "email": "cy@example.test",
             "plan_status": "Completed", "balance": "7.25"},
            {**patient, "patient_id": "4", "first_name": "Dee", "last_name": "Smith", "email": FAMILY_EMAIL,
             "phone": "+15550004444", "tags": "Dental Patient"},
        ]),
        "notes": s([{"note_id": "n1", "patient_id": "1", "text": "Sensitive lower left"},
                    {"note_id": "n2", "patient_id": "2", "text": "Prefers mornings"},
                    {"note_id": "n3", "patient_id": "9", "text": "orphan"}]),
        "visits": s([{"visit_id": "v1", "patient_id": "1", "provider_id": "D1",
                      "start_at": "2024-01-15T09:30:00-06:00", "end_at": "2024-01-15T10:00:00-06:00",
                      "reason": "Cleaning", "status": "showed"},
                     {"visit_id": "v2", "patient_id": "3", "provider_id": "D2", "start_at": "2024-01-15 11:00",
                      "end_at": "2024-01-15 11:30", "reason": "Exam", "status": "confirmed"}]),
        "recalls": s([{"recall_id": "r1", "patient_id": "3", "title": "Six-month recall", "due": "2024-06-01 09:00",
                       "done": "True"}]),
        "plans": s([{"plan_id": "P9", "patient_id": "1", "plan_name": "Crown #3", "fee": "950.00",
                     "status": "Accepted"},
                    {"plan_id": "P10", "patient_id": "3", "plan_name": "Filling", "fee": "120.50",
                     "status": "Proposed"}]),
        "documents": s([{"doc_id": "doc1", "patient_id": "1", "path": "xray.pdf", "name": "Panoramic X-ray.pdf",
                         "url": "https://files.example.test/pano.pdf"},
                        {"doc_id": "doc2", "patient_id": "2", "path": "missing.pdf", "name": "Consent.pdf",
                         "url": None}]),
    }


class LossyProxy:
    """An HTTP proxy in front of the sandbox that can lose answers of requests the server executed.

    ``lose(method, path_regex, count, mode)``: the next ``count`` matching requests are forwarded
    (so the sandbox executes them) and then answered with a 504 (``mode="504"``) or by closing the
    connection without an answer (``mode="drop"``).
    """

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.rules: list[dict] = []
        self.lost = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                resp = requests.request(self.command, proxy.upstream + self.path, headers=headers, data=body,
                                        timeout=30, allow_redirects=False)
                rule = proxy._take(self.command, self.path.split("?", 1)[0])
                if rule == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if rule == "504":
                    status, content, out = 504, b'{"statusCode":504,"message":"Gateway Timeout"}', {}
                elif rule == "stale":  # a search index that has not caught up yet (eventual consistency)
                    status, content, out = 200, b'{"contacts":[],"total":0}', {}
                else:
                    status, content = resp.status_code, resp.content
                    out = {k: v for k, v in resp.headers.items()
                           if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")}
                self.send_response(status)
                for k, v in out.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self._lock = threading.Lock()

    def lose(self, method: str, path_regex: str, count: int = 1, mode: str = "504") -> None:
        self.rules.append({"method": method, "re": re.compile(path_regex), "count": count, "mode": mode})

    def _take(self, method: str, path: str) -> str | None:
        with self._lock:
            for rule in self.rules:
                if rule["count"] > 0 and rule["method"] == method and rule["re"].fullmatch(path):
                    rule["count"] -= 1
                    self.lost += 1
                    return rule["mode"]
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Factory for sandboxes, destinations and loads; everything is closed at test end."""
    monkeypatch.setenv("TINY_AGENCY_TOKEN", AGENCY)
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "xray.pdf").write_bytes(b"%PDF-1.4 panoramic")
    spec = load_spec(FIXTURE)
    closers: list = []

    class Env:
        def __init__(self):
            self.spec = spec
            self.tmp = tmp_path
            self.frames = _frames()
            self.ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
            self.url = None

        def sandbox(self, **settings) -> str:
            settings = {"agency_token": AGENCY, "burst_limit": 10_000, "users": USERS, "pipelines": PIPELINES,
                        **settings}
            cm = running_sandbox(tmp_path / f"hl{len(closers)}.db", TOKEN, **settings)
            closers.append(lambda: cm.__exit__(None, None, None))
            self.url = cm.__enter__()
            return self.url

        def proxy(self) -> LossyProxy:
            p = LossyProxy(self.url)
            closers.append(p.close)
            return p

        def destination(self, base: str | None = None, spec=None, **client_kw) -> HighLevelDestination:
            client = HighLevelClient(base or self.url, TOKEN, location_id=LOCATION, **client_kw)
            closers.append(client.close)
            dest = HighLevelDestination(client, spec or self.spec, files_root=tmp_path / "files")
            dest.settle_seconds = 0.4
            return dest

        def load(self, dest, target: str, run: str = "r1", workers: int = 4, spec=None):
            spec = spec or self.spec
            payload = build_payload(spec, target, self.frames)
            return load_target(spec=spec, target_name=target, payload=payload, destination=dest, ledger=self.ledger,
                               run_id=run, wave="w1", max_workers=workers)

        def load_all(self, dest, run: str = "r1", workers: int = 4) -> dict:
            return {t: self.load(dest, t, run, workers) for t in ORDER}

        def xw(self, target: str) -> dict[str, str]:
            frame = self.ledger.crosswalk_frame(self.spec.migration, target)
            return dict(zip(frame["source_id"], frame["dest_id"], strict=True))

        def stats(self, base: str | None = None) -> dict:
            resp = requests.get(f"{base or self.url}/__sandbox/stats", headers={"Authorization": f"Bearer {TOKEN}"},
                                timeout=10)
            return resp.json()["data"]

        def api(self, method: str, path: str, **kw):
            version = "2021-04-15" if path.startswith("/calendars") else "2021-07-28"
            resp = requests.request(method, self.url + path, headers={"Authorization": f"Bearer {TOKEN}",
                                                                      "Version": version}, timeout=10, **kw)
            assert resp.status_code < 300, resp.text
            return resp.json()

    yield Env()
    for close in reversed(closers):
        close()


def writes(stats: dict) -> dict[str, int]:
    return {op: n for op, n in stats["requests_by_operation"].items() if op.split()[0] in ("POST", "PUT", "DELETE")
            and "/search" not in op}


def cf(contact: dict, dest: HighLevelDestination, name: str):
    ref = dest.fields["contact"][name]
    return next((c["value"] for c in contact["customFields"] if c["id"] == ref.id), None)


# ------------------------------------------------------------------------------------ contacts


def test_family_sharing_email_and_phone_become_separate_contacts_on_a_no_duplicates_location(env):
    env.sandbox()  # the sandbox location disallows duplicate contacts (vendor default rule: email, phone)
    dest = env.destination()
    dest.ensure_schema()
    summary = env.load(dest, "users")
    assert (summary.matched, summary.fallback) == (1, 1)  # e-mail matched case-insensitively
    summary = env.load(dest, "patients", workers=1)  # one worker: patient 1 is created first
    assert (summary.created, summary.failed) == (4, 0)
    ops = env.stats()["requests_by_operation"]
    assert "POST /contacts/upsert" not in ops
    # Bob refused twice (email, then phone); Dee's shared e-mail is then known and moved up front
    assert ops["POST /contacts/"] == 1 + 3 + 1 + 1
    assert "GET /contacts/{contactId}" not in ops  # no extra reads on the way
    xw = env.xw("patients")
    c = {sid: dest.client.get_contact(cid) for sid, cid in xw.items()}
    assert len(set(xw.values())) == 4
    # the first family member keeps the identifiers; the others are never merged into it
    assert (c["1"]["email"], c["1"]["phone"]) == (FAMILY_EMAIL, FAMILY_PHONE)
    assert SHARED_TAG not in c["1"]["tags"] and cf(c["1"], dest, "Shared Email") is None
    assert c["2"].get("email") is None and c["2"].get("phone") is None
    assert (cf(c["2"], dest, "Shared Email"), cf(c["2"], dest, "Shared Phone")) == (FAMILY_EMAIL, FAMILY_PHONE)
    assert c["2"]["tags"] == ["Dental Patient", SHARED_TAG]
    # Dee shares only the e-mail: her own phone stays on the contact
    assert c["4"].get("email") is None and c["4"]["phone"] == "+15550004444"
    assert cf(c["4"], dest, "Shared Email") == FAMILY_EMAIL and cf(c["4"], dest, "Shared Phone") is None
    assert c["3"]["email"] == "cy@example.test" and SHARED_TAG not in c["3"]["tags"]
    # every contact carries its source key, owner (fallback for unknown providers) and typed fields
    assert [cf(c[s], dest, "Flit Source Key") for s in "1234"] == [f"patients:{s}" for s in "1234"]
    users = {u["email"]: u["id"] for u in dest.client.list_users()}
    assert c["1"]["assignedTo"] == users["dr.one@clinic.example"]
    assert c["2"]["assignedTo"] == users["admin@sandbox.example"]
    assert c["1"]["dateOfBirth"] == "1980-02-03" and c["1"]["tags"] == ["Dental Patient", "Guarantor"]
    assert cf(c["1"], dest, "Balance") == 12.5 and cf(c["1"], dest, "Alerts") == ["Latex", "Diabetes"]
    assert cf(c["1"], dest, "Plan_Status") == "Open"


def test_families_sent_concurrently_are_never_merged(env):
    """Six families of three sent by 4 workers: each member is its own contact, each shared e-mail
    and phone stays natively on exactly one member, and after the location refused each kind once
    the later members are sent in shared form without a refused request."""
    env.sandbox()
    rows = []
    for fam in range(6):
        for member in range(3):
            rows.append({"patient_id": f"{fam}{member}", "first_name": f"M{member}", "last_name": f"Fam{fam}",
                         "email": f"fam{fam}@example.test", "phone": f"+1555000{fam:04d}", "birth_date": None,
                         "provider_id": None, "balance": None, "plan_status": None, "alerts": None,
                         "stage": "Active", "tags": None})
    env.frames["patients"] = pd.DataFrame(rows).astype("string")
    dest = env.destination()
    dest.ensure_schema()
    env.load(dest, "users")
    summary = env.load(dest, "patients", workers=4)
    assert (summary.created, summary.failed) == (18, 0)
    contacts = [dest.client.get_contact(cid) for cid in env.xw("patients").values()]
    assert len({c["id"] for c in contacts}) == 18
    for fam in range(6):
        members = [c for c in contacts if c["lastName"] == f"Fam{fam}"]
        assert sum(c.get("email") == f"fam{fam}@example.test" for c in members) == 1
        assert sum(c.get("phone") == f"+1555000{fam:04d}" for c in members) == 1
        shared = [c for c in members if SHARED_TAG in c["tags"]]
        assert len(shared) == 2
        assert {cf(c, dest, "Shared Email") for c in shared} == {f"fam{fam}@example.test"}
    refused = env.stats()["requests_by_operation"]["POST /contacts/"] - 18
    assert refused <= 8  # the first refusals teach the rule; a few concurrent in-flight races at most


def test_location_allowing_duplicates_keeps_every_identifier(env):
    env.sandbox(allow_duplicate_contact=True)
    dest = env.destination()
    dest.ensure_schema()
    env.load(dest, "users")
    assert env.load(dest, "patients").created == 4
    contacts = [dest.client.get_contact(cid) for cid in env.xw("patients").values()]
    assert sorted(c["email"] for c in contacts) == sorted([FAMILY_EMAIL] * 3 + ["cy@example.test"])
    assert not any(SHARED_TAG in c["tags"] for c in contacts)
    assert env.stats()["requests_by_operation"]["POST /contacts/"] == 4


def test_rerun_sends_nothing_and_creates_no_duplicates(env):
    env.sandbox()
    first = env.destination()
    first.ensure_schema()
    summaries = env.load_all(first)
    assert summaries["patient_notes"].failed == 1  # n3's patient is not in the export
    before = env.stats()
    second = env.destination()  # a new Dagster run: fresh client and destination, same ledger
    again = env.load_all(second, run="r2")
    after = env.stats()
    for target, s in again.items():
        if target != "users":
            assert s.created == s.updated == s.records_sent == 0, target
            assert s.unchanged == summaries[target].created, target
    assert writes(after) == writes(before)  # not one write request in the second run
    for target in ORDER[1:]:
        counts = second.source_key_counts(target, env.spec.targets[target])
        assert counts and set(counts.values()) == {1}, target
        assert len(counts) == len(env.xw(target)), target


def test_lost_create_answers_are_looked_up_and_adopted_never_duplicated(env):
    env.sandbox()
    proxy = env.proxy()
    dest = env.destination(proxy.url)
    dest.ensure_schema()
    env.load(dest, "users")
    proxy.lose("POST", r"/contacts/", count=1, mode="504")  # Ann is created, her answer lost
    proxy.lose("POST", r"/contacts/", count=1, mode="drop")  # Bob's (refused) answer: connection dropped
    summary = env.load(dest, "patients", workers=1)
    assert (summary.created, summary.failed) == (4, 0) and proxy.lost == 2
    counts = dest.source_key_counts("patients", env.spec.targets["patients"])
    assert counts == {f"patients:{i}": 1 for i in "1234"}
    ops = env.stats()["requests_by_operation"]
    # Ann 1 (executed, adopted by the lookup, not resent); Bob 1 lost + 3 (the lookup found nothing,
    # so the create was sent once more: refused for e-mail, for phone, then created); Cy 1; Dee 1
    # (the location's refusal of e-mails is known by then, so her shared e-mail is moved up front)
    assert ops["POST /contacts/"] == 1 + 1 + 3 + 1 + 1
    assert ops["POST /contacts/search"] >= 2  # the lookups by source key

    proxy.lose("POST", r"/contacts/[^/]+/notes", count=1, mode="504")
    summary = env.load(dest, "patient_notes", workers=1)
    assert (summary.created, summary.failed) == (2, 1)
    assert dest.source_key_counts("patient_notes", env.spec.targets["patient_notes"]) == {
        "patient_notes:n1": 1, "patient_notes:n2": 1}


def test_lost_answer_missed_by_a_stale_search_is_adopted_through_the_duplicate_rule(env):
    """The lookup after a lost answer finds nothing (search not yet consistent), so the create is
    sent again; the location's duplicate rule refuses it, naming the contact the first attempt made:
    it carries this row's source key, so it is adopted (and brought up to date), not duplicated."""
    env.sandbox()
    proxy = env.proxy()
    dest = env.destination(proxy.url)
    dest.ensure_schema()
    env.load(dest, "users")
    env.frames["patients"] = env.frames["patients"].iloc[2:3]  # Cy
    proxy.lose("POST", r"/contacts/", count=1, mode="504")
    proxy.lose("POST", r"/contacts/search", count=4, mode="stale")  # find_existing + the 3 lookup probes
    summary = env.load(dest, "patients")
    assert (summary.created, summary.failed) == (1, 0) and proxy.lost == 5
    ops = env.stats()["requests_by_operation"]
    assert ops["POST /contacts/"] == 2 and ops["GET /contacts/{contactId}"] == 2 and ops["PUT /contacts/{contactId}"] == 1
    assert dest.source_key_counts("patients", env.spec.targets["patients"]) == {"patients:3": 1}
    assert env.stats()["documents"]["contact"] == 1


def test_create_refused_before_execution_is_sent_once_more(env):
    base = env.sandbox()
    dest = env.destination()
    dest.ensure_schema()
    env.load(dest, "users")
    requests.post(f"{base}/__sandbox/faults", headers={"Authorization": f"Bearer {TOKEN}"},
                  json={"status": 503, "count": 1, "path_prefix": "/contacts/", "method": "POST"}, timeout=10)
    summary = env.load(dest, "patients", workers=1)
    assert (summary.created, summary.failed) == (4, 0)
    assert dest.source_key_counts("patients", env.spec.targets["patients"]) == {f"patients:{i}": 1 for i in "1234"}
    assert dest.client.stats.responses_5xx == 1


def test_crash_between_write_and_ledger_is_adopted_on_rerun(env):
    env.sandbox()
    dest = env.destination()
    dest.ensure_schema()
    env.load(dest, "users")
    env.load(dest, "patients")
    env.load(dest, "patient_notes")
    env.load(dest, "plans")
    created = {t: env.xw(t) for t in ("patients", "patient_notes", "plans")}
    for target, xw in created.items():  # the ledger lost these rows (crash after the remote writes)
        env.ledger.forget(env.spec.migration, target, list(xw))
    fresh = env.destination()
    for target, xw in created.items():
        summary = env.load(fresh, target, run="r2")
        assert summary.adopted == len(xw) and summary.created == 0, target
        assert env.xw(target) == xw, target
    assert env.stats()["documents"]["contact"] == 4


# ------------------------------------------------------------------------------------ schema


def test_custom_fields_are_provisioned_once_and_grouped_by_category(env):
    env.sandbox()
    dest = env.destination()
    design = dest.ensure_schema()
    contact_fields = {f["name"]: f for f in design["custom_fields"]["contact"]}
    assert set(contact_fields) == {"Flit Source Key", "Shared Email", "Shared Phone", "Patient_ID", "Balance",
                                   "Plan_Status", "Alerts", "Documents"}
    assert contact_fields["Balance"]["dataType"] == "MONETORY" and contact_fields["Alerts"]["options"] == [
        "Latex", "Penicillin", "Diabetes"]
    assert all(f["created"] for f in contact_fields.values())
    # Custom Fields V2 folders refuse objectKey "contact" (notes §4.3): grouping is listed for an admin
    folders = design["folders"]["contact"]
    assert folders["mode"] == "manual"
    assert folders["manual"] == {"Contact": ["Shared Email", "Shared Phone"], "Patient": ["Patient_ID"],
                                 "Financial": ["Balance"], "Clinical": ["Plan_Status", "Alerts"],
                                 "Documents": ["Documents"]}
    assert design["pipelines"]["Patient Lifecycle"]["stages"].keys() >= {"New Patient", "Active"}
    assert list(design["calendars"]) == ["Tiny Appointments"]
    assert {f["property"] for f in design["custom_objects"]["plans"]["fields"]} == {
        "plan_name", "dentrix_plan_id", "plan_fee", "plan_status"}
    creates = writes(env.stats())
    again = env.destination().ensure_schema()  # a second run (fresh process) only reads
    assert not any(f["created"] for fields in again["custom_fields"].values() for f in fields)
    assert writes(env.stats()) == creates
    assert creates["POST /locations/{locationId}/customFields"] == 9  # 8 contact + 1 opportunity source key


def test_folder_ids_from_settings_are_used_as_parent(env):
    env.sandbox()
    settings = {**env.spec.destination.settings,
                "custom_field_folder_ids": {"Clinical": "folderClinical000001", "Financial": "folderFinancial00001"}}
    spec = env.spec.model_copy(update={"destination": env.spec.destination.model_copy(update={"settings": settings})})
    dest = env.destination(spec=spec)
    design = dest.ensure_schema()
    fields = {f["name"]: f for f in dest.client.list_custom_fields("contact")}
    assert fields["Balance"]["parentId"] == "folderFinancial00001"
    assert fields["Alerts"]["parentId"] == fields["Plan_Status"]["parentId"] == "folderClinical000001"
    assert "parentId" not in fields["Patient_ID"]  # no folder id known for "Patient"
    assert design["folders"]["contact"]["manual"]["Patient"] == ["Patient_ID"]


def test_field_type_conflict_and_missing_pipeline_are_clear_errors(env):
    env.sandbox(pipelines=[{"name": "Patient Lifecycle", "stages": ["New Patient"]}])
    dest = env.destination()
    with pytest.raises(SchemaError) as info:
        dest.ensure_schema()
    assert "'Patient Lifecycle' lacks the stages ['Active']" in str(info.value)

    env.sandbox(pipelines=[])
    dest = env.destination()
    dest.client.create_custom_field({"name": "Balance", "dataType": "TEXT", "model": "contact"})
    with pytest.raises(SchemaError) as info:
        dest.ensure_schema()
    assert "'Balance' exists with dataType 'TEXT'" in str(info.value)
    with pytest.raises(SchemaError) as info:
        dest.prepare("lifecycle", env.spec.targets["lifecycle"])
    assert "pipeline 'Patient Lifecycle' does not exist" in str(info.value)
    assert "['New Patient', 'Active']" in str(info.value)


def test_custom_object_without_agency_token_stops_with_instructions(env, monkeypatch):
    monkeypatch.delenv("TINY_AGENCY_TOKEN")
    env.sandbox()
    dest = env.destination()
    with pytest.raises(SchemaError) as info:
        dest.prepare("plans", env.spec.targets["plans"])
    assert "custom_objects.treatment_plans does not exist" in str(info.value) and "agency token" in str(info.value)


# ------------------------------------------------------------------------------------ entities


def test_every_entity_round_trips(env, monkeypatch):
    env.sandbox()
    dest = env.destination()
    dest.ensure_schema()
    s = env.load_all(dest)
    contacts = env.xw("patients")
    users = {u["email"]: u["id"] for u in dest.client.list_users()}

    notes = dest.client.list_notes(contacts["1"])  # the visit note, then the document link note
    assert [n["body"] for n in notes][:1] == ["Sensitive lower left\n\nSource record: patient_notes:n1"]
    assert len(notes) == 2
    assert env.xw("patient_notes")["n1"] == f"{contacts['1']}/{notes[0]['id']}"
    failed = env.ledger.quarantine_frame(env.spec.migration, "w1", "load", "patient_notes")
    assert failed["reason"].tolist() == ["lookup contactId: parent patients record not loaded"]

    calendar = next(c for c in env.api("GET", "/calendars/", params={"locationId": LOCATION})["calendars"]
                    if c["name"] == "Tiny Appointments")
    v1 = env.api("GET", f"/calendars/events/appointments/{env.xw('visits')['v1']}")["event"]
    assert (v1["calendarId"], v1["contactId"], v1["startTime"], v1["endTime"], v1["title"]) == (
        calendar["id"], contacts["1"], "2024-01-15T09:30:00-06:00", "2024-01-15T10:00:00-06:00", "Cleaning")
    assert v1["description"] == "Visit v1\n\nSource record: visits:v1" and v1["appointmentStatus"] == "showed"
    assert v1["assignedUserId"] == users["dr.one@clinic.example"]
    v2 = env.api("GET", f"/calendars/events/appointments/{env.xw('visits')['v2']}")["event"]
    assert v2["startTime"] == "2024-01-15T11:00:00-06:00"  # naive times take the time_zone setting
    assert v2["assignedUserId"] == users["admin@sandbox.example"]  # provider without a user: fallback owner

    task = dest.client.list_tasks(contacts["3"])[0]
    assert (task["title"], task["completed"], task["dueDate"]) == ("Six-month recall", True, "2024-06-01T09:00:00-05:00")
    assert task["body"].endswith("Source record: recalls:r1")

    plan = env.api("GET", f"/objects/custom_objects.treatment_plans/records/{env.xw('plans')['P9']}")["record"]
    assert plan["properties"] == {"plan_name": "Crown #3", "dentrix_plan_id": "P9",
                                  "plan_fee": {"currency": "default", "value": 950.0}, "plan_status": "accepted"}
    info = dest.objects["plans"]
    relations = dest.client.list_relations(plan["id"], info.association_id)
    assert [(r["firstRecordId"], r["secondRecordId"]) for r in relations] == [(plan["id"], contacts["1"])]

    pid, stages = dest.pipelines["Patient Lifecycle"]
    opp = env.api("GET", f"/opportunities/{env.xw('lifecycle')['2']}")["opportunity"]
    assert (opp["pipelineId"], opp["pipelineStageId"], opp["contactId"], opp["status"], opp["name"]) == (
        pid, stages["New Patient"], contacts["2"], "open", "Bob Smith - lifecycle")

    assert (s["uploads"].created, s["uploads"].flagged) == (1, 1)
    ann = dest.client.get_contact(contacts["1"])
    docs = cf(ann, dest, "Documents")
    (entry,) = docs.values()
    assert entry["meta"]["originalname"] == "Panoramic X-ray.pdf" and entry["meta"]["mimetype"] == "application/pdf"
    assert requests.get(entry["url"], headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=10).content == b"%PDF-1.4 panoramic"
    link = dest.client.list_notes(contacts["1"])[-1]
    assert link["body"] == ("Document: Panoramic X-ray.pdf\nhttps://files.example.test/pano.pdf\n\n"
                            "Source record: links:doc1")
    reasons = {t: env.ledger.quarantine_frame(env.spec.migration, "w1", "load", t)["reason"].tolist()
               for t in ("uploads", "links")}
    assert reasons == {"uploads": ["document file not found in the export: manual re-upload"],
                       "links": ["not hosted: manual re-upload"]}

    # read-back: one row per loaded record, source keys and money as sent
    for target in ORDER[1:]:
        xw = env.xw(target)
        back = dest.read_back(target, env.spec.targets[target], list(xw.values()))
        assert sorted(back["dest_id"]) == sorted(xw.values()), target
        assert sorted(back["source_key"]) == sorted(f"{target}:{sid}" for sid in xw), target
    # many appointment ids: the calendar's windows are listed (one request each), only unlisted ids by id
    visit_ids = list(env.xw("visits").values())
    years = sorted({int(env.api("GET", f"/calendars/events/appointments/{i}")["event"]["startTime"][:4])
                    for i in visit_ids})
    monkeypatch.setattr(dest, "_scan_windows", lambda: range(years[0], years[-1] + 1))
    unknown = [f"gone{i}" for i in range(4 * len(dest._scan_windows()))]
    before = dest.client.stats.requests
    back = dest.read_back("visits", env.spec.targets["visits"], visit_ids + unknown)
    assert sorted(back["dest_id"]) == sorted(visit_ids)
    assert sorted(back["source_key"]) == sorted(f"visits:{sid}" for sid in env.xw("visits"))
    assert dest.client.stats.requests - before == len(dest._scan_windows()) + len(unknown)
    money = dest.read_back("patients", env.spec.targets["patients"], list(contacts.values()))
    assert pd.to_numeric(money["Balance"]).sum() == pytest.approx(12.5 + 0 + 7.25)
    plans = dest.read_back("plans", env.spec.targets["plans"], list(env.xw("plans").values()))
    assert pd.to_numeric(plans["Plan Fee"]).sum() == pytest.approx(1070.5)
    opps = dest.read_back("lifecycle", env.spec.targets["lifecycle"], list(env.xw("lifecycle").values()))
    assert pd.to_numeric(opps["monetaryValue"]).sum() == pytest.approx(19.75)


def test_changed_rows_are_updated_in_place(env):
    env.sandbox()
    dest = env.destination()
    dest.ensure_schema()
    env.load_all(dest, workers=1)  # one worker: Ann keeps the family identifiers, Bob is the shared-info contact
    f = env.frames
    f["patients"].loc[f["patients"]["patient_id"] == "2", "last_name"] = "Smith-Jones"
    f["notes"].loc[f["notes"]["note_id"] == "n1", "text"] = "Sensitive lower right"
    f["plans"].loc[f["plans"]["plan_id"] == "P9", "fee"] = "1000.00"
    f["plans"].loc[f["plans"]["plan_id"] == "P10", "patient_id"] = "2"  # plan moves to another patient
    f["visits"].loc[f["visits"]["visit_id"] == "v1", "reason"] = "Deep cleaning"
    f["recalls"].loc[0, "done"] = "False"
    f["patients"].loc[f["patients"]["patient_id"] == "3", "stage"] = "New Patient"
    fresh = env.destination()
    s = env.load_all(fresh, run="r2")
    assert {t: s[t].updated for t in ORDER[1:]} == {
        "patients": 1, "patient_notes": 1, "visits": 1, "recalls": 1, "plans": 2, "lifecycle": 2,
        "uploads": 0, "links": 0}
    assert sum(x.created for x in s.values()) == 0
    contacts = env.xw("patients")
    bob = fresh.client.get_contact(contacts["2"])
    assert bob["lastName"] == "Smith-Jones" and bob.get("email") is None  # still a shared-info contact
    assert SHARED_TAG in bob["tags"] and cf(bob, fresh, "Shared Email") == FAMILY_EMAIL
    assert fresh.client.list_notes(contacts["1"])[0]["body"].startswith("Sensitive lower right")
    rec = env.api("GET", f"/objects/custom_objects.treatment_plans/records/{env.xw('plans')['P9']}")["record"]
    assert rec["properties"]["plan_fee"] == {"currency": "default", "value": 1000.0}
    info = fresh.objects["plans"]
    moved = fresh.client.list_relations(env.xw("plans")["P10"], info.association_id)
    assert [r["secondRecordId"] for r in moved] == [contacts["2"]]  # re-related, the old relation removed
    v1 = env.api("GET", f"/calendars/events/appointments/{env.xw('visits')['v1']}")["event"]
    assert v1["title"] == "Deep cleaning"
    assert fresh.client.list_tasks(contacts["3"])[0]["completed"] is False
    third = env.load_all(env.destination(), run="r3")
    assert sum(x.records_sent for x in third.values()) == 0


def test_delete_rolls_back_and_reports_already_gone(env):
    env.sandbox()
    dest = env.destination()
    dest.ensure_schema()
    env.load_all(dest)
    for target in ["links", "uploads", "lifecycle", "plans", "recalls", "visits", "patient_notes", "patients"]:
        ids = list(env.xw(target).values())
        result = dest.delete(target, env.spec.targets[target], ids)
        if target == "uploads":  # a value in a FILE_UPLOAD field: the API has no delete for it
            assert not result["deleted"].any() and result["error"].str.startswith("manual: ").all()
            continue
        assert result["deleted"].all() and result["error"].isna().all(), target
        assert dest.read_back(target, env.spec.targets[target], ids).empty, target
    again = dest.delete("patients", env.spec.targets["patients"], list(env.xw("patients").values()))
    assert again["deleted"].all() and (again["error"] == "gone").all()  # already gone counts as done
    docs = env.stats()["documents"]
    assert docs.get("contact", 0) == docs.get("note", 0) == docs.get("record", 0) == 0


def test_flags_oversized_and_unsupported_files_without_patient_values(env):
    env.sandbox()
    dest = env.destination()
    t = env.spec.targets["uploads"]
    (env.tmp / "files" / "scan.bmp").write_bytes(b"BM" + b"0" * 100)
    row = {"source_id": "d", "file_path": "xray.pdf", "file_name": "Jane Doe consent.pdf"}
    assert dest.flag("uploads", t, row) is None
    dest.files.size_limit = 5
    assert dest.flag("uploads", t, row) == "file over size limit (18 > 5 bytes): manual re-upload"
    dest.files.size_limit = 10_000
    assert dest.flag("uploads", t, {**row, "file_path": "scan.bmp", "file_name": "Jane Doe.bmp"}) == (
        "file type .bmp is not accepted by HighLevel uploads: manual re-upload")
    assert dest.flag("links", env.spec.targets["links"], {"source_id": "d", "url": pd.NA}) == (
        "not hosted: manual re-upload")
    assert dest.flag("patients", env.spec.targets["patients"], {"source_id": "1"}) is None


def test_body_errors_name_the_field_not_the_value(env):
    env.sandbox()
    dest = env.destination()
    dest.ensure_schema()
    env.load(dest, "users")
    env.frames["patients"].loc[0, "plan_status"] = "Secret-Value-123"
    summary = env.load(dest, "patients")
    assert summary.failed == 1 and summary.created == 3
    (reason,) = env.ledger.quarantine_frame(env.spec.migration, "w1", "load", "patients")["reason"].tolist()
    assert reason == "custom field 'Plan_Status': value is not one of the field's options"
    assert "Secret" not in json.dumps(summary.as_dict())
