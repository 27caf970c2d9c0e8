//! Holiday calendars for counting business days, computed by rule rather than listed by year.
//!
//! A *business day* (working day) is a Monday to Friday that is not a holiday of the
//! calendar. Holidays are generated from their defining rule (a fixed date, or the nth
//! weekday of a month) for any year, then moved to the day they are observed:
//!
//! * [`HolidayCalendar::UsFederal`]: the eleven legal public holidays of 5 U.S.C. §6103(a).
//!   A fixed-date holiday on a Saturday is observed the Friday before, on a Sunday the Monday
//!   after (§6103(b) and Executive Order 11582), so New Year's Day of a year that starts on a
//!   Saturday is observed on 31 December of the year before. Juneteenth counts from 2021, the
//!   year it was enacted. Not modelled: Inauguration Day (Washington DC area only) and the
//!   extra days off granted by executive order (for example 24 December in some years).
//! * [`HolidayCalendar::UsCa`]: the California state holidays used for counting time (the
//!   holidays of Gov. Code §6700 as the courts observe them, Code Civ. Proc. §135): New Year's
//!   Day, Martin Luther King Jr. Day, Lincoln's Birthday (12 February), Washington's Birthday,
//!   César Chávez Day (31 March), Memorial Day, Independence Day, Labor Day, Native American
//!   Day (fourth Friday of September), Veterans Day, Thanksgiving and the day after, and
//!   Christmas. A holiday on a Sunday is observed the Monday after (Gov. Code §6701); one on a
//!   Saturday is not moved (verify: courts may close the Friday before). Juneteenth is a
//!   federal holiday but, as of this writing, not a California state holiday (verify), and
//!   Columbus Day is not counted.
//! * [`HolidayCalendar::Br`]: the national holidays of Brazil: New Year's Day (Law 662/1949
//!   as amended by Law 10.607/2002), Good Friday, Tiradentes (21 April), Labour Day (1 May),
//!   Independence Day (7 September), Our Lady of Aparecida (12 October, Law 6.802/1980), All
//!   Souls' Day (2 November), Proclamation of the Republic (15 November), Zumbi and Black
//!   Awareness Day (20 November, Law 14.759/2023, from 2024) and Christmas. Good Friday is the
//!   Friday before Easter Sunday, found with the anonymous Gregorian computus
//!   ([`easter_sunday`]); strictly it is a religious holiday kept by municipal law (Law
//!   9.093/1995), but it is observed nationwide (verify for a given municipality). Brazilian
//!   holidays are not moved when they fall on a weekend. Not modelled: Carnival and Corpus
//!   Christi (optional days off, *ponto facultativo*, in the federal administration), and state
//!   and municipal holidays.
//! * [`HolidayCalendar::None`]: Saturdays and Sundays only. Used where the table does not
//!   model public holidays (for example the EU member states' holidays under GDPR).
//!
//! Years outside the range jiff supports (-9999 to 9999) have no holidays.

use jiff::ToSpan;
use jiff::civil::{Date, Weekday};

/// A holiday calendar: which weekdays are not business days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolidayCalendar {
    /// Weekends only: every Monday to Friday is a business day.
    None,
    /// United States federal holidays (5 U.S.C. §6103).
    UsFederal,
    /// California state holidays (Gov. Code §6700).
    UsCa,
    /// Brazilian national holidays (Law 662/1949 and the laws amending it).
    Br,
}

impl HolidayCalendar {
    /// Every calendar.
    pub const ALL: [HolidayCalendar; 4] = [
        HolidayCalendar::None,
        HolidayCalendar::UsFederal,
        HolidayCalendar::UsCa,
        HolidayCalendar::Br,
    ];

