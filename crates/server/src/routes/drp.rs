//! The Data Rights Protocol 1.0 endpoints a Covered Business serves (§2.02–2.06). Agents
//! authenticate with the pair-wise token from `POST /v1/agent/{id}` and sign every body
//! (Ed25519, libsodium combined mode, base64). Errors are the protocol's error object
//! (`code`, `message`, `fatal`) plus our stable code in `error`; a failed pairing is a
//! bare 403, as §2.05.1 says. Every refusal counts against the caller's address.

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use custodian_core::rights::drp::{
    DrpLink, DrpRefusal, read_exercise, read_pairing, read_revoke, request_id_for_message,
    request_id_of,
};
use custodian_core::rights::request::Channel;
use custodian_core::rights::workflow::{self, State as RState, Step};
use serde_json::{Value, json};

use crate::auth::ClientIp;
use crate::drp::{DrpAgent, DrpConfig, status, valid_callback};
use crate::error::{ApiError, ApiPath, ErrorCode, current_request_id};
use crate::gate::actor_draft;
use crate::middleware::RequestId;
use crate::rights::{self as svc, Extra, Filing};
use crate::routes::rights::load;
use crate::state::AppState;

/// A refusal in the protocol's error shape.
pub struct DrpError {
    code: ErrorCode,
    message: String,
    bare: bool,
}

impl DrpError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            bare: false,
        }
    }
}

impl From<ApiError> for DrpError {
    fn from(e: ApiError) -> Self {
        Self::new(e.code(), e.message())
    }
}

impl IntoResponse for DrpError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        if self.bare {
            return status.into_response();
        }
        let body = json!({
            "code": status.as_u16().to_string(),
            "message": self.message,
            // Fatal: sending the same message again cannot succeed.
            "fatal": !status.is_server_error() && status != StatusCode::TOO_MANY_REQUESTS,
            "error": self.code.code(),
            "request_id": current_request_id(),
        });
        (status, Json(body)).into_response()
    }
}

fn config(state: &AppState) -> Result<&DrpConfig, DrpError> {
    state
        .config
        .drp
        .as_deref()
        .ok_or_else(|| DrpError::new(ErrorCode::DrpDisabled, ErrorCode::DrpDisabled.doc()))
}

/// Refuses the address when it is over its limit of failures.
fn not_blocked(state: &AppState, ip: ClientIp) -> Result<(), DrpError> {
    if state.limiter.blocked(ip.0, state.clock.now()) {
        return Err(ApiError::new(ErrorCode::TooManyRequests).into());
    }
    Ok(())
}

/// A 403 that counts against the caller's address.
fn forbidden(state: &AppState, ip: ClientIp, why: &str) -> DrpError {
    state.limiter.record_failure(ip.0, state.clock.now());
    metrics::counter!("custodian_drp_refusals_total").increment(1);
    DrpError::new(ErrorCode::DrpForbidden, why)
}

fn refusal(state: &AppState, ip: ClientIp, r: DrpRefusal) -> DrpError {
    match r {
        DrpRefusal::Malformed(_)
        | DrpRefusal::Invalid(_)
        | DrpRefusal::UnknownExercise
        | DrpRefusal::UnknownRegime
        | DrpRefusal::Version => DrpError::new(ErrorCode::DrpInvalidRequest, r.to_string()),
        DrpRefusal::UnsupportedExercise => {
            DrpError::new(ErrorCode::DrpExerciseUnsupported, r.to_string())
        }
        DrpRefusal::WrongAgent
        | DrpRefusal::WrongBusiness
        | DrpRefusal::NotYetValid
        | DrpRefusal::Expired
        | DrpRefusal::WindowTooLong => forbidden(state, ip, &r.to_string()),
    }
}

