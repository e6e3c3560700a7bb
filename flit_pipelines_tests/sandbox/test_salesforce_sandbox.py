"""The Salesforce sandbox over real HTTP, driven by simple-salesforce 1.12.10 (and raw ``requests`` where the
library has no helper or hides the status).

Each test names the notes/salesforce.md section (notes §N) it checks; behaviour the notes leave open is
the sandbox's documented UNCONFIRMED choice. One module-wide org holds the migration schema (Contact
``Source_System_ID__c``, ``Treatment_Record__c`` with a ``Patient__c`` lookup, permission set); tests that
need other settings start their own sandbox.
"""

from __future__ import annotations

import base64
import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from flit_sandboxes.salesforce import client_session, fetch_token, running_sandbox

CLIENT_ID = "flit-test-app"
CLIENT_SECRET = "flit-test-secret"
VERSION = "60.0"
USERS = [
    {"Email": "dr.ada@clinic.example", "FirstName": "Ada", "LastName": "Lovelace", "IsActive": True},
    {"Email": "dr.old@clinic.example", "FirstName": "Old", "LastName": "Timer", "IsActive": False},
]
INTEGRATION_USERNAME = "integration@sandbox.flit.example"


def connect(url: str, secret: str = CLIENT_SECRET) -> Salesforce:
    token = fetch_token(url, CLIENT_ID, secret)["access_token"]
    return Salesforce(instance_url=url, session_id=token, version=VERSION, session=client_session(url))


def api(url: str, sf: Salesforce, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A raw call below ``/services/data/v60.0/`` with the session's token."""
    headers = {"Authorization": f"Bearer {sf.session_id}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{url}/services/data/v{VERSION}/{path}", headers=headers, timeout=30, **kwargs)


def admin(url: str, sf: Salesforce, method: str, name: str, body: Any = None) -> requests.Response:
    return requests.request(method, f"{url}/__sandbox/{name}", json=body, timeout=10,
                            headers={"Authorization": f"Bearer {sf.session_id}"})


def tooling_create(sf: Salesforce, kind: str, full_name: str, metadata: dict[str, Any]) -> Any:
    return sf.toolingexecute(f"sobjects/{kind}", method="POST", data={"FullName": full_name, "Metadata": metadata})


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def deploy_schema(sf: Salesforce) -> str:
    """The migration schema plus FLS for the integration user (notes §3); the permission set Id."""
    text = {"type": "Text", "length": 80, "externalId": True, "unique": True}
    assert tooling_create(sf, "CustomField", "Contact.Source_System_ID__c", {"label": "Source System ID", **text})[
        "success"]
    tooling_create(sf, "CustomObject", "Treatment_Record__c", {
        "label": "Treatment Record", "pluralLabel": "Treatment Records", "deploymentStatus": "Deployed",
        "sharingModel": "ReadWrite", "enableActivities": True, "nameField": {"label": "Treatment", "type": "Text"}})
    fields = {
        "Source_System_ID__c": {"label": "Source System ID", **text},
        "Patient__c": {"label": "Patient", "type": "Lookup", "referenceTo": "Contact", "relationshipName": "Patient",
                       "deleteConstraint": "SetNull"},
        "Amount__c": {"label": "Amount", "type": "Currency", "precision": 12, "scale": 2},
        "Visit_Date__c": {"label": "Visit Date", "type": "Date"},
        "Performed_At__c": {"label": "Performed At", "type": "DateTime"},
        "Paid__c": {"label": "Paid", "type": "Checkbox", "defaultValue": "false"},
        "Notes__c": {"label": "Notes", "type": "LongTextArea", "length": 32768, "visibleLines": 5},
        "Code__c": {"label": "Code", "type": "Text", "length": 10},
        "Legacy_Key__c": {"label": "Legacy Key", "type": "Text", "length": 40, "externalId": True},
        "Status__c": {"label": "Status", "type": "Picklist", "valueSet": {"restricted": True, "valueSetDefinition": {
            "value": [{"fullName": "Planned", "default": True}, {"fullName": "Done"}]}}},
        "Teeth__c": {"label": "Teeth", "type": "MultiselectPicklist", "visibleLines": 4, "valueSet": {
            "restricted": True, "valueSetDefinition": {"value": [{"fullName": "11"}, {"fullName": "12"}]}}},
    }
    for name, metadata in fields.items():
        assert tooling_create(sf, "CustomField", f"Treatment_Record__c.{name}", metadata)["success"]
    permission_set = sf.PermissionSet.create({"Name": "Flit_Migration", "Label": "Flit Migration"})["id"]
    for field in ["Contact.Source_System_ID__c", *(f"Treatment_Record__c.{n}" for n in fields)]:
        sf.FieldPermissions.create({"ParentId": permission_set, "SobjectType": field.split(".")[0], "Field": field,
                                    "PermissionsRead": True, "PermissionsEdit": True})
    sf.ObjectPermissions.create({"ParentId": permission_set, "SobjectType": "Treatment_Record__c",
                                 "PermissionsRead": True, "PermissionsCreate": True, "PermissionsEdit": True,
                                 "PermissionsDelete": True})
    user = sf.query(f"SELECT Id FROM User WHERE Username = '{INTEGRATION_USERNAME}'")["records"][0]["Id"]
    sf.PermissionSetAssignment.create({"AssigneeId": user, "PermissionSetId": permission_set})
    return permission_set


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("salesforce") / "org.db"


@pytest.fixture(scope="module")
def url(state: Path) -> Iterator[str]:
    # min_api_version pins a newer floor than a real org's v31.0 (the knob test_versions_and_retired_paths
    # checks); the simple-salesforce conformance test runs the real-org default
    with running_sandbox(state, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, users=USERS,
                         bulk_delay_seconds=0.05, min_api_version=60.0) as base:
        yield base


@pytest.fixture(scope="module")
def sf(url: str) -> Salesforce:
    client = connect(url)
    deploy_schema(client)
    return client


# ------------------------------------------------------------------------------------------- auth (notes §0)
def test_token_endpoint_and_session_errors(url: str, sf: Salesforce) -> None:
    token_url = f"{url}/services/oauth2/token"
    ok = requests.post(token_url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, CLIENT_SECRET),
                       timeout=10)
    assert ok.status_code == 200
    body = ok.json()
    assert body["instance_url"] == url and body["token_type"] == "Bearer"
    assert body["access_token"].startswith("00D") and body["id"].startswith(f"{url}/id/00D")
    assert set(body) == {"access_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"}

    bad_secret = requests.post(token_url, data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                                "client_secret": "nope"}, timeout=10)
    assert bad_secret.status_code == 400 and bad_secret.json()["error"] == "invalid_client"
    unknown = requests.post(token_url, data={"grant_type": "client_credentials", "client_id": "other",
                                             "client_secret": CLIENT_SECRET}, timeout=10)
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_client_id"
    grant = requests.post(token_url, data={"grant_type": "password", "client_id": CLIENT_ID}, timeout=10)
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"

    anonymous = requests.get(f"{url}/services/data/v{VERSION}/limits", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]

    short_lived = connect(url)
    expired_count = admin(url, short_lived, "POST", "expire-tokens", {"access_token": short_lived.session_id})
    assert expired_count.json() == {"success": True, "data": {"expired": 1}}
    with pytest.raises(SalesforceExpiredSession) as expired:
        short_lived.query("SELECT Id FROM User")
    assert expired.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_versions_and_retired_paths(url: str, sf: Salesforce) -> None:
    listing = requests.get(f"{url}/services/data", timeout=10).json()
    assert listing[0] == {"label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"}
    assert listing[-1] == {"label": "Summer '26", "url": "/services/data/v67.0", "version": "67.0"}
    assert api(url, sf, "GET", "limits").status_code == 200
    retired = requests.get(f"{url}/services/data/v30.0/limits", headers={"Authorization": f"Bearer {sf.session_id}"},
                           timeout=10)
    assert retired.status_code == 410 and retired.json()[0]["errorCode"] == "GONE"
    below_pin = requests.get(f"{url}/services/data/v59.0/limits", headers={"Authorization": f"Bearer {sf.session_id}"},
                             timeout=10)
    assert below_pin.status_code == 404 and below_pin.json()[0]["errorCode"] == "NOT_FOUND"


