//! Rights requests over the store, the vault's cryptography and the mailer: filing a request
//! (sealing the requester's identity under its own subject key), one-time codes, and taking
//! workflow steps with their deadlines, history, audit event and notices. The operator routes
//! (`routes::rights`) and the privacy center (`routes::privacy_center`) both go through here.

use custodian_core::Timestamp;
use custodian_core::audit::AuditDraft;
use custodian_core::rights::request::{
    CHALLENGE_SENDS, CHALLENGE_TTL, Challenge, Channel, DeadlineView, ExtensionReason,
    RIGHT_TO_COMPLAIN, Requester, RightsEvent, RightsRequest, deadlines_of, rejection_notice,
    requester_subject, retain_until,
};
use custodian_core::rights::workflow::{self, Progress, State, Step, WorkflowError};
use custodian_core::rights::{DeadlineError, RequestType, RuleSet};
use custodian_core::vault::record::{CellPlace, SubjectKey};
use custodian_core::vault::value::FieldType;
use jiff::tz::TimeZone;
use serde_json::json;
use zeroize::Zeroizing;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The place the requester's identity is sealed for.
const SEALED_FIELD: &str = "requester";
/// The blind-index scope of requests.
const SCOPE: &str = "rights_requests";

fn place(id: &str) -> CellPlace<'_> {
    CellPlace {
        collection: SCOPE,
        record: id,
        field: SEALED_FIELD,
        key_version: 1,
    }
}

/// A 422 naming the field and rule.
pub fn invalid(field: &str, rule: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRightsRequest).details(json!({ "field": field, "rule": rule }))
}

/// The rules table.
pub fn rules() -> Result<&'static RuleSet, ApiError> {
    RuleSet::shipped().map_err(|e| {
        tracing::error!(error = %e, "the shipped deadline table is broken");
        ApiError::new(ErrorCode::Internal)
    })
}

/// Parses a request type.
pub fn request_type(s: &str) -> Result<RequestType, ApiError> {
    RequestType::parse(s).ok_or_else(|| invalid("type", "known_request_type"))
}

/// A time zone by IANA name.
pub fn time_zone(name: &str) -> Result<TimeZone, ApiError> {
    if name.len() > 64 {
        return Err(invalid("time_zone", "iana_time_zone"));
    }
    TimeZone::get(name).map_err(|_| invalid("time_zone", "iana_time_zone"))
}

fn deadline_error(e: DeadlineError) -> ApiError {
    match e {
        DeadlineError::NoRule { .. } => {
            ApiError::with_message(ErrorCode::NoDeadlineRule, e.to_string())
        }
        DeadlineError::ExtensionNotAllowed { .. }
        | DeadlineError::AlreadyExtended
        | DeadlineError::ExtensionNoticeLate { .. }
        | DeadlineError::ExtensionAfterDeadline { .. } => {
            ApiError::with_message(ErrorCode::ExtensionNotAllowed, e.to_string())
        }
        _ => ApiError::with_message(ErrorCode::InvalidRightsRequest, e.to_string()),
    }
}

fn workflow_error(e: WorkflowError) -> ApiError {
    let msg = e.to_string();
    match e {
        WorkflowError::VerificationRequired => {
            ApiError::with_message(ErrorCode::VerificationRequired, msg)
        }
        WorkflowError::ApprovalsMissing(n) => {
            ApiError::with_message(ErrorCode::ApprovalsMissing, msg)
                .details(json!({ "missing": n }))
        }
        WorkflowError::SamePerson => ApiError::with_message(ErrorCode::SecondApproverRequired, msg),
        WorkflowError::AlreadyExtended => {
            ApiError::with_message(ErrorCode::ExtensionNotAllowed, msg)
        }
        WorkflowError::InvalidOperator => invalid("operator", "operator_id"),
        WorkflowError::NotNow { .. }
        | WorkflowError::VerificationNotNeeded
        | WorkflowError::ApprovalNotNeeded => {
            ApiError::with_message(ErrorCode::InvalidTransition, msg)
        }
    }
}

