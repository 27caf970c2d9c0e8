//! US ZIP codes, UK postcodes, and other countries' postal codes after a postal-code word.

use super::push;
use crate::Kind;
use crate::bytes::{
    DIGITS, DIGITS_AND_CAPITALS, alnum_before, at, capital_at, context, digits_end, is_one_of,
    joined_after, joined_before, next_in, starts_before_digits,
};

const ZIP_CONTEXT: &[&str] = &["zip", "zip code", "zipcode", "postal code", "postcode"];
const POSTCODE_CONTEXT: &[&str] = &["postcode", "post code", "postal code", "address"];

const US_STATES: [&[u8; 2]; 56] = [
    b"AL", b"AK", b"AZ", b"AR", b"CA", b"CO", b"CT", b"DE", b"FL", b"GA", b"HI", b"ID", b"IL",
    b"IN", b"IA", b"KS", b"KY", b"LA", b"ME", b"MD", b"MA", b"MI", b"MN", b"MS", b"MO", b"MT",
    b"NE", b"NV", b"NH", b"NJ", b"NM", b"NY", b"NC", b"ND", b"OH", b"OK", b"OR", b"PA", b"RI",
    b"SC", b"SD", b"TN", b"TX", b"UT", b"VT", b"VA", b"WA", b"WV", b"WI", b"WY", b"DC", b"PR",
    b"GU", b"VI", b"AS", b"MP",
];

/// Whether the ZIP at `s` follows a state code written as in an address: `, CA 94105` or
/// `,CA 94105`.
fn after_state(t: &[u8], s: usize) -> bool {
    if s < 4 || at(t, s - 1) != b' ' {
        return false;
    }
    let code = [at(t, s - 3), at(t, s - 2)];
    if !US_STATES.iter().any(|st| **st == code) {
        return false;
    }
    let before = at(t, s - 4);
    before == b',' || (before == b' ' && s >= 5 && at(t, s - 5) == b',')
}

/// Five digits, optionally `-` and four more, only with context: right after a state code in
/// address form (`, CA 94105`; confidence 0.8) or after "zip"/"postal code" (0.85).
pub(crate) fn us_zip(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        if !t[i].is_ascii_digit() || joined_before(t, i, b"-./ ") {
            i = next_in(t, i + 1, &DIGITS);
            continue;
        }
        let a = digits_end(t, i);
        let mut e = a;
        if a - i == 5 && at(t, a) == b'-' && digits_end(t, a + 1) - a - 1 == 4 {
            e = a + 5;
        }
        if a - i == 5 && !joined_after(t, e, b"-./") {
            let conf = if after_state(t, i) {
                Some(0.8)
            } else if context(t, i, ZIP_CONTEXT) {
                Some(0.85)
            } else {
                None
            };
            if let Some(c) = conf {
                push(out, Kind::UsZip, i, e, c, "us_zip");
            }
        }
        i = e.max(i + 1);
    }
}

/// Other countries' postal codes, right after a postal-code word (`zip`, `postal code`,
/// `postcode`, with `:`, `is` or spaces between), or after a town named after `in` where
/// the clause ends with the code (`in Schweinfurt 97419 in its mission`; 0.6, not four
/// digits that read as a year): 3 to 6 digits (`4032`, Denmark, Austria,
/// Switzerland…), digits in two groups (`860 13` Sweden and Czechia, `00-423` Poland,
/// `6250-120` Portugal, `01310-100` Brazil), or the Canadian `A9A 9A9`. Confidence 0.7; a US
/// ZIP with its word is found with more confidence by [`us_zip`].
pub(crate) fn other_postal_codes(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        // The start of a code: a digit or a capital not glued to what comes before.
        let b = t[i];
        if !(b.is_ascii_digit() || b.is_ascii_uppercase()) || alnum_before(t, i) {
            i = next_in(t, i + 1, &DIGITS_AND_CAPITALS);
            continue;
        }
        let Some(e) = postal_code_at(t, i) else {
            i += 1;
            continue;
        };
        if joined_after(t, e, b"-./") {
            i = e;
            continue;
        }
        if right_after_word(t, i) {
            push(out, Kind::PostalCode, i, e, 0.7, "postal_code");
        } else if after_town(t, i) && clause_ends(t, e) && !year_like(t, i, e) {
            push(out, Kind::PostalCode, i, e, 0.6, "postal_code_after_town");
        }
        i = e;
    }
}

/// Whether the code at `s` follows a town after `in`: `in` (as a word), then one to four
/// words of letters (any script), the first capitalised or in capitals, with place
/// particles between (`in Jalón de Cameros 26134`, `in LAHOLM 312 18`), none a word known
/// as something else.
fn after_town(t: &[u8], s: usize) -> bool {
    if s < 2 || t[s - 1] != b' ' {
        return false;
    }
    let mut e = s - 1;
    for _ in 0..4 {
        let mut a = e;
        while a > 0
            && e - a < 32
            && (t[a - 1].is_ascii_alphabetic() || t[a - 1] >= 0x80 || t[a - 1] == b'-')
        {
            a -= 1;
        }
        let w = &t[a..e];
        if w.is_empty() || super::person::known_word(w) || is_one_of(w, NUMBERED) {
            return false;
        }
        let capital = capital_at(t, a);
        if !capital && !is_one_of(w, super::gazetteer::PLACE_PARTICLES) {
            return false;
        }
        let before_in = a >= 3
            && t[a - 3..a].eq_ignore_ascii_case(b"in ")
            && (a == 3 || matches!(t[a - 4], b' ' | b'\n' | b'\t' | b','));
        if before_in {
            return capital;
        }
        if a < 2 || t[a - 1] != b' ' {
            return false;
        }
        e = a - 1;
    }
    false
}

