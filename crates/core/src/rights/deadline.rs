//! The deadline engine: a [`Rule`], the request's receipt (and verification) time and the
//! time zone the law counts in go in; the [`Deadlines`] come out.
//!
//! Every deadline is a [`Due`]: the last civil date on which the act is still in time
//! (inclusive) and the instant that day ends in the law's time zone, so "overdue" is a plain
//! comparison of instants. Periods in hours end at the exact instant instead. The counting
//! conventions (day of receipt not counted, month arithmetic, roll-over) are described in the
//! [module documentation](super).
//!
//! # Pauses
//!
//! Where a rule stops the clock during identity verification (`pauses_for_verification`),
//! [`compute_with_pauses`] moves the response deadlines (and the extension notice deadline,
//! which is the end of the original period) later by the number of **whole days** the clock
//! was stopped:
//!
//! * overlapping pauses are merged, and the part of a pause before the clock started is
//!   ignored;
//! * a pause that begins after the deadline (as already moved by the earlier pauses) has
//!   passed is ignored: a missed deadline cannot be revived;
//! * the stopped time is added up over all pauses and **rounded down** to whole 24-hour days,
//!   so a pause never buys more time than it took (a 2½-day pause moves the deadline by 2
//!   days; a 20-hour pause by none);
//! * the whole days are added to the last day of each period before roll-over, and the result
//!   is then rolled as the rule says; a period in business days always ends on a business
//!   day, so it is moved forward to one if the shift lands elsewhere.
//!
//! The acknowledgement deadline is never moved: a request is acknowledged before its
//! requester is verified.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan};

use super::calendar::{self, HolidayCalendar};
use super::{ClockStart, ExtensionNotice, Period, PeriodUnit, RequestType, Rule, RuleSet};

const SECONDS_PER_DAY: i64 = 24 * 60 * 60;

/// What is known about when a request's clock runs: when it was received and, once done,
/// when the requester's identity was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestClock {
    /// When the request was received.
    pub received: Timestamp,
    /// When the requester's identity was verified, if it has been.
    pub verified: Option<Timestamp>,
}

impl RequestClock {
    /// A request received at `received`, not yet verified.
    pub fn received_at(received: Timestamp) -> Self {
        RequestClock {
            received,
            verified: None,
        }
    }

    /// The same request, verified at `verified`.
    pub fn verified_at(self, verified: Timestamp) -> Self {
        RequestClock {
            verified: Some(verified),
            ..self
        }
    }
}

/// One deadline: the last day (inclusive) and the instant it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The last civil date on which the act is in time, in the law's time zone.
    pub date: Date,
    /// The last instant in time: the end of `date` in the law's time zone
    /// (23:59:59.999999999), or, for a period in hours, the exact instant it runs out.
    pub end: Timestamp,
}

impl Due {
    /// Whether the deadline has passed at `now`.
    pub fn is_overdue_at(&self, now: Timestamp) -> bool {
        now > self.end
    }
}

/// An interval during which the response clock was stopped (identity verification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    start: Timestamp,
    end: Timestamp,
}

impl Pause {
    /// The clock stopped at `start` and ran again from `end`.
    ///
    /// # Errors
    ///
    /// [`DeadlineError::InvalidPause`] if `end` is before `start`.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self, DeadlineError> {
        if end < start {
            return Err(DeadlineError::InvalidPause);
        }
        Ok(Pause { start, end })
    }

    /// When the clock stopped.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// When the clock ran again.
    pub fn end(&self) -> Timestamp {
        self.end
    }
}

/// The deadlines of one request under one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadlines {
    jurisdiction: String,
    request_type: RequestType,
    source: String,
    clock_started: Timestamp,
    paused_days: i64,
    acknowledge_by: Option<Due>,
    respond_by: Due,
    extended_respond_by: Option<Due>,
    extension_notice_by: Option<Due>,
    extended_at: Option<Timestamp>,
}

impl Deadlines {
    /// The jurisdiction whose rule applied.
    pub fn jurisdiction(&self) -> &str {
        &self.jurisdiction
    }

    /// The request type.
    pub fn request_type(&self) -> RequestType {
        self.request_type
    }

    /// The rule's legal source, to show with the deadlines.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// When the response clock started (receipt or verification, per the rule).
    pub fn clock_started(&self) -> Timestamp {
        self.clock_started
    }

    /// The whole days the response deadlines were moved by pauses.
    pub fn paused_days(&self) -> i64 {
        self.paused_days
    }

    /// When receipt must be acknowledged, if the law requires it.
    pub fn acknowledge_by(&self) -> Option<Due> {
        self.acknowledge_by
    }

    /// When the response is due without an extension.
    pub fn respond_by(&self) -> Due {
        self.respond_by
    }

    /// When the response is due if the deadline is extended, if the rule allows it.
    pub fn extended_respond_by(&self) -> Option<Due> {
        self.extended_respond_by
    }

    /// By when the requester must be told of an extension, if the rule allows one and
    /// requires notice.
    pub fn extension_notice_by(&self) -> Option<Due> {
        self.extension_notice_by
    }

    /// When the extension was decided, if it was ([`Deadlines::extend`]).
    pub fn extended_at(&self) -> Option<Timestamp> {
        self.extended_at
    }

    /// The response deadline in force: the extended one once [`Deadlines::extend`] succeeded,
    /// the original one otherwise.
    pub fn due(&self) -> Due {
        match (self.extended_at, self.extended_respond_by) {
            (Some(_), Some(extended)) => extended,
            _ => self.respond_by,
        }
    }

    /// Extends the response deadline, as decided (and notified to the requester) at
    /// `decided_at`.
    ///
    /// # Errors
    ///
    /// * [`DeadlineError::ExtensionNotAllowed`] if the rule allows no extension;
    /// * [`DeadlineError::AlreadyExtended`] if it was already extended (the laws allow one);
    /// * [`DeadlineError::ExtensionNoticeLate`] if `decided_at` is after the notice deadline;
    /// * [`DeadlineError::ExtensionAfterDeadline`] if no notice is required and `decided_at`
    ///   is after the original response deadline.
    pub fn extend(&self, decided_at: Timestamp) -> Result<Deadlines, DeadlineError> {
        if self.extended_respond_by.is_none() {
            return Err(DeadlineError::ExtensionNotAllowed {
                jurisdiction: self.jurisdiction.clone(),
                request_type: self.request_type,
            });
        }
        if self.extended_at.is_some() {
            return Err(DeadlineError::AlreadyExtended);
        }
        match self.extension_notice_by {
            Some(notice) if notice.is_overdue_at(decided_at) => {
                Err(DeadlineError::ExtensionNoticeLate {
                    notice_by: notice.end,
                    decided_at,
                })
            }
            None if self.respond_by.is_overdue_at(decided_at) => {
                Err(DeadlineError::ExtensionAfterDeadline {
                    respond_by: self.respond_by.end,
                    decided_at,
                })
            }
            _ => Ok(Deadlines {
                extended_at: Some(decided_at),
                ..self.clone()
            }),
        }
    }
}

