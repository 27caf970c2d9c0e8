//! The console's screens. Each calls the API handler of what it shows or does, with the
//! signed-in operator as the caller, so the same Cedar decision and the same audit event
//! apply as for the API; the page only renders the handler's wire type. Forms post, then
//! redirect (`?done=` or the error's `?error=&field=&rule=`).

use std::collections::BTreeMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::session::ConsoleUser;
use super::{Flash, after, render};
use crate::api::consent::{NoticeIn, NoticeTextIo, PurposeIn};
use crate::api::map::{HoldIn, MapQuery, PlanQuery, ProposalsQuery, RopaQuery};
use crate::api::rights::{RequesterIn, RightsListQuery, RightsRequestIn, StepIn};
use crate::api::{CreateKeyIn, CreateOperatorIn, PutPoliciesIn};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorCode};
use crate::middleware::RequestId;
use crate::routes;
use crate::state::AppState;

/// The flash parameters of a page's query (`error`, `field`, `rule`, `done`).
#[derive(Debug, Default)]
pub struct Flashed {
    error: Option<Flash>,
    done: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Flashed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let mut m: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            if matches!(k.as_ref(), "error" | "field" | "rule" | "done") {
                m.insert(k.into_owned(), v.into_owned());
            }
        }
        let get = |k: &str| m.get(k).map(String::as_str);
        Ok(Flashed {
            error: Flash::from_query(get("error"), get("field"), get("rule")),
            done: get("done")
                .filter(|d| d.len() <= 40 && d.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .map(str::to_owned),
        })
    }
}

impl Flashed {
    /// A flash holding `error`.
    pub fn with_error(error: Flash) -> Flashed {
        Flashed {
            error: Some(error),
            done: None,
        }
    }

    /// The error to show, if any.
    pub fn error_flash(&self) -> Option<&Flash> {
        self.error.as_ref()
    }

    /// What was just done (`saved`, `filed`, …), if anything.
    pub fn done_code(&self) -> Option<&str> {
        self.done.as_deref()
    }
}

/// The context every console page gets: the operator, the active navigation entry, the
/// page's title and its flash.
fn ctx(user: &ConsoleUser, nav: &str, title: &str, f: &Flashed, data: Value) -> Value {
    let mut base = json!({
        "user": user.view(),
        "nav": nav,
        "title": title,
        "flash": f.error,
        "done": f.done,
    });
    if let (Some(b), Value::Object(d)) = (base.as_object_mut(), data) {
        b.extend(d);
    }
    base
}

/// A page, or the page's error in the layout (with the error's status).
fn show(
    template: &str,
    user: &ConsoleUser,
    nav: &str,
    title: &str,
    f: &Flashed,
    data: Result<Value, ApiError>,
) -> Response {
    match data {
        Ok(d) => render(StatusCode::OK, template, ctx(user, nav, title, f, d)),
        Err(e) => error_page(user, nav, title, &e),
    }
}

fn error_page(user: &ConsoleUser, nav: &str, title: &str, e: &ApiError) -> Response {
    let f = Flashed {
        error: Some(Flash::of(e)),
        done: None,
    };
    render(
        e.code().status(),
        "console/message.html",
        ctx(user, nav, title, &f, json!({})),
    )
}

/// A handler's JSON answer as a template value.
fn val<T: Serialize>(r: Result<ApiJson<T>, ApiError>) -> Result<Value, ApiError> {
    r.map(|j| serde_json::to_value(j.0).unwrap_or(Value::Null))
}

/// The JSON body of a handler that answers a `Response`.
async fn json_body(r: Result<Response, ApiError>) -> Result<Value, ApiError> {
    let resp = r?;
    let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024 * 1024)
        .await
        .map_err(|_| crate::error::internal("a handler's answer could not be read"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| crate::error::internal("a handler's answer is not JSON"))
}

/// Splits a comma- or line-separated form field into trimmed, non-empty items.
fn items(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn opt(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn yaml_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml"),
    );
    h
}

/// A console form's fields; a form missing a field, or with one of the wrong shape, is
/// answered with `invalid_form` in the console's layout.
pub struct Fields<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequest<AppState> for Fields<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let user = req.extensions().get::<ConsoleUser>().cloned();
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(Fields(v)),
            Err(_) => {
                let e = ApiError::new(ErrorCode::InvalidForm);
                Err(match user {
                    Some(u) => error_page(&u, "", "The form", &e),
                    None => e.into_response(),
                })
            }
        }
    }
}

/// What every screen has: the state, the request's id and the signed-in operator, who is the
/// caller of the API handlers the screen uses.
pub struct Screen {
    state: AppState,
    rid: RequestId,
    user: ConsoleUser,
}

impl FromRequestParts<AppState> for Screen {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = ConsoleUser::from_request_parts(parts, state).await?;
        let rid = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .ok_or_else(|| crate::error::internal("no request id").into_response())?;
        Ok(Screen {
            state: state.clone(),
            rid,
            user,
        })
    }
}

impl Screen {
    /// The state, as handlers take it.
    fn st(&self) -> State<AppState> {
        State(self.state.clone())
    }

    /// The request id, as handlers take it.
    fn id(&self) -> Extension<RequestId> {
        Extension(self.rid.clone())
    }

