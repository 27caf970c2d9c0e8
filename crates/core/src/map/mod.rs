//! The data map: the organization, its systems (with their privacy declarations: what data
//! of whom is used for what, on which legal basis, shared with whom, sent where, kept how
//! long), the datasets they hold, the organization's own taxonomy entries and the retention
//! rules bound to all of it.
//!
//! Documents are read in the Fides shape (`organization`, `system`, `dataset`,
//! `data_category`, `data_use`, `data_subject` lists), so Fides YAML interchanges entry for
//! entry; Custodian adds a `custodian` object on a system (owner, processors, recipients,
//! international transfers with their mechanism, the controllers a processor acts for) and a
//! top-level `retention_rule` list. Each entry is kept as the object that was accepted, so an
//! export gives back what was imported.

pub mod check;
pub mod proposal;
pub mod ropa;
pub mod service;

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::doc::{DocError, boolean, err, list, object, only, string, strings, text, valid_key};
use crate::retention::{self, Rule};
use crate::rights::dataset::{self, Dataset};
use crate::taxonomy::{self, Kind};

/// A kind of map entry (datasets are kept with the datasets of `rights::dataset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapKind {
    /// The organization (controller, DPO, representative).
    Organization,
    /// A system and its privacy declarations.
    System,
    /// A data category the organization added to the taxonomy.
    DataCategory,
    /// A data use the organization added.
    DataUse,
    /// A data subject the organization added.
    DataSubject,
    /// A retention rule.
    RetentionRule,
}

impl MapKind {
    /// Every kind, in the order a document lists them (taxonomy first: systems use it).
    pub const ALL: [MapKind; 6] = [
        MapKind::DataCategory,
        MapKind::DataUse,
        MapKind::DataSubject,
        MapKind::Organization,
        MapKind::System,
        MapKind::RetentionRule,
    ];

    /// The name, which is also the document's top-level key.
    pub fn as_str(self) -> &'static str {
        match self {
            MapKind::Organization => "organization",
            MapKind::System => "system",
            MapKind::DataCategory => "data_category",
            MapKind::DataUse => "data_use",
            MapKind::DataSubject => "data_subject",
            MapKind::RetentionRule => "retention_rule",
        }
    }

    /// Parses [`MapKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The taxonomy kind of a taxonomy entry.
    pub fn taxonomy(self) -> Option<Kind> {
        match self {
            MapKind::DataCategory => Some(Kind::DataCategory),
            MapKind::DataUse => Some(Kind::DataUse),
            MapKind::DataSubject => Some(Kind::DataSubject),
            _ => None,
        }
    }
}

/// One stored entry: the accepted object, as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    /// Its kind.
    pub kind: MapKind,
    /// Its `fides_key` (a retention rule's `key`).
    pub key: String,
    /// The object as accepted, as JSON.
    pub body: String,
    /// 1 when added, then one more with each change.
    pub version: i64,
    /// Added.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// The taxonomy in force: the shipped keys and the organization's additions.
#[derive(Debug, Clone, Default)]
pub struct Taxonomy {
    added: BTreeMap<(u8, String), TaxonomyEntry>,
}

fn kind_index(kind: Kind) -> u8 {
    match kind {
        Kind::DataCategory => 0,
        Kind::DataUse => 1,
        Kind::DataSubject => 2,
    }
}

impl Taxonomy {
    /// Whether `key` is a key of `kind`, shipped or added.
    pub fn contains(&self, kind: Kind, key: &str) -> bool {
        taxonomy::contains(kind, key) || self.added.contains_key(&(kind_index(kind), key.into()))
    }

    /// Adds an entry.
    pub fn add(&mut self, entry: TaxonomyEntry) {
        self.added
            .insert((kind_index(entry.kind), entry.key.clone()), entry);
    }

    /// The entries added to one taxonomy, by key.
    pub fn added_entries(&self, kind: Kind) -> impl Iterator<Item = &TaxonomyEntry> {
        let i = kind_index(kind);
        self.added
            .iter()
            .filter(move |((k, _), _)| *k == i)
            .map(|(_, e)| e)
    }

