//! Liveness, readiness and metrics: the only endpoints that need no key.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::api::HealthOut;
use crate::error::{ApiError, ApiJson, ErrorBody, ErrorCode};
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = HealthOut)))]
pub async fn healthz() -> ApiJson<HealthOut> {
    ApiJson(HealthOut { status: "ok" })
}

/// The process can serve: the store answers.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = HealthOut),
    (status = 503, body = ErrorBody, description = "store_unavailable"),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<ApiJson<HealthOut>, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::error!(error = %e, "readiness check failed");
        ApiError::new(ErrorCode::StoreUnavailable)
    })?;
    Ok(ApiJson(HealthOut { status: "ready" }))
}

/// Prometheus metrics (labels hold route templates and codes, never personal data).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
