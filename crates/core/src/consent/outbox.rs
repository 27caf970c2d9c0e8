//! Propagation of consent changes: the outbox written with each ledger record, the targets
//! that receive them (webhook endpoints and, when configured, NATS JetStream), and each
//! target's delivery of each change with its state.
//!
//! A delivery row is created for every enabled target that wants the purpose in the same
//! transaction as the record, so a change is never lost between the ledger and its
//! propagation; dispatchers then claim due deliveries, send, and record the outcome.

use jiff::{SignedDuration, Timestamp};

/// The target id of the NATS JetStream publisher.
pub const NATS_TARGET: &str = "nats";
/// Attempts before a delivery is given up as failed (about 14 hours of backoff in all).
pub const MAX_ATTEMPTS: u32 = 15;

/// A change to propagate, written in the record's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// The ledger record's id (also the webhook `webhook-id` and the NATS `Nats-Msg-Id`).
    pub event_id: String,
    /// The purpose's key.
    pub purpose: String,
    /// The subject's pseudonym (so an erasure can remove undelivered messages).
    pub subject: String,
    /// The message body, sealed (it names the subject).
    pub sealed: Vec<u8>,
}

/// Kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An HTTPS (or loopback HTTP) endpoint, signed per Standard Webhooks.
    Webhook,
    /// NATS JetStream, subject `custodian.consent.<purpose>`.
    Nats,
}

impl TargetKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Nats => "nats",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "webhook" => Some(Self::Webhook),
            "nats" => Some(Self::Nats),
            _ => None,
        }
    }
}

/// A target of consent changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `wh_` + UUID for webhooks, [`NATS_TARGET`] for NATS.
    pub id: String,
    /// Webhook or NATS.
    pub kind: TargetKind,
    /// The endpoint URL (webhooks); the server URL is configuration, not stored (NATS).
    pub url: Option<String>,
    /// The purposes it receives; empty: every purpose.
    pub purposes: Vec<String>,
    /// Disabled targets get no new deliveries (pending ones still go).
    pub enabled: bool,
    /// A note for operators.
    pub description: Option<String>,
    /// The signing secret, sealed (webhooks).
    pub secret_sealed: Option<Vec<u8>>,
    /// After a rotation, the previous secret (sealed) and until when deliveries are also
    /// signed with it, so a receiver can switch without refusing anything.
    pub previous_secret: Option<(Vec<u8>, Timestamp)>,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Not yet accepted by the target (retrying with backoff).
    Pending,
    /// Accepted (a 2xx answer; a JetStream publish acknowledgement).
    Delivered,
    /// Given up after [`MAX_ATTEMPTS`], or refused for good (a 4xx other than 408 and 429).
    Failed,
    /// The receiver confirmed it applied the change.
    Acknowledged,
}

impl DeliveryState {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Acknowledged => "acknowledged",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            "acknowledged" => Some(Self::Acknowledged),
            _ => None,
        }
    }
}

/// One target's delivery of one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The ledger record.
    pub event_id: String,
    /// The target.
    pub target_id: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// The last HTTP status (webhooks).
    pub last_status: Option<u16>,
    /// The last failure, as a short code (`timeout`, `connect`, `status`, `nats`), never a
    /// response body.
    pub last_error: Option<String>,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A claimed delivery with what to send.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery as claimed.
    pub delivery: Delivery,
    /// The purpose (NATS subject suffix).
    pub purpose: String,
    /// The sealed message.
    pub sealed: Vec<u8>,
}

/// How long to wait after `attempts` failed attempts: 5 s doubling, at most 4 hours.
pub fn backoff(attempts: u32) -> SignedDuration {
    let exp = attempts.saturating_sub(1).min(20);
    let secs = 5u64.saturating_mul(1u64 << exp).min(4 * 3600);
    SignedDuration::from_secs(i64::try_from(secs).unwrap_or(4 * 3600))
}

/// What a failed attempt leads to: retried later, or failed for good.
pub fn after_failure(
    d: &Delivery,
    permanent: bool,
    now: Timestamp,
) -> (DeliveryState, Option<Timestamp>) {
    if permanent || d.attempts >= MAX_ATTEMPTS {
        (DeliveryState::Failed, None)
    } else {
        (
            DeliveryState::Pending,
            now.checked_add(backoff(d.attempts)).ok(),
        )
    }
}

/// Whether an HTTP status ends retrying: client errors other than 408 (timeout) and 429
/// (rate limited) will not change by trying again.
pub fn permanent_status(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// Checks a webhook URL: `https://host[:port]/path`, or `http://` to a loopback host only (for
/// receivers on the same machine); no user info, no fragment, at most 2048 bytes.
pub fn valid_webhook_url(url: &str) -> Result<(), &'static str> {
    if url.len() > 2048 || url.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err("url_format");
    }
    let (scheme, rest) = url.split_once("://").ok_or("url_format")?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || url.contains('#') {
        return Err("url_format");
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    match scheme {
        "https" => Ok(()),
        "http" if host == "localhost" || host == "::1" || host.starts_with("127.") => Ok(()),
        "http" => Err("https_required"),
        _ => Err("url_format"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_to_four_hours() {
        assert_eq!(backoff(1), SignedDuration::from_secs(5));
        assert_eq!(backoff(2), SignedDuration::from_secs(10));
        assert_eq!(backoff(5), SignedDuration::from_secs(80));
        assert_eq!(backoff(30), SignedDuration::from_secs(4 * 3600));
        let total: i64 = (1..MAX_ATTEMPTS).map(|a| backoff(a).as_secs()).sum();
        assert_eq!(total, 49_275, "about 14 hours");
    }

    #[test]
    fn failures_retry_until_the_limit_or_a_permanent_refusal() {
        let now = Timestamp::UNIX_EPOCH;
        let mut d = Delivery {
            event_id: "e".into(),
            target_id: "t".into(),
            state: DeliveryState::Pending,
            attempts: 1,
            next_attempt_at: None,
            last_status: None,
            last_error: None,
            updated_at: now,
        };
        assert_eq!(
            after_failure(&d, false, now),
            (
                DeliveryState::Pending,
                Some(now + SignedDuration::from_secs(5))
            )
        );
        assert_eq!(after_failure(&d, true, now), (DeliveryState::Failed, None));
        d.attempts = MAX_ATTEMPTS;
        assert_eq!(after_failure(&d, false, now).0, DeliveryState::Failed);
        assert!(permanent_status(404) && permanent_status(410));
        assert!(!permanent_status(429) && !permanent_status(408) && !permanent_status(503));
    }

    #[test]
    fn webhook_urls_are_https_or_loopback_http() {
        for ok in [
            "https://hooks.example.com/consent",
            "https://hooks.example.com:8443/a?b=c",
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://[::1]:80/x",
        ] {
            assert_eq!(valid_webhook_url(ok), Ok(()), "{ok}");
        }
        for (bad, rule) in [
            ("http://hooks.example.com/x", "https_required"),
            ("ftp://x/y", "url_format"),
            ("https://user:pw@x.example/", "url_format"),
            ("https:///path", "url_format"),
            ("https://x.example/a#frag", "url_format"),
            ("https://x.example/a b", "url_format"),
            ("x.example/hook", "url_format"),
        ] {
            assert_eq!(valid_webhook_url(bad), Err(rule), "{bad}");
        }
    }
}
