//! The vendor register and the DPIAs over HTTP, on the compliance register: vendors
//! (`vendor.read`, `vendor.manage`) with their reviews and the public sub-processor list;
//! DPIAs (`dpia.read`, `dpia.write`, `dpia.approve`) with their workflow and which
//! processing needs one. Both are documents read strictly by the core and kept in the
//! register table over the version read; every change is audited with the key and codes.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use custodian_core::Timestamp;
use custodian_core::access::Action;
use custodian_core::doc::{DocError, valid_key};
use custodian_core::dpia::{DEFAULT_RULES, Dpia, DpiaError};
use custodian_core::map::MapKind;
use custodian_core::map::check::{evaluate, parse_policy};
use custodian_core::ports::StoreError;
use custodian_core::register::{RegisterEntry, RegisterKind};
use custodian_core::taxonomy::Kind;
use custodian_core::vendor::{self, Review, Vendor};
use serde_json::{Value, json};

use crate::api::compliance::{
    DpiaOut, DpiaStepIn, DpiasOut, RequiredDpiaOut, RequiredDpiasOut, ReviewIn, SubProcessorOut,
    SubProcessorsOut, VendorOut, VendorsOut, VendorsQuery,
};
use crate::api::time;
use crate::auth::{Caller, ClientIp};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::authorize_compliance as allow;
use crate::middleware::RequestId;
use crate::state::AppState;

fn doc_error(code: ErrorCode, e: &DocError) -> ApiError {
    ApiError::new(code).details(json!({ "path": e.path, "rule": e.rule }))
}

fn check_key(code: ErrorCode, key: &str) -> Result<(), ApiError> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(ApiError::new(code).details(json!({ "path": "key", "rule": "a key" })))
    }
}

/// Splits `version` off a document body: the rest is the document.
pub(crate) fn split_version(
    mut body: Value,
    code: ErrorCode,
) -> Result<(Option<i64>, Value), ApiError> {
    let version = match body.as_object_mut().and_then(|o| o.remove("version")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().filter(|v| *v >= 1).ok_or_else(|| {
            ApiError::new(code).details(json!({ "path": "$.version", "rule": "a version number" }))
        })?),
    };
    Ok((version, body))
}

/// An entry to store: new without a version, else over the version read (`old`).
pub(crate) struct Write<'a> {
    /// The kind.
    pub kind: RegisterKind,
    /// The key.
    pub key: &'a str,
    /// The document.
    pub body: String,
    /// The version read (none: new).
    pub version: Option<i64>,
    /// The entry read.
    pub old: Option<&'a RegisterEntry>,
}

