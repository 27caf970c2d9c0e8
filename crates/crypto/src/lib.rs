//! Custodian's key material and signatures.
//!
//! - [`note`]: C2SP signed notes and tlog checkpoints with Ed25519 (the audit log's signed
//!   tree heads), and verifier keys that auditors use offline.
//! - [`apikey`]: API-key generation and hashing.
//! - [`keyfile`]: key files in the data directory, created with mode 0600.
//! - [`random`]: the system CSPRNG.

pub mod apikey;
pub mod drp;
pub mod envelope;
pub mod ff1;
pub mod jws;
pub mod keyfile;
pub mod keys;
pub mod note;
pub mod password;
pub mod pkcs11;
pub mod random;
pub mod totp;
pub mod vault;
pub mod webauthn;
pub mod webhook;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
