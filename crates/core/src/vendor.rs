//! The vendor and processor register: who processes personal data for the organisation,
//! for which systems of the data map and which categories, under which contract (the
//! Art. 28 data processing agreement) and transfer mechanism, with which sub-processors,
//! how risky, and when it is next reviewed.
//!
//! A vendor is read from a JSON object strictly ([`crate::doc`]: every key known, errors as
//! a path and a rule) and kept as JSON in the register. Reviews are appended, never edited;
//! the next review falls due `review_every_months` after the last one (or after the vendor
//! was added), the cadence defaulting by risk (high: 6 months, medium: 12, low: 24).

use jiff::{Timestamp, ToSpan};
use serde_json::{Map, Value, json};

use crate::doc::{DocError, boolean, err, list, object, only, string, strings, text, valid_key};
use crate::map::{Mechanism, valid_country};

/// How risky a vendor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskRating {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

impl RiskRating {
    const ALL: [RiskRating; 3] = [RiskRating::Low, RiskRating::Medium, RiskRating::High];

    /// `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskRating::Low => "low",
            RiskRating::Medium => "medium",
            RiskRating::High => "high",
        }
    }

    /// Parses [`RiskRating::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The default review cadence, in months.
    pub fn default_review_months(self) -> u32 {
        match self {
            RiskRating::Low => 24,
            RiskRating::Medium => 12,
            RiskRating::High => 6,
        }
    }
}

/// The vendor's part (GDPR Art. 4(7)-(8), 26, 28(4)).
pub const ROLES: [&str; 4] = [
    "processor",
    "sub_processor",
    "controller",
    "joint_controller",
];

/// The data processing agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dpa {
    /// When it was signed.
    pub signed_at: Timestamp,
    /// When it ends, if it does.
    pub expires_at: Option<Timestamp>,
    /// Where the document is (a contract number, a document-management link).
    pub reference: Option<String>,
}

/// A sub-processor the vendor uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubProcessor {
    /// Its name.
    pub name: String,
    /// Where it processes (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// What it does.
    pub services: Option<String>,
}

/// One review of a vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// When.
    pub at: Timestamp,
    /// Who (an audit actor string).
    pub by: String,
    /// `approved`, `approved_with_conditions` or `rejected`.
    pub outcome: String,
    /// Findings and conditions.
    pub notes: Option<String>,
}

/// The outcomes a review may have.
pub const OUTCOMES: [&str; 3] = ["approved", "approved_with_conditions", "rejected"];

/// A vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    /// Its key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// What it does for the organisation.
    pub services: Option<String>,
    /// Its website.
    pub website: Option<String>,
    /// Where it is established (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// One of [`ROLES`].
    pub role: String,
    /// Systems of the data map it runs or receives data from.
    pub systems: Vec<String>,
    /// Data categories shared with it.
    pub data_categories: Vec<String>,
    /// The data processing agreement.
    pub dpa: Option<Dpa>,
    /// The transfer mechanism, when it processes outside the EEA.
    pub transfer_mechanism: Option<Mechanism>,
    /// Its sub-processors.
    pub sub_processors: Vec<SubProcessor>,
    /// The risk rating.
    pub risk: RiskRating,
    /// Months between reviews.
    pub review_every_months: u32,
    /// Listed in the public sub-processor list of the privacy center.
    pub public: bool,
    /// `active` or `offboarded`.
    pub status: String,
    /// Reviews, oldest first.
    pub reviews: Vec<Review>,
}

fn time(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<Timestamp>, DocError> {
    match string(m, key, path)? {
        None => Ok(None),
        Some(s) => s
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|_| err(format!("{path}.{key}"), "an RFC 3339 time")),
    }
}

fn one_of(
    m: &Map<String, Value>,
    key: &str,
    path: &str,
    allowed: &[&str],
    rule: &'static str,
) -> Result<Option<String>, DocError> {
    match string(m, key, path)? {
        None => Ok(None),
        Some(s) if allowed.contains(&s) => Ok(Some(s.to_owned())),
        Some(_) => Err(err(format!("{path}.{key}"), rule)),
    }
}