# ------------------------------------------------------------------------------- schema (notes §3, §2.5)
def test_custom_schema_describe_and_tooling_queries(url: str, sf: Salesforce) -> None:
    found = sf.toolingexecute("query?q=SELECT+Id,DeveloperName,TableEnumOrId,FullName+FROM+CustomField+WHERE+"
                              "TableEnumOrId='Contact'+AND+DeveloperName='Source_System_ID'")
    assert found["size"] == 1 and found["entityTypeName"] == "CustomField"
    assert found["records"][0]["FullName"] == "Contact.Source_System_ID__c"
    assert found["records"][0]["Id"].startswith("00N")
    custom_object = sf.toolingexecute("query?q=SELECT+Id,DeveloperName+FROM+CustomObject+WHERE+"
                                      "DeveloperName='Treatment_Record'")["records"][0]
    assert custom_object["Id"].startswith("01I")
    by_table = sf.toolingexecute(f"query?q=SELECT+DeveloperName+FROM+CustomField+WHERE+TableEnumOrId="
                                 f"'{custom_object['Id']}'+ORDER+BY+DeveloperName")
    assert [r["DeveloperName"] for r in by_table["records"]][:3] == ["Amount", "Code", "Legacy_Key"]
    by_full_name = sf.toolingexecute("query?q=SELECT+Id+FROM+CustomField+WHERE+FullName="
                                     "'Treatment_Record__c.Patient__c'")
    assert by_full_name["totalSize"] == 1

    duplicate = api(url, sf, "POST", "tooling/sobjects/CustomField", json={
        "FullName": "Contact.Source_System_ID__c", "Metadata": {"label": "Again", "type": "Text", "length": 10}})
    assert duplicate.status_code == 400 and duplicate.json()[0]["errorCode"] == "DUPLICATE_DEVELOPER_NAME"
    no_length = api(url, sf, "POST", "tooling/sobjects/CustomField", json={
        "FullName": "Contact.Nickname__c", "Metadata": {"label": "Nickname", "type": "Text"}})
    assert no_length.status_code == 400 and "length" in no_length.json()[0]["message"]
    master_user = api(url, sf, "POST", "tooling/sobjects/CustomField", json={
        "FullName": "Treatment_Record__c.Dentist__c", "Metadata": {
            "label": "Dentist", "type": "MasterDetail", "referenceTo": "User", "relationshipName": "Dentist"}})
    assert master_user.status_code == 400 and master_user.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"

    described = sf.Treatment_Record__c.describe()
    assert described["keyPrefix"] == "a0X" and described["custom"] is True
    fields = {f["name"]: f for f in described["fields"]}
    assert fields["Source_System_ID__c"]["externalId"] is True and fields["Source_System_ID__c"]["unique"] is True
    assert fields["Source_System_ID__c"]["type"] == "string" and fields["Source_System_ID__c"]["length"] == 80
    assert fields["Patient__c"]["type"] == "reference" and fields["Patient__c"]["referenceTo"] == ["Contact"]
    assert fields["Patient__c"]["relationshipName"] == "Patient__r"
    assert fields["Amount__c"]["type"] == "currency" and fields["Amount__c"]["scale"] == 2
    assert fields["Notes__c"]["type"] == "textarea" and fields["Notes__c"]["length"] == 32768
    assert fields["Paid__c"]["type"] == "boolean" and fields["Paid__c"]["nillable"] is False
    assert [p["value"] for p in fields["Status__c"]["picklistValues"]] == ["Planned", "Done"]
    assert fields["Status__c"]["restrictedPicklist"] is True
    assert fields["Teeth__c"]["type"] == "multipicklist"
    assert "OwnerId" in fields and "Name" in fields
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {"Contact", "Task", "Event", "User", "ContentVersion", "PermissionSet", "Treatment_Record__c"} <= names
    task_what = {f["name"]: f for f in sf.Task.describe()["fields"]}["WhatId"]["referenceTo"]
    assert task_what == ["Account", "Treatment_Record__c"]


def test_new_field_is_invisible_until_field_permissions_grant_it(url: str, sf: Salesforce) -> None:
    tooling_create(sf, "CustomField", "Contact.Insurance_Plan__c", {"label": "Plan", "type": "Text", "length": 40})
    assert "Insurance_Plan__c" not in {f["name"] for f in sf.Contact.describe()["fields"]}
    with pytest.raises(SalesforceMalformedRequest) as query_error:
        sf.query("SELECT Insurance_Plan__c FROM Contact")
    assert query_error.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "No such column 'Insurance_Plan__c' on entity 'Contact'" in query_error.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as write_error:
        sf.Contact.create({"LastName": "Fls", "Insurance_Plan__c": "Gold"})
    assert write_error.value.content == [{"message": "No such column 'Insurance_Plan__c' on sobject of type Contact",
                                          "errorCode": "INVALID_FIELD", "fields": []}]
    job = sf.bulk2.Contact
    with pytest.raises(SalesforceOperationError, match="InvalidBatch : Field name not found : Insurance_Plan__c"):
        job.insert(records=[{"LastName": "Fls", "Insurance_Plan__c": "Gold"}], wait=0.01)

    permission_set = sf.query("SELECT Id FROM PermissionSet WHERE Name = 'Flit_Migration'")["records"][0]["Id"]
    read_only = sf.FieldPermissions.create({"ParentId": permission_set, "SobjectType": "Contact",
                                            "Field": "Contact.Insurance_Plan__c", "PermissionsRead": True,
                                            "PermissionsEdit": False})
    field = {f["name"]: f for f in sf.Contact.describe()["fields"]}["Insurance_Plan__c"]
    assert field["createable"] is False
    with pytest.raises(SalesforceMalformedRequest) as read_only_error:
        sf.Contact.create({"LastName": "Fls", "Insurance_Plan__c": "Gold"})
    assert read_only_error.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    sf.FieldPermissions.update(read_only["id"], {"PermissionsEdit": True})
    created = sf.Contact.create({"LastName": "Fls", "Insurance_Plan__c": "Gold"})
    assert sf.Contact.get(created["id"])["Insurance_Plan__c"] == "Gold"

    bad_field = api(url, sf, "POST", "sobjects/FieldPermissions", json={
        "ParentId": permission_set, "SobjectType": "Contact", "Field": "Contact.Nope__c", "PermissionsRead": True})
    assert bad_field.status_code == 400
    assert bad_field.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    edit_without_read = api(url, sf, "POST", "sobjects/ObjectPermissions", json={
        "ParentId": permission_set, "SobjectType": "Account", "PermissionsEdit": True})
    assert edit_without_read.json()[0]["message"] == "Permission Edit depends on permission(s): Read"


