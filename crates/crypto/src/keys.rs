//! Key providers: where the key-encryption key (KEK) lives. The vault hands a provider a
//! subject's data key to wrap, or a wrapped key to unwrap; the KEK itself never leaves it.
//!
//! [`FileKeyProvider`] keeps the KEK in the data directory's `kek.key` (32 bytes, mode 0600),
//! for development and single-host installations. A PKCS#11 provider (the KEK inside an HSM)
//! implements the same trait.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use crate::keyfile;
use crate::vault::{Key256, VaultCryptoError, open_with, seal_with, unwrap_dek, wrap_dek};

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

/// A data key wrapped by a KEK, and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The KEK's id.
    pub kek_id: String,
    /// The wrapped key.
    pub bytes: Vec<u8>,
}

/// Wraps and unwraps subjects' data keys.
pub trait KeyProvider: Send + Sync {
    /// The id of the KEK new wraps use.
    fn current_kek_id(&self) -> Result<String, KeyError>;
    /// Wraps `dek` for `subject` under the current KEK.
    fn wrap(&self, subject: &str, dek: &Key256) -> Result<Wrapped, KeyError>;
    /// Unwraps a key that KEK `kek_id` wrapped for `subject`.
    fn unwrap(&self, kek_id: &str, subject: &str, wrapped: &[u8]) -> Result<Key256, KeyError>;
}

/// The current KEK's file in a keyring directory.
pub const CURRENT_KEK_FILE: &str = "kek.key";
/// Retired KEKs are kept as `kek-retired-<hex id>.key` until no data key needs them.
const RETIRED_PREFIX: &str = "kek-retired-";

/// A key-encryption key held in memory, with its id.
struct FileKek {
    id: String,
    kek: Key256,
}

impl FileKek {
    fn from_key(kek: Key256) -> Self {
        Self {
            id: kek_id_of(&kek),
            kek,
        }
    }
}

/// The public id of a KEK: a hash prefix that identifies it without revealing it.
fn kek_id_of(kek: &Key256) -> String {
    let mut input = b"custodian-kek-id-v1".to_vec();
    input.extend_from_slice(kek.expose());
    format!("file:{}", hex::encode(&crate::sha256(&input)[..8]))
}

/// The header of a passphrase-protected KEK file.
const PROTECTED_MAGIC: &[u8] = b"custodian-kek-pbkdf2-v1\n";
/// PBKDF2-HMAC-SHA256 iterations for a protected KEK file (OWASP's 2023 figure).
const PBKDF2_ITERATIONS: u32 = 600_000;

fn passphrase_key(passphrase: &str, salt: &[u8], iterations: u32) -> Result<Key256, KeyError> {
    let rounds = std::num::NonZeroU32::new(iterations)
        .ok_or_else(|| KeyError::Unavailable("a KEK file has zero PBKDF2 iterations".into()))?;
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    aws_lc_rs::pbkdf2::derive(
        aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        salt,
        passphrase.as_bytes(),
        out.as_mut_slice(),
    );
    Key256::from_bytes(out.as_slice()).map_err(|_| KeyError::Wrap)
}

