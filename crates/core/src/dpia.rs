//! Data protection impact assessments (GDPR Art. 35): the template, its workflow, and when
//! one is required.
//!
//! A DPIA covers processing activities: pairs of a system of the data map and one of its
//! data uses. It records the systematic description (Art. 35(7)(a)), the necessity and
//! proportionality (b), the risks with their likelihood, severity, measures and residual
//! level (c, d), and the DPO's advice (Art. 35(2)). It goes `draft → in_review →
//! approved | rejected`; a DPO signs it off, never one who wrote, edited or submitted it; an approved one can be
//! reopened as a draft when the processing changes. Residual high risk means the authority
//! must be consulted first (Art. 36(1)).
//!
//! When one is required is policy as code: the data map's `requires_dpia` check
//! ([`crate::map::check`]) names the declarations that need one, and [`DEFAULT_RULES`]
//! ships the usual triggers (special categories, employees' data used for employment,
//! profiling and advertising, precise location); a declaration it matches is covered by an approved DPIA
//! that lists its system and data use.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::doc::{DocError, err, list, object, only, string, text, valid_key};

/// The policy-as-code rules that say when a DPIA is required, in the data map check's
/// language (the EDPB's criteria, WP248 rev.01, that a map can show).
pub const DEFAULT_RULES: &str = r#"{"rules": [
  {"id": "dpia-special-categories", "check": "requires_dpia", "data_categories": ["special"],
   "message": "special-category data (Art. 35(3)(b); WP248 criterion 4)"},
  {"id": "dpia-employee-data", "check": "requires_dpia", "data_subjects": ["employee"],
   "data_uses": ["employment"],
   "message": "data of vulnerable subjects: employees (WP248 criterion 7)"},
  {"id": "dpia-profiling-and-advertising", "check": "requires_dpia",
   "data_uses": ["marketing.advertising", "personalize"],
   "message": "evaluation or scoring, profiling (Art. 35(3)(a); WP248 criterion 1)"},
  {"id": "dpia-precise-location", "check": "requires_dpia",
   "data_categories": ["user.location.precise"],
   "message": "systematic monitoring (Art. 35(3)(c); WP248 criterion 3)"}
]}"#;

/// A level of likelihood, severity or residual risk.
pub const LEVELS: [&str; 3] = ["low", "medium", "high"];

/// One risk the assessment identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Risk {
    /// What could happen to the people.
    pub description: String,
    /// `low`, `medium` or `high`.
    pub likelihood: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// The measures that address it.
    pub measures: Option<String>,
    /// What is left after them: `low`, `medium` or `high`.
    pub residual: String,
}

/// Where an assessment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Being written.
    Draft,
    /// Submitted for sign-off.
    InReview,
    /// Signed off: the processing may go ahead.
    Approved,
    /// Signed off as not acceptable.
    Rejected,
}

impl Status {
    const ALL: [Status; 4] = [
        Status::Draft,
        Status::InReview,
        Status::Approved,
        Status::Rejected,
    ];

    /// `draft`, `in_review`, `approved` or `rejected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InReview => "in_review",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        }
    }

    /// Parses [`Status::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dpia {
    /// Its key.
    pub key: String,
    /// Its title.
    pub title: String,
    /// The processing activities it covers: `(system, data use)`.
    pub processing: Vec<(String, String)>,
    /// The systematic description of the processing.
    pub description: Option<String>,
    /// Why it is necessary and proportionate.
    pub necessity: Option<String>,
    /// The risks.
    pub risks: Vec<Risk>,
    /// Where it stands.
    pub status: Status,
    /// Who wrote it (an audit actor string).
    pub author: String,
    /// Everyone who wrote, edited or submitted it (the author first): none of them may sign
    /// it off.
    pub contributors: Vec<String>,
    /// The DPO's advice.
    pub dpo_opinion: Option<String>,
    /// Who signed it off, and when.
    pub signed_off: Option<(String, Timestamp)>,
    /// When it must be looked at again.
    pub review_by: Option<Timestamp>,
}

/// Why a step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpiaError {
    /// The step does not apply in this state.
    #[error("a DPIA that is {from} cannot be {step}")]
    Transition {
        /// The state.
        from: &'static str,
        /// The step asked.
        step: &'static str,
    },
    /// Someone who wrote, edited or submitted it signs it off.
    #[error("who wrote, edited or submitted a DPIA cannot sign it off")]
    OwnAssessment,
    /// Submitted without what Art. 35(7) asks for.
    #[error("a DPIA is submitted with a description, a necessity assessment and at least one risk")]
    Incomplete,
}

