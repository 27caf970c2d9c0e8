//! Data Rights Protocol signatures (§3.07): libsodium "combined mode", the 64-byte Ed25519
//! signature followed by the signed JSON, the whole base64-encoded (standard alphabet).

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Why a signed message does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DrpSignatureError {
    /// The body is not base64.
    #[error("the body is not base64")]
    NotBase64,
    /// Shorter than a signature.
    #[error("the body is shorter than a signature")]
    TooShort,
    /// The signature does not verify under the agent's key.
    #[error("the signature does not verify")]
    BadSignature,
}

/// An agent's public verify key, from the service directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyKey([u8; 32]);

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

impl VerifyKey {
    /// Reads a key as the directory publishes it: base64 (the spec, since 0.9.1) or 64 hex
    /// digits (the OSIRAA sample directory).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let bytes = if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(s).ok()?
        } else {
            decode_base64(s)?
        };
        Some(Self(bytes.try_into().ok()?))
    }

    /// Verifies a combined-mode body and returns the signed message.
    pub fn open(&self, body: &[u8]) -> Result<Vec<u8>, DrpSignatureError> {
        let text = std::str::from_utf8(body).map_err(|_| DrpSignatureError::NotBase64)?;
        let text: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let raw = decode_base64(&text).ok_or(DrpSignatureError::NotBase64)?;
        if raw.len() < 64 {
            return Err(DrpSignatureError::TooShort);
        }
        let (sig, msg) = raw.split_at(64);
        UnparsedPublicKey::new(&ED25519, self.0)
            .verify(msg, sig)
            .map_err(|_| DrpSignatureError::BadSignature)?;
        Ok(msg.to_vec())
    }
}

/// The agent's side: signs messages in combined mode (for tests and agent tooling).
pub struct AgentSigner(Ed25519KeyPair);

impl AgentSigner {
    /// A signer from a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Option<Self> {
        Ed25519KeyPair::from_seed_unchecked(seed).ok().map(Self)
    }

    /// The verify key, base64 (as the directory lists it).
    pub fn verify_key_base64(&self) -> String {
        STANDARD.encode(self.0.public_key().as_ref())
    }

    /// `base64(signature ‖ message)`.
    pub fn sign(&self, message: &[u8]) -> String {
        let mut out = self.0.sign(message).as_ref().to_vec();
        out.extend_from_slice(message);
        STANDARD.encode(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032 §7.1, TEST 1: the secret key (seed), its public key and the signature of the
    // empty message.
    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn seed() -> [u8; 32] {
        hex::decode(SEED)
            .ok()
            .and_then(|v| v.try_into().ok())
            .unwrap_or([0; 32])
    }

    #[test]
    fn rfc8032_vector_in_combined_mode() {
        let signer = AgentSigner::from_seed(&seed()).unwrap_or_else(|| panic!("seed"));
        let body = signer.sign(b"");
        let raw = STANDARD.decode(&body).unwrap_or_default();
        assert_eq!(hex::encode(&raw), SIG, "combined mode of the empty message");
        let hex_key = VerifyKey::parse(PUBLIC).unwrap_or_else(|| panic!("hex key"));
        let b64_key =
            VerifyKey::parse(&signer.verify_key_base64()).unwrap_or_else(|| panic!("b64 key"));
        assert_eq!(hex_key, b64_key, "hex and base64 name the same key");
        assert_eq!(hex_key.open(body.as_bytes()), Ok(Vec::new()));
    }

    #[test]
    fn tampered_truncated_and_foreign_bodies_are_refused() {
        let signer = AgentSigner::from_seed(&seed()).unwrap_or_else(|| panic!("seed"));
        let key = VerifyKey::parse(PUBLIC).unwrap_or_else(|| panic!("key"));
        let body = signer.sign(br#"{"agent-id":"A"}"#);
        assert_eq!(
            key.open(body.as_bytes()).as_deref(),
            Ok(&br#"{"agent-id":"A"}"#[..])
        );
        let wrapped = format!("{}\n{}\n", &body[..20], &body[20..]);
        assert!(
            key.open(wrapped.as_bytes()).is_ok(),
            "line breaks are ignored"
        );
        let mut raw = STANDARD.decode(&body).unwrap_or_default();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(
            key.open(STANDARD.encode(&raw).as_bytes()),
            Err(DrpSignatureError::BadSignature)
        );
        assert_eq!(key.open(b"%%%"), Err(DrpSignatureError::NotBase64));
        assert_eq!(
            key.open(STANDARD.encode([0u8; 10]).as_bytes()),
            Err(DrpSignatureError::TooShort)
        );
        let other = AgentSigner::from_seed(&[7; 32]).unwrap_or_else(|| panic!("seed"));
        assert_eq!(
            key.open(other.sign(b"{}").as_bytes()),
            Err(DrpSignatureError::BadSignature)
        );
        assert_eq!(VerifyKey::parse("abc"), None);
        assert_eq!(VerifyKey::parse(&"zz".repeat(32)), None);
    }
}
