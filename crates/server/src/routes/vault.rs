//! The vault: collections, records, search, subjects (view and erasure), restrictions and
//! objections, tokens.
//!
//! Reads name a purpose (`Custodian-Purpose`). Each field is decided on its own: plaintext if
//! the policy allows `data.reveal`, masked if it allows `data.mask`, left out otherwise; a read
//! that may see nothing is refused. A subject who restricted processing, or objected to the
//! purpose, is refused with `processing_restricted`. Every read and refusal is audited, with
//! the subject's pseudonym and the fields touched, before any value leaves the vault.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use custodian_core::access::{Action, Resource, valid_purpose};
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::vault::record::{
    LimitKind, ProcessingLimit, RESTRICTION_EXEMPT_PURPOSES, Record,
};
use custodian_core::vault::schema::{CollectionSchema, valid_name};
use custodian_core::vault::service::{
    Grants, MAX_PAGE, OpenedRecord, OpenedToken, VaultError, WriteGrant,
};
use serde_json::json;

use super::check_id;
use crate::api::time;
use crate::api::vault::{
    CollectionIn, CollectionList, CollectionOut, DataKeyOut, DetokenizeIn, DetokenizeOut,
    ErasureOut, ImportReport, ImportRowError, LimitList, LimitOut, RecordIn, RecordOut, RecordPage,
    RecordPatch, RecordWritten, SubjectOut, SubjectTokenOut, TokenOut, TokenizeIn,
};
use crate::auth::{Caller, purpose, required_purpose};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::{self, authorize, draft, field_grant, read_grants, refuse};
use crate::middleware::RequestId;
use crate::state::AppState;

/// A request's context: who, which request, and the purpose named.
struct Ctx<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    rid: &'a RequestId,
    purpose: Option<String>,
}

impl Ctx<'_> {
    fn draft(&self, action: &str, resource: impl Into<String>, decision: Decision) -> AuditDraft {
        draft(
            self.state,
            self.caller,
            self.rid,
            action,
            resource,
            decision,
            self.purpose.as_deref(),
        )
    }

    /// Grants `action` on each named field, or audits the refusal and answers 403.
    async fn write_grant<'f>(
        &self,
        schema: &CollectionSchema,
        fields: impl IntoIterator<Item = &'f str>,
        action: Action,
        subject: Option<String>,
    ) -> Result<WriteGrant, ApiError> {
        let mut grant = WriteGrant::new();
        if let Err(field) = field_grant(
            self.state,
            self.caller,
            schema,
            fields,
            action,
            self.purpose.as_deref(),
            &mut grant,
        ) {
            let mut d = self
                .draft(
                    action.as_str(),
                    format!("collection:{}", schema.name),
                    Decision::Deny,
                )
                .with_subject(subject);
            d.fields = vec![field.clone()];
            return Err(refuse(
                self.state,
                d,
                ApiError::new(ErrorCode::AccessDenied)
                    .details(json!({ "action": action.as_str(), "field": field })),
            )
            .await);
        }
        Ok(grant)
    }

    /// Grants `action` on every field of every collection (erasure, data-key rotation: they
    /// reach all of a subject's data), or audits the refusal and answers 403. With no
    /// collection declared there is nothing to grant, and the answer is 403 too.
    async fn grant_everything(
        &self,
        action: Action,
        subject: Option<String>,
    ) -> Result<(), ApiError> {
        let collections = self.state.store.list_collections().await?;
        if collections.is_empty() {
            let d = self
                .draft(action.as_str(), "collections", Decision::Deny)
                .with_subject(subject);
            return Err(refuse(
                self.state,
                d,
                ApiError::new(ErrorCode::AccessDenied)
                    .details(json!({ "action": action.as_str() })),
            )
            .await);
        }
        for c in collections {
            self.write_grant(
                &c.schema,
                c.schema.fields.iter().map(|f| f.name.as_str()),
                action,
                subject.clone(),
            )
            .await?;
        }
        Ok(())
    }

    /// Refuses (audited) a read of a subject who restricted processing or objected, or whose
    /// consent the purpose needs and does not have.
    async fn check_limits(&self, subject_id: &str, resource: &str) -> Result<(), ApiError> {
        let limits = self.state.store.processing_limits(subject_id).await?;
        self.refuse_limited(subject_id, &limits, resource).await
    }

    /// As [`Ctx::check_limits`], with the subject's restrictions and objections already read.
    async fn refuse_limited(
        &self,
        subject_id: &str,
        limits: &[ProcessingLimit],
        resource: &str,
    ) -> Result<(), ApiError> {
        let purpose = self.purpose.as_deref().unwrap_or_default();
        let vault = self.state.vault();
        if let Some(v) = consent_refusal(self.state, subject_id, purpose).await? {
            let d = self
                .draft("data.read", resource, Decision::Deny)
                .with_subject(Some(vault.pseudonym(subject_id)));
            return Err(refuse(
                self.state,
                d,
                ApiError::new(ErrorCode::ConsentMissing)
                    .details(json!({ "purpose": purpose, "basis": v.basis.as_str() })),
            )
            .await);
        }
        if let Some(limit) = ProcessingLimit::refusing(limits, purpose) {
            let d = self
                .draft("data.read", resource, Decision::Deny)
                .with_subject(Some(vault.pseudonym(subject_id)));
            return Err(refuse(
                self.state,
                d,
                ApiError::new(ErrorCode::ProcessingRestricted)
                    .details(json!({ "kind": limit.kind.as_str(), "purpose": purpose })),
            )
            .await);
        }
        Ok(())
    }

    /// The read grants on `schema`'s fields, or (audited) 403 when nothing may be seen.
    async fn read_grants(
        &self,
        schemas: &[&CollectionSchema],
        resource: &str,
        subject: Option<String>,
    ) -> Result<Grants, ApiError> {
        let purpose = self.purpose.as_deref().unwrap_or_default();
        let mut grants = Grants::new();
        for s in schemas {
            read_grants(self.state, self.caller, s, purpose, &mut grants);
        }
        if grants.is_empty() {
            let d = self
                .draft("data.read", resource, Decision::Deny)
                .with_subject(subject);
            return Err(refuse(
                self.state,
                d,
                ApiError::new(ErrorCode::AccessDenied).details(json!({
                    "action": "data.reveal",
                    "reason": "no field of this data may be revealed or masked for this purpose and role"
                })),
            )
            .await);
        }
        Ok(grants)
    }

    /// The audit event of a read of a subject's tokens (its action, `data.reveal` or
    /// `data.mask`, and its fields are set by `Vault::open_tokens`).
    fn tokens_draft(&self, pseudonym: &str) -> AuditDraft {
        self.draft("data.reveal", "tokens", Decision::Allow)
            .with_subject(Some(pseudonym.to_owned()))
    }

    /// The audit event of a read of `record`'s fields under `grants`.
    fn read_draft(&self, record: &Record, grants: &Grants) -> AuditDraft {
        let vault = self.state.vault();
        let mut fields = Vec::new();
        let mut any_reveal = false;
        for c in &record.cells {
            if let Some(a) = grants.access(&record.collection, &c.field) {
                any_reveal |= a == custodian_core::vault::service::FieldAccess::Reveal;
                fields.push(format!("{}:{}", c.field, a.as_str()));
            }
        }
        let action = if any_reveal {
            "data.reveal"
        } else {
            "data.mask"
        };
        let mut d = self
            .draft(
                action,
                format!("record:{}/{}", record.collection, record.id),
                Decision::Allow,
            )
            .with_subject(Some(vault.pseudonym(&record.subject_id)));
        d.fields = fields;
        d
    }
}

