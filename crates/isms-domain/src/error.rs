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
    // Shared by every register.
    NothingChanged => ("nothing_changed", Conflict),
    ReferencedRecordNotFound => ("referenced_record_not_found", Invalid),
    // Context (4.1).
    ContextIssueRetired => ("context_issue_retired", Conflict),
    // Section: interested parties, scope, assets.

    // Section: Annex A catalog and Statement of Applicability.

    // Section: objectives, operational planning, monitoring and measurement.

    // Section: internal audit, incidents, documented information.

    // Section: people and training, suppliers, certification cycle.
    PersonUserNameTaken => ("person_user_name_taken", Conflict),
    PersonLeft => ("person_left", Conflict),
    TrainingCourseRetired => ("training_course_retired", Conflict),
    TrainingAlreadyAssigned => ("training_already_assigned", Conflict),
    TrainingCompletionAlreadyRecorded => ("training_completion_already_recorded", Conflict),
    DateInFuture => ("date_in_future", Invalid),
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
