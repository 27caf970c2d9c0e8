//! Retention in the server: the plan of what is due (vault and connected datasets), runs that
//! dispose of it under job leases (several servers never run the same job twice), proof of
//! each disposal in the audit log, metrics per run, and the hourly scheduler.

use std::collections::BTreeMap;
use std::time::Duration;

use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::ports::StoreError;
use custodian_core::retention::service::{
    Lease, VaultOutcome, dataset_tables, dispose_vault, rules_and_holds, vault_facts,
};
use custodian_core::retention::{
    DatasetPlan, SubjectFacts, TableDisposal, VaultPlan, plan_datasets, plan_vault,
};
use custodian_core::rights::dataset::{
    Dataset, Dialect, Strategy, Write, expired_delete_sql, expired_key_update_sql,
    expired_select_sql, expired_update_sql, row_writes, time_param,
};
use sqlx::{Any, Transaction};

use crate::datasets::{RunError, connect, failed, read_row, split_writes, statement};
use crate::error::ApiError;
use crate::state::AppState;

/// How long a run holds its jobs' leases (a crashed run's jobs are free again after it).
const LEASE: Duration = Duration::from_secs(600);
/// How often the scheduler runs retention.
pub const EVERY: Duration = Duration::from_secs(3600);
/// Rows read per page when anonymizing a table.
const PAGE: usize = 1_000;

/// What is due at an instant.
#[derive(Debug)]
pub struct Plan {
    /// In the vault.
    pub vault: VaultPlan,
    /// In connected datasets.
    pub datasets: DatasetPlan,
    /// The vault facts the plan was made from.
    pub facts: Vec<SubjectFacts>,
    /// The datasets declared.
    pub declared: Vec<Dataset>,
}

/// The plan at `at`.
pub async fn plan(state: &AppState, at: Timestamp) -> Result<Plan, ApiError> {
    let (rules, holds) = rules_and_holds(state.store.as_ref()).await?;
    let crypto = state.vault_crypto.clone();
    let pseudonym = move |s: &str| crypto.pseudonym(s);
    let facts = vault_facts(state.store.as_ref(), &pseudonym, &rules, at).await?;
    let declared = crate::datasets::all(state).await?;
    let tables = dataset_tables(&declared);
    Ok(Plan {
        vault: plan_vault(&rules, &holds, &facts, at),
        datasets: plan_datasets(&rules, &holds, &tables, at),
        facts,
        declared,
    })
}

/// One table's disposal in a run.
#[derive(Debug, Clone)]
pub struct TableRun {
    /// The disposal.
    pub disposal: TableDisposal,
    /// Rows deleted or anonymized.
    pub rows: u64,
    /// `ok`, `not_connected`, `unreachable` or `failed:<database error code>`.
    pub outcome: String,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// When it ran.
    pub at: Option<Timestamp>,
    /// Jobs it ran.
    pub claimed: Vec<String>,
    /// Jobs another process was running (left alone).
    pub busy: Vec<String>,
    /// The vault's disposals, if the vault job was run.
    pub vault: Option<VaultOutcome>,
    /// Vault disposals a legal hold kept back.
    pub held: usize,
    /// Each dataset table disposed of.
    pub tables: Vec<TableRun>,
}

fn hash_for<'a>(
    state: &'a AppState,
    key: &'a str,
) -> impl Fn(&custodian_core::rights::dataset::Field, &str) -> Result<String, RunError> + Sync + 'a
{
    move |f, v| {
        state
            .vault_crypto
            .blind_index(&format!("dataset:{key}"), &f.name, v)
            .map(hex::encode)
            .map_err(|_| RunError::Failed {
                collection: String::new(),
                code: None,
            })
    }
}

