//! The audit log: events, their canonical encoding, the hash chain and the RFC 9162 tree.
//!
//! Every event is a leaf of an RFC 9162 Merkle tree (leaf hash `SHA-256(0x00 || canonical)`)
//! and a link of a hash chain (`chain_i = SHA-256("custodian-audit-chain-v1" || chain_{i-1} ||
//! leaf_i)`, with `chain_{-1}` all zeros). The tree gives auditors inclusion and consistency
//! proofs against a signed checkpoint; the chain lets `audit verify` name the first event that
//! was changed.
//!
//! Architecture invariant: an event holds identifiers (operator id, action, resource,
//! pseudonymous subject id, field names, purpose), never a personal-data value.

pub mod merkle;

use jiff::Timestamp;

pub use merkle::{Hash, Node};

use crate::clock::to_millis;

/// The longest text an event field may hold, in bytes.
pub const MAX_EVENT_TEXT: usize = 512;

/// What the authorization decided for the audited request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The request was allowed.
    Allow,
    /// The request was refused.
    Deny,
}

impl Decision {
    /// Stable wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }

    /// Parses [`Decision::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Decision::Allow),
            "deny" => Some(Decision::Deny),
            _ => None,
        }
    }

    fn byte(self) -> u8 {
        match self {
            Decision::Allow => 1,
            Decision::Deny => 2,
        }
    }
}

/// An event before it has a place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    /// When it happened (kept to the millisecond).
    pub time: Timestamp,
    /// The request id, so an event can be matched with the server's logs.
    pub request_id: String,
    /// Who acted: `operator:<id>`, `cli`, `system` or `anonymous`.
    pub actor: String,
    /// What was done, e.g. `policy.write`.
    pub action: String,
    /// What it was done to, e.g. `policies` or `operator:<id>`.
    pub resource: String,
    /// The pseudonymous id of the data subject concerned, if any.
    pub subject: Option<String>,
    /// Names of the fields touched (never their values).
    pub fields: Vec<String>,
    /// The purpose named by the caller, if any.
    pub purpose: Option<String>,
    /// The authorization decision.
    pub decision: Decision,
}

impl AuditDraft {
    /// A draft with no subject, fields or purpose.
    pub fn new(
        time: Timestamp,
        request_id: impl Into<String>,
        actor: impl Into<String>,
        action: impl Into<String>,
        resource: impl Into<String>,
        decision: Decision,
    ) -> Self {
        Self {
            time: to_millis(time),
            request_id: truncate(request_id.into()),
            actor: truncate(actor.into()),
            action: truncate(action.into()),
            resource: truncate(resource.into()),
            subject: None,
            fields: Vec::new(),
            purpose: None,
            decision,
        }
    }

    /// Sets the purpose.
    pub fn with_purpose(mut self, purpose: Option<&str>) -> Self {
        self.purpose = purpose.map(|p| truncate(p.to_owned()));
        self
    }

    /// Sets the subject's pseudonym.
    pub fn with_subject(mut self, pseudonym: Option<String>) -> Self {
        self.subject = pseudonym.map(truncate);
        self
    }
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_EVENT_TEXT {
        let mut cut = MAX_EVENT_TEXT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// An event with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the log, from 0; also the leaf index in the tree.
    pub seq: u64,
    /// The event's content.
    pub draft: AuditDraft,
    /// RFC 9162 leaf hash of the canonical encoding.
    pub leaf_hash: Hash,
    /// The hash chain value after this event.
    pub chain_hash: Hash,
}

const CANONICAL_TAG: &[u8] = b"custodian-audit-event-v1";
const CHAIN_TAG: &[u8] = b"custodian-audit-chain-v1";

/// The deterministic byte encoding of an event: the leaf data of the Merkle tree.
///
/// A fixed order of fields; integers big-endian; every string as a u32 length then its
/// UTF-8 bytes; an absent option as one 0 byte, a present one as 1 then the value.
pub fn canonical_bytes(seq: u64, d: &AuditDraft) -> Vec<u8> {
    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                put_str(out, s);
            }
        }
    }
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(CANONICAL_TAG);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&d.time.as_millisecond().to_be_bytes());
    put_str(&mut out, &d.request_id);
    put_str(&mut out, &d.actor);
    put_str(&mut out, &d.action);
    put_str(&mut out, &d.resource);
    put_opt(&mut out, d.subject.as_deref());
    out.extend_from_slice(&(d.fields.len() as u32).to_be_bytes());
    for f in &d.fields {
        put_str(&mut out, f);
    }
    put_opt(&mut out, d.purpose.as_deref());
    out.push(d.decision.byte());
    out
}