/// What a vendor's declaration is checked against.
pub struct Known<'a> {
    /// Whether a system key is in the data map.
    pub system: &'a dyn Fn(&str) -> bool,
    /// Whether a data category is in the taxonomy in force.
    pub category: &'a dyn Fn(&str) -> bool,
}

/// Reads a vendor declared under `key` (the reviews are kept from `reviews`).
pub fn parse(
    key: &str,
    v: &Value,
    known: &Known<'_>,
    reviews: Vec<Review>,
) -> Result<Vendor, DocError> {
    let path = "$";
    if !valid_key(key) {
        return Err(err("key", "a key"));
    }
    let m = object(v, path)?;
    only(
        m,
        path,
        &[
            "name",
            "services",
            "website",
            "country",
            "role",
            "systems",
            "data_categories",
            "dpa",
            "transfer_mechanism",
            "sub_processors",
            "risk",
            "review_every_months",
            "public",
            "status",
        ],
    )?;
    let name = text(m, "name", path, 200)?
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("$.name", "required"))?;
    let country = string(m, "country", path)?;
    if country.is_some_and(|c| !valid_country(c)) {
        return Err(err("$.country", "ISO 3166-1 alpha-2 code"));
    }
    let dpa = match m.get("dpa").filter(|v| !v.is_null()) {
        None => None,
        Some(d) => {
            let p = "$.dpa";
            let dm = object(d, p)?;
            only(dm, p, &["signed_at", "expires_at", "reference"])?;
            let signed_at =
                time(dm, "signed_at", p)?.ok_or_else(|| err("$.dpa.signed_at", "required"))?;
            let expires_at = time(dm, "expires_at", p)?;
            if expires_at.is_some_and(|e| e <= signed_at) {
                return Err(err("$.dpa.expires_at", "after signed_at"));
            }
            Some(Dpa {
                signed_at,
                expires_at,
                reference: text(dm, "reference", p, 500)?.map(str::to_owned),
            })
        }
    };
    let transfer_mechanism = match string(m, "transfer_mechanism", path)? {
        None => None,
        Some(s) => Some(
            Mechanism::parse(s)
                .ok_or_else(|| err("$.transfer_mechanism", "adequacy, sccs, bcrs or derogation"))?,
        ),
    };
    let mut sub_processors = Vec::new();
    for (i, s) in list(m, "sub_processors", path)?.iter().enumerate() {
        let p = format!("$.sub_processors[{i}]");
        let sm = object(s, &p)?;
        only(sm, &p, &["name", "country", "services"])?;
        let country = string(sm, "country", &p)?;
        if country.is_some_and(|c| !valid_country(c)) {
            return Err(err(format!("{p}.country"), "ISO 3166-1 alpha-2 code"));
        }
        sub_processors.push(SubProcessor {
            name: text(sm, "name", &p, 200)?
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(format!("{p}.name"), "required"))?
                .to_owned(),
            country: country.map(str::to_owned),
            services: text(sm, "services", &p, 500)?.map(str::to_owned),
        });
    }
    let risk = string(m, "risk", path)?
        .ok_or_else(|| err("$.risk", "required"))
        .and_then(|r| RiskRating::parse(r).ok_or_else(|| err("$.risk", "low, medium or high")))?;
    let review_every_months = match m.get("review_every_months") {
        None | Some(Value::Null) => risk.default_review_months(),
        Some(n) => n
            .as_u64()
            .filter(|n| (1..=60).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| err("$.review_every_months", "1 to 60"))?,
    };
    Ok(Vendor {
        key: key.to_owned(),
        name: name.to_owned(),
        services: text(m, "services", path, 2000)?.map(str::to_owned),
        website: text(m, "website", path, 500)?.map(str::to_owned),
        country: country.map(str::to_owned),
        role: one_of(
            m,
            "role",
            path,
            &ROLES,
            "processor, sub_processor, controller or joint_controller",
        )?
        .unwrap_or_else(|| "processor".to_owned()),
        systems: strings(m, "systems", path, known.system, "a system of the data map")?,
        data_categories: strings(m, "data_categories", path, known.category, "taxonomy_key")?,
        dpa,
        transfer_mechanism,
        sub_processors,
        risk,
        review_every_months,
        public: boolean(m, "public", path)?.unwrap_or(false),
        status: one_of(
            m,
            "status",
            path,
            &["active", "offboarded"],
            "active or offboarded",
        )?
        .unwrap_or_else(|| "active".to_owned()),
        reviews,
    })
}

