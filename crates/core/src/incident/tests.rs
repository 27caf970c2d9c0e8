//! Known-answer tests of the notification clocks, the rules table, the notification and
//! incident states, and the letters.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::letter::{self, DefaultLetter, LetterError, MAX_TEMPLATE_BYTES, Variable, Vars};
use super::*;
use crate::rights::calendar::HolidayCalendar;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// Facts for an incident discovered and known at `when`, counted in `zone`.
fn facts(when: &str, zone: &str) -> ClockFacts {
    ClockFacts::new(at(when), tz(zone))
}

/// The clock of rule `id` among those of `jurisdiction`.
fn clock(jurisdiction: &str, id: &str, facts: &ClockFacts) -> Clock {
    let all = clocks(&[jurisdiction], facts).unwrap();
    all.into_iter().find(|c| c.rule == id).unwrap()
}

// ---- The rules table.

#[test]
fn the_shipped_rules_table_parses_and_covers_every_jurisdiction() {
    let table = rules().unwrap();
    assert!(!table.version().is_empty());
    let listed = jurisdictions().unwrap();
    assert_eq!(
        listed,
        ["GDPR", "HIPAA", "LGPD", "NIS2", "UK_GDPR", "US_CA"],
        "every jurisdiction of the brief, sorted"
    );
    for rule in table.rules() {
        assert!(listed.contains(&rule.jurisdiction.as_str()), "{}", rule.id);
        assert!(
            rule.id.starts_with(&format!(
                "{}.{}",
                rule.jurisdiction,
                rule.recipient.as_str()
            )),
            "{}",
            rule.id
        );
        assert!(!rule.source.trim().is_empty(), "{}", rule.id);
        assert_eq!(table.rule(&rule.id), Some(rule));
    }
    // One clock per rule when every jurisdiction is asked for.
    let f = facts("2026-04-02T10:00:00-03:00", "America/Sao_Paulo");
    assert_eq!(
        clocks(&listed, &f).unwrap().len(),
        table.rules().len(),
        "every rule yields a clock"
    );
}

