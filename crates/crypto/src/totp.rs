//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), as authenticator apps
//! compute them: HMAC-SHA-1, 30-second steps, six digits; and RFC 4648 base32, the form the
//! secret is shown in (and put in the `otpauth://` URI).
//!
//! HMAC-SHA-1 is what every authenticator app speaks for TOTP; its use here is as a PRF,
//! where SHA-1's collision weakness does not apply (RFC 4226 Appendix A.2).

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

/// The length of a step in seconds.
pub const STEP_SECONDS: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// The length of a generated secret in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// The HOTP value of `secret` at `counter` with `digits` digits (RFC 4226 §5.3).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let code = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    code % 10u32.pow(digits)
}

/// The step a Unix time (seconds) falls in; none before 1970.
pub fn step_at(unix_seconds: i64) -> Option<u64> {
    u64::try_from(unix_seconds.checked_div(STEP_SECONDS)?).ok()
}

/// The six-digit code of `secret` for `step`, zero-padded.
pub fn code(secret: &[u8], step: u64) -> String {
    format!("{:06}", hotp(secret, step, DIGITS))
}

/// Checks `presented` against the codes of the step at `unix_seconds` and one step either side
/// (clock drift), never accepting a step at or before `last_used` (a code is good once). Returns
/// the step that matched. Comparison is in constant time.
pub fn verify(
    secret: &[u8],
    presented: &str,
    unix_seconds: i64,
    last_used: Option<u64>,
) -> Option<u64> {
    let presented = presented.trim();
    if presented.len() != DIGITS as usize || !presented.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds)?;
    let mut found = None;
    for step in [now.checked_sub(1), Some(now), now.checked_add(1)]
        .into_iter()
        .flatten()
    {
        let candidate = code(secret, step);
        let same: bool = candidate.as_bytes().ct_eq(presented.as_bytes()).into();
        if same && last_used.is_none_or(|l| step > l) {
            found = Some(step);
        }
    }
    found
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (how authenticator apps take secrets).
pub fn base32(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes [`base32`] (case-insensitive, padding and spaces ignored); none when malformed.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in text.bytes().filter(|c| *c != b'=' && *c != b' ') {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// The `otpauth://totp/` URI an authenticator app reads (from a QR code): the issuer and the
/// account label percent-encoded, the secret in base32, the algorithm, digits and period.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::new();
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, the SHA-1 rows (8 digits; seed "12345678901234567890").
    #[test]
    fn rfc6238_sha1_vectors() {
        let seed = b"12345678901234567890";
        let rows: [(i64, u32); 6] = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (t, want) in rows {
            let step = step_at(t).expect("step");
            assert_eq!(hotp(seed, step, 8), want, "T = {t}");
        }
    }

    /// RFC 4226 Appendix D: HOTP values for counters 0 to 9 (six digits).
    #[test]
    fn rfc4226_vectors() {
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, w) in want.into_iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64, 6), w);
        }
    }

    /// RFC 4648 §10 base32 vectors (without padding).
    #[test]
    fn rfc4648_base32_vectors() {
        let rows = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in rows {
            assert_eq!(base32(plain.as_bytes()), encoded);
            assert_eq!(base32_decode(encoded).as_deref(), Some(plain.as_bytes()));
            assert_eq!(
                base32_decode(&format!("{}===", encoded.to_lowercase())).as_deref(),
                Some(plain.as_bytes())
            );
        }
        assert_eq!(base32_decode("MZ1"), None);
    }

    #[test]
    fn codes_are_good_once_and_within_one_step() {
        let secret = b"12345678901234567890";
        let t = 1_111_111_111;
        let now = step_at(t).expect("step");
        let c = code(secret, now);
        assert_eq!(verify(secret, &c, t, None), Some(now));
        assert_eq!(verify(secret, &format!(" {c} "), t, None), Some(now));
        // Replayed: refused.
        assert_eq!(verify(secret, &c, t, Some(now)), None);
        // Drift of one step either way is allowed, two is not.
        assert_eq!(
            verify(secret, &code(secret, now - 1), t, None),
            Some(now - 1)
        );
        assert_eq!(
            verify(secret, &code(secret, now + 1), t, None),
            Some(now + 1)
        );
        assert_eq!(verify(secret, &code(secret, now + 2), t, None), None);
        assert_eq!(verify(secret, &code(secret, now - 2), t, None), None);
        // Malformed codes.
        for bad in ["", "12345", "1234567", "12345a", "١٢٣٤٥٦"] {
            assert_eq!(verify(secret, bad, t, None), None, "{bad:?}");
        }
    }

    #[test]
    fn otpauth_uris_are_encoded() {
        let uri = otpauth_uri("Custodian test", "ana@example", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Custodian%20test:ana%40example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Custodian%20test&algorithm=SHA1&digits=6&period=30"
        );
    }
}
