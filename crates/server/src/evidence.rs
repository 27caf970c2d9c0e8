//! Evidence bundles for auditors, and their offline verification.
//!
//! A bundle is a zip of JSON, CSV, HTML and text files: the records of processing, the data
//! map, the Cedar policies and schema, retention rules, holds and job runs, rights-request SLA
//! figures, consent figures, training status, incidents with their clocks, vendors and their
//! reviews, DPIAs, the access monitor's rules and alerts, the audit log's
//! signed checkpoint and, when an earlier bundle was exported, an RFC 9162 consistency proof
//! from the log that bundle covered to this one. `manifest.json` lists every other file with
//! its SHA-256 and size; `manifest.sig` is a signed note (the audit log's Ed25519 key) over
//! the bundle's id and the manifest's SHA-256. [`verify`] checks all of it with the public key
//! alone: one changed byte anywhere fails (a zip CRC, a file hash, the manifest's signature,
//! the checkpoint's signature or the proof). Personal data is not in a bundle: figures,
//! rules and registers only (incident titles and descriptions are the team's own words).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use custodian_core::Timestamp;
use custodian_core::audit::{AuditDraft, Hash, merkle};
use custodian_core::map::MapKind;
use custodian_core::ports::EvidenceBundle;
use custodian_core::retention::HoldScope;
use custodian_crypto::note::{Checkpoint, NoteVerifier};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::time;
use crate::error::{ApiError, internal};
use crate::state::AppState;

/// The format name in every manifest.
pub const FORMAT: &str = "custodian-evidence-v1";
/// The largest bundle [`verify`] reads, and the largest file in it.
pub const MAX_BUNDLE_BYTES: u64 = 512 * 1024 * 1024;

/// One file of the bundle, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Its path in the zip.
    pub name: String,
    /// SHA-256 of its bytes (hex).
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}

/// The audit log a bundle covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLog {
    /// The log's origin line.
    pub origin: String,
    /// Its size.
    pub tree_size: u64,
    /// Its root (hex).
    pub root: String,
}

/// The bundle exported before this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestPrevious {
    /// Its id.
    pub bundle_id: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The log's size it covered.
    pub tree_size: u64,
    /// The log's root then (hex).
    pub root: String,
    /// Its manifest's SHA-256 (hex).
    pub manifest_sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The bundle's id (a UUID v7 string).
    pub bundle_id: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The installation's id.
    pub installation_id: String,
    /// The key that signed it (C2SP verifier key), for information: verify with the key you
    /// hold, not this one.
    pub verifier_key: String,
    /// The audit log covered.
    pub audit_log: ManifestLog,
    /// The bundle before it, if any.
    pub previous: Option<ManifestPrevious>,
    /// Every other file.
    pub files: Vec<ManifestFile>,
}

/// `audit/consistency.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyFile {
    /// The earlier size.
    pub from_size: u64,
    /// The earlier root (hex).
    pub from_root: String,
    /// This bundle's size.
    pub to_size: u64,
    /// This bundle's root (hex).
    pub to_root: String,
    /// The proof's hashes (hex).
    pub proof: Vec<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The text a bundle's signature covers.
fn signed_body(bundle_id: &str, manifest_sha256: &str) -> String {
    format!("{FORMAT}\n{bundle_id}\n{manifest_sha256}\n")
}

fn pretty(v: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec_pretty(v).map_err(|_| internal("cannot encode the evidence bundle"))
}

/// A bundle just made.
#[derive(Debug)]
pub struct Built {
    /// The zip.
    pub bytes: Vec<u8>,
    /// Its manifest.
    pub manifest: Manifest,
}

