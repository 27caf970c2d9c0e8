//! The relying party's side of Web Authentication (W3C WebAuthn Level 2) for security keys and
//! platform authenticators with ES256 (ECDSA P-256 with SHA-256, COSE algorithm -7): checking
//! a registration (§7.1) and an authentication assertion (§7.2).
//!
//! What is checked: the client data's type, challenge and origin; the authenticator data's
//! RP id hash and user-presence flag (and user verification when required); for a
//! registration, the attested credential's COSE key (EC2, P-256, ES256); for an assertion, the
//! signature over `authenticatorData || SHA-256(clientDataJSON)` and that the signature counter
//! moved forward when the authenticator keeps one. Attestation statements are not verified:
//! the console asks for `attestation: "none"` (it trusts the operator who registers the key,
//! not the key's maker).

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value;

/// Why a registration or an assertion was refused (a stable rule name; no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub &'static str);

/// What the relying party expects of every ceremony.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    /// The RP id (the site's host name, e.g. `privacy.example.com`).
    pub rp_id: &'a str,
    /// The origin the page was served from (`https://privacy.example.com`).
    pub origin: &'a str,
    /// The challenge the server issued.
    pub challenge: &'a [u8],
    /// Whether the authenticator must have verified the user (PIN, biometrics).
    pub user_verification: bool,
}

/// A registered credential: its id, its public key (an uncompressed P-256 point) and the last
/// signature counter seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The credential id.
    pub id: Vec<u8>,
    /// The public key, `04 || x || y`.
    pub public_key: Vec<u8>,
    /// The signature counter at registration (0 when the authenticator keeps none).
    pub sign_count: u32,
}

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;

fn check_client_data(json: &[u8], kind: &str, e: &Expect<'_>) -> Result<(), Refused> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|_| Refused("client_data_not_json"))?;
    if v.get("type").and_then(|t| t.as_str()) != Some(kind) {
        return Err(Refused("client_data_type"));
    }
    let challenge = v
        .get("challenge")
        .and_then(|c| c.as_str())
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .ok_or(Refused("client_data_challenge"))?;
    if challenge != e.challenge {
        return Err(Refused("challenge_mismatch"));
    }
    if v.get("origin").and_then(|o| o.as_str()) != Some(e.origin) {
        return Err(Refused("origin_mismatch"));
    }
    if v.get("crossOrigin").and_then(|c| c.as_bool()) == Some(true) {
        return Err(Refused("cross_origin"));
    }
    Ok(())
}

/// The parts of authenticator data (§6.1) this module uses.
struct AuthData<'a> {
    flags: u8,
    sign_count: u32,
    /// What follows the fixed 37 bytes (attested credential data, extensions).
    rest: &'a [u8],
}

fn auth_data<'a>(data: &'a [u8], e: &Expect<'_>) -> Result<AuthData<'a>, Refused> {
    if data.len() < 37 {
        return Err(Refused("authenticator_data_short"));
    }
    if data[..32] != crate::sha256(e.rp_id.as_bytes()) {
        return Err(Refused("rp_id_mismatch"));
    }
    let flags = data[32];
    if flags & FLAG_UP == 0 {
        return Err(Refused("user_not_present"));
    }
    if e.user_verification && flags & FLAG_UV == 0 {
        return Err(Refused("user_not_verified"));
    }
    Ok(AuthData {
        flags,
        sign_count: u32::from_be_bytes([data[33], data[34], data[35], data[36]]),
        rest: &data[37..],
    })
}

fn map_get(map: &[(Value, Value)], key: i64) -> Option<&Value> {
    map.iter()
        .find(|(k, _)| k.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(key))
        .map(|(_, v)| v)
}

/// The uncompressed point of a COSE EC2 P-256 ES256 key (RFC 9053 §7.1.1).
fn cose_p256(key: &Value) -> Result<Vec<u8>, Refused> {
    let map = key.as_map().ok_or(Refused("cose_key_not_a_map"))?;
    let int = |k| {
        map_get(map, k)
            .and_then(|v| v.as_integer())
            .and_then(|i| i64::try_from(i).ok())
    };
    if int(1) != Some(2) {
        return Err(Refused("cose_key_not_ec2"));
    }
    if int(3) != Some(-7) {
        return Err(Refused("cose_alg_not_es256"));
    }
    if int(-1) != Some(1) {
        return Err(Refused("cose_curve_not_p256"));
    }
    let coord = |k| {
        map_get(map, k)
            .and_then(|v| v.as_bytes())
            .filter(|b| b.len() == 32)
            .ok_or(Refused("cose_coordinate"))
    };
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(coord(-2)?);
    point.extend_from_slice(coord(-3)?);
    Ok(point)
}

