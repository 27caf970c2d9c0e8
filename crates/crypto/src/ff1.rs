//! Format-preserving encryption with NIST FF1 (SP 800-38G), for tokens that keep a value's
//! shape (digits stay digits, the length stays the same). FF3-1 is deliberately not offered:
//! NIST's 2025 draft revision withdraws it.

use aes::{Aes128, Aes192, Aes256};
use fpe::ff1::{FF1, FlexibleNumeralString};

use crate::vault::Key256;

/// The smallest domain allowed: radix^length must reach one million (SP 800-38G Rev. 1).
pub const MIN_DOMAIN: f64 = 1_000_000.0;

/// Why FF1 refused an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ff1Error {
    /// The radix is outside 2..=65536.
    #[error("the radix must be between 2 and 65536")]
    Radix,
    /// A numeral is not below the radix.
    #[error("a numeral is not valid for the radix")]
    Numeral,
    /// radix^length is below one million.
    #[error("the value is too short for format-preserving encryption (radix^length < 1,000,000)")]
    DomainTooSmall,
    /// The key is not 16, 24 or 32 bytes.
    #[error("the key must be 16, 24 or 32 bytes")]
    Key,
}

fn check(radix: u32, numerals: &[u16]) -> Result<(), Ff1Error> {
    if !(2..=65536).contains(&radix) {
        return Err(Ff1Error::Radix);
    }
    if numerals.iter().any(|&n| u32::from(n) >= radix) {
        return Err(Ff1Error::Numeral);
    }
    if (radix as f64).powi(numerals.len() as i32) < MIN_DOMAIN {
        return Err(Ff1Error::DomainTooSmall);
    }
    Ok(())
}

fn run(
    key: &[u8],
    radix: u32,
    tweak: &[u8],
    numerals: &[u16],
    encrypt: bool,
) -> Result<Vec<u16>, Ff1Error> {
    let ns = FlexibleNumeralString::from(numerals.to_vec());
    macro_rules! with {
        ($aes:ty) => {{
            let f = FF1::<$aes>::new(key, radix).map_err(|_| Ff1Error::Radix)?;
            let out = if encrypt {
                f.encrypt(tweak, &ns)
            } else {
                f.decrypt(tweak, &ns)
            };
            out.map(Vec::from).map_err(|_| Ff1Error::Numeral)
        }};
    }
    // INVARIANT: FF1::new panics on a wrong key length; the match admits only valid ones.
    match key.len() {
        16 => with!(Aes128),
        24 => with!(Aes192),
        32 => with!(Aes256),
        _ => Err(Ff1Error::Key),
    }
}

/// Encrypts numerals of `radix` under an AES key of 16, 24 or 32 bytes.
pub fn encrypt_raw(
    key: &[u8],
    radix: u32,
    tweak: &[u8],
    numerals: &[u16],
) -> Result<Vec<u16>, Ff1Error> {
    check(radix, numerals)?;
    run(key, radix, tweak, numerals, true)
}

/// Decrypts what [`encrypt_raw`] produced.
pub fn decrypt_raw(
    key: &[u8],
    radix: u32,
    tweak: &[u8],
    numerals: &[u16],
) -> Result<Vec<u16>, Ff1Error> {
    check(radix, numerals)?;
    run(key, radix, tweak, numerals, false)
}

fn digits(s: &str) -> Result<Vec<u16>, Ff1Error> {
    s.bytes()
        .map(|b| {
            if b.is_ascii_digit() {
                Ok(u16::from(b - b'0'))
            } else {
                Err(Ff1Error::Numeral)
            }
        })
        .collect()
}

fn text(ns: &[u16]) -> String {
    ns.iter().map(|&d| char::from(b'0' + d as u8)).collect()
}

/// Encrypts a string of decimal digits with AES-256 FF1: the result has the same length.
pub fn encrypt_digits(key: &Key256, tweak: &[u8], value: &str) -> Result<String, Ff1Error> {
    encrypt_raw(key.expose(), 10, tweak, &digits(value)?).map(|ns| text(&ns))
}

/// Decrypts what [`encrypt_digits`] produced.
pub fn decrypt_digits(key: &Key256, tweak: &[u8], token: &str) -> Result<String, Ff1Error> {
    decrypt_raw(key.expose(), 10, tweak, &digits(token)?).map(|ns| text(&ns))
}

