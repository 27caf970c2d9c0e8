//! Wire types of consent: purposes, notices, the ledger, checks, receipts, the public
//! endpoints the banner calls.

use std::collections::BTreeMap;

use custodian_core::consent::ledger::{ConsentEvent, CurrentConsent, Verdict};
use custodian_core::consent::notice::{Notice, NoticeDraft, NoticeText};
use custodian_core::consent::purpose::{
    ConsentModel, LegalBasis, OptOutKind, Purpose, PurposeError, SpecialCondition, StoredPurpose,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::time;

/// `PUT /v1/purposes/{key}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurposeIn {
    /// Name per language tag, e.g. `{"en": "Newsletter"}`.
    pub names: BTreeMap<String, String>,
    /// Description per language tag.
    #[serde(default)]
    pub descriptions: BTreeMap<String, String>,
    /// GDPR Art. 6(1) basis: `consent`, `contract`, `legal_obligation`, `vital_interests`,
    /// `public_task`, `legitimate_interests`.
    #[schema(example = "consent")]
    pub legal_basis: String,
    /// Art. 9(2) condition for special categories, e.g. `explicit_consent`.
    pub special_condition: Option<String>,
    /// US opt-out rights it falls under: `sale`, `sharing`, `targeted_advertising`,
    /// `sensitive_data`.
    #[serde(default)]
    pub opt_out_kinds: Vec<String>,
    /// `opt_in` (needs consent), `opt_out` (honours opt-outs) or `not_required`.
    #[schema(example = "opt_in")]
    pub consent: String,
    /// Data uses (fideslang keys).
    #[serde(default)]
    pub data_uses: Vec<String>,
    /// Data categories (fideslang keys).
    #[serde(default)]
    pub data_categories: Vec<String>,
    /// Jurisdictions, e.g. `EU`, `US-CA`.
    #[serde(default)]
    pub jurisdictions: Vec<String>,
    /// The notice shown when asking.
    pub notice: Option<String>,
    /// How long a consent lasts, in days.
    pub validity_days: Option<u32>,
    /// The version being replaced (optimistic concurrency); omit to create or overwrite.
    pub version: Option<i64>,
}

impl PurposeIn {
    /// The domain purpose, or the field whose enumerated value is unknown.
    pub fn purpose(self, key: &str) -> Result<(Purpose, Option<i64>), PurposeError> {
        let bad = |field, rule| PurposeError { field, rule };
        let purpose = Purpose {
            key: key.to_owned(),
            names: self.names,
            descriptions: self.descriptions,
            legal_basis: LegalBasis::parse(&self.legal_basis)
                .ok_or(bad("legal_basis", "unknown_legal_basis"))?,
            special_condition: self
                .special_condition
                .map(|c| {
                    SpecialCondition::parse(&c).ok_or(bad("special_condition", "unknown_condition"))
                })
                .transpose()?,
            opt_out_kinds: self
                .opt_out_kinds
                .iter()
                .map(|k| OptOutKind::parse(k).ok_or(bad("opt_out_kinds", "unknown_opt_out_kind")))
                .collect::<Result<_, _>>()?,
            consent: ConsentModel::parse(&self.consent)
                .ok_or(bad("consent", "unknown_consent_model"))?,
            data_uses: self.data_uses,
            data_categories: self.data_categories,
            jurisdictions: self.jurisdictions,
            notice: self.notice,
            validity_days: self.validity_days,
        };
        Ok((purpose, self.version))
    }
}

/// A purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurposeOut {
    /// Key (the `Custodian-Purpose` header value).
    pub key: String,
    /// Names per language.
    pub names: BTreeMap<String, String>,
    /// Descriptions per language.
    pub descriptions: BTreeMap<String, String>,
    /// Legal basis.
    pub legal_basis: &'static str,
    /// The article, e.g. `GDPR Art. 6(1)(a)`.
    pub legal_basis_article: &'static str,
    /// Art. 9(2) condition.
    pub special_condition: Option<&'static str>,
    /// US opt-out rights.
    pub opt_out_kinds: Vec<&'static str>,
    /// `opt_in`, `opt_out` or `not_required`.
    pub consent: &'static str,
    /// Whether a GPC signal opts subjects out of it.
    pub honours_gpc: bool,
    /// Data uses.
    pub data_uses: Vec<String>,
    /// Data categories.
    pub data_categories: Vec<String>,
    /// Jurisdictions.
    pub jurisdictions: Vec<String>,
    /// Notice key.
    pub notice: Option<String>,
    /// Validity of a consent, in days.
    pub validity_days: Option<u32>,
    /// Version.
    pub version: i64,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl From<&StoredPurpose> for PurposeOut {
    fn from(s: &StoredPurpose) -> Self {
        let p = &s.purpose;
        Self {
            key: p.key.clone(),
            names: p.names.clone(),
            descriptions: p.descriptions.clone(),
            legal_basis: p.legal_basis.as_str(),
            legal_basis_article: p.legal_basis.article(),
            special_condition: p.special_condition.map(SpecialCondition::as_str),
            opt_out_kinds: p.opt_out_kinds.iter().map(|k| k.as_str()).collect(),
            consent: p.consent.as_str(),
            honours_gpc: p.honours_gpc(),
            data_uses: p.data_uses.clone(),
            data_categories: p.data_categories.clone(),
            jurisdictions: p.jurisdictions.clone(),
            notice: p.notice.clone(),
            validity_days: p.validity_days,
            version: s.version,
            created_at: time(s.created_at),
            updated_at: time(s.updated_at),
        }
    }
}