/// Checks a registration: `client_data_json` and `attestation_object` as the browser's
/// `AuthenticatorAttestationResponse` gave them. Returns the new credential.
pub fn register(
    client_data_json: &[u8],
    attestation_object: &[u8],
    e: &Expect<'_>,
) -> Result<Credential, Refused> {
    check_client_data(client_data_json, "webauthn.create", e)?;
    let att: Value =
        ciborium::from_reader(attestation_object).map_err(|_| Refused("attestation_not_cbor"))?;
    let map = att.as_map().ok_or(Refused("attestation_not_a_map"))?;
    let field = |name: &str| {
        map.iter()
            .find(|(k, _)| k.as_text() == Some(name))
            .map(|(_, v)| v)
    };
    let data = field("authData")
        .and_then(|v| v.as_bytes())
        .ok_or(Refused("attestation_auth_data"))?;
    let ad = auth_data(data, e)?;
    if ad.flags & FLAG_AT == 0 || ad.rest.len() < 18 {
        return Err(Refused("no_attested_credential"));
    }
    // AAGUID (16 bytes), then the credential id's length and the id.
    let len = usize::from(u16::from_be_bytes([ad.rest[16], ad.rest[17]]));
    if len == 0 || len > 1023 || ad.rest.len() < 18 + len {
        return Err(Refused("credential_id_length"));
    }
    let id = ad.rest[18..18 + len].to_vec();
    let mut key_bytes = &ad.rest[18 + len..];
    let key: Value =
        ciborium::from_reader(&mut key_bytes).map_err(|_| Refused("cose_key_not_cbor"))?;
    let public_key = cose_p256(&key)?;
    Ok(Credential {
        id,
        public_key,
        sign_count: ad.sign_count,
    })
}

