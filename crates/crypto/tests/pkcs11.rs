//! The PKCS#11 key provider against a real token: SoftHSM2 (Debian's `softhsm2`), which
//! `.ci/run` installs. Outside CI the test is skipped when SoftHSM2 is missing.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use custodian_crypto::keys::{KeyError, KeyProvider};
use custodian_crypto::pkcs11::{Pkcs11Config, Pkcs11KeyProvider};
use custodian_crypto::vault::Key256;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A fresh SoftHSM2 token, deleted on drop.
struct Token {
    label: String,
}

impl Token {
    fn create() -> Option<Self> {
        let module = std::env::var("CUSTODIAN_TEST_PKCS11_MODULE").unwrap_or(MODULE.into());
        if !Path::new(&module).exists()
            || Command::new("softhsm2-util")
                .arg("--version")
                .output()
                .is_err()
        {
            if std::env::var("CI").is_ok() {
                panic!("SoftHSM2 must be installed under CI (apt-get install softhsm2)");
            }
            eprintln!("skipped: SoftHSM2 is not installed");
            return None;
        }
        let label = format!("custodian-test-{}-{}", std::process::id(), rand_suffix());
        let out = Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                &label,
                "--so-pin",
                "0000",
                "--pin",
                "1234",
            ])
            .output()
            .expect("softhsm2-util");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Self { label })
    }

    fn config(&self, pin: &str) -> Pkcs11Config {
        Pkcs11Config {
            module: std::env::var("CUSTODIAN_TEST_PKCS11_MODULE").unwrap_or(MODULE.into()),
            token: self.label.clone(),
            pin: pin.into(),
            key_label: "custodian-kek".into(),
        }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = Command::new("softhsm2-util")
            .args(["--delete-token", "--token", &self.label])
            .output();
    }
}

fn rand_suffix() -> String {
    hex::encode(custodian_crypto::random::bytes::<4>().expect("random"))
}

#[test]
fn the_kek_stays_in_the_token_and_wraps_for_one_subject() {
    let Some(token) = Token::create() else { return };
    assert!(
        Pkcs11KeyProvider::open(&token.config("1234"), false).is_err(),
        "no key yet, and not asked to create one"
    );
    assert!(matches!(
        Pkcs11KeyProvider::open(&token.config("9999"), true),
        Err(KeyError::Unavailable(_))
    ));
    let p = Pkcs11KeyProvider::open(&token.config("1234"), true).expect("open and create");
    assert!(
        !p.kek_value_readable(),
        "the KEK's value cannot be read out"
    );
    let id = p.current_kek_id().expect("id");
    assert_eq!(id, format!("pkcs11:{}/custodian-kek", token.label));

    let dek = Key256::generate().expect("dek");
    let w = p.wrap("cus_1", &dek).expect("wrap");
    assert_eq!(w.kek_id, id);
    assert_eq!(w.bytes.len(), 12 + 32 + 16);
    assert_eq!(
        p.unwrap(&id, "cus_1", &w.bytes).expect("unwrap").expose(),
        dek.expose()
    );
    assert!(matches!(
        p.unwrap(&id, "cus_2", &w.bytes),
        Err(KeyError::Unwrap)
    ));
    let mut altered = w.bytes.clone();
    altered[20] ^= 1;
    assert!(matches!(
        p.unwrap(&id, "cus_1", &altered),
        Err(KeyError::Unwrap)
    ));
    assert!(matches!(
        p.unwrap("file:00", "cus_1", &w.bytes),
        Err(KeyError::UnknownKek(_))
    ));
    drop(p);

    // A second process (here: a second provider) finds the same key and opens old wraps.
    let again = Pkcs11KeyProvider::open(&token.config("1234"), false).expect("reopen");
    assert_eq!(
        again
            .unwrap(&id, "cus_1", &w.bytes)
            .expect("unwrap")
            .expose(),
        dek.expose()
    );
}
