//! Discovery in connected databases and the review loop into the data map:
//! `POST /v1/datasets/{key}/scan` (`scan.database`) samples the dataset's database and
//! proposes a data category for each column that looks like personal data and is not
//! declared so yet; a DPO (`scan.review`) accepts a proposal, which writes the category into
//! the dataset's declaration in the same transaction, or rejects it, which stops the same
//! category being proposed again for that column. Nothing is applied without a decision, and
//! no sampled value is answered, logged, audited or stored.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use custodian_core::access::{Action, Resource};
use custodian_core::map::proposal::{ProposalStatus, ScanProposal, with_category};
use custodian_core::ports::StoreError;
use custodian_core::rights::dataset::{Dialect, StoredDataset, parse_with, valid_identifier};
use custodian_core::taxonomy::{Kind, covers};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::api::map::{
    AcceptIn, ColumnClassOut, DatabaseScanIn, DatabaseScanOut, ProposalOut, ProposalsOut,
    ProposalsQuery, ScannedColumnOut, ScannedTableOut,
};
use crate::api::time;
use crate::auth::Caller;
use crate::datasets::{RunError, declared};
use crate::discovery::{DEFAULT_SAMPLE, MAX_SAMPLE};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::state::AppState;

/// The confidence at or above which a scan proposes a category, unless the caller says.
const DEFAULT_MIN_CONFIDENCE: f32 = 0.6;

fn invalid(field: &str, rule: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidValue).details(json!({ "field": field, "rule": rule }))
}

/// A JSON body that may be left out (then every field takes its default).
fn optional_body<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ApiError::new(ErrorCode::MalformedJson))?;
    serde_json::from_value(value).map_err(|e| {
        ApiError::with_message(
            ErrorCode::InvalidBody,
            crate::error::sanitize_serde(&e.to_string()),
        )
    })
}

fn proposal_out(p: &ScanProposal) -> ProposalOut {
    ProposalOut {
        id: p.id.clone(),
        dataset: p.dataset.clone(),
        table: p.table.clone(),
        column: p.column.clone(),
        evidence: ColumnClassOut {
            category: p.category.clone(),
            kind: p.kind.clone(),
            confidence: p.confidence,
            hint: p.hint.clone(),
            sampled: p.sampled,
            matched: p.matched,
            embedded: p.embedded,
        },
        status: p.status.as_str(),
        created_at: time(p.created_at),
        created_by: p.created_by.clone(),
        decided_by: p.decided_by.clone(),
        decided_at: p.decided_at.map(time),
    }
}