/// Checks that `step` may be taken now, without taking it (before fulfilling anything).
pub fn check_step(
    r: &RightsRequest,
    step: &Step,
    actor_id: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    workflow::apply(&r.progress, step, actor_id, now)
        .map(|_| ())
        .map_err(workflow_error)
}

/// A requester's free-text detail (name, customer number…): absent, or 1 to 200 printable
/// characters (422 naming `field` otherwise).
pub fn printable(field: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    match v {
        Some(v)
            if v.trim().is_empty()
                || v.chars().count() > 200
                || v.chars().any(char::is_control) =>
        {
            Err(invalid(field, "1_to_200_printable_characters"))
        }
        v => Ok(v),
    }
}

/// Validates and normalises the requester's identity.
pub fn requester(
    email: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    agent: Option<(String, Option<String>)>,
) -> Result<Requester, ApiError> {
    let email = email
        .map(|e| {
            FieldType::Email
                .normalize(&e)
                .map_err(|_| invalid("email", "email"))
        })
        .transpose()?;
    let text = printable;
    let name = text("name", name)?;
    let phone = phone
        .map(|p| {
            FieldType::Phone
                .normalize(&p)
                .map_err(|_| invalid("phone", "e164_phone"))
        })
        .transpose()?;
    let agent = match agent {
        None => None,
        Some((name, email)) => Some(custodian_core::rights::request::Agent {
            name: text("agent.name", Some(name))?.unwrap_or_default(),
            email: email
                .map(|e| {
                    FieldType::Email
                        .normalize(&e)
                        .map_err(|_| invalid("agent.email", "email"))
                })
                .transpose()?,
        }),
    };
    Ok(Requester {
        email,
        name,
        phone,
        agent,
        customer_id: None,
    })
}

/// The keyed hash of a verification code, bound to its request.
fn code_hash(state: &AppState, id: &str, code: &str) -> Result<Vec<u8>, ApiError> {
    Ok(state
        .vault_crypto
        .blind_index(SCOPE, "verification_code", &format!("{id}\u{1f}{code}"))?)
}

/// The blind index of a requester's email.
pub fn email_index(state: &AppState, normalized: &str) -> Result<Vec<u8>, ApiError> {
    Ok(state.vault_crypto.blind_index(SCOPE, "email", normalized)?)
}

/// A new six-digit code (uniform, from the OS CSPRNG).
fn new_code() -> Result<Zeroizing<String>, ApiError> {
    loop {
        let b = custodian_crypto::random::bytes::<4>()
            .map_err(|_| ApiError::new(ErrorCode::Internal))?;
        let n = u32::from_be_bytes(b);
        // Reject the top of the range so every code is equally likely.
        if n < 4_294_000_000 {
            return Ok(Zeroizing::new(format!("{:06}", n % 1_000_000)));
        }
    }
}

/// Emails a new code for request `r` to `email` and returns the challenge to store; refused
/// once every allowed code was sent. Nothing is stored here.
pub async fn send_code(
    state: &AppState,
    r: &RightsRequest,
    email: &str,
    now: Timestamp,
) -> Result<Challenge, ApiError> {
    let sends = r.challenge.as_ref().map_or(0, |c| c.sends);
    if sends >= CHALLENGE_SENDS {
        return Err(ApiError::new(ErrorCode::TooManyCodes));
    }
    let mailer = state.mailer.as_ref().ok_or_else(|| {
        ApiError::with_message(ErrorCode::MailUnavailable, "no SMTP relay is configured")
    })?;
    let code = new_code()?;
    let body = format!(
        "Your verification code for your {} request ({}) is:\n\n    {}\n\nIt is valid for {} minutes. If you did not make this request, ignore this message.\n",
        r.request_type().as_str().replace('_', " "),
        r.id,
        code.as_str(),
        CHALLENGE_TTL.as_mins()
    );
    let challenge = Challenge {
        code_hash: code_hash(state, &r.id, &code)?,
        expires_at: now.checked_add(CHALLENGE_TTL).unwrap_or(now),
        attempts: 0,
        sends: sends + 1,
    };
    mailer
        .send(email, "Your verification code", body)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "verification code not sent");
            metrics::counter!("custodian_mail_failures_total").increment(1);
            ApiError::with_message(ErrorCode::MailUnavailable, e.to_string())
        })?;
    metrics::counter!("custodian_mail_sent_total", "kind" => "verification_code").increment(1);
    Ok(challenge)
}

