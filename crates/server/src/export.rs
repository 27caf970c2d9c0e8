//! Export packages of access, portability and categories requests: what the vault and the
//! consent ledger hold about the subject, as a ZIP (`core::rights::export` decides the
//! files), sealed under the requester's key and handed out once through an expiring link.

use std::io::Write as _;

use base64::Engine;
use custodian_core::Timestamp;
use custodian_core::rights::RequestType;
use custodian_core::rights::export::{
    EXPORT_TTL_HOURS, ExportConsent, ExportField, ExportInput, ExportPurpose, ExportRecord,
    RightsExport, build,
};
use custodian_core::rights::request::{RightsRequest, requester_subject};
use custodian_core::vault::record::CellPlace;
use jiff::SignedDuration;

use crate::auth::Caller;
use crate::error::{ApiError, internal};
use crate::middleware::RequestId;
use crate::state::AppState;

/// Where a request's package is sealed (the requester's key, its own field).
pub fn place(request_id: &str) -> CellPlace<'_> {
    CellPlace {
        collection: "rights_requests",
        record: request_id,
        field: "export",
        key_version: 1,
    }
}

/// Whether completing a request of this type makes a package.
pub fn exports(t: RequestType) -> bool {
    matches!(
        t,
        RequestType::Access | RequestType::Portability | RequestType::AccessCategories
    )
}

/// A package just made: the link (shown once) and what it holds.
#[derive(Debug, Clone)]
pub struct ExportLink {
    /// The download URL (`public_url` + path), with its single-use token.
    pub url: String,
    /// The link works until.
    pub expires_at: Timestamp,
    /// Records in the package.
    pub records: usize,
}

fn zip(files: &[(String, Vec<u8>)], at: Timestamp) -> Result<Vec<u8>, ApiError> {
    zip_with(files, at, zip::CompressionMethod::Deflated)
        .map_err(|_| internal("cannot write the export package"))
}

/// The zip of `files` in their order, each entry with the same time and permissions, so the
/// bytes depend on the files, the time and the method alone.
pub(crate) fn zip_with<B: AsRef<[u8]>>(
    files: &[(String, B)],
    at: Timestamp,
    method: zip::CompressionMethod,
) -> Result<Vec<u8>, String> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let dt = at.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let modified = zip::DateTime::from_date_and_time(
        u16::try_from(dt.year()).unwrap_or(1980),
        dt.month().unsigned_abs(),
        dt.day().unsigned_abs(),
        dt.hour().unsigned_abs(),
        dt.minute().unsigned_abs(),
        dt.second().unsigned_abs(),
    )
    .unwrap_or_default();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(modified)
        .unix_permissions(0o644);
    for (name, bytes) in files {
        w.start_file(name.as_str(), options)
            .map_err(|e| e.to_string())?;
        w.write_all(bytes.as_ref()).map_err(|e| e.to_string())?;
    }
    Ok(w.finish().map_err(|e| e.to_string())?.into_inner())
}

