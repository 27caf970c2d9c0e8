//! The compliance dashboard's figures (with vendors' reviews) (`GET /v1/compliance/dashboard`, `compliance.read`)
//! and the evidence bundle over HTTP (`POST /v1/evidence`, `evidence.export`): what the
//! registers, the rights-request queue, the consent ledger, retention and the audit log
//! say now, in one answer; the bundle is built by [`crate::evidence`].

use axum::Extension;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use custodian_core::access::{Action, Resource};
use custodian_core::incident::Status;

use crate::api::compliance::{
    ConsentPurposeOut, DashboardIncidentsOut, DashboardOut, DashboardTrainingOut,
    DashboardVendorsOut, EvidenceOut, RetentionJobOut,
};
use crate::api::time;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ErrorBody};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::state::AppState;

/// Per purpose, how many subjects are in each current consent state, and the rate given.
pub async fn consent_figures(state: &AppState) -> Result<Vec<ConsentPurposeOut>, ApiError> {
    let now = state.clock.now();
    let mut out: Vec<ConsentPurposeOut> = Vec::new();
    for f in state.store.consent_figures(now).await? {
        if out.last().is_none_or(|p| p.purpose != f.purpose) {
            out.push(ConsentPurposeOut {
                purpose: f.purpose.clone(),
                given: 0,
                refused: 0,
                withdrawn: 0,
                expired: 0,
                rate: 0.0,
            });
        }
        if let Some(p) = out.last_mut() {
            match f.state.as_str() {
                "given" => p.given = f.count,
                "refused" => p.refused = f.count,
                "withdrawn" => p.withdrawn = f.count,
                _ => p.expired += f.count,
            }
        }
    }
    for p in &mut out {
        let total = p.given + p.refused + p.withdrawn + p.expired;
        p.rate = if total == 0 {
            0.0
        } else {
            p.given as f64 / total as f64
        };
    }
    Ok(out)
}

/// The compliance dashboard: rights-request SLA figures (last 365 days), consent rates per
/// purpose, incidents open and their clocks, training compliance, retention jobs, the audit
/// log's signed checkpoint and the last evidence bundle.
#[utoipa::path(get, path = "/v1/compliance/dashboard", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, body = DashboardOut), (status = 403, body = ErrorBody)))]
pub async fn dashboard(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<ApiJson<DashboardOut>, ApiError> {
    authorize(
        &state,
        &caller,
        &rid,
        Action::ComplianceRead,
        Resource::Compliance,
        None,
    )
    .await?
    .record(&state)
    .await?;
    let now = state.clock.now();
    let year_ago = now
        .checked_sub(jiff::SignedDuration::from_hours(365 * 24))
        .unwrap_or(now);
    let sla = crate::routes::rights::sla_report(&state, year_ago, now).await?;
    let training = crate::routes::training::training_status(&state, now).await?;
    let mut incidents = DashboardIncidentsOut {
        open: 0,
        contained: 0,
        closed: 0,
        overdue_notifications: 0,
        next_due: None,
        open_incidents: Vec::new(),
    };
    let mut next_due: Option<String> = None;
    for i in state.store.incidents().await? {
        match i.status {
            Status::Open => incidents.open += 1,
            Status::Contained => incidents.contained += 1,
            Status::Closed => {
                incidents.closed += 1;
                continue;
            }
        }
        let out = crate::routes::incidents::incident_out(&i, now)?;
        incidents.overdue_notifications += out.notifications.iter().filter(|n| n.overdue).count();
        // RFC 3339 UTC strings of one format order as their instants.
        if let Some(d) = &out.next_due
            && next_due.as_ref().is_none_or(|n| d < n)
        {
            next_due = Some(d.clone());
        }
        incidents.open_incidents.push(out);
    }
    incidents.next_due = next_due;
    let head = crate::routes::audit::signed_checkpoint(&state).await?;
    let last = state.store.last_evidence_bundle().await?;
    Ok(ApiJson(DashboardOut {
        at: time(now),
        rights: sla.total,
        consent: consent_figures(&state).await?,
        incidents,
        training: DashboardTrainingOut {
            operators: training.operators,
            current: training.current,
            compliance: training.compliance,
            lapsed: training.lapsed,
            missing: training.missing,
        },
        retention: state
            .store
            .retention_jobs()
            .await?
            .into_iter()
            .map(|j| RetentionJobOut {
                name: j.name,
                due_at: time(j.due_at),
                last_run_at: j.last_run_at.map(time),
                last_outcome: j.last_outcome,
            })
            .collect(),
        vendors: {
            let mut v = DashboardVendorsOut {
                active: 0,
                reviews_due_30_days: 0,
                with_findings: 0,
            };
            let horizon = now
                .checked_add(jiff::SignedDuration::from_hours(30 * 24))
                .unwrap_or(now);
            for e in state
                .store
                .register_entries(custodian_core::register::RegisterKind::Vendor)
                .await?
            {
                let vendor = crate::routes::registers::read_vendor(&e)?;
                if vendor.status != "active" {
                    continue;
                }
                v.active += 1;
                if vendor
                    .next_review_due(e.created_at)
                    .is_some_and(|d| d <= horizon)
                {
                    v.reviews_due_30_days += 1;
                }
                if !vendor.findings(e.created_at, now).is_empty() {
                    v.with_findings += 1;
                }
            }
            v
        },
        alerts_open: {
            let mut n = 0;
            for e in state
                .store
                .register_entries(custodian_core::register::RegisterKind::Alert)
                .await?
            {
                if serde_json::from_str::<crate::monitoring::AlertRecord>(&e.body)
                    .is_ok_and(|a| a.status == "open")
                {
                    n += 1;
                }
            }
            n
        },
        audit: head,
        last_evidence: last.map(|b| EvidenceOut {
            bundle_id: b.id,
            created_at: time(b.created_at),
            tree_size: b.tree_size,
            manifest_sha256: b.manifest_sha256,
        }),
    }))
}

/// Exports an evidence bundle (a zip; see `custodian evidence verify`): the records of
/// processing, the data map, the policies, retention, rights and consent figures, training,
/// incidents, the signed checkpoint and a consistency proof from the previous bundle, under
/// a manifest signed with the audit log's key. Each export is recorded and audited.
#[utoipa::path(post, path = "/v1/evidence", tag = "compliance", security(("bearer" = [])),
    responses((status = 200, content_type = "application/zip", description = "The bundle"),
    (status = 403, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::EvidenceExport,
        Resource::Compliance,
        None,
    )
    .await?;
    let built = crate::evidence::build(&state, permit.draft).await?;
    let name = format!(
        "attachment; filename=\"evidence-{}.zip\"",
        built.manifest.bundle_id
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        built.bytes,
    )
        .into_response())
}
