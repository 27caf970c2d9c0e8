//! US Social Security Numbers, UK National Insurance numbers, and driving licence and
//! passport numbers after words that name them.

use super::push;
use crate::Kind;
use crate::bytes::{
    alnum_before, at, context, context_after, digits_end, joined_after, joined_before,
};
use custodian_core::vault::value::{FieldType, NationalIdScheme};

const SSN_CONTEXT: &[&str] = &[
    "ssn",
    "social security",
    "social security number",
    "ss#",
    "ssa",
];
const NINO_CONTEXT: &[&str] = &["national insurance", "nino", "ni number", "ni no", "nin"];

fn ssn_valid(digits: &str) -> bool {
    FieldType::NationalId(NationalIdScheme::UsSsn)
        .normalize(digits)
        .is_ok()
}

/// `AAA-GG-SSSS` or `AAA GG SSSS` (one separator throughout), validated by the core's SSN
/// rule: area not 000, 666 or 900–999, group not 00, serial not 0000. Nine unbroken digits
/// only with context ("ssn", "social security", before or after them). Confidence: dashed 0.85, spaced 0.5,
/// unbroken 0.8 (needs context); context lifts dashed and spaced to 1.0 and 0.95.
///
/// Published sample numbers such as 078-05-1120 (the "Woolworth" SSN, voided by the SSA) are
/// reported: they are valid in shape and range, and a scanner cannot know a number was voided.
pub(crate) fn us_ssn(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        if !t[i].is_ascii_digit() || joined_before(t, i, b" -./") {
            i += 1;
            continue;
        }
        let a = digits_end(t, i);
        let next = a.max(i + 1);
        let sep = at(t, a);
        if a - i == 3 && matches!(sep, b'-' | b' ') {
            let g = digits_end(t, a + 1);
            let s = digits_end(t, g + 1);
            if g - a - 1 == 2
                && at(t, g) == sep
                && s - g - 1 == 4
                && !joined_after(t, s, b"-./ ")
                && let Some(txt) = crate::bytes::ascii(t, i, s)
                && ssn_valid(txt)
            {
                let ctx = context(t, i, SSN_CONTEXT);
                let conf = match (sep, ctx) {
                    (b'-', true) => 1.0,
                    (b'-', false) => 0.85,
                    (_, true) => 0.95,
                    (_, false) => 0.5,
                };
                push(out, Kind::UsSsn, i, s, conf, "us_ssn");
                i = s;
                continue;
            }
        } else if a - i == 9
            && !joined_after(t, a, b"-./")
            && (context(t, i, SSN_CONTEXT) || context_after(t, a, SSN_CONTEXT))
            && crate::bytes::ascii(t, i, a).is_some_and(ssn_valid)
        {
            push(out, Kind::UsSsn, i, a, 0.8, "us_ssn");
        }
        i = next;
    }
}

/// Two prefix letters, six digits and a suffix A–D, in capitals, with optional single spaces
/// between the pairs (`AB 12 34 56 C`, `AB123456C`); validated by the core's NINO rule (first
/// letter not D, F, I, Q, U, V; second not those or O; prefixes BG, GB, KN, NK, NT, TN, ZZ
/// never issued). HMRC's specimen `QQ 12 34 56 C` is therefore not reported. Confidence 0.85,
/// 1.0 with context.
pub(crate) fn uk_nino(t: &[u8], out: &mut Vec<crate::Finding>) {
    for i in 0..t.len() {
        if !t[i].is_ascii_uppercase() || alnum_before(t, i) || !at(t, i + 1).is_ascii_uppercase() {
            continue;
        }
        let mut buf = [0u8; 9];
        buf[0] = t[i];
        buf[1] = t[i + 1];
        let mut j = i + 2;
        let mut ok = true;
        for k in 0..3 {
            if at(t, j) == b' ' {
                j += 1;
            }
            let (x, y) = (at(t, j), at(t, j + 1));
            if !x.is_ascii_digit() || !y.is_ascii_digit() {
                ok = false;
                break;
            }
            buf[2 + 2 * k] = x;
            buf[3 + 2 * k] = y;
            j += 2;
        }
        if !ok {
            continue;
        }
        if at(t, j) == b' ' && matches!(at(t, j + 1), b'A'..=b'D') {
            j += 1;
        }
        let suffix = at(t, j);
        if !matches!(suffix, b'A'..=b'D') || at(t, j + 1).is_ascii_alphanumeric() {
            continue;
        }
        buf[8] = suffix;
        let valid = std::str::from_utf8(&buf).is_ok_and(|s| {
            FieldType::NationalId(NationalIdScheme::UkNino)
                .normalize(s)
                .is_ok()
        });
        if valid {
            let conf = if context(t, i, NINO_CONTEXT) {
                1.0
            } else {
                0.85
            };
            push(out, Kind::UkNino, i, j + 1, conf, "uk_nino");
        }
    }
}

const LICENCE_CONTEXT: &[&str] = &[
    "driver's license",
    "drivers license",
    "driver license",
    "driver's licence",
    "driving licence",
    "driving license",
    "licence number",
    "license number",
    "licence no",
    "license no",
    "dl",
    "dln",
];
const PASSPORT_CONTEXT: &[&str] = &["passport", "passport number", "passport no"];

/// Driving licence and passport numbers: their formats differ by country and look like any
/// reference, so a token is reported only after words that name it. A token is 6 to 14
/// letters and digits, at most two letters and all of them first, at least 5 digits
/// (`A25064207`, `yo0047868`, `548581932`). Confidence 0.75.
pub(crate) fn licence_and_passport(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        if !t[i].is_ascii_alphanumeric() || alnum_before(t, i) {
            i += 1;
            continue;
        }
        let mut e = i;
        while at(t, e).is_ascii_alphabetic() && e - i < 3 {
            e += 1;
        }
        let letters = e - i;
        let d = digits_end(t, e);
        let len = d - i;
        let end = if at(t, d).is_ascii_alphanumeric() {
            // Not a token of this shape: skip the rest of the word.
            let mut w = d;
            while at(t, w).is_ascii_alphanumeric() {
                w += 1;
            }
            i = w;
            continue;
        } else {
            d
        };
        if letters <= 2 && d - e >= 5 && (6..=14).contains(&len) && !joined_after(t, end, b"-./") {
            if context(t, i, PASSPORT_CONTEXT) {
                push(out, Kind::Passport, i, end, 0.75, "passport_context");
            } else if context(t, i, LICENCE_CONTEXT) {
                push(
                    out,
                    Kind::DriversLicense,
                    i,
                    end,
                    0.75,
                    "drivers_license_context",
                );
            }
        }
        i = end.max(i + 1);
    }
}
