//! Propagation targets (webhooks; the NATS target comes from configuration) and the delivery
//! state of each consent change. See `crate::propagation`.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use custodian_core::access::{Action, Resource, valid_purpose};
use custodian_core::consent::outbox::{Delivery, Target, TargetKind, valid_webhook_url};
use serde_json::json;

use crate::api::consent::*;
use crate::api::time;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::propagation::seal_secret;
use crate::state::AppState;

fn invalid(field: &str, rule: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidWebhook).details(json!({ "field": field, "rule": rule }))
}

fn out(t: Target, secret: Option<String>) -> TargetOut {
    TargetOut {
        previous_secret_until: t.previous_secret.as_ref().map(|(_, until)| time(*until)),
        id: t.id,
        kind: t.kind.as_str(),
        url: t.url,
        purposes: t.purposes,
        enabled: t.enabled,
        description: t.description,
        created_at: time(t.created_at),
        secret,
    }
}

fn check_target_id(id: &str) -> Result<(), ApiError> {
    let ok = id == custodian_core::consent::outbox::NATS_TARGET
        || id
            .strip_prefix("wh_")
            .is_some_and(|u| uuid::Uuid::parse_str(u).is_ok());
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::InvalidPathParameter))
    }
}

/// The purposes a target receives, sorted and without repeats (empty: all).
fn target_purposes(mut purposes: Vec<String>) -> Result<Vec<String>, ApiError> {
    purposes.sort();
    purposes.dedup();
    if purposes.len() > 256 || purposes.iter().any(|p| !valid_purpose(p)) {
        return Err(invalid("purposes", "purpose_keys"));
    }
    Ok(purposes)
}

/// An operator's note: at most 256 printable characters; empty means none.
fn description(d: Option<String>) -> Result<Option<String>, ApiError> {
    match d {
        Some(d) if d.chars().count() > 256 || d.chars().any(char::is_control) => {
            Err(invalid("description", "256_printable_characters"))
        }
        Some(d) if d.is_empty() => Ok(None),
        d => Ok(d),
    }
}

/// A signing secret (the caller's `whsec_` one, or a new one) and its sealed form.
fn new_secret(
    state: &AppState,
    target_id: &str,
    given: Option<String>,
) -> Result<(zeroize::Zeroizing<String>, Vec<u8>), ApiError> {
    let secret = match given {
        Some(s) if custodian_crypto::webhook::decode_secret(&s).is_some() => {
            zeroize::Zeroizing::new(s)
        }
        Some(_) => return Err(invalid("secret", "whsec_base64_24_to_64_bytes")),
        None => custodian_crypto::webhook::new_secret()
            .map_err(|_| ApiError::new(ErrorCode::Internal))?,
    };
    let key = custodian_crypto::webhook::decode_secret(&secret)
        .ok_or_else(|| ApiError::new(ErrorCode::Internal))?;
    let sealed = seal_secret(state, target_id, &key)?;
    Ok((secret, sealed))
}

/// Registers a webhook for consent changes. The answer carries the signing secret once.
#[utoipa::path(post, path = "/v1/consent/webhooks", tag = "consent", security(("bearer" = [])),
    request_body = WebhookIn, responses(
    (status = 201, body = TargetOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_webhook (details.field, details.rule)"),
))]
pub async fn create(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<WebhookIn>,
) -> Result<(StatusCode, ApiJson<TargetOut>), ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentConfigure,
        Resource::Consent,
        None,
    )
    .await?;
    valid_webhook_url(&input.url).map_err(|rule| invalid("url", rule))?;
    let purposes = target_purposes(input.purposes.unwrap_or_default())?;
    let description = description(input.description)?;
    let id = format!("wh_{}", uuid::Uuid::now_v7());
    let (secret, sealed) = new_secret(&state, &id, input.secret)?;
    let target = Target {
        secret_sealed: Some(sealed),
        previous_secret: None,
        id: id.clone(),
        kind: TargetKind::Webhook,
        url: Some(input.url),
        purposes,
        enabled: true,
        description,
        created_at: state.clock.now(),
    };
    let mut draft = permit.draft;
    draft.resource = format!("consent_target:{id}");
    state.store.put_target(&target, draft).await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(out(target, Some(secret.to_string()))),
    ))
}

