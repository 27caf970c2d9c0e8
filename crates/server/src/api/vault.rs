//! Wire types of the vault: collections, records, subjects, tokens, restrictions.

use std::collections::BTreeMap;

use custodian_core::vault::record::{ProcessingLimit, StoredCollection};
use custodian_core::vault::schema::{
    CollectionSchema, FieldSpec, SchemaError, Sensitivity, Tokenization,
};
use custodian_core::vault::service::OpenedRecord;
use custodian_core::vault::value::FieldType;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;

/// One field of a collection, as declared.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDecl {
    /// Name: 1 to 64 of `a-z`, `0-9`, `_`, starting with a letter.
    #[schema(example = "email")]
    pub name: String,
    /// Type: `text`, `email`, `phone`, `date`, `datetime`, `number`, `boolean`, `card_number`,
    /// `iban`, `national_id:us_ssn`, `national_id:uk_nino`, `ip_address`, `postal_address`, `json`.
    #[serde(rename = "type")]
    #[schema(example = "email")]
    pub field_type: String,
    /// Data category: a taxonomy key (fideslang-compatible), e.g. `user.contact.email`.
    #[schema(example = "user.contact.email")]
    pub category: String,
    /// `low`, `medium`, `high` or `special`.
    #[schema(example = "medium")]
    pub sensitivity: String,
    /// Whether every record must have it.
    #[serde(default)]
    pub required: bool,
    /// Whether exact-match search is kept (a blind index).
    #[serde(default)]
    pub searchable: bool,
    /// `none` (default), `random`, `deterministic` or `format_preserving` (FF1).
    #[serde(default = "no_tokens")]
    pub tokenization: String,
}

fn no_tokens() -> String {
    "none".into()
}

/// `PUT /v1/collections/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionIn {
    /// The fields, in order.
    pub fields: Vec<FieldDecl>,
}

impl CollectionIn {
    /// The schema, or the first field whose type, sensitivity or tokenization is unknown.
    pub fn schema(self, name: &str) -> Result<CollectionSchema, SchemaError> {
        let fields = self
            .fields
            .into_iter()
            .map(|f| {
                let bad = |rule| SchemaError {
                    field: Some(f.name.clone()),
                    rule,
                };
                Ok(FieldSpec {
                    field_type: FieldType::parse(&f.field_type).ok_or_else(|| {
                        bad("unknown type: text, email, phone, date, datetime, number, boolean, card_number, iban, national_id:us_ssn, national_id:uk_nino, ip_address, postal_address or json")
                    })?,
                    sensitivity: Sensitivity::parse(&f.sensitivity)
                        .ok_or_else(|| bad("sensitivity must be low, medium, high or special"))?,
                    tokenization: Tokenization::parse(&f.tokenization).ok_or_else(|| {
                        bad("tokenization must be none, random, deterministic or format_preserving")
                    })?,
                    name: f.name,
                    category: f.category,
                    required: f.required,
                    searchable: f.searchable,
                })
            })
            .collect::<Result<Vec<_>, SchemaError>>()?;
        Ok(CollectionSchema {
            name: name.to_owned(),
            fields,
        })
    }
}

/// A collection.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionOut {
    /// Name.
    pub name: String,
    /// Schema version: 1, plus one per accepted change.
    pub version: i64,
    /// Fields.
    pub fields: Vec<FieldDecl>,
    /// Declared (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

impl From<&StoredCollection> for CollectionOut {
    fn from(c: &StoredCollection) -> Self {
        Self {
            name: c.schema.name.clone(),
            version: c.version,
            fields: c
                .schema
                .fields
                .iter()
                .map(|f| FieldDecl {
                    name: f.name.clone(),
                    field_type: f.field_type.as_str().to_owned(),
                    category: f.category.clone(),
                    sensitivity: f.sensitivity.as_str().to_owned(),
                    required: f.required,
                    searchable: f.searchable,
                    tokenization: f.tokenization.as_str().to_owned(),
                })
                .collect(),
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

/// Collections.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollectionList {
    /// By name.
    pub collections: Vec<CollectionOut>,
}

/// `POST /v1/collections/{c}/records`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordIn {
    /// The data subject's id as the business knows it (not an email address).
    #[schema(example = "cus_1042")]
    pub subject_id: String,
    /// Values by field name.
    #[schema(value_type = Object, example = json!({"email": "jane@example.com", "phone": "+44 20 7946 0958"}))]
    #[serde(deserialize_with = "custodian_core::vault::value::unique_values")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// `PATCH /v1/collections/{c}/records/{id}`: rectification.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    /// New values by field name; `null` removes an optional field.
    #[schema(value_type = Object)]
    #[serde(deserialize_with = "custodian_core::vault::value::unique_values")]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// A stored record's id and what was issued.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordWritten {
    /// Record id.
    pub id: String,
    /// Tokens issued for tokenized fields, by field.
    pub tokens: BTreeMap<String, String>,
    /// Sequence number of the audit event.
    pub audit_seq: u64,
}

/// A record as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordOut {
    /// Record id.
    pub id: String,
    /// Collection.
    pub collection: String,
    /// Subject.
    pub subject_id: String,
    /// Values by field: plaintext, or masked as the policy decided.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// How each returned field was opened: `reveal` or `mask`.
    pub access: BTreeMap<String, String>,
    /// Fields the record holds that the policy does not let the caller see.
    pub omitted: Vec<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last changed (RFC 3339).
    pub updated_at: String,
}