/// How a proposal is named in the audit log: `table.column:category` (names, never values).
fn audited(p: &ScanProposal) -> String {
    format!("{}.{}:{}", p.table, p.column, p.category)
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Scans the dataset's connected database: lists its tables and columns, samples rows, and
/// classifies each column from its name and values. Each column that looks like personal
/// data at or above `min_confidence`, and whose declaration does not already cover the
/// category, gets a pending proposal; the scan's proposals replace every proposal of the dataset
/// still pending (the latest scan is the queue). The
/// answer shows each column's classification and evidence, never a value. The dataset need
/// not be declared yet: only its connection (`CUSTODIAN_DATASET_URL_<KEY>`).
#[utoipa::path(post, path = "/v1/datasets/{key}/scan", tag = "datasets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The dataset's key (its connection setting's key)")),
    request_body(content = DatabaseScanIn, description = "Optional"),
    responses(
    (status = 200, body = DatabaseScanOut), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "dataset_not_connected"),
    (status = 422, body = ErrorBody),
    (status = 502, body = ErrorBody, description = "database_unreachable, dataset_failed"),
))]
pub async fn scan_database(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    body: Bytes,
) -> Result<ApiJson<DatabaseScanOut>, ApiError> {
    if !valid_identifier(&key) {
        return Err(ApiError::new(ErrorCode::InvalidPathParameter));
    }
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ScanDatabase,
        Resource::DataMap,
        None,
    )
    .await?;
    let input: DatabaseScanIn = optional_body(&body)?;
    let sample = input.sample_rows.unwrap_or(DEFAULT_SAMPLE);
    if !(1..=MAX_SAMPLE).contains(&sample) {
        return Err(invalid("sample_rows", "between 1 and 1000"));
    }
    let min = input.min_confidence.unwrap_or(DEFAULT_MIN_CONFIDENCE);
    if !(0.0..=1.0).contains(&min) {
        return Err(invalid("min_confidence", "between 0 and 1"));
    }
    let Some(url) = state.config.dataset_connections.get(&key) else {
        return Err(ApiError::new(ErrorCode::DatasetNotConnected));
    };
    let dialect =
        Dialect::of_url(url).ok_or_else(|| ApiError::new(ErrorCode::DatasetNotConnected))?;
    let pool = crate::datasets::connect(url)
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::DatabaseUnreachable))?;
    let scanned = crate::discovery::scan(&pool, dialect, sample).await;
    pool.close().await;
    let tables = scanned.map_err(|e| match e {
        RunError::Failed { collection, code } => ApiError::new(ErrorCode::DatasetFailed)
            .details(json!({ "dataset": key, "collection": collection, "code": code })),
        _ => ApiError::new(ErrorCode::DatabaseUnreachable),
    })?;

    // What is declared and what a DPO rejected before.
    let tax = crate::datasets::taxonomy(&state).await?;
    let stored = state
        .store
        .datasets()
        .await?
        .into_iter()
        .find(|d| d.key == key);
    let ds = stored.as_ref().map(|s| declared(s, &tax)).transpose()?;
    let earlier = state.store.scan_proposals(Some(&key)).await?;
    let declared_of = |table: &str, column: &str| -> Vec<String> {
        ds.as_ref()
            .and_then(|d| d.collections.iter().find(|c| c.name == table))
            .and_then(|c| c.fields.iter().find(|f| f.name == column))
            .map(|f| f.categories.clone())
            .unwrap_or_default()
    };

    let now = state.clock.now();
    let mut proposals = Vec::new();
    let mut out_tables = Vec::with_capacity(tables.len());
    for t in tables {
        let mut columns = Vec::with_capacity(t.columns.len());
        for c in t.columns {
            let declared = declared_of(&t.name, &c.name);
            let mut proposal = None;
            let skipped = match &c.class {
                None => c.binary.then_some("binary"),
                Some(class) => {
                    if declared.iter().any(|d| covers(d, class.category)) {
                        Some("declared")
                    } else if class.confidence < min {
                        Some("below_threshold")
                    } else if earlier.iter().any(|p| {
                        p.status == ProposalStatus::Rejected
                            && p.table == t.name
                            && p.column == c.name
                            && p.category == class.category
                    }) {
                        Some("rejected")
                    } else if !valid_identifier(&t.name) || !valid_identifier(&c.name) {
                        Some("unsupported_name")
                    } else {
                        let p = ScanProposal {
                            id: uuid::Uuid::now_v7().to_string(),
                            dataset: key.clone(),
                            table: t.name.clone(),
                            column: c.name.clone(),
                            category: class.category.to_owned(),
                            kind: class.kind.map(|k| k.as_str().to_owned()),
                            confidence: class.confidence,
                            hint: class.hint.map(str::to_owned),
                            sampled: count(class.sampled),
                            matched: count(class.matched),
                            embedded: class.embedded,
                            status: ProposalStatus::Pending,
                            created_at: now,
                            created_by: permit.draft.actor.clone(),
                            decided_by: None,
                            decided_at: None,
                        };
                        proposal = Some(p.id.clone());
                        proposals.push(p);
                        None
                    }
                }
            };
            columns.push(ScannedColumnOut {
                name: c.name,
                data_type: c.data_type,
                declared,
                classification: c.class.map(|k| ColumnClassOut {
                    category: k.category.to_owned(),
                    kind: k.kind.map(|x| x.as_str().to_owned()),
                    confidence: k.confidence,
                    hint: k.hint.map(str::to_owned),
                    sampled: count(k.sampled),
                    matched: count(k.matched),
                    embedded: k.embedded,
                }),
                proposal,
                skipped,
            });
        }
        out_tables.push(ScannedTableOut {
            name: t.name,
            sampled_rows: t.rows,
            columns,
        });
    }
    let mut draft = permit.draft;
    draft.action = "scan.database".into();
    draft.resource = format!("dataset:{key}");
    draft.fields = proposals.iter().map(audited).collect();
    state
        .store
        .put_scan_proposals(&key, &proposals, draft)
        .await?;
    Ok(ApiJson(DatabaseScanOut {
        dataset: key,
        tables: out_tables,
        proposals: proposals.len(),
    }))
}

/// The proposals, newest first (`map.read`).
#[utoipa::path(get, path = "/v1/scan/proposals", tag = "map", security(("bearer" = [])),
    params(ProposalsQuery), responses((status = 200, body = ProposalsOut),
    (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ProposalsQuery>,
) -> Result<ApiJson<ProposalsOut>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(|s| ProposalStatus::parse(s).ok_or_else(|| ApiError::new(ErrorCode::InvalidQuery)))
        .transpose()?;
    if q.dataset.as_deref().is_some_and(|d| !valid_identifier(d)) {
        return Err(ApiError::new(ErrorCode::InvalidQuery));
    }
    authorize(
        &state,
        &caller,
        &rid,
        Action::MapRead,
        Resource::DataMap,
        None,
    )
    .await?
    .record(&state)
    .await?;
    let proposals = state
        .store
        .scan_proposals(q.dataset.as_deref())
        .await?
        .iter()
        .filter(|p| status.is_none_or(|s| p.status == s))
        .map(proposal_out)
        .collect();
    Ok(ApiJson(ProposalsOut { proposals }))
}

