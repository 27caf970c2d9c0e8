//! The one error table of the HTTP API.
//!
//! Every error body is `{"error":{"code":"…","message":"…","request_id":"…"}}`, with an
//! optional `details` object. Codes are stable; messages are one line and never carry a
//! personal-data value. 5xx bodies hide internals, which go to the log instead.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use custodian_core::ports::StoreError;
use custodian_core::vault::service::VaultError;
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being handled, for error bodies.
    pub static REQUEST_ID: String;
}

/// The current request id, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_owned())
}

macro_rules! error_codes {
    ($($variant:ident => ($status:ident, $code:literal, $doc:literal)),* $(,)?) => {
        /// Every error the API can answer, with its HTTP status and stable code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $(#[doc = $doc] $variant,)*
        }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The HTTP status.
            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)* }
            }

            /// The stable machine-readable code.
            pub fn code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The code whose [`ErrorCode::code`] is `code`.
            pub fn parse(code: &str) -> Option<ErrorCode> {
                ErrorCode::ALL.iter().copied().find(|c| c.code() == code)
            }

            /// What the code means, for the documentation table.
            pub fn doc(self) -> &'static str {
                match self { $(ErrorCode::$variant => $doc,)* }
            }
        }
    };
}

error_codes! {
    MalformedJson => (BAD_REQUEST, "malformed_json", "The body is not well-formed JSON."),
    InvalidBody => (UNPROCESSABLE_ENTITY, "invalid_body", "The JSON does not match the expected shape (missing, unknown or mistyped fields)."),
    UnsupportedMediaType => (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "The body must be sent as application/json."),
    PayloadTooLarge => (PAYLOAD_TOO_LARGE, "payload_too_large", "The body is larger than the server accepts."),
    PurposeExempt => (UNPROCESSABLE_ENTITY, "purpose_exempt", "No objection can be recorded to this purpose: the law requires the processing whatever the subject wants (handling the subject's own requests, legal claims)."),
    UploadIncomplete => (BAD_REQUEST, "upload_incomplete", "A streamed upload broke off before its end; the rows before the break were handled."),
    InvalidPathParameter => (BAD_REQUEST, "invalid_path_parameter", "A path parameter is malformed."),
    InvalidQuery => (BAD_REQUEST, "invalid_query", "A query parameter is malformed or out of range."),
    InvalidValue => (UNPROCESSABLE_ENTITY, "invalid_value", "A field's value breaks a validation rule."),
    Unauthenticated => (UNAUTHORIZED, "unauthenticated", "No valid API key was presented."),
    AccessDenied => (FORBIDDEN, "access_denied", "The policy does not allow this request."),
    PurposeRequired => (BAD_REQUEST, "purpose_required", "Reading personal data needs a purpose in the Custodian-Purpose header."),
    InvalidPurpose => (BAD_REQUEST, "invalid_purpose", "The Custodian-Purpose header is not a valid purpose name."),
    NotFound => (NOT_FOUND, "not_found", "The resource does not exist."),
    RouteNotFound => (NOT_FOUND, "route_not_found", "No endpoint has this path."),
    MethodNotAllowed => (METHOD_NOT_ALLOWED, "method_not_allowed", "The endpoint does not accept this method."),
    Conflict => (CONFLICT, "conflict", "The request conflicts with the current state."),
    InvalidPolicies => (UNPROCESSABLE_ENTITY, "invalid_policies", "The Cedar policy set does not parse or validate against the schema."),
    TooManyRequests => (TOO_MANY_REQUESTS, "too_many_requests", "Too many failed attempts from this address; wait and retry."),
    AuditUnavailable => (SERVICE_UNAVAILABLE, "audit_unavailable", "The audit log cannot be written, so the request was refused and nothing changed."),
    StoreUnavailable => (SERVICE_UNAVAILABLE, "store_unavailable", "The database cannot be reached."),
    CollectionNotFound => (NOT_FOUND, "collection_not_found", "No collection has this name."),
    InvalidSchema => (UNPROCESSABLE_ENTITY, "invalid_schema", "The collection schema breaks a rule (named in the message)."),
    SchemaIncompatible => (CONFLICT, "schema_incompatible", "The schema change would break stored records; the message says why."),
    UnknownField => (UNPROCESSABLE_ENTITY, "unknown_field", "The collection has no such field."),
    MissingField => (UNPROCESSABLE_ENTITY, "missing_field", "A required field is missing (or a required field cannot be removed)."),
    FieldNotSearchable => (BAD_REQUEST, "field_not_searchable", "The field has no blind index; declare it searchable to search it."),
    FieldNotTokenized => (UNPROCESSABLE_ENTITY, "field_not_tokenized", "The field's tokenization mode is none."),
    InvalidSubjectId => (UNPROCESSABLE_ENTITY, "invalid_subject_id", "Subject ids are 1 to 128 characters of A-Z, a-z, 0-9, _, -, . and :, starting with a letter or digit, and not starting with requester: (reserved for rights requests)."),
    RecordNotFound => (NOT_FOUND, "record_not_found", "No record has this id in this collection."),
    SubjectNotFound => (NOT_FOUND, "subject_not_found", "Nothing is held about this subject."),
    SubjectErased => (GONE, "subject_erased", "The subject was erased; its data is gone for good."),
    TokenNotFound => (NOT_FOUND, "token_not_found", "The token does not resolve (unknown, or its subject was erased)."),
    TokenAmbiguous => (CONFLICT, "token_ambiguous", "The token was issued in more than one field (the details list them): name the collection and field."),
    ProcessingRestricted => (FORBIDDEN, "processing_restricted", "The subject restricted processing or objected to this purpose; the refusal was audited."),
    ConcurrentChange => (CONFLICT, "concurrent_change", "The data changed concurrently; retry the request."),
    InvalidPurposeDefinition => (UNPROCESSABLE_ENTITY, "invalid_purpose_definition", "The purpose definition breaks a rule (details.field and details.rule say which)."),
    PurposeNotFound => (NOT_FOUND, "purpose_not_found", "No purpose has this key."),
    InvalidNotice => (UNPROCESSABLE_ENTITY, "invalid_notice", "The notice breaks a rule (details.field and details.rule say which)."),
    NoticeNotFound => (NOT_FOUND, "notice_not_found", "No notice (or no such version of it) has this key."),
    InvalidConsent => (UNPROCESSABLE_ENTITY, "invalid_consent", "The consent record breaks a rule (details.field and details.rule say which)."),
    ConsentEventNotFound => (NOT_FOUND, "consent_event_not_found", "No consent record has this id."),
    ConsentMissing => (FORBIDDEN, "consent_missing", "The purpose needs the subject's consent (or the subject opted out); the refusal was audited."),
    InvalidVisitorId => (UNPROCESSABLE_ENTITY, "invalid_visitor_id", "Visitor ids are the vis_ ids this server issues."),
    InvalidTcString => (UNPROCESSABLE_ENTITY, "invalid_tc_string", "The TC string cannot be decoded, or the TC string given cannot be encoded."),
    InvalidGppString => (UNPROCESSABLE_ENTITY, "invalid_gpp_string", "The GPP string cannot be decoded, or the GPP string given cannot be encoded."),
    InvalidWebhook => (UNPROCESSABLE_ENTITY, "invalid_webhook", "The webhook breaks a rule (details.field and details.rule say which)."),
    WebhookNotFound => (NOT_FOUND, "webhook_not_found", "No propagation target has this id."),
    InvalidRightsRequest => (UNPROCESSABLE_ENTITY, "invalid_rights_request", "The rights request breaks a rule (details.field and details.rule say which)."),
    NoDeadlineRule => (UNPROCESSABLE_ENTITY, "no_deadline_rule", "The jurisdiction does not grant this right (the deadline table has no rule for it); GET /v1/rights/rules lists them."),
    RightsRequestNotFound => (NOT_FOUND, "rights_request_not_found", "No rights request has this id."),
    InvalidTransition => (CONFLICT, "invalid_transition", "The step does not apply to the request in its current state; the message says why."),
    VerificationRequired => (CONFLICT, "verification_required", "The requester's identity must be verified before this step."),
    ApprovalsMissing => (CONFLICT, "approvals_missing", "The request needs more approvals before it completes (details.missing)."),
    SecondApproverRequired => (FORBIDDEN, "second_approver_required", "Another person must approve: nobody approves twice or approves what they submitted."),
    ExtensionNotAllowed => (CONFLICT, "extension_not_allowed", "The deadline cannot be extended: the law allows none, it was extended already, or the time to give notice has passed."),
    MailUnavailable => (SERVICE_UNAVAILABLE, "mail_unavailable", "Email cannot be sent (no SMTP relay is configured, or it failed); nothing was changed."),
    WrongCode => (UNPROCESSABLE_ENTITY, "wrong_code", "The verification code is wrong (details.attempts_left)."),
    CodeExpired => (GONE, "code_expired", "The verification code has expired; ask for a new one."),
    CodeAttemptsExhausted => (TOO_MANY_REQUESTS, "code_attempts_exhausted", "Too many wrong codes; ask for a new one."),
    TooManyCodes => (TOO_MANY_REQUESTS, "too_many_codes", "Every verification code this request may have was sent; an operator can verify the requester another way."),
    ExportNotFound => (NOT_FOUND, "export_not_found", "No export package has this link."),
    ExportGone => (GONE, "export_gone", "The export link was used already or has expired; the privacy team can make a new one."),
    DrpDisabled => (NOT_FOUND, "drp_disabled", "The Data Rights Protocol is not set up on this server (CUSTODIAN_DRP_CONFIG)."),
    DrpForbidden => (FORBIDDEN, "drp_forbidden", "The DRP message or token does not verify: unknown agent, bad signature, wrong agent or business, outside its validity window, or a request of another agent."),
    DrpInvalidRequest => (BAD_REQUEST, "drp_invalid_request", "The signed DRP message is not a valid request (the message says which claim)."),
    DrpExerciseUnsupported => (BAD_REQUEST, "drp_exercise_unsupported", "This business does not take this DRP exercise (sale:opt-in)."),
    DrpRequestClosed => (CONFLICT, "drp_request_closed", "The DRP request is already in a final state and cannot be revoked."),
    InvalidDataset => (UNPROCESSABLE_ENTITY, "invalid_dataset", "The dataset declaration breaks a rule (details.path and details.rule say where and which)."),
    DatasetNotFound => (NOT_FOUND, "dataset_not_found", "No dataset is declared under this key."),
    DatasetFailed => (BAD_GATEWAY, "dataset_failed", "A connected database refused a statement (details.dataset, details.collection and the database's error code say where); that database's changes were rolled back."),
    ManualTasksOpen => (CONFLICT, "manual_tasks_open", "Systems Custodian cannot reach need a person first: the request's open manual tasks (details.systems) must be done."),
    TaskNotFound => (NOT_FOUND, "task_not_found", "The request has no manual task with this id."),
    InvalidMap => (UNPROCESSABLE_ENTITY, "invalid_map", "The data map document breaks a rule (details.path and details.rule say where and which); nothing was imported."),
    InvalidMapPolicy => (UNPROCESSABLE_ENTITY, "invalid_map_policy", "The policy document breaks a rule (details.path and details.rule say where and which)."),
    MapEntryNotFound => (NOT_FOUND, "map_entry_not_found", "The data map has no entry of this kind under this key."),
    InvalidHold => (UNPROCESSABLE_ENTITY, "invalid_hold", "The legal hold breaks a rule (details.field and details.rule say which)."),
    HoldNotFound => (NOT_FOUND, "hold_not_found", "No legal hold has this id."),
    HoldReleased => (CONFLICT, "hold_already_released", "The legal hold was released already."),
    MapEntryInUse => (CONFLICT, "map_entry_in_use", "Other entries of the data map use this one (details.path and details.rule say which); change them first."),
    DatasetNotConnected => (CONFLICT, "dataset_not_connected", "The dataset has no database connection on this server (dataset_connections, or CUSTODIAN_DATASET_URL_<KEY>)."),
    DatabaseUnreachable => (BAD_GATEWAY, "database_unreachable", "The dataset's database did not answer in time."),
    ProposalNotFound => (NOT_FOUND, "proposal_not_found", "No proposal has this id."),
    ProposalDecided => (CONFLICT, "proposal_already_decided", "The proposal was accepted or rejected already."),
    DatasetChanged => (CONFLICT, "dataset_changed", "The dataset's declaration changed while the proposal was being accepted; nothing was written, try again."),
    InvalidTraining => (UNPROCESSABLE_ENTITY, "invalid_training", "The course or completion breaks a rule (details.field and details.rule say which)."),
    CourseNotFound => (NOT_FOUND, "course_not_found", "No training course has this key."),
    CourseExists => (CONFLICT, "course_exists", "A course has this key already; send its version to change it."),
    CourseChanged => (CONFLICT, "course_changed", "The course changed since the version sent was read; read it again."),
    OperatorNotFound => (NOT_FOUND, "operator_not_found", "No operator has this id."),
    InvalidIncident => (UNPROCESSABLE_ENTITY, "invalid_incident", "The incident breaks a rule (details.field and details.rule say which)."),
    IncidentNotFound => (NOT_FOUND, "incident_not_found", "No incident has this id."),
    IncidentChanged => (CONFLICT, "incident_changed", "The incident changed since the version sent was read; read it again."),
    IncidentTransition => (CONFLICT, "incident_transition", "The change does not apply to the incident or notification in its current state; the message says why."),
    NotificationNotFound => (NOT_FOUND, "notification_not_found", "The incident's jurisdictions call for no notification under this rule id."),
    InvalidLetter => (UNPROCESSABLE_ENTITY, "invalid_letter", "The letter's template or values break a rule (details.rule; details.variable names a missing or unknown variable)."),
    InvalidVendor => (UNPROCESSABLE_ENTITY, "invalid_vendor", "The vendor breaks a rule (details.path and details.rule say where and which)."),
    VendorNotFound => (NOT_FOUND, "vendor_not_found", "No vendor has this key."),
    InvalidDpia => (UNPROCESSABLE_ENTITY, "invalid_dpia", "The DPIA breaks a rule (details.path and details.rule say where and which)."),
    DpiaNotFound => (NOT_FOUND, "dpia_not_found", "No DPIA has this key."),
    DpiaTransition => (CONFLICT, "dpia_transition", "The step does not apply to the DPIA as it stands; the message says why."),
    EntryExists => (CONFLICT, "entry_exists", "An entry has this key already; send its version to change it."),
    EntryChanged => (CONFLICT, "entry_changed", "The entry changed since the version sent was read; read it again."),
    InvalidMonitoring => (UNPROCESSABLE_ENTITY, "invalid_monitoring", "The monitoring rules break a rule (details.path and details.rule say where and which)."),
    AlertNotFound => (NOT_FOUND, "alert_not_found", "No alert has this id."),
    AlertHandled => (CONFLICT, "alert_handled", "The alert was acknowledged or turned into an incident already."),
    EvidenceRace => (CONFLICT, "evidence_race", "Another evidence bundle was exported at the same time; export again (each bundle follows the one before)."),
    CompletionNotFound => (NOT_FOUND, "completion_not_found", "No training completion has this id."),
    CompletionRevoked => (CONFLICT, "completion_revoked", "The training completion was revoked already."),
    LoginFailed => (UNAUTHORIZED, "login_failed", "The login name, password or code is wrong (the answer does not say which)."),
    AccountLocked => (TOO_MANY_REQUESTS, "account_locked", "Too many wrong sign-ins: the account is locked for 15 minutes."),
    InvitationInvalid => (NOT_FOUND, "invitation_invalid", "The invitation does not exist, was used, or has expired; ask an administrator for a new one."),
    InvalidCredential => (UNPROCESSABLE_ENTITY, "invalid_credential", "The login name or password breaks a rule (details.rule says which)."),
    LoginTaken => (CONFLICT, "login_taken", "Another operator signs in with this login name."),
    CsrfFailed => (FORBIDDEN, "csrf_failed", "The form did not come from this console's own page (missing or wrong CSRF token, or another site); reload the page and retry."),
    ReauthRequired => (FORBIDDEN, "reauth_required", "This step needs a recent sign-in: confirm your password and code first."),
    InvalidForm => (UNPROCESSABLE_ENTITY, "invalid_form", "The form is missing a field or has one of the wrong shape."),
    Internal => (INTERNAL_SERVER_ERROR, "internal", "An unexpected error; the server log has the details."),
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Option<serde_json::Value>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// The error object.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable machine-readable code.
    pub code: &'static str,
    /// One line for people; never holds personal data.
    pub message: String,
    /// The request id, also in the `x-request-id` response header and the server log.
    pub request_id: String,
    /// Extra structured information (e.g. Cedar diagnostics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// An unexpected failure: logged (`what` names it and holds no personal data) and answered
/// as `internal`.
pub fn internal(what: &str) -> ApiError {
    tracing::error!("{what}");
    ApiError::new(ErrorCode::Internal)
}

impl ApiError {
    /// An error with the code's standard message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.doc().to_owned(),
            details: None,
        }
    }

    /// An error with a specific message (which must hold no personal data).
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds structured details.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error's structured details, if any.
    pub fn details_value(&self) -> Option<&serde_json::Value> {
        self.details.as_ref()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorObject {
                code: self.code.code(),
                message: self.message,
                request_id: current_request_id(),
                details: self.details,
            },
        };
        (self.code.status(), Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::new(ErrorCode::NotFound),
            StoreError::Conflict(rule) => ApiError::with_message(
                ErrorCode::Conflict,
                format!("the request conflicts with the current state ({rule})"),
            ),
            StoreError::AlreadyInitialized => {
                ApiError::with_message(ErrorCode::Conflict, "already initialised")
            }
            StoreError::AuditUnavailable(detail) => {
                tracing::error!(error = %detail, "audit write failed; request refused");
                metrics::counter!("custodian_audit_write_failures_total").increment(1);
                ApiError::new(ErrorCode::AuditUnavailable)
            }
            StoreError::Backend(detail) => {
                tracing::error!(error = %detail, "store failure");
                ApiError::new(ErrorCode::StoreUnavailable)
            }
            StoreError::Corrupt(detail) => {
                tracing::error!(error = %detail, "stored data is corrupt");
                ApiError::new(ErrorCode::Internal)
            }
        }
    }
}