#[cfg(test)]
mod tests {
    //! The nine FF1 samples of NIST SP 800-38G (csrc.nist.gov, "FF1samples.pdf"),
    //! transcribed from ../shared/vectors/ff1-nist.json. Radix-36 digits are 0-9 then a-z.
    use super::*;

    const SAMPLES: [(&str, u32, &str, &str, &str); 9] = [
        (
            "2B7E151628AED2A6ABF7158809CF4F3C",
            10,
            "",
            "0123456789",
            "2433477484",
        ),
        (
            "2B7E151628AED2A6ABF7158809CF4F3C",
            10,
            "39383736353433323130",
            "0123456789",
            "6124200773",
        ),
        (
            "2B7E151628AED2A6ABF7158809CF4F3C",
            36,
            "3737373770717273373737",
            "0123456789abcdefghi",
            "a9tv40mll9kdu509eum",
        ),
        (
            "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F",
            10,
            "",
            "0123456789",
            "2830668132",
        ),
        (
            "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F",
            10,
            "39383736353433323130",
            "0123456789",
            "2496655549",
        ),
        (
            "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F",
            36,
            "3737373770717273373737",
            "0123456789abcdefghi",
            "xbj3kv35jrawxv32ysr",
        ),
        (
            "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94",
            10,
            "",
            "0123456789",
            "6657667009",
        ),
        (
            "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94",
            10,
            "39383736353433323130",
            "0123456789",
            "1001623463",
        ),
        (
            "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94",
            36,
            "3737373770717273373737",
            "0123456789abcdefghi",
            "xs8a0azh2avyalyzuwd",
        ),
    ];

    fn numerals(s: &str) -> Vec<u16> {
        s.chars()
            .map(|c| c.to_digit(36).map_or(u16::MAX, |d| d as u16))
            .collect()
    }

    fn render(ns: &[u16]) -> String {
        ns.iter()
            .map(|&d| char::from_digit(u32::from(d), 36).unwrap_or('?'))
            .collect()
    }

    #[test]
    fn nist_samples() {
        for (i, (key, radix, tweak, pt, ct)) in SAMPLES.iter().enumerate() {
            let key = hex::decode(key).expect("key");
            let tweak = hex::decode(tweak).expect("tweak");
            let got = encrypt_raw(&key, *radix, &tweak, &numerals(pt)).expect("encrypt");
            assert_eq!(render(&got), *ct, "sample {}", i + 1);
            let back = decrypt_raw(&key, *radix, &tweak, &got).expect("decrypt");
            assert_eq!(render(&back), *pt, "sample {} decrypt", i + 1);
        }
    }

    #[test]
    fn digit_tokens_keep_their_shape_and_round_trip() {
        let key = Key256::from_bytes(&[3u8; 32]).expect("key");
        let card = "4111111111111111";
        let t = encrypt_digits(&key, b"customers.card", card).expect("encrypt");
        assert_eq!(t.len(), card.len());
        assert!(t.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(t, card);
        assert_eq!(
            decrypt_digits(&key, b"customers.card", &t).expect("decrypt"),
            card
        );
        assert_ne!(
            encrypt_digits(&key, b"other.scope", card).expect("encrypt"),
            t,
            "the tweak scopes tokens"
        );
    }

    #[test]
    fn refuses_small_domains_bad_numerals_and_bad_keys() {
        let key = Key256::from_bytes(&[3u8; 32]).expect("key");
        assert_eq!(
            encrypt_digits(&key, b"", "12345"),
            Err(Ff1Error::DomainTooSmall)
        );
        assert!(encrypt_digits(&key, b"", "123456").is_ok());
        assert_eq!(encrypt_digits(&key, b"", "12345x7"), Err(Ff1Error::Numeral));
        assert_eq!(
            encrypt_raw(&[0u8; 20], 10, b"", &[1; 10]),
            Err(Ff1Error::Key)
        );
        assert_eq!(
            encrypt_raw(&[0u8; 16], 1, b"", &[0; 30]),
            Err(Ff1Error::Radix)
        );
        assert_eq!(
            encrypt_raw(&[0u8; 16], 10, b"", &[10; 10]),
            Err(Ff1Error::Numeral)
        );
    }
}