/// The bytes of a KEK file: the raw 32 bytes, or, with a passphrase, the KEK sealed
/// (AES-256-GCM-SIV) under a key derived from it with PBKDF2-HMAC-SHA256:
/// `magic || salt(16) || iterations(u32 BE) || sealed`.
pub fn encode_kek(kek: &Key256, passphrase: Option<&str>) -> Result<Vec<u8>, KeyError> {
    let Some(p) = passphrase else {
        return Ok(kek.expose().to_vec());
    };
    if p.is_empty() {
        return Err(KeyError::Unavailable("the KEK passphrase is empty".into()));
    }
    let salt = crate::random::bytes::<16>().map_err(|_| KeyError::Wrap)?;
    let key = passphrase_key(p, &salt, PBKDF2_ITERATIONS)?;
    let sealed = seal_with(&key, PROTECTED_MAGIC, kek.expose()).map_err(|_| KeyError::Wrap)?;
    let mut out = PROTECTED_MAGIC.to_vec();
    out.extend_from_slice(&salt);
    out.extend_from_slice(&PBKDF2_ITERATIONS.to_be_bytes());
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn decode_kek(bytes: &[u8], path: &Path, passphrase: Option<&str>) -> Result<Key256, KeyError> {
    let Some(rest) = bytes.strip_prefix(PROTECTED_MAGIC) else {
        return Key256::from_bytes(bytes).map_err(|_| {
            KeyError::Unavailable(format!("{} must hold exactly 32 bytes", path.display()))
        });
    };
    let p = passphrase.ok_or_else(|| {
        KeyError::Unavailable(format!(
            "{} is passphrase-protected: set CUSTODIAN_KEK_PASSPHRASE (or _FILE)",
            path.display()
        ))
    })?;
    if rest.len() < 20 {
        return Err(KeyError::Unavailable(format!(
            "{} is truncated",
            path.display()
        )));
    }
    let (salt, rest) = rest.split_at(16);
    let (iterations, sealed) = rest.split_at(4);
    let iterations =
        u32::from_be_bytes([iterations[0], iterations[1], iterations[2], iterations[3]]);
    let key = passphrase_key(p, salt, iterations)?;
    let raw = open_with(&key, PROTECTED_MAGIC, sealed).map_err(|_| {
        KeyError::Unavailable(format!(
            "{} does not open with this passphrase",
            path.display()
        ))
    })?;
    Key256::from_bytes(&raw).map_err(|_| KeyError::Unwrap)
}

fn load_kek(path: &Path, passphrase: Option<&str>) -> Result<FileKek, KeyError> {
    let bytes =
        keyfile::read_secret_file(path).map_err(|e| KeyError::Unavailable(e.to_string()))?;
    Ok(FileKek::from_key(decode_kek(&bytes, path, passphrase)?))
}

struct Ring {
    current: String,
    keys: HashMap<String, Key256>,
    /// The current file's modification time when it was read.
    seen: Option<SystemTime>,
}

/// KEKs held in local files: the current one in `kek.key`, retired ones beside it. A
/// rotation (`custodian keys rotate`) replaces `kek.key` atomically; a running provider notices
/// the change on its next wrap, or on an unwrap under a KEK it does not know, and reloads.
pub struct FileKeyProvider {
    dir: Option<PathBuf>,
    passphrase: Option<zeroize::Zeroizing<String>>,
    ring: RwLock<Ring>,
}

impl std::fmt::Debug for FileKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyProvider")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn read_ring(dir: &Path, passphrase: Option<&str>) -> Result<Ring, KeyError> {
    let current_path = dir.join(CURRENT_KEK_FILE);
    let seen = mtime(&current_path);
    let current = load_kek(&current_path, passphrase)?;
    let mut keys = HashMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| KeyError::Unavailable(e.to_string()))?;
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(RETIRED_PREFIX) && name.ends_with(".key") {
            let k = load_kek(&e.path(), passphrase)?;
            keys.insert(k.id, k.kek);
        }
    }
    let id = current.id.clone();
    keys.insert(current.id, current.kek);
    Ok(Ring {
        current: id,
        keys,
        seen,
    })
}

impl FileKeyProvider {
    /// Loads the keyring of a data directory (`kek.key` and any retired KEKs beside it).
    pub fn load_dir(dir: &Path) -> Result<Self, KeyError> {
        Self::load_dir_with(dir, None)
    }

    /// Loads a keyring whose files may be protected by `passphrase`.
    pub fn load_dir_with(dir: &Path, passphrase: Option<&str>) -> Result<Self, KeyError> {
        Ok(Self {
            dir: Some(dir.to_owned()),
            ring: RwLock::new(read_ring(dir, passphrase)?),
            passphrase: passphrase.map(|p| zeroize::Zeroizing::new(p.to_owned())),
        })
    }

    /// A provider over one KEK already in memory (no files, no rotation).
    pub fn from_key(kek: Key256) -> Self {
        let k = FileKek::from_key(kek);
        Self {
            dir: None,
            passphrase: None,
            ring: RwLock::new(Ring {
                current: k.id.clone(),
                keys: HashMap::from([(k.id, k.kek)]),
                seen: None,
            }),
        }
    }

