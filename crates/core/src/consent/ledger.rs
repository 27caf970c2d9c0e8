//! The consent ledger: append-only records of consents, refusals, withdrawals and expiries
//! (the ISO/IEC TS 27560 fields), the current state derived from them, and the decision of a
//! consent check.
//!
//! Subjects appear in the ledger by their pseudonym (the vault's keyed pseudonym), so the
//! proof of consent outlives an erasure without keeping who it was.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::purpose::{ConsentModel, LegalBasis, Purpose};

/// The state a record puts a subject's consent to a purpose in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentState {
    /// Consent given (or, for an opt-out purpose, opted back in).
    Given,
    /// Consent refused (for an opt-out purpose: opted out).
    Refused,
    /// Consent withdrawn (for an opt-out purpose: opted out).
    Withdrawn,
    /// A consent's validity ran out.
    Expired,
}

impl ConsentState {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Given => "given",
            ConsentState::Refused => "refused",
            ConsentState::Withdrawn => "withdrawn",
            ConsentState::Expired => "expired",
        }
    }

    /// Parses [`ConsentState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            ConsentState::Given,
            ConsentState::Refused,
            ConsentState::Withdrawn,
            ConsentState::Expired,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// How a choice was collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Custodian's banner.
    Banner,
    /// A form of the business's own.
    Form,
    /// A call to the API by a business system.
    Api,
    /// An import of earlier records.
    Import,
    /// A Global Privacy Control signal.
    Gpc,
    /// An opt-out request (a data-subject rights request) carried out.
    RightsRequest,
}

impl Method {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Banner => "banner",
            Method::Form => "form",
            Method::Api => "api",
            Method::Import => "import",
            Method::Gpc => "gpc",
            Method::RightsRequest => "rights_request",
        }
    }

    /// Parses [`Method::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Method::Banner,
            Method::Form,
            Method::Api,
            Method::Import,
            Method::Gpc,
            Method::RightsRequest,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// The notice version a choice was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRef {
    /// The notice's key.
    pub key: String,
    /// Its version.
    pub version: i64,
    /// Its content hash.
    pub hash: String,
}

/// How the choice reached us, kept as proof without personal data: the client's network
/// (IPv4 /24, IPv6 /48), a hash of the user agent, who submitted it and the request id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Proof {
    /// The client's network, never its address.
    pub network: Option<String>,
    /// Hex SHA-256 of the User-Agent header, first 16 bytes.
    pub user_agent_sha256: Option<String>,
    /// `operator:<id>`, `public` or `cli`.
    pub actor: String,
    /// The request that recorded it.
    pub request_id: String,
}

impl Proof {
    /// As stored (JSON).
    pub fn encode(&self) -> String {
        json!({
            "network": self.network,
            "user_agent_sha256": self.user_agent_sha256,
            "actor": self.actor,
            "request_id": self.request_id,
        })
        .to_string()
    }

    /// Reads [`Proof::encode`]'s output back.
    pub fn decode(stored: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(stored).ok()?;
        let opt = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Proof {
            network: opt("network"),
            user_agent_sha256: opt("user_agent_sha256"),
            actor: opt("actor")?,
            request_id: opt("request_id")?,
        })
    }
}

/// The network an address belongs to, as kept in proofs: IPv4 /24, IPv6 /48.
pub fn network_of(ip: std::net::IpAddr) -> String {
    match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// One record of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    /// Record id (UUID v7).
    pub id: String,
    /// The subject's pseudonym.
    pub subject: String,
    /// The purpose's key.
    pub purpose: String,
    /// The state it records.
    pub state: ConsentState,
    /// The notice shown, if any.
    pub notice: Option<NoticeRef>,
    /// The language the notice was shown in.
    pub language: Option<String>,
    /// When the choice was made.
    pub at: Timestamp,
    /// When Custodian recorded it (later than `at` for imports).
    pub recorded_at: Timestamp,
    /// How it was collected.
    pub method: Method,
    /// Where: a site, an app, a system (`www.example.com`, `crm`).
    pub source: String,
    /// The jurisdiction it was made under (`EU`, `US-CA`).
    pub jurisdiction: Option<String>,
    /// When a given consent lapses.
    pub expires_at: Option<Timestamp>,
    /// The proof metadata.
    pub proof: Proof,
    /// The receipt's id.
    pub receipt_id: String,
}