/// One language's text of a notice.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeTextIo {
    /// Heading.
    pub title: String,
    /// The text.
    pub body: String,
    /// The full privacy notice's address.
    pub url: Option<String>,
}

/// `POST /v1/notices/{key}/versions`: publishes the next version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeIn {
    /// Text per language tag.
    pub texts: BTreeMap<String, NoticeTextIo>,
}

impl NoticeIn {
    /// The draft.
    pub fn draft(self, key: &str) -> NoticeDraft {
        NoticeDraft {
            key: key.to_owned(),
            texts: self
                .texts
                .into_iter()
                .map(|(l, t)| {
                    (
                        l,
                        NoticeText {
                            title: t.title,
                            body: t.body,
                            url: t.url,
                        },
                    )
                })
                .collect(),
        }
    }
}

/// A published notice version.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeOut {
    /// Key.
    pub key: String,
    /// Version.
    pub version: i64,
    /// Texts per language.
    pub texts: BTreeMap<String, NoticeTextIo>,
    /// Hex SHA-256 of the canonical content.
    pub content_hash: String,
    /// Published.
    pub published_at: String,
}

impl From<&Notice> for NoticeOut {
    fn from(n: &Notice) -> Self {
        Self {
            key: n.key.clone(),
            version: n.version,
            texts: n
                .texts
                .iter()
                .map(|(l, t)| {
                    (
                        l.clone(),
                        NoticeTextIo {
                            title: t.title.clone(),
                            body: t.body.clone(),
                            url: t.url.clone(),
                        },
                    )
                })
                .collect(),
            content_hash: n.content_hash.clone(),
            published_at: time(n.published_at),
        }
    }
}

/// One choice: a purpose and a state.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceIn {
    /// Purpose key.
    pub purpose: String,
    /// `given`, `refused` or `withdrawn`.
    pub state: String,
}

/// The notice a choice was made on.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeRefIn {
    /// Notice key.
    pub key: String,
    /// Version shown.
    pub version: i64,
}

/// `POST /v1/consent`: records choices for one subject.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsentIn {
    /// The subject's id.
    pub subject_id: String,
    /// One or more choices (at most 64, each purpose once).
    pub choices: Vec<ChoiceIn>,
    /// `api` (default) or `form`.
    pub method: Option<String>,
    /// Where the choice was collected (`www.example.com`, `crm`).
    pub source: String,
    /// The jurisdiction (`EU`, `US-CA`).
    pub jurisdiction: Option<String>,
    /// The language the notice was shown in.
    pub language: Option<String>,
    /// The notice shown.
    pub notice: Option<NoticeRefIn>,
}

/// A recorded choice and its signed receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedOut {
    /// The record's id.
    pub event_id: String,
    /// Purpose key.
    pub purpose: String,
    /// The state recorded.
    pub state: &'static str,
    /// `api`, `form`, `banner`, `gpc` or `import`.
    pub method: &'static str,
    /// The receipt: a JWS (EdDSA) whose payload holds the ISO/IEC TS 27560 record fields;
    /// verify it with the key at `/.well-known/custodian/receipt-keys`.
    pub receipt: String,
}

/// The answer to a recording.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordConsentOut {
    /// The subject (or visitor) id.
    pub subject_id: String,
    /// What was recorded.
    pub recorded: Vec<RecordedOut>,
}

