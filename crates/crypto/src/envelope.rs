//! The core's [`VaultCrypto`] port, implemented: envelope encryption through a
//! [`KeyProvider`], and the keyed functions derived from the vault's root secret.
//!
//! The root secret (`vault.key` in the data directory, 32 bytes) is the root of every keyed
//! function that must give the same answer on every node and after a restore; from it HKDF-SHA-256
//! derives, each under its own label:
//! - the blind-index keys, one per field ([`BlindIndexer`]);
//! - the subject-pseudonym key (audit events and the erasure ledger name subjects by
//!   `sp_` + 16 bytes of HMAC-SHA-256, hex);
//! - the deterministic-token key (`dtk_` + 16 bytes of HMAC-SHA-256 over scope and value,
//!   base64url);
//! - one FF1 key per scope (collection and field).
//!
//! Random tokens are `tok_` + 16 random bytes, base64url.

use std::sync::Arc;

use aws_lc_rs::{hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use custodian_core::vault::record::{CellPlace, SubjectKey};
use custodian_core::vault::service::{CryptoFailure, DataKey, NewDataKey, VaultCrypto};
use zeroize::Zeroizing;

use crate::ff1;
use crate::keys::{KeyError, KeyProvider};
use crate::random;
use crate::vault::{BlindIndexer, Key256, open_cell, seal_cell};

const ROOT_SALT: &[u8] = b"custodian-vault-root-v1";

/// A subject's unwrapped data key.
struct Dek(Key256);

impl DataKey for Dek {
    fn seal(&self, place: &CellPlace<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoFailure> {
        seal_cell(&self.0, place, plaintext).map_err(|_| CryptoFailure("a value cannot be sealed"))
    }

    fn open(
        &self,
        place: &CellPlace<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoFailure> {
        open_cell(&self.0, place, sealed).map_err(|_| {
            CryptoFailure("a sealed value does not open (altered, moved, or wrong key)")
        })
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// The vault's cryptography over a key provider and the root secret.
pub struct EnvelopeCrypto {
    provider: Arc<dyn KeyProvider>,
    indexer: BlindIndexer,
    pseudonyms: hmac::Key,
    tokens: hmac::Key,
    prk: hkdf::Prk,
}

impl std::fmt::Debug for EnvelopeCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeCrypto")
            .field("kek_id", &self.provider.current_kek_id().ok())
            .finish_non_exhaustive()
    }
}

fn derive(prk: &hkdf::Prk, label: &[u8], context: &[u8]) -> Result<Key256, CryptoFailure> {
    let info = [label, context];
    let okm = prk
        .expand(&info, Len(32))
        .map_err(|_| CryptoFailure("key derivation failed"))?;
    let mut out = Zeroizing::new([0u8; 32]);
    okm.fill(out.as_mut_slice())
        .map_err(|_| CryptoFailure("key derivation failed"))?;
    Key256::from_bytes(out.as_slice()).map_err(|_| CryptoFailure("key derivation failed"))
}

impl EnvelopeCrypto {
    /// The vault's cryptography: data keys wrapped by `provider`, keyed functions from `root`.
    pub fn new(provider: Arc<dyn KeyProvider>, root: &Key256) -> Result<Self, CryptoFailure> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, ROOT_SALT).extract(root.expose());
        let pseudonyms = derive(&prk, b"subject-pseudonym", b"")?;
        let tokens = derive(&prk, b"deterministic-token", b"")?;
        let index_root = derive(&prk, b"blind-index-root", b"")?;
        Ok(Self {
            provider,
            indexer: BlindIndexer::new(&index_root),
            pseudonyms: hmac::Key::new(hmac::HMAC_SHA256, pseudonyms.expose()),
            tokens: hmac::Key::new(hmac::HMAC_SHA256, tokens.expose()),
            prk,
        })
    }
}

fn key_failure(e: &KeyError) -> CryptoFailure {
    match e {
        KeyError::UnknownKek(_) => {
            CryptoFailure("the data key was wrapped by a key-encryption key this server lacks")
        }
        KeyError::Unwrap => CryptoFailure("a wrapped data key does not open"),
        KeyError::Unavailable(_) => CryptoFailure("the key-encryption key is unavailable"),
        KeyError::Wrap => CryptoFailure("a data key cannot be wrapped"),
    }
}

impl VaultCrypto for EnvelopeCrypto {
    fn new_data_key(&self, subject_id: &str) -> Result<NewDataKey, CryptoFailure> {
        let dek = Key256::generate().map_err(|_| CryptoFailure("randomness failed"))?;
        let w = self
            .provider
            .wrap(subject_id, &dek)
            .map_err(|e| key_failure(&e))?;
        Ok(NewDataKey {
            key: Box::new(Dek(dek)),
            kek_id: w.kek_id,
            wrapped: w.bytes,
        })
    }

    fn system_key(&self, label: &str) -> Result<Box<dyn DataKey>, CryptoFailure> {
        Ok(Box::new(Dek(derive(
            &self.prk,
            b"system-key",
            label.as_bytes(),
        )?)))
    }

    fn data_key(&self, key: &SubjectKey) -> Result<Box<dyn DataKey>, CryptoFailure> {
        let dek = self
            .provider
            .unwrap(&key.kek_id, &key.subject_id, &key.wrapped_dek)
            .map_err(|e| key_failure(&e))?;
        Ok(Box::new(Dek(dek)))
    }

    fn blind_index(
        &self,
        collection: &str,
        field: &str,
        normalized: &str,
    ) -> Result<Vec<u8>, CryptoFailure> {
        self.indexer
            .index(collection, field, normalized)
            .map(|i| i.to_vec())
            .map_err(|_| CryptoFailure("blind index failed"))
    }

    fn pseudonym(&self, subject_id: &str) -> String {
        let tag = hmac::sign(&self.pseudonyms, subject_id.as_bytes());
        format!("sp_{}", hex::encode(&tag.as_ref()[..16]))
    }

    fn random_token(&self) -> Result<String, CryptoFailure> {
        let b = random::bytes::<16>().map_err(|_| CryptoFailure("randomness failed"))?;
        Ok(format!("tok_{}", URL_SAFE_NO_PAD.encode(b)))
    }

    fn deterministic_token(&self, scope: &str, normalized: &str) -> Result<String, CryptoFailure> {
        let mut ctx = hmac::Context::with_key(&self.tokens);
        ctx.update(&(scope.len() as u32).to_be_bytes());
        ctx.update(scope.as_bytes());
        ctx.update(normalized.as_bytes());
        let tag = ctx.sign();
        Ok(format!(
            "dtk_{}",
            URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16])
        ))
    }

    fn ff1_digits(&self, scope: &str, digits: &str) -> Result<String, CryptoFailure> {
        let key = derive(&self.prk, b"ff1", scope.as_bytes())?;
        ff1::encrypt_digits(&key, b"", digits).map_err(|e| match e {
            ff1::Ff1Error::DomainTooSmall => CryptoFailure(
                "format-preserving token: too few digits (FF1 needs at least a million possible values)",
            ),
            _ => CryptoFailure("format-preserving token: not a digit string"),
        })
    }
}