/// Why deadlines could not be computed or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    /// The table has no rule for this jurisdiction and request type.
    #[error("no deadline rule for `{request_type}` requests in `{jurisdiction}`")]
    NoRule {
        /// The jurisdiction asked for.
        jurisdiction: String,
        /// The request type asked for.
        request_type: RequestType,
    },
    /// The rule starts the clock at verification, and the requester is not verified yet.
    #[error(
        "the `{jurisdiction}` rule starts the clock when the requester's identity is verified, \
         which has not happened yet"
    )]
    AwaitingVerification {
        /// The jurisdiction.
        jurisdiction: String,
    },
    /// The verification time is before the receipt time.
    #[error("the requester's identity cannot be verified before the request is received")]
    VerifiedBeforeReceipt,
    /// A pause ends before it starts.
    #[error("a pause must not end before it starts")]
    InvalidPause,
    /// Pauses were given for a rule whose clock runs through verification.
    #[error("the `{jurisdiction}` rule does not stop the clock during identity verification")]
    ClockDoesNotPause {
        /// The jurisdiction.
        jurisdiction: String,
    },
    /// The rule allows no extension.
    #[error("the `{jurisdiction}` rule allows no extension for `{request_type}` requests")]
    ExtensionNotAllowed {
        /// The jurisdiction.
        jurisdiction: String,
        /// The request type.
        request_type: RequestType,
    },
    /// The deadline was already extended.
    #[error("the deadline has already been extended")]
    AlreadyExtended,
    /// The extension was decided after the requester had to be told of it.
    #[error("the extension had to be notified by {notice_by}, but was decided at {decided_at}")]
    ExtensionNoticeLate {
        /// The end of the notice period.
        notice_by: Timestamp,
        /// When the extension was decided.
        decided_at: Timestamp,
    },
    /// The extension was decided after the original deadline had passed.
    #[error("the response was due by {respond_by}; an extension decided at {decided_at} is late")]
    ExtensionAfterDeadline {
        /// The end of the original response period.
        respond_by: Timestamp,
        /// When the extension was decided.
        decided_at: Timestamp,
    },
    /// A date beyond what jiff can represent (year 9999).
    #[error("date arithmetic out of range: {0}")]
    OutOfRange(String),
}

impl From<jiff::Error> for DeadlineError {
    fn from(e: jiff::Error) -> Self {
        DeadlineError::OutOfRange(e.to_string())
    }
}

/// The deadlines of a request of `request_type` in `jurisdiction`, counted in `tz`.
///
/// # Errors
///
/// [`DeadlineError::NoRule`] if the table has no rule for them; see [`Rule::deadlines`].
pub fn compute(
    rules: &RuleSet,
    jurisdiction: &str,
    request_type: RequestType,
    clock: RequestClock,
    tz: &TimeZone,
) -> Result<Deadlines, DeadlineError> {
    rules
        .rule(jurisdiction, request_type)?
        .deadlines(request_type, clock, tz)
}

/// As [`compute`], with the response clock stopped during `pauses` (see the module
/// documentation for how pauses are rounded).
///
/// # Errors
///
/// [`DeadlineError::NoRule`] if the table has no rule for them; see
/// [`Rule::deadlines_with_pauses`].
pub fn compute_with_pauses(
    rules: &RuleSet,
    jurisdiction: &str,
    request_type: RequestType,
    clock: RequestClock,
    pauses: &[Pause],
    tz: &TimeZone,
) -> Result<Deadlines, DeadlineError> {
    rules
        .rule(jurisdiction, request_type)?
        .deadlines_with_pauses(request_type, clock, pauses, tz)
}

impl Rule {
    /// The deadlines this rule sets for a request of `request_type`, counted in `tz`.
    ///
    /// # Errors
    ///
    /// [`DeadlineError::NoRule`] if the rule does not cover `request_type`;
    /// [`DeadlineError::AwaitingVerification`] if the clock starts at verification and
    /// `clock.verified` is unset; [`DeadlineError::VerifiedBeforeReceipt`];
    /// [`DeadlineError::OutOfRange`] near year 9999.
    pub fn deadlines(
        &self,
        request_type: RequestType,
        clock: RequestClock,
        tz: &TimeZone,
    ) -> Result<Deadlines, DeadlineError> {
        self.deadlines_with_pauses(request_type, clock, &[], tz)
    }

