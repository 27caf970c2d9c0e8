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