    /// For a step that needs a recent sign-in (issuing credentials, changing the policies):
    /// the redirect to re-authentication, back to `page`, when the last one is too old.
    fn needs_reauth(&self, page: &str) -> Option<Response> {
        self.user
            .require_recent(self.state.clock.now())
            .is_err()
            .then(|| Redirect::to(&format!("/console/reauth?next={page}")).into_response())
    }

    /// The signed-in operator, as the caller.
    fn me(&self) -> crate::auth::Caller {
        self.user.caller.clone()
    }
}

/// The dashboard: rights-request SLA, consent, incidents and their clocks, training,
/// retention jobs, vendors, open alerts, the signed checkpoint and the last evidence bundle.
pub async fn dashboard(sc: Screen, f: Flashed) -> Response {
    let r = val(crate::compliance::dashboard(sc.st(), sc.id(), sc.me()).await);
    show(
        "console/dashboard.html",
        &sc.user,
        "dashboard",
        "Dashboard",
        &f,
        r.map(|d| json!({ "d": d })),
    )
}

/// The queue's filters.
#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    state: Option<String>,
    request_type: Option<String>,
    view: Option<String>,
    after: Option<String>,
}

/// The rights-request queue: open requests by due date, overdue first, with filters.
pub async fn requests(
    sc: Screen,
    f: Flashed,
    q: Result<axum::extract::Query<QueueQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(axum::extract::Query(q)) = q else {
        return error_page(
            &sc.user,
            "requests",
            "Rights requests",
            &ApiError::new(ErrorCode::InvalidQuery),
        );
    };
    let view = q.view.clone().unwrap_or_else(|| "open".into());
    if !matches!(view.as_str(), "open" | "overdue" | "due_soon" | "all") {
        return error_page(
            &sc.user,
            "requests",
            "Rights requests",
            &ApiError::new(ErrorCode::InvalidQuery),
        );
    }
    let query = RightsListQuery {
        state: opt(q.state.clone()),
        request_type: opt(q.request_type.clone()),
        jurisdiction: None,
        open: Some(view == "open"),
        overdue: Some(view == "overdue"),
        due_within_days: (view == "due_soon").then_some(7),
        assignee: None,
        subject_id: None,
        email: None,
        after: opt(q.after.clone()),
        limit: Some(100),
    };
    let r = val(routes::rights::list(sc.st(), sc.id(), sc.me(), ApiQuery(query)).await);
    let r = r.map(|page| {
        let mut reqs = page["requests"].as_array().cloned().unwrap_or_default();
        // Soonest due first; closed ones (no due date) last.
        reqs.sort_by_key(|r| {
            r["deadlines"]["due"]["end"]
                .as_str()
                .map_or_else(|| "~".to_owned(), str::to_owned)
        });
        json!({
            "requests": reqs,
            "next_after": page["next_after"],
            "view": view,
            "filter_state": q.state,
            "filter_type": q.request_type,
        })
    });
    show(
        "console/requests.html",
        &sc.user,
        "requests",
        "Rights requests",
        &f,
        r,
    )
}

/// A request filed by an operator (mail, phone, in person).
#[derive(Debug, Deserialize)]
pub struct FileForm {
    request_type: String,
    jurisdiction: String,
    email: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    customer_id: Option<String>,
}

/// Files a request for a requester who wrote or called.
pub async fn file_request(sc: Screen, Fields(f): Fields<FileForm>) -> Response {
    let input = RightsRequestIn {
        request_type: f.request_type,
        jurisdiction: f.jurisdiction,
        time_zone: None,
        subject_id: None,
        received_at: None,
        requester: RequesterIn {
            email: opt(f.email),
            name: opt(f.name),
            phone: opt(f.phone),
            customer_id: opt(f.customer_id),
        },
        agent: None,
    };
    match routes::rights::create(sc.st(), sc.id(), sc.me(), ApiJson(input)).await {
        Ok((_, ApiJson(r))) => {
            Redirect::to(&format!("/console/requests/{}?done=filed", r.id)).into_response()
        }
        Err(e) => after("/console/requests", "", Err::<(), _>(e)),
    }
}

/// Whether to show the requester's identity (its own permission and audit event).
#[derive(Debug, Deserialize)]
pub struct RequestQuery {
    identity: Option<String>,
}

/// One request: its deadlines, history and the steps its state allows.
pub async fn request(
    sc: Screen,
    Path(id): Path<String>,
    f: Flashed,
    q: Result<axum::extract::Query<RequestQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(axum::extract::Query(q)) = q else {
        return error_page(
            &sc.user,
            "requests",
            "Rights request",
            &ApiError::new(ErrorCode::InvalidQuery),
        );
    };
    let r = val(routes::rights::get(sc.st(), sc.id(), sc.me(), ApiPath(id.clone())).await);
    let r =
        match r {
            Ok(req) => {
                let identity = if q.identity.as_deref() == Some("1") {
                    Some(val(routes::rights::requester(
                        sc.st(),
                        sc.id(),
                        sc.me(),
                        ApiPath(id.clone()),
                    )
                    .await))
                } else {
                    None
                };
                let (requester, identity_error) = match identity {
                    Some(Ok(v)) => (Some(v), None),
                    Some(Err(e)) => (None, Some(Flash::of(&e))),
                    None => (None, None),
                };
                let tasks =
                    match val(
                        routes::tasks::list(sc.st(), sc.id(), sc.me(), ApiPath(id.clone())).await,
                    ) {
                        Ok(t) => t["tasks"].clone(),
                        Err(e) => return error_page(&sc.user, "requests", "Rights request", &e),
                    };
                Ok(json!({
                    "r": req,
                    "tasks": tasks,
                    "requester": requester,
                    "identity_error": identity_error,
                    "recent": sc.user.session.recently_authenticated(sc.state.clock.now()),
                }))
            }
            Err(e) => Err(e),
        };
    show(
        "console/request.html",
        &sc.user,
        "requests",
        "Rights request",
        &f,
        r,
    )
}

