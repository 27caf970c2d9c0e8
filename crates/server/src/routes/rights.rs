//! Data-subject rights requests, for operators: filing, the register with its filters, one
//! request with its history, the requester's identity (its own permission), workflow steps,
//! SLA figures and the deadline rules. See `crate::rights` for what a step does.

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use custodian_core::Timestamp;
use custodian_core::access::{Action, Resource};
use custodian_core::ports::RightsFilter;
use custodian_core::rights::request::{
    Channel, ExtensionReason, RightsRequest, requester_subject, sla_figures, valid_request_id,
};
use custodian_core::rights::workflow::{RejectReason, State as RState, Step};
use custodian_core::vault::service::valid_subject_id;
use custodian_core::vault::value::FieldType;
use jiff::SignedDuration;

use crate::api::rights::*;
use crate::api::time;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::rights::{self as svc, Extra, Filing, invalid};
use crate::state::AppState;

/// The request with this id, or 404 (400 for an id that is not one).
pub async fn load(state: &AppState, id: &str) -> Result<RightsRequest, ApiError> {
    // A request filed over DRP is also known by its DRP request id (the UUID, hyphenated).
    let drp_form = custodian_core::rights::drp::request_id_of(id);
    let id = drp_form.as_deref().unwrap_or(id);
    if !valid_request_id(id) {
        return Err(ApiError::new(ErrorCode::InvalidPathParameter));
    }
    state
        .store
        .get_rights_request(id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RightsRequestNotFound))
}

fn parse_time(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    s.parse::<Timestamp>()
        .map_err(|_| invalid(field, "rfc3339_timestamp"))
}

/// Files a request received by an operator (mail, phone, in person). Opt-outs start at once;
/// other types wait for the requester's identity (`send_code` or `verify_manually`). The
/// requester's identity is sealed in the vault under a key of its own.
#[utoipa::path(post, path = "/v1/rights/requests", tag = "rights", security(("bearer" = [])),
    request_body = RightsRequestIn, responses(
    (status = 201, body = RightsRequestOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_rights_request (details.field, details.rule), no_deadline_rule"),
))]
pub async fn create(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<RightsRequestIn>,
) -> Result<(StatusCode, ApiJson<RightsRequestOut>), ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::RightsManage,
        Resource::Rights,
        None,
    )
    .await?;
    let request_type = svc::request_type(&input.request_type)?;
    let now = state.clock.now();
    let received_at = match input.received_at.as_deref() {
        None => now,
        Some(s) => {
            let t = parse_time("received_at", s)?;
            let year_ago = now
                .checked_sub(SignedDuration::from_hours(366 * 24))
                .unwrap_or(now);
            if t > now || t < year_ago {
                return Err(invalid(
                    "received_at",
                    "not_in_the_future_nor_over_a_year_ago",
                ));
            }
            t
        }
    };
    if let Some(s) = &input.subject_id
        && !valid_subject_id(s)
    {
        return Err(ApiError::new(ErrorCode::InvalidSubjectId));
    }
    let r = input.requester;
    let mut requester = svc::requester(
        r.email,
        r.name,
        r.phone,
        input.agent.map(|a| (a.name, a.email)),
    )?;
    requester.customer_id = svc::printable("requester.customer_id", r.customer_id)?;
    let filing = Filing {
        request_type,
        jurisdiction: input.jurisdiction,
        time_zone: input
            .time_zone
            .unwrap_or_else(|| state.config.rights_time_zone.clone()),
        subject_id: input.subject_id,
        requester,
        received_at,
        channel: Channel::Operator,
        start_verification: false,
        id: None,
        drp: None,
    };
    let filed = svc::file(&state, filing, &caller.actor(), permit.draft).await?;
    Ok((StatusCode::CREATED, ApiJson(request_out(&filed, now))))
}

