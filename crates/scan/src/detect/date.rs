//! Calendar dates, with birth context.

use super::push;
use crate::Kind;
use crate::bytes::Needle;
use crate::bytes::{
    DIGITS_AND_CAPITALS, alnum_before, ascii, at, context, digits_end, is_alnum, is_one_of,
    joined_after, joined_before, next_in, num, word_before,
};
use custodian_core::vault::value::FieldType;
use memchr::memmem::Finder;

const DOB_CONTEXT: &[&str] = &[
    "born",
    "dob",
    "d.o.b",
    "date of birth",
    "birth",
    "birthday",
    "birthdate",
    "geboren",
];

pub(super) const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether year `y` (1900–2099), month `m` and day `d` make a calendar day.
fn valid(y: u32, m: u32, d: u32) -> bool {
    (1900..=2099).contains(&y) && d >= 1 && d <= days_in_month(y, m)
}

/// Whether a time of day follows the date ending at `e` (`T10:30`, ` 10:30`): the date is
/// part of a timestamp, which records an event rather than describing a person.
fn time_follows(t: &[u8], e: usize) -> bool {
    matches!(at(t, e), b'T' | b' ')
        && at(t, e + 1).is_ascii_digit()
        && at(t, e + 2).is_ascii_digit()
        && at(t, e + 3) == b':'
}

fn conf(t: &[u8], s: usize) -> f32 {
    if context(t, s, DOB_CONTEXT) {
        0.95
    } else {
        0.5
    }
}

/// Dates in three shapes, each a valid calendar day with a year in 1900–2099:
///
/// * ISO `2024-07-14` (validated by the core's date rule);
/// * numeric `14/07/2024`, `07/14/2024`, `14.07.2024`, `14-07-2024` (day-month or
///   month-day, one separator throughout);
/// * with a month name: `July 14, 2024`, `Jul 14th 2024`, `14 July 2024`, `14th Jul, 2024`.
///
/// Dates that start a timestamp (`2024-07-14T10:30:00Z`, `14/07/2024 10:30`) are not reported
/// (a log line's), but after `When:`, `Date:` or a sentence's `On` the date and time of an
/// event is (`date_time`, 0.6).
/// Confidence 0.5, 0.95 with birth context ("born", "dob", "date of birth").
pub(crate) fn dates(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        let b = t[i];
        let found = if b.is_ascii_digit() && !joined_before(t, i, b"-./:") {
            numeric(t, i)
                .or_else(|| day_month_name(t, i))
                .or_else(|| year(t, i))
        } else if b.is_ascii_uppercase() && !alnum_before(t, i) {
            month_name_day(t, i)
        } else {
            None
        };
        match found {
            Some(e) if !time_follows(t, e) => {
                push(out, Kind::Date, i, e, conf(t, i), "date");
                i = e;
            }
            Some(e) if event_label(word_before(t, i, true).0) => {
                // The date and time of an event (`When: 1987-10-29 08:59:08.816633`).
                let mut end = e + 1;
                while at(t, end).is_ascii_digit()
                    || (matches!(at(t, end), b':' | b'.') && at(t, end + 1).is_ascii_digit())
                {
                    end += 1;
                }
                push(out, Kind::Date, i, end, 0.6, "date_time");
                i = end;
            }
            Some(e) => i = e,
            None => i = next_in(t, i + 1, &DIGITS_AND_CAPITALS),
        }
    }
}

/// Labels before a date and time that make it an event's, not a log line's timestamp
/// (`When: 1987-10-29 08:59:08`, `Date: …`), in any case; and `On` capitalised (`On
/// 2017-10-01 20:32:50, the government…`, not `logged on 2024-07-14 10:30:00`).
const EVENT_LABELS: &[&str] = &["when", "date"];

fn event_label(w: &[u8]) -> bool {
    w == b"On" || is_one_of(w, EVENT_LABELS)
}