fn created_or_ok(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Every collection's schema.
async fn all_schemas(state: &AppState) -> Result<Vec<CollectionSchema>, ApiError> {
    Ok(state
        .store
        .list_collections()
        .await?
        .into_iter()
        .map(|c| c.schema)
        .collect())
}

fn schema_map(schemas: &[CollectionSchema]) -> HashMap<String, CollectionSchema> {
    schemas
        .iter()
        .map(|s| (s.name.clone(), s.clone()))
        .collect()
}

/// Declared collections the caller may read.
#[utoipa::path(get, path = "/v1/collections", tag = "vault", security(("bearer" = [])), responses(
    (status = 200, body = CollectionList),
))]
pub async fn list_collections(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<CollectionList>, ApiError> {
    let all = state.store.list_collections().await?;
    let visible: Vec<CollectionOut> = all
        .iter()
        .filter(|c| {
            gate::decide(
                &state,
                &caller,
                Action::SchemaRead,
                Resource::Collection {
                    name: c.schema.name.clone(),
                },
                None,
            )
            .is_some()
        })
        .map(CollectionOut::from)
        .collect();
    state
        .store
        .append_audit(draft(
            &state,
            &caller,
            &rid,
            "schema.read",
            "collections",
            Decision::Allow,
            None,
        ))
        .await?;
    Ok(ApiJson(CollectionList {
        collections: visible,
    }))
}

/// One collection's schema.
#[utoipa::path(get, path = "/v1/collections/{name}", tag = "vault", security(("bearer" = [])),
    params(("name" = String, Path, description = "Collection name")), responses(
    (status = 200, body = CollectionOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
pub async fn get_collection(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<ApiJson<CollectionOut>, ApiError> {
    // A path that cannot be a collection name is not carried into the audit log.
    if !valid_name(&name) {
        return Err(ApiError::new(ErrorCode::CollectionNotFound));
    }
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::SchemaRead,
        Resource::Collection { name: name.clone() },
        None,
    )
    .await?;
    let c = state.vault().collection(&name).await?;
    permit.record(&state).await?;
    Ok(ApiJson(CollectionOut::from(&c)))
}

/// Declares a collection (201) or changes its schema (200). Fields may be added and
/// reclassified; a change that would break stored records is refused with 409
/// `schema_incompatible` naming the field and the rule.
#[utoipa::path(put, path = "/v1/collections/{name}", tag = "vault", security(("bearer" = [])),
    params(("name" = String, Path, description = "Collection name")),
    request_body = CollectionIn, responses(
    (status = 200, body = CollectionOut), (status = 201, body = CollectionOut),
    (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "schema_incompatible"),
    (status = 422, body = ErrorBody, description = "invalid_schema"),
))]
pub async fn put_collection(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(input): ApiJson<CollectionIn>,
) -> Result<(StatusCode, ApiJson<CollectionOut>), ApiError> {
    let schema = input
        .schema(&name)
        .and_then(|s| s.validate().map(|()| s))
        .map_err(custodian_core::vault::service::VaultError::InvalidSchema)?;
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::SchemaWrite,
        Resource::Collection { name: name.clone() },
        None,
    )
    .await?;
    let mut audit = permit.draft;
    audit.fields = schema.fields.iter().map(|f| f.name.clone()).collect();
    let vault = state.vault();
    let (_, created) = vault.declare(&schema, state.clock.now(), audit).await?;
    let c = vault.collection(&name).await?;
    Ok((created_or_ok(created), ApiJson(CollectionOut::from(&c))))
}

/// Stores a record about a subject. Values are validated and normalised by type; a bad value
/// is refused (422) naming the field and the rule, never the value. Tokenized fields get
/// tokens, returned here.
#[utoipa::path(post, path = "/v1/collections/{name}/records", tag = "vault", security(("bearer" = [])),
    params(("name" = String, Path, description = "Collection name"),
        ("custodian-purpose" = Option<String>, Header, description = "Purpose of the write")),
    request_body = RecordIn, responses(
    (status = 201, body = RecordWritten), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn create_record(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    ApiJson(input): ApiJson<RecordIn>,
) -> Result<(StatusCode, ApiJson<RecordWritten>), ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: purpose(&headers)?,
    };
    let vault = state.vault();
    let coll = vault.collection(&name).await?;
    let grant = ctx
        .write_grant(
            &coll.schema,
            input.fields.keys().map(String::as_str),
            Action::DataWrite,
            None,
        )
        .await?;
    let id = uuid::Uuid::now_v7().to_string();
    let w = vault
        .create_record(
            &name,
            &id,
            &input.subject_id,
            &input.fields,
            &grant,
            state.clock.now(),
            ctx.draft("data.write", format!("record:{name}/{id}"), Decision::Allow),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        ApiJson(RecordWritten {
            id: w.id,
            tokens: w.tokens,
            audit_seq: w.event.seq,
        }),
    ))
}