/// Stores an entry with its audit event (`action`, `fields`).
pub(crate) async fn put_entry(
    state: &AppState,
    w: Write<'_>,
    mut draft: custodian_core::audit::AuditDraft,
    action: &str,
    fields: Vec<String>,
) -> Result<RegisterEntry, ApiError> {
    let Write {
        kind,
        key,
        body,
        version,
        old,
    } = w;
    let now = state.clock.now();
    let entry = RegisterEntry {
        kind,
        key: key.to_owned(),
        body,
        version: match version {
            None => 1,
            Some(v) => v
                .checked_add(1)
                .ok_or_else(|| ApiError::new(ErrorCode::EntryChanged))?,
        },
        created_at: old.map_or(now, |o| o.created_at),
        updated_at: now,
    };
    draft.action = action.into();
    draft.resource = format!("{}:{key}", kind.as_str());
    draft.fields = fields;
    match state.store.put_register_entry(&entry, version, draft).await {
        Ok(_) => Ok(entry),
        Err(StoreError::Conflict("exists")) => Err(ApiError::new(ErrorCode::EntryExists)),
        Err(StoreError::Conflict("version")) => Err(ApiError::new(ErrorCode::EntryChanged)),
        Err(StoreError::NotFound) => Err(ApiError::new(match kind {
            RegisterKind::Vendor => ErrorCode::VendorNotFound,
            RegisterKind::Dpia => ErrorCode::DpiaNotFound,
            RegisterKind::Alert => ErrorCode::AlertNotFound,
            RegisterKind::Monitor
            | RegisterKind::ConsoleCredential
            | RegisterKind::ConsoleInvitation
            | RegisterKind::ConsoleSession => ErrorCode::NotFound,
        })),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn vendor_out(e: &RegisterEntry, v: &Vendor, now: Timestamp) -> VendorOut {
    VendorOut {
        key: e.key.clone(),
        document: serde_json::from_str(&v.to_json()).unwrap_or(Value::Null),
        next_review_due: v.next_review_due(e.created_at).map(time),
        findings: v.findings(e.created_at, now),
        version: e.version,
        created_at: time(e.created_at),
        updated_at: time(e.updated_at),
    }
}

pub(crate) fn read_vendor(e: &RegisterEntry) -> Result<Vendor, ApiError> {
    Vendor::from_json(&e.key, &e.body)
        .ok_or_else(|| crate::error::internal("a stored vendor no longer reads"))
}

async fn load_vendor(state: &AppState, key: &str) -> Result<(RegisterEntry, Vendor), ApiError> {
    let e = state
        .store
        .register_entry(RegisterKind::Vendor, key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::VendorNotFound))?;
    let v = read_vendor(&e)?;
    Ok((e, v))
}

/// Lists the vendors with their next review and findings (`dpa_missing`, `dpa_expired`,
/// `review_overdue`, `last_review_rejected`); `review_due_within_days` keeps those whose
/// review falls due within that many days.
#[utoipa::path(get, path = "/v1/vendors", tag = "compliance", security(("bearer" = [])),
    params(VendorsQuery), responses((status = 200, body = VendorsOut), (status = 403, body = ErrorBody)))]
pub async fn list_vendors(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<VendorsQuery>,
) -> Result<ApiJson<VendorsOut>, ApiError> {
    if q.review_due_within_days.is_some_and(|d| d > 3_650) {
        return Err(ApiError::new(ErrorCode::InvalidQuery));
    }
    allow(&state, &caller, &rid, Action::VendorRead)
        .await?
        .record(&state)
        .await?;
    let now = state.clock.now();
    let horizon = q.review_due_within_days.map(|d| {
        now.checked_add(jiff::SignedDuration::from_hours(24 * i64::from(d)))
            .unwrap_or(now)
    });
    let mut vendors = Vec::new();
    for e in state.store.register_entries(RegisterKind::Vendor).await? {
        let v = read_vendor(&e)?;
        if let Some(h) = horizon
            && v.next_review_due(e.created_at).is_none_or(|d| d > h)
        {
            continue;
        }
        vendors.push(vendor_out(&e, &v, now));
    }
    Ok(ApiJson(VendorsOut { vendors }))
}

/// One vendor.
#[utoipa::path(get, path = "/v1/vendors/{key}", tag = "compliance", security(("bearer" = [])),
    params(("key" = String, Path, description = "Vendor key")),
    responses((status = 200, body = VendorOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "vendor_not_found")))]
pub async fn get_vendor(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiJson<VendorOut>, ApiError> {
    check_key(ErrorCode::InvalidVendor, &key)?;
    let mut permit = allow(&state, &caller, &rid, Action::VendorRead).await?;
    permit.draft.resource = format!("vendor:{key}");
    permit.record(&state).await?;
    let (e, v) = load_vendor(&state, &key).await?;
    Ok(ApiJson(vendor_out(&e, &v, state.clock.now())))
}

/// Adds a vendor (no `version`) or replaces its declaration (the `version` read): `name`,
/// `services`, `website`, `country`, `role` (`processor`, `sub_processor`, `controller`,
/// `joint_controller`), `systems` (of the data map), `data_categories`, `dpa`
/// (`signed_at`, `expires_at`, `reference`), `transfer_mechanism`, `sub_processors`
/// (`name`, `country`, `services`), `risk` (`low`, `medium`, `high`),
/// `review_every_months` (default by risk: 24, 12, 6), `public` (listed in the privacy
/// center), `status` (`active`, `offboarded`). Reviews are kept.
#[utoipa::path(put, path = "/v1/vendors/{key}", tag = "compliance", security(("bearer" = [])),
    params(("key" = String, Path, description = "Vendor key")),
    request_body(content = Object, description = "The vendor's declaration, with `version` to change it"),
    responses((status = 201, body = VendorOut, description = "added"), (status = 200, body = VendorOut, description = "changed"),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "vendor_not_found"),
    (status = 409, body = ErrorBody, description = "entry_exists, entry_changed"),
    (status = 422, body = ErrorBody, description = "invalid_vendor")))]
