//! Key providers: where the key-encryption key (KEK) lives. The vault hands a provider a
//! subject's data key to wrap, or a wrapped key to unwrap; the KEK itself never leaves it.
//!
//! [`FileKeyProvider`] keeps the KEK in the data directory's `kek.key` (32 bytes, mode 0600),
//! for development and single-host installations. A PKCS#11 provider (the KEK inside an HSM)
//! implements the same trait.

use std::path::Path;

use crate::keyfile;
use crate::vault::{Key256, VaultCryptoError, unwrap_dek, wrap_dek};

/// Why a provider could not wrap or unwrap.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key material could not be read.
    #[error("the key-encryption key cannot be read: {0}")]
    Unavailable(String),
    /// The wrapped key names a KEK this provider does not hold.
    #[error(
        "the data key was wrapped by key-encryption key {0}, which this provider does not hold"
    )]
    UnknownKek(String),
    /// The wrapped key does not open (altered, or wrapped for another subject).
    #[error("the wrapped data key does not open")]
    Unwrap,
    /// Wrapping failed.
    #[error("the data key could not be wrapped")]
    Wrap,
}

/// Wraps and unwraps subjects' data keys.
pub trait KeyProvider: Send + Sync {
    /// The id of the KEK new wraps use; stored with every wrapped key.
    fn kek_id(&self) -> &str;
    /// Wraps `dek` for `subject`.
    fn wrap(&self, subject: &str, dek: &Key256) -> Result<Vec<u8>, KeyError>;
    /// Unwraps a key that KEK `kek_id` wrapped for `subject`.
    fn unwrap(&self, kek_id: &str, subject: &str, wrapped: &[u8]) -> Result<Key256, KeyError>;
}

/// A KEK held in a local file.
pub struct FileKeyProvider {
    id: String,
    kek: Key256,
}

impl std::fmt::Debug for FileKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyProvider")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The public id of a KEK: a hash prefix that identifies it without revealing it.
fn kek_id_of(kek: &Key256) -> String {
    let mut input = b"custodian-kek-id-v1".to_vec();
    input.extend_from_slice(kek.expose());
    format!("file:{}", hex::encode(&crate::sha256(&input)[..8]))
}

impl FileKeyProvider {
    /// Loads the KEK from `path` (exactly 32 bytes; refused if others can read the file).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes =
            keyfile::read_secret_file(path).map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let kek = Key256::from_bytes(&bytes).map_err(|_| {
            KeyError::Unavailable(format!("{} must hold exactly 32 bytes", path.display()))
        })?;
        Ok(Self::from_key(kek))
    }

    /// A provider over a KEK already in memory.
    pub fn from_key(kek: Key256) -> Self {
        Self {
            id: kek_id_of(&kek),
            kek,
        }
    }
}

impl KeyProvider for FileKeyProvider {
    fn kek_id(&self) -> &str {
        &self.id
    }

    fn wrap(&self, subject: &str, dek: &Key256) -> Result<Vec<u8>, KeyError> {
        wrap_dek(&self.kek, subject, dek).map_err(|_| KeyError::Wrap)
    }

    fn unwrap(&self, kek_id: &str, subject: &str, wrapped: &[u8]) -> Result<Key256, KeyError> {
        if kek_id != self.id {
            return Err(KeyError::UnknownKek(kek_id.to_owned()));
        }
        unwrap_dek(&self.kek, subject, wrapped).map_err(|e| match e {
            VaultCryptoError::Open | VaultCryptoError::Key => KeyError::Unwrap,
            VaultCryptoError::Random => KeyError::Wrap,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_file_provider_wraps_for_one_subject_and_names_its_kek() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("kek.key");
        keyfile::create_secret_file(&path, &[5u8; 32]).expect("write");
        let p = FileKeyProvider::load(&path).expect("load");
        assert!(p.kek_id().starts_with("file:"));
        assert!(
            !p.kek_id().contains("0505"),
            "the id does not reveal the key"
        );
        let dek = Key256::generate().expect("dek");
        let wrapped = p.wrap("subj-1", &dek).expect("wrap");
        assert_eq!(
            p.unwrap(p.kek_id(), "subj-1", &wrapped)
                .expect("unwrap")
                .expose(),
            dek.expose()
        );
        assert!(matches!(
            p.unwrap(p.kek_id(), "subj-2", &wrapped),
            Err(KeyError::Unwrap)
        ));
        assert!(matches!(
            p.unwrap("file:00", "subj-1", &wrapped),
            Err(KeyError::UnknownKek(_))
        ));
        let other = FileKeyProvider::from_key(Key256::from_bytes(&[6u8; 32]).expect("k"));
        assert_ne!(other.kek_id(), p.kek_id());
    }

    #[test]
    fn bad_key_files_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let short = dir.path().join("short.key");
        keyfile::create_secret_file(&short, &[1u8; 31]).expect("write");
        assert!(matches!(
            FileKeyProvider::load(&short),
            Err(KeyError::Unavailable(_))
        ));
        let open = dir.path().join("open.key");
        keyfile::create_secret_file(&open, &[1u8; 32]).expect("write");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            FileKeyProvider::load(&open),
            Err(KeyError::Unavailable(_))
        ));
        assert!(FileKeyProvider::load(&dir.path().join("missing.key")).is_err());
    }
}