/// Reads a record under a purpose: each field in plaintext, masked, or left out, as the
/// policy decides for its category, the caller's role and the purpose.
#[utoipa::path(get, path = "/v1/collections/{name}/records/{id}", tag = "vault", security(("bearer" = [])),
    params(("name" = String, Path, description = "Collection name"), ("id" = String, Path, description = "Record id"),
        ("custodian-purpose" = String, Header, description = "Purpose of the read (required)")),
    responses(
    (status = 200, body = RecordOut), (status = 400, body = ErrorBody, description = "purpose_required"),
    (status = 403, body = ErrorBody, description = "access_denied or processing_restricted"),
    (status = 404, body = ErrorBody),
))]
pub async fn get_record(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<ApiJson<RecordOut>, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: Some(required_purpose(&headers)?),
    };
    check_id(&id)?;
    let vault = state.vault();
    let coll = vault.collection(&name).await?;
    let resource = format!("record:{name}/{id}");
    // Decided before the record is looked up, so a caller who may see nothing of the
    // collection cannot learn which records exist.
    let grants = ctx.read_grants(&[&coll.schema], &resource, None).await?;
    // The record, its subject's limits and key, in one store call.
    let read = vault.record_for_read(&name, &id).await?;
    ctx.refuse_limited(&read.record.subject_id, &read.limits, &resource)
        .await?;
    let audit = ctx.read_draft(&read.record, &grants);
    let opened = vault.open_read(&coll.schema, &read, &grants, audit).await?;
    Ok(ApiJson(RecordOut::from(opened)))
}

/// Rectifies a record: the given fields are replaced; `null` removes an optional field.
#[utoipa::path(patch, path = "/v1/collections/{name}/records/{id}", tag = "vault", security(("bearer" = [])),
    params(("name" = String, Path, description = "Collection name"), ("id" = String, Path, description = "Record id")),
    request_body = RecordPatch, responses(
    (status = 200, body = RecordWritten), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn patch_record(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((name, id)): ApiPath<(String, String)>,
    ApiJson(input): ApiJson<RecordPatch>,
) -> Result<ApiJson<RecordWritten>, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: purpose(&headers)?,
    };
    check_id(&id)?;
    let vault = state.vault();
    let coll = vault.collection(&name).await?;
    let grant = ctx
        .write_grant(
            &coll.schema,
            input.fields.keys().map(String::as_str),
            Action::DataWrite,
            None,
        )
        .await?;
    let w = vault
        .update_record(
            &name,
            &id,
            &input.fields,
            &grant,
            state.clock.now(),
            ctx.draft(
                "data.rectify",
                format!("record:{name}/{id}"),
                Decision::Allow,
            ),
        )
        .await?;
    Ok(ApiJson(RecordWritten {
        id: w.id,
        tokens: w.tokens,
        audit_seq: w.event.seq,
    }))
}

/// Deletes one record (needs `data.delete` on every field of the collection).
#[utoipa::path(delete, path = "/v1/collections/{name}/records/{id}", tag = "vault", security(("bearer" = [])),
    params(("name" = String, Path, description = "Collection name"), ("id" = String, Path, description = "Record id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_record(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: purpose(&headers)?,
    };
    check_id(&id)?;
    let vault = state.vault();
    let coll = vault.collection(&name).await?;
    ctx.write_grant(
        &coll.schema,
        coll.schema.fields.iter().map(|f| f.name.as_str()),
        Action::DataDelete,
        None,
    )
    .await?;
    vault
        .delete_record(
            &name,
            &id,
            ctx.draft(
                "data.delete",
                format!("record:{name}/{id}"),
                Decision::Allow,
            ),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exact-match search on one searchable field: `?email=jane@example.com`, with `after` (the
/// last id of the previous page) and `limit` (1 to 100, default 50). The value is normalised
/// by the field's type first, so `?phone=+44 20 7946 0958` finds `+442079460958`.
#[utoipa::path(get, path = "/v1/collections/{name}/records", tag = "vault", security(("bearer" = [])),
    params(("name" = String, Path, description = "Collection name"),
        ("custodian-purpose" = String, Header, description = "Purpose of the read (required)")),
    responses(
    (status = 200, body = RecordPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
))]
pub async fn search(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<ApiJson<RecordPage>, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: Some(required_purpose(&headers)?),
    };
    let bad = |m: &str| ApiError::with_message(ErrorCode::InvalidQuery, m.to_owned());
    // `?email=a&email=b` is ambiguous: refused, not read as its last value.
    let mut query = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if query.insert(k, v).is_some() {
            return Err(bad("a query parameter is given twice"));
        }
    }
    let limit = match query.remove("limit") {
        None => 50,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| bad("limit must be 1 to 100"))?,
    };
    let after = query.remove("after");
    if let Some(a) = &after {
        check_id(a).map_err(|_| bad("after must be a record id"))?;
    }
    let mut terms = query.into_iter();
    let (field, value) = match (terms.next(), terms.next()) {
        (Some(t), None) => t,
        _ => {
            return Err(bad(
                "search needs exactly one field=value (plus optional after and limit)",
            ));
        }
    };
    let vault = state.vault();
    let coll = vault.collection(&name).await?;
    let resource = format!("collection:{name}");
    let grants = ctx.read_grants(&[&coll.schema], &resource, None).await?;
    // Searching by a field uses its value: the caller must be allowed to see that field.
    if coll.schema.field(&field).is_some() && grants.access(&name, &field).is_none() {
        let mut d = ctx.draft("data.search", resource, Decision::Deny);
        d.fields = vec![field.clone()];
        return Err(refuse(
            &state,
            d,
            ApiError::new(ErrorCode::AccessDenied)
                .details(json!({ "action": "data.mask", "field": field })),
        )
        .await);
    }
    let found = vault
        .search(&coll, &field, &value, after.as_deref(), limit)
        .await?;
    let next_after = (found.len() == limit as usize)
        .then(|| found.last().map(|r| r.id.clone()))
        .flatten();
    let purpose = ctx.purpose.as_deref().unwrap_or_default();
    let mut visible = Vec::with_capacity(found.len());
    let mut audits = Vec::with_capacity(found.len());
    let mut withheld = 0;
    let mut refused: HashMap<String, bool> = HashMap::new();
    for r in found {
        let limited = match refused.get(&r.subject_id) {
            Some(l) => *l,
            None => {
                let l = vault
                    .limit_refusing(&r.subject_id, purpose)
                    .await?
                    .is_some()
                    || consent_refusal(&state, &r.subject_id, purpose)
                        .await?
                        .is_some();
                refused.insert(r.subject_id.clone(), l);
                l
            }
        };
        if limited {
            withheld += 1;
            let d = ctx
                .draft(
                    "data.read",
                    format!("record:{name}/{}", r.id),
                    Decision::Deny,
                )
                .with_subject(Some(vault.pseudonym(&r.subject_id)));
            audits.push(d);
            continue;
        }
        audits.push(ctx.read_draft(&r, &grants));
        visible.push(r);
    }
    let schemas = schema_map(std::slice::from_ref(&coll.schema));
    let opened = vault
        .open_records(&schemas, &visible, &grants, audits)
        .await?;
    Ok(ApiJson(RecordPage {
        records: opened.into_iter().map(RecordOut::from).collect(),
        next_after,
        withheld,
    }))
}

