"""Salesforce Sales Cloud destination (simple-salesforce; Bulk API 2.0, sObject Collections, Tooling API).

Modules: ``client`` (OAuth client credentials, retries, request stats, daily-limit guard), ``bulk``
(Bulk API 2.0 ingest jobs and Collections), ``schema`` (custom objects/fields, permission set, FLS
checklist), ``bodies`` (payload row -> record body, CSV/JSON rendering), ``errors``, ``destination``
(the ``Destination`` implementation and the spec contract). Vendor facts: shared/notes/salesforce.md.
"""
