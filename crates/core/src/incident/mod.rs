//! The breach and incident register: notification clocks, notification states and letters.
//!
//! Pure domain logic with no IO. The notification periods are data, not code:
//! `notification_rules.json` (shipped in the binary, loaded with [`rules`]) is a versioned
//! table of [`NotificationRule`]s, one per jurisdiction, recipient and condition, each citing
//! its source. Facts the project's standards mark "(verify)" carry `(verify)` in the rule's
//! `source`. [`clocks`] applies the rules of the jurisdictions an incident falls under to what
//! is known about it ([`ClockFacts`]) and returns one [`Clock`] per rule: whether the
//! notification is required and by when. [`Notification`] is the state of one notification
//! (pending, sent or not required), [`Status`] the state of the incident, and [`letter`]
//! renders the notification letters.
//!
//! # Counting conventions
//!
//! Counting is done in the time zone the caller passes in [`ClockFacts::time_zone`] (the zone
//! the law counts in, e.g. `America/Sao_Paulo` for the LGPD).
//!
//! * **Hours**: an exact duration from the instant the clock starts (72 hours after becoming
//!   aware at 10:15 is 10:15 three days later, whatever the time zone's daylight saving).
//! * **Calendar days**, **business days** and **calendar months**: the day the clock starts is
//!   not counted; the period ends on its last day **at the same time of day** (in the time
//!   zone) as the clock started. This is earlier than the end of that day, which the laws may
//!   allow: the earlier instant is the safe one. Business days are counted with
//!   [`add_business_days`](crate::rights::calendar::add_business_days) in the rule's
//!   [`HolidayCalendar`](crate::rights::calendar::HolidayCalendar); a month ends on the same
//!   date of the last month, or on that month's last day if it has no such date. If the time
//!   of day does not exist on the last day (a daylight-saving gap), the period ends at the
//!   first instant after the gap.
//! * **End of year plus days** (HIPAA's annual report of small breaches): the given number of
//!   days after 31 December of the year the clock started, ending at the end of that day
//!   (23:59:59.999999999 in the time zone): the period runs from the end of a year, not from
//!   an event.
//! * **Without undue delay** (no fixed period): the clock has no due time
//!   ([`Clock::due`] is `None`).
//!
//! A rule whose condition depends on a fact that is not known yet (the risk not assessed,
//! the number of people affected not counted) is [`Requirement::Undetermined`], and its due
//! time is still given, so the worst case is visible.

pub mod letter;
pub mod record;
pub mod rules;

#[cfg(test)]
mod tests;

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;

pub use rules::{
    ClockStart, Condition, Fallback, NotificationRule, Period, PeriodUnit, RulesError, RulesTable,
    rules,
};

/// The risk a breach poses to the rights and freedoms of the people affected, in GDPR's three
/// levels (Art. 33(1) and 34(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Risk {
    /// Unlikely to result in a risk: no notification to the authority (GDPR Art. 33(1)).
    Unlikely,
    /// Likely to result in a risk.
    Risk,
    /// Likely to result in a high risk: the people affected are told as well (Art. 34(1)).
    HighRisk,
}

impl Risk {
    /// Every level, from the lowest.
    pub const ALL: [Risk; 3] = [Risk::Unlikely, Risk::Risk, Risk::HighRisk];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Unlikely => "unlikely",
            Risk::Risk => "risk",
            Risk::HighRisk => "high_risk",
        }
    }

    /// Parses [`Risk::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who must be notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Recipient {
    /// The data-protection supervisory authority (a GDPR supervisory authority, the ICO, the
    /// ANPD).
    Authority,
    /// The people whose data was breached.
    Individuals,
    /// A state Attorney General (California).
    AttorneyGeneral,
    /// The US Department of Health and Human Services (HIPAA).
    Hhs,
    /// Prominent media outlets (HIPAA).
    Media,
    /// The computer security incident response team or competent authority (NIS2).
    Csirt,
}

