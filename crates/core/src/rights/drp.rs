//! The Data Rights Protocol 1.0, Covered Business side: the signed messages an authorized
//! agent sends, the checks each must pass (§3.07), the link a request keeps to the agent
//! that filed it, and the Exercise Status object (§3.03) a request is reported as.
//!
//! Signature verification is in `custodian_crypto::drp`; this module takes the verified JSON.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::RequestType;
use super::request::RightsRequest;
use super::workflow::{RejectReason, State};

/// The protocol version we speak (1.0 changed nothing over 0.9.4 on the wire).
pub const DRP_VERSION: &str = "1.0";
/// Versions whose messages we accept.
pub const ACCEPTED_VERSIONS: [&str; 2] = ["1.0", "0.9.4"];
/// The longest `expires-at` − `issued-at` window accepted (OSIRAA uses 15 minutes; the
/// protocol recommends at most 10).
pub const MAX_WINDOW_SECONDS: i64 = 15 * 60;
/// Clock skew tolerated on `issued-at` (a message issued slightly in our future).
pub const SKEW_SECONDS: i64 = 60;

/// A right the protocol names (§3.01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exercise {
    /// `sale:opt-out`.
    SaleOptOut,
    /// `sale:opt-in` (not supported: we keep no opt-in request type).
    SaleOptIn,
    /// `deletion`.
    Deletion,
    /// `access`.
    Access,
    /// `access:categories`.
    AccessCategories,
    /// `access:specific`.
    AccessSpecific,
}

impl Exercise {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Exercise::SaleOptOut => "sale:opt-out",
            Exercise::SaleOptIn => "sale:opt-in",
            Exercise::Deletion => "deletion",
            Exercise::Access => "access",
            Exercise::AccessCategories => "access:categories",
            Exercise::AccessSpecific => "access:specific",
        }
    }

    /// Parses a wire name; the spec's table also spells them with `_` (`sale:opt_out`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.replace('_', "-").as_str() {
            "sale:opt-out" => Exercise::SaleOptOut,
            "sale:opt-in" => Exercise::SaleOptIn,
            "deletion" => Exercise::Deletion,
            "access" => Exercise::Access,
            "access:categories" => Exercise::AccessCategories,
            "access:specific" => Exercise::AccessSpecific,
            _ => return None,
        })
    }

    /// The request type it files; `None` for rights we do not take (opt-in).
    pub fn request_type(self) -> Option<RequestType> {
        match self {
            Exercise::SaleOptOut => Some(RequestType::OptOutSale),
            Exercise::SaleOptIn => None,
            Exercise::Deletion => Some(RequestType::Erasure),
            Exercise::Access | Exercise::AccessSpecific => Some(RequestType::Access),
            Exercise::AccessCategories => Some(RequestType::AccessCategories),
        }
    }
}

/// Why a message is refused (each a 403, or 400 for a malformed exercise).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrpRefusal {
    /// The JSON is not an object or a claim has the wrong type.
    #[error("the signed message is not a DRP message: {0}")]
    Malformed(&'static str),
    /// `agent-id` is not the agent the token or URL names.
    #[error("agent-id does not match the authenticated agent")]
    WrongAgent,
    /// `business-id` is not ours.
    #[error("business-id is not this business")]
    WrongBusiness,
    /// `issued-at` is in the future.
    #[error("the message is issued in the future")]
    NotYetValid,
    /// `expires-at` has passed.
    #[error("the message has expired")]
    Expired,
    /// The validity window is longer than we accept.
    #[error("the message's validity window is longer than 15 minutes")]
    WindowTooLong,
    /// `drp.version` is one we do not speak.
    #[error("unsupported drp.version")]
    Version,
    /// `exercise` names no right.
    #[error("exercise names no DRP right")]
    UnknownExercise,
    /// `exercise` names a right this business does not take.
    #[error("this business does not take this exercise")]
    UnsupportedExercise,
    /// `regime` is neither `ccpa` nor absent.
    #[error("regime must be ccpa or absent")]
    UnknownRegime,
    /// A field breaks a rule.
    #[error("{0} is not valid")]
    Invalid(&'static str),
}

/// The claims every signed message carries (§2.02, §3.07).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The agent.
    pub agent_id: String,
    /// The business it is addressed to.
    pub business_id: String,
    /// Valid from.
    pub issued_at: Timestamp,
    /// Valid until (exclusive).
    pub expires_at: Timestamp,
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, DrpRefusal> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(DrpRefusal::Malformed("not a JSON object")),
    }
}