/// A workflow step from the request page.
#[derive(Debug, Deserialize)]
pub struct StepForm {
    step: String,
    reason: Option<String>,
    purpose: Option<String>,
    subject_id: Option<String>,
    expected_version: Option<i64>,
}

/// Takes a step. Approving an erasure needs a sign-in in the last five minutes.
pub async fn request_step(
    sc: Screen,
    Path(id): Path<String>,
    Fields(f): Fields<StepForm>,
) -> Response {
    let back = format!("/console/requests/{}", super::session::safe_id(&id));
    if f.step == "approve" {
        match routes::rights::load(&sc.state, &id).await {
            Ok(r) if r.request_type() == custodian_core::rights::RequestType::Erasure => {
                if sc.user.require_recent(sc.state.clock.now()).is_err() {
                    return Redirect::to(&format!("/console/reauth?next={back}")).into_response();
                }
            }
            Ok(_) => {}
            Err(e) => return after(&back, "", Err::<(), _>(e)),
        }
    }
    let operator = (f.step == "assign").then(|| sc.user.caller.operator.id.clone());
    let input = StepIn {
        step: f.step.clone(),
        operator,
        reason: opt(f.reason),
        subject_id: opt(f.subject_id),
        purpose: opt(f.purpose),
        expected_version: f.expected_version,
    };
    let r = routes::rights::step(sc.st(), sc.id(), sc.me(), ApiPath(id), ApiJson(input)).await;
    let done = if f.step.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && f.step.len() <= 40
    {
        f.step
    } else {
        String::new()
    };
    after(&back, &done, r)
}

/// A manual task's step from the request page (`complete` with evidence, or `assign` to me).
#[derive(Debug, Deserialize)]
pub struct TaskForm {
    step: String,
    evidence: Option<String>,
}

/// Completes a manual task with what was done (kept with the task, never audited), or takes it.
pub async fn task_step(
    sc: Screen,
    Path((id, task_id)): Path<(String, String)>,
    Fields(f): Fields<TaskForm>,
) -> Response {
    let back = format!("/console/requests/{}", super::session::safe_id(&id));
    let input = crate::api::rights::TaskStepIn {
        operator: (f.step == "assign").then(|| sc.user.caller.operator.id.clone()),
        step: f.step,
        evidence: opt(f.evidence),
        expected_version: None,
    };
    let r = routes::tasks::step(
        sc.st(),
        sc.id(),
        sc.me(),
        ApiPath((id, task_id)),
        ApiJson(input),
    )
    .await;
    after(&back, "task_updated", r)
}

/// Consent: purposes, their notices and figures.
pub async fn consent(sc: Screen, f: Flashed) -> Response {
    let purposes = val(routes::consent::list_purposes(sc.st(), sc.id(), sc.me()).await);
    let r = match purposes {
        Ok(p) => crate::compliance::consent_figures(&sc.state)
            .await
            .map(|figures| json!({ "purposes": p, "figures": figures })),
        Err(e) => Err(e),
    };
    show(
        "console/consent.html",
        &sc.user,
        "consent",
        "Consent",
        &f,
        r,
    )
}

/// A purpose: its settings, its notice's versions and the notice editor.
pub async fn purpose(sc: Screen, Path(key): Path<String>, f: Flashed) -> Response {
    let p = val(routes::consent::get_purpose(sc.st(), sc.id(), sc.me(), ApiPath(key)).await);
    let r = match p {
        Ok(p) => {
            let versions = match p["notice"].as_str() {
                Some(n) => match routes::consent::notice_versions(
                    sc.st(),
                    sc.id(),
                    sc.me(),
                    ApiPath(n.to_owned()),
                )
                .await
                {
                    Ok(ApiJson(v)) => serde_json::to_value(v).unwrap_or(Value::Null),
                    // A notice never published has no versions yet.
                    Err(e)
                        if e.code() == ErrorCode::NotFound
                            || e.code().code().ends_with("not_found") =>
                    {
                        json!([])
                    }
                    Err(e) => return error_page(&sc.user, "consent", "Purpose", &e),
                },
                None => json!([]),
            };
            let mut versions = versions.as_array().cloned().unwrap_or_default();
            versions.sort_by_key(|v| std::cmp::Reverse(v["version"].as_i64().unwrap_or(0)));
            Ok(json!({ "p": p, "versions": versions }))
        }
        Err(e) => Err(e),
    };
    show(
        "console/purpose.html",
        &sc.user,
        "consent",
        "Purpose",
        &f,
        r,
    )
}