impl Recipient {
    /// Every recipient.
    pub const ALL: [Recipient; 6] = [
        Recipient::Authority,
        Recipient::Individuals,
        Recipient::AttorneyGeneral,
        Recipient::Hhs,
        Recipient::Media,
        Recipient::Csirt,
    ];

    /// Stable snake_case name, as written in the rules table.
    pub fn as_str(self) -> &'static str {
        match self {
            Recipient::Authority => "authority",
            Recipient::Individuals => "individuals",
            Recipient::AttorneyGeneral => "attorney_general",
            Recipient::Hhs => "hhs",
            Recipient::Media => "media",
            Recipient::Csirt => "csirt",
        }
    }

    /// Parses [`Recipient::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known about an incident that the notification clocks depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockFacts {
    /// When the organisation became aware of the breach (GDPR, UK GDPR, LGPD "knowledge",
    /// NIS2).
    pub aware_at: Timestamp,
    /// When the breach was discovered (California, HIPAA). Often the same as `aware_at`.
    pub discovered_at: Timestamp,
    /// The assessed risk; `None` while it has not been assessed.
    pub risk: Option<Risk>,
    /// How many people are affected (for HIPAA's media notice: in the most affected state);
    /// `None` while unknown.
    pub affected: Option<u64>,
    /// The time zone the periods are counted in.
    pub time_zone: TimeZone,
    /// When the people affected were notified, once they have been (starts California's
    /// Attorney General clock).
    pub individuals_notified_at: Option<Timestamp>,
}

impl ClockFacts {
    /// Facts with both `aware_at` and `discovered_at` set to `at`, nothing assessed yet.
    pub fn new(at: Timestamp, time_zone: TimeZone) -> Self {
        ClockFacts {
            aware_at: at,
            discovered_at: at,
            risk: None,
            affected: None,
            time_zone,
            individuals_notified_at: None,
        }
    }
}

/// Why a rule's requirement cannot be decided yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Undetermined {
    /// The rule depends on the risk, which has not been assessed.
    RiskNotAssessed,
    /// The rule depends on the number of people affected, which is unknown.
    CountUnknown,
}

impl Undetermined {
    /// Stable reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            Undetermined::RiskNotAssessed => "risk_not_assessed",
            Undetermined::CountUnknown => "count_unknown",
        }
    }
}

impl fmt::Display for Undetermined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a notification is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// The rule's condition is met: the notification is owed.
    Required,
    /// The rule's condition is not met.
    NotRequired,
    /// The condition depends on a fact not known yet.
    Undetermined(Undetermined),
}

impl Requirement {
    /// Stable code: `required`, `not_required`, or the [`Undetermined`] reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Required => "required",
            Requirement::NotRequired => "not_required",
            Requirement::Undetermined(why) => why.as_str(),
        }
    }
}

/// One notification clock: what one rule says about one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// The rule's stable id, e.g. `GDPR.authority`.
    pub rule: String,
    /// The jurisdiction key, e.g. `GDPR`.
    pub jurisdiction: String,
    /// Who is to be notified.
    pub recipient: Recipient,
    /// Whether the notification is owed.
    pub required: Requirement,
    /// When it is due at the latest; `None` for "without undue delay".
    pub due: Option<Timestamp>,
    /// When the clock started (the instant the period is counted from).
    pub started_at: Timestamp,
    /// Whether `due` was counted from the rule's [`Fallback`] because the event that starts
    /// its clock has not happened yet: it will change once it has.
    pub provisional: bool,
    /// The period that applied.
    pub period: Period,
    /// The rule's legal source; `(verify)` marks unconfirmed facts.
    pub source: String,
    /// Further explanation from the table, if any.
    pub notes: Option<String>,
}

impl Clock {
    /// Whether the notification is overdue at `now` if it has not been sent: it is not known
    /// to be unnecessary and its due time has passed. A clock without a due time ("without
    /// undue delay") is never overdue by the clock alone.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.required != Requirement::NotRequired && self.due.is_some_and(|due| now > due)
    }
}

