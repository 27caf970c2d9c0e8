//! The data map over HTTP: import Fides documents, read the map back (JSON or YAML), read
//! and remove single entries, the taxonomy in force, the records of processing (JSON, CSV,
//! HTML) and policy checks. `map.read` / `map.write` on the `DataMap`; reads are audited.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use custodian_core::access::{Action, Resource};
use custodian_core::doc::valid_key;
use custodian_core::map::check::{Report, Severity, parse_policy};
use custodian_core::map::service::{ImportError, check_stored, current, import};
use custodian_core::map::{MapKind, document_of, load, ropa};
use custodian_core::rights::dataset::valid_identifier;
use custodian_core::taxonomy::{self, Kind};
use serde_json::json;

use crate::api::map::{
    ActivityOut, CheckOut, DocFormat, EntryOut, ImportOut, MapQuery, ProcessorActivityOut,
    RopaFormat, RopaOut, RopaQuery, SkippedOut, TaxonomyEntryOut, TaxonomyOut, ViolationOut,
};
use crate::api::time;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::state::AppState;

fn invalid(path: &str, rule: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidMap).details(json!({ "path": path, "rule": rule }))
}

fn invalid_policy(path: &str, rule: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidMapPolicy).details(json!({ "path": path, "rule": rule }))
}

async fn allow_read(state: &AppState, caller: &Caller, rid: &RequestId) -> Result<(), ApiError> {
    authorize(state, caller, rid, Action::MapRead, Resource::DataMap, None)
        .await?
        .record(state)
        .await?;
    Ok(())
}

/// What a document holds beyond the map itself needs its own permission: retention rules
/// decide what is destroyed (`retention.manage`), and each dataset is a collection its
/// declarer must be allowed to write (`schema.write` on `dataset:<key>`, as
/// `PUT /v1/datasets/{key}` asks).
async fn authorize_parts(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    doc: &serde_json::Value,
) -> Result<(), ApiError> {
    let list = |k: &str| {
        doc.get(k)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    if !list("retention_rule").is_empty() {
        let _retention = authorize(
            state,
            caller,
            rid,
            Action::RetentionManage,
            Resource::DataMap,
            None,
        )
        .await?;
    }
    for d in list("dataset") {
        if let Some(key) = d
            .get("fides_key")
            .and_then(|k| k.as_str())
            .filter(|k| valid_identifier(k))
        {
            let _schema = authorize(
                state,
                caller,
                rid,
                Action::SchemaWrite,
                Resource::Collection {
                    name: format!("dataset:{key}"),
                },
                None,
            )
            .await?;
        }
    }
    Ok(())
}

/// Imports a data map document (Fides YAML or JSON: `organization`, `system`, `dataset`,
/// `data_category`, `data_use`, `data_subject`, and Custodian's `retention_rule`): each
/// entry replaces the one with its kind and key; everything is checked first and written in
/// one transaction, or nothing is. Retention rules also need `retention.manage`, and each
/// dataset `schema.write` on `dataset:<key>`.
#[utoipa::path(post, path = "/v1/map:import", tag = "map", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/yaml",
        description = "A Fides document (YAML, or JSON as application/json)"),
    responses(
    (status = 200, body = ImportOut), (status = 403, body = ErrorBody),
    (status = 415, body = ErrorBody, description = "unsupported_media_type"),
    (status = 422, body = ErrorBody, description = "invalid_map"),
))]
pub async fn import_map(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiJson<ImportOut>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::MapWrite,
        Resource::DataMap,
        None,
    )
    .await?;
    let doc = super::document(&headers, &body, invalid, "a data map document")?;
    authorize_parts(&state, &caller, &rid, &doc).await?;
    let (done, _) = import(state.store.as_ref(), &doc, state.clock.now(), permit.draft)
        .await
        .map_err(|e| match e {
            ImportError::Invalid(e) => invalid(&e.path, e.rule),
            ImportError::Store(e) => e.into(),
        })?;
    Ok(ApiJson(ImportOut {
        added: done.added,
        replaced: done.replaced,
        unchanged: done.unchanged,
    }))
}

