//! IPv4, IPv6 and MAC addresses.

use super::push;
use crate::Kind;
use crate::bytes::{
    DIGITS, alnum_before, ascii, at, context, digits_end, joined_after, joined_before, next_in, num,
};

const IP_CONTEXT: &[&str] = &[
    "ip",
    "ipv4",
    "ipv6",
    "ip address",
    "address",
    "host",
    "client",
];
const MAC_CONTEXT: &[&str] = &["mac", "mac address", "hardware", "ethernet", "wifi"];

/// Four dotted decimal octets 0–255 without leading zeros, not part of a longer dotted number
/// (`1.2.3.4.5`) or glued to letters (`v1.2.3.4`). Confidence 0.8, 0.95 with context.
pub(crate) fn ipv4(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        if !t[i].is_ascii_digit() || joined_before(t, i, b".:") {
            i = next_in(t, i + 1, &DIGITS);
            continue;
        }
        let mut j = i;
        let mut ok = true;
        for k in 0..4 {
            let e = digits_end(t, j);
            let len = e - j;
            if len == 0 || len > 3 || (len > 1 && t[j] == b'0') || num(t, j, e) > 255 {
                ok = false;
            }
            j = e;
            if k < 3 {
                if at(t, j) != b'.' || !at(t, j + 1).is_ascii_digit() {
                    ok = false;
                    break;
                }
                j += 1;
            }
            if !ok {
                break;
            }
        }
        if ok && !joined_after(t, j, b".") {
            let conf = if context(t, i, IP_CONTEXT) { 0.95 } else { 0.8 };
            push(out, Kind::Ipv4, i, j, conf, "ipv4");
        }
        // Skip the rest of this dotted run so its inner numbers are not retried.
        let mut e = digits_end(t, i);
        while at(t, e) == b'.' && at(t, e + 1).is_ascii_digit() {
            e = digits_end(t, e + 1);
        }
        i = e.max(i + 1);
    }
}

fn ipv6_char(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// Hex groups with colons (including `::` compression and an embedded IPv4 tail) that parse
/// as an IPv6 address, contain at least one decimal digit and two colons, and are not glued
/// to letters. Confidence 0.8, 0.95 with context.
pub(crate) fn ipv6(t: &[u8], out: &mut Vec<crate::Finding>) {
    // Every candidate holds a colon: each run of address bytes around one is read once, from
    // its start (a run that starts after a letter, a digit, `:` or `.` holds no candidate).
    let mut done = 0;
    for colon in memchr::memchr_iter(b':', t) {
        if colon < done {
            continue;
        }
        let mut i = colon;
        while i > done && ipv6_char(t[i - 1]) {
            i -= 1;
        }
        let mut e = colon;
        while e < t.len() && ipv6_char(t[e]) {
            e += 1;
        }
        let run_end = e;
        done = run_end;
        if alnum_before(t, i) || (i > 0 && matches!(t[i - 1], b':' | b'.')) || e - i > 45 {
            continue;
        }
        while e > i && t[e - 1] == b'.' {
            e -= 1;
        }
        if e > i + 1 && t[e - 1] == b':' && t[e - 2] != b':' {
            e -= 1;
        }
        let cand = &t[i..e];
        let colons = cand.iter().filter(|&&c| c == b':').count();
        if colons >= 2
            && cand.iter().any(u8::is_ascii_digit)
            && !at(t, run_end).is_ascii_alphanumeric()
            && ascii(t, i, e).is_some_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
        {
            let conf = if context(t, i, IP_CONTEXT) { 0.95 } else { 0.8 };
            push(out, Kind::Ipv6, i, e, conf, "ipv6");
        }
    }
}

/// Six pairs of hex digits separated by `:` or `-` (one separator throughout), not part of a
/// longer run. Confidence 0.85, 0.95 with context.
pub(crate) fn mac(t: &[u8], out: &mut Vec<crate::Finding>) {
    let hex = |i: usize| at(t, i).is_ascii_hexdigit();
    // A candidate's first separator is its third byte.
    let mut done = 0;
    for first_sep in memchr::memchr2_iter(b':', b'-', t) {
        let Some(i) = first_sep.checked_sub(2) else {
            continue;
        };
        if i < done
            || i + 17 > t.len()
            || !hex(i)
            || alnum_before(t, i)
            || (i > 0 && matches!(t[i - 1], b':' | b'-' | b'.'))
        {
            continue;
        }
        let sep = t[first_sep];
        let ok = (0..6).all(|k| hex(i + 3 * k) && hex(i + 3 * k + 1))
            && (1..6).all(|k| at(t, i + 3 * k - 1) == sep);
        let e = i + 17;
        if ok && !at(t, e).is_ascii_alphanumeric() && !(at(t, e) == sep && hex(e + 1)) {
            let conf = if context(t, i, MAC_CONTEXT) {
                0.95
            } else {
                0.85
            };
            push(out, Kind::Mac, i, e, conf, "mac");
            done = e;
        }
    }
}
