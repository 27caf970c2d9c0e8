//! Purposes: what personal data is used for, on which legal basis, and whether that use needs
//! the subject's opt-in consent, honours opt-outs, or needs neither.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::access::valid_purpose;
use crate::taxonomy::{self, Kind};

/// The lawful bases of GDPR Art. 6(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegalBasis {
    /// Art. 6(1)(a): the subject's consent.
    Consent,
    /// Art. 6(1)(b): a contract with the subject.
    Contract,
    /// Art. 6(1)(c): a legal obligation.
    LegalObligation,
    /// Art. 6(1)(d): someone's vital interests.
    VitalInterests,
    /// Art. 6(1)(e): a task in the public interest.
    PublicTask,
    /// Art. 6(1)(f): legitimate interests.
    LegitimateInterests,
}

impl LegalBasis {
    const ALL: [LegalBasis; 6] = [
        LegalBasis::Consent,
        LegalBasis::Contract,
        LegalBasis::LegalObligation,
        LegalBasis::VitalInterests,
        LegalBasis::PublicTask,
        LegalBasis::LegitimateInterests,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegalObligation => "legal_obligation",
            LegalBasis::VitalInterests => "vital_interests",
            LegalBasis::PublicTask => "public_task",
            LegalBasis::LegitimateInterests => "legitimate_interests",
        }
    }

    /// The article it is, e.g. `GDPR Art. 6(1)(a)`.
    pub fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "GDPR Art. 6(1)(a)",
            LegalBasis::Contract => "GDPR Art. 6(1)(b)",
            LegalBasis::LegalObligation => "GDPR Art. 6(1)(c)",
            LegalBasis::VitalInterests => "GDPR Art. 6(1)(d)",
            LegalBasis::PublicTask => "GDPR Art. 6(1)(e)",
            LegalBasis::LegitimateInterests => "GDPR Art. 6(1)(f)",
        }
    }

    /// Parses [`LegalBasis::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The conditions of GDPR Art. 9(2) under which special categories may be processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecialCondition {
    /// (a) explicit consent.
    ExplicitConsent,
    /// (b) employment, social security and social protection law.
    Employment,
    /// (c) vital interests of a subject who cannot consent.
    VitalInterests,
    /// (d) a not-for-profit body's legitimate activities.
    NotForProfit,
    /// (e) data manifestly made public by the subject.
    MadePublic,
    /// (f) legal claims and courts.
    LegalClaims,
    /// (g) substantial public interest.
    SubstantialPublicInterest,
    /// (h) preventive or occupational medicine, health or social care.
    HealthCare,
    /// (i) public health.
    PublicHealth,
    /// (j) archiving, research or statistics.
    Archiving,
}

impl SpecialCondition {
    const ALL: [SpecialCondition; 10] = [
        SpecialCondition::ExplicitConsent,
        SpecialCondition::Employment,
        SpecialCondition::VitalInterests,
        SpecialCondition::NotForProfit,
        SpecialCondition::MadePublic,
        SpecialCondition::LegalClaims,
        SpecialCondition::SubstantialPublicInterest,
        SpecialCondition::HealthCare,
        SpecialCondition::PublicHealth,
        SpecialCondition::Archiving,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecialCondition::ExplicitConsent => "explicit_consent",
            SpecialCondition::Employment => "employment_social_security",
            SpecialCondition::VitalInterests => "vital_interests",
            SpecialCondition::NotForProfit => "not_for_profit_body",
            SpecialCondition::MadePublic => "made_public_by_subject",
            SpecialCondition::LegalClaims => "legal_claims",
            SpecialCondition::SubstantialPublicInterest => "substantial_public_interest",
            SpecialCondition::HealthCare => "health_or_social_care",
            SpecialCondition::PublicHealth => "public_health",
            SpecialCondition::Archiving => "archiving_research_statistics",
        }
    }

    /// The point of Art. 9(2) it is, e.g. `GDPR Art. 9(2)(a)`.
    pub fn article(self) -> &'static str {
        const POINTS: [&str; 10] = [
            "GDPR Art. 9(2)(a)",
            "GDPR Art. 9(2)(b)",
            "GDPR Art. 9(2)(c)",
            "GDPR Art. 9(2)(d)",
            "GDPR Art. 9(2)(e)",
            "GDPR Art. 9(2)(f)",
            "GDPR Art. 9(2)(g)",
            "GDPR Art. 9(2)(h)",
            "GDPR Art. 9(2)(i)",
            "GDPR Art. 9(2)(j)",
        ];
        let i = Self::ALL.iter().position(|c| *c == self).unwrap_or(0);
        POINTS[i]
    }

    /// Parses [`SpecialCondition::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The US state laws' opt-out rights a purpose falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OptOutKind {
    /// Sale of personal information.
    Sale,
    /// Sharing for cross-context behavioural advertising (CPRA).
    Sharing,
    /// Targeted advertising (the Virginia-model laws).
    TargetedAdvertising,
    /// Use of sensitive personal information (CPRA's "limit the use").
    SensitiveData,
}