#[test]
fn the_shipped_rules_use_the_expected_periods() {
    let table = rules().unwrap();
    let summary: Vec<String> = table
        .rules()
        .iter()
        .map(|r| {
            format!(
                "{} | {} from {} | {}",
                r.id,
                r.period,
                r.clock_start.as_str(),
                r.condition
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "GDPR.authority | 72 hours from awareness | risk",
            "GDPR.individuals | without undue delay from awareness | high_risk",
            "UK_GDPR.authority | 72 hours from awareness | risk",
            "UK_GDPR.individuals | without undue delay from awareness | high_risk",
            "LGPD.authority | 3 business_days from awareness | risk",
            "LGPD.individuals | 3 business_days from awareness | risk",
            "US_CA.individuals | 30 calendar_days from discovery | always",
            "US_CA.attorney_general | 15 calendar_days from individuals_notified | \
             affected_over(500)",
            "HIPAA.individuals | 60 calendar_days from discovery | always",
            "HIPAA.hhs.500_or_more | 60 calendar_days from discovery | affected_at_least(500)",
            "HIPAA.hhs.under_500 | 60 end_of_year_plus_days from discovery | affected_under(500)",
            "HIPAA.media | 60 calendar_days from discovery | affected_over(500)",
            "NIS2.csirt.early_warning | 24 hours from awareness | always",
            "NIS2.csirt.notification | 72 hours from awareness | always",
            "NIS2.csirt.final_report | 1 calendar_months from awareness | always",
        ]
    );
    let lgpd = table.rule("LGPD.authority").unwrap();
    assert_eq!(lgpd.calendar, HolidayCalendar::Br);
    let ca_ag = table.rule("US_CA.attorney_general").unwrap();
    assert_eq!(
        ca_ag.fallback,
        Some(Fallback {
            clock_start: ClockStart::Discovery,
            period: Period::Within {
                amount: 45,
                unit: PeriodUnit::CalendarDays
            },
        })
    );
    // Unconfirmed facts are marked.
    for id in ["NIS2.csirt.early_warning", "HIPAA.media"] {
        assert!(table.rule(id).unwrap().source.contains("(verify)"), "{id}");
    }
}

/// A one-rule table with the given rule body.
fn one_rule(body: &str) -> Result<RulesTable, RulesError> {
    RulesTable::parse(&format!(
        r#"{{ "version": "test", "rules": [ {{ {body} }} ] }}"#
    ))
}

const GOOD: &str = r#""id": "X.authority", "jurisdiction": "X", "recipient": "authority",
    "clock_start": "awareness", "period": { "amount": 3, "unit": "business_days" },
    "calendar": "BR", "condition": "risk", "source": "test""#;

#[test]
fn bad_tables_are_refused_with_the_place_and_reason() {
    assert!(one_rule(GOOD).is_ok());
    let cases = [
        (
            r#""condition": "risk""#,
            r#""condition": "risk", "colour": "red""#,
            "rules[0] (X.authority): unknown field `colour`",
        ),
        (
            r#""calendar": "BR","#,
            "",
            "rules[0] (X.authority): missing field `calendar`",
        ),
        (
            r#""calendar": "BR""#,
            r#""calendar": "FR""#,
            "rules[0] (X.authority): field `calendar` has unknown value `FR` (expected one of: \
             NONE, US_FEDERAL, US_CA, BR)",
        ),
        (
            r#""amount": 3, "unit": "business_days""#,
            r#""amount": 3, "unit": "hours""#,
            "rules[0] (X.authority): `calendar` is only used with periods in business_days",
        ),
        (
            r#""amount": 3, "unit": "business_days""#,
            r#""amount": 3, "unit": "none""#,
            "rules[0] (X.authority).period: `amount` is not used with unit \"none\"",
        ),
        (
            r#""amount": 3, "unit": "business_days""#,
            r#""amount": 0, "unit": "business_days""#,
            "rules[0] (X.authority).period: `amount` must be at least 1",
        ),
        (
            r#""amount": 3, "unit": "business_days""#,
            r#""amount": 3, "unit": "weeks""#,
            "rules[0] (X.authority).period: field `unit` has unknown value `weeks` (expected \
             one of: hours, calendar_days, business_days, calendar_months, \
             end_of_year_plus_days, none)",
        ),
        (
            r#""condition": "risk""#,
            r#""condition": "affected_over(many)""#,
            "rules[0] (X.authority): field `condition` has unknown value `affected_over(many)` \
             (expected one of: always, risk, high_risk, affected_at_least(N), affected_over(N), \
             affected_under(N))",
        ),
        (
            r#""id": "X.authority""#,
            r#""id": "X.individuals""#,
            "rules[0] (X.individuals): `id` must be `X.authority` or `X.authority.` followed by \
             lower-case letters, digits and `_`",
        ),
        (
            r#""jurisdiction": "X""#,
            r#""jurisdiction": "x""#,
            "rules[0] (X.authority): `jurisdiction` must be upper-case letters, digits and `_`",
        ),
        (
            r#""recipient": "authority""#,
            r#""recipient": "regulator""#,
            "rules[0] (X.authority): field `recipient` has unknown value `regulator` (expected \
             one of: authority, individuals, attorney_general, hhs, media, csirt)",
        ),
        (
            r#""clock_start": "awareness""#,
            r#""clock_start": "individuals_notified""#,
            "rules[0] (X.authority): missing field `fallback`",
        ),
        (
            r#""source": "test""#,
            r#""source": " ""#,
            "rules[0] (X.authority): `source` must cite the law",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(GOOD.contains(from), "{from}");
        let err = one_rule(&GOOD.replace(from, to)).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    // A fallback on a clock that does not need one, or one that starts at the notice itself.
    let with_fallback = GOOD.replace(
        r#""condition""#,
        r#""fallback": { "clock_start": "discovery",
              "period": { "amount": 5, "unit": "calendar_days" } }, "condition""#,
    );
    assert_eq!(
        one_rule(&with_fallback).unwrap_err().to_string(),
        "rules[0] (X.authority): `fallback` is only used with `clock_start` \
         \"individuals_notified\""
    );
    let circular = with_fallback
        .replace(
            r#""clock_start": "awareness""#,
            r#""clock_start": "individuals_notified""#,
        )
        .replace(
            r#""clock_start": "discovery""#,
            r#""clock_start": "individuals_notified""#,
        );
    assert_eq!(
        one_rule(&circular).unwrap_err().to_string(),
        "rules[0] (X.authority).fallback: a fallback cannot start at the individuals' notice"
    );
    // Whole-table errors.
    assert!(matches!(RulesTable::parse("{"), Err(RulesError::Json(_))));
    assert_eq!(
        RulesTable::parse(r#"{ "version": "v", "rules": [] }"#)
            .unwrap_err()
            .to_string(),
        "table: `rules` must not be empty"
    );
    let twice = format!(r#"{{ "version": "v", "rules": [ {{ {GOOD} }}, {{ {GOOD} }} ] }}"#);
    assert_eq!(
        RulesTable::parse(&twice).unwrap_err(),
        RulesError::DuplicateId {
            at: "rules[1]".to_owned(),
            id: "X.authority".to_owned()
        }
    );
}

#[test]
fn conditions_round_trip_and_refuse_malformed_counts() {
    for c in [
        Condition::Always,
        Condition::Risk,
        Condition::HighRisk,
        Condition::AffectedAtLeast(500),
        Condition::AffectedOver(0),
        Condition::AffectedUnder(u64::MAX),
    ] {
        assert_eq!(Condition::parse(&c.to_string()), Some(c));
    }
    for bad in [
        "",
        "Always",
        "affected_over()",
        "affected_over(-1)",
        "affected_over(+1)",
        "affected_over(5",
        "affected_over(5))",
        "affected_over( 5)",
        "affected_over(18446744073709551616)",
        "affected_between(5)",
    ] {
        assert_eq!(Condition::parse(bad), None, "{bad}");
    }
}

#[test]
fn names_round_trip() {
    for r in Risk::ALL {
        assert_eq!(Risk::parse(r.as_str()), Some(r));
    }
    assert_eq!(Risk::parse("high"), None);
    for r in Recipient::ALL {
        assert_eq!(Recipient::parse(r.as_str()), Some(r));
    }
    for s in Status::ALL {
        assert_eq!(Status::parse(s.as_str()), Some(s));
    }
    for u in PeriodUnit::ALL {
        assert_eq!(PeriodUnit::parse(u.as_str()), Some(u));
    }
    for c in ClockStart::ALL {
        assert_eq!(ClockStart::parse(c.as_str()), Some(c));
    }
    for v in Variable::ALL {
        assert_eq!(Variable::parse(v.as_str()), Some(v));
    }
}

// ---- GDPR and UK GDPR.

#[test]
fn gdpr_authority_is_due_exactly_72_hours_after_awareness() {
    // Across the change to summer time on 29 March 2026: 72 hours are 72 hours.
    let mut f = facts("2026-03-27T22:30:00+01:00", "Europe/Brussels");
    f.risk = Some(Risk::Risk);
    let c = clock("GDPR", "GDPR.authority", &f);
    assert_eq!(c.due, Some(at("2026-03-30T21:30:00Z")));
    assert_eq!(c.due, Some(at("2026-03-30T23:30:00+02:00")));
    assert_eq!(c.required, Requirement::Required);
    assert_eq!(c.recipient, Recipient::Authority);
    assert_eq!(c.jurisdiction, "GDPR");
    assert_eq!(c.started_at, f.aware_at);
    assert!(!c.provisional);
    assert!(c.source.contains("Art. 33"));
    // Unlikely to result in a risk: not required.
    f.risk = Some(Risk::Unlikely);
    let c = clock("GDPR", "GDPR.authority", &f);
    assert_eq!(c.required, Requirement::NotRequired);
    assert!(!c.is_overdue(at("2026-04-30T00:00:00Z")));
    // Not assessed: undetermined, and the worst case is shown.
    f.risk = None;
    let c = clock("GDPR", "GDPR.authority", &f);
    assert_eq!(
        c.required,
        Requirement::Undetermined(Undetermined::RiskNotAssessed)
    );
    assert_eq!(c.required.as_str(), "risk_not_assessed");
    assert_eq!(c.due, Some(at("2026-03-30T21:30:00Z")));
    assert!(!c.is_overdue(at("2026-03-30T21:30:00Z")));
    assert!(c.is_overdue(at("2026-03-30T21:30:00.000000001Z")));
    // The UK is the same.
    let uk = clock("UK_GDPR", "UK_GDPR.authority", &f);
    assert_eq!(uk.due, c.due);
}

#[test]
fn gdpr_individuals_are_told_without_undue_delay_only_when_high_risk() {
    let mut f = facts("2026-03-27T22:30:00+01:00", "Europe/Brussels");
    let c = clock("GDPR", "GDPR.individuals", &f);
    assert_eq!(c.due, None);
    assert_eq!(c.period, Period::WithoutUndueDelay);
    assert_eq!(
        c.required,
        Requirement::Undetermined(Undetermined::RiskNotAssessed)
    );
    assert!(!c.is_overdue(at("2030-01-01T00:00:00Z")));
    for (risk, required) in [
        (Risk::Unlikely, Requirement::NotRequired),
        (Risk::Risk, Requirement::NotRequired),
        (Risk::HighRisk, Requirement::Required),
    ] {
        f.risk = Some(risk);
        for j in ["GDPR", "UK_GDPR"] {
            let c = clock(j, &format!("{j}.individuals"), &f);
            assert_eq!(c.required, required, "{j} {risk}");
            assert_eq!(c.due, None);
        }
    }
}

// ---- Brazil.

#[test]
fn lgpd_three_business_days_skip_good_friday_and_the_weekend() {
    // Thursday 2 April 2026, 10:00 in São Paulo; Friday 3 April is Good Friday.
    let mut f = facts("2026-04-02T10:00:00-03:00", "America/Sao_Paulo");
    f.risk = Some(Risk::Risk);
    for id in ["LGPD.authority", "LGPD.individuals"] {
        let c = clock("LGPD", id, &f);
        assert_eq!(c.due, Some(at("2026-04-08T10:00:00-03:00")), "{id}");
        assert_eq!(c.required, Requirement::Required, "{id}");
    }
    // The same start under weekends-only counting would end on Tuesday 7 April.
    f.risk = Some(Risk::Unlikely);
    assert_eq!(
        clock("LGPD", "LGPD.authority", &f).required,
        Requirement::NotRequired
    );
}

#[test]
fn lgpd_counts_from_the_local_date_not_the_utc_date() {
    // 22:30 on Friday 10 April 2026 in São Paulo is already Saturday in UTC; the count starts
    // from Friday: Monday 13, Tuesday 14, Wednesday 15.
    let f = facts("2026-04-10T22:30:00-03:00", "America/Sao_Paulo");
    let c = clock("LGPD", "LGPD.authority", &f);
    assert_eq!(c.due, Some(at("2026-04-15T22:30:00-03:00")));
}

// ---- California.

#[test]
fn california_residents_within_30_calendar_days_at_the_same_local_time() {
    let f = facts("2026-01-10T09:00:00-08:00", "America/Los_Angeles");
    let c = clock("US_CA", "US_CA.individuals", &f);
    assert_eq!(c.due, Some(at("2026-02-09T09:00:00-08:00")));
    assert_eq!(c.required, Requirement::Required);
    // Across the change to summer time (8 March 2026): still 09:00 local.
    let f = facts("2026-03-01T09:00:00-08:00", "America/Los_Angeles");
    let c = clock("US_CA", "US_CA.individuals", &f);
    assert_eq!(c.due, Some(at("2026-03-31T09:00:00-07:00")));
}

#[test]
fn california_attorney_general_runs_from_the_residents_notice() {
    let mut f = facts("2026-01-10T09:00:00-08:00", "America/Los_Angeles");
    // Count unknown, residents not notified yet: undetermined and provisional (45 days).
    let c = clock("US_CA", "US_CA.attorney_general", &f);
    assert_eq!(
        c.required,
        Requirement::Undetermined(Undetermined::CountUnknown)
    );
    assert_eq!(c.required.as_str(), "count_unknown");
    assert!(c.provisional);
    assert_eq!(c.started_at, f.discovered_at);
    assert_eq!(c.due, Some(at("2026-02-24T09:00:00-08:00")));
    // More than 500: required; exactly 500: not.
    f.affected = Some(501);
    assert_eq!(
        clock("US_CA", "US_CA.attorney_general", &f).required,
        Requirement::Required
    );
    f.affected = Some(500);
    assert_eq!(
        clock("US_CA", "US_CA.attorney_general", &f).required,
        Requirement::NotRequired
    );
    // Once the residents are notified: 15 days from then.
    f.affected = Some(501);
    f.individuals_notified_at = Some(at("2026-01-20T12:00:00-08:00"));
    let c = clock("US_CA", "US_CA.attorney_general", &f);
    assert!(!c.provisional);
    assert_eq!(c.started_at, at("2026-01-20T12:00:00-08:00"));
    assert_eq!(c.due, Some(at("2026-02-04T12:00:00-08:00")));
    // A notice before the discovery is refused.
    f.individuals_notified_at = Some(at("2026-01-01T00:00:00-08:00"));
    assert_eq!(
        clocks(&["US_CA"], &f).unwrap_err(),
        IncidentError::NotifiedBeforeDiscovery
    );
}

// ---- HIPAA.

#[test]
fn hipaa_hhs_under_500_is_due_60_days_after_the_end_of_the_year() {
    let mut f = facts("2026-05-10T12:00:00-04:00", "America/New_York");
    f.affected = Some(499);
    let small = clock("HIPAA", "HIPAA.hhs.under_500", &f);
    assert_eq!(small.required, Requirement::Required);
    // 31 December 2026 + 60 days = 1 March 2027, to the end of that day.
    assert_eq!(small.due, Some(at("2027-03-01T23:59:59.999999999-05:00")));
    assert_eq!(
        clock("HIPAA", "HIPAA.hhs.500_or_more", &f).required,
        Requirement::NotRequired
    );
    // In a leap year the 60th day is 29 February.
    let f = facts("2023-11-30T12:00:00-05:00", "America/New_York");
    let c = clock("HIPAA", "HIPAA.hhs.under_500", &f);
    assert_eq!(c.due, Some(at("2024-02-29T23:59:59.999999999-05:00")));
}

#[test]
fn hipaa_hhs_at_500_is_due_60_days_after_discovery() {
    let mut f = facts("2026-05-10T12:00:00-04:00", "America/New_York");
    f.affected = Some(500);
    let big = clock("HIPAA", "HIPAA.hhs.500_or_more", &f);
    assert_eq!(big.required, Requirement::Required);
    assert_eq!(big.due, Some(at("2026-07-09T12:00:00-04:00")));
    assert_eq!(
        clock("HIPAA", "HIPAA.hhs.under_500", &f).required,
        Requirement::NotRequired
    );
    // Individuals: always, 60 days; media: more than 500.
    let ind = clock("HIPAA", "HIPAA.individuals", &f);
    assert_eq!(ind.required, Requirement::Required);
    assert_eq!(ind.due, big.due);
    assert_eq!(
        clock("HIPAA", "HIPAA.media", &f).required,
        Requirement::NotRequired
    );
    f.affected = Some(501);
    assert_eq!(
        clock("HIPAA", "HIPAA.media", &f).required,
        Requirement::Required
    );
    // Count unknown: both HHS rules are undetermined, and both due times are shown.
    f.affected = None;
    let all = clocks(&["HIPAA"], &f).unwrap();
    let hhs: Vec<(&str, Requirement, Option<Timestamp>)> = all
        .iter()
        .filter(|c| c.recipient == Recipient::Hhs)
        .map(|c| (c.rule.as_str(), c.required, c.due))
        .collect();
    assert_eq!(
        hhs,
        [
            (
                "HIPAA.hhs.500_or_more",
                Requirement::Undetermined(Undetermined::CountUnknown),
                Some(at("2026-07-09T12:00:00-04:00"))
            ),
            (
                "HIPAA.hhs.under_500",
                Requirement::Undetermined(Undetermined::CountUnknown),
                Some(at("2027-03-01T23:59:59.999999999-05:00"))
            ),
        ]
    );
}

// ---- NIS2.

#[test]
fn nis2_early_warning_notification_and_final_report() {
    let f = facts("2026-01-31T10:00:00Z", "UTC");
    let dues: Vec<(String, Option<Timestamp>)> = clocks(&["NIS2"], &f)
        .unwrap()
        .into_iter()
        .map(|c| (c.rule, c.due))
        .collect();
    assert_eq!(
        dues,
        [
            (
                "NIS2.csirt.early_warning".to_owned(),
                Some(at("2026-02-01T10:00:00Z"))
            ),
            (
                "NIS2.csirt.notification".to_owned(),
                Some(at("2026-02-03T10:00:00Z"))
            ),
            // One month from 31 January is the last day of February.
            (
                "NIS2.csirt.final_report".to_owned(),
                Some(at("2026-02-28T10:00:00Z"))
            ),
        ]
    );
}

// ---- Selection of jurisdictions.

#[test]
fn an_unknown_jurisdiction_is_an_error_naming_it() {
    let f = facts("2026-01-31T10:00:00Z", "UTC");
    let err = clocks(&["GDPR", "FR_CNIL"], &f).unwrap_err();
    assert_eq!(
        err,
        IncidentError::UnknownJurisdiction {
            jurisdiction: "FR_CNIL".to_owned()
        }
    );
    assert_eq!(
        err.to_string(),
        "no breach notification rules for jurisdiction `FR_CNIL`"
    );
    // Keys are case-sensitive.
    assert!(clocks(&["gdpr"], &f).is_err());
}

#[test]
fn clocks_follow_the_order_asked_each_jurisdiction_once() {
    let f = facts("2026-01-31T10:00:00Z", "UTC");
    let asked = ["NIS2".to_owned(), "GDPR".to_owned(), "NIS2".to_owned()];
    let ids: Vec<String> = clocks(&asked, &f)
        .unwrap()
        .into_iter()
        .map(|c| c.rule)
        .collect();
    assert_eq!(
        ids,
        [
            "NIS2.csirt.early_warning",
            "NIS2.csirt.notification",
            "NIS2.csirt.final_report",
            "GDPR.authority",
            "GDPR.individuals",
        ]
    );
    assert!(clocks::<&str>(&[], &f).unwrap().is_empty());
}

#[test]
fn dates_near_the_end_of_time_are_an_error_not_a_panic() {
    let f = facts("9999-12-30T00:00:00Z", "UTC");
    assert!(matches!(
        clocks(&["HIPAA"], &f),
        Err(IncidentError::OutOfRange(_))
    ));
    assert!(matches!(
        clocks(&["GDPR"], &f),
        Err(IncidentError::OutOfRange(_))
    ));
}

// ---- Notifications and the incident status.

fn pending(rule: &str, due: Option<&str>) -> Notification {
    Notification::new(rule, Recipient::Authority, due.map(at))
}

#[test]
fn a_notification_goes_from_pending_to_sent_which_is_final() {
    let n = pending("GDPR.authority", Some("2026-03-30T21:30:00Z"));
    assert_eq!(n.state(), &NotificationState::Pending);
    assert!(!n.is_overdue(at("2026-03-30T21:30:00Z")));
    assert!(n.is_overdue(at("2026-03-30T21:30:01Z")));
    let sent = n
        .mark_sent(at("2026-03-31T08:00:00Z"), "CNIL-2026-0042")
        .unwrap();
    assert!(sent.is_settled());
    assert!(!sent.is_overdue(at("2026-04-30T00:00:00Z")));
    assert!(sent.sent_late());
    assert!(
        !n.mark_sent(at("2026-03-29T08:00:00Z"), "ok")
            .unwrap()
            .sent_late()
    );
    assert_eq!(
        sent.mark_not_required("changed our mind").unwrap_err(),
        IncidentError::NotificationTransition {
            rule: "GDPR.authority".to_owned(),
            from: "sent",
            to: "not_required",
        }
    );
    assert!(sent.mark_sent(at("2026-04-01T00:00:00Z"), "again").is_err());
    assert!(sent.reopen().is_err());
    // Without a due time a notification is never overdue by the clock.
    let n = pending("GDPR.individuals", None);
    assert!(!n.is_overdue(at("2099-01-01T00:00:00Z")));
    assert!(
        !n.mark_sent(at("2099-01-01T00:00:00Z"), "x")
            .unwrap()
            .sent_late()
    );
}

#[test]
fn a_notification_marked_not_required_can_be_reopened() {
    let n = pending("GDPR.authority", Some("2026-03-30T21:30:00Z"));
    let skipped = n
        .mark_not_required("Encrypted laptop, key not compromised.\nAssessed by the DPO.")
        .unwrap();
    assert!(skipped.is_settled());
    assert!(!skipped.is_overdue(at("2026-04-30T00:00:00Z")));
    let again = skipped.reopen().unwrap();
    assert_eq!(again.state(), &NotificationState::Pending);
    assert!(n.reopen().is_err());
}

#[test]
fn references_and_reasons_are_validated_without_echoing_them() {
    let n = pending("GDPR.authority", None);
    let t = at("2026-03-31T08:00:00Z");
    for bad in ["", "   ", "a\u{0}b", "line\nbreak"] {
        assert!(
            matches!(
                n.mark_sent(t, bad),
                Err(IncidentError::InvalidReference { .. })
            ),
            "{bad:?}"
        );
    }
    let long = "x".repeat(MAX_REFERENCE_CHARS + 1);
    let err = n.mark_sent(t, &long).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the notification reference must be at most 256 characters"
    );
    assert!(n.mark_sent(t, &long[1..]).is_ok());
    for bad in ["", "\n", "bell\u{7}"] {
        assert!(
            matches!(
                n.mark_not_required(bad),
                Err(IncidentError::InvalidReason { .. })
            ),
            "{bad:?}"
        );
    }
    assert!(
        n.mark_not_required(&"y".repeat(MAX_REASON_CHARS + 1))
            .is_err()
    );
    // Restoring from storage validates the same way.
    assert!(
        Notification::restore(
            "GDPR.authority",
            Recipient::Authority,
            None,
            NotificationState::Sent {
                at: t,
                reference: String::new()
            }
        )
        .is_err()
    );
    let ok = Notification::restore(
        "GDPR.authority",
        Recipient::Authority,
        None,
        NotificationState::NotRequired {
            reason: "no risk".to_owned(),
        },
    )
    .unwrap();
    assert_eq!(ok.rule(), "GDPR.authority");
    assert_eq!(ok.recipient(), Recipient::Authority);
    assert_eq!(ok.due(), None);
}

#[test]
fn notifications_from_clocks_start_pending_unless_not_required() {
    let mut f = facts("2026-03-27T22:30:00+01:00", "Europe/Brussels");
    f.risk = Some(Risk::Risk);
    let notes: Vec<Notification> = clocks(&["GDPR"], &f)
        .unwrap()
        .iter()
        .map(Notification::from_clock)
        .collect();
    assert_eq!(notes[0].rule(), "GDPR.authority");
    assert_eq!(notes[0].state(), &NotificationState::Pending);
    assert_eq!(notes[0].due(), Some(at("2026-03-30T21:30:00Z")));
    assert_eq!(notes[1].rule(), "GDPR.individuals");
    assert!(matches!(
        notes[1].state(),
        NotificationState::NotRequired { .. }
    ));
    assert_eq!(
        can_close(&notes).unwrap_err(),
        IncidentError::NotificationsPending {
            rules: vec!["GDPR.authority".to_owned()]
        }
    );
}

#[test]
fn closing_needs_every_notification_settled() {
    let a = pending("GDPR.authority", Some("2026-03-30T21:30:00Z"));
    let b = pending("GDPR.individuals", None);
    let err = can_close(&[a.clone(), b.clone()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "notifications still pending: GDPR.authority, GDPR.individuals"
    );
    let a = a.mark_sent(at("2026-03-29T00:00:00Z"), "ref-1").unwrap();
    assert!(can_close(&[a.clone(), b.clone()]).is_err());
    let b = b.mark_not_required("Risk assessed as not high.").unwrap();
    assert_eq!(can_close(&[a.clone(), b.clone()]), Ok(()));
    assert_eq!(can_close(&[]), Ok(()));

    // Through the status machine.
    let notes = [a, b];
    assert_eq!(
        Status::Open.transition(Status::Contained, &[]),
        Ok(Status::Contained)
    );
    assert_eq!(
        Status::Contained.transition(Status::Open, &[]),
        Ok(Status::Open)
    );
    assert_eq!(
        Status::Contained.transition(Status::Closed, &notes),
        Ok(Status::Closed)
    );
    assert_eq!(
        Status::Open.transition(Status::Closed, &notes),
        Ok(Status::Closed)
    );
    let open_note = [pending("GDPR.authority", None)];
    assert!(matches!(
        Status::Contained.transition(Status::Closed, &open_note),
        Err(IncidentError::NotificationsPending { .. })
    ));
    assert_eq!(
        Status::Open.transition(Status::Open, &[]),
        Err(IncidentError::StatusTransition {
            from: "open",
            to: "open"
        })
    );
    for next in Status::ALL {
        assert_eq!(
            Status::Closed.transition(next, &notes),
            Err(IncidentError::Closed)
        );
        assert!(!Status::Closed.can_become(next));
    }
}

// ---- Letters.

/// A value for every variable, each naming itself, e.g. `<dpo_name>`.
fn all_vars() -> Vars {
    let mut vars = Vars::new();
    for v in Variable::ALL {
        vars.set(v, format!("<{v}>"));
    }
    vars
}

#[test]
fn the_authority_letter_carries_the_contents_of_article_33_3() {
    let used = letter::validate(DefaultLetter::Authority.template()).unwrap();
    for v in [
        Variable::BreachNature,
        Variable::DataSubjectCategories,
        Variable::ApproximateDataSubjects,
        Variable::PersonalDataCategories,
        Variable::ApproximateRecords,
        Variable::DpoName,
        Variable::DpoContact,
        Variable::LikelyConsequences,
        Variable::MeasuresTaken,
        Variable::MeasuresProposed,
        Variable::DelayReasons,
    ] {
        assert!(used.contains(&v), "{v}");
    }
    let text = letter::render(DefaultLetter::Authority.template(), &all_vars()).unwrap();
    assert!(text.starts_with("To: <recipient_name>\nFrom: <controller_name>, "));
    assert!(text.contains("Approximate number of people concerned: <approximate_data_subjects>"));
    assert!(!text.contains("{{"));
}

#[test]
fn the_individuals_letter_carries_the_contents_of_article_34_2() {
    let used = letter::validate(DefaultLetter::Individuals.template()).unwrap();
    for v in [
        Variable::BreachNature,
        Variable::DpoName,
        Variable::DpoContact,
        Variable::LikelyConsequences,
        Variable::MeasuresTaken,
        Variable::MeasuresProposed,
        Variable::RecommendedActions,
    ] {
        assert!(used.contains(&v), "{v}");
    }
    // Each variable is listed once, in order of first use.
    assert_eq!(used[0], Variable::RecipientName);
    assert_eq!(used[1], Variable::ControllerName);
    let text = letter::render(DefaultLetter::Individuals.template(), &all_vars()).unwrap();
    assert!(text.starts_with("Dear <recipient_name>,\n"));
    assert!(text.contains("What you can do\n<recommended_actions>\n"));
    assert_eq!(
        DefaultLetter::for_recipient(Recipient::Individuals),
        Some(DefaultLetter::Individuals)
    );
    assert_eq!(DefaultLetter::for_recipient(Recipient::Hhs), None);
}

#[test]
fn render_fills_placeholders_once_and_never_reads_values_as_templates() {
    let vars = Vars::new()
        .with(Variable::DpoName, "{{controller_name}}")
        .with(Variable::ControllerName, "ACME");
    assert_eq!(
        letter::render("DPO: {{dpo_name}} / {{ controller_name }} {x} }}", &vars).unwrap(),
        "DPO: {{controller_name}} / ACME {x} }}"
    );
    assert_eq!(letter::render("", &vars).unwrap(), "");
    assert_eq!(letter::render("plain", &vars).unwrap(), "plain");
    // Unused values are ignored; an empty value is a value.
    let empty = Vars::new().with(Variable::DelayReasons, "");
    assert_eq!(letter::render("[{{delay_reasons}}]", &empty).unwrap(), "[]");
}

#[test]
fn template_errors_name_the_variable_or_place_never_a_value() {
    let secret = "Jane Doe, jane@example.org";
    let vars = Vars::new().with(Variable::DpoName, secret);
    let cases: [(&str, LetterError, &str); 6] = [
        (
            "Hello {{dpo_nmae}}",
            LetterError::UnknownVariable {
                name: "dpo_nmae".to_owned(),
            },
            "unknown template variable `dpo_nmae`",
        ),
        (
            "Hello\n  {{dpo_name",
            LetterError::Unclosed { line: 2, column: 3 },
            "line 2, column 3: `{{` is not closed by `}}`",
        ),
        (
            "é {{}}",
            LetterError::InvalidPlaceholder { line: 1, column: 3 },
            "line 1, column 3: a placeholder must be `{{name}}` with a name of lower-case \
             letters, digits and `_`",
        ),
        (
            "{{ dpo name }}",
            LetterError::InvalidPlaceholder { line: 1, column: 1 },
            "line 1, column 1: a placeholder must be `{{name}}` with a name of lower-case \
             letters, digits and `_`",
        ),
        (
            "{{{dpo_name}}}",
            LetterError::InvalidPlaceholder { line: 1, column: 1 },
            "line 1, column 1: a placeholder must be `{{name}}` with a name of lower-case \
             letters, digits and `_`",
        ),
        (
            "{{dpo_name}} {{dpo_contact}}",
            LetterError::MissingValue {
                name: "dpo_contact",
            },
            "no value given for template variable `dpo_contact`",
        ),
    ];
    for (template, error, message) in cases {
        let err = letter::render(template, &vars).unwrap_err();
        assert_eq!(err, error, "{template}");
        assert_eq!(err.to_string(), message);
        assert!(!err.to_string().contains("Jane"));
    }
    // validate does not need values.
    assert_eq!(
        letter::validate("{{dpo_name}} {{dpo_contact}} {{dpo_name}}").unwrap(),
        [Variable::DpoName, Variable::DpoContact]
    );
    assert!(letter::validate("{{nope}}").is_err());
    // Size cap.
    let big = "x".repeat(MAX_TEMPLATE_BYTES + 1);
    assert_eq!(
        letter::validate(&big).unwrap_err(),
        LetterError::TooLarge {
            size: MAX_TEMPLATE_BYTES + 1,
            max: MAX_TEMPLATE_BYTES
        }
    );
    assert!(letter::validate(&big[1..]).is_ok());
    // Vars from an API: unknown names refused; Debug shows names only.
    assert_eq!(
        Vars::from_pairs([("dpo_name", secret), ("shoe_size", "42")]).unwrap_err(),
        LetterError::UnknownVariable {
            name: "shoe_size".to_owned()
        }
    );
    let from_api = Vars::from_pairs([("dpo_name", secret)]).unwrap();
    assert_eq!(from_api, vars);
    assert_eq!(format!("{vars:?}"), r#"{"dpo_name"}"#);
}
