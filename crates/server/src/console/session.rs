//! Console sign-in and sessions.
//!
//! - **Enrolment**: an administrator issues an invitation ([`issue_invitation`], from the
//!   Operators screen or `custodian operators invite`); its link shows the operator a TOTP
//!   secret (QR code and text) and asks for a login name, a password (twice) and a first code.
//!   The credential is the Argon2id hash and the secret sealed under the installation's system
//!   key; enrolling again replaces it.
//! - **Sign-in**: login name, password and a TOTP code in one form; one answer for every
//!   failure (`login_failed`); five wrong sign-ins in a row lock the account for 15 minutes;
//!   failures also count against the client address (the API's limiter). A code is good once.
//! - **Sessions**: a random 256-bit token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//!   and `__Host-` under TLS). The store keeps the token's SHA-256 with the operator, the
//!   login name, the sign-in time and the session's CSRF token (so a request reads the session
//!   and the operator, nothing more); the cookie also carries the time of the last
//!   request, signed with a key derived from the vault root, refreshed on every answer, so
//!   the idle timeout holds across several servers without a write per request.
//! - **CSRF**: every POST must come from this origin (`Sec-Fetch-Site`, else `Origin`) and,
//!   with a session, carry the session's CSRF token (form field `csrf` or header
//!   `x-csrf-token`), compared in constant time.
//! - **Re-authentication**: approving an erasure and exporting evidence need a sign-in (or a
//!   re-authentication) within the last five minutes.
//!
//! Sign-ins, failures, re-authentications, sign-outs and enrolments are audited (actor
//! `operator:<id>`; never a login name, password or code).

use axum::Extension;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::console::{Credential, Invitation, Session, check_password, login_name};
use custodian_core::operator::Operator;
use custodian_core::ports::StoreError;
use custodian_core::register::{RegisterEntry, RegisterKind};
use custodian_core::vault::record::CellPlace;
use custodian_crypto::{password, random, totp};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::{Flash, render};
use crate::auth::{Caller, ClientIp};
use crate::error::{ApiError, ErrorCode};
use crate::middleware::RequestId;
use crate::state::AppState;

const SYSTEM_KEY: &str = "console";
const ISSUER: &str = "Custodian";

/// The session cookie's name: with the `__Host-` prefix under TLS (the browser then insists on
/// `Secure`, `Path=/` and no `Domain`).
fn cookie_name(state: &AppState) -> &'static str {
    if super::tls_in_use(state) {
        "__Host-custodian_session"
    } else {
        "custodian_session"
    }
}

fn place(operator_id: &str) -> CellPlace<'_> {
    CellPlace {
        collection: "console",
        record: operator_id,
        field: "totp",
        key_version: 1,
    }
}

fn seal_totp(state: &AppState, operator_id: &str, secret: &[u8]) -> Result<String, ApiError> {
    let sealed = state
        .vault_crypto
        .system_key(SYSTEM_KEY)?
        .seal(&place(operator_id), secret)?;
    Ok(STANDARD.encode(sealed))
}

