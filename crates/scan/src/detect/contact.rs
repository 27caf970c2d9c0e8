//! Email addresses, URLs and phone numbers.

use super::push;
use crate::Kind;
use crate::bytes::{
    ByteSet, alnum_before, at, context, digits_end, is_alnum, is_digit, joined_after,
    joined_before, next_in, set, starts_with_ci, word_at,
};

const EMAIL_CONTEXT: &[&str] = &["email", "e-mail", "mail", "contact"];
const PHONE_CONTEXT: &[&str] = &[
    "phone",
    "telephone",
    "tel",
    "mobile",
    "cell",
    "call",
    "fax",
    "whatsapp",
    "sms",
    "contact",
    "desk",
    "office",
    "landline",
    "dial",
    "reach",
    "ring",
    "text",
    "message",
    "messages",
    "answering",
    "registered",
];

/// Local-part bytes: the common subset (`A-Za-z0-9._%+-`). RFC 5322 allows more (`/`, `=`,
/// `?`, ...), but in running text those bytes belong to the surrounding URL or assignment.
fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-".contains(&b)
}

fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// `local@domain.tld`: a local part of 1–64 bytes without leading, trailing or double dots;
/// a domain of dot-separated labels (letters, digits, inner hyphens) ending in an alphabetic
/// TLD of at least two letters. Confidence 0.95, 0.99 with context.
pub(crate) fn email(t: &[u8], out: &mut Vec<crate::Finding>) {
    for at_sign in memchr::memchr_iter(b'@', t) {
        let mut s = at_sign;
        while s > 0 && at_sign - s < 64 && local_char(t[s - 1]) {
            s -= 1;
        }
        if s > 0 && local_char(t[s - 1]) {
            continue; // local part longer than 64 bytes
        }
        while s < at_sign && !(t[s].is_ascii_alphanumeric() || t[s] == b'_') {
            s += 1;
        }
        let local = &t[s..at_sign];
        if local.is_empty() || local.ends_with(b".") || local.windows(2).any(|w| w == b"..") {
            continue;
        }
        let ds = at_sign + 1;
        let mut e = ds;
        while e < t.len() && e - ds < 253 && domain_char(t[e]) {
            e += 1;
        }
        while e > ds && matches!(t[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if !valid_domain(&t[ds..e]) || at(t, e) == b'@' {
            continue;
        }
        let conf = if context(t, s, EMAIL_CONTEXT) {
            0.99
        } else {
            0.95
        };
        push(out, Kind::Email, s, e, conf, "email");
    }
}

fn valid_domain(d: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for l in d.split(|&b| b == b'.') {
        if l.is_empty() || l.len() > 63 || l.starts_with(b"-") || l.ends_with(b"-") {
            return false;
        }
        labels += 1;
        last = l;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

/// Positions of `needle` in `t`.
fn url_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !b"<>\"`{}|\\^".contains(&b)
}

/// `http://` or `https://` followed by a host that starts with a letter, digit or `[`, up to
/// whitespace, a non-ASCII byte or a character not allowed in URLs; trailing sentence
/// punctuation and an unbalanced `)` are left out. Confidence 0.9.
pub(crate) fn url(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        if !matches!(t[i], b'h' | b'H') || alnum_before(t, i) {
            i = memchr::memchr2(b'h', b'H', &t[i + 1..]).map_or(t.len(), |k| i + 1 + k);
            continue;
        }
        let scheme = if starts_with_ci(t, i, b"https://") {
            8
        } else if starts_with_ci(t, i, b"http://") {
            7
        } else {
            i += 1;
            continue;
        };
        let hs = i + scheme;
        let mut e = hs;
        while e < t.len() && url_char(t[e]) {
            e += 1;
        }
        let run_end = e;
        // Where the first `(` is, found once: a `)` is trailing when no `(` comes before it.
        let open = memchr::memchr(b'(', &t[i..run_end]).map_or(run_end, |k| i + k);
        loop {
            let last = at(t, e.wrapping_sub(1));
            let trailing = b".,;:!?'".contains(&last) || (last == b')' && open >= e);
            if e > hs && trailing {
                e -= 1;
            } else {
                break;
            }
        }
        if e > hs && (is_alnum(t, hs) || at(t, hs) == b'[') {
            push(out, Kind::Url, i, e, 0.9, "url");
        }
        i = run_end.max(i + 1);
    }
}

/// Phone numbers in three shapes, each with separators (single spaces, dashes, dots, or
/// parentheses around an area code):
///
/// * E.164: `+` and a country code not starting with 0, 8–15 digits in all (a `(0)` trunk
///   prefix is not counted); `+1` numbers must be 11 digits with NANP area and exchange codes
///   not starting with 0 or 1; `+44` numbers 11 or 12 digits. Confidence 0.75, 0.95 with
///   context.
/// * NANP: `(415) 555-2671`, `415-555-2671`, `415.555.2671`, `415 555 2671`: area and exchange
///   not starting with 0 or 1. Confidence 0.6, 0.9 with context.
/// * UK national: `020 7946 0958`, `07700 900123`, `0161 496 0000`, `(020) 7946 0958`: 10 or 11
///   digits in 2 or 3 groups, the first `0[1-9]` and 3–5 digits long. Confidence 0.6, 0.9
///   with context.
///
/// Unbroken 10-digit NANP or 11-digit UK numbers are reported only with context (0.7).
/// Numbers glued to other digits, letters or dotted/dashed numbers are not reported, so card
/// numbers, dates, timestamps and order numbers are not phones.
pub(crate) fn phone(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        let b = t[i];
        let next = if b == b'+' {
            e164(t, i, out)
        } else if b == b'(' || (b.is_ascii_digit() && !joined_before(t, i, b" -./+:")) {
            national(t, i, out)
        } else {
            None
        };
        i = next_in(t, next.unwrap_or(i + 1).max(i + 1), &PHONE_START);
    }
}

/// The bytes a telephone number starts with.
const PHONE_START: ByteSet = set(b"+(", true, false);

/// Tries an E.164 number at the `+` at `p`; returns the end of what was read.
fn e164(t: &[u8], p: usize, out: &mut Vec<crate::Finding>) -> Option<usize> {
    if alnum_before(t, p) || (p > 0 && t[p - 1] == b'+') {
        return None;
    }
    let first = at(t, p + 1);
    if !first.is_ascii_digit() || first == b'0' {
        return None;
    }
    let mut digits = [0u8; 16];
    let mut n = 0usize;
    let mut i = p + 1;
    let mut end = i;
    let mut after_sep = true;
    loop {
        match at(t, i) {
            d @ b'0'..=b'9' => {
                if n == digits.len() {
                    return Some(i); // too long: a digit run, not a phone
                }
                digits[n] = d;
                n += 1;
                i += 1;
                end = i;
                after_sep = false;
            }
            b' ' | b'-' | b'.' if !after_sep => {
                after_sep = true;
                i += 1;
            }
            b'(' => {
                let ds = i + 1;
                let de = digits_end(t, ds);
                if de == ds || de - ds > 4 || at(t, de) != b')' {
                    break;
                }
                let trunk = de - ds == 1 && t[ds] == b'0';
                if !trunk {
                    for &d in &t[ds..de] {
                        if n == digits.len() {
                            return Some(de);
                        }
                        digits[n] = d;
                        n += 1;
                    }
                }
                i = de + 1;
                after_sep = false;
                if at(t, i) == b' ' || at(t, i) == b'-' {
                    after_sep = true;
                    i += 1;
                }
            }
            _ => break,
        }
    }
    if !(8..=15).contains(&n) || joined_after(t, end, b"-./:") {
        return Some(end);
    }
    // The country's numbering plan decides; a number outside it is reported only with
    // context.
    let conf = match (in_plan(t, p, end, None), context(t, p, PHONE_CONTEXT)) {
        (true, true) => 0.95,
        (true, false) => 0.85,
        (false, true) => 0.6,
        (false, false) => return Some(end),
    };
    push(out, Kind::Phone, p, end, conf, "phone_e164");
    Some(end)
}

/// Whether `t[s..e]` is a valid number of a numbering plan (libphonenumber's metadata, as
/// the `phonenumber` crate embeds it): an international number by its country code, a
/// national one in `region`'s plan. A number in a plan has an assigned length and prefix
/// (area code, mobile range), which random digit groups rarely have.
fn in_plan(t: &[u8], s: usize, e: usize, region: Option<phonenumber::country::Id>) -> bool {
    let Some(v) = crate::bytes::ascii(t, s, e) else {
        return false;
    };
    phonenumber::parse(region, v).is_ok_and(|n| phonenumber::is_valid(&n))
}

/// The end of an extension right after a number ending at `end` (`x549`, ` ext. 12`, ` x 7`),
/// or `end`.
fn extension(t: &[u8], end: usize) -> usize {
    let mut i = end;
    if at(t, i) == b' ' {
        i += 1;
    }
    let Some(mut j) = word_at(t, i, &["ext.", "ext", "x"]) else {
        return end;
    };
    if at(t, j) == b' ' {
        j += 1;
    }
    let e = digits_end(t, j);
    if (1..=5).contains(&(e - j)) && !is_alnum(t, e) {
        e
    } else {
        end
    }
}

/// Tries a NANP, UK or (after a phone word) other national number at `s` (a digit or `(`);
/// returns the end of what was read when something was found.
fn national(t: &[u8], s: usize, out: &mut Vec<crate::Finding>) -> Option<usize> {
    // Groups: (start, end) of each digit group, and the separator after each.
    let mut groups: [(usize, usize); 5] = [(0, 0); 5];
    let mut n = 0;
    let mut i = s;
    let mut paren = false;
    let mut sep: Option<u8> = None;
    if at(t, i) == b'(' {
        if alnum_before(t, i) {
            return None;
        }
        let de = digits_end(t, i + 1);
        if !(2..=5).contains(&(de - i - 1)) || at(t, de) != b')' {
            return None;
        }
        groups[0] = (i + 1, de);
        n = 1;
        paren = true;
        i = de + 1;
        if at(t, i) == b' ' {
            i += 1;
        }
        if !is_digit(t, i) {
            return None;
        }
    }
    loop {
        let de = digits_end(t, i);
        if de == i || n == groups.len() {
            return None;
        }
        groups[n] = (i, de);
        n += 1;
        let c = at(t, de);
        if !matches!(c, b' ' | b'-' | b'.') || !is_digit(t, de + 1) || n == groups.len() {
            break;
        }
        match sep {
            Some(p) if p != c => break,
            _ => sep = Some(c),
        }
        i = de + 1;
    }
    let g = &groups[..n];
    // The digits the plan checks end at `end`; the span goes on over an extension.
    let end = g[n - 1].1;
    let span_end = extension(t, end);
    if joined_after(t, span_end, b"-./:")
        || sep.is_some_and(|c| at(t, end) == c && is_digit(t, end + 1))
    {
        return None;
    }
    let len = |k: usize| g[k].1 - g[k].0;
    let first = |k: usize| at(t, g[k].0);
    let total: usize = (0..n).map(len).sum();
    // Context is looked up only once a shape matched: it is the costliest check.
    let ctx = || context(t, s, PHONE_CONTEXT);
    // A phone word right after the number (`0494 41 18 24 office`, `-Fax`).
    let ctx_after = || {
        let mut a = end;
        while matches!(at(t, a), b' ' | b'-' | b',') && a < end + 3 {
            a += 1;
        }
        word_at(
            t,
            a,
            &[
                "office", "fax", "mobile", "home", "work", "cell", "phone", "tel",
            ],
        )
        .is_some()
    };
    let start = s;
    // Confidence of a national number by its region's plan and its context (none: a number
    // outside the plan without context is not reported).
    let graded = |region| match (in_plan(t, start, end, Some(region)), ctx()) {
        (true, true) => Some(0.95),
        (true, false) => Some(0.7),
        (false, true) => Some(0.7),
        (false, false) => None,
    };
    // NANP: 3-3-4.
    if n == 3 && len(0) == 3 && len(1) == 3 && len(2) == 4 && first(0) >= b'2' && first(1) >= b'2' {
        if let Some(conf) = graded(phonenumber::country::Id::US) {
            push(out, Kind::Phone, start, span_end, conf, "phone_nanp");
            return Some(span_end);
        }
        return None;
    }
    // UK national: 0[1-9], 10 or 11 digits in 2 or 3 groups (dots are not used in the UK).
    let uk_first = first(0) == b'0' && at(t, g[0].0 + 1) != b'0' && (3..=5).contains(&len(0));
    if n >= 2
        && uk_first
        && (10..=11).contains(&total)
        && (1..n).all(|k| (3..=6).contains(&len(k)))
        && sep != Some(b'.')
        && !(paren && n > 3)
    {
        if let Some(conf) = graded(phonenumber::country::Id::GB) {
            push(out, Kind::Phone, start, span_end, conf, "phone_uk");
            return Some(span_end);
        }
        return None;
    }
    // A calendar date in groups (`2024-07-14`, `14.07.2024`) is a date, whatever words are
    // near it: what the date detector reports is never a phone number.
    let date_like = !paren && super::date::numeric(t, start) == Some(end);
    // Other national numbers, only after a phone word: two to five groups (or a bracketed
    // area code and more), 6 to 12 digits, groups of 2 to 5 digits but the last (up to 8).
    if (n >= 2 || paren)
        && !date_like
        && (6..=12).contains(&total)
        && (0..n).all(|k| (2..=5).contains(&len(k)) || (k == n - 1 && (2..=8).contains(&len(k))))
        && (ctx() || ctx_after())
    {
        push(out, Kind::Phone, start, span_end, 0.7, "phone_grouped");
        return Some(span_end);
    }
    // Unbroken numbers only with context.
    if n == 1 && !paren && (10..=11).contains(&total) && ctx() {
        let d = &t[g[0].0..g[0].1];
        let nanp = |d: &[u8]| d.len() == 10 && d[0] >= b'2' && d[3] >= b'2';
        let ok = nanp(d)
            || (d.len() == 11 && d[0] == b'1' && nanp(&d[1..]))
            || (d.len() == 11 && d[0] == b'0' && matches!(d[1], b'1'..=b'3' | b'7'));
        if ok {
            push(out, Kind::Phone, start, span_end, 0.7, "phone_context");
            return Some(span_end);
        }
    }
    None
}
