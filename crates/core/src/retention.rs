//! Retention (the pure core; no IO): rules that say how long data of some categories is kept
//! and what happens to it then, legal holds that stop disposal, and the disposal plans made
//! from plain facts about the vault's records and the connected databases' tables.
//!
//! A rule is read from a document such as:
//!
//! ```yaml
//! key: marketing-contacts
//! description: Contact details for newsletters, two years after consent is withdrawn.
//! data_categories: [user.contact]
//! data_uses: [marketing]
//! consent_purpose: newsletter
//! period: P2Y
//! trigger: consent_withdrawal
//! action: crypto_shred
//! ```
//!
//! Its period starts at the trigger's time (a record's creation, the subject's last activity,
//! the end of the relationship, or the withdrawal of consent for `consent_purpose`); once it
//! has run, [`plan_vault`] and [`plan_datasets`] say what to shred, delete or anonymize, and
//! what an active [`Hold`] keeps back. The plans are deterministic: the same facts at the same
//! instant give the same plan.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde_json::Value;

use crate::doc::{self, DocError};
use crate::taxonomy;

pub mod service;

/// What starts a rule's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// The record's creation.
    RecordCreation,
    /// The subject's latest change to any of their records.
    LastActivity,
    /// The end of the business relationship with the subject.
    EndOfRelationship,
    /// The subject's withdrawal of consent for the rule's consent purpose.
    ConsentWithdrawal,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Self; 4] = [
        Self::RecordCreation,
        Self::LastActivity,
        Self::EndOfRelationship,
        Self::ConsentWithdrawal,
    ];

    /// The declared and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RecordCreation => "record_creation",
            Self::LastActivity => "last_activity",
            Self::EndOfRelationship => "end_of_relationship",
            Self::ConsentWithdrawal => "consent_withdrawal",
        }
    }

    /// From [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What happens to data once its period has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// The subject's data key is destroyed, so none of their data opens again.
    CryptoShred,
    /// The records are deleted.
    Delete,
    /// The covered fields are removed and the rest of the record is kept.
    Anonymize,
}

impl Action {
    /// Every action.
    pub const ALL: [Self; 3] = [Self::CryptoShred, Self::Delete, Self::Anonymize];

    /// The declared and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CryptoShred => "crypto_shred",
            Self::Delete => "delete",
            Self::Anonymize => "anonymize",
        }
    }

    /// From [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The unit of a [`Period`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    /// Days (`D`).
    Day,
    /// Weeks of seven days (`W`).
    Week,
    /// Calendar months (`M`).
    Month,
    /// Calendar years (`Y`).
    Year,
}

impl Unit {
    /// Every unit.
    pub const ALL: [Self; 4] = [Self::Day, Self::Week, Self::Month, Self::Year];

    /// The ISO 8601 designator.
    pub fn designator(self) -> char {
        match self {
            Self::Day => 'D',
            Self::Week => 'W',
            Self::Month => 'M',
            Self::Year => 'Y',
        }
    }

    /// The largest amount [`Period::parse`] accepts: about a hundred years.
    pub fn max_amount(self) -> u32 {
        match self {
            Self::Day => 36_500,
            Self::Week => 5_200,
            Self::Month => 1_200,
            Self::Year => 100,
        }
    }
}

/// Why a period was refused (a short rule; the input is never quoted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PeriodError(pub &'static str);

/// A retention period: an ISO 8601 duration of one component (`P30D`, `P2W`, `P6M`, `P7Y`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// How many units (1 to [`Unit::max_amount`] when parsed).
    pub amount: u32,
    /// The unit.
    pub unit: Unit,
}

impl Period {
    /// Reads `PnD`, `PnW`, `PnM` or `PnY`: uppercase, one component, an amount from 1 to about
    /// a hundred years ([`Unit::max_amount`]) without leading zeros, so that [`fmt::Display`]
    /// gives the same string back.
    pub fn parse(s: &str) -> Result<Self, PeriodError> {
        const SYNTAX: PeriodError =
            PeriodError("must be an ISO 8601 period of one component, such as P30D or P7Y");
        let body = s.strip_prefix('P').ok_or(SYNTAX)?;
        let unit = body
            .bytes()
            .last()
            .and_then(|b| {
                Unit::ALL
                    .into_iter()
                    .find(|u| u.designator() == char::from(b))
            })
            .ok_or(SYNTAX)?;
        // INVARIANT: the last byte is an ASCII designator, so this is a char boundary.
        let digits = &body[..body.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SYNTAX);
        }
        if digits.bytes().all(|b| b == b'0') {
            return Err(PeriodError("must be at least 1"));
        }
        if digits.starts_with('0') {
            return Err(PeriodError("must not have leading zeros"));
        }
        let too_long = PeriodError("must be at most 100 years");
        let amount: u32 = digits.parse().map_err(|_| too_long)?;
        if amount > unit.max_amount() {
            return Err(too_long);
        }
        Ok(Self { amount, unit })
    }

    /// `t` plus the period, in UTC calendar arithmetic: a month or a year later on the same
    /// day at the same time, clamped to the end of a shorter month (31 January plus one month
    /// is the last day of February). `None` when the result is out of range.
    pub fn after(&self, t: Timestamp) -> Option<Timestamp> {
        let span = self.span()?;
        let z = t.to_zoned(TimeZone::UTC).checked_add(span).ok()?;
        Some(z.timestamp())
    }

    /// `t` minus the period, with the same arithmetic and clamping as [`Self::after`] (31 March
    /// minus one month is the last day of February). `None` when the result is out of range.
    pub fn before(&self, t: Timestamp) -> Option<Timestamp> {
        let span = self.span()?;
        let z = t.to_zoned(TimeZone::UTC).checked_sub(span).ok()?;
        Some(z.timestamp())
    }

    /// The period as a span; `None` if it is too large for one (only possible for a period
    /// built by hand, not parsed).
    fn span(&self) -> Option<Span> {
        let n = i64::from(self.amount);
        match self.unit {
            Unit::Day => Span::new().try_days(n),
            Unit::Week => Span::new().try_weeks(n),
            Unit::Month => Span::new().try_months(n),
            Unit::Year => Span::new().try_years(n),
        }
        .ok()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}{}", self.amount, self.unit.designator())
    }
}

/// A retention rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its key: 1 to 64 lowercase letters, digits, `_` or `-`, starting with a letter.
    pub key: String,
    /// What it is for, in the operator's words (may be empty).
    pub description: String,
    /// The data categories it covers, with their descendants (taxonomy keys; never empty).
    pub data_categories: Vec<String>,
    /// The data uses it documents (taxonomy keys; informative, not used in planning).
    pub data_uses: Vec<String>,
    /// The consent purpose whose withdrawal starts the period; set exactly when the trigger
    /// is [`Trigger::ConsentWithdrawal`].
    pub consent_purpose: Option<String>,
    /// How long data is kept after the trigger.
    pub period: Period,
    /// What starts the period.
    pub trigger: Trigger,
    /// What happens once it has run.
    pub action: Action,
}

impl Rule {
    /// Whether the rule covers `category`: it is one of the rule's categories or a dotted
    /// descendant of one (`user.contact` covers `user.contact.email`, not `user.contactx`).
    pub fn covers(&self, category: &str) -> bool {
        self.data_categories
            .iter()
            .any(|c| taxonomy::covers(c, category))
    }
}

/// Why a rule document was refused: where (a path such as `$.data_categories[2]`) and which
/// rule it broke. No value is quoted.
pub type RuleError = DocError;

/// Longest rule description, in characters.
pub const MAX_DESCRIPTION: usize = 1000;

const KEY_RULE: &str = "must be 1 to 64 lowercase letters, digits, _ or -, starting with a letter";

/// A rule key or consent purpose key: 1 to 64 of `a-z`, `0-9`, `_`, `-`, starting with a
/// letter.
fn valid_key(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase())
        && s.len() <= 64
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-'))
}

