//! The breach-notification rules table (`notification_rules.json`): its types, its parser and
//! the arithmetic that turns a rule into a [`Clock`].
//!
//! # Format
//!
//! ```json
//! { "version": "2026-12-01", "description": "...", "rules": [
//!   { "id": "GDPR.authority", "jurisdiction": "GDPR", "recipient": "authority",
//!     "clock_start": "awareness", "period": { "amount": 72, "unit": "hours" },
//!     "condition": "risk", "source": "GDPR Art. 33(1)", "notes": "..." } ] }
//! ```
//!
//! * `id`: unique; `<jurisdiction>.<recipient>`, optionally followed by `.` and a lower-case
//!   suffix when a jurisdiction has several rules for one recipient (`HIPAA.hhs.under_500`).
//! * `clock_start`: `awareness`, `discovery` or `individuals_notified` (when the people
//!   affected were notified); the last needs a `fallback` `{ "clock_start", "period" }` used
//!   until they have been.
//! * `period`: `{ "amount": N, "unit": U }` with `U` one of `hours`, `calendar_days`,
//!   `business_days`, `calendar_months`, `end_of_year_plus_days`; or `{ "unit": "none" }` for
//!   "without undue delay".
//! * `calendar`: the [`HolidayCalendar`] for business days; required when a period is in
//!   business days, refused otherwise.
//! * `condition`: `always`, `risk`, `high_risk`, `affected_at_least(N)`, `affected_over(N)`
//!   or `affected_under(N)`.
//! * `source` (required), `notes` (optional).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};
use serde_json::Value;

use super::{Clock, ClockFacts, IncidentError, Recipient, Requirement, Risk, Undetermined};
use crate::rights::calendar::{self, HolidayCalendar};
use crate::table::{self, Obj};

// The error is shared with the deadlines table (`rights::RulesError`).
pub use crate::table::{NotJson, TableError as RulesError};

/// The event a rule's clock starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClockStart {
    /// When the organisation became aware of the breach ([`ClockFacts::aware_at`]).
    Awareness,
    /// When the breach was discovered ([`ClockFacts::discovered_at`]).
    Discovery,
    /// When the people affected were notified ([`ClockFacts::individuals_notified_at`]).
    IndividualsNotified,
}

impl ClockStart {
    /// Every clock start.
    pub const ALL: [ClockStart; 3] = [
        ClockStart::Awareness,
        ClockStart::Discovery,
        ClockStart::IndividualsNotified,
    ];

    /// Stable name, as written in the rules table.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockStart::Awareness => "awareness",
            ClockStart::Discovery => "discovery",
            ClockStart::IndividualsNotified => "individuals_notified",
        }
    }

    /// Parses [`ClockStart::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The unit of a fixed period (see the [module documentation](super) for how each counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodUnit {
    /// Exact hours.
    Hours,
    /// Calendar days, the start day not counted.
    CalendarDays,
    /// Business days of the rule's calendar, the start day not counted.
    BusinessDays,
    /// Calendar months.
    CalendarMonths,
    /// Days after 31 December of the year the clock started.
    EndOfYearPlusDays,
}

impl PeriodUnit {
    /// Every unit.
    pub const ALL: [PeriodUnit; 5] = [
        PeriodUnit::Hours,
        PeriodUnit::CalendarDays,
        PeriodUnit::BusinessDays,
        PeriodUnit::CalendarMonths,
        PeriodUnit::EndOfYearPlusDays,
    ];

    /// Stable name, as written in the rules table.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodUnit::Hours => "hours",
            PeriodUnit::CalendarDays => "calendar_days",
            PeriodUnit::BusinessDays => "business_days",
            PeriodUnit::CalendarMonths => "calendar_months",
            PeriodUnit::EndOfYearPlusDays => "end_of_year_plus_days",
        }
    }

    /// Parses [`PeriodUnit::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// How long a notification may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// No fixed period: "without undue delay" (`"unit": "none"` in the table).
    WithoutUndueDelay,
    /// At most `amount` `unit`s.
    Within {
        /// How many units (at least 1).
        amount: u32,
        /// The unit.
        unit: PeriodUnit,
    },
}

