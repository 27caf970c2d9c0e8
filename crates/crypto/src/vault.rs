//! The vault's cryptography: per-subject data keys, cell encryption bound to its place, the
//! local key-encryption key, and keyed blind indexes.
//!
//! - A cell is sealed with AES-256-GCM-SIV under the subject's data key (DEK), with a random
//!   nonce and associated data that names its collection, record, field and key version; a
//!   ciphertext moved to any other cell fails to open. Layout: `0x01 || nonce(12) || ct || tag`.
//! - A DEK is wrapped by the key-encryption key (KEK) with AES-256-GCM-SIV and associated data
//!   naming the subject, so a wrapped key cannot be moved to another subject either.
//! - A blind index is HMAC-SHA-256 over the normalised value under a per-field key derived by
//!   HKDF-SHA-256 from the index root key, truncated to 16 bytes. It leaks equality of values
//!   within one field (which is what makes search work) and nothing across fields.

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::{hkdf, hmac};
use zeroize::Zeroizing;

use crate::random::{self, RandomError};

const CELL_VERSION: u8 = 1;
const CELL_TAG: &[u8] = b"custodian-cell-v1";
const WRAP_TAG: &[u8] = b"custodian-dek-wrap-v1";
const INDEX_INFO: &[u8] = b"custodian-blind-index-v1";
/// Bytes of a blind index.
pub const INDEX_LEN: usize = 16;

/// A cryptographic operation failed: a wrong key, a moved or altered ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VaultCryptoError {
    /// The ciphertext does not open with this key and place.
    #[error("the ciphertext does not open")]
    Open,
    /// The key material is malformed.
    #[error("the key is malformed")]
    Key,
    /// Randomness was unavailable.
    #[error("the random number generator failed")]
    Random,
}

impl From<RandomError> for VaultCryptoError {
    fn from(_: RandomError) -> Self {
        VaultCryptoError::Random
    }
}

/// A 256-bit key, wiped from memory when dropped.
#[derive(Clone)]
pub struct Key256(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key256(…)")
    }
}

impl Key256 {
    /// A fresh random key.
    pub fn generate() -> Result<Self, VaultCryptoError> {
        Ok(Self(Zeroizing::new(random::bytes::<32>()?)))
    }

    /// A key from exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VaultCryptoError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| VaultCryptoError::Key)?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// The raw bytes (for wrapping only).
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    fn aead(&self) -> Result<RandomizedNonceKey, VaultCryptoError> {
        RandomizedNonceKey::new(&AES_256_GCM_SIV, self.0.as_slice())
            .map_err(|_| VaultCryptoError::Key)
    }
}

pub use custodian_core::vault::record::CellPlace;

fn length_prefixed(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
        out.extend_from_slice(p);
    }
}

fn cell_aad(place: &CellPlace<'_>) -> Vec<u8> {
    let mut out = CELL_TAG.to_vec();
    length_prefixed(
        &mut out,
        &[
            place.collection.as_bytes(),
            place.record.as_bytes(),
            place.field.as_bytes(),
        ],
    );
    out.extend_from_slice(&place.key_version.to_be_bytes());
    out
}