/// The whole map as one Fides document, each entry as it was accepted: JSON, or YAML with
/// `?format=yaml` (what `custodian map import` reads back).
#[utoipa::path(get, path = "/v1/map", tag = "map", security(("bearer" = [])), params(MapQuery),
    responses((status = 200, body = Object, description = "The Fides document"),
    (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_map(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<MapQuery>,
) -> Result<Response, ApiError> {
    allow_read(&state, &caller, &rid).await?;
    let doc = document_of(
        &state.store.map_entries().await?,
        &state.store.datasets().await?,
    );
    Ok(match q.format.unwrap_or_default() {
        DocFormat::Json => ApiJson(doc).into_response(),
        DocFormat::Yaml => {
            let yaml = yaml_serde::to_string(&doc)
                .map_err(|_| crate::error::internal("the map could not be written as YAML"))?;
            ([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response()
        }
    })
}

fn entry_path(kind: &str, key: &str) -> Result<MapKind, ApiError> {
    match MapKind::parse(kind) {
        Some(k) if valid_key(key) => Ok(k),
        _ => Err(ApiError::new(ErrorCode::InvalidPathParameter)),
    }
}

/// One entry of the map.
#[utoipa::path(get, path = "/v1/map/{kind}/{key}", tag = "map", security(("bearer" = [])),
    params(("kind" = String, Path, description = "organization, system, data_category, data_use, data_subject or retention_rule"),
           ("key" = String, Path, description = "The entry's key")),
    responses((status = 200, body = EntryOut), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_entry(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath((kind, key)): ApiPath<(String, String)>,
) -> Result<ApiJson<EntryOut>, ApiError> {
    let kind = entry_path(&kind, &key)?;
    allow_read(&state, &caller, &rid).await?;
    let e = state
        .store
        .map_entries()
        .await?
        .into_iter()
        .find(|e| e.kind == kind && e.key == key)
        .ok_or_else(|| ApiError::new(ErrorCode::MapEntryNotFound))?;
    Ok(ApiJson(EntryOut {
        kind: e.kind.as_str(),
        body: serde_json::from_str(&e.body)
            .map_err(|_| crate::error::internal("a stored map entry is not JSON"))?,
        key: e.key,
        version: e.version,
        created_at: time(e.created_at),
        updated_at: time(e.updated_at),
    }))
}

/// Removes an entry; refused (409) while other entries use it (a taxonomy entry in a
/// declaration, a category in a rule).
#[utoipa::path(delete, path = "/v1/map/{kind}/{key}", tag = "map", security(("bearer" = [])),
    params(("kind" = String, Path, description = "The entry's kind"),
           ("key" = String, Path, description = "The entry's key")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "map_entry_in_use")))]
pub async fn delete_entry(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath((kind, key)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let kind = entry_path(&kind, &key)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::MapWrite,
        Resource::DataMap,
        None,
    )
    .await?;
    if kind == MapKind::RetentionRule {
        let _retention = authorize(
            &state,
            &caller,
            &rid,
            Action::RetentionManage,
            Resource::DataMap,
            None,
        )
        .await?;
    }
    let mut entries = state.store.map_entries().await?;
    let before = entries.len();
    entries.retain(|e| !(e.kind == kind && e.key == key));
    if entries.len() == before {
        return Err(ApiError::new(ErrorCode::MapEntryNotFound));
    }
    if let Err(e) = load(&entries, &state.store.datasets().await?) {
        return Err(ApiError::new(ErrorCode::MapEntryInUse)
            .details(json!({ "path": e.path, "rule": e.rule })));
    }
    let mut draft = permit.draft;
    draft.action = "map.deleted".into();
    draft.resource = format!("{}:{key}", kind.as_str());
    state.store.delete_map_entry(kind, &key, draft).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn taxonomy_out(map: &custodian_core::map::DataMap, kind: Kind) -> Vec<TaxonomyEntryOut> {
    taxonomy::entries(kind)
        .iter()
        .map(|d| TaxonomyEntryOut {
            key: d.key.to_owned(),
            name: Some(d.name.to_owned()),
            description: Some(d.description.to_owned()),
            added: false,
        })
        .chain(map.taxonomy.added_entries(kind).map(|e| TaxonomyEntryOut {
            key: e.key.clone(),
            name: e.name.clone(),
            description: e.description.clone(),
            added: true,
        }))
        .collect()
}

/// The taxonomy in force: the shipped fideslang-compatible keys with Custodian's names and
/// descriptions, and the organization's additions.
#[utoipa::path(get, path = "/v1/taxonomy", tag = "map", security(("bearer" = [])),
    responses((status = 200, body = TaxonomyOut), (status = 403, body = ErrorBody)))]
pub async fn get_taxonomy(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<TaxonomyOut>, ApiError> {
    allow_read(&state, &caller, &rid).await?;
    let map = current(state.store.as_ref()).await?;
    Ok(ApiJson(TaxonomyOut {
        data_categories: taxonomy_out(&map, Kind::DataCategory),
        data_uses: taxonomy_out(&map, Kind::DataUse),
        data_subjects: taxonomy_out(&map, Kind::DataSubject),
    }))
}

/// The records of processing activities (GDPR Art. 30) generated from the map: JSON, CSV
/// (`?format=csv`) or one HTML page (`?format=html`).
#[utoipa::path(get, path = "/v1/ropa", tag = "map", security(("bearer" = [])), params(RopaQuery),
    responses((status = 200, body = RopaOut, description = "JSON; text/csv or text/html when asked"),
    (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get_ropa(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RopaQuery>,
) -> Result<Response, ApiError> {
    allow_read(&state, &caller, &rid).await?;
    let r = ropa::build(&current(state.store.as_ref()).await?);
    let now = time(state.clock.now());
    Ok(match q.format.unwrap_or_default() {
        RopaFormat::Csv => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"ropa.csv\"",
                ),
            ],
            ropa::csv(&r),
        )
            .into_response(),
        RopaFormat::Html => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            ropa::html_page(&r, &now),
        )
            .into_response(),
        RopaFormat::Json => {
            let (dpo, representative) = ropa::officers(&r);
            ApiJson(RopaOut {
                generated_at: now,
                controller: ropa::controller_line(&r),
                dpo,
                representative,
                activities: r
                    .activities
                    .into_iter()
                    .map(|a| ActivityOut {
                        system: a.system,
                        system_name: a.system_name,
                        name: a.name,
                        purpose: a.purpose,
                        purpose_name: a.purpose_name,
                        legal_basis: a.legal_basis,
                        special_category_basis: a.special_category_basis,
                        data_subjects: a.data_subjects,
                        data_categories: a.data_categories,
                        recipients: a.recipients,
                        transfers: a.transfers,
                        retention: a.retention,
                        security_measures: a.security_measures,
                        joint_controllers: a.joint_controllers,
                        datasets: a.datasets,
                        owner: a.owner,
                    })
                    .collect(),
                processor_activities: r
                    .processor_activities
                    .into_iter()
                    .map(|p| ProcessorActivityOut {
                        system: p.system,
                        processor: p.processor,
                        dpo: p.dpo,
                        controllers: p.controllers,
                        processing: p.processing,
                        transfers: p.transfers,
                        security_measures: p.security_measures,
                    })
                    .collect(),
            })
            .into_response()
        }
    })
}