/// A ledger record.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEventOut {
    /// Record id.
    pub event_id: String,
    /// Position in the ledger (for `after`).
    pub position: i64,
    /// Purpose key.
    pub purpose: String,
    /// State.
    pub state: &'static str,
    /// Notice key, version and hash.
    pub notice: Option<serde_json::Value>,
    /// Language shown.
    pub language: Option<String>,
    /// When the choice was made.
    pub at: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// Method.
    pub method: &'static str,
    /// Source.
    pub source: String,
    /// Jurisdiction.
    pub jurisdiction: Option<String>,
    /// When it lapses.
    pub expires_at: Option<String>,
    /// Proof metadata (network, user-agent hash, actor, request id).
    pub proof: serde_json::Value,
    /// Receipt id.
    pub receipt_id: String,
    /// The signed receipt.
    pub receipt: String,
}

impl ConsentEventOut {
    /// The wire form of a record with its receipt.
    pub fn new(position: i64, e: &ConsentEvent, receipt: String) -> Self {
        Self {
            event_id: e.id.clone(),
            position,
            purpose: e.purpose.clone(),
            state: e.state.as_str(),
            notice: e.notice.as_ref().map(
                |n| serde_json::json!({ "key": n.key, "version": n.version, "sha256": n.hash }),
            ),
            language: e.language.clone(),
            at: time(e.at),
            recorded_at: time(e.recorded_at),
            method: e.method.as_str(),
            source: e.source.clone(),
            jurisdiction: e.jurisdiction.clone(),
            expires_at: e.expires_at.map(time),
            proof: serde_json::json!({
                "network": e.proof.network,
                "user_agent_sha256": e.proof.user_agent_sha256,
                "actor": e.proof.actor,
                "request_id": e.proof.request_id,
            }),
            receipt_id: e.receipt_id.clone(),
            receipt,
        }
    }
}

/// A page of a subject's ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEventsOut {
    /// Records, oldest first.
    pub events: Vec<ConsentEventOut>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// The answer of a consent check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckOut {
    /// Subject id.
    pub subject_id: String,
    /// Purpose key.
    pub purpose: String,
    /// Whether the data may be used for the purpose.
    pub allowed: bool,
    /// Why: `consent`, `no_consent`, `refused`, `withdrawn`, `expired`, `not_opted_out`,
    /// `opted_out`, or the legal basis (`contract`…) when consent does not gate the purpose.
    pub basis: &'static str,
    /// The subject's state as of now, if anything is recorded.
    pub state: Option<&'static str>,
    /// The record the answer rests on.
    pub event_id: Option<String>,
}

impl CheckOut {
    /// The wire form of a verdict.
    pub fn new(subject_id: &str, purpose: &str, v: Verdict) -> Self {
        Self {
            subject_id: subject_id.to_owned(),
            purpose: purpose.to_owned(),
            allowed: v.allowed,
            basis: v.basis.as_str(),
            state: v.state.map(|s| s.as_str()),
            event_id: v.event_id,
        }
    }
}

/// `GET /v1/consent/check` query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    /// Subject id.
    pub subject: String,
    /// Purpose key.
    pub purpose: String,
}

/// One question of a batch check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckItem {
    /// Subject id.
    pub subject_id: String,
    /// Purpose key.
    pub purpose: String,
}

/// `POST /v1/consent/check`: up to 1,000 questions.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBatchIn {
    /// The questions.
    pub checks: Vec<CheckItem>,
}

/// Answers, in the order asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckBatchOut {
    /// One answer per question.
    pub results: Vec<CheckOut>,
}

/// A subject's current state for one purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct PurposeStateOut {
    /// Purpose key.
    pub purpose: String,
    /// As a check would answer now.
    pub allowed: bool,
    /// Why.
    pub basis: &'static str,
    /// State now, if recorded.
    pub state: Option<&'static str>,
    /// When the latest choice was made.
    pub at: Option<String>,
    /// When it lapses.
    pub expires_at: Option<String>,
    /// Notice version it was made on.
    pub notice_version: Option<i64>,
    /// The latest record.
    pub event_id: Option<String>,
}

impl PurposeStateOut {
    /// The wire form.
    pub fn new(purpose: &str, v: Verdict, c: Option<&CurrentConsent>) -> Self {
        Self {
            purpose: purpose.to_owned(),
            allowed: v.allowed,
            basis: v.basis.as_str(),
            state: v.state.map(|s| s.as_str()),
            at: c.map(|c| time(c.at)),
            expires_at: c.and_then(|c| c.expires_at).map(time),
            notice_version: c.and_then(|c| c.notice_version),
            event_id: v.event_id,
        }
    }
}