/// Lists requests, oldest first, with filters: state, type, jurisdiction, open, overdue,
/// due within N days, assignee, subject, or the requester's email (matched by blind index).
#[utoipa::path(get, path = "/v1/rights/requests", tag = "rights", security(("bearer" = [])),
    params(RightsListQuery), responses(
    (status = 200, body = RightsRequestPage), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody),
))]
pub async fn list(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RightsListQuery>,
) -> Result<ApiJson<RightsRequestPage>, ApiError> {
    let bad = || ApiError::new(ErrorCode::InvalidQuery);
    let now = state.clock.now();
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(bad());
    }
    let mut f = RightsFilter {
        state: q
            .state
            .as_deref()
            .map(|s| RState::parse(s).ok_or_else(bad))
            .transpose()?,
        request_type: q
            .request_type
            .as_deref()
            .map(|s| custodian_core::rights::RequestType::parse(s).ok_or_else(bad))
            .transpose()?,
        jurisdiction: q.jurisdiction.filter(|j| j.len() <= 32),
        open: q.open == Some(true),
        assignee: q.assignee.filter(|a| a.len() <= 64),
        subject_id: q.subject_id,
        after: q.after,
        ..RightsFilter::default()
    };
    if f.subject_id
        .as_deref()
        .is_some_and(|s| !valid_subject_id(s))
        || f.after.as_deref().is_some_and(|a| !valid_request_id(a))
    {
        return Err(bad());
    }
    if q.overdue == Some(true) {
        f.due_before = Some(now);
    }
    if let Some(days) = q.due_within_days {
        if !(1..=366).contains(&days) {
            return Err(bad());
        }
        let until = now
            .checked_add(SignedDuration::from_hours(i64::from(days) * 24))
            .map_err(|_| bad())?;
        f.due_before = Some(f.due_before.map_or(until, |d| d.min(until)));
    }
    if let Some(email) = q.email {
        let normalized = FieldType::Email.normalize(&email).map_err(|_| bad())?;
        f.email_index = Some(svc::email_index(&state, &normalized)?);
    }
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::RightsRead,
        Resource::Rights,
        None,
    )
    .await?;
    permit.record(&state).await?;
    let found = state.store.list_rights_requests(&f, limit + 1).await?;
    let more = found.len() > limit as usize;
    let requests: Vec<_> = found
        .iter()
        .take(limit as usize)
        .map(|r| request_out(r, now))
        .collect();
    let next_after = more
        .then(|| requests.last().map(|r| r.id.clone()))
        .flatten();
    Ok(ApiJson(RightsRequestPage {
        requests,
        next_after,
    }))
}

/// One request with its history.
#[utoipa::path(get, path = "/v1/rights/requests/{id}", tag = "rights", security(("bearer" = [])),
    params(("id" = String, Path, description = "rr_…")), responses(
    (status = 200, body = RightsRequestOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn get(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<RightsRequestOut>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::RightsRead,
        Resource::Rights,
        None,
    )
    .await?;
    let r = load(&state, &id).await?;
    let mut draft = permit.draft;
    draft.resource = format!("rights_request:{id}");
    state.store.append_audit(draft).await?;
    let history = state.store.rights_events(&id).await?;
    let mut out = request_out(&r, state.clock.now());
    out.history = Some(history.into_iter().map(Into::into).collect());
    Ok(ApiJson(out))
}

/// The requester's identity (email, name, phone, agent), opened from the vault. Needs
/// `rights.identity`; every read is audited against the request.
#[utoipa::path(get, path = "/v1/rights/requests/{id}/requester", tag = "rights", security(("bearer" = [])),
    params(("id" = String, Path, description = "rr_…")), responses(
    (status = 200, body = RequesterOut), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
pub async fn requester(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<RequesterOut>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::RightsIdentity,
        Resource::Rights,
        None,
    )
    .await?;
    let r = load(&state, &id).await?;
    let key = state
        .store
        .subject_key(&requester_subject(&id))
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::Internal))?;
    let mut draft = permit.draft;
    draft.resource = format!("rights_request:{id}");
    draft.subject = Some(state.vault().pseudonym(&requester_subject(&id)));
    draft.fields = vec!["requester".to_owned()];
    state.store.append_audit(draft).await?;
    let who = svc::open_requester(&state, &key, &r)?;
    Ok(ApiJson(RequesterOut {
        email: who.email,
        name: who.name,
        phone: who.phone,
        agent: who.agent.map(|a| AgentIn {
            name: a.name,
            email: a.email,
        }),
        customer_id: who.customer_id,
    }))
}