/// Everything held about one subject, across collections, as the policy lets the caller see
/// it. 410 `subject_erased` once the subject was erased.
#[utoipa::path(get, path = "/v1/subjects/{subject_id}", tag = "vault", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id"),
        ("custodian-purpose" = String, Header, description = "Purpose of the read (required)")),
    responses(
    (status = 200, body = SubjectOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 410, body = ErrorBody, description = "subject_erased"),
))]
pub async fn get_subject(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(subject_id): ApiPath<String>,
) -> Result<ApiJson<SubjectOut>, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: Some(required_purpose(&headers)?),
    };
    let vault = state.vault();
    // Decided before anything about the subject is looked up, so a caller who may see
    // nothing cannot learn whom the vault holds.
    let schemas = all_schemas(&state).await?;
    let refs: Vec<&CollectionSchema> = schemas.iter().collect();
    let grants = ctx.read_grants(&refs, "subject", None).await?;
    let (records, tokens) = vault.subject_holdings(&subject_id).await?;
    let records: Vec<Record> = records
        .into_iter()
        // Records of collections the caller may see nothing of are not even listed.
        .filter(|r| {
            schemas.iter().any(|sc| {
                sc.name == r.collection
                    && sc
                        .fields
                        .iter()
                        .any(|f| grants.access(&sc.name, &f.name).is_some())
            })
        })
        .collect();
    let pseudonym = vault.pseudonym(&subject_id);
    ctx.check_limits(&subject_id, "subject").await?;
    let audits = records.iter().map(|r| ctx.read_draft(r, &grants)).collect();
    let schemas = schema_map(&schemas);
    let opened: Vec<OpenedRecord> = vault
        .open_records(&schemas, &records, &grants, audits)
        .await?;
    let tokens = vault
        .open_tokens(
            &schemas,
            &subject_id,
            &tokens,
            &grants,
            ctx.tokens_draft(&pseudonym),
        )
        .await?;
    Ok(ApiJson(SubjectOut {
        subject_id,
        pseudonym,
        records: opened.into_iter().map(RecordOut::from).collect(),
        tokens: tokens.into_iter().map(SubjectTokenOut::from).collect(),
    }))
}

/// Erases a subject by crypto-shredding: the data key is destroyed and the records, blind
/// indexes, tokens and limits deleted; the subject's pseudonym enters the erasure ledger,
/// which a restore replays. Needs `data.delete` on every field of every collection.
#[utoipa::path(delete, path = "/v1/subjects/{subject_id}", tag = "vault", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id")),
    responses(
    (status = 200, body = ErasureOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 410, body = ErrorBody, description = "subject_erased"),
))]
pub async fn erase_subject(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(subject_id): ApiPath<String>,
) -> Result<ApiJson<ErasureOut>, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: purpose(&headers)?,
    };
    let vault = state.vault();
    let pseudonym = custodian_core::vault::service::valid_subject_id(&subject_id)
        .then(|| vault.pseudonym(&subject_id));
    ctx.grant_everything(Action::DataDelete, pseudonym.clone())
        .await?;
    let at = state.clock.now();
    let erased = vault
        .erase(
            &subject_id,
            at,
            ctx.draft("data.erase", "subject", Decision::Allow),
        )
        .await?;
    Ok(ApiJson(ErasureOut {
        pseudonym: pseudonym.unwrap_or_default(),
        records_deleted: erased.records,
        key_destroyed: erased.key_destroyed,
        erased_at: time(at),
    }))
}

