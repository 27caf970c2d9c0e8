//! The one harness every integration test uses.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use custodian_cli::config::StoreLocation;
use custodian_cli::setup;
use custodian_core::Timestamp;
use custodian_core::clock::{Clock, FixedClock};
use custodian_core::ports::Store;
use custodian_policy::CedarEngine;
use custodian_server::{ServerConfig, SystemClock, TlsFiles};
use reqwest::Method;
use serde_json::Value;
use tokio::sync::oneshot;

/// The PostgreSQL URL for tests: `None` (skip) when unset outside CI; a failure under CI.
pub fn pg_url() -> Option<String> {
    match std::env::var("CUSTODIAN_TEST_PG_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("CI").is_ok() => {
            panic!("CUSTODIAN_TEST_PG_URL must be set under CI")
        }
        Err(_) => {
            eprintln!("skipped: CUSTODIAN_TEST_PG_URL is not set");
            None
        }
    }
}

/// A PostgreSQL database made for one test and dropped after it.
pub struct PgDb {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl PgDb {
    /// Creates a fresh database next to the one `base` names.
    pub async fn create(base: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "custodian_it_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .get(..8)
                .unwrap_or("x")
        );
        let pool = sqlx::PgPool::connect(base)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        let (path, query) = base
            .split_once('?')
            .map_or((base, None), |(p, q)| (p, Some(q)));
        let (prefix, _) = path.rsplit_once('/').expect("URL has a path");
        let url = match query {
            Some(q) => format!("{prefix}/{name}?{q}"),
            None => format!("{prefix}/{name}"),
        };
        Self {
            admin_url: base.to_owned(),
            name,
            url,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&pool)
                    .await;
                }
            });
        })
        .join();
    }
}

/// How to boot a server.
pub struct Options {
    /// A PostgreSQL URL, or SQLite in the data directory.
    pub database_url: Option<String>,
    /// Use this data directory (shared keys for several servers) instead of a new one.
    pub data_dir: Option<PathBuf>,
    /// A fixed clock instead of the wall clock.
    pub fixed_clock: Option<Arc<FixedClock>>,
    /// Serve TLS with these files.
    pub tls: Option<TlsFiles>,
    /// Failed authentications allowed per minute per address.
    pub auth_failures_per_minute: u32,
    /// Publish consent changes to this NATS server.
    pub nats_url: Option<String>,
    /// Send mail through this relay.
    pub smtp: Option<custodian_server::mail::SmtpConfig>,
    /// Remind this address of rights requests nearing their deadline (looked for every 100 ms).
    pub rights_reminders_to: Option<String>,
    /// Data Rights Protocol settings.
    pub drp: Option<Arc<custodian_server::drp::DrpConfig>>,
    /// Connection URLs of datasets, by key.
    pub dataset_connections: std::collections::BTreeMap<String, String>,
    /// How the privacy center looks.
    pub brand: custodian_server::console::Brand,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            database_url: None,
            data_dir: None,
            fixed_clock: None,
            tls: None,
            auth_failures_per_minute: 1000,
            nats_url: None,
            smtp: None,
            rights_reminders_to: None,
            drp: None,
            dataset_connections: Default::default(),
            brand: Default::default(),
        }
    }
}

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The first admin's API key.
    pub admin_key: String,
    /// The store (a second handle on the same database).
    pub store: Arc<dyn Store>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The HTTP client.
    pub http: reqwest::Client,
    _tmp: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
}

/// An answer: status, request-id header and JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// The `x-request-id` header.
    pub request_id: String,
    /// The body as JSON.
    pub json: Value,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// Asserts an error answer of the table's shape, with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.json["error"]["code"], code, "{self:?}");
        assert!(
            self.json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{self:?}"
        );
        assert_eq!(
            self.json["error"]["request_id"],
            self.request_id.as_str(),
            "{self:?}"
        );
    }
}

