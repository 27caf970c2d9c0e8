//! The public privacy center (`/privacy`): what the organization collects and why (generated
//! from the data map's declarations, with the taxonomy's names), the current notices and
//! their history, the sub-processors, the rights-request form with its email verification
//! and a status page, and the visitor's consent preferences (view, change, withdraw; a GPC
//! signal is shown and honoured).
//!
//! Every action goes through the same handlers as the public API (`/v1/privacy-center/*`,
//! `/v1/public/consent`), with the same per-address limits. Nothing here needs a key; the
//! visitor's consent id is kept in an `HttpOnly` cookie.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use custodian_core::map::MapKind;
use custodian_core::taxonomy::Kind;
use serde::Deserialize;
use serde_json::{Value, json};

use super::screens::Flashed;
use super::{Flash, error_query, render};
use crate::api::consent::{ChoiceIn, PublicChoicesIn, PublicQuery};
use crate::api::rights::{CodeIn, PublicRequestIn};
use crate::auth::ClientIp;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorCode};
use crate::middleware::RequestId;
use crate::routes;
use crate::state::AppState;

const VISITOR_COOKIE: &str = "custodian_visitor";

/// The organization's name and contacts, from the data map (for the page header).
async fn organization(state: &AppState) -> Result<Value, ApiError> {
    let entries = state.store.map_entries().await?;
    let org = entries
        .iter()
        .find(|e| e.kind == MapKind::Organization)
        .and_then(|e| serde_json::from_str::<Value>(&e.body).ok());
    Ok(org.unwrap_or_else(|| json!({ "name": "Privacy center" })))
}

fn page(state: &AppState, org: Value, nav: &str, f: &Flashed, data: Value) -> Value {
    let brand = &state.config.brand;
    let mut org = org;
    if let (Some(name), Some(o)) = (&brand.name, org.as_object_mut()) {
        o.insert("name".into(), json!(name));
    }
    let mut base = json!({
        "org": org,
        "nav": nav,
        "flash": f.error_flash(),
        "done": f.done_code(),
        "brand": { "css": brand.accent.is_some(), "logo": brand.logo.is_some() },
    });
    if let (Some(b), Value::Object(d)) = (base.as_object_mut(), data) {
        b.extend(d);
    }
    base
}

fn fail(state: &AppState, org: Value, nav: &str, e: &ApiError) -> Response {
    let f = Flashed::with_error(Flash::of(e));
    render(
        e.code().status(),
        "privacy/home.html",
        page(state, org, nav, &f, json!({ "failed": true })),
    )
}

/// What is collected and why: each declaration of each system the organization controls,
/// with the taxonomy's names for uses, categories and subjects.
async fn processing(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let entries = state.store.map_entries().await?;
    let tax = crate::datasets::taxonomy(state).await?;
    let name = |kind: Kind, key: &str| tax.name(kind, key).unwrap_or_else(|| key.to_owned());
    let names = |kind: Kind, v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str())
                    .map(|k| name(kind, k))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| e.kind == MapKind::System) {
        let Ok(sys) = serde_json::from_str::<Value>(&e.body) else {
            continue;
        };
        let processor_only = sys["responsibility"]
            .as_array()
            .is_some_and(|r| !r.is_empty() && r.iter().all(|x| x == "Processor"));
        if processor_only {
            continue;
        }
        for d in sys["privacy_declarations"].as_array().into_iter().flatten() {
            let data_use = d["data_use"].as_str().unwrap_or_default();
            out.push(json!({
                "system": sys["name"],
                "purpose": d["name"],
                "use": name(Kind::DataUse, data_use),
                "categories": names(Kind::DataCategory, &d["data_categories"]),
                "subjects": names(Kind::DataSubject, &d["data_subjects"]),
                "legal_basis": d["legal_basis_for_processing"],
            }));
        }
    }
    Ok(out)
}

/// The latest version of every notice.
async fn notices(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let mut latest: BTreeMap<String, custodian_core::consent::notice::Notice> = BTreeMap::new();
    for n in state.store.list_notices().await? {
        let newer = latest.get(&n.key).is_none_or(|o| n.version > o.version);
        if newer {
            latest.insert(n.key.clone(), n);
        }
    }
    Ok(latest.values().map(notice_view).collect())
}

fn notice_view(n: &custodian_core::consent::notice::Notice) -> Value {
    let (lang, text) = match n.text_for("en") {
        Some((l, t)) => (l.to_owned(), Some(t)),
        None => (String::new(), None),
    };
    json!({
        "key": n.key,
        "version": n.version,
        "language": lang,
        "title": text.map(|t| t.title.clone()),
        "body": text.map(|t| t.body.clone()),
        "url": text.and_then(|t| t.url.clone()),
        "published_at": n.published_at.to_string(),
        "content_hash": n.content_hash,
    })
}