fn string<'a>(m: &'a Map<String, Value>, key: &'static str) -> Result<Option<&'a str>, DrpRefusal> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DrpRefusal::Invalid(key)),
    }
}

fn required<'a>(m: &'a Map<String, Value>, key: &'static str) -> Result<&'a str, DrpRefusal> {
    string(m, key)?.ok_or(DrpRefusal::Malformed(key))
}

fn time(m: &Map<String, Value>, key: &'static str) -> Result<Timestamp, DrpRefusal> {
    let s = required(m, key)?;
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    // Python's isoformat() leaves the offset out; such times are read as UTC.
    s.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or(DrpRefusal::Invalid(key))
}

impl Envelope {
    fn read(m: &Map<String, Value>) -> Result<Self, DrpRefusal> {
        Ok(Self {
            agent_id: required(m, "agent-id")?.to_owned(),
            business_id: required(m, "business-id")?.to_owned(),
            issued_at: time(m, "issued-at")?,
            expires_at: time(m, "expires-at")?,
        })
    }

    /// The checks of §3.07 after the signature: the agent, the business, the time window.
    pub fn check(
        &self,
        agent_id: &str,
        business_id: &str,
        now: Timestamp,
    ) -> Result<(), DrpRefusal> {
        if self.agent_id != agent_id {
            return Err(DrpRefusal::WrongAgent);
        }
        if self.business_id != business_id {
            return Err(DrpRefusal::WrongBusiness);
        }
        if self.issued_at.as_second() - SKEW_SECONDS > now.as_second() {
            return Err(DrpRefusal::NotYetValid);
        }
        if now >= self.expires_at {
            return Err(DrpRefusal::Expired);
        }
        if self.expires_at.as_second() - self.issued_at.as_second() > MAX_WINDOW_SECONDS {
            return Err(DrpRefusal::WindowTooLong);
        }
        Ok(())
    }
}

fn version(m: &Map<String, Value>) -> Result<(), DrpRefusal> {
    match string(m, "drp.version")? {
        Some(v) if ACCEPTED_VERSIONS.contains(&v) => Ok(()),
        _ => Err(DrpRefusal::Version),
    }
}

/// A pair-wise key setup message (§2.05).
pub fn read_pairing(bytes: &[u8]) -> Result<Envelope, DrpRefusal> {
    let m = object(bytes)?;
    version(&m)?;
    Envelope::read(&m)
}

/// A postal address claim (OIDC Core §5.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// `formatted`, or the parts joined when it is absent.
    pub formatted: String,
}

/// A Data Rights Exercise request (§2.02), verified and read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExerciseRequest {
    /// Who sent it, to whom, when.
    pub envelope: Envelope,
    /// The agent's own id for it (echoed back).
    pub agent_request_id: Option<String>,
    /// The right.
    pub exercise: Exercise,
    /// `ccpa`, or `None` for a voluntary request.
    pub regime: Option<String>,
    /// Where status changes are pushed.
    pub status_callback: Option<String>,
    /// Identity claims.
    pub name: Option<String>,
    /// The email claim.
    pub email: Option<String>,
    /// Whether the agent says it verified the email.
    pub email_verified: bool,
    /// The phone claim.
    pub phone_number: Option<String>,
    /// The address claim.
    pub address: Option<Address>,
    /// Whether the agent holds a power of attorney (the document itself is not kept).
    pub power_of_attorney: bool,
}

const ADDRESS_PARTS: [&str; 5] = [
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

fn address(v: Option<&Value>) -> Result<Option<Address>, DrpRefusal> {
    let m = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(DrpRefusal::Invalid("address")),
    };
    if let Some(f) = string(m, "formatted")? {
        return Ok(Some(Address {
            formatted: f.to_owned(),
        }));
    }
    let mut parts = Vec::new();
    for key in ADDRESS_PARTS {
        if let Some(p) = string(m, key)?.filter(|p| !p.trim().is_empty()) {
            parts.push(p.trim());
        }
    }
    Ok((!parts.is_empty()).then(|| Address {
        formatted: parts.join(", "),
    }))
}

fn flag(m: &Map<String, Value>, key: &'static str) -> Result<bool, DrpRefusal> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(DrpRefusal::Invalid(key)),
    }
}

