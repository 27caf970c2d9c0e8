//! C2SP signed notes (Ed25519) and tlog checkpoints.
//!
//! A checkpoint body is `<origin>\n<tree size>\n<base64 root hash>\n`. A signed note is the
//! body, a blank line, and signature lines `— <key name> <base64(key id || signature)>\n`,
//! where the key id is the first four bytes of `SHA-256(name || 0x0A || 0x01 || public key)`.
//! A verifier key is `<name>+<hex key id>+<base64(0x01 || public key)>`.

use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::random::RandomError;

const ALG_ED25519: u8 = 0x01;
const SIG_PREFIX: &str = "\u{2014} ";
/// The most signature lines a note may carry before it is refused.
const MAX_SIGNATURES: usize = 100;

/// Why a note, key or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The verifier key is not `<name>+<hex id>+<base64 key>` with an Ed25519 key.
    #[error("malformed verifier key")]
    MalformedVerifierKey,
    /// The key name is empty or has a space or `+`.
    #[error("malformed key name")]
    MalformedName,
    /// The note does not have the signed-note shape.
    #[error("malformed signed note")]
    MalformedNote,
    /// No signature line is from the expected key.
    #[error("the note carries no signature from key {0}")]
    UnknownKey(String),
    /// A signature from the expected key does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The checkpoint body is not `origin`, `size`, `root` lines.
    #[error("malformed checkpoint")]
    MalformedCheckpoint,
    /// The private key could not be read or made.
    #[error("the signing key is invalid")]
    BadPrivateKey,
}

impl From<RandomError> for NoteError {
    fn from(_: RandomError) -> Self {
        NoteError::BadPrivateKey
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn key_id(name: &str, public: &[u8]) -> [u8; 4] {
    let mut data = Vec::with_capacity(name.len() + 2 + public.len());
    data.extend_from_slice(name.as_bytes());
    data.push(b'\n');
    data.push(ALG_ED25519);
    data.extend_from_slice(public);
    let h = crate::sha256(&data);
    [h[0], h[1], h[2], h[3]]
}

/// Signs notes with an Ed25519 key under a name.
pub struct NoteSigner {
    name: String,
    key: Ed25519KeyPair,
}

impl NoteSigner {
    /// A new random key in PKCS#8 form, for a key file.
    pub fn generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, NoteError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| NoteError::BadPrivateKey)?;
        Ok(Zeroizing::new(doc.as_ref().to_vec()))
    }

    /// A signer from a PKCS#8 key and a key name.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::MalformedName);
        }
        let key = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|_| NoteError::BadPrivateKey)?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    /// The verifier key to publish: `<name>+<hex id>+<base64(0x01 || key)>`.
    pub fn verifier_key(&self) -> String {
        let public = self.public_key();
        let mut typed = vec![ALG_ED25519];
        typed.extend_from_slice(public);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, public)),
            B64.encode(typed)
        )
    }

    /// Signs `body` (which must end with a newline and have no blank line) as a note.
    pub fn sign(&self, body: &str) -> Result<String, NoteError> {
        if !body.ends_with('\n') || body.contains("\n\n") {
            return Err(NoteError::MalformedNote);
        }
        self.sign_raw(body)
    }

    fn sign_raw(&self, body: &str) -> Result<String, NoteError> {
        let sig = self.key.sign(body.as_bytes());
        let mut blob = key_id(&self.name, self.public_key()).to_vec();
        blob.extend_from_slice(sig.as_ref());
        Ok(format!(
            "{body}\n{SIG_PREFIX}{} {}\n",
            self.name,
            B64.encode(blob)
        ))
    }

    /// Signs arbitrary bytes (for receipts and manifests); the signature alone.
    pub fn sign_bytes(&self, msg: &[u8]) -> Vec<u8> {
        self.key.sign(msg).as_ref().to_vec()
    }
}

/// Verifies notes from one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    public: Vec<u8>,
}