impl From<custodian_core::vault::service::CryptoFailure> for ApiError {
    fn from(e: custodian_core::vault::service::CryptoFailure) -> Self {
        tracing::error!(error = %e.0, "cryptography failed");
        ApiError::new(ErrorCode::Internal)
    }
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        let field = |code, f: String, rule: &str| {
            ApiError::with_message(code, format!("{f}: {rule}"))
                .details(serde_json::json!({ "field": f, "rule": rule }))
        };
        match e {
            VaultError::CollectionNotFound => ApiError::new(ErrorCode::CollectionNotFound),
            VaultError::InvalidSchema(s) => {
                ApiError::with_message(ErrorCode::InvalidSchema, s.to_string())
                    .details(serde_json::json!({ "field": s.field, "rule": s.rule }))
            }
            VaultError::IncompatibleSchema(s) => {
                ApiError::with_message(ErrorCode::SchemaIncompatible, s.to_string())
                    .details(serde_json::json!({ "field": s.field, "rule": s.rule }))
            }
            VaultError::SchemaChanged => ApiError::with_message(
                ErrorCode::ConcurrentChange,
                "the collection changed meanwhile; read it and retry",
            ),
            VaultError::InvalidValue { field: f, rule } => field(ErrorCode::InvalidValue, f, rule),
            VaultError::UnknownField(f) => field(
                ErrorCode::UnknownField,
                f,
                "the collection has no such field",
            ),
            VaultError::MissingField(f) => {
                field(ErrorCode::MissingField, f, "the field is required")
            }
            VaultError::NotSearchable(f) => field(
                ErrorCode::FieldNotSearchable,
                f,
                "the field is not searchable",
            ),
            VaultError::NotTokenized(f) => field(
                ErrorCode::FieldNotTokenized,
                f,
                "the field is not tokenized",
            ),
            VaultError::InvalidSubject => ApiError::new(ErrorCode::InvalidSubjectId),
            VaultError::RecordNotFound => ApiError::new(ErrorCode::RecordNotFound),
            VaultError::SubjectNotFound => ApiError::new(ErrorCode::SubjectNotFound),
            VaultError::SubjectErased(at) => ApiError::new(ErrorCode::SubjectErased)
                .details(serde_json::json!({ "erased_at": at.to_string() })),
            VaultError::TokenNotFound => ApiError::new(ErrorCode::TokenNotFound),
            VaultError::NotGranted(f) => {
                ApiError::new(ErrorCode::AccessDenied).details(serde_json::json!({ "field": f }))
            }
            VaultError::Busy => ApiError::new(ErrorCode::ConcurrentChange),
            VaultError::Crypto(c) => {
                tracing::error!(error = %c, "vault cryptography failed");
                ApiError::new(ErrorCode::Internal)
            }
            VaultError::Store(s) => s.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => {
                // serde's message names the field and the expectation, never the value.
                ApiError::with_message(ErrorCode::InvalidBody, sanitize_serde(&e.body_text()))
            }
            JsonRejection::JsonSyntaxError(_) => ApiError::new(ErrorCode::MalformedJson),
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::new(ErrorCode::UnsupportedMediaType)
            }
            JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(ErrorCode::PayloadTooLarge)
            }
            _ => ApiError::new(ErrorCode::MalformedJson),
        }
    }
}

