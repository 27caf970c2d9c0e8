//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): secrets are `whsec_` +
//! base64 of 24 to 64 random bytes; a message is signed with HMAC-SHA-256 over
//! `<webhook-id>.<webhook-timestamp>.<body>` and the `webhook-signature` header carries
//! `v1,<base64 signature>` (several space-separated during a secret rotation).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::random::{self, RandomError};

/// The prefix of a webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> Result<Zeroizing<String>, RandomError> {
    let bytes = Zeroizing::new(random::bytes::<32>()?);
    Ok(Zeroizing::new(format!(
        "{SECRET_PREFIX}{}",
        STANDARD.encode(bytes.as_slice())
    )))
}

/// The key bytes of a secret (`whsec_` optional); None unless it is base64 of 24 to 64 bytes.
pub fn decode_secret(secret: &str) -> Option<Zeroizing<Vec<u8>>> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let bytes = Zeroizing::new(STANDARD.decode(b64).ok()?);
    (24..=64).contains(&bytes.len()).then_some(bytes)
}

fn tag(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(msg_id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    ctx.sign()
}

/// The `webhook-signature` value for a message: `v1,<base64>`.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(tag(key, msg_id, timestamp, body).as_ref())
    )
}

/// Whether any `v1` entry of a `webhook-signature` header matches (constant-time).
pub fn verify(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let hkey = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut content = Vec::with_capacity(body.len() + msg_id.len() + 24);
    content.extend_from_slice(msg_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    header.split(' ').any(|entry| {
        entry
            .strip_prefix("v1,")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .is_some_and(|sig| hmac::verify(&hkey, &content, &sig).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks specification's published example (secret, id, timestamp, body
    // and the signature its reference libraries produce).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_standard_webhooks_example() {
        let key = decode_secret(SECRET).expect("secret");
        assert_eq!(sign(&key, ID, TS, BODY), SIGNATURE);
        assert!(verify(&key, ID, TS, BODY, SIGNATURE));
        assert!(verify(&key, ID, TS, BODY, &format!("v1,AAAA {SIGNATURE}")));
        assert!(!verify(&key, ID, TS + 1, BODY, SIGNATURE));
        assert!(!verify(&key, "msg_other", TS, BODY, SIGNATURE));
        assert!(!verify(&key, ID, TS, br#"{"test": 2432232315}"#, SIGNATURE));
        assert!(!verify(&key, ID, TS, BODY, "v2,g0hM9SsE"));
    }

    #[test]
    fn secrets_are_whsec_base64_of_enough_bytes() {
        let s = new_secret().expect("secret");
        assert!(s.starts_with(SECRET_PREFIX));
        assert_eq!(decode_secret(&s).expect("decodes").len(), 32);
        assert_ne!(*s, *new_secret().expect("secret"));
        assert!(decode_secret("whsec_not base64!").is_none());
        assert!(decode_secret("whsec_c2hvcnQ=").is_none());
        assert!(decode_secret(SECRET.trim_start_matches(SECRET_PREFIX)).is_some());
    }
}
