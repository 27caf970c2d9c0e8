//! The HTTP routes, one module per area.

pub mod audit;
pub mod banner;
pub mod consent;
pub mod datasets;
pub mod drp;
pub mod health;
pub mod iab;
pub mod operators;
pub mod policies;
pub mod privacy_center;
pub mod rights;
pub mod tasks;
pub mod vault;
pub mod webhooks;

use axum::http::HeaderMap;
use custodian_core::vault::import::{Line, LineSplitter};
use futures::StreamExt;

use crate::error::{ApiError, ErrorCode};

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
        "application/x-ndjson" | "application/jsonl" | "application/json-lines" => Ok(false),
        "text/csv" => Ok(true),
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
        Some(Err(_)) => Err(ApiError::with_message(
            ErrorCode::MalformedJson,
            "the upload broke off; rows before the break were imported",
        )),
        None => Ok((splitter.finish().into_iter().collect(), true)),
    }
}
