//! The vault service: validation, sealing, blind indexing, tokenization and erasure, over the
//! [`Store`] port and the [`VaultCrypto`] port. No IO of its own.
//!
//! Architecture invariants:
//! - plaintext is only produced by [`Vault::open_record`] and [`Vault::open_token`], which take
//!   [`Grants`] built from [`Authorized`] capabilities, and which append the audit event before
//!   opening anything (fail closed);
//! - writes take a [`WriteGrant`]: a field without a `data.write` capability is not written;
//! - every event names the subject by its keyed pseudonym, never its id or a value.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use jiff::Timestamp;
use zeroize::Zeroizing;

use super::record::{
    Cell, CellPlace, Erased, IndexEntry, ProcessingLimit, Record, RecordForRead, SealedUnder,
    StoredCollection, SubjectKey, TokenRecord,
};
use super::schema::{CollectionSchema, FieldSpec, SchemaError, Tokenization};
use super::value::{FieldType, luhn_valid};
use crate::access::{Action, Authorized, Resource};
use crate::audit::{AuditDraft, AuditEvent};
use crate::ports::{Store, StoreError};
use crate::rights::request::REQUESTER_PREFIX;

/// Why the crypto port failed. Holds no key material and no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CryptoFailure(pub &'static str);

/// A subject's unwrapped data key, usable only through this interface.
pub trait DataKey: Send + Sync {
    /// Seals `plaintext` for `place`.
    fn seal(&self, place: &CellPlace<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoFailure>;
    /// Opens what [`DataKey::seal`] sealed for the same place.
    fn open(
        &self,
        place: &CellPlace<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoFailure>;
}

/// A fresh data key and its wrapped form.
pub struct NewDataKey {
    /// The key.
    pub key: Box<dyn DataKey>,
    /// The id of the KEK that wrapped it.
    pub kek_id: String,
    /// The wrapped key.
    pub wrapped: Vec<u8>,
}

/// The cryptography the vault needs; `custodian-crypto` implements it.
pub trait VaultCrypto: Send + Sync {
    /// A new data key for `subject_id`, with its wrapped form.
    fn new_data_key(&self, subject_id: &str) -> Result<NewDataKey, CryptoFailure>;
    /// Unwraps a stored subject key.
    fn data_key(&self, key: &SubjectKey) -> Result<Box<dyn DataKey>, CryptoFailure>;
    /// The blind index of a normalised value in one field.
    fn blind_index(
        &self,
        collection: &str,
        field: &str,
        normalized: &str,
    ) -> Result<Vec<u8>, CryptoFailure>;
    /// The keyed pseudonym of a subject, for audit events and the erasure ledger.
    fn pseudonym(&self, subject_id: &str) -> String;
    /// A random token.
    fn random_token(&self) -> Result<String, CryptoFailure>;
    /// The deterministic token of a normalised value in a scope.
    fn deterministic_token(&self, scope: &str, normalized: &str) -> Result<String, CryptoFailure>;
    /// FF1 (AES-256, radix 10) of a digit string under the scope's key.
    fn ff1_digits(&self, scope: &str, digits: &str) -> Result<String, CryptoFailure>;
    /// A key for the server's own secrets (webhook signing secrets, outbox messages), the
    /// same on every node, derived from the root secret under `label`.
    fn system_key(&self, label: &str) -> Result<Box<dyn DataKey>, CryptoFailure>;
}

/// What the vault refuses, and why. Messages hold no personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// No such collection.
    #[error("the collection does not exist")]
    CollectionNotFound,
    /// The schema breaks a rule.
    #[error("invalid schema: {0}")]
    InvalidSchema(SchemaError),
    /// The change would break stored records.
    #[error("incompatible schema change: {0}")]
    IncompatibleSchema(SchemaError),
    /// The collection changed while this request ran.
    #[error("the collection changed meanwhile; read it again")]
    SchemaChanged,
    /// A value breaks its type's rule.
    #[error("{field}: {rule}")]
    InvalidValue {
        /// The field.
        field: String,
        /// The rule.
        rule: &'static str,
    },
    /// The collection has no such field.
    #[error("{0}: the collection has no such field")]
    UnknownField(String),
    /// A required field is missing.
    #[error("{0}: the field is required")]
    MissingField(String),
    /// The field has no blind index.
    #[error("{0}: the field is not searchable")]
    NotSearchable(String),
    /// The field is not tokenized.
    #[error("{0}: the field is not tokenized")]
    NotTokenized(String),
    /// The subject id breaks the rule.
    #[error(
        "subject_id: 1 to 128 characters of A-Z, a-z, 0-9, _, -, . and :, starting with a letter or digit"
    )]
    InvalidSubject,
    /// No such record.
    #[error("the record does not exist")]
    RecordNotFound,
    /// Nothing is held about this subject.
    #[error("nothing is held about this subject")]
    SubjectNotFound,
    /// The subject was erased.
    #[error("the subject was erased")]
    SubjectErased(Timestamp),
    /// No such token (or its subject was erased).
    #[error("the token does not resolve")]
    TokenNotFound,
    /// A field was to be written or opened without its capability.
    #[error("{0}: not authorized for this field")]
    NotGranted(String),
    /// Concurrent changes kept winning; try again.
    #[error("the subject's data changed concurrently; try again")]
    Busy,
    /// The crypto port failed.
    #[error("cryptography failed: {0}")]
    Crypto(CryptoFailure),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl VaultError {
    /// The field the error is about, if one.
    pub fn field(&self) -> Option<&str> {
        match self {
            VaultError::InvalidValue { field, .. } => Some(field),
            VaultError::UnknownField(f)
            | VaultError::MissingField(f)
            | VaultError::NotSearchable(f)
            | VaultError::NotTokenized(f)
            | VaultError::NotGranted(f) => Some(f),
            VaultError::InvalidSchema(e) | VaultError::IncompatibleSchema(e) => e.field.as_deref(),
            _ => None,
        }
    }
}

impl From<StoreError> for VaultError {
    fn from(e: StoreError) -> Self {
        VaultError::Store(e)
    }
}

impl From<CryptoFailure> for VaultError {
    fn from(e: CryptoFailure) -> Self {
        VaultError::Crypto(e)
    }
}

/// [`VaultError::UnknownField`] for a name the caller sent. A name that could not be a field
/// name (it might be a value sent in the wrong place) is not repeated.
pub fn unknown_field(name: &str) -> VaultError {
    VaultError::UnknownField(if super::schema::valid_name(name) {
        name.to_owned()
    } else {
        "(not a field name)".to_owned()
    })
}

/// A record id no record can have (empty, or longer than any id the vault issues) is not
/// looked up: [`VaultError::RecordNotFound`].
fn plausible_record_id(id: &str) -> Result<(), VaultError> {
    if id.is_empty() || id.len() > 64 {
        return Err(VaultError::RecordNotFound);
    }
    Ok(())
}