    /// Stable name, as written in the rules table.
    pub fn as_str(self) -> &'static str {
        match self {
            HolidayCalendar::None => "NONE",
            HolidayCalendar::UsFederal => "US_FEDERAL",
            HolidayCalendar::UsCa => "US_CA",
            HolidayCalendar::Br => "BR",
        }
    }

    /// Parses [`HolidayCalendar::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The holidays observed in `year` (by the date they are observed), in date order.
    ///
    /// A holiday observed in another year than it falls in is listed under the year it is
    /// observed in: with [`HolidayCalendar::UsFederal`], 1 January 2028 (a Saturday) is listed
    /// in 2027 as observed on 31 December 2027.
    pub fn holidays(self, year: i16) -> Vec<Holiday> {
        let defs = match self {
            HolidayCalendar::None => return Vec::new(),
            HolidayCalendar::UsFederal => US_FEDERAL,
            HolidayCalendar::UsCa => US_CA,
            HolidayCalendar::Br => BR,
        };
        // Observance moves a holiday by at most a day, so only the neighbouring years can
        // contribute a holiday observed in `year`.
        let mut out: Vec<Holiday> = [year.checked_sub(1), Some(year), year.checked_add(1)]
            .into_iter()
            .flatten()
            .flat_map(|y| defs.iter().filter_map(move |def| def.in_year(y)))
            .filter(|h| h.date.year() == year)
            .collect();
        out.sort_by_key(|h| h.date);
        out
    }

    /// The holiday observed on `date`, if there is one.
    pub fn holiday(self, date: Date) -> Option<Holiday> {
        self.holidays(date.year())
            .into_iter()
            .find(|h| h.date == date)
    }
}

/// One holiday in one year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    /// The day off: the date the holiday is observed.
    pub date: Date,
    /// The date the holiday falls on (differs from `date` when a weekend moved it).
    pub actual: Date,
    /// Its name.
    pub name: &'static str,
}

/// Whether `date` is a Saturday or a Sunday.
pub fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Whether `date` is a business day in `calendar`: a Monday to Friday that is not an observed
/// holiday.
pub fn is_business_day(calendar: HolidayCalendar, date: Date) -> bool {
    !is_weekend(date) && calendar.holiday(date).is_none()
}

/// The first business day on or after `date`.
///
/// # Errors
///
/// When the search runs past the last date jiff supports.
pub fn roll_forward(calendar: HolidayCalendar, date: Date) -> Result<Date, jiff::Error> {
    let mut d = date;
    while !is_business_day(calendar, d) {
        d = d.tomorrow()?;
    }
    Ok(d)
}

/// The date `n` business days after `date`. `date` itself is not counted (whether or not it is
/// a business day): one business day after a Friday is the next Monday, if that is not a
/// holiday. With `n == 0` this is `date`.
///
/// # Errors
///
/// When the count runs past the last date jiff supports.
pub fn add_business_days(
    calendar: HolidayCalendar,
    date: Date,
    n: u32,
) -> Result<Date, jiff::Error> {
    let mut d = date;
    let mut counted = 0;
    while counted < n {
        d = d.tomorrow()?;
        if is_business_day(calendar, d) {
            counted += 1;
        }
    }
    Ok(d)
}

/// Easter Sunday of `year` in the (proleptic) Gregorian calendar, by the anonymous Gregorian
/// computus (the "Meeus/Jones/Butcher" algorithm). `None` only for a year jiff cannot
/// represent.
pub fn easter_sunday(year: i16) -> Option<Date> {
    let y = i32::from(year);
    // Euclidean division keeps the arithmetic meaningful for years before 1 as well.
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let n = h + l - 7 * m + 114;
    // INVARIANT: n is in 114..=155 for every year, so the month is 3 or 4 and the day 1..=31.
    let month = i8::try_from(n.div_euclid(31)).ok()?;
    let day = i8::try_from(n.rem_euclid(31) + 1).ok()?;
    Date::new(year, month, day).ok()
}

/// How a holiday's date is found in a given year.
#[derive(Debug, Clone, Copy)]
enum When {
    /// The same month and day every year.
    Fixed { month: i8, day: i8 },
    /// The nth `weekday` of `month`; a negative nth counts from the end (-1 = the last).
    Nth {
        month: i8,
        nth: i8,
        weekday: Weekday,
    },
    /// The day after the nth `weekday` of `month` (the day after Thanksgiving).
    DayAfterNth {
        month: i8,
        nth: i8,
        weekday: Weekday,
    },
    /// `days` days from Easter Sunday (negative: before it; Good Friday is -2).
    Easter { days: i8 },
}

/// Where a holiday that falls on a weekend is observed.
#[derive(Debug, Clone, Copy)]
enum Observed {
    /// Saturday → the Friday before, Sunday → the Monday after (5 U.S.C. §6103(b)).
    FridayOrMonday,
    /// Sunday → the Monday after; a Saturday holiday is not moved (Cal. Gov. Code §6701).
    MondayAfterSunday,
    /// Never moved (Brazil).
    NotMoved,
}

#[derive(Debug, Clone, Copy)]
struct Def {
    name: &'static str,
    when: When,
    observed: Observed,
    /// The first year the holiday exists, if it is recent.
    since: Option<i16>,
}