impl Period {
    /// Whether the period is counted in business days (and so needs a calendar).
    pub fn is_business_days(self) -> bool {
        matches!(
            self,
            Period::Within {
                unit: PeriodUnit::BusinessDays,
                ..
            }
        )
    }
}

impl fmt::Display for Period {
    /// `72 hours`, `3 business_days`, `without undue delay`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::WithoutUndueDelay => f.write_str("without undue delay"),
            Period::Within { amount, unit } => write!(f, "{amount} {}", unit.as_str()),
        }
    }
}

/// When a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Always.
    Always,
    /// When the breach is likely to result in a risk ([`Risk::Risk`] or higher).
    Risk,
    /// When the breach is likely to result in a high risk ([`Risk::HighRisk`]).
    HighRisk,
    /// When at least N people are affected.
    AffectedAtLeast(u64),
    /// When more than N people are affected.
    AffectedOver(u64),
    /// When fewer than N people are affected.
    AffectedUnder(u64),
}

impl Condition {
    /// Parses the table's notation (see [`Condition`]'s `Display`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "always" => return Some(Condition::Always),
            "risk" => return Some(Condition::Risk),
            "high_risk" => return Some(Condition::HighRisk),
            _ => {}
        }
        let (name, rest) = s.split_once('(')?;
        let digits = rest.strip_suffix(')')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u64 = digits.parse().ok()?;
        match name {
            "affected_at_least" => Some(Condition::AffectedAtLeast(n)),
            "affected_over" => Some(Condition::AffectedOver(n)),
            "affected_under" => Some(Condition::AffectedUnder(n)),
            _ => None,
        }
    }

    /// Whether the condition holds for `facts`.
    pub fn requirement(self, facts: &ClockFacts) -> Requirement {
        let met = match self {
            Condition::Always => Some(true),
            Condition::Risk => facts.risk.map(|r| r >= Risk::Risk),
            Condition::HighRisk => facts.risk.map(|r| r == Risk::HighRisk),
            Condition::AffectedAtLeast(n) => facts.affected.map(|a| a >= n),
            Condition::AffectedOver(n) => facts.affected.map(|a| a > n),
            Condition::AffectedUnder(n) => facts.affected.map(|a| a < n),
        };
        match met {
            Some(true) => Requirement::Required,
            Some(false) => Requirement::NotRequired,
            None => Requirement::Undetermined(match self {
                Condition::Risk | Condition::HighRisk => Undetermined::RiskNotAssessed,
                _ => Undetermined::CountUnknown,
            }),
        }
    }
}

impl fmt::Display for Condition {
    /// The table's notation: `always`, `risk`, `high_risk`, `affected_at_least(500)`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Always => f.write_str("always"),
            Condition::Risk => f.write_str("risk"),
            Condition::HighRisk => f.write_str("high_risk"),
            Condition::AffectedAtLeast(n) => write!(f, "affected_at_least({n})"),
            Condition::AffectedOver(n) => write!(f, "affected_over({n})"),
            Condition::AffectedUnder(n) => write!(f, "affected_under({n})"),
        }
    }
}

/// The period a rule uses while the event that starts its clock has not happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fallback {
    /// Where the fallback period starts (never [`ClockStart::IndividualsNotified`]).
    pub clock_start: ClockStart,
    /// The fallback period.
    pub period: Period,
}

/// One notification duty: who must be told, by when, and on what condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRule {
    /// Stable id, e.g. `GDPR.authority` or `HIPAA.hhs.under_500`.
    pub id: String,
    /// The jurisdiction key: `GDPR`, `UK_GDPR`, `LGPD`, `US_CA`, `HIPAA`, `NIS2`, ...
    pub jurisdiction: String,
    /// Who is to be notified.
    pub recipient: Recipient,
    /// The event the clock starts at.
    pub clock_start: ClockStart,
    /// The time allowed.
    pub period: Period,
    /// The period used until the clock's start event has happened, if the rule has one.
    pub fallback: Option<Fallback>,
    /// The calendar for business days ([`HolidayCalendar::None`] when no period is in
    /// business days).
    pub calendar: HolidayCalendar,
    /// When the rule applies.
    pub condition: Condition,
    /// The legal source; `(verify)` marks unconfirmed facts.
    pub source: String,
    /// Further explanation, if the table gives one.
    pub notes: Option<String>,
}

