//! Offline verification of consent receipts: a receipt (compact JWS, EdDSA over Ed25519) is
//! checked against the JWK set the server publishes at `/.well-known/custodian/receipt-keys`,
//! with nothing but the two files, so a subject or an auditor need not trust the server.

use anyhow::{Context, bail};
use custodian_crypto::jws::{self, PublicJwk};

/// A receipt whose signature verified.
#[derive(Debug)]
pub struct Verified {
    /// The key that signed it (its RFC 7638 thumbprint).
    pub kid: String,
    /// The signed claims (the ISO/IEC TS 27560 record fields).
    pub claims: serde_json::Value,
}

/// Reads a JWK set (`{"keys": [...]}`) of Ed25519 keys. Each key's id must be its RFC 7638
/// thumbprint, recomputed here from `x`, so a set cannot pass one key off as another.
pub fn read_keys(text: &str) -> anyhow::Result<Vec<PublicJwk>> {
    let set: serde_json::Value = serde_json::from_str(text).context("the key set is not JSON")?;
    let Some(keys) = set.get("keys").and_then(|k| k.as_array()) else {
        bail!("the key set has no \"keys\" array");
    };
    let mut out = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let field = |name: &str| k.get(name).and_then(|v| v.as_str());
        if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") {
            bail!("key {i} is not an Ed25519 key (kty OKP, crv Ed25519)");
        }
        let Some(x) = field("x") else {
            bail!("key {i} has no \"x\"");
        };
        let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, x)
            .ok()
            .filter(|b| b.len() == 32)
            .with_context(|| format!("key {i}: \"x\" is not a 32-byte base64url public key"))?;
        let jwk = PublicJwk::from_public_key(&raw);
        if let Some(kid) = field("kid")
            && kid != jwk.kid
        {
            bail!("key {i}: \"kid\" is not the key's RFC 7638 thumbprint");
        }
        out.push(jwk);
    }
    if out.is_empty() {
        bail!("the key set holds no key");
    }
    Ok(out)
}

/// Verifies one receipt against `keys`.
pub fn verify(receipt: &str, keys: &[PublicJwk]) -> anyhow::Result<Verified> {
    let payload = jws::verify(receipt, keys).map_err(|e| anyhow::anyhow!("not verified: {e}"))?;
    let header = receipt
        .trim()
        .split('.')
        .next()
        .and_then(|h| {
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, h).ok()
        })
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok());
    let kid = header
        .as_ref()
        .and_then(|h| h.get("kid"))
        .and_then(|k| k.as_str())
        .unwrap_or_default()
        .to_owned();
    let claims = serde_json::from_slice(&payload).context("the signed payload is not JSON")?;
    Ok(Verified { kid, claims })
}

#[cfg(test)]
mod tests {
    use super::*;
    use custodian_crypto::jws::JwsSigner;

    fn signer() -> JwsSigner {
        let pkcs8 = JwsSigner::generate_pkcs8().expect("key");
        JwsSigner::from_pkcs8(&pkcs8).expect("signer")
    }

    fn set(s: &JwsSigner) -> String {
        let k = s.jwk();
        serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid}]})
            .to_string()
    }

    #[test]
    fn a_receipt_verifies_against_its_key_set_and_nothing_else() {
        let s = signer();
        let receipt = s.sign("consent-receipt+jwt", br#"{"state":"given"}"#);
        let v = verify(&receipt, &read_keys(&set(&s)).expect("keys")).expect("verified");
        assert_eq!(
            (v.kid.as_str(), &v.claims["state"]),
            (s.jwk().kid.as_str(), &serde_json::json!("given"))
        );
        // Another server's keys, or a changed payload, do not verify.
        let other = read_keys(&set(&signer())).expect("keys");
        assert!(verify(&receipt, &other).is_err());
        let mut parts: Vec<&str> = receipt.split('.').collect();
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"state":"refused"}"#,
        );
        parts[1] = &forged;
        assert!(verify(&parts.join("."), &read_keys(&set(&s)).expect("keys")).is_err());
    }

    #[test]
    fn bad_key_sets_are_refused_with_the_reason() {
        let s = signer();
        let x = s.jwk().x.clone();
        for (text, reason) in [
            ("not json".to_owned(), "not JSON"),
            ("{}".to_owned(), "no \"keys\""),
            (r#"{"keys":[]}"#.to_owned(), "no key"),
            (
                format!(r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{x}"}}]}}"#),
                "not an Ed25519",
            ),
            (
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"c2hvcnQ"}]}"#.to_owned(),
                "32-byte",
            ),
            (
                format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"other"}}]}}"#),
                "thumbprint",
            ),
        ] {
            let e = read_keys(&text).expect_err(reason).to_string();
            assert!(e.contains(reason), "{e} / {reason}");
        }
    }
}