    /// An added entry.
    pub fn added(&self, kind: Kind, key: &str) -> Option<&TaxonomyEntry> {
        self.added.get(&(kind_index(kind), key.into()))
    }

    /// A name for a key: the added entry's name, else the shipped one.
    pub fn name(&self, kind: Kind, key: &str) -> Option<String> {
        self.added(kind, key)
            .and_then(|e| e.name.clone())
            .or_else(|| taxonomy::describe(kind, key).map(|d| d.name.to_owned()))
    }
}

/// An entry an organization adds to the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxonomyEntry {
    /// Which taxonomy.
    pub kind: Kind,
    /// Its dotted key.
    pub key: String,
    /// Its name.
    pub name: Option<String>,
    /// What it is.
    pub description: Option<String>,
}

/// Contact details (Art. 30(1)(a)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    /// Name.
    pub name: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// The organization: the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Its `fides_key`.
    pub key: String,
    /// Its name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The controller's contact.
    pub controller: Option<Contact>,
    /// The data protection officer.
    pub dpo: Option<Contact>,
    /// The representative in the Union (Art. 27).
    pub representative: Option<Contact>,
    /// Where the security policy is.
    pub security_policy: Option<String>,
}

/// The part a system plays for the data it processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Responsibility {
    /// Decides purposes and means.
    Controller,
    /// Processes on a controller's behalf.
    Processor,
    /// Processes on a processor's behalf.
    SubProcessor,
}

impl Responsibility {
    /// The Fides name.
    pub fn as_str(self) -> &'static str {
        match self {
            Responsibility::Controller => "Controller",
            Responsibility::Processor => "Processor",
            Responsibility::SubProcessor => "Sub-Processor",
        }
    }
}

/// The legal basis of a processing (GDPR Art. 6(1)), by its Fides name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LegalBasis {
    /// (a)
    Consent,
    /// (b)
    Contract,
    /// (c)
    LegalObligation,
    /// (d)
    VitalInterests,
    /// (e)
    PublicInterest,
    /// (f)
    LegitimateInterests,
}

impl LegalBasis {
    const ALL: [LegalBasis; 6] = [
        LegalBasis::Consent,
        LegalBasis::Contract,
        LegalBasis::LegalObligation,
        LegalBasis::VitalInterests,
        LegalBasis::PublicInterest,
        LegalBasis::LegitimateInterests,
    ];

    /// The Fides name.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::Consent => "Consent",
            LegalBasis::Contract => "Contract",
            LegalBasis::LegalObligation => "Legal obligations",
            LegalBasis::VitalInterests => "Vital interests",
            LegalBasis::PublicInterest => "Public interest",
            LegalBasis::LegitimateInterests => "Legitimate interests",
        }
    }
}

/// The Art. 9(2) conditions, by their Fides names.
pub const SPECIAL_CATEGORY_BASES: [&str; 10] = [
    "Explicit consent",
    "Employment, social security and social protection",
    "Vital interests",
    "Not-for-profit bodies",
    "Made public by the data subject",
    "Legal claims or judicial acts",
    "Reasons of substantial public interest (with a basis in law)",
    "Health or social care (with a basis in law)",
    "Public health (with a basis in law)",
    "Archiving, research and statistics (with a basis in law)",
];

/// How a transfer outside the EEA is made lawful (GDPR Chapter V).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mechanism {
    /// An adequacy decision (Art. 45).
    Adequacy,
    /// Standard contractual clauses (Art. 46(2)(c)).
    Sccs,
    /// Binding corporate rules (Art. 47).
    Bcrs,
    /// A derogation for a specific situation (Art. 49).
    Derogation,
}

