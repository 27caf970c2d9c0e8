//! Connected databases as datasets (issue 6, item 5; the model and the traversal plan, no IO):
//! a declaration in the Fides dataset shape names a database's tables ("collections"), their
//! fields with data categories, which fields hold a subject's identities (`email`,
//! `phone_number`, a customer id…) and how tables reference each other. From the identities a
//! request gives, [`plan`] orders the tables so that each is queried with values already
//! found (customers by email, then orders by customer id, then addresses by order id), and
//! says for erasure what happens to each field.
//!
//! The shape read (a subset of fideslang's `Dataset`; unknown keys are refused so that a typo
//! is not silently ignored):
//!
//! ```yaml
//! dataset:
//!   - fides_key: shop
//!     collections:
//!       - name: customers
//!         fields:
//!           - name: id
//!             fides_meta: {primary_key: true}
//!           - name: email
//!             data_categories: [user.contact.email]
//!             fides_meta: {identity: email}
//!       - name: orders
//!         custodian: {erasure: delete_row}
//!         fields:
//!           - name: customer_id
//!             fides_meta:
//!               references: [{dataset: shop, field: customers.id, direction: from}]
//! ```
//!
//! `custodian.erasure` (a Custodian extension) says how erasure treats a field
//! (`null_rewrite`, `mask`, `hash`, `string_rewrite` with `value`, `keep`) or a whole
//! collection (`delete_row`). By default a field with a data category under `user` is
//! rewritten to null, and keys (primary keys, identity fields that other tables point at,
//! fields that reference others) are kept, so rows stay linked until deleted.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::doc::{DocError, err, list, object, only, string};
use crate::taxonomy::{self, Kind};

/// How erasure treats a field, or a whole row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Left as it is.
    Keep,
    /// Set to NULL.
    NullRewrite,
    /// Replaced by asterisks of the same length (text).
    Mask,
    /// Replaced by a keyed hash (HMAC-SHA-256, hex) of the value.
    Hash,
    /// Replaced by a fixed value.
    StringRewrite(String),
    /// The whole row is deleted (collections only).
    DeleteRow,
}

impl Strategy {
    /// The declared name (`custodian.erasure`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::NullRewrite => "null_rewrite",
            Self::Mask => "mask",
            Self::Hash => "hash",
            Self::StringRewrite(_) => "string_rewrite",
            Self::DeleteRow => "delete_row",
        }
    }
}

/// Which way a reference lets values flow (Fides `direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Values of the referenced field find rows here.
    From,
    /// Values here find rows of the referenced collection.
    To,
    /// Both.
    Both,
}

/// A reference from a field to another collection's field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The referenced collection.
    pub collection: String,
    /// The referenced field.
    pub field: String,
    /// Which way values flow.
    pub direction: Direction,
}

/// A field of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The column.
    pub name: String,
    /// Its data categories (taxonomy keys).
    pub categories: Vec<String>,
    /// The identity it holds (`email`, `phone_number`, `customer_id`…), if any.
    pub identity: Option<String>,
    /// Whether it is the primary key.
    pub primary_key: bool,
    /// Its references.
    pub references: Vec<Reference>,
    /// How erasure treats it.
    pub erasure: Strategy,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// The table name.
    pub name: String,
    /// Its fields.
    pub fields: Vec<Field>,
    /// Whether erasure deletes its rows.
    pub delete_rows: bool,
    /// The columns that hold the times retention rules start from.
    pub times: TimeColumns,
}

/// The columns of a table that hold the times retention periods start from (the
/// `custodian.retention` extension of a collection).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeColumns {
    /// When the row was created.
    pub created: Option<String>,
    /// When the subject was last active.
    pub last_activity: Option<String>,
    /// When the relationship ended.
    pub relationship_end: Option<String>,
}

/// Reads a collection's `custodian` extension: `erasure: delete_row` and `retention` (time
/// columns, each a name; checked against the fields once they are read).
fn collection_extension(
    v: Option<&Value>,
    path: &str,
) -> Result<(bool, TimeColumns), DatasetError> {
    let Some(v) = v else {
        return Ok((false, TimeColumns::default()));
    };
    let m = object(v, path)?;
    only(m, path, &["erasure", "retention"])?;
    let delete_rows = match string(m, "erasure", path)? {
        None => false,
        Some("delete_row") => true,
        Some(_) => return Err(err(format!("{path}.erasure"), "collection_strategy")),
    };
    let mut times = TimeColumns::default();
    if let Some(r) = m.get("retention") {
        let rp = format!("{path}.retention");
        let rm = object(r, &rp)?;
        only(rm, &rp, &["created", "last_activity", "relationship_end"])?;
        let col = |k: &str| -> Result<Option<String>, DatasetError> {
            match string(rm, k, &rp)? {
                None => Ok(None),
                Some(c) if valid_identifier(c) => Ok(Some(c.to_owned())),
                Some(_) => Err(err(format!("{rp}.{k}"), "identifier")),
            }
        };
        times = TimeColumns {
            created: col("created")?,
            last_activity: col("last_activity")?,
            relationship_end: col("relationship_end")?,
        };
    }
    Ok((delete_rows, times))
}

impl Collection {
    /// The primary key field, if declared.
    pub fn primary_key(&self) -> Option<&Field> {
        self.fields.iter().find(|f| f.primary_key)
    }
}

/// A database, declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Its key.
    pub key: String,
    /// Its tables.
    pub collections: Vec<Collection>,
}

/// A declaration as stored: the document (JSON) as it was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDataset {
    /// The dataset's `fides_key`.
    pub key: String,
    /// `{"dataset": [ ... ]}` holding this one dataset, as JSON.
    pub declaration: String,
    /// 1 when declared, then one more with each change.
    pub version: i64,
    /// Declared.
    pub created_at: jiff::Timestamp,
    /// Last changed.
    pub updated_at: jiff::Timestamp,
}

