//! Request ids, request logs and HTTP metrics.
//!
//! Logs and metric labels carry the method, the route template (`/v1/operators/{id}`), the
//! status and the latency: never the raw URI, query string or a header value.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::auth::{ClientIp, client_ip};
use crate::error::REQUEST_ID;
use crate::state::AppState;

/// The request id header, read (when well-formed) and always answered.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    .then(|| s.to_owned())
}

/// The request counter and latency histogram of one method, route and status, registered
/// once: building metric keys for every request (label strings, a registry lookup) is a
/// measurable share of a small request's cost. Routes are templates and methods and
/// statuses are bounded, so the table is too.
struct RouteMetrics {
    method: &'static str,
    status: u16,
    requests: metrics::Counter,
    latency: metrics::Histogram,
}

type MetricsTable = std::collections::HashMap<String, Vec<RouteMetrics>>;

fn record_metrics(method: &'static str, route: &str, status: u16, seconds: f64) {
    static TABLE: std::sync::OnceLock<std::sync::RwLock<MetricsTable>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(Default::default);
    let record = |m: &RouteMetrics| {
        m.requests.increment(1);
        m.latency.record(seconds);
    };
    {
        let read = table.read().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = read
            .get(route)
            .and_then(|v| v.iter().find(|m| m.method == method && m.status == status))
        {
            record(m);
            return;
        }
    }
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.to_string()),
    ];
    let m = RouteMetrics {
        method,
        status,
        requests: metrics::counter!("custodian_http_requests_total", &labels),
        latency: metrics::histogram!("custodian_http_request_duration_seconds", &labels),
    };
    record(&m);
    table
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(route.to_owned())
        .or_default()
        .push(m);
}

/// What every request goes through, in one layer (each layer of its own costs a boxed
/// service clone and a boxed future per request): the request id (read when well-formed,
/// always answered), the client address ([`ClientIp`]), CORS for the public paths (see
/// [`preflight`]), the security headers, one log line and the HTTP metrics.
pub async fn edge(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let id = parts
        .headers
        .get(REQUEST_ID_HEADER)
        .and_then(acceptable_id)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    parts.extensions.insert(RequestId(id.clone()));
    let ip = client_ip(&parts, &state.config.trusted_proxies);
    parts.extensions.insert(ClientIp(ip));
    // The template is shared (an `Arc`), not copied per request.
    let matched = parts.extensions.get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    // Only standard methods become labels: a client must not mint metric series.
    let method: &'static str = match parts.method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let public = cross_origin_path(parts.uri.path());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut resp = if public && parts.method == axum::http::Method::OPTIONS {
        preflight()
    } else {
        REQUEST_ID
            .scope(id.clone(), next.run(Request::from_parts(parts, body)))
            .instrument(span.clone())
            .await
    };
    let h = resp.headers_mut();
    add_security_headers(h);
    if public {
        h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(REQUEST_ID_HEADER, v);
    }
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_us = elapsed.as_micros() as u64,
            "request handled"
        );
    });
    record_metrics(method, route, status, elapsed.as_secs_f64());
    resp
}

/// Whether a path is one a page on another origin may call: the banner's public endpoints
/// and the published keys. Nothing there takes credentials, so any origin is allowed.
fn cross_origin_path(path: &str) -> bool {
    path.starts_with("/v1/public/") || path.starts_with("/.well-known/")
}

/// CORS for [`cross_origin_path`]s only (in [`edge`]): preflights are answered there (GET
/// and POST with a JSON body, no credentials) and responses carry
/// `Access-Control-Allow-Origin: *`. Every other path sends no CORS headers, so browsers keep
/// the authenticated API same-origin.
fn preflight() -> Response {
    let mut resp = axum::http::StatusCode::NO_CONTENT.into_response();
    let h = resp.headers_mut();
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("content-type"),
    );
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    resp
}

/// Security headers on every answer (in [`edge`]).
fn add_security_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.entry("cache-control")
        .or_insert(HeaderValue::from_static("no-store"));
}