impl Mechanism {
    const ALL: [Mechanism; 4] = [
        Mechanism::Adequacy,
        Mechanism::Sccs,
        Mechanism::Bcrs,
        Mechanism::Derogation,
    ];

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Adequacy => "adequacy",
            Mechanism::Sccs => "sccs",
            Mechanism::Bcrs => "bcrs",
            Mechanism::Derogation => "derogation",
        }
    }

    /// Parses [`Mechanism::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An international transfer a system makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The destination country (ISO 3166-1 alpha-2, upper case).
    pub destination: String,
    /// Its mechanism, if one is declared.
    pub mechanism: Option<Mechanism>,
    /// Who receives it.
    pub recipient: Option<String>,
    /// The documentation of the safeguards (Art. 30(1)(e), Art. 49(1) second subparagraph).
    pub safeguards: Option<String>,
}

/// A privacy declaration: one use of personal data by a system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// Its name.
    pub name: Option<String>,
    /// The data use (purpose), a taxonomy key.
    pub data_use: String,
    /// The data categories.
    pub data_categories: Vec<String>,
    /// The data subjects.
    pub data_subjects: Vec<String>,
    /// The Art. 6 basis.
    pub legal_basis: Option<LegalBasis>,
    /// The Art. 9 condition, for special-category data.
    pub special_category_legal_basis: Option<String>,
    /// Whether it processes special-category data, as declared.
    pub processes_special_category_data: bool,
    /// Fides' free-text retention period.
    pub retention_period: Option<String>,
    /// The datasets it uses.
    pub dataset_references: Vec<String>,
    /// Whether data is shared with third parties for it.
    pub shared_with_third_parties: bool,
    /// The kinds of third parties.
    pub third_parties: Option<String>,
}

/// A system (an application, a service, a vendor) and what it does with personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// Its `fides_key`.
    pub key: String,
    /// Its name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Fides' `system_type`.
    pub system_type: Option<String>,
    /// The department that runs it.
    pub department: Option<String>,
    /// The person or team that owns it (Custodian extension).
    pub owner: Option<String>,
    /// Its part: controller, processor, sub-processor.
    pub responsibility: Vec<Responsibility>,
    /// Legal name of the business it stands for.
    pub legal_name: Option<String>,
    /// Its legal address.
    pub legal_address: Option<String>,
    /// Its privacy contact or DPO.
    pub dpo: Option<String>,
    /// Joint controllers.
    pub joint_controller_info: Option<String>,
    /// Its technical and organisational measures (Art. 32).
    pub data_security_practices: Option<String>,
    /// Datasets it holds.
    pub dataset_references: Vec<String>,
    /// Its declarations.
    pub declarations: Vec<Declaration>,
    /// Whether Fides says it transfers data internationally.
    pub does_international_transfers: bool,
    /// Fides' free-text transfer bases.
    pub legal_basis_for_transfers: Vec<String>,
    /// Processors it uses (names or system keys; Custodian extension).
    pub processors: Vec<String>,
    /// Recipients it discloses to (Custodian extension).
    pub recipients: Vec<String>,
    /// International transfers (Custodian extension).
    pub transfers: Vec<Transfer>,
    /// Controllers it processes for, when it is a processor (Custodian extension).
    pub controllers: Vec<String>,
}

impl System {
    /// Whether it processes on others' behalf.
    pub fn is_processor(&self) -> bool {
        self.responsibility
            .iter()
            .any(|r| matches!(r, Responsibility::Processor | Responsibility::SubProcessor))
    }
}

/// The whole map, parsed.
#[derive(Debug, Clone, Default)]
pub struct DataMap {
    /// The taxonomy in force.
    pub taxonomy: Taxonomy,
    /// Organizations (usually one).
    pub organizations: Vec<Organization>,
    /// Systems.
    pub systems: Vec<System>,
    /// Datasets.
    pub datasets: Vec<Dataset>,
    /// Retention rules.
    pub retention_rules: Vec<Rule>,
}

/// Whether `s` is an ISO 3166-1 alpha-2 code's shape (two upper-case letters).
pub fn valid_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())
}