fn open_totp(
    state: &AppState,
    operator_id: &str,
    sealed: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, ApiError> {
    let bytes = STANDARD
        .decode(sealed)
        .map_err(|_| crate::error::internal("a sealed TOTP secret is not base64"))?;
    Ok(state
        .vault_crypto
        .system_key(SYSTEM_KEY)?
        .open(&place(operator_id), &bytes)?)
}

fn token_hash(token: &str) -> String {
    hex::encode(custodian_crypto::sha256(token.as_bytes()))
}

fn new_token() -> Result<String, ApiError> {
    let b = random::bytes::<32>().map_err(|_| ApiError::new(ErrorCode::Internal))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

fn well_formed_token(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The MAC of a cookie's token and last-seen time.
fn cookie_mac(state: &AppState, token: &str, seen_ms: i64) -> Result<String, ApiError> {
    let mac = state.vault_crypto.blind_index(
        "console",
        "session-cookie",
        &format!("{token}.{seen_ms}"),
    )?;
    Ok(hex::encode(mac))
}

fn set_cookie(state: &AppState, token: &str, now: Timestamp) -> Result<HeaderValue, ApiError> {
    let ms = now.as_millisecond();
    let mac = cookie_mac(state, token, ms)?;
    HeaderValue::from_str(&format!(
        "{}={token}.{ms}.{mac}; Path=/; HttpOnly; SameSite=Strict{}",
        cookie_name(state),
        super::secure_flag(state)
    ))
    .map_err(|_| ApiError::new(ErrorCode::Internal))
}

fn clear_cookie(state: &AppState) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        cookie_name(state),
        super::secure_flag(state)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The cookie's token and last-seen time, if the cookie is there and its MAC holds.
fn read_cookie(state: &AppState, headers: &HeaderMap) -> Option<(String, Timestamp)> {
    let value = super::cookie(headers, cookie_name(state))?;
    let mut parts = value.splitn(3, '.');
    let (token, ms, mac) = (parts.next()?, parts.next()?, parts.next()?);
    if !well_formed_token(token) {
        return None;
    }
    let ms: i64 = ms.parse().ok()?;
    let want = cookie_mac(state, token, ms).ok()?;
    if !bool::from(want.as_bytes().ct_eq(mac.as_bytes())) {
        return None;
    }
    Some((token.to_owned(), Timestamp::from_millisecond(ms).ok()?))
}

/// A signed-in operator, put in the request's extensions by [`resolve`].
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    /// The operator, as the API's handlers take it.
    pub caller: Caller,
    /// The session.
    pub session: Session,
    /// The session's register key (the token's SHA-256).
    pub key: String,
    /// The session entry's version.
    pub version: i64,
    /// The operator's login name.
    pub login: String,
}

impl ConsoleUser {
    /// What every page's layout shows of the operator, with the CSRF token for its forms.
    pub fn view(&self) -> serde_json::Value {
        json!({
            "name": self.caller.operator.name,
            "role": self.caller.operator.role.as_str(),
            "login": self.login,
            "id": self.caller.operator.id,
            "csrf": self.session.csrf,
        })
    }

    /// Refuses a sensitive step unless password and code were proven in the last 5 minutes.
    pub fn require_recent(&self, now: Timestamp) -> Result<(), ApiError> {
        if self.session.recently_authenticated(now) {
            Ok(())
        } else {
            Err(ApiError::new(ErrorCode::ReauthRequired))
        }
    }
}

/// The page a signed-out request is sent to: the sign-in form, remembering where it was going
/// (only a path of the console itself).
fn to_login(path_and_query: &str) -> Response {
    let next = if safe_next(path_and_query) {
        format!("?next={}", encode_component(path_and_query))
    } else {
        String::new()
    };
    Redirect::to(&format!("/console/login{next}")).into_response()
}

/// Whether `next` may be redirected to: a path inside the console, nothing that leaves it.
pub fn safe_next(next: &str) -> bool {
    next.starts_with("/console")
        && !next.starts_with("//")
        && !next.contains("://")
        && !next.contains('\\')
        && next.bytes().all(|b| (0x21..0x7f).contains(&b))
        && next.len() <= 512
}

/// `id` if it is a plain identifier (safe in a path), else empty.
pub fn safe_id(id: &str) -> &str {
    if id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        id
    } else {
        ""
    }
}

fn encode_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        match parts.extensions.get::<ConsoleUser>() {
            Some(u) => Ok(u.clone()),
            None => Err(to_login(
                parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/console"),
            )),
        }
    }
}

/// Whether a POST came from a page of this origin.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        // No Origin: not a browser's cross-site form post (browsers send Origin on POST).
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// The largest form the console reads.
const MAX_FORM: usize = 1024 * 1024;

fn csrf_in_form(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
}