/// A purpose's form (English name and description; lists comma-separated).
#[derive(Debug, Deserialize)]
pub struct PurposeForm {
    key: String,
    name: String,
    description: Option<String>,
    legal_basis: String,
    consent: String,
    special_condition: Option<String>,
    opt_out_kinds: Option<String>,
    data_uses: Option<String>,
    data_categories: Option<String>,
    jurisdictions: Option<String>,
    notice: Option<String>,
}

/// Creates or changes a purpose.
pub async fn save_purpose(sc: Screen, Fields(f): Fields<PurposeForm>) -> Response {
    let mut names = BTreeMap::new();
    names.insert("en".to_owned(), f.name.trim().to_owned());
    let mut descriptions = BTreeMap::new();
    if let Some(d) = opt(f.description) {
        descriptions.insert("en".to_owned(), d);
    }
    let input = PurposeIn {
        names,
        descriptions,
        legal_basis: f.legal_basis,
        special_condition: opt(f.special_condition),
        opt_out_kinds: items(f.opt_out_kinds.as_deref().unwrap_or("")),
        consent: f.consent,
        data_uses: items(f.data_uses.as_deref().unwrap_or("")),
        data_categories: items(f.data_categories.as_deref().unwrap_or("")),
        jurisdictions: items(f.jurisdictions.as_deref().unwrap_or("")),
        notice: opt(f.notice),
        validity_days: None,
        version: None,
    };
    let key = f.key.trim().to_owned();
    let r = routes::consent::put_purpose(
        sc.st(),
        sc.id(),
        sc.me(),
        ApiPath(key.clone()),
        ApiJson(input),
    )
    .await;
    match r {
        Ok(_) => {
            Redirect::to(&format!("/console/consent/purposes/{key}?done=saved")).into_response()
        }
        Err(e) => after("/console/consent", "", Err::<(), _>(e)),
    }
}

/// The notice editor: one language's text of the next version.
#[derive(Debug, Deserialize)]
pub struct NoticeForm {
    purpose: String,
    language: String,
    title: String,
    body: String,
    url: Option<String>,
}

/// Publishes the next version of a notice (immutable once published).
pub async fn publish_notice(
    sc: Screen,
    Path(key): Path<String>,
    Fields(f): Fields<NoticeForm>,
) -> Response {
    let back = format!(
        "/console/consent/purposes/{}",
        super::session::safe_id(&f.purpose)
    );
    let mut texts = BTreeMap::new();
    texts.insert(
        f.language.trim().to_owned(),
        NoticeTextIo {
            title: f.title,
            body: f.body.replace("\r\n", "\n"),
            url: opt(f.url),
        },
    );
    let r = routes::consent::publish_notice(
        sc.st(),
        sc.id(),
        sc.me(),
        ApiPath(key),
        ApiJson(NoticeIn { texts }),
    )
    .await;
    after(&back, "published", r)
}

const SAMPLE_POLICY: &str = include_str!("../../../../examples/map/policy.yml");

/// The data map: systems, datasets, the records of processing and a policy check.
pub async fn map(sc: Screen, f: Flashed) -> Response {
    let doc = json_body(
        routes::map::get_map(
            sc.st(),
            sc.id(),
            sc.me(),
            ApiQuery(MapQuery { format: None }),
        )
        .await,
    )
    .await;
    let r = match doc {
        Ok(doc) => json_body(
            routes::map::get_ropa(
                sc.st(),
                sc.id(),
                sc.me(),
                ApiQuery(RopaQuery { format: None }),
            )
            .await,
        )
        .await
        .map(|ropa| json!({ "doc": doc, "ropa": ropa, "policy": SAMPLE_POLICY })),
        Err(e) => Err(e),
    };
    show("console/map.html", &sc.user, "map", "Data map", &f, r)
}

/// A YAML document pasted into the map page (an import or a check's policy).
#[derive(Debug, Deserialize)]
pub struct YamlForm {
    yaml: String,
    action: String,
}

/// Imports a Fides document into the map, or checks the map against a policy.
pub async fn import_map(sc: Screen, f: Flashed, Fields(form): Fields<YamlForm>) -> Response {
    let body = Bytes::from(form.yaml.clone());
    if form.action == "check" {
        let r = val(routes::map::check(sc.st(), sc.id(), sc.me(), yaml_headers(), body).await);
        return match r {
            Ok(check) => {
                let doc = json_body(
                    routes::map::get_map(
                        sc.st(),
                        sc.id(),
                        sc.me(),
                        ApiQuery(MapQuery { format: None }),
                    )
                    .await,
                )
                .await;
                let ropa = json_body(
                    routes::map::get_ropa(
                        sc.st(),
                        sc.id(),
                        sc.me(),
                        ApiQuery(RopaQuery { format: None }),
                    )
                    .await,
                )
                .await;
                match (doc, ropa) {
                    (Ok(doc), Ok(ropa)) => show(
                        "console/map.html",
                        &sc.user,
                        "map",
                        "Data map",
                        &f,
                        Ok(
                            json!({ "doc": doc, "ropa": ropa, "policy": form.yaml, "check": check }),
                        ),
                    ),
                    (Err(e), _) | (_, Err(e)) => error_page(&sc.user, "map", "Data map", &e),
                }
            }
            Err(e) => after("/console/map", "", Err::<(), _>(e)),
        };
    }
    let r = routes::map::import_map(sc.st(), sc.id(), sc.me(), yaml_headers(), body).await;
    after("/console/map", "imported", r)
}

