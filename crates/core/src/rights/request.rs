//! A rights request as it is stored: its type, jurisdiction and deadlines, its workflow
//! progress, the sealed identity of its requester, the state of its identity challenge, and
//! the history of its steps. Also the SLA figures computed over many requests.
//!
//! The requester's identity (email, name, phone, an authorized agent) never sits in these
//! records in plaintext: it is sealed under a data key of its own vault subject,
//! [`requester_subject`] (`requester:<request id>`), whose wrapped key lives with the vault's
//! subject keys (re-wrapped by KEK rotation, destroyed when the record's retention ends). So
//! erasing the customer does not destroy the proof that their request was handled, and ending
//! the record destroys the identity it held.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::deadline::{Deadlines, Due, Pause, RequestClock};
use super::workflow::{Progress, RejectReason, State};
use super::{RequestType, RuleSet};
use crate::rights::DeadlineError;

/// How long a one-time verification code is valid.
pub const CHALLENGE_TTL: SignedDuration = SignedDuration::from_mins(15);
/// Wrong codes allowed per code.
pub const CHALLENGE_ATTEMPTS: u32 = 5;
/// Codes sent per request (the first and the resends).
pub const CHALLENGE_SENDS: u32 = 3;
/// How long the record of a closed request is kept: 24 months (CCPA, 11 CCR §7101(a)).
pub const RETENTION_MONTHS: i8 = 24;

/// The prefix of the vault subjects whose data keys seal requesters' identities (one per
/// rights request): reserved, so no caller can name such a subject (see
/// [`crate::vault::service::valid_subject_id`]).
pub const REQUESTER_PREFIX: &str = "requester:";

/// The vault subject whose data key seals the requester's identity.
pub fn requester_subject(request_id: &str) -> String {
    format!("{REQUESTER_PREFIX}{request_id}")
}

/// Whether `id` is a request id: `rr_` and a UUID.
pub fn valid_request_id(id: &str) -> bool {
    id.strip_prefix("rr_")
        .is_some_and(|u| u.len() == 32 && u.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How a request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Filed by an operator (mail, phone, in person) over the operator API.
    Operator,
    /// Filed by the requester through the privacy center's API.
    PrivacyCenter,
    /// Sent by an authorized agent under the Data Rights Protocol.
    Drp,
}

impl Channel {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Operator => "operator",
            Channel::PrivacyCenter => "privacy_center",
            Channel::Drp => "drp",
        }
    }

    /// Parses [`Channel::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Channel::Operator, Channel::PrivacyCenter, Channel::Drp]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Why a deadline was extended (GDPR Art. 12(3): complexity and number of requests; CCPA
/// §1798.145(h)/§7021(b): when reasonably necessary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionReason {
    /// The request is complex.
    Complexity,
    /// Many requests arrived.
    NumberOfRequests,
    /// Reasonably necessary, taking into account the request (CCPA wording).
    ReasonablyNecessary,
}

impl ExtensionReason {
    /// Every reason.
    pub const ALL: [ExtensionReason; 3] = [
        ExtensionReason::Complexity,
        ExtensionReason::NumberOfRequests,
        ExtensionReason::ReasonablyNecessary,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExtensionReason::Complexity => "complexity",
            ExtensionReason::NumberOfRequests => "number_of_requests",
            ExtensionReason::ReasonablyNecessary => "reasonably_necessary",
        }
    }

    /// Parses [`ExtensionReason::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Someone acting for the requester (CCPA authorized agent, GDPR representative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The agent's name or business name.
    pub name: String,
    /// Where the agent is reached.
    pub email: Option<String>,
}

/// Who made the request. Sealed at rest; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Requester {
    /// The requester's email (normalised), where the verification code goes.
    pub email: Option<String>,
    /// Their name, if given.
    pub name: Option<String>,
    /// Their phone number (E.164), if given.
    pub phone: Option<String>,
    /// The agent acting for them, if any.
    pub agent: Option<Agent>,
    /// Their customer number in the business's own systems, if given: an identity that
    /// finds their rows in connected databases (`customer_id`).
    pub customer_id: Option<String>,
}

impl Requester {
    /// The bytes that are sealed.
    pub fn encode(&self) -> Vec<u8> {
        let agent = self
            .agent
            .as_ref()
            .map(|a| json!({ "name": a.name, "email": a.email }));
        json!({
            "email": self.email, "name": self.name, "phone": self.phone, "agent": agent,
            "customer_id": self.customer_id,
        })
        .to_string()
        .into_bytes()
    }