impl Def {
    fn in_year(&self, year: i16) -> Option<Holiday> {
        if self.since.is_some_and(|s| year < s) {
            return None;
        }
        let actual = match self.when {
            When::Fixed { month, day } => Date::new(year, month, day).ok()?,
            When::Nth {
                month,
                nth,
                weekday,
            } => Date::new(year, month, 1)
                .ok()?
                .nth_weekday_of_month(nth, weekday)
                .ok()?,
            When::DayAfterNth {
                month,
                nth,
                weekday,
            } => Date::new(year, month, 1)
                .ok()?
                .nth_weekday_of_month(nth, weekday)
                .ok()?
                .tomorrow()
                .ok()?,
            When::Easter { days } => easter_sunday(year)?
                .checked_add(i64::from(days).days())
                .ok()?,
        };
        let shift = match (actual.weekday(), self.observed) {
            (Weekday::Saturday, Observed::FridayOrMonday) => -1,
            (Weekday::Sunday, Observed::FridayOrMonday | Observed::MondayAfterSunday) => 1,
            _ => 0,
        };
        let date = actual.checked_add(shift.days()).ok()?;
        Some(Holiday {
            date,
            actual,
            name: self.name,
        })
    }
}

const fn fixed(name: &'static str, month: i8, day: i8, observed: Observed) -> Def {
    Def {
        name,
        when: When::Fixed { month, day },
        observed,
        since: None,
    }
}

const fn nth(name: &'static str, month: i8, nth: i8, weekday: Weekday) -> Def {
    Def {
        name,
        when: When::Nth {
            month,
            nth,
            weekday,
        },
        // A weekday rule never lands on a weekend; the observance rule is unused.
        observed: Observed::FridayOrMonday,
        since: None,
    }
}

/// 5 U.S.C. §6103(a).
const US_FEDERAL: &[Def] = &[
    fixed("New Year's Day", 1, 1, Observed::FridayOrMonday),
    nth("Birthday of Martin Luther King, Jr.", 1, 3, Weekday::Monday),
    nth("Washington's Birthday", 2, 3, Weekday::Monday),
    nth("Memorial Day", 5, -1, Weekday::Monday),
    Def {
        since: Some(2021),
        ..fixed(
            "Juneteenth National Independence Day",
            6,
            19,
            Observed::FridayOrMonday,
        )
    },
    fixed("Independence Day", 7, 4, Observed::FridayOrMonday),
    nth("Labor Day", 9, 1, Weekday::Monday),
    nth("Columbus Day", 10, 2, Weekday::Monday),
    fixed("Veterans Day", 11, 11, Observed::FridayOrMonday),
    nth("Thanksgiving Day", 11, 4, Weekday::Thursday),
    fixed("Christmas Day", 12, 25, Observed::FridayOrMonday),
];

/// Cal. Gov. Code §6700 as counted for time periods (Code Civ. Proc. §135). Juneteenth is not
/// a California state holiday as of this writing (verify before adding it).
const US_CA: &[Def] = &[
    fixed("New Year's Day", 1, 1, Observed::MondayAfterSunday),
    nth("Martin Luther King, Jr. Day", 1, 3, Weekday::Monday),
    fixed("Lincoln's Birthday", 2, 12, Observed::MondayAfterSunday),
    nth("Washington's Birthday", 2, 3, Weekday::Monday),
    fixed("César Chávez Day", 3, 31, Observed::MondayAfterSunday),
    nth("Memorial Day", 5, -1, Weekday::Monday),
    fixed("Independence Day", 7, 4, Observed::MondayAfterSunday),
    nth("Labor Day", 9, 1, Weekday::Monday),
    nth("Native American Day", 9, 4, Weekday::Friday),
    fixed("Veterans Day", 11, 11, Observed::MondayAfterSunday),
    nth("Thanksgiving Day", 11, 4, Weekday::Thursday),
    Def {
        name: "Day after Thanksgiving",
        when: When::DayAfterNth {
            month: 11,
            nth: 4,
            weekday: Weekday::Thursday,
        },
        observed: Observed::MondayAfterSunday,
        since: None,
    },
    fixed("Christmas Day", 12, 25, Observed::MondayAfterSunday),
];