/// Erases a subject to fulfil an erasure request: the caller must be allowed `data.delete` on
/// every field for the purpose `dsr` (refusals audited). A subject the vault holds nothing
/// about, or erased already, counts as done (0 records).
pub(crate) async fn erase_for_request(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    subject_id: &str,
) -> Result<u64, ApiError> {
    if state.store.subject_key(subject_id).await?.is_none() {
        return Ok(0);
    }
    let ctx = Ctx {
        state,
        caller,
        rid,
        purpose: Some("dsr".to_owned()),
    };
    let vault = state.vault();
    ctx.grant_everything(Action::DataDelete, Some(vault.pseudonym(subject_id)))
        .await?;
    match vault
        .erase(
            subject_id,
            state.clock.now(),
            ctx.draft("data.erase", "subject", Decision::Allow),
        )
        .await
    {
        Ok(e) => Ok(e.records),
        Err(custodian_core::vault::service::VaultError::SubjectNotFound)
        | Err(custodian_core::vault::service::VaultError::SubjectErased(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Opens every record of a subject in plaintext to answer an access or portability request:
/// the caller must be allowed `data.reveal` on every field for the purpose `dsr` (refusals
/// audited; each record read is audited). Processing limits do not stop it: answering the
/// data subject is exempt. A subject the vault holds nothing about gives nothing.
pub(crate) async fn open_for_request(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    subject_id: &str,
) -> Result<(Vec<CollectionSchema>, Vec<OpenedRecord>, Vec<OpenedToken>), ApiError> {
    if state.store.subject_key(subject_id).await?.is_none() {
        return Ok((Vec::new(), Vec::new(), Vec::new()));
    }
    let ctx = Ctx {
        state,
        caller,
        rid,
        purpose: Some("dsr".to_owned()),
    };
    let vault = state.vault();
    let pseudonym = vault.pseudonym(subject_id);
    ctx.grant_everything(Action::DataReveal, Some(pseudonym.clone()))
        .await?;
    let schemas = all_schemas(state).await?;
    let refs: Vec<&CollectionSchema> = schemas.iter().collect();
    let grants = ctx
        .read_grants(&refs, "subject", Some(pseudonym.clone()))
        .await?;
    let (records, tokens) = match vault.subject_holdings(subject_id).await {
        Ok(held) => held,
        // Erased meanwhile (or a key alone, with nothing sealed under it): nothing to give.
        Err(VaultError::SubjectNotFound | VaultError::SubjectErased(_)) => {
            return Ok((schemas, Vec::new(), Vec::new()));
        }
        Err(e) => return Err(e.into()),
    };
    let audits = records.iter().map(|r| ctx.read_draft(r, &grants)).collect();
    let map = schema_map(&schemas);
    let opened = vault.open_records(&map, &records, &grants, audits).await?;
    let tokens = vault
        .open_tokens(
            &map,
            subject_id,
            &tokens,
            &grants,
            ctx.tokens_draft(&pseudonym),
        )
        .await?;
    Ok((schemas, opened, tokens))
}

async fn limits_out(state: &AppState, subject_id: &str) -> Result<LimitList, ApiError> {
    let limits = state.store.processing_limits(subject_id).await?;
    Ok(LimitList {
        subject_id: subject_id.to_owned(),
        limits: limits.iter().map(LimitOut::from).collect(),
        restriction_exempt_purposes: RESTRICTION_EXEMPT_PURPOSES
            .iter()
            .map(|p| (*p).to_owned())
            .collect(),
    })
}

/// Records or lifts a limit; `purpose` is `*` for a restriction.
pub(crate) async fn change_limit(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    subject_id: &str,
    kind: LimitKind,
    purpose: &str,
    lift: bool,
) -> Result<LimitList, ApiError> {
    if !custodian_core::vault::service::valid_subject_id(subject_id) {
        return Err(ApiError::new(ErrorCode::InvalidSubjectId));
    }
    if kind == LimitKind::Objection && !valid_purpose(purpose) {
        return Err(ApiError::new(ErrorCode::InvalidPathParameter));
    }
    let permit = authorize(
        state,
        caller,
        rid,
        Action::SubjectLimit,
        Resource::Subjects,
        None,
    )
    .await?;
    let vault = state.vault();
    let mut audit = permit.draft.with_subject(Some(vault.pseudonym(subject_id)));
    audit.action = format!(
        "subject.{}.{}",
        kind.as_str(),
        if lift { "lift" } else { "record" }
    );
    audit.fields = vec![purpose.to_owned()];
    if lift {
        state
            .store
            .lift_processing_limit(subject_id, kind, purpose, audit)
            .await?;
    } else {
        let limit = ProcessingLimit {
            subject_id: subject_id.to_owned(),
            kind,
            purpose: purpose.to_owned(),
            since: state.clock.now(),
        };
        state.store.put_processing_limit(&limit, audit).await?;
    }
    limits_out(state, subject_id).await
}

/// A subject's restriction of processing and objections.
#[utoipa::path(get, path = "/v1/subjects/{subject_id}/limits", tag = "vault", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id")),
    responses((status = 200, body = LimitList), (status = 403, body = ErrorBody)))]
pub async fn get_limits(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(subject_id): ApiPath<String>,
) -> Result<ApiJson<LimitList>, ApiError> {
    if !custodian_core::vault::service::valid_subject_id(&subject_id) {
        return Err(ApiError::new(ErrorCode::InvalidSubjectId));
    }
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::SubjectLimit,
        Resource::Subjects,
        None,
    )
    .await?;
    let d = permit
        .draft
        .with_subject(Some(state.vault().pseudonym(&subject_id)));
    state.store.append_audit(d).await?;
    Ok(ApiJson(limits_out(&state, &subject_id).await?))
}

/// Restricts processing (GDPR Art. 18): reads are refused but for the exempt purposes.
#[utoipa::path(put, path = "/v1/subjects/{subject_id}/restriction", tag = "vault", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id")),
    responses((status = 200, body = LimitList), (status = 403, body = ErrorBody)))]
pub async fn restrict(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(subject_id): ApiPath<String>,
) -> Result<ApiJson<LimitList>, ApiError> {
    change_limit(
        &state,
        &caller,
        &rid,
        &subject_id,
        LimitKind::Restriction,
        "*",
        false,
    )
    .await
    .map(ApiJson)
}

/// Lifts a restriction of processing.
#[utoipa::path(delete, path = "/v1/subjects/{subject_id}/restriction", tag = "vault", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id")),
    responses((status = 200, body = LimitList), (status = 404, body = ErrorBody)))]
pub async fn unrestrict(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(subject_id): ApiPath<String>,
) -> Result<ApiJson<LimitList>, ApiError> {
    change_limit(
        &state,
        &caller,
        &rid,
        &subject_id,
        LimitKind::Restriction,
        "*",
        true,
    )
    .await
    .map(ApiJson)
}

/// Records an objection to one purpose (GDPR Art. 21, or an opt-out): reads for it are refused.
#[utoipa::path(put, path = "/v1/subjects/{subject_id}/objections/{purpose}", tag = "vault", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id"), ("purpose" = String, Path, description = "Purpose")),
    responses((status = 200, body = LimitList), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "purpose_exempt: dsr and legal_claims cannot be objected to")))]
pub async fn object(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath((subject_id, purpose)): ApiPath<(String, String)>,
) -> Result<ApiJson<LimitList>, ApiError> {
    if custodian_core::vault::record::OBJECTION_EXEMPT_PURPOSES.contains(&purpose.as_str()) {
        return Err(ApiError::new(ErrorCode::PurposeExempt).details(json!({ "purpose": purpose })));
    }
    change_limit(
        &state,
        &caller,
        &rid,
        &subject_id,
        LimitKind::Objection,
        &purpose,
        false,
    )
    .await
    .map(ApiJson)
}

/// Withdraws an objection.
#[utoipa::path(delete, path = "/v1/subjects/{subject_id}/objections/{purpose}", tag = "vault", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id"), ("purpose" = String, Path, description = "Purpose")),
    responses((status = 200, body = LimitList), (status = 404, body = ErrorBody)))]