/// What is wrong with a declaration (the path names the place; no value is quoted).
pub type DatasetError = DocError;

/// Whether `s` can name a table or column: a letter or `_`, then letters, digits and `_`,
/// at most 63 characters (PostgreSQL's limit).
pub fn valid_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && s.len() <= 63
}

fn identifier(m: &Map<String, Value>, key: &str, path: &str) -> Result<String, DatasetError> {
    let s = string(m, key, path)?.ok_or_else(|| err(format!("{path}.{key}"), "required"))?;
    if !valid_identifier(s) {
        return Err(err(format!("{path}.{key}"), "identifier"));
    }
    Ok(s.to_owned())
}

fn strategy(
    v: Option<&Value>,
    path: &str,
    collection: bool,
) -> Result<Option<Strategy>, DatasetError> {
    let Some(v) = v else { return Ok(None) };
    let m = object(v, path)?;
    only(m, path, &["erasure", "value"])?;
    let name =
        string(m, "erasure", path)?.ok_or_else(|| err(format!("{path}.erasure"), "required"))?;
    let s = match (name, collection) {
        ("delete_row", true) => Strategy::DeleteRow,
        ("keep", false) => Strategy::Keep,
        ("null_rewrite", false) => Strategy::NullRewrite,
        ("mask", false) => Strategy::Mask,
        ("hash", false) => Strategy::Hash,
        ("string_rewrite", false) => Strategy::StringRewrite(
            string(m, "value", path)?
                .ok_or_else(|| err(format!("{path}.value"), "required for string_rewrite"))?
                .to_owned(),
        ),
        (_, true) => return Err(err(format!("{path}.erasure"), "collection_strategy")),
        (_, false) => return Err(err(format!("{path}.erasure"), "field_strategy")),
    };
    if !matches!(s, Strategy::StringRewrite(_)) && m.contains_key("value") {
        return Err(err(format!("{path}.value"), "only for string_rewrite"));
    }
    Ok(Some(s))
}

fn field(
    v: &Value,
    path: &str,
    dataset: &str,
    is_category: &dyn Fn(&str) -> bool,
) -> Result<(Field, Option<Strategy>), DatasetError> {
    let m = object(v, path)?;
    only(
        m,
        path,
        &[
            "name",
            "description",
            "data_categories",
            "fides_meta",
            "custodian",
        ],
    )?;
    let name = identifier(m, "name", path)?;
    let mut categories = Vec::new();
    for (i, c) in list(m, "data_categories", path)?.iter().enumerate() {
        let c = c
            .as_str()
            .filter(|c| is_category(c))
            .ok_or_else(|| err(format!("{path}.data_categories[{i}]"), "taxonomy_key"))?;
        categories.push(c.to_owned());
    }
    let (mut identity, mut primary_key, mut references) = (None, false, Vec::new());
    if let Some(meta) = m.get("fides_meta") {
        let mp = format!("{path}.fides_meta");
        let meta = object(meta, &mp)?;
        only(
            meta,
            &mp,
            &[
                "identity",
                "primary_key",
                "references",
                "data_type",
                "length",
                "return_all_elements",
                "read_only",
            ],
        )?;
        identity = string(meta, "identity", &mp)?
            .map(|i| {
                if valid_identifier(i) {
                    Ok(i.to_owned())
                } else {
                    Err(err(format!("{mp}.identity"), "identifier"))
                }
            })
            .transpose()?;
        primary_key = match meta.get("primary_key") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(err(format!("{mp}.primary_key"), "must be a boolean")),
        };
        for (i, r) in list(meta, "references", &mp)?.iter().enumerate() {
            let rp = format!("{mp}.references[{i}]");
            let rm = object(r, &rp)?;
            only(rm, &rp, &["dataset", "field", "direction"])?;
            if string(rm, "dataset", &rp)?.is_some_and(|d| d != dataset) {
                return Err(err(format!("{rp}.dataset"), "same_dataset_only"));
            }
            let target =
                string(rm, "field", &rp)?.ok_or_else(|| err(format!("{rp}.field"), "required"))?;
            let (collection, field) = target
                .split_once('.')
                .filter(|(c, f)| valid_identifier(c) && valid_identifier(f))
                .ok_or_else(|| err(format!("{rp}.field"), "collection.field"))?;
            let direction = match string(rm, "direction", &rp)? {
                None => Direction::Both,
                Some("from") => Direction::From,
                Some("to") => Direction::To,
                Some(_) => return Err(err(format!("{rp}.direction"), "from_or_to")),
            };
            references.push(Reference {
                collection: collection.to_owned(),
                field: field.to_owned(),
                direction,
            });
        }
    }
    let explicit = strategy(m.get("custodian"), &format!("{path}.custodian"), false)?;
    Ok((
        Field {
            name,
            categories,
            identity,
            primary_key,
            references,
            erasure: Strategy::Keep,
        },
        explicit,
    ))
}

/// Reads declarations (the YAML document, as JSON: `{"dataset": [...]}`), checking names,
/// categories and references, and settles each field's erasure strategy.
pub fn parse(doc: &Value) -> Result<Vec<Dataset>, DatasetError> {
    parse_with(doc, &|c| taxonomy::contains(Kind::DataCategory, c))
}

