//! Storage ports: what the domain needs from a database, implemented once per backend.
//!
//! Architecture invariant: every method that changes state takes the [`AuditDraft`] of the
//! change and writes both in one transaction, so a change without its audit event cannot be
//! committed (fail closed). Adapter errors (sqlx, io) never cross this boundary: they become
//! [`StoreError`] values with messages that hold no personal data.

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::audit::{AuditDraft, AuditEvent, AuditHead, Hash};
use crate::consent::ledger::{ConsentEvent, CurrentConsent};
use crate::consent::notice::{Notice, NoticeDraft};
use crate::consent::outbox::{Delivery, DueDelivery, OutboxMessage, Target};
use crate::consent::purpose::{Purpose, StoredPurpose};
use crate::operator::{ApiKey, Operator};
use crate::rights::RequestType;
use crate::rights::request::{RightsEvent, RightsRequest, SlaRow};
use crate::rights::workflow::State;
use crate::vault::record::{
    Erased, IndexEntry, LimitKind, ProcessingLimit, Record, RecordForRead, Rewrap, SealedUnder,
    StoredCollection, SubjectKey, TokenRecord,
};
use crate::vault::schema::CollectionSchema;

/// What went wrong in a store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule was broken; the value names the rule.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// `initialize` was called on a store that is already initialised.
    #[error("the store is already initialised")]
    AlreadyInitialized,
    /// The audit event could not be written, so nothing was.
    #[error("the audit log cannot be written: {0}")]
    AuditUnavailable(String),
    /// Stored data does not have the shape the code expects.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed or cannot be reached.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// Facts about this installation, written once by `initialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// A random id for this installation.
    pub id: String,
    /// The origin line of audit checkpoints (a name for this log).
    pub log_origin: String,
    /// When the installation was initialised.
    pub created_at: Timestamp,
}

/// One version of the Cedar policy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySetRecord {
    /// Increases by one with every save, from 1.
    pub version: i64,
    /// The Cedar policy text.
    pub text: String,
    /// When it was saved.
    pub updated_at: Timestamp,
    /// Who saved it (an audit actor string).
    pub updated_by: String,
}

/// Everything `initialize` writes, in one transaction.
#[derive(Debug, Clone)]
pub struct Initialization {
    /// The installation facts.
    pub installation: Installation,
    /// The first admin operator.
    pub admin: Operator,
    /// The admin's first API key.
    pub admin_key: ApiKey,
    /// The default policy set.
    pub policies: String,
    /// The audit event of the initialisation.
    pub audit: AuditDraft,
}

/// A change to consent data another process may have cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentChange {
    /// A subject's state for a purpose changed (pseudonym, purpose key).
    Consent(String, String),
    /// A purpose's definition changed.
    Purpose(String),
    /// Changes may have been missed (the listener reconnected): forget everything.
    Reset,
}

/// A stream of [`ConsentChange`]s made by any process sharing the database.
#[async_trait]
pub trait ConsentListener: Send {
    /// The next change; an error means the listener is broken and should be recreated.
    async fn next(&mut self) -> Result<ConsentChange, StoreError>;
}

