//! Consent: purposes, notices, the ledger (record, history, receipts), checks, imports, and
//! the public endpoints the banner calls (with Global Privacy Control).
//!
//! Consent checks are authorized but not audited one by one (they reveal an allow or a deny,
//! and run at tens of thousands per second); they are counted in
//! `custodian_consent_checks_total`. Every record, configuration change and ledger read is
//! audited, subjects by pseudonym.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use custodian_core::access::{Action, Resource, valid_purpose};
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::consent::ledger::{
    ConsentEvent, ConsentState, CurrentConsent, Method, NoticeRef, Proof, decide, expiry,
    gpc_signal, network_of, receipt_claims, valid_source,
};
use custodian_core::consent::purpose::{
    ConsentModel, OptOutKind, StoredPurpose, valid_jurisdiction, valid_language,
};
use custodian_core::ports::{ConsentChange, StoreError};
use custodian_core::vault::service::valid_subject_id;
use serde_json::json;

use crate::api::consent::*;
use crate::auth::{Caller, ClientIp};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::{authorize, decide as decide_access, draft, refuse};
use crate::middleware::RequestId;
use crate::propagation::{Outgoing, outbox_messages};
use crate::state::AppState;

/// The JWS `typ` of consent receipts.
pub const RECEIPT_TYPE: &str = "custodian-consent-receipt+jwt";
/// Most choices in one recording.
const MAX_CHOICES: usize = 64;
/// Most questions in one batch check.
const MAX_CHECKS: usize = 1000;

fn invalid(code: ErrorCode, field: &str, rule: &str) -> ApiError {
    ApiError::new(code).details(json!({ "field": field, "rule": rule }))
}

fn consent_error(field: &str, rule: &str) -> ApiError {
    invalid(ErrorCode::InvalidConsent, field, rule)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if valid_purpose(key) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::InvalidPathParameter))
    }
}

/// Defines or changes a purpose. Answers 201 when new, 200 otherwise.
#[utoipa::path(put, path = "/v1/purposes/{key}", tag = "consent", security(("bearer" = [])),
    params(("key" = String, Path, description = "Purpose key")),
    request_body = PurposeIn, responses(
    (status = 200, body = PurposeOut), (status = 201, body = PurposeOut),
    (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the version changed"),
    (status = 422, body = ErrorBody, description = "invalid_purpose_definition"),
))]
pub async fn put_purpose(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(input): ApiJson<PurposeIn>,
) -> Result<(StatusCode, ApiJson<PurposeOut>), ApiError> {
    check_key(&key)?;
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentConfigure,
        Resource::Consent,
        None,
    )
    .await?;
    let (mut purpose, expected) = input
        .purpose(&key)
        .map_err(|e| invalid(ErrorCode::InvalidPurposeDefinition, e.field, e.rule))?;
    purpose.normalize();
    purpose
        .validate()
        .map_err(|e| invalid(ErrorCode::InvalidPurposeDefinition, e.field, e.rule))?;
    permit.draft.resource = format!("purpose:{key}");
    let current = state.store.get_purpose(&key).await?;
    let expected = match (expected, &current) {
        (Some(v), _) => Some(v),
        (None, Some(c)) => Some(c.version),
        (None, None) => None,
    };
    let now = state.clock.now();
    let (version, _) = state
        .store
        .put_purpose(&purpose, expected, now, permit.draft)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::with_message(
                ErrorCode::Conflict,
                "the purpose changed concurrently (or its version is not the current one)",
            ),
            other => other.into(),
        })?;
    state
        .consent
        .invalidate(&ConsentChange::Purpose(key.clone()));
    let stored = StoredPurpose {
        purpose,
        version,
        created_at: current.as_ref().map_or(now, |c| c.created_at),
        updated_at: now,
    };
    let status = if current.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, ApiJson(PurposeOut::from(&stored))))
}

/// Every purpose.
#[utoipa::path(get, path = "/v1/purposes", tag = "consent", security(("bearer" = [])), responses(
    (status = 200, body = Vec<PurposeOut>), (status = 403, body = ErrorBody),
))]
pub async fn list_purposes(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<Vec<PurposeOut>>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRead,
        Resource::Consent,
        None,
    )
    .await?;
    permit.record(&state).await?;
    let all = state.store.list_purposes().await?;
    Ok(ApiJson(all.iter().map(PurposeOut::from).collect()))
}

/// One purpose.
#[utoipa::path(get, path = "/v1/purposes/{key}", tag = "consent", security(("bearer" = [])),
    params(("key" = String, Path, description = "Purpose key")), responses(
    (status = 200, body = PurposeOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn get_purpose(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiJson<PurposeOut>, ApiError> {
    check_key(&key)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRead,
        Resource::Consent,
        None,
    )
    .await?;
    permit.record(&state).await?;
    let p = state
        .store
        .get_purpose(&key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::PurposeNotFound))?;
    Ok(ApiJson(PurposeOut::from(&p)))
}

/// Publishes the next version of a notice. Published versions never change.
#[utoipa::path(post, path = "/v1/notices/{key}/versions", tag = "consent", security(("bearer" = [])),
    params(("key" = String, Path, description = "Notice key")),
    request_body = NoticeIn, responses(
    (status = 201, body = NoticeOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_notice"),
))]
pub async fn publish_notice(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(input): ApiJson<NoticeIn>,
) -> Result<(StatusCode, ApiJson<NoticeOut>), ApiError> {
    check_key(&key)?;
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentConfigure,
        Resource::Consent,
        None,
    )
    .await?;
    let draft = input.draft(&key);
    draft
        .validate()
        .map_err(|e| invalid(ErrorCode::InvalidNotice, e.field, e.rule))?;
    permit.draft.resource = format!("notice:{key}");
    let (notice, _) = state
        .store
        .publish_notice(&draft, state.clock.now(), permit.draft)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::with_message(
                ErrorCode::Conflict,
                "another version was published concurrently; retry",
            ),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, ApiJson(NoticeOut::from(&notice))))
}