impl NoteVerifier {
    /// Parses a verifier key `<name>+<hex id>+<base64(0x01 || key)>`.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let vkey = vkey.trim();
        // Names cannot hold '+', but base64 can: split from the left.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(hexid), Some(b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedVerifierKey);
        };
        if !valid_name(name) || hexid.len() != 8 {
            return Err(NoteError::MalformedVerifierKey);
        }
        let id: [u8; 4] = hex::decode(hexid)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or(NoteError::MalformedVerifierKey)?;
        let typed = B64
            .decode(b64)
            .map_err(|_| NoteError::MalformedVerifierKey)?;
        if typed.len() != 33 || typed[0] != ALG_ED25519 {
            return Err(NoteError::MalformedVerifierKey);
        }
        let public = typed[1..].to_vec();
        if key_id(name, &public) != id {
            return Err(NoteError::MalformedVerifierKey);
        }
        Ok(Self {
            name: name.to_owned(),
            id,
            public,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies a signed note and returns its body (the signed text).
    ///
    /// Signature lines from other keys are ignored; the first line from this key decides.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note.rfind("\n\n").ok_or(NoteError::MalformedNote)?;
        let body = &note[..split + 1];
        let sigs = &note[split + 2..];
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::MalformedNote);
        }
        let mut count = 0;
        for line in sigs[..sigs.len() - 1].split('\n') {
            count += 1;
            if count > MAX_SIGNATURES {
                return Err(NoteError::MalformedNote);
            }
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or(NoteError::MalformedNote)?;
            let (name, b64) = rest.split_once(' ').ok_or(NoteError::MalformedNote)?;
            if !valid_name(name) {
                return Err(NoteError::MalformedNote);
            }
            let blob = B64.decode(b64).map_err(|_| NoteError::MalformedNote)?;
            if blob.len() < 5 {
                return Err(NoteError::MalformedNote);
            }
            if name != self.name || blob[..4] != self.id {
                continue;
            }
            let key = UnparsedPublicKey::new(&signature::ED25519, &self.public);
            return key
                .verify(body.as_bytes(), &blob[4..])
                .map(|()| body)
                .map_err(|_| NoteError::BadSignature);
        }
        Err(NoteError::UnknownKey(self.name.clone()))
    }

    /// Verifies a bare Ed25519 signature over `msg` with this key.
    pub fn verify_bytes(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::ED25519, &self.public)
            .verify(msg, sig)
            .is_ok()
    }
}

/// A C2SP tlog checkpoint: a log's origin, size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The RFC 9162 root hash.
    pub root: [u8; 32],
}

impl Checkpoint {
    /// The note body.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a checkpoint body (extension lines after the root are allowed and ignored).
    pub fn parse(body: &str) -> Result<Self, NoteError> {
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::MalformedCheckpoint)?;
        let size_text = lines.next().ok_or(NoteError::MalformedCheckpoint)?;
        if size_text.is_empty()
            || !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(NoteError::MalformedCheckpoint);
        }
        let size = size_text
            .parse()
            .map_err(|_| NoteError::MalformedCheckpoint)?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::MalformedCheckpoint)?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Go `golang.org/x/mod/sumdb/note` documentation, the reference
    /// implementation of the C2SP signed-note format.
    const GO_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const GO_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn verifies_the_reference_note() {
        let v = NoteVerifier::parse(GO_VKEY).expect("vkey");
        assert_eq!(v.open(GO_NOTE), Ok("This is an example message.\n"));
        let tampered = GO_NOTE.replace("example message", "exemple message");
        assert_eq!(v.open(&tampered), Err(NoteError::BadSignature));
    }

    #[test]
    fn sign_then_open_round_trips_and_rejects_others() {
        let pk = NoteSigner::generate_pkcs8().expect("gen");
        let s = NoteSigner::from_pkcs8("custodian/test", &pk).expect("signer");
        let cp = Checkpoint {
            origin: "custodian/test".into(),
            size: 42,
            root: [7; 32],
        };
        let note = s.sign(&cp.body()).expect("sign");
        let v = NoteVerifier::parse(&s.verifier_key()).expect("vkey");
        let body = v.open(&note).expect("open");
        assert_eq!(Checkpoint::parse(body), Ok(cp));

        let other = NoteSigner::from_pkcs8(
            "custodian/test",
            &NoteSigner::generate_pkcs8().expect("gen"),
        )
        .expect("signer");
        let v2 = NoteVerifier::parse(&other.verifier_key()).expect("vkey");
        assert!(matches!(v2.open(&note), Err(NoteError::UnknownKey(_))));
        assert_eq!(
            v.open(&note.replace("\n42\n", "\n43\n")),
            Err(NoteError::BadSignature)
        );
        assert_eq!(s.sign("no newline"), Err(NoteError::MalformedNote));
        assert_eq!(s.sign("a\n\nb\n"), Err(NoteError::MalformedNote));
    }

    #[test]
    fn malformed_inputs_are_refused() {
        for bad in [
            "",
            "a+b",
            "a+zzzzzzzz+AAAA",
            "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        ] {
            assert!(NoteVerifier::parse(bad).is_err(), "{bad}");
        }
        let v = NoteVerifier::parse(GO_VKEY).expect("vkey");
        for bad in [
            "",
            "text\n",
            "text\n\n",
            "text\n\n-- example.com/foo AAAA\n",
            "text\n\n\u{2014} example.com/foo !!\n",
        ] {
            assert!(v.open(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "",
            "o\n",
            "o\n01\nAAAA\n",
            "o\n1\nnot-base64\n",
            "o\n-1\nAAAA\n",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