pub async fn unobject(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath((subject_id, purpose)): ApiPath<(String, String)>,
) -> Result<ApiJson<LimitList>, ApiError> {
    change_limit(
        &state,
        &caller,
        &rid,
        &subject_id,
        LimitKind::Objection,
        &purpose,
        true,
    )
    .await
    .map(ApiJson)
}

/// Tokenizes a value of a tokenized field for a subject: a random token, a deterministic one
/// (same value and field, same token), or a format-preserving FF1 token, as the field declares.
#[utoipa::path(post, path = "/v1/tokenize", tag = "vault", security(("bearer" = [])),
    request_body = TokenizeIn, responses(
    (status = 200, body = TokenOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn tokenize(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<TokenizeIn>,
) -> Result<ApiJson<TokenOut>, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: purpose(&headers)?,
    };
    let vault = state.vault();
    let coll = vault.collection(&input.collection).await?;
    let grant = ctx
        .write_grant(
            &coll.schema,
            [input.field.as_str()],
            Action::DataWrite,
            None,
        )
        .await?;
    let token = vault
        .tokenize(
            &input.collection,
            &input.field,
            &input.subject_id,
            &input.value,
            &grant,
            state.clock.now(),
            ctx.draft(
                "token.issue",
                format!("collection:{}", input.collection),
                Decision::Allow,
            ),
        )
        .await?;
    Ok(ApiJson(TokenOut { token }))
}

/// Where a redaction's `tokenize` operator issues tokens: a collection, its tokenized fields
/// (granted `data.write` under the request's purpose) and the subject the tokens belong to.
/// Everything is checked by [`TokenTarget::new`], before the text is scanned.
pub(crate) struct TokenTarget {
    collection: String,
    subject_id: String,
    purpose: Option<String>,
    grant: WriteGrant,
}

impl TokenTarget {
    /// Checks the subject, the collection, that each field exists and is tokenized, and the
    /// caller's `data.write` on them (a refusal is audited and answered 403).
    pub(crate) async fn new(
        state: &AppState,
        caller: &Caller,
        rid: &RequestId,
        headers: &HeaderMap,
        collection: &str,
        subject_id: &str,
        fields: &[&str],
    ) -> Result<Self, ApiError> {
        let ctx = Ctx {
            state,
            caller,
            rid,
            purpose: purpose(headers)?,
        };
        if !custodian_core::vault::service::valid_subject_id(subject_id) {
            return Err(custodian_core::vault::service::VaultError::InvalidSubject.into());
        }
        let coll = state.vault().collection(collection).await?;
        for f in fields {
            let spec = coll
                .schema
                .field(f)
                .ok_or_else(|| custodian_core::vault::service::unknown_field(f))?;
            if spec.tokenization == custodian_core::vault::schema::Tokenization::None {
                return Err(custodian_core::vault::service::VaultError::NotTokenized(
                    (*f).to_owned(),
                )
                .into());
            }
        }
        let grant = ctx
            .write_grant(
                &coll.schema,
                fields.iter().copied(),
                Action::DataWrite,
                None,
            )
            .await?;
        Ok(Self {
            collection: collection.to_owned(),
            subject_id: subject_id.to_owned(),
            purpose: ctx.purpose,
            grant,
        })
    }

