//! The admin console's accounts and sessions, as pure rules: login names, the password
//! policy, an operator's console credential (an Argon2id hash and a sealed TOTP secret, never
//! the secret itself), invitations to enrol, and sessions with an absolute lifetime, an idle
//! timeout and a recent-authentication window for sensitive steps.
//!
//! They are kept as register entries ([`crate::register::RegisterKind::ConsoleCredential`],
//! `ConsoleInvitation`, `ConsoleSession`), so every change is audited in the same transaction.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// A session ends this long after sign-in, whatever happens.
pub const SESSION_LIFETIME: SignedDuration = SignedDuration::from_hours(12);
/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: SignedDuration = SignedDuration::from_mins(30);
/// Sensitive steps (approving an erasure, exporting evidence) need a sign-in this recent.
pub const REAUTH_WINDOW: SignedDuration = SignedDuration::from_mins(5);
/// An invitation to enrol is good this long.
pub const INVITATION_LIFETIME: SignedDuration = SignedDuration::from_hours(72);
/// Wrong sign-ins in a row that lock an account.
pub const MAX_FAILURES: u32 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT: SignedDuration = SignedDuration::from_mins(15);
/// The shortest password accepted (NIST SP 800-63B §3.1.1.2 asks for at least 8; 12 here).
pub const MIN_PASSWORD: usize = 12;
/// The longest password accepted (bounds the hashing work a request can cause).
pub const MAX_PASSWORD: usize = 256;

/// Why a login name or password was refused (stable codes; never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Login names are 3 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
    #[error("login_format")]
    LoginFormat,
    /// Shorter than [`MIN_PASSWORD`] characters.
    #[error("password_too_short")]
    PasswordTooShort,
    /// Longer than [`MAX_PASSWORD`] bytes.
    #[error("password_too_long")]
    PasswordTooLong,
    /// The password contains the login name.
    #[error("password_contains_login")]
    PasswordContainsLogin,
    /// The two passwords typed differ.
    #[error("passwords_differ")]
    PasswordsDiffer,
}

impl CredentialError {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            CredentialError::LoginFormat => "login_format",
            CredentialError::PasswordTooShort => "password_too_short",
            CredentialError::PasswordTooLong => "password_too_long",
            CredentialError::PasswordContainsLogin => "password_contains_login",
            CredentialError::PasswordsDiffer => "passwords_differ",
        }
    }
}

/// Normalises (trims, lower-cases) and checks a login name.
pub fn login_name(raw: &str) -> Result<String, CredentialError> {
    let l = raw.trim().to_ascii_lowercase();
    let ok = (3..=64).contains(&l.len())
        && l.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && l.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(l)
    } else {
        Err(CredentialError::LoginFormat)
    }
}

/// Checks a new password against the policy: length (in characters, so passphrases in any
/// script count fully), not containing the login, typed the same twice.
pub fn check_password(login: &str, password: &str, again: &str) -> Result<(), CredentialError> {
    if password != again {
        return Err(CredentialError::PasswordsDiffer);
    }
    if password.len() > MAX_PASSWORD {
        return Err(CredentialError::PasswordTooLong);
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(CredentialError::PasswordTooShort);
    }
    if password.to_lowercase().contains(login) {
        return Err(CredentialError::PasswordContainsLogin);
    }
    Ok(())
}

fn time(v: &Value, k: &str) -> Option<Timestamp> {
    v.get(k)?.as_str()?.parse().ok()
}

fn opt_time(v: &Value, k: &str) -> Option<Option<Timestamp>> {
    match v.get(k)? {
        Value::Null => Some(None),
        Value::String(s) => s.parse().ok().map(Some),
        _ => None,
    }
}

/// An operator's console credential (register key: the operator id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The operator it signs in.
    pub operator_id: String,
    /// The login name (unique among credentials).
    pub login: String,
    /// Argon2id PHC string.
    pub password_phc: String,
    /// The TOTP secret, sealed under the installation's system key (base64 in storage).
    pub totp_sealed: String,
    /// The last TOTP step accepted: a code is good once.
    pub totp_last_step: Option<u64>,
    /// Wrong sign-ins since the last good one.
    pub failures: u32,
    /// Locked until then after [`MAX_FAILURES`] wrong sign-ins.
    pub locked_until: Option<Timestamp>,
    /// When it was enrolled.
    pub enrolled_at: Timestamp,
    /// Security keys (WebAuthn) the operator may use instead of a TOTP code.
    pub security_keys: Vec<SecurityKey>,
}

