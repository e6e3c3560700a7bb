"""Vendor error text that echoes the request never carries a value of it, nor a credential.

The echoing bodies follow each vendor's documented error shapes (shared/notes): Pipedrive's
``{"success": false, "error", "code"}`` (notes/pipedrive.md §3), HighLevel's 422
``UnprocessableDTO`` with a ``message`` array and the duplicate-contact 400 with ``meta.contactName``
(notes/highlevel.md §3), Salesforce's top-level error array ``[{"message", "errorCode", "fields"}]``
(notes/salesforce.md §2.6). They are served by the real sandboxes (a fault rule's ``body``) and read
by the real clients; the last tests hold the shared redaction itself to the same bodies.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from flit_pipelines.destinations.highlevel.client import HighLevelClient
from flit_pipelines.destinations.highlevel.errors import HighLevelError
from flit_pipelines.destinations.pipedrive.client import PipedriveClient
from flit_pipelines.destinations.pipedrive.errors import PipedriveError
from flit_pipelines.destinations.salesforce.client import SalesforceClient
from flit_pipelines.destinations.salesforce.errors import SalesforceApiError, parse_bulk_error
from flit_pipelines.http.redaction import Echo, Redactor
from flit_sandboxes.highlevel import running_sandbox as running_highlevel
from flit_sandboxes.pipedrive import running_sandbox as running_pipedrive
from flit_sandboxes.salesforce import running_sandbox as running_salesforce

TOKEN = "pd-token-3f9a7c1e5b"
PATIENT = {"name": "Janet Quarrington", "first_name": "Janet", "last_name": "Quarrington",
           "birthday": "1971-04-09", "postal_address": {"value": "12 Lindenfield Crescent"},
           "emails": [{"value": "janet.q@mail.example", "primary": True}], "phones": [{"value": "555-0142"}]}
VALUES = ("Janet", "Quarrington", "1971-04-09", "Lindenfield", "Crescent", "janet.q@mail.example", "555-0142")


def _clean(text: str, *, token: str | None = None) -> None:
    for value in VALUES:
        assert value.lower() not in text.lower(), value
    if token:
        assert token not in text


def _fault(base: str, headers: dict[str, str], **rule) -> None:
    requests.post(f"{base}/__sandbox/faults", json=rule, headers=headers, timeout=10).raise_for_status()


def test_pipedrive_echoing_400_keeps_code_and_field_names_only(tmp_path: Path):
    echo = {"success": False, "code": "ERR_BAD_REQUEST",
            "error": (f"Validation failed: 'birthday' {PATIENT['birthday']} is not a valid date for person "
                      f"{PATIENT['name']} ({PATIENT['emails'][0]['value']}, {PATIENT['postal_address']['value']}); "
                      f"request headers: x-api-token: {TOKEN}"),
            "error_info": "Please check developers.pipedrive.com"}
    with running_pipedrive(tmp_path / "pd.db", TOKEN, burst_limit=400) as base:
        _fault(base, {"x-api-token": TOKEN}, status=400, body=echo, path_prefix="/api/v2/persons", method="POST")
        with PipedriveClient(base, TOKEN) as client, pytest.raises(PipedriveError) as info:
            client.create("person", PATIENT)
    exc = info.value
    assert exc.status == 400 and exc.code == "ERR_BAD_REQUEST"
    assert "'birthday'" in exc.error and "x-api-token: <redacted>" in exc.error
    _clean(str(exc), token=TOKEN)
    assert len(exc.error) <= 300


def test_highlevel_echoing_422_and_duplicate_400_drop_values_and_token(tmp_path: Path):
    token = "pit-7d41c0ffee99"
    headers = {"Authorization": f"Bearer {token}"}
    unprocessable = {"statusCode": 422, "error": "Unprocessable Entity",
                     "message": [f"firstName {PATIENT['first_name']} must be shorter",
                                 f"email {PATIENT['emails'][0]['value']} must be an email",
                                 f"dateOfBirth must match YYYY-MM-DD, got {PATIENT['birthday']}",
                                 f"header authorization: Bearer {token}"]}
    duplicate = {"statusCode": 400, "message": "This location does not allow duplicated contacts.",
                 "meta": {"contactId": "c0ffee0000000001", "contactName": "Janet Quarrington",
                          "matchingField": "email"}}
    body = {"firstName": PATIENT["first_name"], "lastName": PATIENT["last_name"], "email": PATIENT["emails"][0]["value"],
            "dateOfBirth": PATIENT["birthday"], "address1": PATIENT["postal_address"]["value"]}
    with running_highlevel(tmp_path / "hl.db", token, burst_limit=1000) as base:
        _fault(base, headers, status=422, body=unprocessable, path_prefix="/contacts/", method="POST")
        _fault(base, headers, status=400, body=duplicate, path_prefix="/contacts/", method="POST")
        with HighLevelClient(base, token, location_id="loc_sandbox") as client:
            with pytest.raises(HighLevelError) as first:
                client.create_contact(body)
            with pytest.raises(HighLevelError) as second:
                client.create_contact(body)
    assert first.value.status == 422 and "firstName" in first.value.message and "dateOfBirth" in first.value.message
    assert second.value.is_duplicate_contact and second.value.meta == {"contactId": "c0ffee0000000001",
                                                                       "matchingField": "email"}
    for exc in (first.value, second.value):
        _clean(f"{exc} {exc.meta}", token=token)


def test_salesforce_echoing_error_array_keeps_error_code_and_fields(tmp_path: Path):
    client_id, secret = "sf-client", "sf-secret-a1b2c3d4"
    echo = [{"errorCode": "INVALID_FIELD", "fields": ["Birthdate"],
             "message": (f"Birthdate: invalid date: {PATIENT['birthday']} for {PATIENT['first_name']} "
                         f"{PATIENT['last_name']} at {PATIENT['postal_address']['value']}; client_secret={secret}")}]
    with running_salesforce(tmp_path / "sf.db", client_id=client_id, client_secret=secret) as base:
        client = SalesforceClient.connect(base, client_id, secret)
        token = client.sf.session_id
        requests.post(f"{base}/__sandbox/faults", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                      json={"status": 400, "body": echo, "path_prefix": "/sobjects/Contact"}).raise_for_status()
        with pytest.raises(SalesforceApiError) as info:
            client.rest("POST", "sobjects/Contact", json={"LastName": PATIENT["last_name"],
                                                          "FirstName": PATIENT["first_name"],
                                                          "Birthdate": PATIENT["birthday"],
                                                          "MailingStreet": PATIENT["postal_address"]["value"]})
    exc = info.value
    assert exc.status == 400 and exc.error_code == "INVALID_FIELD" and exc.message.startswith("Birthdate: invalid date")
    _clean(str(exc), token=token)
    assert secret not in str(exc)


def test_each_sandbox_echoing_the_request_and_its_token_is_scrubbed(tmp_path: Path):
    """The sandboxes' ``echo`` fault quotes the request body and credential header in each vendor's
    error shape; the clients keep the field names and mask every value and the token."""
    pd_token, hl_token, sf_id, sf_secret = TOKEN, "pit-echo-551f0e", "sf-echo", "sf-echo-secret-91c2"
    contact = {"firstName": PATIENT["first_name"], "lastName": PATIENT["last_name"],
               "email": PATIENT["emails"][0]["value"], "dateOfBirth": PATIENT["birthday"]}
    sf_body = {"FirstName": PATIENT["first_name"], "LastName": PATIENT["last_name"],
               "Birthdate": PATIENT["birthday"], "MailingStreet": PATIENT["postal_address"]["value"]}
    with running_pipedrive(tmp_path / "pd.db", pd_token, burst_limit=400) as pd_base, \
            running_highlevel(tmp_path / "hl.db", hl_token, burst_limit=1000) as hl_base, \
            running_salesforce(tmp_path / "sf.db", client_id=sf_id, client_secret=sf_secret) as sf_base:
        _fault(pd_base, {"x-api-token": pd_token}, status=400, echo=True, path_prefix="/api/v2/persons")
        _fault(hl_base, {"Authorization": f"Bearer {hl_token}"}, status=422, echo=True, path_prefix="/contacts/")
        sf = SalesforceClient.connect(sf_base, sf_id, sf_secret)
        requests.post(f"{sf_base}/__sandbox/faults", headers={"Authorization": f"Bearer {sf.sf.session_id}"},
                      json={"status": 400, "echo": True, "path_prefix": "/sobjects/Contact"},
                      timeout=10).raise_for_status()
        with PipedriveClient(pd_base, pd_token) as client, pytest.raises(PipedriveError) as pd_error:
            client.create("person", PATIENT)
        with HighLevelClient(hl_base, hl_token, location_id="loc_sandbox") as client, \
                pytest.raises(HighLevelError) as hl_error:
            client.create_contact(contact)
        with pytest.raises(SalesforceApiError) as sf_error:
            sf.rest("POST", "sobjects/Contact", json=sf_body)
    for exc, token, key in ((pd_error.value, pd_token, '"birthday"'), (hl_error.value, hl_token, '"dateOfBirth"'),
                            (sf_error.value, sf.sf.session_id, '"Birthdate"')):
        assert "invalid request body" in str(exc) and key in str(exc) and "<value>" in str(exc)
        _clean(str(exc), token=token)
    assert pd_error.value.code == "ERR_BAD_REQUEST" and hl_error.value.status == 422
    assert sf_error.value.error_code == "INVALID_FIELD"


def test_redaction_of_documented_shapes_without_http():
    redactor = Redactor(["tok-1234567890"])
    echo = Echo.of(PATIENT, {"person_id": 17, "cursor": None, "done": True})
    text = redactor.scrub("'name' Janet Quarrington duplicates person 17; Authorization: Bearer tok-1234567890", echo)
    assert "'name'" in text and "Bearer <redacted>" in text and "person <value>" in text
    _clean(text, token="tok-1234567890")
    # a vendor quoting values we never sent (another record) still loses patient-shaped ones
    other = redactor.scrub("matches contact born 1980-02-03, mail x.y@z.example, phone +1 (555) 010-4477, "
                           "SSN 999-10-0001")
    assert other == "matches contact born <date>, mail <email>, phone <phone>, SSN <number>"
    assert len(redactor.scrub("x" * 5000)) == 300
    # Salesforce Bulk failed rows: the sf__Error cell with the row's values
    code, message = parse_bulk_error("DUPLICATE_VALUE:duplicate value found: MRN__c duplicates value on record with "
                                     "id: 003000000000001AAA:MRN__c --", values=["MRN-55501", "Quarrington"])
    assert code == "DUPLICATE_VALUE" and "MRN__c" in message and "003000000000001AAA" in message
    code, message = parse_bulk_error("FIELD_CUSTOM_VALIDATION_EXCEPTION:Janet Quarrington is under 18:Birthdate --",
                                     values=["Janet", "Quarrington"])
    assert code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and "Birthdate" in message
    _clean(message)
