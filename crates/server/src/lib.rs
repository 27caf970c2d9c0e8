//! Custodian's HTTP API: axum routes over the core, one error table, OpenAPI from the code.
//!
//! Architecture invariant: this is the only crate that knows HTTP or serialises wire formats;
//! handlers convert between wire types ([`api`]) and domain types by hand.

pub mod api;
pub mod auth;
pub mod compliance;
pub mod consent_cache;
pub mod console;
pub mod datasets;
pub mod discovery;
pub mod drp;
pub mod error;
pub mod evidence;
pub mod export;
pub mod gate;
pub mod mail;
pub mod middleware;
pub mod monitoring;
pub mod propagation;
pub mod retention;
pub mod rights;
pub mod routes;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use custodian_core::Timestamp;
use custodian_core::clock::Clock;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, ErrorCode};
use crate::routes::{
    audit, banner, consent, datasets as datasets_routes, discovery as discovery_routes,
    drp as drp_routes, health, iab, incidents, map, monitoring as monitoring_routes, operators,
    policies, privacy_center, registers, retention as retention_routes, rights as rights_routes,
    scan, tasks, training, vault, webhooks,
};
use crate::state::AppState;

/// The wall clock: the one place the server reads real time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Custodian API",
        description = "Self-hosted customer-data privacy platform. Every endpoint but /healthz, /readyz and /metrics needs `Authorization: Bearer <key>`. Errors are `{\"error\":{\"code\",\"message\",\"request_id\"}}`.",
        license(name = "AGPL-3.0-only"),
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness, readiness, metrics"),
        (name = "operators", description = "Operators and API keys"),
        (name = "policies", description = "Cedar authorization policies"),
        (name = "audit", description = "The verifiable audit log"),
        (name = "consent", description = "Purposes, notices, the consent ledger with signed receipts, checks, GPC, the banner's public endpoints"),
        (name = "rights", description = "Data-subject rights requests: intake (operators and the privacy center), identity verification by email, statutory deadlines, approvals, SLA figures"),
        (name = "map", description = "The data map (Fides systems, datasets and taxonomy), the records of processing (GDPR Art. 30) and policy checks"),
        (name = "compliance", description = "The compliance registers: training courses and completions that gate access, incidents and their notification clocks"),
        (name = "datasets", description = "Connected databases declared in the Fides dataset shape, where rights requests find and erase the subject's rows"),
        (name = "drp", description = "The Data Rights Protocol 1.0 (Covered Business side): pair-wise agent tokens, signed exercise requests, status, revocation"),
        (name = "vault", description = "Collections, records, subjects, tokens: personal data, encrypted per subject"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn api_router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(operators::me))
        .routes(routes!(operators::list, operators::create))
        .routes(routes!(operators::get, operators::patch))
        .routes(routes!(operators::list_keys, operators::create_key))
        .routes(routes!(operators::revoke_key))
        .routes(routes!(operators::invite))
        .routes(routes!(policies::get, policies::put))
        .routes(routes!(policies::explain))
        .routes(routes!(audit::checkpoint))
        .routes(routes!(audit::events))
        .routes(routes!(audit::inclusion))
        .routes(routes!(audit::consistency))
        .routes(routes!(vault::list_collections))
        .routes(routes!(vault::get_collection, vault::put_collection))
        .routes(routes!(vault::create_record, vault::search))
        .routes(routes!(vault::import))
        .routes(routes!(
            vault::get_record,
            vault::patch_record,
            vault::delete_record
        ))
        .routes(routes!(vault::get_subject, vault::erase_subject))
        .routes(routes!(vault::get_limits))
        .routes(routes!(vault::rotate_data_key))
        .routes(routes!(vault::restrict, vault::unrestrict))
        .routes(routes!(vault::object, vault::unobject))
        .routes(routes!(vault::tokenize))
        .routes(routes!(vault::detokenize))
        .routes(routes!(consent::list_purposes))
        .routes(routes!(consent::get_purpose, consent::put_purpose))
        .routes(routes!(consent::publish_notice, consent::notice_versions))
        .routes(routes!(consent::notice_version))
        .routes(routes!(consent::record_consent))
        .routes(routes!(consent::import))
        .routes(routes!(consent::subject_consent))
        .routes(routes!(consent::subject_events))
        .routes(routes!(consent::check, consent::check_batch))
        .routes(routes!(consent::receipt_keys))
        .routes(routes!(consent::gpc_json))
        .routes(routes!(consent::public_get, consent::public_record))
        .routes(routes!(banner::script))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::acks))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(rights_routes::create, rights_routes::list))
        .routes(routes!(rights_routes::get))
        .routes(routes!(rights_routes::requester))
        .routes(routes!(rights_routes::step))
        .routes(routes!(rights_routes::sla))
        .routes(routes!(rights_routes::rules))
        .routes(routes!(tasks::list))
        .routes(routes!(tasks::step))
        .routes(routes!(datasets_routes::list))
        .routes(routes!(
            datasets_routes::put,
            datasets_routes::get,
            datasets_routes::delete
        ))
        .routes(routes!(datasets_routes::probe))
        .routes(routes!(discovery_routes::scan_database))
        .routes(routes!(discovery_routes::list))
        .routes(routes!(discovery_routes::accept))
        .routes(routes!(discovery_routes::reject))
        .routes(routes!(map::import_map))
        .routes(routes!(map::get_map))
        .routes(routes!(map::get_entry, map::delete_entry))
        .routes(routes!(map::get_taxonomy))
        .routes(routes!(map::get_ropa))
        .routes(routes!(map::check))
        .routes(routes!(training::list_courses))
        .routes(routes!(incidents::list_rules))
        .routes(routes!(compliance::dashboard))
        .routes(routes!(
            monitoring_routes::get_rules,
            monitoring_routes::put_rules
        ))
        .routes(routes!(monitoring_routes::run))
        .routes(routes!(monitoring_routes::list_alerts))
        .routes(routes!(monitoring_routes::acknowledge))
        .routes(routes!(monitoring_routes::open_incident))
        .routes(routes!(registers::list_vendors))
        .routes(routes!(registers::get_vendor, registers::put_vendor))
        .routes(routes!(registers::review_vendor))
        .routes(routes!(registers::public_subprocessors))
        .routes(routes!(registers::list_dpias))
        .routes(routes!(registers::required_dpias))
        .routes(routes!(registers::get_dpia, registers::put_dpia))
        .routes(routes!(registers::dpia_step))
        .routes(routes!(compliance::export))
        .routes(routes!(incidents::create, incidents::list))
        .routes(routes!(incidents::get, incidents::patch))
        .routes(routes!(incidents::notify))
        .routes(routes!(incidents::compute_affected))
        .routes(routes!(incidents::render_letter))
        .routes(routes!(training::put_course))
        .routes(routes!(
            training::record_completion,
            training::list_completions
        ))
        .routes(routes!(training::status))
        .routes(routes!(training::revoke_completion))
        .routes(routes!(scan::scan_text))
        .routes(routes!(scan::redact_text))
        .routes(routes!(scan::decrypt_text))
        .routes(routes!(retention_routes::get_plan))
        .routes(routes!(retention_routes::post_run))
        .routes(routes!(
            retention_routes::place_hold,
            retention_routes::list_holds
        ))
        .routes(routes!(retention_routes::release_hold))
        .routes(routes!(
            retention_routes::end_relationship,
            retention_routes::resume_relationship
        ))
        .routes(routes!(privacy_center::create))
        .routes(routes!(privacy_center::status))
        .routes(routes!(privacy_center::verify))
        .routes(routes!(privacy_center::resend))
        .routes(routes!(privacy_center::withdraw))
        .routes(routes!(privacy_center::download))
        .routes(routes!(drp_routes::pair, drp_routes::agent_info))
        .routes(routes!(drp_routes::exercise))
        .routes(routes!(drp_routes::get_status, drp_routes::revoke))
        .routes(routes!(iab::tcf_decode))
        .routes(routes!(iab::tcf_encode))
        .routes(routes!(iab::gpp_decode))
        .routes(routes!(iab::gpp_encode))
        .split_for_parts()
}