pub async fn put_vendor(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, ApiJson<VendorOut>), ApiError> {
    check_key(ErrorCode::InvalidVendor, &key)?;
    let (version, doc) = split_version(body, ErrorCode::InvalidVendor)?;
    let permit = allow(&state, &caller, &rid, Action::VendorManage).await?;
    let entries = state.store.map_entries().await?;
    let tax = crate::datasets::taxonomy(&state).await?;
    let system = |s: &str| {
        entries
            .iter()
            .any(|e| e.kind == MapKind::System && e.key == s)
    };
    let category = |c: &str| tax.contains(Kind::DataCategory, c);
    let old = match version {
        Some(_) => Some(load_vendor(&state, &key).await?),
        None => None,
    };
    let reviews = old
        .as_ref()
        .map(|(_, v)| v.reviews.clone())
        .unwrap_or_default();
    let v = vendor::parse(
        &key,
        &doc,
        &vendor::Known {
            system: &system,
            category: &category,
        },
        reviews,
    )
    .map_err(|e| doc_error(ErrorCode::InvalidVendor, &e))?;
    let fields = vec![
        format!("risk:{}", v.risk.as_str()),
        format!("status:{}", v.status),
    ];
    let e = put_entry(
        &state,
        Write {
            kind: RegisterKind::Vendor,
            key: &key,
            body: v.to_json(),
            version,
            old: old.as_ref().map(|(e, _)| e),
        },
        permit.draft,
        if version.is_none() {
            "vendor.added"
        } else {
            "vendor.changed"
        },
        fields,
    )
    .await?;
    let status = if version.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(vendor_out(&e, &v, state.clock.now()))))
}

/// Records a review of a vendor (`approved`, `approved_with_conditions` or `rejected`, with
/// notes); the next review falls due a cadence after it.
#[utoipa::path(post, path = "/v1/vendors/{key}/reviews", tag = "compliance", security(("bearer" = [])),
    params(("key" = String, Path, description = "Vendor key")), request_body = ReviewIn,
    responses((status = 200, body = VendorOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "vendor_not_found"),
    (status = 409, body = ErrorBody, description = "entry_changed"),
    (status = 422, body = ErrorBody, description = "invalid_vendor")))]
pub async fn review_vendor(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<ReviewIn>,
) -> Result<ApiJson<VendorOut>, ApiError> {
    check_key(ErrorCode::InvalidVendor, &key)?;
    let now = state.clock.now();
    let bad = |path: &str, rule: &str| {
        ApiError::new(ErrorCode::InvalidVendor).details(json!({ "path": path, "rule": rule }))
    };
    if !vendor::OUTCOMES.contains(&body.outcome.as_str()) {
        return Err(bad(
            "$.outcome",
            "approved, approved_with_conditions or rejected",
        ));
    }
    let notes = body
        .notes
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if notes.is_some_and(|n| {
        n.chars().count() > 4_000 || n.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    }) {
        return Err(bad(
            "$.notes",
            "at most 4,000 characters, no control characters",
        ));
    }
    let at = match &body.reviewed_at {
        None => now,
        Some(s) => s
            .parse::<Timestamp>()
            .ok()
            .filter(|t| *t <= now)
            .ok_or_else(|| bad("$.reviewed_at", "an RFC 3339 time, not in the future"))?,
    };
    let permit = allow(&state, &caller, &rid, Action::VendorManage).await?;
    let (e, mut v) = load_vendor(&state, &key).await?;
    if e.version != body.version {
        return Err(ApiError::new(ErrorCode::EntryChanged));
    }
    if v.reviews.last().is_some_and(|r| r.at > at) {
        return Err(bad("$.reviewed_at", "not before the last review"));
    }
    v.reviews.push(Review {
        at,
        by: permit.draft.actor.clone(),
        outcome: body.outcome.clone(),
        notes: notes.map(str::to_owned),
    });
    let saved = put_entry(
        &state,
        Write {
            kind: RegisterKind::Vendor,
            key: &key,
            body: v.to_json(),
            version: Some(e.version),
            old: Some(&e),
        },
        permit.draft,
        "vendor.reviewed",
        vec![format!("outcome:{}", body.outcome)],
    )
    .await?;
    Ok(ApiJson(vendor_out(&saved, &v, now)))
}