    /// Reads [`Requester::encode`]'s bytes.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let agent = match v.get("agent") {
            Some(Value::Null) | None => None,
            Some(a) => Some(Agent {
                name: s(a, "name")?,
                email: s(a, "email"),
            }),
        };
        Some(Requester {
            email: s(&v, "email"),
            name: s(&v, "name"),
            phone: s(&v, "phone"),
            agent,
            customer_id: s(&v, "customer_id"),
        })
    }
}

/// A one-time code sent to the requester, as stored: its keyed hash, never the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// HMAC of the code under a server key, bound to the request id.
    pub code_hash: Vec<u8>,
    /// When the code stops being accepted.
    pub expires_at: Timestamp,
    /// Wrong codes entered for this code.
    pub attempts: u32,
    /// Codes sent for this request so far.
    pub sends: u32,
}

/// What checking a code found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code is right and in time.
    Accepted,
    /// The code is wrong; this many tries are left for it.
    Wrong(u32),
    /// The code has expired: ask for a new one.
    Expired,
    /// Too many wrong codes: ask for a new one.
    Exhausted,
    /// No code was sent (or the request is not being verified).
    NoChallenge,
}

impl Challenge {
    /// Checks a code whose keyed hash is `given` at `now`, in constant time over the hash;
    /// returns the verdict and the challenge as it must be stored afterwards (one more
    /// attempt on a wrong code).
    pub fn check(&self, given: &[u8], now: Timestamp) -> (CodeCheck, Challenge) {
        let mut next = self.clone();
        if self.attempts >= CHALLENGE_ATTEMPTS {
            return (CodeCheck::Exhausted, next);
        }
        if now > self.expires_at {
            return (CodeCheck::Expired, next);
        }
        let same = given.len() == self.code_hash.len()
            && given
                .iter()
                .zip(&self.code_hash)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            return (CodeCheck::Accepted, next);
        }
        next.attempts += 1;
        (
            CodeCheck::Wrong(CHALLENGE_ATTEMPTS.saturating_sub(next.attempts)),
            next,
        )
    }
}

/// The deadlines of a request as stored and shown: each a last day and the instant it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineView {
    /// Acknowledge receipt by, if the law sets it.
    pub acknowledge_by: Option<Due>,
    /// Respond by (the original period).
    pub respond_by: Due,
    /// Respond by, once extended (if the rule allows an extension).
    pub extended_respond_by: Option<Due>,
    /// Tell the requester of an extension by, if the rule requires notice.
    pub extension_notice_by: Option<Due>,
    /// The deadline in force.
    pub due: Due,
    /// Whole days the clock was stopped for identity verification.
    pub paused_days: i64,
    /// The legal source of the rule.
    pub source: String,
}

impl From<&Deadlines> for DeadlineView {
    fn from(d: &Deadlines) -> Self {
        DeadlineView {
            acknowledge_by: d.acknowledge_by(),
            respond_by: d.respond_by(),
            extended_respond_by: d.extended_respond_by(),
            extension_notice_by: d.extension_notice_by(),
            due: d.due(),
            paused_days: d.paused_days(),
            source: d.source().to_owned(),
        }
    }
}

fn due_json(d: &Due) -> Value {
    json!({ "date": d.date.to_string(), "end": d.end.to_string() })
}

fn due_from(v: &Value) -> Option<Due> {
    Some(Due {
        date: v.get("date")?.as_str()?.parse::<Date>().ok()?,
        end: v.get("end")?.as_str()?.parse::<Timestamp>().ok()?,
    })
}

impl DeadlineView {
    /// The stored form (JSON).
    pub fn encode(&self) -> String {
        let opt = |d: &Option<Due>| d.as_ref().map(due_json);
        json!({
            "acknowledge_by": opt(&self.acknowledge_by),
            "respond_by": due_json(&self.respond_by),
            "extended_respond_by": opt(&self.extended_respond_by),
            "extension_notice_by": opt(&self.extension_notice_by),
            "due": due_json(&self.due),
            "paused_days": self.paused_days,
            "source": self.source,
        })
        .to_string()
    }

    /// Reads [`DeadlineView::encode`].
    pub fn decode(s: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(s).ok()?;
        let opt = |k: &str| match v.get(k) {
            None | Some(Value::Null) => Some(None),
            Some(x) => due_from(x).map(Some),
        };
        Some(DeadlineView {
            acknowledge_by: opt("acknowledge_by")?,
            respond_by: due_from(v.get("respond_by")?)?,
            extended_respond_by: opt("extended_respond_by")?,
            extension_notice_by: opt("extension_notice_by")?,
            due: due_from(v.get("due")?)?,
            paused_days: v.get("paused_days")?.as_i64()?,
            source: v.get("source")?.as_str()?.to_owned(),
        })
    }
}

