"""Conformance: the Salesforce sandbox driven by simple-salesforce 1.12.10 itself (not our client), the way a
Salesforce admin verifies a migration.

simple-salesforce logs in with its own client-credentials flow (``consumer_key``/``consumer_secret``/``domain``,
the product's flow) and keeps its default API version (59.0). The shapes asserted are the ones real orgs return
(REST API Developer Guide: Versions, Resources by Version, Limits, Describe Global, sObject Describe, Query, Query
More Results; SOQL and SOSL Reference: Relationship Queries, Aggregate Functions, Using Aliases with GROUP BY,
HAVING; Bulk API 2.0: Understanding Bulk API 2.0 Query; facts in shared/notes/salesforce.md, cited as notes §N):
record ``attributes``, ``totalSize``/``done``/``nextRecordsUrl``, ``AggregateResult`` rows with alias or
``expr0`` keys, sub-query results as nested query results or null, child relationship names on the parent.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.api import DEFAULT_API_VERSION
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest

from flit_sandboxes.salesforce import client_session, running_sandbox

CLIENT_ID = "conformance-app"
CLIENT_SECRET = "conformance-secret"
MY_DOMAIN = "flit-clinic"
USERS = [{"Email": "dr.ada@clinic.example", "FirstName": "Ada", "LastName": "Lovelace"}]
TEXT_KEY = {"type": "Text", "length": 80, "externalId": True, "unique": True}
PATIENTS = {"P-1": "Smith", "P-2": "Jones", "P-3": "Lone"}
TREATMENTS = [("TR-1", "P-1", "2024-01-15"), ("TR-2", "P-1", "2024-02-01"), ("TR-3", "P-2", "2024-03-01")]
INVOICES = [("INV-1", "P-1", "TR-1", "950.00", "Paid"), ("INV-2", "P-1", "TR-2", "120.50", "Pending"),
            ("INV-3", "P-2", "TR-3", "80.00", "Paid"), ("INV-4", "P-2", "", "0.10", "Pending"),
            ("INV-5", "P-2", "", "0.20", "Pending")]


def login(url: str, **kw: Any) -> Salesforce:
    """simple-salesforce's own client-credentials login against the sandbox standing for My Domain."""
    return Salesforce(consumer_key=CLIENT_ID, consumer_secret=CLIENT_SECRET, domain=f"{MY_DOMAIN}.my",
                      session=client_session(url, my_domain=MY_DOMAIN), **kw)


def tooling_create(sf: Salesforce, kind: str, full_name: str, metadata: dict[str, Any]) -> Any:
    return sf.toolingexecute(f"sobjects/{kind}", method="POST", data={"FullName": full_name, "Metadata": metadata})


def lookup(label: str, parent: str, child_name: str) -> dict[str, Any]:
    return {"label": label, "type": "Lookup", "referenceTo": parent, "relationshipName": child_name,
            "deleteConstraint": "SetNull"}


def custom_object(sf: Salesforce, name: str, label: str, fields: dict[str, dict[str, Any]]) -> None:
    tooling_create(sf, "CustomObject", name, {"label": label, "pluralLabel": label + "s",
                                              "deploymentStatus": "Deployed", "sharingModel": "ReadWrite",
                                              "enableActivities": True, "nameField": {"label": label, "type": "Text"}})
    for field, metadata in fields.items():
        tooling_create(sf, "CustomField", f"{name}.{field}", metadata)


def grant(sf: Salesforce, objects: list[str], fields: list[str]) -> None:
    permission_set = sf.PermissionSet.create({"Name": "Conformance", "Label": "Conformance"})["id"]
    for full in fields:
        sf.FieldPermissions.create({"ParentId": permission_set, "SobjectType": full.split(".")[0], "Field": full,
                                    "PermissionsRead": True, "PermissionsEdit": True})
    for name in objects:
        sf.ObjectPermissions.create({"ParentId": permission_set, "SobjectType": name, "PermissionsRead": True,
                                     "PermissionsCreate": True, "PermissionsEdit": True, "PermissionsDelete": True})
    user = sf.query("SELECT Id FROM User WHERE Username = 'integration@sandbox.flit.example'")["records"][0]["Id"]
    sf.PermissionSetAssignment.create({"AssigneeId": user, "PermissionSetId": permission_set})


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("conformance") / "org.db"
    with running_sandbox(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, users=USERS,
                         bulk_delay_seconds=0.0) as base:
        yield base