/// Reads an exercise request. The agent and time checks are [`Envelope::check`]'s.
pub fn read_exercise(bytes: &[u8]) -> Result<ExerciseRequest, DrpRefusal> {
    let m = object(bytes)?;
    version(&m)?;
    let envelope = Envelope::read(&m)?;
    let exercise = match m.get("exercise") {
        Some(Value::String(s)) => Exercise::parse(s).ok_or(DrpRefusal::UnknownExercise)?,
        // Before 0.9 `exercise` was a list; 1.0 allows exactly one.
        Some(Value::Array(a)) if a.len() == 1 => a[0]
            .as_str()
            .and_then(Exercise::parse)
            .ok_or(DrpRefusal::UnknownExercise)?,
        _ => return Err(DrpRefusal::Malformed("exercise")),
    };
    let regime = match string(&m, "regime")? {
        None => None,
        Some(r) if r.eq_ignore_ascii_case("ccpa") => Some("ccpa".to_owned()),
        Some(_) => return Err(DrpRefusal::UnknownRegime),
    };
    let agent_request_id = string(&m, "agent-request-id")?.map(str::to_owned);
    if agent_request_id
        .as_deref()
        .is_some_and(|a| a.is_empty() || a.len() > 200 || a.chars().any(char::is_control))
    {
        return Err(DrpRefusal::Invalid("agent-request-id"));
    }
    let power_of_attorney = match m.get("power_of_attorney") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(DrpRefusal::Invalid("power_of_attorney")),
    };
    Ok(ExerciseRequest {
        envelope,
        agent_request_id,
        exercise,
        regime,
        status_callback: string(&m, "status_callback")?.map(str::to_owned),
        name: string(&m, "name")?.map(str::to_owned),
        email: string(&m, "email")?.map(str::to_owned),
        email_verified: flag(&m, "email_verified")?,
        phone_number: string(&m, "phone_number")?.map(str::to_owned),
        address: address(m.get("address"))?,
        power_of_attorney,
    })
}

/// A revoke message (§2.04): a reason, and optionally the envelope claims, checked when
/// present.
pub fn read_revoke(bytes: &[u8]) -> Result<(Option<String>, Option<Envelope>), DrpRefusal> {
    let m = object(bytes)?;
    let reason = string(&m, "reason")?.map(str::to_owned);
    let envelope = if m.contains_key("agent-id") {
        Some(Envelope::read(&m)?)
    } else {
        None
    };
    Ok((reason, envelope))
}

/// What a request filed over DRP remembers of it (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrpLink {
    /// The agent that filed it (only it may read or revoke it).
    pub agent_id: String,
    /// The agent's own id for it.
    pub agent_request_id: Option<String>,
    /// The right as the agent named it.
    pub exercise: Exercise,
    /// `ccpa` or `None` (voluntary).
    pub regime: Option<String>,
    /// Where status changes are pushed.
    pub status_callback: Option<String>,
}

impl DrpLink {
    /// The stored form (JSON).
    pub fn encode(&self) -> String {
        json!({
            "agent_id": self.agent_id,
            "agent_request_id": self.agent_request_id,
            "exercise": self.exercise.as_str(),
            "regime": self.regime,
            "status_callback": self.status_callback,
        })
        .to_string()
    }

    /// Reads the stored form.
    pub fn decode(s: &str) -> Option<Self> {
        let m = object(s.as_bytes()).ok()?;
        let opt = |k: &'static str| string(&m, k).ok().map(|v| v.map(str::to_owned));
        Some(Self {
            agent_id: required(&m, "agent_id").ok()?.to_owned(),
            agent_request_id: opt("agent_request_id")?,
            exercise: Exercise::parse(required(&m, "exercise").ok()?)?,
            regime: opt("regime")?,
            status_callback: opt("status_callback")?,
        })
    }
}

