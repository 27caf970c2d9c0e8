//! Payment card numbers and IBANs.

use super::push;
use crate::Kind;
use crate::bytes::{
    DIGITS, alnum_before, ascii, at, before_next_digit, context, digits_end, digits_of,
    joined_after, joined_before, next_in,
};
use custodian_core::vault::value::{FieldType, luhn_valid};

const CARD_CONTEXT: &[&str] = &[
    "card",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "amex",
    "discover",
    "jcb",
    "diners",
    "cc",
    "pan",
];
const IBAN_CONTEXT: &[&str] = &["iban", "bank", "account", "transfer", "transaction"];

/// Whether a digit string is in a known issuer range with a length that issuer uses: Visa
/// 4 (13, 16, 19), Mastercard 51–55 and 2221–2720 (16), Amex 34/37 (15), Discover 6011, 65,
/// 644–649 (16–19), JCB 3528–3589 (16–19), Diners 36, 38, 300–305 (14–19).
pub(crate) fn known_iin(d: &str) -> bool {
    let p = |k: usize| d.get(..k).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let len = d.len();
    (p(1) == 4 && matches!(len, 13 | 16 | 19))
        || (((51..=55).contains(&p(2)) || (2221..=2720).contains(&p(4))) && len == 16)
        || (matches!(p(2), 34 | 37) && len == 15)
        || ((p(4) == 6011 || p(2) == 65 || (644..=649).contains(&p(3))) && (16..=19).contains(&len))
        || ((3528..=3589).contains(&p(4)) && (16..=19).contains(&len))
        || ((matches!(p(2), 36 | 38) || (300..=305).contains(&p(3))) && (14..=19).contains(&len))
}

/// 13–19 digits, unbroken or in groups separated by single spaces or dashes (the first group
/// 4 digits, the others 1–6, one separator throughout), Luhn-valid and in a known issuer
/// range ([`known_iin`]). The whole digit sequence must be the card: longer sequences and
/// numbers glued to letters or other numbers are not cards. Confidence 0.85, 1.0 with context.
/// After a card word ("card", "cc", "visa"…), a Luhn-valid number of 12–19 digits outside
/// the listed ranges is reported too, at 0.8.
pub(crate) fn card(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        if !t[i].is_ascii_digit() || joined_before(t, i, b" -./") {
            i = next_in(t, i + 1, &DIGITS);
            continue;
        }
        let g0 = digits_end(t, i);
        let mut e = g0;
        let mut ok = true;
        let mut digits = g0 - i;
        if g0 - i == 4 && matches!(at(t, g0), b' ' | b'-') {
            let sep = at(t, g0);
            while at(t, e) == sep && at(t, e + 1).is_ascii_digit() {
                let ge = digits_end(t, e + 1);
                if ge - e - 1 > 6 {
                    ok = false;
                }
                digits += ge - e - 1;
                e = ge;
                if digits > 19 {
                    ok = false;
                    break;
                }
            }
        }
        if ok && (12..=19).contains(&digits) && !joined_after(t, e, b"-./") {
            let d = digits_of(t, i, e);
            if luhn_valid(&d) {
                let ctx = context(t, i, CARD_CONTEXT);
                if digits >= 13 && known_iin(&d) {
                    let conf = if ctx { 1.0 } else { 0.85 };
                    push(out, Kind::CreditCard, i, e, conf, "credit_card");
                } else if ctx {
                    // An issuer range we do not list (or a 12-digit Maestro), after "card".
                    push(out, Kind::CreditCard, i, e, 0.8, "credit_card_context");
                }
            }
        }
        i = e.max(i + 1);
    }
}

/// Whether `a b` is a country that uses IBANs (the core's table).
fn known_country(a: u8, b: u8) -> bool {
    std::str::from_utf8(&[a, b])
        .ok()
        .and_then(custodian_core::vault::value::iban_length)
        .is_some()
}

/// Two capital letters, two check digits and the BBAN in capitals and digits, unbroken or in
/// groups of four separated by single spaces; validated by the core's IBAN rule (length for
/// the country and ISO 7064 mod 97 = 1). Confidence 0.95, 1.0 with context.
pub(crate) fn iban(t: &[u8], out: &mut Vec<crate::Finding>) {
    let up_or_digit = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    let mut i = 0;
    while i + 4 <= t.len() {
        let head = t[i].is_ascii_uppercase()
            && at(t, i + 1).is_ascii_uppercase()
            && at(t, i + 2).is_ascii_digit()
            && at(t, i + 3).is_ascii_digit()
            && !alnum_before(t, i);
        if !head || !known_country(t[i], t[i + 1]) {
            // The next candidate's first digit is its third byte.
            i = before_next_digit(t, i + 1, 2);
            continue;
        }
        // Candidate ends, longest last.
        let mut ends: Vec<usize> = Vec::new();
        let mut e = i + 4;
        if up_or_digit(at(t, e)) {
            while e - i < 35 && up_or_digit(at(t, e)) {
                e += 1;
            }
            if !at(t, e).is_ascii_alphanumeric() {
                ends.push(e);
            }
        } else {
            while at(t, e) == b' ' && up_or_digit(at(t, e + 1)) && e - i < 42 {
                let gs = e + 1;
                let mut ge = gs;
                while ge - gs < 5 && up_or_digit(at(t, ge)) {
                    ge += 1;
                }
                if ge - gs > 4 || at(t, ge).is_ascii_alphanumeric() {
                    break;
                }
                ends.push(ge);
                e = ge;
                if ge - gs < 4 {
                    break;
                }
            }
        }
        let found = ends
            .iter()
            .rev()
            .copied()
            .find(|&e| ascii(t, i, e).is_some_and(|s| FieldType::Iban.normalize(s).is_ok()));
        if let Some(e) = found {
            let conf = if context(t, i, IBAN_CONTEXT) {
                1.0
            } else {
                0.95
            };
            push(out, Kind::Iban, i, e, conf, "iban");
            i = e;
        } else {
            i += 1;
        }
    }
}