/// Every version of a notice, oldest first.
#[utoipa::path(get, path = "/v1/notices/{key}/versions", tag = "consent", security(("bearer" = [])),
    params(("key" = String, Path, description = "Notice key")), responses(
    (status = 200, body = Vec<NoticeOut>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn notice_versions(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiJson<Vec<NoticeOut>>, ApiError> {
    check_key(&key)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRead,
        Resource::Consent,
        None,
    )
    .await?;
    permit.record(&state).await?;
    let all = state.store.notice_versions(&key).await?;
    if all.is_empty() {
        return Err(ApiError::new(ErrorCode::NoticeNotFound));
    }
    Ok(ApiJson(all.iter().map(NoticeOut::from).collect()))
}

/// One version of a notice.
#[utoipa::path(get, path = "/v1/notices/{key}/versions/{version}", tag = "consent", security(("bearer" = [])),
    params(("key" = String, Path, description = "Notice key"), ("version" = i64, Path, description = "Version")), responses(
    (status = 200, body = NoticeOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn notice_version(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath((key, version)): ApiPath<(String, i64)>,
) -> Result<ApiJson<NoticeOut>, ApiError> {
    check_key(&key)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRead,
        Resource::Consent,
        None,
    )
    .await?;
    permit.record(&state).await?;
    let n = state
        .store
        .get_notice(&key, Some(version))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NoticeNotFound))?;
    Ok(ApiJson(NoticeOut::from(&n)))
}

/// What a recording needs besides the choices.
struct Context<'a> {
    subject_id: &'a str,
    source: String,
    jurisdiction: Option<String>,
    language: Option<String>,
    notice: Option<NoticeRef>,
    proof: Proof,
}

fn proof(parts_ip: IpAddr, headers: &HeaderMap, actor: String, rid: &RequestId) -> Proof {
    Proof {
        network: Some(network_of(parts_ip)),
        user_agent_sha256: headers
            .get(axum::http::header::USER_AGENT)
            .map(|ua| hex::encode(&custodian_crypto::sha256(ua.as_bytes())[..16])),
        actor,
        request_id: rid.0.clone(),
    }
}

async fn notice_ref(
    state: &AppState,
    n: Option<NoticeRefIn>,
) -> Result<Option<NoticeRef>, ApiError> {
    let Some(n) = n else { return Ok(None) };
    if !valid_purpose(&n.key) {
        return Err(consent_error("notice.key", "notice_key"));
    }
    let found = state
        .store
        .get_notice(&n.key, Some(n.version))
        .await?
        .ok_or_else(|| consent_error("notice", "unknown_notice_version"))?;
    Ok(Some(NoticeRef {
        key: found.key,
        version: found.version,
        hash: found.content_hash,
    }))
}

fn check_context(jurisdiction: Option<&str>, language: Option<&str>) -> Result<(), ApiError> {
    if jurisdiction.is_some_and(|j| !valid_jurisdiction(j)) {
        return Err(consent_error("jurisdiction", "jurisdiction_code"));
    }
    if language.is_some_and(|l| !valid_language(l)) {
        return Err(consent_error("language", "language_tag"));
    }
    Ok(())
}