/// The DRP `request_id` of a request: its UUID, hyphenated.
pub fn drp_request_id(id: &str) -> String {
    let hex = id.strip_prefix("rr_").unwrap_or(id);
    if hex.len() != 32 {
        return hex.to_owned();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The request id (`rr_…`) of a DRP `request_id` (a hyphenated UUID, any case).
pub fn request_id_of(drp_id: &str) -> Option<String> {
    let b = drp_id.as_bytes();
    let shape_ok = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    shape_ok.then(|| format!("rr_{}", drp_id.replace('-', "").to_ascii_lowercase()))
}

/// The request id an exercise message files under: a version-8 UUID from the SHA-256 of the
/// signed message, so that a replayed message finds the request it filed instead of filing
/// a second one.
pub fn request_id_for_message(signed: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(signed);
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    format!("rr_{}", hex::encode(b))
}

/// A DRP denial reason for one of ours (§3.02).
pub fn denial_reason(reason: Option<RejectReason>) -> &'static str {
    match reason {
        Some(RejectReason::IdentityNotVerified) => "insuf_verification",
        Some(RejectReason::NoDataHeld) => "no_match",
        Some(RejectReason::LegalExemption) => "claim_not_covered",
        Some(RejectReason::ManifestlyUnfounded | RejectReason::Duplicate) | None => "other",
    }
}

fn rfc3339(t: Timestamp) -> String {
    // Whole seconds with a `Z`: what every ISO 8601 reader (Python's fromisoformat included)
    // accepts.
    t.round(jiff::Unit::Second)
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The Exercise Status object (§3.03) of a request filed over DRP. `verification_url` is
/// where a user proves their identity (the request id is appended as a path segment).
pub fn status_of(r: &RightsRequest, link: &DrpLink, verification_url: Option<&str>) -> Value {
    let mut s = Map::new();
    s.insert("request_id".into(), drp_request_id(&r.id).into());
    if let Some(a) = &link.agent_request_id {
        s.insert("agent_request_id".into(), a.clone().into());
    }
    s.insert("received_at".into(), rfc3339(r.received_at).into());
    let expected_by = r.deadlines.as_ref().map(|d| rfc3339(d.due.end));
    let details = |s: &mut Map<String, Value>, text: &str| {
        s.insert("processing_details".into(), text.into());
    };
    match r.progress.state {
        State::Received => {
            s.insert("status".into(), "open".into());
        }
        State::Verifying => {
            s.insert("status".into(), "in_progress".into());
            s.insert("reason".into(), "need_user_verification".into());
            if let Some(e) = expected_by {
                s.insert("expected_by".into(), e.into());
            }
            if let Some(u) = verification_url {
                let url = format!("{}/{}", u.trim_end_matches('/'), drp_request_id(&r.id));
                s.insert("user_verification_url".into(), url.into());
            }
            if let Some(c) = &r.challenge {
                s.insert("expires_at".into(), rfc3339(c.expires_at).into());
            }
            details(
                &mut s,
                "a one-time code was sent to the email address given; the user enters it to verify",
            );
        }
        State::InProgress | State::AwaitingApproval => {
            s.insert("status".into(), "in_progress".into());
            if let Some(e) = expected_by {
                s.insert("expected_by".into(), e.into());
            }
            if r.progress.extended_at.is_some() {
                let why = r.extension_reason.map_or("extended", |x| x.as_str());
                details(&mut s, &format!("deadline extended: {why}"));
            }
        }
        State::Completed => {
            s.insert("status".into(), "fulfilled".into());
        }
        State::Rejected => {
            s.insert("status".into(), "denied".into());
            s.insert("reason".into(), denial_reason(r.progress.rejection).into());
            let why = r.progress.rejection.map_or("refused", RejectReason::as_str);
            details(&mut s, why);
        }
        State::Withdrawn => {
            s.insert("status".into(), "revoked".into());
        }
    }
    if r.progress.state.is_final()
        && let Some(until) = r.retain_until
    {
        s.insert("expires_at".into(), rfc3339(until).into());
    }
    Value::Object(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(extra: Value) -> Vec<u8> {
        let mut base = json!({
            "agent-id": "AGENT_A", "business-id": "acme",
            "issued-at": "2026-03-01T12:00:00Z", "expires-at": "2026-03-01T12:10:00Z",
            "drp.version": "1.0", "exercise": "deletion", "regime": "ccpa",
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
            for (k, v) in e {
                b.insert(k, v);
            }
        }
        base.to_string().into_bytes()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn exercise_messages_are_read_with_their_claims() {
        let r = read_exercise(&msg(json!({
            "agent-request-id": "a-1", "email": "p@example.com", "email_verified": true,
            "address": {"street_address": "1 Main St", "locality": "Sacramento", "region": "CA"},
            "status_callback": "https://agent.example/cb", "power_of_attorney": "doc",
        })))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.exercise, Exercise::Deletion);
        assert_eq!(r.exercise.request_type(), Some(RequestType::Erasure));
        assert_eq!(r.regime.as_deref(), Some("ccpa"));
        assert_eq!(r.agent_request_id.as_deref(), Some("a-1"));
        assert!(r.email_verified && r.power_of_attorney);
        assert_eq!(
            r.address.map(|a| a.formatted).as_deref(),
            Some("1 Main St, Sacramento, CA")
        );
        assert_eq!(r.envelope.issued_at, at("2026-03-01T12:00:00Z"));
    }

    #[test]
    fn bad_messages_are_refused_with_their_reason() {
        let cases = [
            (
                json!({"exercise": "sale:opt-sideways"}),
                DrpRefusal::UnknownExercise,
            ),
            (json!({"exercise": 3}), DrpRefusal::Malformed("exercise")),
            (json!({"regime": "gdpr"}), DrpRefusal::UnknownRegime),
            (json!({"drp.version": "0.5"}), DrpRefusal::Version),
            (
                json!({"issued-at": "yesterday"}),
                DrpRefusal::Invalid("issued-at"),
            ),
            (
                json!({"email_verified": "yes"}),
                DrpRefusal::Invalid("email_verified"),
            ),
            (
                json!({"agent-request-id": ""}),
                DrpRefusal::Invalid("agent-request-id"),
            ),
            (
                json!({"address": "1 Main St"}),
                DrpRefusal::Invalid("address"),
            ),
        ];
        for (extra, want) in cases {
            assert_eq!(read_exercise(&msg(extra.clone())), Err(want), "{extra}");
        }
        assert_eq!(
            read_exercise(b"[1]"),
            Err(DrpRefusal::Malformed("not a JSON object"))
        );
        assert!(read_exercise(b"\xff").is_err());
    }

    #[test]
    fn envelope_checks_follow_section_3_07() {
        let e = read_pairing(&msg(json!({}))).unwrap_or_else(|e| panic!("{e}"));
        let now = at("2026-03-01T12:05:00Z");
        assert_eq!(e.check("AGENT_A", "acme", now), Ok(()));
        assert_eq!(e.check("AGENT_B", "acme", now), Err(DrpRefusal::WrongAgent));
        assert_eq!(
            e.check("AGENT_A", "other", now),
            Err(DrpRefusal::WrongBusiness)
        );
        assert_eq!(
            e.check("AGENT_A", "acme", at("2026-03-01T11:58:00Z")),
            Err(DrpRefusal::NotYetValid)
        );
        // Within the skew allowance.
        assert_eq!(
            e.check("AGENT_A", "acme", at("2026-03-01T11:59:30Z")),
            Ok(())
        );
        // expires-at itself is already too late.
        assert_eq!(
            e.check("AGENT_A", "acme", at("2026-03-01T12:10:00Z")),
            Err(DrpRefusal::Expired)
        );
        let long = read_pairing(&msg(json!({"expires-at": "2026-03-01T13:00:00Z"})))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            long.check("AGENT_A", "acme", now),
            Err(DrpRefusal::WindowTooLong)
        );
        // An offset-less time (Python's isoformat) is UTC.
        let naive = read_pairing(&msg(json!({"issued-at": "2026-03-01T12:00:00.123456"})))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            naive.issued_at.as_second(),
            at("2026-03-01T12:00:00Z").as_second()
        );
    }

    #[test]
    fn request_ids_map_both_ways_and_replays_map_to_one_id() {
        let id = request_id_for_message(b"signed bytes");
        assert_eq!(id, request_id_for_message(b"signed bytes"));
        assert_ne!(id, request_id_for_message(b"other bytes"));
        assert!(super::super::request::valid_request_id(&id));
        let drp = drp_request_id(&id);
        assert_eq!(drp.len(), 36);
        assert_eq!(drp.as_bytes()[14], b'8', "version 8");
        assert_eq!(request_id_of(&drp).as_deref(), Some(id.as_str()));
        assert_eq!(
            request_id_of(&drp.to_uppercase()).as_deref(),
            Some(id.as_str())
        );
        assert_eq!(request_id_of("not-a-uuid"), None);
        assert_eq!(request_id_of(&drp.replace('-', "")), None);
    }

    #[test]
    fn links_round_trip_and_exercises_map_to_request_types() {
        let link = DrpLink {
            agent_id: "AGENT_A".into(),
            agent_request_id: Some("x".into()),
            exercise: Exercise::AccessCategories,
            regime: None,
            status_callback: Some("https://a.example/cb".into()),
        };
        assert_eq!(DrpLink::decode(&link.encode()), Some(link));
        assert_eq!(Exercise::parse("sale:opt_out"), Some(Exercise::SaleOptOut));
        assert_eq!(Exercise::SaleOptIn.request_type(), None);
        assert_eq!(
            Exercise::AccessSpecific.request_type(),
            Some(RequestType::Access)
        );
        assert_eq!(denial_reason(Some(RejectReason::NoDataHeld)), "no_match");
        assert_eq!(
            denial_reason(Some(RejectReason::IdentityNotVerified)),
            "insuf_verification"
        );
    }
}