/// Checks a subject id: 1 to 128 of `A-Z a-z 0-9 _ - . :`, starting with a letter or digit.
/// (No `@`, spaces or other characters, so an email address cannot be used as an id.) Ids
/// starting with [`REQUESTER_PREFIX`] are the product's own: the keys that seal rights
/// requesters' identities, which only the rights workflow uses (a record, a token, an erasure
/// or a key rotation of such a subject through the vault would make a request's requester
/// unreadable or mix other data under its key).
pub fn valid_subject_id(s: &str) -> bool {
    matches!(s.chars().next(), Some(c) if c.is_ascii_alphanumeric())
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        && !s.starts_with(REQUESTER_PREFIX)
}

/// How a field may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldAccess {
    /// Masked.
    Mask,
    /// In plaintext.
    Reveal,
}

impl FieldAccess {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldAccess::Mask => "mask",
            FieldAccess::Reveal => "reveal",
        }
    }
}

/// The fields of one collection a caller may read, each from an [`Authorized`] capability.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    fields: HashMap<(String, String), FieldAccess>,
}

impl Grants {
    /// No grants.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the access an allowed `data.reveal` or `data.mask` request gives to its field;
    /// other capabilities add nothing (and return false).
    pub fn add(&mut self, a: &Authorized) -> bool {
        let access = match a.request().action {
            Action::DataReveal => FieldAccess::Reveal,
            Action::DataMask => FieldAccess::Mask,
            _ => return false,
        };
        let Resource::Field {
            collection, field, ..
        } = &a.request().resource
        else {
            return false;
        };
        let e = self
            .fields
            .entry((collection.clone(), field.clone()))
            .or_insert(access);
        *e = (*e).max(access);
        true
    }

    /// The access granted to a field.
    pub fn access(&self, collection: &str, field: &str) -> Option<FieldAccess> {
        self.fields
            .get(&(collection.to_owned(), field.to_owned()))
            .copied()
    }

    /// Whether nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// The fields of one collection a caller may write, from `data.write` capabilities.
#[derive(Debug, Clone, Default)]
pub struct WriteGrant {
    fields: HashSet<(String, String)>,
}

impl WriteGrant {
    /// No grants.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an allowed `data.write` (or, for deletions, `data.delete`) request's field.
    pub fn add(&mut self, a: &Authorized) -> bool {
        if !matches!(a.request().action, Action::DataWrite | Action::DataDelete) {
            return false;
        }
        let Resource::Field {
            collection, field, ..
        } = &a.request().resource
        else {
            return false;
        };
        self.fields.insert((collection.clone(), field.clone()));
        true
    }

    fn check(&self, collection: &str, field: &str) -> Result<(), VaultError> {
        if self
            .fields
            .contains(&(collection.to_owned(), field.to_owned()))
        {
            Ok(())
        } else {
            Err(VaultError::NotGranted(field.to_owned()))
        }
    }
}

/// One field of an opened record.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedField {
    /// The field.
    pub field: String,
    /// How it was opened.
    pub access: FieldAccess,
    /// The value: the normalised value as JSON, or the mask as a string.
    pub value: serde_json::Value,
}

/// An opened record: what the grants allowed, and which fields were left out.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedRecord {
    /// Record id.
    pub id: String,
    /// Collection.
    pub collection: String,
    /// Subject.
    pub subject_id: String,
    /// The fields opened, in schema order.
    pub fields: Vec<OpenedField>,
    /// Fields present in the record but not granted.
    pub omitted: Vec<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// A token's value, opened for a read of everything held about its subject.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedToken {
    /// The token.
    pub token: String,
    /// The collection whose field typed the value.
    pub collection: String,
    /// The field.
    pub field: String,
    /// Revealed or masked, as the grants decided.
    pub access: FieldAccess,
    /// The value (plaintext or masked).
    pub value: serde_json::Value,
    /// When the token was issued.
    pub created_at: Timestamp,
}

/// A new record's values, by field name (JSON as received).
pub type Values = BTreeMap<String, serde_json::Value>;

/// What a write returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The record.
    pub id: String,
    /// Tokens issued for the record's tokenized fields, by field.
    pub tokens: BTreeMap<String, String>,
    /// The audit event.
    pub event: AuditEvent,
}

const ATTEMPTS: usize = 4;
/// The largest page of search results.
pub const MAX_PAGE: u32 = 100;

/// The vault over a store and a crypto provider.
#[derive(Clone, Copy)]
pub struct Vault<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// The cryptography.
    pub crypto: &'a dyn VaultCrypto,
    /// Subjects this process has seen holding a key (see [`KeyHints`]); without hints every
    /// write looks the subject's key up first.
    hints: Option<&'a KeyHints>,
}

/// The subjects a process has seen holding a data key, so that a record for a subject it has
/// not seen is written with a new key at once, without first asking the store for a key that
/// is most likely absent (a store read per create, saved). A hint is never trusted for
/// correctness: the store refuses a new key for a subject that already has one
/// (`Conflict("subject_key")`), and the write is then retried with the stored key. What is
/// held is a 64-bit keyed hash of each subject id (keyed per process), never the id; a
/// collision only costs the lookup the hint would have saved. Bounded: when
/// [`KeyHints::CAPACITY`] subjects are held the set is emptied and fills again.
#[derive(Debug, Default)]
pub struct KeyHints {
    hasher: RandomState,
    seen: Mutex<HashSet<u64>>,
}

impl KeyHints {
    /// The most subjects held at once.
    pub const CAPACITY: usize = 1 << 18;

    /// Empty hints.
    pub fn new() -> Self {
        Self::default()
    }

    fn hash(&self, subject_id: &str) -> u64 {
        self.hasher.hash_one(subject_id)
    }

    /// Whether `subject_id` was seen holding a key.
    pub fn has_key(&self, subject_id: &str) -> bool {
        let h = self.hash(subject_id);
        self.seen.lock().is_ok_and(|s| s.contains(&h))
    }

    /// Notes that `subject_id` holds a key.
    pub fn saw_key(&self, subject_id: &str) {
        let h = self.hash(subject_id);
        if let Ok(mut s) = self.seen.lock() {
            if s.len() >= Self::CAPACITY {
                s.clear();
            }
            s.insert(h);
        }
    }

    /// How many subjects are held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.len())
    }
}

/// A subject's data key, and whether it still has to be stored.
struct KeyInUse {
    key: Box<dyn DataKey>,
    sealed: SealedUnder,
}

impl KeyInUse {
    /// The key's version (bound into every cell sealed under it).
    fn version(&self) -> u32 {
        self.sealed.key().key_version
    }
}

