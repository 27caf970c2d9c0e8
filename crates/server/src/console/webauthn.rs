//! Security keys (WebAuthn) in the console: an operator adds one on the Account screen (after
//! a recent sign-in) and may then sign in, or re-authenticate, with password and key instead
//! of password and TOTP code. Checking is `custodian_crypto::webauthn` (ES256 only).
//!
//! The relying party is the console's own site: the origin and RP id come from the
//! configured public URL, else from the request's `Host` (so the console must be reached by a
//! host name, not an IP address, for keys to work). Challenges are random, 32 bytes, and
//! travel to the browser and back in a token MAC'd with a key derived from the vault root,
//! bound to the ceremony and the operator (or login name) and good for two minutes, so the
//! server keeps no state between the two halves of a ceremony.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::console::{Credential, MAX_SECURITY_KEYS, SecurityKey, key_name, login_name};
use custodian_core::register::{RegisterEntry, RegisterKind};
use custodian_crypto::{random, webauthn};
use jiff::SignedDuration;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::screens::{Fields, Flashed};
use super::session::{ConsoleUser, credential_of};
use super::{after, render};
use crate::error::{ApiError, ErrorCode};
use crate::middleware::RequestId;
use crate::state::AppState;

/// How long a challenge is good for.
const CHALLENGE_LIFETIME: SignedDuration = SignedDuration::from_mins(2);

/// The relying party: its id (a host name) and the origin pages are served from.
pub fn relying_party(state: &AppState, headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::with_message(
            ErrorCode::InvalidValue,
            "security keys need the console to be reached by a host name",
        )
    };
    let origin = match state.config.public_url.as_deref() {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    !h.is_empty()
                        && h.len() <= 255
                        && h.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
                })
                .ok_or_else(bad)?;
            let scheme = if super::tls_in_use(state) {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{host}")
        }
    };
    let host = origin
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .ok_or_else(bad)?;
    let rp_id = host.rsplit_once(':').map_or(host, |(h, _)| h).to_owned();
    // An RP id is a domain name: IP addresses are not allowed (WebAuthn §5.1.3).
    if rp_id.is_empty() || rp_id.parse::<std::net::IpAddr>().is_ok() || rp_id.starts_with('[') {
        return Err(bad());
    }
    Ok((rp_id, origin))
}

fn mac(
    state: &AppState,
    purpose: &str,
    subject: &str,
    challenge: &str,
    until: i64,
) -> Result<String, ApiError> {
    Ok(hex::encode(state.vault_crypto.blind_index(
        "console",
        "webauthn-challenge",
        &format!("{purpose}\n{subject}\n{challenge}\n{until}"),
    )?))
}

/// A fresh challenge for `purpose` (`register`, `login`) and `subject` (operator id or login
/// name), and the token that carries it.
fn issue(state: &AppState, purpose: &str, subject: &str) -> Result<(String, String), ApiError> {
    let challenge = URL_SAFE_NO_PAD
        .encode(random::bytes::<32>().map_err(|_| ApiError::new(ErrorCode::Internal))?);
    let until = state
        .clock
        .now()
        .checked_add(CHALLENGE_LIFETIME)
        .map_err(|_| ApiError::new(ErrorCode::Internal))?
        .as_millisecond();
    let m = mac(state, purpose, subject, &challenge, until)?;
    Ok((challenge.clone(), format!("{challenge}.{until}.{m}")))
}

/// The challenge a token carries, if the token is ours, for this purpose and subject, and not
/// expired.
fn open(state: &AppState, purpose: &str, subject: &str, token: &str) -> Option<Vec<u8>> {
    let mut parts = token.splitn(3, '.');
    let (challenge, until, m) = (parts.next()?, parts.next()?, parts.next()?);
    let until_ms: i64 = until.parse().ok()?;
    let want = mac(state, purpose, subject, challenge, until_ms).ok()?;
    if !bool::from(want.as_bytes().ct_eq(m.as_bytes())) {
        return None;
    }
    if state.clock.now().as_millisecond() >= until_ms {
        return None;
    }
    URL_SAFE_NO_PAD.decode(challenge).ok()
}

fn b64(s: &str) -> Option<Vec<u8>> {
    (s.len() <= 16 * 1024)
        .then(|| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        .flatten()
}

/// The security-key fields a sign-in form may carry (filled by the page's script).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AssertionFields {
    wa_token: Option<String>,
    wa_id: Option<String>,
    wa_client_data: Option<String>,
    wa_auth_data: Option<String>,
    wa_signature: Option<String>,
}

impl AssertionFields {
    /// The assertion, when every field is there.
    pub fn assertion(&self) -> Option<Assertion> {
        let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
        Some(Assertion {
            token: nonempty(&self.wa_token)?,
            id: nonempty(&self.wa_id)?,
            client_data: nonempty(&self.wa_client_data)?,
            auth_data: nonempty(&self.wa_auth_data)?,
            signature: nonempty(&self.wa_signature)?,
        })
    }
}

