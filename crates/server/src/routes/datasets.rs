//! Connected databases declared as datasets (the Fides dataset shape, as YAML or JSON):
//! declared, read, checked against their database, removed. Rights requests are fulfilled
//! in them by `crate::datasets`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use custodian_core::access::{Action, Resource};
use custodian_core::rights::dataset::{Dataset, StoredDataset, parse_with, plan, valid_identifier};
use serde_json::json;

use crate::api::rights::{
    DatasetCollectionOut, DatasetFieldOut, DatasetOut, DatasetProbeOut, DatasetsOut, ProbeTableOut,
};
use crate::api::time;
use crate::auth::Caller;
use crate::datasets::declared;
use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::state::AppState;

fn invalid(path: &str, rule: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidDataset).details(json!({ "path": path, "rule": rule }))
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if valid_identifier(key) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::InvalidPathParameter))
    }
}

/// The resource a dataset is authorized as: a collection named `dataset:<key>`, so that
/// whoever may change schemas (`schema.write`) may declare datasets.
fn resource(key: &str) -> Resource {
    Resource::Collection {
        name: format!("dataset:{key}"),
    }
}

fn connection(state: &AppState, key: &str) -> &'static str {
    if state.config.dataset_connections.get(key).is_some() {
        "configured"
    } else {
        "not_configured"
    }
}

fn out(state: &AppState, stored: &StoredDataset, ds: &Dataset) -> DatasetOut {
    DatasetOut {
        key: ds.key.clone(),
        version: stored.version,
        connection: connection(state, &ds.key),
        unreachable_collections: plan(ds, &["email", "phone_number"]).unreachable,
        collections: ds
            .collections
            .iter()
            .map(|c| DatasetCollectionOut {
                name: c.name.clone(),
                delete_rows: c.delete_rows,
                fields: c
                    .fields
                    .iter()
                    .map(|f| DatasetFieldOut {
                        name: f.name.clone(),
                        data_categories: f.categories.clone(),
                        identity: f.identity.clone(),
                        primary_key: f.primary_key,
                        references: f
                            .references
                            .iter()
                            .map(|r| format!("{}.{}", r.collection, r.field))
                            .collect(),
                        erasure: f.erasure.name(),
                    })
                    .collect(),
            })
            .collect(),
        created_at: time(stored.created_at),
        updated_at: time(stored.updated_at),
    }
}

/// Declares or replaces a dataset: the Fides dataset document (`dataset: [ ... ]` holding
/// this one dataset, or the dataset alone) as YAML or JSON. Each field's erasure strategy is
/// settled here and shown; the connection URL is a server setting
/// (`CUSTODIAN_DATASET_URL_<KEY>`), never part of the declaration.
#[utoipa::path(put, path = "/v1/datasets/{key}", tag = "datasets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The dataset's fides_key")),
    request_body(content = Object, content_type = "application/yaml",
        description = "The Fides dataset document (YAML, or JSON as application/json)"),
    responses(
    (status = 200, body = DatasetOut, description = "Replaced"),
    (status = 201, body = DatasetOut, description = "Declared"),
    (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 415, body = ErrorBody, description = "unsupported_media_type"),
    (status = 422, body = ErrorBody, description = "invalid_dataset"),
))]
pub async fn put(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, ApiJson<DatasetOut>), ApiError> {
    check_key(&key)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::SchemaWrite,
        resource(&key),
        None,
    )
    .await?;
    let mut doc = super::document(&headers, &body, invalid, "a dataset declaration")?;
    if doc.get("dataset").is_none() && doc.get("fides_key").is_some() {
        doc = json!({ "dataset": [doc] });
    }
    let tax = crate::datasets::taxonomy(&state).await?;
    let mut parsed = parse_with(&doc, &|c| {
        tax.contains(custodian_core::taxonomy::Kind::DataCategory, c)
    })
    .map_err(|e| invalid(&e.path, e.rule))?;
    if parsed.len() != 1 {
        return Err(invalid("$.dataset", "exactly_one"));
    }
    let ds = parsed.remove(0);
    if ds.key != key {
        return Err(invalid("dataset[0].fides_key", "matches_path_key"));
    }
    let now = state.clock.now();
    let before = state
        .store
        .datasets()
        .await?
        .into_iter()
        .find(|d| d.key == key);
    let stored = StoredDataset {
        key: key.clone(),
        declaration: doc.to_string(),
        version: before.as_ref().map_or(1, |b| b.version + 1),
        created_at: before.as_ref().map_or(now, |b| b.created_at),
        updated_at: now,
    };
    let mut draft = permit.draft;
    draft.action = "dataset.declared".into();
    draft.resource = format!("dataset:{key}");
    state.store.put_dataset(&stored, draft).await?;
    let status = if before.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, ApiJson(out(&state, &stored, &ds))))
}

