//! Data-subject rights requests: the statutory deadlines that govern them.
//!
//! The deadlines are data, not code: `deadlines.json` (shipped in the binary, loaded with
//! [`RuleSet::shipped`]) is a versioned table of [`Rule`]s, one per jurisdiction and set of
//! request types, each citing its source. Facts the project's standards mark "(verify)" carry
//! `(verify)` in the rule's `source`. [`deadline`] applies a rule to a request; [`calendar`]
//! knows which days are business days.
//!
//! # Counting conventions
//!
//! All counting is done on civil dates in the time zone the law counts in, which the caller
//! passes (`jiff::tz::TimeZone`): the instant a request arrives is first turned into the date
//! it was received there.
//!
//! * **Calendar days**: the day of receipt is not counted; received on day D, a 45-day period
//!   ends on D+45 (Cal. Civ. Code §10: "computed by excluding the first day, and including the
//!   last").
//! * **Business days**: the day of receipt is not counted; count forward N days that are
//!   neither weekends nor holidays of the rule's [`calendar::HolidayCalendar`].
//! * **Calendar months**: Reg. (EEC, Euratom) No 1182/71 Art. 3(2)(c): the period ends on the
//!   day of the last month with the same date as the day of receipt, or, if that month has no
//!   such date, on its last day (received 31 January → 28 February, or 29 in a leap year).
//! * **Hours**: from the exact instant of receipt; never rolled.
//!
//! A period ends at the end of its last day (23:59:59.999999999 in the law's time zone). When
//! a rule has `roll_to_working_day`, a last day that is a Saturday, Sunday or holiday of the
//! rule's calendar moves to the next working day (Reg. 1182/71 Art. 3(4)). Rules that do not
//! say so are not rolled: the earlier date is the safe one.
//!
//! An extension in the same unit as the response period is counted from the clock start as
//! one longer period (GDPR: 1 + 2 = 3 months from receipt; CCPA: 45 + 45 = 90 days from
//! receipt); in another unit it is counted from the last day of the response period, before
//! any roll-over. An acknowledgement period always runs from receipt.
//!
//! Not modelled: the public holidays of EU member states and of the UK (GDPR and UK GDPR
//! deadlines roll over weekends only, so they may fall a day earlier than the law allows,
//! never later), statutes' general rules on holidays where the table does not say a deadline
//! rolls, and the appeal timers of US state laws.

pub mod calendar;
pub mod dataset;
pub mod deadline;
pub mod drp;
pub mod export;
pub mod request;
pub mod task;
pub mod workflow;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde_json::Value;

pub use calendar::{HolidayCalendar, is_business_day};
pub use deadline::{
    DeadlineError, Deadlines, Due, Pause, RequestClock, compute, compute_with_pauses,
};

// The error is shared with the notification rules table (`incident::RulesError`).
pub use crate::table::{NotJson, TableError as RulesError};

use crate::table::{self, Obj};

/// The kinds of data-subject (consumer) rights request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RequestType {
    /// A copy of one's personal data (GDPR Art. 15; CCPA "specific pieces").
    Access,
    /// One's data in a portable, machine-readable format (GDPR Art. 20).
    Portability,
    /// Correction of inaccurate data (GDPR Art. 16; CCPA "right to correct").
    Rectification,
    /// Deletion (GDPR Art. 17; CCPA "right to delete").
    Erasure,
    /// Restriction of processing (GDPR Art. 18).
    Restriction,
    /// Objection to processing (GDPR Art. 21).
    Objection,
    /// Opt-out of the sale of personal data.
    OptOutSale,
    /// Opt-out of sharing for cross-context behavioural advertising (CCPA).
    OptOutSharing,
    /// Opt-out of targeted advertising (US state laws).
    OptOutTargetedAdvertising,
    /// Limit the use of sensitive personal information (CCPA §1798.121).
    LimitSensitive,
    /// The categories of personal data collected, sources, purposes and recipients (CCPA
    /// "right to know" categories).
    AccessCategories,
}