/// A security key's answer to a sign-in challenge (base64url fields as the browser gave them).
#[derive(Debug, Clone)]
pub struct Assertion {
    token: String,
    id: String,
    client_data: String,
    auth_data: String,
    signature: String,
}

/// Checks `a` against `cred`'s keys: the key's id and new signature counter when it holds.
pub fn check_assertion(
    state: &AppState,
    headers: &HeaderMap,
    cred: &Credential,
    a: &Assertion,
) -> Result<Option<(String, u32)>, ApiError> {
    let Some(key) = cred.security_keys.iter().find(|k| k.id == a.id) else {
        return Ok(None);
    };
    let Some(challenge) = open(state, "login", &cred.login, &a.token) else {
        return Ok(None);
    };
    let (rp_id, origin) = relying_party(state, headers)?;
    let (Some(client_data), Some(auth_data), Some(signature), Some(public_key), Some(id)) = (
        b64(&a.client_data),
        b64(&a.auth_data),
        b64(&a.signature),
        b64(&key.public_key),
        b64(&key.id),
    ) else {
        return Ok(None);
    };
    let stored = webauthn::Credential {
        id,
        public_key,
        sign_count: key.sign_count,
    };
    let expect = webauthn::Expect {
        rp_id: &rp_id,
        origin: &origin,
        challenge: &challenge,
        user_verification: false,
    };
    Ok(
        webauthn::authenticate(&stored, &client_data, &auth_data, &signature, &expect)
            .ok()
            .map(|count| (key.id.clone(), count)),
    )
}

fn json_answer(v: Value) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        v.to_string(),
    )
        .into_response()
}

/// The login form's request for a sign-in challenge.
#[derive(Debug, Deserialize)]
pub struct LoginOptionsForm {
    login: String,
}