/// Validates choices into (purpose, state) pairs against the defined purposes.
async fn choices(
    state: &AppState,
    choices: &[ChoiceIn],
) -> Result<Vec<(std::sync::Arc<StoredPurpose>, ConsentState)>, ApiError> {
    if choices.is_empty() || choices.len() > MAX_CHOICES {
        return Err(consent_error("choices", "1_to_64_choices"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(choices.len());
    for c in choices {
        if !valid_purpose(&c.purpose) {
            return Err(consent_error("choices.purpose", "purpose_key"));
        }
        if !seen.insert(c.purpose.as_str()) {
            return Err(consent_error("choices.purpose", "each_purpose_once"));
        }
        let s = match ConsentState::parse(&c.state) {
            Some(s @ (ConsentState::Given | ConsentState::Refused | ConsentState::Withdrawn)) => s,
            _ => return Err(consent_error("choices.state", "given_refused_or_withdrawn")),
        };
        let p = state
            .consent
            .purpose(state.store.as_ref(), &c.purpose)
            .await?
            .ok_or_else(|| consent_error("choices.purpose", "unknown_purpose"))?;
        out.push((p, s));
    }
    Ok(out)
}

/// Records choices (one ledger record each) with their audit event, then signs receipts.
async fn record(
    state: &AppState,
    ctx: &Context<'_>,
    chosen: &[(std::sync::Arc<StoredPurpose>, ConsentState, Method)],
    audit: AuditDraft,
) -> Result<Vec<RecordedOut>, ApiError> {
    // Kept to the millisecond, as stored, so a receipt signed now and one re-signed from the
    // ledger later are the same bytes.
    let now = custodian_core::clock::to_millis(state.clock.now());
    let pseudonym = state.vault_crypto.pseudonym(ctx.subject_id);
    let events: Vec<ConsentEvent> = chosen
        .iter()
        .map(|(p, s, method)| ConsentEvent {
            id: uuid::Uuid::now_v7().to_string(),
            subject: pseudonym.clone(),
            purpose: p.purpose.key.clone(),
            state: *s,
            notice: ctx.notice.clone(),
            language: ctx.language.clone(),
            at: now,
            recorded_at: now,
            method: *method,
            source: ctx.source.clone(),
            jurisdiction: ctx.jurisdiction.clone(),
            expires_at: expiry(&p.purpose, *s, now),
            proof: ctx.proof.clone(),
            receipt_id: uuid::Uuid::new_v4().to_string(),
        })
        .collect();
    let mut audit = audit.with_subject(Some(pseudonym.clone()));
    audit.fields = events.iter().map(|e| e.purpose.clone()).collect();
    // Signed once: the same receipt goes to the caller and, in the outbox, to the targets.
    let receipts: Vec<String> = events
        .iter()
        .zip(chosen)
        .map(|(e, (p, _, _))| receipt(state, e, ctx.subject_id, Some(&p.purpose)))
        .collect();
    let outgoing: Vec<Outgoing<'_>> = events
        .iter()
        .zip(&receipts)
        .map(|(event, r)| Outgoing {
            event,
            subject_id: ctx.subject_id,
            receipt: r,
        })
        .collect();
    commit_records(state, &events, &outgoing, audit).await?;
    Ok(events
        .iter()
        .zip(receipts)
        .map(|(e, receipt)| RecordedOut {
            event_id: e.id.clone(),
            purpose: e.purpose.clone(),
            state: e.state.as_str(),
            method: e.method.as_str(),
            receipt,
        })
        .collect())
}

/// Appends records with their outbox messages and audit event, then wakes the dispatcher,
/// drops the cached states they change and counts them.
async fn commit_records(
    state: &AppState,
    events: &[ConsentEvent],
    outgoing: &[Outgoing<'_>],
    audit: AuditDraft,
) -> Result<(), ApiError> {
    let outbox = outbox_messages(state, outgoing)?;
    state.store.record_consent(events, &outbox, audit).await?;
    state.outbox_wake.notify_one();
    for e in events {
        state.consent.invalidate(&ConsentChange::Consent(
            e.subject.clone(),
            e.purpose.clone(),
        ));
        metrics::counter!("custodian_consent_records_total", "method" => e.method.as_str())
            .increment(1);
    }
    Ok(())
}

/// The signed receipt of a record (deterministic: the same record gives the same receipt).
fn receipt(
    state: &AppState,
    e: &ConsentEvent,
    subject_id: &str,
    purpose: Option<&custodian_core::consent::purpose::Purpose>,
) -> String {
    let claims = receipt_claims(
        e,
        subject_id,
        purpose,
        state.signer.name(),
        "POST /v1/consent (state withdrawn) or the consent banner's settings",
    );
    state
        .receipts
        .sign(RECEIPT_TYPE, claims.to_string().as_bytes())
}

/// Records a subject's choices (consent given, refused or withdrawn) with signed receipts.
#[utoipa::path(post, path = "/v1/consent", tag = "consent", security(("bearer" = [])),
    request_body = RecordConsentIn, responses(
    (status = 201, body = RecordConsentOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_consent or invalid_subject_id"),
))]
pub async fn record_consent(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<RecordConsentIn>,
) -> Result<(StatusCode, ApiJson<RecordConsentOut>), ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRecord,
        Resource::Consent,
        None,
    )
    .await?;
    if !valid_subject_id(&input.subject_id) {
        return Err(ApiError::new(ErrorCode::InvalidSubjectId));
    }
    let method = match input.method.as_deref() {
        None | Some("api") => Method::Api,
        Some("form") => Method::Form,
        Some(_) => return Err(consent_error("method", "api_or_form")),
    };
    if !valid_source(&input.source) {
        return Err(consent_error("source", "1_to_128_visible_ascii"));
    }
    check_context(input.jurisdiction.as_deref(), input.language.as_deref())?;
    let chosen = choices(&state, &input.choices).await?;
    let ctx = Context {
        subject_id: &input.subject_id,
        source: input.source.clone(),
        jurisdiction: input.jurisdiction.clone(),
        language: input.language.clone(),
        notice: notice_ref(&state, input.notice.clone()).await?,
        proof: proof(ip.0, &headers, caller.actor(), &rid),
    };
    let mut draft = permit.draft;
    draft.resource = "consent".into();
    let chosen: Vec<_> = chosen.into_iter().map(|(p, s)| (p, s, method)).collect();
    let recorded = record(&state, &ctx, &chosen, draft).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(RecordConsentOut {
            subject_id: input.subject_id,
            recorded,
        }),
    ))
}

/// Imported rows recorded per transaction.
const IMPORT_CHUNK: usize = 500;
/// The most refused rows an import report lists.
const IMPORT_MAX_ERRORS: usize = 1000;