/// Makes a bundle of the installation as it is now and records it (with `draft`, whose
/// action and resource are set here), so the next bundle proves consistency from it.
pub async fn build(state: &AppState, mut draft: AuditDraft) -> Result<Built, ApiError> {
    // Whole milliseconds: the time the next bundle reads back from the store.
    let now = state.clock.now();
    let now = Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now);
    let store = &state.store;
    let installation = store
        .installation()
        .await?
        .ok_or_else(|| internal("the installation is not initialised"))?;
    let head = store.audit_head().await?;
    let (size, root) = (head.size, head.root());
    let checkpoint = state
        .signer
        .sign(
            &Checkpoint {
                origin: state.signer.name().to_owned(),
                size,
                root,
            }
            .body(),
        )
        .map_err(|_| internal("cannot sign the checkpoint"))?;

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    files.push(("audit/checkpoint.txt".into(), checkpoint.into_bytes()));
    let previous = store.last_evidence_bundle().await?;
    if let Some(p) = previous.as_ref().filter(|p| p.tree_size <= size) {
        let mut coords = merkle::nodes_for_consistency(p.tree_size, size);
        coords.extend(merkle::nodes_for_root(size));
        let nodes = store.audit_nodes(&coords).await?;
        let proof = merkle::consistency_proof(&nodes, p.tree_size, size)
            .map_err(|_| internal("the audit log's nodes are missing"))?;
        files.push((
            "audit/consistency.json".into(),
            pretty(&ConsistencyFile {
                from_size: p.tree_size,
                from_root: p.root.clone(),
                to_size: size,
                to_root: hex::encode(root),
                proof: proof.iter().map(hex::encode).collect(),
            })?,
        ));
    }

    let entries = store.map_entries().await?;
    let datasets = store.datasets().await?;
    let map = custodian_core::map::load(&entries, &datasets)
        .map_err(|_| internal("the stored data map no longer reads"))?;
    let ropa = custodian_core::map::ropa::build(&map);
    files.push((
        "records_of_processing.csv".into(),
        custodian_core::map::ropa::csv(&ropa).into_bytes(),
    ));
    files.push((
        "records_of_processing.html".into(),
        custodian_core::map::ropa::html_page(&ropa, &time(now)).into_bytes(),
    ));
    files.push((
        "data_map.json".into(),
        pretty(&custodian_core::map::document_of(&entries, &datasets))?,
    ));

    let policies = store
        .policy_set()
        .await?
        .ok_or_else(|| internal("the database has no policy set"))?;
    files.push((
        "policies/policies.cedar".into(),
        policies.text.clone().into_bytes(),
    ));
    files.push((
        "policies/schema.cedarschema".into(),
        custodian_policy::SCHEMA.as_bytes().to_vec(),
    ));
    files.push((
        "policies/dpia_rules.json".into(),
        custodian_core::dpia::DEFAULT_RULES.as_bytes().to_vec(),
    ));
    files.push((
        "policies/version.json".into(),
        pretty(&json!({
            "version": policies.version,
            "updated_at": time(policies.updated_at),
            "updated_by": policies.updated_by,
        }))?,
    ));

    let rules: Vec<Value> = entries
        .iter()
        .filter(|e| e.kind == MapKind::RetentionRule)
        .map(|e| serde_json::from_str(&e.body).unwrap_or(Value::Null))
        .collect();
    files.push(("retention/rules.json".into(), pretty(&rules)?));
    let holds: Vec<Value> = store
        .holds()
        .await?
        .into_iter()
        .map(|h| {
            let (scope, target) = match &h.hold.scope {
                HoldScope::Subject(_) => ("subject", None),
                HoldScope::Dataset(d) => ("dataset", Some(d.clone())),
            };
            json!({
                "id": h.hold.id, "scope": scope, "dataset": target,
                "active": h.hold.active(now),
                "created_at": time(h.hold.created_at), "created_by": h.created_by,
                "expires_at": h.hold.expires_at.map(time),
                "released_at": h.hold.released_at.map(time), "released_by": h.released_by,
            })
        })
        .collect();
    files.push(("retention/holds.json".into(), pretty(&holds)?));
    let jobs: Vec<Value> = store
        .retention_jobs()
        .await?
        .into_iter()
        .map(|j| {
            json!({
                "name": j.name, "due_at": time(j.due_at),
                "last_run_at": j.last_run_at.map(time), "last_outcome": j.last_outcome,
            })
        })
        .collect();
    files.push(("retention/jobs.json".into(), pretty(&jobs)?));

    let year_ago = now
        .checked_sub(jiff::SignedDuration::from_hours(365 * 24))
        .unwrap_or(now);
    files.push((
        "rights/sla.json".into(),
        pretty(&crate::routes::rights::sla_report(state, year_ago, now).await?)?,
    ));
    files.push((
        "consent/figures.json".into(),
        pretty(&crate::compliance::consent_figures(state).await?)?,
    ));
    files.push((
        "training/status.json".into(),
        pretty(&crate::routes::training::training_status(state, now).await?)?,
    ));
    let courses: Vec<_> = store
        .courses()
        .await?
        .into_iter()
        .map(crate::routes::training::course_out)
        .collect();
    files.push(("training/courses.json".into(), pretty(&courses)?));
    let incidents = store
        .incidents()
        .await?
        .iter()
        .map(|i| crate::routes::incidents::incident_out(i, now))
        .collect::<Result<Vec<_>, _>>()?;
    files.push(("incidents.json".into(), pretty(&incidents)?));
    let mut vendors = Vec::new();
    for e in store
        .register_entries(custodian_core::register::RegisterKind::Vendor)
        .await?
    {
        let v = crate::routes::registers::read_vendor(&e)?;
        vendors.push(crate::routes::registers::vendor_out(&e, &v, now));
    }
    files.push(("vendors.json".into(), pretty(&vendors)?));
    let dpias: Vec<_> = store
        .register_entries(custodian_core::register::RegisterKind::Dpia)
        .await?
        .iter()
        .filter_map(|e| {
            custodian_core::dpia::Dpia::from_json(&e.key, &e.body)
                .map(|d| crate::routes::registers::dpia_out(e, &d))
        })
        .collect();
    files.push(("dpias.json".into(), pretty(&dpias)?));
    let alerts: Vec<crate::monitoring::AlertRecord> = store
        .register_entries(custodian_core::register::RegisterKind::Alert)
        .await?
        .iter()
        .filter_map(|e| serde_json::from_str(&e.body).ok())
        .collect();
    files.push((
        "monitoring/rules.json".into(),
        pretty(&crate::monitoring::redacted(
            &crate::monitoring::rules(state).await?.rules,
        ))?,
    ));
    files.push(("monitoring/alerts.json".into(), pretty(&alerts)?));

    let bundle_id = uuid::Uuid::now_v7().to_string();
    let manifest = Manifest {
        format: FORMAT.into(),
        bundle_id: bundle_id.clone(),
        created_at: time(now),
        installation_id: installation.id.clone(),
        verifier_key: state.signer.verifier_key(),
        audit_log: ManifestLog {
            origin: state.signer.name().to_owned(),
            tree_size: size,
            root: hex::encode(root),
        },
        previous: previous.as_ref().map(|p| ManifestPrevious {
            bundle_id: p.id.clone(),
            created_at: time(p.created_at),
            tree_size: p.tree_size,
            root: p.root.clone(),
            manifest_sha256: p.manifest_sha256.clone(),
        }),
        files: files
            .iter()
            .map(|(name, bytes)| ManifestFile {
                name: name.clone(),
                sha256: sha256_hex(bytes),
                bytes: bytes.len() as u64,
            })
            .collect(),
    };
    let manifest_bytes = pretty(&manifest)?;
    let manifest_sha256 = sha256_hex(&manifest_bytes);
    let sig = state
        .signer
        .sign(&signed_body(&bundle_id, &manifest_sha256))
        .map_err(|_| internal("cannot sign the manifest"))?;
    files.push(("manifest.json".into(), manifest_bytes));
    files.push(("manifest.sig".into(), sig.into_bytes()));
    let bytes = container(&files, now).map_err(|_| internal("cannot write the evidence bundle"))?;

    draft.action = "evidence.exported".into();
    draft.resource = format!("evidence:{bundle_id}");
    draft.fields = vec![format!("tree_size:{size}")];
    let created_by = draft.actor.clone();
    match store
        .record_evidence_bundle(
            &EvidenceBundle {
                id: bundle_id,
                created_at: now,
                tree_size: size,
                root: hex::encode(root),
                manifest_sha256,
                created_by,
            },
            previous.as_ref().map(|p| p.id.as_str()),
            draft,
        )
        .await
    {
        Ok(_) => {}
        Err(custodian_core::ports::StoreError::Conflict("previous")) => {
            return Err(ApiError::new(crate::error::ErrorCode::EvidenceRace));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Built { bytes, manifest })
}