/// Resolves the session of every console request (putting a [`ConsoleUser`] in its
/// extensions), checks every POST's origin and CSRF token, and refreshes the cookie's
/// last-seen time on the answer.
pub async fn resolve(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Static assets need no session (and a cached answer must not set a cookie).
    if req.method() == Method::GET && req.uri().path().starts_with("/console/assets/") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let now = state.clock.now();
    let mut refresh = None;
    let mut expired = false;
    if let Some((token, seen)) = read_cookie(&state, &parts.headers) {
        match load_session(&state, &token, now, seen).await {
            Ok(Some(user)) => {
                parts.extensions.insert(user);
                refresh = Some(token);
            }
            Ok(None) => expired = true,
            Err(e) => return e.into_response(),
        }
    }
    let body = if parts.method == Method::POST {
        if !same_origin(&parts.headers) {
            return ApiError::new(ErrorCode::CsrfFailed).into_response();
        }
        let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
            Ok(b) => b,
            Err(_) => return ApiError::new(ErrorCode::PayloadTooLarge).into_response(),
        };
        // Signing in and enrolling carry no session token (their pages may be opened while a
        // session is live); the same-origin check above covers them.
        let path = parts.uri.path();
        let exempt = path == "/console/login" || path.starts_with("/console/enroll/");
        if let Some(user) = parts.extensions.get::<ConsoleUser>().filter(|_| !exempt) {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| csrf_in_form(&bytes));
            let ok =
                sent.is_some_and(|s| bool::from(s.as_bytes().ct_eq(user.session.csrf.as_bytes())));
            if !ok {
                return ApiError::new(ErrorCode::CsrfFailed).into_response();
            }
        }
        Body::from(bytes)
    } else {
        body
    };
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    let h = resp.headers_mut();
    if h.contains_key(header::SET_COOKIE) {
        return resp;
    }
    if let Some(token) = refresh {
        if let Ok(v) = set_cookie(&state, &token, now) {
            h.append(header::SET_COOKIE, v);
        }
    } else if expired {
        h.append(header::SET_COOKIE, clear_cookie(&state));
    }
    resp
}

async fn load_session(
    state: &AppState,
    token: &str,
    now: Timestamp,
    seen: Timestamp,
) -> Result<Option<ConsoleUser>, ApiError> {
    let key = token_hash(token);
    let Some(entry) = state
        .store
        .register_entry(RegisterKind::ConsoleSession, &key)
        .await?
    else {
        return Ok(None);
    };
    let Some(session) = Session::from_json(&entry.body) else {
        return Ok(None);
    };
    if session.check(now, seen).is_err() {
        return Ok(None);
    }
    let Some(op) = state.store.get_operator(&session.operator_id).await? else {
        return Ok(None);
    };
    if op.disabled {
        return Ok(None);
    }
    let login = session.login.clone();
    Ok(Some(ConsoleUser {
        caller: Caller {
            operator: op,
            key_id: format!("session:{}", &key[..16]),
        },
        session,
        key,
        version: entry.version,
        login,
    }))
}

/// The console credential of an operator, with its entry's version.
pub async fn credential_of(
    state: &AppState,
    operator_id: &str,
) -> Result<Option<(i64, Credential)>, ApiError> {
    Ok(state
        .store
        .register_entry(RegisterKind::ConsoleCredential, operator_id)
        .await?
        .and_then(|e| Credential::from_json(&e.body).map(|c| (e.version, c))))
}

/// The credential with this login name (login names are unique among credentials).
async fn credential_by_login(
    state: &AppState,
    login: &str,
) -> Result<Option<(RegisterEntry, Credential)>, ApiError> {
    Ok(state
        .store
        .register_entries(RegisterKind::ConsoleCredential)
        .await?
        .into_iter()
        .filter_map(|e| Credential::from_json(&e.body).map(|c| (e, c)))
        .find(|(_, c)| c.login == login))
}

fn draft(
    state: &AppState,
    rid: &RequestId,
    actor: &str,
    action: &str,
    resource: &str,
    decision: Decision,
) -> AuditDraft {
    AuditDraft::new(state.clock.now(), &rid.0, actor, action, resource, decision)
}

fn entry(
    kind: RegisterKind,
    key: &str,
    body: String,
    old: Option<(i64, Timestamp)>,
    now: Timestamp,
) -> RegisterEntry {
    RegisterEntry {
        kind,
        key: key.to_owned(),
        body,
        version: old.map_or(1, |(v, _)| v + 1),
        created_at: old.map_or(now, |(_, c)| c),
        updated_at: now,
    }
}

fn store_conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) | StoreError::NotFound => ApiError::new(ErrorCode::Conflict),
        other => other.into(),
    }
}