/// The agent the bearer token belongs to (and that is still in the directory).
async fn bearer<'c>(
    state: &AppState,
    cfg: &'c DrpConfig,
    ip: ClientIp,
    headers: &HeaderMap,
) -> Result<&'c DrpAgent, DrpError> {
    not_blocked(state, ip)?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .ok_or_else(|| forbidden(state, ip, "a DRP bearer token is required"))?;
    let hash = custodian_crypto::sha256(token.as_bytes());
    let agent_id = state
        .store
        .drp_agent_by_token(&hash)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(|| forbidden(state, ip, "the bearer token is not valid"))?;
    cfg.agent(&agent_id)
        .ok_or_else(|| forbidden(state, ip, "the agent is no longer in the directory"))
}

fn open(
    state: &AppState,
    ip: ClientIp,
    agent: &DrpAgent,
    body: &[u8],
) -> Result<Vec<u8>, DrpError> {
    agent
        .verify_key
        .open(body)
        .map_err(|e| forbidden(state, ip, &e.to_string()))
}

fn status_json(
    state: &AppState,
    r: &custodian_core::rights::request::RightsRequest,
) -> Result<Json<Value>, DrpError> {
    status(state, r).map(Json).ok_or_else(|| {
        DrpError::new(
            ErrorCode::RightsRequestNotFound,
            "no DRP request has this id",
        )
    })
}

/// Pair-wise key setup (§2.05): the agent signs `{agent-id, business-id, issued-at,
/// expires-at, drp.version}` and gets a bearer token, replacing any earlier one. Any
/// failure is a bare 403.
#[utoipa::path(post, path = "/v1/agent/{agent_id}", tag = "drp",
    params(("agent_id" = String, Path, description = "The agent's directory id")),
    request_body(content = String, content_type = "text/plain", description = "base64(Ed25519 signature ‖ JSON)"),
    responses(
        (status = 200, description = "`{\"agent-id\": …, \"token\": …}`"),
        (status = 403, description = "Unknown agent, bad signature or claims (no body)"),
        (status = 404, description = "drp_disabled"),
))]
pub async fn pair(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    ApiPath(agent_id): ApiPath<String>,
    body: Bytes,
) -> Result<Json<Value>, DrpError> {
    let cfg = config(&state)?;
    not_blocked(&state, ip)?;
    let bare = |why: &str| {
        let mut e = forbidden(&state, ip, why);
        e.bare = true;
        e
    };
    let agent = cfg.agent(&agent_id).ok_or_else(|| bare("unknown agent"))?;
    let msg = agent
        .verify_key
        .open(&body)
        .map_err(|_| bare("signature"))?;
    let envelope = read_pairing(&msg).map_err(|_| bare("message"))?;
    envelope
        .check(&agent.id, &cfg.business_id, state.clock.now())
        .map_err(|_| bare("claims"))?;
    let secret = custodian_crypto::random::bytes::<32>().map_err(|_| {
        tracing::error!("the system random source failed");
        DrpError::from(ApiError::new(ErrorCode::Internal))
    })?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let actor = format!("drp:{}", agent.id);
    let draft = actor_draft(
        &state,
        &rid,
        &actor,
        "drp.agent_paired",
        &format!("drp_agent:{}", agent.id),
    );
    state
        .store
        .pair_drp_agent(
            &agent.id,
            &custodian_crypto::sha256(token.as_bytes()),
            state.clock.now(),
            draft,
        )
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({ "agent-id": agent.id, "token": token })))
}

/// Agent information (§2.06): `{}` while the token is valid for this agent, 403 otherwise.
#[utoipa::path(get, path = "/v1/agent/{agent_id}", tag = "drp", security(("bearer" = [])),
    params(("agent_id" = String, Path, description = "The agent's directory id")),
    responses((status = 200, description = "`{}`"), (status = 403, description = "drp_forbidden")))]
pub async fn agent_info(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    ApiPath(agent_id): ApiPath<String>,
) -> Result<Json<Value>, DrpError> {
    let cfg = config(&state)?;
    let agent = bearer(&state, cfg, ip, &headers).await?;
    if agent.id != agent_id {
        return Err(forbidden(&state, ip, "the token belongs to another agent"));
    }
    Ok(Json(json!({})))
}