/// [`parse`], with the data categories an organization added to the taxonomy.
pub fn parse_with(
    doc: &Value,
    is_category: &dyn Fn(&str) -> bool,
) -> Result<Vec<Dataset>, DatasetError> {
    let top = object(doc, "$")?;
    only(top, "$", &["dataset"])?;
    let mut out: Vec<Dataset> = Vec::new();
    for (d, dv) in list(top, "dataset", "$")?.iter().enumerate() {
        let dp = format!("dataset[{d}]");
        let dm = object(dv, &dp)?;
        only(
            dm,
            &dp,
            &[
                "fides_key",
                "name",
                "description",
                "organization_fides_key",
                "tags",
                "data_categories",
                "fides_meta",
                "collections",
            ],
        )?;
        let key = identifier(dm, "fides_key", &dp)?;
        if out.iter().any(|x| x.key == key) {
            return Err(err(format!("{dp}.fides_key"), "duplicate"));
        }
        let mut collections: Vec<Collection> = Vec::new();
        let mut explicit: BTreeMap<(usize, usize), Strategy> = BTreeMap::new();
        for (c, cv) in list(dm, "collections", &dp)?.iter().enumerate() {
            let cp = format!("{dp}.collections[{c}]");
            let cm = object(cv, &cp)?;
            only(
                cm,
                &cp,
                &[
                    "name",
                    "description",
                    "data_categories",
                    "fides_meta",
                    "fields",
                    "custodian",
                ],
            )?;
            let name = identifier(cm, "name", &cp)?;
            if collections.iter().any(|x| x.name == name) {
                return Err(err(format!("{cp}.name"), "duplicate"));
            }
            let (delete_rows, times) =
                collection_extension(cm.get("custodian"), &format!("{cp}.custodian"))?;
            let mut fields: Vec<Field> = Vec::new();
            for (f, fv) in list(cm, "fields", &cp)?.iter().enumerate() {
                let fp = format!("{cp}.fields[{f}]");
                if fv.get("fields").is_some() {
                    return Err(err(format!("{fp}.fields"), "nested_fields_unsupported"));
                }
                let (field, strat) = field(fv, &fp, &key, is_category)?;
                if fields.iter().any(|x| x.name == field.name) {
                    return Err(err(format!("{fp}.name"), "duplicate"));
                }
                if let Some(s) = strat {
                    explicit.insert((c, f), s);
                }
                fields.push(field);
            }
            if fields.is_empty() {
                return Err(err(format!("{cp}.fields"), "at_least_one"));
            }
            for (k, c) in [
                ("created", &times.created),
                ("last_activity", &times.last_activity),
                ("relationship_end", &times.relationship_end),
            ] {
                if c.as_ref()
                    .is_some_and(|c| !fields.iter().any(|f| &f.name == c))
                {
                    return Err(err(
                        format!("{cp}.custodian.retention.{k}"),
                        "not a declared field",
                    ));
                }
            }
            collections.push(Collection {
                name,
                fields,
                delete_rows,
                times,
            });
        }
        // References must point at declared fields; fields others point at are keys.
        let mut pointed: BTreeSet<(String, String)> = BTreeSet::new();
        for (c, col) in collections.iter().enumerate() {
            for (f, fld) in col.fields.iter().enumerate() {
                for (i, r) in fld.references.iter().enumerate() {
                    let found = collections
                        .iter()
                        .find(|x| x.name == r.collection)
                        .is_some_and(|x| x.fields.iter().any(|y| y.name == r.field));
                    if !found {
                        return Err(err(
                            format!(
                                "{dp}.collections[{c}].fields[{f}].fides_meta.references[{i}].field"
                            ),
                            "unknown_field",
                        ));
                    }
                    pointed.insert((r.collection.clone(), r.field.clone()));
                }
            }
        }
        for (c, col) in collections.iter_mut().enumerate() {
            let name = col.name.clone();
            for (f, fld) in col.fields.iter_mut().enumerate() {
                let is_key = fld.primary_key
                    || !fld.references.is_empty()
                    || pointed.contains(&(name.clone(), fld.name.clone()));
                fld.erasure = match explicit.remove(&(c, f)) {
                    Some(s) if is_key && s != Strategy::Keep => {
                        return Err(err(
                            format!("{dp}.collections[{c}].fields[{f}].custodian.erasure"),
                            "keys_are_kept_or_deleted_with_the_row",
                        ));
                    }
                    Some(s) => s,
                    None if is_key => Strategy::Keep,
                    None if fld
                        .categories
                        .iter()
                        .any(|k| k == "user" || k.starts_with("user.")) =>
                    {
                        Strategy::NullRewrite
                    }
                    None => Strategy::Keep,
                };
            }
        }
        for (c, col) in collections.iter().enumerate() {
            if col.fields.iter().filter(|f| f.primary_key).count() > 1 {
                return Err(err(
                    format!("{dp}.collections[{c}].fields"),
                    "one_primary_key_at_most",
                ));
            }
            // Masking and hashing read each row's value and write it back by its key.
            if col.primary_key().is_none()
                && let Some(f) = col
                    .fields
                    .iter()
                    .position(|f| matches!(f.erasure, Strategy::Mask | Strategy::Hash))
            {
                return Err(err(
                    format!("{dp}.collections[{c}].fields[{f}].custodian.erasure"),
                    "mask_and_hash_need_a_primary_key",
                ));
            }
        }
        out.push(Dataset { key, collections });
    }
    if out.is_empty() {
        return Err(err("$.dataset", "at_least_one"));
    }
    Ok(out)
}

/// Where a lookup's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An identity the request gives (`email`…).
    Identity(String),
    /// The values found in a field of a collection queried earlier.
    Found {
        /// The collection.
        collection: String,
        /// The field.
        field: String,
    },
}

/// One condition of a query: `field IN (values of source)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The field compared.
    pub field: String,
    /// Where the values come from.
    pub source: Source,
}