/// The most security keys one operator may register.
pub const MAX_SECURITY_KEYS: usize = 10;

/// A registered security key (a WebAuthn credential with an ES256 key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityKey {
    /// The credential id (base64url).
    pub id: String,
    /// The operator's name for it (1 to 60 printable characters).
    pub name: String,
    /// The public key: an uncompressed P-256 point (base64url).
    pub public_key: String,
    /// The last signature counter seen.
    pub sign_count: u32,
    /// When it was added.
    pub added_at: Timestamp,
    /// When it last signed the operator in.
    pub last_used_at: Option<Timestamp>,
}

impl SecurityKey {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "public_key": self.public_key,
            "sign_count": self.sign_count,
            "added_at": self.added_at.to_string(),
            "last_used_at": self.last_used_at.map(|t| t.to_string()),
        })
    }

    fn from_json(v: &Value) -> Option<SecurityKey> {
        Some(SecurityKey {
            id: v.get("id")?.as_str()?.to_owned(),
            name: v.get("name")?.as_str()?.to_owned(),
            public_key: v.get("public_key")?.as_str()?.to_owned(),
            sign_count: u32::try_from(v.get("sign_count")?.as_u64()?).ok()?,
            added_at: time(v, "added_at")?,
            last_used_at: opt_time(v, "last_used_at")?,
        })
    }
}

/// Checks and trims a security key's name.
pub fn key_name(raw: &str) -> Option<String> {
    let n = raw.trim();
    (!n.is_empty() && n.chars().count() <= 60 && !n.chars().any(char::is_control))
        .then(|| n.to_owned())
}

impl Credential {
    /// The stored form.
    pub fn to_json(&self) -> String {
        json!({
            "operator_id": self.operator_id,
            "login": self.login,
            "password_phc": self.password_phc,
            "totp_sealed": self.totp_sealed,
            "totp_last_step": self.totp_last_step,
            "failures": self.failures,
            "locked_until": self.locked_until.map(|t| t.to_string()),
            "enrolled_at": self.enrolled_at.to_string(),
            "security_keys": self.security_keys.iter().map(SecurityKey::to_json).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// Reads [`Credential::to_json`]; none when it does not read.
    pub fn from_json(text: &str) -> Option<Credential> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some(Credential {
            operator_id: v.get("operator_id")?.as_str()?.to_owned(),
            login: v.get("login")?.as_str()?.to_owned(),
            password_phc: v.get("password_phc")?.as_str()?.to_owned(),
            totp_sealed: v.get("totp_sealed")?.as_str()?.to_owned(),
            totp_last_step: match v.get("totp_last_step")? {
                Value::Null => None,
                n => Some(n.as_u64()?),
            },
            failures: u32::try_from(v.get("failures")?.as_u64()?).ok()?,
            locked_until: opt_time(&v, "locked_until")?,
            enrolled_at: time(&v, "enrolled_at")?,
            security_keys: match v.get("security_keys") {
                None => Vec::new(),
                Some(list) => list
                    .as_array()?
                    .iter()
                    .map(SecurityKey::from_json)
                    .collect::<Option<Vec<_>>>()?,
            },
        })
    }

    /// Whether the account is locked at `now`.
    pub fn locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    /// The credential after a wrong sign-in at `now`: one more failure, locked at the limit.
    pub fn after_failure(&self, now: Timestamp) -> Credential {
        let failures = self.failures.saturating_add(1);
        let mut next = self.clone();
        if failures >= MAX_FAILURES {
            next.failures = 0;
            next.locked_until = now.checked_add(LOCKOUT).ok();
        } else {
            next.failures = failures;
        }
        next
    }

    /// The credential after a good sign-in with the TOTP `step`.
    pub fn after_success(&self, step: u64) -> Credential {
        Credential {
            totp_last_step: Some(step),
            failures: 0,
            locked_until: None,
            ..self.clone()
        }
    }

    /// The credential after a good sign-in with the security key `id`, whose counter is now
    /// `sign_count`.
    pub fn after_key_success(&self, id: &str, sign_count: u32, now: Timestamp) -> Credential {
        let mut next = Credential {
            failures: 0,
            locked_until: None,
            ..self.clone()
        };
        for k in next.security_keys.iter_mut().filter(|k| k.id == id) {
            k.sign_count = sign_count;
            k.last_used_at = Some(now);
        }
        next
    }
}

/// An invitation to enrol (register key: SHA-256 of the token, hex): who may enrol with it, the
/// TOTP secret they will register (sealed), and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// The operator who will sign in.
    pub operator_id: String,
    /// The TOTP secret, sealed (base64).
    pub totp_sealed: String,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Who issued it (an audit actor string).
    pub issued_by: String,
    /// Set once used.
    pub used_at: Option<Timestamp>,
}

impl Invitation {
    /// The stored form.
    pub fn to_json(&self) -> String {
        json!({
            "operator_id": self.operator_id,
            "totp_sealed": self.totp_sealed,
            "expires_at": self.expires_at.to_string(),
            "issued_by": self.issued_by,
            "used_at": self.used_at.map(|t| t.to_string()),
        })
        .to_string()
    }

