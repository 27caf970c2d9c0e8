//! An incident as the register keeps it, its JSON form in storage, and the live view of its
//! notifications (the clocks recomputed from the facts, with what was done about each).

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use super::{
    Clock, ClockFacts, IncidentError, Notification, NotificationState, Risk, Status, clocks,
};
use crate::taxonomy::covers;

/// The affected subjects as last computed from the vault and the connected databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    /// When they were computed.
    pub computed_at: Timestamp,
    /// People found: the distinct vault subjects across the collections, plus the distinct
    /// identities in each database table (a person in the vault and in a database, or in
    /// two tables, counts more than once: nothing links them).
    pub subjects: u64,
    /// Per source (`vault:<collection>`, `dataset:<key>.<table>`): records and people.
    pub sources: Vec<(String, u64, u64)>,
}

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Stable id (a UUID v7 string).
    pub id: String,
    /// A short title (no personal data).
    pub title: String,
    /// What happened.
    pub description: Option<String>,
    /// Its state.
    pub status: Status,
    /// When the event was discovered.
    pub discovered_at: Timestamp,
    /// When the organisation became aware that personal data was breached (GDPR's clock).
    pub aware_at: Timestamp,
    /// The window the breach covers: from.
    pub occurred_from: Option<Timestamp>,
    /// The window the breach covers: until.
    pub occurred_until: Option<Timestamp>,
    /// Systems of the data map.
    pub systems: Vec<String>,
    /// Declared datasets (connected databases).
    pub datasets: Vec<String>,
    /// Vault collections.
    pub collections: Vec<String>,
    /// Data categories (taxonomy keys).
    pub categories: Vec<String>,
    /// The estimated number of people affected, as the team assessed it.
    pub estimated_subjects: Option<u64>,
    /// The jurisdictions whose notification rules apply (rules-table keys).
    pub jurisdictions: Vec<String>,
    /// The time zone the periods are counted in (IANA name).
    pub time_zone: String,
    /// The risk assessment.
    pub risk: Option<Risk>,
    /// Why that risk.
    pub risk_rationale: Option<String>,
    /// What was done about each notification, by rule id (absent: pending).
    pub decisions: BTreeMap<String, NotificationState>,
    /// The affected subjects, once computed.
    pub affected: Option<Affected>,
    /// 1 when recorded, then one more with each change.
    pub version: i64,
    /// Recorded.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
    /// Who recorded it (an audit actor string).
    pub created_by: String,
}

/// One notification as the incident shows it now: the clock and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveNotification {
    /// The clock.
    pub clock: Clock,
    /// The notification (its state applied).
    pub notification: Notification,
}

impl Incident {
    /// The number of people the clocks count: the computed figure when there is one, else
    /// the estimate.
    pub fn affected_count(&self) -> Option<u64> {
        self.affected
            .as_ref()
            .map(|a| a.subjects)
            .or(self.estimated_subjects)
    }

    /// The notifications under the rules of its jurisdictions, with what was done about
    /// each. A jurisdiction's individuals' notice, once sent, starts the clocks that count
    /// from it (California's Attorney General sample).
    pub fn notifications(&self) -> Result<Vec<LiveNotification>, IncidentError> {
        let tz = TimeZone::get(&self.time_zone)
            .map_err(|_| IncidentError::OutOfRange("time_zone".into()))?;
        let mut out = Vec::new();
        for j in &self.jurisdictions {
            let sent_to_individuals =
                self.decisions
                    .get(&format!("{j}.individuals"))
                    .and_then(|s| match s {
                        NotificationState::Sent { at, .. } => Some(*at),
                        _ => None,
                    });
            let facts = ClockFacts {
                aware_at: self.aware_at,
                discovered_at: self.discovered_at,
                risk: self.risk,
                affected: self.affected_count(),
                time_zone: tz.clone(),
                individuals_notified_at: sent_to_individuals,
            };
            for clock in clocks(std::slice::from_ref(j), &facts)? {
                let n = Notification::from_clock(&clock);
                let notification = match self.decisions.get(&clock.rule) {
                    Some(state) => Notification::restore(
                        &clock.rule,
                        clock.recipient,
                        clock.due,
                        state.clone(),
                    )?,
                    None => n,
                };
                out.push(LiveNotification {
                    clock,
                    notification,
                });
            }
        }
        Ok(out)
    }

