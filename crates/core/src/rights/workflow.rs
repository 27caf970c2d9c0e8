//! The life of a rights request: its states, the steps between them, and the rules every
//! step must keep, whoever takes it. Who may take a step (a DPO approves, support assigns) is
//! the policy engine's decision at the edge; what a step may do is decided here.
//!
//! ```text
//! received ──► verifying ──► in_progress ──► awaiting_approval ──► completed
//!     │                          ▲  │                 │
//!     └──────────────────────────┘  └──── (no approval needed) ───► completed
//! any state that is not final ──► rejected (with a reason) | withdrawn
//! ```
//!
//! * A request whose type needs the requester's identity verified ([`Verification`]) cannot
//!   start until it is verified; one that needs none (opt-outs, as the CCPA says) starts at
//!   once.
//! * Approvals: opt-outs and limiting sensitive data need none (they must simply be honoured);
//!   erasure needs two different approvers (two-person rule); every other type needs one.
//!   Nobody approves a request they submitted for approval, and nobody approves twice.
//! * A rejection carries its reason and tells the requester of the right to complain to a
//!   supervisory authority (GDPR Art. 12(4)); the reason is a code, never free text that could
//!   hold personal data.
//! * Extensions are decided by [`super::Deadlines::extend`]; the workflow records them once.

use jiff::Timestamp;

use super::RequestType;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Filed; nothing done yet.
    Received,
    /// Waiting for the requester to prove who they are.
    Verifying,
    /// Being fulfilled.
    InProgress,
    /// Fulfilment prepared; waiting for the approvals it needs.
    AwaitingApproval,
    /// Done (final).
    Completed,
    /// Refused, with a reason (final).
    Rejected,
    /// Withdrawn by the requester (final).
    Withdrawn,
}

impl State {
    /// Every state, in workflow order.
    pub const ALL: [State; 7] = [
        State::Received,
        State::Verifying,
        State::InProgress,
        State::AwaitingApproval,
        State::Completed,
        State::Rejected,
        State::Withdrawn,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Received => "received",
            State::Verifying => "verifying",
            State::InProgress => "in_progress",
            State::AwaitingApproval => "awaiting_approval",
            State::Completed => "completed",
            State::Rejected => "rejected",
            State::Withdrawn => "withdrawn",
        }
    }

    /// Parses [`State::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether nothing can happen to the request any more.
    pub fn is_final(self) -> bool {
        matches!(self, State::Completed | State::Rejected | State::Withdrawn)
    }
}

/// How sure the business must be of the requester's identity before acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// No verification (opt-outs: CCPA 11 CCR §7026(d) forbids requiring it).
    None,
    /// A one-time code sent to the email address held for the subject.
    Email,
}

/// The verification a request type needs.
pub fn verification(t: RequestType) -> Verification {
    match t {
        RequestType::OptOutSale
        | RequestType::OptOutSharing
        | RequestType::OptOutTargetedAdvertising
        | RequestType::LimitSensitive => Verification::None,
        _ => Verification::Email,
    }
}

/// How many different people must approve a request of this type before it completes.
pub fn approvals_required(t: RequestType) -> usize {
    match t {
        RequestType::OptOutSale
        | RequestType::OptOutSharing
        | RequestType::OptOutTargetedAdvertising
        | RequestType::LimitSensitive => 0,
        RequestType::Erasure => 2,
        _ => 1,
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The requester's identity could not be verified (CCPA 11 CCR §7022(f)).
    IdentityNotVerified,
    /// Manifestly unfounded or excessive (GDPR Art. 12(5)).
    ManifestlyUnfounded,
    /// An exemption in law applies (e.g. a legal obligation to keep the data, GDPR Art. 17(3)).
    LegalExemption,
    /// Nothing is held about the requester.
    NoDataHeld,
    /// The same request is already being handled.
    Duplicate,
}

impl RejectReason {
    /// Every reason.
    pub const ALL: [RejectReason; 5] = [
        RejectReason::IdentityNotVerified,
        RejectReason::ManifestlyUnfounded,
        RejectReason::LegalExemption,
        RejectReason::NoDataHeld,
        RejectReason::Duplicate,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::IdentityNotVerified => "identity_not_verified",
            RejectReason::ManifestlyUnfounded => "manifestly_unfounded",
            RejectReason::LegalExemption => "legal_exemption",
            RejectReason::NoDataHeld => "no_data_held",
            RejectReason::Duplicate => "duplicate",
        }
    }

    /// Parses [`RejectReason::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the requester a verification challenge (received → verifying).
    StartVerification,
    /// The requester proved who they are (verifying → in progress).
    Verified,
    /// Start work on a request that needs no verification (received → in progress).
    Start,
    /// Hand the request to someone (any state that is not final).
    Assign {
        /// The operator id.
        operator: String,
    },
    /// Fulfilment is ready for approval (in progress → awaiting approval).
    SubmitForApproval,
    /// One approval (awaiting approval).
    Approve,
    /// Finish: from awaiting approval with every approval given, or from in progress when
    /// the type needs none.
    Complete,
    /// Refuse (any state that is not final).
    Reject {
        /// Why.
        reason: RejectReason,
    },
    /// The requester withdrew (any state that is not final).
    Withdraw,
    /// The deadline was extended, now (any state that is not final; once). The caller has
    /// checked with [`super::Deadlines::extend`] that it is still in time.
    Extend,
}

