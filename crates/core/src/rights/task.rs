//! Manual tasks: the part of a rights request a person carries out, in a system Custodian
//! cannot reach (a dataset with no connection configured, or whose database did not answer).
//! A task has an assignee, the request's due date, and is closed with evidence of what was
//! done; a request cannot be completed while one of its tasks is open.

use jiff::Timestamp;

/// Why a system needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskReason {
    /// No connection is configured for the dataset.
    NotConfigured,
    /// The database did not answer.
    Unreachable,
}

impl TaskReason {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::Unreachable => "unreachable",
        }
    }

    /// From [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "not_configured" => Some(Self::NotConfigured),
            "unreachable" => Some(Self::Unreachable),
            _ => None,
        }
    }
}

/// A manual task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsTask {
    /// `task_<hex>`.
    pub id: String,
    /// The request it belongs to.
    pub request_id: String,
    /// The system (dataset key) to act in.
    pub system: String,
    /// Why.
    pub reason: TaskReason,
    /// The operator carrying it out.
    pub assignee: Option<String>,
    /// When it must be done by (the request's due date when created).
    pub due_at: Option<Timestamp>,
    /// What was done (set when done; operator's words, never audited).
    pub evidence: Option<String>,
    /// Who closed it.
    pub done_by: Option<String>,
    /// When it was closed; none while open.
    pub done_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Changes with every update (optimistic concurrency).
    pub version: i64,
}

impl RightsTask {
    /// Whether it still needs doing.
    pub fn is_open(&self) -> bool {
        self.done_at.is_none()
    }
}

/// Evidence of completion: 1 to 2,000 characters, no control characters but line breaks
/// and tabs.
pub fn valid_evidence(s: &str) -> bool {
    let n = s.chars().count();
    (1..=2000).contains(&n)
        && !s.trim().is_empty()
        && s.chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_and_evidence_is_bounded() {
        for r in [TaskReason::NotConfigured, TaskReason::Unreachable] {
            assert_eq!(TaskReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(TaskReason::parse("other"), None);
        assert!(valid_evidence(
            "Deleted in the CRM, ticket 4411.\nChecked twice."
        ));
        assert!(!valid_evidence(""));
        assert!(!valid_evidence("   "));
        assert!(!valid_evidence("bell\u{7}"));
        assert!(!valid_evidence(&"x".repeat(2001)));
    }
}