/// An invitation to enrol `operator`: a fresh TOTP secret (sealed) and a single-use token good
/// for 72 hours, stored with `audit` (whose resource becomes the operator). Returns the token.
pub async fn issue_invitation(
    state: &AppState,
    operator: &Operator,
    issued_by: &str,
    mut audit: AuditDraft,
) -> Result<String, ApiError> {
    if operator.disabled {
        return Err(ApiError::with_message(
            ErrorCode::Conflict,
            "a disabled operator cannot be invited",
        ));
    }
    let now = state.clock.now();
    let token = new_token()?;
    let secret = zeroize::Zeroizing::new(
        random::bytes::<{ totp::SECRET_LEN }>().map_err(|_| ApiError::new(ErrorCode::Internal))?,
    );
    let inv = Invitation {
        operator_id: operator.id.clone(),
        totp_sealed: seal_totp(state, &operator.id, secret.as_ref())?,
        expires_at: now
            .checked_add(custodian_core::console::INVITATION_LIFETIME)
            .map_err(|_| ApiError::new(ErrorCode::Internal))?,
        issued_by: issued_by.to_owned(),
        used_at: None,
    };
    audit.action = "console.invite".into();
    audit.resource = format!("operator:{}", operator.id);
    let mut entries = vec![(
        entry(
            RegisterKind::ConsoleInvitation,
            &token_hash(&token),
            inv.to_json(),
            None,
            now,
        ),
        None,
    )];
    // A new invitation replaces the operator's earlier ones that are still usable.
    for e in state
        .store
        .register_entries(RegisterKind::ConsoleInvitation)
        .await?
    {
        if let Some(old) = Invitation::from_json(&e.body)
            && old.operator_id == operator.id
            && old.usable(now)
        {
            let spent = Invitation {
                used_at: Some(now),
                ..old
            };
            entries.push((
                entry(
                    RegisterKind::ConsoleInvitation,
                    &e.key,
                    spent.to_json(),
                    Some((e.version, e.created_at)),
                    now,
                ),
                Some(e.version),
            ));
        }
    }
    state
        .store
        .put_register_entries(&entries, audit)
        .await
        .map_err(store_conflict)?;
    Ok(token)
}

/// The path of an invitation's page.
pub fn invitation_path(token: &str) -> String {
    format!("/console/enroll/{token}")
}

/// Where a page goes next, and its flash.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    error: Option<String>,
    done: Option<String>,
}

/// The sign-in page.
pub async fn login_page(
    q: Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // A malformed query (a repeated `next`) is ignored: the form still works.
    let q = q.map(|Query(q)| q).unwrap_or(NextQuery {
        next: None,
        error: None,
        done: None,
    });
    let next = q.next.filter(|n| safe_next(n));
    render(
        StatusCode::OK,
        "console/login.html",
        json!({
            "next": next,
            "flash": Flash::from_query(q.error.as_deref(), None, None),
            "done": q.done.filter(|d| d == "signed_out" || d == "enrolled"),
        }),
    )
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    code: Option<String>,
    next: Option<String>,
    #[serde(flatten)]
    key: super::webauthn::AssertionFields,
}

fn login_failed(state: &AppState, ip: ClientIp, code: ErrorCode, next: Option<&str>) -> Response {
    state.limiter.record_failure(ip.0, state.clock.now());
    metrics::counter!("custodian_console_logins_total", "outcome" => code.code()).increment(1);
    let flash = Flash::of(&ApiError::new(code));
    render(
        code.status(),
        "console/login.html",
        json!({ "next": next.filter(|n| safe_next(n)), "flash": flash }),
    )
}