/// One table to query, with the conditions (OR-ed) that find the subject's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The collection.
    pub collection: String,
    /// Its conditions.
    pub lookups: Vec<Lookup>,
}

/// The order tables are queried in, and the tables no identity reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// In order: each step's sources are identities or steps before it.
    pub steps: Vec<Step>,
    /// Collections no identity given reaches (their data, if any, is not found).
    pub unreachable: Vec<String>,
}

/// Edges along which values flow: (from collection, from field) → (to collection, to field).
fn edges(ds: &Dataset) -> Vec<((String, String), (String, String))> {
    let mut out = Vec::new();
    for c in &ds.collections {
        for f in &c.fields {
            for r in &f.references {
                let here = (c.name.clone(), f.name.clone());
                let there = (r.collection.clone(), r.field.clone());
                if matches!(r.direction, Direction::From | Direction::Both) {
                    out.push((there.clone(), here.clone()));
                }
                if matches!(r.direction, Direction::To | Direction::Both) {
                    out.push((here, there));
                }
            }
        }
    }
    out
}

/// Orders the tables of `ds` from the identities given (breadth first: a table is queried
/// once some identity or earlier table can find its rows, with every such condition).
/// Erasure runs the steps in reverse, so rows that point at others go first.
pub fn plan(ds: &Dataset, identities: &[&str]) -> Plan {
    let edges = edges(ds);
    let mut done: Vec<String> = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    loop {
        let mut progressed = false;
        for c in &ds.collections {
            if done.contains(&c.name) {
                continue;
            }
            let mut lookups: Vec<Lookup> = c
                .fields
                .iter()
                .filter_map(|f| {
                    let id = f.identity.as_deref()?;
                    identities.contains(&id).then(|| Lookup {
                        field: f.name.clone(),
                        source: Source::Identity(id.to_owned()),
                    })
                })
                .collect();
            for ((fc, ff), (tc, tf)) in &edges {
                if *tc == c.name && done.contains(fc) {
                    let l = Lookup {
                        field: tf.clone(),
                        source: Source::Found {
                            collection: fc.clone(),
                            field: ff.clone(),
                        },
                    };
                    if !lookups.contains(&l) {
                        lookups.push(l);
                    }
                }
            }
            if !lookups.is_empty() {
                done.push(c.name.clone());
                steps.push(Step {
                    collection: c.name.clone(),
                    lookups,
                });
                progressed = true;
                // Breadth first: restart so earlier-declared tables reachable now go next.
                break;
            }
        }
        if !progressed {
            break;
        }
    }
    Plan {
        unreachable: ds
            .collections
            .iter()
            .filter(|c| !done.contains(&c.name))
            .map(|c| c.name.clone())
            .collect(),
        steps,
    }
}

/// A masked text: as many `*` as it has characters.
pub fn mask(s: &str) -> String {
    "*".repeat(s.chars().count())
}

/// The SQL dialect of a connected database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: `"name"`, `$1`.
    Postgres,
    /// MySQL and MariaDB: `` `name` ``, `?`.
    MySql,
    /// SQLite: `"name"`, `?`.
    Sqlite,
}

impl Dialect {
    /// The dialect a connection URL speaks, by its scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0;
        match scheme {
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::MySql),
            "sqlite" => Some(Self::Sqlite),
            _ => None,
        }
    }

    /// A quoted identifier (names are checked by [`valid_identifier`] when declared, so
    /// they hold no quote).
    fn ident(self, name: &str) -> String {
        match self {
            Self::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        }
    }

    /// The `n`th parameter (from 1).
    fn param(self, n: usize) -> String {
        match self {
            Self::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        }
    }

    /// An expression read as text, so that every column compares with and reads as text.
    fn text(self, expr: &str) -> String {
        match self {
            Self::MySql => format!("CAST({expr} AS CHAR)"),
            _ => format!("CAST({expr} AS TEXT)"),
        }
    }
}

/// Which rows a statement touches: those whose `field` (read as text; lower-cased when
/// `fold_case`, for email identities) is one of `n` values, bound after any others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    /// The column compared.
    pub field: &'a str,
    /// Compare case-insensitively (the values are given lower-cased).
    pub fold_case: bool,
    /// How many values.
    pub n: usize,
}

fn where_clause(d: Dialect, m: &Match<'_>, first_param: usize) -> String {
    let mut lhs = d.text(&d.ident(m.field));
    if m.fold_case {
        lhs = format!("LOWER({lhs})");
    }
    let params: Vec<String> = (0..m.n).map(|i| d.param(first_param + i)).collect();
    format!("{lhs} IN ({})", params.join(", "))
}

/// "The time in `column` is at or before the instant bound as parameter `n`" (the instant
/// is written by [`time_param`]). Time columns are date or time types; in SQLite, ISO 8601
/// text (`datetime()` reads both, with or without the `T`).
fn expired_clause(d: Dialect, column: &str, n: usize) -> String {
    let col = d.ident(column);
    let p = d.param(n);
    match d {
        Dialect::Postgres => format!("{col} <= CAST({p} AS TIMESTAMPTZ)"),
        Dialect::MySql => format!("{col} <= CAST({p} AS DATETIME)"),
        Dialect::Sqlite => format!("datetime({col}) <= datetime({p})"),
    }
}

/// Counts the rows of `table` (`n`) and the distinct values of `distinct` among them
/// (`people`; the row count again when there is no such column), of the rows whose `created`
/// column is at or before the instant (parameter 1) when one is given, for the incident
/// register's affected subjects.
pub fn affected_count_sql(
    d: Dialect,
    table: &str,
    distinct: Option<&str>,
    created: Option<&str>,
) -> String {
    let people = match distinct {
        Some(c) => format!("COUNT(DISTINCT {})", d.ident(c)),
        None => "COUNT(*)".to_owned(),
    };
    let filter = created
        .map(|c| format!(" WHERE {}", expired_clause(d, c, 1)))
        .unwrap_or_default();
    format!(
        "SELECT COUNT(*) AS n, {people} AS people FROM {}{filter}",
        d.ident(table)
    )
}

