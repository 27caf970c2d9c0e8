//! Connected databases (issue 6, item 5): reading a subject's rows for access requests and
//! erasing them for erasure requests, in PostgreSQL, MySQL/MariaDB and SQLite databases
//! declared as datasets. `core::rights::dataset` decides what to query and what to write;
//! this module runs it through sqlx's `Any` driver, one transaction per database.
//!
//! Connection URLs are settings (`dataset_connections` in the file, or
//! `CUSTODIAN_DATASET_URL_<KEY>`), never stored in the database nor shown: a declaration
//! without one, or whose database does not answer, becomes a manual task of the request.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Once;
use std::time::Duration;

use custodian_core::Timestamp;
use custodian_core::rights::dataset::{
    Collection, Dataset, Dialect, Match, Plan, Source, StoredDataset, Write, delete_sql,
    parse_with, plan, probe_sql, row_writes, select_sql, update_sql,
};
use custodian_core::rights::export::{ExportField, ExportRecord};
use custodian_core::rights::request::RightsRequest;
use custodian_core::rights::task::{RightsTask, TaskReason};
use serde_json::json;
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::gate::{decide, draft, refuse};
use crate::state::AppState;
use custodian_core::access::{Action, Resource};
use custodian_core::audit::Decision;

/// Rows read from one table, at most; a subject with more is refused rather than truncated.
pub const MAX_ROWS: usize = 10_000;
/// Values bound in one statement, at most.
const CHUNK: usize = 500;
/// How long a database has to answer a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one database's whole run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Connection URLs by dataset key. `Debug` shows the keys only: the URLs hold passwords.
#[derive(Clone, Default)]
pub struct Connections(BTreeMap<String, String>);

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Connections {
    /// Checks each URL's scheme (PostgreSQL, MySQL/MariaDB or SQLite) and key.
    pub fn new(urls: BTreeMap<String, String>) -> Result<Self, String> {
        for (key, url) in &urls {
            if !custodian_core::rights::dataset::valid_identifier(key) {
                return Err(format!(
                    "dataset connection {key:?}: the key must be a dataset key"
                ));
            }
            if Dialect::of_url(url).is_none() {
                return Err(format!(
                    "dataset connection {key}: the URL must start with postgres://, mysql://, mariadb:// or sqlite:"
                ));
            }
        }
        Ok(Self(urls))
    }

    /// The URL of a dataset, if configured.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// The taxonomy in force: the shipped keys and the organization's additions from the map.
pub async fn taxonomy(state: &AppState) -> Result<custodian_core::map::Taxonomy, ApiError> {
    let entries = state.store.map_entries().await?;
    Ok(custodian_core::map::load(&entries, &[])
        .map_err(|_| crate::error::internal("the stored data map no longer reads"))?
        .taxonomy)
}

/// A declared dataset, read back and checked against the taxonomy in force.
pub fn declared(
    stored: &StoredDataset,
    tax: &custodian_core::map::Taxonomy,
) -> Result<Dataset, ApiError> {
    let doc: serde_json::Value = serde_json::from_str(&stored.declaration)
        .map_err(|_| crate::error::internal("a stored dataset declaration is not JSON"))?;
    parse_with(&doc, &|c| {
        tax.contains(custodian_core::taxonomy::Kind::DataCategory, c)
    })
    .ok()
    .and_then(|mut v| (v.len() == 1).then(|| v.remove(0)))
    .ok_or_else(|| crate::error::internal("a stored dataset declaration no longer parses"))
}

/// Every declared dataset.
pub async fn all(state: &AppState) -> Result<Vec<Dataset>, ApiError> {
    let tax = taxonomy(state).await?;
    state
        .store
        .datasets()
        .await?
        .iter()
        .map(|d| declared(d, &tax))
        .collect()
}

/// Why a database could not be used.
#[derive(Debug)]
pub enum RunError {
    /// It did not answer.
    Unreachable,
    /// A statement failed (where, and the database's error code if any).
    Failed {
        /// The table.
        collection: String,
        /// SQLSTATE or the MySQL error number.
        code: Option<String>,
    },
    /// A table holds more of the subject's rows than [`MAX_ROWS`].
    TooManyRows(String),
}

fn install_drivers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

/// Opens a one-connection pool; `None` when the database does not answer.
pub async fn connect(url: &str) -> Option<AnyPool> {
    install_drivers();
    // Sessions run in UTC, so times bound as parameters and compared with the database's
    // date-time columns mean the same instant whatever the server's default zone is.
    let utc = match Dialect::of_url(url) {
        Some(Dialect::Postgres) => Some("SET TIME ZONE 'UTC'"),
        Some(Dialect::MySql) => Some("SET time_zone = '+00:00'"),
        _ => None,
    };
    AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if let Some(sql) = utc {
                    sqlx::Executor::execute(conn, sql).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|e| tracing::warn!(kind = %error_kind(&e), "a dataset's database did not answer"))
        .ok()
}

/// The kind of a database error, without its message (which may quote values).
fn error_kind(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => format!("database error {}", d.code().unwrap_or_default()),
        sqlx::Error::Io(_) => "io".into(),
        sqlx::Error::Tls(_) => "tls".into(),
        sqlx::Error::PoolTimedOut => "timeout".into(),
        sqlx::Error::Configuration(_) => "configuration".into(),
        _ => "other".into(),
    }
}