/// Checks a code against the request's challenge (the hash, in constant time).
pub fn check_code(
    state: &AppState,
    r: &RightsRequest,
    code: &str,
    now: Timestamp,
) -> Result<
    (
        custodian_core::rights::request::CodeCheck,
        Option<Challenge>,
    ),
    ApiError,
> {
    use custodian_core::rights::request::CodeCheck;
    let Some(c) = r
        .challenge
        .as_ref()
        .filter(|_| r.progress.state == State::Verifying)
    else {
        return Ok((CodeCheck::NoChallenge, None));
    };
    let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let given = if well_formed {
        code_hash(state, &r.id, code)?
    } else {
        Vec::new()
    };
    let (verdict, next) = c.check(&given, now);
    Ok((verdict, Some(next)))
}

/// Opens the requester's identity of `r`.
pub fn open_requester(
    state: &AppState,
    key: &SubjectKey,
    r: &RightsRequest,
) -> Result<Requester, ApiError> {
    let dk = state.vault_crypto.data_key(key)?;
    let plain = dk.open(&place(&r.id), &r.requester_sealed)?;
    Requester::decode(&plain).ok_or_else(|| {
        tracing::error!("a sealed requester cannot be read");
        ApiError::new(ErrorCode::Internal)
    })
}

/// Reads the requester's identity (its key from the store).
pub async fn requester_of(state: &AppState, r: &RightsRequest) -> Result<Requester, ApiError> {
    let key = state
        .store
        .subject_key(&requester_subject(&r.id))
        .await?
        .ok_or_else(|| {
            tracing::error!("a rights request's requester key is missing");
            ApiError::new(ErrorCode::Internal)
        })?;
    open_requester(state, &key, r)
}

/// What a new request is.
pub struct Filing {
    /// Type.
    pub request_type: RequestType,
    /// Jurisdiction key.
    pub jurisdiction: String,
    /// Time zone name (validated by [`file`]).
    pub time_zone: String,
    /// The subject, if known.
    pub subject_id: Option<String>,
    /// Who asks.
    pub requester: Requester,
    /// When it arrived.
    pub received_at: Timestamp,
    /// How.
    pub channel: Channel,
    /// A code to send now (privacy center: verification starts at once).
    pub start_verification: bool,
    /// The id to file under (DRP: derived from the signed message); none: a new random one.
    pub id: Option<String>,
    /// The agent that filed it over the Data Rights Protocol.
    pub drp: Option<custodian_core::rights::drp::DrpLink>,
}