# ---------------------------------------------------------------------------------- REST (notes §2.1, §2.6)
def test_upsert_by_external_id_created_then_updated(url: str, sf: Salesforce) -> None:
    assert sf.Contact.upsert("Source_System_ID__c/PMS-100", {"LastName": "Ng", "FirstName": "Lee"}) == 201
    assert sf.Contact.upsert("Source_System_ID__c/PMS-100", {"Email": "lee@clinic.example"}) == 200
    raw = api(url, sf, "PATCH", "sobjects/Contact/Source_System_ID__c/PMS-100", json={"Phone": "555-0100"})
    assert raw.status_code == 200
    assert raw.json()["created"] is False and raw.json()["success"] is True and raw.json()["id"].startswith("003")
    record = sf.Contact.get_by_custom_id("Source_System_ID__c", "PMS-100")
    assert (record["Name"], record["Email"], record["Phone"]) == ("Lee Ng", "lee@clinic.example", "555-0100")
    assert record["attributes"]["url"] == f"/services/data/v{VERSION}/sobjects/Contact/{record['Id']}"
    assert len(record["Id"]) == 18

    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.upsert("No_Such_Field__c/1", {"LastName": "X"})
    for key in ("LK-1", "LK-1"):
        sf.Treatment_Record__c.create({"Name": "dup", "Legacy_Key__c": key})
    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Treatment_Record__c.upsert("Legacy_Key__c/LK-1", {"Name": "which?"})
    assert len(several.value.content) == 2 and several.value.content[0].startswith(
        f"/services/data/v{VERSION}/sobjects/Treatment_Record__c/a0X")
    update_only = api(url, sf, "PATCH", "sobjects/Contact/Source_System_ID__c/PMS-NEW?updateOnly=true",
                      json={"LastName": "Z"})
    assert update_only.status_code == 404