/// Words before a day of the week that make it a date (`on Sunday`, `meet Monday`).
const BEFORE_WEEKDAY: &[&str] = &["on", "meet", "next", "until", "by", "every"];

/// Days of the week after one of [`BEFORE_WEEKDAY`] (`flew there on Sunday morning`,
/// `We'll meet Monday`), capitalised, as whole words: 0.5.
pub(crate) fn weekdays(t: &[u8], out: &mut Vec<crate::Finding>) {
    // Every day's name ends in `day`: jump from one `day` to the next and look back.
    static DAY: Needle = Needle::new(|| Finder::new(b"day"));
    let mut from = 0;
    while let Some(p) = DAY.find(&t[from..]) {
        let d = from + p;
        from = d + 3;
        let mut s = d;
        while s > 0 && d - s < 6 && t[s - 1].is_ascii_alphabetic() {
            s -= 1;
        }
        if t[s].is_ascii_uppercase()
            && !alnum_before(t, s)
            && let Some(e) = weekday(t, s)
        {
            push(out, Kind::Date, s, e, 0.5, "weekday");
        }
    }
}

/// The end of a day of the week at `s` after one of [`BEFORE_WEEKDAY`], as a whole word.
fn weekday(t: &[u8], s: usize) -> Option<usize> {
    let day = super::person::WEEKDAYS.iter().find(|d| {
        t.get(s..s + d.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(d.as_bytes()))
    })?;
    let e = s + day.len();
    (!is_alnum(t, e) && is_one_of(word_before(t, s, false).0, BEFORE_WEEKDAY)).then_some(e)
}

/// Words after which a bare year is one (`in 1995`, `during 2000`, `born in 1985`).
const BEFORE_YEAR: &[&str] = &[
    "in", "during", "since", "until", "till", "by", "from", "before", "after", "around", "circa",
    "year",
];

/// Words for a stretch of time that `of` and a year may follow (`the summer of 1969`).
const PERIODS: &[&str] = &[
    "class",
    "summer",
    "winter",
    "spring",
    "autumn",
    "fall",
    "end",
    "start",
    "beginning",
    "middle",
    "year",
];

/// A bare year (1900–2099) at `s` where the words before it say it is one, and its end:
/// after [`BEFORE_YEAR`] (`founded in 1975`, `During 2000,`), after `of` that follows a
/// capitalised word or a stretch of time (`the Civil Rights Act of 1964`, `the class of
/// 1999`; not `out of 2000`), or after `a` when a capitalised word follows (`a 1996
/// American film`; not `a 2000 mile trip`).
fn year(t: &[u8], s: usize) -> Option<usize> {
    let (y, e) = year_at(t, s)?;
    if !(1900..=2099).contains(&y) || s == 0 || t[s - 1] != b' ' || is_alnum(t, e) {
        return None;
    }
    let (w, ws) = word_before(t, s, false);
    let said = is_one_of(w, BEFORE_YEAR)
        || (w == b"of" && {
            let (p, _) = word_before(t, ws, false);
            p.first().is_some_and(u8::is_ascii_uppercase) || is_one_of(p, PERIODS)
        })
        || (w.eq_ignore_ascii_case(b"a")
            && at(t, e) == b' '
            && at(t, e + 1).is_ascii_uppercase()
            && at(t, e + 2).is_ascii_lowercase());
    said.then_some(e)
}