/// Turns a validated import row into a ledger record (method `import`), checking what the
/// row alone cannot: the purpose and notice exist, the subject id is one, the time is past.
/// The inner error refuses the row; the outer one (the store failed) stops the import.
async fn imported_event(
    state: &AppState,
    row: custodian_core::consent::import::ImportedChoice,
    notices: &mut BTreeMap<(String, i64), NoticeRef>,
    proof: &Proof,
    now: custodian_core::Timestamp,
) -> Result<Result<Imported, &'static str>, ApiError> {
    if !valid_subject_id(&row.subject_id) {
        return Ok(Err("subject_id is not a subject id"));
    }
    let Some(p) = state
        .consent
        .purpose(state.store.as_ref(), &row.purpose)
        .await?
    else {
        return Ok(Err("purpose is not a defined purpose"));
    };
    let at = custodian_core::clock::to_millis(row.at);
    if at > now {
        return Ok(Err("at is in the future"));
    }
    let notice = match row.notice {
        None => None,
        Some(key) => match notices.get(&key) {
            Some(n) => Some(n.clone()),
            None => {
                let Some(n) = state.store.get_notice(&key.0, Some(key.1)).await? else {
                    return Ok(Err(
                        "notice_key and notice_version name no published notice",
                    ));
                };
                let r = NoticeRef {
                    key: n.key,
                    version: n.version,
                    hash: n.content_hash,
                };
                notices.insert(key, r.clone());
                Some(r)
            }
        },
    };
    let expires_at = match row.expires_at {
        Some(e) if row.state == ConsentState::Given => Some(custodian_core::clock::to_millis(e)),
        Some(_) => return Ok(Err("expires_at is only for a given consent")),
        None => expiry(&p.purpose, row.state, at),
    };
    let mut event = ConsentEvent {
        id: String::new(),
        subject: state.vault_crypto.pseudonym(&row.subject_id),
        purpose: p.purpose.key.clone(),
        state: row.state,
        notice,
        language: row.language,
        at,
        recorded_at: now,
        method: Method::Import,
        source: row.source.unwrap_or_else(|| "import".into()),
        jurisdiction: row.jurisdiction,
        expires_at,
        proof: proof.clone(),
        receipt_id: uuid::Uuid::new_v4().to_string(),
    };
    let given_expiry = row.expires_at.map(custodian_core::clock::to_millis);
    event.id = custodian_core::consent::import::import_event_id(&event, given_expiry);
    Ok(Ok(Imported {
        event,
        subject_id: row.subject_id,
        purpose: p,
    }))
}

/// An import row ready to record.
struct Imported {
    event: ConsentEvent,
    subject_id: String,
    purpose: std::sync::Arc<StoredPurpose>,
}

/// Records a chunk of imported rows in one transaction with one audit event.
async fn import_chunk(
    state: &AppState,
    rows: &mut Vec<Imported>,
    audit: &AuditDraft,
) -> Result<u64, ApiError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let events: Vec<ConsentEvent> = rows.iter().map(|r| r.event.clone()).collect();
    let events = &events;
    let mut draft = audit.clone();
    let purposes: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.purpose.as_str()).collect();
    draft.fields = purposes.into_iter().map(str::to_owned).collect();
    // The subject ids travel only in the sealed outbox messages and the receipts.
    let receipts: Vec<String> = rows
        .iter()
        .map(|r| receipt(state, &r.event, &r.subject_id, Some(&r.purpose.purpose)))
        .collect();
    let outgoing: Vec<Outgoing<'_>> = rows
        .iter()
        .zip(&receipts)
        .map(|(r, receipt)| Outgoing {
            event: &r.event,
            subject_id: &r.subject_id,
            receipt,
        })
        .collect();
    commit_records(state, events, &outgoing, draft).await?;
    let n = events.len() as u64;
    rows.clear();
    Ok(n)
}