/// What the document's keys are checked against.
pub struct Known<'a> {
    /// Whether a system of the data map declares this data use.
    pub processing: &'a dyn Fn(&str, &str) -> bool,
}

/// Reads an assessment's content (not its status or sign-off, which only steps change).
pub fn parse(key: &str, v: &Value, known: &Known<'_>, author: &str) -> Result<Dpia, DocError> {
    if !valid_key(key) {
        return Err(err("key", "a key"));
    }
    let path = "$";
    let m = object(v, path)?;
    only(
        m,
        path,
        &[
            "title",
            "processing",
            "description",
            "necessity",
            "risks",
            "review_by",
        ],
    )?;
    let title = text(m, "title", path, 200)?
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("$.title", "required"))?;
    let mut processing = Vec::new();
    for (i, p) in list(m, "processing", path)?.iter().enumerate() {
        let pp = format!("$.processing[{i}]");
        let pm = object(p, &pp)?;
        only(pm, &pp, &["system", "data_use"])?;
        let system =
            string(pm, "system", &pp)?.ok_or_else(|| err(format!("{pp}.system"), "required"))?;
        let data_use = string(pm, "data_use", &pp)?
            .ok_or_else(|| err(format!("{pp}.data_use"), "required"))?;
        if !(known.processing)(system, data_use) {
            return Err(err(
                pp,
                "a system of the data map that declares this data use",
            ));
        }
        let pair = (system.to_owned(), data_use.to_owned());
        if processing.contains(&pair) {
            return Err(err(pp, "listed twice"));
        }
        processing.push(pair);
    }
    if processing.is_empty() {
        return Err(err("$.processing", "at least one processing activity"));
    }
    let level = |rm: &Map<String, Value>, k: &str, p: &str| -> Result<String, DocError> {
        match string(rm, k, p)? {
            Some(s) if LEVELS.contains(&s) => Ok(s.to_owned()),
            Some(_) => Err(err(format!("{p}.{k}"), "low, medium or high")),
            None => Err(err(format!("{p}.{k}"), "required")),
        }
    };
    let mut risks = Vec::new();
    for (i, r) in list(m, "risks", path)?.iter().enumerate() {
        let rp = format!("$.risks[{i}]");
        let rm = object(r, &rp)?;
        only(
            rm,
            &rp,
            &[
                "description",
                "likelihood",
                "severity",
                "measures",
                "residual",
            ],
        )?;
        risks.push(Risk {
            description: text(rm, "description", &rp, 2000)?
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(format!("{rp}.description"), "required"))?
                .to_owned(),
            likelihood: level(rm, "likelihood", &rp)?,
            severity: level(rm, "severity", &rp)?,
            measures: text(rm, "measures", &rp, 4000)?.map(str::to_owned),
            residual: level(rm, "residual", &rp)?,
        });
    }
    let review_by = match string(m, "review_by", path)? {
        None => None,
        Some(s) => Some(
            s.parse::<Timestamp>()
                .map_err(|_| err("$.review_by", "an RFC 3339 time"))?,
        ),
    };
    Ok(Dpia {
        key: key.to_owned(),
        title: title.to_owned(),
        processing,
        description: text(m, "description", path, 8000)?.map(str::to_owned),
        necessity: text(m, "necessity", path, 8000)?.map(str::to_owned),
        risks,
        status: Status::Draft,
        author: author.to_owned(),
        contributors: vec![author.to_owned()],
        dpo_opinion: None,
        signed_off: None,
        review_by,
    })
}

impl Dpia {
    /// Whether the authority must be consulted before the processing starts (Art. 36(1)):
    /// a risk stays high after the measures.
    pub fn consultation_required(&self) -> bool {
        self.risks.iter().any(|r| r.residual == "high")
    }

    /// Whether it covers the processing of `data_use` by `system`, approved and not past its
    /// review date at `now`.
    pub fn covers(&self, system: &str, data_use: &str, now: Timestamp) -> bool {
        self.status == Status::Approved
            && self.review_by.is_none_or(|r| r > now)
            && self
                .processing
                .iter()
                .any(|(s, u)| s == system && crate::taxonomy::covers(u, data_use))
    }

