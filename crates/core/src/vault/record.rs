//! What the vault stores: per-subject keys, records of sealed cells, and blind indexes.
//! Everything here is already encrypted or keyed; plaintext never reaches a store.

use jiff::Timestamp;

use super::schema::CollectionSchema;

/// A collection as stored, with its schema version (for optimistic concurrency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCollection {
    /// The schema.
    pub schema: CollectionSchema,
    /// Increases by one with every accepted change, from 1.
    pub version: i64,
    /// When the collection was declared.
    pub created_at: Timestamp,
    /// When the schema last changed.
    pub updated_at: Timestamp,
}

/// A data subject's data key, wrapped by the key-encryption key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectKey {
    /// The subject's id, as the business knows it.
    pub subject_id: String,
    /// The version of the data key (bound into every cell's associated data).
    pub key_version: u32,
    /// Which key-encryption key wrapped it.
    pub kek_id: String,
    /// The wrapped data key.
    pub wrapped_dek: Vec<u8>,
    /// When it was made.
    pub created_at: Timestamp,
}

impl SubjectKey {
    /// Whether the key a store holds for the subject, as `key_version` and `wrapped_dek`, is
    /// this very key. The version alone cannot tell: a subject erased and then given a new
    /// first key is at version 1 again. The wrapped form differs between any two keys (each
    /// data key is random); it also changes when the KEK is rotated, so a write that read the
    /// key before a rewrap is refused and retried with the key read again.
    pub fn is_stored_as(&self, key_version: u32, wrapped_dek: &[u8]) -> bool {
        self.key_version == key_version && self.wrapped_dek == wrapped_dek
    }
}

/// The subject key a write's ciphertexts were sealed under, as the store must find it when the
/// write commits (in the same transaction as the write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedUnder {
    /// A new key, the subject's first: stored with the write, which is refused if the subject
    /// has a key already.
    New(SubjectKey),
    /// The key the subject held when it was read: the write is refused unless the subject
    /// still holds this very key ([`SubjectKey::is_stored_as`]).
    Held(SubjectKey),
}

impl SealedUnder {
    /// The key, new or held.
    pub fn key(&self) -> &SubjectKey {
        match self {
            Self::New(k) | Self::Held(k) => k,
        }
    }

    /// The key to store with the write, if it is new.
    pub fn new_key(&self) -> Option<&SubjectKey> {
        match self {
            Self::New(k) => Some(k),
            Self::Held(_) => None,
        }
    }
}

/// A subject key re-wrapped under another KEK (key rotation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrap {
    /// The subject.
    pub subject_id: String,
    /// The KEK that wrapped the stored key (the update applies only if it still does).
    pub old_kek_id: String,
    /// The stored wrapped key that was read (likewise: a key rotated or re-made meanwhile is
    /// left alone).
    pub old_wrapped_dek: Vec<u8>,
    /// The new KEK.
    pub new_kek_id: String,
    /// The key wrapped by the new KEK.
    pub wrapped_dek: Vec<u8>,
}

/// One field's sealed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The field's name.
    pub field: String,
    /// The ciphertext (see `custodian_crypto::vault::seal_cell`).
    pub ciphertext: Vec<u8>,
}

/// One field's blind index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The field's name.
    pub field: String,
    /// The blind index (16 bytes).
    pub index: Vec<u8>,
}

/// A record: one subject's values in one collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Record id (a UUID v7 string).
    pub id: String,
    /// The collection.
    pub collection: String,
    /// The subject the record is about.
    pub subject_id: String,
    /// The data-key version its cells are sealed with.
    pub key_version: u32,
    /// The sealed values, one per field present.
    pub cells: Vec<Cell>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// What an erasure removed, for its proof in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    /// Records deleted.
    pub records: u64,
    /// Whether a data key was destroyed.
    pub key_destroyed: bool,
}

/// Where a sealed value lives: bound into its ciphertext as associated data, so a
/// ciphertext moved to another cell does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellPlace<'a> {
    /// Collection name.
    pub collection: &'a str,
    /// Record id (for a token's sealed value, `token:<token>`).
    pub record: &'a str,
    /// Field name.
    pub field: &'a str,
    /// Version of the data key that sealed it.
    pub key_version: u32,
}

/// A token and the value it stands for, sealed under its subject's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token.
    pub token: String,
    /// The collection whose field typed the value.
    pub collection: String,
    /// The field.
    pub field: String,
    /// The subject the value belongs to.
    pub subject_id: String,
    /// The data-key version that sealed the value.
    pub key_version: u32,
    /// The sealed normalised value (place: `token:<token>` in the collection and field).
    pub ciphertext: Vec<u8>,
    /// When it was issued.
    pub created_at: Timestamp,
}

/// A limit on processing that the vault enforces on reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// Restriction of processing (GDPR Art. 18): reads only for exempt purposes.
    Restriction,
    /// Objection to one purpose (GDPR Art. 21, or an opt-out): no reads for that purpose.
    Objection,
}

impl LimitKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Restriction => "restriction",
            LimitKind::Objection => "objection",
        }
    }

    /// Parses [`LimitKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [LimitKind::Restriction, LimitKind::Objection]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// Parses a kind a store has read back: one it does not know means the stored data is
    /// corrupt (every store writes [`LimitKind::as_str`]).
    pub fn from_stored(s: &str) -> Result<Self, crate::ports::StoreError> {
        Self::parse(s).ok_or_else(|| {
            crate::ports::StoreError::Corrupt(
                "a stored processing limit has an unknown kind".into(),
            )
        })
    }
}

/// A subject's restriction, or objection to one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingLimit {
    /// The subject.
    pub subject_id: String,
    /// Restriction or objection.
    pub kind: LimitKind,
    /// For an objection, the purpose objected to; for a restriction, `*`.
    pub purpose: String,
    /// Since when.
    pub since: Timestamp,
}

/// Purposes a restriction of processing does not stop (GDPR Art. 18(2) and the handling of
/// the subject's own requests): `dsr`, `legal_claims`, `protection_of_rights`,
/// `public_interest`.
pub const RESTRICTION_EXEMPT_PURPOSES: [&str; 4] = [
    "dsr",
    "legal_claims",
    "protection_of_rights",
    "public_interest",
];

/// Purposes an objection does not stop, so none can be recorded (GDPR Art. 21(1): the
/// establishment, exercise or defence of legal claims; and handling the subject's own requests,
/// a legal obligation, which Art. 21 does not reach): `dsr`, `legal_claims`.
pub const OBJECTION_EXEMPT_PURPOSES: [&str; 2] = ["dsr", "legal_claims"];

/// What a read of one record needs from the store: the record, its subject's restrictions and
/// objections, and its subject's wrapped data key (none once the subject is erased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordForRead {
    /// The record with its cells.
    pub record: Record,
    /// Its subject's restrictions and objections.
    pub limits: Vec<ProcessingLimit>,
    /// Its subject's wrapped data key.
    pub key: Option<SubjectKey>,
}

impl ProcessingLimit {
    /// The first of `limits` that refuses a read under `purpose`, if any.
    pub fn refusing<'l>(limits: &'l [ProcessingLimit], purpose: &str) -> Option<&'l Self> {
        limits.iter().find(|l| l.refuses(purpose))
    }

    /// Whether this limit refuses a read under `purpose`.
    pub fn refuses(&self, purpose: &str) -> bool {
        match self.kind {
            LimitKind::Restriction => !RESTRICTION_EXEMPT_PURPOSES.contains(&purpose),
            LimitKind::Objection => {
                self.purpose == purpose && !OBJECTION_EXEMPT_PURPOSES.contains(&purpose)
            }
        }
    }
}