/// Imports consent records kept elsewhere, from NDJSON (`application/x-ndjson`: one object
/// per line) or CSV (`text/csv` with a header), with the columns `subject_id`, `purpose`,
/// `state` (given, refused, withdrawn, expired), `at` (RFC 3339, when the choice was made),
/// and optionally `source`, `jurisdiction`, `language`, `notice_key` with `notice_version`,
/// and `expires_at`. Each becomes a ledger record with method `import`; an older record never
/// overrides a newer current state. Rows are validated one by one (a refused row is listed
/// by line number and rule, never its content) and recorded in transactions of 500, each
/// audited once. A row's ledger id is derived from the choice it records, so a row already
/// in the ledger (imported before, or repeated in the file) is counted as a duplicate and
/// not recorded again: an interrupted import can simply be sent again.
#[utoipa::path(post, path = "/v1/consent:import", tag = "consent", security(("bearer" = [])),
    request_body(content = String, content_type = "application/x-ndjson", description = "NDJSON rows, or CSV with Content-Type text/csv"),
    responses(
    (status = 200, body = ConsentImportOut), (status = 403, body = ErrorBody),
    (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn import(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<ApiJson<ConsentImportOut>, ApiError> {
    use custodian_core::consent::import::{CsvColumns, parse_ndjson};
    use custodian_core::vault::import::{Line, LineSplitter};

    let csv = super::import_is_csv(&headers)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRecord,
        Resource::Consent,
        None,
    )
    .await?;
    let mut audit = permit.draft;
    audit.action = "consent.import".into();
    audit.resource = "consent".into();
    let proof = proof(ip.0, &headers, caller.actor(), &rid);
    let now = custodian_core::clock::to_millis(state.clock.now());

    let mut out = ConsentImportOut {
        recorded: 0,
        duplicates: 0,
        refused: 0,
        errors: Vec::new(),
    };
    let refuse_row = |out: &mut ConsentImportOut, line: u64, reason: &str| {
        out.refused += 1;
        if out.errors.len() < IMPORT_MAX_ERRORS {
            out.errors.push(ConsentImportRowError {
                line,
                reason: reason.to_owned(),
            });
        }
    };
    let mut stream = body.into_data_stream();
    let mut splitter = if csv {
        LineSplitter::csv()
    } else {
        LineSplitter::new()
    };
    let mut columns: Option<CsvColumns> = None;
    let mut notices = BTreeMap::new();
    let mut pending = Vec::with_capacity(IMPORT_CHUNK);
    let mut done = false;
    while !done {
        let lines = match super::next_lines(&mut stream, &mut splitter).await {
            Ok((lines, end)) => {
                done = end;
                lines
            }
            Err(e) => {
                import_chunk(&state, &mut pending, &audit).await?;
                return Err(e);
            }
        };
        for line in lines {
            let (line_no, bytes) = match line {
                Line::TooLong(line_no) => {
                    refuse_row(&mut out, line_no, "the row is longer than 262144 bytes");
                    continue;
                }
                Line::Row(_, b) if b.iter().all(u8::is_ascii_whitespace) => continue,
                Line::Row(line_no, b) => (line_no, b),
            };
            let parsed = match (csv, &columns) {
                (true, None) => {
                    columns = Some(CsvColumns::parse(&bytes).map_err(|e| {
                        ApiError::with_message(
                            ErrorCode::InvalidBody,
                            format!("the CSV header: {}", e.0),
                        )
                    })?);
                    continue;
                }
                (true, Some(c)) => c.row(&bytes),
                (false, _) => parse_ndjson(&bytes),
            };
            let event = match parsed {
                Ok(row) => match imported_event(&state, row, &mut notices, &proof, now).await {
                    Ok(checked) => checked,
                    Err(e) => {
                        // The store failed: rows read so far are recorded, then the error.
                        import_chunk(&state, &mut pending, &audit).await?;
                        return Err(e);
                    }
                },
                Err(e) => Err(e.0),
            };
            match event {
                // Earlier chunks are in the store already; this one is still in memory.
                Ok(e) if pending.iter().any(|p| p.event.id == e.event.id) => out.duplicates += 1,
                Ok(e) => match state.store.consent_event(&e.event.id).await {
                    Ok(Some(_)) => out.duplicates += 1,
                    Ok(None) => pending.push(e),
                    Err(err) => {
                        import_chunk(&state, &mut pending, &audit).await?;
                        return Err(err.into());
                    }
                },
                Err(reason) => refuse_row(&mut out, line_no, reason),
            }
            if pending.len() >= IMPORT_CHUNK {
                out.recorded += import_chunk(&state, &mut pending, &audit).await?;
            }
        }
    }
    out.recorded += import_chunk(&state, &mut pending, &audit).await?;
    if csv && columns.is_none() {
        return Err(ApiError::with_message(
            ErrorCode::InvalidBody,
            "the CSV has no header line",
        ));
    }
    Ok(ApiJson(out))
}

/// A subject's consent, purpose by purpose, as checks would answer now.
#[utoipa::path(get, path = "/v1/consent/subjects/{subject_id}", tag = "consent", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id")), responses(
    (status = 200, body = SubjectConsentOut), (status = 403, body = ErrorBody),
))]
pub async fn subject_consent(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(subject_id): ApiPath<String>,
) -> Result<ApiJson<SubjectConsentOut>, ApiError> {
    if !valid_subject_id(&subject_id) {
        return Err(ApiError::new(ErrorCode::InvalidSubjectId));
    }
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRead,
        Resource::Consent,
        None,
    )
    .await?;
    let pseudonym = state.vault_crypto.pseudonym(&subject_id);
    permit.draft = permit.draft.with_subject(Some(pseudonym.clone()));
    permit.record(&state).await?;
    let now = state.clock.now();
    let current: BTreeMap<String, _> = state
        .store
        .subject_consents(&pseudonym)
        .await?
        .into_iter()
        .map(|c| (c.purpose.clone(), c))
        .collect();
    let purposes = state.store.list_purposes().await?;
    let out = purposes
        .iter()
        .map(|p| {
            let c = current.get(&p.purpose.key);
            PurposeStateOut::new(&p.purpose.key, decide(&p.purpose, c, now), c)
        })
        .collect();
    Ok(ApiJson(SubjectConsentOut {
        subject_id,
        purposes: out,
        gpp_usnat: usnat_string(&purposes, &current, now),
    }))
}

/// A subject's opt-outs as a GPP usnat string (see [`SubjectConsentOut::gpp_usnat`]).
fn usnat_string(
    purposes: &[StoredPurpose],
    current: &BTreeMap<String, CurrentConsent>,
    now: custodian_core::Timestamp,
) -> Option<String> {
    let opted_out = |kind: OptOutKind| {
        let mut covering = purposes
            .iter()
            .filter(|p| p.purpose.opt_out_kinds.contains(&kind))
            .peekable();
        covering.peek()?;
        Some(covering.any(|p| !decide(&p.purpose, current.get(&p.purpose.key), now).allowed))
    };
    let (sale, sharing, targeted, sensitive) = (
        opted_out(OptOutKind::Sale),
        opted_out(OptOutKind::Sharing),
        opted_out(OptOutKind::TargetedAdvertising),
        opted_out(OptOutKind::SensitiveData),
    );
    if [sale, sharing, targeted, sensitive]
        .iter()
        .all(Option::is_none)
    {
        return None;
    }
    let gpc = purposes.iter().any(|p| {
        p.purpose.honours_gpc()
            && current
                .get(&p.purpose.key)
                .is_some_and(|c| c.method == Method::Gpc)
    });
    let usnat = custodian_iab::gpp::UsNat::from_opt_outs(sale, sharing, targeted, sensitive, gpc);
    Some(custodian_iab::gpp::gpp_string_for_usnat(&usnat))
}