/// Changes a webhook: its URL, purposes, note, whether it gets new changes, and its signing
/// secret. A rotated secret is answered once; the previous one keeps signing beside it (a
/// second `v1` entry of `webhook-signature`) for the grace period, so the receiver can switch
/// without refusing a delivery.
#[utoipa::path(patch, path = "/v1/consent/webhooks/{id}", tag = "consent", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")), request_body = WebhookPatch, responses(
    (status = 200, body = TargetOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "concurrent_change: removed or its secret rotated meanwhile"),
    (status = 422, body = ErrorBody, description = "invalid_webhook (details.field, details.rule)"),
))]
pub async fn update(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<WebhookPatch>,
) -> Result<ApiJson<TargetOut>, ApiError> {
    check_target_id(&id)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentConfigure,
        Resource::Consent,
        None,
    )
    .await?;
    let rotate = input.rotate_secret.unwrap_or(false);
    if !rotate && (input.secret.is_some() || input.previous_secret_hours.is_some()) {
        return Err(invalid("rotate_secret", "required_with_secret"));
    }
    let grace_hours = input.previous_secret_hours.unwrap_or(24);
    if grace_hours > 168 {
        return Err(invalid("previous_secret_hours", "0_to_168"));
    }
    let mut t = state
        .store
        .get_target(&id)
        .await?
        .filter(|t| t.kind == TargetKind::Webhook)
        .ok_or_else(|| ApiError::new(ErrorCode::WebhookNotFound))?;
    // The audit event names the settings changed (never their values).
    let changed: Vec<&str> = [
        ("url", input.url.is_some()),
        ("purposes", input.purposes.is_some()),
        ("description", input.description.is_some()),
        ("enabled", input.enabled.is_some()),
        ("secret", rotate),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    let expected = t.secret_sealed.clone();
    if let Some(url) = input.url {
        valid_webhook_url(&url).map_err(|rule| invalid("url", rule))?;
        t.url = Some(url);
    }
    if let Some(p) = input.purposes {
        t.purposes = target_purposes(p)?;
    }
    if input.description.is_some() {
        t.description = description(input.description)?;
    }
    if let Some(e) = input.enabled {
        t.enabled = e;
    }
    let mut answered = None;
    if rotate {
        let (secret, sealed) = new_secret(&state, &id, input.secret)?;
        let until = state
            .clock
            .now()
            .checked_add(jiff::SignedDuration::from_hours(i64::from(grace_hours)))
            .map_err(|_| ApiError::new(ErrorCode::Internal))?;
        t.previous_secret = match t.secret_sealed.replace(sealed) {
            Some(old) if grace_hours > 0 => Some((old, until)),
            _ => None,
        };
        answered = Some(secret.to_string());
    }
    let mut draft = permit.draft;
    draft.resource = format!("consent_target:{id}");
    draft.fields = changed.into_iter().map(str::to_owned).collect();
    // Written only if nobody removed the webhook or rotated its secret since it was read.
    match state
        .store
        .update_target(&t, expected.as_deref(), draft)
        .await?
    {
        Some(_) => Ok(ApiJson(out(t, answered))),
        None if state.store.get_target(&id).await?.is_none() => {
            Err(ApiError::new(ErrorCode::WebhookNotFound))
        }
        None => Err(ApiError::new(ErrorCode::ConcurrentChange)),
    }
}

/// Every target: webhooks and, when configured, NATS.
#[utoipa::path(get, path = "/v1/consent/webhooks", tag = "consent", security(("bearer" = [])),
    responses((status = 200, body = TargetsOut), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<TargetsOut>, ApiError> {
    authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRead,
        Resource::Consent,
        None,
    )
    .await?
    .record(&state)
    .await?;
    let targets = state.store.list_targets().await?;
    Ok(ApiJson(TargetsOut {
        targets: targets.into_iter().map(|t| out(t, None)).collect(),
    }))
}

/// Removes a webhook; its pending deliveries become failed (`target_removed`).
#[utoipa::path(delete, path = "/v1/consent/webhooks/{id}", tag = "consent", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    check_target_id(&id)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentConfigure,
        Resource::Consent,
        None,
    )
    .await?;
    let mut draft = permit.draft;
    draft.resource = format!("consent_target:{id}");
    match state
        .store
        .delete_target(&id, state.clock.now(), draft)
        .await?
    {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::new(ErrorCode::WebhookNotFound)),
    }
}

/// The receiver confirms it applied changes (by their `webhook-id`s).
#[utoipa::path(post, path = "/v1/consent/webhooks/{id}/acks", tag = "consent", security(("bearer" = [])),
    params(("id" = String, Path, description = "Target id")), request_body = AcksIn, responses(
    (status = 200, body = AcksOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn acks(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<AcksIn>,
) -> Result<ApiJson<AcksOut>, ApiError> {
    check_target_id(&id)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRecord,
        Resource::Consent,
        None,
    )
    .await?;
    if input.event_ids.is_empty()
        || input.event_ids.len() > 1000
        || input
            .event_ids
            .iter()
            .any(|e| uuid::Uuid::parse_str(e).is_err())
    {
        return Err(invalid("event_ids", "1_to_1000_record_ids"));
    }
    if state.store.get_target(&id).await?.is_none() {
        return Err(ApiError::new(ErrorCode::WebhookNotFound));
    }
    let mut draft = permit.draft;
    draft.action = "consent.acknowledge".into();
    draft.resource = format!("consent_target:{id}");
    state.store.append_audit(draft).await?;
    let n = state
        .store
        .acknowledge(&id, &input.event_ids, state.clock.now())
        .await?;
    Ok(ApiJson(AcksOut { acknowledged: n }))
}

fn delivery_out(d: Delivery) -> DeliveryOut {
    DeliveryOut {
        target_id: d.target_id,
        state: d.state.as_str(),
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at.map(time),
        last_status: d.last_status,
        last_error: d.last_error,
        updated_at: time(d.updated_at),
    }
}

/// Where each target's delivery of one consent change stands.
#[utoipa::path(get, path = "/v1/consent/events/{event_id}/deliveries", tag = "consent", security(("bearer" = [])),
    params(("event_id" = String, Path, description = "Ledger record id")), responses(
    (status = 200, body = DeliveriesOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn deliveries(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(event_id): ApiPath<String>,
) -> Result<ApiJson<DeliveriesOut>, ApiError> {
    super::check_id(&event_id)?;
    authorize(
        &state,
        &caller,
        &rid,
        Action::ConsentRead,
        Resource::Consent,
        None,
    )
    .await?
    .record(&state)
    .await?;
    if state.store.consent_event(&event_id).await?.is_none() {
        return Err(ApiError::new(ErrorCode::ConsentEventNotFound));
    }
    let list = state.store.deliveries(&event_id).await?;
    Ok(ApiJson(DeliveriesOut {
        event_id,
        deliveries: list.into_iter().map(delivery_out).collect(),
    }))
}