/// A rights request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsRequest {
    /// `rr_` and a random UUID (it is also the requester's handle on the request).
    pub id: String,
    /// The jurisdiction key of the deadline rules.
    pub jurisdiction: String,
    /// The IANA time zone the law's days are counted in.
    pub time_zone: String,
    /// The version of the rules table the deadlines come from.
    pub rules_version: String,
    /// How it arrived.
    pub channel: Channel,
    /// The vault subject it concerns, once known.
    pub subject_id: Option<String>,
    /// The requester's identity, sealed (see the module documentation).
    pub requester_sealed: Vec<u8>,
    /// Blind index of the requester's email, to find a person's requests.
    pub email_index: Option<Vec<u8>>,
    /// Workflow state (includes the type).
    pub progress: Progress,
    /// Why the deadline was extended.
    pub extension_reason: Option<ExtensionReason>,
    /// When it was received.
    pub received_at: Timestamp,
    /// The deadlines; none while a rule that starts the clock at verification waits for it.
    pub deadlines: Option<DeadlineView>,
    /// When it reached a final state.
    pub closed_at: Option<Timestamp>,
    /// When its record may be deleted (set when it closes).
    pub retain_until: Option<Timestamp>,
    /// The identity challenge, while one is outstanding.
    pub challenge: Option<Challenge>,
    /// Increases by one with every change, from 1.
    pub version: i64,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The authorized agent that filed it over the Data Rights Protocol, if one did.
    pub drp: Option<super::drp::DrpLink>,
}

impl RightsRequest {
    /// The request type.
    pub fn request_type(&self) -> RequestType {
        self.progress.request_type
    }

    /// Whether the deadline in force has passed at `now` (never, once closed).
    pub fn is_overdue_at(&self, now: Timestamp) -> bool {
        self.closed_at.is_none()
            && self
                .deadlines
                .as_ref()
                .is_some_and(|d| d.due.is_overdue_at(now))
    }
}

/// One step in a request's history. Holds no personal data: actors are operator ids or
/// `requester`/`agent`/`system`, details are codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsEvent {
    /// The request.
    pub request_id: String,
    /// 1, 2, ... per request.
    pub seq: i64,
    /// When.
    pub at: Timestamp,
    /// Who: `operator:<id>`, `requester`, `agent:<id>` or `system`.
    pub actor: String,
    /// The step's audit action, e.g. `rights.approved`.
    pub action: String,
    /// The state after the step.
    pub state: State,
    /// A code qualifying the step (a reject reason, an extension reason, an assignee id).
    pub detail: Option<String>,
}

/// The deadlines of a request under `rules`, from its clock, verification pause and
/// extension. `Ok(None)` while the rule waits for verification to start the clock.
///
/// # Errors
///
/// [`DeadlineError`]s other than waiting for verification (no rule, out of range).
pub fn deadlines_of(
    rules: &RuleSet,
    jurisdiction: &str,
    progress: &Progress,
    received_at: Timestamp,
    tz: &TimeZone,
) -> Result<Option<Deadlines>, DeadlineError> {
    let rule = rules.rule(jurisdiction, progress.request_type)?;
    let mut clock = RequestClock::received_at(received_at);
    if let Some(v) = progress.verification.1 {
        clock = clock.verified_at(v);
    }
    // A verification still running is counted as a pause once it ends.
    let pauses: Vec<Pause> = match progress.verification {
        (Some(start), Some(end)) if rule.pauses_for_verification => vec![Pause::new(start, end)?],
        _ => Vec::new(),
    };
    let d = match rule.deadlines_with_pauses(progress.request_type, clock, &pauses, tz) {
        Ok(d) => d,
        Err(DeadlineError::AwaitingVerification { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    match progress.extended_at {
        Some(at) => d.extend(at).map(Some),
        None => Ok(Some(d)),
    }
}

/// When the record of a request closed at `closed_at` may be deleted.
pub fn retain_until(closed_at: Timestamp) -> Timestamp {
    closed_at
        .to_zoned(TimeZone::UTC)
        .checked_add(jiff::Span::new().months(RETENTION_MONTHS))
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

/// What SLA figures are computed from: one row per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaRow {
    /// The request type.
    pub request_type: RequestType,
    /// The jurisdiction.
    pub jurisdiction: String,
    /// When it was received.
    pub received_at: Timestamp,
    /// The end of the deadline in force, if known.
    pub due: Option<Timestamp>,
    /// When it closed, if it did.
    pub closed_at: Option<Timestamp>,
    /// Whether it was completed (not rejected or withdrawn).
    pub completed: bool,
}

/// SLA figures for one group of requests.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlaFigures {
    /// Requests not closed.
    pub open: u64,
    /// Open requests due within the next 7 days (and not yet overdue).
    pub due_within_7_days: u64,
    /// Open requests past their deadline.
    pub overdue: u64,
    /// Requests closed.
    pub closed: u64,
    /// Closed requests that closed after their deadline.
    pub closed_late: u64,
    /// Median time from receipt to close, in hours, over closed requests.
    pub median_hours_to_close: Option<f64>,
}

/// Figures over every row, and per (type, jurisdiction) group sorted by type then
/// jurisdiction.
pub fn sla_figures(
    rows: &[SlaRow],
    now: Timestamp,
) -> (SlaFigures, Vec<(RequestType, String, SlaFigures)>) {
    use std::collections::BTreeMap;
    let mut groups: BTreeMap<(RequestType, String), Vec<&SlaRow>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.request_type, r.jurisdiction.clone()))
            .or_default()
            .push(r);
    }
    let all: Vec<&SlaRow> = rows.iter().collect();
    let by = groups
        .into_iter()
        .map(|((t, j), rs)| (t, j, figures(&rs, now)))
        .collect();
    (figures(&all, now), by)
}