/// Checks password and code for `cred`; records a failure (audited) or the code's step.
/// `Ok(Some(step))` on success, `Ok(None)` on a wrong password or code.
async fn prove(
    state: &AppState,
    rid: &RequestId,
    headers: &HeaderMap,
    entry_version: i64,
    cred: &Credential,
    password_given: &str,
    factor: &SecondFactor,
) -> Result<Option<Credential>, ApiError> {
    let now = state.clock.now();
    // A password too long to be one still costs a hash, as an unknown login does.
    let password_ok = if password_given.len() > custodian_core::console::MAX_PASSWORD {
        password::verify_nothing(password_given)
    } else {
        password::verify(password_given, &cred.password_phc)
    };
    let proved = if !password_ok {
        None
    } else if let Some(assertion) = &factor.key {
        super::webauthn::check_assertion(state, headers, cred, assertion)?
            .map(|(id, count)| cred.after_key_success(&id, count, now))
    } else {
        let secret = open_totp(state, &cred.operator_id, &cred.totp_sealed)?;
        totp::verify(
            &secret,
            factor.code.as_deref().unwrap_or(""),
            now.as_second(),
            cred.totp_last_step,
        )
        .map(|step| cred.after_success(step))
    };
    if proved.is_none() {
        record_failure(state, rid, entry_version, cred).await?;
    }
    Ok(proved)
}