/// An instant as the dialect's time parameter (UTC; the server sets its sessions to UTC).
pub fn time_param(d: Dialect, t: jiff::Timestamp) -> String {
    let utc = t.strftime("%Y-%m-%d %H:%M:%S").to_string();
    match d {
        Dialect::Postgres => format!("{utc}+00"),
        _ => utc,
    }
}

/// Reads every declared field of `c` as text, of the rows whose `column` is at or before the
/// instant (parameter 1), in the order of `key`, `limit` rows from `offset` on (pages stay
/// stable: anonymizing changes neither the key nor the time).
pub fn expired_select_sql(
    d: Dialect,
    c: &Collection,
    column: &str,
    key: &str,
    limit: usize,
    offset: usize,
) -> String {
    let cols: Vec<String> = c
        .fields
        .iter()
        .map(|f| format!("{} AS {}", d.text(&d.ident(&f.name)), d.ident(&f.name)))
        .collect();
    format!(
        "SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {limit} OFFSET {offset}",
        cols.join(", "),
        d.ident(&c.name),
        expired_clause(d, column, 1),
        d.ident(key)
    )
}

/// Sets `fields` as [`update_sql`] does in the one row whose `key` (as text) is the parameter
/// after the set values, if its `column` is still at or before the instant (the parameter
/// after that): a row that became active again meanwhile is left alone.
pub fn expired_key_update_sql(
    d: Dialect,
    table: &str,
    fields: &[(&str, bool)],
    key: &str,
    column: &str,
) -> String {
    let m = Match {
        field: key,
        fold_case: false,
        n: 1,
    };
    let set_params = fields.iter().filter(|(_, p)| *p).count();
    format!(
        "{} AND {}",
        update_sql(d, table, fields, &m),
        expired_clause(d, column, set_params + 2)
    )
}

/// Deletes the rows of `table` whose `column` is at or before the instant (parameter 1).
pub fn expired_delete_sql(d: Dialect, table: &str, column: &str) -> String {
    format!(
        "DELETE FROM {} WHERE {}",
        d.ident(table),
        expired_clause(d, column, 1)
    )
}

/// Sets `fields` as [`update_sql`] does in the rows whose `column` is at or before the
/// instant, bound after the set values.
pub fn expired_update_sql(
    d: Dialect,
    table: &str,
    fields: &[(&str, bool)],
    column: &str,
) -> String {
    let mut n = 0;
    let sets: Vec<String> = fields
        .iter()
        .map(|(name, param)| {
            if *param {
                n += 1;
                format!("{} = {}", d.ident(name), d.param(n))
            } else {
                format!("{} = NULL", d.ident(name))
            }
        })
        .collect();
    format!(
        "UPDATE {} SET {} WHERE {}",
        d.ident(table),
        sets.join(", "),
        expired_clause(d, column, n + 1)
    )
}

/// Reads the declared fields of `c`, as text and in declaration order, of the rows matched
/// (at most `limit`).
pub fn select_sql(d: Dialect, c: &Collection, m: &Match<'_>, limit: usize) -> String {
    let cols: Vec<String> = c
        .fields
        .iter()
        .map(|f| format!("{} AS {}", d.text(&d.ident(&f.name)), d.ident(&f.name)))
        .collect();
    format!(
        "SELECT {} FROM {} WHERE {} LIMIT {limit}",
        cols.join(", "),
        d.ident(&c.name),
        where_clause(d, m, 1)
    )
}

/// Sets `fields` (`true`: to the next parameter; `false`: to NULL) in the rows of `table`
/// matched; the values of the set fields are bound first, then the match's.
pub fn update_sql(d: Dialect, table: &str, fields: &[(&str, bool)], m: &Match<'_>) -> String {
    let mut n = 0;
    let sets: Vec<String> = fields
        .iter()
        .map(|(name, param)| {
            if *param {
                n += 1;
                format!("{} = {}", d.ident(name), d.param(n))
            } else {
                format!("{} = NULL", d.ident(name))
            }
        })
        .collect();
    format!(
        "UPDATE {} SET {} WHERE {}",
        d.ident(table),
        sets.join(", "),
        where_clause(d, m, n + 1)
    )
}

/// Deletes the rows of `table` matched.
pub fn delete_sql(d: Dialect, table: &str, m: &Match<'_>) -> String {
    format!(
        "DELETE FROM {} WHERE {}",
        d.ident(table),
        where_clause(d, m, 1)
    )
}

/// Checks that a table has the declared columns, reading none of its rows.
pub fn probe_sql(d: Dialect, c: &Collection) -> String {
    let cols: Vec<String> = c.fields.iter().map(|f| d.ident(&f.name)).collect();
    format!(
        "SELECT {} FROM {} WHERE 1 = 0",
        cols.join(", "),
        d.ident(&c.name)
    )
}