impl RequestType {
    /// Every request type.
    pub const ALL: [RequestType; 11] = [
        RequestType::Access,
        RequestType::Portability,
        RequestType::Rectification,
        RequestType::Erasure,
        RequestType::Restriction,
        RequestType::Objection,
        RequestType::OptOutSale,
        RequestType::OptOutSharing,
        RequestType::OptOutTargetedAdvertising,
        RequestType::LimitSensitive,
        RequestType::AccessCategories,
    ];

    /// Stable snake_case name, as written in the rules table.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Access => "access",
            RequestType::Portability => "portability",
            RequestType::Rectification => "rectification",
            RequestType::Erasure => "erasure",
            RequestType::Restriction => "restriction",
            RequestType::Objection => "objection",
            RequestType::OptOutSale => "opt_out_sale",
            RequestType::OptOutSharing => "opt_out_sharing",
            RequestType::OptOutTargetedAdvertising => "opt_out_targeted_advertising",
            RequestType::LimitSensitive => "limit_sensitive",
            RequestType::AccessCategories => "access_categories",
        }
    }

    /// Parses [`RequestType::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a rule's response clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStart {
    /// When the request is received, whatever verification takes.
    Receipt,
    /// When the requester's identity has been verified.
    Verification,
}

impl ClockStart {
    /// Stable name, as written in the rules table.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockStart::Receipt => "receipt",
            ClockStart::Verification => "verification",
        }
    }

    /// Parses [`ClockStart::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [ClockStart::Receipt, ClockStart::Verification]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// The unit a period is counted in (see the module documentation for how each is counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodUnit {
    /// Calendar days, the day of receipt not counted.
    CalendarDays,
    /// Business days of the rule's calendar, the day of receipt not counted.
    BusinessDays,
    /// Calendar months, Reg. 1182/71 Art. 3(2)(c).
    CalendarMonths,
    /// Hours from the exact instant.
    Hours,
}

impl PeriodUnit {
    /// Every unit.
    pub const ALL: [PeriodUnit; 4] = [
        PeriodUnit::CalendarDays,
        PeriodUnit::BusinessDays,
        PeriodUnit::CalendarMonths,
        PeriodUnit::Hours,
    ];

    /// Stable name, as written in the rules table.
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodUnit::CalendarDays => "calendar_days",
            PeriodUnit::BusinessDays => "business_days",
            PeriodUnit::CalendarMonths => "calendar_months",
            PeriodUnit::Hours => "hours",
        }
    }

    /// Parses [`PeriodUnit::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.as_str() == s)
    }
}

/// A length of time: `amount` `unit`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// How many units (at least 1 in a parsed table).
    pub amount: u32,
    /// The unit.
    pub unit: PeriodUnit,
}

/// Whether and by when the requester must be told that the deadline is extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionNotice {
    /// The requester must be told, with reasons, before the original response period ends.
    WithinOriginalPeriod,
    /// No notice is required; the extension must still be decided before the original
    /// deadline passes.
    NotRequired,
}

impl ExtensionNotice {
    /// Stable name, as written in the rules table.
    pub fn as_str(self) -> &'static str {
        match self {
            ExtensionNotice::WithinOriginalPeriod => "within_original_period",
            ExtensionNotice::NotRequired => "not_required",
        }
    }

    /// Parses [`ExtensionNotice::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            ExtensionNotice::WithinOriginalPeriod,
            ExtensionNotice::NotRequired,
        ]
        .into_iter()
        .find(|n| n.as_str() == s)
    }
}

/// How far a rule lets the response deadline be extended, and on what notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension {
    /// The additional time.
    pub period: Period,
    /// The notice owed to the requester.
    pub notice: ExtensionNotice,
}

/// Which request types a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestTypes {
    /// Every request type (`"*"` in the table).
    All,
    /// The listed ones.
    Only(Vec<RequestType>),
}

impl RequestTypes {
    /// Whether `request_type` is covered.
    pub fn contains(&self, request_type: RequestType) -> bool {
        match self {
            RequestTypes::All => true,
            RequestTypes::Only(list) => list.contains(&request_type),
        }
    }