/// The consent ledger, purposes and notices.
///
/// The ledger is append-only: records are never changed or deleted, and the current state
/// (`consent_current`) is updated in the same transaction as the records that change it,
/// keeping per subject and purpose the latest record by (time, id).
#[async_trait]
pub trait ConsentStore: Send + Sync {
    /// Creates (`expected` = None) or replaces (at version `expected`) a purpose; returns the
    /// new version. `Conflict("purpose_exists")` / `Conflict("version")` otherwise.
    async fn put_purpose(
        &self,
        purpose: &Purpose,
        expected: Option<i64>,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(i64, AuditEvent), StoreError>;
    /// One purpose.
    async fn get_purpose(&self, key: &str) -> Result<Option<StoredPurpose>, StoreError>;
    /// Every purpose, by key.
    async fn list_purposes(&self) -> Result<Vec<StoredPurpose>, StoreError>;
    /// Publishes the next version of a notice (the version is assigned here: the latest + 1).
    async fn publish_notice(
        &self,
        draft: &NoticeDraft,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<(Notice, AuditEvent), StoreError>;
    /// One version of a notice, or its latest when `version` is None.
    async fn get_notice(
        &self,
        key: &str,
        version: Option<i64>,
    ) -> Result<Option<Notice>, StoreError>;
    /// Every version of a notice, oldest first.
    async fn notice_versions(&self, key: &str) -> Result<Vec<Notice>, StoreError>;
    /// The latest version of every notice, by key.
    async fn list_notices(&self) -> Result<Vec<Notice>, StoreError>;
    /// Appends records (and updates the current state) in one transaction with `audit`,
    /// with their outbox messages and a pending delivery for every enabled target that wants
    /// each message's purpose. A record id already in the ledger is
    /// `Conflict("consent_event")`.
    async fn record_consent(
        &self,
        events: &[ConsentEvent],
        outbox: &[OutboxMessage],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Registers or replaces a propagation target (and its purposes) with `audit`.
    async fn put_target(
        &self,
        target: &Target,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Changes a target, only if it still exists with the signing secret `expected` (so two
    /// concurrent changes, or a change racing a removal, cannot undo each other); None when
    /// it does not (nothing is written).
    async fn update_target(
        &self,
        target: &Target,
        expected: Option<&[u8]>,
        audit: AuditDraft,
    ) -> Result<Option<AuditEvent>, StoreError>;
    /// Removes a target; its pending deliveries become failed (`target_removed`). None when
    /// there is no such target.
    async fn delete_target(
        &self,
        id: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<Option<AuditEvent>, StoreError>;
    /// One target.
    async fn get_target(&self, id: &str) -> Result<Option<Target>, StoreError>;
    /// Every target, oldest first.
    async fn list_targets(&self) -> Result<Vec<Target>, StoreError>;
    /// Claims up to `limit` pending deliveries due at `now` (webhooks, and NATS when `nats`),
    /// pushing their next attempt to `lease_until` so no other dispatcher takes them.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        nats: bool,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records an attempt's outcome on a delivery that is still pending; one that was
    /// acknowledged, or failed meanwhile (its target removed, its subject erased), is left as it is.
    async fn finish_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// Every target's delivery of one change.
    async fn deliveries(&self, event_id: &str) -> Result<Vec<Delivery>, StoreError>;
    /// A receiver's confirmation that it applied changes: their pending or delivered
    /// deliveries to `target_id` become acknowledged. Returns how many did.
    async fn acknowledge(
        &self,
        target_id: &str,
        event_ids: &[String],
        at: Timestamp,
    ) -> Result<u64, StoreError>;
    /// A subject's current state for a purpose.
    async fn current_consent(
        &self,
        subject: &str,
        purpose: &str,
    ) -> Result<Option<CurrentConsent>, StoreError>;
    /// The current states of many (subject, purpose) pairs in few reads; pairs without a
    /// record are left out, and the order is unspecified.
    async fn current_consents(
        &self,
        pairs: &[(String, String)],
    ) -> Result<Vec<CurrentConsent>, StoreError>;
    /// A subject's current state for every purpose with a record.
    async fn subject_consents(&self, subject: &str) -> Result<Vec<CurrentConsent>, StoreError>;
    /// A subject's records, oldest first, after ledger position `after`; with positions.
    async fn consent_events(
        &self,
        subject: &str,
        purpose: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, ConsentEvent)>, StoreError>;
    /// One record by id.
    async fn consent_event(&self, id: &str) -> Result<Option<ConsentEvent>, StoreError>;
    /// A listener for changes made by other processes; None when the store is never shared
    /// (SQLite: one process).
    async fn consent_listener(&self) -> Result<Option<Box<dyn ConsentListener>>, StoreError> {
        Ok(None)
    }
}

/// Which requests to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RightsFilter {
    /// Only in this state.
    pub state: Option<State>,
    /// Only of this type.
    pub request_type: Option<RequestType>,
    /// Only under this jurisdiction.
    pub jurisdiction: Option<String>,
    /// Only open ones (not in a final state).
    pub open: bool,
    /// Only those whose deadline in force ends at or before this instant (open ones).
    pub due_before: Option<Timestamp>,
    /// Only those assigned to this operator.
    pub assignee: Option<String>,
    /// Only those whose requester's email has this blind index.
    pub email_index: Option<Vec<u8>>,
    /// Only those about this vault subject.
    pub subject_id: Option<String>,
    /// Ids after this one (pages).
    pub after: Option<String>,
}

/// Rights requests and their history.
///
/// A request's requester identity is sealed under the key of its own vault subject
/// (`requester:<id>`), which is created with the request and destroyed with its record.
#[async_trait]
pub trait RightsStore: Send + Sync {
    /// Stores a new request (version 1), its first history entry and the requester's subject
    /// key, with `audit`. `Conflict("rights_request")` if the id exists.
    async fn create_rights_request(
        &self,
        request: &RightsRequest,
        requester_key: &SubjectKey,
        event: &RightsEvent,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// One request.
    async fn get_rights_request(&self, id: &str) -> Result<Option<RightsRequest>, StoreError>;
    /// Requests matching `filter` in id order (stable for paging), at most `limit`.
    async fn list_rights_requests(
        &self,
        filter: &RightsFilter,
        limit: u32,
    ) -> Result<Vec<RightsRequest>, StoreError>;
    /// Replaces a request (whose `version` is `expected` + 1) if it is still at version
    /// `expected`, appending `event` (if any) to its history, with `audit`.
    /// [`StoreError::NotFound`] if it is gone, `Conflict("version")` if it changed meanwhile.
    async fn update_rights_request(
        &self,
        request: &RightsRequest,
        expected: i64,
        event: Option<&RightsEvent>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// A request's history, oldest first.
    async fn rights_events(&self, id: &str) -> Result<Vec<RightsEvent>, StoreError>;
    /// One row per request received at or after `since`, for SLA figures.
    async fn rights_sla_rows(&self, since: Timestamp) -> Result<Vec<SlaRow>, StoreError>;
    /// Deletes the records whose retention ended at `now` (closed, `retain_until` passed):
    /// each request, its history, and its requester's subject key (crypto-shredding the
    /// sealed identity), with `audit`; also export packages expired at `now` or left
    /// without their request. Returns the ids deleted (at most `limit`).
    async fn purge_rights_requests(
        &self,
        now: Timestamp,
        limit: u32,
        audit: AuditDraft,
    ) -> Result<Vec<String>, StoreError>;
    /// Gives a Data Rights Protocol agent a new pair-wise token (its SHA-256), replacing the
    /// one it had, with `audit`.
    async fn pair_drp_agent(
        &self,
        agent_id: &str,
        token_hash: &[u8],
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Stores a request's export package, replacing any earlier one of the request, with
    /// `audit`.
    async fn create_rights_export(
        &self,
        export: &crate::rights::export::RightsExport,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Takes the package whose token has this SHA-256, once: if it is there, not downloaded
    /// and not expired at `now`, marks it downloaded, empties it and returns it, with `audit`.
    async fn take_rights_export(
        &self,
        token_hash: &[u8],
        now: Timestamp,
        audit: AuditDraft,
    ) -> Result<crate::rights::export::ExportTake, StoreError>;
    /// The agent a token (by its SHA-256) belongs to.
    async fn drp_agent_by_token(&self, token_hash: &[u8]) -> Result<Option<String>, StoreError>;
    /// Declares a dataset or replaces its declaration, with `audit`.
    async fn put_dataset(
        &self,
        dataset: &crate::rights::dataset::StoredDataset,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// The declared datasets, by key.
    async fn datasets(&self) -> Result<Vec<crate::rights::dataset::StoredDataset>, StoreError>;
    /// Removes a dataset's declaration, with `audit`; `NotFound` when there is none.
    async fn delete_dataset(&self, key: &str, audit: AuditDraft) -> Result<AuditEvent, StoreError>;
    /// Adds manual tasks, leaving out any whose system already has a task in its request,
    /// with `audit`.
    async fn create_rights_tasks(
        &self,
        tasks: &[crate::rights::task::RightsTask],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// A request's manual tasks, oldest first.
    async fn rights_tasks(
        &self,
        request_id: &str,
    ) -> Result<Vec<crate::rights::task::RightsTask>, StoreError>;
    /// Stores a changed task over the version read (`Conflict("version")` when it changed
    /// meanwhile, `NotFound` when it is gone), with `audit`.
    async fn update_rights_task(
        &self,
        task: &crate::rights::task::RightsTask,
        expected_version: i64,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
}

/// The data map (datasets are kept by [`RightsStore::put_dataset`]'s table).
#[async_trait]
pub trait MapStore: Send + Sync {
    /// Stores entries and datasets, each replacing the one with its kind and key (versions
    /// and times as given), with `audit`, in one transaction: all or nothing.
    async fn put_map(
        &self,
        entries: &[crate::map::MapEntry],
        datasets: &[crate::rights::dataset::StoredDataset],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Every entry, by kind and key.
    async fn map_entries(&self) -> Result<Vec<crate::map::MapEntry>, StoreError>;
    /// Removes an entry, with `audit`; `NotFound` when there is none.
    async fn delete_map_entry(
        &self,
        kind: crate::map::MapKind,
        key: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Stores a scan's proposals for `dataset`, with `audit`, in one transaction: they
    /// replace every proposal of that dataset still pending (decided ones stay as history).
    async fn put_scan_proposals(
        &self,
        dataset: &str,
        proposals: &[crate::map::proposal::ScanProposal],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Every proposal (of one dataset, when given), newest first.
    async fn scan_proposals(
        &self,
        dataset: Option<&str>,
    ) -> Result<Vec<crate::map::proposal::ScanProposal>, StoreError>;
    /// Records a decision (`decided` carries the new status, the category decided, who and
    /// when) and, for an
    /// acceptance, stores `dataset` (the declaration with the category added, at the next
    /// version), with `audit`, in one transaction. `NotFound` when there is no such proposal,
    /// `Conflict("decided")` when it is no longer pending, `Conflict("version")` when the
    /// dataset changed since it was read.
    async fn decide_scan_proposal(
        &self,
        decided: &crate::map::proposal::ScanProposal,
        dataset: Option<&crate::rights::dataset::StoredDataset>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
}

/// A legal hold as stored: the hold, who placed it and who released it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHold {
    /// The hold.
    pub hold: crate::retention::Hold,
    /// The operator who placed it (`operator:<id>` or `cli`).
    pub created_by: String,
    /// The operator who released it.
    pub released_by: Option<String>,
}

/// Legal holds, the ends of relationships, and the leases of retention jobs.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Places a hold, with `audit`; `Conflict("hold")` if the id exists.
    async fn put_hold(
        &self,
        hold: &StoredHold,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Every hold, oldest first.
    async fn holds(&self) -> Result<Vec<StoredHold>, StoreError>;
    /// Releases a hold at `at`, with `audit`; `NotFound` if there is none,
    /// `Conflict("released")` if it was released already.
    async fn release_hold(
        &self,
        id: &str,
        at: Timestamp,
        by: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Disposes of one vault record for retention, with `audit`, if it has not changed since
    /// `expected_updated_at`: with `fields`, those fields' cells and blind indexes are removed
    /// (the record's `updated_at` becomes `at`); without, the whole record goes. Either way
    /// the subject's tokens of a field none of its records in the collection still holds are
    /// deleted, so no token outlives the value it stood for. `NotFound` if the record is
    /// gone, `Conflict("record_version")` if it changed meanwhile, `Conflict("held")` if a
    /// legal hold on the subject is active at `at`.
    async fn dispose_record(
        &self,
        collection: &str,
        record_id: &str,
        fields: Option<&[String]>,
        expected_updated_at: Timestamp,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Crypto-shreds a subject for retention, as [`Store::erase_subject`] does, only if no
    /// legal hold on it is active at `at` (`Conflict("held")`) and its records are still
    /// `records` many with the latest change at `latest_update` (`Conflict("record_version")`:
    /// data written since the plan was made is not destroyed unseen).
    async fn shred_for_retention(
        &self,
        subject_id: &str,
        pseudonym: &str,
        at: Timestamp,
        records: u64,
        latest_update: Option<Timestamp>,
        audit: AuditDraft,
    ) -> Result<crate::vault::record::Erased, StoreError>;
    /// Extends `owner`'s lease on a job to `until`; `false` when the lease is no longer
    /// `owner`'s (it lapsed and another process took the job): the run must stop.
    async fn renew_retention_job(
        &self,
        name: &str,
        owner: &str,
        until: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Records (or, with `None`, clears) the end of a subject's relationship, with `audit`.
    async fn set_relationship_end(
        &self,
        subject_id: &str,
        ended_at: Option<Timestamp>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Every recorded end of relationship.
    async fn relationship_ends(&self) -> Result<Vec<(String, Timestamp)>, StoreError>;
    /// Claims the named jobs that are due at `now` (or all of them, with `force`) and not
    /// leased to another process, leasing them to `owner` until `until`; returns the names
    /// claimed. Jobs never seen before are created due. On PostgreSQL the rows are locked with
    /// `FOR UPDATE SKIP LOCKED`, so concurrent claims from several processes never overlap.
    async fn claim_retention_jobs(
        &self,
        names: &[String],
        owner: &str,
        now: Timestamp,
        until: Timestamp,
        force: bool,
    ) -> Result<Vec<String>, StoreError>;
    /// Ends `owner`'s lease on a job, recording the outcome and when it is next due (no-op
    /// if the lease is no longer `owner`'s).
    async fn finish_retention_job(
        &self,
        name: &str,
        owner: &str,
        at: Timestamp,
        next_due: Timestamp,
        outcome: &str,
    ) -> Result<(), StoreError>;
}

/// One operator's latest completion expiry of one course their role requires (`None`:
/// never completed), for compliance reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingRow {
    /// The operator.
    pub operator_id: String,
    /// The course.
    pub course: String,
    /// The latest expiry among the operator's completions of it.
    pub latest_expiry: Option<Timestamp>,
}

/// The training register (courses, the roles that must take them, completions), and the
/// other compliance registers.
///
/// Operators read through [`Store`] carry `training_valid_until` derived from this register
/// ([`crate::training::valid_until`] over the courses their role requires), so a completion
/// or a course change counts from the next read, without anything cached in the operator.
#[async_trait]
pub trait GovernanceStore: Send + Sync {
    /// Creates a course (`expected_version` none; `Conflict("course")` if the key exists) or
    /// replaces it if its version is still `expected_version` (`NotFound`,
    /// `Conflict("version")`), with its required roles, with `audit`, in one transaction.
    async fn put_course(
        &self,
        course: &crate::training::Course,
        expected_version: Option<i64>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Every course, by key.
    async fn courses(&self) -> Result<Vec<crate::training::Course>, StoreError>;
    /// Records a completion, with `audit`; `Conflict("reference")` when the operator or the
    /// course does not exist.
    async fn record_completion(
        &self,
        completion: &crate::training::Completion,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Revokes a completion at `at` by `by`, with `audit`; `NotFound`, or
    /// `Conflict("revoked")` when it was revoked already. A revoked completion no longer
    /// counts toward anyone's training.
    async fn revoke_completion(
        &self,
        id: &str,
        at: Timestamp,
        by: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Completions (of one operator, when given), newest first.
    async fn completions(
        &self,
        operator_id: Option<&str>,
    ) -> Result<Vec<crate::training::Completion>, StoreError>;
    /// For every operator (or one), each course their role requires and their latest expiry
    /// of it, by operator then course.
    async fn training_rows(
        &self,
        operator_id: Option<&str>,
    ) -> Result<Vec<TrainingRow>, StoreError>;
    /// Records an incident (`expected_version` none; `Conflict("incident")` if the id
    /// exists) or replaces it if its version is still `expected_version` (`NotFound`,
    /// `Conflict("version")`), with `audit`, in one transaction.
    async fn put_incident(
        &self,
        incident: &crate::incident::record::Incident,
        expected_version: Option<i64>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// One incident.
    async fn incident(
        &self,
        id: &str,
    ) -> Result<Option<crate::incident::record::Incident>, StoreError>;
    /// Every incident, newest first.
    async fn incidents(&self) -> Result<Vec<crate::incident::record::Incident>, StoreError>;
    /// How many subjects are in each current consent state at `now`, per purpose (by
    /// purpose, then state; a consent past its expiry counts as `expired`).
    async fn consent_figures(&self, now: Timestamp) -> Result<Vec<ConsentFigure>, StoreError>;
    /// Every retention job with its last run, by name.
    async fn retention_jobs(&self) -> Result<Vec<RetentionJob>, StoreError>;
    /// Records an exported evidence bundle, with `audit`, in one transaction, if the latest
    /// recorded bundle is still `previous` (none: there is none yet); else
    /// `Conflict("previous")` (another export got there first, so this one would fork the
    /// chain of bundles).
    async fn record_evidence_bundle(
        &self,
        bundle: &EvidenceBundle,
        previous: Option<&str>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// The latest exported evidence bundle (the largest log size, then the latest time).
    async fn last_evidence_bundle(&self) -> Result<Option<EvidenceBundle>, StoreError>;
    /// Adds an entry (`expected_version` none; `Conflict("exists")` if its kind and key are
    /// taken) or replaces it if its version is still `expected_version` (`NotFound`,
    /// `Conflict("version")`), with `audit`, in one transaction.
    async fn put_register_entry(
        &self,
        entry: &crate::register::RegisterEntry,
        expected_version: Option<i64>,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError> {
        self.put_register_entries(&[(entry.clone(), expected_version)], audit)
            .await
    }
    /// Stores several entries as [`GovernanceStore::put_register_entry`] does each, with
    /// `audit`, in one transaction: all or none.
    async fn put_register_entries(
        &self,
        entries: &[(crate::register::RegisterEntry, Option<i64>)],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// One entry.
    async fn register_entry(
        &self,
        kind: crate::register::RegisterKind,
        key: &str,
    ) -> Result<Option<crate::register::RegisterEntry>, StoreError>;
    /// Every entry of a kind, by key.
    async fn register_entries(
        &self,
        kind: crate::register::RegisterKind,
    ) -> Result<Vec<crate::register::RegisterEntry>, StoreError>;
}

/// How many subjects are in one current consent state for one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentFigure {
    /// The purpose's key.
    pub purpose: String,
    /// `given`, `refused`, `withdrawn` or `expired`.
    pub state: String,
    /// How many subjects.
    pub count: u64,
}

/// A retention job and its last run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionJob {
    /// Its name.
    pub name: String,
    /// When it is next due.
    pub due_at: Timestamp,
    /// When it last ran.
    pub last_run_at: Option<Timestamp>,
    /// What the last run did (a short code, no personal data).
    pub last_outcome: Option<String>,
}

/// An evidence bundle as recorded when it was exported: what the next one proves
/// consistency from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceBundle {
    /// Its id (a UUID v7 string).
    pub id: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// The audit log's size it covers.
    pub tree_size: u64,
    /// The log's root at that size (hex).
    pub root: String,
    /// SHA-256 of its manifest (hex).
    pub manifest_sha256: String,
    /// Who exported it (an audit actor string).
    pub created_by: String,
}

/// `training_valid_until` of each operator named in `rows` ([`crate::training::valid_until`]
/// over their required courses); an operator absent from `rows` has none.
pub fn training_by_operator(rows: &[TrainingRow]) -> HashMap<String, Option<Timestamp>> {
    let mut per: HashMap<String, Vec<Option<Timestamp>>> = HashMap::new();
    for r in rows {
        per.entry(r.operator_id.clone())
            .or_default()
            .push(r.latest_expiry);
    }
    per.into_iter()
        .map(|(op, v)| {
            let until = crate::training::valid_until(&v);
            (op, until)
        })
        .collect()
}

/// The database behind Custodian.
#[async_trait]
pub trait Store:
    ConsentStore + RightsStore + MapStore + RetentionStore + GovernanceStore + Send + Sync
{
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The installation, if initialised.
    async fn installation(&self) -> Result<Option<Installation>, StoreError>;
    /// Initialises an empty store; [`StoreError::AlreadyInitialized`] if it is not empty.
    async fn initialize(&self, init: Initialization) -> Result<AuditEvent, StoreError>;

    /// Creates an operator; [`StoreError::Conflict`] if the id exists.
    async fn create_operator(
        &self,
        op: &Operator,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// All operators, oldest first.
    async fn list_operators(&self) -> Result<Vec<Operator>, StoreError>;
    /// One operator.
    async fn get_operator(&self, id: &str) -> Result<Option<Operator>, StoreError>;
    /// Disables or re-enables an operator; [`StoreError::NotFound`] if there is none.
    async fn set_operator_disabled(
        &self,
        id: &str,
        disabled: bool,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;

    /// Stores a new API key (its hash only).
    async fn create_api_key(
        &self,
        key: &ApiKey,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// The keys of one operator, or of all, oldest first.
    async fn list_api_keys(&self, operator_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError>;
    /// Revokes a key; [`StoreError::NotFound`] if there is no such unrevoked key.
    async fn revoke_api_key(
        &self,
        id: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// The key with this SHA-256 (hex) and its operator.
    async fn find_api_key(&self, hash: &str) -> Result<Option<(ApiKey, Operator)>, StoreError>;

    /// The current policy set.
    async fn policy_set(&self) -> Result<Option<PolicySetRecord>, StoreError>;
    /// The current policy set's version, cheaply (0 when none).
    async fn policy_version(&self) -> Result<i64, StoreError>;
    /// Saves a new version of the policy set.
    async fn put_policy_set(
        &self,
        text: &str,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<PolicySetRecord, StoreError>;

    /// Appends one audit event on its own (reads and refusals).
    async fn append_audit(&self, draft: AuditDraft) -> Result<AuditEvent, StoreError>;
    /// The head of the audit log.
    async fn audit_head(&self) -> Result<AuditHead, StoreError>;
    /// Up to `limit` events from `from_seq` on, in order.
    async fn audit_events(&self, from_seq: u64, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;
    /// The stored tree nodes at these coordinates (missing ones are left out).
    async fn audit_nodes(
        &self,
        coords: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Hash>, StoreError>;

    /// Declares a collection (`expected_version` none) or replaces its schema (`Some` of the
    /// version that was read, checked against changes made meanwhile); returns the new version.
    /// [`StoreError::Conflict`]`("collection_exists")` or `("version")` otherwise.
    async fn put_collection(
        &self,
        schema: &CollectionSchema,
        expected_version: Option<i64>,
        at: Timestamp,
        audit: AuditDraft,
    ) -> Result<i64, StoreError>;
    /// One collection.
    async fn get_collection(&self, name: &str) -> Result<Option<StoredCollection>, StoreError>;
    /// All collections, by name.
    async fn list_collections(&self) -> Result<Vec<StoredCollection>, StoreError>;
    /// Whether the collection holds any record.
    async fn collection_has_records(&self, name: &str) -> Result<bool, StoreError>;

    /// A subject's wrapped data key.
    async fn subject_key(&self, subject_id: &str) -> Result<Option<SubjectKey>, StoreError>;
    /// Stores a record, its blind indexes, the tokens of its tokenized values (sealed under the
    /// record's key; one the subject already holds is kept) and (for a subject's first record)
    /// its new key, in one transaction. [`StoreError::Conflict`]`("subject_key")` when `key`
    /// is not the record's (subject and version), or is new but the subject has a key already
    /// (a concurrent first write won), or is held but the subject no longer holds that very key
    /// (erased meanwhile, perhaps given a new one since, or rewrapped): re-read the key and
    /// retry.
    async fn insert_record(
        &self,
        record: &Record,
        key: &SealedUnder,
        indexes: &[IndexEntry],
        tokens: &[TokenRecord],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// One record with its cells.
    async fn get_record(&self, collection: &str, id: &str) -> Result<Option<Record>, StoreError>;
    /// One record with its subject's restrictions, objections and wrapped data key: what a
    /// read needs. A backend answers it in as few round trips as it can; this default makes
    /// three reads.
    async fn record_for_read(
        &self,
        collection: &str,
        id: &str,
    ) -> Result<Option<RecordForRead>, StoreError> {
        let Some(record) = self.get_record(collection, id).await? else {
            return Ok(None);
        };
        let limits = self.processing_limits(&record.subject_id).await?;
        let key = self.subject_key(&record.subject_id).await?;
        Ok(Some(RecordForRead {
            record,
            limits,
            key,
        }))
    }
    /// Records whose `field` has blind index `index`, ordered by id, after `after`.
    async fn find_records(
        &self,
        collection: &str,
        field: &str,
        index: &[u8],
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Record>, StoreError>;
    /// Every record of a subject, across collections.
    async fn subject_records(&self, subject_id: &str) -> Result<Vec<Record>, StoreError>;
    /// Deletes one record and its indexes; [`StoreError::NotFound`] if there is none.
    async fn delete_record(
        &self,
        collection: &str,
        id: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Crypto-shreds a subject: destroys its data key, deletes its records and indexes, fails
    /// its undelivered consent changes (`subject_erased`) and deletes their sealed outbox
    /// messages, and appends its pseudonym to the erasure ledger, in one transaction. With
    /// `only_key`, only if the subject still holds that very key ([`SubjectKey::is_stored_as`]);
    /// otherwise nothing is written and the answer is [`StoreError::Conflict`]`("subject_key")`.
    async fn erase_subject(
        &self,
        subject_id: &str,
        pseudonym: &str,
        at: Timestamp,
        only_key: Option<&SubjectKey>,
        audit: AuditDraft,
    ) -> Result<Erased, StoreError>;
    /// The erasure ledger: pseudonyms and times, oldest first.
    async fn erasure_ledger(&self) -> Result<Vec<(String, Timestamp)>, StoreError>;
    /// Adds the entries of another copy of the erasure ledger that this one lacks (same
    /// pseudonym and time); returns how many were added.
    async fn merge_erasure_ledger(
        &self,
        entries: &[(String, Timestamp)],
        audit: AuditDraft,
    ) -> Result<u64, StoreError>;
    /// When the subject with this pseudonym was last erased, if ever.
    async fn erased_at(&self, pseudonym: &str) -> Result<Option<Timestamp>, StoreError>;

    /// Replaces a record's cells and blind indexes (rectification), and adds `tokens` as
    /// [`Store::insert_record`] does, if it has not changed since
    /// `expected_updated_at` and its subject still holds `key` (the key it was read and
    /// re-sealed with); [`StoreError::NotFound`] if it is gone,
    /// [`StoreError::Conflict`]`("record_version")` if it changed meanwhile, `("subject_key")`
    /// if its key did.
    async fn update_record(
        &self,
        record: &Record,
        key: &SubjectKey,
        expected_updated_at: Timestamp,
        indexes: &[IndexEntry],
        tokens: &[TokenRecord],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;

    /// Stores a token (and, for a subject's first value, its new key), under the key checks of
    /// [`Store::insert_record`]. Storing a token the subject already holds is a no-op.
    async fn put_token(
        &self,
        token: &TokenRecord,
        key: &SealedUnder,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// A token's records (one per subject holding it; deterministic tokens may have several).
    async fn get_token(&self, token: &str) -> Result<Vec<TokenRecord>, StoreError>;

    /// A subject's tokens.
    async fn subject_tokens(&self, subject_id: &str) -> Result<Vec<TokenRecord>, StoreError>;
    /// Replaces a subject's data key by `new_key` (a higher version) together with every one of
    /// its records and tokens, re-sealed under it, in one transaction.
    /// [`StoreError::Conflict`]`("subject_key")` if the stored key is no longer `old` (see
    /// [`SubjectKey::is_stored_as`]), `("record_version")` if the subject's records or tokens
    /// changed since they were read.
    async fn rotate_subject_key(
        &self,
        old: &SubjectKey,
        new_key: &SubjectKey,
        records: &[Record],
        tokens: &[TokenRecord],
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Subject keys in subject-id order after `after` (for key rotation and ledger replay).
    async fn subject_keys(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SubjectKey>, StoreError>;

    /// Replaces wrapped subject keys (KEK rotation), each only if its stored KEK is still the
    /// old one (an erased or already re-wrapped key is skipped); returns how many changed.
    async fn rewrap_subject_keys(
        &self,
        rewraps: &[Rewrap],
        audit: AuditDraft,
    ) -> Result<u64, StoreError>;

    /// Records a restriction or objection (recording one that exists is a no-op).
    async fn put_processing_limit(
        &self,
        limit: &ProcessingLimit,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// Lifts one; [`StoreError::NotFound`] if there is none.
    async fn lift_processing_limit(
        &self,
        subject_id: &str,
        kind: LimitKind,
        purpose: &str,
        audit: AuditDraft,
    ) -> Result<AuditEvent, StoreError>;
    /// A subject's restrictions and objections.
    async fn processing_limits(&self, subject_id: &str)
    -> Result<Vec<ProcessingLimit>, StoreError>;
}