/// Lists the base tables and their columns in the connected database's default schema (the
/// current schema on PostgreSQL, the current database on MySQL and MariaDB, `main` on
/// SQLite): rows of table, column and SQL type, each as text, in table and column order.
pub fn columns_sql(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => {
            "SELECT CAST(c.table_name AS TEXT) AS t, CAST(c.column_name AS TEXT) AS c, \
             CAST(c.data_type AS TEXT) AS ty FROM information_schema.columns c \
             JOIN information_schema.tables t ON t.table_schema = c.table_schema \
             AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
             ORDER BY c.table_name, c.ordinal_position"
        }
        Dialect::MySql => {
            "SELECT CAST(c.TABLE_NAME AS CHAR) AS t, CAST(c.COLUMN_NAME AS CHAR) AS c, \
             CAST(c.DATA_TYPE AS CHAR) AS ty FROM information_schema.COLUMNS c \
             JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA \
             AND t.TABLE_NAME = c.TABLE_NAME \
             WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
             ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION"
        }
        Dialect::Sqlite => {
            "SELECT m.name AS t, p.name AS c, p.type AS ty FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             ORDER BY m.name, p.cid"
        }
    }
}

/// Whether a column of this SQL type holds bytes rather than text (not sampled).
pub fn is_binary_type(sql_type: &str) -> bool {
    let t = sql_type.to_ascii_lowercase();
    ["blob", "bytea", "binary"].iter().any(|b| t.contains(b))
}

/// How many characters of each sampled value are read.
pub const SAMPLE_CHARS: usize = 4096;

/// Reads up to `limit` rows of `columns` of `table`, each column as text (its first
/// [`SAMPLE_CHARS`] characters). Names come from
/// the database's own catalog and may hold anything: each is quoted with its quote
/// character doubled.
pub fn sample_sql(d: Dialect, table: &str, columns: &[&str], limit: u32) -> String {
    let quote = |name: &str| match d {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    };
    // Each value is cut to its first `SAMPLE_CHARS` characters by the database, so a table
    // of large documents cannot fill the server's memory.
    let cols: Vec<String> = columns
        .iter()
        .map(|c| {
            let text = d.text(&quote(c));
            match d {
                Dialect::MySql => format!("LEFT({text}, {SAMPLE_CHARS})"),
                _ => format!("SUBSTR({text}, 1, {SAMPLE_CHARS})"),
            }
        })
        .collect();
    format!(
        "SELECT {} FROM {} LIMIT {limit}",
        cols.join(", "),
        quote(table)
    )
}

/// What erasure writes into one field of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// NULL.
    Null,
    /// This text.
    Value(String),
}

