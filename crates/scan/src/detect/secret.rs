//! Secrets: API keys and tokens with known prefixes, PEM private keys, and high-entropy
//! values assigned to key/token/secret/password names.

use super::push;
use crate::Kind;
use crate::bytes::Needle;
use crate::bytes::{alnum_before, at, entropy, starts_with};
use memchr::memmem::Finder;

/// Known token prefixes: the prefix, the bytes allowed after it, and the least and most
/// bytes after it.
struct Prefix {
    prefix: &'static [u8],
    body: fn(u8) -> bool,
    min: usize,
    max: usize,
    detector: &'static str,
}

fn upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}
fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn alnum_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

const PREFIXES: &[Prefix] = &[
    Prefix {
        prefix: b"AKIA",
        body: upper_alnum,
        min: 16,
        max: 16,
        detector: "secret_aws_access_key",
    },
    Prefix {
        prefix: b"ghp_",
        body: alnum,
        min: 30,
        max: 255,
        detector: "secret_github_token",
    },
    Prefix {
        prefix: b"gho_",
        body: alnum,
        min: 30,
        max: 255,
        detector: "secret_github_token",
    },
    Prefix {
        prefix: b"ghu_",
        body: alnum,
        min: 30,
        max: 255,
        detector: "secret_github_token",
    },
    Prefix {
        prefix: b"ghs_",
        body: alnum,
        min: 30,
        max: 255,
        detector: "secret_github_token",
    },
    Prefix {
        prefix: b"github_pat_",
        body: alnum_underscore,
        min: 22,
        max: 255,
        detector: "secret_github_token",
    },
    Prefix {
        prefix: b"sk_live_",
        body: alnum,
        min: 16,
        max: 255,
        detector: "secret_stripe_key",
    },
    Prefix {
        prefix: b"xoxb-",
        body: alnum_dash,
        min: 10,
        max: 255,
        detector: "secret_slack_token",
    },
    Prefix {
        prefix: b"xoxa-",
        body: alnum_dash,
        min: 10,
        max: 255,
        detector: "secret_slack_token",
    },
    Prefix {
        prefix: b"xoxp-",
        body: alnum_dash,
        min: 10,
        max: 255,
        detector: "secret_slack_token",
    },
    Prefix {
        prefix: b"xoxr-",
        body: alnum_dash,
        min: 10,
        max: 255,
        detector: "secret_slack_token",
    },
    Prefix {
        prefix: b"xoxs-",
        body: alnum_dash,
        min: 10,
        max: 255,
        detector: "secret_slack_token",
    },
];

/// Names whose assigned values are secrets, matched as a suffix of the (lowercased) name.
const SECRET_NAMES: &[&[u8]] = &[
    b"key",
    b"token",
    b"secret",
    b"password",
    b"passwd",
    b"pwd",
    b"credential",
    b"credentials",
    b"apikey",
    b"auth",
];

/// Least Shannon entropy (bits per byte) and length of an assigned value to report.
const MIN_ENTROPY: f64 = 3.5;
const MIN_LEN: usize = 20;
const MAX_LEN: usize = 512;

/// Secrets, in three ways ([`prefixed`], [`private_keys`], [`assigned`]):
///
/// * known prefixes followed by the right bytes, not glued to letters or digits: AWS access
///   key ids `AKIA` + 16 capitals/digits, GitHub `ghp_`/`gho_`/`ghu_`/`ghs_` + 30 or more
///   letters/digits and `github_pat_`, Stripe `sk_live_`, Slack `xox[baprs]-`. Confidence 0.95.
/// * PEM private keys, `-----BEGIN … PRIVATE KEY-----` up to the matching `-----END …
///   PRIVATE KEY-----` (or just the header when there is no end). Confidence 1.0.
/// * values assigned to a name ending in key, token, secret, password, … (`api_key=…`,
///   `"token": "…"`, `client_secret: …`) that are at least 20 bytes of letters, digits and
///   `+/_-.~` (with optional `=` padding) and have Shannon entropy of at least 3.5 bits per
///   byte. Confidence 0.75. A bare high-entropy string (a hash) is not a secret.
pub(crate) fn prefixed(t: &[u8], out: &mut Vec<crate::Finding>) {
    // Every prefix starts with `A`, `g`, `x` or `sk`: the scan jumps from one to the next.
    let find = |from: usize, f: &dyn Fn(&[u8]) -> Option<usize>| {
        t.get(from..).and_then(f).map_or(t.len(), |k| from + k)
    };
    let three = |h: &[u8]| memchr::memchr3(b'A', b'g', b'x', h);
    static SK: Needle = Needle::new(|| Finder::new(b"sk"));
    let sk = |h: &[u8]| SK.find(h);
    let (mut next_three, mut next_sk) = (find(0, &three), find(0, &sk));
    let mut i = 0;
    loop {
        if next_three < i {
            next_three = find(i, &three);
        }
        if next_sk < i {
            next_sk = find(i, &sk);
        }
        i = next_three.min(next_sk);
        if i >= t.len() {
            break;
        }
        // Every prefix starts with one of these pairs of bytes: a cheap test before twelve
        // others.
        if !matches!(
            (t[i], at(t, i + 1)),
            (b'A', b'K') | (b'g', b'h' | b'i') | (b's', b'k') | (b'x', b'o')
        ) || alnum_before(t, i)
            || (i > 0 && t[i - 1] == b'_')
        {
            i += 1;
            continue;
        }
        let mut next = i + 1;
        for p in PREFIXES {
            if !starts_with(t, i, p.prefix) {
                continue;
            }
            let bs = i + p.prefix.len();
            let mut e = bs;
            // Read the whole body (even past `max`) and skip it, so overlapping prefixes in a
            // long run are not re-read.
            while (p.body)(at(t, e)) {
                e += 1;
            }
            let n = e - bs;
            if (p.min..=p.max).contains(&n) && !alnum_underscore(at(t, e)) {
                push(out, Kind::Secret, i, e, 0.95, p.detector);
            }
            next = e;
            break;
        }
        i = next.max(i + 1);
    }
}

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
/// How the label of a private key ends: PEM (`RSA PRIVATE KEY`, `OPENSSH PRIVATE KEY`,
/// `ENCRYPTED PRIVATE KEY`…) and OpenPGP's ASCII armour (`PGP PRIVATE KEY BLOCK`).
const KEY_TAILS: [&[u8]; 2] = [b"PRIVATE KEY-----", b"PRIVATE KEY BLOCK-----"];