    /// The covered request types, in [`RequestType::ALL`] order.
    pub fn to_vec(&self) -> Vec<RequestType> {
        RequestType::ALL
            .into_iter()
            .filter(|t| self.contains(*t))
            .collect()
    }
}

/// The deadlines one jurisdiction sets for some request types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The jurisdiction key (`GDPR`, `CCPA`, `US_VA`, ...).
    pub jurisdiction: String,
    /// The request types the rule covers.
    pub request_types: RequestTypes,
    /// When the response clock starts.
    pub clock_start: ClockStart,
    /// The time to respond.
    pub respond: Period,
    /// The time to acknowledge receipt, counted from receipt, if the law sets one.
    pub acknowledge: Option<Period>,
    /// The extension the law allows, if any.
    pub extension: Option<Extension>,
    /// Whether the response clock stops while the requester's identity is being verified.
    pub pauses_for_verification: bool,
    /// The calendar for business days and roll-over.
    pub calendar: HolidayCalendar,
    /// Whether a period whose last day is not a working day ends on the next working day.
    pub roll_to_working_day: bool,
    /// The legal source, e.g. `GDPR Art. 12(3)`; `(verify)` marks unconfirmed facts.
    pub source: String,
    /// Further explanation, if the table gives one.
    pub notes: Option<String>,
}

impl Rule {
    /// The request types the rule covers, in [`RequestType::ALL`] order.
    pub fn request_types(&self) -> Vec<RequestType> {
        self.request_types.to_vec()
    }
}

/// A versioned, validated table of deadline rules: at most one rule per jurisdiction and
/// request type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    version: String,
    rules: Vec<Rule>,
}

/// The table shipped with the product.
const SHIPPED: &str = include_str!("deadlines.json");

impl RuleSet {
    /// The table shipped with the product (`deadlines.json`), parsed once.
    ///
    /// # Errors
    ///
    /// Only if the shipped table is broken, which the tests rule out.
    pub fn shipped() -> Result<&'static RuleSet, RulesError> {
        static CELL: OnceLock<Result<RuleSet, RulesError>> = OnceLock::new();
        CELL.get_or_init(|| RuleSet::parse(SHIPPED))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses and validates a rules table (the format of `deadlines.json`).
    ///
    /// # Errors
    ///
    /// A [`RulesError`] naming the rule and field at fault: invalid JSON, a missing or unknown
    /// field, a value of the wrong type, an unknown unit, request type, calendar or clock
    /// start, a zero amount, inconsistent fields, or two rules for the same jurisdiction and
    /// request type.
    pub fn parse(json: &str) -> Result<RuleSet, RulesError> {
        let root = table::parse_json("rules", json)?;
        let mut top = Obj::new(&root, "table".to_owned())?;
        let version = top.string("version")?;
        if version.trim().is_empty() {
            return Err(top.invalid("`version` must not be empty"));
        }
        let _description = top.optional_string("description")?;
        let list = top.array("rules")?;
        top.finish()?;

        let mut rules = Vec::with_capacity(list.len());
        let mut seen: BTreeMap<(String, RequestType), String> = BTreeMap::new();
        for (i, value) in list.iter().enumerate() {
            let rule = parse_rule(value, i)?;
            let at = format!("rules[{i}] ({})", rule.jurisdiction);
            for t in rule.request_types() {
                let key = (rule.jurisdiction.clone(), t);
                if let Some(first) = seen.get(&key) {
                    return Err(RulesError::DuplicateRule {
                        at,
                        jurisdiction: rule.jurisdiction.clone(),
                        request_type: t,
                        first: first.clone(),
                    });
                }
                seen.insert(key, at.clone());
            }
            rules.push(rule);
        }
        Ok(RuleSet { version, rules })
    }