#[cfg(test)]
mod tests {
    use custodian_core::vault::service::format_preserving;
    use custodian_core::vault::value::{FieldType, luhn_valid};

    use super::*;
    use crate::keys::FileKeyProvider;

    fn crypto(root: u8) -> EnvelopeCrypto {
        let kek = Key256::from_bytes(&[9u8; 32]).expect("kek");
        let root = Key256::from_bytes(&[root; 32]).expect("root");
        EnvelopeCrypto::new(Arc::new(FileKeyProvider::from_key(kek)), &root).expect("crypto")
    }

    #[test]
    fn data_keys_round_trip_through_the_provider() {
        let c = crypto(1);
        let NewDataKey {
            key: dek,
            kek_id,
            wrapped,
        } = c.new_data_key("cus_1").expect("new");
        let place = CellPlace {
            collection: "customers",
            record: "r1",
            field: "email",
            key_version: 1,
        };
        let sealed = dek.seal(&place, b"jane@example.com").expect("seal");
        let stored = SubjectKey {
            subject_id: "cus_1".into(),
            key_version: 1,
            kek_id,
            wrapped_dek: wrapped.clone(),
            created_at: custodian_core::Timestamp::UNIX_EPOCH,
        };
        let again = c.data_key(&stored).expect("unwrap");
        assert_eq!(
            again.open(&place, &sealed).expect("open").as_slice(),
            b"jane@example.com"
        );
        let moved = SubjectKey {
            subject_id: "cus_2".into(),
            ..stored
        };
        assert!(
            c.data_key(&moved).is_err(),
            "a wrapped key is bound to its subject"
        );
    }

    #[test]
    fn keyed_functions_are_stable_and_separated() {
        let (a, b) = (crypto(1), crypto(2));
        assert_eq!(a.pseudonym("cus_1"), a.pseudonym("cus_1"));
        assert_ne!(a.pseudonym("cus_1"), b.pseudonym("cus_1"));
        assert!(a.pseudonym("cus_1").starts_with("sp_"));
        assert_eq!(a.pseudonym("cus_1").len(), 35);
        let t = a.deterministic_token("c.f", "x").expect("t");
        assert_eq!(t, a.deterministic_token("c.f", "x").expect("t"));
        assert_ne!(t, a.deterministic_token("c.g", "x").expect("t"));
        assert_ne!(t, b.deterministic_token("c.f", "x").expect("t"));
        assert_ne!(a.random_token().expect("r"), a.random_token().expect("r"));
        assert_ne!(
            a.blind_index("c", "f", "x").expect("i"),
            a.blind_index("c", "g", "x").expect("i")
        );
    }

    #[test]
    fn format_preserving_tokens_keep_shape_last_four_and_luhn() {
        let c = crypto(1);
        let card = "4111111111111111";
        let t = format_preserving(&c, "customers.card", FieldType::CardNumber, card).expect("t");
        assert_eq!(t.len(), 16);
        assert!(t.ends_with("1111"));
        assert!(luhn_valid(&t));
        assert_ne!(t, card);
        assert_eq!(
            t,
            format_preserving(&c, "customers.card", FieldType::CardNumber, card).expect("t"),
            "deterministic within a scope"
        );
        let ssn = FieldType::NationalId(custodian_core::vault::value::NationalIdScheme::UsSsn);
        let s = format_preserving(&c, "customers.ssn", ssn, "123-45-6789").expect("s");
        assert_eq!(s.len(), 11);
        assert_eq!(&s[3..4], "-");
        assert_eq!(&s[6..7], "-");
        let p =
            format_preserving(&c, "customers.phone", FieldType::Phone, "+442079460958").expect("p");
        assert!(p.starts_with('+') && p.len() == 13);
    }
}