/// What one database run found and changed.
#[derive(Debug, Default)]
pub struct Run {
    /// Rows read, by table in plan order: each row's values in declaration order.
    pub rows: Vec<(String, Vec<Vec<Option<String>>>)>,
    /// Rows changed by erasure.
    pub updated: u64,
    /// Rows deleted by erasure.
    pub deleted: u64,
    /// Tables no identity given reaches.
    pub unreachable: Vec<String>,
}

pub(crate) fn failed(collection: &Collection) -> impl Fn(sqlx::Error) -> RunError + '_ {
    move |e| {
        let code = e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()));
        tracing::warn!(kind = %error_kind(&e), collection = %collection.name, "a dataset statement failed");
        RunError::Failed {
            collection: collection.name.clone(),
            code,
        }
    }
}

/// A row's writes as the columns an update sets (`true`: to a bound value, `false`: to NULL)
/// and the values bound, in order.
pub(crate) fn split_writes(
    c: &Collection,
    writes: Vec<(usize, Write)>,
) -> (Vec<(&str, bool)>, Vec<String>) {
    let fields = writes
        .iter()
        .map(|(i, w)| (c.fields[*i].name.as_str(), matches!(w, Write::Value(_))))
        .collect();
    let values = writes
        .into_iter()
        .filter_map(|(_, w)| match w {
            Write::Value(v) => Some(v),
            Write::Null => None,
        })
        .collect();
    (fields, values)
}

/// A statement written by `core::rights::dataset` (names are checked identifiers, every value
/// is bound) with `values` bound in order.
pub(crate) fn statement(
    sql: String,
    values: &[String],
) -> sqlx::query::Query<'static, Any, AnyArguments> {
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for v in values {
        q = q.bind(v.clone());
    }
    q
}

/// The values a lookup compares with: the identity given, or the distinct non-null values
/// of a field in rows found earlier.
fn lookup_values(
    ds: &Dataset,
    source: &Source,
    identities: &HashMap<String, String>,
    found: &HashMap<String, Vec<Vec<Option<String>>>>,
) -> Vec<String> {
    match source {
        Source::Identity(id) => identities.get(id).cloned().into_iter().collect(),
        Source::Found { collection, field } => {
            let Some(i) = ds
                .collections
                .iter()
                .find(|c| &c.name == collection)
                .and_then(|c| c.fields.iter().position(|f| &f.name == field))
            else {
                return Vec::new();
            };
            let mut seen = HashSet::new();
            found
                .get(collection)
                .into_iter()
                .flatten()
                .filter_map(|row| row.get(i).cloned().flatten())
                .filter(|v| seen.insert(v.clone()))
                .collect()
        }
    }
}