/// Files a request: computes its deadlines, seals the requester under a new subject key,
/// starts it at once when its type needs no verification (opt-outs), or sends the first
/// code when `start_verification`, and stores it with its first history entry and `audit`.
pub async fn file(
    state: &AppState,
    f: Filing,
    actor: &str,
    mut audit: AuditDraft,
) -> Result<RightsRequest, ApiError> {
    let rules = rules()?;
    let tz = time_zone(&f.time_zone)?;
    rules
        .rule(&f.jurisdiction, f.request_type)
        .map_err(deadline_error)?;
    let now = state.clock.now();
    let id =
        f.id.unwrap_or_else(|| format!("rr_{}", uuid::Uuid::new_v4().simple()));
    let mut progress = Progress::new(f.request_type);
    let mut detail = None;
    if workflow::verification(f.request_type) == workflow::Verification::None {
        progress = workflow::apply(&progress, &Step::Start, actor, now).map_err(workflow_error)?;
        detail = Some("started".to_owned());
    } else if f.start_verification {
        progress = workflow::apply(&progress, &Step::StartVerification, actor, now)
            .map_err(workflow_error)?;
        detail = Some("code_sent".to_owned());
    }
    let deadlines = deadlines_of(rules, &f.jurisdiction, &progress, f.received_at, &tz)
        .map_err(deadline_error)?;
    let subject = requester_subject(&id);
    let dk = state.vault_crypto.new_data_key(&subject)?;
    let key = SubjectKey {
        subject_id: subject,
        key_version: 1,
        kek_id: dk.kek_id,
        wrapped_dek: dk.wrapped,
        created_at: now,
    };
    let sealed = dk.key.seal(&place(&id), &f.requester.encode())?;
    let email_index = f
        .requester
        .email
        .as_deref()
        .map(|e| email_index(state, e))
        .transpose()?;
    let mut request = RightsRequest {
        id: id.clone(),
        jurisdiction: f.jurisdiction,
        time_zone: f.time_zone,
        rules_version: rules.version().to_owned(),
        channel: f.channel,
        subject_id: f.subject_id,
        requester_sealed: sealed,
        email_index,
        progress,
        extension_reason: None,
        received_at: f.received_at,
        deadlines: deadlines.as_ref().map(DeadlineView::from),
        closed_at: None,
        retain_until: None,
        challenge: None,
        version: 1,
        updated_at: now,
        drp: f.drp,
    };
    if request.progress.state == State::Verifying {
        let email = f
            .requester
            .email
            .as_deref()
            .ok_or_else(|| invalid("email", "required_for_verification"))?;
        request.challenge = Some(send_code(state, &request, email, now).await?);
    }
    let event = RightsEvent {
        request_id: id.clone(),
        seq: 1,
        at: now,
        actor: actor.to_owned(),
        action: "rights.received".to_owned(),
        state: request.progress.state,
        detail,
    };
    audit.action = "rights.received".to_owned();
    audit.resource = format!("rights_request:{id}");
    audit.subject = request
        .subject_id
        .as_deref()
        .map(|s| state.vault().pseudonym(s));
    state
        .store
        .create_rights_request(&request, &key, &event, audit)
        .await?;
    metrics::counter!("custodian_rights_requests_total", "type" => f.request_type.as_str(), "channel" => request.channel.as_str())
        .increment(1);
    Ok(request)
}

/// A change to a request beyond its workflow progress.
#[derive(Default)]
pub struct Extra {
    /// Why the deadline is being extended (`Step::Extend`).
    pub extension_reason: Option<ExtensionReason>,
    /// The subject to link the request to.
    pub subject_id: Option<String>,
    /// The challenge to store (sent or checked).
    pub challenge: Option<Option<Challenge>>,
    /// The history detail.
    pub detail: Option<String>,
}