/// The writes erasure makes to one row of `c` read as `values` (declaration order, as
/// text): `(field index, write)` for each field whose strategy changes it. `hash` gives the
/// keyed hash of a field's value. A NULL stays NULL (nothing to mask or hash) except under
/// `string_rewrite`.
pub fn row_writes<E>(
    c: &Collection,
    values: &[Option<String>],
    hash: &dyn Fn(&Field, &str) -> Result<String, E>,
) -> Result<Vec<(usize, Write)>, E> {
    let mut out = Vec::new();
    for (i, f) in c.fields.iter().enumerate() {
        let v = values.get(i).and_then(|v| v.as_deref());
        let w = match (&f.erasure, v) {
            (Strategy::Keep | Strategy::DeleteRow, _) => None,
            (Strategy::StringRewrite(s), _) => Some(Write::Value(s.clone())),
            (_, None) => None,
            (Strategy::NullRewrite, Some(_)) => Some(Write::Null),
            (Strategy::Mask, Some(v)) => Some(Write::Value(mask(v))),
            (Strategy::Hash, Some(v)) => Some(Write::Value(hash(f, v)?)),
        };
        if let Some(w) = w {
            out.push((i, w));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shop() -> Value {
        json!({"dataset": [{
            "fides_key": "shop",
            "collections": [
                {"name": "addresses", "fields": [
                    {"name": "id", "fides_meta": {"primary_key": true}},
                    {"name": "order_id", "fides_meta": {"references": [
                        {"dataset": "shop", "field": "orders.id", "direction": "from"}]}},
                    {"name": "street", "data_categories": ["user.contact.address.street"]},
                    {"name": "city", "data_categories": ["user.contact.address.city"],
                     "custodian": {"erasure": "string_rewrite", "value": "erased"}},
                ]},
                {"name": "orders", "custodian": {"erasure": "delete_row"}, "fields": [
                    {"name": "id", "fides_meta": {"primary_key": true}},
                    {"name": "customer_id", "fides_meta": {"references": [
                        {"dataset": "shop", "field": "customers.id", "direction": "from"}]}},
                    {"name": "total"},
                ]},
                {"name": "customers", "fields": [
                    {"name": "id", "fides_meta": {"primary_key": true, "identity": "customer_id"}},
                    {"name": "email", "data_categories": ["user.contact.email"],
                     "fides_meta": {"identity": "email"}},
                    {"name": "phone", "data_categories": ["user.contact.phone_number"],
                     "custodian": {"erasure": "hash"}},
                    {"name": "name", "data_categories": ["user.name"], "custodian": {"erasure": "mask"}},
                ]},
                {"name": "audit_trail", "fields": [{"name": "note"}]},
            ]
        }]})
    }

    fn parsed() -> Dataset {
        parse(&shop()).unwrap_or_else(|e| panic!("{e}")).remove(0)
    }

    fn field<'a>(ds: &'a Dataset, c: &str, f: &str) -> &'a Field {
        ds.collections
            .iter()
            .find(|x| x.name == c)
            .and_then(|x| x.fields.iter().find(|y| y.name == f))
            .unwrap_or_else(|| panic!("{c}.{f}"))
    }

    #[test]
    fn a_fides_dataset_is_read_with_strategies_settled() {
        let ds = parsed();
        assert_eq!(ds.key, "shop");
        assert_eq!(
            field(&ds, "customers", "email").erasure,
            Strategy::NullRewrite,
            "an identity nobody points at is user data like any other"
        );
        assert_eq!(
            field(&ds, "customers", "id").erasure,
            Strategy::Keep,
            "keys stay"
        );
        assert_eq!(field(&ds, "customers", "phone").erasure, Strategy::Hash);
        assert_eq!(field(&ds, "customers", "name").erasure, Strategy::Mask);
        assert_eq!(
            field(&ds, "addresses", "street").erasure,
            Strategy::NullRewrite,
            "user data is nulled by default"
        );
        assert_eq!(
            field(&ds, "addresses", "city").erasure,
            Strategy::StringRewrite("erased".into())
        );
        assert_eq!(
            field(&ds, "orders", "total").erasure,
            Strategy::Keep,
            "no category: kept"
        );
        assert!(
            ds.collections
                .iter()
                .any(|c| c.name == "orders" && c.delete_rows)
        );
        assert_eq!(
            ds.collections[2].primary_key().map(|f| f.name.as_str()),
            Some("id")
        );
    }

    #[test]
    fn tables_are_planned_from_the_identities_along_references() {
        let ds = parsed();
        let p = plan(&ds, &["email"]);
        let order: Vec<&str> = p.steps.iter().map(|s| s.collection.as_str()).collect();
        assert_eq!(order, ["customers", "orders", "addresses"]);
        assert_eq!(
            p.steps[1].lookups,
            [Lookup {
                field: "customer_id".into(),
                source: Source::Found {
                    collection: "customers".into(),
                    field: "id".into()
                }
            }]
        );
        assert_eq!(p.unreachable, ["audit_trail"]);
        // With both identities, customers is found by either (OR).
        let p = plan(&ds, &["email", "customer_id"]);
        assert_eq!(p.steps[0].lookups.len(), 2);
        // With an identity no table holds, nothing is reachable.
        let p = plan(&ds, &["phone_number"]);
        assert!(p.steps.is_empty());
        assert_eq!(p.unreachable.len(), 4);
    }

    #[test]
    fn references_without_a_direction_flow_both_ways() {
        let doc = json!({"dataset": [{"fides_key": "d", "collections": [
            {"name": "a", "fields": [{"name": "x", "fides_meta": {"identity": "email"}},
                                     {"name": "k"}]},
            {"name": "b", "fields": [{"name": "k", "fides_meta": {"references": [{"field": "a.k"}]}}]},
        ]}]});
        let ds = parse(&doc).unwrap_or_else(|e| panic!("{e}")).remove(0);
        let order: Vec<String> = plan(&ds, &["email"])
            .steps
            .into_iter()
            .map(|s| s.collection)
            .collect();
        assert_eq!(order, ["a", "b"]);
        assert_eq!(
            field(&ds, "a", "k").erasure,
            Strategy::Keep,
            "pointed at: a key"
        );
    }

    #[test]
    fn bad_declarations_name_the_place_and_rule() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!({"datasets": []}), "$.datasets", "unknown key"),
            (json!({"dataset": []}), "$.dataset", "at_least_one"),
            (
                json!({"dataset": [{"fides_key": "a b", "collections": []}]}),
                "dataset[0].fides_key",
                "identifier",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x", "data_categories": ["user.nonsense"]}]}]}]}),
                "dataset[0].collections[0].fields[0].data_categories[0]",
                "taxonomy_key",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x; DROP TABLE t"}]}]}]}),
                "dataset[0].collections[0].fields[0].name",
                "identifier",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x", "fides_meta": {"references": [{"field": "u.y"}]}}]}]}]}),
                "dataset[0].collections[0].fields[0].fides_meta.references[0].field",
                "unknown_field",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x", "fides_meta": {"references": [{"dataset": "other", "field": "t.x"}]}}]}]}]}),
                "dataset[0].collections[0].fields[0].fides_meta.references[0].dataset",
                "same_dataset_only",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x", "custodian": {"erasure": "delete_row"}}]}]}]}),
                "dataset[0].collections[0].fields[0].custodian.erasure",
                "field_strategy",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x", "fides_meta": {"primary_key": true}, "custodian": {"erasure": "hash"}}]}]}]}),
                "dataset[0].collections[0].fields[0].custodian.erasure",
                "keys_are_kept_or_deleted_with_the_row",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x", "custodian": {"erasure": "string_rewrite"}}]}]}]}),
                "dataset[0].collections[0].fields[0].custodian.value",
                "required for string_rewrite",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x", "fields": [{"name": "y"}]}]}]}]}),
                "dataset[0].collections[0].fields[0].fields",
                "nested_fields_unsupported",
            ),
            (
                json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
                {"name": "x"}, {"name": "x"}]}]}]}),
                "dataset[0].collections[0].fields[1].name",
                "duplicate",
            ),
        ];
        for (doc, path, rule) in cases {
            assert_eq!(parse(&doc), Err(err(path, rule)), "{doc}");
        }
    }

    #[test]
    fn statements_quote_names_and_number_parameters_per_dialect() {
        let ds = parsed();
        let customers = &ds.collections[2];
        let by_email = Match {
            field: "email",
            fold_case: true,
            n: 2,
        };
        assert_eq!(
            select_sql(Dialect::Postgres, customers, &by_email, 100),
            "SELECT CAST(\"id\" AS TEXT) AS \"id\", CAST(\"email\" AS TEXT) AS \"email\", \
             CAST(\"phone\" AS TEXT) AS \"phone\", CAST(\"name\" AS TEXT) AS \"name\" \
             FROM \"customers\" WHERE LOWER(CAST(\"email\" AS TEXT)) IN ($1, $2) LIMIT 100"
        );
        let by_id = Match {
            field: "id",
            fold_case: false,
            n: 1,
        };
        assert_eq!(
            update_sql(
                Dialect::Postgres,
                "customers",
                &[("email", false), ("name", true), ("phone", true)],
                &by_id
            ),
            "UPDATE \"customers\" SET \"email\" = NULL, \"name\" = $1, \"phone\" = $2 \
             WHERE CAST(\"id\" AS TEXT) IN ($3)"
        );
        assert_eq!(
            update_sql(Dialect::MySql, "customers", &[("name", true)], &by_id),
            "UPDATE `customers` SET `name` = ? WHERE CAST(`id` AS CHAR) IN (?)"
        );
        assert_eq!(
            delete_sql(Dialect::Sqlite, "orders", &by_id),
            "DELETE FROM \"orders\" WHERE CAST(\"id\" AS TEXT) IN (?)"
        );
        assert_eq!(
            probe_sql(Dialect::MySql, &ds.collections[1]),
            "SELECT `id`, `customer_id`, `total` FROM `orders` WHERE 1 = 0"
        );
        assert_eq!(
            Dialect::of_url("postgresql://u@h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::of_url("mariadb://h/db"), Some(Dialect::MySql));
        assert_eq!(Dialect::of_url("sqlite:shop.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("redis://h"), None);
    }

    #[test]
    fn erasure_writes_follow_each_fields_strategy() {
        let ds = parsed();
        let customers = &ds.collections[2];
        let hash = |f: &Field, v: &str| Ok::<_, ()>(format!("h({}:{v})", f.name));
        let row = [
            Some("7".to_owned()),
            Some("a@example.com".to_owned()),
            Some("+33612345678".to_owned()),
            Some("Ada".to_owned()),
        ];
        assert_eq!(
            row_writes(customers, &row, &hash).unwrap_or_default(),
            [
                (1, Write::Null),
                (2, Write::Value("h(phone:+33612345678)".into())),
                (3, Write::Value("***".into())),
            ]
        );
        // NULLs stay; nothing to write when every field is already empty.
        let empty = [Some("7".to_owned()), None, None, None];
        assert_eq!(row_writes(customers, &empty, &hash), Ok(vec![]));
        // A rewrite always writes.
        let addresses = &ds.collections[0];
        assert_eq!(
            row_writes(addresses, &[None, None, None, None], &hash),
            Ok(vec![(3, Write::Value("erased".into()))])
        );
    }

    #[test]
    fn masking_needs_a_key_and_a_table_one_key() {
        let doc = json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
            {"name": "x", "data_categories": ["user.name"], "custodian": {"erasure": "mask"}}]}]}]});
        assert_eq!(
            parse(&doc),
            Err(err(
                "dataset[0].collections[0].fields[0].custodian.erasure",
                "mask_and_hash_need_a_primary_key"
            ))
        );
        let doc = json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
            {"name": "x", "fides_meta": {"primary_key": true}},
            {"name": "y", "fides_meta": {"primary_key": true}}]}]}]});
        assert_eq!(
            parse(&doc),
            Err(err(
                "dataset[0].collections[0].fields",
                "one_primary_key_at_most"
            ))
        );
    }

    #[test]
    fn retention_statements_compare_times_per_dialect() {
        let ds = parsed();
        let c = ds
            .collections
            .iter()
            .find(|c| c.name == "customers")
            .unwrap();
        assert_eq!(
            expired_delete_sql(Dialect::Postgres, "orders", "created"),
            "DELETE FROM \"orders\" WHERE \"created\" <= CAST($1 AS TIMESTAMPTZ)"
        );
        assert_eq!(
            expired_update_sql(Dialect::MySql, "t", &[("a", false), ("b", true)], "seen"),
            "UPDATE `t` SET `a` = NULL, `b` = ? WHERE `seen` <= CAST(? AS DATETIME)"
        );
        assert!(
            expired_select_sql(Dialect::Sqlite, c, "email", "id", 10, 20).ends_with(
                "FROM \"customers\" WHERE datetime(\"email\") <= datetime(?) ORDER BY \"id\" LIMIT 10 OFFSET 20"
            )
        );
        assert_eq!(
            expired_key_update_sql(
                Dialect::Postgres,
                "t",
                &[("a", true), ("b", false)],
                "id",
                "seen"
            ),
            "UPDATE \"t\" SET \"a\" = $1, \"b\" = NULL WHERE CAST(\"id\" AS TEXT) IN ($2) AND \"seen\" <= CAST($3 AS TIMESTAMPTZ)"
        );
        let t = jiff::Timestamp::from_second(1_767_225_600).unwrap();
        assert_eq!(time_param(Dialect::Postgres, t), "2026-01-01 00:00:00+00");
        assert_eq!(time_param(Dialect::MySql, t), "2026-01-01 00:00:00");
    }

    #[test]
    fn identifiers_and_masks() {
        assert!(valid_identifier("order_items2") && valid_identifier("_t"));
        assert!(!valid_identifier("2t") && !valid_identifier("a-b") && !valid_identifier(""));
        assert!(!valid_identifier(&"a".repeat(64)));
        assert_eq!(mask("Grâce"), "*****");
    }

    #[test]
    fn samples_quote_catalog_names() {
        assert_eq!(
            sample_sql(Dialect::Postgres, "od\"d", &["a", "b c"], 100),
            "SELECT SUBSTR(CAST(\"a\" AS TEXT), 1, 4096), SUBSTR(CAST(\"b c\" AS TEXT), 1, 4096) FROM \"od\"\"d\" LIMIT 100"
        );
        assert_eq!(
            sample_sql(Dialect::MySql, "t`x", &["e"], 5),
            "SELECT LEFT(CAST(`e` AS CHAR), 4096) FROM `t``x` LIMIT 5"
        );
        assert!(is_binary_type("BYTEA") && is_binary_type("longblob") && !is_binary_type("text"));
    }
}