/// The vault's collections and their fields (types, categories, sensitivity): no values.
pub async fn vault(sc: Screen, f: Flashed) -> Response {
    let r = val(routes::vault::list_collections(sc.st(), sc.id(), sc.me()).await);
    show(
        "console/vault.html",
        &sc.user,
        "vault",
        "Vault schema",
        &f,
        r.map(|c| json!({ "collections": c["collections"] })),
    )
}

/// The audit viewer's filters.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    from: Option<u64>,
    actor: Option<String>,
    action: Option<String>,
    decision: Option<String>,
    partial: Option<String>,
}

/// The audit viewer: the signed checkpoint and a window of events (the last 500 by default,
/// or from a sequence number), filtered by actor, action prefix and decision. Events carry
/// identifiers and pseudonyms only. Reading it is itself audited (purpose `audit`).
pub async fn audit(
    sc: Screen,
    f: Flashed,
    q: Result<axum::extract::Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    const WINDOW: u64 = 500;
    let Ok(axum::extract::Query(q)) = q else {
        return error_page(
            &sc.user,
            "audit",
            "Audit log",
            &ApiError::new(ErrorCode::InvalidQuery),
        );
    };
    let cp = val(routes::audit::checkpoint(sc.st(), sc.id(), sc.me()).await);
    let cp = match cp {
        Ok(c) => c,
        Err(e) => return error_page(&sc.user, "audit", "Audit log", &e),
    };
    let size = cp["size"].as_u64().unwrap_or(0);
    let from = q
        .from
        .unwrap_or_else(|| size.saturating_sub(WINDOW))
        .min(size);
    let mut headers = HeaderMap::new();
    headers.insert(
        crate::auth::PURPOSE_HEADER,
        HeaderValue::from_static("audit"),
    );
    let page = val(routes::audit::events(
        sc.st(),
        sc.id(),
        headers,
        sc.me(),
        ApiQuery(routes::audit::EventsQuery {
            from: Some(from),
            limit: Some(WINDOW as u32),
        }),
    )
    .await);
    // Operators by name, for reading the log (staff, not data subjects; the events keep ids).
    let names: BTreeMap<String, String> = match sc.state.store.list_operators().await {
        Ok(ops) => ops
            .into_iter()
            .map(|o| (format!("operator:{}", o.id), o.name))
            .collect(),
        Err(e) => return error_page(&sc.user, "audit", "Audit log", &e.into()),
    };
    let r = page.map(|p| {
        let actor = opt(q.actor.clone());
        let action = opt(q.action.clone());
        let decision = opt(q.decision.clone());
        let mut events: Vec<Value> = p["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| {
                actor.as_deref().is_none_or(|a| {
                    e["actor"].as_str().is_some_and(|x| {
                        x.contains(a)
                            || names
                                .get(x)
                                .is_some_and(|n| n.to_lowercase().contains(&a.to_lowercase()))
                    })
                })
            })
            .filter(|e| {
                action
                    .as_deref()
                    .is_none_or(|a| e["action"].as_str().is_some_and(|x| x.starts_with(a)))
            })
            .filter(|e| {
                decision
                    .as_deref()
                    .is_none_or(|d| e["decision"].as_str() == Some(d))
            })
            .collect();
        events.reverse();
        for e in &mut events {
            if let Some(name) = e["actor"].as_str().and_then(|a| names.get(a)) {
                e["actor_name"] = json!(name);
            }
        }
        json!({
            "checkpoint": cp,
            "events": events,
            "from": from,
            "to": from.saturating_add(WINDOW).min(size),
            "earlier": from.checked_sub(WINDOW).or((from > 0).then_some(0)),
            "later": p["next"],
            "actor": actor, "action": action, "decision": decision,
        })
    });
    // htmx asks for the rows alone when a filter changes.
    let template = if q.partial.as_deref() == Some("rows") {
        "console/audit_rows.html"
    } else {
        "console/audit.html"
    };
    show(template, &sc.user, "audit", "Audit log", &f, r)
}

/// The incident register.
pub async fn incidents(sc: Screen, f: Flashed) -> Response {
    let r = val(routes::incidents::list(sc.st(), sc.id(), sc.me()).await);
    show(
        "console/incidents.html",
        &sc.user,
        "incidents",
        "Incidents",
        &f,
        r.map(|i| json!({ "incidents": i["incidents"] })),
    )
}

/// A new incident, as the register first hears of it.
#[derive(Debug, Deserialize)]
pub struct IncidentForm {
    title: String,
    description: Option<String>,
    aware_at: String,
    jurisdictions: String,
    categories: Option<String>,
    risk: Option<String>,
}