def test_rest_crud_and_error_bodies(url: str, sf: Salesforce) -> None:
    created = sf.Contact.create({"LastName": "Crud", "Birthdate": "1980-02-29", "Source_System_ID__c": "PMS-CRUD"})
    assert created["success"] is True and created["id"].startswith("003")
    assert sf.Contact.update(created["id"], {"MailingCity": "Austin"}) == 204
    record = sf.Contact.get(created["id"])
    assert (record["MailingCity"], record["Birthdate"], record["OwnerId"][:3]) == ("Austin", "1980-02-29", "005")

    cases = [
        ({"FirstName": "NoLast"}, "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ["LastName"]),
        ({"LastName": "x" * 81}, "STRING_TOO_LONG", None, ["LastName"]),
        ({"LastName": "Dup", "Source_System_ID__c": "pms-crud"}, "DUPLICATE_VALUE",
         f"duplicate value found: Source_System_ID__c duplicates value on record with id: {created['id']}", []),
        ({"LastName": "Owner", "OwnerId": "005000000000000AAA"}, "INVALID_CROSS_REFERENCE_KEY",
         "invalid cross reference id", []),
        ({"LastName": "Mail", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS", "Email: invalid email address: "
                                                                                  "not-an-email", ["Email"]),
    ]
    for body, code, message, fields in cases:
        response = api(url, sf, "POST", "sobjects/Contact", json=body)
        assert response.status_code == 400, body
        error = response.json()[0]
        assert error["errorCode"] == code and error["fields"] == fields
        if message:
            assert error["message"] == message
    inactive = sf.query("SELECT Id FROM User WHERE Email = 'dr.old@clinic.example'")["records"][0]["Id"]
    owner = api(url, sf, "POST", "sobjects/Contact", json={"LastName": "Inactive", "OwnerId": inactive})
    assert owner.json()[0]["errorCode"] == "INACTIVE_OWNER_OR_USER"
    picklist = api(url, sf, "POST", "sobjects/Treatment_Record__c", json={"Name": "p", "Status__c": "Maybe"})
    assert picklist.json()[0] == {"message": "Status: bad value for restricted picklist field: Maybe",
                                  "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "fields": ["Status__c"]}
    bad_date = api(url, sf, "POST", "sobjects/Contact", json={"LastName": "D", "Birthdate": "02/29/1980"})
    assert bad_date.status_code == 400 and bad_date.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    unknown = api(url, sf, "GET", "sobjects/Contact/003Sb00000000zzAAA")
    assert unknown.status_code == 404 and unknown.json()[0]["errorCode"] == "NOT_FOUND"

    rule = admin(url, sf, "POST", "validation-rules", {"object": "Contact", "field": "Phone", "pattern": r"\d{3}-\d{4}",
                                                        "message": "Phone must look like 555-0100"})
    assert rule.json()["success"] is True
    try:
        invalid = api(url, sf, "POST", "sobjects/Contact", json={"LastName": "V", "Phone": "12"})
        assert invalid.json()[0] == {"message": "Phone must look like 555-0100",
                                     "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "fields": ["Phone"]}
    finally:
        admin(url, sf, "DELETE", "validation-rules")

    assert sf.Contact.delete(created["id"]) == 204
    deleted = api(url, sf, "PATCH", f"sobjects/Contact/{created['id']}", json={"LastName": "Again"})
    assert deleted.status_code == 404 and deleted.json()[0]["errorCode"] == "ENTITY_IS_DELETED"
    everything = sf.query_all(f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{created['id']}'", include_deleted=True)
    assert everything["records"][0]["IsDeleted"] is True
    assert sf.query(f"SELECT COUNT() FROM Contact WHERE Id = '{created['id']}'")["totalSize"] == 0


def test_task_and_event_rules(url: str, sf: Salesforce) -> None:
    patient = sf.Contact.create({"LastName": "Activity", "Source_System_ID__c": "PMS-ACT"})["id"]
    task = sf.Task.create({"Subject": "Recall", "WhoId": patient, "ActivityDate": "2025-01-15"})
    stored = sf.Task.get(task["id"])
    assert (stored["Status"], stored["Priority"], stored["IsClosed"]) == ("Not Started", "Normal", False)
    missing = api(url, sf, "POST", "sobjects/Event", json={"Subject": "Visit", "StartDateTime": "2025-01-15T09:00:00Z"})
    assert missing.json()[0] == {"message": "Required fields are missing: [DurationInMinutes]",
                                 "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["DurationInMinutes"]}
    event = sf.Event.create({"Subject": "Visit", "WhoId": patient, "StartDateTime": "2025-01-15T09:00:00-05:00",
                             "DurationInMinutes": 45})
    stored = sf.Event.get(event["id"])
    assert stored["StartDateTime"] == "2025-01-15T14:00:00.000+0000"
    assert stored["EndDateTime"] == "2025-01-15T14:45:00.000+0000" and stored["ActivityDate"] == "2025-01-15"
    whoami = sf.query(f"SELECT Who.Name, What.Name FROM Event WHERE Id = '{event['id']}'")["records"][0]
    assert whoami["Who"]["Name"] == "Activity" and whoami["What"] is None


# ---------------------------------------------------------------------------------- Collections (notes §2.2)
def test_collections_mixed_results_all_or_none_and_upsert(url: str, sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Contact"}, "LastName": "Col1", "Source_System_ID__c": "COL-1"},
               {"attributes": {"type": "Contact"}, "FirstName": "NoLast"},
               {"attributes": {"type": "Task"}, "Subject": "Mixed types"}]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert results[0]["success"] is True and results[0]["id"].startswith("003")
    assert results[1] == {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "message":
                          "Required fields are missing: [LastName]", "fields": ["LastName"]}]}
    assert results[2]["success"] is True and results[2]["id"].startswith("00T")

    rolled = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Contact"}, "LastName": "Innocent", "Source_System_ID__c": "COL-2"},
        {"attributes": {"type": "Contact"}, "LastName": "Dup", "Source_System_ID__c": "COL-1"}]})
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert rolled[1]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert sf.query("SELECT COUNT() FROM Contact WHERE Source_System_ID__c = 'COL-2'")["totalSize"] == 0

    upserted = sf.restful("composite/sobjects/Contact/Source_System_ID__c", method="PATCH", json={
        "allOrNone": False, "records": [
            {"attributes": {"type": "Contact"}, "LastName": "Col1b", "Source_System_ID__c": "COL-1"},
            {"attributes": {"type": "Contact"}, "LastName": "Col3", "Source_System_ID__c": "COL-3"},
            {"attributes": {"type": "Contact"}, "LastName": "Twice", "Source_System_ID__c": "COL-4"},
            {"attributes": {"type": "Contact"}, "LastName": "Twice", "Source_System_ID__c": "col-4"}]})
    assert [r.get("created") for r in upserted[:2]] == [False, True]
    assert upserted[0]["id"] == results[0]["id"]
    assert [r["errors"][0]["message"] for r in upserted[2:]] == ["Duplicate external id specified: COL-4",
                                                                 "Duplicate external id specified: col-4"]

    too_many = api(url, sf, "POST", "composite/sobjects", json={"records": [
        {"attributes": {"type": "Contact"}, "LastName": f"N{i}"} for i in range(201)]})
    assert too_many.status_code == 400 and too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    fetched = sf.restful("composite/sobjects/Contact", params={"ids": f"{results[0]['id']},003Sb00000000zzAAA",
                                                                 "fields": "LastName"})
    assert fetched[0]["LastName"] == "Col1b" and fetched[1] is None
    removed = sf.restful("composite/sobjects", method="DELETE", params={"ids": results[2]["id"], "allOrNone": "false"})
    assert removed == [{"id": results[2]["id"], "success": True, "errors": []}]


# -------------------------------------------------------------------------------------- SOQL (notes §2.4)
def test_query_paging_filters_and_relationships(url: str, sf: Salesforce) -> None:
    for start in range(0, 450, 150):
        batch = [{"attributes": {"type": "Contact"}, "LastName": f"Page{n:03d}", "Source_System_ID__c": f"PG-{n:03d}",
                  "Birthdate": f"19{50 + n % 40}-01-01"} for n in range(start, start + 150)]
        assert all(r["success"] for r in sf.restful("composite/sobjects", method="POST",
                                                     json={"allOrNone": True, "records": batch}))
    first = api(url, sf, "GET", "query", params={"q": "SELECT Id, LastName FROM Contact WHERE LastName LIKE 'Page%' "
                                                      "ORDER BY LastName"},
                headers={"Sforce-Query-Options": "batchSize=200"}).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (450, False, 200)
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/01g")
    second = requests.get(url + first["nextRecordsUrl"], headers={"Authorization": f"Bearer {sf.session_id}"},
                          timeout=10).json()
    assert second["records"][0]["LastName"] == "Page200" and second["done"] is False
    everything = sf.query_all("SELECT LastName FROM Contact WHERE Source_System_ID__c LIKE 'PG-%' "
                              "ORDER BY LastName DESC")
    assert everything["totalSize"] == 450 and everything["records"][0]["LastName"] == "Page449"

    chosen = sf.query("SELECT Source_System_ID__c FROM Contact WHERE Source_System_ID__c IN ('PG-001', 'PG-002', "
                      "'PG-999') ORDER BY Source_System_ID__c")
    assert [r["Source_System_ID__c"] for r in chosen["records"]] == ["PG-001", "PG-002"]
    assert sf.query("SELECT COUNT() FROM Contact WHERE Birthdate > 1989-06-01 AND LastName LIKE 'Page%'")[
        "totalSize"] == sum(1 for n in range(450) if 50 + n % 40 >= 90)
    assert sf.query("SELECT Id FROM Contact WHERE LastName = 'page007' LIMIT 1")["totalSize"] == 1
    with_email = sf.query("SELECT COUNT() FROM Contact WHERE Email != null")["totalSize"]
    assert with_email == sf.query("SELECT COUNT() FROM Contact WHERE Email = 'lee@clinic.example'")["totalSize"] == 1

    quoted_date = api(url, sf, "GET", "query", params={"q": "SELECT Id FROM Contact WHERE Birthdate = '1950-01-01'"})
    assert quoted_date.json()[0]["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"
    malformed = api(url, sf, "GET", "query", params={"q": "SELECT Id FROM"})
    assert malformed.status_code == 400 and malformed.json()[0]["errorCode"] == "MALFORMED_QUERY"
    unknown = api(url, sf, "GET", "query", params={"q": "SELECT Id FROM Patient__c"})
    assert unknown.json()[0]["errorCode"] == "INVALID_TYPE"

    users = sf.query_all("SELECT Id, Email, Username, IsActive FROM User WHERE Email IN ('dr.ada@clinic.example', "
                         "'dr.old@clinic.example') ORDER BY Email")["records"]
    assert [(u["Email"], u["IsActive"]) for u in users] == [("dr.ada@clinic.example", True),
                                                             ("dr.old@clinic.example", False)]
    assert all(u["Id"].startswith("005") and len(u["Id"]) == 18 for u in users)


# ---------------------------------------------------------------------------------- Bulk 2.0 (notes §1)
def test_bulk_upsert_with_relationship_columns_and_mixed_results(url: str, sf: Salesforce) -> None:
    parents = sf.bulk2.Contact.upsert(records=[{"LastName": f"Bulk{n}", "Source_System_ID__c": f"BK-{n}"}
                                               for n in range(3)], external_id_field="Source_System_ID__c", wait=0.01)
    assert parents[0]["numberRecordsProcessed"] == 3 and parents[0]["numberRecordsFailed"] == 0
    treatments = [
        {"Source_System_ID__c": "TR-1", "Name": "Filling", "Patient__r.Source_System_ID__c": "BK-0",
         "Amount__c": "120.50", "Visit_Date__c": "2024-05-01", "Performed_At__c": "2024-05-01T09:30:00.000Z",
         "Paid__c": "true", "Teeth__c": "11;12"},
        {"Source_System_ID__c": "TR-2", "Name": "Crown", "Patient__r.Source_System_ID__c": "BK-404",
         "Amount__c": "900", "Visit_Date__c": "2024-05-02", "Performed_At__c": "", "Paid__c": "false", "Teeth__c": ""},
        {"Source_System_ID__c": "TR-3", "Name": "Cleaning", "Patient__r.Source_System_ID__c": "BK-1",
         "Amount__c": "80", "Visit_Date__c": "05/03/2024", "Performed_At__c": "", "Paid__c": "", "Teeth__c": ""},
        {"Source_System_ID__c": "TR-4", "Name": "Exam", "Patient__r.Source_System_ID__c": "BK-2",
         "Amount__c": "60", "Visit_Date__c": "2024-05-04", "Performed_At__c": "", "Paid__c": "", "Teeth__c": "13"},
    ]
    result = sf.bulk2.Treatment_Record__c.upsert(records=treatments, external_id_field="Source_System_ID__c",
                                                 wait=0.01)[0]
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (4, 3)
    outcome = sf.bulk2.Treatment_Record__c.get_all_ingest_records(result["job_id"])
    assert [(r["Source_System_ID__c"], r["sf__Created"]) for r in outcome["successfulRecords"]] == [("TR-1", "true")]
    errors = {r["Source_System_ID__c"]: r["sf__Error"] for r in outcome["failedRecords"]}
    uploaded_columns = list(outcome["failedRecords"][0])[2:]  # simple-salesforce orders the columns itself
    assert errors["TR-2"] == ("INVALID_FIELD:Foreign key external ID: BK-404 not found for field Source_System_ID__c "
                              "in entity Contact:--")
    assert errors["TR-3"] == ("INVALID_FIELD:Failed to deserialize field at col "
                              f"{uploaded_columns.index('Visit_Date__c')}. Due to, '05/03/2024' is not a valid "
                              "value for the type xsd:date:--")
    assert errors["TR-4"] == ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Teeth: bad value for restricted picklist "
                              "field: 13:Teeth__c --")
    assert all(r["sf__Id"] == "" for r in outcome["failedRecords"]) and outcome["unprocessedRecords"] == []
    stored = sf.query("SELECT Name, Amount__c, Visit_Date__c, Performed_At__c, Paid__c, Teeth__c, "
                      "Patient__r.Source_System_ID__c, Patient__r.LastName FROM Treatment_Record__c "
                      "WHERE Source_System_ID__c = 'TR-1'")["records"][0]
    assert (stored["Amount__c"], stored["Visit_Date__c"], stored["Paid__c"], stored["Teeth__c"]) == (
        120.5, "2024-05-01", True, "11;12")
    assert stored["Performed_At__c"] == "2024-05-01T09:30:00.000+0000"
    assert stored["Patient__r"]["Source_System_ID__c"] == "BK-0" and stored["Patient__r"]["LastName"] == "Bulk0"

    again = sf.bulk2.Treatment_Record__c.upsert(records=[{"Source_System_ID__c": "TR-1", "Name": "#N/A",
                                                          "Amount__c": "#N/A", "Teeth__c": ""}],
                                                external_id_field="Source_System_ID__c", wait=0.01)[0]
    updated = rows(sf.bulk2.Treatment_Record__c.get_successful_records(again["job_id"]))
    assert updated[0]["sf__Created"] == "false" and updated[0]["sf__Id"].startswith("a0X")
    after = sf.query("SELECT Name, Amount__c, Teeth__c FROM Treatment_Record__c WHERE Source_System_ID__c = 'TR-1'")
    assert after["records"][0]["Amount__c"] is None and after["records"][0]["Teeth__c"] == "11;12"
    assert after["records"][0]["Name"] == updated[0]["sf__Id"]  # Name nulled -> the Id (UNCONFIRMED)


def test_bulk_raw_lifecycle_states_and_result_files(url: str, sf: Salesforce) -> None:
    created = api(url, sf, "POST", "jobs/ingest", json={"object": "Contact", "operation": "upsert",
                                                        "externalIdFieldName": "Source_System_ID__c",
                                                        "contentType": "CSV", "lineEnding": "CRLF",
                                                        "columnDelimiter": "PIPE"})
    assert created.status_code == 200
    job = created.json()
    assert (job["state"], job["jobType"], job["apiVersion"], job["concurrencyMode"]) == ("Open", "V2Ingest", 60.0,
                                                                                       "Parallel")
    assert job["id"].startswith("750")
    assert job["contentUrl"] == f"services/data/v{VERSION}/jobs/ingest/{job['id']}/batches"
    data = ("Source_System_ID__c|LastName|Description|ReportsTo.Source_System_ID__c\r\n"
            "RAW-1|Pipe|\"multi\r\nline | with \"\"quotes\"\"\"|\r\n"
            "RAW-2|Child||RAW-1\r\n"
            "RAW-3|Dup||\r\n"
            "raw-3|Dup again||\r\n"
            "RAW-4|\"Bad\" |x|\r\n")
    upload = requests.put(f"{url}/{job['contentUrl']}", data=data.encode(), timeout=10,
                          headers={"Authorization": f"Bearer {sf.session_id}", "Content-Type": "text/csv"})
    assert upload.status_code == 201 and upload.content == b""
    second = requests.put(f"{url}/{job['contentUrl']}", data=data.encode(), timeout=10,
                          headers={"Authorization": f"Bearer {sf.session_id}", "Content-Type": "text/csv"})
    assert second.status_code == 400 and "Found multiple contents for job" in second.json()[0]["message"]
    closed = api(url, sf, "PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"}).json()
    assert closed["state"] == "UploadComplete"
    states = [api(url, sf, "GET", f"jobs/ingest/{job['id']}").json()["state"]]
    while states[-1] not in ("JobComplete", "Failed", "Aborted"):
        time.sleep(0.02)
        states.append(api(url, sf, "GET", f"jobs/ingest/{job['id']}").json()["state"])
    assert states[0] == "InProgress" and states[-1] == "JobComplete"
    info = api(url, sf, "GET", f"jobs/ingest/{job['id']}").json()
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (5, 4)

    good = api(url, sf, "GET", f"jobs/ingest/{job['id']}/successfulResults/")
    assert good.headers["content-type"].startswith("text/csv")
    assert good.text.startswith('"sf__Id"|"sf__Created"|"Source_System_ID__c"|"LastName"|"Description"|'
                                '"ReportsTo.Source_System_ID__c"\r\n')
    good_rows = list(csv.reader(io.StringIO(good.text, newline=""), delimiter="|"))
    assert good_rows[1][1:4] == ["true", "RAW-1", "Pipe"] and good_rows[1][4] == 'multi\r\nline | with "quotes"'
    bad = list(csv.DictReader(io.StringIO(api(url, sf, "GET", f"jobs/ingest/{job['id']}/failedResults").text,
                                          newline=""), delimiter="|"))
    reasons = {r["LastName"]: r["sf__Error"] for r in bad}
    assert reasons["Child"].startswith("INVALID_FIELD:Foreign key external ID: RAW-1 not found")  # same job: unseen
    assert reasons["Dup"] == reasons["Dup again"].replace("raw-3", "RAW-3") == \
        "DUPLICATE_VALUE:Duplicate external id specified: RAW-3:Source_System_ID__c --"
    assert reasons["Bad"] == "INVALID_FIELD:Failed to parse CSV row: text found after a closing quote:--"
    assert api(url, sf, "GET", f"jobs/ingest/{job['id']}/unprocessedrecords").text == \
        '"Source_System_ID__c"|"LastName"|"Description"|"ReportsTo.Source_System_ID__c"\r\n'
    listed = api(url, sf, "GET", "jobs/ingest").json()
    assert listed["done"] is True and job["id"] in {j["id"] for j in listed["records"]}
    assert api(url, sf, "DELETE", f"jobs/ingest/{job['id']}").status_code == 204
    assert api(url, sf, "GET", f"jobs/ingest/{job['id']}").status_code == 404