/// The OpenAPI 3.1 document, as served at `/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().1
}

async fn route_not_found() -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a handler panicked");
    ApiError::new(ErrorCode::Internal).into_response()
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let (router, api) = api_router();
    let max_body = state.config.max_body_bytes;
    router
        // Deprecated in DRP 0.9.3, still sent by some agents.
        .route(
            "/v1/data-rights-request/",
            axum::routing::post(routes::drp::exercise),
        )
        .merge(SwaggerUi::new("/docs").url("/v1/openapi.json", api))
        .merge(console::router(state.clone()))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::edge,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// Latency buckets (seconds) of every histogram: from half a millisecond to ten seconds.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide Prometheus recorder (installed once). Histograms are Prometheus
/// histograms with [`LATENCY_BUCKETS`] (summaries cannot be aggregated across servers).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new();
            let recorder = builder
                .set_buckets(&LATENCY_BUCKETS)
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Keeps the engine's policy set in step with the store, for when another process saves one.
pub fn spawn_policy_refresher(state: &AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    let (store, engine) = (state.store.clone(), state.engine.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Ok(version) = store.policy_version().await else {
                continue;
            };
            if version == engine.version() {
                continue;
            }
            if let Ok(Some(rec)) = store.policy_set().await
                && let Err(e) = engine.replace(&rec.text, rec.version)
            {
                tracing::error!(diagnostics = ?e.diagnostics, version = rec.version, "stored policy set does not validate; keeping the old one");
            }
        }
    })
}