/// Records an incident; its clocks start from the awareness time.
pub async fn record_incident(sc: Screen, Fields(f): Fields<IncidentForm>) -> Response {
    // `datetime-local` inputs have no zone or seconds: read them as UTC.
    let aware = f.aware_at.trim();
    let aware = if aware.len() == 16 {
        format!("{aware}:00Z")
    } else {
        aware.to_owned()
    };
    let mut body = json!({
        "title": f.title,
        "discovered_at": aware,
        "aware_at": aware,
        "jurisdictions": items(&f.jurisdictions),
        "categories": items(f.categories.as_deref().unwrap_or("")),
    });
    if let Some(d) = opt(f.description) {
        body["description"] = json!(d);
    }
    if let Some(r) = opt(f.risk) {
        body["risk"] = json!(r);
    }
    let input = match serde_json::from_value(body) {
        Ok(i) => i,
        Err(_) => {
            return after(
                "/console/incidents",
                "",
                Err::<(), _>(ApiError::new(ErrorCode::InvalidForm)),
            );
        }
    };
    match routes::incidents::create(sc.st(), sc.id(), sc.me(), ApiJson(input)).await {
        Ok((_, ApiJson(i))) => {
            Redirect::to(&format!("/console/incidents/{}?done=recorded", i.id)).into_response()
        }
        Err(e) => after("/console/incidents", "", Err::<(), _>(e)),
    }
}

/// One incident with its notification clocks.
pub async fn incident(sc: Screen, Path(id): Path<String>, f: Flashed) -> Response {
    let r = val(routes::incidents::get(sc.st(), sc.id(), sc.me(), ApiPath(id)).await);
    show(
        "console/incident.html",
        &sc.user,
        "incidents",
        "Incident",
        &f,
        r.map(|i| json!({ "i": i })),
    )
}

/// Vendors and DPIAs.
pub async fn vendors(sc: Screen, f: Flashed) -> Response {
    let v = val(routes::registers::list_vendors(
        sc.st(),
        sc.id(),
        sc.me(),
        ApiQuery(crate::api::compliance::VendorsQuery {
            review_due_within_days: None,
        }),
    )
    .await);
    let r = match v {
        Ok(v) => val(routes::registers::list_dpias(sc.st(), sc.id(), sc.me()).await)
            .map(|d| json!({ "vendors": v["vendors"], "dpias": d["dpias"] })),
        Err(e) => Err(e),
    };
    show(
        "console/vendors.html",
        &sc.user,
        "vendors",
        "Vendors and DPIAs",
        &f,
        r,
    )
}

/// Training: courses and each operator's standing.
pub async fn training(sc: Screen, f: Flashed) -> Response {
    let s = val(routes::training::status(sc.st(), sc.id(), sc.me()).await);
    let r = match s {
        Ok(s) => val(routes::training::list_courses(sc.st(), sc.id(), sc.me()).await)
            .map(|c| json!({ "status": s, "courses": c["courses"] })),
        Err(e) => Err(e),
    };
    show(
        "console/training.html",
        &sc.user,
        "training",
        "Training",
        &f,
        r,
    )
}

/// A training completion, as recorded from the Training screen.
#[derive(Debug, Deserialize)]
pub struct CompletionForm {
    operator_id: String,
    course: String,
    completed_at: Option<String>,
    reference: Option<String>,
}

/// Records that an operator completed a course (a date is read as midnight UTC).
pub async fn record_completion(sc: Screen, Fields(f): Fields<CompletionForm>) -> Response {
    let input = crate::api::compliance::CompletionIn {
        operator_id: f.operator_id.trim().to_owned(),
        course: f.course.trim().to_owned(),
        completed_at: opt(f.completed_at).map(|d| {
            if d.len() == 10 {
                format!("{d}T00:00:00Z")
            } else {
                d
            }
        }),
        reference: opt(f.reference),
    };
    let r = routes::training::record_completion(sc.st(), sc.id(), sc.me(), ApiJson(input)).await;
    after("/console/training", "completion_recorded", r)
}

/// A vendor review, as recorded from the Vendors screen.
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    version: i64,
    outcome: String,
    notes: Option<String>,
}

/// Records a vendor's review (over the version the page showed).
pub async fn review_vendor(
    sc: Screen,
    Path(key): Path<String>,
    Fields(f): Fields<ReviewForm>,
) -> Response {
    let input = crate::api::compliance::ReviewIn {
        version: f.version,
        outcome: f.outcome,
        notes: opt(f.notes),
        reviewed_at: None,
    };
    let r =
        routes::registers::review_vendor(sc.st(), sc.id(), sc.me(), ApiPath(key), ApiJson(input))
            .await;
    after("/console/vendors", "review_recorded", r)
}