impl OptOutKind {
    /// Every kind, in a stable order.
    pub const ALL: [OptOutKind; 4] = [
        OptOutKind::Sale,
        OptOutKind::Sharing,
        OptOutKind::TargetedAdvertising,
        OptOutKind::SensitiveData,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            OptOutKind::Sale => "sale",
            OptOutKind::Sharing => "sharing",
            OptOutKind::TargetedAdvertising => "targeted_advertising",
            OptOutKind::SensitiveData => "sensitive_data",
        }
    }

    /// Parses [`OptOutKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether a Global Privacy Control signal opts the subject out of this kind (CCPA regs
    /// §7025: sale and sharing; Colorado and others: targeted advertising too).
    pub fn covered_by_gpc(self) -> bool {
        !matches!(self, OptOutKind::SensitiveData)
    }
}

/// What a purpose needs from the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentModel {
    /// Allowed only while the subject's consent is given and unexpired.
    OptIn,
    /// Allowed unless the subject opted out (refused or withdrew).
    OptOut,
    /// Another legal basis covers it; consent records are kept but do not gate it.
    NotRequired,
}

impl ConsentModel {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentModel::OptIn => "opt_in",
            ConsentModel::OptOut => "opt_out",
            ConsentModel::NotRequired => "not_required",
        }
    }

    /// Parses [`ConsentModel::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            ConsentModel::OptIn,
            ConsentModel::OptOut,
            ConsentModel::NotRequired,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A purpose of processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purpose {
    /// The key, also the value of the `Custodian-Purpose` header (e.g. `marketing`).
    pub key: String,
    /// Name per language tag (`en`, `fr-CA`); at least one.
    pub names: BTreeMap<String, String>,
    /// Description per language tag.
    pub descriptions: BTreeMap<String, String>,
    /// The GDPR Art. 6(1) basis.
    pub legal_basis: LegalBasis,
    /// The Art. 9(2) condition, for purposes that process special categories.
    pub special_condition: Option<SpecialCondition>,
    /// The US opt-out rights that apply (sorted, no duplicates).
    pub opt_out_kinds: Vec<OptOutKind>,
    /// Opt-in, opt-out, or neither.
    pub consent: ConsentModel,
    /// The fideslang data uses it covers.
    pub data_uses: Vec<String>,
    /// The data categories it covers.
    pub data_categories: Vec<String>,
    /// Where it applies: ISO 3166 codes, optionally with a subdivision (`EU`, `US-CA`).
    pub jurisdictions: Vec<String>,
    /// The key of the notice shown when asking, if any.
    pub notice: Option<String>,
    /// How long a consent lasts, in days (none: until withdrawn).
    pub validity_days: Option<u32>,
}

/// A purpose as stored, with its optimistic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPurpose {
    /// The purpose.
    pub purpose: Purpose,
    /// Increases by one with each change, from 1.
    pub version: i64,
    /// When it was first defined.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Why a purpose definition was refused: the field and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid purpose: {field} ({rule})")]
pub struct PurposeError {
    /// The field at fault.
    pub field: &'static str,
    /// The rule it broke.
    pub rule: &'static str,
}

fn bad(field: &'static str, rule: &'static str) -> PurposeError {
    PurposeError { field, rule }
}

/// Longest localized name.
pub const MAX_NAME: usize = 200;
/// Longest localized description.
pub const MAX_DESCRIPTION: usize = 4000;
/// Most entries in any list of a purpose.
pub const MAX_LIST: usize = 64;