/// Brazil's national holidays: Law 662/1949 as amended by Law 10.607/2002, Law 6.802/1980
/// (12 October), Law 14.759/2023 (20 November, from 2024); Good Friday per Law 9.093/1995.
const BR: &[Def] = &[
    fixed("New Year's Day", 1, 1, Observed::NotMoved),
    Def {
        name: "Good Friday",
        when: When::Easter { days: -2 },
        observed: Observed::NotMoved,
        since: None,
    },
    fixed("Tiradentes Day", 4, 21, Observed::NotMoved),
    fixed("Labour Day", 5, 1, Observed::NotMoved),
    fixed("Independence Day", 9, 7, Observed::NotMoved),
    fixed("Our Lady of Aparecida", 10, 12, Observed::NotMoved),
    fixed("All Souls' Day", 11, 2, Observed::NotMoved),
    fixed("Proclamation of the Republic", 11, 15, Observed::NotMoved),
    Def {
        since: Some(2024),
        ..fixed("Zumbi and Black Awareness Day", 11, 20, Observed::NotMoved)
    },
    fixed("Christmas Day", 12, 25, Observed::NotMoved),
];

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    /// Renders a year's holidays as `MM-DD name` lines, observed date first.
    fn render(calendar: HolidayCalendar, year: i16) -> Vec<String> {
        calendar
            .holidays(year)
            .iter()
            .map(|h| {
                let moved = if h.date == h.actual {
                    String::new()
                } else {
                    format!(" (falls on {})", h.actual)
                };
                format!("{} {}{moved}", h.date, h.name)
            })
            .collect()
    }

    #[test]
    fn us_federal_holidays_2025() {
        // 5 U.S.C. §6103(a); none falls on a weekend in 2025.
        assert_eq!(
            render(HolidayCalendar::UsFederal, 2025),
            [
                "2025-01-01 New Year's Day",
                "2025-01-20 Birthday of Martin Luther King, Jr.",
                "2025-02-17 Washington's Birthday",
                "2025-05-26 Memorial Day",
                "2025-06-19 Juneteenth National Independence Day",
                "2025-07-04 Independence Day",
                "2025-09-01 Labor Day",
                "2025-10-13 Columbus Day",
                "2025-11-11 Veterans Day",
                "2025-11-27 Thanksgiving Day",
                "2025-12-25 Christmas Day",
            ]
        );
    }

    #[test]
    fn us_federal_holidays_2026_move_independence_day_to_friday() {
        // 5 U.S.C. §6103(b): 4 July 2026 is a Saturday, observed Friday 3 July.
        assert_eq!(date(2026, 7, 4).weekday(), Weekday::Saturday);
        assert_eq!(
            render(HolidayCalendar::UsFederal, 2026),
            [
                "2026-01-01 New Year's Day",
                "2026-01-19 Birthday of Martin Luther King, Jr.",
                "2026-02-16 Washington's Birthday",
                "2026-05-25 Memorial Day",
                "2026-06-19 Juneteenth National Independence Day",
                "2026-07-03 Independence Day (falls on 2026-07-04)",
                "2026-09-07 Labor Day",
                "2026-10-12 Columbus Day",
                "2026-11-11 Veterans Day",
                "2026-11-26 Thanksgiving Day",
                "2026-12-25 Christmas Day",
            ]
        );
    }

    #[test]
    fn us_federal_2027_observes_christmas_and_new_year_2028_on_fridays() {
        // 5 U.S.C. §6103(b): 25 December 2027 and 1 January 2028 are Saturdays, observed on
        // Friday 24 December and Friday 31 December 2027.
        assert_eq!(date(2027, 12, 25).weekday(), Weekday::Saturday);
        assert_eq!(date(2028, 1, 1).weekday(), Weekday::Saturday);
        let h = render(HolidayCalendar::UsFederal, 2027);
        assert_eq!(
            h[h.len() - 2..],
            [
                "2027-12-24 Christmas Day (falls on 2027-12-25)",
                "2027-12-31 New Year's Day (falls on 2028-01-01)",
            ]
        );
        // ... so 2028 has no New Year's Day of its own.
        assert_eq!(
            render(HolidayCalendar::UsFederal, 2028)[0],
            "2028-01-17 Birthday of Martin Luther King, Jr."
        );
        assert!(!is_business_day(
            HolidayCalendar::UsFederal,
            date(2027, 12, 24)
        ));
        assert!(!is_business_day(
            HolidayCalendar::UsFederal,
            date(2027, 12, 31)
        ));
    }

    #[test]
    fn us_federal_sunday_holiday_is_observed_on_monday() {
        // 5 U.S.C. §6103(b)(2): 4 July 2027 is a Sunday, observed Monday 5 July.
        assert_eq!(date(2027, 7, 4).weekday(), Weekday::Sunday);
        let h = HolidayCalendar::UsFederal.holiday(date(2027, 7, 5));
        assert_eq!(h.map(|h| h.name), Some("Independence Day"));
        assert!(
            HolidayCalendar::UsFederal
                .holiday(date(2027, 7, 2))
                .is_none()
        );
    }

    #[test]
    fn juneteenth_counts_from_2021() {
        // Juneteenth National Independence Day Act, Pub. L. 117-17 (17 June 2021).
        assert!(
            HolidayCalendar::UsFederal
                .holiday(date(2020, 6, 19))
                .is_none()
        );
        assert!(
            HolidayCalendar::UsFederal
                .holiday(date(2021, 6, 18))
                .is_some()
        ); // Sat → Fri
    }

    #[test]
    fn california_holidays_2025() {
        // Cal. Gov. Code §6700; no Columbus Day, no Juneteenth (verify).
        assert_eq!(
            render(HolidayCalendar::UsCa, 2025),
            [
                "2025-01-01 New Year's Day",
                "2025-01-20 Martin Luther King, Jr. Day",
                "2025-02-12 Lincoln's Birthday",
                "2025-02-17 Washington's Birthday",
                "2025-03-31 César Chávez Day",
                "2025-05-26 Memorial Day",
                "2025-07-04 Independence Day",
                "2025-09-01 Labor Day",
                "2025-09-26 Native American Day",
                "2025-11-11 Veterans Day",
                "2025-11-27 Thanksgiving Day",
                "2025-11-28 Day after Thanksgiving",
                "2025-12-25 Christmas Day",
            ]
        );
    }

    #[test]
    fn california_holidays_2026_do_not_move_saturdays() {
        // Cal. Gov. Code §6701: only a Sunday holiday moves (to Monday); 4 July 2026 is a
        // Saturday and stays there, so Friday 3 July is a California business day.
        assert_eq!(
            render(HolidayCalendar::UsCa, 2026),
            [
                "2026-01-01 New Year's Day",
                "2026-01-19 Martin Luther King, Jr. Day",
                "2026-02-12 Lincoln's Birthday",
                "2026-02-16 Washington's Birthday",
                "2026-03-31 César Chávez Day",
                "2026-05-25 Memorial Day",
                "2026-07-04 Independence Day",
                "2026-09-07 Labor Day",
                "2026-09-25 Native American Day",
                "2026-11-11 Veterans Day",
                "2026-11-26 Thanksgiving Day",
                "2026-11-27 Day after Thanksgiving",
                "2026-12-25 Christmas Day",
            ]
        );
        assert!(is_business_day(HolidayCalendar::UsCa, date(2026, 7, 3)));
        assert!(!is_business_day(
            HolidayCalendar::UsFederal,
            date(2026, 7, 3)
        ));
        // A Sunday holiday moves: 12 February 2023 was a Sunday.
        assert_eq!(
            HolidayCalendar::UsCa
                .holiday(date(2023, 2, 13))
                .map(|h| h.name),
            Some("Lincoln's Birthday")
        );
    }

    #[test]
    fn juneteenth_and_columbus_day_are_federal_only() {
        for d in [date(2025, 6, 19), date(2025, 10, 13)] {
            assert!(!is_business_day(HolidayCalendar::UsFederal, d), "{d}");
            assert!(is_business_day(HolidayCalendar::UsCa, d), "{d}");
        }
        // The day after Thanksgiving is California only.
        assert!(is_business_day(
            HolidayCalendar::UsFederal,
            date(2025, 11, 28)
        ));
        assert!(!is_business_day(HolidayCalendar::UsCa, date(2025, 11, 28)));
    }

    #[test]
    fn none_has_weekends_only() {
        assert!(HolidayCalendar::None.holidays(2025).is_empty());
        assert!(is_business_day(HolidayCalendar::None, date(2025, 12, 25)));
        assert!(!is_business_day(HolidayCalendar::None, date(2025, 12, 27))); // Saturday
        assert!(!is_business_day(HolidayCalendar::None, date(2025, 12, 28))); // Sunday
    }

    #[test]
    fn business_day_arithmetic_skips_the_start_day() {
        let fri = date(2025, 11, 21);
        assert_eq!(
            add_business_days(HolidayCalendar::None, fri, 1).unwrap(),
            date(2025, 11, 24)
        );
        assert_eq!(
            add_business_days(HolidayCalendar::None, fri, 0).unwrap(),
            fri
        );
        // Received on a Saturday: the first business day is Monday.
        assert_eq!(
            add_business_days(HolidayCalendar::None, date(2025, 11, 22), 1).unwrap(),
            date(2025, 11, 24)
        );
        assert_eq!(
            roll_forward(HolidayCalendar::UsCa, date(2025, 11, 27)).unwrap(),
            date(2025, 12, 1)
        );
        assert_eq!(
            roll_forward(HolidayCalendar::UsCa, date(2025, 12, 1)).unwrap(),
            date(2025, 12, 1)
        );
    }

    #[test]
    fn calendar_names_round_trip() {
        for c in HolidayCalendar::ALL {
            assert_eq!(HolidayCalendar::parse(c.as_str()), Some(c));
        }
        assert_eq!(HolidayCalendar::parse("us_ca"), None);
    }

    #[test]
    fn easter_sunday_known_answers() {
        for (year, month, day) in [
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2000, 4, 23),
            (2019, 4, 21),
            (1818, 3, 22), // the earliest possible date
            (1943, 4, 25), // the latest possible date
            (2038, 4, 25),
            (2285, 3, 22),
        ] {
            assert_eq!(easter_sunday(year), Some(date(year, month, day)), "{year}");
        }
        for year in [-9999, -1, 0, 1, 1582, 9999] {
            let e = easter_sunday(year).unwrap();
            assert_eq!(e.weekday(), Weekday::Sunday, "{year}");
            assert!(
                (date(year, 3, 22)..=date(year, 4, 25)).contains(&e),
                "{year}"
            );
        }
    }

    #[test]
    fn brazil_holidays_2026() {
        // Holidays are not moved: 15 November 2026 is a Sunday and stays there.
        assert_eq!(date(2026, 11, 15).weekday(), Weekday::Sunday);
        assert_eq!(
            render(HolidayCalendar::Br, 2026),
            [
                "2026-01-01 New Year's Day",
                "2026-04-03 Good Friday",
                "2026-04-21 Tiradentes Day",
                "2026-05-01 Labour Day",
                "2026-09-07 Independence Day",
                "2026-10-12 Our Lady of Aparecida",
                "2026-11-02 All Souls' Day",
                "2026-11-15 Proclamation of the Republic",
                "2026-11-20 Zumbi and Black Awareness Day",
                "2026-12-25 Christmas Day",
            ]
        );
        // Good Friday is not a business day; the Monday after the Sunday holiday is.
        assert!(!is_business_day(HolidayCalendar::Br, date(2026, 4, 3)));
        assert!(is_business_day(HolidayCalendar::Br, date(2026, 11, 16)));
        assert!(is_business_day(
            HolidayCalendar::UsFederal,
            date(2026, 4, 3)
        ));
        // Good Friday 2025 was 18 April.
        assert!(!is_business_day(HolidayCalendar::Br, date(2025, 4, 18)));
    }

    #[test]
    fn brazil_black_awareness_day_counts_from_2024() {
        // Law 14.759/2023 (21 December 2023): 20 November 2023 (a Monday) was a business day.
        assert_eq!(date(2023, 11, 20).weekday(), Weekday::Monday);
        assert!(is_business_day(HolidayCalendar::Br, date(2023, 11, 20)));
        assert_eq!(HolidayCalendar::Br.holidays(2023).len(), 9);
        assert!(!is_business_day(HolidayCalendar::Br, date(2024, 11, 20)));
        assert!(!is_business_day(HolidayCalendar::Br, date(2026, 11, 20)));
    }

    #[test]
    fn brazil_business_days_skip_good_friday_and_the_weekend() {
        // Thursday 2 April 2026 + 3 business days: Friday 3 (Good Friday), Saturday and Sunday
        // are skipped → Monday 6, Tuesday 7, Wednesday 8.
        assert_eq!(
            add_business_days(HolidayCalendar::Br, date(2026, 4, 2), 3).unwrap(),
            date(2026, 4, 8)
        );
    }

    #[test]
    fn years_at_the_edge_of_the_range_do_not_fail() {
        assert_eq!(HolidayCalendar::Br.holidays(9999).len(), 10);
        assert!(HolidayCalendar::Br.holidays(i16::MAX).is_empty());
        assert!(!HolidayCalendar::Br.holidays(-9999).is_empty());
        assert_eq!(HolidayCalendar::UsFederal.holidays(9999).len(), 11);
        assert!(HolidayCalendar::UsFederal.holidays(i16::MAX).is_empty());
        assert!(HolidayCalendar::UsFederal.holidays(i16::MIN).is_empty());
    }
}