/// A dataset the caller may read (`schema.read`, audited), as stored and as declared.
async fn read(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    key: &str,
) -> Result<(StoredDataset, Dataset), ApiError> {
    check_key(key)?;
    authorize(state, caller, rid, Action::SchemaRead, resource(key), None)
        .await?
        .record(state)
        .await?;
    let stored = state
        .store
        .datasets()
        .await?
        .into_iter()
        .find(|d| d.key == key)
        .ok_or_else(|| ApiError::new(ErrorCode::DatasetNotFound))?;
    let ds = declared(&stored, &crate::datasets::taxonomy(state).await?)?;
    Ok((stored, ds))
}

/// Every declared dataset.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets", security(("bearer" = [])),
    responses((status = 200, body = DatasetsOut), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<DatasetsOut>, ApiError> {
    authorize(
        &state,
        &caller,
        &rid,
        Action::SchemaRead,
        resource("*"),
        None,
    )
    .await?
    .record(&state)
    .await?;
    let mut datasets = Vec::new();
    let tax = crate::datasets::taxonomy(&state).await?;
    for stored in state.store.datasets().await? {
        let ds = declared(&stored, &tax)?;
        datasets.push(out(&state, &stored, &ds));
    }
    Ok(ApiJson(DatasetsOut { datasets }))
}

/// One dataset, with the strategy erasure applies to each field.
#[utoipa::path(get, path = "/v1/datasets/{key}", tag = "datasets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The dataset's fides_key")), responses(
    (status = 200, body = DatasetOut), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiJson<DatasetOut>, ApiError> {
    let (stored, ds) = read(&state, &caller, &rid, &key).await?;
    Ok(ApiJson(out(&state, &stored, &ds)))
}

/// Removes a dataset's declaration (requests no longer reach its database).
#[utoipa::path(delete, path = "/v1/datasets/{key}", tag = "datasets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The dataset's fides_key")), responses(
    (status = 204), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    check_key(&key)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::SchemaWrite,
        resource(&key),
        None,
    )
    .await?;
    let mut draft = permit.draft;
    draft.action = "dataset.removed".into();
    draft.resource = format!("dataset:{key}");
    match state.store.delete_dataset(&key, draft).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(custodian_core::ports::StoreError::NotFound) => {
            Err(ApiError::new(ErrorCode::DatasetNotFound))
        }
        Err(e) => Err(e.into()),
    }
}

/// Connects to the dataset's database and checks that every declared table and column
/// exists, reading no rows.
#[utoipa::path(post, path = "/v1/datasets/{key}/probe", tag = "datasets", security(("bearer" = [])),
    params(("key" = String, Path, description = "The dataset's fides_key")), responses(
    (status = 200, body = DatasetProbeOut), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn probe(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiJson<DatasetProbeOut>, ApiError> {
    let (_, ds) = read(&state, &caller, &rid, &key).await?;
    let Some(url) = state.config.dataset_connections.get(&key) else {
        return Ok(ApiJson(DatasetProbeOut {
            connection: "not_configured",
            reachable: false,
            collections: Vec::new(),
        }));
    };
    let Some(pool) = crate::datasets::connect(url).await else {
        return Ok(ApiJson(DatasetProbeOut {
            connection: "configured",
            reachable: false,
            collections: Vec::new(),
        }));
    };
    let tables = crate::datasets::probe(&pool, url, &ds).await;
    pool.close().await;
    Ok(ApiJson(DatasetProbeOut {
        connection: "configured",
        reachable: true,
        collections: tables
            .into_iter()
            .map(|(name, r)| ProbeTableOut {
                name,
                ok: r.is_ok(),
                code: r.err().flatten(),
            })
            .collect(),
    }))
}