/// Counts a wrong sign-in against the credential (audited, actor `anonymous`: whoever tried
/// is not known to be the operator). Concurrent failures each count: a write that lost to
/// another re-reads the credential and counts again.
async fn record_failure(
    state: &AppState,
    rid: &RequestId,
    entry_version: i64,
    cred: &Credential,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let (mut version, mut current) = (entry_version, cred.clone());
    for _ in 0..8 {
        let failed = current.after_failure(now);
        let e = entry(
            RegisterKind::ConsoleCredential,
            &current.operator_id,
            failed.to_json(),
            Some((version, current.enrolled_at)),
            now,
        );
        let mut d = draft(
            state,
            rid,
            "anonymous",
            "console.login",
            &format!("operator:{}", current.operator_id),
            Decision::Deny,
        );
        if failed.locked(now) {
            d.fields = vec!["locked".into()];
        }
        match state.store.put_register_entry(&e, Some(version), d).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict(_)) => match credential_of(state, &current.operator_id).await?
            {
                Some((v, c)) => (version, current) = (v, c),
                None => return Ok(()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(ErrorCode::Conflict))
}

/// The second factor of a sign-in: a TOTP code, or a security key's assertion.
#[derive(Debug, Default)]
pub struct SecondFactor {
    /// The code from the authenticator app.
    pub code: Option<String>,
    /// The security key's answer.
    pub key: Option<super::webauthn::Assertion>,
}

impl SecondFactor {
    fn of(code: Option<String>, wa: super::webauthn::AssertionFields) -> SecondFactor {
        SecondFactor {
            code,
            key: wa.assertion(),
        }
    }
}

/// Signs in: login name, password and code. One answer for every failure.
pub async fn login(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    form: Result<axum::Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(f)) = form else {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            "console/login.html",
            json!({ "flash": Flash::of(&ApiError::new(ErrorCode::InvalidForm)) }),
        );
    };
    let now = state.clock.now();
    let next = f.next.as_deref();
    if state.limiter.blocked(ip.0, now) {
        return login_failed(&state, ip, ErrorCode::TooManyRequests, next);
    }
    let found = match login_name(&f.login) {
        Ok(l) => match credential_by_login(&state, &l).await {
            Ok(found) => found,
            Err(e) => return e.into_response(),
        },
        Err(_) => None,
    };
    let Some((e, cred)) = found else {
        password::verify_nothing(&f.password);
        return login_failed(&state, ip, ErrorCode::LoginFailed, next);
    };
    if cred.locked(now) {
        // The same answer as any failure, after the same work: a lock must not tell that the
        // login exists.
        password::verify_nothing(&f.password);
        return login_failed(&state, ip, ErrorCode::LoginFailed, next);
    }
    let factor = SecondFactor::of(f.code.clone(), f.key.clone());
    let proved = match prove(
        &state,
        &rid,
        &headers,
        e.version,
        &cred,
        &f.password,
        &factor,
    )
    .await
    {
        Ok(Some(p)) => p,
        Ok(None) => return login_failed(&state, ip, ErrorCode::LoginFailed, next),
        Err(e) => return e.into_response(),
    };
    let op = match state.store.get_operator(&cred.operator_id).await {
        Ok(Some(op)) if !op.disabled => op,
        Ok(_) => return login_failed(&state, ip, ErrorCode::LoginFailed, next),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let token = match new_token() {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let csrf = match random::bytes::<32>() {
        Ok(b) => hex::encode(b),
        Err(_) => return ApiError::new(ErrorCode::Internal).into_response(),
    };
    let session = Session {
        operator_id: op.id.clone(),
        login: cred.login.clone(),
        created_at: now,
        authenticated_at: now,
        csrf,
        ended_at: None,
    };
    let actor = format!("operator:{}", op.id);
    let entries = [
        (
            entry(
                RegisterKind::ConsoleCredential,
                &op.id,
                proved.to_json(),
                Some((e.version, e.created_at)),
                now,
            ),
            Some(e.version),
        ),
        (
            entry(
                RegisterKind::ConsoleSession,
                &token_hash(&token),
                session.to_json(),
                None,
                now,
            ),
            None,
        ),
    ];
    let d = draft(
        &state,
        &rid,
        &actor,
        "console.login",
        &actor,
        Decision::Allow,
    );
    if let Err(e) = state.store.put_register_entries(&entries, d).await {
        // A concurrent sign-in with the same code lost the race: the code was used once.
        return match e {
            StoreError::Conflict(_) => login_failed(&state, ip, ErrorCode::LoginFailed, next),
            other => ApiError::from(other).into_response(),
        };
    }
    metrics::counter!("custodian_console_logins_total", "outcome" => "ok").increment(1);
    let to = f
        .next
        .filter(|n| safe_next(n))
        .unwrap_or_else(|| "/console".into());
    let mut resp = Redirect::to(&to).into_response();
    match set_cookie(&state, &token, now) {
        Ok(v) => {
            resp.headers_mut().insert(header::SET_COOKIE, v);
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// Signs out: the session ends in the store (so a copied cookie stops working too).
pub async fn logout(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    user: ConsoleUser,
) -> Response {
    let now = state.clock.now();
    let ended = Session {
        ended_at: Some(now),
        ..user.session.clone()
    };
    let e = entry(
        RegisterKind::ConsoleSession,
        &user.key,
        ended.to_json(),
        Some((user.version, user.session.created_at)),
        now,
    );
    let actor = user.caller.actor();
    let d = draft(
        &state,
        &rid,
        &actor,
        "console.logout",
        &actor,
        Decision::Allow,
    );
    if let Err(e) = state
        .store
        .put_register_entry(&e, Some(user.version), d)
        .await
    {
        return store_conflict(e).into_response();
    }
    let mut resp = Redirect::to("/console/login?done=signed_out").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(&state));
    resp
}

/// The re-authentication page.
pub async fn reauth_page(
    user: ConsoleUser,
    q: Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or(NextQuery {
        next: None,
        error: None,
        done: None,
    });
    render(
        StatusCode::OK,
        "console/reauth.html",
        json!({
            "user": user.view(),
            "next": q.next.filter(|n| safe_next(n)),
            "flash": Flash::from_query(q.error.as_deref(), None, None),
        }),
    )
}

/// The re-authentication form.
#[derive(Debug, Deserialize)]
pub struct ReauthForm {
    password: String,
    code: Option<String>,
    next: Option<String>,
    #[serde(flatten)]
    key: super::webauthn::AssertionFields,
}

/// Proves password and code again; the session's `authenticated_at` becomes now.
pub async fn reauth(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    headers: HeaderMap,
    user: ConsoleUser,
    form: Result<axum::Form<ReauthForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(f)) = form else {
        return Redirect::to("/console/reauth?error=invalid_form").into_response();
    };
    let next = f.next.filter(|n| safe_next(n));
    let back = |code: ErrorCode| {
        let n = next
            .as_deref()
            .map(|n| format!("&next={}", encode_component(n)))
            .unwrap_or_default();
        Redirect::to(&format!("/console/reauth?error={}{n}", code.code())).into_response()
    };
    let now = state.clock.now();
    if state.limiter.blocked(ip.0, now) {
        return back(ErrorCode::TooManyRequests);
    }
    let (version, cred) = match credential_of(&state, &user.caller.operator.id).await {
        Ok(Some(c)) => c,
        Ok(None) => return back(ErrorCode::LoginFailed),
        Err(e) => return e.into_response(),
    };
    if cred.locked(now) {
        return back(ErrorCode::AccountLocked);
    }
    let factor = SecondFactor::of(f.code.clone(), f.key.clone());
    let proved = match prove(&state, &rid, &headers, version, &cred, &f.password, &factor).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            state.limiter.record_failure(ip.0, now);
            return back(ErrorCode::LoginFailed);
        }
        Err(e) => return e.into_response(),
    };
    let session = Session {
        authenticated_at: now,
        ..user.session.clone()
    };
    let entries = [
        (
            entry(
                RegisterKind::ConsoleCredential,
                &cred.operator_id,
                proved.to_json(),
                Some((version, cred.enrolled_at)),
                now,
            ),
            Some(version),
        ),
        (
            entry(
                RegisterKind::ConsoleSession,
                &user.key,
                session.to_json(),
                Some((user.version, user.session.created_at)),
                now,
            ),
            Some(user.version),
        ),
    ];
    let actor = user.caller.actor();
    let d = draft(
        &state,
        &rid,
        &actor,
        "console.reauth",
        &actor,
        Decision::Allow,
    );
    if let Err(e) = state.store.put_register_entries(&entries, d).await {
        return match e {
            StoreError::Conflict(_) => back(ErrorCode::LoginFailed),
            other => ApiError::from(other).into_response(),
        };
    }
    Redirect::to(next.as_deref().unwrap_or("/console")).into_response()
}