/// Applies `step` (none: only `extra`) to `r` as `actor` and stores it over the version read,
/// with its history entry and `audit` (whose action becomes the step's). Recomputes the
/// deadlines; closes the record (retention starts) on a final state; on verification, links
/// the subject whose vault records hold the requester's email when exactly one does.
pub async fn take(
    state: &AppState,
    r: &RightsRequest,
    step: Option<&Step>,
    actor: &str,
    actor_id: &str,
    extra: Extra,
    mut audit: AuditDraft,
) -> Result<RightsRequest, ApiError> {
    let now = state.clock.now();
    let mut next = r.clone();
    if let Some(step) = step {
        next.progress =
            workflow::apply(&r.progress, step, actor_id, now).map_err(workflow_error)?;
        audit.action = step.action().to_owned();
    }
    if let Some(reason) = extra.extension_reason {
        next.extension_reason = Some(reason);
    }
    if let Some(c) = extra.challenge {
        next.challenge = c;
    }
    if let Some(s) = extra.subject_id {
        next.subject_id = Some(s);
    }
    if matches!(step, Some(Step::Verified)) {
        next.challenge = None;
        if next.subject_id.is_none()
            && let Some(email) = requester_of(state, r).await?.email
        {
            let subjects = state.vault().subjects_with_email(&email).await?;
            if let [only] = subjects.as_slice() {
                next.subject_id = Some(only.clone());
            }
        }
    }
    let tz = time_zone(&r.time_zone)?;
    next.deadlines = deadlines_of(
        rules()?,
        &r.jurisdiction,
        &next.progress,
        r.received_at,
        &tz,
    )
    .map_err(deadline_error)?
    .as_ref()
    .map(DeadlineView::from);
    if next.progress.state.is_final() && next.closed_at.is_none() {
        next.closed_at = Some(now);
        next.retain_until = Some(retain_until(now));
        next.challenge = None;
    }
    next.version = r.version + 1;
    next.updated_at = now;
    let event = RightsEvent {
        request_id: r.id.clone(),
        seq: next.version,
        at: now,
        actor: actor.to_owned(),
        action: audit.action.clone(),
        state: next.progress.state,
        detail: extra.detail,
    };
    audit.resource = format!("rights_request:{}", r.id);
    audit.subject = next
        .subject_id
        .as_deref()
        .map(|s| state.vault().pseudonym(s));
    match state
        .store
        .update_rights_request(&next, r.version, Some(&event), audit)
        .await
    {
        Ok(_) => {
            crate::drp::push_status(state, r, &next);
            Ok(next)
        }
        Err(custodian_core::ports::StoreError::Conflict("version")) => Err(ApiError::with_message(
            ErrorCode::ConcurrentChange,
            "the request changed meanwhile; read it again",
        )),
        Err(custodian_core::ports::StoreError::NotFound) => {
            Err(ApiError::new(ErrorCode::RightsRequestNotFound))
        }
        Err(e) => Err(e.into()),
    }
}

/// Emails the requester the notice a step owes them (an extension, a refusal, the request
/// done, with the download link of its package if it has one); `None` when the step owes none, `Some(false)` when it could not be sent (no relay,
/// no email, or the relay failed: an operator must tell them another way).
pub async fn notify(
    state: &AppState,
    r: &RightsRequest,
    step: &Step,
    export: Option<&crate::export::ExportLink>,
) -> Option<bool> {
    let (subject, body) = match step {
        Step::Extend => {
            let due = r.deadlines.as_ref().map(|d| d.due.date.to_string())?;
            let why = r
                .extension_reason
                .map_or("the circumstances of the request", |x| match x {
                    ExtensionReason::Complexity => "its complexity",
                    ExtensionReason::NumberOfRequests => "the number of requests we received",
                    ExtensionReason::ReasonablyNecessary => "the time it reasonably needs",
                });
            (
                "We need more time for your request",
                format!(
                    "We need more time to answer your {} request ({}) because of {why}. We will answer by {due}.\n",
                    r.request_type().as_str().replace('_', " "),
                    r.id
                ),
            )
        }
        Step::Reject { reason } => (
            "Your request was declined",
            format!(
                "We cannot act on your {} request ({}). {} {RIGHT_TO_COMPLAIN}\n",
                r.request_type().as_str().replace('_', " "),
                r.id,
                rejection_notice(*reason)
            ),
        ),
        Step::Complete => (
            "Your request is complete",
            format!(
                "Your {} request ({}) is complete.\n{}",
                r.request_type().as_str().replace('_', " "),
                r.id,
                export.map_or_else(String::new, |e| format!(
                    "\nDownload your data here. The link works once, until {} (UTC):\n{}\n",
                    e.expires_at.strftime("%Y-%m-%d %H:%M"),
                    e.url
                )),
            ),
        ),
        _ => return None,
    };
    let Some(mailer) = state.mailer.as_ref() else {
        return Some(false);
    };
    let email = match requester_of(state, r).await {
        Ok(Requester {
            email: Some(email), ..
        }) => email,
        _ => return Some(false),
    };
    match mailer.send(&email, subject, body).await {
        Ok(()) => {
            metrics::counter!("custodian_mail_sent_total", "kind" => "rights_notice").increment(1);
            Some(true)
        }
        Err(e) => {
            tracing::warn!(error = %e, "rights notice not sent");
            metrics::counter!("custodian_mail_failures_total").increment(1);
            Some(false)
        }
    }
}