/// The clocks of every rule of `jurisdictions` in the shipped table, in the order of
/// `jurisdictions` (each counted once) and then of the table.
///
/// # Errors
///
/// [`IncidentError::UnknownJurisdiction`] naming the first key the table does not know; see
/// [`RulesTable::clocks`]; [`IncidentError::Rules`] if the shipped table is broken (which
/// the tests rule out).
pub fn clocks<S: AsRef<str>>(
    jurisdictions: &[S],
    facts: &ClockFacts,
) -> Result<Vec<Clock>, IncidentError> {
    rules()?.clocks(jurisdictions, facts)
}

/// The jurisdictions the shipped table covers, sorted, each once.
///
/// # Errors
///
/// [`RulesError`] if the shipped table is broken (which the tests rule out).
pub fn jurisdictions() -> Result<Vec<&'static str>, RulesError> {
    Ok(rules()?.jurisdictions())
}

/// Longest accepted reference of a sent notification (in characters).
pub const MAX_REFERENCE_CHARS: usize = 256;
/// Longest accepted reason for not notifying (in characters).
pub const MAX_REASON_CHARS: usize = 4096;

/// Where one notification stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationState {
    /// Not sent yet, and not decided to be unnecessary.
    Pending,
    /// Sent.
    Sent {
        /// When it was sent.
        at: Timestamp,
        /// The recipient's or the organisation's reference for it (a case number, a letter
        /// id).
        reference: String,
    },
    /// Decided to be unnecessary, with the reason (GDPR Art. 33(5): the documentation of the
    /// breach must let the authority verify the decision).
    NotRequired {
        /// Why it is not required.
        reason: String,
    },
}

impl NotificationState {
    /// Stable name: `pending`, `sent` or `not_required`.
    pub fn as_str(&self) -> &'static str {
        match self {
            NotificationState::Pending => "pending",
            NotificationState::Sent { .. } => "sent",
            NotificationState::NotRequired { .. } => "not_required",
        }
    }

    /// Checks the state's fields: a sent notification's reference must be 1 to
    /// [`MAX_REFERENCE_CHARS`] characters without control characters; a reason for not
    /// notifying must be 1 to [`MAX_REASON_CHARS`] characters, with no control characters but
    /// line breaks and tabs.
    ///
    /// # Errors
    ///
    /// [`IncidentError::InvalidReference`] or [`IncidentError::InvalidReason`].
    pub fn validate(&self) -> Result<(), IncidentError> {
        match self {
            NotificationState::Pending => Ok(()),
            NotificationState::Sent { reference, .. } => validate_reference(reference),
            NotificationState::NotRequired { reason } => validate_reason(reason),
        }
    }
}

fn validate_reference(reference: &str) -> Result<(), IncidentError> {
    let problem = if reference.trim().is_empty() {
        "must not be empty"
    } else if reference.chars().count() > MAX_REFERENCE_CHARS {
        "must be at most 256 characters"
    } else if reference.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(IncidentError::InvalidReference { problem })
}

fn validate_reason(reason: &str) -> Result<(), IncidentError> {
    let problem = if reason.trim().is_empty() {
        "must not be empty"
    } else if reason.chars().count() > MAX_REASON_CHARS {
        "must be at most 4096 characters"
    } else if reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        "must not contain control characters other than line breaks and tabs"
    } else {
        return Ok(());
    };
    Err(IncidentError::InvalidReason { problem })
}

/// One notification owed (or possibly owed) for an incident, and where it stands.
///
/// The states move `pending → sent` (final), `pending → not_required` and
/// `not_required → pending` (when a reassessment makes it necessary after all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    rule: String,
    recipient: Recipient,
    due: Option<Timestamp>,
    state: NotificationState,
}

impl Notification {
    /// A pending notification under the rule `rule`, due at `due` (`None`: without undue
    /// delay).
    pub fn new(rule: &str, recipient: Recipient, due: Option<Timestamp>) -> Self {
        Notification {
            rule: rule.to_owned(),
            recipient,
            due,
            state: NotificationState::Pending,
        }
    }

