//! The detectors. Each pushes its candidate findings; [`crate::scan`] resolves overlaps.
//!
//! INVARIANT: every detector starts and ends a span on an ASCII byte (or the end of the
//! text), so spans lie on `char` boundaries of the UTF-8 input; and every detector looks at
//! a bounded number of bytes per candidate start, or skips past what it read, so the whole
//! scan is linear.

mod contact;
mod date;
mod finance;
mod govid;
mod network;
mod postal;
mod secret;

use crate::{Finding, Kind};

/// Runs every detector over `t`.
pub(crate) fn run_all(t: &[u8], out: &mut Vec<Finding>) {
    contact::email(t, out);
    contact::url(t, out);
    contact::phone(t, out);
    finance::card(t, out);
    finance::iban(t, out);
    govid::us_ssn(t, out);
    govid::uk_nino(t, out);
    network::ipv4(t, out);
    network::ipv6(t, out);
    network::mac(t, out);
    date::dates(t, out);
    postal::us_zip(t, out);
    postal::uk_postcode(t, out);
    secret::secrets(t, out);
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
        });
    }
}