/// Checks an assertion by `credential`: the browser's `AuthenticatorAssertionResponse` parts.
/// Returns the new signature counter to store.
pub fn authenticate(
    credential: &Credential,
    client_data_json: &[u8],
    authenticator_data: &[u8],
    signature: &[u8],
    e: &Expect<'_>,
) -> Result<u32, Refused> {
    check_client_data(client_data_json, "webauthn.get", e)?;
    let ad = auth_data(authenticator_data, e)?;
    let mut signed = authenticator_data.to_vec();
    signed.extend_from_slice(&crate::sha256(client_data_json));
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &credential.public_key)
        .verify(&signed, signature)
        .map_err(|_| Refused("bad_signature"))?;
    // §7.2 step 21: a counter that did not move forward suggests a cloned authenticator.
    if (ad.sign_count != 0 || credential.sign_count != 0) && ad.sign_count <= credential.sign_count
    {
        return Err(Refused("sign_count_not_increased"));
    }
    Ok(ad.sign_count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    const RP: &str = "localhost";
    const ORIGIN: &str = "http://localhost:8080";

    fn expect(challenge: &[u8]) -> Expect<'_> {
        Expect {
            rp_id: RP,
            origin: ORIGIN,
            challenge,
            user_verification: false,
        }
    }

    fn client_data(kind: &str, challenge: &[u8], origin: &str) -> Vec<u8> {
        serde_json::json!({
            "type": kind,
            "challenge": URL_SAFE_NO_PAD.encode(challenge),
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).expect("cbor");
        out
    }

    /// An authenticator: a P-256 key pair, as the browser would relay it.
    struct Authenticator {
        key: EcdsaKeyPair,
        id: Vec<u8>,
    }

    impl Authenticator {
        fn new() -> Self {
            let rng = SystemRandom::new();
            let pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
            Self {
                key: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
                    .expect("pair"),
                id: vec![7; 16],
            }
        }

        fn auth_data(&self, flags: u8, count: u32, attested: bool) -> Vec<u8> {
            let mut d = crate::sha256(RP.as_bytes()).to_vec();
            d.push(flags | if attested { FLAG_AT } else { 0 });
            d.extend_from_slice(&count.to_be_bytes());
            if attested {
                d.extend_from_slice(&[0u8; 16]);
                d.extend_from_slice(&(self.id.len() as u16).to_be_bytes());
                d.extend_from_slice(&self.id);
                let point = self.key.public_key().as_ref();
                let cose = Value::Map(vec![
                    (Value::from(1), Value::from(2)),
                    (Value::from(3), Value::from(-7)),
                    (Value::from(-1), Value::from(1)),
                    (Value::from(-2), Value::Bytes(point[1..33].to_vec())),
                    (Value::from(-3), Value::Bytes(point[33..65].to_vec())),
                ]);
                d.extend_from_slice(&cbor(&cose));
            }
            d
        }

        fn attestation(&self, flags: u8) -> Vec<u8> {
            cbor(&Value::Map(vec![
                (Value::from("fmt"), Value::from("none")),
                (Value::from("attStmt"), Value::Map(vec![])),
                (
                    Value::from("authData"),
                    Value::Bytes(self.auth_data(flags, 0, true)),
                ),
            ]))
        }

        fn sign(&self, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
            let mut msg = auth_data.to_vec();
            msg.extend_from_slice(&crate::sha256(client_data));
            self.key
                .sign(&SystemRandom::new(), &msg)
                .expect("sign")
                .as_ref()
                .to_vec()
        }
    }

    #[test]
    fn a_registration_and_assertions_verify() {
        let a = Authenticator::new();
        let ch = b"registration challenge 32 bytes!";
        let cred = register(
            &client_data("webauthn.create", ch, ORIGIN),
            &a.attestation(FLAG_UP | FLAG_UV),
            &expect(ch),
        )
        .expect("registers");
        assert_eq!(cred.id, a.id);
        assert_eq!(cred.public_key, a.key.public_key().as_ref());

        let ch = b"authentication challenge 32 byte";
        let cd = client_data("webauthn.get", ch, ORIGIN);
        let ad = a.auth_data(FLAG_UP, 5, false);
        let sig = a.sign(&ad, &cd);
        let stored = Credential {
            sign_count: 4,
            ..cred.clone()
        };
        assert_eq!(authenticate(&stored, &cd, &ad, &sig, &expect(ch)), Ok(5));
        // A counter that did not move: refused (a cloned authenticator).
        let same = Credential {
            sign_count: 5,
            ..cred.clone()
        };
        assert_eq!(
            authenticate(&same, &cd, &ad, &sig, &expect(ch)),
            Err(Refused("sign_count_not_increased"))
        );
        // Authenticators without a counter send 0 every time.
        let ad0 = a.auth_data(FLAG_UP, 0, false);
        let sig0 = a.sign(&ad0, &cd);
        let zero = Credential {
            sign_count: 0,
            ..cred.clone()
        };
        assert_eq!(authenticate(&zero, &cd, &ad0, &sig0, &expect(ch)), Ok(0));
    }

    #[test]
    fn every_check_refuses() {
        let a = Authenticator::new();
        let ch = b"registration challenge 32 bytes!";
        let att = a.attestation(FLAG_UP);
        let good = client_data("webauthn.create", ch, ORIGIN);
        let refuse = |cd: &[u8], att: &[u8], e: &Expect<'_>| register(cd, att, e).err();
        assert_eq!(
            refuse(&good, &att, &expect(b"another")),
            Some(Refused("challenge_mismatch"))
        );
        assert_eq!(
            refuse(&client_data("webauthn.get", ch, ORIGIN), &att, &expect(ch)),
            Some(Refused("client_data_type"))
        );
        assert_eq!(
            refuse(
                &client_data("webauthn.create", ch, "https://evil.example"),
                &att,
                &expect(ch)
            ),
            Some(Refused("origin_mismatch"))
        );
        let other_rp = Expect {
            rp_id: "example.com",
            ..expect(ch)
        };
        assert_eq!(
            refuse(&good, &att, &other_rp),
            Some(Refused("rp_id_mismatch"))
        );
        assert_eq!(
            refuse(&good, &a.attestation(0), &expect(ch)),
            Some(Refused("user_not_present"))
        );
        let uv = Expect {
            user_verification: true,
            ..expect(ch)
        };
        assert_eq!(refuse(&good, &att, &uv), Some(Refused("user_not_verified")));
        assert_eq!(
            refuse(b"{", &att, &expect(ch)),
            Some(Refused("client_data_not_json"))
        );
        assert_eq!(
            refuse(&good, b"\xff\x00", &expect(ch)),
            Some(Refused("attestation_not_cbor"))
        );
        assert!(refuse(&good, &att[..att.len() - 10], &expect(ch)).is_some());

        let cred = register(&good, &att, &expect(ch)).expect("registers");
        let ch2 = b"authentication challenge 32 byte";
        let cd = client_data("webauthn.get", ch2, ORIGIN);
        let ad = a.auth_data(FLAG_UP, 1, false);
        let sig = a.sign(&ad, &cd);
        // Another key's signature, a changed message, a truncated authenticator data.
        let other = Authenticator::new();
        assert_eq!(
            authenticate(&cred, &cd, &ad, &other.sign(&ad, &cd), &expect(ch2)),
            Err(Refused("bad_signature"))
        );
        let cd2 = client_data("webauthn.get", ch2, "http://localhost:9999");
        assert_eq!(
            authenticate(&cred, &cd2, &ad, &sig, &expect(ch2)),
            Err(Refused("origin_mismatch"))
        );
        assert_eq!(
            authenticate(&cred, &cd, &ad[..30], &sig, &expect(ch2)),
            Err(Refused("authenticator_data_short"))
        );
    }
}