/// The zip of `files`, in their order: stored (not compressed) entries, every one with the
/// same time and permissions, so the bytes are a function of the files and the time alone.
/// [`verify`] rebuilds it from what it read and compares: a byte changed anywhere in the
/// container (a local header's name or time, padding, a comment) fails, not only one inside
/// a file.
fn container<B: AsRef<[u8]>>(files: &[(String, B)], at: Timestamp) -> Result<Vec<u8>, String> {
    crate::export::zip_with(files, at, zip::CompressionMethod::Stored)
}

/// Why a bundle does not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a zip, a damaged one (CRC), or too large.
    #[error("not a readable bundle: {0}")]
    Unreadable(String),
    /// A file is missing, extra, or its hash or size differs from the manifest.
    #[error("{0}")]
    Files(String),
    /// A signature does not verify with the key given, or the key is malformed.
    #[error("{0}")]
    Signature(String),
    /// The checkpoint or the consistency proof does not match.
    #[error("{0}")]
    Log(String),
    /// The previous bundle given is not the one this bundle follows.
    #[error("{0}")]
    Previous(String),
}

/// What a verified bundle says.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of its manifest as written (hex).
    pub manifest_sha256: String,
    /// Whether its consistency proof from the previous bundle was checked.
    pub consistency_checked: bool,
}