    /// The notification a clock calls for: pending, or not required (with the reason "the
    /// rule's condition is not met") when the clock says it is not required.
    pub fn from_clock(clock: &Clock) -> Self {
        let n = Notification::new(&clock.rule, clock.recipient, clock.due);
        match clock.required {
            Requirement::NotRequired => Notification {
                state: NotificationState::NotRequired {
                    reason: "the rule's condition is not met".to_owned(),
                },
                ..n
            },
            Requirement::Required | Requirement::Undetermined(_) => n,
        }
    }

    /// A notification read back from storage, its state checked with
    /// [`NotificationState::validate`].
    ///
    /// # Errors
    ///
    /// As [`NotificationState::validate`].
    pub fn restore(
        rule: &str,
        recipient: Recipient,
        due: Option<Timestamp>,
        state: NotificationState,
    ) -> Result<Self, IncidentError> {
        state.validate()?;
        Ok(Notification {
            rule: rule.to_owned(),
            recipient,
            due,
            state,
        })
    }

    /// The id of the rule that calls for it.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// Who is to be notified.
    pub fn recipient(&self) -> Recipient {
        self.recipient
    }

    /// When it is due; `None` for "without undue delay".
    pub fn due(&self) -> Option<Timestamp> {
        self.due
    }

    /// Where it stands.
    pub fn state(&self) -> &NotificationState {
        &self.state
    }

    /// Whether it is settled: sent or decided to be unnecessary.
    pub fn is_settled(&self) -> bool {
        !matches!(self.state, NotificationState::Pending)
    }

    /// Whether it is still pending after its due time. A notification without a due time is
    /// never overdue by the clock alone.
    pub fn is_overdue(&self, now: Timestamp) -> bool {
        matches!(self.state, NotificationState::Pending) && self.due.is_some_and(|due| now > due)
    }

    /// Whether it was sent after its due time (the late notice must then give reasons,
    /// e.g. GDPR Art. 33(1)).
    pub fn sent_late(&self) -> bool {
        match (&self.state, self.due) {
            (NotificationState::Sent { at, .. }, Some(due)) => *at > due,
            _ => false,
        }
    }

    /// The notification, recorded as sent at `at` under `reference`.
    ///
    /// # Errors
    ///
    /// [`IncidentError::NotificationTransition`] unless it is pending;
    /// [`IncidentError::InvalidReference`].
    pub fn mark_sent(&self, at: Timestamp, reference: &str) -> Result<Self, IncidentError> {
        self.transition(NotificationState::Sent {
            at,
            reference: reference.to_owned(),
        })
    }

    /// The notification, recorded as not required for `reason`.
    ///
    /// # Errors
    ///
    /// [`IncidentError::NotificationTransition`] unless it is pending;
    /// [`IncidentError::InvalidReason`].
    pub fn mark_not_required(&self, reason: &str) -> Result<Self, IncidentError> {
        self.transition(NotificationState::NotRequired {
            reason: reason.to_owned(),
        })
    }

    /// The notification, pending again after it was marked not required.
    ///
    /// # Errors
    ///
    /// [`IncidentError::NotificationTransition`] unless it is marked not required.
    pub fn reopen(&self) -> Result<Self, IncidentError> {
        self.transition(NotificationState::Pending)
    }

    fn transition(&self, to: NotificationState) -> Result<Self, IncidentError> {
        let allowed = matches!(
            (&self.state, &to),
            (
                NotificationState::Pending,
                NotificationState::Sent { .. } | NotificationState::NotRequired { .. }
            ) | (
                NotificationState::NotRequired { .. },
                NotificationState::Pending
            )
        );
        if !allowed {
            return Err(IncidentError::NotificationTransition {
                rule: self.rule.clone(),
                from: self.state.as_str(),
                to: to.as_str(),
            });
        }
        to.validate()?;
        Ok(Notification {
            state: to,
            ..self.clone()
        })
    }
}

