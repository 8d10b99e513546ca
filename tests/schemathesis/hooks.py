"""Rules of the isms-ledger API that an OpenAPI document cannot state.

schemathesis's "schema-valid request rejected" check (ST202) sends requests that match the
document and expects them to be accepted. A few rules cannot be written in JSON Schema: they
relate two parameters, or depend on the data already recorded, on today's date or on DNS. The
server answers them with a problem whose `code` names the rule. Only those answers are dropped
here, each counted by rule and printed at the end of the run; any other rejection of a
schema-valid request still fails the run. Every other check (server errors, schema-violating
requests accepted, response conformance) is untouched.
"""

import atexit
import collections
import json
import re

import schemathesis

# Problem `code` -> why the document cannot state the rule.
RULES_THE_SCHEMA_CANNOT_STATE = {
    "conflicting_read_point": "as_of and as_of_position exclude each other (OpenAPI cannot relate two parameters)",
    "invalid_read_point": "the read point must not be after the log's last position (depends on the data)",
    "invalid_proof_range": "a consistency proof's from must not be after its to (two parameters)",
    "position_not_in_checkpoint": "an inclusion proof's position must be in the checkpoint asked for (data)",
    "referenced_record_not_found": "a reference must name a record that exists (data)",
    "idempotency_key_reused": "an Idempotency-Key sent again with another body is refused with 422 (IETF draft)",
    "invalid_cursor": "a cursor is an opaque token this server issued; the document states only its alphabet",
    "date_in_future": "a date that must not be after today (the clock)",
    "likelihood_out_of_scale": "the scale is the one of the risk criteria in force (data)",
    "impact_out_of_scale": "the scale is the one of the risk criteria in force (data)",
    "webhook_url_refused": "a webhook URL must resolve to a public address (DNS, SSRF guard)",
    "unknown_theme": "the theme must belong to the catalog asked for (two parameters)",
    "incomplete_ticket_payload": "Jira and ServiceNow payloads are documented as the vendors' open objects; "
    "which fields are needed depends on the delivery headers and the record's shape",
    "how_addressed_required": "how_addressed is required when addressed is true (a condition between fields)",
    "operational_plan_links_required": "a plan links at least one objective or risk treatment (two fields)",
}

# SCIM answers with `scimType` (RFC 7644 3.12) instead of a problem code.
SCIM_TYPES_THE_SCHEMA_CANNOT_STATE = {
    "invalidPath": "a PATCH path must name an attribute of the resource",
    "noTarget": "a PATCH path filter must match a value of the resource (data)",
    "mutability": "userName and externalId cannot change (depends on the stored resource)",
}

dropped = collections.Counter()

NOT_SCHEMA_VALID = "request not schema-valid"


def header_breaking_its_pattern(case):
    """A header value the document's pattern refuses: the stateful phase copies values from
    earlier responses (e.g. a record's `version` into `If-Match`) without checking them
    against the parameter's schema, so such a request was never schema-valid."""
    headers = {name.lower(): value for name, value in (case.headers or {}).items()}
    for parameter in case.operation.definition.raw.get("parameters", []):
        pattern = parameter.get("schema", {}).get("pattern")
        value = headers.get(parameter.get("name", "").lower())
        if parameter.get("in") == "header" and pattern and value is not None and not re.search(pattern, str(value)):
            return parameter["name"]
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202":
        return True
    if header_breaking_its_pattern(case):
        dropped[NOT_SCHEMA_VALID] += 1
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    rule = body.get("code") if body.get("code") in RULES_THE_SCHEMA_CANNOT_STATE else None
    if rule is None and body.get("scimType") in SCIM_TYPES_THE_SCHEMA_CANNOT_STATE:
        rule = "scim " + body["scimType"]
    if rule is None:
        return True
    dropped[rule] += 1
    return False


@atexit.register
def report():
    if not dropped:
        return
    print("\nSchema-valid requests refused by rules the document cannot state (not failures):")
    for rule, count in dropped.most_common():
        if rule == NOT_SCHEMA_VALID:
            reason = "a header copied from a response by the stateful phase breaks its documented pattern"
        else:
            reason = RULES_THE_SCHEMA_CANNOT_STATE.get(rule) or SCIM_TYPES_THE_SCHEMA_CANNOT_STATE[rule.split(" ", 1)[1]]
        print(f"  {count:5}  {rule}: {reason}")