/// The privacy center's home page.
pub async fn home(
    State(state): State<AppState>,
    Extension(ip): Extension<ClientIp>,
    f: Flashed,
) -> Response {
    let org = match organization(&state).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let data = async {
        let processing = processing(&state).await?;
        let notices = notices(&state).await?;
        let subs =
            routes::registers::public_subprocessors(State(state.clone()), Extension(ip)).await?;
        Ok::<_, ApiError>(json!({
            "processing": processing,
            "notices": notices,
            "subprocessors": serde_json::to_value(subs.0).unwrap_or(Value::Null),
        }))
    }
    .await;
    match data {
        Ok(d) => render(
            StatusCode::OK,
            "privacy/home.html",
            page(&state, org, "home", &f, d),
        ),
        Err(e) => fail(&state, org, "home", &e),
    }
}

/// A notice's history: every published version, newest first, with its content hash.
pub async fn notice(
    State(state): State<AppState>,
    Path(key): Path<String>,
    f: Flashed,
) -> Response {
    let st = state.clone();
    let org = match organization(&state).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    if !custodian_core::doc::valid_key(&key) {
        return fail(
            &state,
            org,
            "home",
            &ApiError::new(ErrorCode::InvalidPathParameter),
        );
    }
    match state.store.notice_versions(&key).await {
        Ok(v) if !v.is_empty() => {
            let mut versions: Vec<Value> = v.iter().map(notice_view).collect();
            versions.reverse();
            render(
                StatusCode::OK,
                "privacy/home.html",
                page(
                    &st,
                    org,
                    "notice",
                    &f,
                    json!({ "history": versions, "notice_key": key }),
                ),
            )
        }
        Ok(_) => fail(&state, org, "home", &ApiError::new(ErrorCode::NotFound)),
        Err(e) => fail(&state, org, "home", &e.into()),
    }
}

/// The rights-request form.
pub async fn request_form(State(state): State<AppState>, f: Flashed) -> Response {
    let org = match organization(&state).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    render(
        StatusCode::OK,
        "privacy/request.html",
        page(&state, org, "request", &f, json!({})),
    )
}

/// The request form's fields.
#[derive(Debug, Deserialize)]
pub struct RequestForm {
    request_type: String,
    jurisdiction: String,
    email: Option<String>,
    name: Option<String>,
}

/// Files a request; the status page then asks for the emailed code.
pub async fn file(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    form: Result<axum::Form<RequestForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(f)) = form else {
        return Redirect::to("/privacy/request?error=invalid_form").into_response();
    };
    let clean = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = PublicRequestIn {
        request_type: f.request_type,
        jurisdiction: f.jurisdiction,
        email: clean(f.email),
        name: clean(f.name),
        agent: None,
    };
    match routes::privacy_center::create(
        State(state),
        Extension(rid),
        Extension(ip),
        ApiJson(input),
    )
    .await
    {
        Ok((_, ApiJson(r))) => {
            Redirect::to(&format!("/privacy/requests/{}?done=filed", r.id)).into_response()
        }
        Err(e) => Redirect::to(&format!("/privacy/request?{}", error_query(&e))).into_response(),
    }
}

/// A request's status, with the code form while verification is awaited.
pub async fn status(State(state): State<AppState>, Path(id): Path<String>, f: Flashed) -> Response {
    let st = state.clone();
    let org = match organization(&state).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    match routes::privacy_center::status(State(state), ApiPath(id)).await {
        Ok(ApiJson(r)) => render(
            StatusCode::OK,
            "privacy/status.html",
            page(
                &st,
                org,
                "request",
                &f,
                json!({ "r": serde_json::to_value(r).unwrap_or(Value::Null) }),
            ),
        ),
        Err(e) => fail(&st, org, "request", &e),
    }
}

/// The code form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    code: String,
}

fn back_to(id: &str) -> String {
    format!("/privacy/requests/{}", super::session::safe_id(id))
}

/// Checks the emailed code.
pub async fn verify(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    Path(id): Path<String>,
    form: Result<axum::Form<CodeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let back = back_to(&id);
    let Ok(axum::Form(f)) = form else {
        return Redirect::to(&format!("{back}?error=invalid_form")).into_response();
    };
    let r = routes::privacy_center::verify(
        State(state),
        Extension(rid),
        Extension(ip),
        ApiPath(id),
        ApiJson(CodeIn {
            code: f.code.trim().to_owned(),
        }),
    )
    .await;
    super::after(&back, "verified", r)
}

