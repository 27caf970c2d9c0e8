//! Console passwords: Argon2id (RFC 9106) with the argon2 crate's defaults, which are OWASP's
//! recommended minimum (19 MiB of memory, two passes, one lane), stored as PHC strings.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::random;

/// Hashing failed (the system random generator, or parameters out of range).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password` under a fresh
/// 128-bit salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt_bytes = random::bytes::<16>().map_err(|_| HashError)?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|_| HashError)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// Whether `password` matches the PHC string `phc`; a malformed string matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification and answers false, so a login name that does not
/// exist takes as long to refuse as a wrong password.
pub fn verify_nothing(password: &str) -> bool {
    // The hash of a random string no one knows, made once.
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        let secret = random::bytes::<16>().ok()?;
        hash(&hex::encode(secret)).ok()
    });
    if let Some(d) = dummy {
        let _ = verify(password, d);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery staple").expect("hash");
        let b = hash("correct horse battery staple").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapl", &a));
        assert!(!verify("correct horse battery staple", "not a phc string"));
        assert!(!verify_nothing("anything"));
    }

    /// Known answers from the reference implementation (the `argon2` command of the P-H-C
    /// repository, as Debian packages it): password "password", salt "somesalt", 32-byte
    /// output, `-id -t 2 -p 1` with `-m 16` and with `-k 19456` (the parameters used here).
    #[test]
    fn reference_phc_strings_verify() {
        for phc in [
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$PL01amPyeUuxG7H0vIr5X+qHkZvWnHmGBGXFYvh8z2E",
        ] {
            assert!(verify("password", phc));
            assert!(!verify("Password", phc));
        }
    }
}