    /// The table's version (a date, e.g. `2026-11-24`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every rule, in table order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The jurisdictions the table covers, sorted, each once.
    pub fn jurisdictions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.rules.iter().map(|r| r.jurisdiction.as_str()).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The rule for `request_type` in `jurisdiction`.
    ///
    /// # Errors
    ///
    /// [`DeadlineError::NoRule`] if the table has none (an unknown jurisdiction, or a right
    /// the jurisdiction does not grant).
    pub fn rule(
        &self,
        jurisdiction: &str,
        request_type: RequestType,
    ) -> Result<&Rule, DeadlineError> {
        self.rules
            .iter()
            .find(|r| r.jurisdiction == jurisdiction && r.request_types.contains(request_type))
            .ok_or_else(|| DeadlineError::NoRule {
                jurisdiction: jurisdiction.to_owned(),
                request_type,
            })
    }
}

fn parse_rule(value: &Value, index: usize) -> Result<Rule, RulesError> {
    let mut o = Obj::new(value, format!("rules[{index}]"))?;
    let jurisdiction = o.string("jurisdiction")?;
    if jurisdiction.is_empty()
        || !jurisdiction
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(o.invalid("`jurisdiction` must be upper-case letters, digits and `_`"));
    }
    o.at = format!("rules[{index}] ({jurisdiction})");

    let request_types = parse_request_types(&mut o)?;
    let clock_start = o.name("clock_start", ClockStart::parse, "receipt, verification")?;
    let respond = o.period("respond")?;
    let acknowledge = o.optional_period("acknowledge")?;
    let extension_period = o.optional_period("extension")?;
    let notice = o.optional_name(
        "extension_notice",
        ExtensionNotice::parse,
        "within_original_period, not_required",
    )?;
    let extension = match (extension_period, notice) {
        (Some(period), Some(notice)) => Some(Extension { period, notice }),
        (None, None) => None,
        (Some(_), None) => return Err(o.missing("extension_notice")),
        (None, Some(_)) => {
            return Err(o.invalid("`extension_notice` is given but `extension` is not"));
        }
    };
    let pauses_for_verification = o.boolean("pauses_for_verification")?;
    if pauses_for_verification && clock_start == ClockStart::Verification {
        return Err(o.invalid(
            "`clock_start` \"verification\" and `pauses_for_verification` both stop the clock \
             for verification: choose one",
        ));
    }
    let calendar = o.name(
        "calendar",
        HolidayCalendar::parse,
        "NONE, US_FEDERAL, US_CA, BR",
    )?;
    let roll_to_working_day = o.boolean("roll_to_working_day")?;
    let source = o.string("source")?;
    if source.trim().is_empty() {
        return Err(o.invalid("`source` must cite the law"));
    }
    let notes = o.optional_string("notes")?;
    o.finish()?;
    Ok(Rule {
        jurisdiction,
        request_types,
        clock_start,
        respond,
        acknowledge,
        extension,
        pauses_for_verification,
        calendar,
        roll_to_working_day,
        source,
        notes,
    })
}

fn parse_request_types(o: &mut Obj) -> Result<RequestTypes, RulesError> {
    const FIELD: &str = "request_types";
    match o.take(FIELD) {
        None => Err(o.missing(FIELD)),
        Some(Value::String(s)) if s == "*" => Ok(RequestTypes::All),
        Some(Value::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let field = format!("{FIELD}[{i}]");
                let Value::String(s) = item else {
                    return Err(o.wrong_type(&field, "a string"));
                };
                let t = RequestType::parse(s).ok_or_else(|| RulesError::UnknownValue {
                    at: o.at.clone(),
                    field: field.clone(),
                    value: s.clone(),
                    expected: RequestType::ALL.map(RequestType::as_str).join(", "),
                })?;
                if list.contains(&t) {
                    return Err(o.invalid(&format!("`{FIELD}` lists `{t}` twice")));
                }
                list.push(t);
            }
            if list.is_empty() {
                return Err(o.invalid(&format!("`{FIELD}` must not be empty")));
            }
            Ok(RequestTypes::Only(list))
        }
        Some(_) => Err(o.wrong_type(FIELD, "a list of request types or \"*\"")),
    }
}