/// The pending proposal `id`, after `scan.review` is authorized.
async fn pending(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    id: &str,
) -> Result<(crate::gate::Permit, ScanProposal), ApiError> {
    super::check_id(id)?;
    let permit = authorize(
        state,
        caller,
        rid,
        Action::ScanReview,
        Resource::DataMap,
        None,
    )
    .await?;
    let p = state
        .store
        .scan_proposals(None)
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::new(ErrorCode::ProposalNotFound))?;
    if p.status != ProposalStatus::Pending {
        return Err(ApiError::new(ErrorCode::ProposalDecided));
    }
    Ok((permit, p))
}

/// Records the decision carried by `p` (and, for an acceptance, the new declaration),
/// audited as `scan.proposal_accepted` or `scan.proposal_rejected` with the column and
/// category.
async fn decide(
    state: &AppState,
    permit: crate::gate::Permit,
    mut p: ScanProposal,
    dataset: Option<&StoredDataset>,
) -> Result<ApiJson<ProposalOut>, ApiError> {
    p.decided_by = Some(permit.draft.actor.clone());
    p.decided_at = Some(state.clock.now());
    let mut draft = permit.draft;
    draft.action = format!("scan.proposal_{}", p.status.as_str());
    draft.resource = format!("dataset:{}", p.dataset);
    draft.fields = vec![audited(&p)];
    state
        .store
        .decide_scan_proposal(&p, dataset, draft)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::new(ErrorCode::ProposalNotFound),
            StoreError::Conflict("decided") => ApiError::new(ErrorCode::ProposalDecided),
            StoreError::Conflict("version") => ApiError::new(ErrorCode::DatasetChanged),
            e => e.into(),
        })?;
    Ok(ApiJson(proposal_out(&p)))
}

/// Accepts a proposal: its category (or the `category` given, as a correction) is written
/// into the dataset's declaration, adding the table and field (or the dataset) when they are
/// not declared yet, in the same transaction that marks the proposal accepted.
#[utoipa::path(post, path = "/v1/scan/proposals/{id}/accept", tag = "map", security(("bearer" = [])),
    params(("id" = String, Path, description = "The proposal's id")),
    request_body(content = AcceptIn, description = "Optional"),
    responses((status = 200, body = ProposalOut), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "proposal_already_decided, dataset_changed"),
    (status = 422, body = ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    body: Bytes,
) -> Result<ApiJson<ProposalOut>, ApiError> {
    let (permit, mut p) = pending(&state, &caller, &rid, &id).await?;
    let input: AcceptIn = optional_body(&body)?;
    let tax = crate::datasets::taxonomy(&state).await?;
    if let Some(c) = input.category {
        if !tax.contains(Kind::DataCategory, &c) {
            return Err(invalid("category", "a data category of the taxonomy"));
        }
        p.category = c;
    }
    let before = state
        .store
        .datasets()
        .await?
        .into_iter()
        .find(|d| d.key == p.dataset);
    let current = before
        .as_ref()
        .map(|b| serde_json::from_str(&b.declaration))
        .transpose()
        .map_err(|_| crate::error::internal("a stored dataset declaration is not JSON"))?;
    let doc = with_category(
        current.as_ref(),
        &p.dataset,
        &p.table,
        &p.column,
        &p.category,
    )
    .ok_or_else(|| crate::error::internal("a stored dataset declaration has an odd shape"))?;
    parse_with(&doc, &|c| tax.contains(Kind::DataCategory, c)).map_err(|e| {
        ApiError::new(ErrorCode::InvalidDataset).details(json!({ "path": e.path, "rule": e.rule }))
    })?;
    let now = state.clock.now();
    let dataset = StoredDataset {
        key: p.dataset.clone(),
        declaration: doc.to_string(),
        version: before.as_ref().map_or(1, |b| b.version + 1),
        created_at: before.as_ref().map_or(now, |b| b.created_at),
        updated_at: now,
    };
    p.status = ProposalStatus::Accepted;
    decide(&state, permit, p, Some(&dataset)).await
}

/// Rejects a proposal: nothing changes in the map, and later scans do not propose the same
/// category for that column again.
#[utoipa::path(post, path = "/v1/scan/proposals/{id}/reject", tag = "map", security(("bearer" = [])),
    params(("id" = String, Path, description = "The proposal's id")),
    responses((status = 200, body = ProposalOut), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "proposal_already_decided")))]
pub async fn reject(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<ProposalOut>, ApiError> {
    let (permit, mut p) = pending(&state, &caller, &rid, &id).await?;
    p.status = ProposalStatus::Rejected;
    decide(&state, permit, p, None).await
}