const FIDES_COMMON: [&str; 5] = [
    "fides_key",
    "organization_fides_key",
    "tags",
    "name",
    "description",
];

fn key_of(m: &Map<String, Value>, field: &str, path: &str) -> Result<String, DocError> {
    let k = string(m, field, path)?.ok_or_else(|| err(format!("{path}.{field}"), "required"))?;
    if !valid_key(k) {
        return Err(err(format!("{path}.{field}"), "key"));
    }
    Ok(k.to_owned())
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

fn common(m: &Map<String, Value>, path: &str) -> Result<(), DocError> {
    if let Some(o) = string(m, "organization_fides_key", path)?
        && !valid_key(o)
    {
        return Err(err(format!("{path}.organization_fides_key"), "key"));
    }
    strings(m, "tags", path, &|t| !t.is_empty() && t.len() <= 64, "tag")?;
    text(m, "name", path, 200)?;
    text(m, "description", path, 4000)?;
    Ok(())
}

fn contact(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<Contact>, DocError> {
    let Some(v) = m.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let p = format!("{path}.{key}");
    let c = object(v, &p)?;
    only(c, &p, &["name", "address", "email", "phone"])?;
    let f = |k| text(c, k, &p, 500).map(|s| owned(s.filter(|s| !s.is_empty())));
    Ok(Some(Contact {
        name: f("name")?,
        address: f("address")?,
        email: f("email")?,
        phone: f("phone")?,
    }))
}

/// Reads an organization.
pub fn parse_organization(v: &Value, path: &str) -> Result<Organization, DocError> {
    let m = object(v, path)?;
    let mut allowed = FIDES_COMMON.to_vec();
    allowed.extend([
        "controller",
        "data_protection_officer",
        "representative",
        "security_policy",
        "fidesctl_meta",
        "organization_parent_key",
    ]);
    only(m, path, &allowed)?;
    common(m, path)?;
    Ok(Organization {
        key: key_of(m, "fides_key", path)?,
        name: owned(text(m, "name", path, 200)?),
        description: owned(text(m, "description", path, 4000)?),
        controller: contact(m, "controller", path)?,
        dpo: contact(m, "data_protection_officer", path)?,
        representative: contact(m, "representative", path)?,
        security_policy: owned(text(m, "security_policy", path, 2000)?),
    })
}

/// Reads a taxonomy entry of `kind`; the parent must already be in `tax`. An entry for a
/// shipped key is `None` (the shipped taxonomy is not replaced).
pub fn parse_taxonomy_entry(
    v: &Value,
    path: &str,
    kind: Kind,
    tax: &Taxonomy,
) -> Result<Option<TaxonomyEntry>, DocError> {
    let m = object(v, path)?;
    let mut allowed = FIDES_COMMON.to_vec();
    allowed.extend([
        "parent_key",
        "is_default",
        "version_added",
        "version_deprecated",
        "replaced_by",
        "active",
        "rights",
        "automated_decisions_or_profiling",
    ]);
    only(m, path, &allowed)?;
    common(m, path)?;
    let key = key_of(m, "fides_key", path)?;
    let well_formed = key.split('.').all(|p| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    });
    if !well_formed {
        return Err(err(format!("{path}.fides_key"), "taxonomy key"));
    }
    let parent = string(m, "parent_key", path)?;
    if parent != taxonomy::parent(&key) {
        return Err(err(
            format!("{path}.parent_key"),
            "the parent is the key without its last part",
        ));
    }
    if taxonomy::contains(kind, &key) {
        return Ok(None);
    }
    if let Some(p) = parent
        && !tax.contains(kind, p)
    {
        return Err(err(format!("{path}.parent_key"), "unknown parent"));
    }
    boolean(m, "is_default", path)?;
    boolean(m, "active", path)?;
    Ok(Some(TaxonomyEntry {
        kind,
        key,
        name: owned(text(m, "name", path, 200)?),
        description: owned(text(m, "description", path, 4000)?),
    }))
}

fn declaration(v: &Value, path: &str, tax: &Taxonomy) -> Result<Declaration, DocError> {
    let m = object(v, path)?;
    only(
        m,
        path,
        &[
            "name",
            "data_categories",
            "data_use",
            "data_subjects",
            "dataset_references",
            "egress",
            "ingress",
            "features",
            "flexible_legal_basis_for_processing",
            "legal_basis_for_processing",
            "impact_assessment_location",
            "retention_period",
            "processes_special_category_data",
            "special_category_legal_basis",
            "data_shared_with_third_parties",
            "third_parties",
            "shared_categories",
            "cookies",
            "id",
        ],
    )?;
    let data_use =
        string(m, "data_use", path)?.ok_or_else(|| err(format!("{path}.data_use"), "required"))?;
    if !tax.contains(Kind::DataUse, data_use) {
        return Err(err(format!("{path}.data_use"), "taxonomy_key"));
    }
    let cat = |k: &str| tax.contains(Kind::DataCategory, k);
    let data_categories = strings(m, "data_categories", path, &cat, "taxonomy_key")?;
    strings(m, "shared_categories", path, &cat, "taxonomy_key")?;
    let data_subjects = strings(
        m,
        "data_subjects",
        path,
        &|k| tax.contains(Kind::DataSubject, k),
        "taxonomy_key",
    )?;
    let legal_basis = match string(m, "legal_basis_for_processing", path)? {
        None => None,
        Some(s) => Some(
            LegalBasis::ALL
                .into_iter()
                .find(|b| b.as_str() == s)
                .ok_or_else(|| err(format!("{path}.legal_basis_for_processing"), "legal basis"))?,
        ),
    };
    let special = string(m, "special_category_legal_basis", path)?;
    if special.is_some_and(|s| !SPECIAL_CATEGORY_BASES.contains(&s)) {
        return Err(err(
            format!("{path}.special_category_legal_basis"),
            "Art. 9(2) condition",
        ));
    }
    for k in ["dataset_references", "egress", "ingress"] {
        strings(m, k, path, &valid_key, "key")?;
    }
    strings(m, "features", path, &|f| f.len() <= 200, "too long")?;
    for k in ["impact_assessment_location", "third_parties"] {
        text(m, k, path, 2000)?;
    }
    boolean(m, "flexible_legal_basis_for_processing", path)?;
    Ok(Declaration {
        name: owned(text(m, "name", path, 200)?),
        data_use: data_use.to_owned(),
        data_categories,
        data_subjects,
        legal_basis,
        special_category_legal_basis: owned(special),
        processes_special_category_data: boolean(m, "processes_special_category_data", path)?
            .unwrap_or(false),
        retention_period: owned(text(m, "retention_period", path, 200)?),
        dataset_references: strings(m, "dataset_references", path, &valid_key, "key")?,
        shared_with_third_parties: boolean(m, "data_shared_with_third_parties", path)?
            .unwrap_or(false),
        third_parties: owned(text(m, "third_parties", path, 2000)?),
    })
}

fn names(m: &Map<String, Value>, key: &str, path: &str) -> Result<Vec<String>, DocError> {
    strings(
        m,
        key,
        path,
        &|s| !s.is_empty() && s.chars().count() <= 200 && !s.chars().any(char::is_control),
        "a name of 1 to 200 characters",
    )
}

fn transfer(v: &Value, path: &str) -> Result<Transfer, DocError> {
    let m = object(v, path)?;
    only(
        m,
        path,
        &["destination", "mechanism", "recipient", "safeguards"],
    )?;
    let destination = string(m, "destination", path)?
        .ok_or_else(|| err(format!("{path}.destination"), "required"))?;
    if !valid_country(destination) {
        return Err(err(
            format!("{path}.destination"),
            "ISO 3166-1 alpha-2 code",
        ));
    }
    let mechanism = match string(m, "mechanism", path)? {
        None => None,
        Some(s) => Some(Mechanism::parse(s).ok_or_else(|| {
            err(
                format!("{path}.mechanism"),
                "adequacy, sccs, bcrs or derogation",
            )
        })?),
    };
    Ok(Transfer {
        destination: destination.to_owned(),
        mechanism,
        recipient: owned(text(m, "recipient", path, 200)?),
        safeguards: owned(text(m, "safeguards", path, 2000)?),
    })
}

/// Reads a system and its declarations against the taxonomy in force.
pub fn parse_system(v: &Value, path: &str, tax: &Taxonomy) -> Result<System, DocError> {
    let m = object(v, path)?;
    let mut allowed = FIDES_COMMON.to_vec();
    allowed.extend([
        "meta",
        "fidesctl_meta",
        "system_type",
        "egress",
        "ingress",
        "privacy_declarations",
        "administrating_department",
        "vendor_id",
        "previous_vendor_id",
        "vendor_deleted_date",
        "dataset_references",
        "processes_personal_data",
        "exempt_from_privacy_regulations",
        "reason_for_exemption",
        "uses_profiling",
        "legal_basis_for_profiling",
        "does_international_transfers",
        "legal_basis_for_transfers",
        "requires_data_protection_assessments",
        "dpa_location",
        "dpa_progress",
        "privacy_policy",
        "legal_name",
        "legal_address",
        "responsibility",
        "dpo",
        "joint_controller_info",
        "data_security_practices",
        "cookie_max_age_seconds",
        "uses_cookies",
        "cookie_refresh",
        "uses_non_cookie_access",
        "legitimate_interest_disclosure_url",
        "cookies",
        "custodian",
    ]);
    only(m, path, &allowed)?;
    common(m, path)?;
    let key = key_of(m, "fides_key", path)?;
    let mut responsibility = Vec::new();
    for (i, r) in list(m, "responsibility", path)?.iter().enumerate() {
        let p = format!("{path}.responsibility[{i}]");
        let r = match r.as_str() {
            Some("Controller") => Responsibility::Controller,
            Some("Processor") => Responsibility::Processor,
            Some("Sub-Processor") => Responsibility::SubProcessor,
            _ => return Err(err(p, "Controller, Processor or Sub-Processor")),
        };
        if !responsibility.contains(&r) {
            responsibility.push(r);
        }
    }
    let mut declarations = Vec::new();
    for (i, d) in list(m, "privacy_declarations", path)?.iter().enumerate() {
        declarations.push(declaration(
            d,
            &format!("{path}.privacy_declarations[{i}]"),
            tax,
        )?);
    }
    for k in [
        "processes_personal_data",
        "exempt_from_privacy_regulations",
        "uses_profiling",
        "requires_data_protection_assessments",
        "uses_cookies",
        "cookie_refresh",
        "uses_non_cookie_access",
    ] {
        boolean(m, k, path)?;
    }
    for k in [
        "vendor_id",
        "previous_vendor_id",
        "vendor_deleted_date",
        "reason_for_exemption",
        "dpa_location",
        "dpa_progress",
        "privacy_policy",
        "legitimate_interest_disclosure_url",
        "system_type",
    ] {
        text(m, k, path, 2000)?;
    }
    for (i, f) in list(m, "egress", path)?
        .iter()
        .chain(list(m, "ingress", path)?)
        .enumerate()
    {
        let p = format!("{path}.egress_or_ingress[{i}]");
        let fm = object(f, &p)?;
        only(fm, &p, &["fides_key", "type", "data_categories"])?;
        key_of(fm, "fides_key", &p)?;
        if !matches!(string(fm, "type", &p)?, Some("dataset" | "system" | "user")) {
            return Err(err(format!("{p}.type"), "dataset, system or user"));
        }
        strings(
            fm,
            "data_categories",
            &p,
            &|k| tax.contains(Kind::DataCategory, k),
            "taxonomy_key",
        )?;
    }
    let (mut owner, mut processors, mut recipients, mut transfers, mut controllers) =
        (None, Vec::new(), Vec::new(), Vec::new(), Vec::new());
    if let Some(c) = m.get("custodian").filter(|v| !v.is_null()) {
        let p = format!("{path}.custodian");
        let cm = object(c, &p)?;
        only(
            cm,
            &p,
            &[
                "owner",
                "processors",
                "recipients",
                "transfers",
                "controllers",
            ],
        )?;
        owner = owned(text(cm, "owner", &p, 200)?);
        processors = names(cm, "processors", &p)?;
        recipients = names(cm, "recipients", &p)?;
        controllers = names(cm, "controllers", &p)?;
        for (i, t) in list(cm, "transfers", &p)?.iter().enumerate() {
            transfers.push(transfer(t, &format!("{p}.transfers[{i}]"))?);
        }
    }
    Ok(System {
        key,
        name: owned(text(m, "name", path, 200)?),
        description: owned(text(m, "description", path, 4000)?),
        system_type: owned(string(m, "system_type", path)?),
        department: owned(text(m, "administrating_department", path, 200)?),
        owner,
        responsibility,
        legal_name: owned(text(m, "legal_name", path, 200)?),
        legal_address: owned(text(m, "legal_address", path, 1000)?),
        dpo: owned(text(m, "dpo", path, 500)?),
        joint_controller_info: owned(text(m, "joint_controller_info", path, 2000)?),
        data_security_practices: owned(text(m, "data_security_practices", path, 4000)?),
        dataset_references: strings(m, "dataset_references", path, &valid_key, "key")?,
        declarations,
        does_international_transfers: boolean(m, "does_international_transfers", path)?
            .unwrap_or(false),
        legal_basis_for_transfers: names(m, "legal_basis_for_transfers", path)?,
        processors,
        recipients,
        transfers,
        controllers,
    })
}

/// A document read: each entry with the object that was accepted for it.
#[derive(Debug, Clone, Default)]
pub struct Document {
    /// Entries other than datasets, in document order, taxonomy first.
    pub entries: Vec<(MapKind, String, Value)>,
    /// Datasets, each as its own `{"dataset": [..]}` document, with its key.
    pub datasets: Vec<(String, Value)>,
    /// The map the document describes on top of the map it was read against.
    pub map: DataMap,
}

const TOP: [&str; 8] = [
    "organization",
    "system",
    "dataset",
    "data_category",
    "data_use",
    "data_subject",
    "retention_rule",
    "policy",
];

/// The most entries one imported document may hold.
pub const MAX_ENTRIES: usize = 10_000;

/// Reads a document (Fides YAML as JSON) against the map already in force (`base`: its
/// taxonomy additions, systems and datasets stay unless the document replaces them). A key
/// listed twice in one document is refused; nothing is taken unless everything is valid.
pub fn read_document(doc: &Value, base: &DataMap) -> Result<Document, DocError> {
    read(doc, base, true)
}

fn read(doc: &Value, base: &DataMap, bounded: bool) -> Result<Document, DocError> {
    let m = object(doc, "$")?;
    only(m, "$", &TOP)?;
    if !list(m, "policy", "$")?.is_empty() {
        return Err(err(
            "$.policy",
            "Fides policies are not imported: checks are written for `custodian map check`",
        ));
    }
    let total: usize = TOP
        .iter()
        .map(|k| list(m, k, "$").map(<[Value]>::len).unwrap_or(0))
        .sum();
    if bounded && total > MAX_ENTRIES {
        return Err(err("$", "at most 10,000 entries per document"));
    }
    let mut out = Document {
        map: base.clone(),
        ..Default::default()
    };
    let mut seen: BTreeSet<(MapKind, String)> = BTreeSet::new();
    let mut note = |kind: MapKind, key: &str, path: &str| {
        if seen.insert((kind, key.to_owned())) {
            Ok(())
        } else {
            Err(err(path, "the key is listed twice"))
        }
    };
    for kind in MapKind::ALL {
        for (i, v) in list(m, kind.as_str(), "$")?.iter().enumerate() {
            let path = format!("{}[{i}]", kind.as_str());
            let key = match kind {
                MapKind::DataCategory | MapKind::DataUse | MapKind::DataSubject => {
                    let tk = kind.taxonomy().unwrap_or(Kind::DataCategory);
                    match parse_taxonomy_entry(v, &path, tk, &out.map.taxonomy)? {
                        None => continue,
                        Some(e) => {
                            let key = e.key.clone();
                            out.map.taxonomy.add(e);
                            key
                        }
                    }
                }
                MapKind::Organization => {
                    let o = parse_organization(v, &path)?;
                    let key = o.key.clone();
                    out.map.organizations.retain(|x| x.key != key);
                    out.map.organizations.push(o);
                    key
                }
                MapKind::System => {
                    let s = parse_system(v, &path, &out.map.taxonomy)?;
                    let key = s.key.clone();
                    out.map.systems.retain(|x| x.key != key);
                    out.map.systems.push(s);
                    key
                }
                MapKind::RetentionRule => {
                    let tax = &out.map.taxonomy;
                    let r =
                        retention::parse_rule(v, &|k| tax.contains(Kind::DataCategory, k), &|k| {
                            tax.contains(Kind::DataUse, k)
                        })
                        .map_err(|e| DocError {
                            path: e.path.replacen('$', &path, 1),
                            rule: e.rule,
                        })?;
                    let key = r.key.clone();
                    out.map.retention_rules.retain(|x| x.key != key);
                    out.map.retention_rules.push(r);
                    key
                }
            };
            note(kind, &key, &format!("{path}.fides_key"))?;
            out.entries.push((kind, key, v.clone()));
        }
    }
    for (i, v) in list(m, "dataset", "$")?.iter().enumerate() {
        let one = Value::Object(Map::from_iter([(
            "dataset".to_owned(),
            Value::Array(vec![v.clone()]),
        )]));
        let tax = &out.map.taxonomy;
        let parsed =
            dataset::parse_with(&one, &|k| tax.contains(Kind::DataCategory, k)).map_err(|e| {
                DocError {
                    path: e.path.replacen("dataset[0]", &format!("dataset[{i}]"), 1),
                    rule: e.rule,
                }
            })?;
        for d in parsed {
            note(
                MapKind::System,
                &format!("dataset:{}", d.key),
                &format!("dataset[{i}]"),
            )?;
            out.datasets.push((d.key.clone(), one.clone()));
            out.map.datasets.retain(|x| x.key != d.key);
            out.map.datasets.push(d);
        }
    }
    Ok(out)
}

/// The stored map as one document in the Fides shape (taxonomy additions, organizations,
/// systems, datasets, retention rules), each entry as it was accepted. This is what an
/// export writes, and what [`load`] reads back.
pub fn document_of(entries: &[MapEntry], datasets: &[dataset::StoredDataset]) -> Value {
    let mut doc = Map::new();
    for kind in MapKind::ALL {
        let items: Vec<Value> = entries
            .iter()
            .filter(|e| e.kind == kind)
            .filter_map(|e| serde_json::from_str(&e.body).ok())
            .collect();
        if !items.is_empty() {
            doc.insert(kind.as_str().to_owned(), Value::Array(items));
        }
        if kind == MapKind::System && !datasets.is_empty() {
            let items: Vec<Value> = datasets
                .iter()
                .filter_map(|d| serde_json::from_str::<Value>(&d.declaration).ok())
                .filter_map(|v| v.get("dataset")?.get(0).cloned())
                .collect();
            doc.insert("dataset".to_owned(), Value::Array(items));
        }
    }
    Value::Object(doc)
}

/// The stored map, parsed.
pub fn load(
    entries: &[MapEntry],
    datasets: &[dataset::StoredDataset],
) -> Result<DataMap, DocError> {
    // The stored map is read whole, however many documents built it.
    read(&document_of(entries, datasets), &DataMap::default(), false).map(|d| d.map)
}

#[cfg(test)]
mod tests;
