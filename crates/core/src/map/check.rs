//! Policy-as-code over the data map: a YAML file of rules, each naming a check and its
//! parameters, evaluated against the map. Every violation says which rule, where (the entry
//! and the path inside it) and what is wrong, so a CI log points at the line to fix.
//!
//! ```yaml
//! rules:
//!   - id: no-special-categories-for-marketing
//!     check: forbid
//!     data_categories: [special]      # `special` = GDPR Art. 9/10 categories
//!     data_uses: [marketing]
//!   - id: transfers-have-a-mechanism
//!     check: transfers_have_mechanism
//! ```

use serde_json::Value;

use super::{DataMap, LegalBasis, Mechanism};
use crate::doc::{DocError, err, list, object, only, string, strings, text, valid_key};
use crate::map::ropa::rules_for;
use crate::taxonomy::{self, Kind};

/// The EEA: the EU member states, Iceland, Liechtenstein and Norway.
pub const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

/// Countries with a European Commission adequacy decision (Art. 45), as a default for
/// `transfers_have_mechanism`; a policy can give its own list. The United States' decision
/// covers only organisations certified under the Data Privacy Framework, so it is not listed:
/// name the mechanism per transfer.
pub const ADEQUATE: [&str; 14] = [
    "AD", "AR", "CA", "CH", "FO", "GB", "GG", "IL", "IM", "JE", "JP", "KR", "NZ", "UY",
];

/// The checks a rule can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// No declaration may combine these categories, uses and subjects (an empty list
    /// matches anything; `special` in the categories stands for Art. 9/10 data).
    Forbid {
        /// Categories (hierarchical).
        data_categories: Vec<String>,
        /// Uses (hierarchical).
        data_uses: Vec<String>,
        /// Subjects.
        data_subjects: Vec<String>,
    },
    /// Every transfer outside the EEA has a mechanism; adequacy only to an adequate
    /// country; a derogation documents its safeguards.
    TransfersHaveMechanism {
        /// Countries with adequacy.
        adequate: Vec<String>,
    },
    /// Every field of every dataset has a data category.
    DatasetFieldsCategorized,
    /// Every declaration based on consent is covered by a consent purpose (one whose data
    /// uses cover the declaration's) that has a published notice.
    ConsentUsesHavePublishedNotice,
    /// Every category a declaration uses is bound to a retention rule.
    CategoriesHaveRetention,
    /// Every declaration of a controller names its Art. 6 basis (a processor acts on its
    /// controllers' basis).
    DeclarationsHaveLegalBasis,
    /// A declaration with special-category data names its Art. 9 condition.
    SpecialCategoriesHaveCondition,
    /// Every declaration that combines these categories, uses and subjects (as `Forbid`
    /// matches) is covered by an approved data protection impact assessment
    /// ([`crate::dpia`]) of its system and data use.
    RequiresDpia {
        /// Categories (hierarchical; `special` for Art. 9/10 data).
        data_categories: Vec<String>,
        /// Uses (hierarchical).
        data_uses: Vec<String>,
        /// Subjects.
        data_subjects: Vec<String>,
    },
}

/// How much a violation weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Fails the check.
    Error,
    /// Reported only.
    Warning,
}

/// One rule of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// Its id.
    pub id: String,
    /// What it checks.
    pub check: Check,
    /// How much it weighs.
    pub severity: Severity,
    /// The author's explanation, printed with each violation.
    pub message: Option<String>,
}