pub(crate) fn read_row(row: &AnyRow, n: usize) -> Result<Vec<Option<String>>, sqlx::Error> {
    (0..n)
        .map(|i| row.try_get::<Option<String>, _>(i))
        .collect()
}

/// Reads the subject's rows, table by table along `plan`.
async fn read(
    tx: &mut Transaction<'static, Any>,
    d: Dialect,
    ds: &Dataset,
    plan: &Plan,
    identities: &HashMap<String, String>,
) -> Result<HashMap<String, Vec<Vec<Option<String>>>>, RunError> {
    let mut found: HashMap<String, Vec<Vec<Option<String>>>> = HashMap::new();
    for step in &plan.steps {
        let Some(c) = ds.collections.iter().find(|c| c.name == step.collection) else {
            continue;
        };
        let key_at = c.fields.iter().position(|f| f.primary_key);
        let mut rows: Vec<Vec<Option<String>>> = Vec::new();
        let mut seen: HashSet<Vec<Option<String>>> = HashSet::new();
        for l in &step.lookups {
            let values = lookup_values(ds, &l.source, identities, &found);
            let fold_case = matches!(&l.source, Source::Identity(i) if i == "email");
            for chunk in values.chunks(CHUNK) {
                let m = Match {
                    field: &l.field,
                    fold_case,
                    n: chunk.len(),
                };
                let sql = select_sql(d, c, &m, MAX_ROWS + 1);
                let got = statement(sql, chunk)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(failed(c))?;
                for r in &got {
                    let row = read_row(r, c.fields.len()).map_err(failed(c))?;
                    // The same row found by two conditions counts once.
                    let id = match key_at {
                        Some(k) => vec![row.get(k).cloned().flatten()],
                        None => row.clone(),
                    };
                    if seen.insert(id) {
                        rows.push(row);
                    }
                }
                if rows.len() > MAX_ROWS {
                    return Err(RunError::TooManyRows(c.name.clone()));
                }
            }
        }
        found.insert(c.name.clone(), rows);
    }
    Ok(found)
}

/// Erases what `found` holds, children first (the plan reversed): by primary key where the
/// table has one, else by the conditions that found the rows.
async fn erase(
    tx: &mut Transaction<'static, Any>,
    d: Dialect,
    ds: &Dataset,
    plan: &Plan,
    identities: &HashMap<String, String>,
    found: &HashMap<String, Vec<Vec<Option<String>>>>,
    hash: &(
         dyn Fn(&custodian_core::rights::dataset::Field, &str) -> Result<String, RunError> + Sync
     ),
) -> Result<(u64, u64), RunError> {
    let (mut updated, mut deleted) = (0u64, 0u64);
    for step in plan.steps.iter().rev() {
        let Some(c) = ds.collections.iter().find(|c| c.name == step.collection) else {
            continue;
        };
        let rows = found.get(&c.name).map(Vec::as_slice).unwrap_or_default();
        if rows.is_empty() {
            continue;
        }
        if let Some(k) = c.fields.iter().position(|f| f.primary_key) {
            let keys: Vec<String> = rows.iter().filter_map(|r| r[k].clone()).collect();
            if c.delete_rows {
                for chunk in keys.chunks(CHUNK) {
                    let m = Match {
                        field: &c.fields[k].name,
                        fold_case: false,
                        n: chunk.len(),
                    };
                    let sql = delete_sql(d, &c.name, &m);
                    deleted += statement(sql, chunk)
                        .execute(&mut **tx)
                        .await
                        .map_err(failed(c))?
                        .rows_affected();
                }
                continue;
            }
            for row in rows {
                let Some(key) = row[k].clone() else { continue };
                let writes = row_writes(c, row, hash)?;
                if writes.is_empty() {
                    continue;
                }
                let (fields, mut values) = split_writes(c, writes);
                values.push(key);
                let m = Match {
                    field: &c.fields[k].name,
                    fold_case: false,
                    n: 1,
                };
                let sql = update_sql(d, &c.name, &fields, &m);
                statement(sql, &values)
                    .execute(&mut **tx)
                    .await
                    .map_err(failed(c))?;
                updated += 1;
            }
            continue;
        }
        // No key: the same conditions again (the values were read before any change).
        // Masking and hashing need a key, so only NULL and fixed rewrites are left here.
        let sets: Vec<(&str, Option<&str>)> = c
            .fields
            .iter()
            .filter_map(|f| match &f.erasure {
                custodian_core::rights::dataset::Strategy::NullRewrite => {
                    Some((f.name.as_str(), None))
                }
                custodian_core::rights::dataset::Strategy::StringRewrite(v) => {
                    Some((f.name.as_str(), Some(v.as_str())))
                }
                _ => None,
            })
            .collect();
        if !c.delete_rows && sets.is_empty() {
            continue;
        }
        for l in &step.lookups {
            let values = lookup_values(ds, &l.source, identities, found);
            let fold_case = matches!(&l.source, Source::Identity(i) if i == "email");
            for chunk in values.chunks(CHUNK) {
                let m = Match {
                    field: &l.field,
                    fold_case,
                    n: chunk.len(),
                };
                let n = if c.delete_rows {
                    let sql = delete_sql(d, &c.name, &m);
                    statement(sql, chunk).execute(&mut **tx).await
                } else {
                    let fields: Vec<(&str, bool)> =
                        sets.iter().map(|(f, v)| (*f, v.is_some())).collect();
                    let mut bound: Vec<String> = sets
                        .iter()
                        .filter_map(|(_, v)| v.map(str::to_owned))
                        .collect();
                    bound.extend(chunk.iter().cloned());
                    let sql = update_sql(d, &c.name, &fields, &m);
                    statement(sql, &bound).execute(&mut **tx).await
                }
                .map_err(failed(c))?
                .rows_affected();
                if c.delete_rows {
                    deleted += n;
                } else {
                    updated += n;
                }
            }
        }
    }
    Ok((updated, deleted))
}