fn figures(rows: &[&SlaRow], now: Timestamp) -> SlaFigures {
    let week = now
        .checked_add(SignedDuration::from_hours(7 * 24))
        .unwrap_or(now);
    let mut f = SlaFigures::default();
    let mut hours = Vec::new();
    for r in rows {
        match r.closed_at {
            None => {
                f.open += 1;
                match r.due {
                    Some(due) if now > due => f.overdue += 1,
                    Some(due) if due <= week => f.due_within_7_days += 1,
                    _ => {}
                }
            }
            Some(closed) => {
                f.closed += 1;
                if r.due.is_some_and(|due| closed > due) {
                    f.closed_late += 1;
                }
                hours.push(closed.duration_since(r.received_at).as_secs_f64() / 3600.0);
            }
        }
    }
    hours.sort_by(f64::total_cmp);
    f.median_hours_to_close = match hours.len() {
        0 => None,
        n if n % 2 == 1 => Some(hours[n / 2]),
        n => Some((hours[n / 2 - 1] + hours[n / 2]) / 2.0),
    };
    f
}

/// The rejection shown to the requester: the reason, and their right to complain to a
/// supervisory authority (GDPR Art. 12(4)) or the regulator.
pub fn rejection_notice(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::IdentityNotVerified => {
            "We could not verify your identity, so we cannot act on this request. You may file a new request."
        }
        RejectReason::ManifestlyUnfounded => {
            "We consider this request manifestly unfounded or excessive."
        }
        RejectReason::LegalExemption => {
            "An exemption in law requires or allows us to keep the data concerned."
        }
        RejectReason::NoDataHeld => "We hold no personal data about you.",
        RejectReason::Duplicate => "The same request is already being handled.",
    }
}