/// A subject's consent, purpose by purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectConsentOut {
    /// Subject id.
    pub subject_id: String,
    /// Every defined purpose.
    pub purposes: Vec<PurposeStateOut>,
    /// The subject's opt-outs as a GPP string with one US national (usnat v1) section: a
    /// kind (sale, sharing, targeted advertising, sensitive data) is opted out when any
    /// purpose it covers is denied now, not applicable when no purpose covers it, and the GPC
    /// sub-field is set when the latest choice on a GPC-honouring purpose came from GPC.
    /// Absent when no purpose names an opt-out kind.
    pub gpp_usnat: Option<String>,
}

/// A consent import's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentImportOut {
    /// Rows recorded.
    pub recorded: u64,
    /// Rows already in the ledger (imported before, or repeated in this body): not recorded again.
    pub duplicates: u64,
    /// Rows refused.
    pub refused: u64,
    /// The first refusals (line number and rule; never the row).
    pub errors: Vec<ConsentImportRowError>,
}

/// One refused row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentImportRowError {
    /// 1-based line number.
    pub line: u64,
    /// The rule the row broke.
    pub reason: String,
}

/// Public: the banner's configuration and the visitor's current choices.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicConsentOut {
    /// The visitor's id (issued on first contact; keep it).
    pub visitor_id: Option<String>,
    /// Whether the request carried `Sec-GPC: 1` (and opt-outs were recorded).
    pub gpc: bool,
    /// Purposes that ask for a choice (opt-in or opt-out).
    pub purposes: Vec<PublicPurposeOut>,
    /// The current version of each notice the purposes name.
    pub notices: Vec<PublicNoticeOut>,
}

/// A purpose as the banner shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicPurposeOut {
    /// Key.
    pub key: String,
    /// Name in the requested language (or the first available).
    pub name: String,
    /// Description, likewise.
    pub description: Option<String>,
    /// `opt_in` or `opt_out`.
    pub consent: &'static str,
    /// Whether GPC opts out of it.
    pub honours_gpc: bool,
    /// The notice key.
    pub notice: Option<String>,
    /// The visitor's state, if any.
    pub state: Option<&'static str>,
    /// The notice version of the visitor's latest choice.
    pub notice_version: Option<i64>,
}

/// A notice as the banner shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicNoticeOut {
    /// Key.
    pub key: String,
    /// Version.
    pub version: i64,
    /// Language of the text.
    pub language: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Full notice address.
    pub url: Option<String>,
}

/// Public: `POST /v1/public/consent`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicChoicesIn {
    /// The visitor id from an earlier answer; a new one is issued when absent.
    pub visitor_id: Option<String>,
    /// The choices.
    pub choices: Vec<ChoiceIn>,
    /// The notice shown.
    pub notice: Option<NoticeRefIn>,
    /// Its language.
    pub language: Option<String>,
    /// The jurisdiction, if the site knows it.
    pub jurisdiction: Option<String>,
    /// The page saw `navigator.globalPrivacyControl` (scripts cannot send `Sec-GPC`): treated
    /// exactly like the header. With it, `choices` may be empty.
    pub gpc: Option<bool>,
}

/// Query of `GET /v1/public/consent`.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PublicQuery {
    /// The visitor id, if the browser has one.
    pub visitor_id: Option<String>,
    /// Preferred language tag.
    pub lang: Option<String>,
}

/// Query of the ledger listing.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Only this purpose.
    pub purpose: Option<String>,
    /// Position to continue after.
    pub after: Option<i64>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<u32>,
}

/// `POST /v1/tcf/decode` and `POST /v1/gpp/decode`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IabStringIn {
    /// The TC or GPP string.
    pub string: String,
}

/// A decoded TC string with its TCF v2.3 validity.
#[derive(Debug, Serialize, ToSchema)]
pub struct TcfDecodedOut {
    /// The fields (ids are 1-based; timestamps RFC 3339). `POST /v1/tcf/encode` takes the same
    /// object back.
    #[schema(value_type = Object)]
    pub tc: serde_json::Value,
    /// Whether the string satisfies the TCF v2.3 rules.
    pub valid_v23: bool,
    /// The v2.3 rules it breaks.
    pub violations: Vec<String>,
}

/// `POST /v1/tcf/encode`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TcfEncodeIn {
    /// The fields, as `POST /v1/tcf/decode` answers them.
    #[schema(value_type = Object)]
    pub tc: serde_json::Value,
}

/// An encoded TC or GPP string.
#[derive(Debug, Serialize, ToSchema)]
pub struct IabStringOut {
    /// The string.
    pub string: String,
}