/// Data rights exercise (§2.02). Files a request of the type the exercise names, under the
/// CCPA's deadlines (or the configured jurisdiction's, for a voluntary request), and
/// answers its Exercise Status. Access and deletion need the requester's email: a one-time
/// code goes there (`in_progress` / `need_user_verification`). The same signed message sent
/// again answers the request it filed.
#[utoipa::path(post, path = "/v1/data-rights-request", tag = "drp", security(("bearer" = [])),
    request_body(content = String, content_type = "text/plain", description = "base64(Ed25519 signature ‖ JSON exercise request)"),
    responses(
        (status = 200, description = "Exercise Status object (DRP §3.03)"),
        (status = 400, description = "drp_invalid_request, drp_exercise_unsupported"),
        (status = 403, description = "drp_forbidden"),
        (status = 404, description = "drp_disabled"),
))]
pub async fn exercise(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, DrpError> {
    let cfg = config(&state)?;
    let agent = bearer(&state, cfg, ip, &headers).await?;
    let msg = open(&state, ip, agent, &body)?;
    let req = read_exercise(&msg).map_err(|r| refusal(&state, ip, r))?;
    req.envelope
        .check(&agent.id, &cfg.business_id, state.clock.now())
        .map_err(|r| refusal(&state, ip, r))?;
    let request_type = req
        .exercise
        .request_type()
        .ok_or_else(|| refusal(&state, ip, DrpRefusal::UnsupportedExercise))?;
    if req
        .status_callback
        .as_deref()
        .is_some_and(|u| !valid_callback(u))
    {
        return Err(DrpError::new(
            ErrorCode::DrpInvalidRequest,
            "status_callback must be an https URL (or http on a loopback address)",
        ));
    }
    let id = request_id_for_message(&msg);
    if let Some(existing) = state
        .store
        .get_rights_request(&id)
        .await
        .map_err(ApiError::from)?
    {
        return replay(&state, ip, agent, &existing);
    }
    let needs_code = workflow::verification(request_type) != workflow::Verification::None;
    if needs_code && req.email.is_none() {
        return Err(DrpError::new(
            ErrorCode::DrpInvalidRequest,
            "email is required: access and deletion requests are verified by a code sent to it",
        ));
    }
    let requester = svc::requester(
        req.email,
        req.name,
        req.phone_number,
        Some((agent.name.clone(), None)),
    )?;
    let jurisdiction = match req.regime.as_deref() {
        Some(_) => "CCPA".to_owned(),
        None => cfg.voluntary_jurisdiction.clone(),
    };
    let link = DrpLink {
        agent_id: agent.id.clone(),
        agent_request_id: req.agent_request_id,
        exercise: req.exercise,
        regime: req.regime,
        status_callback: req.status_callback,
    };
    let filing = Filing {
        request_type,
        jurisdiction,
        time_zone: state.config.rights_time_zone.clone(),
        subject_id: None,
        requester,
        received_at: state.clock.now(),
        channel: Channel::Drp,
        // Without a mail relay the request waits in `received` for an operator to verify it.
        start_verification: needs_code && state.mailer.is_some(),
        id: Some(id.clone()),
        drp: Some(link),
    };
    let actor = format!("drp:{}", agent.id);
    let draft = actor_draft(&state, &rid, &actor, "rights.received", "rights");
    match svc::file(&state, filing, &actor, draft).await {
        Ok(filed) => status_json(&state, &filed),
        // The same message, sent twice at once: the other one filed it.
        Err(e) if e.code() == ErrorCode::Conflict => {
            let existing = load(&state, &id).await?;
            replay(&state, ip, agent, &existing)
        }
        Err(e) => Err(e.into()),
    }
}

fn replay(
    state: &AppState,
    ip: ClientIp,
    agent: &DrpAgent,
    existing: &custodian_core::rights::request::RightsRequest,
) -> Result<Json<Value>, DrpError> {
    match &existing.drp {
        Some(l) if l.agent_id == agent.id => status_json(state, existing),
        _ => Err(forbidden(state, ip, "the request belongs to another agent")),
    }
}

async fn owned(
    state: &AppState,
    ip: ClientIp,
    agent: &DrpAgent,
    request_id: &str,
) -> Result<custodian_core::rights::request::RightsRequest, DrpError> {
    let id = request_id_of(request_id).ok_or_else(|| {
        DrpError::new(
            ErrorCode::InvalidPathParameter,
            "the request id is not a UUID",
        )
    })?;
    let r = load(state, &id).await?;
    match &r.drp {
        Some(l) if l.agent_id == agent.id => Ok(r),
        _ => Err(forbidden(state, ip, "the request belongs to another agent")),
    }
}

/// Data rights status (§2.03): the Exercise Status of one of this agent's requests.
#[utoipa::path(get, path = "/v1/data-rights-request/{request_id}", tag = "drp", security(("bearer" = [])),
    params(("request_id" = String, Path, description = "The DRP request id (UUID)")),
    responses(
        (status = 200, description = "Exercise Status object (DRP §3.03)"),
        (status = 403, description = "drp_forbidden: another agent's request, or no valid token"),
        (status = 404, description = "rights_request_not_found"),
))]
pub async fn get_status(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    ApiPath(request_id): ApiPath<String>,
) -> Result<Json<Value>, DrpError> {
    let cfg = config(&state)?;
    let agent = bearer(&state, cfg, ip, &headers).await?;
    let r = owned(&state, ip, agent, &request_id).await?;
    status_json(&state, &r)
}