/// A subject's ledger records with their receipts, oldest first.
#[utoipa::path(get, path = "/v1/consent/subjects/{subject_id}/events", tag = "consent", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id"), EventsQuery), responses(
    (status = 200, body = ConsentEventsOut), (status = 403, body = ErrorBody),
))]
pub async fn subject_events(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(subject_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<ApiJson<ConsentEventsOut>, ApiError> {
    if !valid_subject_id(&subject_id) {
        return Err(ApiError::new(ErrorCode::InvalidSubjectId));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) || q.after.is_some_and(|a| a < 0) {
        return Err(ApiError::new(ErrorCode::InvalidQuery));
    }
    if q.purpose.as_deref().is_some_and(|p| !valid_purpose(p)) {
        return Err(ApiError::new(ErrorCode::InvalidQuery));
    }
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRead,
        Resource::Consent,
        None,
    )
    .await?;
    let pseudonym = state.vault_crypto.pseudonym(&subject_id);
    permit.draft = permit.draft.with_subject(Some(pseudonym.clone()));
    permit.record(&state).await?;
    let page = state
        .store
        .consent_events(
            &pseudonym,
            q.purpose.as_deref(),
            q.after.unwrap_or(0),
            limit,
        )
        .await?;
    let mut purposes = BTreeMap::new();
    let mut events = Vec::with_capacity(page.len());
    for (pos, e) in &page {
        if !purposes.contains_key(&e.purpose) {
            let p = state.store.get_purpose(&e.purpose).await?;
            purposes.insert(e.purpose.clone(), p);
        }
        let p = purposes
            .get(&e.purpose)
            .and_then(|p| p.as_ref())
            .map(|p| &p.purpose);
        events.push(ConsentEventOut::new(
            *pos,
            e,
            receipt(&state, e, &subject_id, p),
        ));
    }
    let next_after = (page.len() == limit as usize)
        .then(|| page.last().map(|(p, _)| *p))
        .flatten();
    Ok(ApiJson(ConsentEventsOut { events, next_after }))
}

/// The purpose of a check, once the subject id and purpose key are valid.
async fn checked_purpose(
    state: &AppState,
    subject_id: &str,
    purpose: &str,
) -> Result<std::sync::Arc<StoredPurpose>, ApiError> {
    if !valid_subject_id(subject_id) {
        return Err(ApiError::new(ErrorCode::InvalidSubjectId));
    }
    if !valid_purpose(purpose) {
        return Err(ApiError::new(ErrorCode::PurposeNotFound));
    }
    state
        .consent
        .purpose(state.store.as_ref(), purpose)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::PurposeNotFound))
}

/// The answer to one check, counted.
fn answer(
    subject_id: &str,
    p: &StoredPurpose,
    current: Option<&CurrentConsent>,
    now: custodian_core::Timestamp,
) -> CheckOut {
    let v = decide(&p.purpose, current, now);
    metrics::counter!("custodian_consent_checks_total", "allowed" => if v.allowed { "true" } else { "false" }).increment(1);
    CheckOut::new(subject_id, &p.purpose.key, v)
}

/// Checks one subject and purpose.
async fn check_one(
    state: &AppState,
    subject_id: &str,
    purpose: &str,
) -> Result<CheckOut, ApiError> {
    let p = checked_purpose(state, subject_id, purpose).await?;
    let current = if p.purpose.consent == ConsentModel::NotRequired {
        None
    } else {
        let pseudonym = state.vault_crypto.pseudonym(subject_id);
        state
            .consent
            .current(state.store.as_ref(), &pseudonym, purpose)
            .await?
    };
    Ok(answer(subject_id, &p, current.as_ref(), state.clock.now()))
}

pub(crate) async fn check_permit(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
) -> Result<(), ApiError> {
    if decide_access(state, caller, Action::ConsentCheck, Resource::Consent, None).is_some() {
        return Ok(());
    }
    let d = draft(
        state,
        caller,
        rid,
        "consent.check",
        "consent",
        Decision::Deny,
        None,
    );
    Err(refuse(
        state,
        d,
        ApiError::new(ErrorCode::AccessDenied).details(json!({ "action": "consent.check" })),
    )
    .await)
}

/// May this subject's data be used for this purpose? Answers with the basis.
#[utoipa::path(get, path = "/v1/consent/check", tag = "consent", security(("bearer" = [])),
    params(CheckQuery), responses(
    (status = 200, body = CheckOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn check(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CheckQuery>,
) -> Result<ApiJson<CheckOut>, ApiError> {
    check_permit(&state, &caller, &rid).await?;
    Ok(ApiJson(check_one(&state, &q.subject, &q.purpose).await?))
}

/// Up to 1,000 checks at once; answers in order.
#[utoipa::path(post, path = "/v1/consent/check", tag = "consent", security(("bearer" = [])),
    request_body = CheckBatchIn, responses(
    (status = 200, body = CheckBatchOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn check_batch(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<CheckBatchIn>,
) -> Result<ApiJson<CheckBatchOut>, ApiError> {
    check_permit(&state, &caller, &rid).await?;
    if input.checks.is_empty() || input.checks.len() > MAX_CHECKS {
        return Err(consent_error("checks", "1_to_1000_checks"));
    }
    // Every check is validated and its purpose resolved first (the first bad one is the
    // answer), then the states are read together: one store read for those not cached.
    let mut purposes = Vec::with_capacity(input.checks.len());
    for c in &input.checks {
        purposes.push(checked_purpose(&state, &c.subject_id, &c.purpose).await?);
    }
    let keys: Vec<(String, String)> = input
        .checks
        .iter()
        .zip(&purposes)
        .filter(|(_, p)| p.purpose.consent != ConsentModel::NotRequired)
        .map(|(c, p)| {
            (
                state.vault_crypto.pseudonym(&c.subject_id),
                p.purpose.key.clone(),
            )
        })
        .collect();
    let mut states = state
        .consent
        .current_many(state.store.as_ref(), &keys)
        .await?
        .into_iter();
    let now = state.clock.now();
    let mut results = Vec::with_capacity(input.checks.len());
    for (c, p) in input.checks.iter().zip(&purposes) {
        let current = if p.purpose.consent == ConsentModel::NotRequired {
            None
        } else {
            states.next().flatten()
        };
        results.push(answer(&c.subject_id, p, current.as_ref(), now));
    }
    Ok(ApiJson(CheckBatchOut { results }))
}

/// The public keys that verify consent receipts (a JWK set; EdDSA over Ed25519).
#[utoipa::path(get, path = "/.well-known/custodian/receipt-keys", tag = "consent", responses(
    (status = 200, description = "JWK set"),
))]
pub async fn receipt_keys(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    let k = state.receipts.jwk();
    axum::Json(json!({ "keys": [{
        "kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid, "alg": "EdDSA", "use": "sig",
    }]}))
}

/// Global Privacy Control support resource.
#[utoipa::path(get, path = "/.well-known/gpc.json", tag = "consent", responses(
    (status = 200, description = "GPC support resource"),
))]
pub async fn gpc_json(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    let date = state.clock.now().strftime("%Y-%m-%d").to_string();
    axum::Json(json!({ "gpc": true, "lastUpdate": date }))
}

