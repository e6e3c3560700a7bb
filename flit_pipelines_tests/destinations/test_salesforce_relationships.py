"""Child relationship names of the schema step's custom lookups, against the real HTTP Salesforce sandbox.

A child relationship name must be unique on the parent ("There is already a Child Relationship named X on
Contact"): the names come from the spec (``lookup_fields.<field>.relationshipName``, else derived from the
relationship label), are checked before any request, and an org deployed by an earlier run with other names is
brought to the spec's names (``destinations/salesforce/relationships.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from flit_pipelines.destinations.salesforce.destination import SalesforceDestination
from flit_pipelines.destinations.salesforce.errors import SchemaError
from flit_pipelines.destinations.salesforce.relationships import derive
from flit_pipelines.destinations.salesforce.schema import wanted_schema
from flit_pipelines.spec import load_spec
from flit_pipelines.spec.load import SPEC_DIR
from flit_sandboxes.salesforce import running_sandbox
from flit_sandboxes.salesforce.store import SalesforceStore

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "salesforce" / "tiny_salesforce.yaml"
CLIENT = ("rel-client", "rel-secret")
USERS = [{"Email": "admin@sandbox.example", "FirstName": "Sandbox", "LastName": "Admin"}]
# the tiny spec's lookups -> their child relationship names on the parent (declared or derived from the label)
TINY_CHILDREN = {
    ("Treatment_Record__c", "Patient__c"): "Treatments__r",  # relationshipLabel "Treatments"
    ("Insurance_Record__c", "Patient__c"): "Insurance_Records__r",  # the child's plural label
    ("Invoice__c", "Patient__c"): "Invoices__r",
    ("Practitioner_Patient_Relationship__c", "Patient__c"): "Care_Team_Members__r",  # declared
    ("Practitioner_Patient_Relationship__c", "Practitioner__c"): "Care_Team_Patients__r",  # declared
}


class Org:
    """Raw access to one sandbox (test side, not through the destination)."""

    def __init__(self, url: str):
        self.url = url
        resp = requests.post(f"{url}/services/oauth2/token", data={"grant_type": "client_credentials"}, auth=CLIENT,
                             timeout=10)
        resp.raise_for_status()
        self.headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def call(self, method: str, path: str, **kw: Any) -> Any:
        resp = requests.request(method, f"{self.url}/services/data/v62.0/{path}", headers=self.headers, timeout=10,
                                **kw)
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None

    def children(self, parent: str) -> dict[tuple[str, str], str | None]:
        described = self.call("GET", f"sobjects/{parent}/describe")
        return {(c["childSObject"], c["field"]): c["relationshipName"] for c in described["childRelationships"]
                if c["childSObject"].endswith("__c")}

    def tooling_count(self, table: str) -> int:
        return self.call("GET", "tooling/query", params={
            "q": f"SELECT Id FROM CustomField WHERE TableEnumOrId = '{table}'"})["totalSize"]


@pytest.fixture
def sandbox(tmp_path: Path):
    """Start (or restart) the sandbox on one state file; yields a function returning its URL."""
    stack: list[Any] = []

    def start() -> str:
        while stack:
            stack.pop().__exit__(None, None, None)
        cm = running_sandbox(tmp_path / "org.db", client_id=CLIENT[0], client_secret=CLIENT[1], users=USERS,
                             bulk_delay_seconds=0.02)
        url = cm.__enter__()
        stack.append(cm)
        return url

    yield start
    while stack:
        stack.pop().__exit__(None, None, None)


def connect(url: str, spec: Any) -> SalesforceDestination:
    return SalesforceDestination.connect(spec, instance_url=url, client_id=CLIENT[0], client_secret=CLIENT[1])


def without_declared_names(spec: Any) -> Any:
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    raw["targets"]["relationships"]["options"].pop("lookup_fields")
    return type(spec).model_validate(raw)


def test_derived_names_and_the_practicehub_spec_names_are_unique_per_parent() -> None:
    assert derive("Treatment Records") == "Treatment_Records" and derive("Care team / patients") == "Care_team_patients"
    _, fields = wanted_schema(load_spec(SPEC_DIR / "practicehub_to_salesforce.yaml"))
    names = sorted((f.reference_to, f.child_relationship, f.full_name) for f in fields.values() if f.reference_to)
    assert names == [
        ("Contact", "Care_Team_Members", "Practitioner_Patient_Relationship__c.Patient__c"),
        ("Contact", "Care_Team_Patients", "Practitioner_Patient_Relationship__c.Practitioner__c"),
        ("Contact", "Insurance_Records", "Insurance_Record__c.Patient__c"),
        ("Contact", "Invoices", "Invoice__c.Patient__c"),
        ("Contact", "Treatment_Records", "Treatment_Record__c.Patient__c"),
        ("Contact", "Treatments_Given", "Treatment_Record__c.Practitioner__c"),
        ("Treatment_Record__c", "Invoices", "Invoice__c.Treatment_Record__c")]
    lookup = fields["treatment_record__c.patient__c"]
    assert lookup.metadata()["relationshipName"] == "Treatment_Records"
    assert (lookup.document()["relationship_name"], lookup.document()["child_relationship_name"]) == (
        "Patient__r", "Treatment_Records__r")


def test_clashing_names_on_one_parent_fail_before_any_request(sandbox) -> None:
    spec = without_declared_names(load_spec(TINY))  # the junction's two Contact lookups derive the same name
    with pytest.raises(SchemaError, match=r"Practitioner_Patient_Relationship__c\.(Patient|Practitioner)__c and "
                                          r"Practitioner_Patient_Relationship__c\.(Patient|Practitioner)__c both name "
                                          r"their child relationship on Contact 'Practitioner_Patient_Relationships'"):
        wanted_schema(spec)
    url = sandbox()
    dest = connect(url, spec)
    before = dest.client.stats.snapshot()["requests"]
    with pytest.raises(SchemaError, match="must be unique on its parent"):
        dest.ensure_schema()
    assert dest.client.stats.snapshot()["requests"] == before
    assert Org(url).call("GET", "tooling/query", params={"q": "SELECT Id FROM CustomObject"})["totalSize"] == 0


def test_schema_step_creates_unique_names_then_only_reads(sandbox) -> None:
    url = sandbox()
    doc = connect(url, load_spec(TINY)).ensure_schema()
    assert {(c["field"], c["child_relationship"], c["status"]) for c in doc["child_relationships"]} == {
        (f"{o}.{f}", name, "new") for (o, f), name in TINY_CHILDREN.items()}
    assert doc["updated"] == {"child_relationships": 0}
    org = Org(url)
    assert org.children("Contact") == TINY_CHILDREN
    rows = org.call("GET", "query", params={"q": "SELECT Id, (SELECT Id FROM Care_Team_Members__r), "
                                                 "(SELECT Id FROM Treatments__r) FROM Contact"})
    assert rows["totalSize"] == 0  # the sub-queries are understood (no patients yet)

    again = connect(url, load_spec(TINY)).ensure_schema()
    assert {c["status"] for c in again["child_relationships"]} == {"unchanged"}
    assert again["updated"] == {"child_relationships": 0}


def test_an_org_with_the_old_names_of_an_earlier_run_is_renamed(sandbox, tmp_path: Path) -> None:
    url = sandbox()
    connect(url, load_spec(TINY)).ensure_schema()
    # the state an earlier run left: every lookup's child relationship named after the field ("Patient" four
    # times on Contact, as the old deployer sent and the old sandbox accepted)
    store = SalesforceStore(tmp_path / "org.db")
    try:
        for kind, obj, name, data in store.custom_metadata():
            if kind == "field" and data["metadata"].get("type") == "Lookup":
                data["metadata"]["relationshipName"] = name[:-3]
                store.save_custom_field(data["tooling_id"], obj, name, data)
    finally:
        store.close()
    url = sandbox()  # restart on the rewritten state
    org = Org(url)
    assert sorted(n for n in org.children("Contact").values()) == ["Patient__r"] * 4 + ["Practitioner__r"]

    dest = connect(url, load_spec(TINY))
    doc = dest.ensure_schema()
    assert {(c["field"], c["status"], c["previous"]) for c in doc["child_relationships"]} == {
        (f"{o}.{f}", "renamed", f"{f[:-3]}__r") for o, f in TINY_CHILDREN}
    assert doc["updated"] == {"child_relationships": 5} and set(doc["created"].values()) == {0}
    assert org.children("Contact") == TINY_CHILDREN
    described = {f["name"]: f for f in org.call("GET", "sobjects/Invoice__c/describe")["fields"]}
    assert described["Patient__c"]["relationshipName"] == "Patient__r"  # the child-to-parent path is unchanged

    before = dest.client.stats.snapshot()["by_route"]
    assert {c["status"] for c in dest.ensure_schema()["child_relationships"]} == {"unchanged"}
    after = dest.client.stats.snapshot()["by_route"]
    writes = {r: n - before.get(r, 0) for r, n in after.items() if not r.startswith("GET") and n != before.get(r, 0)}
    assert writes == {}


def test_a_name_held_by_a_field_the_spec_does_not_manage_is_reported_before_fields_are_created(sandbox) -> None:
    url = sandbox()
    org = Org(url)
    org.call("POST", "tooling/sobjects/CustomObject", json={"FullName": "Legacy_Note__c", "Metadata": {
        "label": "Legacy Note", "pluralLabel": "Legacy Notes", "deploymentStatus": "Deployed",
        "sharingModel": "ReadWrite", "nameField": {"label": "Note", "type": "Text"}}})
    org.call("POST", "tooling/sobjects/CustomField", json={"FullName": "Legacy_Note__c.Contact__c", "Metadata": {
        "label": "Contact", "type": "Lookup", "referenceTo": "Contact", "relationshipName": "Treatments"}})
    ps = org.call("POST", "sobjects/PermissionSet", json={"Name": "Admin_View", "Label": "Admin View"})["id"]
    org.call("POST", "sobjects/ObjectPermissions", json={"ParentId": ps, "SobjectType": "Legacy_Note__c",
                                                         "PermissionsRead": True})
    org.call("POST", "sobjects/FieldPermissions", json={"ParentId": ps, "SobjectType": "Legacy_Note__c",
                                                        "Field": "Legacy_Note__c.Contact__c", "PermissionsRead": True})
    user = org.call("GET", "query", params={"q": "SELECT Id FROM User WHERE Username = "
                                                 "'integration@sandbox.flit.example'"})["records"][0]["Id"]
    org.call("POST", "sobjects/PermissionSetAssignment", json={"AssigneeId": user, "PermissionSetId": ps})

    with pytest.raises(SchemaError, match=r"Treatment_Record__c\.Patient__c: the org already has a Child Relationship "
                                          r"named Treatments on Contact \(field Legacy_Note__c\.Contact__c"):
        connect(url, load_spec(TINY)).ensure_schema()
    assert org.tooling_count("Contact") == 0  # no field was created before the report