    /// As [`Rule::deadlines`], with the response clock stopped during `pauses`.
    ///
    /// # Errors
    ///
    /// As [`Rule::deadlines`], and [`DeadlineError::ClockDoesNotPause`] if `pauses` is not
    /// empty and the rule does not stop the clock for verification.
    pub fn deadlines_with_pauses(
        &self,
        request_type: RequestType,
        clock: RequestClock,
        pauses: &[Pause],
        tz: &TimeZone,
    ) -> Result<Deadlines, DeadlineError> {
        if !self.request_types.contains(request_type) {
            return Err(DeadlineError::NoRule {
                jurisdiction: self.jurisdiction.clone(),
                request_type,
            });
        }
        if !pauses.is_empty() && !self.pauses_for_verification {
            return Err(DeadlineError::ClockDoesNotPause {
                jurisdiction: self.jurisdiction.clone(),
            });
        }
        if clock.verified.is_some_and(|v| v < clock.received) {
            return Err(DeadlineError::VerifiedBeforeReceipt);
        }
        let started = match self.clock_start {
            ClockStart::Receipt => clock.received,
            ClockStart::Verification => {
                clock
                    .verified
                    .ok_or_else(|| DeadlineError::AwaitingVerification {
                        jurisdiction: self.jurisdiction.clone(),
                    })?
            }
        };
        let counter = Counter {
            tz,
            calendar: self.calendar,
            roll_to_working_day: self.roll_to_working_day,
        };

        let acknowledge_by = match self.acknowledge {
            Some(period) => {
                let last = counter.advance(Start::at(tz, clock.received), period)?;
                Some(counter.settle(last, period.unit)?)
            }
            None => None,
        };

        let start = Start::at(tz, started);
        let respond = counter.advance(start, self.respond)?;
        // (last day before roll-over, unit that decides the roll-over)
        let extended = match self.extension {
            Some(ext) if ext.period.unit == self.respond.unit => {
                let amount = self
                    .respond
                    .amount
                    .checked_add(ext.period.amount)
                    .ok_or_else(|| DeadlineError::OutOfRange("extension amount".to_owned()))?;
                let total = Period {
                    amount,
                    unit: self.respond.unit,
                };
                Some((counter.advance(start, total)?, total.unit))
            }
            Some(ext) => Some((
                counter.advance(counter.start_after(respond)?, ext.period)?,
                ext.period.unit,
            )),
            None => None,
        };

        let paused_days = paused_days(pauses, started, |days| {
            Ok(counter.settle(respond.shift(days)?, self.respond.unit)?.end)
        })?;
        let respond_by = counter.settle(respond.shift(paused_days)?, self.respond.unit)?;
        let extended_respond_by = match extended {
            Some((last, unit)) => Some(counter.settle(last.shift(paused_days)?, unit)?),
            None => None,
        };
        let extension_notice_by = match self.extension.map(|e| e.notice) {
            Some(ExtensionNotice::WithinOriginalPeriod) => Some(respond_by),
            Some(ExtensionNotice::NotRequired) | None => None,
        };

        Ok(Deadlines {
            jurisdiction: self.jurisdiction.clone(),
            request_type,
            source: self.source.clone(),
            clock_started: started,
            paused_days,
            acknowledge_by,
            respond_by,
            extended_respond_by,
            extension_notice_by,
            extended_at: None,
        })
    }
}

/// Where a period starts: an instant, and the civil date it falls on in the law's zone.
#[derive(Debug, Clone, Copy)]
struct Start {
    instant: Timestamp,
    date: Date,
}

impl Start {
    fn at(tz: &TimeZone, instant: Timestamp) -> Self {
        Start {
            instant,
            date: tz.to_datetime(instant).date(),
        }
    }
}

/// Where a period ends, before roll-over.
#[derive(Debug, Clone, Copy)]
enum Last {
    /// At the end of this day.
    Day(Date),
    /// At this instant (periods in hours).
    Instant(Timestamp),
}

impl Last {
    /// Moved later by `days` whole days.
    fn shift(self, days: i64) -> Result<Last, DeadlineError> {
        Ok(match self {
            Last::Day(d) => Last::Day(d.checked_add(days.days())?),
            Last::Instant(t) => {
                let by = SignedDuration::from_secs(days.saturating_mul(SECONDS_PER_DAY));
                Last::Instant(t.checked_add(by)?)
            }
        })
    }
}

/// A rule's counting settings in one time zone.
struct Counter<'a> {
    tz: &'a TimeZone,
    calendar: HolidayCalendar,
    roll_to_working_day: bool,
}

impl Counter<'_> {
    /// The last day (or instant) of `period` counted from `start`.
    fn advance(&self, start: Start, period: Period) -> Result<Last, DeadlineError> {
        let n = i64::from(period.amount);
        Ok(match period.unit {
            PeriodUnit::CalendarDays => Last::Day(start.date.checked_add(n.days())?),
            PeriodUnit::BusinessDays => Last::Day(calendar::add_business_days(
                self.calendar,
                start.date,
                period.amount,
            )?),
            // jiff keeps the day of the month and clamps it to the month's last day, which is
            // Reg. 1182/71 Art. 3(2)(c).
            PeriodUnit::CalendarMonths => Last::Day(start.date.checked_add(n.months())?),
            PeriodUnit::Hours => {
                Last::Instant(start.instant.checked_add(SignedDuration::from_hours(n))?)
            }
        })
    }

    /// A period that runs on from the end of another (an extension in another unit).
    fn start_after(&self, last: Last) -> Result<Start, DeadlineError> {
        Ok(match last {
            Last::Day(date) => Start {
                instant: self.end_of_day(date)?,
                date,
            },
            Last::Instant(t) => Start::at(self.tz, t),
        })
    }

    /// The deadline: `last` rolled as the rule says (hours never roll; a business-day period
    /// always ends on a business day).
    fn settle(&self, last: Last, unit: PeriodUnit) -> Result<Due, DeadlineError> {
        match last {
            Last::Instant(end) => Ok(Due {
                date: self.tz.to_datetime(end).date(),
                end,
            }),
            Last::Day(date) => {
                let roll = unit == PeriodUnit::BusinessDays || self.roll_to_working_day;
                let date = if roll {
                    calendar::roll_forward(self.calendar, date)?
                } else {
                    date
                };
                Ok(Due {
                    date,
                    end: self.end_of_day(date)?,
                })
            }
        }
    }

    /// The last instant of `date` in the law's time zone: one nanosecond before the next day
    /// starts (which handles days of 23 or 25 hours).
    fn end_of_day(&self, date: Date) -> Result<Timestamp, DeadlineError> {
        let next = date.tomorrow()?.to_zoned(self.tz.clone())?;
        Ok(next
            .timestamp()
            .checked_sub(SignedDuration::from_nanos(1))?)
    }
}