/// The end of a `…PRIVATE KEY-----` or `…PRIVATE KEY BLOCK-----` label starting at `i`
/// (capitals and spaces, at most 40).
fn label_end(t: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while j - i <= 40 {
        if let Some(tail) = KEY_TAILS.iter().find(|tail| starts_with(t, j, tail)) {
            return Some(j + tail.len());
        }
        let b = at(t, j);
        if !(b.is_ascii_uppercase() || b == b' ') {
            return None;
        }
        j += 1;
    }
    None
}

pub(crate) fn private_keys(t: &[u8], out: &mut Vec<crate::Finding>) {
    // The start of every END marker, found once, so each BEGIN finds its END in log time.
    let ends: Vec<usize> = find_all(t, END);
    let mut i = 0;
    while let Some(off) = t.get(i..).and_then(|rest| find(rest, BEGIN)) {
        let s = i + off;
        let Some(he) = label_end(t, s + BEGIN.len()) else {
            i = s + 1;
            continue;
        };
        let k = ends.partition_point(|&e| e < he);
        let e = ends
            .get(k)
            .and_then(|&es| label_end(t, es + END.len()))
            .unwrap_or(he);
        push(out, Kind::Secret, s, e, 1.0, "secret_private_key");
        i = e;
    }
}

/// Where `needle` (which starts with `-`) starts in `hay`, looking only at the `-` bytes.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(k) = hay.get(i..)?.iter().position(|&b| b == b'-') {
        if starts_with(hay, i + k, needle) {
            return Some(i + k);
        }
        i += k + 1;
    }
    None
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = find(hay.get(i..).unwrap_or(&[]), needle) {
        out.push(i + k);
        i += k + 1;
    }
    out
}

fn value_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/_-.~".contains(&b)
}

fn name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

pub(crate) fn assigned(t: &[u8], out: &mut Vec<crate::Finding>) {
    for op in memchr::memchr2_iter(b'=', b':', t) {
        // Name before the operator: skip spaces and a closing quote.
        let mut n = op;
        while n > 0 && op - n < 4 && matches!(t[n - 1], b' ' | b'"' | b'\'') {
            n -= 1;
        }
        let name_end = n;
        while n > 0 && name_end - n < 64 && name_char(t[n - 1]) {
            n -= 1;
        }
        let name = t.get(n..name_end).unwrap_or(&[]);
        if !SECRET_NAMES
            .iter()
            .any(|s| name.len() >= s.len() && name[name.len() - s.len()..].eq_ignore_ascii_case(s))
        {
            continue;
        }
        // Value after the operator: skip `=` of `=>`/`==`, spaces and an opening quote.
        let mut v = op + 1;
        while v < t.len() && v - op < 5 && matches!(t[v], b' ' | b'"' | b'\'' | b'>') {
            v += 1;
        }
        let mut e = v;
        while e < t.len() && e - v < MAX_LEN && value_char(t[e]) {
            e += 1;
        }
        let mut pad = 0;
        while pad < 2 && at(t, e) == b'=' {
            e += 1;
            pad += 1;
        }
        let val = t.get(v..e).unwrap_or(&[]);
        if val.len() >= MIN_LEN && entropy(val) >= MIN_ENTROPY && !value_char(at(t, e)) {
            push(out, Kind::Secret, v, e, 0.75, "secret_assignment");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{PREFIXES, prefixed};

    /// Every known prefix is found after bytes its first-byte jump stops at (`g`, `A`, `x`,
    /// `sk`) that start nothing, at its shortest and its longest; one byte short is not.
    #[test]
    fn every_prefix_is_found_past_near_misses() {
        for p in PREFIXES {
            for n in [p.min, p.max] {
                let body: String = (0..n).map(|k| if k % 2 == 0 { 'A' } else { '7' }).collect();
                let secret = format!("{}{body}", String::from_utf8_lossy(p.prefix));
                let text = format!("gig sk Ax xo gh_ {secret} end");
                let mut out = Vec::new();
                prefixed(text.as_bytes(), &mut out);
                let found: Vec<&str> = out.iter().map(|f| &text[f.start..f.end]).collect();
                assert_eq!(found, [secret.as_str()], "{}", p.detector);
            }
            let short: String = "A".repeat(p.min - 1);
            let text = format!("{}{short}", String::from_utf8_lossy(p.prefix));
            let mut out = Vec::new();
            prefixed(text.as_bytes(), &mut out);
            assert!(out.is_empty(), "{text}");
        }
    }
}