@pytest.fixture(scope="module")
def sf(url: str) -> Salesforce:
    """A migrated mini org: patients (Contact), treatment records and invoices with their lookups."""
    client = login(url)
    tooling_create(client, "CustomField", "Contact.Source_System_ID__c", {"label": "Source System ID", **TEXT_KEY})
    custom_object(client, "Treatment_Record__c", "Treatment Record", {
        "Source_System_ID__c": {"label": "Source System ID", **TEXT_KEY},
        "Patient__c": lookup("Patient", "Contact", "Treatment_Records"),
        "Treatment_Date__c": {"label": "Treatment Date", "type": "Date"}})
    custom_object(client, "Invoice__c", "Invoice", {
        "Source_System_ID__c": {"label": "Source System ID", **TEXT_KEY},
        "Patient__c": lookup("Patient", "Contact", "Invoices"),
        # the same child relationship name on another parent is allowed (unique per parent)
        "Treatment_Record__c": lookup("Treatment Record", "Treatment_Record__c", "Invoices"),
        "Amount__c": {"label": "Amount", "type": "Currency", "precision": 16, "scale": 2},
        "Status__c": {"label": "Status", "type": "Picklist", "valueSet": {"restricted": True, "valueSetDefinition": {
            "value": [{"fullName": "Paid"}, {"fullName": "Pending"}]}}}})
    grant(client, ["Treatment_Record__c", "Invoice__c"],
          ["Contact.Source_System_ID__c",
           *(f"Treatment_Record__c.{f}" for f in ("Source_System_ID__c", "Patient__c", "Treatment_Date__c")),
           *(f"Invoice__c.{f}" for f in ("Source_System_ID__c", "Patient__c", "Treatment_Record__c", "Amount__c",
                                         "Status__c"))])
    for key, last in PATIENTS.items():
        assert client.Contact.upsert(f"Source_System_ID__c/{key}", {"LastName": last}) == 201
    client.bulk2.Treatment_Record__c.upsert(
        records=[{"Source_System_ID__c": k, "Name": k, "Patient__r.Source_System_ID__c": p, "Treatment_Date__c": d}
                 for k, p, d in TREATMENTS], external_id_field="Source_System_ID__c", wait=0.01)
    client.bulk2.Invoice__c.upsert(
        records=[{"Source_System_ID__c": k, "Name": k, "Patient__r.Source_System_ID__c": p,
                  "Treatment_Record__r.Source_System_ID__c": t, "Amount__c": a, "Status__c": s}
                 for k, p, t, a, s in INVOICES], external_id_field="Source_System_ID__c", wait=0.01)
    return client