impl From<OpenedRecord> for RecordOut {
    fn from(r: OpenedRecord) -> Self {
        let access = r
            .fields
            .iter()
            .map(|f| (f.field.clone(), f.access.as_str().to_owned()))
            .collect();
        Self {
            id: r.id,
            collection: r.collection,
            subject_id: r.subject_id,
            fields: r.fields.into_iter().map(|f| (f.field, f.value)).collect(),
            access,
            omitted: r.omitted,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPage {
    /// The records, by id.
    pub records: Vec<RecordOut>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
    /// Matching records left out because their subject restricted processing or objected to
    /// this purpose.
    pub withheld: u32,
}

/// Everything held about one subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectOut {
    /// Subject id.
    pub subject_id: String,
    /// The pseudonym that names the subject in audit events and the erasure ledger.
    pub pseudonym: String,
    /// Records across collections.
    pub records: Vec<RecordOut>,
    /// Tokens issued for the subject's values (with a record or through `POST /v1/tokenize`),
    /// in fields the caller may see, with their values revealed or masked as for records.
    pub tokens: Vec<SubjectTokenOut>,
}

/// A subject's token and the value it stands for.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectTokenOut {
    /// The token, to a caller who may reveal the value only: a deterministic or
    /// format-preserving token is the same for anyone's equal value, so beside a masked value
    /// it would let a caller who may tokenize find the value by guessing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The collection whose field typed the value.
    pub collection: String,
    /// The field.
    pub field: String,
    /// `reveal` or `mask`.
    pub access: &'static str,
    /// The value, in plaintext or masked.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// When the token was issued (RFC 3339).
    pub created_at: String,
}

impl From<custodian_core::vault::service::OpenedToken> for SubjectTokenOut {
    fn from(t: custodian_core::vault::service::OpenedToken) -> Self {
        Self {
            token: (t.access == custodian_core::vault::service::FieldAccess::Reveal)
                .then_some(t.token),
            collection: t.collection,
            field: t.field,
            access: t.access.as_str(),
            value: t.value,
            created_at: t.created_at.to_string(),
        }
    }
}

/// What an erasure did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureOut {
    /// The subject's pseudonym, as the erasure ledger records it.
    pub pseudonym: String,
    /// Records deleted.
    pub records_deleted: u64,
    /// Whether the data key was destroyed (crypto-shredding).
    pub key_destroyed: bool,
    /// When (RFC 3339).
    pub erased_at: String,
}

/// A restriction or objection.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitOut {
    /// `restriction` or `objection`.
    pub kind: String,
    /// The purpose objected to (`*` for a restriction).
    pub purpose: String,
    /// Since when (RFC 3339).
    pub since: String,
}

impl From<&ProcessingLimit> for LimitOut {
    fn from(l: &ProcessingLimit) -> Self {
        Self {
            kind: l.kind.as_str().to_owned(),
            purpose: l.purpose.clone(),
            since: time(l.since),
        }
    }
}

/// A subject's restrictions and objections.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitList {
    /// Subject id.
    pub subject_id: String,
    /// Current limits.
    pub limits: Vec<LimitOut>,
    /// Purposes a restriction does not stop.
    pub restriction_exempt_purposes: Vec<String>,
}

/// `POST /v1/tokenize`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenizeIn {
    /// The collection whose field types the value.
    pub collection: String,
    /// The tokenized field.
    pub field: String,
    /// Whose value it is.
    pub subject_id: String,
    /// The value.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

/// A token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    /// The token.
    pub token: String,
}

/// `POST /v1/detokenize`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetokenizeIn {
    /// The token.
    pub token: String,
    /// The collection the token was issued in. Format-preserving tokens are digits only, so
    /// one may stand for different values in two fields: without a collection and field to
    /// tell them apart, such a token answers `409 token_ambiguous`.
    #[serde(default)]
    pub collection: Option<String>,
    /// The field the token was issued for (see `collection`).
    #[serde(default)]
    pub field: Option<String>,
}

/// A token's value.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetokenizeOut {
    /// The value.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// Its collection.
    pub collection: String,
    /// Its field.
    pub field: String,
    /// Its subject.
    pub subject_id: String,
}

/// One refused row of an import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportRowError {
    /// Line number in the upload (1-based; a CSV header is line 1).
    pub row: u64,
    /// The error code, as the single-record endpoint would answer.
    pub code: String,
    /// The field concerned, if one.
    pub field: Option<String>,
    /// What rule the row broke (never its content).
    pub message: String,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    /// Data rows read (blank lines and a CSV header are not counted).
    pub rows: u64,
    /// Rows stored.
    pub imported: u64,
    /// Rows refused (nothing of them was stored).
    pub failed: u64,
    /// The first 1,000 refused rows, by row number.
    pub errors: Vec<ImportRowError>,
    /// Whether more rows failed than are listed.
    pub errors_truncated: bool,
}

/// A subject's data key after a rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataKeyOut {
    /// The subject.
    pub subject_id: String,
    /// The new key's version.
    pub key_version: u32,
}