/// Withdraws the request (while it is open).
pub async fn withdraw(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    let back = back_to(&id);
    let r = routes::privacy_center::withdraw(State(state), Extension(rid), ApiPath(id)).await;
    super::after(&back, "withdrawn", r)
}

/// Sends a new code.
pub async fn resend(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    Path(id): Path<String>,
) -> Response {
    let back = back_to(&id);
    let r =
        routes::privacy_center::resend(State(state), Extension(rid), Extension(ip), ApiPath(id))
            .await;
    super::after(&back, "code_sent", r)
}

fn visitor(headers: &HeaderMap) -> Option<String> {
    super::cookie(headers, VISITOR_COOKIE)
        .filter(|v| {
            v.len() == 36 && v.starts_with("vis_") && v[4..].bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(str::to_owned)
}

fn visitor_cookie(state: &AppState, id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{VISITOR_COOKIE}={id}; Path=/privacy; HttpOnly; SameSite=Lax; Max-Age=34128000{}",
        super::secure_flag(state)
    ))
    .ok()
}

/// The visitor's consent preferences: each purpose that needs a choice, its current state,
/// and whether a GPC signal was received (and applied).
pub async fn preferences(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    f: Flashed,
) -> Response {
    let st = state.clone();
    let org = match organization(&state).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let q = PublicQuery {
        visitor_id: visitor(&headers),
        lang: Some("en".into()),
    };
    match routes::consent::public_get(
        State(state.clone()),
        Extension(rid),
        Extension(ip),
        headers,
        ApiQuery(q),
    )
    .await
    {
        Ok(ApiJson(v)) => {
            let visitor_id = v.visitor_id.clone();
            let mut resp = render(
                StatusCode::OK,
                "privacy/preferences.html",
                page(
                    &st,
                    org,
                    "preferences",
                    &f,
                    json!({ "c": serde_json::to_value(v).unwrap_or(Value::Null) }),
                ),
            );
            if let Some(c) = visitor_id
                .as_deref()
                .and_then(|id| visitor_cookie(&state, id))
            {
                resp.headers_mut().insert(header::SET_COOKIE, c);
            }
            resp
        }
        Err(e) => fail(&state, org, "preferences", &e),
    }
}

/// Records the visitor's choices (`purpose:<key>` = `given` or `refused`; `withdraw_all`
/// withdraws every consent given).
pub async fn save_preferences(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut choices = Vec::new();
    let mut withdraw_all = false;
    for (k, v) in form_urlencoded::parse(&body) {
        if k == "withdraw_all" {
            withdraw_all = true;
        } else if let Some(p) = k.strip_prefix("purpose:") {
            choices.push((p.to_owned(), v.into_owned()));
        }
    }
    let visitor_id = visitor(&headers);
    if withdraw_all {
        // Withdraw what is given now; refusals stay refusals.
        let q = PublicQuery {
            visitor_id: visitor_id.clone(),
            lang: None,
        };
        match routes::consent::public_get(
            State(state.clone()),
            Extension(rid.clone()),
            Extension(ip),
            HeaderMap::new(),
            ApiQuery(q),
        )
        .await
        {
            Ok(ApiJson(v)) => {
                choices = v
                    .purposes
                    .iter()
                    .filter(|p| p.state == Some("given"))
                    .map(|p| (p.key.clone(), "withdrawn".to_owned()))
                    .collect();
            }
            Err(e) => {
                return Redirect::to(&format!("/privacy/preferences?{}", error_query(&e)))
                    .into_response();
            }
        }
    }
    let input = PublicChoicesIn {
        visitor_id: visitor_id.clone(),
        choices: choices
            .into_iter()
            .map(|(purpose, state)| ChoiceIn { purpose, state })
            .collect(),
        notice: None,
        language: Some("en".into()),
        jurisdiction: None,
        gpc: None,
    };
    match routes::consent::public_record(
        State(state.clone()),
        Extension(rid),
        Extension(ip),
        headers,
        ApiJson(input),
    )
    .await
    {
        Ok((_, ApiJson(out))) => {
            let mut resp = Redirect::to("/privacy/preferences?done=saved").into_response();
            if let Some(c) = visitor_cookie(&state, &out.subject_id) {
                resp.headers_mut().insert(header::SET_COOKIE, c);
            }
            resp
        }
        Err(e) => {
            Redirect::to(&format!("/privacy/preferences?{}", error_query(&e))).into_response()
        }
    }
}
