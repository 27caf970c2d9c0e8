//! `custodian audit verify` and `custodian audit export`.
//!
//! An export is JSON Lines: a header line (format, origin, verifier key, tree size, root and
//! the signed checkpoint), then one line per event in order. `verify --file` replays the
//! events, rebuilds the chain and the RFC 9162 tree, and checks the signed checkpoint with the
//! public key alone: no database is needed.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, bail};
use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, AuditEvent, ChainVerifier, Decision, merkle};
use custodian_core::ports::Store;
use custodian_crypto::note::{Checkpoint, NoteSigner, NoteVerifier};
use serde::{Deserialize, Serialize};

const FORMAT: &str = "custodian-audit-export-v1";
const PAGE: u32 = 1000;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    origin: String,
    verifier_key: String,
    tree_size: u64,
    root: String,
    checkpoint: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventLine {
    seq: u64,
    time_ms: i64,
    request_id: String,
    actor: String,
    action: String,
    resource: String,
    subject: Option<String>,
    fields: Vec<String>,
    purpose: Option<String>,
    decision: String,
    leaf_hash: String,
    chain_hash: String,
}

impl From<&AuditEvent> for EventLine {
    fn from(e: &AuditEvent) -> Self {
        Self {
            seq: e.seq,
            time_ms: e.draft.time.as_millisecond(),
            request_id: e.draft.request_id.clone(),
            actor: e.draft.actor.clone(),
            action: e.draft.action.clone(),
            resource: e.draft.resource.clone(),
            subject: e.draft.subject.clone(),
            fields: e.draft.fields.clone(),
            purpose: e.draft.purpose.clone(),
            decision: e.draft.decision.as_str().to_owned(),
            leaf_hash: hex::encode(e.leaf_hash),
            chain_hash: hex::encode(e.chain_hash),
        }
    }
}

fn hash(s: &str) -> anyhow::Result<[u8; 32]> {
    hex::decode(s)
        .ok()
        .and_then(|v| v.try_into().ok())
        .context("a hash is not 64 hex digits")
}

impl TryFrom<EventLine> for AuditEvent {
    type Error = anyhow::Error;
    fn try_from(l: EventLine) -> anyhow::Result<Self> {
        Ok(AuditEvent {
            seq: l.seq,
            draft: AuditDraft {
                time: Timestamp::from_millisecond(l.time_ms).context("time out of range")?,
                request_id: l.request_id,
                actor: l.actor,
                action: l.action,
                resource: l.resource,
                subject: l.subject,
                fields: l.fields,
                purpose: l.purpose,
                decision: Decision::parse(&l.decision).context("unknown decision")?,
            },
            leaf_hash: hash(&l.leaf_hash)?,
            chain_hash: hash(&l.chain_hash)?,
        })
    }
}

/// The outcome of a successful verification.
#[derive(Debug)]
pub struct Verified {
    /// Number of events.
    pub size: u64,
    /// Root hash.
    pub root: [u8; 32],
}

/// Verifies the whole log in the store: every event's hashes, the chain, the stored head and
/// the stored tree nodes that make up the root.
///
/// The head is read first, so a log that grows meanwhile (a running server) is verified up to
/// that head.
pub async fn verify_store(store: &dyn Store) -> anyhow::Result<Verified> {
    let stored = store.audit_head().await?;
    let mut v = ChainVerifier::new();
    let mut from = 0u64;
    while from < stored.size {
        let limit = PAGE.min((stored.size - from) as u32);
        let page = store.audit_events(from, limit).await?;
        if page.is_empty() {
            bail!(
                "audit log verification failed: event {from} is missing (the head counts {})",
                stored.size
            );
        }
        for e in &page {
            v.push(e)
                .map_err(|err| anyhow::anyhow!("audit log verification failed: {err}"))?;
        }
        from += page.len() as u64;
    }
    let built = v.head().clone();
    if stored != built {
        bail!(
            "audit log verification failed: the stored head (size {}) does not match the {} events in the log",
            stored.size,
            built.size
        );
    }
    let nodes = store
        .audit_nodes(&merkle::nodes_for_root(built.size))
        .await?;
    let from_nodes = merkle::root_at(&nodes, built.size)
        .map_err(|e| anyhow::anyhow!("audit log verification failed: {e}"))?;
    if from_nodes != built.root() {
        bail!("audit log verification failed: the stored tree nodes do not give the events' root");
    }
    Ok(Verified {
        size: built.size,
        root: built.root(),
    })
}