/// The next link of the hash chain.
pub fn chain_next(prev: &Hash, leaf: &Hash) -> Hash {
    merkle::sha256(&[CHAIN_TAG, prev, leaf])
}

/// The state of the log's head: its size, last chain hash and the tree's right edge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditHead {
    /// The number of events.
    pub size: u64,
    /// The chain hash of the last event (all zeros when empty).
    pub chain: Hash,
    /// Roots of the perfect subtrees that make up the tree, largest first.
    pub frontier: Vec<Hash>,
}

/// The result of appending one event.
#[derive(Debug, Clone)]
pub struct Appended {
    /// The event with its sequence number and hashes.
    pub event: AuditEvent,
    /// The new head.
    pub head: AuditHead,
    /// Tree nodes completed by this append (the leaf itself at level 0 included).
    pub nodes: Vec<Node>,
}

impl AuditHead {
    /// The RFC 9162 root hash of the tree.
    pub fn root(&self) -> Hash {
        merkle::frontier_root(&self.frontier)
    }

    /// Appends an event: a pure computation the store then persists in one transaction.
    pub fn append(&self, draft: AuditDraft) -> Appended {
        let seq = self.size;
        let leaf_hash = merkle::leaf_hash(&canonical_bytes(seq, &draft));
        let chain_hash = chain_next(&self.chain, &leaf_hash);
        let mut frontier = self.frontier.clone();
        let nodes = merkle::frontier_push(&mut frontier, seq, leaf_hash);
        Appended {
            event: AuditEvent {
                seq,
                draft,
                leaf_hash,
                chain_hash,
            },
            head: AuditHead {
                size: seq + 1,
                chain: chain_hash,
                frontier,
            },
            nodes,
        }
    }

    /// Encodes the frontier for storage (concatenated 32-byte hashes).
    pub fn frontier_bytes(&self) -> Vec<u8> {
        self.frontier.concat()
    }

    /// Decodes a stored frontier; `None` if its length does not fit `size`.
    pub fn from_stored(size: u64, chain: &[u8], frontier: &[u8]) -> Option<Self> {
        let chain: Hash = chain.try_into().ok()?;
        if !frontier.len().is_multiple_of(32) || frontier.len() / 32 != size.count_ones() as usize {
            return None;
        }
        let frontier = frontier
            .chunks_exact(32)
            .map(|c| c.try_into().ok())
            .collect::<Option<Vec<Hash>>>()?;
        Some(Self {
            size,
            chain,
            frontier,
        })
    }
}

/// Why a sequence of stored events does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// An event is missing or out of order.
    #[error("event {expected} is missing (found {found})")]
    Gap {
        /// The sequence number that should come next.
        expected: u64,
        /// The one that came.
        found: u64,
    },
    /// The event's content does not match its stored leaf hash.
    #[error("event {0} was altered: its content does not match its leaf hash")]
    LeafMismatch(u64),
    /// The chain hash stored with the event is not the one its predecessors give.
    #[error("event {0} breaks the hash chain")]
    ChainMismatch(u64),
}

/// Replays stored events and checks every hash; yields the head they build.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    head: AuditHead,
}

impl ChainVerifier {
    /// A verifier for a log that starts empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next event.
    pub fn push(&mut self, ev: &AuditEvent) -> Result<(), ChainError> {
        if ev.seq != self.head.size {
            return Err(ChainError::Gap {
                expected: self.head.size,
                found: ev.seq,
            });
        }
        let next = self.head.append(ev.draft.clone());
        if next.event.leaf_hash != ev.leaf_hash {
            return Err(ChainError::LeafMismatch(ev.seq));
        }
        if next.event.chain_hash != ev.chain_hash {
            return Err(ChainError::ChainMismatch(ev.seq));
        }
        self.head = next.head;
        Ok(())
    }