/// Runs a request against one database: reads the subject's rows and, when `erase`, applies
/// each field's strategy, all in one transaction (rolled back on any failure, and always for
/// reads).
pub async fn run(
    state: &AppState,
    pool: &AnyPool,
    url: &str,
    ds: &Dataset,
    identities: &HashMap<String, String>,
    erase_rows: bool,
) -> Result<Run, RunError> {
    let d = Dialect::of_url(url).ok_or(RunError::Unreachable)?;
    let ids: Vec<&str> = identities.keys().map(String::as_str).collect();
    let plan = plan(ds, &ids);
    let work = async {
        let mut tx = pool.begin().await.map_err(|_| RunError::Unreachable)?;
        let found = read(&mut tx, d, ds, &plan, identities).await?;
        let mut run = Run {
            unreachable: plan.unreachable.clone(),
            ..Run::default()
        };
        if erase_rows {
            let key = ds.key.clone();
            let hash = |f: &custodian_core::rights::dataset::Field, v: &str| {
                state
                    .vault_crypto
                    .blind_index(&format!("dataset:{key}"), &f.name, v)
                    .map(hex::encode)
                    .map_err(|_| RunError::Failed {
                        collection: String::new(),
                        code: None,
                    })
            };
            let (u, del) = erase(&mut tx, d, ds, &plan, identities, &found, &hash).await?;
            run.updated = u;
            run.deleted = del;
            tx.commit().await.map_err(|_| RunError::Unreachable)?;
        } else {
            tx.rollback().await.map_err(|_| RunError::Unreachable)?;
        }
        for step in &plan.steps {
            if let Some(rows) = found.get(&step.collection) {
                run.rows.push((step.collection.clone(), rows.clone()));
            }
        }
        Ok(run)
    };
    tokio::time::timeout(RUN_TIMEOUT, work)
        .await
        .unwrap_or(Err(RunError::Unreachable))
}