/// The whole days the clock was stopped (see the module documentation). `due_end(n)` is the
/// end of the response period moved by `n` days.
fn paused_days(
    pauses: &[Pause],
    started: Timestamp,
    mut due_end: impl FnMut(i64) -> Result<Timestamp, DeadlineError>,
) -> Result<i64, DeadlineError> {
    let mut sorted = pauses.to_vec();
    sorted.sort_by_key(|p| p.start);
    let mut merged: Vec<Pause> = Vec::with_capacity(sorted.len());
    for p in sorted {
        match merged.last_mut() {
            Some(last) if p.start <= last.end => last.end = last.end.max(p.end),
            _ => merged.push(p),
        }
    }

    let mut stopped = SignedDuration::ZERO;
    let mut days = 0;
    for p in merged {
        let from = p.start.max(started);
        if from >= p.end {
            continue; // over before the clock started
        }
        if from > due_end(days)? {
            break; // began after the deadline had passed, and so did every later one
        }
        stopped = stopped
            .checked_add(p.end.duration_since(from))
            .ok_or_else(|| DeadlineError::OutOfRange("paused time".to_owned()))?;
        // INVARIANT: rounded down, so the deadline never moves by more than the stopped time.
        days = stopped.as_secs() / SECONDS_PER_DAY;
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use jiff::civil::{Weekday, date};

    use super::*;

    /// Central European time with the EU summer-time rule (what Europe/Brussels uses), as a
    /// POSIX rule so the tests do not need the tz database.
    fn brussels() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    /// US Pacific time (America/Los_Angeles) as a POSIX rule.
    fn los_angeles() -> TimeZone {
        TimeZone::posix("PST8PDT,M3.2.0,M11.1.0").unwrap()
    }

    /// UK time (Europe/London) as a POSIX rule.
    fn london() -> TimeZone {
        TimeZone::posix("GMT0BST,M3.5.0/1,M10.5.0").unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// The deadlines of the shipped table for a request received at `received` (RFC 3339).
    fn check(jurisdiction: &str, t: RequestType, received: &str, tz: &TimeZone) -> Deadlines {
        let rules = RuleSet::shipped().unwrap();
        compute(
            rules,
            jurisdiction,
            t,
            RequestClock::received_at(at(received)),
            tz,
        )
        .unwrap()
    }

    /// One line per request: the dates of each deadline, `-` where there is none.
    fn render(d: &Deadlines) -> String {
        let date = |due: Option<Due>| due.map_or("-".to_owned(), |d| d.date.to_string());
        format!(
            "ack {} | respond {} | notice {} | extended {}",
            date(d.acknowledge_by()),
            date(Some(d.respond_by())),
            date(d.extension_notice_by()),
            date(d.extended_respond_by()),
        )
    }

    /// A one-rule table for tests of the engine's mechanics.
    fn custom(rule: &str) -> RuleSet {
        RuleSet::parse(&format!(
            r#"{{ "version": "test", "rules": [ {{ "jurisdiction": "TEST", "source": "test",
                  "request_types": "*", {rule} }} ] }}"#
        ))
        .unwrap()
    }

    // ---- GDPR and UK GDPR: Art. 12(3), months per Reg. 1182/71 Art. 3(2)(c), roll per 3(4).

    #[test]
    fn gdpr_31_january_2025_is_due_28_february() {
        let d = check(
            "GDPR",
            RequestType::Access,
            "2025-01-31T10:00:00+01:00",
            &brussels(),
        );
        assert_eq!(
            render(&d),
            "ack - | respond 2025-02-28 | notice 2025-02-28 | extended 2025-04-30"
        );
        // The period ends at the end of that day, Brussels time.
        assert_eq!(
            d.respond_by().end,
            at("2025-02-28T23:59:59.999999999+01:00")
        );
        assert!(
            !d.respond_by()
                .is_overdue_at(at("2025-02-28T23:59:59+01:00"))
        );
        assert!(
            d.respond_by()
                .is_overdue_at(at("2025-03-01T00:00:00+01:00"))
        );
        assert_eq!(d.source(), RuleSet::shipped().unwrap().rules()[0].source);
    }

    #[test]
    fn gdpr_31_january_2024_is_due_29_february_in_a_leap_year() {
        let d = check(
            "GDPR",
            RequestType::Erasure,
            "2024-01-31T10:00:00+01:00",
            &brussels(),
        );
        assert_eq!(d.respond_by().date, date(2024, 2, 29));
        assert_eq!(date(2024, 2, 29).weekday(), Weekday::Thursday);
        // Extension: 3 months from receipt, 30 April (not 29 February + 2 months).
        assert_eq!(d.extended_respond_by().unwrap().date, date(2024, 4, 30));
    }

    #[test]
    fn gdpr_15_march_is_due_15_april() {
        let d = check(
            "GDPR",
            RequestType::Rectification,
            "2025-03-15T12:00:00+01:00",
            &brussels(),
        );
        assert_eq!(date(2025, 4, 15).weekday(), Weekday::Tuesday);
        assert_eq!(d.respond_by().date, date(2025, 4, 15));
        // Summer time by then: the day ends at 21:59:59.999999999Z.
        assert_eq!(d.respond_by().end, at("2025-04-15T21:59:59.999999999Z"));
    }

    #[test]
    fn gdpr_30_april_2025_is_due_friday_30_may_without_roll_over() {
        // 30 May 2025 is a Friday, a working day: no roll-over to Monday 2 June.
        assert_eq!(date(2025, 5, 30).weekday(), Weekday::Friday);
        let d = check(
            "GDPR",
            RequestType::Access,
            "2025-04-30T09:00:00+02:00",
            &brussels(),
        );
        assert_eq!(
            render(&d),
            "ack - | respond 2025-05-30 | notice 2025-05-30 | extended 2025-07-30"
        );
    }

    #[test]
    fn gdpr_deadline_on_a_weekend_rolls_to_monday() {
        // Reg. 1182/71 Art. 3(4): 28 June 2025 is a Saturday, 29 June a Sunday.
        assert_eq!(date(2025, 6, 28).weekday(), Weekday::Saturday);
        for received in ["2025-05-28T09:00:00+02:00", "2025-05-29T09:00:00+02:00"] {
            let d = check("GDPR", RequestType::Objection, received, &brussels());
            assert_eq!(d.respond_by().date, date(2025, 6, 30), "{received}");
            assert_eq!(d.extension_notice_by().unwrap().date, date(2025, 6, 30));
        }
    }

    #[test]
    fn gdpr_month_end_clamp_then_weekend_roll() {
        // 31 January 2026 → 28 February 2026 (a Saturday) → Monday 2 March.
        assert_eq!(date(2026, 2, 28).weekday(), Weekday::Saturday);
        let d = check(
            "GDPR",
            RequestType::Portability,
            "2026-01-31T09:00:00+01:00",
            &brussels(),
        );
        assert_eq!(d.respond_by().date, date(2026, 3, 2));
        // Extension: 3 months from receipt = 30 April 2026 (a Thursday).
        assert_eq!(d.extended_respond_by().unwrap().date, date(2026, 4, 30));
    }

    #[test]
    fn gdpr_extension_is_three_months_from_receipt_and_rolls_too() {
        // GDPR Art. 12(3): +2 months. 15 March 2025 + 3 months = Sunday 15 June → Monday 16.
        assert_eq!(date(2025, 6, 15).weekday(), Weekday::Sunday);
        let d = check(
            "GDPR",
            RequestType::Restriction,
            "2025-03-15T12:00:00+01:00",
            &brussels(),
        );
        assert_eq!(d.extended_respond_by().unwrap().date, date(2025, 6, 16));
        let extended = d.extend(at("2025-04-10T12:00:00+02:00")).unwrap();
        assert_eq!(extended.due().date, date(2025, 6, 16));
        assert_eq!(d.due().date, date(2025, 4, 15));
    }

    #[test]
    fn gdpr_counts_in_the_law_s_time_zone() {
        // 23:30 UTC on 31 January is 00:30 on 1 February in Brussels: received 1 February,
        // due 1 March 2025 (a Saturday) → Monday 3 March.
        let d = check(
            "GDPR",
            RequestType::Access,
            "2025-01-31T23:30:00Z",
            &brussels(),
        );
        assert_eq!(d.respond_by().date, date(2025, 3, 3));
        let utc = check(
            "GDPR",
            RequestType::Access,
            "2025-01-31T23:30:00Z",
            &TimeZone::UTC,
        );
        assert_eq!(utc.respond_by().date, date(2025, 2, 28));
    }

    #[test]
    fn uk_gdpr_counts_like_gdpr() {
        // UK GDPR Art. 12(3); ICO: the corresponding date, else the month's last day; a
        // weekend moves it to the next working day.
        let d = check(
            "UK_GDPR",
            RequestType::Access,
            "2025-01-31T10:00:00Z",
            &london(),
        );
        assert_eq!(
            render(&d),
            "ack - | respond 2025-02-28 | notice 2025-02-28 | extended 2025-04-30"
        );
        let d = check(
            "UK_GDPR",
            RequestType::Erasure,
            "2026-01-31T10:00:00Z",
            &london(),
        );
        assert_eq!(d.respond_by().date, date(2026, 3, 2));
    }

    #[test]
    fn gdpr_extension_must_be_notified_within_the_first_month() {
        // GDPR Art. 12(3): inform the data subject of the extension within one month.
        let d = check(
            "GDPR",
            RequestType::Access,
            "2025-01-31T10:00:00+01:00",
            &brussels(),
        );
        assert!(d.extend(at("2025-02-28T23:59:00+01:00")).is_ok());
        assert_eq!(
            d.extend(at("2025-03-01T08:00:00+01:00")).unwrap_err(),
            DeadlineError::ExtensionNoticeLate {
                notice_by: at("2025-02-28T23:59:59.999999999+01:00"),
                decided_at: at("2025-03-01T08:00:00+01:00"),
            }
        );
    }

    // ---- CCPA: 11 CCR §7021(a)-(b), §7026(f), §7027(g); business days per US_CA.

    #[test]
    fn ccpa_request_to_know_on_friday_before_thanksgiving() {
        // §7021(a): acknowledge within 10 business days. Received Friday 21 November 2025;
        // not counted: the weekends, Thanksgiving (27 November) and the day after (28
        // November, a California holiday): 24, 25, 26 Nov, 1, 2, 3, 4, 5, 8, 9 Dec.
        // §7021(b): respond within 45 calendar days → 5 January 2026; extension to 90 days
        // from receipt → 19 February 2026, with notice within the first 45 days.
        let d = check(
            "CCPA",
            RequestType::Access,
            "2025-11-21T10:00:00-08:00",
            &los_angeles(),
        );
        assert_eq!(
            render(&d),
            "ack 2025-12-09 | respond 2026-01-05 | notice 2026-01-05 | extended 2026-02-19"
        );
        assert_eq!(d.respond_by().end, at("2026-01-06T07:59:59.999999999Z"));
        // With the federal calendar (day after Thanksgiving a working day) it would be 8 Dec.
        assert_eq!(
            calendar::add_business_days(HolidayCalendar::UsFederal, date(2025, 11, 21), 10)
                .unwrap(),
            date(2025, 12, 8)
        );
    }

    #[test]
    fn ccpa_covers_know_delete_correct_and_categories_alike() {
        for t in [
            RequestType::Access,
            RequestType::AccessCategories,
            RequestType::Portability,
            RequestType::Erasure,
            RequestType::Rectification,
        ] {
            let d = check("CCPA", t, "2025-11-21T10:00:00-08:00", &los_angeles());
            assert_eq!(
                render(&d),
                "ack 2025-12-09 | respond 2026-01-05 | notice 2026-01-05 | extended 2026-02-19",
                "{t}"
            );
        }
    }

    #[test]
    fn ccpa_late_evening_request_counts_from_the_local_date() {
        // 23:30 in Los Angeles on 21 November is already 22 November in UTC.
        let d = check(
            "CCPA",
            RequestType::Erasure,
            "2025-11-21T23:30:00-08:00",
            &los_angeles(),
        );
        assert_eq!(
            render(&d),
            "ack 2025-12-09 | respond 2026-01-05 | notice 2026-01-05 | extended 2026-02-19"
        );
    }

    #[test]
    fn ccpa_extension_must_be_notified_within_the_first_45_days() {
        // §7021(b): up to 45 more days, "provided that the business provides the consumer
        // with notice and an explanation" (within the first 45 days, Civ. Code §1798.130).
        let d = check(
            "CCPA",
            RequestType::Access,
            "2025-11-21T10:00:00-08:00",
            &los_angeles(),
        );
        let extended = d.extend(at("2026-01-05T23:00:00-08:00")).unwrap();
        assert_eq!(extended.due().date, date(2026, 2, 19));
        assert_eq!(
            extended.extended_at(),
            Some(at("2026-01-05T23:00:00-08:00"))
        );
        assert_eq!(
            extended
                .extend(at("2026-01-05T23:30:00-08:00"))
                .unwrap_err(),
            DeadlineError::AlreadyExtended
        );
        let late = d.extend(at("2026-01-06T00:00:00-08:00")).unwrap_err();
        assert!(
            matches!(late, DeadlineError::ExtensionNoticeLate { .. }),
            "{late:?}"
        );
        assert_eq!(
            late.to_string(),
            "the extension had to be notified by 2026-01-06T07:59:59.999999999Z, but was \
             decided at 2026-01-06T08:00:00Z"
        );
    }

    #[test]
    fn ccpa_opt_out_of_sale_15_business_days_over_christmas_and_new_year() {
        // §7026(f): no later than 15 business days. Received Friday 19 December 2025; not
        // counted: 25 December, 1 January and weekends → Tuesday 13 January 2026.
        for t in [RequestType::OptOutSale, RequestType::OptOutSharing] {
            let d = check("CCPA", t, "2025-12-19T15:00:00-08:00", &los_angeles());
            assert_eq!(
                render(&d),
                "ack - | respond 2026-01-13 | notice - | extended -",
                "{t}"
            );
            assert_eq!(
                d.extend(at("2025-12-22T09:00:00-08:00")).unwrap_err(),
                DeadlineError::ExtensionNotAllowed {
                    jurisdiction: "CCPA".to_owned(),
                    request_type: t,
                }
            );
        }
    }

    #[test]
    fn ccpa_limit_sensitive_15_business_days() {
        // §7027(g) (verify): received Wednesday 24 December 2025 → 16 January 2026.
        // Counted: 26, 29, 30, 31 Dec, 2, 5-9, 12-16 Jan (25 Dec and 1 Jan are holidays).
        let d = check(
            "CCPA",
            RequestType::LimitSensitive,
            "2025-12-24T09:00:00-08:00",
            &los_angeles(),
        );
        assert_eq!(
            render(&d),
            "ack - | respond 2026-01-16 | notice - | extended -"
        );
    }

    #[test]
    fn ccpa_deadline_on_a_summer_time_day_ends_at_local_midnight() {
        // Received 22 January 2026 + 45 days = Sunday 8 March 2026, the day US summer time
        // starts (23 hours long); CCPA deadlines do not roll over weekends.
        assert_eq!(date(2026, 3, 8).weekday(), Weekday::Sunday);
        let d = check(
            "CCPA",
            RequestType::Erasure,
            "2026-01-22T10:00:00-08:00",
            &los_angeles(),
        );
        assert_eq!(d.respond_by().date, date(2026, 3, 8));
        assert_eq!(d.respond_by().end, at("2026-03-09T06:59:59.999999999Z"));
    }

    #[test]
    fn ccpa_verification_time_is_included() {
        // §7021(b): the 45 days begin on receipt "regardless of time required to verify".
        let rules = RuleSet::shipped().unwrap();
        let clock = RequestClock::received_at(at("2025-11-21T10:00:00-08:00"))
            .verified_at(at("2025-12-15T10:00:00-08:00"));
        let d = compute(rules, "CCPA", RequestType::Access, clock, &los_angeles()).unwrap();
        assert_eq!(d.respond_by().date, date(2026, 1, 5));
        let pause = Pause::new(clock.received, at("2025-12-15T10:00:00-08:00")).unwrap();
        assert_eq!(
            compute_with_pauses(
                rules,
                "CCPA",
                RequestType::Access,
                clock,
                &[pause],
                &los_angeles()
            )
            .unwrap_err(),
            DeadlineError::ClockDoesNotPause {
                jurisdiction: "CCPA".to_owned()
            }
        );
    }

    // ---- US state laws.

    #[test]
    fn us_state_laws_give_45_days_plus_45() {
        // VA §59.1-577(B), CO §6-1-1306(2), CT §42-518(c), UT §13-61-203, TX §541.052(b),
        // OR SB 619 §4(5)(a), MT (verify sections): 45 days, +45 with notice within the first
        // 45. Received Monday 3 March 2025 → 17 April; extended → Sunday 1 June (no roll-over).
        for j in [
            "US_VA", "US_CO", "US_CT", "US_UT", "US_TX", "US_OR", "US_MT",
        ] {
            for t in [
                RequestType::Access,
                RequestType::Erasure,
                RequestType::OptOutSale,
            ] {
                let d = check(
                    j,
                    t,
                    "2025-03-03T12:00:00-05:00",
                    &TimeZone::fixed(jiff::tz::offset(-5)),
                );
                assert_eq!(
                    render(&d),
                    "ack - | respond 2025-04-17 | notice 2025-04-17 | extended 2025-06-01",
                    "{j} {t}"
                );
            }
        }
    }

    #[test]
    fn iowa_gives_90_days_plus_45() {
        // Iowa Code ch. 715D: 90 days ✔, +45 (verify).
        let d = check(
            "US_IA",
            RequestType::Access,
            "2025-03-03T12:00:00-06:00",
            &TimeZone::fixed(jiff::tz::offset(-6)),
        );
        assert_eq!(
            render(&d),
            "ack - | respond 2025-06-01 | notice 2025-06-01 | extended 2025-07-16"
        );
    }

    // ---- LGPD and PIPEDA.

    #[test]
    fn lgpd_complete_access_declaration_within_15_days() {
        // LGPD Art. 19(II) (verify): 15 days from the request.
        let d = check(
            "LGPD",
            RequestType::Access,
            "2025-03-03T12:00:00-03:00",
            &TimeZone::fixed(jiff::tz::offset(-3)),
        );
        assert_eq!(
            render(&d),
            "ack - | respond 2025-03-18 | notice - | extended -"
        );
    }

    #[test]
    fn pipeda_30_days_plus_30() {
        // PIPEDA s. 8(3)-(4): 30 days; +30 (verify) with notice within the first 30.
        let d = check(
            "PIPEDA",
            RequestType::Access,
            "2025-03-03T12:00:00-05:00",
            &TimeZone::fixed(jiff::tz::offset(-5)),
        );
        assert_eq!(
            render(&d),
            "ack - | respond 2025-04-02 | notice 2025-04-02 | extended 2025-05-02"
        );
    }

    // ---- The shipped table as a whole.

    #[test]
    fn every_shipped_rule_yields_deadlines_for_every_request_type_it_lists() {
        let rules = RuleSet::shipped().unwrap();
        let received = at("2025-06-30T12:00:00Z");
        for rule in rules.rules() {
            let types = rule.request_types();
            assert!(!types.is_empty(), "{}", rule.jurisdiction);
            for t in types {
                let clock = RequestClock::received_at(received);
                let d = compute(rules, &rule.jurisdiction, t, clock, &TimeZone::UTC)
                    .unwrap_or_else(|e| panic!("{} {t}: {e}", rule.jurisdiction));
                assert_eq!(d.jurisdiction(), rule.jurisdiction);
                assert_eq!(d.request_type(), t);
                assert!(d.respond_by().end > received, "{} {t}", rule.jurisdiction);
                if let Some(ack) = d.acknowledge_by() {
                    assert!(ack.end <= d.respond_by().end, "{} {t}", rule.jurisdiction);
                }
                assert_eq!(
                    d.extended_respond_by().is_some(),
                    rule.extension.is_some(),
                    "{} {t}",
                    rule.jurisdiction
                );
                if let Some(ext) = d.extended_respond_by() {
                    assert!(ext.end > d.respond_by().end, "{} {t}", rule.jurisdiction);
                    assert!(d.extend(received).is_ok(), "{} {t}", rule.jurisdiction);
                }
            }
        }
    }

    #[test]
    fn a_request_type_with_no_rule_is_a_clear_error() {
        let rules = RuleSet::shipped().unwrap();
        let clock = RequestClock::received_at(at("2025-03-03T12:00:00Z"));
        let e = compute(rules, "PIPEDA", RequestType::Erasure, clock, &TimeZone::UTC).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no deadline rule for `erasure` requests in `PIPEDA`"
        );
        let e = compute(rules, "US_ZZ", RequestType::Access, clock, &TimeZone::UTC).unwrap_err();
        assert_eq!(
            e,
            DeadlineError::NoRule {
                jurisdiction: "US_ZZ".to_owned(),
                request_type: RequestType::Access
            }
        );
        // Asking a rule directly for a type it does not cover is the same error.
        let gdpr = rules.rule("GDPR", RequestType::Access).unwrap();
        assert!(matches!(
            gdpr.deadlines(RequestType::LimitSensitive, clock, &TimeZone::UTC),
            Err(DeadlineError::NoRule { .. })
        ));
    }

    #[test]
    fn posix_rules_agree_with_the_tz_database_where_it_is_installed() {
        // The other tests use POSIX rules so they need no tz database; where one is
        // installed, check the rules are the zones they stand for.
        for (name, posix) in [
            ("Europe/Brussels", brussels()),
            ("America/Los_Angeles", los_angeles()),
            ("Europe/London", london()),
        ] {
            let Ok(tz) = TimeZone::get(name) else {
                eprintln!("no tz database entry for {name}: comparison skipped");
                continue;
            };
            for day in [
                "2025-01-31",
                "2025-03-30",
                "2025-10-26",
                "2026-03-08",
                "2026-11-01",
            ] {
                let d: Date = day.parse().unwrap();
                let c = Counter {
                    tz: &tz,
                    calendar: HolidayCalendar::None,
                    roll_to_working_day: false,
                };
                let p = Counter { tz: &posix, ..c };
                assert_eq!(
                    c.end_of_day(d).unwrap(),
                    p.end_of_day(d).unwrap(),
                    "{name} {day}"
                );
            }
        }
    }

    // ---- Engine mechanics, on small custom tables.

    #[test]
    fn hours_run_from_the_exact_instant_and_never_roll() {
        // 72 hours from Wednesday 26 March 2025 10:00 CET is Saturday 29 March 10:00 CET;
        // the period is in hours, so Reg. 1182/71 Art. 3(4) does not move it.
        let rules = custom(
            r#""clock_start": "receipt", "respond": { "amount": 72, "unit": "hours" },
               "pauses_for_verification": false, "calendar": "NONE",
               "roll_to_working_day": true"#,
        );
        let clock = RequestClock::received_at(at("2025-03-26T10:00:00+01:00"));
        let d = compute(&rules, "TEST", RequestType::Access, clock, &brussels()).unwrap();
        assert_eq!(
            d.respond_by(),
            Due {
                date: date(2025, 3, 29),
                end: at("2025-03-29T10:00:00+01:00")
            }
        );
        // Across the summer-time change, 72 hours are 72 real hours.
        let clock = RequestClock::received_at(at("2025-03-28T10:00:00+01:00"));
        let d = compute(&rules, "TEST", RequestType::Access, clock, &brussels()).unwrap();
        assert_eq!(d.respond_by().end, at("2025-03-31T11:00:00+02:00"));
    }

    const PAUSING: &str = r#""clock_start": "receipt",
        "respond": { "amount": 30, "unit": "calendar_days" },
        "extension": { "amount": 30, "unit": "calendar_days" },
        "extension_notice": "within_original_period",
        "pauses_for_verification": true, "calendar": "NONE", "roll_to_working_day": false"#;

    fn paused(rules: &RuleSet, pauses: &[(&str, &str)]) -> Deadlines {
        let pauses: Vec<Pause> = pauses
            .iter()
            .map(|(s, e)| Pause::new(at(s), at(e)).unwrap())
            .collect();
        let clock = RequestClock::received_at(at("2025-03-03T09:00:00Z"));
        compute_with_pauses(
            rules,
            "TEST",
            RequestType::Access,
            clock,
            &pauses,
            &TimeZone::UTC,
        )
        .unwrap()
    }

    #[test]
    fn a_pause_moves_the_deadlines_by_the_whole_days_it_lasted() {
        let rules = custom(PAUSING);
        assert_eq!(
            render(&paused(&rules, &[])),
            "ack - | respond 2025-04-02 | notice 2025-04-02 | extended 2025-05-02"
        );
        // 2 days 12 hours → 2 days.
        let d = paused(&rules, &[("2025-03-04T09:00:00Z", "2025-03-06T21:00:00Z")]);
        assert_eq!(d.paused_days(), 2);
        assert_eq!(
            render(&d),
            "ack - | respond 2025-04-04 | notice 2025-04-04 | extended 2025-05-04"
        );
        // 20 hours → none.
        let d = paused(&rules, &[("2025-03-04T09:00:00Z", "2025-03-05T05:00:00Z")]);
        assert_eq!(d.paused_days(), 0);
        // Two pauses of 12 hours add up to one day.
        let d = paused(
            &rules,
            &[
                ("2025-03-04T00:00:00Z", "2025-03-04T12:00:00Z"),
                ("2025-03-10T00:00:00Z", "2025-03-10T12:00:00Z"),
            ],
        );
        assert_eq!(d.paused_days(), 1);
    }

    #[test]
    fn overlapping_pauses_count_once_and_out_of_window_time_not_at_all() {
        let rules = custom(PAUSING);
        // Overlapping: 4 March 00:00 to 5 March 12:00 = 1½ days → 1.
        let d = paused(
            &rules,
            &[
                ("2025-03-04T12:00:00Z", "2025-03-05T12:00:00Z"),
                ("2025-03-04T00:00:00Z", "2025-03-05T00:00:00Z"),
            ],
        );
        assert_eq!(d.paused_days(), 1);
        // Before receipt (09:00 on 3 March): only the 24 hours after it count.
        let d = paused(&rules, &[("2025-03-01T00:00:00Z", "2025-03-04T09:00:00Z")]);
        assert_eq!(d.paused_days(), 1);
        // Wholly before receipt: nothing.
        let d = paused(&rules, &[("2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z")]);
        assert_eq!(d.paused_days(), 0);
        // Begun after the deadline (2 April) passed: ignored.
        let d = paused(&rules, &[("2025-04-03T00:00:00Z", "2025-04-10T00:00:00Z")]);
        assert_eq!(d.paused_days(), 0);
        // A pause straddling the deadline counts in full: the clock was stopped.
        let d = paused(&rules, &[("2025-04-01T00:00:00Z", "2025-04-05T00:00:00Z")]);
        assert_eq!(d.paused_days(), 4);
        assert_eq!(d.respond_by().date, date(2025, 4, 6));
        // A pause after the original deadline but before the moved one counts.
        let d = paused(
            &rules,
            &[
                ("2025-03-10T00:00:00Z", "2025-03-15T00:00:00Z"),
                ("2025-04-05T00:00:00Z", "2025-04-06T00:00:00Z"),
            ],
        );
        assert_eq!(d.paused_days(), 6);
    }

    #[test]
    fn a_paused_business_day_deadline_lands_on_a_business_day() {
        let rules = custom(
            r#""clock_start": "receipt", "respond": { "amount": 10, "unit": "business_days" },
               "pauses_for_verification": true, "calendar": "US_FEDERAL",
               "roll_to_working_day": false"#,
        );
        // Received Monday 3 March 2025: 10 business days → Monday 17 March; paused 5 days →
        // Saturday 22 March → Monday 24 March.
        let d = paused(&rules, &[("2025-03-04T09:00:00Z", "2025-03-09T09:00:00Z")]);
        assert_eq!(d.paused_days(), 5);
        assert_eq!(d.respond_by().date, date(2025, 3, 24));
    }

    #[test]
    fn a_pause_ending_before_it_starts_is_refused() {
        assert_eq!(
            Pause::new(at("2025-03-05T00:00:00Z"), at("2025-03-04T00:00:00Z")),
            Err(DeadlineError::InvalidPause)
        );
        let p = Pause::new(at("2025-03-04T00:00:00Z"), at("2025-03-04T00:00:00Z")).unwrap();
        assert_eq!(p.start(), p.end());
    }

    #[test]
    fn gdpr_does_not_pause_but_accepts_an_empty_pause_list() {
        let rules = RuleSet::shipped().unwrap();
        let clock = RequestClock::received_at(at("2025-01-31T10:00:00+01:00"));
        let plain = compute(rules, "GDPR", RequestType::Access, clock, &brussels()).unwrap();
        let none = compute_with_pauses(rules, "GDPR", RequestType::Access, clock, &[], &brussels())
            .unwrap();
        assert_eq!(plain, none);
    }

    #[test]
    fn a_clock_that_starts_at_verification_waits_for_it() {
        let rules = custom(
            r#""clock_start": "verification",
               "acknowledge": { "amount": 2, "unit": "business_days" },
               "respond": { "amount": 30, "unit": "calendar_days" },
               "pauses_for_verification": false, "calendar": "NONE",
               "roll_to_working_day": false"#,
        );
        let received = RequestClock::received_at(at("2025-03-03T09:00:00Z"));
        assert_eq!(
            compute(
                &rules,
                "TEST",
                RequestType::Access,
                received,
                &TimeZone::UTC
            )
            .unwrap_err(),
            DeadlineError::AwaitingVerification {
                jurisdiction: "TEST".to_owned()
            }
        );
        let verified = received.verified_at(at("2025-03-10T15:00:00Z"));
        let d = compute(
            &rules,
            "TEST",
            RequestType::Access,
            verified,
            &TimeZone::UTC,
        )
        .unwrap();
        // Acknowledge from receipt (Monday + 2 business days), respond from verification.
        assert_eq!(
            render(&d),
            "ack 2025-03-05 | respond 2025-04-09 | notice - | extended -"
        );
        assert_eq!(d.clock_started(), at("2025-03-10T15:00:00Z"));
        let backwards = received.verified_at(at("2025-03-01T00:00:00Z"));
        assert_eq!(
            compute(
                &rules,
                "TEST",
                RequestType::Access,
                backwards,
                &TimeZone::UTC
            )
            .unwrap_err(),
            DeadlineError::VerifiedBeforeReceipt
        );
    }

    #[test]
    fn an_extension_without_notice_must_come_before_the_deadline() {
        let rules = custom(
            r#""clock_start": "receipt", "respond": { "amount": 30, "unit": "calendar_days" },
               "extension": { "amount": 30, "unit": "calendar_days" },
               "extension_notice": "not_required",
               "pauses_for_verification": false, "calendar": "NONE",
               "roll_to_working_day": false"#,
        );
        let clock = RequestClock::received_at(at("2025-03-03T09:00:00Z"));
        let d = compute(&rules, "TEST", RequestType::Access, clock, &TimeZone::UTC).unwrap();
        assert_eq!(
            render(&d),
            "ack - | respond 2025-04-02 | notice - | extended 2025-05-02"
        );
        assert!(d.extend(at("2025-04-02T23:00:00Z")).is_ok());
        assert_eq!(
            d.extend(at("2025-04-03T00:00:00Z")).unwrap_err(),
            DeadlineError::ExtensionAfterDeadline {
                respond_by: at("2025-04-02T23:59:59.999999999Z"),
                decided_at: at("2025-04-03T00:00:00Z"),
            }
        );
    }

    #[test]
    fn an_extension_in_another_unit_runs_on_from_the_original_last_day() {
        // 10 business days from Monday 3 March 2025 = 17 March; + 1 calendar month = 17 April.
        let rules = custom(
            r#""clock_start": "receipt", "respond": { "amount": 10, "unit": "business_days" },
               "extension": { "amount": 1, "unit": "calendar_months" },
               "extension_notice": "within_original_period",
               "pauses_for_verification": false, "calendar": "NONE",
               "roll_to_working_day": false"#,
        );
        let clock = RequestClock::received_at(at("2025-03-03T09:00:00Z"));
        let d = compute(&rules, "TEST", RequestType::Access, clock, &TimeZone::UTC).unwrap();
        assert_eq!(
            render(&d),
            "ack - | respond 2025-03-17 | notice 2025-03-17 | extended 2025-04-17"
        );
    }

    #[test]
    fn dates_near_the_end_of_time_are_an_error_not_a_panic() {
        let rules = RuleSet::shipped().unwrap();
        let clock = RequestClock::received_at(at("9999-12-20T00:00:00Z"));
        assert!(matches!(
            compute(rules, "CCPA", RequestType::Access, clock, &TimeZone::UTC),
            Err(DeadlineError::OutOfRange(_))
        ));
    }
}