/// Reads a rule document (YAML or JSON, as a `serde_json::Value`) strictly: unknown keys are
/// refused, `key`, `data_categories`, `period`, `trigger` and `action` are required, and
/// `consent_purpose` is required with the `consent_withdrawal` trigger and refused with any
/// other. `is_category` and `is_use` say which taxonomy keys exist (the shipped taxonomy and
/// the organization's additions).
pub fn parse_rule(
    doc: &Value,
    is_category: &dyn Fn(&str) -> bool,
    is_use: &dyn Fn(&str) -> bool,
) -> Result<Rule, RuleError> {
    let m = doc::object(doc, "$")?;
    doc::only(
        m,
        "$",
        &[
            "key",
            "description",
            "data_categories",
            "data_uses",
            "consent_purpose",
            "period",
            "trigger",
            "action",
        ],
    )?;

    let key = doc::string(m, "key", "$")?.ok_or_else(|| doc::err("$.key", "required"))?;
    if !valid_key(key) {
        return Err(doc::err("$.key", KEY_RULE));
    }

    let description = doc::string(m, "description", "$")?.unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(doc::err("$.description", "must be at most 1000 characters"));
    }
    if description.chars().any(char::is_control) {
        return Err(doc::err(
            "$.description",
            "must not contain control characters",
        ));
    }

    if matches!(m.get("data_categories"), None | Some(Value::Null)) {
        return Err(doc::err("$.data_categories", "required"));
    }
    let data_categories = doc::strings(
        m,
        "data_categories",
        "$",
        is_category,
        "unknown data category",
    )?;
    if data_categories.is_empty() {
        return Err(doc::err("$.data_categories", "must not be empty"));
    }
    let data_uses = doc::strings(m, "data_uses", "$", is_use, "unknown data use")?;

    let consent_purpose = doc::string(m, "consent_purpose", "$")?;
    if consent_purpose.is_some_and(|p| !valid_key(p)) {
        return Err(doc::err("$.consent_purpose", KEY_RULE));
    }

    let period = doc::string(m, "period", "$")?.ok_or_else(|| doc::err("$.period", "required"))?;
    let period = Period::parse(period).map_err(|e| doc::err("$.period", e.0))?;

    let trigger =
        doc::string(m, "trigger", "$")?.ok_or_else(|| doc::err("$.trigger", "required"))?;
    let trigger =
        Trigger::parse(trigger).ok_or_else(|| doc::err("$.trigger", "unknown trigger"))?;

    let action = doc::string(m, "action", "$")?.ok_or_else(|| doc::err("$.action", "required"))?;
    let action = Action::parse(action).ok_or_else(|| doc::err("$.action", "unknown action"))?;

    let consent = trigger == Trigger::ConsentWithdrawal;
    if consent && consent_purpose.is_none() {
        return Err(doc::err(
            "$.consent_purpose",
            "required with the consent_withdrawal trigger",
        ));
    }
    if !consent && consent_purpose.is_some() {
        return Err(doc::err(
            "$.consent_purpose",
            "only allowed with the consent_withdrawal trigger",
        ));
    }

    Ok(Rule {
        key: key.to_owned(),
        description: description.to_owned(),
        data_categories,
        data_uses,
        consent_purpose: consent_purpose.map(str::to_owned),
        period,
        trigger,
        action,
    })
}

/// What a legal hold keeps from disposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldScope {
    /// Everything of one data subject in the vault (the subject's id).
    Subject(String),
    /// Every table of one connected dataset (the dataset key).
    Dataset(String),
}

/// A legal hold: while active, retention disposes of nothing in its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Its id.
    pub id: String,
    /// What it keeps.
    pub scope: HoldScope,
    /// Why, in the operator's words (a case or matter reference).
    pub reason: String,
    /// When it was placed.
    pub created_at: Timestamp,
    /// When it lapses by itself, if ever.
    pub expires_at: Option<Timestamp>,
    /// When it was released, if it was.
    pub released_at: Option<Timestamp>,
}

impl Hold {
    /// Whether it holds at `now`: not released at or before `now`, and not expired (no
    /// expiry, or an expiry after `now`).
    pub fn active(&self, now: Timestamp) -> bool {
        self.released_at.is_none_or(|r| r > now) && self.expires_at.is_none_or(|e| e > now)
    }
}

/// The smallest id among the active holds of `scope` at `now`.
fn holding<'a>(holds: &'a [Hold], scope: &HoldScope, now: Timestamp) -> Option<&'a str> {
    holds
        .iter()
        .filter(|h| &h.scope == scope && h.active(now))
        .map(|h| h.id.as_str())
        .min()
}

// ---- The vault plan ----

/// A field present in a record, with what its collection's schema says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFacts {
    /// The field's name.
    pub name: String,
    /// Its data category.
    pub category: String,
    /// Whether the schema requires it (a record cannot lose it, only be deleted).
    pub required: bool,
}

/// A vault record, as retention sees it (no values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFacts {
    /// The record id.
    pub id: String,
    /// Its collection.
    pub collection: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The fields present in the record.
    pub fields: Vec<FieldFacts>,
}

/// One data subject's records and the events that start retention periods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectFacts {
    /// The subject (each subject appears once).
    pub subject_id: String,
    /// All of the subject's records.
    pub records: Vec<RecordFacts>,
    /// When the relationship ended, if it has.
    pub relationship_ended_at: Option<Timestamp>,
    /// The subject's standing consent withdrawals: (consent purpose key, when). If a purpose
    /// appears more than once, the latest withdrawal counts.
    pub withdrawals: Vec<(String, Timestamp)>,
}

/// One thing to dispose of in the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Destroy the subject's data key (all their records go with it).
    ShredSubject,
    /// Delete one record.
    DeleteRecord {
        /// The collection.
        collection: String,
        /// The record id.
        record: String,
    },
    /// Remove some fields of one record.
    DropFields {
        /// The collection.
        collection: String,
        /// The record id.
        record: String,
        /// The fields to remove (sorted, no repeats).
        fields: Vec<String>,
    },
}

/// A disposal that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The subject.
    pub subject_id: String,
    /// What to dispose of.
    pub item: Item,
    /// The keys of the rules that call for it (sorted, no repeats).
    pub rules: Vec<String>,
    /// The earliest time one of them made it due.
    pub due_at: Timestamp,
}

/// A due disposal that a legal hold keeps back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The disposal.
    pub due: Due,
    /// The hold (the smallest id when several hold the subject).
    pub hold_id: String,
}

/// What retention would dispose of in the vault now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultPlan {
    /// Due and not held: by subject id, a subject's shred first, then by collection and
    /// record.
    pub due: Vec<Due>,
    /// Due but held, in the same order.
    pub held: Vec<Held>,
}

/// The contributions of several rules to one item.
struct Merge {
    rules: BTreeSet<String>,
    due_at: Timestamp,
}

impl Merge {
    fn new(rule: &str, due_at: Timestamp) -> Self {
        Self {
            rules: BTreeSet::from([rule.to_owned()]),
            due_at,
        }
    }

    fn add(&mut self, rule: &str, due_at: Timestamp) {
        self.rules.insert(rule.to_owned());
        self.due_at = self.due_at.min(due_at);
    }
}

/// What the rules ask of one record.
struct RecordMerge {
    delete: bool,
    fields: BTreeSet<String>,
    merge: Merge,
}