    /// Re-reads the keyring if `kek.key` changed since it was read (or `force`).
    fn refresh(&self, force: bool) -> Result<(), KeyError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let now = mtime(&dir.join(CURRENT_KEK_FILE));
        let stale = {
            let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
            force || ring.seen != now
        };
        if stale {
            let fresh = read_ring(dir, self.passphrase.as_deref().map(String::as_str))?;
            *self.ring.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
        Ok(())
    }

    /// Ids of every KEK held (current and retired).
    pub fn kek_ids(&self) -> Vec<String> {
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<String> = ring.keys.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Makes a new current KEK in `dir`: the old `kek.key` is kept as a retired KEK, the new
    /// one replaces it atomically. Returns (old id, new id).
    pub fn rotate_dir(dir: &Path) -> Result<(String, String), KeyError> {
        Self::rotate_dir_with(dir, None)
    }

    /// [`FileKeyProvider::rotate_dir`] for a keyring protected by `passphrase` (the new and the
    /// retired file are written protected too).
    pub fn rotate_dir_with(
        dir: &Path,
        passphrase: Option<&str>,
    ) -> Result<(String, String), KeyError> {
        let io = |e: std::io::Error| KeyError::Unavailable(e.to_string());
        let current_path = dir.join(CURRENT_KEK_FILE);
        let old = load_kek(&current_path, passphrase)?;
        let retired = dir.join(format!(
            "{RETIRED_PREFIX}{}.key",
            old.id.trim_start_matches("file:")
        ));
        if !retired.exists() {
            keyfile::create_secret_file(&retired, &encode_kek(&old.kek, passphrase)?)
                .map_err(io)?;
        }
        let fresh = Key256::generate().map_err(|_| KeyError::Wrap)?;
        let staged = dir.join(format!("{CURRENT_KEK_FILE}.new"));
        let _ = std::fs::remove_file(&staged);
        keyfile::create_secret_file(&staged, &encode_kek(&fresh, passphrase)?).map_err(io)?;
        std::fs::rename(&staged, &current_path).map_err(io)?;
        Ok((old.id, kek_id_of(&fresh)))
    }
}

impl KeyProvider for FileKeyProvider {
    fn current_kek_id(&self) -> Result<String, KeyError> {
        self.refresh(false)?;
        Ok(self
            .ring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .current
            .clone())
    }

    fn wrap(&self, subject: &str, dek: &Key256) -> Result<Wrapped, KeyError> {
        self.refresh(false)?;
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        let kek = ring.keys.get(&ring.current).ok_or(KeyError::Wrap)?;
        Ok(Wrapped {
            kek_id: ring.current.clone(),
            bytes: wrap_dek(kek, subject, dek).map_err(|_| KeyError::Wrap)?,
        })
    }