/// The sentence every rejection ends with.
pub const RIGHT_TO_COMPLAIN: &str = "You have the right to lodge a complaint with a supervisory authority (or, in the US, your state's attorney general or privacy agency) and to seek a judicial remedy.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rights::workflow::{Step, apply};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn request_ids_are_rr_and_32_hex_digits() {
        assert!(valid_request_id("rr_0123456789abcdef0123456789abcdef"));
        assert!(!valid_request_id("rr_0123"));
        assert!(!valid_request_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_request_id("rr_0123456789abcdef0123456789abcdeg"));
        assert_eq!(requester_subject("rr_x"), "requester:rr_x");
    }

    #[test]
    fn the_requester_survives_encoding_with_and_without_an_agent() {
        let r = Requester {
            email: Some("a@example.com".into()),
            name: None,
            phone: Some("+14155550100".into()),
            agent: Some(Agent {
                name: "Agent Co".into(),
                email: None,
            }),
            customer_id: Some("C-1042".into()),
        };
        assert_eq!(Requester::decode(&r.encode()), Some(r));
        // Sealed before customer numbers were kept: still read.
        let old = br#"{"email":"a@example.com","name":null,"phone":null,"agent":null}"#;
        assert_eq!(
            Requester::decode(old).and_then(|r| r.email),
            Some("a@example.com".into())
        );
        let plain = Requester::default();
        assert_eq!(Requester::decode(&plain.encode()), Some(plain));
        assert_eq!(Requester::decode(b"not json"), None);
    }

    #[test]
    fn a_code_is_accepted_refused_counted_expired_and_exhausted() {
        let now = t("2026-01-01T00:00:00Z");
        let c = Challenge {
            code_hash: vec![1, 2, 3],
            expires_at: now + SignedDuration::from_mins(15),
            attempts: 0,
            sends: 1,
        };
        assert_eq!(c.check(&[1, 2, 3], now).0, CodeCheck::Accepted);
        let (v, c1) = c.check(&[1, 2, 4], now);
        assert_eq!(v, CodeCheck::Wrong(CHALLENGE_ATTEMPTS - 1));
        assert_eq!(c1.attempts, 1);
        assert_eq!(c.check(&[1, 2], now).0, CodeCheck::Wrong(4));
        let late = now + SignedDuration::from_mins(16);
        assert_eq!(c.check(&[1, 2, 3], late).0, CodeCheck::Expired);
        let mut spent = c.clone();
        for _ in 0..CHALLENGE_ATTEMPTS {
            spent = spent.check(&[9], now).1;
        }
        // Once exhausted, even the right code is refused.
        assert_eq!(spent.check(&[1, 2, 3], now).0, CodeCheck::Exhausted);
    }

    #[test]
    fn stored_deadlines_read_back_the_same() {
        let rules = RuleSet::shipped().unwrap_or_else(|e| panic!("{e}"));
        let tz = TimeZone::get("America/Los_Angeles").unwrap_or(TimeZone::UTC);
        let p = Progress::new(RequestType::Access);
        let d = deadlines_of(rules, "CCPA", &p, t("2026-03-02T17:00:00Z"), &tz)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no deadlines"));
        let view = DeadlineView::from(&d);
        assert_eq!(DeadlineView::decode(&view.encode()), Some(view.clone()));
        assert_eq!(view.respond_by.date.to_string(), "2026-04-16");
        assert!(view.acknowledge_by.is_some());
        assert_eq!(DeadlineView::decode("{}"), None);
    }

    #[test]
    fn an_extension_moves_the_deadline_in_force_and_is_checked_against_the_notice_period() {
        let rules = RuleSet::shipped().unwrap_or_else(|e| panic!("{e}"));
        let received = t("2026-01-31T10:00:00Z");
        let mut p = Progress::new(RequestType::Erasure);
        p = apply(&p, &Step::Extend, "op", t("2026-02-10T10:00:00Z"))
            .unwrap_or_else(|e| panic!("{e}"));
        let d = deadlines_of(rules, "GDPR", &p, received, &TimeZone::UTC)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("no deadlines"));
        // 31 January + 3 months = 30 April 2026 (a Thursday).
        assert_eq!(d.due().date.to_string(), "2026-04-30");
        let mut late = Progress::new(RequestType::Erasure);
        late.extended_at = Some(t("2026-03-10T10:00:00Z"));
        assert!(matches!(
            deadlines_of(rules, "GDPR", &late, received, &TimeZone::UTC),
            Err(DeadlineError::ExtensionNoticeLate { .. })
        ));
    }

    #[test]
    fn sla_figures_count_open_due_overdue_and_the_median_time_to_close() {
        let now = t("2026-06-01T00:00:00Z");
        let row = |j: &str, due: &str, closed: Option<&str>| SlaRow {
            request_type: RequestType::Access,
            jurisdiction: j.into(),
            received_at: t("2026-05-01T00:00:00Z"),
            due: Some(t(due)),
            closed_at: closed.map(t),
            completed: true,
        };
        let rows = vec![
            row("GDPR", "2026-05-31T00:00:00Z", None), // overdue
            row("GDPR", "2026-06-05T00:00:00Z", None), // due within 7 days
            row("GDPR", "2026-07-05T00:00:00Z", None), // open, not due soon
            row("CCPA", "2026-06-15T00:00:00Z", Some("2026-05-02T00:00:00Z")), // 24 h
            row("CCPA", "2026-05-03T00:00:00Z", Some("2026-05-05T00:00:00Z")), // 96 h, late
        ];
        let (all, by) = sla_figures(&rows, now);
        assert_eq!((all.open, all.overdue, all.due_within_7_days), (3, 1, 1));
        assert_eq!((all.closed, all.closed_late), (2, 1));
        assert_eq!(all.median_hours_to_close, Some(60.0));
        assert_eq!(by.len(), 2);
        assert_eq!(by[0].1, "CCPA");
        assert_eq!(by[0].2.closed, 2);
        assert_eq!(by[1].2.open, 3);
        assert_eq!(sla_figures(&[], now).0, SlaFigures::default());
    }

    #[test]
    fn records_are_kept_24_months_after_closing() {
        assert_eq!(
            retain_until(t("2026-02-28T12:00:00Z")),
            t("2028-02-28T12:00:00Z")
        );
    }
}