    /// Whether a field of `category` holds data of the incident's categories (either covers
    /// the other: a breach of `user.contact` touches `user.contact.email`, and a breach of
    /// `user.contact.email` touches a field declared as `user.contact`).
    pub fn touches_category(&self, category: &str) -> bool {
        self.categories
            .iter()
            .any(|c| covers(c, category) || covers(category, c))
    }

    /// The end of the window records are counted up to: the breach's end if known, else
    /// the time of awareness.
    pub fn window_end(&self) -> Timestamp {
        self.occurred_until.unwrap_or(self.aware_at)
    }

    /// The stored JSON form.
    pub fn to_json(&self) -> String {
        let ts = |t: Timestamp| Value::String(t.to_string());
        let decisions: Map<String, Value> = self
            .decisions
            .iter()
            .map(|(rule, s)| {
                let v = match s {
                    NotificationState::Pending => json!({"state": "pending"}),
                    NotificationState::Sent { at, reference } => {
                        json!({"state": "sent", "at": at.to_string(), "reference": reference})
                    }
                    NotificationState::NotRequired { reason } => {
                        json!({"state": "not_required", "reason": reason})
                    }
                };
                (rule.clone(), v)
            })
            .collect();
        json!({
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "status": self.status.as_str(),
            "discovered_at": ts(self.discovered_at),
            "aware_at": ts(self.aware_at),
            "occurred_from": self.occurred_from.map(ts),
            "occurred_until": self.occurred_until.map(ts),
            "systems": self.systems,
            "datasets": self.datasets,
            "collections": self.collections,
            "categories": self.categories,
            "estimated_subjects": self.estimated_subjects,
            "jurisdictions": self.jurisdictions,
            "time_zone": self.time_zone,
            "risk": self.risk.map(Risk::as_str),
            "risk_rationale": self.risk_rationale,
            "decisions": decisions,
            "affected": self.affected.as_ref().map(|a| json!({
                "computed_at": a.computed_at.to_string(),
                "subjects": a.subjects,
                "sources": a.sources.iter().map(|(s, r, p)| json!([s, r, p])).collect::<Vec<_>>(),
            })),
            "version": self.version,
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
            "created_by": self.created_by,
        })
        .to_string()
    }