/// A subject's current state for one purpose: the latest record by time (ties: by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentConsent {
    /// The subject's pseudonym.
    pub subject: String,
    /// The purpose's key.
    pub purpose: String,
    /// The state the latest record set.
    pub state: ConsentState,
    /// The latest record's id.
    pub event_id: String,
    /// When it was made.
    pub at: Timestamp,
    /// When a given consent lapses.
    pub expires_at: Option<Timestamp>,
    /// The notice version it was made on.
    pub notice_version: Option<i64>,
    /// How it was collected.
    pub method: Method,
}

impl CurrentConsent {
    /// The state as of `now`: a given consent past its expiry is expired.
    pub fn state_at(&self, now: Timestamp) -> ConsentState {
        match (self.state, self.expires_at) {
            (ConsentState::Given, Some(exp)) if exp <= now => ConsentState::Expired,
            (s, _) => s,
        }
    }

    /// Whether the record `(at, id)` supersedes this one (the ledger's order).
    pub fn superseded_by(&self, at: Timestamp, id: &str) -> bool {
        (at, id) > (self.at, self.event_id.as_str())
    }

    /// The current state a new record sets.
    pub fn from_event(e: &ConsentEvent) -> Self {
        CurrentConsent {
            subject: e.subject.clone(),
            purpose: e.purpose.clone(),
            state: e.state,
            event_id: e.id.clone(),
            at: e.at,
            expires_at: e.expires_at,
            notice_version: e.notice.as_ref().map(|n| n.version),
            method: e.method,
        }
    }
}

/// Folds a subject's records for one purpose (in any order) into the current state.
pub fn current_of<'a>(
    events: impl IntoIterator<Item = &'a ConsentEvent>,
) -> Option<CurrentConsent> {
    events
        .into_iter()
        .max_by(|a, b| (a.at, a.id.as_str()).cmp(&(b.at, b.id.as_str())))
        .map(CurrentConsent::from_event)
}

/// Why a check allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Opt-in: the subject's consent is given and current.
    Consent,
    /// Opt-in: nothing recorded.
    NoConsent,
    /// Opt-in: refused.
    Refused,
    /// Opt-in: withdrawn.
    Withdrawn,
    /// Opt-in: the consent lapsed.
    Expired,
    /// Opt-out: the subject has not opted out.
    NotOptedOut,
    /// Opt-out: the subject opted out.
    OptedOut,
    /// Another legal basis covers the purpose.
    LegalBasis(LegalBasis),
}

impl Basis {
    /// Stable name (for a legal basis, its name: `contract`, `legitimate_interests`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Consent => "consent",
            Basis::NoConsent => "no_consent",
            Basis::Refused => "refused",
            Basis::Withdrawn => "withdrawn",
            Basis::Expired => "expired",
            Basis::NotOptedOut => "not_opted_out",
            Basis::OptedOut => "opted_out",
            Basis::LegalBasis(b) => b.as_str(),
        }
    }
}

/// The answer to "may this subject's data be used for this purpose?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed or not.
    pub allowed: bool,
    /// Why.
    pub basis: Basis,
    /// The subject's state as of the check, if anything is recorded.
    pub state: Option<ConsentState>,
    /// The record the answer rests on.
    pub event_id: Option<String>,
}

/// Decides a consent check from the purpose and the subject's current state.
pub fn decide(purpose: &Purpose, current: Option<&CurrentConsent>, now: Timestamp) -> Verdict {
    let state = current.map(|c| c.state_at(now));
    let event_id = current.map(|c| c.event_id.clone());
    let (allowed, basis) = match purpose.consent {
        ConsentModel::NotRequired => (true, Basis::LegalBasis(purpose.legal_basis)),
        ConsentModel::OptIn => match state {
            Some(ConsentState::Given) => (true, Basis::Consent),
            Some(ConsentState::Refused) => (false, Basis::Refused),
            Some(ConsentState::Withdrawn) => (false, Basis::Withdrawn),
            Some(ConsentState::Expired) => (false, Basis::Expired),
            None => (false, Basis::NoConsent),
        },
        ConsentModel::OptOut => match state {
            Some(ConsentState::Refused | ConsentState::Withdrawn) => (false, Basis::OptedOut),
            _ => (true, Basis::NotOptedOut),
        },
    };
    Verdict {
        allowed,
        basis,
        state,
        event_id,
    }
}