    fn unwrap(&self, kek_id: &str, subject: &str, wrapped: &[u8]) -> Result<Key256, KeyError> {
        let known = self
            .ring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .contains_key(kek_id);
        if !known {
            self.refresh(true)?;
        }
        let ring = self.ring.read().unwrap_or_else(|e| e.into_inner());
        let kek = ring
            .keys
            .get(kek_id)
            .ok_or_else(|| KeyError::UnknownKek(kek_id.to_owned()))?;
        unwrap_dek(kek, subject, wrapped).map_err(|e| match e {
            VaultCryptoError::Open | VaultCryptoError::Key => KeyError::Unwrap,
            VaultCryptoError::Random => KeyError::Wrap,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn ring_dir(bytes: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        keyfile::create_secret_file(&dir.path().join(CURRENT_KEK_FILE), bytes).expect("write");
        dir
    }

    #[test]
    fn a_file_provider_wraps_for_one_subject_and_names_its_kek() {
        let dir = ring_dir(&[5u8; 32]);
        let p = FileKeyProvider::load_dir(dir.path()).expect("load");
        let id = p.current_kek_id().expect("id");
        assert!(id.starts_with("file:"));
        assert!(!id.contains("0505"), "the id does not reveal the key");
        let dek = Key256::generate().expect("dek");
        let w = p.wrap("subj-1", &dek).expect("wrap");
        assert_eq!(w.kek_id, id);
        assert_eq!(
            p.unwrap(&id, "subj-1", &w.bytes).expect("unwrap").expose(),
            dek.expose()
        );
        assert!(matches!(
            p.unwrap(&id, "subj-2", &w.bytes),
            Err(KeyError::Unwrap)
        ));
        assert!(matches!(
            p.unwrap("file:00", "subj-1", &w.bytes),
            Err(KeyError::UnknownKek(_))
        ));
        let other = FileKeyProvider::from_key(Key256::from_bytes(&[6u8; 32]).expect("k"));
        assert_ne!(other.current_kek_id().expect("id"), id);
    }

    #[test]
    fn a_rotation_is_picked_up_by_a_running_provider_and_old_wraps_still_open() {
        let dir = ring_dir(&[5u8; 32]);
        let running = FileKeyProvider::load_dir(dir.path()).expect("load");
        let dek = Key256::generate().expect("dek");
        let before = running.wrap("subj-1", &dek).expect("wrap");
        let (old, new) = FileKeyProvider::rotate_dir(dir.path()).expect("rotate");
        assert_eq!(old, before.kek_id);
        assert_ne!(old, new);
        let after = running.wrap("subj-2", &dek).expect("wrap");
        assert_eq!(after.kek_id, new, "new wraps use the new KEK at once");
        assert!(running.unwrap(&old, "subj-1", &before.bytes).is_ok());
        let fresh = FileKeyProvider::load_dir(dir.path()).expect("reload");
        assert_eq!(fresh.kek_ids().len(), 2);
        assert!(fresh.unwrap(&old, "subj-1", &before.bytes).is_ok());
        assert!(fresh.unwrap(&new, "subj-2", &after.bytes).is_ok());
    }

    #[test]
    fn a_passphrase_protects_the_keyring_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let kek = Key256::from_bytes(&[7u8; 32]).expect("k");
        let file = encode_kek(&kek, Some("correct horse")).expect("encode");
        assert!(
            !file.windows(32).any(|w| w == [7u8; 32]),
            "the KEK is not in the file"
        );
        keyfile::create_secret_file(&dir.path().join(CURRENT_KEK_FILE), &file).expect("write");
        assert!(matches!(
            FileKeyProvider::load_dir(dir.path()),
            Err(KeyError::Unavailable(_))
        ));
        assert!(FileKeyProvider::load_dir_with(dir.path(), Some("wrong horse")).is_err());
        let p = FileKeyProvider::load_dir_with(dir.path(), Some("correct horse")).expect("load");
        let plain = FileKeyProvider::from_key(Key256::from_bytes(&[7u8; 32]).expect("k"));
        assert_eq!(
            p.current_kek_id().expect("id"),
            plain.current_kek_id().expect("id")
        );
        let dek = Key256::generate().expect("dek");
        let w = p.wrap("s", &dek).expect("wrap");
        let (_, new) =
            FileKeyProvider::rotate_dir_with(dir.path(), Some("correct horse")).expect("rotate");
        for e in std::fs::read_dir(dir.path()).expect("dir").flatten() {
            let bytes = std::fs::read(e.path()).expect("read");
            assert!(
                bytes.starts_with(PROTECTED_MAGIC),
                "{:?} is protected",
                e.path()
            );
        }
        assert_eq!(
            p.current_kek_id().expect("id"),
            new,
            "the running provider follows"
        );
        assert!(p.unwrap(&w.kek_id, "s", &w.bytes).is_ok());
        assert!(encode_kek(&dek, Some("")).is_err());
    }

    #[test]
    fn bad_key_files_are_refused() {
        let short = ring_dir(&[1u8; 31]);
        assert!(matches!(
            FileKeyProvider::load_dir(short.path()),
            Err(KeyError::Unavailable(_))
        ));
        let open = ring_dir(&[1u8; 32]);
        std::fs::set_permissions(
            open.path().join(CURRENT_KEK_FILE),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        assert!(matches!(
            FileKeyProvider::load_dir(open.path()),
            Err(KeyError::Unavailable(_))
        ));
        let empty = tempfile::tempdir().expect("tmp");
        assert!(FileKeyProvider::load_dir(empty.path()).is_err());
    }
}