    /// Its content replaced by `next`, written by `by` (only a draft changes).
    pub fn edit(&self, next: Dpia, by: &str) -> Result<Dpia, DpiaError> {
        if self.status != Status::Draft {
            return Err(DpiaError::Transition {
                from: self.status.as_str(),
                step: "edited",
            });
        }
        Ok(Dpia {
            author: self.author.clone(),
            contributors: self.with_contributor(by),
            ..next
        })
    }

    fn with_contributor(&self, by: &str) -> Vec<String> {
        let mut c = self.contributors.clone();
        if !c.iter().any(|x| x == by) {
            c.push(by.to_owned());
        }
        c
    }

    /// Submitted for sign-off by `by`.
    pub fn submit(&self, by: &str) -> Result<Dpia, DpiaError> {
        if self.status != Status::Draft {
            return Err(DpiaError::Transition {
                from: self.status.as_str(),
                step: "submitted",
            });
        }
        if self.description.is_none() || self.necessity.is_none() || self.risks.is_empty() {
            return Err(DpiaError::Incomplete);
        }
        Ok(Dpia {
            status: Status::InReview,
            contributors: self.with_contributor(by),
            ..self.clone()
        })
    }

    /// Signed off by `by` at `at`, approved or not, with the DPO's opinion.
    pub fn sign_off(
        &self,
        approve: bool,
        by: &str,
        at: Timestamp,
        opinion: Option<String>,
    ) -> Result<Dpia, DpiaError> {
        if self.status != Status::InReview {
            return Err(DpiaError::Transition {
                from: self.status.as_str(),
                step: "signed off",
            });
        }
        if by == self.author || self.contributors.iter().any(|c| c == by) {
            return Err(DpiaError::OwnAssessment);
        }
        Ok(Dpia {
            status: if approve {
                Status::Approved
            } else {
                Status::Rejected
            },
            signed_off: Some((by.to_owned(), at)),
            dpo_opinion: opinion,
            ..self.clone()
        })
    }

    /// Back to a draft (the processing changed, or a rejected one is reworked).
    pub fn reopen(&self) -> Result<Dpia, DpiaError> {
        if !matches!(
            self.status,
            Status::Approved | Status::Rejected | Status::InReview
        ) {
            return Err(DpiaError::Transition {
                from: self.status.as_str(),
                step: "reopened",
            });
        }
        Ok(Dpia {
            status: Status::Draft,
            signed_off: None,
            ..self.clone()
        })
    }

    /// The stored JSON form.
    pub fn to_json(&self) -> String {
        json!({
            "title": self.title,
            "processing": self.processing.iter().map(|(s, u)| json!({"system": s, "data_use": u})).collect::<Vec<_>>(),
            "description": self.description,
            "necessity": self.necessity,
            "risks": self.risks.iter().map(|r| json!({
                "description": r.description, "likelihood": r.likelihood,
                "severity": r.severity, "measures": r.measures, "residual": r.residual,
            })).collect::<Vec<_>>(),
            "review_by": self.review_by.map(|t| t.to_string()),
            "status": self.status.as_str(),
            "author": self.author,
            "contributors": self.contributors,
            "dpo_opinion": self.dpo_opinion,
            "signed_off_by": self.signed_off.as_ref().map(|s| s.0.clone()),
            "signed_off_at": self.signed_off.as_ref().map(|s| s.1.to_string()),
        })
        .to_string()
    }

