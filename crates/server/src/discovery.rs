//! Scanning a connected database for personal data: its catalog lists the tables and
//! columns, a sample of each table's rows is read as text, and each column is classified
//! from its name and those values (`custodian_scan::column`). The values stay in this
//! function's memory: nothing returns, logs or stores them.

use custodian_core::rights::dataset::{Dialect, columns_sql, is_binary_type, sample_sql};
use custodian_scan::column::{Classification, classify};
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::datasets::RunError;

/// At most this many tables are scanned in one run.
pub const MAX_TABLES: usize = 1_000;
/// Rows sampled per table when the caller does not say.
pub const DEFAULT_SAMPLE: u32 = 100;
/// The most rows a caller may sample per table.
pub const MAX_SAMPLE: u32 = 1_000;

/// One column, classified.
#[derive(Debug)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its SQL type, as the catalog names it.
    pub data_type: String,
    /// Whether it holds bytes (not sampled; judged by its name).
    pub binary: bool,
    /// What it looks like it holds.
    pub class: Option<Classification>,
}

/// One table, with its columns in catalog order.
#[derive(Debug)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Rows read.
    pub rows: u32,
    /// The columns.
    pub columns: Vec<Column>,
}

fn failed(table: &str) -> impl Fn(sqlx::Error) -> RunError + '_ {
    move |e| {
        let code = e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()));
        tracing::warn!(table = %table, code = ?code, "a scan statement failed");
        RunError::Failed {
            collection: table.to_owned(),
            code,
        }
    }
}

/// Lists the database's tables and classifies every column from up to `sample` rows.
pub async fn scan(pool: &AnyPool, dialect: Dialect, sample: u32) -> Result<Vec<Table>, RunError> {
    let catalog = sqlx::query(AssertSqlSafe(columns_sql(dialect)))
        .fetch_all(pool)
        .await
        .map_err(failed("information_schema"))?;
    let mut tables: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for row in &catalog {
        let get = |i: usize| -> Result<String, RunError> {
            row.try_get::<Option<String>, _>(i)
                .map(Option::unwrap_or_default)
                .map_err(failed("information_schema"))
        };
        let (t, c, ty) = (get(0)?, get(1)?, get(2)?);
        match tables.last_mut() {
            Some((name, cols)) if *name == t => cols.push((c, ty)),
            _ => tables.push((t, vec![(c, ty)])),
        }
    }
    tables.truncate(MAX_TABLES);
    let mut out = Vec::with_capacity(tables.len());
    for (name, cols) in tables {
        let sampled: Vec<&str> = cols
            .iter()
            .filter(|(_, ty)| !is_binary_type(ty))
            .map(|(c, _)| c.as_str())
            .collect();
        let rows = if sampled.is_empty() {
            Vec::new()
        } else {
            sqlx::query(AssertSqlSafe(sample_sql(dialect, &name, &sampled, sample)))
                .fetch_all(pool)
                .await
                .map_err(failed(&name))?
                .iter()
                .map(|r| {
                    // A value that does not read as text (bytes in a text column) is skipped,
                    // not a reason to fail the whole scan.
                    (0..sampled.len())
                        .map(|i| r.try_get::<Option<String>, _>(i).unwrap_or(None))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        let mut columns = Vec::with_capacity(cols.len());
        let mut at = 0;
        for (c, ty) in cols {
            let binary = is_binary_type(&ty);
            // A binary column is judged by its name alone.
            let class = if binary {
                classify::<&str>(&c, &[])
            } else {
                let values: Vec<Option<&str>> = rows.iter().map(|r| r[at].as_deref()).collect();
                at += 1;
                classify(&c, &values)
            };
            columns.push(Column {
                name: c,
                data_type: ty,
                binary,
                class,
            });
        }
        out.push(Table {
            name,
            rows: u32::try_from(rows.len()).unwrap_or(u32::MAX),
            columns,
        });
    }
    Ok(out)
}
