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
import functools
import json
import re

import jsonschema_rs
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
    "objective_outcome_note_required": "a note is required when an objective was not achieved (two fields)",
    "how_addressed_not_applicable": "how_addressed only when addressed is true (two fields)",
    "unknown_classification_label": "the label must be one of the classification scheme in force (data)",
    "objective_has_no_numeric_target": "a progress value needs an objective with a numeric target (data)",
    "invalid_classification_scheme": "labels are unique (a rule across the items of a list)",
    "unit_needs_target": "an objective's unit only with a target_value (two fields)",
    "review_outputs_required": "a management review's outputs hold a decision or an action (two fields)",
    "personal_data_attributes_not_applicable": "third-party recipients only when third_party_provision is true (two fields)",
    "personal_data_attributes_required": "personal-data attributes when personal_data is true (two fields)",
    "dates_out_of_order": "a date that must follow another field's date (two fields)",
    "from_after_to": "a comparison's from must not be after its to (two parameters)",
    "evaluation_period_reversed": "an evaluation period ends on or after its start (two fields)",
    "operational_plan_due_before_start": "a plan is due on or after its start (two fields)",
    "invalid_risk_criteria": "scale values run 1, 2, 3, ... and the bands cover every score (rules across items)",
    "detected_in_future": "an instant that must not be after now (the clock)",
    "invalid_quantity": "at most 6 decimal places: multipleOf cannot state it for binary floating point numbers",
}

# SCIM answers with `scimType` (RFC 7644 3.12) instead of a problem code.
SCIM_TYPES_THE_SCHEMA_CANNOT_STATE = {
    "invalidPath": "a PATCH path must name an attribute of the resource",
    "noTarget": "a PATCH path filter must match a value of the resource (data)",
    "mutability": "userName and externalId cannot change (depends on the stored resource)",
}

dropped = collections.Counter()

NOT_SCHEMA_VALID = "request not schema-valid"

# The document run.sh serves (the committed one: a test keeps them equal).
DOCUMENT = json.load(open("openapi/openapi.json"))


@functools.lru_cache(maxsize=None)
def body_validator(operation_id, media_type):
    operation = next(
        op for item in DOCUMENT["paths"].values() for op in item.values()
        if isinstance(op, dict) and op.get("operationId") == operation_id
    )
    content = operation.get("requestBody", {}).get("content", {})
    schema = (content.get(media_type) or next(iter(content.values()), {})).get("schema")
    if schema is None:
        return None
    return jsonschema_rs.Draft202012Validator({"components": DOCUMENT["components"], "allOf": [schema]})


def breaks_the_document(case):
    """What of the request the document refuses, if anything. Some requests schemathesis counts
    as schema-valid are not: its coverage phase sends `0` for a header with a pattern (`If-Match:
    0`), and values it reuses from earlier responses (a field of one record in another's body)
    are not checked against the schema. Such a request cannot be a "schema-valid request
    rejected"."""
    raw = case.operation.definition.raw
    headers = {name.lower(): value for name, value in (case.headers or {}).items()}
    for parameter in raw.get("parameters", []):
        pattern = parameter.get("schema", {}).get("pattern")
        value = headers.get(parameter.get("name", "").lower())
        if parameter.get("in") == "header" and pattern and value is not None and not re.search(pattern, str(value)):
            return parameter["name"]
    validator = body_validator(raw.get("operationId"), case.media_type or "application/json")
    if validator is not None and case.body is not None and not validator.is_valid(case.body):
        return "body"
    return None


# JSON Schema counts 1.0 as an integer; the server's JSON parser (serde) wants an integer
# written without a fraction, as every generated client sends it.
INTEGRAL_FLOAT = re.compile(r"invalid type: floating point `-?[0-9]+\.0`, expected [ui][0-9]+")
INTEGRAL_FLOAT_RULE = "integer written as 1.0"


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202":
        return True
    if breaks_the_document(case):
        phase = getattr(getattr(getattr(case, "meta", None), "phase", None), "name", None)
        dropped[f"{NOT_SCHEMA_VALID} ({getattr(phase, 'value', phase)} phase)"] += 1
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return True
    if not isinstance(body, dict):
        return True
    rule = body.get("code") if body.get("code") in RULES_THE_SCHEMA_CANNOT_STATE else None
    if rule is None and INTEGRAL_FLOAT.search(str(body.get("detail", ""))):
        rule = INTEGRAL_FLOAT_RULE
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
        if rule.startswith(NOT_SCHEMA_VALID):
            reason = "re-validated against the document, the request breaks it (e.g. `If-Match: 0`)"
        elif rule == INTEGRAL_FLOAT_RULE:
            reason = "JSON Schema's integer admits 1.0; serde wants 1, as generated clients send it"
        else:
            reason = RULES_THE_SCHEMA_CANNOT_STATE.get(rule) or SCIM_TYPES_THE_SCHEMA_CANNOT_STATE[rule.split(" ", 1)[1]]
        print(f"  {count:5}  {rule}: {reason}")