impl Step {
    /// The audit action name of the step.
    pub fn action(&self) -> &'static str {
        match self {
            Step::StartVerification => "rights.verification_started",
            Step::Verified => "rights.verified",
            Step::Start => "rights.started",
            Step::Assign { .. } => "rights.assigned",
            Step::SubmitForApproval => "rights.submitted_for_approval",
            Step::Approve => "rights.approved",
            Step::Complete => "rights.completed",
            Step::Reject { .. } => "rights.rejected",
            Step::Withdraw => "rights.withdrawn",
            Step::Extend => "rights.extended",
        }
    }
}

/// A request's workflow state: what the steps change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The request type (fixed).
    pub request_type: RequestType,
    /// Where it stands.
    pub state: State,
    /// Who handles it.
    pub assignee: Option<String>,
    /// Who submitted it for approval (may not approve it).
    pub submitted_by: Option<String>,
    /// Who approved it, in order; never twice the same.
    pub approvals: Vec<String>,
    /// When the deadline was extended, if it was.
    pub extended_at: Option<Timestamp>,
    /// Why it was refused, if it was.
    pub rejection: Option<RejectReason>,
    /// When verification started and ended (for rules whose clock pauses meanwhile).
    pub verification: (Option<Timestamp>, Option<Timestamp>),
}

impl Progress {
    /// A request just received.
    pub fn new(request_type: RequestType) -> Self {
        Self {
            request_type,
            state: State::Received,
            assignee: None,
            submitted_by: None,
            approvals: Vec::new(),
            extended_at: None,
            rejection: None,
            verification: (None, None),
        }
    }

    /// Approvals still missing.
    pub fn approvals_missing(&self) -> usize {
        approvals_required(self.request_type).saturating_sub(self.approvals.len())
    }
}

/// Why a step is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The step does not apply in the request's current state.
    #[error("a request that is {from} cannot be {step}")]
    NotNow {
        /// The current state.
        from: &'static str,
        /// The step's audit action.
        step: &'static str,
    },
    /// The request type needs the requester verified first.
    #[error("the requester's identity must be verified first")]
    VerificationRequired,
    /// The request type needs no verification.
    #[error("this request type needs no identity verification")]
    VerificationNotNeeded,
    /// Approvals are still missing.
    #[error("{0} more approval(s) needed")]
    ApprovalsMissing(usize),
    /// The operator already approved, or submitted the request for approval.
    #[error("a second, different person must approve")]
    SamePerson,
    /// The request type needs no approval: complete it directly.
    #[error("this request type needs no approval")]
    ApprovalNotNeeded,
    /// The deadline was already extended.
    #[error("the deadline was already extended")]
    AlreadyExtended,
    /// An operator id is malformed.
    #[error("invalid operator id")]
    InvalidOperator,
}