/// When a consent given at `at` for `purpose` lapses, if the purpose limits its validity.
pub fn expiry(purpose: &Purpose, state: ConsentState, at: Timestamp) -> Option<Timestamp> {
    if state != ConsentState::Given {
        return None;
    }
    let days = purpose.validity_days?;
    at.checked_add(SignedDuration::from_hours(i64::from(days) * 24))
        .ok()
}

/// Whether the values of a request's `Sec-GPC` headers carry the signal: at least one is
/// exactly `1` (any other value is ignored, as the GPC specification requires).
pub fn gpc_signal<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    values.into_iter().any(|v| v == b"1")
}

/// Whether `s` is a valid source label: 1 to 128 visible ASCII characters.
pub fn valid_source(s: &str) -> bool {
    (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// The receipt a subject keeps for one record: the ISO/IEC TS 27560 record fields, as a JSON
/// object (the claims of a signed JWS). `subject_id` is the subject's own id (the ledger only
/// holds its pseudonym); `issuer` names the installation.
pub fn receipt_claims(
    e: &ConsentEvent,
    subject_id: &str,
    purpose: Option<&Purpose>,
    issuer: &str,
    withdraw_at: &str,
) -> Value {
    let ts = |t: Timestamp| t.to_string();
    json!({
        "schema_version": "custodian-consent-receipt/1 (ISO/IEC TS 27560:2023 fields)",
        "iss": issuer,
        "iat": e.recorded_at.as_second(),
        "receipt_id": e.receipt_id,
        "record_id": e.id,
        "pii_principal_id": subject_id,
        "purpose": e.purpose,
        "purpose_name": purpose.and_then(|p| p.names.values().next()),
        "lawful_basis": purpose.map(|p| p.legal_basis.article()),
        "special_condition": purpose.and_then(|p| p.special_condition).map(|c| c.article()),
        "event_type": match purpose.and_then(|p| p.special_condition) {
            Some(super::purpose::SpecialCondition::ExplicitConsent) => "explicit_consent",
            _ => "consent",
        },
        "event_state": e.state.as_str(),
        "event_time": ts(e.at),
        "validity": e.expires_at.map(ts),
        "collection_method": e.method.as_str(),
        "source": e.source,
        "jurisdiction": e.jurisdiction,
        "language": e.language,
        "privacy_notice": e.notice.as_ref().map(|n| json!({
            "key": n.key,
            "version": n.version,
            "sha256": n.hash,
        })),
        "pii_categories": purpose.map(|p| p.data_categories.clone()),
        "withdrawal_method": withdraw_at,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::consent::purpose::{OptOutKind, Purpose};

    fn purpose(consent: ConsentModel) -> Purpose {
        let legal_basis = match consent {
            ConsentModel::OptIn => LegalBasis::Consent,
            ConsentModel::OptOut => LegalBasis::LegitimateInterests,
            ConsentModel::NotRequired => LegalBasis::Contract,
        };
        Purpose {
            key: "p".into(),
            names: BTreeMap::from([("en".into(), "P".into())]),
            descriptions: BTreeMap::new(),
            legal_basis,
            special_condition: None,
            opt_out_kinds: vec![OptOutKind::Sale],
            consent,
            data_uses: vec![],
            data_categories: vec![],
            jurisdictions: vec![],
            notice: None,
            validity_days: Some(1),
        }
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn event(id: &str, state: ConsentState, at: i64) -> ConsentEvent {
        ConsentEvent {
            id: id.into(),
            subject: "sp_1".into(),
            purpose: "p".into(),
            state,
            notice: None,
            language: None,
            at: ts(at),
            recorded_at: ts(at),
            method: Method::Api,
            source: "test".into(),
            jurisdiction: None,
            expires_at: expiry(&purpose(ConsentModel::OptIn), state, ts(at)),
            proof: Proof::default(),
            receipt_id: format!("r-{id}"),
        }
    }

    #[test]
    fn the_latest_record_wins_whatever_the_order_they_arrive_in() {
        let given = event("a", ConsentState::Given, 100);
        let withdrawn = event("b", ConsentState::Withdrawn, 200);
        let old_refusal = event("c", ConsentState::Refused, 50);
        let cur = current_of([&withdrawn, &old_refusal, &given]);
        assert_eq!(cur.as_ref().map(|c| c.state), Some(ConsentState::Withdrawn));
        let cur = cur.expect("current");
        assert!(!cur.superseded_by(ts(50), "z"));
        assert!(cur.superseded_by(ts(200), "c"));
        assert!(!cur.superseded_by(ts(200), "a"));
    }

    #[test]
    fn opt_in_needs_a_current_given_consent() {
        let p = purpose(ConsentModel::OptIn);
        let v = decide(&p, None, ts(0));
        assert_eq!((v.allowed, v.basis), (false, Basis::NoConsent));
        let given = CurrentConsent::from_event(&event("a", ConsentState::Given, 0));
        assert_eq!(decide(&p, Some(&given), ts(10)).basis, Basis::Consent);
        // Validity one day: the next day it has lapsed.
        let v = decide(&p, Some(&given), ts(86_400));
        assert_eq!(
            (v.allowed, v.basis, v.state),
            (false, Basis::Expired, Some(ConsentState::Expired))
        );
        for (s, b) in [
            (ConsentState::Refused, Basis::Refused),
            (ConsentState::Withdrawn, Basis::Withdrawn),
            (ConsentState::Expired, Basis::Expired),
        ] {
            let c = CurrentConsent::from_event(&event("x", s, 0));
            assert_eq!(decide(&p, Some(&c), ts(1)).basis, b);
            assert!(!decide(&p, Some(&c), ts(1)).allowed);
        }
    }

    #[test]
    fn opt_out_is_allowed_until_the_subject_opts_out() {
        let p = purpose(ConsentModel::OptOut);
        assert_eq!(decide(&p, None, ts(0)).basis, Basis::NotOptedOut);
        for s in [ConsentState::Refused, ConsentState::Withdrawn] {
            let c = CurrentConsent::from_event(&event("x", s, 0));
            let v = decide(&p, Some(&c), ts(1));
            assert_eq!((v.allowed, v.basis), (false, Basis::OptedOut));
        }
        let back_in = CurrentConsent::from_event(&event("y", ConsentState::Given, 5));
        assert!(decide(&p, Some(&back_in), ts(6)).allowed);
    }

    #[test]
    fn another_legal_basis_is_not_gated_by_consent() {
        let p = purpose(ConsentModel::NotRequired);
        let c = CurrentConsent::from_event(&event("x", ConsentState::Refused, 0));
        let v = decide(&p, Some(&c), ts(1));
        assert_eq!((v.allowed, v.basis.as_str()), (true, "contract"));
    }

    #[test]
    fn gpc_is_exactly_one() {
        assert!(gpc_signal([b"1".as_slice()]));
        assert!(gpc_signal([b"0".as_slice(), b"1".as_slice()]));
        for v in [b"0".as_slice(), b"true", b" 1", b"1 ", b"", b"01"] {
            assert!(!gpc_signal([v]), "{v:?}");
        }
        assert!(!gpc_signal(std::iter::empty::<&[u8]>()));
    }

    #[test]
    fn proofs_keep_networks_not_addresses() {
        assert_eq!(network_of([203, 0, 113, 77].into()), "203.0.113.0/24");
        let v6: std::net::IpAddr = "2001:db8:abcd:12::1".parse().expect("ip");
        assert_eq!(network_of(v6), "2001:db8:abcd::/48");
        let mapped: std::net::IpAddr = "::ffff:198.51.100.9".parse().expect("ip");
        assert_eq!(network_of(mapped), "198.51.100.0/24");
        let p = Proof {
            network: Some("203.0.113.0/24".into()),
            user_agent_sha256: None,
            actor: "public".into(),
            request_id: "r1".into(),
        };
        assert_eq!(Proof::decode(&p.encode()), Some(p));
    }

    #[test]
    fn receipts_carry_the_27560_fields() {
        let e = event("a", ConsentState::Given, 100);
        let p = purpose(ConsentModel::OptIn);
        let c = receipt_claims(
            &e,
            "cust-1",
            Some(&p),
            "custodian.local/x",
            "https://x/withdraw",
        );
        for k in [
            "schema_version",
            "receipt_id",
            "record_id",
            "pii_principal_id",
            "purpose",
            "lawful_basis",
            "event_type",
            "event_state",
            "event_time",
            "validity",
            "collection_method",
            "jurisdiction",
            "privacy_notice",
            "withdrawal_method",
        ] {
            assert!(c.get(k).is_some(), "{k}");
        }
        assert_eq!(c["pii_principal_id"], "cust-1");
        assert_eq!(c["lawful_basis"], "GDPR Art. 6(1)(a)");
    }
}