/// The options for `navigator.credentials.get()` for a login name: a challenge and the ids of
/// its keys (none for an unknown name or one without keys, which the page reports).
pub async fn login_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<axum::Form<LoginOptionsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(f)) = form else {
        return ApiError::new(ErrorCode::InvalidForm).into_response();
    };
    let (rp_id, _) = match relying_party(&state, &headers) {
        Ok(rp) => rp,
        Err(e) => return e.into_response(),
    };
    let login = login_name(&f.login).unwrap_or_default();
    let keys: Vec<Value> = match state
        .store
        .register_entries(RegisterKind::ConsoleCredential)
        .await
    {
        Ok(entries) => entries
            .iter()
            .filter_map(|e| Credential::from_json(&e.body))
            .find(|c| !login.is_empty() && c.login == login)
            .map(|c| {
                c.security_keys
                    .iter()
                    .map(|k| json!({"type": "public-key", "id": k.id}))
                    .collect()
            })
            .unwrap_or_default(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (challenge, token) = match issue(&state, "login", &login) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    json_answer(json!({
        "token": token,
        "publicKey": {
            "challenge": challenge,
            "rpId": rp_id,
            "allowCredentials": keys,
            "userVerification": "preferred",
            "timeout": 60000,
        }
    }))
}

/// The options for `navigator.credentials.create()`: a challenge, the relying party, the
/// operator as the user, ES256, no attestation, and the keys already registered.
pub async fn register_options(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: ConsoleUser,
) -> Response {
    let (rp_id, _) = match relying_party(&state, &headers) {
        Ok(rp) => rp,
        Err(e) => return e.into_response(),
    };
    let existing = match credential_of(&state, &user.caller.operator.id).await {
        Ok(Some((_, c))) => c.security_keys,
        Ok(None) => Vec::new(),
        Err(e) => return e.into_response(),
    };
    let (challenge, token) = match issue(&state, "register", &user.caller.operator.id) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    json_answer(json!({
        "token": token,
        "publicKey": {
            "challenge": challenge,
            "rp": { "id": rp_id, "name": "Custodian console" },
            "user": {
                "id": URL_SAFE_NO_PAD.encode(user.caller.operator.id.as_bytes()),
                "name": user.login,
                "displayName": user.caller.operator.name,
            },
            "pubKeyCredParams": [{ "type": "public-key", "alg": -7 }],
            "timeout": 60000,
            "attestation": "none",
            "authenticatorSelection": { "residentKey": "discouraged", "userVerification": "preferred" },
            "excludeCredentials": existing.iter().map(|k| json!({"type": "public-key", "id": k.id})).collect::<Vec<_>>(),
        }
    }))
}

/// The Account screen: the operator's sign-in and security keys.
pub async fn account(State(state): State<AppState>, user: ConsoleUser, f: Flashed) -> Response {
    let cred = match credential_of(&state, &user.caller.operator.id).await {
        Ok(c) => c.map(|(_, c)| c),
        Err(e) => return e.into_response(),
    };
    let keys: Vec<Value> = cred
        .as_ref()
        .map(|c| {
            c.security_keys
                .iter()
                .map(|k| {
                    json!({
                        "id": k.id,
                        "name": k.name,
                        "added_at": k.added_at.to_string(),
                        "last_used_at": k.last_used_at.map(|t| t.to_string()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ctx = json!({
        "user": user.view(),
        "nav": "account",
        "title": "Your account",
        "flash": f.error_flash(),
        "done": f.done_code(),
        "keys": keys,
        "enrolled_at": cred.as_ref().map(|c| c.enrolled_at.to_string()),
        "recent": user.session.recently_authenticated(state.clock.now()),
        "max_keys": MAX_SECURITY_KEYS,
    });
    if let Some(o) = ctx.as_object_mut() {
        o.insert(
            "signed_in_at".into(),
            json!(user.session.created_at.to_string()),
        );
    }
    render(StatusCode::OK, "console/account.html", ctx)
}

/// A new key, as the page's script posts it.
#[derive(Debug, Deserialize)]
pub struct RegisterForm {
    name: String,
    wa_token: String,
    wa_client_data: String,
    wa_attestation: String,
}

fn audit(state: &AppState, rid: &RequestId, user: &ConsoleUser, action: &str) -> AuditDraft {
    let actor = user.caller.actor();
    AuditDraft::new(
        state.clock.now(),
        &rid.0,
        actor.clone(),
        action,
        actor,
        Decision::Allow,
    )
}

/// Changes the operator's security keys with `change` (which may refuse) and stores the
/// credential over the version read, audited as `action`.
async fn change_keys(
    state: &AppState,
    rid: &RequestId,
    user: &ConsoleUser,
    action: &str,
    change: impl FnOnce(&mut Vec<SecurityKey>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let (version, mut cred) = credential_of(state, &user.caller.operator.id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound))?;
    change(&mut cred.security_keys)?;
    let e = RegisterEntry {
        kind: RegisterKind::ConsoleCredential,
        key: user.caller.operator.id.clone(),
        body: cred.to_json(),
        version: version + 1,
        created_at: cred.enrolled_at,
        updated_at: state.clock.now(),
    };
    state
        .store
        .put_register_entry(&e, Some(version), audit(state, rid, user, action))
        .await
        .map(|_| ())
        .map_err(|e| match e {
            custodian_core::ports::StoreError::Conflict(_) => ApiError::new(ErrorCode::Conflict),
            other => other.into(),
        })
}

fn reauth_first() -> Response {
    Redirect::to("/console/reauth?next=/console/account").into_response()
}

/// Adds a security key (needs a sign-in in the last five minutes).
pub async fn register(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    user: ConsoleUser,
    Fields(f): Fields<RegisterForm>,
) -> Response {
    const BACK: &str = "/console/account";
    let now: Timestamp = state.clock.now();
    if user.require_recent(now).is_err() {
        return reauth_first();
    }
    let invalid = |rule: &str| {
        Err::<(), _>(
            ApiError::new(ErrorCode::InvalidCredential)
                .details(json!({"field": "security_key", "rule": rule})),
        )
    };
    let Some(name) = key_name(&f.name) else {
        return after(BACK, "", invalid("key_name"));
    };
    let Some(challenge) = open(&state, "register", &user.caller.operator.id, &f.wa_token) else {
        return after(BACK, "", invalid("challenge_expired"));
    };
    let (rp_id, origin) = match relying_party(&state, &headers) {
        Ok(rp) => rp,
        Err(e) => return after(BACK, "", Err::<(), _>(e)),
    };
    let (Some(client_data), Some(attestation)) = (b64(&f.wa_client_data), b64(&f.wa_attestation))
    else {
        return after(BACK, "", invalid("not_base64url"));
    };
    let expect = webauthn::Expect {
        rp_id: &rp_id,
        origin: &origin,
        challenge: &challenge,
        user_verification: false,
    };
    let made = match webauthn::register(&client_data, &attestation, &expect) {
        Ok(c) => c,
        Err(webauthn::Refused(rule)) => return after(BACK, "", invalid(rule)),
    };
    let invalid_rule = |rule: &str| {
        ApiError::new(ErrorCode::InvalidCredential)
            .details(json!({"field": "security_key", "rule": rule}))
    };
    let r = change_keys(&state, &rid, &user, "console.security_key.add", |keys| {
        let id = URL_SAFE_NO_PAD.encode(&made.id);
        if keys.iter().any(|k| k.id == id) {
            return Err(invalid_rule("already_registered"));
        }
        if keys.len() >= MAX_SECURITY_KEYS {
            return Err(invalid_rule("too_many_keys"));
        }
        keys.push(SecurityKey {
            id,
            name,
            public_key: URL_SAFE_NO_PAD.encode(&made.public_key),
            sign_count: made.sign_count,
            added_at: now,
            last_used_at: None,
        });
        Ok(())
    })
    .await;
    after(BACK, "key_added", r)
}

/// Removes a security key (needs a sign-in in the last five minutes).
pub async fn remove(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    const BACK: &str = "/console/account";
    if user.require_recent(state.clock.now()).is_err() {
        return reauth_first();
    }
    let r = change_keys(&state, &rid, &user, "console.security_key.remove", |keys| {
        let before = keys.len();
        keys.retain(|k| k.id != id);
        if keys.len() == before {
            return Err(ApiError::new(ErrorCode::NotFound));
        }
        Ok(())
    })
    .await;
    after(BACK, "key_removed", r)
}
