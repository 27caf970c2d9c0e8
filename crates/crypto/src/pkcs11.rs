//! A [`KeyProvider`] whose key-encryption key lives in a PKCS#11 token (an HSM, or SoftHSM2
//! in tests). The KEK is an AES-256 secret key generated inside the token as sensitive and
//! non-extractable; data keys are wrapped and unwrapped by the token with AES-GCM
//! (`CKM_AES_GCM`, 96-bit random IV, 128-bit tag, associated data naming the subject), so the
//! KEK never leaves it. Layout of a wrapped key: `iv(12) || ciphertext || tag(16)`.

use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use crate::keys::{KeyError, KeyProvider, Wrapped};
use crate::random;
use crate::vault::Key256;

const IV_LEN: usize = 12;
const WRAP_TAG: &[u8] = b"custodian-dek-wrap-pkcs11-v1";

/// Where the KEK is: the module, the token, the PIN and the key's label.
#[derive(Clone)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: String,
    /// The token's label.
    pub token: String,
    /// The user PIN.
    pub pin: String,
    /// The KEK's label in the token.
    pub key_label: String,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("key_label", &self.key_label)
            .finish_non_exhaustive()
    }
}

/// The PKCS#11 key provider. One logged-in session, used by one caller at a time.
pub struct Pkcs11KeyProvider {
    id: String,
    session: Mutex<Session>,
    key: ObjectHandle,
    _ctx: Pkcs11,
}

impl std::fmt::Debug for Pkcs11KeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11KeyProvider")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> KeyError {
    KeyError::Unavailable(format!("PKCS#11: {what}: {e}"))
}

fn aad(subject: &str) -> Vec<u8> {
    let mut out = WRAP_TAG.to_vec();
    out.extend_from_slice(&(subject.len() as u32).to_be_bytes());
    out.extend_from_slice(subject.as_bytes());
    out
}

impl Pkcs11KeyProvider {
    /// Opens the token, logs in, and finds the KEK by label; with `create`, generates it in the
    /// token (sensitive, non-extractable) when it is missing.
    pub fn open(config: &Pkcs11Config, create: bool) -> Result<Self, KeyError> {
        let ctx = Pkcs11::new(&config.module).map_err(|e| unavailable("loading the module", e))?;
        ctx.initialize(CInitializeArgs::OsThreads)
            .map_err(|e| unavailable("initialising", e))?;
        let slot = ctx
            .get_slots_with_token()
            .map_err(|e| unavailable("listing slots", e))?
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .is_ok_and(|i| i.label().trim_end() == config.token)
            })
            .ok_or_else(|| unavailable("no token has the label", &config.token))?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| unavailable("opening a session", e))?;
        session
            .login(UserType::User, Some(&AuthPin::from(config.pin.clone())))
            .map_err(|e| unavailable("logging in", e))?;
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(config.key_label.as_bytes().to_vec()),
        ];
        let found = session
            .find_objects(&template)
            .map_err(|e| unavailable("finding the key", e))?;
        let key = match found.as_slice() {
            [k] => *k,
            [] if create => session
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                        Attribute::Encrypt(true),
                        Attribute::Decrypt(true),
                        Attribute::ValueLen(32.into()),
                        Attribute::Label(config.key_label.as_bytes().to_vec()),
                    ],
                )
                .map_err(|e| unavailable("generating the key", e))?,
            [] => return Err(unavailable("no key has the label", &config.key_label)),
            _ => {
                return Err(unavailable(
                    "several keys have the label",
                    &config.key_label,
                ));
            }
        };
        // Refuse a KEK that could leave the token.
        let attrs = session
            .get_attributes(key, &[AttributeType::Extractable, AttributeType::Sensitive])
            .map_err(|e| unavailable("reading the key's attributes", e))?;
        let safe = attrs.iter().all(|a| match a {
            Attribute::Extractable(x) => !x,
            Attribute::Sensitive(s) => *s,
            _ => true,
        });
        if !safe {
            return Err(unavailable(
                "the key is extractable or not sensitive",
                &config.key_label,
            ));
        }
        Ok(Self {
            id: format!("pkcs11:{}/{}", config.token, config.key_label),
            session: Mutex::new(session),
            key,
            _ctx: ctx,
        })
    }

    /// Whether the KEK's value can be read out of the token (it must not be).
    pub fn kek_value_readable(&self) -> bool {
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        matches!(
            session.get_attributes(self.key, &[AttributeType::Value]),
            Ok(a) if a.iter().any(|x| matches!(x, Attribute::Value(v) if !v.is_empty()))
        )
    }
}

impl KeyProvider for Pkcs11KeyProvider {
    fn current_kek_id(&self) -> Result<String, KeyError> {
        Ok(self.id.clone())
    }

    fn wrap(&self, subject: &str, dek: &Key256) -> Result<Wrapped, KeyError> {
        let mut iv = random::bytes::<IV_LEN>().map_err(|_| KeyError::Wrap)?;
        let aad = aad(subject);
        let params = GcmParams::new(&mut iv, &aad, 128.into()).map_err(|_| KeyError::Wrap)?;
        let ct = {
            let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
            session
                .encrypt(&Mechanism::AesGcm(params), self.key, dek.expose())
                .map_err(|_| KeyError::Wrap)?
        };
        let mut bytes = iv.to_vec();
        bytes.extend_from_slice(&ct);
        Ok(Wrapped {
            kek_id: self.id.clone(),
            bytes,
        })
    }

    fn unwrap(&self, kek_id: &str, subject: &str, wrapped: &[u8]) -> Result<Key256, KeyError> {
        if kek_id != self.id {
            return Err(KeyError::UnknownKek(kek_id.to_owned()));
        }
        if wrapped.len() < IV_LEN + 16 {
            return Err(KeyError::Unwrap);
        }
        let mut iv = [0u8; IV_LEN];
        iv.copy_from_slice(&wrapped[..IV_LEN]);
        let aad = aad(subject);
        let params = GcmParams::new(&mut iv, &aad, 128.into()).map_err(|_| KeyError::Unwrap)?;
        let plain = {
            let session = self.session.lock().unwrap_or_else(|e| e.into_inner());
            Zeroizing::new(
                session
                    .decrypt(&Mechanism::AesGcm(params), self.key, &wrapped[IV_LEN..])
                    .map_err(|_| KeyError::Unwrap)?,
            )
        };
        Key256::from_bytes(&plain).map_err(|_| KeyError::Unwrap)
    }
}
