//! Signed receipts as JWS compact serializations (RFC 7515) with EdDSA over Ed25519
//! (RFC 8037), so anyone can verify one with the published JWK and any JOSE library.
//!
//! The key id (`kid`) is the key's RFC 7638 JWK thumbprint.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use zeroize::Zeroizing;

/// Why a JWS was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three base64url parts, or a part that does not decode.
    #[error("not a JWS compact serialization")]
    Malformed,
    /// The header is not JSON, or its algorithm is not EdDSA.
    #[error("the JWS header is not an EdDSA header")]
    BadHeader,
    /// No published key has the header's key id.
    #[error("no published key has this key id")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The key cannot be used.
    #[error("the signing key is invalid")]
    BadKey,
}

/// An Ed25519 public key as a JWK (`kty` OKP, `crv` Ed25519).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    /// The base64url public key.
    pub x: String,
    /// Its RFC 7638 thumbprint, the key id.
    pub kid: String,
}

impl PublicJwk {
    /// The JWK of a raw 32-byte public key.
    pub fn from_public_key(public: &[u8]) -> Self {
        let x = B64URL.encode(public);
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = B64URL.encode(crate::sha256(canonical.as_bytes()));
        Self { x, kid }
    }

    /// The raw public key.
    pub fn public_key(&self) -> Result<Vec<u8>, JwsError> {
        B64URL.decode(&self.x).map_err(|_| JwsError::BadKey)
    }
}

/// Signs JWS with an Ed25519 key.
pub struct JwsSigner {
    key: Ed25519KeyPair,
    jwk: PublicJwk,
}

impl JwsSigner {
    /// A new random key in PKCS#8 form, for a key file.
    pub fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, JwsError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| JwsError::BadKey)?;
        Ok(Zeroizing::new(doc.as_ref().to_vec()))
    }

    /// A signer from a PKCS#8 key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, JwsError> {
        Self::new(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| JwsError::BadKey)?)
    }

    /// A signer from a raw 32-byte seed and its public key (as JWKs carry them: `d`, `x`).
    pub fn from_seed(seed: &[u8], public: &[u8]) -> Result<Self, JwsError> {
        Self::new(
            Ed25519KeyPair::from_seed_and_public_key(seed, public).map_err(|_| JwsError::BadKey)?,
        )
    }

    fn new(key: Ed25519KeyPair) -> Result<Self, JwsError> {
        let jwk = PublicJwk::from_public_key(key.public_key().as_ref());
        Ok(Self { key, jwk })
    }

    /// The public key to publish.
    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// Signs `payload` under the protected header `header` (JSON bytes, used as given).
    pub fn sign_with_header(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", B64URL.encode(header), B64URL.encode(payload));
        let sig = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64URL.encode(sig.as_ref()))
    }

    /// Signs `payload` with the header `{"alg":"EdDSA","kid":…,"typ":typ}`.
    pub fn sign(&self, typ: &str, payload: &[u8]) -> String {
        let header = serde_json::json!({ "alg": "EdDSA", "kid": self.jwk.kid, "typ": typ });
        self.sign_with_header(header.to_string().as_bytes(), payload)
    }
}

/// Verifies a compact JWS against published keys (chosen by the header's `kid`; a header
/// without one is tried against every key) and returns the payload bytes.
pub fn verify(jws: &str, keys: &[PublicJwk]) -> Result<Vec<u8>, JwsError> {
    let mut parts = jws.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header = B64URL.decode(h).map_err(|_| JwsError::Malformed)?;
    let payload = B64URL.decode(p).map_err(|_| JwsError::Malformed)?;
    let sig = B64URL.decode(s).map_err(|_| JwsError::Malformed)?;
    let header: serde_json::Value =
        serde_json::from_slice(&header).map_err(|_| JwsError::BadHeader)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("EdDSA") {
        return Err(JwsError::BadHeader);
    }
    // RFC 7515 §4.1.11: a critical extension we do not understand means we must refuse.
    if header.get("crit").is_some() {
        return Err(JwsError::BadHeader);
    }
    let candidates: Vec<&PublicJwk> = match header.get("kid") {
        Some(kid) => {
            let kid = kid.as_str().ok_or(JwsError::BadHeader)?;
            keys.iter().filter(|k| k.kid == kid).collect()
        }
        None => keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(JwsError::UnknownKey);
    }
    let input = &jws.trim()[..h.len() + 1 + p.len()];
    for k in candidates {
        let public = k.public_key()?;
        if UnparsedPublicKey::new(&ED25519, &public)
            .verify(input.as_bytes(), &sig)
            .is_ok()
        {
            return Ok(payload);
        }
    }
    Err(JwsError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8037 Appendix A.1/A.2: the example key (d, x).
    const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn rfc_key() -> JwsSigner {
        let d = B64URL.decode(D).expect("d");
        let x = B64URL.decode(X).expect("x");
        JwsSigner::from_seed(&d, &x).expect("key")
    }

    #[test]
    fn rfc8037_a3_thumbprint() {
        assert_eq!(rfc_key().jwk().x, X);
        assert_eq!(
            rfc_key().jwk().kid,
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rfc8037_a4_signature_and_a5_verification() {
        let jws = rfc_key().sign_with_header(br#"{"alg":"EdDSA"}"#, b"Example of Ed25519 signing");
        assert_eq!(
            jws,
            "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
        assert_eq!(
            verify(&jws, &[rfc_key().jwk().clone()]).as_deref(),
            Ok(&b"Example of Ed25519 signing"[..])
        );
    }

    #[test]
    fn tampering_and_foreign_keys_are_refused() {
        let k = rfc_key();
        let jws = k.sign("custodian-consent-receipt+jwt", br#"{"state":"given"}"#);
        let keys = [k.jwk().clone()];
        assert!(verify(&jws, &keys).is_ok());
        let parts: Vec<&str> = jws.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64URL.encode(br#"{"state":"refused"}"#),
            parts[2]
        );
        assert_eq!(verify(&forged, &keys), Err(JwsError::BadSignature));
        let other = JwsSigner::from_pkcs8(&JwsSigner::generate_pkcs8().expect("gen")).expect("key");
        assert_eq!(
            verify(&jws, &[other.jwk().clone()]),
            Err(JwsError::UnknownKey)
        );
        let none_alg = format!(
            "{}.{}.{}",
            B64URL.encode(br#"{"alg":"none"}"#),
            parts[1],
            parts[2]
        );
        assert_eq!(verify(&none_alg, &keys), Err(JwsError::BadHeader));
        for bad in ["", "a.b", "a.b.c.d", "!!.b.c"] {
            assert!(verify(bad, &keys).is_err(), "{bad}");
        }
    }
}
