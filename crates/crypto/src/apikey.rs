//! API keys: 256 random bits, shown once, stored as SHA-256.
//!
//! A key looks like `cst_` followed by 43 base64url characters. Because keys are random and
//! long, a plain SHA-256 is the right storage hash (no password-stretching needed), and a
//! lookup by hash leaks nothing about other keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::random::{self, RandomError};

/// Every key starts with this.
pub const KEY_PREFIX: &str = "cst_";
const SECRET_LEN: usize = 32;
/// How many leading characters of a key are kept to tell keys apart.
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// A freshly generated key: the secret (to show once) and what is stored.
pub struct NewKey {
    /// The whole key, to hand to the operator once.
    pub secret: Zeroizing<String>,
    /// SHA-256 of the key, hex.
    pub hash: String,
    /// The first characters, for display.
    pub prefix: String,
}

/// Generates a key.
pub fn generate() -> Result<NewKey, RandomError> {
    let raw = Zeroizing::new(random::bytes::<SECRET_LEN>()?);
    let secret = Zeroizing::new(format!(
        "{KEY_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(raw.as_slice())
    ));
    Ok(NewKey {
        hash: hash(&secret),
        prefix: secret[..DISPLAY_PREFIX_LEN].to_owned(),
        secret,
    })
}

/// Whether a presented string has the shape of a key (checked before any lookup).
pub fn well_formed(key: &str) -> bool {
    key.len() == KEY_PREFIX.len() + 43
        && key.starts_with(KEY_PREFIX)
        && key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The stored hash of a key: SHA-256, hex.
pub fn hash(key: &str) -> String {
    hex::encode(crate::sha256(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_distinct_and_hash_stably() {
        let a = generate().expect("rng");
        let b = generate().expect("rng");
        assert!(well_formed(&a.secret));
        assert_ne!(*a.secret, *b.secret);
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 64);
        assert!(a.secret.starts_with(&a.prefix));
    }

    #[test]
    fn malformed_keys_are_recognised() {
        assert!(!well_formed(""));
        assert!(!well_formed("cst_short"));
        assert!(!well_formed(&format!("xxx_{}", "a".repeat(43))));
        assert!(!well_formed(&format!("cst_{}", "a".repeat(42) + "!")));
        assert!(well_formed(&format!("cst_{}", "a".repeat(43))));
    }
}
