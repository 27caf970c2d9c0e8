//! Data-subject rights requests end to end: deadlines per jurisdiction with a fixed clock,
//! verification by a one-time code through a real SMTP server (aiosmtpd), approvals
//! (two people for an erasure), extension and refusal notices, SLA figures, and every bad
//! input.

use jiff::SignedDuration;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Options, Resp, TestServer, fixed_clock};
use crate::smtp::{SmtpServer, code_in};

async fn post(s: &TestServer, path: &str, key: Option<&str>, body: Value) -> Resp {
    s.call(Method::POST, path, key, Body::Json(body)).await
}

async fn step(s: &TestServer, key: &str, id: &str, body: Value) -> Resp {
    post(
        s,
        &format!("/v1/rights/requests/{id}/steps"),
        Some(key),
        body,
    )
    .await
}

/// Declares a `customers` collection with a searchable email and stores one customer.
pub async fn customer(s: &TestServer, subject: &str, email: &str) {
    let key = s.admin_key.clone();
    let (_, eng) = s.operator_with_key("Engineer", "engineer").await;
    let r = s
        .call(
            Method::PUT,
            "/v1/collections/customers",
            Some(&key),
            Body::Json(json!({"fields": [
                {"name": "email", "type": "email", "category": "user.contact.email",
                 "sensitivity": "medium", "searchable": true},
            ]})),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "{r:?}");
    let r = s
        .call_with(
            Method::POST,
            "/v1/collections/customers/records",
            Some(&eng),
            Body::Json(json!({"subject_id": subject, "fields": {"email": email}})),
            &[("custodian-purpose", "service_delivery")],
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_follow_each_law_with_a_fixed_clock() {
    let clock = fixed_clock();
    // Now: 2026-12-01; every request below was received in the year before.
    clock.advance(SignedDuration::from_hours(334 * 24));
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let (_, support) = s.operator_with_key("Support", "support").await;
    // (type, jurisdiction, received, zone, acknowledge by, respond by, extended to)
    let cases = [
        // One calendar month (Reg. 1182/71): 28 Feb 2026 is a Saturday, so Monday 2 March.
        (
            "access",
            "GDPR",
            "2026-01-31T10:00:00Z",
            "UTC",
            None,
            "2026-03-02",
            Some("2026-04-30"),
        ),
        (
            "erasure",
            "GDPR",
            "2026-05-15T08:00:00Z",
            "Europe/Berlin",
            None,
            "2026-06-15",
            Some("2026-08-17"),
        ),
        (
            "objection",
            "UK_GDPR",
            "2026-03-31T09:00:00Z",
            "Europe/London",
            None,
            "2026-04-30",
            Some("2026-06-30"),
        ),
        // CCPA: acknowledge in 10 business days, answer in 45 days, +45.
        (
            "access",
            "CCPA",
            "2026-03-02T17:00:00Z",
            "America/Los_Angeles",
            Some("2026-03-16"),
            "2026-04-16",
            Some("2026-05-31"),
        ),
        // An evening in California is already the next day in UTC: the law's day counts.
        (
            "erasure",
            "CCPA",
            "2026-03-03T06:30:00Z",
            "America/Los_Angeles",
            Some("2026-03-16"),
            "2026-04-16",
            Some("2026-05-31"),
        ),
        // Opt-outs: 15 business days, skipping Thanksgiving and the day after.
        (
            "opt_out_sale",
            "CCPA",
            "2026-11-20T20:00:00Z",
            "America/Los_Angeles",
            None,
            "2026-12-15",
            None,
        ),
        (
            "access",
            "US_VA",
            "2026-02-01T12:00:00Z",
            "America/New_York",
            None,
            "2026-03-18",
            Some("2026-05-02"),
        ),
        (
            "access",
            "US_IA",
            "2026-01-05T15:00:00Z",
            "America/Chicago",
            None,
            "2026-04-05",
            Some("2026-05-20"),
        ),
        (
            "access",
            "LGPD",
            "2026-02-10T12:00:00Z",
            "America/Sao_Paulo",
            None,
            "2026-02-25",
            None,
        ),
        (
            "access",
            "PIPEDA",
            "2026-02-10T12:00:00Z",
            "America/Toronto",
            None,
            "2026-03-12",
            Some("2026-04-11"),
        ),
    ];
    for (ty, j, received, zone, ack, respond, extended) in cases {
        let r = post(
            &s,
            "/v1/rights/requests",
            Some(&support),
            json!({"type": ty, "jurisdiction": j, "received_at": received, "time_zone": zone,
                   "requester": {"email": "someone@example.com"}}),
        )
        .await;
        assert_eq!(r.status, 201, "{ty} {j}: {r:?}");
        let d = &r.json["deadlines"];
        assert_eq!(d["respond_by"]["date"], respond, "{ty} {j}: {d}");
        assert_eq!(d["due"]["date"], respond, "{ty} {j}");
        assert_eq!(d["acknowledge_by"]["date"].as_str(), ack, "{ty} {j}");
        assert_eq!(
            d["extended_respond_by"]["date"].as_str(),
            extended,
            "{ty} {j}"
        );
        assert!(d["source"].as_str().is_some_and(|x| !x.is_empty()));
        let expect_state = if ty.starts_with("opt_out") {
            "in_progress"
        } else {
            "received"
        };
        assert_eq!(r.json["state"], expect_state, "{ty} {j}");
        // The day ends in the law's time zone.
        let end: jiff::Timestamp = d["due"]["end"].as_str().expect("end").parse().expect("ts");
        let tz = jiff::tz::TimeZone::get(zone).expect("zone");
        assert_eq!(end.to_zoned(tz.clone()).date().to_string(), respond);
        assert_eq!(
            (end + SignedDuration::from_nanos(1)).to_zoned(tz).time(),
            jiff::civil::time(0, 0, 0, 0)
        );
    }
    // A right the jurisdiction does not grant, and a request type nobody knows.
    post(
        &s,
        "/v1/rights/requests",
        Some(&support),
        json!({"type": "opt_out_sale", "jurisdiction": "GDPR"}),
    )
    .await
    .assert_error(422, "no_deadline_rule");
    post(
        &s,
        "/v1/rights/requests",
        Some(&support),
        json!({"type": "erasure", "jurisdiction": "LGPD"}),
    )
    .await
    .assert_error(422, "no_deadline_rule");
    post(
        &s,
        "/v1/rights/requests",
        Some(&support),
        json!({"type": "forget_me", "jurisdiction": "GDPR"}),
    )
    .await
    .assert_error(422, "invalid_rights_request");
    // Rules are listed.
    let rules = s
        .call(Method::GET, "/v1/rights/rules", Some(&support), Body::None)
        .await;
    assert_eq!(rules.status, 200, "{rules:?}");
    assert!(
        rules.json["rules"]
            .as_array()
            .is_some_and(|r| r.len() >= 10)
    );

    // Extending the GDPR access request after its first month is refused; the Berlin erasure
    // (due 15 June, long past at 1 December) likewise; nothing changes.
    let list = s
        .call(
            Method::GET,
            "/v1/rights/requests?jurisdiction=GDPR",
            Some(&support),
            Body::None,
        )
        .await;
    let first = list.json["requests"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    step(
        &s,
        &support,
        &first,
        json!({"step": "extend", "reason": "complexity"}),
    )
    .await
    .assert_error(409, "extension_not_allowed");

    // SLA: every open request with a deadline before 1 December is overdue.
    let sla = s
        .call(Method::GET, "/v1/rights/sla", Some(&support), Body::None)
        .await;
    assert_eq!(sla.status, 200, "{sla:?}");
    assert_eq!(sla.json["total"]["open"], 10);
    assert_eq!(sla.json["total"]["overdue"], 9, "{}", sla.json);
    assert_eq!(sla.json["total"]["due_within_7_days"], 0);
    let overdue = s
        .call(
            Method::GET,
            "/v1/rights/requests?overdue=true&limit=100",
            Some(&support),
            Body::None,
        )
        .await;
    assert_eq!(overdue.json["requests"].as_array().map(Vec::len), Some(9));
    assert!(
        overdue.json["requests"]
            .as_array()
            .expect("list")
            .iter()
            .all(|r| r["overdue"] == true)
    );
    let soon = s
        .call(
            Method::GET,
            "/v1/rights/requests?due_within_days=16",
            Some(&support),
            Body::None,
        )
        .await;
    assert_eq!(
        soon.json["requests"].as_array().map(Vec::len),
        Some(10),
        "overdue ones are due within any window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_verifies_by_emailed_code_and_an_access_request_is_approved_and_completed() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        smtp: Some(smtp.config()),
        ..Options::default()
    })
    .await;
    customer(&s, "cus_42", "Ada.Lovelace@Example.com").await;
    let (support_id, support) = s.operator_with_key("Support", "support").await;
    let (dpo_id, dpo) = s.operator_with_key("DPO", "dpo").await;

    // Filing from the privacy center sends a code at once.
    let r = post(&s, "/v1/privacy-center/requests", None,
        json!({"type": "access", "jurisdiction": "CCPA", "email": "Ada.Lovelace@EXAMPLE.com", "name": "Ada"})).await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.json["state"], "verifying");
    assert_eq!(r.json["verification"], "email_code");
    let id = r.json["id"].as_str().expect("id").to_owned();
    let mail = smtp.wait_for(1).await;
    assert!(
        mail[0].contains("To: Ada.Lovelace@example.com"),
        "{}",
        mail[0]
    );
    assert!(mail[0].contains("privacy@shop.example"));
    let code = code_in(&mail[0]);

    // A wrong code counts; the right one verifies and links the vault subject by email.
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let r = post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/verify"),
        None,
        json!({"code": wrong}),
    )
    .await;
    r.assert_error(422, "wrong_code");
    assert_eq!(r.json["error"]["details"]["attempts_left"], 4);
    post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/verify"),
        None,
        json!({"code": "12ab"}),
    )
    .await
    .assert_error(422, "wrong_code");
    let r = post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/verify"),
        None,
        json!({"code": code}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["state"], "in_progress");
    assert_eq!(r.json["due_date"], "2026-02-15");
    // The code is spent.
    post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/verify"),
        None,
        json!({"code": code}),
    )
    .await
    .assert_error(409, "invalid_transition");

    let got = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}"),
            Some(&support),
            Body::None,
        )
        .await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.json["subject_id"], "cus_42");
    assert_eq!(got.json["channel"], "privacy_center");
    let actions: Vec<&str> = got.json["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "rights.received",
            "rights.verification_failed",
            "rights.verification_failed",
            "rights.verified"
        ]
    );
    // Operators find the request by the requester's email; the identity needs its permission.
    let found = s
        .call(
            Method::GET,
            "/v1/rights/requests?email=Ada.Lovelace@Example.COM",
            Some(&support),
            Body::None,
        )
        .await;
    assert_eq!(found.json["requests"][0]["id"], id.as_str());
    let who = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}/requester"),
            Some(&support),
            Body::None,
        )
        .await;
    assert_eq!(who.status, 200, "{who:?}");
    assert_eq!(who.json["email"], "Ada.Lovelace@example.com");
    assert_eq!(who.json["name"], "Ada");
    let (_, auditor) = s.operator_with_key("Auditor", "auditor").await;
    s.call(
        Method::GET,
        &format!("/v1/rights/requests/{id}/requester"),
        Some(&auditor),
        Body::None,
    )
    .await
    .assert_error(403, "access_denied");

    // Support assigns and submits; support cannot approve; the DPO approves; it completes.
    let r = step(
        &s,
        &support,
        &id,
        json!({"step": "assign", "operator": support_id}),
    )
    .await;
    assert_eq!(r.json["assignee"], support_id.as_str(), "{r:?}");
    step(&s, &support, &id, json!({"step": "complete"}))
        .await
        .assert_error(409, "approvals_missing");
    let r = step(&s, &support, &id, json!({"step": "submit_for_approval"})).await;
    assert_eq!(r.json["state"], "awaiting_approval", "{r:?}");
    step(&s, &support, &id, json!({"step": "approve"}))
        .await
        .assert_error(403, "access_denied");
    let r = step(
        &s,
        &dpo,
        &id,
        json!({"step": "approve", "expected_version": 0}),
    )
    .await;
    r.assert_error(409, "concurrent_change");
    let r = step(&s, &dpo, &id, json!({"step": "approve"})).await;
    assert_eq!(r.json["approvals"], json!([dpo_id]), "{r:?}");
    let r = step(&s, &dpo, &id, json!({"step": "complete"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["state"], "completed");
    assert_eq!(r.json["notice_sent"], true);
    assert_eq!(r.json["retain_until"], "2028-01-01T00:00:00Z");
    let mail = smtp.wait_for(2).await;
    assert!(mail[1].contains("is complete"), "{}", mail[1]);
    step(&s, &dpo, &id, json!({"step": "withdraw"}))
        .await
        .assert_error(409, "invalid_transition");
    let status = s
        .call(
            Method::GET,
            &format!("/v1/privacy-center/requests/{id}"),
            None,
            Body::None,
        )
        .await;
    assert_eq!(status.json["state"], "completed");
    assert!(status.json.get("email").is_none());

    // Nothing personal reached the audit log.
    let admin = s.admin_key.clone();
    let events = s
        .call_with(
            Method::GET,
            "/v1/audit/events?limit=1000",
            Some(&admin),
            Body::None,
            &[("custodian-purpose", "audit")],
        )
        .await;
    let text = events.json.to_string().to_lowercase();
    assert!(events.status == 200 && !text.contains("lovelace"), "{text}");
    assert!(text.contains("rights.verified") && text.contains("rights.notice_sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_needs_two_approvers_and_extensions_and_refusals_are_emailed() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        smtp: Some(smtp.config()),
        ..Options::default()
    })
    .await;
    let (_, support) = s.operator_with_key("Support", "support").await;
    let (_, dpo1) = s.operator_with_key("DPO one", "dpo").await;
    let (_, dpo2) = s.operator_with_key("DPO two", "dpo").await;
    customer(&s, "cus_7", "grace@example.com").await;
    let r = post(
        &s,
        "/v1/rights/requests",
        Some(&support),
        json!({
            "type": "erasure", "jurisdiction": "GDPR", "subject_id": "cus_7",
            "requester": {"email": "grace@example.com", "phone": "+1 415 555 0100"},
            "agent": {"name": "Privacy Agents Inc", "email": "desk@agents.example"}
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json["id"].as_str().expect("id").to_owned();
    step(&s, &support, &id, json!({"step": "submit_for_approval"}))
        .await
        .assert_error(409, "invalid_transition");
    step(&s, &support, &id, json!({"step": "start"}))
        .await
        .assert_error(409, "verification_required");
    // A code by email, then a verification done another way (the requester came in person).
    let r = step(&s, &support, &id, json!({"step": "send_code"})).await;
    assert_eq!(r.json["state"], "verifying", "{r:?}");
    smtp.wait_for(1).await;
    let r = step(&s, &support, &id, json!({"step": "verify_manually"})).await;
    assert_eq!(r.json["state"], "in_progress", "{r:?}");
    // Extension: reason required, the requester is told the new date, once only.
    step(&s, &support, &id, json!({"step": "extend"}))
        .await
        .assert_error(422, "invalid_rights_request");
    let r = step(
        &s,
        &support,
        &id,
        json!({"step": "extend", "reason": "number_of_requests"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["deadlines"]["due"]["date"], "2026-04-01");
    assert_eq!(r.json["extension_reason"], "number_of_requests");
    assert_eq!(r.json["notice_sent"], true);
    let mail = smtp.wait_for(2).await;
    assert!(
        mail[1].contains("2026-04-01") && mail[1].contains("number of requests"),
        "{}",
        mail[1]
    );
    step(
        &s,
        &support,
        &id,
        json!({"step": "extend", "reason": "complexity"}),
    )
    .await
    .assert_error(409, "extension_not_allowed");
    // Two different approvers, neither the submitter.
    step(&s, &dpo1, &id, json!({"step": "submit_for_approval"})).await;
    step(&s, &dpo1, &id, json!({"step": "approve"}))
        .await
        .assert_error(403, "second_approver_required");
    assert_eq!(
        step(&s, &dpo2, &id, json!({"step": "approve"}))
            .await
            .status,
        200
    );
    step(&s, &dpo2, &id, json!({"step": "approve"}))
        .await
        .assert_error(403, "second_approver_required");
    let r = step(&s, &dpo2, &id, json!({"step": "complete"})).await;
    r.assert_error(409, "approvals_missing");
    assert_eq!(r.json["error"]["details"]["missing"], 1);
    let r = step(&s, &support, &id, json!({"step": "approve"})).await;
    r.assert_error(403, "access_denied");
    // The second approval; completing crypto-shreds the customer in the vault.
    let (_, dpo3) = s.operator_with_key("DPO three", "dpo").await;
    assert_eq!(
        step(&s, &dpo3, &id, json!({"step": "approve"}))
            .await
            .status,
        200
    );
    let r = step(&s, &dpo3, &id, json!({"step": "complete"})).await;
    assert_eq!(r.json["state"], "completed", "{r:?}");
    let got = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}"),
            Some(&dpo3),
            Body::None,
        )
        .await;
    let completed = got.json["history"]
        .as_array()
        .expect("history")
        .iter()
        .find(|e| e["action"] == "rights.completed")
        .expect("completed")
        .clone();
    assert_eq!(completed["detail"], "vault_records_erased:1", "{completed}");
    s.call_with(
        Method::GET,
        "/v1/subjects/cus_7",
        Some(&dpo3),
        Body::None,
        &[("custodian-purpose", "dsr")],
    )
    .await
    .assert_error(410, "subject_erased");
    // The requester's identity outlives the customer's erasure: the record proves the answer.
    let who = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}/requester"),
            Some(&dpo1),
            Body::None,
        )
        .await;
    assert_eq!(who.json["email"], "grace@example.com");

    // Restriction and objection set the vault's processing limits when they complete.
    customer(&s, "cus_8", "alan@example.com").await;
    for (ty, body, expect) in [
        (
            "restriction",
            json!({"step": "complete"}),
            "vault_restricted",
        ),
        (
            "objection",
            json!({"step": "complete", "purpose": "marketing"}),
            "vault_objection:marketing",
        ),
    ] {
        let r = post(
            &s,
            "/v1/rights/requests",
            Some(&support),
            json!({
            "type": ty, "jurisdiction": "GDPR", "subject_id": "cus_8",
            "requester": {"email": "alan@example.com"}}),
        )
        .await;
        let rid = r.json["id"].as_str().expect("id").to_owned();
        step(&s, &support, &rid, json!({"step": "verify_manually"})).await;
        step(&s, &support, &rid, json!({"step": "submit_for_approval"})).await;
        step(&s, &dpo1, &rid, json!({"step": "approve"})).await;
        if ty == "objection" {
            step(&s, &dpo1, &rid, json!({"step": "complete"}))
                .await
                .assert_error(422, "invalid_rights_request");
        }
        let done = step(&s, &dpo1, &rid, body).await;
        assert_eq!(done.json["state"], "completed", "{done:?}");
        let got = s
            .call(
                Method::GET,
                &format!("/v1/rights/requests/{rid}"),
                Some(&dpo1),
                Body::None,
            )
            .await;
        assert!(
            got.json["history"].to_string().contains(expect),
            "{}",
            got.json
        );
    }
    let limits = s
        .call(
            Method::GET,
            "/v1/subjects/cus_8/limits",
            Some(&dpo1),
            Body::None,
        )
        .await;
    let text = limits.json.to_string();
    assert!(
        text.contains("restriction") && text.contains("marketing"),
        "{text}"
    );

    // A second request is refused; the refusal names the right to complain.
    let r = post(
        &s,
        "/v1/rights/requests",
        Some(&support),
        json!({
        "type": "access", "jurisdiction": "GDPR", "requester": {"email": "grace@example.com"}}),
    )
    .await;
    let id2 = r.json["id"].as_str().expect("id").to_owned();
    step(
        &s,
        &support,
        &id2,
        json!({"step": "reject", "reason": "because"}),
    )
    .await
    .assert_error(422, "invalid_rights_request");
    let r = step(
        &s,
        &support,
        &id2,
        json!({"step": "reject", "reason": "duplicate"}),
    )
    .await;
    assert_eq!(r.json["state"], "rejected", "{r:?}");
    let mail = smtp.wait_for(4).await;
    assert!(mail.iter().any(|m| m.contains("is complete")));
    assert!(
        mail.iter().any(|m| m.contains("supervisory authority")),
        "{mail:?}"
    );
    let status = s
        .call(
            Method::GET,
            &format!("/v1/privacy-center/requests/{id2}"),
            None,
            Body::None,
        )
        .await;
    assert_eq!(status.json["rejection"], "duplicate");
    assert!(
        status.json["rejection_notice"]
            .as_str()
            .is_some_and(|n| n.contains("complaint"))
    );
    let who = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}/requester"),
            Some(&dpo1),
            Body::None,
        )
        .await;
    assert_eq!(who.json["phone"], "+14155550100");
    assert_eq!(who.json["agent"]["name"], "Privacy Agents Inc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_expire_run_out_and_are_limited() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        smtp: Some(smtp.config()),
        ..Options::default()
    })
    .await;
    let file = || {
        post(
            &s,
            "/v1/privacy-center/requests",
            None,
            json!({"type": "portability", "jurisdiction": "GDPR", "email": "x@example.com"}),
        )
    };
    let id = file().await.json["id"].as_str().expect("id").to_owned();
    let code = code_in(&smtp.wait_for(1).await[0]);
    clock.advance(SignedDuration::from_mins(16));
    post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/verify"),
        None,
        json!({"code": code}),
    )
    .await
    .assert_error(410, "code_expired");
    // Resend: a new code works, the old does not; three codes in all.
    let r = post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/resend"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    let code2 = code_in(&smtp.wait_for(2).await[1]);
    assert_eq!(
        post(
            &s,
            &format!("/v1/privacy-center/requests/{id}/resend"),
            None,
            json!({})
        )
        .await
        .status,
        202
    );
    post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/resend"),
        None,
        json!({}),
    )
    .await
    .assert_error(429, "too_many_codes");
    let code3 = code_in(&smtp.wait_for(3).await[2]);
    if code2 != code3 {
        post(
            &s,
            &format!("/v1/privacy-center/requests/{id}/verify"),
            None,
            json!({"code": code2}),
        )
        .await
        .assert_error(422, "wrong_code");
    }
    // Five wrong codes exhaust it: even the right one is then refused.
    for _ in 0..5 {
        let wrong = if code3 == "999999" {
            "999998"
        } else {
            "999999"
        };
        let _ = post(
            &s,
            &format!("/v1/privacy-center/requests/{id}/verify"),
            None,
            json!({"code": wrong}),
        )
        .await;
    }
    post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/verify"),
        None,
        json!({"code": code3}),
    )
    .await
    .assert_error(429, "code_attempts_exhausted");
    // The requester may withdraw; then nothing more happens.
    let r = post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/withdraw"),
        None,
        json!({}),
    )
    .await;
    assert_eq!(r.json["state"], "withdrawn", "{r:?}");
    post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/resend"),
        None,
        json!({}),
    )
    .await
    .assert_error(409, "invalid_transition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rights_inputs_get_clear_errors_and_change_nothing() {
    let s = TestServer::start().await; // no SMTP relay
    let (_, support) = s.operator_with_key("Support", "support").await;
    let (_, marketing) = s.operator_with_key("Marketing", "marketing").await;
    let req = |body: Value| post(&s, "/v1/rights/requests", Some(&support), body);
    req(json!({"type": "access", "jurisdiction": "GDPR", "time_zone": "Mars/Olympus"}))
        .await
        .assert_error(422, "invalid_rights_request");
    req(json!({"type": "access", "jurisdiction": "GDPR", "received_at": "2030-01-01T00:00:00Z"}))
        .await
        .assert_error(422, "invalid_rights_request");
    req(json!({"type": "access", "jurisdiction": "GDPR", "received_at": "yesterday"}))
        .await
        .assert_error(422, "invalid_rights_request");
    req(json!({"type": "access", "jurisdiction": "GDPR", "requester": {"email": "not-an-email"}}))
        .await
        .assert_error(422, "invalid_rights_request");
    req(json!({"type": "access", "jurisdiction": "GDPR", "requester": {"phone": "12"}}))
        .await
        .assert_error(422, "invalid_rights_request");
    req(json!({"type": "access", "jurisdiction": "GDPR", "subject_id": "bad id!"}))
        .await
        .assert_error(422, "invalid_subject_id");
    req(json!({"type": "access", "jurisdiction": "GDPR", "surprise": 1}))
        .await
        .assert_error(422, "invalid_body");
    post(
        &s,
        "/v1/rights/requests",
        Some(&marketing),
        json!({"type": "access", "jurisdiction": "GDPR"}),
    )
    .await
    .assert_error(403, "access_denied");
    post(
        &s,
        "/v1/rights/requests",
        None,
        json!({"type": "access", "jurisdiction": "GDPR"}),
    )
    .await
    .assert_error(401, "unauthenticated");
    // Without a relay the privacy center cannot send a code, and stores nothing.
    post(
        &s,
        "/v1/privacy-center/requests",
        None,
        json!({"type": "access", "jurisdiction": "GDPR", "email": "a@example.com"}),
    )
    .await
    .assert_error(503, "mail_unavailable");
    post(
        &s,
        "/v1/privacy-center/requests",
        None,
        json!({"type": "access", "jurisdiction": "GDPR"}),
    )
    .await
    .assert_error(422, "invalid_rights_request");
    // An opt-out needs no verification and no mail.
    let r = post(
        &s,
        "/v1/privacy-center/requests",
        None,
        json!({"type": "opt_out_sale", "jurisdiction": "CCPA"}),
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.json["state"], "in_progress");
    let list = s
        .call(
            Method::GET,
            "/v1/rights/requests",
            Some(&support),
            Body::None,
        )
        .await;
    assert_eq!(
        list.json["requests"].as_array().map(Vec::len),
        Some(1),
        "{list:?}"
    );
    let id = r.json["id"].as_str().expect("id").to_owned();
    // Opt-outs need no approval: complete directly (no relay: the notice is owed by hand).
    let done = step(&s, &support, &id, json!({"step": "complete"})).await;
    assert_eq!(done.json["state"], "completed", "{done:?}");
    assert_eq!(done.json["notice_sent"], false);
    // Ids, steps and queries.
    s.call(
        Method::GET,
        "/v1/rights/requests/nope",
        Some(&support),
        Body::None,
    )
    .await
    .assert_error(400, "invalid_path_parameter");
    s.call(
        Method::GET,
        &format!("/v1/rights/requests/rr_{}", "0".repeat(32)),
        Some(&support),
        Body::None,
    )
    .await
    .assert_error(404, "rights_request_not_found");
    s.call(
        Method::GET,
        &format!("/v1/privacy-center/requests/rr_{}", "0".repeat(32)),
        None,
        Body::None,
    )
    .await
    .assert_error(404, "rights_request_not_found");
    step(&s, &support, &id, json!({"step": "teleport"}))
        .await
        .assert_error(422, "invalid_rights_request");
    step(
        &s,
        &support,
        &id,
        json!({"step": "assign", "operator": "op_missing"}),
    )
    .await
    .assert_error(422, "invalid_rights_request");
    for q in [
        "state=lost",
        "type=x",
        "limit=0",
        "limit=101",
        "due_within_days=0",
        "email=bad",
        "after=zz",
        "subject_id=bad%20id",
        "bogus=1",
    ] {
        s.call(
            Method::GET,
            &format!("/v1/rights/requests?{q}"),
            Some(&support),
            Body::None,
        )
        .await
        .assert_error(400, "invalid_query");
    }
    s.call(
        Method::GET,
        "/v1/rights/sla?since=soon",
        Some(&support),
        Body::None,
    )
    .await
    .assert_error(400, "invalid_query");
    post(
        &s,
        &format!("/v1/privacy-center/requests/{id}/verify"),
        None,
        json!({"code": "123456"}),
    )
    .await
    .assert_error(409, "invalid_transition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_request_is_recorded_in_the_consent_ledger_for_the_subjects_with_that_email() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();
    let r = s
        .call(
            Method::PUT,
            "/v1/purposes/ad_sale",
            Some(&admin),
            Body::Json(json!({
                "names": {"en": "Sale of data to ad partners"},
                "legal_basis": "legitimate_interests", "consent": "opt_out",
                "opt_out_kinds": ["sale"], "jurisdictions": ["US-CA"]
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    customer(&s, "cus_55", "kim@example.com").await;
    let (_, support) = s.operator_with_key("Support", "support").await;
    let check = |subject: &'static str| {
        let key = support.clone();
        let s = &s;
        async move {
            s.call(
                Method::GET,
                &format!("/v1/consent/check?subject={subject}&purpose=ad_sale"),
                Some(&key),
                Body::None,
            )
            .await
        }
    };
    assert_eq!(check("cus_55").await.json["allowed"], true);
    // From the privacy center, unverified (CCPA: an opt-out needs no verification).
    let r = post(
        &s,
        "/v1/privacy-center/requests",
        None,
        json!({"type": "opt_out_sale", "jurisdiction": "CCPA", "email": "kim@example.com"}),
    )
    .await;
    assert_eq!(r.status, 202, "{r:?}");
    let id = r.json["id"].as_str().expect("id").to_owned();
    let done = step(&s, &support, &id, json!({"step": "complete"})).await;
    assert_eq!(done.json["state"], "completed", "{done:?}");
    let got = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}"),
            Some(&support),
            Body::None,
        )
        .await;
    assert!(
        got.json["history"]
            .to_string()
            .contains("consent_opt_outs:1"),
        "{}",
        got.json
    );
    let c = check("cus_55").await;
    assert_eq!(c.json["allowed"], false, "{c:?}");
    // Someone the vault does not know: completed, with nothing to record.
    let r = post(
        &s,
        "/v1/privacy-center/requests",
        None,
        json!({"type": "opt_out_sale", "jurisdiction": "CCPA", "email": "nobody@example.com"}),
    )
    .await;
    let id = r.json["id"].as_str().expect("id").to_owned();
    step(&s, &support, &id, json!({"step": "complete"})).await;
    let got = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{id}"),
            Some(&support),
            Body::None,
        )
        .await;
    assert!(
        got.json["history"].to_string().contains("no_vault_subject"),
        "{}",
        got.json
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privacy_team_is_reminded_7_days_and_1_day_before_a_deadline_and_when_it_passes() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        smtp: Some(smtp.config()),
        rights_reminders_to: Some("dpo@shop.example".into()),
        ..Options::default()
    })
    .await;
    let (_, support) = s.operator_with_key("Support", "support").await;
    // Received 1 January (GDPR): due Monday 2 February.
    let r = post(
        &s,
        "/v1/rights/requests",
        Some(&support),
        json!({
        "type": "access", "jurisdiction": "GDPR", "requester": {"email": "lin@example.com"}}),
    )
    .await;
    let id = r.json["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(smtp.messages().is_empty(), "nothing is due yet");
    let reminded = |n: usize| {
        let (s, id, support) = (&s, id.clone(), support.clone());
        async move {
            let got = s
                .call(
                    Method::GET,
                    &format!("/v1/rights/requests/{id}"),
                    Some(&support),
                    Body::None,
                )
                .await;
            got.json["history"]
                .as_array()
                .expect("history")
                .iter()
                .filter(|e| e["action"] == "rights.reminder_sent")
                .map(|e| e["detail"].as_str().expect("detail").to_owned())
                .take(n)
                .collect::<Vec<_>>()
        }
    };
    for (days, label, n) in [(26, "7_days", 1), (6, "1_day", 2), (2, "overdue", 3)] {
        clock.advance(SignedDuration::from_hours(days * 24));
        let mail = smtp.wait_for(n).await;
        let last = &mail[n - 1];
        assert!(
            last.contains("To: dpo@shop.example") && last.contains(&id),
            "{last}"
        );
        assert!(
            last.contains("2026-02-02") && !last.contains("lin@example.com"),
            "{last}"
        );
        // Once per threshold, however often the reminders are looked for.
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(smtp.messages().len(), n, "{label}");
        assert_eq!(reminded(3).await.last().map(String::as_str), Some(label));
    }
    // A closed request is not reminded.
    let (_, dpo) = s.operator_with_key("DPO", "dpo").await;
    step(
        &s,
        &dpo,
        &id,
        json!({"step": "reject", "reason": "no_data_held"}),
    )
    .await;
    let sent = smtp.wait_for(4).await.len(); // the refusal's notice to the requester
    clock.advance(SignedDuration::from_hours(24));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(smtp.messages().len(), sent);
}