async fn invitation(
    state: &AppState,
    token: &str,
) -> Result<(RegisterEntry, Invitation, Operator), ApiError> {
    let bad = || ApiError::new(ErrorCode::InvitationInvalid);
    if !well_formed_token(token) {
        return Err(bad());
    }
    let e = state
        .store
        .register_entry(RegisterKind::ConsoleInvitation, &token_hash(token))
        .await?
        .ok_or_else(bad)?;
    let inv = Invitation::from_json(&e.body).ok_or_else(bad)?;
    if !inv.usable(state.clock.now()) {
        return Err(bad());
    }
    let op = state
        .store
        .get_operator(&inv.operator_id)
        .await?
        .filter(|o| !o.disabled)
        .ok_or_else(bad)?;
    Ok((e, inv, op))
}

fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Some(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg.as_bytes())
    ))
}

fn enroll_view(
    state: &AppState,
    token: &str,
    inv: &Invitation,
    op: &Operator,
    flash: Option<Flash>,
    login: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    let secret = open_totp(state, &op.id, &inv.totp_sealed)?;
    let account = login.unwrap_or(&op.name);
    let uri = totp::otpauth_uri(ISSUER, account, &secret);
    Ok(json!({
        "token": token,
        "operator": { "name": op.name, "role": op.role.as_str() },
        "secret": totp::base32(&secret),
        "qr": qr_svg(&uri),
        "expires_at": inv.expires_at.to_string(),
        "flash": flash,
        "login": login,
        "min_password": custodian_core::console::MIN_PASSWORD,
    }))
}

/// The enrolment page of an invitation.
pub async fn enroll_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match invitation(&state, &token).await {
        Ok((_, inv, op)) => match enroll_view(&state, &token, &inv, &op, None, None) {
            Ok(v) => render(StatusCode::OK, "console/enroll.html", v),
            Err(e) => e.into_response(),
        },
        Err(e) => render(
            e.code().status(),
            "console/message.html",
            json!({ "flash": Flash::of(&e), "title": "Invitation" }),
        ),
    }
}

/// The enrolment form.
#[derive(Debug, Deserialize)]
pub struct EnrollForm {
    login: String,
    password: String,
    password_again: String,
    code: String,
}