/// Plans the vault's disposals at `now` from `rules`, over the subjects' facts; items of a
/// subject under an active [`HoldScope::Subject`] hold go to [`VaultPlan::held`].
///
/// A record is covered by a rule when one of its present fields has a covered category; it
/// is due once the rule's period has run from the trigger's time (a record creation, the
/// subject's latest change to any record, the end of the relationship, or the withdrawal for
/// the rule's consent purpose; a trigger that has not happened is never due). A crypto-shred
/// rule makes the subject's [`Item::ShredSubject`] once every record it covers is due (at the
/// latest of their due times), and the shred then stands for everything else of the subject.
/// A record asked to be deleted by one rule and anonymized by another is deleted; the fields
/// several rules drop are united. An item's `due_at` is the earliest among its rules.
pub fn plan_vault(
    rules: &[Rule],
    holds: &[Hold],
    subjects: &[SubjectFacts],
    now: Timestamp,
) -> VaultPlan {
    let mut order: Vec<&SubjectFacts> = subjects.iter().collect();
    order.sort_by(|a, b| a.subject_id.cmp(&b.subject_id));
    let mut plan = VaultPlan::default();
    for s in order {
        let items = subject_items(rules, s, now);
        let scope = HoldScope::Subject(s.subject_id.clone());
        match holding(holds, &scope, now) {
            Some(id) => plan.held.extend(items.into_iter().map(|due| Held {
                due,
                hold_id: id.to_owned(),
            })),
            None => plan.due.extend(items),
        }
    }
    plan
}

/// When `rule`'s period starts for record `r` of subject `s` (whose latest change to any
/// record is `last_activity`), if the trigger has happened.
fn trigger_time(
    rule: &Rule,
    s: &SubjectFacts,
    last_activity: Option<Timestamp>,
    r: &RecordFacts,
) -> Option<Timestamp> {
    match rule.trigger {
        Trigger::RecordCreation => Some(r.created_at),
        Trigger::LastActivity => last_activity,
        Trigger::EndOfRelationship => s.relationship_ended_at,
        Trigger::ConsentWithdrawal => {
            let purpose = rule.consent_purpose.as_deref()?;
            s.withdrawals
                .iter()
                .filter(|(p, _)| p == purpose)
                .map(|&(_, t)| t)
                .max()
        }
    }
}

/// The subject's merged items, in plan order.
fn subject_items(rules: &[Rule], s: &SubjectFacts, now: Timestamp) -> Vec<Due> {
    let last_activity = s.records.iter().map(|r| r.updated_at).max();
    let mut shred: Option<Merge> = None;
    let mut records: BTreeMap<(&str, &str), RecordMerge> = BTreeMap::new();
    for rule in rules {
        let covered: Vec<&RecordFacts> = s
            .records
            .iter()
            .filter(|r| r.fields.iter().any(|f| rule.covers(&f.category)))
            .collect();
        if covered.is_empty() {
            continue;
        }
        let due_at = |r: &RecordFacts| {
            trigger_time(rule, s, last_activity, r)
                .and_then(|t| rule.period.after(t))
                .filter(|&t| t <= now)
        };
        if rule.action == Action::CryptoShred {
            let all_due: Option<Vec<Timestamp>> = covered.iter().map(|r| due_at(r)).collect();
            if let Some(latest) = all_due.and_then(|d| d.into_iter().max()) {
                match &mut shred {
                    Some(m) => m.add(&rule.key, latest),
                    None => shred = Some(Merge::new(&rule.key, latest)),
                }
            }
            continue;
        }
        for r in covered {
            let Some(t) = due_at(r) else { continue };
            let (delete, fields) = match rule.action {
                Action::Anonymize => {
                    let dropped: Vec<&FieldFacts> = r
                        .fields
                        .iter()
                        .filter(|f| rule.covers(&f.category))
                        .collect();
                    let delete =
                        dropped.len() == r.fields.len() || dropped.iter().any(|f| f.required);
                    (
                        delete,
                        dropped.into_iter().map(|f| f.name.clone()).collect(),
                    )
                }
                Action::CryptoShred | Action::Delete => (true, BTreeSet::new()),
            };
            match records.get_mut(&(r.collection.as_str(), r.id.as_str())) {
                Some(m) => {
                    m.delete |= delete;
                    m.fields.extend(fields);
                    m.merge.add(&rule.key, t);
                }
                None => {
                    records.insert(
                        (&r.collection, &r.id),
                        RecordMerge {
                            delete,
                            fields,
                            merge: Merge::new(&rule.key, t),
                        },
                    );
                }
            }
        }
    }
    let due = |item: Item, m: Merge| Due {
        subject_id: s.subject_id.clone(),
        item,
        rules: m.rules.into_iter().collect(),
        due_at: m.due_at,
    };
    if let Some(mut m) = shred {
        for r in records.into_values() {
            m.rules.extend(r.merge.rules);
            m.due_at = m.due_at.min(r.merge.due_at);
        }
        return vec![due(Item::ShredSubject, m)];
    }
    records
        .into_iter()
        .map(|((collection, record), r)| {
            let (collection, record) = (collection.to_owned(), record.to_owned());
            let item = if r.delete {
                Item::DeleteRecord { collection, record }
            } else {
                Item::DropFields {
                    collection,
                    record,
                    fields: r.fields.into_iter().collect(),
                }
            };
            due(item, r.merge)
        })
        .collect()
}

// ---- The dataset plan ----

/// A column of a connected database's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnFacts {
    /// The column name.
    pub name: String,
    /// Its data categories.
    pub categories: Vec<String>,
    /// Whether it is (part of) the primary key.
    pub primary_key: bool,
}

/// A table of a connected dataset, with the columns that tell retention's triggers' times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFacts {
    /// The dataset key.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// Its columns.
    pub columns: Vec<ColumnFacts>,
    /// The column holding a row's creation time, if any.
    pub created_column: Option<String>,
    /// The column holding a row's last activity time, if any.
    pub activity_column: Option<String>,
    /// The column holding the end of the relationship, if any.
    pub relationship_end_column: Option<String>,
}

/// What to do in one table for one rule: the rows whose `time_column` is at or before
/// `cutoff` are deleted, or have `columns` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDisposal {
    /// The dataset key.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// The rule's key (one rule per disposal).
    pub rules: Vec<String>,
    /// The column compared with `cutoff`.
    pub time_column: String,
    /// Rows with a time at or before it are due.
    pub cutoff: Timestamp,
    /// Whether due rows are deleted (crypto-shred and delete; anonymize when every covered
    /// column is a primary key).
    pub delete_rows: bool,
    /// For anonymize, the covered columns that are not primary keys (sorted); else empty.
    pub columns: Vec<String>,
}

/// Why a covered table was left alone for a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// The table declares no column for the rule's trigger.
    NoTimeColumn,
    /// Consent withdrawals are per subject: no table column tells them.
    ConsentTriggerNotApplicable,
    /// An active hold on the dataset keeps it.
    Held {
        /// The hold (the smallest id when several hold the dataset).
        hold_id: String,
    },
}

/// A covered table left alone for a rule, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSkip {
    /// The dataset key.
    pub dataset: String,
    /// The table.
    pub table: String,
    /// The rule's key.
    pub rule: String,
    /// Why.
    pub why: Skipped,
}

/// What retention would dispose of in the connected datasets now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatasetPlan {
    /// By dataset, table and rule.
    pub disposals: Vec<TableDisposal>,
    /// Likewise.
    pub skipped: Vec<TableSkip>,
}