/// Checks that each declared table and column exists, reading no rows: `(table, None)` when
/// it does, else the database's error code.
pub async fn probe(
    pool: &AnyPool,
    url: &str,
    ds: &Dataset,
) -> Vec<(String, Result<(), Option<String>>)> {
    let Some(d) = Dialect::of_url(url) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in &ds.collections {
        let r = sqlx::query(AssertSqlSafe(probe_sql(d, c)))
            .fetch_all(pool)
            .await
            .map(|_| ())
            .map_err(|e| {
                e.as_database_error()
                    .and_then(|x| x.code().map(|c| c.into_owned()))
            });
        out.push((c.name.clone(), r));
    }
    out
}

/// The identities a request gives, as dataset identity names: `email` (lower-cased),
/// `phone_number` (E.164) and `customer_id` (as given).
pub async fn identities(
    state: &AppState,
    r: &RightsRequest,
) -> Result<HashMap<String, String>, ApiError> {
    let who = crate::rights::requester_of(state, r).await?;
    let mut out = HashMap::new();
    if let Some(e) = who.email {
        out.insert("email".to_owned(), e.to_lowercase());
    }
    if let Some(p) = who.phone {
        out.insert("phone_number".to_owned(), p);
    }
    if let Some(c) = who.customer_id {
        out.insert("customer_id".to_owned(), c);
    }
    Ok(out)
}

/// What fulfilling a request across the connected databases gave.
#[derive(Debug, Default)]
pub struct Fulfilment {
    /// Rows found, as export records (access).
    pub records: Vec<ExportRecord>,
    /// Rows changed and deleted (erasure).
    pub updated: u64,
    /// Rows deleted.
    pub deleted: u64,
    /// Rows read.
    pub read: usize,
    /// Databases used.
    pub datasets: usize,
}

impl Fulfilment {
    /// Appends to a history detail `;datasets:N,rows_updated:U,rows_deleted:D` (erasure) or
    /// `;datasets:N,rows_read:R`, when a database was used.
    pub fn detail(&self, base: &str, erase: bool) -> String {
        match (self.datasets, erase) {
            (0, _) => base.to_owned(),
            (n, true) => format!(
                "{base};datasets:{n},rows_updated:{},rows_deleted:{}",
                self.updated, self.deleted
            ),
            (n, false) => format!("{base};datasets:{n},rows_read:{}", self.read),
        }
    }
}

fn records_of(ds: &Dataset, run: &Run, at: Timestamp) -> Vec<ExportRecord> {
    let mut out = Vec::new();
    for (table, rows) in &run.rows {
        let Some(c) = ds.collections.iter().find(|c| &c.name == table) else {
            continue;
        };
        let key_at = c.fields.iter().position(|f| f.primary_key);
        for (n, row) in rows.iter().enumerate() {
            let record_id = key_at
                .and_then(|k| row[k].clone())
                .unwrap_or_else(|| format!("row-{}", n + 1));
            out.push(ExportRecord {
                source: format!("dataset:{}", ds.key),
                collection: c.name.clone(),
                record_id,
                created_at: at,
                updated_at: at,
                fields: c
                    .fields
                    .iter()
                    .zip(row)
                    .filter_map(|(f, v)| {
                        Some(ExportField {
                            field: f.name.clone(),
                            category: f
                                .categories
                                .first()
                                .cloned()
                                .unwrap_or_else(|| "unclassified".to_owned()),
                            value: serde_json::Value::String(v.clone()?),
                        })
                    })
                    .collect(),
            });
        }
    }
    out
}