/// Words that number things other than towns (`in Room 40404`), which
/// [`after_town`] does not take for a town.
const NUMBERED: &[&str] = &[
    "account",
    "apartment",
    "apt",
    "block",
    "box",
    "build",
    "building",
    "case",
    "chapter",
    "flat",
    "flight",
    "floor",
    "gate",
    "hall",
    "invoice",
    "level",
    "line",
    "lot",
    "model",
    "office",
    "order",
    "page",
    "platform",
    "room",
    "route",
    "section",
    "suite",
    "terminal",
    "ticket",
    "unit",
    "version",
    "ward",
    "windows",
];

/// Whether the clause ends at `e`: the end of the text or a line, punctuation, or a
/// lower-case word (`in Schweinfurt 97419 in its mission`).
fn clause_ends(t: &[u8], e: usize) -> bool {
    match at(t, e) {
        0 | b'\n' | b',' | b'.' | b';' | b'!' | b'?' | b')' => true,
        b' ' => at(t, e + 1).is_ascii_lowercase() || at(t, e + 1) == b' ',
        _ => false,
    }
}

/// Whether the code is four digits that read as a year of the 20th or 21st century
/// (`in Berlin 2019`): not taken for a postal code after a town.
fn year_like(t: &[u8], s: usize, e: usize) -> bool {
    e - s == 4 && matches!(&t[s..s + 2], b"19" | b"20")
}

/// The end of a postal code's shape at `i` (see [`other_postal_codes`]).
fn postal_code_at(t: &[u8], i: usize) -> Option<usize> {
    let dg = |k: usize| at(t, k).is_ascii_digit();
    let up = |k: usize| at(t, k).is_ascii_uppercase();
    if up(i) {
        // Canada: A9A 9A9.
        let ok =
            dg(i + 1) && up(i + 2) && at(t, i + 3) == b' ' && dg(i + 4) && up(i + 5) && dg(i + 6);
        return ok.then_some(i + 7);
    }
    let a = digits_end(t, i);
    let n = a - i;
    let sep = at(t, a);
    if matches!(sep, b' ' | b'-') && dg(a + 1) {
        let m = digits_end(t, a + 1) - a - 1;
        let grouped = matches!(
            (n, m, sep),
            (3, 2, b' ') | (2, 3, b'-') | (4, 3, b'-') | (5, 3, b'-')
        );
        if grouped {
            return Some(a + 1 + m);
        }
    }
    (3..=6).contains(&n).then_some(a)
}

/// Whether a postal-code word ends just before `s`, with `:`, `is` or blanks between.
fn right_after_word(t: &[u8], s: usize) -> bool {
    let mut j = s;
    while j > 0 && matches!(t[j - 1], b' ' | b':' | b'\t' | b'#') && s - j < 4 {
        j -= 1;
    }
    if j >= 3 && t[j - 3..j].eq_ignore_ascii_case(b" is") {
        j -= 3;
        while j > 0 && t[j - 1] == b' ' && s - j < 8 {
            j -= 1;
        }
    }
    ZIP_CONTEXT.iter().chain(&["post code"]).any(|w| {
        j >= w.len()
            && t[j - w.len()..j].eq_ignore_ascii_case(w.as_bytes())
            && (j == w.len() || !t[j - w.len() - 1].is_ascii_alphabetic())
    })
}

/// A full UK postcode in capitals with one space: outward code `A9`, `A99`, `AA9`, `AA99`,
/// `A9A` or `AA9A` (first letter not Q, V, X; second not I, J, Z; the letter in `A9A` one of
/// ABCDEFGHJKPSTUW, in `AA9A` one of ABEHMNPRVWXY), inward code digit and two letters not in
/// CIKMOV; and `GIR 0AA`. Confidence 0.7, 0.95 with context.
pub(crate) fn uk_postcode(t: &[u8], out: &mut Vec<crate::Finding>) {
    // The outward code's first digit is its second or third byte (`W1A`, `SW1A`).
    for i in starts_before_digits(t, 2) {
        if !t[i].is_ascii_uppercase() || alnum_before(t, i) {
            continue;
        }
        if let Some(e) = postcode_at(t, i) {
            let conf = if context(t, i, POSTCODE_CONTEXT) {
                0.95
            } else {
                0.7
            };
            push(out, Kind::UkPostcode, i, e, conf, "uk_postcode");
        }
    }
}

fn postcode_at(t: &[u8], i: usize) -> Option<usize> {
    if crate::bytes::starts_with(t, i, b"GIR 0AA") && !at(t, i + 7).is_ascii_alphanumeric() {
        return Some(i + 7);
    }
    let up = |k: usize| at(t, k).is_ascii_uppercase();
    let dg = |k: usize| at(t, k).is_ascii_digit();
    if b"QVX".contains(&t[i]) {
        return None;
    }
    let mut j = i + 1;
    let two_letters = up(j);
    if two_letters {
        if b"IJZ".contains(&at(t, j)) {
            return None;
        }
        j += 1;
    }
    if !dg(j) {
        return None;
    }
    j += 1;
    if dg(j) {
        j += 1;
    } else if up(j) {
        let allowed: &[u8] = if two_letters {
            b"ABEHMNPRVWXY"
        } else {
            b"ABCDEFGHJKPSTUW"
        };
        if !allowed.contains(&at(t, j)) {
            return None;
        }
        j += 1;
    }
    if at(t, j) != b' ' || !dg(j + 1) {
        return None;
    }
    let (x, y) = (at(t, j + 2), at(t, j + 3));
    let inward_letter = |c: u8| c.is_ascii_uppercase() && !b"CIKMOV".contains(&c);
    if !inward_letter(x) || !inward_letter(y) || at(t, j + 4).is_ascii_alphanumeric() {
        return None;
    }
    Some(j + 4)
}