impl NotificationRule {
    /// The clock this rule sets for an incident with `facts`.
    ///
    /// # Errors
    ///
    /// [`IncidentError::NotifiedBeforeDiscovery`] if the individuals' notice predates the
    /// discovery; [`IncidentError::OutOfRange`] near year 9999.
    pub fn clock(&self, facts: &ClockFacts) -> Result<Clock, IncidentError> {
        if facts
            .individuals_notified_at
            .is_some_and(|at| at < facts.discovered_at)
        {
            return Err(IncidentError::NotifiedBeforeDiscovery);
        }
        let start_of = |start: ClockStart| match start {
            ClockStart::Awareness => Some(facts.aware_at),
            ClockStart::Discovery => Some(facts.discovered_at),
            ClockStart::IndividualsNotified => facts.individuals_notified_at,
        };
        let (started_at, period, provisional) = match (start_of(self.clock_start), self.fallback) {
            (Some(at), _) => (at, self.period, false),
            (None, Some(fb)) => match start_of(fb.clock_start) {
                Some(at) => (at, fb.period, true),
                // INVARIANT: a parsed table's fallback never starts at the individuals'
                // notice; a hand-built rule that does falls through to the same answer as
                // a rule without a fallback.
                None => (facts.discovered_at, Period::WithoutUndueDelay, true),
            },
            // INVARIANT: a parsed table gives every rule that starts at the individuals'
            // notice a fallback; a hand-built rule without one has no due time yet.
            (None, None) => (facts.discovered_at, Period::WithoutUndueDelay, true),
        };
        let due = due(started_at, period, self.calendar, &facts.time_zone)?;
        Ok(Clock {
            rule: self.id.clone(),
            jurisdiction: self.jurisdiction.clone(),
            recipient: self.recipient,
            required: self.condition.requirement(facts),
            due,
            started_at,
            provisional,
            period,
            source: self.source.clone(),
            notes: self.notes.clone(),
        })
    }
}

/// The due instant of `period` started at `start` (see the module documentation of
/// [`super`] for the counting conventions).
fn due(
    start: Timestamp,
    period: Period,
    calendar: HolidayCalendar,
    tz: &TimeZone,
) -> Result<Option<Timestamp>, IncidentError> {
    let Period::Within { amount, unit } = period else {
        return Ok(None);
    };
    let n = i64::from(amount);
    let local = tz.to_datetime(start);
    let (date, time) = (local.date(), local.time());
    let at_same_time = |last: Date| -> Result<Option<Timestamp>, IncidentError> {
        Ok(Some(
            last.to_datetime(time).to_zoned(tz.clone())?.timestamp(),
        ))
    };
    match unit {
        PeriodUnit::Hours => Ok(Some(start.checked_add(SignedDuration::from_hours(n))?)),
        PeriodUnit::CalendarDays => at_same_time(date.checked_add(n.days())?),
        PeriodUnit::BusinessDays => {
            at_same_time(calendar::add_business_days(calendar, date, amount)?)
        }
        // jiff keeps the day of the month and clamps it to the month's last day.
        PeriodUnit::CalendarMonths => at_same_time(date.checked_add(n.months())?),
        PeriodUnit::EndOfYearPlusDays => {
            // The end of the last day: one nanosecond before the next day starts (which
            // handles days of 23 or 25 hours).
            let last = date.last_of_year().checked_add(n.days())?;
            let next = last.tomorrow()?.to_datetime(Time::midnight());
            let end = next
                .to_zoned(tz.clone())?
                .timestamp()
                .checked_sub(SignedDuration::from_nanos(1))?;
            Ok(Some(end))
        }
    }
}

/// A versioned, validated table of notification rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesTable {
    version: String,
    rules: Vec<NotificationRule>,
}

/// The table shipped with the product.
const SHIPPED: &str = include_str!("notification_rules.json");