    /// The head built so far.
    pub fn head(&self) -> &AuditHead {
        &self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(i: u64) -> AuditDraft {
        let t = Timestamp::from_second(1_700_000_000 + i as i64).unwrap_or(Timestamp::UNIX_EPOCH);
        AuditDraft::new(
            t,
            format!("req-{i}"),
            "operator:a",
            "policy.write",
            "policies",
            Decision::Allow,
        )
    }

    #[test]
    fn append_then_verify_round_trips() {
        let mut head = AuditHead::default();
        let mut events = Vec::new();
        for i in 0..37 {
            let a = head.append(draft(i));
            events.push(a.event);
            head = a.head;
        }
        let mut v = ChainVerifier::new();
        for e in &events {
            v.push(e).expect("verifies");
        }
        assert_eq!(v.head(), &head);
        let leaves: Vec<Hash> = events.iter().map(|e| e.leaf_hash).collect();
        assert_eq!(head.root(), merkle::root_of(&leaves));
    }

    #[test]
    fn verify_names_the_first_altered_event() {
        let mut head = AuditHead::default();
        let mut events = Vec::new();
        for i in 0..5 {
            let a = head.append(draft(i));
            events.push(a.event);
            head = a.head;
        }
        events[2].draft.action = "policy.read".into();
        let mut v = ChainVerifier::new();
        let err = events.iter().try_for_each(|e| v.push(e));
        assert_eq!(err, Err(ChainError::LeafMismatch(2)));

        let mut events2: Vec<_> = events.clone();
        events2[2].draft.action = "policy.write".into();
        events2[3].chain_hash[0] ^= 1;
        let mut v = ChainVerifier::new();
        assert_eq!(
            events2.iter().try_for_each(|e| v.push(e)),
            Err(ChainError::ChainMismatch(3))
        );

        let mut v = ChainVerifier::new();
        assert_eq!(
            v.push(&events2[1]),
            Err(ChainError::Gap {
                expected: 0,
                found: 1
            })
        );
    }

    #[test]
    fn every_field_is_bound_by_the_encoding() {
        let base = draft(1);
        let mut variants = vec![base.clone(); 9];
        variants[0].request_id.push('x');
        variants[1].actor.push('x');
        variants[2].action.push('x');
        variants[3].resource.push('x');
        variants[4].subject = Some("s".into());
        variants[5].fields = vec!["email".into()];
        variants[6].purpose = Some("support".into());
        variants[7].decision = Decision::Deny;
        variants[8].time = Timestamp::from_second(1).unwrap_or(Timestamp::UNIX_EPOCH);
        let b = canonical_bytes(1, &base);
        assert_ne!(b, canonical_bytes(2, &base));
        for v in &variants {
            assert_ne!(b, canonical_bytes(1, v));
        }
        // Length prefixes keep field boundaries unambiguous.
        let mut x = base.clone();
        x.actor = "ab".into();
        x.action = "c".into();
        let mut y = base;
        y.actor = "a".into();
        y.action = "bc".into();
        assert_ne!(canonical_bytes(1, &x), canonical_bytes(1, &y));
    }

    #[test]
    fn stored_head_round_trips_and_rejects_bad_shapes() {
        let mut head = AuditHead::default();
        for i in 0..11 {
            head = head.append(draft(i)).head;
        }
        let back = AuditHead::from_stored(head.size, &head.chain, &head.frontier_bytes());
        assert_eq!(back.as_ref(), Some(&head));
        assert!(AuditHead::from_stored(12, &head.chain, &head.frontier_bytes()).is_none());
        assert!(AuditHead::from_stored(11, &head.chain[..31], &head.frontier_bytes()).is_none());
    }

    #[test]
    fn long_texts_are_truncated_on_a_char_boundary() {
        let d = AuditDraft::new(
            Timestamp::UNIX_EPOCH,
            "é".repeat(400),
            "a",
            "b",
            "c",
            Decision::Allow,
        );
        assert!(d.request_id.len() <= MAX_EVENT_TEXT);
        assert!(d.request_id.chars().all(|c| c == 'é'));
    }
}