/// Whether an incident may be closed: every notification must be settled (sent or marked not
/// required). A notification whose requirement is undetermined stays pending, and so blocks
/// closing, until it is sent or marked not required.
///
/// # Errors
///
/// [`IncidentError::NotificationsPending`] naming the rules of the pending notifications.
pub fn can_close(notifications: &[Notification]) -> Result<(), IncidentError> {
    let pending: Vec<String> = notifications
        .iter()
        .filter(|n| !n.is_settled())
        .map(|n| n.rule.clone())
        .collect();
    if pending.is_empty() {
        Ok(())
    } else {
        Err(IncidentError::NotificationsPending { rules: pending })
    }
}

/// The state of an incident.
///
/// Allowed transitions: `open → contained`, `contained → open` (containment failed),
/// `open → closed` and `contained → closed` (only when [`can_close`] agrees). `closed` is
/// final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Being handled.
    Open,
    /// The breach is stopped; notifications and follow-up may still be pending.
    Contained,
    /// Done. Final.
    Closed,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 3] = [Status::Open, Status::Contained, Status::Closed];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Contained => "contained",
            Status::Closed => "closed",
        }
    }

    /// Parses [`Status::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the status may change from `self` to `next` (not considering notifications).
    pub fn can_become(self, next: Status) -> bool {
        matches!(
            (self, next),
            (Status::Open, Status::Contained | Status::Closed)
                | (Status::Contained, Status::Open | Status::Closed)
        )
    }

    /// The status after moving to `next`, given the incident's notifications.
    ///
    /// # Errors
    ///
    /// [`IncidentError::Closed`] if the incident is closed;
    /// [`IncidentError::StatusTransition`] for a transition not allowed; for closing, as
    /// [`can_close`].
    pub fn transition(
        self,
        next: Status,
        notifications: &[Notification],
    ) -> Result<Status, IncidentError> {
        if self == Status::Closed {
            return Err(IncidentError::Closed);
        }
        if !self.can_become(next) {
            return Err(IncidentError::StatusTransition {
                from: self.as_str(),
                to: next.as_str(),
            });
        }
        if next == Status::Closed {
            can_close(notifications)?;
        }
        Ok(next)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an incident operation was refused. No variant carries personal data: rule ids,
/// jurisdiction keys and state names only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentError {
    /// The rules table has no rule for this jurisdiction key.
    #[error("no breach notification rules for jurisdiction `{jurisdiction}`")]
    UnknownJurisdiction {
        /// The key asked for.
        jurisdiction: String,
    },
    /// The rules table is broken.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// The people affected cannot have been notified before the breach was discovered.
    #[error("the individuals cannot have been notified before the breach was discovered")]
    NotifiedBeforeDiscovery,
    /// A date beyond what jiff can represent (year 9999).
    #[error("date arithmetic out of range: {0}")]
    OutOfRange(String),
    /// A notification state change that is not allowed.
    #[error("notification `{rule}` cannot go from `{from}` to `{to}`")]
    NotificationTransition {
        /// The notification's rule id.
        rule: String,
        /// Its state.
        from: &'static str,
        /// The state asked for.
        to: &'static str,
    },
    /// A sent notification's reference is malformed.
    #[error("the notification reference {problem}")]
    InvalidReference {
        /// What is wrong.
        problem: &'static str,
    },
    /// A reason for not notifying is malformed.
    #[error("the reason for not notifying {problem}")]
    InvalidReason {
        /// What is wrong.
        problem: &'static str,
    },
    /// Notifications are still pending.
    #[error("notifications still pending: {}", .rules.join(", "))]
    NotificationsPending {
        /// The rule ids of the pending notifications.
        rules: Vec<String>,
    },
    /// The incident is closed, which is final.
    #[error("the incident is closed")]
    Closed,
    /// An incident status change that is not allowed.
    #[error("an incident cannot go from `{from}` to `{to}`")]
    StatusTransition {
        /// The status.
        from: &'static str,
        /// The status asked for.
        to: &'static str,
    },
}

impl From<jiff::Error> for IncidentError {
    fn from(e: jiff::Error) -> Self {
        IncidentError::OutOfRange(e.to_string())
    }
}