/// What the package is built from: the subject's vault records (opened for `dsr`, which
/// needs `data.reveal` on every field), consent states and the declared purposes.
async fn gather(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    r: &RightsRequest,
) -> Result<ExportInput, ApiError> {
    let now = state.clock.now();
    let (mut records, mut consents) = (Vec::new(), Vec::new());
    if let Some(subject) = r.subject_id.as_deref() {
        let (schemas, opened, tokens) =
            crate::routes::vault::open_for_request(state, caller, rid, subject).await?;
        let category = |collection: &str, field: &str| {
            schemas
                .iter()
                .find(|s| s.name == collection)
                .and_then(|s| s.fields.iter().find(|x| x.name == field))
                .map_or_else(|| "user".to_owned(), |x| x.category.clone())
        };
        // A token stands for a value the vault holds about the subject, with or without a
        // record: the package gives it like a record of one field.
        // Numbered, not named by the token: a format-preserving token keeps a card's last
        // digits, and a categories-only package must not carry them.
        for (n, t) in tokens.into_iter().enumerate() {
            records.push(ExportRecord {
                source: "vault_token".to_owned(),
                collection: t.collection.clone(),
                record_id: format!("token-{}", n + 1),
                created_at: t.created_at,
                updated_at: t.created_at,
                fields: vec![ExportField {
                    category: category(&t.collection, &t.field),
                    field: t.field,
                    value: t.value,
                }],
            });
        }
        for o in opened {
            records.push(ExportRecord {
                source: "vault".to_owned(),
                collection: o.collection.clone(),
                record_id: o.id,
                created_at: o.created_at,
                updated_at: o.updated_at,
                fields: o
                    .fields
                    .into_iter()
                    .map(|f| ExportField {
                        category: category(&o.collection, &f.field),
                        field: f.field,
                        value: f.value,
                    })
                    .collect(),
            });
        }
        let pseudonym = state.vault_crypto.pseudonym(subject);
        for c in state.store.subject_consents(&pseudonym).await? {
            consents.push(ExportConsent {
                purpose: c.purpose,
                state: c.state.as_str().to_owned(),
                at: c.at,
                method: c.method.as_str().to_owned(),
            });
        }
    }
    let purposes = state
        .store
        .list_purposes()
        .await?
        .into_iter()
        .map(|p| {
            let p = p.purpose;
            ExportPurpose {
                name: p
                    .names
                    .get("en")
                    .or_else(|| p.names.values().next())
                    .cloned()
                    .unwrap_or_else(|| p.key.clone()),
                description: p
                    .descriptions
                    .get("en")
                    .or_else(|| p.descriptions.values().next())
                    .cloned(),
                legal_basis: p.legal_basis.as_str().to_owned(),
                categories: p.data_categories,
                key: p.key,
            }
        })
        .collect();
    Ok(ExportInput {
        disclosures: None,
        request_id: r.id.clone(),
        request_type: r.request_type().as_str().to_owned(),
        jurisdiction: r.jurisdiction.clone(),
        generated_at: now,
        with_values: r.request_type() != RequestType::AccessCategories,
        records,
        consents,
        purposes,
    })
}

/// Makes the package of `r` (with `found`: rows read from connected databases), seals it
/// under the requester's key and stores it behind a new single-use token (replacing an
/// earlier package of the request), audited as `caller`.
pub async fn make(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    r: &RightsRequest,
    found: Vec<ExportRecord>,
) -> Result<ExportLink, ApiError> {
    let mut input = gather(state, caller, rid, r).await?;
    input.records.extend(found);
    // Who receives each category held and how long it is kept, from the records of
    // processing (said plainly when the map declares nothing).
    let map = custodian_core::map::service::current(state.store.as_ref()).await?;
    if !map.systems.is_empty() || !map.retention_rules.is_empty() {
        let mut held: Vec<String> = input
            .records
            .iter()
            .flat_map(|r| r.fields.iter().map(|f| f.category.clone()))
            .collect();
        held.sort();
        held.dedup();
        input.disclosures = Some(custodian_core::map::ropa::disclosures(&map, &held));
    }
    let now = input.generated_at;
    let bytes = zip(&build(&input), now)?;
    let key = state
        .store
        .subject_key(&requester_subject(&r.id))
        .await?
        .ok_or_else(|| internal("a rights request's requester key is missing"))?;
    let sealed = state
        .vault_crypto
        .data_key(&key)?
        .seal(&place(&r.id), &bytes)?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        custodian_crypto::random::bytes::<32>()
            .map_err(|_| internal("the system random source failed"))?,
    );
    let expires_at = now
        .checked_add(SignedDuration::from_hours(EXPORT_TTL_HOURS))
        .map_err(|_| internal("the export expiry is out of range"))?;
    let export = RightsExport {
        token_hash: custodian_crypto::sha256(token.as_bytes()).to_vec(),
        request_id: r.id.clone(),
        sealed,
        created_at: now,
        expires_at,
        downloaded_at: None,
    };
    let mut audit = crate::gate::draft(
        state,
        caller,
        rid,
        "rights.export_created",
        format!("rights_request:{}", r.id),
        custodian_core::audit::Decision::Allow,
        Some("dsr"),
    );
    audit.subject = r.subject_id.as_deref().map(|s| state.vault().pseudonym(s));
    state.store.create_rights_export(&export, audit).await?;
    metrics::counter!("custodian_rights_exports_total").increment(1);
    let base = state.config.public_url.as_deref().unwrap_or_default();
    Ok(ExportLink {
        url: format!("{base}/v1/privacy-center/exports/{token}"),
        expires_at,
        records: input.records.len(),
    })
}

/// Whether `token` looks like one of ours (32 bytes, base64url).
pub fn valid_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