# ------------------------------------------------------------------------ session, versions, limits (notes §0)
def test_client_credentials_login_default_version_versions_and_resources(url: str, sf: Salesforce) -> None:
    assert sf.auth_type == "client-credentials" and sf.sf_version == DEFAULT_API_VERSION == "59.0"
    assert f"https://{sf.sf_instance}" == url.replace("http://", "https://")
    listing = sf.session.get(f"https://{sf.sf_instance}/services/data/", timeout=10).json()
    assert listing[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in listing
    assert listing[-1]["version"] == "67.0" and len(listing) == 37
    resources = sf.restful("")
    assert resources["sobjects"] == "/services/data/v59.0/sobjects"
    assert {"query", "queryAll", "limits", "tooling", "composite"} <= set(resources)
    oldest = login(url, version="31.0")
    assert oldest.restful("")["query"] == "/services/data/v31.0/query"
    assert oldest.query("SELECT COUNT() FROM Contact WHERE Source_System_ID__c IN ('P-1', 'P-2', 'P-3')")[
        "totalSize"] == len(PATIENTS)
    retired = login(url, version="30.0")
    with pytest.raises(SalesforceGeneralError) as gone:
        retired.restful("")
    assert gone.value.status == 410 and gone.value.content[0]["errorCode"] == "GONE"


def test_limits_and_api_usage_header(sf: Salesforce) -> None:
    limits = sf.limits()
    assert set(limits["DailyApiRequests"]) == {"Max", "Remaining"}
    assert limits["DailyApiRequests"]["Max"] == 100_000 and 0 < limits["DailyApiRequests"]["Remaining"] < 100_000
    usage = sf.api_usage["api-usage"]
    assert usage.total == 100_000 and usage.used == 100_000 - limits["DailyApiRequests"]["Remaining"]
    assert {"DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DataStorageMB", "FileStorageMB"} <= set(limits)
    assert sf.is_sandbox() is True


# ------------------------------------------------------------------------------------- describe (notes §2.5)
def test_describe_global_and_child_relationships_with_names(sf: Salesforce) -> None:
    described = {o["name"]: o for o in sf.describe()["sobjects"]}
    assert {"Contact", "Task", "Event", "User", "Treatment_Record__c", "Invoice__c"} <= set(described)
    assert described["Contact"]["keyPrefix"] == "003" and described["Invoice__c"]["custom"] is True
    assert described["Invoice__c"]["urls"]["describe"] == "/services/data/v59.0/sobjects/Invoice__c/describe"

    contact = sf.Contact.describe()
    children = {(c["childSObject"], c["field"]): c["relationshipName"] for c in contact["childRelationships"]}
    assert children[("Treatment_Record__c", "Patient__c")] == "Treatment_Records__r"
    assert children[("Invoice__c", "Patient__c")] == "Invoices__r"
    assert children[("Task", "WhoId")] == "Tasks" and children[("Event", "WhoId")] == "Events"
    named = [n for n in children.values() if n]
    assert len(named) == len({n.lower() for n in named})  # unique on the parent
    treatment_children = {(c["childSObject"], c["field"]): c["relationshipName"]
                          for c in sf.Treatment_Record__c.describe()["childRelationships"]}
    assert treatment_children[("Invoice__c", "Treatment_Record__c")] == "Invoices__r"

    fields = {f["name"]: f for f in sf.Invoice__c.describe()["fields"]}
    assert fields["Patient__c"]["relationshipName"] == "Patient__r"  # child-to-parent: from the field name
    assert fields["Patient__c"]["referenceTo"] == ["Contact"] and fields["Patient__c"]["type"] == "reference"
    key = fields["Source_System_ID__c"]
    assert (key["externalId"], key["unique"], key["idLookup"]) == (True, True, True)
    assert (fields["Amount__c"]["externalId"], fields["Amount__c"]["unique"], fields["Amount__c"]["groupable"]) == (
        False, False, False)


def test_duplicate_child_relationship_name_is_refused_on_the_parent(sf: Salesforce) -> None:
    custom_object(sf, "Insurance_Record__c", "Insurance Record", {})
    with pytest.raises(SalesforceMalformedRequest) as refused:
        tooling_create(sf, "CustomField", "Insurance_Record__c.Patient__c",
                       lookup("Patient", "Contact", "treatment_records"))
    assert refused.value.content == [{"message": "There is already a Child Relationship named treatment_records on "
                                                 "Contact.", "errorCode": "DUPLICATE_DEVELOPER_NAME", "fields": []}]
    assert tooling_create(sf, "CustomField", "Insurance_Record__c.Patient__c",
                          lookup("Patient", "Contact", "Insurance_Records"))["success"] is True


# ------------------------------------------------------------------------------ REST records (notes §2.1)
def test_get_by_custom_id_and_upsert_by_external_id(sf: Salesforce) -> None:
    record = sf.Contact.get_by_custom_id("Source_System_ID__c", "P-1")
    assert record["attributes"]["type"] == "Contact" and record["Id"].startswith("003") and len(record["Id"]) == 18
    assert record["attributes"]["url"] == f"/services/data/v59.0/sobjects/Contact/{record['Id']}"
    assert (record["LastName"], record["Source_System_ID__c"]) == ("Smith", "P-1")
    assert sf.Contact.upsert("Source_System_ID__c/P-9", {"LastName": "Nine"}) == 201
    assert sf.Contact.upsert("Source_System_ID__c/P-9", {"FirstName": "Nina"}) == 200
    again = sf.Contact.get_by_custom_id("Source_System_ID__c", "P-9")
    assert (again["FirstName"], again["LastName"]) == ("Nina", "Nine")
    sf.Contact.delete(again["Id"])


# ---------------------------------------------------------------------------------- SOQL (notes §2.4)
def test_query_paging_query_more_and_query_all(sf: Salesforce) -> None:
    batch = [{"attributes": {"type": "Contact"}, "LastName": f"Page{n:03d}", "Source_System_ID__c": f"PG-{n:03d}"}
             for n in range(250)]
    for start in (0, 200):
        assert all(r["success"] for r in sf.restful("composite/sobjects", method="POST",
                                                     json={"allOrNone": True, "records": batch[start:start + 200]}))
    soql = "SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Page%' ORDER BY LastName"
    small = {"Sforce-Query-Options": "batchSize=200"}
    first = sf.query(soql, headers=small)
    assert (first["totalSize"], first["done"], len(first["records"])) == (250, False, 200)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["records"][0]["attributes"] == {"type": "Contact",
                                                 "url": f"/services/data/v59.0/sobjects/Contact/"
                                                        f"{first['records'][0]['Id']}"}
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert (rest["done"], len(rest["records"]), rest["records"][0]["LastName"]) == (True, 50, "Page200")
    assert "nextRecordsUrl" not in rest
    everything = sf.query_all(soql, headers=small)
    assert everything["totalSize"] == 250 and [r["LastName"] for r in everything["records"]][-1] == "Page249"
    assert len(list(sf.query_all_iter(soql, headers=small))) == 250
    assert sf.query("SELECT COUNT() FROM Contact WHERE LastName LIKE 'Page%'") == {"totalSize": 250, "done": True,
                                                                                   "records": []}


def test_child_to_parent_relationship_paths(sf: Salesforce) -> None:
    rows = sf.query_all("SELECT Name, Patient__r.LastName, Treatment_Record__r.Patient__r.Source_System_ID__c "
                        "FROM Invoice__c ORDER BY Name")["records"]
    assert [(r["Name"], r["Patient__r"]["LastName"]) for r in rows] == [
        (k, PATIENTS[p]) for k, p, _, _, _ in INVOICES]
    assert rows[0]["Patient__r"]["attributes"]["type"] == "Contact"
    assert rows[0]["Treatment_Record__r"]["Patient__r"]["Source_System_ID__c"] == "P-1"
    assert rows[3]["Treatment_Record__r"] is None  # no treatment: the relationship is null


def test_parent_to_child_subqueries(sf: Salesforce) -> None:
    result = sf.query("SELECT Source_System_ID__c, (SELECT Name, Amount__c FROM Invoices__r ORDER BY Name), "
                      "(SELECT Name FROM treatment_records__r WHERE Treatment_Date__c > 2024-01-31) FROM Contact "
                      "WHERE Source_System_ID__c IN ('P-1', 'P-2', 'P-3') ORDER BY Source_System_ID__c")
    assert result["totalSize"] == 3 and result["done"] is True
    by_key = {r["Source_System_ID__c"]: r for r in result["records"]}
    assert list(by_key["P-1"]) == ["attributes", "Source_System_ID__c", "Invoices__r", "Treatment_Records__r"]
    invoices = by_key["P-1"]["Invoices__r"]
    assert (invoices["totalSize"], invoices["done"]) == (2, True)
    assert [(r["attributes"]["type"], r["Name"], r["Amount__c"]) for r in invoices["records"]] == [
        ("Invoice__c", "INV-1", 950.0), ("Invoice__c", "INV-2", 120.5)]
    assert invoices["records"][0]["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Invoice__c/")
    assert [r["Name"] for r in by_key["P-1"]["Treatment_Records__r"]["records"]] == ["TR-2"]
    assert [r["Name"] for r in by_key["P-2"]["Invoices__r"]["records"]] == ["INV-3", "INV-4", "INV-5"]
    assert by_key["P-3"]["Invoices__r"] is None and by_key["P-3"]["Treatment_Records__r"] is None

    limited = sf.query("SELECT Id, (SELECT Name FROM Invoices__r ORDER BY Amount__c DESC LIMIT 1) FROM Contact "
                       "WHERE Source_System_ID__c = 'P-2'")["records"][0]["Invoices__r"]
    assert (limited["totalSize"], limited["records"][0]["Name"]) == (1, "INV-3")  # LIMIT per parent
    nested = sf.query("SELECT Name, (SELECT Name, Patient__r.LastName FROM Invoices__r) FROM Treatment_Record__c "
                      "WHERE Name = 'TR-3'")["records"][0]["Invoices__r"]["records"]
    assert [(r["Name"], r["Patient__r"]["LastName"]) for r in nested] == [("INV-3", "Jones")]
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.query("SELECT Id, (SELECT Id FROM Patient__r) FROM Contact")
    assert unknown.value.content[0]["errorCode"] == "INVALID_TYPE"
    assert "Didn't understand relationship 'Patient__r' in FROM part of query call" in unknown.value.content[0][
        "message"]


def test_aggregates_aliases_expr_names_and_group_by(sf: Salesforce) -> None:
    totals = sf.query("SELECT COUNT(Id) n, SUM(Amount__c) total FROM Invoice__c")
    assert totals == {"totalSize": 1, "done": True, "records": [
        {"attributes": {"type": "AggregateResult"}, "n": 5, "total": 1150.8}]}
    unnamed = sf.query("SELECT COUNT(Id), MAX(Amount__c), MIN(Amount__c) low, AVG(Amount__c) FROM Invoice__c")
    assert unnamed["records"] == [{"attributes": {"type": "AggregateResult"}, "expr0": 5, "expr1": 950.0,
                                   "low": 0.1, "expr2": pytest.approx(230.16)}]
    nothing = sf.query("SELECT COUNT(Id), SUM(Amount__c) FROM Invoice__c WHERE Amount__c > 5000")["records"]
    assert nothing == [{"attributes": {"type": "AggregateResult"}, "expr0": 0, "expr1": None}]

    by_status = sf.query("SELECT Status__c, COUNT(Id) n, SUM(Amount__c) FROM Invoice__c GROUP BY Status__c")
    assert by_status["totalSize"] == 2 and by_status["done"] is True
    assert by_status["records"] == [
        {"attributes": {"type": "AggregateResult"}, "Status__c": "Paid", "n": 2, "expr0": 1030.0},
        {"attributes": {"type": "AggregateResult"}, "Status__c": "Pending", "n": 3, "expr0": 120.8}]
    per_patient = sf.query_all("SELECT Patient__r.Source_System_ID__c patient, COUNT(Id) FROM Invoice__c "
                               "GROUP BY Patient__r.Source_System_ID__c HAVING COUNT(Id) > 2 "
                               "ORDER BY COUNT(Id) DESC")["records"]
    assert per_patient == [{"attributes": {"type": "AggregateResult"}, "patient": "P-2", "expr0": 3}]
    duplicates = sf.query("SELECT Source_System_ID__c, COUNT(Id) FROM Contact GROUP BY Source_System_ID__c "
                          "HAVING COUNT(Id) > 1")
    assert duplicates == {"totalSize": 0, "done": True, "records": []}  # no duplicate external IDs

    not_grouped = "SELECT Status__c, Name, COUNT(Id) FROM Invoice__c GROUP BY Status__c"
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query(not_grouped)
    assert refused.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert refused.value.content[0]["message"].endswith("Field must be grouped or aggregated: Name")
    with pytest.raises(SalesforceMalformedRequest) as bad_sum:
        sf.query("SELECT SUM(Name) FROM Invoice__c")
    assert bad_sum.value.content[0]["errorCode"] == "INVALID_FIELD"


# --------------------------------------------------------------------------------- Bulk 2.0 (notes §1)
def test_bulk2_upsert_results_and_query(sf: Salesforce) -> None:
    result = sf.bulk2.Invoice__c.upsert(records=[
        {"Source_System_ID__c": "INV-1", "Amount__c": "951.00"},
        {"Source_System_ID__c": "INV-6", "Name": "INV-6", "Patient__r.Source_System_ID__c": "P-404",
         "Amount__c": "1.00"}], external_id_field="Source_System_ID__c", wait=0.01)[0]
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (2, 1)
    outcome = sf.bulk2.Invoice__c.get_all_ingest_records(result["job_id"])
    assert [(r["Source_System_ID__c"], r["sf__Created"]) for r in outcome["successfulRecords"]] == [
        ("INV-1", "false")]
    assert outcome["failedRecords"][0]["sf__Error"].startswith("INVALID_FIELD:Foreign key external ID: P-404 not "
                                                              "found")
    pages = list(sf.bulk2.Invoice__c.query("SELECT Source_System_ID__c, Amount__c, Patient__r.Source_System_ID__c "
                                           "FROM Invoice__c ORDER BY Source_System_ID__c", wait=0.01))
    rows = [r for page in pages for r in csv_rows(page)]
    assert [(r["Source_System_ID__c"], float(r["Amount__c"]), r["Patient__r.Source_System_ID__c"]) for r in rows] == [
        ("INV-1", 951.0, "P-1"), *((k, float(a), p) for k, p, _, a, _ in INVOICES[1:])]
    with pytest.raises(SalesforceMalformedRequest) as refused:  # no aggregates in Bulk 2.0 query (its docs)
        list(sf.bulk2.Invoice__c.query("SELECT COUNT(Id) FROM Invoice__c", wait=0.01))
    assert "aggregate functions" in refused.value.content[0]["message"]
    sf.bulk2.Invoice__c.upsert(records=[{"Source_System_ID__c": "INV-1", "Amount__c": "950.00"}],
                               external_id_field="Source_System_ID__c", wait=0.01)
