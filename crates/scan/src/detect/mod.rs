//! The detectors. Each pushes its candidate findings; [`crate::scan`] resolves overlaps.
//!
//! INVARIANT: every detector starts a span on an ASCII byte or the first byte of a
//! non-ASCII character it has decoded, and ends it on an ASCII byte,
//! the end of the text, or the end of a maximal run of non-ASCII bytes (which in valid UTF-8
//! holds whole characters), so spans lie on `char` boundaries of the UTF-8 input; and every detector looks at
//! a bounded number of bytes per candidate start, or skips past what it read, so the whole
//! scan is linear.

mod address;
mod contact;
mod date;
mod finance;
mod gazetteer;
mod govid;
mod job;
mod network;
mod org;
mod person;
mod postal;
mod secret;

use crate::{Finding, Kind};

const DIGIT: u8 = 1;
const AT: u8 = 2;
const COLON: u8 = 4;
const UPPER: u8 = 8;
const DASH: u8 = 16;
const EQUALS: u8 = 32;

/// The class bit of each byte.
const CLASS: [u8; 256] = {
    let mut c = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        c[i] = match i as u8 {
            b'0'..=b'9' => DIGIT,
            b'@' => AT,
            b':' => COLON,
            // The first byte of a non-ASCII character, which may be a capital (`Å`, `Ł`, `Μ`).
            b'A'..=b'Z' | 0xC0..=0xF7 => UPPER,
            b'-' => DASH,
            b'=' => EQUALS,
            _ => 0,
        };
        i += 1;
    }
    c
};

/// Runs every detector over `t` that could match: one pass first notes which kinds of bytes
/// occur (digits, `@`, `:`, capitals, `-`, `=`), and a detector whose matches all need a
/// byte that does not occur is skipped. Each detector then jumps from one byte its matches
/// can start with (or must hold) to the next (`memchr`, [`crate::bytes::next_in`]).
pub(crate) fn run_all(t: &[u8], out: &mut Vec<Finding>) {
    let has = t.iter().fold(0u8, |m, &b| m | CLASS[usize::from(b)]);
    let any = |bits: u8| has & bits != 0;
    if any(AT) {
        contact::email(t, out);
    }
    if any(COLON) {
        contact::url(t, out);
        network::ipv6(t, out);
    }
    if any(COLON | DASH) {
        network::mac(t, out);
    }
    if any(DIGIT) {
        contact::phone(t, out);
        finance::card(t, out);
        finance::iban(t, out);
        govid::us_ssn(t, out);
        govid::uk_nino(t, out);
        govid::licence_and_passport(t, out);
        govid::national_ids(t, out);
        network::ipv4(t, out);
        date::dates(t, out);
        postal::us_zip(t, out);
        postal::uk_postcode(t, out);
        postal::other_postal_codes(t, out);
        person::age(t, out);
        address::street(t, out);
        address::military(t, out);
        address::po_box(t, out);
        address::corner(t, out);
        address::named_corner(t, out);
    }
    secret::prefixed(t, out);
    person::lower_titled(t, out);
    gazetteer::words(t, out);
    job::titles(t, out);
    if any(DASH) {
        secret::private_keys(t, out);
    }
    if any(COLON | EQUALS) {
        secret::assigned(t, out);
    }
    if any(UPPER) {
        date::weekdays(t, out);
        person::person(t, out);
        person::above_job_title(t, out);
        person::addressed_and_paired(t, out);
        org::employers(t, out);
        if any(COLON) {
            person::speakers(t, out);
        }
        org::organizations(t, out);
        gazetteer::after_preposition(t, out);
        gazetteer::before_landmark(t, out);
        // Last: they read what the others found.
        person::repeated(t, out);
        address::town_above_place(t, out);
    }
}

/// Pushes a finding.
fn push(
    out: &mut Vec<Finding>,
    kind: Kind,
    start: usize,
    end: usize,
    confidence: f32,
    detector: &'static str,
) {
    if start < end {
        out.push(Finding {
            kind,
            start,
            end,
            confidence: confidence.clamp(0.0, 1.0),
            detector,
            part: false,
        });
    }
}

/// Spans already found, to ask in `log n` whether a new one would overlap any of them.
pub(super) struct Taken {
    /// `(start, furthest end up to this span)`, sorted by start.
    spans: Vec<(usize, usize)>,
}

impl Taken {
    pub(super) fn new(spans: impl Iterator<Item = (usize, usize)>) -> Self {
        let mut spans: Vec<(usize, usize)> = spans.collect();
        spans.sort_unstable();
        let mut furthest = 0;
        for f in &mut spans {
            furthest = furthest.max(f.1);
            f.1 = furthest;
        }
        Self { spans }
    }

    /// Whether `s..e` overlaps none of the spans.
    pub(super) fn free(&self, s: usize, e: usize) -> bool {
        let before_end = self.spans.partition_point(|&(fs, _)| fs < e);
        before_end == 0 || self.spans[before_end - 1].1 <= s
    }
}