impl<'a> Vault<'a> {
    /// A vault over `store` and `crypto`.
    pub fn new(store: &'a dyn Store, crypto: &'a dyn VaultCrypto) -> Self {
        Self {
            store,
            crypto,
            hints: None,
        }
    }

    /// This vault, writing records of subjects `hints` has not seen with a new key at once.
    #[must_use]
    pub fn with_hints(self, hints: &'a KeyHints) -> Self {
        Self {
            hints: Some(hints),
            ..self
        }
    }

    /// The pseudonym of a subject, as audit events and the ledger name it.
    pub fn pseudonym(&self, subject_id: &str) -> String {
        self.crypto.pseudonym(subject_id)
    }

    /// The collection, or [`VaultError::CollectionNotFound`].
    pub async fn collection(&self, name: &str) -> Result<StoredCollection, VaultError> {
        self.store
            .get_collection(name)
            .await?
            .ok_or(VaultError::CollectionNotFound)
    }

    /// Declares a collection or changes its schema; returns the version and whether it was new.
    /// An identical schema changes nothing (the event is still recorded).
    pub async fn declare(
        &self,
        schema: &CollectionSchema,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(i64, bool), VaultError> {
        schema.validate().map_err(VaultError::InvalidSchema)?;
        match self.store.get_collection(&schema.name).await? {
            None => match self.store.put_collection(schema, None, at, audit).await {
                Ok(v) => Ok((v, true)),
                Err(StoreError::Conflict(_)) => Err(VaultError::SchemaChanged),
                Err(e) => Err(e.into()),
            },
            Some(old) if old.schema == *schema => {
                self.store.append_audit(audit).await?;
                Ok((old.version, false))
            }
            Some(old) => {
                let has_records = self.store.collection_has_records(&schema.name).await?;
                old.schema
                    .check_change(schema, has_records)
                    .map_err(VaultError::IncompatibleSchema)?;
                match self
                    .store
                    .put_collection(schema, Some(old.version), at, audit)
                    .await
                {
                    Ok(v) => Ok((v, false)),
                    Err(StoreError::Conflict(_)) => Err(VaultError::SchemaChanged),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Validates and normalises `values` against the schema: unknown fields, missing required
    /// fields (when `complete`) and bad values are refused, naming the field.
    pub fn normalize<'s>(
        schema: &'s CollectionSchema,
        values: &Values,
        complete: bool,
    ) -> Result<Vec<(&'s FieldSpec, Zeroizing<String>)>, VaultError> {
        if let Some(unknown) = values.keys().find(|k| schema.field(k).is_none()) {
            return Err(unknown_field(unknown));
        }
        let mut out = Vec::with_capacity(values.len());
        for f in &schema.fields {
            match values.get(&f.name) {
                Some(v) => {
                    let n =
                        f.field_type
                            .normalize_json(v)
                            .map_err(|e| VaultError::InvalidValue {
                                field: f.name.clone(),
                                rule: e.0,
                            })?;
                    if f.required && n.trim().is_empty() {
                        // Blank text would meet `required` in name only.
                        return Err(VaultError::InvalidValue {
                            field: f.name.clone(),
                            rule: "required: must not be blank",
                        });
                    }
                    out.push((f, Zeroizing::new(n)));
                }
                None if complete && f.required => {
                    return Err(VaultError::MissingField(f.name.clone()));
                }
                None => {}
            }
        }
        Ok(out)
    }

    async fn key_for(&self, subject_id: &str, at: Timestamp) -> Result<KeyInUse, VaultError> {
        match self.store.subject_key(subject_id).await? {
            Some(k) => {
                if let Some(h) = self.hints {
                    h.saw_key(subject_id);
                }
                Ok(KeyInUse {
                    key: self.crypto.data_key(&k)?,
                    sealed: SealedUnder::Held(k),
                })
            }
            None => self.new_key(subject_id, at),
        }
    }

    /// The key for a write's `attempt`: on the first, a new key without asking the store when
    /// the hints have not seen the subject hold one (the store refuses it if the subject does,
    /// and the next attempt looks the key up); otherwise the stored key, or a new one.
    async fn key_for_attempt(
        &self,
        subject_id: &str,
        at: Timestamp,
        attempt: usize,
    ) -> Result<KeyInUse, VaultError> {
        match self.hints {
            Some(h) if attempt == 0 && !h.has_key(subject_id) => self.new_key(subject_id, at),
            _ => self.key_for(subject_id, at).await,
        }
    }

    /// A new data key for `subject_id`, still to be stored.
    fn new_key(&self, subject_id: &str, at: Timestamp) -> Result<KeyInUse, VaultError> {
        let NewDataKey {
            key,
            kek_id,
            wrapped: wrapped_dek,
        } = self.crypto.new_data_key(subject_id)?;
        Ok(KeyInUse {
            key,
            sealed: SealedUnder::New(SubjectKey {
                subject_id: subject_id.to_owned(),
                key_version: 1,
                kek_id,
                wrapped_dek,
                created_at: at,
            }),
        })
    }

    fn index_entries(
        &self,
        collection: &str,
        values: &[(&FieldSpec, Zeroizing<String>)],
    ) -> Result<Vec<IndexEntry>, VaultError> {
        values
            .iter()
            .filter(|(f, _)| f.searchable)
            .map(|(f, v)| {
                Ok(IndexEntry {
                    field: f.name.clone(),
                    index: self.crypto.blind_index(collection, &f.name, v)?,
                })
            })
            .collect()
    }

    /// Stores a new record for `subject_id` with id `record_id`, issuing tokens for its
    /// tokenized fields. `audit` is the event of the request (its subject is set here).
    #[allow(clippy::too_many_arguments)]
    pub async fn create_record(
        &self,
        collection: &str,
        record_id: &str,
        subject_id: &str,
        values: &Values,
        grant: &WriteGrant,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Written, VaultError> {
        if !valid_subject_id(subject_id) {
            return Err(VaultError::InvalidSubject);
        }
        let coll = self.collection(collection).await?;
        let normalized = Self::normalize(&coll.schema, values, true)?;
        for (f, _) in &normalized {
            grant.check(collection, &f.name)?;
        }
        let indexes = self.index_entries(collection, &normalized)?;
        let mut audit = audit.with_subject(Some(self.pseudonym(subject_id)));
        audit.fields = normalized.iter().map(|(f, _)| f.name.clone()).collect();
        for attempt in 0..ATTEMPTS {
            let k = self.key_for_attempt(subject_id, at, attempt).await?;
            let cells = normalized
                .iter()
                .map(|(f, v)| {
                    let place = CellPlace {
                        collection,
                        record: record_id,
                        field: &f.name,
                        key_version: k.version(),
                    };
                    Ok(Cell {
                        field: f.name.clone(),
                        ciphertext: k.key.seal(&place, v.as_bytes())?,
                    })
                })
                .collect::<Result<Vec<_>, VaultError>>()?;
            let record = Record {
                id: record_id.to_owned(),
                collection: collection.to_owned(),
                subject_id: subject_id.to_owned(),
                key_version: k.version(),
                cells,
                created_at: at,
                updated_at: at,
            };
            let tokens = self.seal_tokens(
                collection,
                subject_id,
                &normalized,
                k.key.as_ref(),
                k.version(),
                at,
            )?;
            let outcome = self
                .store
                .insert_record(&record, &k.sealed, &indexes, &tokens, audit.clone())
                .await;
            // A key read from the store was noted by `key_for`; a new one, once stored.
            if let (Some(h), SealedUnder::New(_), Ok(_)) = (self.hints, &k.sealed, &outcome) {
                h.saw_key(subject_id);
            }
            match outcome {
                Ok(event) => {
                    return Ok(Written {
                        id: record_id.to_owned(),
                        tokens: token_map(&tokens),
                        event,
                    });
                }
                Err(StoreError::Conflict("subject_key")) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Busy)
    }

    /// The tokens of a record's tokenized values, sealed under the record's key (so they are
    /// stored in the record's own transaction, and die with its key).
    fn seal_tokens(
        &self,
        collection: &str,
        subject_id: &str,
        normalized: &[(&FieldSpec, Zeroizing<String>)],
        key: &dyn DataKey,
        version: u32,
        at: Timestamp,
    ) -> Result<Vec<TokenRecord>, VaultError> {
        normalized
            .iter()
            .filter(|(f, _)| f.tokenization != Tokenization::None)
            .map(|(f, v)| {
                let token = self.make_token(collection, f, v)?;
                let record = format!("token:{token}");
                let place = CellPlace {
                    collection,
                    record: &record,
                    field: &f.name,
                    key_version: version,
                };
                Ok(TokenRecord {
                    ciphertext: key.seal(&place, v.as_bytes())?,
                    token,
                    collection: collection.to_owned(),
                    field: f.name.clone(),
                    subject_id: subject_id.to_owned(),
                    key_version: version,
                    created_at: at,
                })
            })
            .collect()
    }

    /// The token of a normalised value in a field, by the field's tokenization mode.
    fn make_token(
        &self,
        collection: &str,
        f: &FieldSpec,
        normalized: &str,
    ) -> Result<String, VaultError> {
        let scope = format!("{collection}.{}", f.name);
        match f.tokenization {
            Tokenization::None => Err(VaultError::NotTokenized(f.name.clone())),
            Tokenization::Random => Ok(self.crypto.random_token()?),
            Tokenization::Deterministic => {
                Ok(self.crypto.deterministic_token(&scope, normalized)?)
            }
            Tokenization::FormatPreserving => {
                format_preserving(self.crypto, &scope, f.field_type, normalized)
            }
        }
    }

    async fn store_token(
        &self,
        collection: &str,
        f: &FieldSpec,
        subject_id: &str,
        normalized: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<String, VaultError> {
        let token = self.make_token(collection, f, normalized)?;
        let record = format!("token:{token}");
        for _ in 0..ATTEMPTS {
            let k = self.key_for(subject_id, at).await?;
            let place = CellPlace {
                collection,
                record: &record,
                field: &f.name,
                key_version: k.version(),
            };
            let t = TokenRecord {
                token: token.clone(),
                collection: collection.to_owned(),
                field: f.name.clone(),
                subject_id: subject_id.to_owned(),
                key_version: k.version(),
                ciphertext: k.key.seal(&place, normalized.as_bytes())?,
                created_at: at,
            };
            match self.store.put_token(&t, &k.sealed, audit.clone()).await {
                Ok(_) => return Ok(token),
                Err(StoreError::Conflict("subject_key")) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Busy)
    }

    /// Tokenizes one value of a tokenized field for a subject.
    #[allow(clippy::too_many_arguments)]
    pub async fn tokenize(
        &self,
        collection: &str,
        field: &str,
        subject_id: &str,
        value: &serde_json::Value,
        grant: &WriteGrant,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<String, VaultError> {
        if !valid_subject_id(subject_id) {
            return Err(VaultError::InvalidSubject);
        }
        let coll = self.collection(collection).await?;
        let f = coll
            .schema
            .field(field)
            .ok_or_else(|| unknown_field(field))?;
        if f.tokenization == Tokenization::None {
            return Err(VaultError::NotTokenized(field.to_owned()));
        }
        grant.check(collection, field)?;
        let normalized = Zeroizing::new(f.field_type.normalize_json(value).map_err(|e| {
            VaultError::InvalidValue {
                field: field.to_owned(),
                rule: e.0,
            }
        })?);
        let mut audit = audit.with_subject(Some(self.pseudonym(subject_id)));
        audit.fields = vec![field.to_owned()];
        self.store_token(collection, f, subject_id, &normalized, at, audit)
            .await
    }

    /// The live records of a token (none: it does not resolve).
    pub async fn resolve_token(&self, token: &str) -> Result<Vec<TokenRecord>, VaultError> {
        if token.is_empty() || token.len() > 128 {
            return Err(VaultError::TokenNotFound);
        }
        Ok(self.store.get_token(token).await?)
    }

    /// Opens a token's value, after appending `audit` (which must record the reveal).
    pub async fn open_token(
        &self,
        t: &TokenRecord,
        grants: &Grants,
        audit: AuditDraft,
    ) -> Result<serde_json::Value, VaultError> {
        if grants.access(&t.collection, &t.field) != Some(FieldAccess::Reveal) {
            return Err(VaultError::NotGranted(t.field.clone()));
        }
        let coll = self.collection(&t.collection).await?;
        let f = coll
            .schema
            .field(&t.field)
            .ok_or_else(|| unknown_field(&t.field))?;
        let key = match self.store.subject_key(&t.subject_id).await? {
            Some(k) if k.key_version == t.key_version => k,
            Some(_) => return Err(VaultError::Busy),
            None => return Err(VaultError::TokenNotFound),
        };
        let dek = self.crypto.data_key(&key)?;
        self.store.append_audit(audit).await?;
        let record = format!("token:{}", t.token);
        let place = CellPlace {
            collection: &t.collection,
            record: &record,
            field: &t.field,
            key_version: t.key_version,
        };
        let plain = match dek.open(&place, &t.ciphertext) {
            Ok(plain) => plain,
            Err(e) => {
                // The token and the key were read apart: the subject may have been erased
                // between the two and come back with a new first key of the same version.
                let live = self.store.get_token(&t.token).await?;
                return Err(if live.contains(t) {
                    VaultError::Crypto(e)
                } else if live.is_empty() {
                    VaultError::TokenNotFound
                } else {
                    VaultError::Busy
                });
            }
        };
        let text = std::str::from_utf8(&plain)
            .map_err(|_| VaultError::Crypto(CryptoFailure("a sealed value is not text")))?;
        Ok(f.field_type.to_json(text))
    }

    /// One sealed record, or [`VaultError::RecordNotFound`].
    pub async fn record(&self, collection: &str, id: &str) -> Result<Record, VaultError> {
        plausible_record_id(id)?;
        self.store
            .get_record(collection, id)
            .await?
            .ok_or(VaultError::RecordNotFound)
    }

    /// One sealed record with its subject's limits and wrapped data key, as a read needs them
    /// (one store call), or [`VaultError::RecordNotFound`].
    pub async fn record_for_read(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<RecordForRead, VaultError> {
        plausible_record_id(id)?;
        self.store
            .record_for_read(collection, id)
            .await?
            .ok_or(VaultError::RecordNotFound)
    }

    /// The restriction or objection that refuses reads of `subject_id` under `purpose`, if any.
    pub async fn limit_refusing(
        &self,
        subject_id: &str,
        purpose: &str,
    ) -> Result<Option<ProcessingLimit>, VaultError> {
        let limits = self.store.processing_limits(subject_id).await?;
        Ok(ProcessingLimit::refusing(&limits, purpose).cloned())
    }

    /// Opens the granted fields of records (masked or in plaintext), after appending `audits`
    /// (one per record; nothing is opened if any fails to be written).
    pub async fn open_records(
        &self,
        schemas: &HashMap<String, CollectionSchema>,
        records: &[Record],
        grants: &Grants,
        audits: Vec<AuditDraft>,
    ) -> Result<Vec<OpenedRecord>, VaultError> {
        let mut keys: HashMap<&str, Box<dyn DataKey>> = HashMap::new();
        for r in records {
            if keys.contains_key(r.subject_id.as_str()) {
                continue;
            }
            let key = self.store.subject_key(&r.subject_id).await?;
            keys.insert(&r.subject_id, self.data_key_of(r, key.as_ref())?);
        }
        for a in audits {
            self.store.append_audit(a).await?;
        }
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let schema = schemas
                .get(&r.collection)
                .ok_or(VaultError::CollectionNotFound)?;
            let dek = keys
                .get(r.subject_id.as_str())
                .ok_or(VaultError::RecordNotFound)?;
            match open_one(schema, r, dek.as_ref(), grants) {
                Ok(opened) => out.push(opened),
                // The record and its subject's key were read apart: the subject may have been
                // erased between the two and come back with a new first key of the same
                // version. Only a record still stored as read is a real failure.
                Err(VaultError::Crypto(e)) => {
                    return Err(match self.store.get_record(&r.collection, &r.id).await? {
                        Some(now) if now == *r => VaultError::Crypto(e),
                        Some(_) => VaultError::Busy,
                        None => VaultError::RecordNotFound,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The data key that opens `record`, from its subject's wrapped `key`.
    fn data_key_of(
        &self,
        record: &Record,
        key: Option<&SubjectKey>,
    ) -> Result<Box<dyn DataKey>, VaultError> {
        match key {
            Some(k) if k.key_version == record.key_version => Ok(self.crypto.data_key(k)?),
            // Rotated between the reads: the caller may retry (409 concurrent_change).
            Some(_) => Err(VaultError::Busy),
            // Erased between the reads.
            None => Err(VaultError::RecordNotFound),
        }
    }

    /// Opens one record read with [`Vault::record_for_read`]: as [`Vault::open_records`], with
    /// the subject's key as read with the record.
    pub async fn open_read(
        &self,
        schema: &CollectionSchema,
        read: &RecordForRead,
        grants: &Grants,
        audit: AuditDraft,
    ) -> Result<OpenedRecord, VaultError> {
        let dek = self.data_key_of(&read.record, read.key.as_ref())?;
        self.store.append_audit(audit).await?;
        open_one(schema, &read.record, dek.as_ref(), grants)
    }

    /// Rectifies a record: the given fields are replaced (`null` removes an optional field),
    /// indexes follow, tokens are issued for new values of tokenized fields.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_record(
        &self,
        collection: &str,
        id: &str,
        changes: &Values,
        grant: &WriteGrant,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Written, VaultError> {
        let coll = self.collection(collection).await?;
        let schema = &coll.schema;
        let (removals, sets): (Values, Values) = changes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(_, v)| v.is_null());
        let normalized = Self::normalize(schema, &sets, false)?;
        for name in removals.keys() {
            let f = schema.field(name).ok_or_else(|| unknown_field(name))?;
            if f.required {
                return Err(VaultError::MissingField(name.clone()));
            }
        }
        for name in changes.keys() {
            grant.check(collection, name)?;
        }
        'attempts: for _ in 0..ATTEMPTS {
            let old = self.record(collection, id).await?;
            let Some(key) = self
                .store
                .subject_key(&old.subject_id)
                .await?
                .filter(|k| k.key_version == old.key_version)
            else {
                // The subject's key rotated (or was erased) between the two reads: read again.
                continue;
            };
            let dek = self.crypto.data_key(&key)?;
            let mut cells: Vec<Cell> = old
                .cells
                .iter()
                .filter(|c| !changes.contains_key(&c.field))
                .cloned()
                .collect();
            // Indexes of the fields kept are recomputed from their (opened) values.
            let mut kept = Vec::new();
            for c in &cells {
                if let Some(f) = schema.field(&c.field).filter(|f| f.searchable) {
                    let place = CellPlace {
                        collection,
                        record: id,
                        field: &c.field,
                        key_version: old.key_version,
                    };
                    let plain = match dek.open(&place, &c.ciphertext) {
                        Ok(plain) => plain,
                        Err(e) => {
                            // The record and the key were read apart: the subject may have
                            // been erased and come back (a new first key, same version) since.
                            // Only both still stored as read make the failure real.
                            let same_key = self
                                .store
                                .subject_key(&old.subject_id)
                                .await?
                                .is_some_and(|k| k.is_stored_as(key.key_version, &key.wrapped_dek));
                            let same_record =
                                self.store.get_record(collection, id).await?.as_ref() == Some(&old);
                            if same_key && same_record {
                                return Err(e.into());
                            }
                            continue 'attempts;
                        }
                    };
                    let text = String::from_utf8(plain.to_vec()).map_err(|_| {
                        VaultError::Crypto(CryptoFailure("a sealed value is not text"))
                    })?;
                    kept.push((f, Zeroizing::new(text)));
                }
            }
            for (f, v) in &normalized {
                let place = CellPlace {
                    collection,
                    record: id,
                    field: &f.name,
                    key_version: old.key_version,
                };
                cells.push(Cell {
                    field: f.name.clone(),
                    ciphertext: dek.seal(&place, v.as_bytes())?,
                });
            }
            let mut indexes = self.index_entries(collection, &kept)?;
            indexes.extend(self.index_entries(collection, &normalized)?);
            let record = Record {
                cells,
                // Strictly later than what was read, so the store's check sees every change.
                updated_at: at.max(
                    old.updated_at
                        .checked_add(jiff::SignedDuration::from_millis(1))
                        .unwrap_or(old.updated_at),
                ),
                ..old.clone()
            };
            let mut draft = audit
                .clone()
                .with_subject(Some(self.pseudonym(&old.subject_id)));
            draft.fields = changes.keys().cloned().collect();
            let tokens = self.seal_tokens(
                collection,
                &old.subject_id,
                &normalized,
                dek.as_ref(),
                old.key_version,
                at,
            )?;
            match self
                .store
                .update_record(
                    &record,
                    &key,
                    old.updated_at,
                    &indexes,
                    &tokens,
                    draft.clone(),
                )
                .await
            {
                Ok(event) => {
                    return Ok(Written {
                        id: id.to_owned(),
                        tokens: token_map(&tokens),
                        event,
                    });
                }
                Err(StoreError::NotFound) => return Err(VaultError::RecordNotFound),
                Err(StoreError::Conflict("record_version" | "subject_key")) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Busy)
    }

    /// Deletes one record (its subject's key and other records stay).
    pub async fn delete_record(
        &self,
        collection: &str,
        id: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, VaultError> {
        let old = self.record(collection, id).await?;
        let draft = audit.with_subject(Some(self.pseudonym(&old.subject_id)));
        match self.store.delete_record(collection, id, draft).await {
            Ok(e) => Ok(e),
            Err(StoreError::NotFound) => Err(VaultError::RecordNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Records whose searchable `field` equals `value` (normalised by the field's type).
    pub async fn search(
        &self,
        collection: &StoredCollection,
        field: &str,
        value: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Record>, VaultError> {
        let name = &collection.schema.name;
        let f = collection
            .schema
            .field(field)
            .ok_or_else(|| unknown_field(field))?;
        if !f.searchable {
            return Err(VaultError::NotSearchable(field.to_owned()));
        }
        let normalized = Zeroizing::new(f.field_type.normalize(value).map_err(|e| {
            VaultError::InvalidValue {
                field: field.to_owned(),
                rule: e.0,
            }
        })?);
        let index = self.crypto.blind_index(name, field, &normalized)?;
        Ok(self
            .store
            .find_records(name, field, &index, after, limit.clamp(1, MAX_PAGE))
            .await?)
    }

    /// The subjects holding a record whose searchable email field equals `email` (normalised),
    /// across every collection, without repeats, in order. Only blind indexes are read.
    ///
    /// # Errors
    ///
    /// [`VaultError::InvalidValue`] if `email` is not an email address.
    pub async fn subjects_with_email(&self, email: &str) -> Result<Vec<String>, VaultError> {
        let normalized = Zeroizing::new(FieldType::Email.normalize(email).map_err(|e| {
            VaultError::InvalidValue {
                field: "email".to_owned(),
                rule: e.0,
            }
        })?);
        let mut subjects = std::collections::BTreeSet::new();
        for c in self.store.list_collections().await? {
            let name = &c.schema.name;
            for f in c
                .schema
                .fields
                .iter()
                .filter(|f| f.searchable && f.field_type == FieldType::Email)
            {
                let index = self.crypto.blind_index(name, &f.name, &normalized)?;
                let mut after: Option<String> = None;
                loop {
                    let page = self
                        .store
                        .find_records(name, &f.name, &index, after.as_deref(), MAX_PAGE)
                        .await?;
                    let full = page.len() as u32 == MAX_PAGE;
                    after = page.last().map(|r| r.id.clone());
                    subjects.extend(page.into_iter().map(|r| r.subject_id));
                    if !full {
                        break;
                    }
                }
            }
        }
        Ok(subjects.into_iter().collect())
    }

    /// Everything held about a subject: its records and its tokens (a token may be issued
    /// without a record, through `tokenize`). [`VaultError::SubjectErased`] if it was erased and
    /// nothing was stored since; [`VaultError::SubjectNotFound`] if nothing is held.
    pub async fn subject_holdings(
        &self,
        subject_id: &str,
    ) -> Result<(Vec<Record>, Vec<TokenRecord>), VaultError> {
        if !valid_subject_id(subject_id) {
            return Err(VaultError::InvalidSubject);
        }
        let records = self.store.subject_records(subject_id).await?;
        let tokens = self.store.subject_tokens(subject_id).await?;
        if records.is_empty() && tokens.is_empty() {
            return Err(self.absent(subject_id).await?);
        }
        Ok((records, tokens))
    }

    /// Opens a subject's `tokens` in the fields `grants` allows (revealed or masked), after
    /// appending `audit` with the fields read (nothing is appended when none is granted).
    /// A token gone since it was read (an erasure) is left out.
    pub async fn open_tokens(
        &self,
        schemas: &HashMap<String, CollectionSchema>,
        subject_id: &str,
        tokens: &[TokenRecord],
        grants: &Grants,
        mut audit: AuditDraft,
    ) -> Result<Vec<OpenedToken>, VaultError> {
        let granted: Vec<(&TokenRecord, FieldAccess, &FieldSpec)> = tokens
            .iter()
            .filter(|t| t.subject_id == subject_id)
            .filter_map(|t| {
                let access = grants.access(&t.collection, &t.field)?;
                let spec = schemas.get(&t.collection)?.field(&t.field)?;
                Some((t, access, spec))
            })
            .collect();
        if granted.is_empty() {
            return Ok(Vec::new());
        }
        let Some(key) = self.store.subject_key(subject_id).await? else {
            // Erased since the tokens were read: nothing left to show.
            return Ok(Vec::new());
        };
        let dek = self.crypto.data_key(&key)?;
        // Named like a record read's event, so access monitoring counts it.
        audit.action = if granted.iter().any(|(_, a, _)| *a == FieldAccess::Reveal) {
            "data.reveal"
        } else {
            "data.mask"
        }
        .to_owned();
        audit.fields = granted
            .iter()
            .map(|(t, a, _)| format!("{}.{}:{}", t.collection, t.field, a.as_str()))
            .collect();
        audit.fields.sort();
        audit.fields.dedup();
        self.store.append_audit(audit).await?;
        let mut out = Vec::with_capacity(granted.len());
        for (t, access, spec) in granted {
            let record = format!("token:{}", t.token);
            let place = CellPlace {
                collection: &t.collection,
                record: &record,
                field: &t.field,
                key_version: t.key_version,
            };
            let opened = match dek.open(&place, &t.ciphertext) {
                Ok(plain) => plain,
                Err(e) => {
                    // Read apart from the key: gone since (erased, the subject back) is left
                    // out, changed (re-sealed by a rotation) is read again by the caller;
                    // still stored as read, the failure is real.
                    let live = self.store.get_token(&t.token).await?;
                    if live.contains(t) {
                        return Err(VaultError::Crypto(e));
                    }
                    if live.iter().any(|l| l.subject_id == t.subject_id) {
                        return Err(VaultError::Busy);
                    }
                    continue;
                }
            };
            let text = std::str::from_utf8(&opened)
                .map_err(|_| VaultError::Crypto(CryptoFailure("a sealed value is not text")))?;
            let value = match access {
                FieldAccess::Reveal => spec.field_type.to_json(text),
                FieldAccess::Mask => serde_json::Value::String(super::mask::default_mask(
                    spec.field_type,
                    &spec.category,
                    text,
                )),
            };
            out.push(OpenedToken {
                token: t.token.clone(),
                collection: t.collection.clone(),
                field: t.field.clone(),
                access,
                value,
                created_at: t.created_at,
            });
        }
        Ok(out)
    }

    /// Why nothing is held about a subject.
    async fn absent(&self, subject_id: &str) -> Result<VaultError, VaultError> {
        Ok(
            match self.store.erased_at(&self.pseudonym(subject_id)).await? {
                Some(at) => VaultError::SubjectErased(at),
                None => VaultError::SubjectNotFound,
            },
        )
    }

    /// Erases a subject by crypto-shredding: its data key, records, indexes, tokens and
    /// limits go, and its pseudonym enters the erasure ledger.
    pub async fn erase(
        &self,
        subject_id: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Erased, VaultError> {
        if !valid_subject_id(subject_id) {
            return Err(VaultError::InvalidSubject);
        }
        if self.store.subject_key(subject_id).await?.is_none() {
            return Err(self.absent(subject_id).await?);
        }
        let pseudonym = self.pseudonym(subject_id);
        let audit = audit.with_subject(Some(pseudonym.clone()));
        Ok(self
            .store
            .erase_subject(subject_id, &pseudonym, at, None, audit)
            .await?)
    }

    /// Rotates a subject's data key: a new key (the next version) is made and every record
    /// cell and token of the subject is re-sealed under it (their associated data names the new
    /// version), in one transaction with the key's replacement; the old key is gone with it.
    /// Retries when the subject's data changes meanwhile. Returns the new version.
    pub async fn rotate_data_key(
        &self,
        subject_id: &str,
        audit: AuditDraft,
    ) -> Result<u32, VaultError> {
        if !valid_subject_id(subject_id) {
            return Err(VaultError::InvalidSubject);
        }
        let audit = audit.with_subject(Some(self.pseudonym(subject_id)));
        for _ in 0..ATTEMPTS {
            let Some(old) = self.store.subject_key(subject_id).await? else {
                return Err(self.absent(subject_id).await?);
            };
            if let Some(version) = self.rotate_from(subject_id, &old, &audit).await? {
                return Ok(version);
            }
        }
        Err(VaultError::Busy)
    }

    /// One attempt of [`Vault::rotate_data_key`] from `old`, the key read: the new version, or
    /// `None` when the subject's data changed meanwhile and the attempt must be made again
    /// from a fresh read (public so that the conformance suite can hand it a stale key).
    pub async fn rotate_from(
        &self,
        subject_id: &str,
        old: &SubjectKey,
        audit: &AuditDraft,
    ) -> Result<Option<u32>, VaultError> {
        let old_dek = self.crypto.data_key(old)?;
        let NewDataKey {
            key: new_dek,
            kek_id,
            wrapped,
        } = self.crypto.new_data_key(subject_id)?;
        let version = old.key_version + 1;
        let reseal = |collection: &str, record: &str, field: &str, sealed: &[u8]| {
            let from = CellPlace {
                collection,
                record,
                field,
                key_version: old.key_version,
            };
            let plain = old_dek.open(&from, sealed)?;
            let to = CellPlace {
                key_version: version,
                ..from
            };
            new_dek.seal(&to, &plain)
        };
        let mut records = self.store.subject_records(subject_id).await?;
        let mut tokens = self.store.subject_tokens(subject_id).await?;
        let resealed = (|| {
            for r in &mut records {
                if r.key_version != old.key_version {
                    return Err(VaultError::Crypto(CryptoFailure(
                        "a record is sealed under another key version than its subject's",
                    )));
                }
                for c in &mut r.cells {
                    c.ciphertext = reseal(&r.collection, &r.id, &c.field, &c.ciphertext)?;
                }
                r.key_version = version;
            }
            for t in &mut tokens {
                let place = format!("token:{}", t.token);
                t.ciphertext = reseal(&t.collection, &place, &t.field, &t.ciphertext)?;
                t.key_version = version;
            }
            Ok(())
        })();
        if let Err(e) = resealed {
            // The records and tokens were read after the key: if the subject was erased
            // and came back (a new first key, same version) or its key was rotated since,
            // they are not sealed under `old`. Only a key still stored as read makes the
            // failure real; otherwise read again (or answer that the subject is gone).
            match self.store.subject_key(subject_id).await? {
                Some(now) if now.is_stored_as(old.key_version, &old.wrapped_dek) => {
                    return Err(e);
                }
                _ => return Ok(None),
            }
        }
        let new_key = SubjectKey {
            subject_id: subject_id.to_owned(),
            key_version: version,
            kek_id,
            wrapped_dek: wrapped,
            created_at: old.created_at,
        };
        match self
            .store
            .rotate_subject_key(old, &new_key, &records, &tokens, audit.clone())
            .await
        {
            Ok(_) => Ok(Some(version)),
            Err(StoreError::Conflict("subject_key" | "record_version")) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Re-applies the erasure ledger `ledger` (pseudonyms and times) to this store: its entries
    /// join this store's ledger, and every subject whose pseudonym is in it and whose key
    /// predates the erasure is erased again (recorded at the original erasure time, so a
    /// subject who came back later is not erased by a later replay; the key is checked again
    /// in the erasure's transaction, so neither is one who comes back while the replay runs).
    /// Returns how many subjects were erased.
    pub async fn replay_erasures(
        &self,
        ledger: &[(String, Timestamp)],
        merge_audit: AuditDraft,
        audit: impl Fn(&str) -> AuditDraft,
    ) -> Result<u64, VaultError> {
        self.store.merge_erasure_ledger(ledger, merge_audit).await?;
        let mut latest: HashMap<&str, Timestamp> = HashMap::new();
        for (p, t) in ledger {
            let e = latest.entry(p.as_str()).or_insert(*t);
            *e = (*e).max(*t);
        }
        let mut after: Option<String> = None;
        let mut erased = 0;
        loop {
            let keys = self.store.subject_keys(after.as_deref(), 500).await?;
            let Some(last) = keys.last() else { break };
            after = Some(last.subject_id.clone());
            for k in &keys {
                let p = self.pseudonym(&k.subject_id);
                let Some(&at) = latest.get(p.as_str()) else {
                    continue;
                };
                if self.erase_again(k, &p, at, &audit).await? {
                    erased += 1;
                }
            }
        }
        Ok(erased)
    }

    /// Erases `key`'s subject again for a ledger entry of `at` if its key predates `at`: only
    /// under the key that was read, checked in the erasure's transaction (if the subject is
    /// erased and comes back meanwhile, with a new key, the store refuses and the key is read
    /// again). Whether it was erased.
    async fn erase_again(
        &self,
        key: &SubjectKey,
        pseudonym: &str,
        at: Timestamp,
        audit: &impl Fn(&str) -> AuditDraft,
    ) -> Result<bool, VaultError> {
        let mut held = Some(key.clone());
        for _ in 0..ATTEMPTS {
            let Some(k) = held.filter(|h| h.created_at <= at) else {
                return Ok(false);
            };
            let draft = audit(pseudonym).with_subject(Some(pseudonym.to_owned()));
            match self
                .store
                .erase_subject(&k.subject_id, pseudonym, at, Some(&k), draft)
                .await
            {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict("subject_key")) => {
                    held = self.store.subject_key(&k.subject_id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Busy)
    }
}

fn open_one(
    schema: &CollectionSchema,
    r: &Record,
    dek: &dyn DataKey,
    grants: &Grants,
) -> Result<OpenedRecord, VaultError> {
    let mut fields = Vec::new();
    let mut omitted = Vec::new();
    for f in &schema.fields {
        let Some(cell) = r.cells.iter().find(|c| c.field == f.name) else {
            continue;
        };
        let Some(access) = grants.access(&r.collection, &f.name) else {
            omitted.push(f.name.clone());
            continue;
        };
        let place = CellPlace {
            collection: &r.collection,
            record: &r.id,
            field: &f.name,
            key_version: r.key_version,
        };
        let plain = dek.open(&place, &cell.ciphertext)?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| VaultError::Crypto(CryptoFailure("a sealed value is not text")))?;
        let value = match access {
            FieldAccess::Reveal => f.field_type.to_json(text),
            FieldAccess::Mask => serde_json::Value::String(super::mask::default_mask(
                f.field_type,
                &f.category,
                text,
            )),
        };
        fields.push(OpenedField {
            field: f.name.clone(),
            access,
            value,
        });
    }
    Ok(OpenedRecord {
        id: r.id.clone(),
        collection: r.collection.clone(),
        subject_id: r.subject_id.clone(),
        fields,
        omitted,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

fn token_map(tokens: &[TokenRecord]) -> BTreeMap<String, String> {
    tokens
        .iter()
        .map(|t| (t.field.clone(), t.token.clone()))
        .collect()
}

/// Format-preserving token: the digits of the value are enciphered with FF1 and put back in
/// place of the original digits (separators and a leading `+` stay). Card numbers keep their
/// last four digits and stay Luhn-valid: the leading digits are re-enciphered (cycle walking,
/// which keeps the mapping one-to-one) until the whole number passes the Luhn check.
pub fn format_preserving(
    crypto: &dyn VaultCrypto,
    scope: &str,
    t: FieldType,
    normalized: &str,
) -> Result<String, VaultError> {
    let digits: String = normalized.chars().filter(char::is_ascii_digit).collect();
    let bad = |rule| VaultError::InvalidValue {
        field: scope.rsplit('.').next().unwrap_or(scope).to_owned(),
        rule,
    };
    let token_digits = if t == FieldType::CardNumber {
        let (head, last4) = digits.split_at(digits.len().saturating_sub(4));
        let mut body = crypto.ff1_digits(scope, head).map_err(|e| bad(e.0))?;
        // Luhn validity holds for one number in ten: the expected walk is ten steps.
        let mut steps = 0;
        while !luhn_valid(&format!("{body}{last4}")) {
            body = crypto.ff1_digits(scope, &body).map_err(|e| bad(e.0))?;
            steps += 1;
            if steps > 1000 {
                return Err(bad("format-preserving token: no Luhn-valid cycle found"));
            }
        }
        format!("{body}{last4}")
    } else {
        crypto.ff1_digits(scope, &digits).map_err(|e| bad(e.0))?
    };
    let mut it = token_digits.chars();
    Ok(normalized
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                it.next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{KeyHints, valid_subject_id};

    #[test]
    fn subject_ids_are_checked_and_requester_ids_reserved() {
        for ok in [
            "cus_1",
            "7",
            "a.b-c:d_e",
            &"x".repeat(128),
            "requesters:1",
            "Requester:1",
        ] {
            assert!(valid_subject_id(ok), "{ok}");
        }
        for bad in [
            "",
            "_cus",
            ":x",
            "jane@example.com",
            "a b",
            "é",
            &"x".repeat(129),
            "requester:rr_0123456789abcdef0123456789abcdef",
            "requester:",
        ] {
            assert!(!valid_subject_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_required_field_is_not_met_by_blank_text() {
        use super::{Values, Vault, VaultError};
        use crate::vault::schema::{CollectionSchema, FieldSpec, Sensitivity, Tokenization};
        use crate::vault::value::FieldType;
        let schema = CollectionSchema {
            name: "c".into(),
            fields: vec![FieldSpec {
                name: "name".into(),
                field_type: FieldType::Text,
                category: "user.name".into(),
                sensitivity: Sensitivity::Medium,
                required: true,
                searchable: false,
                tokenization: Tokenization::None,
            }],
        };
        for blank in ["", "  ", "\n\t"] {
            let v = Values::from([("name".to_owned(), serde_json::json!(blank))]);
            assert!(
                matches!(
                    Vault::normalize(&schema, &v, true),
                    Err(VaultError::InvalidValue { .. })
                ),
                "{blank:?}"
            );
        }
        let v = Values::from([("name".to_owned(), serde_json::json!("Jo"))]);
        assert!(Vault::normalize(&schema, &v, true).is_ok());
    }

    #[test]
    fn key_hints_remember_subjects_and_stay_bounded() {
        let h = KeyHints::new();
        assert_eq!(h.len(), 0);
        assert!(!h.has_key("cus_1"));
        h.saw_key("cus_1");
        assert!(h.has_key("cus_1"));
        assert!(!h.has_key("cus_2"));
        h.saw_key("cus_1");
        assert_eq!(h.len(), 1);
        for n in 1..KeyHints::CAPACITY {
            h.saw_key(&format!("s{n}"));
        }
        assert_eq!(h.len(), KeyHints::CAPACITY);
        assert!(h.has_key("cus_1"));
        // Full: the next subject starts a new set.
        h.saw_key("cus_2");
        assert_eq!(h.len(), 1);
        assert!(h.has_key("cus_2") && !h.has_key("cus_1"));
    }
}