/// Data rights revoke (§2.04): the signed body `{"reason": …}` withdraws a request still
/// open. The reason is not kept (it is the user's free text). Revoking a revoked request
/// answers its status again; one otherwise closed is a 409.
#[utoipa::path(delete, path = "/v1/data-rights-request/{request_id}", tag = "drp", security(("bearer" = [])),
    params(("request_id" = String, Path, description = "The DRP request id (UUID)")),
    request_body(content = String, content_type = "text/plain", description = "base64(Ed25519 signature ‖ {\"reason\": …})"),
    responses(
        (status = 200, description = "Exercise Status object with status `revoked`"),
        (status = 403, description = "drp_forbidden"),
        (status = 404, description = "rights_request_not_found"),
        (status = 409, description = "drp_request_closed"),
))]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    ApiPath(request_id): ApiPath<String>,
    body: Bytes,
) -> Result<Json<Value>, DrpError> {
    let cfg = config(&state)?;
    let agent = bearer(&state, cfg, ip, &headers).await?;
    let msg = open(&state, ip, agent, &body)?;
    let (_reason, envelope) = read_revoke(&msg).map_err(|r| refusal(&state, ip, r))?;
    if let Some(e) = envelope {
        e.check(&agent.id, &cfg.business_id, state.clock.now())
            .map_err(|r| refusal(&state, ip, r))?;
    }
    let r = owned(&state, ip, agent, &request_id).await?;
    match r.progress.state {
        RState::Withdrawn => return status_json(&state, &r),
        s if s.is_final() => {
            return Err(DrpError::new(
                ErrorCode::DrpRequestClosed,
                ErrorCode::DrpRequestClosed.doc(),
            ));
        }
        _ => {}
    }
    let actor = format!("drp:{}", agent.id);
    let draft = actor_draft(&state, &rid, &actor, "rights.withdrawn", "rights");
    let next = svc::take(
        &state,
        &r,
        Some(&Step::Withdraw),
        &actor,
        &actor,
        Extra {
            detail: Some("revoked by the authorized agent".to_owned()),
            ..Extra::default()
        },
        draft,
    )
    .await?;
    status_json(&state, &next)
}