def test_bulk_failed_and_aborted_jobs(url: str, sf: Salesforce) -> None:
    def open_job(line_ending: str = "LF") -> dict[str, Any]:
        return api(url, sf, "POST", "jobs/ingest", json={"object": "Contact", "operation": "insert",
                                                         "lineEnding": line_ending}).json()

    def put(job: dict[str, Any], text: str) -> None:
        assert requests.put(f"{url}/{job['contentUrl']}", data=text.encode(), timeout=10, headers={
            "Authorization": f"Bearer {sf.session_id}", "Content-Type": "text/csv"}).status_code == 201

    def finish(job: dict[str, Any]) -> dict[str, Any]:
        api(url, sf, "PATCH", f"jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
        for _ in range(200):
            info = api(url, sf, "GET", f"jobs/ingest/{job['id']}").json()
            if info["state"] in ("JobComplete", "Failed"):
                return info
            time.sleep(0.02)
        raise AssertionError("job did not finish")

    unknown = open_job()
    put(unknown, "LastName,Nope__c\nA,1\n")
    failed = finish(unknown)
    assert failed["state"] == "Failed" and failed["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    assert rows(api(url, sf, "GET", f"jobs/ingest/{unknown['id']}/unprocessedrecords").text) == [
        {"LastName": "A", "Nope__c": "1"}]
    crlf = open_job("LF")
    put(crlf, "LastName\r\nA\r\n")
    assert finish(crlf)["errorMessage"] == ("ClientInputError : LineEnding is invalid on user data. Current LineEnding "
                                            "setting is LF")

    aborted = open_job()
    put(aborted, "LastName\nAborted1\nAborted2\n")
    assert api(url, sf, "PATCH", f"jobs/ingest/{aborted['id']}", json={"state": "Aborted"}).json()["state"] == "Aborted"
    assert [r["LastName"] for r in rows(api(url, sf, "GET", f"jobs/ingest/{aborted['id']}/unprocessedrecords").text)] \
        == ["Aborted1", "Aborted2"]
    assert sf.query("SELECT COUNT() FROM Contact WHERE LastName LIKE 'Aborted%'")["totalSize"] == 0

    assert admin(url, sf, "POST", "job-faults", {"object": "Contact", "in_progress_polls": 3}).status_code == 200
    slow = open_job()
    put(slow, "LastName\nSlow\n")
    api(url, sf, "PATCH", f"jobs/ingest/{slow['id']}", json={"state": "UploadComplete"})
    time.sleep(0.1)
    seen = [api(url, sf, "GET", f"jobs/ingest/{slow['id']}").json()["state"] for _ in range(5)]
    assert seen == ["InProgress"] * 4 + ["JobComplete"]

    bad_upsert = api(url, sf, "POST", "jobs/ingest", json={"object": "Contact", "operation": "upsert"})
    assert bad_upsert.status_code == 400 and bad_upsert.json()[0]["errorCode"] == "INVALIDJOB"
    not_indexed = api(url, sf, "POST", "jobs/ingest", json={"object": "Contact", "operation": "upsert",
                                                            "externalIdFieldName": "LastName"})
    assert not_indexed.status_code == 400


def test_bulk_polymorphic_who_what_and_owner_columns(url: str, sf: Salesforce) -> None:
    sf.Contact.upsert("Source_System_ID__c/POLY-P", {"LastName": "Poly"})
    sf.Treatment_Record__c.upsert("Source_System_ID__c/POLY-T", {"Name": "Poly treatment"})
    tasks = [{"Subject": "Poly 1", "Contact:Who.Source_System_ID__c": "POLY-P",
              "Treatment_Record__c:What.Source_System_ID__c": "POLY-T", "User:Owner.Username": "dr.ada@clinic.example"},
             {"Subject": "Poly 2", "Contact:Who.Source_System_ID__c": "POLY-MISSING",
              "Treatment_Record__c:What.Source_System_ID__c": "", "User:Owner.Username": ""}]
    result = sf.bulk2.Task.insert(records=tasks, wait=0.01)[0]
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (2, 1)
    stored = sf.query("SELECT Who.Name, What.Name, Owner.Email FROM Task WHERE Subject = 'Poly 1'")["records"][0]
    assert (stored["Who"]["Name"], stored["What"]["Name"], stored["Owner"]["Email"]) == (
        "Poly", "Poly treatment", "dr.ada@clinic.example")
    by_parent = sf.query("SELECT Subject FROM Task WHERE What.Name = 'Poly treatment'")
    assert [r["Subject"] for r in by_parent["records"]] == ["Poly 1"]
    unqualified = sf.bulk2.Task
    with pytest.raises(SalesforceOperationError, match="Field name not found : Who.Source_System_ID__c"):
        unqualified.insert(records=[{"Subject": "x", "Who.Source_System_ID__c": "POLY-P"}], wait=0.01)
    nested = api(url, sf, "POST", "sobjects/Task", json={"Subject": "Nested", "Who": {"Source_System_ID__c": "POLY-P"}})
    assert nested.status_code == 400 and nested.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    typed = sf.Task.create({"Subject": "Nested", "Who": {"attributes": {"type": "Contact"},
                                                          "Source_System_ID__c": "POLY-P"}})
    assert sf.Task.get(typed["id"])["WhoId"] == sf.Contact.get_by_custom_id("Source_System_ID__c", "POLY-P")["Id"]
    child = sf.Treatment_Record__c.create({"Name": "Linked", "Patient__r": {"Source_System_ID__c": "POLY-P"}})
    filtered = sf.query("SELECT Name FROM Treatment_Record__c WHERE Patient__r.Source_System_ID__c = 'POLY-P'")
    assert [r["Name"] for r in filtered["records"]] == ["Linked"] and child["success"] is True


def test_audit_fields_need_the_org_setting_and_insert(tmp_path: Path, url: str, sf: Salesforce) -> None:
    refused = api(url, sf, "POST", "sobjects/Contact", json={"LastName": "Old", "CreatedDate": "2015-03-01T10:00:00Z"})
    assert refused.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert refused.json()[0]["fields"] == ["CreatedDate"]
    with running_sandbox(tmp_path / "audit.db", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         set_audit_fields=True, enforce_fls=False, users=USERS) as base:
        audit = connect(base)
        kept = audit.Contact.create({"LastName": "Old", "CreatedDate": "2015-03-01T10:00:00Z"})
        assert audit.Contact.get(kept["id"])["CreatedDate"] == "2015-03-01T10:00:00.000+0000"
        tooling_create(audit, "CustomField", "Contact.Source_System_ID__c",
                       {"label": "SSID", "type": "Text", "length": 20, "externalId": True, "unique": True})
        upsert = api(base, audit, "PATCH", "sobjects/Contact/Source_System_ID__c/A-1",
                     json={"LastName": "Up", "CreatedDate": "2015-03-01T10:00:00Z"})
        assert upsert.status_code == 400 and upsert.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
        inactive = audit.query("SELECT Id FROM User WHERE IsActive = false")["records"][0]["Id"]
        assert audit.Contact.create({"LastName": "Orphan", "OwnerId": inactive})["success"] is True


def test_unable_to_lock_row_rows_fail_then_retry_succeeds(url: str, sf: Salesforce) -> None:
    patient = sf.Contact.create({"LastName": "Locked", "Source_System_ID__c": "LOCK-P"})["id"]
    rule = admin(url, sf, "POST", "row-faults", {"object": "Task", "count": 2, "field": "Subject",
                                                 "values": ["Follow-up 2", "Follow-up 4"]}).json()
    assert rule["success"] is True and rule["data"]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    tasks = [{"Subject": f"Follow-up {n}", "WhoId": patient, "Status": "Not Started"} for n in range(5)]
    first = sf.bulk2.Task.insert(records=tasks, wait=0.01)[0]
    assert (first["numberRecordsProcessed"], first["numberRecordsFailed"]) == (5, 2)
    failed = rows(sf.bulk2.Task.get_failed_records(first["job_id"]))
    assert sorted(r["Subject"] for r in failed) == ["Follow-up 2", "Follow-up 4"]
    assert all(r["sf__Error"] == f"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records: "
                                 f"{patient}:--" for r in failed)
    retry = sf.bulk2.Task.insert(records=[{k: r[k] for k in ("Subject", "WhoId", "Status")} for r in failed],
                                 wait=0.01)[0]
    assert retry["numberRecordsFailed"] == 0
    assert sf.query(f"SELECT COUNT() FROM Task WHERE WhoId = '{patient}'")["totalSize"] == 5
    assert admin(url, sf, "GET", "row-faults").json()["data"] == []


def test_bulk_query_job_reads_back_csv(url: str, sf: Salesforce) -> None:
    # its own rows (an upsert by external ID: the same three the relationship test writes), so the test
    # holds whichever worker runs it and in whatever order
    sf.bulk2.Contact.upsert(records=[{"LastName": f"Bulk{n}", "Source_System_ID__c": f"BK-{n}"} for n in range(3)],
                            external_id_field="Source_System_ID__c", wait=0.01)
    pages = list(sf.bulk2.Contact.query("SELECT Source_System_ID__c, LastName, Owner.Username FROM Contact WHERE "
                                        "Source_System_ID__c LIKE 'BK-%' ORDER BY Source_System_ID__c",
                                        max_records=2, wait=0.01))
    assert len(pages) == 2
    owner = INTEGRATION_USERNAME
    assert rows(pages[0]) == [{"Source_System_ID__c": "BK-0", "LastName": "Bulk0", "Owner.Username": owner},
                              {"Source_System_ID__c": "BK-1", "LastName": "Bulk1", "Owner.Username": owner}]
    assert [r["LastName"] for r in rows(pages[1])] == ["Bulk2"]


# ------------------------------------------------------------------------------------- Files (notes §4)
def test_content_version_json_and_multipart(url: str, sf: Salesforce) -> None:
    patient = sf.Contact.create({"LastName": "Files", "Source_System_ID__c": "FILE-P"})["id"]
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 4
    created = sf.ContentVersion.create({"Title": "X-ray report", "PathOnClient": "xray.pdf",
                                        "VersionData": base64.b64encode(pdf).decode(),
                                        "FirstPublishLocationId": patient})
    version = sf.ContentVersion.get(created["id"])
    assert created["id"].startswith("068") and version["ContentDocumentId"].startswith("069")
    assert (version["FileExtension"], version["FileType"], version["ContentSize"], version["VersionNumber"]) == (
        "pdf", "PDF", len(pdf), "1")
    assert version["VersionData"] == f"/services/data/v{VERSION}/sobjects/ContentVersion/{created['id']}/VersionData"
    assert sf.ContentVersion.get_base64(created["id"], base64_field="VersionData") == pdf
    links = sf.query(f"SELECT LinkedEntityId, ShareType FROM ContentDocumentLink WHERE ContentDocumentId = "
                     f"'{version['ContentDocumentId']}'")["records"]
    assert patient in {link["LinkedEntityId"] for link in links}
    unfiltered = api(url, sf, "GET", "query", params={"q": "SELECT Id FROM ContentDocumentLink"})
    assert unfiltered.json()[0]["errorCode"] == "MALFORMED_QUERY"

    image = b"\x89PNG\r\n\x1a\n" + b"\x00\xff" * 5000
    multipart = requests.post(f"{url}/services/data/v{VERSION}/sobjects/ContentVersion", timeout=10,
                              headers={"Authorization": f"Bearer {sf.session_id}"}, files={
                                  "entity_content": (None, '{"PathOnClient": "scan.png", "FirstPublishLocationId": '
                                                           f'"{patient}"}}', "application/json"),
                                  "VersionData": ("scan.png", image, "application/octet-stream")})
    assert multipart.status_code == 201 and multipart.json()["success"] is True
    scan = sf.ContentVersion.get(multipart.json()["id"])
    assert (scan["Title"], scan["FileType"], scan["ContentSize"]) == ("scan", "PNG", len(image))
    download = requests.get(f"{url}{scan['VersionData']}", headers={"Authorization": f"Bearer {sf.session_id}"},
                            timeout=10)
    assert download.content == image
    documents = sf.query(f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{patient}'")
    assert documents["totalSize"] == 2
    no_blob = api(url, sf, "POST", "sobjects/ContentVersion", json={"PathOnClient": "a.txt"})
    assert no_blob.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_file_size_limits(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "small.db", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         json_blob_max_base64_bytes=1000, multipart_blob_max_bytes=2000) as base:
        sf = connect(base)
        big = base64.b64encode(b"x" * 1500).decode()
        over_json = api(base, sf, "POST", "sobjects/ContentVersion", json={"PathOnClient": "a.txt", "VersionData": big})
        assert over_json.status_code == 400 and over_json.json()[0]["errorCode"] == "EXCEEDED_MAX_SIZE_REQUEST"
        fine = requests.post(f"{base}/services/data/v{VERSION}/sobjects/ContentVersion", timeout=10,
                             headers={"Authorization": f"Bearer {sf.session_id}"},
                             files={"entity_content": (None, '{"PathOnClient": "a.txt"}', "application/json"),
                                    "VersionData": ("a.txt", b"x" * 1500, "text/plain")})
        assert fine.status_code == 201
        too_big = requests.post(f"{base}/services/data/v{VERSION}/sobjects/ContentVersion", timeout=10,
                                headers={"Authorization": f"Bearer {sf.session_id}"},
                                files={"entity_content": (None, '{"PathOnClient": "a.txt"}', "application/json"),
                                       "VersionData": ("a.txt", b"x" * 2500, "text/plain")})
        assert too_big.status_code == 400


# ---------------------------------------------------------------------------- limits and faults (notes §0, §7)
def test_limits_decrement_and_request_limit_exceeded(tmp_path: Path) -> None:
    with running_sandbox(tmp_path / "limits.db", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         api_daily_limit=6) as base:
        sf = connect(base)
        first = sf.limits()["DailyApiRequests"]
        second = sf.limits()["DailyApiRequests"]
        assert (first, second) == ({"Max": 6, "Remaining": 5}, {"Max": 6, "Remaining": 4})
        assert sf.api_usage["api-usage"].used == 2 and sf.api_usage["api-usage"].total == 6
        header = api(base, sf, "GET", "limits").headers["Sforce-Limit-Info"]
        assert header == "api-usage=3/6"
        limits = sf.limits()
        assert set(limits) >= {"DailyApiRequests", "DailyBulkApiBatches", "DailyBulkV2QueryJobs", "DataStorageMB",
                               "FileStorageMB"}
        assert limits["DailyBulkApiBatches"] == {"Max": 15000, "Remaining": 15000}
        sf.query("SELECT Id FROM User")
        sf.query("SELECT Id FROM User")
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM User")
        assert refused.value.status == 403
        assert refused.value.content == [{"message": "TotalRequests Limit exceeded.",
                                          "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        assert admin(base, sf, "POST", "reset-rate-limits").status_code == 200
        assert sf.limits()["DailyApiRequests"]["Remaining"] == 5


def test_bulk_batches_counted_and_injected_faults(url: str, sf: Salesforce) -> None:
    before = sf.limits()["DailyBulkApiBatches"]["Remaining"]
    sf.bulk2.Contact.upsert(records=[{"LastName": "Counted", "Source_System_ID__c": "CNT-1"}],
                            external_id_field="Source_System_ID__c", wait=0.01)
    assert sf.limits()["DailyBulkApiBatches"]["Remaining"] == before - 1
    assert admin(url, sf, "POST", "faults", {"status": 503, "path_prefix": "/jobs/ingest", "method": "POST"}).json()[
        "success"] is True
    unavailable = api(url, sf, "POST", "jobs/ingest", json={"object": "Contact", "operation": "insert"})
    assert unavailable.status_code == 503 and unavailable.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert api(url, sf, "POST", "jobs/ingest", json={"object": "Contact", "operation": "insert"}).status_code == 200
    stats = admin(url, sf, "GET", "stats").json()["data"]
    assert stats["faults_injected"] >= 1 and stats["records"]["Treatment_Record__c"] >= 1


def test_lost_answer_of_a_job_create_is_executed_then_dropped(url: str, sf: Salesforce) -> None:
    def jobs() -> int:
        return sum(admin(url, sf, "GET", "stats").json()["data"]["bulk_jobs"].values())

    before = jobs()
    admin(url, sf, "POST", "faults", {"lose_response": True, "path_prefix": "/jobs/ingest", "method": "POST"})
    with pytest.raises(requests.ConnectionError):
        api(url, sf, "POST", "jobs/ingest", json={"object": "Contact", "operation": "insert"})
    assert jobs() == before + 1  # created, answer lost
    assert api(url, sf, "POST", "jobs/ingest", json={"object": "Contact", "operation": "insert"}).status_code == 200


def test_state_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "restart.db"
    with running_sandbox(path, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, enforce_fls=False) as base:
        sf = connect(base)
        tooling_create(sf, "CustomField", "Contact.Source_System_ID__c",
                       {"label": "SSID", "type": "Text", "length": 20, "externalId": True, "unique": True})
        first = sf.Contact.create({"LastName": "Persist", "Source_System_ID__c": "KEEP-1"})["id"]
    with running_sandbox(path, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, enforce_fls=False) as base:
        sf = connect(base)
        assert sf.Contact.get_by_custom_id("Source_System_ID__c", "KEEP-1")["Id"] == first
        second = sf.Contact.create({"LastName": "Next"})["id"]
        assert second != first and second.startswith("003")
        assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 1
