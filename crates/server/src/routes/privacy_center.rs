//! The requester API the privacy center calls (no API key): file a request, prove control of
//! the email address with a one-time code, follow the request, withdraw it. The request id
//! (`rr_` + 122 random bits) is the requester's handle. Each address may file, and enter
//! wrong codes, only so often (the same per-address limiter as failed authentications).

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use custodian_core::rights::request::{Channel, CodeCheck};
use custodian_core::rights::workflow::{State as RState, Step};

use crate::api::rights::*;
use crate::auth::ClientIp;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody, ErrorCode};
use crate::gate::actor_draft;
use crate::middleware::RequestId;
use crate::rights::{self as svc, Extra, Filing, invalid};
use crate::routes::rights::load;
use crate::state::AppState;

/// Refuses an address over its limit, and counts this attempt against it.
fn spend(state: &AppState, ip: ClientIp) -> Result<(), ApiError> {
    let now = state.clock.now();
    if state.limiter.blocked(ip.0, now) {
        metrics::counter!("custodian_privacy_center_refusals_total").increment(1);
        return Err(ApiError::new(ErrorCode::TooManyRequests));
    }
    state.limiter.record_failure(ip.0, now);
    Ok(())
}

/// Files a request. Types that need the requester's identity verified (all but opt-outs and
/// limiting sensitive data) need an email: a six-digit code goes there at once, valid 15
/// minutes, five tries, three codes per request. Opt-outs start at once, unverified, as the
/// CCPA requires.
#[utoipa::path(post, path = "/v1/privacy-center/requests", tag = "rights",
    request_body = PublicRequestIn, responses(
    (status = 202, body = PublicRequestOut),
    (status = 422, body = ErrorBody, description = "invalid_rights_request, no_deadline_rule"),
    (status = 429, body = ErrorBody), (status = 503, body = ErrorBody, description = "mail_unavailable"),
))]
pub async fn create(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    ApiJson(input): ApiJson<PublicRequestIn>,
) -> Result<(StatusCode, ApiJson<PublicRequestOut>), ApiError> {
    spend(&state, ip)?;
    let request_type = svc::request_type(&input.request_type)?;
    let needs_code = custodian_core::rights::workflow::verification(request_type)
        != custodian_core::rights::workflow::Verification::None;
    if needs_code && input.email.is_none() {
        return Err(invalid("email", "required_for_verification"));
    }
    let requester = svc::requester(
        input.email,
        input.name,
        None,
        input.agent.map(|a| (a.name, a.email)),
    )?;
    let filing = Filing {
        request_type,
        jurisdiction: input.jurisdiction,
        time_zone: state.config.rights_time_zone.clone(),
        subject_id: None,
        requester,
        received_at: state.clock.now(),
        channel: Channel::PrivacyCenter,
        start_verification: needs_code,
        id: None,
        drp: None,
    };
    let draft = actor_draft(&state, &rid, "requester", "rights.received", "rights");
    let filed = svc::file(&state, filing, "requester", draft).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(public_out(&filed))))
}

/// Enters the code from the email. Right: the request is verified and work starts (the
/// subject is the one whose vault records hold this email, when exactly one does). Wrong:
/// 422 with the tries left; expired: 410; five wrong: 429 (ask for a new code).
#[utoipa::path(post, path = "/v1/privacy-center/requests/{id}/verify", tag = "rights",
    params(("id" = String, Path, description = "rr_…")), request_body = CodeIn, responses(
    (status = 200, body = PublicRequestOut), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "invalid_transition: no code is awaited"),
    (status = 410, body = ErrorBody, description = "code_expired"),
    (status = 422, body = ErrorBody, description = "wrong_code (details.attempts_left)"),
    (status = 429, body = ErrorBody, description = "code_attempts_exhausted, too_many_requests"),
))]
pub async fn verify(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<CodeIn>,
) -> Result<ApiJson<PublicRequestOut>, ApiError> {
    let now = state.clock.now();
    if state.limiter.blocked(ip.0, now) {
        return Err(ApiError::new(ErrorCode::TooManyRequests));
    }
    let r = load(&state, &id).await?;
    let (verdict, challenge) = svc::check_code(&state, &r, &input.code, now)?;
    let draft = |action: &str| actor_draft(&state, &rid, "requester", action, "rights");
    match verdict {
        CodeCheck::Accepted => {
            let extra = Extra {
                detail: Some("email_code".into()),
                ..Extra::default()
            };
            let next = svc::take(
                &state,
                &r,
                Some(&Step::Verified),
                "requester",
                "requester",
                extra,
                draft("rights.verified"),
            )
            .await?;
            Ok(ApiJson(public_out(&next)))
        }
        CodeCheck::Wrong(left) => {
            state.limiter.record_failure(ip.0, now);
            let extra = Extra {
                challenge: Some(challenge),
                detail: Some("wrong_code".into()),
                ..Extra::default()
            };
            svc::take(
                &state,
                &r,
                None,
                "requester",
                "requester",
                extra,
                draft("rights.verification_failed"),
            )
            .await?;
            Err(ApiError::new(ErrorCode::WrongCode)
                .details(serde_json::json!({ "attempts_left": left })))
        }
        CodeCheck::Expired => Err(ApiError::new(ErrorCode::CodeExpired)),
        CodeCheck::Exhausted => Err(ApiError::new(ErrorCode::CodeAttemptsExhausted)),
        CodeCheck::NoChallenge => Err(ApiError::with_message(
            ErrorCode::InvalidTransition,
            "this request is not waiting for a code",
        )),
    }
}