    /// Reads the stored JSON form; `None` when it is not one.
    pub fn from_json(text: &str) -> Option<Incident> {
        let v: Value = serde_json::from_str(text).ok()?;
        let o = v.as_object()?;
        let s = |k: &str| o.get(k)?.as_str().map(str::to_owned);
        let t = |k: &str| -> Option<Option<Timestamp>> {
            match o.get(k)? {
                Value::Null => Some(None),
                x => Some(Some(x.as_str()?.parse().ok()?)),
            }
        };
        let list = |k: &str| -> Option<Vec<String>> {
            o.get(k)?
                .as_array()?
                .iter()
                .map(|x| x.as_str().map(str::to_owned))
                .collect()
        };
        let opt = |k: &str| -> Option<Option<String>> {
            match o.get(k)? {
                Value::Null => Some(None),
                x => Some(Some(x.as_str()?.to_owned())),
            }
        };
        let mut decisions = BTreeMap::new();
        for (rule, d) in o.get("decisions")?.as_object()? {
            let d = d.as_object()?;
            let state = match d.get("state")?.as_str()? {
                "pending" => NotificationState::Pending,
                "sent" => NotificationState::Sent {
                    at: d.get("at")?.as_str()?.parse().ok()?,
                    reference: d.get("reference")?.as_str()?.to_owned(),
                },
                "not_required" => NotificationState::NotRequired {
                    reason: d.get("reason")?.as_str()?.to_owned(),
                },
                _ => return None,
            };
            decisions.insert(rule.clone(), state);
        }
        let affected = match o.get("affected")? {
            Value::Null => None,
            a => {
                let a = a.as_object()?;
                Some(Affected {
                    computed_at: a.get("computed_at")?.as_str()?.parse().ok()?,
                    subjects: a.get("subjects")?.as_u64()?,
                    sources: a
                        .get("sources")?
                        .as_array()?
                        .iter()
                        .map(|x| {
                            let x = x.as_array()?;
                            Some((
                                x.first()?.as_str()?.to_owned(),
                                x.get(1)?.as_u64()?,
                                x.get(2)?.as_u64()?,
                            ))
                        })
                        .collect::<Option<Vec<_>>>()?,
                })
            }
        };
        Some(Incident {
            id: s("id")?,
            title: s("title")?,
            description: opt("description")?,
            status: Status::parse(o.get("status")?.as_str()?)?,
            discovered_at: t("discovered_at")??,
            aware_at: t("aware_at")??,
            occurred_from: t("occurred_from")?,
            occurred_until: t("occurred_until")?,
            systems: list("systems")?,
            datasets: list("datasets")?,
            collections: list("collections")?,
            categories: list("categories")?,
            estimated_subjects: match o.get("estimated_subjects")? {
                Value::Null => None,
                x => Some(x.as_u64()?),
            },
            jurisdictions: list("jurisdictions")?,
            time_zone: s("time_zone")?,
            risk: match o.get("risk")? {
                Value::Null => None,
                x => Some(Risk::parse(x.as_str()?)?),
            },
            risk_rationale: opt("risk_rationale")?,
            decisions,
            affected,
            version: o.get("version")?.as_i64()?,
            created_at: t("created_at")??,
            updated_at: t("updated_at")??,
            created_by: s("created_by")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn incident() -> Incident {
        Incident {
            id: "i1".into(),
            title: "Lost laptop".into(),
            description: None,
            status: Status::Open,
            discovered_at: t("2026-03-02T09:00:00Z"),
            aware_at: t("2026-03-02T10:00:00Z"),
            occurred_from: None,
            occurred_until: Some(t("2026-03-01T00:00:00Z")),
            systems: vec!["crm".into()],
            datasets: vec!["shop".into()],
            collections: vec!["customers".into()],
            categories: vec!["user.contact".into()],
            estimated_subjects: Some(40),
            jurisdictions: vec!["GDPR".into(), "US_CA".into()],
            time_zone: "Europe/Paris".into(),
            risk: Some(Risk::HighRisk),
            risk_rationale: Some("unencrypted".into()),
            decisions: BTreeMap::from([(
                "GDPR.authority".to_owned(),
                NotificationState::Sent {
                    at: t("2026-03-03T10:00:00Z"),
                    reference: "CNIL-1".into(),
                },
            )]),
            affected: Some(Affected {
                computed_at: t("2026-03-02T11:00:00Z"),
                subjects: 3,
                sources: vec![("vault:customers".into(), 4, 3)],
            }),
            version: 2,
            created_at: t("2026-03-02T10:05:00Z"),
            updated_at: t("2026-03-02T11:00:00Z"),
            created_by: "operator:x".into(),
        }
    }

    #[test]
    fn round_trips_through_json() {
        let i = incident();
        assert_eq!(Incident::from_json(&i.to_json()), Some(i));
        assert_eq!(Incident::from_json("{}"), None);
        assert_eq!(Incident::from_json("[]"), None);
    }

    #[test]
    fn notifications_apply_decisions_to_the_clocks() {
        let i = incident();
        let live = i.notifications().unwrap();
        let gdpr = live
            .iter()
            .find(|n| n.clock.rule == "GDPR.authority")
            .unwrap();
        assert_eq!(gdpr.clock.due, Some(t("2026-03-05T10:00:00Z")));
        assert!(gdpr.notification.is_settled());
        assert!(!gdpr.notification.sent_late());
        let ind = live
            .iter()
            .find(|n| n.clock.rule == "GDPR.individuals")
            .unwrap();
        assert!(!ind.notification.is_settled());
        assert_eq!(i.affected_count(), Some(3));
        assert!(i.touches_category("user.contact.email"));
        assert!(!i.touches_category("user.financial"));
        let mut narrow = incident();
        narrow.categories = vec!["user.contact.email".into()];
        assert!(narrow.touches_category("user.contact"));
        assert_eq!(i.window_end(), t("2026-03-01T00:00:00Z"));
    }
}