    /// Reads the stored JSON form.
    pub fn from_json(key: &str, text: &str) -> Option<Dpia> {
        let mut v: Value = serde_json::from_str(text).ok()?;
        let o = v.as_object_mut()?;
        let status = Status::parse(o.remove("status")?.as_str()?)?;
        let author = o.remove("author")?.as_str()?.to_owned();
        let contributors = o
            .remove("contributors")?
            .as_array()?
            .iter()
            .map(|c| c.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?;
        let dpo_opinion = o.remove("dpo_opinion")?.as_str().map(str::to_owned);
        let by = o.remove("signed_off_by")?.as_str().map(str::to_owned);
        let at = match o.remove("signed_off_at")? {
            Value::Null => None,
            x => Some(x.as_str()?.parse::<Timestamp>().ok()?),
        };
        let any = |_: &str, _: &str| true;
        let d = parse(key, &v, &Known { processing: &any }, &author).ok()?;
        Some(Dpia {
            status,
            contributors,
            dpo_opinion,
            signed_off: by.zip(at),
            ..d
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn doc() -> Value {
        json!({
            "title": "Health app",
            "processing": [{"system": "app", "data_use": "essential.service"}],
            "description": "Symptoms are recorded to suggest care.",
            "necessity": "No less intrusive way to give advice.",
            "risks": [{"description": "Disclosure of health data", "likelihood": "medium",
                       "severity": "high", "measures": "Encryption per subject", "residual": "low"}]
        })
    }

    fn known() -> impl Fn(&str, &str) -> bool {
        |s: &str, u: &str| s == "app" && u.starts_with("essential")
    }

    #[test]
    fn the_workflow_needs_content_and_another_signer() {
        let k = known();
        let d = parse("health", &doc(), &Known { processing: &k }, "operator:a").unwrap();
        assert_eq!(Dpia::from_json("health", &d.to_json()), Some(d.clone()));
        assert!(!d.consultation_required());
        let sent = d.submit("operator:a").unwrap();
        assert_eq!(sent.status, Status::InReview);
        assert_eq!(
            sent.sign_off(true, "operator:a", t("2026-01-02T00:00:00Z"), None),
            Err(DpiaError::OwnAssessment)
        );
        let ok = sent
            .sign_off(
                true,
                "operator:b",
                t("2026-01-02T00:00:00Z"),
                Some("Proceed.".into()),
            )
            .unwrap();
        assert_eq!(Dpia::from_json("health", &ok.to_json()), Some(ok.clone()));
        assert!(ok.covers("app", "essential.service", t("2026-02-01T00:00:00Z")));
        assert!(ok.covers(
            "app",
            "essential.service.payment",
            t("2026-02-01T00:00:00Z")
        ));
        assert!(!ok.covers("web", "essential.service", t("2026-02-01T00:00:00Z")));
        assert!(matches!(
            ok.edit(d.clone(), "operator:c"),
            Err(DpiaError::Transition { .. })
        ));
        assert!(matches!(
            ok.submit("operator:a"),
            Err(DpiaError::Transition { .. })
        ));
        // Whoever edits or submits it may not sign it off either.
        let edited = d
            .edit(d.clone(), "operator:c")
            .unwrap()
            .submit("operator:d")
            .unwrap();
        for who in ["operator:a", "operator:c", "operator:d"] {
            assert_eq!(
                edited.sign_off(true, who, t("2026-01-02T00:00:00Z"), None),
                Err(DpiaError::OwnAssessment)
            );
        }
        assert_eq!(
            Dpia::from_json("health", &edited.to_json()),
            Some(edited.clone())
        );
        let again = ok.reopen().unwrap();
        assert_eq!(again.status, Status::Draft);
        assert!(!again.covers("app", "essential.service", t("2026-02-01T00:00:00Z")));
        let mut bare = d.clone();
        bare.risks.clear();
        assert_eq!(bare.submit("operator:a"), Err(DpiaError::Incomplete));
        let mut stale = ok.clone();
        stale.review_by = Some(t("2026-01-15T00:00:00Z"));
        assert!(!stale.covers("app", "essential.service", t("2026-02-01T00:00:00Z")));
    }

    #[test]
    fn the_shipped_rules_read() {
        let v: Value = serde_json::from_str(DEFAULT_RULES).unwrap();
        assert_eq!(crate::map::check::parse_policy(&v).unwrap().len(), 4);
    }

    #[test]
    fn documents_are_read_strictly() {
        let k = known();
        let kn = Known { processing: &k };
        let with = |key: &str, v: Value| {
            let mut d = doc();
            d[key] = v;
            d
        };
        for (d, path, rule) in [
            (with("title", json!("")), "$.title", "required"),
            (
                with("processing", json!([])),
                "$.processing",
                "at least one processing activity",
            ),
            (
                with(
                    "processing",
                    json!([{"system": "web", "data_use": "essential.service"}]),
                ),
                "$.processing[0]",
                "a system of the data map that declares this data use",
            ),
            (
                with(
                    "risks",
                    json!([{"description": "x", "likelihood": "huge", "severity": "low", "residual": "low"}]),
                ),
                "$.risks[0].likelihood",
                "low, medium or high",
            ),
            (
                with("review_by", json!("soon")),
                "$.review_by",
                "an RFC 3339 time",
            ),
            (with("status", json!("approved")), "$.status", "unknown key"),
        ] {
            assert_eq!(parse("k", &d, &kn, "a"), Err(err(path, rule)), "{d}");
        }
        let high = with(
            "risks",
            json!([{"description": "x", "likelihood": "high", "severity": "high", "residual": "high"}]),
        );
        assert!(parse("k", &high, &kn, "a").unwrap().consultation_required());
    }
}
