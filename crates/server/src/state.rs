//! The state every handler shares, and the server's configuration.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use custodian_core::Timestamp;
use custodian_core::clock::Clock;
use custodian_core::ports::Store;
use custodian_core::vault::service::{KeyHints, Vault, VaultCrypto};
use custodian_crypto::jws::JwsSigner;
use custodian_crypto::note::NoteSigner;

use crate::consent_cache::ConsentCache;
use custodian_policy::CedarEngine;
use ipnet::IpNet;
use jiff::SignedDuration;

/// How the HTTP server listens and whom it trusts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Certificate and key (PEM) for in-process TLS; plain HTTP when absent.
    pub tls: Option<TlsFiles>,
    /// Proxies whose `X-Forwarded-For` is believed; by default none.
    pub trusted_proxies: Vec<IpNet>,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Failed authentications allowed per client address per minute.
    pub auth_failures_per_minute: u32,
    /// NATS server for consent changes (JetStream, `custodian.consent.<purpose>`); none: not
    /// published to NATS.
    pub nats_url: Option<String>,
    /// The SMTP relay for verification codes and notices to requesters; none: no mail (the
    /// privacy center then refuses requests that need a code).
    pub smtp: Option<crate::mail::SmtpConfig>,
    /// The IANA time zone rights-request deadlines are counted in unless a request names one.
    pub rights_time_zone: String,
    /// The privacy team's address for reminders of rights requests nearing their deadline;
    /// none: no reminders.
    pub rights_reminders_to: Option<String>,
    /// How often the reminders are looked for.
    pub rights_reminders_every: std::time::Duration,
    /// The address the server is reached at from outside (`https://privacy.example.com`), for
    /// links in mail (export downloads); none: links are paths.
    pub public_url: Option<String>,
    /// The Data Rights Protocol settings; none: the DRP endpoints answer 404 `drp_disabled`.
    pub drp: Option<Arc<crate::drp::DrpConfig>>,
    /// Connection URLs of declared datasets, by key; a dataset without one gets manual tasks.
    pub dataset_connections: crate::datasets::Connections,
    /// How often the access monitor reads the audit log.
    pub monitor_every: std::time::Duration,
    /// How the privacy center looks.
    pub brand: crate::console::Brand,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls: None,
            trusted_proxies: Vec::new(),
            max_body_bytes: 1024 * 1024,
            auth_failures_per_minute: 20,
            nats_url: None,
            smtp: None,
            rights_time_zone: "UTC".to_owned(),
            rights_reminders_to: None,
            rights_reminders_every: std::time::Duration::from_secs(15 * 60),
            public_url: None,
            drp: None,
            dataset_connections: crate::datasets::Connections::default(),
            monitor_every: std::time::Duration::from_secs(60),
            brand: crate::console::Brand::default(),
        }
    }
}

/// PEM files for TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// Everything a handler needs: one reference-counted pointer, because axum clones the state
/// several times per request (each layer and extractor) and one atomic increment is cheaper
/// than one per shared part. Fields are reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wraps the shared parts.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The Cedar engine with the current policy set.
    pub engine: Arc<CedarEngine>,
    /// The source of time.
    pub clock: Arc<dyn Clock>,
    /// Signs audit checkpoints.
    pub signer: Arc<NoteSigner>,
    /// The vault's cryptography (data keys through the key provider, keyed functions).
    pub vault_crypto: Arc<dyn VaultCrypto>,
    /// Counts failed authentications per client address.
    pub limiter: Arc<FailureLimiter>,
    /// Listening and trust settings.
    pub config: Arc<ServerConfig>,
    /// Renders the Prometheus metrics.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Signs consent receipts (JWS, EdDSA).
    pub receipts: Arc<JwsSigner>,
    /// Purposes and current consent states, for checks.
    pub consent: Arc<ConsentCache>,
    /// Recently authenticated API keys.
    pub keys: Arc<crate::auth::KeyCache>,
    /// Wakes the propagation dispatcher when this process records a change.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// Sends mail to requesters, when a relay is configured.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    /// Vault subjects this process has seen holding a data key (a hint that saves a store
    /// read on a new subject's first record; never trusted for correctness).
    pub key_hints: KeyHints,
}

impl Shared {
    /// The vault service over this state's store and crypto.
    pub fn vault(&self) -> Vault<'_> {
        Vault::new(self.store.as_ref(), self.vault_crypto.as_ref()).with_hints(&self.key_hints)
    }
}

/// Counts failed authentications per client address in fixed one-minute windows.
#[derive(Debug)]
pub struct FailureLimiter {
    max: u32,
    window: SignedDuration,
    seen: Mutex<HashMap<IpAddr, (Timestamp, u32)>>,
}

const MAX_TRACKED: usize = 100_000;

/// IPv6 clients are counted per /64 (one host usually owns a whole /64); IPv4 per address.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

impl FailureLimiter {
    /// A limiter allowing `max` failures per minute per address.
    pub fn new(max: u32) -> Self {
        Self {
            max,
            window: SignedDuration::from_secs(60),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` has used up its failures for the current window.
    pub fn blocked(&self, ip: IpAddr, now: Timestamp) -> bool {
        let ip = bucket(ip);
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&ip)
            .is_some_and(|(start, n)| *n >= self.max && now.duration_since(*start) < self.window)
    }

    /// Records one failure from `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Timestamp) {
        let ip = bucket(ip);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_TRACKED {
            let window = self.window;
            seen.retain(|_, (start, _)| now.duration_since(*start) < window);
            // Still full of live entries: forget them all rather than let the map, and the
            // cost of scanning it, grow without bound.
            if seen.len() >= MAX_TRACKED / 2 {
                seen.clear();
            }
        }
        let entry = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_after_max_failures_until_the_window_passes() {
        let l = FailureLimiter::new(3);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let t0 = Timestamp::from_second(1_000).unwrap_or(Timestamp::UNIX_EPOCH);
        for _ in 0..3 {
            assert!(!l.blocked(ip, t0));
            l.record_failure(ip, t0);
        }
        assert!(l.blocked(ip, t0));
        assert!(!l.blocked(other, t0));
        let later = t0.checked_add(SignedDuration::from_secs(61)).unwrap_or(t0);
        assert!(!l.blocked(ip, later));
        l.record_failure(ip, later);
        assert!(!l.blocked(ip, later));
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let l = FailureLimiter::new(2);
        let t = Timestamp::from_second(1_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2::ffff".parse().expect("ip");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        l.record_failure(a, t);
        l.record_failure(b, t);
        assert!(l.blocked(a, t));
        assert!(!l.blocked(other, t));
    }
}