/// Emails the privacy team (`rights_reminders_to`) about each open request whose deadline is
/// near or past: once when it is due within 7 days, once within 1 day, once overdue (a request
/// first seen closer to its deadline gets only the later reminder). Each reminder is a history
/// entry (`rights.reminder_sent`, detail `7_days`, `1_day` or `overdue`), so none is sent twice,
/// by this process or another. The mail names the request, never the requester. Returns how
/// many were sent.
pub async fn send_reminders(state: &AppState) -> Result<usize, ApiError> {
    let (Some(mailer), Some(to)) = (
        state.mailer.as_ref(),
        state.config.rights_reminders_to.as_deref(),
    ) else {
        return Ok(0);
    };
    let now = state.clock.now();
    let day = jiff::SignedDuration::from_hours(24);
    let horizon = now.checked_add(day * 7).unwrap_or(now);
    let mut filter = custodian_core::ports::RightsFilter {
        open: true,
        due_before: Some(horizon),
        ..Default::default()
    };
    let mut sent = 0;
    loop {
        let page = state.store.list_rights_requests(&filter, 200).await?;
        for r in &page {
            let Some(d) = &r.deadlines else { continue };
            let label = if d.due.is_overdue_at(now) {
                "overdue"
            } else if d.due.end <= now.checked_add(day).unwrap_or(now) {
                "1_day"
            } else {
                "7_days"
            };
            let history = state.store.rights_events(&r.id).await?;
            if history
                .iter()
                .any(|e| e.action == "rights.reminder_sent" && e.detail.as_deref() == Some(label))
            {
                continue;
            }
            let body = format!(
                "Rights request {id} ({ty}, {j}) {when} {date} ({zone}).\nState: {state}. Assignee: {who}.\n",
                id = r.id,
                ty = r.request_type().as_str(),
                j = r.jurisdiction,
                when = if label == "overdue" {
                    "was due on"
                } else {
                    "is due on"
                },
                date = d.due.date,
                zone = r.time_zone,
                state = r.progress.state.as_str(),
                who = r.progress.assignee.as_deref().unwrap_or("nobody"),
            );
            let subject = format!("Rights request {} {}", r.id, label.replace('_', " "));
            if let Err(e) = mailer.send(to, &subject, body).await {
                tracing::warn!(error = %e, "rights reminder not sent");
                metrics::counter!("custodian_mail_failures_total").increment(1);
                continue;
            }
            metrics::counter!("custodian_mail_sent_total", "kind" => "rights_reminder")
                .increment(1);
            let draft = AuditDraft::new(
                now,
                "rights-reminders",
                "system",
                "rights.reminder_sent",
                "rights",
                custodian_core::audit::Decision::Allow,
            );
            let extra = Extra {
                detail: Some(label.to_owned()),
                ..Extra::default()
            };
            // A request that changed meanwhile is reminded again next round if still due.
            if take(state, r, None, "system", "system", extra, draft)
                .await
                .is_ok()
            {
                sent += 1;
            }
        }
        if page.len() < 200 {
            break;
        }
        filter.after = page.last().map(|r| r.id.clone());
    }
    Ok(sent)
}