/// The public list of sub-processors (the active vendors marked `public`), for the privacy
/// center: no key needed.
#[utoipa::path(get, path = "/v1/privacy-center/subprocessors", tag = "compliance",
    responses((status = 200, body = SubProcessorsOut), (status = 429, body = ErrorBody)))]
pub async fn public_subprocessors(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
) -> Result<ApiJson<SubProcessorsOut>, ApiError> {
    if state.limiter.blocked(ip.0, state.clock.now()) {
        return Err(ApiError::new(ErrorCode::TooManyRequests));
    }
    let tax = crate::datasets::taxonomy(&state).await?;
    let mut out = Vec::new();
    for e in state.store.register_entries(RegisterKind::Vendor).await? {
        let v = read_vendor(&e)?;
        if !v.public || v.status != "active" {
            continue;
        }
        out.push(SubProcessorOut {
            name: v.name.clone(),
            services: v.services.clone(),
            country: v.country.clone(),
            role: v.role.clone(),
            data_categories: v
                .data_categories
                .iter()
                .map(|c| tax.name(Kind::DataCategory, c).unwrap_or_else(|| c.clone()))
                .collect(),
            transfer_mechanism: v.transfer_mechanism.map(|m| m.as_str()),
            sub_processors: v.sub_processors.iter().map(|s| s.name.clone()).collect(),
        });
    }
    Ok(ApiJson(SubProcessorsOut {
        updated_at: time(state.clock.now()),
        sub_processors: out,
    }))
}

pub(crate) fn dpia_out(e: &RegisterEntry, d: &Dpia) -> DpiaOut {
    DpiaOut {
        key: e.key.clone(),
        document: serde_json::from_str(&d.to_json()).unwrap_or(Value::Null),
        status: d.status.as_str(),
        consultation_required: d.consultation_required(),
        version: e.version,
        created_at: time(e.created_at),
        updated_at: time(e.updated_at),
    }
}

async fn load_dpia(state: &AppState, key: &str) -> Result<(RegisterEntry, Dpia), ApiError> {
    let e = state
        .store
        .register_entry(RegisterKind::Dpia, key)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::DpiaNotFound))?;
    let d = Dpia::from_json(&e.key, &e.body)
        .ok_or_else(|| crate::error::internal("a stored DPIA no longer reads"))?;
    Ok((e, d))
}

/// Lists the DPIAs.
#[utoipa::path(get, path = "/v1/dpias", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = DpiasOut), (status = 403, body = ErrorBody)))]
pub async fn list_dpias(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<DpiasOut>, ApiError> {
    allow(&state, &caller, &rid, Action::DpiaRead)
        .await?
        .record(&state)
        .await?;
    let mut dpias = Vec::new();
    for e in state.store.register_entries(RegisterKind::Dpia).await? {
        if let Some(d) = Dpia::from_json(&e.key, &e.body) {
            dpias.push(dpia_out(&e, &d));
        }
    }
    Ok(ApiJson(DpiasOut { dpias }))
}

/// One DPIA.
#[utoipa::path(get, path = "/v1/dpias/{key}", tag = "compliance", security(("bearer" = [])),
    params(("key" = String, Path, description = "DPIA key")),
    responses((status = 200, body = DpiaOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "dpia_not_found")))]