/// Writes an export of the log as it is now. The export is itself audited (actor `cli`),
/// and includes its own event.
pub async fn export(
    store: &dyn Store,
    signer: &NoteSigner,
    clock: &dyn custodian_core::clock::Clock,
    out: &Path,
) -> anyhow::Result<Verified> {
    if out.exists() {
        bail!("{} already exists", out.display());
    }
    store
        .append_audit(crate::admin::draft(
            clock,
            "audit.read",
            "audit_log:export".into(),
        ))
        .await?;
    let head = store.audit_head().await?;
    let cp = Checkpoint {
        origin: signer.name().to_owned(),
        size: head.size,
        root: head.root(),
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| format!("cannot create {} (it must not exist)", out.display()))?;
    let mut w = BufWriter::new(file);
    let header = Header {
        format: FORMAT.into(),
        origin: cp.origin.clone(),
        verifier_key: signer.verifier_key(),
        tree_size: cp.size,
        root: hex::encode(cp.root),
        checkpoint: signer.sign(&cp.body())?,
    };
    serde_json::to_writer(&mut w, &header)?;
    w.write_all(b"\n")?;
    let mut from = 0u64;
    while from < head.size {
        let limit = PAGE.min((head.size - from) as u32);
        let page = store.audit_events(from, limit).await?;
        if page.is_empty() {
            bail!("event {from} is missing from the store");
        }
        for e in &page {
            serde_json::to_writer(&mut w, &EventLine::from(e))?;
            w.write_all(b"\n")?;
        }
        from += page.len() as u64;
    }
    w.flush()?;
    w.get_ref().sync_all()?;
    Ok(Verified {
        size: head.size,
        root: cp.root,
    })
}

/// Verifies an export offline with the verifier key `vkey`.
pub fn verify_file(path: &Path, vkey: &str) -> anyhow::Result<Verified> {
    let verifier =
        NoteVerifier::parse(vkey).context("the public key is not a valid verifier key")?;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut lines = BufReader::new(file).lines();
    let header: Header = serde_json::from_str(&lines.next().context("the export is empty")??)
        .context("the export's header is malformed")?;
    if header.format != FORMAT {
        bail!("unknown export format {:?}", header.format);
    }
    let body = verifier
        .open(&header.checkpoint)
        .map_err(|e| anyhow::anyhow!("the checkpoint's signature does not verify: {e}"))?;
    let cp = Checkpoint::parse(body).context("the signed checkpoint is malformed")?;
    if cp.origin != verifier.name() {
        bail!(
            "the checkpoint is for log {:?}, the key for {:?}",
            cp.origin,
            verifier.name()
        );
    }
    let mut v = ChainVerifier::new();
    for (i, line) in lines.enumerate() {
        let line = line?;
        let parsed: EventLine = serde_json::from_str(&line).with_context(|| {
            format!(
                "audit log verification failed: event line {} is malformed",
                i + 1
            )
        })?;
        let event = AuditEvent::try_from(parsed).with_context(|| {
            format!(
                "audit log verification failed: event line {} is malformed",
                i + 1
            )
        })?;
        v.push(&event)
            .map_err(|err| anyhow::anyhow!("audit log verification failed: {err}"))?;
    }
    let head = v.head();
    if head.size != cp.size {
        bail!(
            "audit log verification failed: the signed checkpoint covers {} events, the file holds {}",
            cp.size,
            head.size
        );
    }
    if head.root() != cp.root {
        bail!("audit log verification failed: the events do not give the signed root");
    }
    Ok(Verified {
        size: head.size,
        root: cp.root,
    })
}

/// Reads a verifier key given inline or as a file path.
pub fn read_vkey(arg: &str) -> anyhow::Result<String> {
    let p = Path::new(arg);
    if p.is_file() {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        Ok(text.trim().to_owned())
    } else {
        Ok(arg.trim().to_owned())
    }
}