/// Reads every file of a zip, checking CRCs; refuses duplicates and oversized files.
fn unzip(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, VerifyError> {
    let unreadable = |e: &dyn std::fmt::Display| VerifyError::Unreadable(e.to_string());
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(VerifyError::Unreadable("the bundle is too large".into()));
    }
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let f = z.by_index(i).map_err(|e| unreadable(&e))?;
        // A bundle's entries are stored, never compressed: nothing can expand while read.
        if f.compression() != zip::CompressionMethod::Stored {
            return Err(VerifyError::Unreadable(
                "an entry is compressed; bundles store their files".into(),
            ));
        }
        let size = f.size();
        if size > MAX_BUNDLE_BYTES {
            return Err(VerifyError::Unreadable("a file is too large".into()));
        }
        let name = f.name().to_owned();
        let mut buf = Vec::new();
        f.take(size + 1)
            .read_to_end(&mut buf)
            .map_err(|e| unreadable(&e))?;
        if buf.len() as u64 != size {
            return Err(VerifyError::Unreadable(
                "an entry's size differs from its header".into(),
            ));
        }
        if out.insert(name.clone(), buf).is_some() {
            return Err(VerifyError::Files(format!("`{name}` appears twice")));
        }
    }
    Ok(out)
}

/// Verifies a bundle with the verifier key alone (and, given the bundle before it, that
/// this one follows it): the manifest's signature, every file against the manifest (none
/// missing, none extra), the signed checkpoint against the manifest, and the consistency
/// proof from the previous bundle's log to this one's.
pub fn verify(
    bundle: &[u8],
    verifier_key: &str,
    previous: Option<&[u8]>,
) -> Result<Verified, VerifyError> {
    let key = NoteVerifier::parse(verifier_key)
        .map_err(|_| VerifyError::Signature("the verifier key is malformed".into()))?;
    let mut files = unzip(bundle)?;
    let manifest_bytes = files
        .remove("manifest.json")
        .ok_or_else(|| VerifyError::Files("manifest.json is missing".into()))?;
    let sig = files
        .remove("manifest.sig")
        .ok_or_else(|| VerifyError::Files("manifest.sig is missing".into()))?;
    let sig = String::from_utf8(sig)
        .map_err(|_| VerifyError::Signature("manifest.sig is not text".into()))?;
    let signed = key
        .open(&sig)
        .map_err(|_| VerifyError::Signature("manifest.sig does not verify with this key".into()))?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|_| VerifyError::Files("manifest.json is not a manifest".into()))?;
    if manifest.format != FORMAT {
        return Err(VerifyError::Files(format!(
            "unknown format `{}`",
            manifest.format
        )));
    }
    if signed != signed_body(&manifest.bundle_id, &sha256_hex(&manifest_bytes)) {
        return Err(VerifyError::Signature(
            "manifest.sig signs another manifest".into(),
        ));
    }
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    if listed.len() != manifest.files.len() {
        return Err(VerifyError::Files("the manifest lists a file twice".into()));
    }
    for f in &manifest.files {
        let bytes = files
            .get(&f.name)
            .ok_or_else(|| VerifyError::Files(format!("`{}` is missing", f.name)))?;
        if bytes.len() as u64 != f.bytes || sha256_hex(bytes) != f.sha256 {
            return Err(VerifyError::Files(format!(
                "`{}` differs from the manifest",
                f.name
            )));
        }
    }
    if let Some(extra) = files.keys().find(|n| !listed.contains(n.as_str())) {
        return Err(VerifyError::Files(format!(
            "`{extra}` is not in the manifest"
        )));
    }

    let log = |m: &str| VerifyError::Log(m.to_owned());
    let cp = files
        .get("audit/checkpoint.txt")
        .ok_or_else(|| log("audit/checkpoint.txt is missing"))?;
    let cp = std::str::from_utf8(cp).map_err(|_| log("the checkpoint is not text"))?;
    let body = key
        .open(cp)
        .map_err(|_| log("the checkpoint does not verify with this key"))?;
    let cp = Checkpoint::parse(body).map_err(|_| log("the checkpoint is malformed"))?;
    if cp.size != manifest.audit_log.tree_size || hex::encode(cp.root) != manifest.audit_log.root {
        return Err(log("the checkpoint and the manifest disagree"));
    }
    let mut consistency_checked = false;
    if let Some(p) = &manifest.previous {
        let c: ConsistencyFile = serde_json::from_slice(
            files
                .get("audit/consistency.json")
                .ok_or_else(|| log("audit/consistency.json is missing"))?,
        )
        .map_err(|_| log("audit/consistency.json is malformed"))?;
        let h = |s: &str| -> Result<Hash, VerifyError> {
            hex::decode(s)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| log("a hash is not 64 hex digits"))
        };
        let proof = c
            .proof
            .iter()
            .map(|x| h(x))
            .collect::<Result<Vec<_>, _>>()?;
        if c.from_size != p.tree_size
            || c.from_root != p.root
            || c.to_size != cp.size
            || h(&c.to_root)? != cp.root
            || !merkle::verify_consistency(
                c.from_size,
                c.to_size,
                &h(&c.from_root)?,
                &cp.root,
                &proof,
            )
        {
            return Err(log(
                "the audit log is not consistent with the previous bundle's",
            ));
        }
        consistency_checked = true;
    }
    // The container must be exactly the one these files make.
    let at: Timestamp = manifest
        .created_at
        .parse()
        .map_err(|_| VerifyError::Files("the manifest's time is malformed".into()))?;
    let mut ordered: Vec<(String, &[u8])> = Vec::new();
    for f in &manifest.files {
        if let Some(b) = files.get(&f.name) {
            ordered.push((f.name.clone(), b));
        }
    }
    ordered.push(("manifest.json".into(), &manifest_bytes));
    ordered.push(("manifest.sig".into(), sig.as_bytes()));
    if container(&ordered, at).map_err(VerifyError::Unreadable)? != bundle {
        return Err(VerifyError::Unreadable(
            "the zip container differs from the one its files make (a header, a name, a time or extra bytes changed)".into(),
        ));
    }
    if let Some(prev) = previous {
        let before = verify(prev, verifier_key, None)
            .map_err(|e| VerifyError::Previous(format!("the previous bundle: {e}")))?;
        let expected = ManifestPrevious {
            bundle_id: before.manifest.bundle_id.clone(),
            created_at: before.manifest.created_at.clone(),
            tree_size: before.manifest.audit_log.tree_size,
            root: before.manifest.audit_log.root.clone(),
            manifest_sha256: before.manifest_sha256.clone(),
        };
        if manifest.previous.as_ref() != Some(&expected) {
            return Err(VerifyError::Previous(
                "this bundle does not follow the previous bundle given".into(),
            ));
        }
    }
    Ok(Verified {
        manifest,
        manifest_sha256: sha256_hex(&manifest_bytes),
        consistency_checked,
    })
}
