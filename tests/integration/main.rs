//! Black-box tests of isms-ledger: the HTTP API in-process on port 0 with a temporary data
//! directory, and the real `isms` binary where process behaviour matters (kill -9, exit codes).
//! One test binary for the whole suite, to link once.

mod api_examples;
mod auth;
mod binary;
mod concurrency;
mod context;
// Section: interested parties, scope, assets.
mod assets;
mod parties;
mod scope;

// Section: Annex A catalog and Statement of Applicability.
mod soa;

// Section: objectives, operational planning, monitoring and measurement.
mod metrics;
mod objectives;
mod operations;

// Section: internal audit, incidents, documented information.
mod audits;
mod documents;
mod incidents;

// Section: people and training, suppliers, certification cycle.
mod certification;
mod people;
mod suppliers;

// Section: management review and reports.
mod management_reviews;
mod readiness;
mod reports;
mod traceability;
// Section: checkpoints and proofs.
mod checkpoints;

// Section: evidence pack.
mod evidence_pack;

// Section: changes between two points.
mod changes;

// Section: operations (config, backup, lifecycle).
mod backup_restore;
mod deploy;
mod lifecycle;

// Section: observability and limits.
mod limits;
mod observability;

// Section: event feed and webhooks.
mod event_feed;
mod webhooks;

// Section: HR provisioning and training integrations.
mod scim;
mod training_completions;

// Section: ticketing integrations.
mod ticketing;

// Section: personal data erasure.
mod erasure;

// Section: reliability suite.
mod crash;
mod faults;
mod hygiene;
mod matrix;
mod tamper;
mod token_attacks;

// Section: bitemporal facts and the audit trail.
mod audit_trail;

mod invariants;
mod openapi;
mod protocol;
mod support;
mod walkthrough;