/// Describes a JSON body that does not fit its type without echoing any of the input:
/// the path (when it is identifier-like), a fixed kind of problem, and what was expected
/// (text that comes from our own types, always the last `, expected …` of serde's message).
pub(crate) fn sanitize_serde(text: &str) -> String {
    let text = text
        .strip_prefix("Failed to deserialize the JSON body into the target type: ")
        .unwrap_or(text);
    let text = text.rsplit_once(" at line ").map_or(text, |(head, _)| head);
    let safe_path = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'[' | b']'))
    };
    // serde_path_to_error puts the path first; a path has no spaces, a message does.
    let (path, inner) = match text.split_once(": ") {
        Some((p, rest)) if !p.contains(' ') => (safe_path(p).then_some(p), rest),
        _ => (None, text),
    };
    let identifier = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let kind = if let Some(rest) = inner.strip_prefix("missing field `") {
        match rest.split_once('`') {
            Some((name, _)) if identifier(name) => format!("missing field `{name}`"),
            _ => "missing field".to_owned(),
        }
    } else {
        [
            "unknown field",
            "unknown variant",
            "invalid type",
            "invalid value",
            "invalid length",
            "duplicate field",
        ]
        .into_iter()
        .find(|k| inner.starts_with(k))
        .unwrap_or("does not match the expected shape")
        .to_owned()
    };
    let expected = inner
        .rfind(", expected ")
        .map(|i| &inner[i + 2..])
        .filter(|e| !e.contains('"') && e.len() <= 300);
    let mut out = String::new();
    if let Some(p) = path {
        out.push_str(p);
        out.push_str(": ");
    }
    out.push_str(&kind);
    if let Some(e) = expected {
        out.push_str(", ");
        out.push_str(e);
    }
    out
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::new(ErrorCode::InvalidPathParameter)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(_: QueryRejection) -> Self {
        ApiError::new(ErrorCode::InvalidQuery)
    }
}

/// `Json` whose rejections answer from the error table.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// `Path` whose rejections answer from the error table.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Query` whose rejections answer from the error table.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate code {}", c.code());
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
    }

    #[test]
    fn serde_messages_lose_quoted_values() {
        let s = sanitize_serde(
            "invalid value: string \"jane@example.com\", expected u32 at line 1 column 9",
        );
        assert!(!s.contains("jane"), "{s}");
        assert!(s.contains("expected u32"));
        let v = sanitize_serde("role: unknown variant `jane`, expected one of `admin`, `dpo`");
        assert!(!v.contains("jane"), "{v}");
        assert!(v.contains("expected one of `admin`"), "{v}");
    }
}