    /// The token for `value` in `field` (audited as `token.issue`, like `POST /v1/tokenize`);
    /// `None` when the field's type refuses the value (nothing is stored then).
    pub(crate) async fn issue(
        &self,
        state: &AppState,
        caller: &Caller,
        rid: &RequestId,
        field: &str,
        value: &str,
    ) -> Result<Option<String>, ApiError> {
        let ctx = Ctx {
            state,
            caller,
            rid,
            purpose: self.purpose.clone(),
        };
        let issued = state
            .vault()
            .tokenize(
                &self.collection,
                field,
                &self.subject_id,
                &serde_json::Value::String(value.to_owned()),
                &self.grant,
                state.clock.now(),
                ctx.draft(
                    "token.issue",
                    format!("collection:{}", self.collection),
                    Decision::Allow,
                ),
            )
            .await;
        match issued {
            Ok(token) => Ok(Some(token)),
            Err(custodian_core::vault::service::VaultError::InvalidValue { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Resolves a token to its value: needs a purpose under which the policy allows `data.reveal`
/// of the token's field, is refused for a subject under restriction or objection, and is
/// audited. Tokens of an erased subject no longer resolve.
#[utoipa::path(post, path = "/v1/detokenize", tag = "vault", security(("bearer" = [])),
    params(("custodian-purpose" = String, Header, description = "Purpose (required)")),
    request_body = DetokenizeIn, responses(
    (status = 200, body = DetokenizeOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "token_ambiguous"),
))]
pub async fn detokenize(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(input): ApiJson<DetokenizeIn>,
) -> Result<ApiJson<DetokenizeOut>, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: Some(required_purpose(&headers)?),
    };
    let vault = state.vault();
    let rows: Vec<_> = vault
        .resolve_token(&input.token)
        .await?
        .into_iter()
        .filter(|t| input.collection.as_ref().is_none_or(|c| *c == t.collection))
        .filter(|t| input.field.as_ref().is_none_or(|f| *f == t.field))
        .collect();
    // Holders of one token in one field hold one value (a deterministic or format-preserving
    // token stands for the same value of any subject); in two fields, two values may share it.
    let mut scopes: Vec<(&str, &str)> = rows
        .iter()
        .map(|t| (t.collection.as_str(), t.field.as_str()))
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
    if scopes.len() > 1 {
        // Named only to a caller who may reveal them; one who may reveal none of them is
        // refused below (audited) as for any token it may not reveal.
        let mut listed = Vec::new();
        for (c, f) in &scopes {
            let may = vault.collection(c).await.is_ok_and(|coll| {
                coll.schema.field(f).is_some_and(|spec| {
                    gate::decide(
                        &state,
                        &caller,
                        Action::DataReveal,
                        gate::field_resource(c, spec),
                        ctx.purpose.as_deref(),
                    )
                    .is_some()
                })
            });
            if may {
                listed.push(json!({ "collection": c, "field": f }));
            }
        }
        if !listed.is_empty() {
            return Err(
                ApiError::new(ErrorCode::TokenAmbiguous).details(json!({ "issued_in": listed }))
            );
        }
    }
    // A value several subjects hold is revealed through one who has not restricted it, or
    // objected to the purpose, when there is one (looking at the first 100); otherwise the
    // first holder's limit refuses it, audited, below.
    let purpose = ctx.purpose.as_deref().unwrap_or_default();
    let mut open = 0;
    if rows.len() > 1 {
        for (i, t) in rows.iter().enumerate().take(100) {
            if vault
                .limit_refusing(&t.subject_id, purpose)
                .await?
                .is_none()
            {
                open = i;
                break;
            }
        }
    }
    let t = rows
        .into_iter()
        .nth(open)
        .ok_or_else(|| ApiError::new(ErrorCode::TokenNotFound))?;
    let coll = vault.collection(&t.collection).await?;
    let f = coll
        .schema
        .field(&t.field)
        .ok_or_else(|| ApiError::new(ErrorCode::TokenNotFound))?;
    let resource = format!("token:{}.{}", t.collection, t.field);
    let pseudonym = vault.pseudonym(&t.subject_id);
    let mut grants = Grants::new();
    match gate::decide(
        &state,
        &caller,
        Action::DataReveal,
        gate::field_resource(&t.collection, f),
        ctx.purpose.as_deref(),
    ) {
        Some(a) => {
            grants.add(&a);
        }
        None => {
            let mut d = ctx
                .draft("token.resolve", resource, Decision::Deny)
                .with_subject(Some(pseudonym));
            d.fields = vec![t.field.clone()];
            return Err(refuse(
                &state,
                d,
                ApiError::new(ErrorCode::AccessDenied)
                    .details(json!({ "action": "data.reveal", "field": t.field })),
            )
            .await);
        }
    }
    ctx.check_limits(&t.subject_id, &resource).await?;
    let mut d = ctx
        .draft("token.resolve", resource, Decision::Allow)
        .with_subject(Some(pseudonym));
    d.fields = vec![format!("{}:reveal", t.field)];
    let value = vault.open_token(&t, &grants, d).await?;
    Ok(ApiJson(DetokenizeOut {
        value,
        collection: t.collection,
        field: t.field,
        subject_id: t.subject_id,
    }))
}

/// The most rows an import processes at once.
const IMPORT_IN_FLIGHT: usize = 32;
/// The most refused rows an import report lists.
const IMPORT_MAX_ERRORS: usize = 1000;

enum ImportFormat {
    Ndjson,
    Csv,
}

/// Imports records in bulk from NDJSON (`application/x-ndjson`: one
/// `{"subject_id", "fields"}` object per line) or CSV (`text/csv`: a header with `subject_id`
/// and field names, then one record per line; empty cells are absent values). The body is
/// streamed with bounded memory; each row is validated, stored and audited on its own like a
/// single create, so a refused row stores nothing and the others are not held back. The
/// report lists refused rows by line number.
#[utoipa::path(post, path = "/v1/collections/{name}/records:import", tag = "vault", security(("bearer" = [])),
    params(("name" = String, Path, description = "Collection name"),
        ("custodian-purpose" = Option<String>, Header, description = "Purpose of the writes")),
    request_body(content = String, content_type = "application/x-ndjson", description = "NDJSON rows, or CSV with Content-Type text/csv"),
    responses(
    (status = 200, body = ImportReport), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 415, body = ErrorBody),
))]
pub async fn import(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    body: axum::body::Body,
) -> Result<ApiJson<ImportReport>, ApiError> {
    use custodian_core::vault::import::{CsvHeader, Line, LineSplitter, parse_ndjson};
    use futures::StreamExt;
    use futures::stream::FuturesUnordered;

    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: purpose(&headers)?,
    };
    let format = if super::import_is_csv(&headers)? {
        ImportFormat::Csv
    } else {
        ImportFormat::Ndjson
    };
    let vault = state.vault();
    let coll = vault.collection(&name).await?;
    // What the caller may write; a row writing any other field is refused on its own.
    let mut grant = WriteGrant::new();
    let mut granted = 0;
    for f in &coll.schema.fields {
        let one = [f.name.as_str()];
        let purpose = ctx.purpose.as_deref();
        if field_grant(
            &state,
            &caller,
            &coll.schema,
            one,
            Action::DataWrite,
            purpose,
            &mut grant,
        )
        .is_ok()
        {
            granted += 1;
        }
    }
    if granted == 0 {
        // Nothing may be written: refused (and audited) as a whole.
        ctx.write_grant(
            &coll.schema,
            coll.schema.fields.iter().map(|f| f.name.as_str()),
            Action::DataWrite,
            None,
        )
        .await?;
    }

    let mut report = ImportReport::default();
    let mut failures = Failures::default();
    let mut stream = body.into_data_stream();
    let mut splitter = match format {
        ImportFormat::Csv => LineSplitter::csv(),
        ImportFormat::Ndjson => LineSplitter::new(),
    };
    let mut header: Option<CsvHeader> = None;
    let mut pending = FuturesUnordered::new();
    let mut done = false;
    while !done {
        let (lines, end) = match super::next_lines(&mut stream, &mut splitter).await {
            Ok(next) => next,
            Err(e) => {
                // The rows already sent on are let finish, so "rows before the break were
                // imported" holds when the answer is read.
                while pending.next().await.is_some() {}
                return Err(e);
            }
        };
        done = end;
        for line in lines {
            let (row, bytes) = match line {
                Line::TooLong(row) => {
                    report.rows += 1;
                    fail(
                        &mut report,
                        &mut failures,
                        row,
                        ApiError::with_message(
                            ErrorCode::InvalidBody,
                            "the row is longer than 262144 bytes",
                        ),
                        None,
                    );
                    continue;
                }
                Line::Row(_, b) if b.iter().all(u8::is_ascii_whitespace) => continue,
                Line::Row(row, b) => (row, b),
            };
            let parsed = match (&format, &header) {
                (ImportFormat::Csv, None) => {
                    match CsvHeader::parse(&bytes) {
                        Ok(h) => {
                            if let Some(unknown) =
                                h.fields().find(|f| coll.schema.field(f).is_none())
                            {
                                return Err(ApiError::from(
                                    custodian_core::vault::service::unknown_field(unknown),
                                ));
                            }
                            header = Some(h);
                        }
                        Err(e) => {
                            return Err(ApiError::with_message(
                                ErrorCode::InvalidBody,
                                format!("the CSV header: {e}"),
                            ));
                        }
                    }
                    continue;
                }
                (ImportFormat::Csv, Some(h)) => h.row(&bytes, &coll.schema),
                (ImportFormat::Ndjson, _) => parse_ndjson(&bytes),
            };
            report.rows += 1;
            let (subject, values) = match parsed {
                Ok(p) => p,
                Err(e) => {
                    fail(
                        &mut report,
                        &mut failures,
                        row,
                        ApiError::with_message(ErrorCode::InvalidBody, e.0),
                        None,
                    );
                    continue;
                }
            };
            while pending.len() >= IMPORT_IN_FLIGHT {
                if let Some((row, result)) = pending.next().await {
                    tally(&mut report, &mut failures, row, result);
                }
            }
            let (vault, grant, name, ctx) = (&vault, &grant, &name, &ctx);
            pending.push(async move {
                let id = uuid::Uuid::now_v7().to_string();
                let result = vault
                    .create_record(
                        name,
                        &id,
                        &subject,
                        &values,
                        grant,
                        ctx.state.clock.now(),
                        ctx.draft("data.write", format!("record:{name}/{id}"), Decision::Allow),
                    )
                    .await;
                let result = match result {
                    // A field the caller may not write: refused and audited as a single
                    // create's would be.
                    Err(VaultError::NotGranted(field)) => {
                        let mut d = ctx
                            .draft("data.write", format!("collection:{name}"), Decision::Deny)
                            .with_subject(
                                custodian_core::vault::service::valid_subject_id(&subject)
                                    .then(|| vault.pseudonym(&subject)),
                            );
                        d.fields = vec![field.clone()];
                        match ctx.state.store.append_audit(d).await {
                            Ok(_) => Err(VaultError::NotGranted(field)),
                            Err(e) => Err(e.into()),
                        }
                    }
                    other => other,
                };
                (row, result)
            });
        }
    }
    while let Some((row, result)) = pending.next().await {
        tally(&mut report, &mut failures, row, result);
    }
    if matches!(format, ImportFormat::Csv) && header.is_none() {
        return Err(ApiError::with_message(
            ErrorCode::InvalidBody,
            "the CSV has no header line (subject_id and field names)",
        ));
    }
    report.errors_truncated = report.failed > IMPORT_MAX_ERRORS as u64;
    report.errors = failures.into_sorted();
    Ok(ApiJson(report))
}