impl Vendor {
    /// When the next review is due: the cadence after the last review, or after `since`
    /// (when the vendor was added) if it was never reviewed. `None` once offboarded.
    pub fn next_review_due(&self, since: Timestamp) -> Option<Timestamp> {
        if self.status == "offboarded" {
            return None;
        }
        let from = self.reviews.last().map_or(since, |r| r.at);
        let zoned = from.to_zoned(jiff::tz::TimeZone::UTC);
        Some(
            zoned
                .checked_add(i64::from(self.review_every_months).months())
                .map_or(from, |z| z.timestamp()),
        )
    }

    /// Problems an auditor would raise now: `dpa_missing` (a processor without an
    /// agreement), `dpa_expired`, `review_overdue`, `last_review_rejected`.
    pub fn findings(&self, since: Timestamp, now: Timestamp) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.status == "offboarded" {
            return out;
        }
        let processes = matches!(self.role.as_str(), "processor" | "sub_processor");
        match &self.dpa {
            None if processes => out.push("dpa_missing"),
            Some(d) if d.expires_at.is_some_and(|e| e <= now) => out.push("dpa_expired"),
            _ => {}
        }
        if self.next_review_due(since).is_some_and(|d| d <= now) {
            out.push("review_overdue");
        }
        if self.reviews.last().is_some_and(|r| r.outcome == "rejected") {
            out.push("last_review_rejected");
        }
        out
    }

    /// The stored JSON form.
    pub fn to_json(&self) -> String {
        json!({
            "name": self.name,
            "services": self.services,
            "website": self.website,
            "country": self.country,
            "role": self.role,
            "systems": self.systems,
            "data_categories": self.data_categories,
            "dpa": self.dpa.as_ref().map(|d| json!({
                "signed_at": d.signed_at.to_string(),
                "expires_at": d.expires_at.map(|t| t.to_string()),
                "reference": d.reference,
            })),
            "transfer_mechanism": self.transfer_mechanism.map(Mechanism::as_str),
            "sub_processors": self.sub_processors.iter().map(|s| json!({
                "name": s.name, "country": s.country, "services": s.services,
            })).collect::<Vec<_>>(),
            "risk": self.risk.as_str(),
            "review_every_months": self.review_every_months,
            "public": self.public,
            "status": self.status,
            "reviews": self.reviews.iter().map(|r| json!({
                "at": r.at.to_string(), "by": r.by, "outcome": r.outcome, "notes": r.notes,
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// Reads the stored JSON form.
    pub fn from_json(key: &str, text: &str) -> Option<Vendor> {
        let mut v: Value = serde_json::from_str(text).ok()?;
        let reviews = v
            .as_object_mut()?
            .remove("reviews")?
            .as_array()?
            .iter()
            .map(|r| {
                Some(Review {
                    at: r.get("at")?.as_str()?.parse().ok()?,
                    by: r.get("by")?.as_str()?.to_owned(),
                    outcome: r.get("outcome")?.as_str()?.to_owned(),
                    notes: r.get("notes")?.as_str().map(str::to_owned),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let any = |_: &str| true;
        parse(
            key,
            &v,
            &Known {
                system: &any,
                category: &any,
            },
            reviews,
        )
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn known() -> (impl Fn(&str) -> bool, impl Fn(&str) -> bool) {
        (|s: &str| s == "crm", |c: &str| c.starts_with("user"))
    }

    #[test]
    fn vendors_are_read_strictly_and_round_trip() {
        let (sys, cat) = known();
        let k = Known {
            system: &sys,
            category: &cat,
        };
        let v = parse(
            "mailer",
            &json!({
                "name": "Mailer Inc.", "country": "US", "systems": ["crm"],
                "data_categories": ["user.contact.email"],
                "dpa": {"signed_at": "2025-03-01T00:00:00Z", "reference": "C-17"},
                "transfer_mechanism": "sccs",
                "sub_processors": [{"name": "Cloud Co", "country": "IE"}],
                "risk": "high", "public": true
            }),
            &k,
            vec![],
        )
        .unwrap();
        assert_eq!(v.review_every_months, 6);
        assert_eq!(v.role, "processor");
        assert_eq!(Vendor::from_json("mailer", &v.to_json()), Some(v.clone()));
        for (doc, path, rule) in [
            (json!({"risk": "low"}), "$.name", "required"),
            (json!({"name": "A"}), "$.risk", "required"),
            (
                json!({"name": "A", "risk": "extreme"}),
                "$.risk",
                "low, medium or high",
            ),
            (
                json!({"name": "A", "risk": "low", "country": "usa"}),
                "$.country",
                "ISO 3166-1 alpha-2 code",
            ),
            (
                json!({"name": "A", "risk": "low", "systems": ["erp"]}),
                "$.systems[0]",
                "a system of the data map",
            ),
            (
                json!({"name": "A", "risk": "low", "data_categories": ["system.x"]}),
                "$.data_categories[0]",
                "taxonomy_key",
            ),
            (
                json!({"name": "A", "risk": "low", "review_every_months": 0}),
                "$.review_every_months",
                "1 to 60",
            ),
            (
                json!({"name": "A", "risk": "low", "dpa": {}}),
                "$.dpa.signed_at",
                "required",
            ),
            (
                json!({"name": "A", "risk": "low", "dpa": {"signed_at": "2025-01-01T00:00:00Z", "expires_at": "2024-01-01T00:00:00Z"}}),
                "$.dpa.expires_at",
                "after signed_at",
            ),
            (
                json!({"name": "A", "risk": "low", "role": "friend"}),
                "$.role",
                "processor, sub_processor, controller or joint_controller",
            ),
            (
                json!({"name": "A", "risk": "low", "extra": 1}),
                "$.extra",
                "unknown key",
            ),
        ] {
            assert_eq!(parse("a", &doc, &k, vec![]), Err(err(path, rule)), "{doc}");
        }
        assert_eq!(
            parse("bad key", &json!({"name": "A", "risk": "low"}), &k, vec![]),
            Err(err("key", "a key"))
        );
    }

    #[test]
    fn reviews_fall_due_by_cadence_and_findings_name_the_gaps() {
        let (sys, cat) = known();
        let k = Known {
            system: &sys,
            category: &cat,
        };
        let mut v = parse("a", &json!({"name": "A", "risk": "medium"}), &k, vec![]).unwrap();
        let added = t("2026-01-31T00:00:00Z");
        assert_eq!(v.next_review_due(added), Some(t("2027-01-31T00:00:00Z")));
        assert_eq!(
            v.findings(added, t("2026-06-01T00:00:00Z")),
            vec!["dpa_missing"]
        );
        assert_eq!(
            v.findings(added, t("2027-02-01T00:00:00Z")),
            vec!["dpa_missing", "review_overdue"]
        );
        v.reviews.push(Review {
            at: t("2027-01-15T00:00:00Z"),
            by: "operator:x".into(),
            outcome: "rejected".into(),
            notes: None,
        });
        assert_eq!(v.next_review_due(added), Some(t("2028-01-15T00:00:00Z")));
        assert_eq!(
            v.findings(added, t("2027-02-01T00:00:00Z")),
            vec!["dpa_missing", "last_review_rejected"]
        );
        v.status = "offboarded".into();
        assert_eq!(v.next_review_due(added), None);
        assert!(v.findings(added, t("2030-01-01T00:00:00Z")).is_empty());
    }
}