/// Plans the disposals in connected datasets at `now`: one per covered (table, rule), where a
/// table is covered when one of its columns has a covered category. Rows are due when the
/// trigger's column (creation, activity or relationship end) is at or before `now` minus the
/// period. An external database holds no subject keys, so crypto-shred deletes rows. A
/// covered table is skipped when an active [`HoldScope::Dataset`] hold holds its dataset
/// (whatever else), for a consent-withdrawal rule, or when it has no column for the trigger.
pub fn plan_datasets(
    rules: &[Rule],
    holds: &[Hold],
    tables: &[TableFacts],
    now: Timestamp,
) -> DatasetPlan {
    let mut tables: Vec<&TableFacts> = tables.iter().collect();
    tables.sort_by(|a, b| (&a.dataset, &a.table).cmp(&(&b.dataset, &b.table)));
    let mut rules: Vec<&Rule> = rules.iter().collect();
    rules.sort_by(|a, b| a.key.cmp(&b.key));
    let mut plan = DatasetPlan::default();
    for t in tables {
        let hold = holding(holds, &HoldScope::Dataset(t.dataset.clone()), now);
        for &rule in &rules {
            let covered: Vec<&ColumnFacts> = t
                .columns
                .iter()
                .filter(|c| c.categories.iter().any(|k| rule.covers(k)))
                .collect();
            if covered.is_empty() {
                continue;
            }
            let time_column = match (hold, time_column(rule.trigger, t)) {
                (Some(id), _) => Err(Skipped::Held {
                    hold_id: id.to_owned(),
                }),
                (None, found) => found,
            };
            let time_column = match time_column {
                Ok(c) => c,
                Err(why) => {
                    plan.skipped.push(TableSkip {
                        dataset: t.dataset.clone(),
                        table: t.table.clone(),
                        rule: rule.key.clone(),
                        why,
                    });
                    continue;
                }
            };
            // No row can be older than the earliest representable time.
            let Some(cutoff) = rule.period.before(now) else {
                continue;
            };
            let columns: Vec<String> = match rule.action {
                Action::Anonymize => covered
                    .iter()
                    .filter(|c| !c.primary_key)
                    .map(|c| c.name.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                Action::CryptoShred | Action::Delete => Vec::new(),
            };
            plan.disposals.push(TableDisposal {
                dataset: t.dataset.clone(),
                table: t.table.clone(),
                rules: vec![rule.key.clone()],
                time_column: time_column.to_owned(),
                cutoff,
                delete_rows: columns.is_empty(),
                columns,
            });
        }
    }
    plan
}

/// The column that tells `trigger`'s time in table `t`.
fn time_column(trigger: Trigger, t: &TableFacts) -> Result<&str, Skipped> {
    let column = match trigger {
        Trigger::RecordCreation => &t.created_column,
        Trigger::LastActivity => &t.activity_column,
        Trigger::EndOfRelationship => &t.relationship_end_column,
        Trigger::ConsentWithdrawal => return Err(Skipped::ConsentTriggerNotApplicable),
    };
    column.as_deref().ok_or(Skipped::NoTimeColumn)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::taxonomy::Kind;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A rule from `"key: category,category period trigger action"`.
    fn rule(spec: &str) -> Rule {
        let (key, rest) = spec.split_once(": ").unwrap();
        let [categories, period, trigger, action] =
            rest.split(' ').collect::<Vec<_>>().try_into().unwrap();
        let trigger = Trigger::parse(trigger).unwrap();
        Rule {
            key: key.to_owned(),
            description: String::new(),
            data_categories: categories.split(',').map(str::to_owned).collect(),
            data_uses: Vec::new(),
            consent_purpose: (trigger == Trigger::ConsentWithdrawal)
                .then(|| "newsletter".to_owned()),
            period: Period::parse(period).unwrap(),
            trigger,
            action: Action::parse(action).unwrap(),
        }
    }

    fn field(name: &str, category: &str, required: bool) -> FieldFacts {
        FieldFacts {
            name: name.to_owned(),
            category: category.to_owned(),
            required,
        }
    }

    fn record(collection: &str, id: &str, created: &str, fields: Vec<FieldFacts>) -> RecordFacts {
        RecordFacts {
            id: id.to_owned(),
            collection: collection.to_owned(),
            created_at: ts(created),
            updated_at: ts(created),
            fields,
        }
    }

    fn subject(id: &str, records: Vec<RecordFacts>) -> SubjectFacts {
        SubjectFacts {
            subject_id: id.to_owned(),
            records,
            relationship_ended_at: None,
            withdrawals: Vec::new(),
        }
    }

    fn email() -> FieldFacts {
        field("email", "user.contact.email", false)
    }

    fn name() -> FieldFacts {
        field("name", "user.name", false)
    }

    fn delete(subject: &str, collection: &str, record: &str, rules: &[&str], at: &str) -> Due {
        Due {
            subject_id: subject.to_owned(),
            item: Item::DeleteRecord {
                collection: collection.to_owned(),
                record: record.to_owned(),
            },
            rules: rules.iter().map(|r| (*r).to_owned()).collect(),
            due_at: ts(at),
        }
    }

    fn hold(id: &str, scope: HoldScope) -> Hold {
        Hold {
            id: id.to_owned(),
            scope,
            reason: "matter 2025-17".to_owned(),
            created_at: ts("2025-01-01T00:00:00Z"),
            expires_at: None,
            released_at: None,
        }
    }

    const NOW: &str = "2025-06-15T12:00:00Z";

    // ---- names and periods ----

    #[test]
    fn trigger_and_action_names_round_trip() {
        let names: Vec<&str> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "record_creation",
                "last_activity",
                "end_of_relationship",
                "consent_withdrawal"
            ]
        );
        for t in Trigger::ALL {
            assert_eq!(Trigger::parse(t.as_str()), Some(t));
        }
        let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, ["crypto_shred", "delete", "anonymize"]);
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Trigger::parse("Record_Creation"), None);
        assert_eq!(Trigger::parse(""), None);
        assert_eq!(Action::parse("erase"), None);
    }

    #[test]
    fn periods_parse_and_display_the_same_string() {
        for (s, amount, unit) in [
            ("P30D", 30, Unit::Day),
            ("P2W", 2, Unit::Week),
            ("P6M", 6, Unit::Month),
            ("P7Y", 7, Unit::Year),
            ("P1D", 1, Unit::Day),
            ("P36500D", 36_500, Unit::Day),
            ("P5200W", 5_200, Unit::Week),
            ("P1200M", 1_200, Unit::Month),
            ("P100Y", 100, Unit::Year),
        ] {
            let p = Period::parse(s).unwrap();
            assert_eq!(p, Period { amount, unit });
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn bad_periods_are_refused_with_a_rule() {
        let syntax = "must be an ISO 8601 period of one component, such as P30D or P7Y";
        for (s, rule) in [
            ("", syntax),
            ("P", syntax),
            ("PD", syntax),
            ("30D", syntax),
            ("p30d", syntax),
            ("P30d", syntax),
            ("P1Y2M", syntax),
            ("P1M2D", syntax),
            ("PT1H", syntax),
            ("P1H", syntax),
            ("P1.5D", syntax),
            ("P-1D", syntax),
            ("P+1D", syntax),
            (" P1D", syntax),
            ("P1D ", syntax),
            ("P1\u{e9}", syntax),
            ("P\u{e9}D", syntax),
            ("P0D", "must be at least 1"),
            ("P000Y", "must be at least 1"),
            ("P030D", "must not have leading zeros"),
            ("P36501D", "must be at most 100 years"),
            ("P5201W", "must be at most 100 years"),
            ("P1201M", "must be at most 100 years"),
            ("P101Y", "must be at most 100 years"),
            ("P99999999999999999999D", "must be at most 100 years"),
        ] {
            assert_eq!(Period::parse(s), Err(PeriodError(rule)), "{s:?}");
        }
    }

    #[test]
    fn periods_use_utc_calendar_arithmetic_and_clamp_to_month_end() {
        let p = |s: &str| Period::parse(s).unwrap();
        let t = ts("2024-01-31T10:30:00Z");
        assert_eq!(p("P1M").after(t), Some(ts("2024-02-29T10:30:00Z")));
        assert_eq!(
            p("P1M").after(ts("2023-01-31T10:30:00Z")),
            Some(ts("2023-02-28T10:30:00Z"))
        );
        assert_eq!(p("P30D").after(t), Some(ts("2024-03-01T10:30:00Z")));
        assert_eq!(p("P2W").after(t), Some(ts("2024-02-14T10:30:00Z")));
        assert_eq!(p("P7Y").after(t), Some(ts("2031-01-31T10:30:00Z")));
        assert_eq!(
            p("P1Y").after(ts("2024-02-29T23:59:59Z")),
            Some(ts("2025-02-28T23:59:59Z"))
        );
        assert_eq!(
            p("P1M").before(ts("2024-03-31T08:00:00Z")),
            Some(ts("2024-02-29T08:00:00Z"))
        );
        assert_eq!(
            p("P1Y").before(ts("2025-02-28T08:00:00Z")),
            Some(ts("2024-02-28T08:00:00Z"))
        );
        assert_eq!(p("P2W").before(t), Some(ts("2024-01-17T10:30:00Z")));
        // Out of range: none, never a panic.
        assert_eq!(p("P1D").after(Timestamp::MAX), None);
        assert_eq!(p("P1D").before(Timestamp::MIN), None);
        for unit in Unit::ALL {
            let huge = Period {
                amount: u32::MAX,
                unit,
            };
            assert_eq!(huge.after(t), None);
            assert_eq!(huge.before(t), None);
        }
    }

    // ---- rule documents ----

    fn is_category(c: &str) -> bool {
        crate::taxonomy::contains(Kind::DataCategory, c)
    }

    fn is_use(u: &str) -> bool {
        crate::taxonomy::contains(Kind::DataUse, u)
    }

    fn base() -> Value {
        json!({
            "key": "contacts",
            "data_categories": ["user.contact"],
            "period": "P2Y",
            "trigger": "record_creation",
            "action": "delete",
        })
    }

    /// `base()` with `changes` applied (`None` removes the key).
    fn with(changes: &[(&str, Option<Value>)]) -> Value {
        let mut v = base();
        let m = v.as_object_mut().unwrap();
        for (k, c) in changes {
            match c {
                Some(x) => m.insert((*k).to_owned(), x.clone()),
                None => m.remove(*k),
            };
        }
        v
    }

    #[test]
    fn a_full_rule_document_is_read() {
        let doc = json!({
            "key": "newsletter-contacts_2",
            "description": "Contact details for newsletters.",
            "data_categories": ["user.contact", "user.name"],
            "data_uses": ["marketing.communications"],
            "consent_purpose": "newsletter",
            "period": "P30D",
            "trigger": "consent_withdrawal",
            "action": "crypto_shred",
        });
        let r = parse_rule(&doc, &is_category, &is_use).unwrap();
        assert_eq!(
            r,
            Rule {
                key: "newsletter-contacts_2".to_owned(),
                description: "Contact details for newsletters.".to_owned(),
                data_categories: vec!["user.contact".to_owned(), "user.name".to_owned()],
                data_uses: vec!["marketing.communications".to_owned()],
                consent_purpose: Some("newsletter".to_owned()),
                period: Period {
                    amount: 30,
                    unit: Unit::Day
                },
                trigger: Trigger::ConsentWithdrawal,
                action: Action::CryptoShred,
            }
        );
    }

    #[test]
    fn a_minimal_rule_document_gets_defaults() {
        let r = parse_rule(&base(), &is_category, &is_use).unwrap();
        assert_eq!(r.key, "contacts");
        assert_eq!(r.description, "");
        assert!(r.data_uses.is_empty());
        assert_eq!(r.consent_purpose, None);
        assert_eq!(
            (r.trigger, r.action),
            (Trigger::RecordCreation, Action::Delete)
        );
        // Nulls count as absent for optional keys, and the bounds are inclusive.
        let doc = with(&[
            ("key", Some(json!(format!("k{}", "x".repeat(63))))),
            ("description", Some(json!("é".repeat(1000)))),
            ("data_uses", Some(Value::Null)),
            ("consent_purpose", Some(Value::Null)),
        ]);
        let r = parse_rule(&doc, &is_category, &is_use).unwrap();
        assert_eq!(r.key.len(), 64);
        assert_eq!(r.description.chars().count(), 1000);
    }

    #[test]
    fn every_bad_rule_document_is_refused_at_its_path() {
        let key_rule = KEY_RULE;
        let consent = |purpose: Option<Value>| {
            with(&[
                ("trigger", Some(json!("consent_withdrawal"))),
                ("consent_purpose", purpose),
            ])
        };
        let cases: Vec<(Value, &str, &str)> = vec![
            (json!(["key"]), "$", "must be an object"),
            (json!("contacts"), "$", "must be an object"),
            (
                with(&[("retention", Some(json!(1)))]),
                "$.retention",
                "unknown key",
            ),
            (with(&[("key", None)]), "$.key", "required"),
            (with(&[("key", Some(Value::Null))]), "$.key", "required"),
            (
                with(&[("key", Some(json!(5)))]),
                "$.key",
                "must be a string",
            ),
            (with(&[("key", Some(json!("")))]), "$.key", key_rule),
            (with(&[("key", Some(json!("Contacts")))]), "$.key", key_rule),
            (
                with(&[("key", Some(json!("1contacts")))]),
                "$.key",
                key_rule,
            ),
            (
                with(&[("key", Some(json!("_contacts")))]),
                "$.key",
                key_rule,
            ),
            (
                with(&[("key", Some(json!("con.tacts")))]),
                "$.key",
                key_rule,
            ),
            (
                with(&[("key", Some(json!("con tacts")))]),
                "$.key",
                key_rule,
            ),
            (
                with(&[("key", Some(json!("x".repeat(65))))]),
                "$.key",
                key_rule,
            ),
            (
                with(&[("description", Some(json!(["a"])))]),
                "$.description",
                "must be a string",
            ),
            (
                with(&[("description", Some(json!("x".repeat(1001))))]),
                "$.description",
                "must be at most 1000 characters",
            ),
            (
                with(&[("description", Some(json!("two\nlines")))]),
                "$.description",
                "must not contain control characters",
            ),
            (
                with(&[("description", Some(json!("bell\u{7}")))]),
                "$.description",
                "must not contain control characters",
            ),
            (
                with(&[("data_categories", None)]),
                "$.data_categories",
                "required",
            ),
            (
                with(&[("data_categories", Some(Value::Null))]),
                "$.data_categories",
                "required",
            ),
            (
                with(&[("data_categories", Some(json!([])))]),
                "$.data_categories",
                "must not be empty",
            ),
            (
                with(&[("data_categories", Some(json!("user.contact")))]),
                "$.data_categories",
                "must be a list",
            ),
            (
                with(&[("data_categories", Some(json!([1])))]),
                "$.data_categories[0]",
                "must be a string",
            ),
            (
                with(&[(
                    "data_categories",
                    Some(json!(["user.contact", "user.nope"])),
                )]),
                "$.data_categories[1]",
                "unknown data category",
            ),
            (
                with(&[(
                    "data_categories",
                    Some(json!(["user.contact", "user.name", "user.contact"])),
                )]),
                "$.data_categories[2]",
                "listed twice",
            ),
            (
                with(&[("data_uses", Some(json!("marketing")))]),
                "$.data_uses",
                "must be a list",
            ),
            (
                with(&[("data_uses", Some(json!(["marketing", "nope"])))]),
                "$.data_uses[1]",
                "unknown data use",
            ),
            (
                with(&[("data_uses", Some(json!(["marketing", "marketing"])))]),
                "$.data_uses[1]",
                "listed twice",
            ),
            (
                consent(Some(json!(7))),
                "$.consent_purpose",
                "must be a string",
            ),
            (
                consent(Some(json!("News Letter"))),
                "$.consent_purpose",
                key_rule,
            ),
            (
                consent(None),
                "$.consent_purpose",
                "required with the consent_withdrawal trigger",
            ),
            (
                with(&[("consent_purpose", Some(json!("newsletter")))]),
                "$.consent_purpose",
                "only allowed with the consent_withdrawal trigger",
            ),
            (with(&[("period", None)]), "$.period", "required"),
            (
                with(&[("period", Some(json!(30)))]),
                "$.period",
                "must be a string",
            ),
            (
                with(&[("period", Some(json!("30 days")))]),
                "$.period",
                "must be an ISO 8601 period of one component, such as P30D or P7Y",
            ),
            (
                with(&[("period", Some(json!("P0M")))]),
                "$.period",
                "must be at least 1",
            ),
            (
                with(&[("period", Some(json!("P101Y")))]),
                "$.period",
                "must be at most 100 years",
            ),
            (with(&[("trigger", None)]), "$.trigger", "required"),
            (
                with(&[("trigger", Some(json!("creation")))]),
                "$.trigger",
                "unknown trigger",
            ),
            (with(&[("action", None)]), "$.action", "required"),
            (
                with(&[("action", Some(json!("erase")))]),
                "$.action",
                "unknown action",
            ),
        ];
        for (doc, path, rule) in cases {
            let e = parse_rule(&doc, &is_category, &is_use).unwrap_err();
            assert_eq!((e.path.as_str(), e.rule), (path, rule), "{doc}");
            assert_eq!(e.to_string(), format!("{path}: {rule}"));
        }
    }

    #[test]
    fn rule_errors_never_quote_the_value() {
        let secret = "Jane.Doe@example.com";
        for doc in [
            with(&[("key", Some(json!(secret)))]),
            with(&[("description", Some(json!(format!("{secret}\u{1}"))))]),
            with(&[("data_categories", Some(json!([secret])))]),
            with(&[("data_uses", Some(json!([secret])))]),
            with(&[("period", Some(json!(secret)))]),
            with(&[("trigger", Some(json!(secret)))]),
            with(&[("action", Some(json!(secret)))]),
            // An unknown key is named only when it looks like one (see `doc::only`).
            with(&[("Jane Doe", Some(json!(1)))]),
        ] {
            let e = parse_rule(&doc, &is_category, &is_use).unwrap_err();
            assert!(!e.to_string().contains("Jane"), "{e}");
        }
    }

    #[test]
    fn a_rule_covers_its_categories_and_their_descendants() {
        let r = rule("r: user.contact,user.name P1Y record_creation delete");
        assert!(r.covers("user.contact"));
        assert!(r.covers("user.contact.email"));
        assert!(r.covers("user.contact.address.city"));
        assert!(r.covers("user.name"));
        assert!(!r.covers("user.contactx"));
        assert!(!r.covers("user"));
        assert!(!r.covers("user.financial"));
        assert!(!r.covers(""));
    }

    // ---- holds ----

    #[test]
    fn a_hold_is_active_until_released_or_expired() {
        let now = ts(NOW);
        let before = ts("2025-06-15T11:59:59Z");
        let after = ts("2025-06-15T12:00:01Z");
        let h = hold("h", HoldScope::Subject("s".to_owned()));
        assert!(h.active(now));
        let released = |at| Hold {
            released_at: Some(at),
            ..h.clone()
        };
        assert!(!released(before).active(now));
        assert!(!released(now).active(now));
        assert!(released(after).active(now));
        let expiring = |at| Hold {
            expires_at: Some(at),
            ..h.clone()
        };
        assert!(!expiring(before).active(now));
        assert!(!expiring(now).active(now));
        assert!(expiring(after).active(now));
    }

    // ---- vault plan: triggers ----

    #[test]
    fn record_creation_makes_each_covered_record_due_on_its_own() {
        let rules = [rule("contacts: user.contact P1Y record_creation delete")];
        let s = subject(
            "s1",
            vec![
                // Due exactly now.
                record(
                    "customers",
                    "r1",
                    "2024-06-15T12:00:00Z",
                    vec![email(), name()],
                ),
                // One second short.
                record("customers", "r2", "2024-06-15T12:00:01Z", vec![email()]),
                // Old, but not covered.
                record("customers", "r3", "2020-01-01T00:00:00Z", vec![name()]),
            ],
        );
        let plan = plan_vault(&rules, &[], &[s], ts(NOW));
        assert_eq!(
            plan.due,
            [delete(
                "s1",
                "customers",
                "r1",
                &["contacts"],
                "2025-06-15T12:00:00Z"
            )]
        );
        assert!(plan.held.is_empty());
    }

    #[test]
    fn last_activity_is_the_subjects_latest_change_to_any_record() {
        let rules = [rule("inactive: user.contact P1Y last_activity delete")];
        // Recent activity on an uncovered record keeps the covered one.
        let mut active = subject(
            "active",
            vec![
                record("customers", "a1", "2020-01-01T00:00:00Z", vec![email()]),
                record("notes", "a2", "2020-01-01T00:00:00Z", vec![name()]),
            ],
        );
        active.records[1].updated_at = ts("2024-12-01T00:00:00Z");
        let mut dormant = subject(
            "dormant",
            vec![
                record("customers", "d1", "2020-01-01T00:00:00Z", vec![email()]),
                record("notes", "d2", "2020-01-01T00:00:00Z", vec![name()]),
            ],
        );
        dormant.records[0].updated_at = ts("2024-01-10T00:00:00Z");
        dormant.records[1].updated_at = ts("2024-03-01T09:00:00Z");
        let plan = plan_vault(&rules, &[], &[active, dormant], ts(NOW));
        assert_eq!(
            plan.due,
            [delete(
                "dormant",
                "customers",
                "d1",
                &["inactive"],
                "2025-03-01T09:00:00Z"
            )]
        );
    }

    #[test]
    fn end_of_relationship_is_due_only_once_the_relationship_ended() {
        let rules = [rule(
            "former-customers: user P6M end_of_relationship delete",
        )];
        let ongoing = subject(
            "ongoing",
            vec![record(
                "customers",
                "o1",
                "2010-01-01T00:00:00Z",
                vec![email()],
            )],
        );
        let mut ended = subject(
            "ended",
            vec![record(
                "customers",
                "e1",
                "2010-01-01T00:00:00Z",
                vec![email()],
            )],
        );
        ended.relationship_ended_at = Some(ts("2024-12-15T12:00:00Z"));
        let mut recent = subject(
            "recent",
            vec![record(
                "customers",
                "n1",
                "2010-01-01T00:00:00Z",
                vec![email()],
            )],
        );
        recent.relationship_ended_at = Some(ts("2025-01-01T00:00:00Z"));
        let plan = plan_vault(&rules, &[], &[ongoing, ended, recent], ts(NOW));
        assert_eq!(
            plan.due,
            [delete(
                "ended",
                "customers",
                "e1",
                &["former-customers"],
                "2025-06-15T12:00:00Z"
            )]
        );
    }

    #[test]
    fn consent_withdrawal_counts_the_rules_purpose_and_its_latest_withdrawal() {
        let rules = [rule(
            "newsletter: user.contact P30D consent_withdrawal delete",
        )];
        let facts = |id: &str, withdrawals: &[(&str, &str)]| SubjectFacts {
            withdrawals: withdrawals
                .iter()
                .map(|(p, t)| ((*p).to_owned(), ts(t)))
                .collect(),
            ..subject(
                id,
                vec![record(
                    "contacts",
                    id,
                    "2020-01-01T00:00:00Z",
                    vec![email()],
                )],
            )
        };
        let subjects = [
            facts("never", &[]),
            facts("other", &[("analytics", "2025-01-01T00:00:00Z")]),
            facts(
                "again",
                &[
                    ("newsletter", "2025-01-01T00:00:00Z"),
                    ("newsletter", "2025-06-01T00:00:00Z"),
                ],
            ),
            facts("withdrew", &[("newsletter", "2025-05-01T00:00:00Z")]),
        ];
        let plan = plan_vault(&rules, &[], &subjects, ts(NOW));
        assert_eq!(
            plan.due,
            [delete(
                "withdrew",
                "contacts",
                "withdrew",
                &["newsletter"],
                "2025-05-31T00:00:00Z"
            )]
        );
    }

    // ---- vault plan: actions and merging ----

    #[test]
    fn anonymize_drops_covered_fields_or_deletes_when_it_must() {
        let rules = [rule("contacts: user.contact P1Y record_creation anonymize")];
        let old = "2020-01-01T00:00:00Z";
        let s = subject(
            "s1",
            vec![
                record(
                    "customers",
                    "drop",
                    old,
                    vec![
                        field("phone", "user.contact.phone_number", false),
                        field("name", "user.name", true),
                        email(),
                    ],
                ),
                record(
                    "customers",
                    "required",
                    old,
                    vec![field("email", "user.contact.email", true), name()],
                ),
                record(
                    "customers",
                    "all",
                    old,
                    vec![email(), field("phone", "user.contact.phone_number", false)],
                ),
                record("customers", "untouched", old, vec![name()]),
            ],
        );
        let plan = plan_vault(&rules, &[], &[s], ts(NOW));
        let at = "2021-01-01T00:00:00Z";
        assert_eq!(
            plan.due,
            [
                delete("s1", "customers", "all", &["contacts"], at),
                Due {
                    subject_id: "s1".to_owned(),
                    item: Item::DropFields {
                        collection: "customers".to_owned(),
                        record: "drop".to_owned(),
                        fields: vec!["email".to_owned(), "phone".to_owned()],
                    },
                    rules: vec!["contacts".to_owned()],
                    due_at: ts(at),
                },
                delete("s1", "customers", "required", &["contacts"], at),
            ]
        );
    }

    #[test]
    fn crypto_shred_waits_for_every_covered_record_then_supersedes_the_rest() {
        let shred = rule("shred: user.contact P1Y record_creation crypto_shred");
        let names = rule("names: user.name P1M record_creation delete");
        let done = subject(
            "done",
            vec![
                record("customers", "c1", "2023-02-01T00:00:00Z", vec![email()]),
                record("orders", "o1", "2024-03-01T00:00:00Z", vec![email()]),
                record("notes", "n1", "2022-01-01T00:00:00Z", vec![name()]),
            ],
        );
        let waiting = subject(
            "waiting",
            vec![
                record("customers", "c1", "2020-01-01T00:00:00Z", vec![email()]),
                record("orders", "o1", "2025-01-01T00:00:00Z", vec![email()]),
                record("notes", "n1", "2022-01-01T00:00:00Z", vec![name()]),
            ],
        );
        let uncovered = subject(
            "uncovered",
            vec![record("notes", "n1", "2020-01-01T00:00:00Z", vec![name()])],
        );
        let rules = [shred, names];
        let plan = plan_vault(&rules, &[], &[waiting, done, uncovered], ts(NOW));
        assert_eq!(
            plan.due,
            [
                // The latest covered record's due time, then the earlier delete merged in.
                Due {
                    subject_id: "done".to_owned(),
                    item: Item::ShredSubject,
                    rules: vec!["names".to_owned(), "shred".to_owned()],
                    due_at: ts("2022-02-01T00:00:00Z"),
                },
                delete(
                    "uncovered",
                    "notes",
                    "n1",
                    &["names"],
                    "2020-02-01T00:00:00Z"
                ),
                // Not every covered record is due: no shred, only the other rule's item.
                delete("waiting", "notes", "n1", &["names"], "2022-02-01T00:00:00Z"),
            ]
        );
        // Alone, the shred is due at the latest covered record's due time.
        let plan = plan_vault(
            &rules[..1],
            &[],
            &[subject(
                "done",
                vec![
                    record("customers", "c1", "2023-02-01T00:00:00Z", vec![email()]),
                    record("orders", "o1", "2024-03-01T00:00:00Z", vec![email()]),
                ],
            )],
            ts(NOW),
        );
        assert_eq!(plan.due.len(), 1);
        assert_eq!(plan.due[0].item, Item::ShredSubject);
        assert_eq!(plan.due[0].due_at, ts("2025-03-01T00:00:00Z"));
    }

    #[test]
    fn several_shred_rules_merge_into_one_shred() {
        let rules = [
            rule("b-shred: user.contact P1Y record_creation crypto_shred"),
            rule("a-shred: user.name P2Y record_creation crypto_shred"),
        ];
        let s = subject(
            "s1",
            vec![record(
                "customers",
                "c1",
                "2020-01-01T00:00:00Z",
                vec![email(), name()],
            )],
        );
        let plan = plan_vault(&rules, &[], &[s], ts(NOW));
        assert_eq!(
            plan.due,
            [Due {
                subject_id: "s1".to_owned(),
                item: Item::ShredSubject,
                rules: vec!["a-shred".to_owned(), "b-shred".to_owned()],
                due_at: ts("2021-01-01T00:00:00Z"),
            }]
        );
    }

    #[test]
    fn delete_supersedes_drop_fields_and_dropped_fields_unite() {
        let rules = [
            rule("contacts: user.contact P1Y record_creation anonymize"),
            rule("emails: user.contact.email P6M record_creation anonymize"),
            rule("names: user.name P3Y record_creation anonymize"),
            rule("purge: user.behavior P2Y record_creation delete"),
        ];
        let fields = || {
            vec![
                email(),
                field("phone", "user.contact.phone_number", false),
                name(),
                field("plan", "system.operations", false),
            ]
        };
        let mut deleted = fields();
        deleted.push(field("history", "user.behavior.purchase_history", false));
        let s = subject(
            "s1",
            vec![
                record("customers", "kept", "2020-01-01T00:00:00Z", fields()),
                record("customers", "gone", "2020-01-01T00:00:00Z", deleted),
            ],
        );
        let plan = plan_vault(&rules, &[], &[s], ts(NOW));
        assert_eq!(
            plan.due,
            [
                delete(
                    "s1",
                    "customers",
                    "gone",
                    &["contacts", "emails", "names", "purge"],
                    "2020-07-01T00:00:00Z"
                ),
                Due {
                    subject_id: "s1".to_owned(),
                    item: Item::DropFields {
                        collection: "customers".to_owned(),
                        record: "kept".to_owned(),
                        fields: vec!["email".to_owned(), "name".to_owned(), "phone".to_owned()],
                    },
                    rules: vec![
                        "contacts".to_owned(),
                        "emails".to_owned(),
                        "names".to_owned()
                    ],
                    due_at: ts("2020-07-01T00:00:00Z"),
                },
            ]
        );
    }

    #[test]
    fn the_vault_plan_is_ordered_by_subject_then_shred_then_record() {
        let rules = [
            rule("contacts: user.contact P1Y record_creation delete"),
            rule("names: user.name P1Y record_creation crypto_shred"),
        ];
        let old = "2020-01-01T00:00:00Z";
        let subjects = [
            subject("s2", vec![record("orders", "x", old, vec![name()])]),
            subject(
                "s1",
                vec![
                    record("orders", "a", old, vec![email()]),
                    record("customers", "b", old, vec![email()]),
                    record("customers", "a", old, vec![email()]),
                ],
            ),
        ];
        let plan = plan_vault(&rules, &[], &subjects, ts(NOW));
        let order: Vec<(&str, &Item)> = plan
            .due
            .iter()
            .map(|d| (d.subject_id.as_str(), &d.item))
            .collect();
        let del = |c: &str, r: &str| Item::DeleteRecord {
            collection: c.to_owned(),
            record: r.to_owned(),
        };
        assert_eq!(
            order,
            [
                ("s1", &del("customers", "a")),
                ("s1", &del("customers", "b")),
                ("s1", &del("orders", "a")),
                ("s2", &Item::ShredSubject),
            ]
        );
        // Same facts in another order, same plan.
        let mut reversed = subjects.clone();
        reversed.reverse();
        for s in &mut reversed {
            s.records.reverse();
        }
        assert_eq!(plan_vault(&rules, &[], &reversed, ts(NOW)), plan);
    }

    // ---- vault plan: holds ----

    #[test]
    fn a_subject_hold_keeps_its_items_until_lifted_or_expired() {
        let rules = [
            rule("contacts: user.contact P1Y record_creation delete"),
            rule("names: user.name P1Y record_creation anonymize"),
        ];
        let old = "2020-01-01T00:00:00Z";
        let subjects = [
            subject(
                "held",
                vec![record("customers", "h1", old, vec![email(), name()])],
            ),
            subject("free", vec![record("customers", "f1", old, vec![email()])]),
        ];
        let now = ts(NOW);
        let holds = vec![
            hold("hold-b", HoldScope::Subject("held".to_owned())),
            hold("hold-a", HoldScope::Subject("held".to_owned())),
            hold("hold-0", HoldScope::Dataset("held".to_owned())),
            Hold {
                released_at: Some(ts("2025-02-01T00:00:00Z")),
                ..hold("hold-00", HoldScope::Subject("held".to_owned()))
            },
        ];
        let free = delete(
            "free",
            "customers",
            "f1",
            &["contacts"],
            "2021-01-01T00:00:00Z",
        );
        let held = delete(
            "held",
            "customers",
            "h1",
            &["contacts", "names"],
            "2021-01-01T00:00:00Z",
        );
        let plan = plan_vault(&rules, &holds, &subjects, now);
        assert_eq!(plan.due, std::slice::from_ref(&free));
        assert_eq!(
            plan.held,
            [Held {
                due: held.clone(),
                hold_id: "hold-a".to_owned(),
            }]
        );

        // Lift hold-a: hold-b still holds.
        let mut lifted = holds.clone();
        lifted[1].released_at = Some(now);
        let plan = plan_vault(&rules, &lifted, &subjects, now);
        assert_eq!(plan.held.len(), 1);
        assert_eq!(plan.held[0].hold_id, "hold-b");

        // Let hold-b expire too: everything is due.
        lifted[0].expires_at = Some(ts("2025-06-01T00:00:00Z"));
        let plan = plan_vault(&rules, &lifted, &subjects, now);
        assert_eq!(plan.due, [free, held]);
        assert!(plan.held.is_empty());
    }

    // ---- dataset plan ----

    fn column(name: &str, categories: &[&str], primary_key: bool) -> ColumnFacts {
        ColumnFacts {
            name: name.to_owned(),
            categories: categories.iter().map(|c| (*c).to_owned()).collect(),
            primary_key,
        }
    }

    fn customers() -> TableFacts {
        TableFacts {
            dataset: "shop".to_owned(),
            table: "customers".to_owned(),
            columns: vec![
                column("id", &["user.unique_id"], true),
                column("contact_id", &["user.contact"], true),
                column("phone", &["user.contact.phone_number"], false),
                column("email", &["user.contact.email", "user.contact"], false),
                column("name", &["user.name"], false),
                column("created_at", &[], false),
            ],
            created_column: Some("created_at".to_owned()),
            activity_column: Some("last_seen".to_owned()),
            relationship_end_column: None,
        }
    }

    fn orders() -> TableFacts {
        TableFacts {
            dataset: "shop".to_owned(),
            table: "orders".to_owned(),
            columns: vec![column("id", &[], true), column("total", &[], false)],
            created_column: Some("placed_at".to_owned()),
            activity_column: None,
            relationship_end_column: None,
        }
    }

    fn subscribers() -> TableFacts {
        TableFacts {
            dataset: "crm".to_owned(),
            table: "subscribers".to_owned(),
            columns: vec![
                column("email", &["user.contact.email"], true),
                column("since", &[], false),
            ],
            created_column: None,
            activity_column: None,
            relationship_end_column: Some("ended_at".to_owned()),
        }
    }

    fn disposal(
        dataset: &str,
        table: &str,
        rule: &str,
        time_column: &str,
        cutoff: &str,
        columns: &[&str],
    ) -> TableDisposal {
        TableDisposal {
            dataset: dataset.to_owned(),
            table: table.to_owned(),
            rules: vec![rule.to_owned()],
            time_column: time_column.to_owned(),
            cutoff: ts(cutoff),
            delete_rows: columns.is_empty(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn skip(dataset: &str, table: &str, rule: &str, why: Skipped) -> TableSkip {
        TableSkip {
            dataset: dataset.to_owned(),
            table: table.to_owned(),
            rule: rule.to_owned(),
            why,
        }
    }

    fn dataset_rules() -> Vec<Rule> {
        vec![
            rule("e-anon: user.contact P6M last_activity anonymize"),
            rule("a-created: user.contact P1M record_creation delete"),
            rule("c-ended: user.contact P1Y end_of_relationship crypto_shred"),
            rule("d-consent: user.contact P30D consent_withdrawal delete"),
            rule("b-names: user.name P2W record_creation anonymize"),
            rule("f-ended: user.contact P1Y end_of_relationship anonymize"),
        ]
    }

    const DATASET_NOW: &str = "2025-03-31T08:00:00Z";

    fn crm_disposals() -> Vec<TableDisposal> {
        let cutoff = "2024-03-31T08:00:00Z";
        vec![
            // External databases hold no subject keys: a shred deletes the rows.
            disposal("crm", "subscribers", "c-ended", "ended_at", cutoff, &[]),
            // Anonymizing a primary key alone deletes the rows.
            disposal("crm", "subscribers", "f-ended", "ended_at", cutoff, &[]),
        ]
    }

    fn crm_skips() -> Vec<TableSkip> {
        vec![
            skip("crm", "subscribers", "a-created", Skipped::NoTimeColumn),
            skip(
                "crm",
                "subscribers",
                "d-consent",
                Skipped::ConsentTriggerNotApplicable,
            ),
            skip("crm", "subscribers", "e-anon", Skipped::NoTimeColumn),
        ]
    }

    #[test]
    fn datasets_get_one_disposal_per_covered_table_and_rule() {
        let plan = plan_datasets(
            &dataset_rules(),
            &[],
            &[orders(), customers(), subscribers()],
            ts(DATASET_NOW),
        );
        let mut disposals = crm_disposals();
        disposals.extend([
            // One month before 31 March is the last day of February.
            disposal(
                "shop",
                "customers",
                "a-created",
                "created_at",
                "2025-02-28T08:00:00Z",
                &[],
            ),
            disposal(
                "shop",
                "customers",
                "b-names",
                "created_at",
                "2025-03-17T08:00:00Z",
                &["name"],
            ),
            // Covered columns but the primary key, sorted.
            disposal(
                "shop",
                "customers",
                "e-anon",
                "last_seen",
                "2024-09-30T08:00:00Z",
                &["email", "phone"],
            ),
        ]);
        assert_eq!(plan.disposals, disposals);
        let mut skipped = crm_skips();
        skipped.extend([
            skip("shop", "customers", "c-ended", Skipped::NoTimeColumn),
            skip(
                "shop",
                "customers",
                "d-consent",
                Skipped::ConsentTriggerNotApplicable,
            ),
            skip("shop", "customers", "f-ended", Skipped::NoTimeColumn),
        ]);
        assert_eq!(plan.skipped, skipped);
    }

    #[test]
    fn a_dataset_hold_skips_every_covered_table_and_rule_until_lifted() {
        let now = ts(DATASET_NOW);
        let tables = [customers(), orders(), subscribers()];
        let holds = vec![
            hold("hold-b", HoldScope::Dataset("shop".to_owned())),
            hold("hold-a", HoldScope::Dataset("shop".to_owned())),
            Hold {
                released_at: Some(ts("2025-03-01T00:00:00Z")),
                ..hold("hold-0", HoldScope::Dataset("crm".to_owned()))
            },
            hold("hold-1", HoldScope::Subject("crm".to_owned())),
        ];
        let plan = plan_datasets(&dataset_rules(), &holds, &tables, now);
        assert_eq!(plan.disposals, crm_disposals());
        let held = || Skipped::Held {
            hold_id: "hold-a".to_owned(),
        };
        let mut skipped = crm_skips();
        for rule in [
            "a-created",
            "b-names",
            "c-ended",
            "d-consent",
            "e-anon",
            "f-ended",
        ] {
            skipped.push(skip("shop", "customers", rule, held()));
        }
        assert_eq!(plan.skipped, skipped);

        // Both shop holds lifted (one released, one expired): shop is planned again.
        let mut lifted = holds.clone();
        lifted[0].released_at = Some(now);
        lifted[1].expires_at = Some(now);
        let plan = plan_datasets(&dataset_rules(), &lifted, &tables, now);
        assert_eq!(plan, plan_datasets(&dataset_rules(), &[], &tables, now));
        assert_eq!(plan.disposals.len(), 5);
    }

    #[test]
    fn no_disposal_when_the_cutoff_is_out_of_range() {
        let plan = plan_datasets(&dataset_rules(), &[], &[customers()], Timestamp::MIN);
        assert!(plan.disposals.is_empty());
        assert_eq!(plan.skipped.len(), 3);
    }
}