/// Visitor ids the public endpoints issue: `vis_` and 32 hex digits.
fn valid_visitor(id: &str) -> bool {
    id.strip_prefix("vis_").is_some_and(|h| {
        h.len() == 32
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

fn new_visitor() -> Result<String, ApiError> {
    let r =
        custodian_crypto::random::bytes::<16>().map_err(|_| ApiError::new(ErrorCode::Internal))?;
    Ok(format!("vis_{}", hex::encode(r)))
}

fn public_source(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(|o| {
            o.trim_start_matches("https://")
                .trim_start_matches("http://")
                .to_owned()
        })
        .filter(|s| valid_source(s))
        .unwrap_or_else(|| "banner".to_owned())
}

fn gpc(headers: &HeaderMap) -> bool {
    gpc_signal(headers.get_all("sec-gpc").iter().map(|v| v.as_bytes()))
}

/// The GPC opt-outs to record for a visitor: every purpose that honours GPC and is not
/// already opted out of.
async fn gpc_opt_outs(
    state: &AppState,
    pseudonym: &str,
    skip: &HashSet<String>,
) -> Result<Vec<(std::sync::Arc<StoredPurpose>, ConsentState, Method)>, ApiError> {
    let mut out = Vec::new();
    for p in state.store.list_purposes().await? {
        if !p.purpose.honours_gpc() || skip.contains(&p.purpose.key) {
            continue;
        }
        let cur = state
            .consent
            .current(state.store.as_ref(), pseudonym, &p.purpose.key)
            .await?;
        if !matches!(
            cur.map(|c| c.state),
            Some(ConsentState::Refused | ConsentState::Withdrawn)
        ) {
            out.push((std::sync::Arc::new(p), ConsentState::Refused, Method::Gpc));
        }
    }
    Ok(out)
}

/// Carries out an opt-out request for `subject_id`: records a refusal (method
/// `rights_request`, source `rights_request:<id>`) for every purpose that honours opt-outs of
/// `kind` and is not refused or withdrawn already, with receipts and propagation like any
/// other record. `audit` is the caller's `consent.record` permit. Returns how many were
/// recorded.
pub(crate) async fn record_opt_outs(
    state: &AppState,
    subject_id: &str,
    kind: OptOutKind,
    request: &custodian_core::rights::request::RightsRequest,
    actor: String,
    rid: &RequestId,
    audit: AuditDraft,
) -> Result<usize, ApiError> {
    let pseudonym = state.vault_crypto.pseudonym(subject_id);
    let mut chosen = Vec::new();
    for p in state.store.list_purposes().await? {
        if p.purpose.consent == ConsentModel::NotRequired
            || !p.purpose.opt_out_kinds.contains(&kind)
        {
            continue;
        }
        let cur = state
            .consent
            .current(state.store.as_ref(), &pseudonym, &p.purpose.key)
            .await?;
        if !matches!(
            cur.map(|c| c.state),
            Some(ConsentState::Refused | ConsentState::Withdrawn)
        ) {
            chosen.push((
                std::sync::Arc::new(p),
                ConsentState::Refused,
                Method::RightsRequest,
            ));
        }
    }
    if chosen.is_empty() {
        return Ok(0);
    }
    let ctx = Context {
        subject_id,
        source: format!("rights_request:{}", request.id),
        jurisdiction: Some(request.jurisdiction.clone()),
        language: None,
        notice: None,
        proof: Proof {
            network: None,
            user_agent_sha256: None,
            actor,
            request_id: rid.0.clone(),
        },
    };
    Ok(record(state, &ctx, &chosen, audit).await?.len())
}

fn public_draft(state: &AppState, rid: &RequestId) -> AuditDraft {
    AuditDraft::new(
        state.clock.now(),
        &rid.0,
        "public",
        "consent.record",
        "consent",
        Decision::Allow,
    )
}

/// Public (no key): the banner's configuration and the visitor's choices. With `Sec-GPC: 1`
/// the visitor is opted out of every purpose that honours GPC (recorded, method `gpc`).
#[utoipa::path(get, path = "/v1/public/consent", tag = "consent", params(PublicQuery), responses(
    (status = 200, body = PublicConsentOut), (status = 422, body = ErrorBody),
))]
pub async fn public_get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<PublicQuery>,
) -> Result<ApiJson<PublicConsentOut>, ApiError> {
    if q.visitor_id.as_deref().is_some_and(|v| !valid_visitor(v)) {
        return Err(ApiError::new(ErrorCode::InvalidVisitorId));
    }
    let lang = q
        .lang
        .filter(|l| valid_language(l))
        .unwrap_or_else(|| "en".into());
    let signal = gpc(&headers);
    let mut visitor = q.visitor_id;
    if signal {
        let id = match visitor.clone() {
            Some(v) => v,
            None => new_visitor()?,
        };
        let pseudonym = state.vault_crypto.pseudonym(&id);
        let outs = gpc_opt_outs(&state, &pseudonym, &HashSet::new()).await?;
        if !outs.is_empty() {
            let ctx = Context {
                subject_id: &id,
                source: public_source(&headers),
                jurisdiction: None,
                language: None,
                notice: None,
                proof: proof(ip.0, &headers, "public".into(), &rid),
            };
            record(&state, &ctx, &outs, public_draft(&state, &rid)).await?;
        }
        visitor = Some(id);
    }
    Ok(ApiJson(public_view(&state, visitor, signal, &lang).await?))
}