/// The table shipped with the product (`notification_rules.json`), parsed and validated once.
///
/// # Errors
///
/// Only if the shipped table is broken, which the tests rule out.
pub fn rules() -> Result<&'static RulesTable, RulesError> {
    static CELL: OnceLock<Result<RulesTable, RulesError>> = OnceLock::new();
    CELL.get_or_init(|| RulesTable::parse(SHIPPED))
        .as_ref()
        .map_err(Clone::clone)
}

impl RulesTable {
    /// Parses and validates a table (the format of `notification_rules.json`, see the module
    /// documentation).
    ///
    /// # Errors
    ///
    /// A [`RulesError`] naming the rule and field at fault.
    pub fn parse(json: &str) -> Result<RulesTable, RulesError> {
        let root = table::parse_json("notification rules", json)?;
        let mut top = Obj::new(&root, "table".to_owned())?;
        let version = top.string("version")?;
        if version.trim().is_empty() {
            return Err(top.invalid("`version` must not be empty"));
        }
        let _description = top.optional_string("description")?;
        let list = top.array("rules")?;
        top.finish()?;
        if list.is_empty() {
            return Err(RulesError::Invalid {
                at: "table".to_owned(),
                problem: "`rules` must not be empty".to_owned(),
            });
        }
        let mut rules = Vec::with_capacity(list.len());
        let mut ids = BTreeSet::new();
        for (i, value) in list.iter().enumerate() {
            let rule = parse_rule(value, i)?;
            if !ids.insert(rule.id.clone()) {
                return Err(RulesError::DuplicateId {
                    at: format!("rules[{i}]"),
                    id: rule.id,
                });
            }
            rules.push(rule);
        }
        Ok(RulesTable { version, rules })
    }

