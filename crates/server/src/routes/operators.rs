//! Operators and their API keys.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use custodian_core::access::{Action, Resource};
use custodian_core::operator::{ApiKey, Operator, validate_operator_name};
use custodian_crypto::apikey;
use jiff::SignedDuration;

use super::check_id;
use crate::api::{
    CreateKeyIn, CreateOperatorIn, InvitationOut, KeyOut, MeOut, NewKeyOut, OperatorOut,
    PatchOperatorIn,
};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::state::AppState;

/// The longest key lifetime, in days.
pub const MAX_KEY_DAYS: u32 = 3650;

/// Who am I: the operator behind the key (authenticated, not audited).
#[utoipa::path(get, path = "/v1/me", tag = "operators", security(("bearer" = [])), responses(
    (status = 200, body = MeOut), (status = 401, body = ErrorBody),
))]
pub async fn me(caller: Caller) -> ApiJson<MeOut> {
    ApiJson(MeOut {
        operator: OperatorOut::from(&caller.operator),
        key_id: caller.key_id,
    })
}

/// All operators.
#[utoipa::path(get, path = "/v1/operators", tag = "operators", security(("bearer" = [])), responses(
    (status = 200, body = Vec<OperatorOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
))]
pub async fn list(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<Vec<OperatorOut>>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::OperatorRead,
        Resource::Operators,
        None,
    )
    .await?;
    permit.record(&state).await?;
    let ops = state.store.list_operators().await?;
    Ok(ApiJson(ops.iter().map(OperatorOut::from).collect()))
}