/// A request body.
pub enum Body {
    /// No body.
    None,
    /// A JSON value.
    Json(Value),
    /// Raw bytes with a content type.
    Raw(&'static str, Vec<u8>),
}

impl TestServer {
    /// A server on a new SQLite data directory with the wall clock.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// A server as `opts` says; the installation is initialised unless it already is.
    pub async fn start_with(opts: Options) -> Self {
        let (tmp, data_dir) = match opts.data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().expect("tempdir");
                let d = t.path().join("data");
                (Some(t), d)
            }
        };
        let loc = StoreLocation {
            data_dir: data_dir.clone(),
            database_url: opts.database_url.clone(),
        };
        let clock: Arc<dyn Clock> = match &opts.fixed_clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        let store = setup::open_store(&loc).await.expect("open store");
        let installation = match store.installation().await.expect("installation") {
            Some(i) => i,
            None => {
                setup::initialize(&loc, store.as_ref(), clock.as_ref(), None)
                    .await
                    .expect("init")
                    .installation
            }
        };
        let admin_key = std::fs::read_to_string(data_dir.join(setup::ADMIN_KEY_FILE))
            .expect("admin key")
            .trim()
            .to_owned();
        let signer = setup::load_signer(&data_dir, &installation).expect("signer");
        let ps = store.policy_set().await.expect("policies").expect("some");
        let engine = CedarEngine::new(&ps.text, ps.version).expect("engine");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let tls = opts.tls.is_some();
        let config = ServerConfig {
            listen: listener.local_addr().expect("addr"),
            tls: opts.tls,
            auth_failures_per_minute: opts.auth_failures_per_minute,
            nats_url: opts.nats_url,
            smtp: opts.smtp,
            rights_reminders_to: opts.rights_reminders_to,
            rights_reminders_every: std::time::Duration::from_millis(100),
            drp: opts.drp,
            dataset_connections: custodian_server::datasets::Connections::new(
                opts.dataset_connections,
            )
            .expect("dataset connections"),
            // Tests run the access monitor on demand (`POST /v1/monitoring/run`), so a slow
            // test never sees it append events of its own.
            monitor_every: std::time::Duration::from_secs(24 * 3600),
            brand: opts.brand,
            ..ServerConfig::default()
        };
        let vault_crypto = setup::load_vault_crypto(&data_dir, store.as_ref())
            .await
            .expect("vault keys");
        let state = custodian_server::build_state(
            store.clone(),
            Arc::new(engine),
            clock,
            Arc::new(signer),
            Arc::new(vault_crypto),
            Arc::new(
                setup::load_receipt_signer(&data_dir, store.as_ref())
                    .await
                    .expect("receipt key"),
            ),
            config,
        );
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(custodian_server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        let scheme = if tls { "https" } else { "http" };
        Self {
            base: format!("{scheme}://127.0.0.1:{port}"),
            admin_key,
            store,
            data_dir,
            http: reqwest::Client::new(),
            _tmp: tmp,
            shutdown: Some(tx),
        }
    }

    /// Two servers over one fresh PostgreSQL database, sharing one data directory (keys), as
    /// several `custodian serve` processes would; `None` when PostgreSQL is not configured.
    pub async fn two_over_postgres() -> Option<(PgDb, TestServer, TestServer)> {
        let db = PgDb::create(&pg_url()?).await;
        let a = Self::start_with(Options {
            database_url: Some(db.url.clone()),
            ..Options::default()
        })
        .await;
        let b = Self::start_with(Options {
            database_url: Some(db.url.clone()),
            data_dir: Some(a.data_dir.clone()),
            ..Options::default()
        })
        .await;
        Some((db, a, b))
    }

    /// Sends one request and returns the answer.
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Body) -> Resp {
        self.call_with(method, path, key, body, &[]).await
    }

    /// Sends one request with extra headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(&v),
            Body::Raw(ct, bytes) => req.header("content-type", ct).body(bytes),
        };
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let request_id = resp
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            request_id,
            json,
            headers,
        }
    }

    /// The audit log's events (up to 1,000) as JSON text, read by the admin for `audit`.
    pub async fn audit_text(&self) -> String {
        let events = self
            .call_with(
                Method::GET,
                "/v1/audit/events?limit=1000",
                Some(&self.admin_key),
                Body::None,
                &[("custodian-purpose", "audit")],
            )
            .await;
        assert_eq!(events.status, 200, "{events:?}");
        events.json.to_string()
    }

    /// GET with the admin key.
    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, Some(&self.admin_key.clone()), Body::None)
            .await
    }

    /// Creates an operator with a key, as the admin; returns (operator id, key).
    pub async fn operator_with_key(&self, name: &str, role: &str) -> (String, String) {
        let admin = self.admin_key.clone();
        let r = self
            .call(
                Method::POST,
                "/v1/operators",
                Some(&admin),
                Body::Json(serde_json::json!({"name": name, "role": role})),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let id = r.json["id"].as_str().expect("id").to_owned();
        let r = self
            .call(
                Method::POST,
                &format!("/v1/operators/{id}/keys"),
                Some(&admin),
                Body::Json(serde_json::json!({})),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        (id, r.json["key"].as_str().expect("key").to_owned())
    }

    /// The audit log's size.
    pub async fn audit_size(&self) -> u64 {
        self.store.audit_head().await.expect("head").size
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A fixed clock at 2026-01-01T00:00:00Z.
pub fn fixed_clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(
        Timestamp::from_second(1_767_225_600).expect("time"),
    ))
}
