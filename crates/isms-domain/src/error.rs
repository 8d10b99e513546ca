//! Business-rule and validation errors. Each carries a stable machine-readable code; the HTTP
//! layer maps codes to statuses in one table.

/// Why a command was refused, in the terms the caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is well-formed JSON but not acceptable (HTTP 422).
    Invalid,
    /// The input is acceptable but the aggregate's state forbids the command (HTTP 409).
    Conflict,
    /// Something named inside the command does not exist (HTTP 404).
    NotFound,
}

macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $kind:ident)),* $(,)?) => {
        /// Every code a domain rule can refuse a command with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant),* }
        impl ErrorCode {
            /// All codes, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];
            /// The stable string sent as the problem's `code`.
            pub fn as_str(self) -> &'static str { match self { $(ErrorCode::$variant => $code),* } }
            /// Which class of refusal this is.
            pub fn kind(self) -> ErrorKind { match self { $(ErrorCode::$variant => ErrorKind::$kind),* } }
        }
    };
}

error_codes! {
    ValidationFailed => ("validation_failed", Invalid),
    LikelihoodOutOfScale => ("likelihood_out_of_scale", Invalid),
    ImpactOutOfScale => ("impact_out_of_scale", Invalid),
    InvalidControlReference => ("invalid_control_reference", Invalid),
    InvalidRiskCriteria => ("invalid_risk_criteria", Invalid),
    TreatmentControlsRequired => ("treatment_controls_required", Invalid),
    RiskNotAssessed => ("risk_not_assessed", Conflict),
    RiskTreatmentNotDecided => ("risk_treatment_not_decided", Conflict),
    RiskAcceptanceNotAuthorized => ("risk_acceptance_not_authorized", Conflict),
    ResidualAboveThresholdNeedsJustification => ("residual_above_threshold_needs_justification", Conflict),
    RiskAlreadyAccepted => ("risk_already_accepted", Conflict),
    RiskClosed => ("risk_closed", Conflict),
    NonconformityClosed => ("nonconformity_closed", Conflict),
    RootCauseRequired => ("root_cause_required", Conflict),
    CorrectiveActionNotFound => ("corrective_action_not_found", NotFound),
    CorrectiveActionAlreadyCompleted => ("corrective_action_already_completed", Conflict),
    CorrectiveActionsIncomplete => ("corrective_actions_incomplete", Conflict),
    NoCorrectiveActions => ("no_corrective_actions", Conflict),
    EffectivenessNotVerified => ("effectiveness_not_verified", Conflict),
    FourEyesViolation => ("four_eyes_violation", Conflict),
    // Shared by every register (DateInFuture is in the objectives section).
    NothingChanged => ("nothing_changed", Conflict),
    ReferencedRecordNotFound => ("referenced_record_not_found", Invalid),
    // Context (4.1).
    ContextIssueRetired => ("context_issue_retired", Conflict),
    // Section: interested parties, scope, assets.
    InterestedPartyRetired => ("interested_party_retired", Conflict),
    RequirementNotFound => ("requirement_not_found", NotFound),
    RequirementWithdrawn => ("requirement_withdrawn", Conflict),
    HowAddressedRequired => ("how_addressed_required", Invalid),
    HowAddressedNotApplicable => ("how_addressed_not_applicable", Invalid),
    UnitNeedsTarget => ("unit_needs_target", Invalid),
    ExclusionJustificationRequired => ("exclusion_justification_required", Invalid),
    AssetRetired => ("asset_retired", Conflict),
    AssetValueOutOfRange => ("asset_value_out_of_range", Invalid),
    UnknownClassificationLabel => ("unknown_classification_label", Invalid),
    InvalidClassificationScheme => ("invalid_classification_scheme", Invalid),
    ClassificationLabelInUse => ("classification_label_in_use", Conflict),
    PersonalDataAttributesRequired => ("personal_data_attributes_required", Invalid),
    PersonalDataAttributesNotApplicable => ("personal_data_attributes_not_applicable", Invalid),

    // Section: Annex A catalog and Statement of Applicability.
    SoaJustificationRequired => ("soa_justification_required", Invalid),
    SoaApplicabilityNotDecided => ("soa_applicability_not_decided", Conflict),
    SoaControlNotApplicable => ("soa_control_not_applicable", Conflict),
    SoaControlImplemented => ("soa_control_implemented", Conflict),
    ControlRequiredByRiskTreatment => ("control_required_by_risk_treatment", Conflict),

    // Section: objectives, operational planning, monitoring and measurement.
    DateInFuture => ("date_in_future", Invalid),
    InvalidQuantity => ("invalid_quantity", Invalid),
    ObjectiveHasNoNumericTarget => ("objective_has_no_numeric_target", Invalid),
    ObjectiveOutcomeNoteRequired => ("objective_outcome_note_required", Invalid),
    ObjectiveConcluded => ("objective_concluded", Conflict),
    ObjectiveWithdrawn => ("objective_withdrawn", Conflict),
    OperationalPlanDueBeforeStart => ("operational_plan_due_before_start", Invalid),
    OperationalPlanLinksRequired => ("operational_plan_links_required", Invalid),
    OperationalPlanTransitionNotAllowed => ("operational_plan_transition_not_allowed", Conflict),
    OperationalPlanClosed => ("operational_plan_closed", Conflict),
    EvaluationPeriodReversed => ("evaluation_period_reversed", Invalid),
    MetricEvaluationNotAuthorized => ("metric_evaluation_not_authorized", Conflict),
    NoMeasurementInPeriod => ("no_measurement_in_period", Conflict),
    MetricRetired => ("metric_retired", Conflict),

    // Section: internal audit, incidents, documented information.
    AuditProgrammeYearTaken => ("audit_programme_year_taken", Conflict),
    AuditProgrammeAlreadyApproved => ("audit_programme_already_approved", Conflict),
    PlannedEndBeforeStart => ("planned_end_before_start", Invalid),
    AuditorNotIndependent => ("auditor_not_independent", Conflict),
    NotAnAuditor => ("not_an_auditor", Conflict),
    AuditAlreadyStarted => ("audit_already_started", Conflict),
    AuditNotStarted => ("audit_not_started", Conflict),
    AuditAlreadyReported => ("audit_already_reported", Conflict),
    NonconformityAlreadyRaised => ("nonconformity_already_raised", Conflict),
    DetectedInFuture => ("detected_in_future", Invalid),
    IncidentTransitionNotAllowed => ("incident_transition_not_allowed", Conflict),
    IncidentClosed => ("incident_closed", Conflict),
    LessonsLearnedRequired => ("lessons_learned_required", Conflict),
    NotAPersonalDataBreach => ("not_a_personal_data_breach", Conflict),
    AuthorityAlreadyNotified => ("authority_already_notified", Conflict),
    NotifiedBeforeDetection => ("notified_before_detection", Invalid),
    IncidentNonconformityAlreadyRaised => ("incident_nonconformity_already_raised", Conflict),
    DocumentWithdrawn => ("document_withdrawn", Conflict),
    DocumentDraftAlreadyOpen => ("document_draft_already_open", Conflict),
    DocumentVersionLabelTaken => ("document_version_label_taken", Conflict),
    DocumentNoPendingVersion => ("document_no_pending_version", Conflict),
    DocumentVersionNotDraft => ("document_version_not_draft", Conflict),
    DocumentVersionNotInReview => ("document_version_not_in_review", Conflict),
    DocumentVersionNotApproved => ("document_version_not_approved", Conflict),
    ApproverIsAuthor => ("approver_is_author", Conflict),

    // Section: people and training, suppliers, certification cycle.
    PersonUserNameTaken => ("person_user_name_taken", Conflict),
    PersonLeft => ("person_left", Conflict),
    TrainingCourseRetired => ("training_course_retired", Conflict),
    TrainingAlreadyAssigned => ("training_already_assigned", Conflict),
    TrainingCompletionAlreadyRecorded => ("training_completion_already_recorded", Conflict),
    DatesOutOfOrder => ("dates_out_of_order", Invalid),
    SupplierAgreementRequired => ("supplier_agreement_required", Conflict),
    SupplierAlreadyApproved => ("supplier_already_approved", Conflict),
    SupplierTerminated => ("supplier_terminated", Conflict),
    CertificationCycleClosed => ("certification_cycle_closed", Conflict),
    CertificationAuditNotPlanned => ("certification_audit_not_planned", Conflict),
    CertificationStageAlreadyPassed => ("certification_stage_already_passed", Conflict),
    Stage1NotPassed => ("stage1_not_passed", Conflict),
    Stage2NotRecommended => ("stage2_not_recommended", Conflict),
    CertificateAlreadyIssued => ("certificate_already_issued", Conflict),
    CertificateNotIssued => ("certificate_not_issued", Conflict),
    SurveillanceAuditsComplete => ("surveillance_audits_complete", Conflict),

    // Section: management review and reports.
    ManagementReviewClosed => ("management_review_closed", Conflict),
    ManagementReviewAlreadyHeld => ("management_review_already_held", Conflict),
    ManagementReviewNotHeld => ("management_review_not_held", Conflict),
    ReviewOutputsRequired => ("review_outputs_required", Invalid),
    NothingToPrefill => ("nothing_to_prefill", Conflict),
    ManagementReviewInputsMissing => ("management_review_inputs_missing", Conflict),
    ManagementReviewDecisionsMissing => ("management_review_decisions_missing", Conflict),
    ReviewActionNotFound => ("review_action_not_found", NotFound),
    ReviewActionAlreadyCompleted => ("review_action_already_completed", Conflict),

    // Section: operations (config, backup, lifecycle).

    // Section: observability and limits.

    // Section: event feed and webhooks.

    // Section: HR provisioning and training integrations.
    PersonNotLeft => ("person_not_left", Conflict),
    PersonDeprovisioned => ("person_deprovisioned", NotFound),
    AccessRemovalNotOpened => ("access_removal_not_opened", Conflict),
    AccessRemovalItemNotFound => ("access_removal_item_not_found", NotFound),
    AccessRemovalItemAlreadyCompleted => ("access_removal_item_already_completed", Conflict),
    GroupNameTaken => ("group_name_taken", Conflict),
    GroupDeleted => ("group_deleted", NotFound),

    // Section: ticketing integrations.
    TicketNotLinked => ("ticket_not_linked", Conflict),

    // Section: personal data erasure.
    PersonAlreadyErased => ("person_already_erased", Conflict),

    // Section: reliability suite.

}

/// A refused command: the code, a human sentence, and for validation the JSON pointer of the
/// offending field in the request body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct DomainError {
    pub code: ErrorCode,
    pub detail: String,
    pub pointer: Option<String>,
}

impl DomainError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), pointer: None }
    }

    /// A refusal tied to one field of the request body (`pointer` is an RFC 6901 JSON pointer).
    pub fn at(code: ErrorCode, pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), pointer: Some(pointer.into()) }
    }

    pub fn kind(&self) -> ErrorKind {
        self.code.kind()
    }
}