/// Reads (access) or erases the subject's rows in every declared dataset not already handled
/// by a manual task. A request with an open task is refused (`manual_tasks_open`); a dataset
/// with no connection, or whose database does not answer, gets a task (assigned to the
/// request's assignee, due when the request is) and the request is refused the same way,
/// with nothing else changed. The caller needs `data.reveal` (access) or `data.delete`
/// (erasure) on every categorized field for the purpose `dsr`, checked first. Each database
/// used is audited (`rights.dataset_read` or
/// `rights.dataset_erased`, resource `dataset:<key>`).
pub async fn fulfil(
    state: &AppState,
    caller: &Caller,
    rid: &crate::middleware::RequestId,
    r: &RightsRequest,
    erase_rows: bool,
) -> Result<Fulfilment, ApiError> {
    let declared = all(state).await?;
    let mut out = Fulfilment::default();
    if declared.is_empty() {
        return Ok(out);
    }
    let actor = caller.actor();
    let actor = actor.as_str();
    for ds in &declared {
        grant(state, caller, rid, r, ds, erase_rows).await?;
    }
    let tasks = state.store.rights_tasks(&r.id).await?;
    let open: Vec<&str> = tasks
        .iter()
        .filter(|t| t.is_open())
        .map(|t| t.system.as_str())
        .collect();
    if !open.is_empty() {
        return Err(tasks_open(&open));
    }
    let handled: HashSet<&str> = tasks.iter().map(|t| t.system.as_str()).collect();
    let mut pools = Vec::new();
    let mut missing = Vec::new();
    for ds in declared
        .iter()
        .filter(|d| !handled.contains(d.key.as_str()))
    {
        match state.config.dataset_connections.get(&ds.key) {
            None => missing.push((ds.key.clone(), TaskReason::NotConfigured)),
            Some(url) => match connect(url).await {
                Some(pool) => pools.push((ds, url, pool)),
                None => missing.push((ds.key.clone(), TaskReason::Unreachable)),
            },
        }
    }
    if !missing.is_empty() {
        for (_, _, pool) in &pools {
            pool.close().await;
        }
        let now = state.clock.now();
        let mut new = Vec::new();
        for (system, reason) in &missing {
            new.push(RightsTask {
                id: format!(
                    "task_{}",
                    hex::encode(
                        custodian_crypto::random::bytes::<12>()
                            .map_err(|_| crate::error::internal("the random source failed"))?
                    )
                ),
                request_id: r.id.clone(),
                system: system.clone(),
                reason: *reason,
                assignee: r.progress.assignee.clone(),
                due_at: r.deadlines.as_ref().map(|d| d.due.end),
                evidence: None,
                done_by: None,
                done_at: None,
                created_at: now,
                version: 1,
            });
        }
        let mut audit = crate::gate::actor_draft(
            state,
            rid,
            actor,
            "rights.tasks_created",
            &format!("rights_request:{}", r.id),
        );
        audit.subject = r.subject_id.as_deref().map(|s| state.vault().pseudonym(s));
        state.store.create_rights_tasks(&new, audit).await?;
        let systems: Vec<&str> = missing.iter().map(|(s, _)| s.as_str()).collect();
        return Err(tasks_open(&systems));
    }
    let identities = identities(state, r).await?;
    let now = state.clock.now();
    for (ds, url, pool) in pools {
        let result = run(state, &pool, url, ds, &identities, erase_rows).await;
        pool.close().await;
        let run = match result {
            Ok(run) => run,
            Err(e) => return Err(run_error(&ds.key, e)),
        };
        out.datasets += 1;
        out.updated += run.updated;
        out.deleted += run.deleted;
        out.read += run.rows.iter().map(|(_, rows)| rows.len()).sum::<usize>();
        let records = records_of(ds, &run, now);
        let mut audit = crate::gate::actor_draft(
            state,
            rid,
            actor,
            if erase_rows {
                "rights.dataset_erased"
            } else {
                "rights.dataset_read"
            },
            &format!("dataset:{}", ds.key),
        );
        audit.subject = r.subject_id.as_deref().map(|s| state.vault().pseudonym(s));
        audit.purpose = Some("dsr".into());
        state.store.append_audit(audit).await?;
        metrics::counter!("custodian_dataset_runs_total", "mode" => if erase_rows { "erase" } else { "read" })
            .increment(1);
        out.records.extend(records);
    }
    Ok(out)
}

/// Special categories of personal data (GDPR Art. 9 and 10) by taxonomy key: a field under
/// one of these is `special` to the policy (the training rule applies); other personal
/// fields of a connected database are `high`.
fn sensitivity(category: &str) -> &'static str {
    if custodian_core::taxonomy::is_special(category) {
        "special"
    } else {
        "high"
    }
}