/// Takes one workflow step. `send_code` emails the requester a one-time code (again, for a
/// request already verifying); `verify_manually` records a verification done another way;
/// `approve` needs `rights.approve` and a different person each time (two for an erasure);
/// `extend` needs a reason and emails the requester the new date; `reject` needs a reason
/// and emails the refusal with the right to complain; `complete` emails the requester (with
/// the single-use link of the export package for access, portability and categories
/// requests); `reissue_export` makes a new package and link for such a completed request.
#[utoipa::path(post, path = "/v1/rights/requests/{id}/steps", tag = "rights", security(("bearer" = [])),
    params(("id" = String, Path, description = "rr_…")), request_body = StepIn, responses(
    (status = 200, body = RightsRequestOut), (status = 403, body = ErrorBody, description = "access_denied, second_approver_required"),
    (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "invalid_transition, verification_required, approvals_missing, extension_not_allowed, concurrent_change"),
    (status = 422, body = ErrorBody), (status = 503, body = ErrorBody, description = "mail_unavailable"),
))]
pub async fn step(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<StepIn>,
) -> Result<ApiJson<RightsRequestOut>, ApiError> {
    let action = if input.step == "approve" {
        Action::RightsApprove
    } else {
        Action::RightsManage
    };
    let permit = authorize(&state, &caller, &rid, action, Resource::Rights, None).await?;
    let r = load(&state, &id).await?;
    if input.expected_version.is_some_and(|v| v != r.version) {
        return Err(ApiError::with_message(
            ErrorCode::ConcurrentChange,
            "the request changed since it was read",
        ));
    }
    let reason = input.reason.as_deref();
    let mut extra = Extra::default();
    let mut export = None;
    let step = match input.step.as_str() {
        "send_code" => {
            let email = svc::requester_of(&state, &r)
                .await?
                .email
                .ok_or_else(|| invalid("requester.email", "required_for_verification"))?;
            let now = state.clock.now();
            extra.challenge = Some(Some(svc::send_code(&state, &r, &email, now).await?));
            extra.detail = Some("code_sent".into());
            if r.progress.state == RState::Verifying {
                None
            } else {
                Some(Step::StartVerification)
            }
        }
        "verify_manually" => {
            if r.progress.state == RState::Received {
                // Verification done another way (in person, by phone) starts and ends here.
                let mut draft = crate::gate::actor_draft(
                    &state,
                    &rid,
                    &caller.actor(),
                    "rights.verification_started",
                    "rights",
                );
                draft.decision = permit.draft.decision;
                let started = svc::take(
                    &state,
                    &r,
                    Some(&Step::StartVerification),
                    &caller.actor(),
                    &caller.operator.id,
                    Extra {
                        detail: Some("manual".into()),
                        ..Extra::default()
                    },
                    draft,
                )
                .await?;
                let extra = Extra {
                    detail: Some("manual".into()),
                    ..Extra::default()
                };
                let next = svc::take(
                    &state,
                    &started,
                    Some(&Step::Verified),
                    &caller.actor(),
                    &caller.operator.id,
                    extra,
                    permit.draft,
                )
                .await?;
                return Ok(ApiJson(request_out(&next, state.clock.now())));
            }
            extra.detail = Some("manual".into());
            Some(Step::Verified)
        }
        "start" => Some(Step::Start),
        "assign" => {
            let operator = input
                .operator
                .ok_or_else(|| invalid("operator", "required"))?;
            if state.store.get_operator(&operator).await?.is_none() {
                return Err(invalid("operator", "existing_operator"));
            }
            extra.detail = Some(operator.clone());
            Some(Step::Assign { operator })
        }
        "link_subject" => {
            let s = input
                .subject_id
                .ok_or_else(|| invalid("subject_id", "required"))?;
            if !valid_subject_id(&s) {
                return Err(ApiError::new(ErrorCode::InvalidSubjectId));
            }
            if r.progress.state.is_final() {
                return Err(ApiError::with_message(
                    ErrorCode::InvalidTransition,
                    "a closed request cannot change",
                ));
            }
            extra.subject_id = Some(s);
            let mut draft = permit.draft;
            draft.action = "rights.subject_linked".into();
            let next = svc::take(
                &state,
                &r,
                None,
                &caller.actor(),
                &caller.operator.id,
                extra,
                draft,
            )
            .await?;
            return Ok(ApiJson(request_out(&next, state.clock.now())));
        }
        "submit_for_approval" => Some(Step::SubmitForApproval),
        "approve" => Some(Step::Approve),
        "complete" => {
            export = fulfil(
                &state,
                &caller,
                &rid,
                &r,
                input.purpose.as_deref(),
                &mut extra,
            )
            .await?;
            Some(Step::Complete)
        }
        "reissue_export" => {
            // A link works once and for 7 days: a new package replaces the old one.
            if r.progress.state != custodian_core::rights::workflow::State::Completed
                || !crate::export::exports(r.request_type())
            {
                return Err(ApiError::with_message(
                    ErrorCode::InvalidTransition,
                    "only a completed access, portability or categories request has a package",
                ));
            }
            let found = crate::datasets::fulfil(&state, &caller, &rid, &r, false).await?;
            let link = crate::export::make(&state, &caller, &rid, &r, found.records).await?;
            extra.detail = Some(format!("export_reissued:{}", link.records));
            export = Some(link);
            None
        }
        "reject" => {
            let reason = reason
                .and_then(RejectReason::parse)
                .ok_or_else(|| invalid("reason", "reject_reason"))?;
            extra.detail = Some(reason.as_str().into());
            Some(Step::Reject { reason })
        }
        "withdraw" => Some(Step::Withdraw),
        "extend" => {
            let why = reason
                .and_then(ExtensionReason::parse)
                .ok_or_else(|| invalid("reason", "extension_reason"))?;
            extra.extension_reason = Some(why);
            extra.detail = Some(why.as_str().into());
            Some(Step::Extend)
        }
        _ => return Err(invalid("step", "known_step")),
    };
    let mut draft = permit.draft;
    if step.is_none() {
        draft.action = if export.is_some() {
            "rights.export_reissued".into()
        } else {
            "rights.code_resent".into()
        };
    }
    let next = svc::take(
        &state,
        &r,
        step.as_ref(),
        &caller.actor(),
        &caller.operator.id,
        extra,
        draft,
    )
    .await?;
    let mut out_req = next.clone();
    let mut sent = None;
    // A reissued package is mailed as the completion notice was, with the new link.
    let notice = step
        .clone()
        .or_else(|| export.is_some().then_some(Step::Complete));
    if let Some(s) = &notice {
        sent = svc::notify(&state, &next, s, export.as_ref()).await;
        if let Some(ok) = sent {
            // The notice is part of the record: an extension must be shown to have been told.
            let action = if ok {
                "rights.notice_sent"
            } else {
                "rights.notice_not_sent"
            };
            let draft = crate::gate::actor_draft(&state, &rid, "system", action, "rights");
            let extra = Extra {
                detail: Some(s.action().trim_start_matches("rights.").to_owned()),
                ..Extra::default()
            };
            out_req = svc::take(&state, &next, None, "system", "system", extra, draft).await?;
        }
    }
    let mut out = request_out(&out_req, state.clock.now());
    out.notice_sent = sent;
    out.export = export.map(|e| ExportOut {
        url: e.url,
        expires_at: crate::api::time(e.expires_at),
        records: e.records,
    });
    Ok(ApiJson(out))
}

