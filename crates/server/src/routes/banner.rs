//! The consent banner: one dependency-free script, served from the binary. A site includes it
//! with `<script src="https://custodian.example/v1/public/banner.js" async></script>`; it reads
//! its configuration from `GET /v1/public/consent` on the same origin it was loaded from and
//! records choices with `POST /v1/public/consent`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The script's source (kept small by hand: the budget is 15 KB minified and gzipped).
pub const BANNER_JS: &str = include_str!("../../assets/banner.js");

/// Its entity tag: a hash of the bytes, so a new release is fetched at once.
fn etag() -> &'static str {
    static TAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAG.get_or_init(|| {
        format!(
            "\"{}\"",
            hex::encode(&custodian_crypto::sha256(BANNER_JS.as_bytes())[..12])
        )
    })
}

/// Public (no key): the banner script.
#[utoipa::path(get, path = "/v1/public/banner.js", tag = "consent", responses(
    (status = 200, description = "The banner script", content_type = "text/javascript"),
    (status = 304, description = "Not modified"),
))]
pub async fn script(headers: HeaderMap) -> Response {
    let tag = etag();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        BANNER_JS.into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300, must-revalidate"),
    );
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    resp
}