async fn public_view(
    state: &AppState,
    visitor: Option<String>,
    signal: bool,
    lang: &str,
) -> Result<PublicConsentOut, ApiError> {
    let pseudonym = visitor.as_deref().map(|v| state.vault_crypto.pseudonym(v));
    let now = state.clock.now();
    let mut purposes = Vec::new();
    let mut notice_keys = BTreeMap::new();
    for p in state.store.list_purposes().await? {
        let p = p.purpose;
        if p.consent == ConsentModel::NotRequired {
            continue;
        }
        let pick = |m: &BTreeMap<String, String>| {
            m.get(lang)
                .or_else(|| m.get(lang.split('-').next().unwrap_or(lang)))
                .or_else(|| m.values().next())
                .cloned()
        };
        let cur = match &pseudonym {
            Some(ps) => {
                state
                    .consent
                    .current(state.store.as_ref(), ps, &p.key)
                    .await?
            }
            None => None,
        };
        if let Some(n) = &p.notice {
            notice_keys.insert(n.clone(), ());
        }
        purposes.push(PublicPurposeOut {
            key: p.key.clone(),
            name: pick(&p.names).unwrap_or_default(),
            description: pick(&p.descriptions),
            consent: p.consent.as_str(),
            honours_gpc: p.honours_gpc(),
            notice: p.notice.clone(),
            state: cur.as_ref().map(|c| c.state_at(now).as_str()),
            notice_version: cur.as_ref().and_then(|c| c.notice_version),
        });
    }
    let mut notices = Vec::new();
    for key in notice_keys.keys() {
        if let Some(n) = state.store.get_notice(key, None).await?
            && let Some((l, t)) = n.text_for(lang)
        {
            notices.push(PublicNoticeOut {
                key: n.key.clone(),
                version: n.version,
                language: l.to_owned(),
                title: t.title.clone(),
                body: t.body.clone(),
                url: t.url.clone(),
            });
        }
    }
    Ok(PublicConsentOut {
        visitor_id: visitor,
        gpc: signal,
        purposes,
        notices,
    })
}

/// Public (no key): records a visitor's choices from the banner (method `banner`) with
/// receipts. With `Sec-GPC: 1` (or `"gpc": true` from a page that saw
/// `navigator.globalPrivacyControl`), purposes that honour GPC are recorded as refused
/// (method `gpc`) whatever was chosen for them.
#[utoipa::path(post, path = "/v1/public/consent", tag = "consent", request_body = PublicChoicesIn, responses(
    (status = 201, body = RecordConsentOut), (status = 422, body = ErrorBody),
))]
pub async fn public_record(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<PublicChoicesIn>,
) -> Result<(StatusCode, ApiJson<RecordConsentOut>), ApiError> {
    let visitor = match input.visitor_id {
        Some(v) if valid_visitor(&v) => v,
        Some(_) => return Err(ApiError::new(ErrorCode::InvalidVisitorId)),
        None => new_visitor()?,
    };
    check_context(input.jurisdiction.as_deref(), input.language.as_deref())?;
    let signal = gpc(&headers) || input.gpc == Some(true);
    let chosen = if signal && input.choices.is_empty() {
        Vec::new()
    } else {
        choices(&state, &input.choices).await?
    };
    if chosen
        .iter()
        .any(|(p, _)| p.purpose.consent == ConsentModel::NotRequired)
    {
        return Err(consent_error("choices.purpose", "purpose_needs_no_choice"));
    }
    let mut all: Vec<_> = chosen
        .into_iter()
        .map(|(p, s)| {
            if signal && p.purpose.honours_gpc() {
                (p, ConsentState::Refused, Method::Gpc)
            } else {
                (p, s, Method::Banner)
            }
        })
        .collect();
    if signal {
        let pseudonym = state.vault_crypto.pseudonym(&visitor);
        let chosen_keys: HashSet<String> =
            all.iter().map(|(p, _, _)| p.purpose.key.clone()).collect();
        all.extend(gpc_opt_outs(&state, &pseudonym, &chosen_keys).await?);
    }
    let ctx = Context {
        subject_id: &visitor,
        source: public_source(&headers),
        jurisdiction: input.jurisdiction,
        language: input.language,
        notice: notice_ref(&state, input.notice).await?,
        proof: proof(ip.0, &headers, "public".into(), &rid),
    };
    let recorded = if all.is_empty() {
        // A GPC signal with no purpose that honours it: nothing to record.
        Vec::new()
    } else {
        record(&state, &ctx, &all, public_draft(&state, &rid)).await?
    };
    Ok((
        StatusCode::CREATED,
        ApiJson(RecordConsentOut {
            subject_id: visitor,
            recorded,
        }),
    ))
}