/// A numeric calendar date at `s` (`2024-07-14`, `14.07.2024`, `7/14/2024`), and where it
/// ends.
pub(super) fn numeric(t: &[u8], s: usize) -> Option<usize> {
    let a = digits_end(t, s);
    let sep = at(t, a);
    if !matches!(sep, b'-' | b'/' | b'.') {
        return None;
    }
    let b = digits_end(t, a + 1);
    if at(t, b) != sep {
        return None;
    }
    let c = digits_end(t, b + 1);
    if joined_after(t, c, b"-./:") {
        return None;
    }
    let (la, lb, lc) = (a - s, b - a - 1, c - b - 1);
    if la == 4 && lb == 2 && lc == 2 && sep == b'-' {
        let y = num(t, s, a);
        let ok = (1900..=2099).contains(&y)
            && ascii(t, s, c).is_some_and(|v| FieldType::Date.normalize(v).is_ok());
        return ok.then_some(c);
    }
    if (1..=2).contains(&la) && (1..=2).contains(&lb) && lc == 4 {
        let (x, y, year) = (num(t, s, a), num(t, a + 1, b), num(t, b + 1, c));
        if valid(year, y, x) || valid(year, x, y) {
            return Some(c);
        }
    }
    None
}

/// The month (1–12) named by the letters at `i`, and where the name ends (after an
/// optional `.` for abbreviations). Full names or three-letter abbreviations (and `Sept`),
/// capitalised.
fn month_at(t: &[u8], i: usize) -> Option<(u32, usize)> {
    // Every month starts with one of these capitals.
    if !matches!(
        at(t, i),
        b'J' | b'F' | b'M' | b'A' | b'S' | b'O' | b'N' | b'D'
    ) {
        return None;
    }
    let mut e = i;
    while at(t, e).is_ascii_alphabetic() && e - i < 10 {
        e += 1;
    }
    let word = t.get(i..e)?;
    let m = MONTHS.iter().position(|full| {
        word.eq_ignore_ascii_case(full.as_bytes())
            || (word.len() == 3 && word.eq_ignore_ascii_case(&full.as_bytes()[..3]))
            || (word.eq_ignore_ascii_case(b"sept") && *full == "september")
    })?;
    let full = word.len() > 4
        || [&b"may"[..], b"june", b"july"]
            .iter()
            .any(|x| word.eq_ignore_ascii_case(x));
    if !full && at(t, e) == b'.' {
        e += 1;
    }
    u32::try_from(m + 1).ok().map(|m| (m, e))
}

/// Day (1–2 digits) with an optional ordinal suffix at `i`: `(day, end)`.
fn day_at(t: &[u8], i: usize) -> Option<(u32, usize)> {
    let e = digits_end(t, i);
    if !(1..=2).contains(&(e - i)) {
        return None;
    }
    let d = num(t, i, e);
    let mut end = e;
    for suf in [b"st", b"nd", b"rd", b"th"] {
        if crate::bytes::starts_with_ci(t, e, suf) {
            end = e + 2;
        }
    }
    Some((d, end))
}

/// A four-digit year at `i`, not glued to anything after it: `(year, end)`.
fn year_at(t: &[u8], i: usize) -> Option<(u32, usize)> {
    let e = digits_end(t, i);
    (e - i == 4 && !joined_after(t, e, b"-./:")).then(|| (num(t, i, e), e))
}

/// `July 14, 2024` / `Jul 14th 2024`.
fn month_name_day(t: &[u8], s: usize) -> Option<usize> {
    let (m, e) = month_at(t, s)?;
    if at(t, e) != b' ' {
        return None;
    }
    let (d, e) = day_at(t, e + 1)?;
    let e = if at(t, e) == b',' { e + 1 } else { e };
    if at(t, e) != b' ' {
        return None;
    }
    let (y, e) = year_at(t, e + 1)?;
    valid(y, m, d).then_some(e)
}

/// `14 July 2024` / `14th Jul, 2024`.
fn day_month_name(t: &[u8], s: usize) -> Option<usize> {
    let (d, e) = day_at(t, s)?;
    if at(t, e) != b' ' {
        return None;
    }
    let (m, e) = month_at(t, e + 1)?;
    let e = if at(t, e) == b',' { e + 1 } else { e };
    if at(t, e) != b' ' {
        return None;
    }
    let (y, e) = year_at(t, e + 1)?;
    valid(y, m, d).then_some(e)
}