/// Enrols: checks the login name (free, well-formed), the password policy and a first code
/// from the app, then stores the credential (replacing an earlier one) and marks the
/// invitation used, in one transaction with its audit event.
pub async fn enroll(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    Extension(ip): Extension<ClientIp>,
    Path(token): Path<String>,
    form: Result<axum::Form<EnrollForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let now = state.clock.now();
    if state.limiter.blocked(ip.0, now) {
        return ApiError::new(ErrorCode::TooManyRequests).into_response();
    }
    let (inv_entry, inv, op) = match invitation(&state, &token).await {
        Ok(x) => x,
        Err(e) => {
            state.limiter.record_failure(ip.0, now);
            return render(
                e.code().status(),
                "console/message.html",
                json!({ "flash": Flash::of(&e), "title": "Invitation" }),
            );
        }
    };
    let again = |e: ApiError, login: Option<&str>| match enroll_view(
        &state,
        &token,
        &inv,
        &op,
        Some(Flash::of(&e)),
        login,
    ) {
        Ok(v) => render(e.code().status(), "console/enroll.html", v),
        Err(e) => e.into_response(),
    };
    let Ok(axum::Form(f)) = form else {
        return again(ApiError::new(ErrorCode::InvalidForm), None);
    };
    let invalid = |rule: &str, field: &str| {
        ApiError::new(ErrorCode::InvalidCredential).details(json!({"field": field, "rule": rule}))
    };
    let login = match login_name(&f.login) {
        Ok(l) => l,
        Err(e) => return again(invalid(e.code(), "login"), None),
    };
    if let Err(e) = check_password(&login, &f.password, &f.password_again) {
        return again(invalid(e.code(), "password"), Some(&login));
    }
    match credential_by_login(&state, &login).await {
        Ok(Some((_, c))) if c.operator_id != op.id => {
            return again(ApiError::new(ErrorCode::LoginTaken), None);
        }
        Ok(_) => {}
        Err(e) => return e.into_response(),
    }
    let secret = match open_totp(&state, &op.id, &inv.totp_sealed) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Some(step) = totp::verify(&secret, &f.code, now.as_second(), None) else {
        state.limiter.record_failure(ip.0, now);
        return again(
            ApiError::new(ErrorCode::InvalidCredential)
                .details(json!({"field": "code", "rule": "totp_code_wrong"})),
            Some(&login),
        );
    };
    let phc = match password::hash(&f.password) {
        Ok(p) => p,
        Err(_) => return ApiError::new(ErrorCode::Internal).into_response(),
    };
    let cred = Credential {
        operator_id: op.id.clone(),
        login: login.clone(),
        password_phc: phc,
        totp_sealed: inv.totp_sealed.clone(),
        totp_last_step: Some(step),
        failures: 0,
        locked_until: None,
        enrolled_at: now,
        security_keys: Vec::new(),
    };
    let old = match state
        .store
        .register_entry(RegisterKind::ConsoleCredential, &op.id)
        .await
    {
        Ok(o) => o,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let used = Invitation {
        used_at: Some(now),
        ..inv.clone()
    };
    let mut entries = vec![
        (
            entry(
                RegisterKind::ConsoleCredential,
                &op.id,
                cred.to_json(),
                old.as_ref().map(|o| (o.version, o.created_at)),
                now,
            ),
            old.as_ref().map(|o| o.version),
        ),
        (
            entry(
                RegisterKind::ConsoleInvitation,
                &inv_entry.key,
                used.to_json(),
                Some((inv_entry.version, inv_entry.created_at)),
                now,
            ),
            Some(inv_entry.version),
        ),
    ];
    // Enrolling again (a lost phone, a forgotten password) ends the operator's open sessions.
    let open = match state
        .store
        .register_entries(RegisterKind::ConsoleSession)
        .await
    {
        Ok(all) => all,
        Err(e) => return ApiError::from(e).into_response(),
    };
    for e in open {
        if let Some(sess) = Session::from_json(&e.body)
            && sess.operator_id == op.id
            && sess.ended_at.is_none()
        {
            let ended = Session {
                ended_at: Some(now),
                ..sess
            };
            entries.push((
                entry(
                    RegisterKind::ConsoleSession,
                    &e.key,
                    ended.to_json(),
                    Some((e.version, e.created_at)),
                    now,
                ),
                Some(e.version),
            ));
        }
    }
    let actor = format!("operator:{}", op.id);
    let d = draft(
        &state,
        &rid,
        &actor,
        "console.enroll",
        &actor,
        Decision::Allow,
    );
    match state.store.put_register_entries(&entries, d).await {
        Ok(_) => Redirect::to("/console/login?done=enrolled").into_response(),
        Err(StoreError::Conflict(_)) | Err(StoreError::NotFound) => {
            again(ApiError::new(ErrorCode::InvitationInvalid), None)
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