pub async fn get_dpia(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
) -> Result<ApiJson<DpiaOut>, ApiError> {
    check_key(ErrorCode::InvalidDpia, &key)?;
    let mut permit = allow(&state, &caller, &rid, Action::DpiaRead).await?;
    permit.draft.resource = format!("dpia:{key}");
    permit.record(&state).await?;
    let (e, d) = load_dpia(&state, &key).await?;
    Ok(ApiJson(dpia_out(&e, &d)))
}

/// Starts a DPIA (no `version`) or edits a draft (the `version` read): `title`,
/// `processing` (`system` and `data_use` pairs the data map declares), `description`,
/// `necessity`, `risks` (`description`, `likelihood`, `severity`, `measures`, `residual`:
/// `low`, `medium`, `high`), `review_by`.
#[utoipa::path(put, path = "/v1/dpias/{key}", tag = "compliance", security(("bearer" = [])),
    params(("key" = String, Path, description = "DPIA key")),
    request_body(content = Object, description = "The assessment, with `version` to edit it"),
    responses((status = 201, body = DpiaOut, description = "started"), (status = 200, body = DpiaOut, description = "edited"),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "dpia_not_found"),
    (status = 409, body = ErrorBody, description = "entry_exists, entry_changed, dpia_transition"),
    (status = 422, body = ErrorBody, description = "invalid_dpia")))]
pub async fn put_dpia(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, ApiJson<DpiaOut>), ApiError> {
    check_key(ErrorCode::InvalidDpia, &key)?;
    let (version, doc) = split_version(body, ErrorCode::InvalidDpia)?;
    let permit = allow(&state, &caller, &rid, Action::DpiaWrite).await?;
    let map = custodian_core::map::service::current(state.store.as_ref()).await?;
    let processing = |system: &str, data_use: &str| {
        map.systems
            .iter()
            .any(|s| s.key == system && s.declarations.iter().any(|d| d.data_use == data_use))
    };
    let parsed = custodian_core::dpia::parse(
        &key,
        &doc,
        &custodian_core::dpia::Known {
            processing: &processing,
        },
        &permit.draft.actor,
    )
    .map_err(|e| doc_error(ErrorCode::InvalidDpia, &e))?;
    let (old, next) = match version {
        None => (None, parsed),
        Some(_) => {
            let (e, d) = load_dpia(&state, &key).await?;
            let next = d
                .edit(parsed, &permit.draft.actor)
                .map_err(|e| transition(&e))?;
            (Some(e), next)
        }
    };
    let e = put_entry(
        &state,
        Write {
            kind: RegisterKind::Dpia,
            key: &key,
            body: next.to_json(),
            version,
            old: old.as_ref(),
        },
        permit.draft,
        if version.is_none() {
            "dpia.started"
        } else {
            "dpia.edited"
        },
        Vec::new(),
    )
    .await?;
    let status = if version.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(dpia_out(&e, &next))))
}

fn transition(e: &DpiaError) -> ApiError {
    ApiError::with_message(ErrorCode::DpiaTransition, e.to_string())
}

/// Takes a step: `submit` (a complete draft goes to review), `approve` or `reject` (the
/// DPO's sign-off, never by one who wrote, edited or submitted it, with an `opinion`),
/// `reopen` (back to a draft).
#[utoipa::path(post, path = "/v1/dpias/{key}/steps", tag = "compliance", security(("bearer" = [])),
    params(("key" = String, Path, description = "DPIA key")), request_body = DpiaStepIn,
    responses((status = 200, body = DpiaOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody, description = "dpia_not_found"),
    (status = 409, body = ErrorBody, description = "entry_changed, dpia_transition"),
    (status = 422, body = ErrorBody, description = "invalid_dpia")))]