fn check_out(r: Report) -> CheckOut {
    CheckOut {
        passed: !r.failed(),
        violations: r
            .violations
            .into_iter()
            .map(|v| ViolationOut {
                rule: v.rule,
                severity: match v.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                entry: v.entry,
                path: v.path,
                detail: v.detail,
            })
            .collect(),
        skipped: r
            .skipped
            .into_iter()
            .map(|(rule, reason)| SkippedOut { rule, reason })
            .collect(),
    }
}

/// Checks the stored map against a policy (the same YAML `custodian map check --policy`
/// reads). Always 200 when the policy is valid: `passed` says whether an error was found.
#[utoipa::path(post, path = "/v1/map/check", tag = "map", security(("bearer" = [])),
    request_body(content = Object, content_type = "application/yaml",
        description = "The policy: `rules: [{id, check, ...}]` (YAML, or JSON)"),
    responses((status = 200, body = CheckOut), (status = 403, body = ErrorBody),
    (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "invalid_map_policy")))]
pub async fn check(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiJson<CheckOut>, ApiError> {
    allow_read(&state, &caller, &rid).await?;
    let doc = super::document(&headers, &body, invalid_policy, "a policy")?;
    let rules = parse_policy(&doc).map_err(|e| invalid_policy(&e.path, e.rule))?;
    Ok(ApiJson(check_out(
        check_stored(state.store.as_ref(), &rules, state.clock.now()).await?,
    )))
}
