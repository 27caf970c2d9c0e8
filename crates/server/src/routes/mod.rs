//! The HTTP routes, one module per area.

pub mod audit;
pub mod banner;
pub mod consent;
pub mod datasets;
pub mod discovery;
pub mod drp;
pub mod health;
pub mod iab;
pub mod incidents;
pub mod map;
pub mod monitoring;
pub mod operators;
pub mod policies;
pub mod privacy_center;
pub mod registers;
pub mod retention;
pub mod rights;
pub mod scan;
pub mod tasks;
pub mod training;
pub mod vault;
pub mod webhooks;

use axum::http::{HeaderMap, header};
use custodian_core::vault::import::{Line, LineSplitter};
use futures::StreamExt;

use crate::error::{ApiError, ErrorCode};

/// A declarative body as a JSON value: JSON (`application/json`) or YAML
/// (`application/yaml`, `application/x-yaml`, `text/yaml`). Syntax errors answer through
/// `invalid(path, rule)` without quoting the body; other media types are 415.
pub fn document(
    headers: &HeaderMap,
    body: &[u8],
    invalid: fn(&str, &str) -> ApiError,
    what: &str,
) -> Result<serde_json::Value, ApiError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let text = std::str::from_utf8(body).map_err(|_| invalid("$", "utf8"))?;
    match kind.as_str() {
        "application/json" => serde_json::from_str(text).map_err(|_| invalid("$", "json")),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            yaml_serde::from_str(text).map_err(|_| invalid("$", "yaml"))
        }
        _ => Err(ApiError::with_message(
            ErrorCode::UnsupportedMediaType,
            format!("{what} is application/yaml or application/json"),
        )),
    }
}

/// Checks that a path id looks like one of ours (a UUID); anything else is a 400.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ApiError::new(ErrorCode::InvalidPathParameter))
}

/// The format of a bulk import from its Content-Type: `Ok(true)` for CSV, `Ok(false)` for
/// NDJSON, 415 otherwise.
pub fn import_is_csv(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default()
    {
        t if [
            "application/x-ndjson",
            "application/jsonl",
            "application/json-lines",
        ]
        .iter()
        .any(|n| t.eq_ignore_ascii_case(n)) =>
        {
            Ok(false)
        }
        t if t.eq_ignore_ascii_case("text/csv") => Ok(true),
        _ => Err(ApiError::with_message(
            ErrorCode::UnsupportedMediaType,
            "an import is application/x-ndjson or text/csv",
        )),
    }
}

/// The lines the next chunk of a streamed upload completes; at the end, the last line and
/// `None` for the chunk, so the caller stops after these. An upload that broke off is an
/// error (rows before it have been handled by then).
pub async fn next_lines(
    stream: &mut axum::body::BodyDataStream,
    splitter: &mut LineSplitter,
) -> Result<(Vec<Line>, bool), ApiError> {
    match stream.next().await {
        Some(Ok(chunk)) => Ok((splitter.push(&chunk), false)),
        Some(Err(_)) => Err(ApiError::new(ErrorCode::UploadIncomplete)),
        None => Ok((splitter.finish().into_iter().collect(), true)),
    }
}