/// Serves `state` on an already-bound listener until `shutdown` completes, then drains.
pub async fn serve(
    listener: std::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let refresher = spawn_policy_refresher(&state, Duration::from_secs(1));
    let consent_listener =
        consent_cache::spawn_consent_listener(state.store.clone(), state.consent.clone());
    let dispatcher = propagation::spawn_dispatcher(state.clone());
    // The recorder keeps each histogram sample until upkeep folds it into the buckets: without
    // this, a server nobody scrapes would grow by every request it answers.
    let metrics = state.metrics.clone();
    let upkeep = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            metrics.run_upkeep();
        }
    });
    let purger = spawn_rights_purger(&state, Duration::from_secs(3600));
    let retention = retention::spawn_scheduler(&state);
    let reminders = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(state.config.rights_reminders_every);
            loop {
                tick.tick().await;
                if let Err(e) = rights::send_reminders(&state).await {
                    tracing::warn!(error = ?e, "rights reminders failed; retrying later");
                }
            }
        })
    };
    let monitor = monitoring::spawn(&state);
    let tls = state.config.tls.clone();
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    listener.set_nonblocking(true)?;
    let result = match tls {
        None => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(files) => {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                h.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener, config)
                .handle(handle)
                .serve(app)
                .await
        }
    };
    refresher.abort();
    consent_listener.abort();
    dispatcher.abort();
    upkeep.abort();
    purger.abort();
    retention.abort();
    reminders.abort();
    monitor.abort();
    result
}

/// Deletes the records of rights requests whose retention ended (24 months after closing),
/// shredding their requesters' identities, once at start and then every `every`.
pub fn spawn_rights_purger(state: &AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            loop {
                let now = state.clock.now();
                let draft = custodian_core::audit::AuditDraft::new(
                    now,
                    "rights-retention",
                    "system",
                    "rights.records_deleted",
                    "rights",
                    custodian_core::audit::Decision::Allow,
                );
                match state.store.purge_rights_requests(now, 500, draft).await {
                    Ok(ids) if ids.len() == 500 => continue,
                    Ok(ids) => {
                        if !ids.is_empty() {
                            tracing::info!(
                                count = ids.len(),
                                "rights request records past retention deleted"
                            );
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "rights retention purge failed; retrying later");
                        break;
                    }
                }
            }
        }
    })
}

/// Re-exported so the CLI and tests build state without naming every crate.
pub use state::{FailureLimiter, ServerConfig, TlsFiles};

/// Builds the state from its parts.
pub fn build_state(
    store: Arc<dyn custodian_core::ports::Store>,
    engine: Arc<custodian_policy::CedarEngine>,
    clock: Arc<dyn Clock>,
    signer: Arc<custodian_crypto::note::NoteSigner>,
    vault_crypto: Arc<dyn custodian_core::vault::service::VaultCrypto>,
    receipts: Arc<custodian_crypto::jws::JwsSigner>,
    config: ServerConfig,
) -> AppState {
    // The CLI validates the relay settings before it gets here (`mail::Mailer::new`).
    let mailer = config
        .smtp
        .as_ref()
        .and_then(|c| match mail::Mailer::new(c) {
            Ok(m) => Some(Arc::new(m)),
            Err(e) => {
                tracing::error!(error = %e, "mail is disabled");
                None
            }
        });
    AppState::new(state::Shared {
        store,
        engine,
        clock,
        signer,
        vault_crypto,
        limiter: Arc::new(FailureLimiter::new(config.auth_failures_per_minute)),
        config: Arc::new(config),
        metrics: metrics_handle(),
        receipts,
        consent: Arc::new(consent_cache::ConsentCache::new()),
        keys: Arc::new(auth::KeyCache::default()),
        outbox_wake: Arc::new(tokio::sync::Notify::new()),
        mailer,
        key_hints: custodian_core::vault::service::KeyHints::new(),
    })
}
