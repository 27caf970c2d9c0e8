//! Retention over the stores: the facts gathered from the vault (records and the fields they
//! hold, ends of relationships, consent withdrawals), the plans, and the vault's disposals,
//! each with its own audit event as proof. Connected databases are disposed of by the server
//! (it has the SQL drivers), from the plan [`dataset_tables`] gives.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::{
    ColumnFacts, Due, FieldFacts, Hold, Item, RecordFacts, Rule, SubjectFacts, TableFacts, Trigger,
    VaultPlan,
};
use crate::audit::{AuditDraft, Decision};
use crate::consent::ledger::ConsentState;
use crate::ports::{Store, StoreError};
use crate::rights::dataset::Dataset;

/// The rules and holds in force.
pub async fn rules_and_holds(store: &dyn Store) -> Result<(Vec<Rule>, Vec<Hold>), StoreError> {
    let map = crate::map::service::current(store).await?;
    let holds = store.holds().await?.into_iter().map(|h| h.hold).collect();
    Ok((map.retention_rules, holds))
}

/// Every vault subject's facts: its records (with the category and requiredness of each
/// field present), the end of its relationship, and, for the consent purposes the rules
/// name, when its consent stopped standing (withdrawn, refused or expired).
pub async fn vault_facts(
    store: &dyn Store,
    pseudonym: &(dyn Fn(&str) -> String + Sync),
    rules: &[Rule],
    now: Timestamp,
) -> Result<Vec<SubjectFacts>, StoreError> {
    let mut schema: BTreeMap<String, BTreeMap<String, (String, bool)>> = BTreeMap::new();
    for c in store.list_collections().await? {
        schema.insert(
            c.schema.name.clone(),
            c.schema
                .fields
                .iter()
                .map(|f| (f.name.clone(), (f.category.clone(), f.required)))
                .collect(),
        );
    }
    let ends: BTreeMap<String, Timestamp> = store.relationship_ends().await?.into_iter().collect();
    let purposes: BTreeSet<&str> = rules
        .iter()
        .filter(|r| r.trigger == Trigger::ConsentWithdrawal)
        .filter_map(|r| r.consent_purpose.as_deref())
        .collect();
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let keys = store.subject_keys(after.as_deref(), 500).await?;
        let Some(last) = keys.last() else { break };
        after = Some(last.subject_id.clone());
        for k in keys {
            let records = store
                .subject_records(&k.subject_id)
                .await?
                .into_iter()
                .map(|r| {
                    let fields = schema.get(&r.collection);
                    RecordFacts {
                        fields: r
                            .cells
                            .iter()
                            .filter_map(|c| {
                                let (category, required) = fields?.get(&c.field)?;
                                Some(FieldFacts {
                                    name: c.field.clone(),
                                    category: category.clone(),
                                    required: *required,
                                })
                            })
                            .collect(),
                        id: r.id,
                        collection: r.collection,
                        created_at: r.created_at,
                        updated_at: r.updated_at,
                    }
                })
                .collect();
            let mut withdrawals = Vec::new();
            if !purposes.is_empty() {
                for c in store.subject_consents(&pseudonym(&k.subject_id)).await? {
                    if !purposes.contains(c.purpose.as_str()) {
                        continue;
                    }
                    let since = match c.state_at(now) {
                        ConsentState::Given => continue,
                        ConsentState::Expired => c.expires_at.unwrap_or(c.at),
                        ConsentState::Refused | ConsentState::Withdrawn => c.at,
                    };
                    withdrawals.push((c.purpose, since));
                }
            }
            out.push(SubjectFacts {
                relationship_ended_at: ends.get(&k.subject_id).copied(),
                subject_id: k.subject_id,
                records,
                withdrawals,
            });
        }
    }
    Ok(out)
}

/// The tables of connected datasets, as retention sees them: each column's categories and
/// the time columns the declaration names (`custodian.retention` on a collection).
pub fn dataset_tables(datasets: &[Dataset]) -> Vec<TableFacts> {
    datasets
        .iter()
        .flat_map(|d| {
            d.collections.iter().map(|c| TableFacts {
                dataset: d.key.clone(),
                table: c.name.clone(),
                columns: c
                    .fields
                    .iter()
                    .map(|f| ColumnFacts {
                        name: f.name.clone(),
                        categories: f.categories.clone(),
                        primary_key: f.primary_key,
                    })
                    .collect(),
                created_column: c.times.created.clone(),
                activity_column: c.times.last_activity.clone(),
                relationship_end_column: c.times.relationship_end.clone(),
            })
        })
        .collect()
}

/// The action name a disposal is audited under.
pub fn audit_action(item: &Item) -> &'static str {
    match item {
        Item::ShredSubject => "retention.crypto_shred",
        Item::DeleteRecord { .. } => "retention.delete",
        Item::DropFields { .. } => "retention.anonymize",
    }
}