/// Carries out in the vault what completing `r` means, once the workflow allows it:
/// erasure crypto-shreds the linked subject (the completing operator needs `data.delete` on
/// every field for the purpose `dsr`), restriction and objection record the processing limit
/// (`subject.limit`). Other types, and requests linked to no subject, change nothing here.
async fn fulfil(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    r: &RightsRequest,
    purpose: Option<&str>,
    extra: &mut Extra,
) -> Result<Option<crate::export::ExportLink>, ApiError> {
    use crate::routes::vault::{change_limit, erase_for_request};
    use custodian_core::rights::RequestType;
    use custodian_core::vault::record::LimitKind;
    svc::check_step(r, &Step::Complete, &caller.operator.id, state.clock.now())?;
    if let Some(kind) = opt_out_kind(r.request_type()) {
        // An opt-out needs no verification: it applies to the linked subject, or to every
        // subject whose vault records hold the email the requester gave.
        let subjects = match (&r.subject_id, svc::requester_of(state, r).await?.email) {
            (Some(s), _) => vec![s.clone()],
            (None, Some(email)) => state.vault().subjects_with_email(&email).await?,
            (None, None) => Vec::new(),
        };
        let mut n = 0;
        for subject in &subjects {
            let permit = authorize(
                state,
                caller,
                rid,
                Action::ConsentRecord,
                Resource::Consent,
                None,
            )
            .await?;
            n += crate::routes::consent::record_opt_outs(
                state,
                subject,
                kind,
                r,
                caller.actor(),
                rid,
                permit.draft,
            )
            .await?;
        }
        extra.detail = Some(if subjects.is_empty() {
            "no_vault_subject".to_owned()
        } else {
            format!("consent_opt_outs:{n}")
        });
        return Ok(None);
    }
    if crate::export::exports(r.request_type()) {
        // Connected databases first: a system that needs a person stops here, unchanged.
        let mut found = crate::datasets::fulfil(state, caller, rid, r, false).await?;
        let records = std::mem::take(&mut found.records);
        let link = crate::export::make(state, caller, rid, r, records).await?;
        extra.detail = Some(found.detail(&format!("export_created:{}", link.records), false));
        return Ok(Some(link));
    }
    // Erasure reaches the connected databases whether or not a vault subject is linked.
    let datasets = if r.request_type() == RequestType::Erasure {
        Some(crate::datasets::fulfil(state, caller, rid, r, true).await?)
    } else {
        None
    };
    let with_datasets = |base: &str| match &datasets {
        Some(d) => d.detail(base, true),
        None => base.to_owned(),
    };
    let Some(subject) = r.subject_id.as_deref() else {
        if matches!(
            r.request_type(),
            RequestType::Erasure | RequestType::Restriction | RequestType::Objection
        ) {
            extra.detail = Some(with_datasets("no_vault_subject"));
        }
        return Ok(None);
    };
    extra.detail = match r.request_type() {
        RequestType::Erasure => {
            let n = erase_for_request(state, caller, rid, subject).await?;
            Some(with_datasets(&format!("vault_records_erased:{n}")))
        }
        RequestType::Restriction => {
            change_limit(
                state,
                caller,
                rid,
                subject,
                LimitKind::Restriction,
                "*",
                false,
            )
            .await?;
            Some("vault_restricted".into())
        }
        RequestType::Objection => {
            let p = purpose
                .filter(|p| custodian_core::access::valid_purpose(p))
                .ok_or_else(|| invalid("purpose", "purpose_objected_to"))?;
            change_limit(state, caller, rid, subject, LimitKind::Objection, p, false).await?;
            Some(format!("vault_objection:{p}"))
        }
        _ => None,
    };
    Ok(None)
}