/// Retention: the rules (from the map), legal holds and the disposal plan as of now.
pub async fn retention(sc: Screen, f: Flashed) -> Response {
    let holds = val(routes::retention::list_holds(sc.st(), sc.id(), sc.me()).await);
    let r = match holds {
        Ok(h) => {
            let plan = val(routes::retention::get_plan(
                sc.st(),
                sc.id(),
                sc.me(),
                ApiQuery(PlanQuery { at: None }),
            )
            .await);
            let doc = json_body(
                routes::map::get_map(
                    sc.st(),
                    sc.id(),
                    sc.me(),
                    ApiQuery(MapQuery { format: None }),
                )
                .await,
            )
            .await;
            let jobs = sc.state.store.retention_jobs().await;
            match (plan, doc, jobs) {
                (Ok(plan), Ok(doc), Ok(jobs)) => Ok(json!({
                    "holds": h["holds"],
                    "plan": plan,
                    "rules": doc["retention_rule"],
                    "jobs": jobs.iter().map(|j| json!({
                        "name": j.name,
                        "due_at": j.due_at.to_string(),
                        "last_run_at": j.last_run_at.map(|t| t.to_string()),
                        "last_outcome": j.last_outcome,
                    })).collect::<Vec<_>>(),
                })),
                (Err(e), _, _) | (_, Err(e), _) => Err(e),
                (_, _, Err(e)) => Err(e.into()),
            }
        }
        Err(e) => Err(e),
    };
    show(
        "console/retention.html",
        &sc.user,
        "retention",
        "Retention",
        &f,
        r,
    )
}

/// A legal hold.
#[derive(Debug, Deserialize)]
pub struct HoldForm {
    subject_id: Option<String>,
    dataset: Option<String>,
    reason: String,
    expires_at: Option<String>,
}

/// Places a legal hold on a subject or a dataset.
pub async fn place_hold(sc: Screen, Fields(f): Fields<HoldForm>) -> Response {
    let expires_at = opt(f.expires_at).map(|e| {
        if e.len() == 10 {
            format!("{e}T00:00:00Z")
        } else {
            e
        }
    });
    let input = HoldIn {
        subject_id: opt(f.subject_id),
        dataset: opt(f.dataset),
        reason: f.reason,
        expires_at,
    };
    let r = routes::retention::place_hold(sc.st(), sc.id(), sc.me(), ApiJson(input)).await;
    after("/console/retention", "hold_placed", r)
}

/// Releases a legal hold.
pub async fn release_hold(sc: Screen, Path(id): Path<String>) -> Response {
    let r = routes::retention::release_hold(sc.st(), sc.id(), sc.me(), ApiPath(id)).await;
    after("/console/retention", "hold_released", r)
}

/// Discovery's proposals to the data map, pending first.
pub async fn discovery(sc: Screen, f: Flashed) -> Response {
    let r = val(routes::discovery::list(
        sc.st(),
        sc.id(),
        sc.me(),
        ApiQuery(ProposalsQuery {
            dataset: None,
            status: None,
        }),
    )
    .await);
    let r = r.map(|p| {
        let all = p["proposals"].as_array().cloned().unwrap_or_default();
        let (pending, decided): (Vec<Value>, Vec<Value>) =
            all.into_iter().partition(|p| p["status"] == "pending");
        json!({ "pending": pending, "decided": decided })
    });
    show(
        "console/discovery.html",
        &sc.user,
        "discovery",
        "Discovery",
        &f,
        r,
    )
}

/// Accepts or rejects a proposal.
pub async fn decide_proposal(sc: Screen, Path((id, decision)): Path<(String, String)>) -> Response {
    let r = match decision.as_str() {
        "accept" => {
            routes::discovery::accept(sc.st(), sc.id(), sc.me(), ApiPath(id), Bytes::new()).await
        }
        "reject" => routes::discovery::reject(sc.st(), sc.id(), sc.me(), ApiPath(id)).await,
        _ => Err(ApiError::new(ErrorCode::InvalidPathParameter)),
    };
    let done = if decision == "accept" {
        "accepted"
    } else {
        "rejected"
    };
    after("/console/discovery", done, r)
}

/// Operators, their keys, console enrolment.
pub async fn operators(sc: Screen, f: Flashed) -> Response {
    // One authorized, audited read of the directory (`operator.read`), then every key and
    // console credential in one query each, not one handler call per operator.
    let r = match val(routes::operators::list(sc.st(), sc.id(), sc.me()).await) {
        Ok(ops) => directory(&sc, ops).await,
        Err(e) => Err(e),
    };
    show(
        "console/operators.html",
        &sc.user,
        "operators",
        "Operators and keys",
        &f,
        r,
    )
}

/// Each operator of `ops` with their API keys and console enrolment.
async fn directory(sc: &Screen, ops: Value) -> Result<Value, ApiError> {
    let now = sc.state.clock.now();
    let keys = sc.state.store.list_api_keys(None).await?;
    let creds: Vec<custodian_core::console::Credential> = sc
        .state
        .store
        .register_entries(custodian_core::register::RegisterKind::ConsoleCredential)
        .await?
        .iter()
        .filter_map(|e| custodian_core::console::Credential::from_json(&e.body))
        .collect();
    let rows: Vec<Value> = ops
        .as_array()
        .into_iter()
        .flatten()
        .map(|op| {
            let id = op["id"].as_str().unwrap_or_default();
            let keys: Vec<crate::api::KeyOut> = keys
                .iter()
                .filter(|k| k.operator_id == id)
                .map(crate::api::KeyOut::from)
                .collect();
            let console = creds.iter().find(|c| c.operator_id == id).map(|c| {
                json!({ "login": c.login, "enrolled_at": c.enrolled_at.to_string(), "locked": c.locked(now) })
            });
            json!({ "op": op, "keys": keys, "console": console })
        })
        .collect();
    Ok(json!({ "operators": rows }))
}