/// Reads a policy document (`{"rules": [...]}`).
pub fn parse_policy(doc: &Value) -> Result<Vec<PolicyRule>, DocError> {
    let m = object(doc, "$")?;
    only(m, "$", &["rules"])?;
    let rules = list(m, "rules", "$")?;
    if rules.is_empty() {
        return Err(err("$.rules", "at least one rule"));
    }
    let mut out: Vec<PolicyRule> = Vec::new();
    for (i, v) in rules.iter().enumerate() {
        let path = format!("$.rules[{i}]");
        let r = object(v, &path)?;
        let id = string(r, "id", &path)?
            .filter(|s| valid_key(s))
            .ok_or_else(|| err(format!("{path}.id"), "required: a key"))?;
        if out.iter().any(|o| o.id == id) {
            return Err(err(format!("{path}.id"), "the id is used twice"));
        }
        let name =
            string(r, "check", &path)?.ok_or_else(|| err(format!("{path}.check"), "required"))?;
        let mut allowed = vec!["id", "check", "severity", "message"];
        let check = match name {
            "forbid" | "requires_dpia" => {
                allowed.extend(["data_categories", "data_uses", "data_subjects"]);
                let data_categories = strings(
                    r,
                    "data_categories",
                    &path,
                    &|k| k == "special" || taxonomy::contains(Kind::DataCategory, k),
                    "taxonomy_key",
                )?;
                let data_uses = strings(
                    r,
                    "data_uses",
                    &path,
                    &|k| taxonomy::contains(Kind::DataUse, k),
                    "taxonomy_key",
                )?;
                let data_subjects = strings(
                    r,
                    "data_subjects",
                    &path,
                    &|k| taxonomy::contains(Kind::DataSubject, k),
                    "taxonomy_key",
                )?;
                if data_categories.is_empty() && data_uses.is_empty() && data_subjects.is_empty() {
                    return Err(err(path, "forbid needs categories, uses or subjects"));
                }
                if name == "forbid" {
                    Check::Forbid {
                        data_categories,
                        data_uses,
                        data_subjects,
                    }
                } else {
                    Check::RequiresDpia {
                        data_categories,
                        data_uses,
                        data_subjects,
                    }
                }
            }
            "transfers_have_mechanism" => {
                allowed.push("adequate_countries");
                let given = strings(
                    r,
                    "adequate_countries",
                    &path,
                    &super::valid_country,
                    "ISO 3166-1 alpha-2 code",
                )?;
                Check::TransfersHaveMechanism {
                    adequate: if r.contains_key("adequate_countries") {
                        given
                    } else {
                        ADEQUATE.map(str::to_owned).to_vec()
                    },
                }
            }
            "dataset_fields_categorized" => Check::DatasetFieldsCategorized,
            "consent_uses_have_published_notice" => Check::ConsentUsesHavePublishedNotice,
            "categories_have_retention" => Check::CategoriesHaveRetention,
            "declarations_have_legal_basis" => Check::DeclarationsHaveLegalBasis,
            "special_categories_have_condition" => Check::SpecialCategoriesHaveCondition,
            _ => return Err(err(format!("{path}.check"), "unknown check")),
        };
        only(r, &path, &allowed)?;
        let severity = match string(r, "severity", &path)? {
            None | Some("error") => Severity::Error,
            Some("warning") => Severity::Warning,
            Some(_) => return Err(err(format!("{path}.severity"), "error or warning")),
        };
        out.push(PolicyRule {
            id: id.to_owned(),
            check,
            severity,
            message: text(r, "message", &path, 500)?.map(str::to_owned),
        });
    }
    Ok(out)
}

/// What the consent check needs to know of a consent purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeFacts {
    /// Its key.
    pub key: String,
    /// The data uses it covers.
    pub data_uses: Vec<String>,
    /// Whether a notice version is published for it.
    pub published_notice: bool,
}

/// One violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule's id.
    pub rule: String,
    /// Its weight.
    pub severity: Severity,
    /// The entry (`system:crm`, `dataset:shop`).
    pub entry: String,
    /// Where inside it (`privacy_declarations[0]`, `customers.email`).
    pub path: String,
    /// What is wrong.
    pub detail: String,
}

/// The outcome of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Every violation, in rule order.
    pub violations: Vec<Violation>,
    /// Rules that could not be evaluated, with why.
    pub skipped: Vec<(String, &'static str)>,
}

impl Report {
    /// Whether any violation is an error.
    pub fn failed(&self) -> bool {
        self.violations
            .iter()
            .any(|v| v.severity == Severity::Error)
    }
}

fn matches_any(keys: &[String], wanted: &[String]) -> bool {
    wanted.is_empty()
        || keys.iter().any(|k| {
            wanted.iter().any(|w| {
                if w == "special" {
                    taxonomy::is_special(k)
                } else {
                    taxonomy::covers(w, k)
                }
            })
        })
}

/// Whether an approved DPIA covers a system's data use.
pub type DpiaCovers<'a> = &'a dyn Fn(&str, &str) -> bool;

