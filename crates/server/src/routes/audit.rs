//! The audit log: signed checkpoints, events, inclusion and consistency proofs.
//!
//! Reading any of it is authorized (`audit.read`) and is itself an audit event, written
//! before the answer is sent (fail closed).

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use custodian_core::access::{Action, Resource};
use custodian_core::audit::merkle;
use custodian_crypto::note::Checkpoint;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::{CheckpointOut, ConsistencyOut, EventOut, EventsPage, InclusionOut};
use crate::auth::{Caller, required_purpose};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::state::AppState;

/// The most events one page holds.
pub const MAX_PAGE: u32 = 1000;

/// Signs the checkpoint of the log as it is now.
pub async fn signed_checkpoint(state: &AppState) -> Result<CheckpointOut, ApiError> {
    let head = state.store.audit_head().await?;
    let cp = Checkpoint {
        origin: state.signer.name().to_owned(),
        size: head.size,
        root: head.root(),
    };
    let note = state
        .signer
        .sign(&cp.body())
        .map_err(|_| ApiError::new(ErrorCode::Internal))?;
    Ok(CheckpointOut {
        origin: cp.origin,
        size: cp.size,
        root: hex::encode(cp.root),
        checkpoint: note,
        verifier_key: state.signer.verifier_key(),
    })
}

/// The current signed checkpoint (this read is itself the newest event it covers).
#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit", security(("bearer" = [])), responses(
    (status = 200, body = CheckpointOut), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody),
))]
pub async fn checkpoint(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<CheckpointOut>, ApiError> {
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::AuditRead,
        Resource::AuditLog,
        None,
    )
    .await?;
    permit.draft.resource = "audit_log:checkpoint".into();
    permit.record(&state).await?;
    Ok(ApiJson(signed_checkpoint(&state).await?))
}

/// Paging through events.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// First sequence number (default 0).
    pub from: Option<u64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

/// Events in order. Events hold pseudonymous subject ids, so a purpose is required.
#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", security(("bearer" = [])),
    params(EventsQuery, ("Custodian-Purpose" = String, Header, description = "Why the log is read, e.g. audit")),
    responses(
    (status = 200, body = EventsPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
))]
pub async fn events(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<ApiJson<EventsPage>, ApiError> {
    let purpose = required_purpose(&headers)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::with_message(
            ErrorCode::InvalidQuery,
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let from = q.from.unwrap_or(0);
    if from > i64::MAX as u64 {
        return Err(ApiError::with_message(
            ErrorCode::InvalidQuery,
            "from is out of range",
        ));
    }
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::AuditRead,
        Resource::AuditLog,
        Some(purpose),
    )
    .await?;
    permit.draft.resource = "audit_log:events".into();
    permit.record(&state).await?;
    let events = state.store.audit_events(from, limit).await?;
    let next = (events.len() == limit as usize).then(|| from + u64::from(limit));
    Ok(ApiJson(EventsPage {
        events: events.iter().map(EventOut::from).collect(),
        next,
    }))
}

/// Which tree size a proof is for.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    /// Tree size (default: the current size).
    pub tree_size: Option<u64>,
}

/// The RFC 9162 inclusion proof of one event.
#[utoipa::path(get, path = "/v1/audit/events/{seq}/proof", tag = "audit", security(("bearer" = [])),
    params(("seq" = u64, Path, description = "Event sequence number"), ProofQuery), responses(
    (status = 200, body = InclusionOut), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn inclusion(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(seq): ApiPath<u64>,
    ApiQuery(q): ApiQuery<ProofQuery>,
) -> Result<ApiJson<InclusionOut>, ApiError> {
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::AuditRead,
        Resource::AuditLog,
        None,
    )
    .await?;
    permit.draft.resource = format!("audit_log:proof:{seq}");
    permit.record(&state).await?;
    let head = state.store.audit_head().await?;
    let size = q.tree_size.unwrap_or(head.size);
    if size > head.size {
        return Err(ApiError::with_message(
            ErrorCode::InvalidQuery,
            "tree_size is larger than the log",
        ));
    }
    if seq >= size {
        return Err(ApiError::with_message(
            ErrorCode::NotFound,
            "no event with this sequence number in that tree",
        ));
    }
    let mut coords = merkle::nodes_for_inclusion(seq, size);
    coords.push((0, seq));
    coords.extend(merkle::nodes_for_root(size));
    let nodes = state.store.audit_nodes(&coords).await?;
    let missing = |_| ApiError::new(ErrorCode::Internal);
    let proof = merkle::inclusion_proof(&nodes, seq, size).map_err(missing)?;
    let root = merkle::root_at(&nodes, size).map_err(missing)?;
    let leaf = nodes
        .get(&(0, seq))
        .ok_or_else(|| ApiError::new(ErrorCode::Internal))?;
    Ok(ApiJson(InclusionOut {
        seq,
        tree_size: size,
        leaf_hash: hex::encode(leaf),
        proof: proof.iter().map(hex::encode).collect(),
        root: hex::encode(root),
    }))
}

/// The two tree sizes of a consistency proof.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older size (at least 1).
    pub from: u64,
    /// The newer size (default: the current size).
    pub to: Option<u64>,
}

/// The RFC 9162 consistency proof between two tree sizes: the log only grew.
#[utoipa::path(get, path = "/v1/audit/consistency", tag = "audit", security(("bearer" = [])),
    params(ConsistencyQuery), responses(
    (status = 200, body = ConsistencyOut), (status = 400, body = ErrorBody),
))]
pub async fn consistency(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<ApiJson<ConsistencyOut>, ApiError> {
    let out_of_order = || {
        ApiError::with_message(
            ErrorCode::InvalidQuery,
            "sizes must satisfy 1 <= from <= to <= the log's size",
        )
    };
    if q.from == 0 || q.to.is_some_and(|to| to < q.from) {
        return Err(out_of_order());
    }
    let mut permit = authorize(
        &state,
        &caller,
        &rid,
        Action::AuditRead,
        Resource::AuditLog,
        None,
    )
    .await?;
    permit.draft.resource = "audit_log:consistency".into();
    permit.record(&state).await?;
    let head = state.store.audit_head().await?;
    let to = q.to.unwrap_or(head.size);
    if q.from > to || to > head.size {
        return Err(out_of_order());
    }
    let mut coords = merkle::nodes_for_consistency(q.from, to);
    coords.extend(merkle::nodes_for_root(q.from));
    coords.extend(merkle::nodes_for_root(to));
    let nodes = state.store.audit_nodes(&coords).await?;
    let missing = |_| ApiError::new(ErrorCode::Internal);
    Ok(ApiJson(ConsistencyOut {
        from: q.from,
        to,
        from_root: hex::encode(merkle::root_at(&nodes, q.from).map_err(missing)?),
        to_root: hex::encode(merkle::root_at(&nodes, to).map_err(missing)?),
        proof: merkle::consistency_proof(&nodes, q.from, to)
            .map_err(missing)?
            .iter()
            .map(hex::encode)
            .collect(),
    }))
}