/// A new operator.
#[derive(Debug, Deserialize)]
pub struct OperatorForm {
    name: String,
    role: String,
}

/// Creates an operator.
pub async fn create_operator(sc: Screen, Fields(f): Fields<OperatorForm>) -> Response {
    let role = match serde_json::from_value(json!(f.role)) {
        Ok(r) => r,
        Err(_) => {
            return after(
                "/console/operators",
                "",
                Err::<(), _>(ApiError::new(ErrorCode::InvalidForm)),
            );
        }
    };
    let r = routes::operators::create(
        sc.st(),
        sc.id(),
        sc.me(),
        ApiJson(CreateOperatorIn { name: f.name, role }),
    )
    .await;
    after("/console/operators", "operator_created", r)
}

/// The answer that shows a secret once (a new API key, an invitation link).
fn shown_once(user: &ConsoleUser, title: &str, what: &str, secret: &str, note: &str) -> Response {
    let f = Flashed::default();
    let mut resp = render(
        StatusCode::OK,
        "console/message.html",
        ctx(
            user,
            "operators",
            title,
            &f,
            json!({ "secret": secret, "what": what, "note": note }),
        ),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Issues an API key (shown once).
pub async fn create_key(sc: Screen, Path(id): Path<String>) -> Response {
    if let Some(r) = sc.needs_reauth("/console/operators") {
        return r;
    }
    match routes::operators::create_key(
        sc.st(),
        sc.id(),
        sc.me(),
        ApiPath(id),
        ApiJson(CreateKeyIn::default()),
    )
    .await
    {
        Ok((_, ApiJson(k))) => shown_once(
            &sc.user,
            "New API key",
            "API key",
            &k.key,
            "Copy it now: it is shown once and stored only as a hash.",
        ),
        Err(e) => after("/console/operators", "", Err::<(), _>(e)),
    }
}

/// Revokes an API key.
pub async fn revoke_key(sc: Screen, Path(id): Path<String>) -> Response {
    let r = routes::operators::revoke_key(sc.st(), sc.id(), sc.me(), ApiPath(id)).await;
    after("/console/operators", "key_revoked", r)
}

/// Invites an operator to enrol in the console (needs `operator.write`); the link is shown once.
pub async fn invite(sc: Screen, Path(id): Path<String>) -> Response {
    if let Some(r) = sc.needs_reauth("/console/operators") {
        return r;
    }
    match routes::operators::invite(sc.st(), sc.id(), sc.me(), ApiPath(id)).await {
        Ok((_, ApiJson(inv))) => shown_once(
            &sc.user,
            "Console invitation",
            "Enrolment link",
            inv.url.as_deref().unwrap_or(&inv.path),
            "Send it to the operator over a channel you trust. It works once, for 72 hours; enrolling replaces the operator's password and authenticator.",
        ),
        Err(e) => after("/console/operators", "", Err::<(), _>(e)),
    }
}

/// The Cedar policy set and its editor.
pub async fn policies(sc: Screen, f: Flashed) -> Response {
    let r = val(routes::policies::get(sc.st(), sc.id(), sc.me()).await);
    show(
        "console/policies.html",
        &sc.user,
        "policies",
        "Policies",
        &f,
        r.map(|p| json!({ "p": p, "text": p["text"] })),
    )
}

/// The edited policy set.
#[derive(Debug, Deserialize)]
pub struct PoliciesForm {
    text: String,
}

/// Saves the policy set: validated against the schema first; errors are shown with the text
/// kept in the editor.
pub async fn save_policies(sc: Screen, Fields(f): Fields<PoliciesForm>) -> Response {
    if let Some(r) = sc.needs_reauth("/console/policies") {
        return r;
    }
    let text = f.text.replace("\r\n", "\n");
    let r = routes::policies::put(
        sc.st(),
        sc.id(),
        sc.me(),
        ApiJson(PutPoliciesIn { text: text.clone() }),
    )
    .await;
    match r {
        Ok(_) => Redirect::to("/console/policies?done=saved").into_response(),
        Err(e) => {
            let diagnostics = e.details_value().cloned();
            let current = val(routes::policies::get(sc.st(), sc.id(), sc.me()).await);
            let fl = Flashed {
                error: Some(Flash::of(&e)),
                done: None,
            };
            match current {
                Ok(p) => render(
                    e.code().status(),
                    "console/policies.html",
                    ctx(
                        &sc.user,
                        "policies",
                        "Policies",
                        &fl,
                        json!({ "p": p, "text": text, "diagnostics": diagnostics }),
                    ),
                ),
                Err(e2) => error_page(&sc.user, "policies", "Policies", &e2),
            }
        }
    }
}

/// Downloads an evidence bundle; needs a sign-in in the last five minutes.
pub async fn export_evidence(sc: Screen) -> Response {
    if sc.user.require_recent(sc.state.clock.now()).is_err() {
        return Redirect::to("/console/reauth?next=/console").into_response();
    }
    match crate::compliance::export(sc.st(), sc.id(), sc.me()).await {
        Ok(mut resp) => {
            resp.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"custodian-evidence.zip\""),
            );
            resp
        }
        Err(e) => after("/console", "", Err::<(), _>(e)),
    }
}