/// The refused rows with the lowest line numbers, at most [`IMPORT_MAX_ERRORS`] of them (rows
/// finish out of order, so the list is a max-heap by line that drops its largest).
#[derive(Default)]
struct Failures(std::collections::BinaryHeap<FailedRow>);

struct FailedRow(ImportRowError);

impl PartialEq for FailedRow {
    fn eq(&self, other: &Self) -> bool {
        self.0.row == other.0.row
    }
}
impl Eq for FailedRow {}
impl PartialOrd for FailedRow {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for FailedRow {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.row.cmp(&other.0.row)
    }
}

impl Failures {
    fn push(&mut self, row: u64, e: &ApiError, field: Option<String>) {
        self.0.push(FailedRow(ImportRowError {
            row,
            code: e.code().code().to_owned(),
            field,
            message: e.message().to_owned(),
        }));
        if self.0.len() > IMPORT_MAX_ERRORS {
            self.0.pop();
        }
    }

    fn into_sorted(self) -> Vec<ImportRowError> {
        self.0.into_sorted_vec().into_iter().map(|f| f.0).collect()
    }
}

fn fail(
    report: &mut ImportReport,
    failures: &mut Failures,
    row: u64,
    e: ApiError,
    field: Option<String>,
) {
    report.failed += 1;
    failures.push(row, &e, field);
}

fn tally(
    report: &mut ImportReport,
    failures: &mut Failures,
    row: u64,
    result: Result<
        custodian_core::vault::service::Written,
        custodian_core::vault::service::VaultError,
    >,
) {
    match result {
        Ok(_) => report.imported += 1,
        Err(e) => {
            let field = e.field().map(str::to_owned);
            // Storage and audit failures are logged by the conversion like any request's.
            fail(report, failures, row, ApiError::from(e), field);
        }
    }
}

/// Gives a subject a new data key: every record cell and token of the subject is re-sealed
/// under it in one transaction, and the old key is destroyed. Needs `data.write` on every
/// field of every collection.
#[utoipa::path(post, path = "/v1/subjects/{subject_id}/key:rotate", tag = "vault", security(("bearer" = [])),
    params(("subject_id" = String, Path, description = "Subject id")),
    responses(
    (status = 200, body = DataKeyOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
))]
pub async fn rotate_data_key(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(subject_id): ApiPath<String>,
) -> Result<ApiJson<DataKeyOut>, ApiError> {
    let ctx = Ctx {
        state: &state,
        caller: &caller,
        rid: &rid,
        purpose: purpose(&headers)?,
    };
    let pseudonym = custodian_core::vault::service::valid_subject_id(&subject_id)
        .then(|| state.vault().pseudonym(&subject_id));
    ctx.grant_everything(Action::DataWrite, pseudonym).await?;
    let version = state
        .vault()
        .rotate_data_key(
            &subject_id,
            ctx.draft("keys.rotate_data_key", "subject", Decision::Allow),
        )
        .await?;
    Ok(ApiJson(DataKeyOut {
        subject_id,
        key_version: version,
    }))
}

/// The consent verdict that refuses using `subject_id`'s data for `purpose`: only for a
/// purpose defined in the consent register whose consent model gates it (opt-in without a
/// current consent, or opt-out after an opt-out). Purposes not defined there are left to the
/// policies alone.
pub async fn consent_refusal(
    state: &AppState,
    subject_id: &str,
    purpose: &str,
) -> Result<Option<custodian_core::consent::ledger::Verdict>, ApiError> {
    use custodian_core::consent::purpose::ConsentModel;
    let Some(p) = state.consent.purpose(state.store.as_ref(), purpose).await? else {
        return Ok(None);
    };
    if p.purpose.consent == ConsentModel::NotRequired {
        return Ok(None);
    }
    let pseudonym = state.vault_crypto.pseudonym(subject_id);
    let current = state
        .consent
        .current(state.store.as_ref(), &pseudonym, purpose)
        .await?;
    let v =
        custodian_core::consent::ledger::decide(&p.purpose, current.as_ref(), state.clock.now());
    Ok((!v.allowed).then_some(v))
}