/// The columns an anonymization rewrites: the covered ones whose erasure strategy changes
/// them (keys, references and `keep` fields stay as they are).
fn written_columns(ds: &Dataset, t: &TableDisposal) -> Vec<String> {
    ds.collections
        .iter()
        .find(|c| c.name == t.table)
        .map(|c| {
            c.fields
                .iter()
                .filter(|f| t.columns.contains(&f.name) && f.erasure != Strategy::Keep)
                .map(|f| f.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Disposes of one table's due rows in one transaction; the number of rows touched.
async fn dispose_table(
    state: &AppState,
    tx: &mut Transaction<'static, Any>,
    d: Dialect,
    ds: &Dataset,
    t: &TableDisposal,
) -> Result<u64, RunError> {
    let Some(c) = ds.collections.iter().find(|c| c.name == t.table) else {
        return Ok(0);
    };
    let cutoff = time_param(d, t.cutoff);
    if t.delete_rows {
        return Ok(
            statement(expired_delete_sql(d, &c.name, &t.time_column), &[cutoff])
                .execute(&mut **tx)
                .await
                .map_err(failed(c))?
                .rows_affected(),
        );
    }
    // Anonymize: only the covered columns change, each by its declared erasure strategy.
    let written = written_columns(ds, t);
    let mut view = c.clone();
    for f in &mut view.fields {
        if !written.contains(&f.name) {
            f.erasure = Strategy::Keep;
        }
    }
    let Some(k) = view.fields.iter().position(|f| f.primary_key) else {
        let sets: Vec<(&str, Option<&str>)> = view
            .fields
            .iter()
            .filter_map(|f| match &f.erasure {
                Strategy::NullRewrite => Some((f.name.as_str(), None)),
                Strategy::StringRewrite(v) => Some((f.name.as_str(), Some(v.as_str()))),
                _ => None,
            })
            .collect();
        if sets.is_empty() {
            return Ok(0);
        }
        let fields: Vec<(&str, bool)> = sets.iter().map(|(f, v)| (*f, v.is_some())).collect();
        let mut bound: Vec<String> = sets
            .iter()
            .filter_map(|(_, v)| v.map(str::to_owned))
            .collect();
        bound.push(cutoff);
        return Ok(statement(
            expired_update_sql(d, &c.name, &fields, &t.time_column),
            &bound,
        )
        .execute(&mut **tx)
        .await
        .map_err(failed(c))?
        .rows_affected());
    };
    let hash = hash_for(state, &ds.key);
    let key_name = view.fields[k].name.clone();
    let (mut n, mut offset) = (0, 0);
    // Every due row is looked at, page by page in key order (rows already anonymized are
    // passed over, so they never hide the ones that are not).
    loop {
        let sql = expired_select_sql(d, &view, &t.time_column, &key_name, PAGE, offset);
        let rows = statement(sql, std::slice::from_ref(&cutoff))
            .fetch_all(&mut **tx)
            .await
            .map_err(failed(c))?;
        let count = rows.len();
        for row in rows {
            let row = read_row(&row, view.fields.len()).map_err(failed(c))?;
            let Some(key) = row[k].clone() else { continue };
            // Only what is not anonymized already: a NULL stays NULL, a masked or rewritten
            // value is what it would be written as, and a keyed hash (32 hex digits) is not
            // hashed again.
            let writes: Vec<(usize, Write)> = row_writes(&view, &row, &hash)?
                .into_iter()
                .filter(|(i, w)| {
                    let current = row[*i].as_deref();
                    let hashed = matches!(view.fields[*i].erasure, Strategy::Hash)
                        && current.is_some_and(|c| {
                            c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit())
                        });
                    let same = match w {
                        Write::Null => current.is_none(),
                        Write::Value(v) => current == Some(v.as_str()),
                    };
                    !(same || hashed)
                })
                .collect();
            if writes.is_empty() {
                continue;
            }
            let (fields, mut values) = split_writes(&view, writes);
            values.push(key);
            values.push(cutoff.clone());
            let sql = expired_key_update_sql(d, &c.name, &fields, &key_name, &t.time_column);
            n += statement(sql, &values)
                .execute(&mut **tx)
                .await
                .map_err(failed(c))?
                .rows_affected();
        }
        if count < PAGE {
            break;
        }
        offset += PAGE;
    }
    Ok(n)
}

/// Runs every due disposal of one dataset: one transaction per table; each table's outcome
/// audited (action `retention.delete` or `retention.anonymize`, resource
/// `dataset:<key>.<table>`, fields: the rules, the columns and `rows:<n>`).
async fn run_dataset(
    state: &AppState,
    ds: &Dataset,
    disposals: &[&TableDisposal],
    at: Timestamp,
    request_id: &str,
    actor: &str,
    lease: &Lease<'_>,
) -> Result<Vec<TableRun>, ApiError> {
    let url = state.config.dataset_connections.get(&ds.key);
    let pool = match url {
        Some(u) => connect(u).await,
        None => None,
    };
    let mut out = Vec::new();
    for t in disposals {
        if !state
            .store
            .renew_retention_job(lease.job, lease.owner, (lease.until)())
            .await?
        {
            return Err(StoreError::Conflict("lease_lost").into());
        }
        let (rows, outcome) = match (&pool, url.and_then(Dialect::of_url)) {
            (None, _) if url.is_none() => (0, "not_connected".to_owned()),
            (Some(pool), Some(d)) => {
                let work = async {
                    let mut tx = pool.begin().await.map_err(|_| RunError::Unreachable)?;
                    let n = dispose_table(state, &mut tx, d, ds, t).await?;
                    tx.commit().await.map_err(|_| RunError::Unreachable)?;
                    Ok::<u64, RunError>(n)
                };
                match tokio::time::timeout(Duration::from_secs(120), work)
                    .await
                    .unwrap_or(Err(RunError::Unreachable))
                {
                    Ok(n) => (n, "ok".to_owned()),
                    Err(RunError::Failed { code, .. }) => {
                        (0, format!("failed:{}", code.unwrap_or_default()))
                    }
                    Err(_) => (0, "unreachable".to_owned()),
                }
            }
            _ => (0, "unreachable".to_owned()),
        };
        let action = if t.delete_rows {
            "retention.delete"
        } else {
            "retention.anonymize"
        };
        let mut draft = AuditDraft::new(
            at,
            request_id,
            actor,
            action,
            format!("dataset:{}.{}", t.dataset, t.table),
            if outcome == "ok" {
                Decision::Allow
            } else {
                Decision::Deny
            },
        );
        draft.fields = t
            .rules
            .iter()
            .map(|r| format!("rule:{r}"))
            .chain(written_columns(ds, t))
            .chain([format!("rows:{rows}"), format!("outcome:{outcome}")])
            .collect();
        state.store.append_audit(draft).await?;
        metrics::counter!("custodian_retention_disposed_total", "target" => "dataset", "action" => action)
            .increment(rows);
        out.push(TableRun {
            disposal: (*t).clone(),
            rows,
            outcome,
        });
    }
    Ok(out)
}

/// Runs retention now: claims the jobs (`vault`, and `dataset:<key>` for each declared
/// dataset) that are due, or all unleased ones with `force`, disposes of what the plan says
/// is due in each, and leaves the jobs due again in [`EVERY`].
pub async fn run(
    state: &AppState,
    request_id: &str,
    actor: &str,
    force: bool,
) -> Result<RunReport, ApiError> {
    let started = std::time::Instant::now();
    let at = state.clock.now();
    let mut names = vec!["vault".to_owned()];
    names.extend(
        state
            .store
            .datasets()
            .await?
            .iter()
            .map(|d| format!("dataset:{}", d.key)),
    );
    let owner = format!("run-{}", uuid::Uuid::now_v7());
    let until = at + LEASE;
    // Claim first, then plan: a plan made before the claim could hold what another
    // process disposed of meanwhile.
    let claimed = state
        .store
        .claim_retention_jobs(&names, &owner, at, until, force)
        .await?;
    let p = plan(state, at).await?;
    // A little under the interval, so the next tick always finds the job due.
    let next = at + EVERY - Duration::from_secs(60);
    let clock = state.clock.clone();
    let until_now = move || clock.now() + LEASE;
    let mut report = RunReport {
        at: Some(at),
        busy: names
            .iter()
            .filter(|n| !claimed.contains(n))
            .cloned()
            .collect(),
        claimed: claimed.clone(),
        ..RunReport::default()
    };
    let result = async {
        if claimed.iter().any(|n| n == "vault") {
            let crypto = state.vault_crypto.clone();
            let pseudonym = move |s: &str| crypto.pseudonym(s);
            let lease = Lease {
                job: "vault",
                owner: &owner,
                until: &until_now,
            };
            let outcome = dispose_vault(
                state.store.as_ref(),
                &pseudonym,
                &p.vault,
                &p.facts,
                at,
                request_id,
                actor,
                Some(&lease),
            )
            .await?;
            for (action, n) in [
                ("crypto_shred", outcome.shredded),
                ("delete", outcome.records_deleted),
                ("anonymize", outcome.records_anonymized),
            ] {
                metrics::counter!("custodian_retention_disposed_total", "target" => "vault", "action" => action)
                    .increment(n);
            }
            let held = p.vault.held.len() + outcome.held as usize;
            metrics::counter!("custodian_retention_held_total").increment(held as u64);
            report.held = held;
            state
                .store
                .finish_retention_job("vault", &owner, at, next, "ok")
                .await?;
            report.vault = Some(outcome);
        }
        let mut by_dataset: BTreeMap<&str, Vec<&TableDisposal>> = BTreeMap::new();
        for t in &p.datasets.disposals {
            by_dataset.entry(t.dataset.as_str()).or_default().push(t);
        }
        for ds in &p.declared {
            let job = format!("dataset:{}", ds.key);
            if !claimed.contains(&job) {
                continue;
            }
            let todo = by_dataset.remove(ds.key.as_str()).unwrap_or_default();
            let lease = Lease {
                job: &job,
                owner: &owner,
                until: &until_now,
            };
            let runs = run_dataset(state, ds, &todo, at, request_id, actor, &lease).await?;
            let outcome = if runs.iter().all(|r| r.outcome == "ok") {
                "ok"
            } else {
                "incomplete"
            };
            state
                .store
                .finish_retention_job(&job, &owner, at, next, outcome)
                .await?;
            report.tables.extend(runs);
        }
        Ok::<(), ApiError>(())
    }
    .await;
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    metrics::counter!("custodian_retention_runs_total", "outcome" => outcome).increment(1);
    metrics::histogram!("custodian_retention_run_seconds").record(started.elapsed().as_secs_f64());
    result?;
    Ok(report)
}

/// Runs retention every [`EVERY`] (the first run a minute after start), as actor `system`;
/// jobs another server is running are left to it.
pub fn spawn_scheduler(state: &AppState) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            let rid = format!("retention-{}", uuid::Uuid::now_v7());
            match run(&state, &rid, "system", false).await {
                Ok(r) if !r.claimed.is_empty() => tracing::info!(
                    jobs = r.claimed.len(),
                    tables = r.tables.len(),
                    "retention run finished"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "retention run failed; retrying later"),
            }
        }
    })
}