/// Evaluates `policy` against `map`. `purposes` is `None` when the consent purposes are not
/// known (a check of files alone), and `dpias` when the DPIA register is not; rules that
/// need them are then skipped, not passed.
pub fn evaluate(
    policy: &[PolicyRule],
    map: &DataMap,
    purposes: Option<&[PurposeFacts]>,
    dpias: Option<DpiaCovers<'_>>,
) -> Report {
    let mut report = Report::default();
    for rule in policy {
        let mut add = |entry: String, path: String, detail: String| {
            let detail = match &rule.message {
                Some(m) => format!("{detail} ({m})"),
                None => detail,
            };
            report.violations.push(Violation {
                rule: rule.id.clone(),
                severity: rule.severity,
                entry,
                path,
                detail,
            });
        };
        let declarations = map.systems.iter().flat_map(|s| {
            s.declarations.iter().enumerate().map(move |(i, d)| {
                (
                    format!("system:{}", s.key),
                    format!("privacy_declarations[{i}]"),
                    d,
                )
            })
        });
        match &rule.check {
            Check::Forbid {
                data_categories,
                data_uses,
                data_subjects,
            } => {
                for (entry, path, d) in declarations {
                    if matches_any(&d.data_categories, data_categories)
                        && matches_any(std::slice::from_ref(&d.data_use), data_uses)
                        && (data_subjects.is_empty()
                            || d.data_subjects.iter().any(|s| data_subjects.contains(s)))
                    {
                        let cats: Vec<&str> = d
                            .data_categories
                            .iter()
                            .filter(|c| {
                                data_categories.is_empty()
                                    || matches_any(std::slice::from_ref(c), data_categories)
                            })
                            .map(String::as_str)
                            .collect();
                        add(
                            entry,
                            path,
                            format!(
                                "uses {} for {}, which the policy forbids",
                                cats.join(", "),
                                d.data_use
                            ),
                        );
                    }
                }
            }
            Check::RequiresDpia {
                data_categories,
                data_uses,
                data_subjects,
            } => {
                let Some(covered) = dpias else {
                    report.skipped.push((
                        rule.id.clone(),
                        "the DPIA register is known only to a running installation",
                    ));
                    continue;
                };
                for s in &map.systems {
                    for (i, d) in s.declarations.iter().enumerate() {
                        if matches_any(&d.data_categories, data_categories)
                            && matches_any(std::slice::from_ref(&d.data_use), data_uses)
                            && (data_subjects.is_empty()
                                || d.data_subjects.iter().any(|x| data_subjects.contains(x)))
                            && !covered(&s.key, &d.data_use)
                        {
                            add(
                                format!("system:{}", s.key),
                                format!("privacy_declarations[{i}]"),
                                format!(
                                    "{} for {} needs an approved DPIA, and none covers it",
                                    s.key, d.data_use
                                ),
                            );
                        }
                    }
                }
            }
            Check::TransfersHaveMechanism { adequate } => {
                for s in &map.systems {
                    for (i, t) in s.transfers.iter().enumerate() {
                        if EEA.contains(&t.destination.as_str()) {
                            continue;
                        }
                        let (entry, path) = (
                            format!("system:{}", s.key),
                            format!("custodian.transfers[{i}]"),
                        );
                        match t.mechanism {
                            None => add(
                                entry,
                                path,
                                format!("the transfer to {} has no mechanism", t.destination),
                            ),
                            Some(Mechanism::Adequacy) if !adequate.contains(&t.destination) => add(
                                entry,
                                path,
                                format!(
                                    "{} has no adequacy decision in this policy",
                                    t.destination
                                ),
                            ),
                            Some(Mechanism::Derogation) if t.safeguards.is_none() => add(
                                entry,
                                path,
                                format!(
                                    "the derogation for {} documents no safeguards",
                                    t.destination
                                ),
                            ),
                            _ => {}
                        }
                    }
                    if s.does_international_transfers && s.transfers.is_empty() {
                        add(
                            format!("system:{}", s.key),
                            "does_international_transfers".into(),
                            "transfers are declared but no destination is named".into(),
                        );
                    }
                }
            }
            Check::DatasetFieldsCategorized => {
                for d in &map.datasets {
                    for c in &d.collections {
                        for f in &c.fields {
                            if f.categories.is_empty() && !f.primary_key {
                                add(
                                    format!("dataset:{}", d.key),
                                    format!("{}.{}", c.name, f.name),
                                    "the field has no data category".into(),
                                );
                            }
                        }
                    }
                }
            }
            Check::ConsentUsesHavePublishedNotice => {
                let Some(purposes) = purposes else {
                    report.skipped.push((
                        rule.id.clone(),
                        "consent purposes are known only to a running installation",
                    ));
                    continue;
                };
                for (entry, path, d) in declarations {
                    if d.legal_basis != Some(LegalBasis::Consent) {
                        continue;
                    }
                    let covering: Vec<&PurposeFacts> = purposes
                        .iter()
                        .filter(|p| p.data_uses.iter().any(|u| taxonomy::covers(u, &d.data_use)))
                        .collect();
                    if covering.is_empty() {
                        add(
                            entry,
                            path,
                            format!("no consent purpose covers {}", d.data_use),
                        );
                    } else if !covering.iter().any(|p| p.published_notice) {
                        let keys: Vec<&str> = covering.iter().map(|p| p.key.as_str()).collect();
                        add(
                            entry,
                            path,
                            format!("no published notice for purpose {}", keys.join(", ")),
                        );
                    }
                }
            }
            Check::CategoriesHaveRetention => {
                for (entry, path, d) in declarations {
                    for c in &d.data_categories {
                        if rules_for(&map.retention_rules, c, &d.data_use)
                            .next()
                            .is_none()
                        {
                            add(
                                entry.clone(),
                                path.clone(),
                                format!("no retention rule binds {c} for {}", d.data_use),
                            );
                        }
                    }
                }
            }
            Check::DeclarationsHaveLegalBasis => {
                // A processor acts on its controllers' basis; only controllers declare one.
                let controllers: Vec<String> = map
                    .systems
                    .iter()
                    .filter(|s| {
                        !s.is_processor()
                            || s.responsibility
                                .contains(&super::Responsibility::Controller)
                    })
                    .map(|s| format!("system:{}", s.key))
                    .collect();
                for (entry, path, d) in declarations {
                    if d.legal_basis.is_none() && controllers.contains(&entry) {
                        add(entry, path, "no legal basis".into());
                    }
                }
            }
            Check::SpecialCategoriesHaveCondition => {
                for (entry, path, d) in declarations {
                    let special = d.processes_special_category_data
                        || d.data_categories.iter().any(|c| taxonomy::is_special(c));
                    if special && d.special_category_legal_basis.is_none() {
                        add(
                            entry,
                            path,
                            "special-category data without an Art. 9(2) condition".into(),
                        );
                    }
                }
            }
        }
    }
    report
}