/// A decoded GPP string.
#[derive(Debug, Serialize, ToSchema)]
pub struct GppDecodedOut {
    /// The header's fields.
    #[schema(value_type = Object)]
    pub header: serde_json::Value,
    /// The sections in string order.
    pub sections: Vec<GppSectionOut>,
}

/// One GPP section.
#[derive(Debug, Serialize, ToSchema)]
pub struct GppSectionOut {
    /// Section id (2 TCF EU v2, 5 TCF Canada, 6 uspv1, 7 usnat, 8–12 the states).
    pub id: u16,
    /// Section name (`tcfeuv2`, `usnat`, …; `unknown` for ids this server does not read).
    pub name: &'static str,
    /// The section's fields (for unknown sections: `{"raw": "…"}`).
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
}

/// `POST /v1/gpp/encode`: sections as `POST /v1/gpp/decode` answers them (`id` and
/// `fields`; names are ignored).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GppEncodeIn {
    /// The sections, in order.
    pub sections: Vec<GppSectionIn>,
}

/// One section to encode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GppSectionIn {
    /// Section id.
    pub id: u16,
    /// Ignored (accepted so a decoded answer can be sent back as is).
    pub name: Option<String>,
    /// The section's fields.
    #[schema(value_type = Object)]
    pub fields: serde_json::Value,
}

/// `POST /v1/consent/webhooks`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// `https://…` (or `http://` to a loopback address).
    pub url: String,
    /// Purposes to receive (empty or absent: all).
    pub purposes: Option<Vec<String>>,
    /// A note for operators (at most 256 characters).
    pub description: Option<String>,
    /// A `whsec_` secret to sign with (generated when absent).
    pub secret: Option<String>,
}

/// `PATCH /v1/consent/webhooks/{id}`: only what is present changes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    /// A new endpoint URL.
    pub url: Option<String>,
    /// New purposes (empty: all).
    pub purposes: Option<Vec<String>>,
    /// Pause (`false`) or resume (`true`) new deliveries; pending ones still go.
    pub enabled: Option<bool>,
    /// A new note (empty string: none).
    pub description: Option<String>,
    /// Rotate the signing secret: a new one is generated (or this `whsec_` secret is used)
    /// and answered once; the previous one keeps signing beside it for
    /// `previous_secret_hours` hours.
    pub rotate_secret: Option<bool>,
    /// With `rotate_secret`: the new secret to use instead of a generated one.
    pub secret: Option<String>,
    /// With `rotate_secret`: how long the previous secret also signs (0 to 168 hours; 24 by
    /// default; 0 stops it at once).
    pub previous_secret_hours: Option<u32>,
}

/// A propagation target (webhook or NATS).
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetOut {
    /// Id (`wh_…`, or `nats`).
    pub id: String,
    /// `webhook` or `nats`.
    pub kind: &'static str,
    /// Endpoint URL (webhooks).
    pub url: Option<String>,
    /// Purposes received (empty: all).
    pub purposes: Vec<String>,
    /// Whether new changes are delivered.
    pub enabled: bool,
    /// Note.
    pub description: Option<String>,
    /// Registered at.
    pub created_at: String,
    /// The signing secret: only in the answer that creates the webhook or rotates its secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// After a rotation: until when deliveries are also signed with the previous secret.
    pub previous_secret_until: Option<String>,
}

/// Every target.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetsOut {
    /// Oldest first.
    pub targets: Vec<TargetOut>,
}

/// One target's delivery of one change.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// The target.
    pub target_id: String,
    /// `pending`, `delivered`, `failed` or `acknowledged`.
    pub state: &'static str,
    /// Attempts made.
    pub attempts: u32,
    /// Next attempt (pending).
    pub next_attempt_at: Option<String>,
    /// Last HTTP status (webhooks).
    pub last_status: Option<u16>,
    /// Last failure: `timeout`, `connect`, `transport`, `status`, `nats`, `sealed`, `target_removed`,
    /// `subject_erased` (the subject was erased before the change was delivered).
    pub last_error: Option<String>,
    /// Last change.
    pub updated_at: String,
}

/// The deliveries of one change.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesOut {
    /// The ledger record.
    pub event_id: String,
    /// One per target that wanted it.
    pub deliveries: Vec<DeliveryOut>,
}

/// `POST /v1/consent/webhooks/{id}/acks`: the receiver applied these changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcksIn {
    /// Record ids (the `webhook-id` of each delivery), 1 to 1000.
    pub event_ids: Vec<String>,
}

/// How many deliveries became acknowledged.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcksOut {
    /// Count.
    pub acknowledged: u64,
}