    /// Reads [`Invitation::to_json`].
    pub fn from_json(text: &str) -> Option<Invitation> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some(Invitation {
            operator_id: v.get("operator_id")?.as_str()?.to_owned(),
            totp_sealed: v.get("totp_sealed")?.as_str()?.to_owned(),
            expires_at: time(&v, "expires_at")?,
            issued_by: v.get("issued_by")?.as_str()?.to_owned(),
            used_at: opt_time(&v, "used_at")?,
        })
    }

    /// Whether it can still be used at `now`.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// A console session (register key: SHA-256 of the cookie's token, hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The operator signed in.
    pub operator_id: String,
    /// The login name they signed in with (shown on the pages; an enrolment that changes it
    /// ends the session).
    pub login: String,
    /// When the session began.
    pub created_at: Timestamp,
    /// When the operator last proved password and code (sign-in or re-authentication).
    pub authenticated_at: Timestamp,
    /// The CSRF token every form of the session carries (hex).
    pub csrf: String,
    /// Set at sign-out.
    pub ended_at: Option<Timestamp>,
}

/// Why a session is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// Signed out.
    SignedOut,
    /// Past [`SESSION_LIFETIME`].
    Expired,
    /// No request for [`IDLE_TIMEOUT`].
    Idle,
}

impl Session {
    /// The stored form.
    pub fn to_json(&self) -> String {
        json!({
            "operator_id": self.operator_id,
            "login": self.login,
            "created_at": self.created_at.to_string(),
            "authenticated_at": self.authenticated_at.to_string(),
            "csrf": self.csrf,
            "ended_at": self.ended_at.map(|t| t.to_string()),
        })
        .to_string()
    }