/// A run's hold on its job: before each disposal the lease is renewed (to `until()`); when
/// it is no longer this run's, the run stops (`Conflict("lease_lost")`).
pub struct Lease<'a> {
    /// The job.
    pub job: &'a str,
    /// This run.
    pub owner: &'a str,
    /// The new end of the lease.
    pub until: &'a (dyn Fn() -> Timestamp + Sync),
}

/// What the vault's disposals did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultOutcome {
    /// Subjects whose data key was destroyed.
    pub shredded: u64,
    /// Records deleted (including those of shredded subjects).
    pub records_deleted: u64,
    /// Records that lost fields.
    pub records_anonymized: u64,
    /// Disposals skipped because the data had changed or gone since it was read (the next
    /// run looks again).
    pub skipped: u64,
    /// Disposals skipped because a legal hold was placed after the plan was made.
    pub held: u64,
}

/// Carries out the vault plan's due disposals, each in its own transaction with its audit
/// event: actor `actor`, action `retention.crypto_shred` / `retention.delete` /
/// `retention.anonymize`, the subject's pseudonym, and as fields the rules that called for it
/// (`rule:<key>`) and the fields removed. A record that changed or went since the facts were
/// read is skipped (the next run plans again), and so is one whose subject a hold now
/// covers (checked in the disposal's own transaction); anything else stops the run.
#[allow(clippy::too_many_arguments)]
pub async fn dispose_vault(
    store: &dyn Store,
    pseudonym: &(dyn Fn(&str) -> String + Sync),
    plan: &VaultPlan,
    facts: &[SubjectFacts],
    at: Timestamp,
    request_id: &str,
    actor: &str,
    lease: Option<&Lease<'_>>,
) -> Result<VaultOutcome, StoreError> {
    let mut out = VaultOutcome::default();
    for due in &plan.due {
        if let Some(l) = lease
            && !store
                .renew_retention_job(l.job, l.owner, (l.until)())
                .await?
        {
            return Err(StoreError::Conflict("lease_lost"));
        }
        let p = pseudonym(&due.subject_id);
        let mut fields: Vec<String> = due.rules.iter().map(|r| format!("rule:{r}")).collect();
        let result = match &due.item {
            Item::ShredSubject => {
                let d = draft(at, request_id, actor, due, "subject", &p, fields);
                let (n, latest) = facts
                    .iter()
                    .find(|s| s.subject_id == due.subject_id)
                    .map(|s| {
                        (
                            s.records.len() as u64,
                            s.records.iter().map(|r| r.updated_at).max(),
                        )
                    })
                    .unwrap_or_default();
                store
                    .shred_for_retention(&due.subject_id, &p, at, n, latest, d)
                    .await
                    .map(|e| {
                        out.shredded += u64::from(e.key_destroyed);
                        out.records_deleted += e.records;
                    })
            }
            Item::DeleteRecord { collection, record }
            | Item::DropFields {
                collection, record, ..
            } => {
                let drop = match &due.item {
                    Item::DropFields { fields: f, .. } => Some(f.as_slice()),
                    _ => None,
                };
                fields.extend(drop.unwrap_or_default().iter().cloned());
                let Some(updated) = updated_at(facts, &due.subject_id, record) else {
                    out.skipped += 1;
                    continue;
                };
                let resource = format!("record:{collection}/{record}");
                let d = draft(at, request_id, actor, due, &resource, &p, fields);
                store
                    .dispose_record(collection, record, drop, updated, at, d)
                    .await
                    .map(|_| {
                        if drop.is_some() {
                            out.records_anonymized += 1;
                        } else {
                            out.records_deleted += 1;
                        }
                    })
            }
        };
        match result {
            Ok(()) => {}
            Err(StoreError::NotFound | StoreError::Conflict("record_version")) => out.skipped += 1,
            Err(StoreError::Conflict("held")) => out.held += 1,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn updated_at(facts: &[SubjectFacts], subject: &str, record: &str) -> Option<Timestamp> {
    facts
        .iter()
        .find(|s| s.subject_id == subject)?
        .records
        .iter()
        .find(|r| r.id == record)
        .map(|r| r.updated_at)
}

fn draft(
    at: Timestamp,
    request_id: &str,
    actor: &str,
    due: &Due,
    resource: &str,
    pseudonym: &str,
    fields: Vec<String>,
) -> AuditDraft {
    let mut d = AuditDraft::new(
        at,
        request_id,
        actor,
        audit_action(&due.item),
        resource,
        Decision::Allow,
    )
    .with_subject(Some(pseudonym.to_owned()));
    d.fields = fields;
    d
}