/// Sends a new code (three per request in all); the previous one stops working.
#[utoipa::path(post, path = "/v1/privacy-center/requests/{id}/resend", tag = "rights",
    params(("id" = String, Path, description = "rr_…")), responses(
    (status = 202, body = PublicRequestOut), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 429, body = ErrorBody, description = "too_many_codes"),
    (status = 503, body = ErrorBody, description = "mail_unavailable"),
))]
pub async fn resend(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, ApiJson<PublicRequestOut>), ApiError> {
    spend(&state, ip)?;
    let r = load(&state, &id).await?;
    if r.progress.state != RState::Verifying {
        return Err(ApiError::with_message(
            ErrorCode::InvalidTransition,
            "this request is not waiting for a code",
        ));
    }
    let email = svc::requester_of(&state, &r)
        .await?
        .email
        .ok_or_else(|| invalid("email", "required_for_verification"))?;
    let challenge = svc::send_code(&state, &r, &email, state.clock.now()).await?;
    let extra = Extra {
        challenge: Some(Some(challenge)),
        detail: Some("code_sent".into()),
        ..Extra::default()
    };
    let draft = actor_draft(&state, &rid, "requester", "rights.code_resent", "rights");
    let next = svc::take(&state, &r, None, "requester", "requester", extra, draft).await?;
    Ok((StatusCode::ACCEPTED, ApiJson(public_out(&next))))
}

/// Where the request stands: state, due date, whether it was extended, and a refusal's
/// reason with the right to complain. Never the requester's identity or data.
#[utoipa::path(get, path = "/v1/privacy-center/requests/{id}", tag = "rights",
    params(("id" = String, Path, description = "rr_…")), responses(
    (status = 200, body = PublicRequestOut), (status = 404, body = ErrorBody),
))]
pub async fn status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<PublicRequestOut>, ApiError> {
    Ok(ApiJson(public_out(&load(&state, &id).await?)))
}

/// Withdraws the request (while it is open).
#[utoipa::path(post, path = "/v1/privacy-center/requests/{id}/withdraw", tag = "rights",
    params(("id" = String, Path, description = "rr_…")), responses(
    (status = 200, body = PublicRequestOut), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody),
))]
pub async fn withdraw(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<PublicRequestOut>, ApiError> {
    let r = load(&state, &id).await?;
    let draft = actor_draft(&state, &rid, "requester", "rights.withdrawn", "rights");
    let next = svc::take(
        &state,
        &r,
        Some(&Step::Withdraw),
        "requester",
        "requester",
        Extra::default(),
        draft,
    )
    .await?;
    Ok(ApiJson(public_out(&next)))
}

/// Downloads an export package (a ZIP: `summary.html`, `data.json`, CSV files) through the
/// single-use link its completion gave: the first download empties it; afterwards, or once
/// the link has expired, 410. Unknown links count against the caller's address.
#[utoipa::path(get, path = "/v1/privacy-center/exports/{token}", tag = "rights",
    params(("token" = String, Path, description = "The link's token")), responses(
    (status = 200, content_type = "application/zip", description = "The package"),
    (status = 404, body = ErrorBody, description = "export_not_found"),
    (status = 410, body = ErrorBody, description = "export_gone"),
    (status = 429, body = ErrorBody),
))]
pub async fn download(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    ApiPath(token): ApiPath<String>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    use custodian_core::rights::export::ExportTake;
    let now = state.clock.now();
    if state.limiter.blocked(ip.0, now) {
        return Err(ApiError::new(ErrorCode::TooManyRequests));
    }
    let unknown = || {
        state.limiter.record_failure(ip.0, now);
        ApiError::new(ErrorCode::ExportNotFound)
    };
    if !crate::export::valid_token(&token) {
        return Err(unknown());
    }
    let draft = actor_draft(
        &state,
        &rid,
        "requester",
        "rights.export_downloaded",
        "rights_export",
    );
    let hash = custodian_crypto::sha256(token.as_bytes());
    let export = match state.store.take_rights_export(&hash, now, draft).await? {
        ExportTake::Taken(e) => e,
        ExportTake::Used | ExportTake::Expired => return Err(ApiError::new(ErrorCode::ExportGone)),
        ExportTake::Unknown => return Err(unknown()),
    };
    let key = state
        .store
        .subject_key(&custodian_core::rights::request::requester_subject(
            &export.request_id,
        ))
        .await?
        .ok_or_else(|| {
            tracing::error!("an export's requester key is missing");
            ApiError::new(ErrorCode::Internal)
        })?;
    let zip = state
        .vault_crypto
        .data_key(&key)?
        .open(&crate::export::place(&export.request_id), &export.sealed)?;
    metrics::counter!("custodian_rights_exports_downloaded_total").increment(1);
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/zip".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"personal-data-{}.zip\"",
                    export.request_id
                ),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        zip.to_vec(),
    )
        .into_response())
}