pub async fn dpia_step(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<DpiaStepIn>,
) -> Result<ApiJson<DpiaOut>, ApiError> {
    check_key(ErrorCode::InvalidDpia, &key)?;
    let bad = |path: &str, rule: &str| {
        ApiError::new(ErrorCode::InvalidDpia).details(json!({ "path": path, "rule": rule }))
    };
    let action = match body.step.as_str() {
        "approve" | "reject" => Action::DpiaApprove,
        "submit" | "reopen" => Action::DpiaWrite,
        _ => return Err(bad("$.step", "submit, approve, reject or reopen")),
    };
    let opinion = body
        .opinion
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty());
    if opinion.is_some_and(|o| {
        o.chars().count() > 8_000 || o.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    }) {
        return Err(bad(
            "$.opinion",
            "at most 8,000 characters, no control characters",
        ));
    }
    let permit = allow(&state, &caller, &rid, action).await?;
    let (e, d) = load_dpia(&state, &key).await?;
    if e.version != body.version {
        return Err(ApiError::new(ErrorCode::EntryChanged));
    }
    let now = state.clock.now();
    let next = match body.step.as_str() {
        "submit" => d.submit(&permit.draft.actor),
        "approve" => d.sign_off(true, &permit.draft.actor, now, opinion.map(str::to_owned)),
        "reject" => d.sign_off(false, &permit.draft.actor, now, opinion.map(str::to_owned)),
        _ => d.reopen(),
    }
    .map_err(|e| transition(&e))?;
    let saved = put_entry(
        &state,
        Write {
            kind: RegisterKind::Dpia,
            key: &key,
            body: next.to_json(),
            version: Some(e.version),
            old: Some(&e),
        },
        permit.draft,
        "dpia.step",
        vec![
            format!("step:{}", body.step),
            format!("status:{}", next.status.as_str()),
        ],
    )
    .await?;
    Ok(ApiJson(dpia_out(&saved, &next)))
}

/// Which processing needs a DPIA under the shipped rules (special categories, employees'
/// data for employment, profiling and advertising, precise location: `custodian_core::dpia::DEFAULT_RULES`),
/// and the approved DPIAs that cover each (none: one is missing).
#[utoipa::path(get, path = "/v1/dpias/required", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = RequiredDpiasOut), (status = 403, body = ErrorBody)))]
pub async fn required_dpias(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<RequiredDpiasOut>, ApiError> {
    allow(&state, &caller, &rid, Action::DpiaRead)
        .await?
        .record(&state)
        .await?;
    let rules = serde_json::from_str(DEFAULT_RULES)
        .ok()
        .and_then(|v: Value| parse_policy(&v).ok())
        .ok_or_else(|| crate::error::internal("the shipped DPIA rules do not read"))?;
    let map = custodian_core::map::service::current(state.store.as_ref()).await?;
    let dpias = custodian_core::register::dpias(state.store.as_ref()).await?;
    let now = state.clock.now();
    // Every declaration the rules match: evaluated as if nothing were covered.
    let none = |_: &str, _: &str| false;
    let report = evaluate(&rules, &map, None, Some(&none));
    let mut required = Vec::new();
    for v in report.violations {
        let system = v
            .entry
            .strip_prefix("system:")
            .unwrap_or(&v.entry)
            .to_owned();
        let index = v
            .path
            .strip_prefix("privacy_declarations[")
            .and_then(|p| p.strip_suffix(']'))
            .and_then(|i| i.parse::<usize>().ok());
        let Some(decl) = map
            .systems
            .iter()
            .find(|s| s.key == system)
            .and_then(|s| index.and_then(|i| s.declarations.get(i)))
        else {
            continue;
        };
        let covered_by: Vec<String> = dpias
            .iter()
            .filter(|d| d.covers(&system, &decl.data_use, now))
            .map(|d| d.key.clone())
            .collect();
        required.push(RequiredDpiaOut {
            rule: v.rule.clone(),
            system,
            data_use: decl.data_use.clone(),
            reason: rules
                .iter()
                .find(|r| r.id == v.rule)
                .and_then(|r| r.message.clone())
                .unwrap_or_default(),
            covered: !covered_by.is_empty(),
            covered_by,
        });
    }
    Ok(ApiJson(RequiredDpiasOut {
        missing: required.iter().filter(|r| !r.covered).count(),
        required,
    }))
}