/// Checks that `caller` may reveal (access) or delete (erasure) every categorized field of
/// `ds` for the purpose `dsr`, as the policy decides for vault fields (collection
/// `dataset:<key>.<table>`); a refusal is audited and answers 403 `access_denied` naming the
/// field.
async fn grant(
    state: &AppState,
    caller: &Caller,
    rid: &crate::middleware::RequestId,
    r: &RightsRequest,
    ds: &Dataset,
    erase_rows: bool,
) -> Result<(), ApiError> {
    let action = if erase_rows {
        Action::DataDelete
    } else {
        Action::DataReveal
    };
    for c in &ds.collections {
        let collection = format!("dataset:{}.{}", ds.key, c.name);
        for f in &c.fields {
            let Some(category) = f.categories.first() else {
                continue;
            };
            let resource = Resource::Field {
                collection: collection.clone(),
                field: f.name.clone(),
                category: category.clone(),
                sensitivity: sensitivity(category).to_owned(),
            };
            if decide(state, caller, action, resource, Some("dsr")).is_some() {
                continue;
            }
            let field = format!("{collection}.{}", f.name);
            let mut d = draft(
                state,
                caller,
                rid,
                action.as_str(),
                format!("dataset:{}", ds.key),
                Decision::Deny,
                Some("dsr"),
            )
            .with_subject(r.subject_id.as_deref().map(|s| state.vault().pseudonym(s)));
            d.fields = vec![field.clone()];
            return Err(refuse(
                state,
                d,
                ApiError::new(ErrorCode::AccessDenied)
                    .details(json!({ "action": action.as_str(), "field": field })),
            )
            .await);
        }
    }
    Ok(())
}

fn tasks_open(systems: &[&str]) -> ApiError {
    ApiError::with_message(
        ErrorCode::ManualTasksOpen,
        format!(
            "{} system(s) need a person before the request completes: {}; see the request's tasks",
            systems.len(),
            systems.join(", ")
        ),
    )
    .details(json!({ "systems": systems }))
}

fn run_error(dataset: &str, e: RunError) -> ApiError {
    match e {
        RunError::Unreachable => ApiError::with_message(
            ErrorCode::DatasetFailed,
            format!("the database of dataset {dataset} stopped answering; nothing was changed there"),
        )
        .details(json!({ "dataset": dataset })),
        RunError::Failed { collection, code } => ApiError::with_message(
            ErrorCode::DatasetFailed,
            format!("dataset {dataset}: a statement on {collection} failed; its changes were rolled back"),
        )
        .details(json!({ "dataset": dataset, "collection": collection, "code": code })),
        RunError::TooManyRows(collection) => ApiError::with_message(
            ErrorCode::DatasetFailed,
            format!("dataset {dataset}: {collection} holds more than {MAX_ROWS} rows of the subject"),
        )
        .details(json!({ "dataset": dataset, "collection": collection, "code": "too_many_rows" })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_categories_are_special_by_prefix_only() {
        assert_eq!(sensitivity("user.health_and_medical"), "special");
        assert_eq!(sensitivity("user.health_and_medical.genetic"), "special");
        assert_eq!(sensitivity("user.demographic.religious_belief"), "special");
        assert_eq!(sensitivity("user.biometricx"), "high");
        assert_eq!(sensitivity("user.contact.email"), "high");
    }

    #[test]
    fn connection_urls_are_checked_and_not_shown() {
        let mut urls = BTreeMap::new();
        urls.insert("shop".to_owned(), "mysql://app:s3cret@db/shop".to_owned());
        let c = Connections::new(urls).unwrap_or_default();
        assert_eq!(c.get("shop"), Some("mysql://app:s3cret@db/shop"));
        assert_eq!(format!("{c:?}"), "[\"shop\"]");
        let mut bad = BTreeMap::new();
        bad.insert("shop".to_owned(), "ftp://db".to_owned());
        assert!(Connections::new(bad).is_err());
    }
}
