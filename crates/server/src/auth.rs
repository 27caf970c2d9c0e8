//! Authentication (API keys), client addresses, and the purpose header.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use custodian_core::Timestamp;
use custodian_core::access::valid_purpose;
use custodian_core::operator::{ApiKey, Operator};
use custodian_crypto::apikey;
use ipnet::IpNet;
use jiff::SignedDuration;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The header that names the purpose of a read of personal data.
pub const PURPOSE_HEADER: &str = "custodian-purpose";

/// API keys (by hash) with their operator, as recently read from the store, so a busy client
/// is not a database read per request. An entry lives [`KeyCache::TTL`]; revoking a key or
/// disabling an operator through this server forgets it at once (through another server or
/// the offline CLI, it takes effect within the TTL).
#[derive(Debug, Default)]
pub struct KeyCache {
    entries: std::sync::RwLock<std::collections::HashMap<String, CachedKey>>,
}

impl KeyCache {
    /// How long an entry is trusted.
    pub const TTL: SignedDuration = SignedDuration::from_secs(2);
    const MAX: usize = 10_000;

    fn get(&self, hash: &str, now: Timestamp) -> Option<(ApiKey, Operator)> {
        let m = self.entries.read().unwrap_or_else(|e| e.into_inner());
        m.get(hash)
            .filter(|(_, at)| now.duration_since(*at) < Self::TTL && *at <= now)
            .map(|(f, _)| f.clone())
    }

    fn put(&self, hash: String, found: (ApiKey, Operator), now: Timestamp) {
        let mut m = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if m.len() >= Self::MAX {
            m.clear();
        }
        m.insert(hash, (found, now));
    }

    /// Forgets every cached key (after a revocation or an operator change).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

type CachedKey = ((ApiKey, Operator), Timestamp);

/// The client address, put in the request's extensions by [`crate::middleware::edge`].
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// An authenticated operator.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The operator the key belongs to.
    pub operator: Operator,
    /// The id of the key used.
    pub key_id: String,
}

impl Caller {
    /// The audit actor string.
    pub fn actor(&self) -> String {
        format!("operator:{}", self.operator.id)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = match parts.extensions.get::<ClientIp>() {
            Some(c) => c.0,
            None => client_ip(parts, &state.config.trusted_proxies),
        };
        let now = state.clock.now();
        if state.limiter.blocked(ip, now) {
            metrics::counter!("custodian_auth_failures_total", "reason" => "rate_limited")
                .increment(1);
            return Err(ApiError::new(ErrorCode::TooManyRequests));
        }
        let fail = |reason: &'static str| {
            state.limiter.record_failure(ip, now);
            metrics::counter!("custodian_auth_failures_total", "reason" => reason).increment(1);
            // One answer for every failure: it must not tell whether a key exists.
            ApiError::new(ErrorCode::Unauthenticated)
        };
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(key) = presented else {
            return Err(fail("missing"));
        };
        if !apikey::well_formed(key) {
            return Err(fail("malformed"));
        }
        let hash = apikey::hash(key);
        let found = match state.keys.get(&hash, now) {
            Some(found) => Some(found),
            None => {
                let found = state.store.find_api_key(&hash).await?;
                if let Some(f) = &found {
                    state.keys.put(hash, f.clone(), now);
                }
                found
            }
        };
        match found {
            Some((k, operator)) if k.usable_at(now) && !operator.disabled => Ok(Caller {
                operator,
                key_id: k.id,
            }),
            _ => Err(fail("rejected")),
        }
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(parts: &Parts, trusted: &[IpNet]) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    forwarded_client(peer, &parts.headers, trusted)
}

fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // Walk from the right: our proxies append, so everything left of the first hop we cannot
    // read is the client's to invent; stop there and keep the last address we could trust.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// The purpose named in the request, if any; a malformed one is refused.
pub fn purpose(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(PURPOSE_HEADER) else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(p) if valid_purpose(p.trim()) => Ok(Some(p.trim().to_owned())),
        _ => Err(ApiError::new(ErrorCode::InvalidPurpose)),
    }
}

/// The purpose named in the request; a read of personal data without one is refused.
pub fn required_purpose(headers: &HeaderMap) -> Result<String, ApiError> {
    purpose(headers)?.ok_or_else(|| ApiError::new(ErrorCode::PurposeRequired))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(xff: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        if let Ok(v) = xff.parse() {
            m.insert("x-forwarded-for", v);
        }
        m
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let peer: IpAddr = [203, 0, 113, 9].into();
        assert_eq!(forwarded_client(peer, &h("1.2.3.4"), &[]), peer);
        let proxy: IpAddr = [10, 0, 0, 5].into();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        assert_eq!(forwarded_client(proxy, &h("1.2.3.4"), &[]), proxy);
        // The client can prepend anything; the right-most untrusted hop is the truth.
        assert_eq!(
            forwarded_client(proxy, &h("6.6.6.6, 198.51.100.7, 10.0.0.9"), &trusted),
            "198.51.100.7".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(forwarded_client(proxy, &h("garbage"), &trusted), proxy);
        // An unreadable hop ends the walk: what stands left of it is the client's invention.
        assert_eq!(
            forwarded_client(proxy, &h("6.6.6.6, 198.51.100.7:443"), &trusted),
            proxy
        );
        assert_eq!(
            forwarded_client(proxy, &h("6.6.6.6, garbage, 10.0.0.7"), &trusted),
            "10.0.0.7".parse::<IpAddr>().expect("ip")
        );
        // IPv4-mapped IPv6 addresses match IPv4 networks.
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().expect("ip");
        assert_eq!(
            forwarded_client(mapped.to_canonical(), &h("198.51.100.7"), &trusted),
            "198.51.100.7".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn purposes_are_checked() {
        let mut m = HeaderMap::new();
        assert!(matches!(purpose(&m), Ok(None)));
        assert_eq!(
            required_purpose(&m).map_err(|e| e.code()).err(),
            Some(ErrorCode::PurposeRequired)
        );
        m.insert(PURPOSE_HEADER, "support".parse().expect("hv"));
        assert_eq!(purpose(&m).ok().flatten().as_deref(), Some("support"));
        m.insert(PURPOSE_HEADER, "Bad Purpose".parse().expect("hv"));
        assert_eq!(
            purpose(&m).map_err(|e| e.code()).err(),
            Some(ErrorCode::InvalidPurpose)
        );
    }
}