    /// Reads [`Session::to_json`].
    pub fn from_json(text: &str) -> Option<Session> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some(Session {
            operator_id: v.get("operator_id")?.as_str()?.to_owned(),
            login: v.get("login")?.as_str()?.to_owned(),
            created_at: time(&v, "created_at")?,
            authenticated_at: time(&v, "authenticated_at")?,
            csrf: v.get("csrf")?.as_str()?.to_owned(),
            ended_at: opt_time(&v, "ended_at")?,
        })
    }

    /// Whether the session may serve a request at `now`, its last request having been at
    /// `last_seen` (carried, signed, in the cookie).
    pub fn check(&self, now: Timestamp, last_seen: Timestamp) -> Result<(), SessionEnd> {
        if self.ended_at.is_some() {
            return Err(SessionEnd::SignedOut);
        }
        if now.duration_since(self.created_at) >= SESSION_LIFETIME || now < self.created_at {
            return Err(SessionEnd::Expired);
        }
        if now.duration_since(last_seen) >= IDLE_TIMEOUT {
            return Err(SessionEnd::Idle);
        }
        Ok(())
    }

    /// Whether the last proof of password and code is recent enough for a sensitive step.
    pub fn recently_authenticated(&self, now: Timestamp) -> bool {
        now.duration_since(self.authenticated_at) < REAUTH_WINDOW && self.authenticated_at <= now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn login_names() {
        assert_eq!(login_name(" Ana.Silva ").as_deref(), Ok("ana.silva"));
        for bad in [
            "ab",
            "-ana",
            "ana silva",
            "ana@example.com",
            "",
            &"a".repeat(65),
            "ánа",
        ] {
            assert_eq!(
                login_name(bad),
                Err(CredentialError::LoginFormat),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn password_policy() {
        let ok = "correct horse battery";
        assert_eq!(check_password("ana", ok, ok), Ok(()));
        assert_eq!(
            check_password("ana", ok, "x"),
            Err(CredentialError::PasswordsDiffer)
        );
        assert_eq!(
            check_password("ana", "short", "short"),
            Err(CredentialError::PasswordTooShort)
        );
        let long = "x".repeat(MAX_PASSWORD + 1);
        assert_eq!(
            check_password("ana", &long, &long),
            Err(CredentialError::PasswordTooLong)
        );
        let has = "my name is ANA forever";
        assert_eq!(
            check_password("ana", has, has),
            Err(CredentialError::PasswordContainsLogin)
        );
        // Twelve characters of any script count as twelve.
        let greek = "αβγδεζηθικλμ";
        assert_eq!(check_password("ana", greek, greek), Ok(()));
    }

    #[test]
    fn credentials_round_trip_and_lock() {
        let c = Credential {
            operator_id: "op".into(),
            login: "ana".into(),
            password_phc: "$argon2id$...".into(),
            totp_sealed: "c2VhbGVk".into(),
            totp_last_step: None,
            failures: 0,
            locked_until: None,
            enrolled_at: t("2026-01-01T00:00:00Z"),
            security_keys: vec![SecurityKey {
                id: "AAEC".into(),
                name: "Yubikey".into(),
                public_key: "BAAA".into(),
                sign_count: 3,
                added_at: t("2026-01-01T00:00:00Z"),
                last_used_at: None,
            }],
        };
        assert_eq!(Credential::from_json(&c.to_json()), Some(c.clone()));
        let used = c.after_key_success("AAEC", 4, t("2026-01-03T00:00:00Z"));
        assert_eq!(used.security_keys[0].sign_count, 4);
        assert_eq!(
            used.security_keys[0].last_used_at,
            Some(t("2026-01-03T00:00:00Z"))
        );
        assert_eq!(key_name("  Desk key "), Some("Desk key".into()));
        assert_eq!(key_name(""), None);
        assert_eq!(key_name(&"k".repeat(61)), None);
        let now = t("2026-01-02T00:00:00Z");
        let mut x = c.clone();
        for _ in 0..MAX_FAILURES - 1 {
            x = x.after_failure(now);
            assert!(!x.locked(now));
        }
        x = x.after_failure(now);
        assert!(x.locked(now));
        assert!(!x.locked(now.checked_add(LOCKOUT).expect("t")));
        assert_eq!(Credential::from_json(&x.to_json()), Some(x.clone()));
        let ok = x.after_success(42);
        assert_eq!(
            (ok.failures, ok.locked_until, ok.totp_last_step),
            (0, None, Some(42))
        );
        assert_eq!(Credential::from_json("{}"), None);
    }

    #[test]
    fn sessions_end_by_sign_out_lifetime_and_idleness() {
        let start = t("2026-01-01T08:00:00Z");
        let s = Session {
            operator_id: "op".into(),
            login: "ana".into(),
            created_at: start,
            authenticated_at: start,
            csrf: "ab".into(),
            ended_at: None,
        };
        assert_eq!(Session::from_json(&s.to_json()), Some(s.clone()));
        let at = |m: i64| start.checked_add(SignedDuration::from_mins(m)).expect("t");
        assert_eq!(s.check(at(10), at(0)), Ok(()));
        assert_eq!(s.check(at(29), at(0)), Ok(()));
        assert_eq!(s.check(at(30), at(0)), Err(SessionEnd::Idle));
        assert_eq!(
            s.check(at(12 * 60), at(12 * 60 - 1)),
            Err(SessionEnd::Expired)
        );
        assert_eq!(s.check(at(-1), at(-1)), Err(SessionEnd::Expired));
        let ended = Session {
            ended_at: Some(at(5)),
            ..s.clone()
        };
        assert_eq!(ended.check(at(6), at(5)), Err(SessionEnd::SignedOut));
        assert!(s.recently_authenticated(at(4)));
        assert!(!s.recently_authenticated(at(5)));
    }

    #[test]
    fn invitations_are_good_once_until_they_expire() {
        let i = Invitation {
            operator_id: "op".into(),
            totp_sealed: "x".into(),
            expires_at: t("2026-01-04T00:00:00Z"),
            issued_by: "operator:admin".into(),
            used_at: None,
        };
        assert_eq!(Invitation::from_json(&i.to_json()), Some(i.clone()));
        assert!(i.usable(t("2026-01-03T23:59:59Z")));
        assert!(!i.usable(t("2026-01-04T00:00:00Z")));
        let used = Invitation {
            used_at: Some(t("2026-01-02T00:00:00Z")),
            ..i
        };
        assert!(!used.usable(t("2026-01-02T00:00:01Z")));
    }
}