/// Applies `step`, taken by operator `actor` at `now`, and returns the new progress.
pub fn apply(
    p: &Progress,
    step: &Step,
    actor: &str,
    now: Timestamp,
) -> Result<Progress, WorkflowError> {
    let not_now = || WorkflowError::NotNow {
        from: p.state.as_str(),
        step: step.action(),
    };
    if p.state.is_final() {
        return Err(not_now());
    }
    let needs_verification = verification(p.request_type) != Verification::None;
    let mut next = p.clone();
    match step {
        Step::StartVerification => {
            if p.state != State::Received {
                return Err(not_now());
            }
            if !needs_verification {
                return Err(WorkflowError::VerificationNotNeeded);
            }
            next.state = State::Verifying;
            next.verification.0 = Some(now);
        }
        Step::Verified => {
            if p.state != State::Verifying {
                return Err(not_now());
            }
            next.state = State::InProgress;
            next.verification.1 = Some(now);
        }
        Step::Start => {
            if p.state != State::Received {
                return Err(not_now());
            }
            if needs_verification {
                return Err(WorkflowError::VerificationRequired);
            }
            next.state = State::InProgress;
        }
        Step::Assign { operator } => {
            if operator.is_empty() || operator.len() > 64 {
                return Err(WorkflowError::InvalidOperator);
            }
            next.assignee = Some(operator.clone());
        }
        Step::SubmitForApproval => {
            if p.state != State::InProgress {
                return Err(not_now());
            }
            if approvals_required(p.request_type) == 0 {
                return Err(WorkflowError::ApprovalNotNeeded);
            }
            next.state = State::AwaitingApproval;
            next.submitted_by = Some(actor.to_owned());
        }
        Step::Approve => {
            if p.state != State::AwaitingApproval {
                return Err(not_now());
            }
            if p.submitted_by.as_deref() == Some(actor) || p.approvals.iter().any(|a| a == actor) {
                return Err(WorkflowError::SamePerson);
            }
            if p.approvals_missing() == 0 {
                return Err(not_now());
            }
            next.approvals.push(actor.to_owned());
        }
        Step::Complete => match p.state {
            State::AwaitingApproval if p.approvals_missing() == 0 => {
                next.state = State::Completed;
            }
            State::AwaitingApproval => {
                return Err(WorkflowError::ApprovalsMissing(p.approvals_missing()));
            }
            State::InProgress if approvals_required(p.request_type) == 0 => {
                next.state = State::Completed;
            }
            State::InProgress => {
                return Err(WorkflowError::ApprovalsMissing(approvals_required(
                    p.request_type,
                )));
            }
            State::Received if needs_verification => {
                return Err(WorkflowError::VerificationRequired);
            }
            _ => return Err(not_now()),
        },
        Step::Reject { reason } => {
            // Identity is a reason only where it was asked for, and only before it was proven.
            if *reason == RejectReason::IdentityNotVerified
                && !(needs_verification && matches!(p.state, State::Received | State::Verifying))
            {
                return Err(WorkflowError::NotNow {
                    from: p.state.as_str(),
                    step: "rights.rejected (identity_not_verified)",
                });
            }
            next.state = State::Rejected;
            next.rejection = Some(*reason);
        }
        Step::Withdraw => next.state = State::Withdrawn,
        Step::Extend => {
            if p.extended_at.is_some() {
                return Err(WorkflowError::AlreadyExtended);
            }
            next.extended_at = Some(now);
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_767_225_600 + s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn run(t0: RequestType, steps: &[(&Step, &str)]) -> Result<Progress, WorkflowError> {
        let mut p = Progress::new(t0);
        for (i, (step, actor)) in steps.iter().enumerate() {
            p = apply(&p, step, actor, t(i as i64 * 60))?;
        }
        Ok(p)
    }

    #[test]
    fn an_access_request_is_verified_worked_approved_once_and_completed() {
        let p = run(
            RequestType::Access,
            &[
                (&Step::StartVerification, "op_support"),
                (&Step::Verified, "requester"),
                (
                    &Step::Assign {
                        operator: "op_support".into(),
                    },
                    "op_dpo",
                ),
                (&Step::SubmitForApproval, "op_support"),
                (&Step::Approve, "op_dpo"),
                (&Step::Complete, "op_support"),
            ],
        )
        .expect("workflow");
        assert_eq!(p.state, State::Completed);
        assert_eq!(p.approvals, vec!["op_dpo".to_owned()]);
        assert_eq!(p.verification, (Some(t(0)), Some(t(60))));
        assert_eq!(p.assignee.as_deref(), Some("op_support"));
    }

    #[test]
    fn an_erasure_needs_two_different_approvers_neither_the_submitter() {
        let ready = run(
            RequestType::Erasure,
            &[
                (&Step::StartVerification, "op_a"),
                (&Step::Verified, "requester"),
                (&Step::SubmitForApproval, "op_a"),
            ],
        )
        .expect("ready");
        assert_eq!(
            apply(&ready, &Step::Approve, "op_a", t(0)),
            Err(WorkflowError::SamePerson),
            "the submitter cannot approve"
        );
        let once = apply(&ready, &Step::Approve, "op_dpo", t(0)).expect("first");
        assert_eq!(
            apply(&once, &Step::Approve, "op_dpo", t(0)),
            Err(WorkflowError::SamePerson)
        );
        assert_eq!(
            apply(&once, &Step::Complete, "op_a", t(0)),
            Err(WorkflowError::ApprovalsMissing(1))
        );
        let twice = apply(&once, &Step::Approve, "op_dpo2", t(0)).expect("second");
        assert_eq!(
            apply(&twice, &Step::Approve, "op_dpo3", t(0)),
            Err(WorkflowError::NotNow {
                from: "awaiting_approval",
                step: "rights.approved"
            }),
            "no third approval"
        );
        let done = apply(&twice, &Step::Complete, "op_a", t(0)).expect("complete");
        assert_eq!(done.state, State::Completed);
    }

    #[test]
    fn opt_outs_need_no_verification_nor_approval() {
        for ty in [
            RequestType::OptOutSale,
            RequestType::OptOutSharing,
            RequestType::OptOutTargetedAdvertising,
            RequestType::LimitSensitive,
        ] {
            assert_eq!(
                run(ty, &[(&Step::StartVerification, "op")]),
                Err(WorkflowError::VerificationNotNeeded)
            );
            let p = run(ty, &[(&Step::Start, "op"), (&Step::Complete, "op")]).expect("done");
            assert_eq!(p.state, State::Completed);
            assert_eq!(
                run(
                    ty,
                    &[(&Step::Start, "op"), (&Step::SubmitForApproval, "op")]
                ),
                Err(WorkflowError::ApprovalNotNeeded)
            );
        }
    }

    #[test]
    fn nothing_starts_before_verification_when_it_is_needed() {
        for ty in [
            RequestType::Access,
            RequestType::Erasure,
            RequestType::Portability,
            RequestType::Rectification,
        ] {
            assert_eq!(
                run(ty, &[(&Step::Start, "op")]),
                Err(WorkflowError::VerificationRequired)
            );
            assert_eq!(
                run(ty, &[(&Step::Complete, "op")]),
                Err(WorkflowError::VerificationRequired)
            );
            assert_eq!(
                run(
                    ty,
                    &[(&Step::StartVerification, "op"), (&Step::Complete, "op")]
                ),
                Err(WorkflowError::NotNow {
                    from: "verifying",
                    step: "rights.completed"
                })
            );
        }
    }

    #[test]
    fn final_states_accept_nothing_and_rejections_keep_their_reason() {
        let rejected = run(
            RequestType::Access,
            &[(
                &Step::Reject {
                    reason: RejectReason::IdentityNotVerified,
                },
                "op_dpo",
            )],
        )
        .expect("rejected");
        assert_eq!(rejected.state, State::Rejected);
        assert_eq!(rejected.rejection, Some(RejectReason::IdentityNotVerified));
        let withdrawn =
            run(RequestType::Erasure, &[(&Step::Withdraw, "requester")]).expect("withdrawn");
        for p in [rejected, withdrawn] {
            for step in [
                Step::Withdraw,
                Step::Complete,
                Step::Extend,
                Step::Assign {
                    operator: "op".into(),
                },
            ] {
                assert!(matches!(
                    apply(&p, &step, "op", t(0)),
                    Err(WorkflowError::NotNow { .. })
                ));
            }
        }
    }

    #[test]
    fn identity_is_a_reason_to_refuse_only_where_it_was_asked_for_and_not_yet_proven() {
        let no_id = Step::Reject {
            reason: RejectReason::IdentityNotVerified,
        };
        assert!(run(RequestType::OptOutSale, &[(&no_id, "op")]).is_err());
        assert!(
            run(
                RequestType::Access,
                &[
                    (&Step::StartVerification, "op"),
                    (&Step::Verified, "requester"),
                    (&no_id, "op")
                ]
            )
            .is_err()
        );
        let p = run(
            RequestType::Access,
            &[(&Step::StartVerification, "op"), (&no_id, "op")],
        )
        .expect("refused");
        assert_eq!(p.state, State::Rejected);
        // Other reasons stay open to every type.
        let dup = Step::Reject {
            reason: RejectReason::Duplicate,
        };
        assert!(run(RequestType::OptOutSale, &[(&dup, "op")]).is_ok());
    }

    #[test]
    fn a_deadline_is_extended_once() {
        let p = run(RequestType::Access, &[(&Step::Extend, "op_dpo")]).expect("extended");
        assert_eq!(p.extended_at, Some(t(0)), "at the time it was decided");
        assert_eq!(
            apply(&p, &Step::Extend, "op_dpo", t(6)),
            Err(WorkflowError::AlreadyExtended)
        );
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(State::parse("done"), None);
        assert_eq!(
            apply(
                &Progress::new(RequestType::Access),
                &Step::Assign {
                    operator: String::new()
                },
                "op",
                t(0)
            ),
            Err(WorkflowError::InvalidOperator)
        );
    }
}