/// Whether `tag` is a BCP 47 language tag of the simple kind: a 2–3 letter language, then
/// subtags of 2–8 letters or digits (`en`, `pt-BR`, `zh-Hant-TW`).
pub fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let Some(lang) = parts.next() else {
        return false;
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && tag.len() <= 35
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether `code` is a jurisdiction code: an ISO 3166-1 alpha-2 code (or `EU`), optionally
/// with an ISO 3166-2 subdivision (`US-CA`).
pub fn valid_jurisdiction(code: &str) -> bool {
    let (country, sub) = match code.split_once('-') {
        Some((c, s)) => (c, Some(s)),
        None => (code, None),
    };
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && sub.is_none_or(|s| {
            (1..=3).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

fn texts_ok(
    texts: &BTreeMap<String, String>,
    field: &'static str,
    max: usize,
) -> Result<(), PurposeError> {
    for (lang, text) in texts {
        if !valid_language(lang) {
            return Err(bad(field, "language_tag"));
        }
        let control = text
            .chars()
            .any(|c| c.is_control() && !(field == "descriptions" && matches!(c, '\n' | '\t')));
        if text.trim().is_empty() || text.chars().count() > max || control {
            return Err(bad(field, "text_length"));
        }
    }
    Ok(())
}

impl Purpose {
    /// Checks every rule of a purpose definition.
    pub fn validate(&self) -> Result<(), PurposeError> {
        if !valid_purpose(&self.key) {
            return Err(bad("key", "purpose_key"));
        }
        if self.names.is_empty() {
            return Err(bad("names", "required"));
        }
        texts_ok(&self.names, "names", MAX_NAME)?;
        texts_ok(&self.descriptions, "descriptions", MAX_DESCRIPTION)?;
        let lists = [
            self.opt_out_kinds.len(),
            self.data_uses.len(),
            self.data_categories.len(),
            self.jurisdictions.len(),
        ];
        if lists.iter().any(|n| *n > MAX_LIST) {
            return Err(bad("purpose", "list_too_long"));
        }
        // Consent is the basis exactly when the use waits for an opt-in.
        match (self.legal_basis, self.consent) {
            (LegalBasis::Consent, ConsentModel::OptIn) => {}
            (LegalBasis::Consent, _) => return Err(bad("consent", "consent_basis_needs_opt_in")),
            (_, ConsentModel::OptIn) => {
                return Err(bad("legal_basis", "opt_in_needs_consent_basis"));
            }
            _ => {}
        }
        if self.special_condition == Some(SpecialCondition::ExplicitConsent)
            && self.consent != ConsentModel::OptIn
        {
            return Err(bad("special_condition", "explicit_consent_needs_opt_in"));
        }
        if self.consent == ConsentModel::OptOut
            && self.opt_out_kinds.is_empty()
            && self.legal_basis != LegalBasis::LegitimateInterests
        {
            return Err(bad("opt_out_kinds", "opt_out_needs_a_right"));
        }
        if self
            .data_uses
            .iter()
            .any(|u| !taxonomy::contains(Kind::DataUse, u))
        {
            return Err(bad("data_uses", "taxonomy_key"));
        }
        if self
            .data_categories
            .iter()
            .any(|c| !taxonomy::contains(Kind::DataCategory, c))
        {
            return Err(bad("data_categories", "taxonomy_key"));
        }
        if self.jurisdictions.iter().any(|j| !valid_jurisdiction(j)) {
            return Err(bad("jurisdictions", "jurisdiction_code"));
        }
        if let Some(n) = &self.notice
            && !valid_purpose(n)
        {
            return Err(bad("notice", "notice_key"));
        }
        if self.validity_days.is_some_and(|d| d == 0 || d > 3660) {
            return Err(bad("validity_days", "range_1_to_3660"));
        }
        Ok(())
    }

    /// Sorts and deduplicates the lists, so equal definitions compare and store equal.
    pub fn normalize(&mut self) {
        for v in [
            &mut self.data_uses,
            &mut self.data_categories,
            &mut self.jurisdictions,
        ] {
            v.sort();
            v.dedup();
        }
        self.opt_out_kinds.sort();
        self.opt_out_kinds.dedup();
    }

    /// Whether a Global Privacy Control signal opts the subject out of this purpose.
    pub fn honours_gpc(&self) -> bool {
        self.consent == ConsentModel::OptOut
            && self.opt_out_kinds.iter().any(|k| k.covered_by_gpc())
    }

    /// The definition as stored (JSON, key excluded: it is the row's key).
    pub fn encode(&self) -> String {
        json!({
            "names": self.names,
            "descriptions": self.descriptions,
            "legal_basis": self.legal_basis.as_str(),
            "special_condition": self.special_condition.map(SpecialCondition::as_str),
            "opt_out_kinds": self.opt_out_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "consent": self.consent.as_str(),
            "data_uses": self.data_uses,
            "data_categories": self.data_categories,
            "jurisdictions": self.jurisdictions,
            "notice": self.notice,
            "validity_days": self.validity_days,
        })
        .to_string()
    }

    /// Reads [`Purpose::encode`]'s output back.
    pub fn decode(key: &str, stored: &str) -> Option<Self> {
        let v: Value = serde_json::from_str(stored).ok()?;
        let texts = |name: &str| -> Option<BTreeMap<String, String>> {
            v.get(name)?
                .as_object()?
                .iter()
                .map(|(k, t)| Some((k.clone(), t.as_str()?.to_owned())))
                .collect()
        };
        let strings = |name: &str| -> Option<Vec<String>> {
            v.get(name)?
                .as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        Some(Purpose {
            key: key.to_owned(),
            names: texts("names")?,
            descriptions: texts("descriptions")?,
            legal_basis: LegalBasis::parse(v.get("legal_basis")?.as_str()?)?,
            special_condition: match v.get("special_condition") {
                Some(Value::String(s)) => Some(SpecialCondition::parse(s)?),
                _ => None,
            },
            opt_out_kinds: strings("opt_out_kinds")?
                .iter()
                .map(|s| OptOutKind::parse(s))
                .collect::<Option<_>>()?,
            consent: ConsentModel::parse(v.get("consent")?.as_str()?)?,
            data_uses: strings("data_uses")?,
            data_categories: strings("data_categories")?,
            jurisdictions: strings("jurisdictions")?,
            notice: v.get("notice").and_then(Value::as_str).map(str::to_owned),
            validity_days: v
                .get("validity_days")
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn marketing() -> Purpose {
        Purpose {
            key: "marketing".into(),
            names: BTreeMap::from([("en".into(), "Marketing e-mails".into())]),
            descriptions: BTreeMap::new(),
            legal_basis: LegalBasis::Consent,
            special_condition: None,
            opt_out_kinds: vec![],
            consent: ConsentModel::OptIn,
            data_uses: vec!["marketing.communications.email".into()],
            data_categories: vec!["user.contact.email".into()],
            jurisdictions: vec!["EU".into()],
            notice: Some("privacy".into()),
            validity_days: Some(365),
        }
    }

    #[test]
    fn a_valid_purpose_round_trips_through_its_stored_form() {
        let p = marketing();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(Purpose::decode("marketing", &p.encode()), Some(p));
    }

    #[test]
    fn consent_is_the_basis_exactly_when_the_use_is_opt_in() {
        let mut p = marketing();
        p.consent = ConsentModel::OptOut;
        assert_eq!(
            p.validate().map_err(|e| e.rule),
            Err("consent_basis_needs_opt_in")
        );
        let mut p = marketing();
        p.legal_basis = LegalBasis::Contract;
        assert_eq!(
            p.validate().map_err(|e| e.rule),
            Err("opt_in_needs_consent_basis")
        );
        let mut p = marketing();
        p.legal_basis = LegalBasis::Contract;
        p.consent = ConsentModel::NotRequired;
        p.special_condition = Some(SpecialCondition::ExplicitConsent);
        assert_eq!(p.validate().map_err(|e| e.field), Err("special_condition"));
    }

    #[test]
    fn every_bad_field_is_named() {
        type Case = (fn(&mut Purpose), &'static str);
        let cases: Vec<Case> = vec![
            (|p| p.key = "Bad Key".into(), "key"),
            (|p| p.names.clear(), "names"),
            (
                |p| {
                    p.names.insert("english".into(), "x".into());
                },
                "names",
            ),
            (
                |p| {
                    p.names.insert("fr".into(), " ".into());
                },
                "names",
            ),
            (|p| p.data_uses = vec!["marketing.nope".into()], "data_uses"),
            (
                |p| p.data_categories = vec!["user.nope".into()],
                "data_categories",
            ),
            (|p| p.jurisdictions = vec!["usa".into()], "jurisdictions"),
            (|p| p.validity_days = Some(0), "validity_days"),
            (|p| p.notice = Some("Not A Key".into()), "notice"),
        ];
        for (change, field) in cases {
            let mut p = marketing();
            change(&mut p);
            assert_eq!(p.validate().map_err(|e| e.field), Err(field));
        }
    }

    #[test]
    fn gpc_reaches_opt_out_purposes_for_sale_sharing_or_advertising_only() {
        let mut p = marketing();
        assert!(!p.honours_gpc());
        p.legal_basis = LegalBasis::LegitimateInterests;
        p.consent = ConsentModel::OptOut;
        p.opt_out_kinds = vec![OptOutKind::SensitiveData];
        assert!(!p.honours_gpc());
        p.opt_out_kinds.push(OptOutKind::Sale);
        assert!(p.honours_gpc());
    }

    #[test]
    fn language_tags_and_jurisdictions() {
        for ok in ["en", "pt-BR", "zh-Hant-TW", "fil"] {
            assert!(valid_language(ok), "{ok}");
        }
        for bad in ["", "EN", "e", "english", "en-", "en_US"] {
            assert!(!valid_language(bad), "{bad}");
        }
        for ok in ["EU", "US", "US-CA", "GB-ENG", "FR-75"] {
            assert!(valid_jurisdiction(ok), "{ok}");
        }
        for bad in ["", "us", "USA", "US-", "US-CAXX", "US-ca"] {
            assert!(!valid_jurisdiction(bad), "{bad}");
        }
    }
}