/// Reads the periods of a deadlines table, which the shared [`Obj`] reader does not know.
trait PeriodFields {
    /// Reads a period (`{ "amount": N, "unit": U }`) that may be absent.
    fn optional_period(&mut self, field: &str) -> Result<Option<Period>, RulesError>;

    /// Reads a required period.
    fn period(&mut self, field: &str) -> Result<Period, RulesError>;
}

impl PeriodFields for Obj {
    fn optional_period(&mut self, field: &str) -> Result<Option<Period>, RulesError> {
        let Some(value) = self.take(field) else {
            return Ok(None);
        };
        let mut p = Obj::new(&value, format!("{}.{field}", self.at))?;
        let amount = match p.take("amount") {
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
        let unit = p.name(
            "unit",
            PeriodUnit::parse,
            "calendar_days, business_days, calendar_months, hours",
        )?;
        p.finish()?;
        Ok(Some(Period { amount, unit }))
    }

    fn period(&mut self, field: &str) -> Result<Period, RulesError> {
        self.optional_period(field)?
            .ok_or_else(|| self.missing(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-rule table around `rule` (a JSON object's fields, without braces).
    fn table(rule: &str) -> String {
        format!(r#"{{ "version": "test", "rules": [ {{ {rule} }} ] }}"#)
    }

    const GOOD: &str = r#"
        "jurisdiction": "TEST",
        "request_types": ["access", "erasure"],
        "clock_start": "receipt",
        "respond": { "amount": 30, "unit": "calendar_days" },
        "pauses_for_verification": false,
        "calendar": "NONE",
        "roll_to_working_day": false,
        "source": "Test Act s. 1"
    "#;

    /// Parses a one-rule table and returns the error's message.
    fn check_err(rule: &str) -> String {
        match RuleSet::parse(&table(rule)) {
            Ok(_) => panic!("accepted: {rule}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn request_type_names_round_trip() {
        for t in RequestType::ALL {
            assert_eq!(RequestType::parse(t.as_str()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(
            RequestType::parse("access_categories"),
            Some(RequestType::AccessCategories)
        );
        assert_eq!(RequestType::parse("Access"), None);
        assert_eq!(RequestType::parse("opt-out-sale"), None);
    }

    #[test]
    fn a_good_rule_parses() {
        let set = RuleSet::parse(&table(GOOD)).unwrap();
        assert_eq!(set.version(), "test");
        let rule = set.rule("TEST", RequestType::Erasure).unwrap();
        assert_eq!(
            rule.respond,
            Period {
                amount: 30,
                unit: PeriodUnit::CalendarDays
            }
        );
        assert_eq!(rule.acknowledge, None);
        assert_eq!(rule.extension, None);
        assert_eq!(
            rule.request_types(),
            [RequestType::Access, RequestType::Erasure]
        );
    }

    #[test]
    fn star_covers_every_request_type() {
        let set =
            RuleSet::parse(&table(&GOOD.replace(r#"["access", "erasure"]"#, r#""*""#))).unwrap();
        for t in RequestType::ALL {
            assert!(set.rule("TEST", t).is_ok(), "{t}");
        }
    }

    #[test]
    fn an_unknown_unit_is_named() {
        assert_eq!(
            check_err(&GOOD.replace("calendar_days", "fortnights")),
            "rules[0] (TEST).respond: field `unit` has unknown value `fortnights` (expected one \
             of: calendar_days, business_days, calendar_months, hours)"
        );
    }

    #[test]
    fn an_unknown_request_type_is_named_with_its_position() {
        let e = RuleSet::parse(&table(&GOOD.replace("\"erasure\"", "\"deletion\""))).unwrap_err();
        assert!(
            matches!(&e, RulesError::UnknownValue { field, value, .. }
                if field == "request_types[1]" && value == "deletion"),
            "{e:?}"
        );
        assert!(
            e.to_string().starts_with(
                "rules[0] (TEST): field `request_types[1]` has unknown value `deletion`"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let without_source = GOOD.replace(r#""source": "Test Act s. 1""#, r#""notes": "x""#);
        assert_eq!(
            RuleSet::parse(&table(&without_source)).unwrap_err(),
            RulesError::MissingField {
                at: "rules[0] (TEST)".to_owned(),
                field: "source".to_owned()
            }
        );
        assert_eq!(
            check_err(&GOOD.replace(r#""unit": "calendar_days""#, r#""days": 1"#)),
            "rules[0] (TEST).respond: missing field `unit`"
        );
        assert_eq!(
            RuleSet::parse(r#"{ "rules": [] }"#)
                .unwrap_err()
                .to_string(),
            "table: missing field `version`"
        );
        // A missing jurisdiction is reported at the rule's index.
        assert_eq!(
            check_err(&GOOD.replace(r#""jurisdiction": "TEST","#, "")),
            "rules[0]: missing field `jurisdiction`"
        );
    }

    #[test]
    fn a_misspelt_field_is_refused() {
        assert_eq!(
            check_err(&GOOD.replace("pauses_for_verification", "pauses_for_verfication")),
            "rules[0] (TEST): missing field `pauses_for_verification`"
        );
        assert_eq!(
            check_err(&format!(
                r#"{GOOD}, "extnesion": {{ "amount": 1, "unit": "hours" }}"#
            )),
            "rules[0] (TEST): unknown field `extnesion`"
        );
    }

    #[test]
    fn wrong_types_and_bad_values_are_refused() {
        for (from, to, message) in [
            (
                r#""amount": 30"#,
                r#""amount": "30""#,
                "rules[0] (TEST).respond: field `amount` must be a whole number",
            ),
            (
                r#""amount": 30"#,
                r#""amount": 0"#,
                "rules[0] (TEST).respond: `amount` must be at least 1",
            ),
            (
                r#""amount": 30"#,
                r#""amount": -3"#,
                "rules[0] (TEST).respond: field `amount` must be a whole number from 1 to \
                 4294967295",
            ),
            (
                r#""roll_to_working_day": false"#,
                r#""roll_to_working_day": "no""#,
                "rules[0] (TEST): field `roll_to_working_day` must be true or false",
            ),
            (
                r#""NONE""#,
                r#""US_NY""#,
                "rules[0] (TEST): field `calendar` has unknown value `US_NY` (expected one of: \
                 NONE, US_FEDERAL, US_CA, BR)",
            ),
            (
                r#""receipt""#,
                r#""request""#,
                "rules[0] (TEST): field `clock_start` has unknown value `request` (expected one \
                 of: receipt, verification)",
            ),
            (
                r#"["access", "erasure"]"#,
                r#"[]"#,
                "rules[0] (TEST): `request_types` must not be empty",
            ),
            (
                r#"["access", "erasure"]"#,
                r#"["access", "access"]"#,
                "rules[0] (TEST): `request_types` lists `access` twice",
            ),
            (
                r#"["access", "erasure"]"#,
                r#""access""#,
                "rules[0] (TEST): field `request_types` must be a list of request types or \"*\"",
            ),
            (
                r#""TEST""#,
                r#""us-va""#,
                "rules[0]: `jurisdiction` must be upper-case letters, digits and `_`",
            ),
            (
                r#""source": "Test Act s. 1""#,
                r#""source": " ""#,
                "rules[0] (TEST): `source` must cite the law",
            ),
        ] {
            assert!(GOOD.contains(from), "{from}");
            assert_eq!(check_err(&GOOD.replacen(from, to, 1)), message);
        }
    }

    #[test]
    fn extension_and_its_notice_come_together() {
        let ext = r#", "extension": { "amount": 30, "unit": "calendar_days" }"#;
        assert_eq!(
            check_err(&format!("{GOOD}{ext}")),
            "rules[0] (TEST): missing field `extension_notice`"
        );
        assert_eq!(
            check_err(&format!(
                r#"{GOOD}, "extension_notice": "within_original_period""#
            )),
            "rules[0] (TEST): `extension_notice` is given but `extension` is not"
        );
        assert_eq!(
            check_err(&format!(r#"{GOOD}{ext}, "extension_notice": "eventually""#)),
            "rules[0] (TEST): field `extension_notice` has unknown value `eventually` (expected \
             one of: within_original_period, not_required)"
        );
        let set = RuleSet::parse(&table(&format!(
            r#"{GOOD}{ext}, "extension_notice": "not_required", "acknowledge": null"#
        )))
        .unwrap();
        assert_eq!(
            set.rules()[0].extension.map(|e| e.notice),
            Some(ExtensionNotice::NotRequired)
        );
    }

    #[test]
    fn verification_cannot_both_start_and_pause_the_clock() {
        assert_eq!(
            check_err(&GOOD.replace("receipt", "verification").replace(
                r#""pauses_for_verification": false"#,
                r#""pauses_for_verification": true"#
            )),
            "rules[0] (TEST): `clock_start` \"verification\" and `pauses_for_verification` both \
             stop the clock for verification: choose one"
        );
    }

    #[test]
    fn two_rules_for_the_same_request_type_are_refused() {
        let json = format!(
            r#"{{ "version": "test", "rules": [ {{ {GOOD} }}, {{ {} }} ] }}"#,
            GOOD.replace(r#"["access", "erasure"]"#, r#"["objection", "erasure"]"#)
        );
        assert_eq!(
            RuleSet::parse(&json).unwrap_err().to_string(),
            "rules[1] (TEST): a rule for `erasure` requests in `TEST` is already given at \
             rules[0] (TEST)"
        );
    }

    #[test]
    fn malformed_tables_are_refused() {
        assert!(matches!(
            RuleSet::parse("{ not json"),
            Err(RulesError::Json(_))
        ));
        assert_eq!(
            RuleSet::parse("[]").unwrap_err().to_string(),
            "table: must be a JSON object"
        );
        assert_eq!(
            RuleSet::parse(r#"{ "version": "", "rules": [] }"#)
                .unwrap_err()
                .to_string(),
            "table: `version` must not be empty"
        );
        assert_eq!(
            RuleSet::parse(r#"{ "version": "x", "rules": [ 3 ] }"#)
                .unwrap_err()
                .to_string(),
            "rules[0]: must be a JSON object"
        );
        assert_eq!(
            RuleSet::parse(r#"{ "version": "x", "rules": {} }"#)
                .unwrap_err()
                .to_string(),
            "table: field `rules` must be a list"
        );
    }

    #[test]
    fn no_rule_is_a_clear_error() {
        let set = RuleSet::shipped().unwrap();
        let e = set.rule("GDPR", RequestType::OptOutSale).unwrap_err();
        assert_eq!(
            e,
            DeadlineError::NoRule {
                jurisdiction: "GDPR".to_owned(),
                request_type: RequestType::OptOutSale
            }
        );
        assert_eq!(
            e.to_string(),
            "no deadline rule for `opt_out_sale` requests in `GDPR`"
        );
        assert!(matches!(
            set.rule("ATLANTIS", RequestType::Access),
            Err(DeadlineError::NoRule { .. })
        ));
        // Utah grants no right to correct.
        assert!(matches!(
            set.rule("US_UT", RequestType::Rectification),
            Err(DeadlineError::NoRule { .. })
        ));
    }

    #[test]
    fn the_shipped_table_covers_the_required_jurisdictions() {
        let set = RuleSet::shipped().unwrap();
        assert_eq!(set.version(), "2026-11-24");
        assert_eq!(
            set.jurisdictions(),
            [
                "CCPA", "GDPR", "LGPD", "PIPEDA", "UK_GDPR", "US_CO", "US_CT", "US_IA", "US_MT",
                "US_OR", "US_TX", "US_UT", "US_VA"
            ]
        );
        for r in set.rules() {
            assert!(!r.source.is_empty(), "{}", r.jurisdiction);
        }
    }
}