/// Creates an operator.
#[utoipa::path(post, path = "/v1/operators", tag = "operators", security(("bearer" = [])),
    request_body = CreateOperatorIn, responses(
    (status = 201, body = OperatorOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
pub async fn create(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<CreateOperatorIn>,
) -> Result<(StatusCode, ApiJson<OperatorOut>), ApiError> {
    let name = validate_operator_name(&input.name)
        .map_err(|e| ApiError::with_message(ErrorCode::InvalidValue, format!("name: {e}")))?;
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::OperatorWrite,
        Resource::Operators,
        None,
    )
    .await?;
    let op = Operator {
        id: uuid::Uuid::now_v7().to_string(),
        name,
        role: input.role.into(),
        training_valid_until: None,
        disabled: false,
        created_at: custodian_core::clock::to_millis(state.clock.now()),
    };
    permit.draft.resource = format!("operator:{}", op.id);
    state.store.create_operator(&op, permit.draft).await?;
    Ok((StatusCode::CREATED, ApiJson(OperatorOut::from(&op))))
}

/// One operator.
#[utoipa::path(get, path = "/v1/operators/{id}", tag = "operators", security(("bearer" = [])),
    params(("id" = String, Path, description = "Operator id")), responses(
    (status = 200, body = OperatorOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<OperatorOut>, ApiError> {
    check_id(&id)?;
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::OperatorRead,
        Resource::Operators,
        None,
    )
    .await?;
    permit.draft.resource = format!("operator:{id}");
    permit.record(&state).await?;
    let op = state
        .store
        .get_operator(&id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    Ok(ApiJson(OperatorOut::from(&op)))
}

/// Disables or re-enables an operator.
#[utoipa::path(patch, path = "/v1/operators/{id}", tag = "operators", security(("bearer" = [])),
    params(("id" = String, Path, description = "Operator id")), request_body = PatchOperatorIn, responses(
    (status = 200, body = OperatorOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<PatchOperatorIn>,
) -> Result<ApiJson<OperatorOut>, ApiError> {
    check_id(&id)?;
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::OperatorWrite,
        Resource::Operators,
        None,
    )
    .await?;
    if id == caller.operator.id && input.disabled {
        return Err(ApiError::with_message(
            ErrorCode::Conflict,
            "operators cannot disable themselves",
        ));
    }
    permit.draft.resource = format!("operator:{id}");
    state
        .store
        .set_operator_disabled(&id, input.disabled, permit.draft)
        .await?;
    state.keys.clear();
    let op = state
        .store
        .get_operator(&id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    Ok(ApiJson(OperatorOut::from(&op)))
}

/// An operator's keys.
#[utoipa::path(get, path = "/v1/operators/{id}/keys", tag = "operators", security(("bearer" = [])),
    params(("id" = String, Path, description = "Operator id")), responses(
    (status = 200, body = Vec<KeyOut>), (status = 404, body = ErrorBody),
))]
pub async fn list_keys(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<Vec<KeyOut>>, ApiError> {
    check_id(&id)?;
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::OperatorRead,
        Resource::Operators,
        None,
    )
    .await?;
    permit.draft.resource = format!("operator:{id}");
    permit.record(&state).await?;
    state
        .store
        .get_operator(&id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    let keys = state.store.list_api_keys(Some(&id)).await?;
    Ok(ApiJson(keys.iter().map(KeyOut::from).collect()))
}

/// Issues a key for an operator; the secret is in this answer only.
#[utoipa::path(post, path = "/v1/operators/{id}/keys", tag = "operators", security(("bearer" = [])),
    params(("id" = String, Path, description = "Operator id")), request_body = CreateKeyIn, responses(
    (status = 201, body = NewKeyOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn create_key(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<CreateKeyIn>,
) -> Result<(StatusCode, ApiJson<NewKeyOut>), ApiError> {
    check_id(&id)?;
    if let Some(d) = input.expires_in_days
        && !(1..=MAX_KEY_DAYS).contains(&d)
    {
        return Err(ApiError::with_message(
            ErrorCode::InvalidValue,
            format!("expires_in_days must be between 1 and {MAX_KEY_DAYS}"),
        ));
    }
    let (mut permit, op) = writable(&state, &caller, &rid, &id).await?;
    let key = issue_key(&op, state.clock.now(), input.expires_in_days)?;
    permit.draft.resource = format!("api_key:{}", key.1.id);
    state.store.create_api_key(&key.1, permit.draft).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(NewKeyOut {
            key: key.0.to_string(),
            info: KeyOut::from(&key.1),
        }),
    ))
}

/// Makes a new key for `op`: the secret and what is stored.
pub fn issue_key(
    op: &Operator,
    now: custodian_core::Timestamp,
    expires_in_days: Option<u32>,
) -> Result<(zeroize::Zeroizing<String>, ApiKey), ApiError> {
    let new = apikey::generate().map_err(|_| ApiError::new(ErrorCode::Internal))?;
    let now = custodian_core::clock::to_millis(now);
    let expires_at = expires_in_days
        .map(|d| now.checked_add(SignedDuration::from_hours(24 * i64::from(d))))
        .transpose()
        .map_err(|_| ApiError::new(ErrorCode::InvalidValue))?;
    Ok((
        new.secret,
        ApiKey {
            id: uuid::Uuid::now_v7().to_string(),
            operator_id: op.id.clone(),
            prefix: new.prefix,
            hash: new.hash,
            created_at: now,
            expires_at,
            revoked_at: None,
        },
    ))
}

/// The operator `id`, for a change by `caller` (`operator.write`; 404 when there is none).
async fn writable(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    id: &str,
) -> Result<(crate::gate::Permit, Operator), ApiError> {
    let permit = authorize(
        state,
        caller,
        rid,
        Action::OperatorWrite,
        Resource::Operators,
        None,
    )
    .await?;
    let op = state
        .store
        .get_operator(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    Ok((permit, op))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "operators", security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")), responses(
    (status = 204), (status = 404, body = ErrorBody),
))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    check_id(&id)?;
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::OperatorWrite,
        Resource::Operators,
        None,
    )
    .await?;
    permit.draft.resource = format!("api_key:{id}");
    state
        .store
        .revoke_api_key(&id, state.clock.now(), permit.draft)
        .await?;
    state.keys.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// Invites an operator to the web console: a single-use enrolment link, valid 72 hours, where
/// the operator sets a login name, a password and an authenticator app (TOTP). Enrolling again
/// replaces the operator's console credential (a lost phone, a forgotten password).
#[utoipa::path(post, path = "/v1/operators/{id}/console-invitation", tag = "operators", security(("bearer" = [])),
    params(("id" = String, Path, description = "Operator id")), responses(
    (status = 201, body = InvitationOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: the operator is disabled"),
))]
pub async fn invite(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, ApiJson<InvitationOut>), ApiError> {
    check_id(&id)?;
    let (permit, op) = writable(&state, &caller, &rid, &id).await?;
    let token =
        crate::console::session::issue_invitation(&state, &op, &caller.actor(), permit.draft)
            .await?;
    let path = crate::console::session::invitation_path(&token);
    let expires_at = state
        .clock
        .now()
        .checked_add(custodian_core::console::INVITATION_LIFETIME)
        .map_err(|_| ApiError::new(ErrorCode::Internal))?;
    Ok((
        StatusCode::CREATED,
        ApiJson(InvitationOut {
            url: state
                .config
                .public_url
                .as_deref()
                .map(|b| format!("{}{path}", b.trim_end_matches('/'))),
            path,
            expires_at: crate::api::time(expires_at),
        }),
    ))
}