    /// The table's version (a date, e.g. `2026-12-01`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every rule, in table order.
    pub fn rules(&self) -> &[NotificationRule] {
        &self.rules
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&NotificationRule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The jurisdictions the table covers, sorted, each once.
    pub fn jurisdictions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.rules.iter().map(|r| r.jurisdiction.as_str()).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The rules of `jurisdiction`, in table order.
    ///
    /// # Errors
    ///
    /// [`IncidentError::UnknownJurisdiction`] if there are none.
    pub fn rules_for(&self, jurisdiction: &str) -> Result<Vec<&NotificationRule>, IncidentError> {
        let found: Vec<&NotificationRule> = self
            .rules
            .iter()
            .filter(|r| r.jurisdiction == jurisdiction)
            .collect();
        if found.is_empty() {
            return Err(IncidentError::UnknownJurisdiction {
                jurisdiction: jurisdiction.to_owned(),
            });
        }
        Ok(found)
    }

    /// The clocks of every rule of `jurisdictions`, in the order of `jurisdictions` (each
    /// counted once) and then of the table.
    ///
    /// # Errors
    ///
    /// [`IncidentError::UnknownJurisdiction`] naming the first key the table does not know
    /// (checked before anything is computed); see [`NotificationRule::clock`].
    pub fn clocks<S: AsRef<str>>(
        &self,
        jurisdictions: &[S],
        facts: &ClockFacts,
    ) -> Result<Vec<Clock>, IncidentError> {
        let mut seen = BTreeSet::new();
        let mut selected = Vec::new();
        for j in jurisdictions {
            let j = j.as_ref();
            if seen.insert(j) {
                selected.extend(self.rules_for(j)?);
            }
        }
        selected.into_iter().map(|r| r.clock(facts)).collect()
    }
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn is_suffix(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn parse_rule(value: &Value, index: usize) -> Result<NotificationRule, RulesError> {
    let mut o = Obj::new(value, format!("rules[{index}]"))?;
    let id = o.string("id")?;
    o.at = format!("rules[{index}] ({id})");
    let jurisdiction = o.string("jurisdiction")?;
    if !is_key(&jurisdiction) {
        return Err(o.invalid("`jurisdiction` must be upper-case letters, digits and `_`"));
    }
    let recipient = o.name(
        "recipient",
        Recipient::parse,
        &Recipient::ALL.map(Recipient::as_str).join(", "),
    )?;
    let prefix = format!("{jurisdiction}.{}", recipient.as_str());
    let id_ok = id == prefix
        || id
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(is_suffix);
    if !id_ok {
        return Err(o.invalid(&format!(
            "`id` must be `{prefix}` or `{prefix}.` followed by lower-case letters, digits \
             and `_`"
        )));
    }
    let clock_start = o.name("clock_start", ClockStart::parse, CLOCK_STARTS)?;
    let period = o.period("period")?;
    let fallback = match o.take("fallback") {
        None => None,
        Some(v) => {
            let mut f = Obj::new(&v, format!("{}.fallback", o.at))?;
            let start = f.name("clock_start", ClockStart::parse, CLOCK_STARTS)?;
            if start == ClockStart::IndividualsNotified {
                return Err(f.invalid("a fallback cannot start at the individuals' notice"));
            }
            let period = f.period("period")?;
            f.finish()?;
            Some(Fallback {
                clock_start: start,
                period,
            })
        }
    };
    match (clock_start, fallback.is_some()) {
        (ClockStart::IndividualsNotified, false) => return Err(o.missing("fallback")),
        (ClockStart::Awareness | ClockStart::Discovery, true) => {
            return Err(
                o.invalid("`fallback` is only used with `clock_start` \"individuals_notified\"")
            );
        }
        _ => {}
    }
    let business =
        period.is_business_days() || fallback.is_some_and(|f| f.period.is_business_days());
    let calendar = o.optional_name(
        "calendar",
        HolidayCalendar::parse,
        &HolidayCalendar::ALL.map(HolidayCalendar::as_str).join(", "),
    )?;
    let calendar = match (calendar, business) {
        (Some(c), true) => c,
        (None, true) => return Err(o.missing("calendar")),
        (Some(_), false) => {
            return Err(o.invalid("`calendar` is only used with periods in business_days"));
        }
        (None, false) => HolidayCalendar::None,
    };
    let condition = o.name(
        "condition",
        Condition::parse,
        "always, risk, high_risk, affected_at_least(N), affected_over(N), affected_under(N)",
    )?;
    let source = o.string("source")?;
    if source.trim().is_empty() {
        return Err(o.invalid("`source` must cite the law"));
    }
    let notes = o.optional_string("notes")?;
    o.finish()?;
    Ok(NotificationRule {
        id,
        jurisdiction,
        recipient,
        clock_start,
        period,
        fallback,
        calendar,
        condition,
        source,
        notes,
    })
}

const CLOCK_STARTS: &str = "awareness, discovery, individuals_notified";

/// Reads the periods of a notification rules table, which the shared [`Obj`] reader does not
/// know.
trait PeriodField {
    /// Reads a required period: `{ "amount": N, "unit": U }` or `{ "unit": "none" }`.
    fn period(&mut self, field: &str) -> Result<Period, RulesError>;
}

impl PeriodField for Obj {
    fn period(&mut self, field: &str) -> Result<Period, RulesError> {
        let Some(value) = self.take(field) else {
            return Err(self.missing(field));
        };
        let mut p = Obj::new(&value, format!("{}.{field}", self.at))?;
        let unit = p.string("unit")?;
        let amount = p.take("amount");
        if unit == "none" {
            if amount.is_some() {
                return Err(p.invalid("`amount` is not used with unit \"none\""));
            }
            p.finish()?;
            return Ok(Period::WithoutUndueDelay);
        }
        let Some(parsed) = PeriodUnit::parse(&unit) else {
            return Err(RulesError::UnknownValue {
                at: p.at.clone(),
                field: "unit".to_owned(),
                value: unit,
                expected: "hours, calendar_days, business_days, calendar_months, \
                           end_of_year_plus_days, none"
                    .to_owned(),
            });
        };
        let amount = match amount {
            None => return Err(p.missing("amount")),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| p.wrong_type("amount", "a whole number from 1 to 4294967295"))?,
            Some(_) => return Err(p.wrong_type("amount", "a whole number")),
        };
        if amount == 0 {
            return Err(p.invalid("`amount` must be at least 1"));
        }
        p.finish()?;
        Ok(Period::Within {
            amount,
            unit: parsed,
        })
    }
}