pub(crate) fn seal_with(
    key: &Key256,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultCryptoError> {
    let mut buf = plaintext.to_vec();
    let nonce = key
        .aead()?
        .seal_in_place_append_tag(Aad::from(aad), &mut buf)
        .map_err(|_| VaultCryptoError::Key)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
    out.push(CELL_VERSION);
    out.extend_from_slice(nonce.as_ref());
    out.extend_from_slice(&buf);
    buf.iter_mut().for_each(|b| *b = 0);
    Ok(out)
}

pub(crate) fn open_with(
    key: &Key256,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultCryptoError> {
    if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != CELL_VERSION {
        return Err(VaultCryptoError::Open);
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
        .map_err(|_| VaultCryptoError::Open)?;
    let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
    let len = key
        .aead()?
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| VaultCryptoError::Open)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Seals a cell's plaintext under the subject's data key, bound to its place.
pub fn seal_cell(
    dek: &Key256,
    place: &CellPlace<'_>,
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultCryptoError> {
    seal_with(dek, &cell_aad(place), plaintext)
}

/// Opens a cell sealed by [`seal_cell`] at the same place with the same key.
pub fn open_cell(
    dek: &Key256,
    place: &CellPlace<'_>,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultCryptoError> {
    open_with(dek, &cell_aad(place), sealed)
}

fn wrap_aad(subject: &str) -> Vec<u8> {
    let mut out = WRAP_TAG.to_vec();
    length_prefixed(&mut out, &[subject.as_bytes()]);
    out
}

/// Wraps a subject's data key under the key-encryption key.
pub fn wrap_dek(kek: &Key256, subject: &str, dek: &Key256) -> Result<Vec<u8>, VaultCryptoError> {
    seal_with(kek, &wrap_aad(subject), dek.expose())
}

/// Unwraps a data key wrapped by [`wrap_dek`] for the same subject.
pub fn unwrap_dek(kek: &Key256, subject: &str, wrapped: &[u8]) -> Result<Key256, VaultCryptoError> {
    let raw = open_with(kek, &wrap_aad(subject), wrapped)?;
    Key256::from_bytes(&raw)
}

/// Computes blind indexes with per-field keys derived from one root key.
pub struct BlindIndexer {
    prk: hkdf::Prk,
}

impl BlindIndexer {
    /// An indexer over the index root key.
    pub fn new(root: &Key256) -> Self {
        Self {
            prk: hkdf::Salt::new(hkdf::HKDF_SHA256, INDEX_INFO).extract(root.expose()),
        }
    }

    fn field_key(&self, collection: &str, field: &str) -> Result<hmac::Key, VaultCryptoError> {
        let mut info = Vec::new();
        length_prefixed(&mut info, &[collection.as_bytes(), field.as_bytes()]);
        let parts = [INDEX_INFO, info.as_slice()];
        let okm = self
            .prk
            .expand(&parts, hmac::HMAC_SHA256)
            .map_err(|_| VaultCryptoError::Key)?;
        Ok(hmac::Key::from(okm))
    }

    /// The blind index of a normalised value in one field.
    pub fn index(
        &self,
        collection: &str,
        field: &str,
        normalized: &str,
    ) -> Result<[u8; INDEX_LEN], VaultCryptoError> {
        let tag = hmac::sign(&self.field_key(collection, field)?, normalized.as_bytes());
        let mut out = [0u8; INDEX_LEN];
        out.copy_from_slice(&tag.as_ref()[..INDEX_LEN]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place<'a>(record: &'a str, field: &'a str) -> CellPlace<'a> {
        CellPlace {
            collection: "customers",
            record,
            field,
            key_version: 1,
        }
    }

    #[test]
    fn cells_open_only_in_their_place_with_their_key() {
        let dek = Key256::generate().expect("key");
        let sealed = seal_cell(&dek, &place("r1", "email"), b"jane@example.com").expect("seal");
        assert!(
            !sealed.windows(4).any(|w| w == b"jane"),
            "plaintext visible in the ciphertext"
        );
        assert_eq!(
            open_cell(&dek, &place("r1", "email"), &sealed)
                .expect("open")
                .as_slice(),
            b"jane@example.com"
        );
        let moved = [
            place("r2", "email"),
            place("r1", "phone"),
            CellPlace {
                collection: "leads",
                ..place("r1", "email")
            },
            CellPlace {
                key_version: 2,
                ..place("r1", "email")
            },
        ];
        for p in moved {
            assert_eq!(
                open_cell(&dek, &p, &sealed),
                Err(VaultCryptoError::Open),
                "{p:?}"
            );
        }
        let other = Key256::generate().expect("key");
        assert_eq!(
            open_cell(&other, &place("r1", "email"), &sealed),
            Err(VaultCryptoError::Open)
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            open_cell(&dek, &place("r1", "email"), &flipped),
            Err(VaultCryptoError::Open)
        );
        assert_eq!(
            open_cell(&dek, &place("r1", "email"), &sealed[..10]),
            Err(VaultCryptoError::Open)
        );
        // Random nonces: the same value sealed twice differs.
        assert_ne!(
            sealed,
            seal_cell(&dek, &place("r1", "email"), b"jane@example.com").expect("seal")
        );
    }

    #[test]
    fn place_encoding_has_no_ambiguous_boundaries() {
        let a = CellPlace {
            collection: "ab",
            record: "c",
            field: "f",
            key_version: 1,
        };
        let b = CellPlace {
            collection: "a",
            record: "bc",
            field: "f",
            key_version: 1,
        };
        assert_ne!(cell_aad(&a), cell_aad(&b));
    }

    #[test]
    fn wrapped_keys_unwrap_only_for_their_subject() {
        let kek = Key256::generate().expect("kek");
        let dek = Key256::generate().expect("dek");
        let wrapped = wrap_dek(&kek, "subject-1", &dek).expect("wrap");
        assert_eq!(
            unwrap_dek(&kek, "subject-1", &wrapped)
                .expect("unwrap")
                .expose(),
            dek.expose()
        );
        assert!(unwrap_dek(&kek, "subject-2", &wrapped).is_err());
        assert!(unwrap_dek(&Key256::generate().expect("k"), "subject-1", &wrapped).is_err());
    }

    #[test]
    fn blind_indexes_are_stable_per_field_and_differ_across_fields_and_keys() {
        let root = Key256::from_bytes(&[7u8; 32]).expect("root");
        let ix = BlindIndexer::new(&root);
        let a = ix
            .index("customers", "email", "jane@example.com")
            .expect("ix");
        assert_eq!(
            a,
            ix.index("customers", "email", "jane@example.com")
                .expect("ix")
        );
        assert_ne!(
            a,
            ix.index("customers", "email", "john@example.com")
                .expect("ix")
        );
        assert_ne!(
            a,
            ix.index("customers", "backup_email", "jane@example.com")
                .expect("ix")
        );
        assert_ne!(
            a,
            ix.index("leads", "email", "jane@example.com").expect("ix")
        );
        let other = BlindIndexer::new(&Key256::from_bytes(&[8u8; 32]).expect("root"));
        assert_ne!(
            a,
            other
                .index("customers", "email", "jane@example.com")
                .expect("ix")
        );
        // Field boundaries in the derivation are unambiguous.
        assert_ne!(
            ix.index("ab", "c", "v").expect("ix"),
            ix.index("a", "bc", "v").expect("ix")
        );
    }
}