/// The kind of opt-out a request type asks for.
fn opt_out_kind(
    t: custodian_core::rights::RequestType,
) -> Option<custodian_core::consent::purpose::OptOutKind> {
    use custodian_core::consent::purpose::OptOutKind;
    use custodian_core::rights::RequestType;
    match t {
        RequestType::OptOutSale => Some(OptOutKind::Sale),
        RequestType::OptOutSharing => Some(OptOutKind::Sharing),
        RequestType::OptOutTargetedAdvertising => Some(OptOutKind::TargetedAdvertising),
        RequestType::LimitSensitive => Some(OptOutKind::SensitiveData),
        _ => None,
    }
}

/// SLA figures: open, due within 7 days, overdue, closed (late), median time to close; in
/// all and by type and jurisdiction, over requests received since `since` (default 365 days).
#[utoipa::path(get, path = "/v1/rights/sla", tag = "rights", security(("bearer" = [])),
    params(SlaQuery), responses(
    (status = 200, body = SlaReport), (status = 400, body = ErrorBody),
    (status = 403, body = ErrorBody),
))]
pub async fn sla(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SlaQuery>,
) -> Result<ApiJson<SlaReport>, ApiError> {
    let now = state.clock.now();
    let since = match q.since.as_deref() {
        Some(s) => s
            .parse::<Timestamp>()
            .map_err(|_| ApiError::new(ErrorCode::InvalidQuery))?,
        None => now
            .checked_sub(SignedDuration::from_hours(365 * 24))
            .unwrap_or(now),
    };
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::RightsRead,
        Resource::Rights,
        None,
    )
    .await?;
    permit.record(&state).await?;
    Ok(ApiJson(sla_report(&state, since, now).await?))
}

/// The SLA figures of requests received since `since`, at `now` (also in the compliance
/// dashboard and the evidence bundle).
pub async fn sla_report(
    state: &AppState,
    since: Timestamp,
    now: Timestamp,
) -> Result<SlaReport, ApiError> {
    let rows = state.store.rights_sla_rows(since).await?;
    let (total, by) = sla_figures(&rows, now);
    Ok(SlaReport {
        at: time(now),
        since: time(since),
        total: (&total).into(),
        by_type_and_jurisdiction: by
            .iter()
            .map(|(t, j, f)| SlaGroupOut {
                request_type: t.as_str(),
                jurisdiction: j.clone(),
                figures: f.into(),
            })
            .collect(),
    })
}

/// The deadline rules in force: jurisdictions, the rights each grants, and their sources.
#[utoipa::path(get, path = "/v1/rights/rules", tag = "rights", security(("bearer" = [])),
    responses((status = 200, body = RulesOut), (status = 403, body = ErrorBody)))]
pub async fn rules(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<RulesOut>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::RightsRead,
        Resource::Rights,
        None,
    )
    .await?;
    permit.record(&state).await?;
    let set = svc::rules()?;
    Ok(ApiJson(RulesOut {
        version: set.version().to_owned(),
        rules: set
            .rules()
            .iter()
            .map(|r| RuleOut {
                jurisdiction: r.jurisdiction.clone(),
                request_types: r.request_types().into_iter().map(|t| t.as_str()).collect(),
                clock_start: r.clock_start.as_str(),
                source: r.source.clone(),
                notes: r.notes.clone(),
            })
            .collect(),
    }))
}
