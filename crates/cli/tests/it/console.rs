//! The admin console and the privacy center.
//!
//! - Over plain HTTP (always run): enrolment and its bad inputs, sign-in with password and
//!   TOTP, lock-out, replayed codes, the session cookie (flags, tampering, idle timeout,
//!   sign-out), CSRF and cross-site posts, re-authentication, the pages' security headers and
//!   what the audit log records.
//! - In headless Chromium (Debian `chromium` and `chromium-driver`, skipped outside CI when
//!   absent): enrol and sign in with TOTP; every main screen, checked for accessibility basics
//!   and screenshotted to `target/screenshots/console/`; a rights request filed in the privacy
//!   center, verified with the emailed code and completed in the console by two operators;
//!   a notice written and published twice; a discovery proposal reviewed; consent preferences
//!   with a GPC signal.

use std::path::PathBuf;

use custodian_core::clock::{Clock, FixedClock};
use custodian_crypto::totp;
use jiff::SignedDuration;
use reqwest::Method;
use serde_json::json;
use sqlx::AssertSqlSafe;

use crate::harness::{Body, Options, TestServer, fixed_clock};
use crate::smtp::{SmtpServer, code_in};
use crate::webdriver::{Driver, ENTER, Session, TAB, chromedriver};

const PASSWORD: &str = "correct horse battery staple";

/// Where screenshots go (an artifact of the test run).
fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/console")
}

/// The current TOTP code for a base32 secret, after moving the clock past the last step used
/// (each code is good once).
fn fresh_code(clock: &FixedClock, secret: &str) -> String {
    clock.advance(SignedDuration::from_secs(31));
    let key = totp::base32_decode(secret).expect("base32 secret");
    totp::code(&key, totp::step_at(clock.now().as_second()).expect("step"))
}

/// A code that is wrong now (three steps ahead).
fn wrong_code(clock: &FixedClock, secret: &str) -> String {
    let key = totp::base32_decode(secret).expect("base32 secret");
    totp::code(
        &key,
        totp::step_at(clock.now().as_second()).expect("step") + 3,
    )
}

async fn invite(s: &TestServer, operator_id: &str) -> String {
    let r = s
        .call(
            Method::POST,
            &format!("/v1/operators/{operator_id}/console-invitation"),
            Some(&s.admin_key.clone()),
            Body::Json(json!({})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.json["path"].as_str().expect("path").to_owned()
}

// --- Plain HTTP --------------------------------------------------------------------------

/// A browser-like client without JavaScript: cookies kept by hand, redirects not followed.
struct Web {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Web {
    fn new(base: &str) -> Self {
        Self::with(base, reqwest::Client::builder())
    }

    fn with(base: &str, builder: reqwest::ClientBuilder) -> Self {
        Self {
            http: builder
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            cookie: None,
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c.clone());
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        if let Some(f) = form {
            req = req.form(f);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        if let Some(set) = headers.get("set-cookie").and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or("").to_owned();
            if pair.ends_with('=') {
                self.cookie = None;
            } else if pair.starts_with("custodian_session=")
                || pair.starts_with("__Host-custodian_session=")
            {
                self.cookie = Some(pair);
            }
        }
        Page {
            status,
            headers,
            body: resp.text().await.unwrap_or_default(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None, &[]).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form), &[]).await
    }
}

/// The value of the `value` attribute of the input with this id.
fn input_value(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").expect("value attribute") + 7;
    rest[v..].split('"').next().expect("value").to_owned()
}

/// The CSRF token of a console page.
fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().expect("token").to_owned()
}

/// Enrols through the pages (no JavaScript); returns the TOTP secret.
async fn enrol(web: &mut Web, clock: &FixedClock, path: &str, login: &str) -> String {
    let page = web.get(path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let secret = input_value(&page.body, "secret");
    assert!(
        page.body.contains("<img class=\"qr\" src=\"data:image"),
        "a QR code"
    );
    let code = fresh_code(clock, &secret);
    let done = web
        .post(
            path,
            &[
                ("login", login),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), "/console/login?done=enrolled");
    secret
}

async fn sign_in(web: &mut Web, clock: &FixedClock, login: &str, secret: &str) -> Page {
    let code = fresh_code(clock, secret);
    web.post(
        "/console/login",
        &[("login", login), ("password", PASSWORD), ("code", &code)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_sessions_and_csrf_over_http() {
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let (dpo_id, dpo_key) = s.operator_with_key("Dora DPO", "dpo").await;
    let mut web = Web::new(&s.base);

    // Signed out: pages send you to the sign-in form, remembering where you were going.
    let p = web.get("/console/requests?view=overdue").await;
    assert_eq!(p.status, 303);
    assert_eq!(
        p.location(),
        "/console/login?next=/console/requests%3Fview%3Doverdue"
    );
    // A `next` that leaves the console is dropped.
    let p = web.get("/console/login?next=https://evil.example/").await;
    assert_eq!(p.status, 200);
    assert!(!p.body.contains("evil.example"));

    // Security headers on every page; no inline script or style anywhere.
    let csp = p.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for want in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(want), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(p.headers["x-frame-options"], "DENY");
    assert_eq!(p.headers["x-content-type-options"], "nosniff");
    assert!(
        p.headers.get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );
    assert!(
        !p.body.contains("<script>")
            && !p.body.contains(" style=")
            && !p.body.contains(" onclick=")
    );

    // Invitations: only with operator.write; a bad id or an unknown operator is refused.
    let r = s
        .call(
            Method::POST,
            &format!("/v1/operators/{dpo_id}/console-invitation"),
            Some(&dpo_key),
            Body::Json(json!({})),
        )
        .await;
    r.assert_error(403, "access_denied");
    let r = s
        .call(
            Method::POST,
            "/v1/operators/not-an-id/console-invitation",
            Some(&s.admin_key.clone()),
            Body::Json(json!({})),
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let path = invite(&s, &dpo_id).await;
    assert!(path.starts_with("/console/enroll/"));

    // Enrolment refuses bad input, naming the rule, and keeps nothing.
    let page = web.get(&path).await;
    let secret = input_value(&page.body, "secret");
    let good = fresh_code(&clock, &secret);
    for (login, pw, again, code, status, rule) in [
        ("x", PASSWORD, PASSWORD, good.as_str(), 422, "login_format"),
        (
            "dora",
            "tiny-pw",
            "tiny-pw",
            good.as_str(),
            422,
            "password_too_short",
        ),
        (
            "dora",
            PASSWORD,
            "something else entirely",
            good.as_str(),
            422,
            "passwords_differ",
        ),
        (
            "dora",
            "dora-is-my-password",
            "dora-is-my-password",
            good.as_str(),
            422,
            "password_contains_login",
        ),
        ("dora", PASSWORD, PASSWORD, "12345", 422, "totp_code_wrong"),
    ] {
        let p = web
            .post(
                &path,
                &[
                    ("login", login),
                    ("password", pw),
                    ("password_again", again),
                    ("code", code),
                ],
            )
            .await;
        assert_eq!(p.status, status, "{rule}: {}", p.body);
        assert!(p.body.contains(rule), "{rule}");
        assert!(
            !p.body.contains(pw) || pw == PASSWORD,
            "the password is not echoed"
        );
    }
    let p = web.post(&path, &[("login", "dora")]).await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("invalid_form"));
    let secret = enrol(&mut web, &clock, &path, "Dora").await;
    // An invitation works once; a made-up one is no better.
    let p = web.get(&path).await;
    assert_eq!(p.status, 404);
    assert!(p.body.contains("invitation_invalid"));
    let p = web
        .get("/console/enroll/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    assert_eq!(p.status, 404);

    // A second operator cannot take the same login name.
    let (sam_id, sam_key) = s.operator_with_key("Sam Support", "support").await;
    let sam_path = invite(&s, &sam_id).await;
    let page = web.get(&sam_path).await;
    let sam_secret = input_value(&page.body, "secret");
    let code = fresh_code(&clock, &sam_secret);
    let p = web
        .post(
            &sam_path,
            &[
                ("login", "dora"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(p.status, 409, "{}", p.body);
    assert!(p.body.contains("login_taken"));

    // Sign-in: one answer for every failure.
    let wrong = wrong_code(&clock, &secret);
    for (login, pw, code) in [
        ("nobody", PASSWORD, wrong.as_str()),
        ("dora", "wrong password here", wrong.as_str()),
    ] {
        let p = web
            .post(
                "/console/login",
                &[("login", login), ("password", pw), ("code", code)],
            )
            .await;
        assert_eq!(p.status, 401, "{}", p.body);
        assert!(p.body.contains("login_failed"));
        assert!(web.cookie.is_none());
    }
    let p = web.post("/console/login", &[("login", "dora")]).await;
    assert_eq!(p.status, 422);

    // A good sign-in (login names are case-insensitive).
    let p = sign_in(&mut web, &clock, "DORA", &secret).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location(), "/console");
    let set = p.headers["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: no Secure flag");
    let session = web.cookie.clone().expect("session cookie");
    let dash = web.get("/console").await;
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert!(dash.body.contains("Dora DPO"));

    // The same code again is refused (each code works once).
    let key = totp::base32_decode(&secret).unwrap();
    let used = totp::code(&key, totp::step_at(clock.now().as_second()).unwrap());
    let mut other = Web::new(&s.base);
    let p = other
        .post(
            "/console/login",
            &[("login", "dora"), ("password", PASSWORD), ("code", &used)],
        )
        .await;
    assert_eq!(p.status, 401);

    // CSRF: a form without the session's token, with a wrong one, or from another site is
    // refused and changes nothing.
    let token = csrf(&dash.body);
    let before = s
        .call(
            Method::GET,
            "/v1/operators",
            Some(&s.admin_key.clone()),
            Body::None,
        )
        .await;
    for (form, headers) in [
        (vec![("name", "Mallory"), ("role", "admin")], vec![]),
        (
            vec![("name", "Mallory"), ("role", "admin"), ("csrf", "0000")],
            vec![],
        ),
        (
            vec![
                ("name", "Mallory"),
                ("role", "admin"),
                ("csrf", token.as_str()),
            ],
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            vec![
                ("name", "Mallory"),
                ("role", "admin"),
                ("csrf", token.as_str()),
            ],
            vec![("origin", "https://evil.example")],
        ),
    ] {
        let p = web
            .send(Method::POST, "/console/operators", Some(&form), &headers)
            .await;
        assert_eq!(p.status, 403, "{}", p.body);
        assert!(p.body.contains("csrf_failed"));
    }
    let after = s
        .call(
            Method::GET,
            "/v1/operators",
            Some(&s.admin_key.clone()),
            Body::None,
        )
        .await;
    assert_eq!(before.json, after.json, "nothing was written");
    // A form missing a field: 422 in the console's layout, nothing written.
    let p = web
        .post("/console/operators", &[("csrf", &token), ("role", "admin")])
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains("invalid_form") && p.body.contains("Dora DPO"));
    // With the token, from this origin: the action is taken (and authorized as the operator:
    // a DPO may not add operators).
    let p = web
        .send(
            Method::POST,
            "/console/operators",
            Some(&[("name", "Mallory"), ("role", "admin"), ("csrf", &token)]),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location(), "/console/operators?error=access_denied");

    // Approving an erasure needs a sign-in in the last five minutes.
    clock.advance(SignedDuration::from_mins(6));
    let r = s
        .call(
            Method::POST,
            "/v1/rights/requests",
            Some(&sam_key),
            Body::Json(json!({
                "type": "erasure", "jurisdiction": "GDPR", "requester": {"email": "ana@example.com"}
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let erasure = r.json["id"].as_str().unwrap().to_owned();
    for step in ["verify_manually", "submit_for_approval"] {
        let r = s
            .call(
                Method::POST,
                &format!("/v1/rights/requests/{erasure}/steps"),
                Some(&sam_key),
                Body::Json(json!({"step": step})),
            )
            .await;
        assert_eq!(r.status, 200, "{step}: {r:?}");
    }
    let back = format!("/console/requests/{erasure}");
    let p = web
        .post(
            &format!("{back}/step"),
            &[("csrf", &token), ("step", "approve")],
        )
        .await;
    assert_eq!(p.location(), format!("/console/reauth?next={back}"));
    // So do issuing credentials and changing the policies.
    for (path, page) in [
        (
            format!("/console/operators/{sam_id}/keys"),
            "/console/operators",
        ),
        (
            format!("/console/operators/{sam_id}/invite"),
            "/console/operators",
        ),
        ("/console/policies".to_owned(), "/console/policies"),
    ] {
        let p = web.post(&path, &[("csrf", &token), ("text", "")]).await;
        assert_eq!(
            p.location(),
            format!("/console/reauth?next={page}"),
            "{path}"
        );
    }
    let r = s
        .call(
            Method::GET,
            &back.replace("/console/", "/v1/rights/"),
            Some(&dpo_key),
            Body::None,
        )
        .await;
    assert_eq!(r.json["approvals"], json!([]), "not approved");
    let code = fresh_code(&clock, &secret);
    let p = web
        .post(
            "/console/reauth",
            &[
                ("csrf", &token),
                ("password", PASSWORD),
                ("code", &code),
                ("next", &back),
            ],
        )
        .await;
    assert_eq!(p.location(), back);
    let p = web
        .post(
            &format!("{back}/step"),
            &[("csrf", &token), ("step", "approve")],
        )
        .await;
    assert_eq!(p.location(), format!("{back}?done=approve"));
    let r = s
        .call(
            Method::GET,
            &back.replace("/console/", "/v1/rights/"),
            Some(&dpo_key),
            Body::None,
        )
        .await;
    assert_eq!(r.json["approvals_missing"], 1, "{r:?}");

    // Exporting evidence needs a sign-in in the last five minutes.
    clock.advance(SignedDuration::from_mins(6));
    let p = web.post("/console/evidence", &[("csrf", &token)]).await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location(), "/console/reauth?next=/console");
    let wrong = wrong_code(&clock, &secret);
    let p = web
        .post(
            "/console/reauth",
            &[
                ("csrf", &token),
                ("password", PASSWORD),
                ("code", &wrong),
                ("next", "/console"),
            ],
        )
        .await;
    assert_eq!(
        p.location(),
        "/console/reauth?error=login_failed&next=/console"
    );
    let code = fresh_code(&clock, &secret);
    let p = web
        .post(
            "/console/reauth",
            &[
                ("csrf", &token),
                ("password", PASSWORD),
                ("code", &code),
                ("next", "/console"),
            ],
        )
        .await;
    assert_eq!(p.location(), "/console");
    let p = web.post("/console/evidence", &[("csrf", &token)]).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.headers["content-type"], "application/zip");

    // A tampered cookie is no session.
    let mut forged = Web::new(&s.base);
    let parts: Vec<&str> = session.split('.').collect();
    forged.cookie = Some(format!(
        "{}.{}.{}",
        parts[0],
        1_767_225_600_000i64 + 999,
        parts[2]
    ));
    assert_eq!(forged.get("/console").await.status, 303);

    // Idle for 30 minutes: signed out.
    clock.advance(SignedDuration::from_mins(31));
    let p = web.get("/console").await;
    assert_eq!(p.status, 303);
    assert!(web.cookie.is_none(), "the stale cookie is cleared");

    // Sign out ends the session in the store: a copy of the cookie stops working too.
    let p = sign_in(&mut web, &clock, "dora", &secret).await;
    assert_eq!(p.status, 303);
    let copy = web.cookie.clone();
    let dash = web.get("/console").await;
    let p = web
        .post("/console/logout", &[("csrf", &csrf(&dash.body))])
        .await;
    assert_eq!(p.location(), "/console/login?done=signed_out");
    let mut thief = Web::new(&s.base);
    thief.cookie = copy;
    assert_eq!(thief.get("/console").await.status, 303);

    // Five wrong sign-ins lock the account for 15 minutes, even for the right password.
    for _ in 0..5 {
        let wrong = wrong_code(&clock, &secret);
        let p = web
            .post(
                "/console/login",
                &[("login", "dora"), ("password", PASSWORD), ("code", &wrong)],
            )
            .await;
        assert_eq!(p.status, 401);
    }
    // Locked: even the right password and code get the answer every failure gets (a lock
    // must not tell that a login exists).
    let p = sign_in(&mut web, &clock, "dora", &secret).await;
    assert_eq!(p.status, 401, "{}", p.body);
    assert!(p.body.contains("login_failed"));
    clock.advance(SignedDuration::from_mins(15));
    let p = sign_in(&mut web, &clock, "dora", &secret).await;
    assert_eq!(p.status, 303, "{}", p.body);

    // Enrolling again (a lost phone) ends the operator's open sessions.
    assert_eq!(web.get("/console").await.status, 200);
    // The link is opened in the same browser, with the session live: no CSRF token needed.
    let stale = invite(&s, &dpo_id).await;
    let again = invite(&s, &dpo_id).await;
    assert_eq!(
        web.get(&stale).await.status,
        404,
        "a new invitation replaces the older one"
    );
    enrol(&mut web, &clock, &again, "dora").await;
    assert_eq!(web.get("/console").await.status, 303);

    // The audit log has every sign-in, failure, re-authentication, sign-out and enrolment,
    // with operator ids only: no login name, password or code.
    let audit = s.audit_text().await;
    for action in [
        "console.invite",
        "console.enroll",
        "console.login",
        "console.reauth",
        "console.logout",
    ] {
        assert!(audit.contains(action), "{action} missing");
    }
    assert!(
        !audit.contains(PASSWORD) && !audit.contains("\"dora\""),
        "no secret in the audit log"
    );
}

#[tokio::test]
async fn the_privacy_center_is_branded_and_takes_requests_without_javascript() {
    let logo = b"<svg xmlns='http://www.w3.org/2000/svg' width='8' height='8'/>".to_vec();
    let brand = custodian_server::console::Brand::new(
        Some("Acme Privacy".into()),
        Some("#FFD700".into()),
        Some(("acme.svg", logo.clone())),
    )
    .expect("brand");
    let s = TestServer::start_with(Options {
        brand,
        ..Options::default()
    })
    .await;
    let mut web = Web::new(&s.base);
    let home = web.get("/privacy").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Acme Privacy"));
    assert!(
        home.body
            .contains("href=\"&#x2f;privacy&#x2f;brand&#x2f;brand.css\"")
            || home.body.contains("href=\"/privacy/brand/brand.css\"")
    );
    assert!(home.body.contains("class=\"logo\""));
    // Gold is light: text on it is black (contrast 14.9:1 rather than 1.4:1 for white).
    let css = web.get("/privacy/brand/brand.css").await;
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(
        css.body.contains("--accent: #ffd700") && css.body.contains("--accent-ink: #000000"),
        "{}",
        css.body
    );
    let l = web.get("/privacy/brand/logo").await;
    assert_eq!(l.status, 200);
    assert_eq!(l.headers["content-type"], "image/svg+xml");
    assert!(
        l.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(l.body.as_bytes(), logo.as_slice());
    // Another site cannot submit the privacy center's forms in a visitor's name.
    let p = web
        .send(
            Method::POST,
            "/privacy/preferences",
            Some(&[("purpose:x", "given")]),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("csrf_failed"));
    // A request without JavaScript: an opt-out starts at once and can be withdrawn.
    let p = web
        .post(
            "/privacy/request",
            &[("request_type", "opt_out_sale"), ("jurisdiction", "CCPA")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let status = p.location().split('?').next().unwrap().to_owned();
    assert!(status.starts_with("/privacy/requests/rr_"), "{status}");
    let page = web.get(&status).await;
    assert!(page.body.contains("in progress") && page.body.contains("Withdraw this request"));
    let p = web.post(&format!("{status}/withdraw"), &[]).await;
    assert_eq!(p.location(), format!("{status}?done=withdrawn"));
    let page = web.get(&status).await;
    assert!(page.body.contains("withdrawn") && !page.body.contains("Withdraw this request"));
    // Bad input: refused with the rule, nothing filed; an unknown request is a 404 page.
    let p = web
        .post(
            "/privacy/request",
            &[("request_type", "everything"), ("jurisdiction", "CCPA")],
        )
        .await;
    assert!(
        p.location().starts_with("/privacy/request?error="),
        "{}",
        p.location()
    );
    let p = web
        .post("/privacy/request", &[("request_type", "access")])
        .await;
    assert_eq!(p.location(), "/privacy/request?error=invalid_form");
    let p = web
        .get("/privacy/requests/rr_00000000000000000000000000000000")
        .await;
    assert_eq!(p.status, 404);
    let p = web.get("/privacy/request?error=invalid_form").await;
    assert!(p.body.contains("invalid_form"));
    // Without a brand: the data map's name, no stylesheet, no logo.
    let plain = TestServer::start().await;
    let mut web = Web::new(&plain.base);
    let home = web.get("/privacy").await;
    assert!(!home.body.contains("brand.css") && !home.body.contains("class=\"logo\""));
    assert_eq!(web.get("/privacy/brand/logo").await.status, 404);
    assert_eq!(web.get("/privacy/assets/nothing.js").await.status, 404);
}

// --- In the browser ------------------------------------------------------------------------

/// Problems a person with a screen reader or a keyboard would meet on the page: form controls
/// without a label, images without alternative text, no or several `h1`, no `lang`, buttons
/// without a name, inline scripts, styles or handlers (which the CSP would block), and whether
/// htmx loaded under the CSP.
const A11Y: &str = r#"
const problems = [];
document.querySelectorAll('input:not([type=hidden]), select, textarea').forEach(el => {
  if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) problems.push('unlabelled ' + (el.name || el.id));
});
document.querySelectorAll('img').forEach(el => { if (!el.alt) problems.push('image without alt'); });
if (document.querySelectorAll('h1').length !== 1) problems.push('h1 count ' + document.querySelectorAll('h1').length);
if (!document.documentElement.lang) problems.push('no lang');
document.querySelectorAll('button, a').forEach(el => { if (!(el.textContent.trim() || el.getAttribute('aria-label'))) problems.push('nameless ' + el.tagName); });
if (document.querySelectorAll('script:not([src])').length) problems.push('inline script');
if (document.querySelectorAll('[style]').length) problems.push('inline style');
document.querySelectorAll('*').forEach(el => { for (const a of el.attributes) if (a.name.startsWith('on')) problems.push('inline handler ' + a.name); });
if (!document.querySelector('main')) problems.push('no main landmark');
return problems;
"#;

async fn check_page(b: &Session, name: &str) {
    let problems = b.js(A11Y).await;
    assert_eq!(problems, json!([]), "{name}: {problems}");
    b.screenshot(&shots().join(format!("{name}.png"))).await;
}

async fn path_is(b: &Session, path: &str) {
    b.wait_for(&format!("location.pathname === {}", json!(path)))
        .await;
}

async fn text_of(b: &Session, css: &str) -> String {
    b.wait_for(&format!("document.querySelector({})", json!(css)))
        .await;
    b.js(&format!(
        "return document.querySelector({}).textContent.trim();",
        json!(css)
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Enrols in the browser; returns the secret the page showed.
async fn browser_enrol(
    b: &Session,
    base: &str,
    clock: &FixedClock,
    path: &str,
    login: &str,
    shot: Option<&str>,
) -> String {
    b.go(&format!("{base}{path}")).await;
    let secret = b
        .wait_for("document.getElementById('secret') && document.getElementById('secret').value")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    if let Some(name) = shot {
        check_page(b, name).await;
    }
    b.type_into("#login", login).await;
    b.type_into("#password", PASSWORD).await;
    b.type_into("#password_again", PASSWORD).await;
    b.type_into("#code", &fresh_code(clock, &secret)).await;
    b.click("main button[type=submit]").await;
    path_is(b, "/console/login").await;
    assert!(text_of(b, ".flash.ok").await.contains("enrolled"));
    secret
}

async fn browser_sign_in(b: &Session, base: &str, clock: &FixedClock, login: &str, secret: &str) {
    b.go(&format!("{base}/console/login")).await;
    b.type_into("#login", login).await;
    b.type_into("#password", PASSWORD).await;
    b.type_into("#code", &fresh_code(clock, secret)).await;
    b.click("main button[type=submit]").await;
    path_is(b, "/console").await;
}

async fn browser_sign_out(b: &Session) {
    b.click("form.who button").await;
    path_is(b, "/console/login").await;
}

/// Clicks a submit button, then waits for the answer's page (its `done` or `error`).
async fn submit(b: &Session, css: &str) -> String {
    b.js("window.__old = document.body; return true;").await;
    b.click(css).await;
    b.wait_for("document.readyState === 'complete' && document.body !== window.__old")
        .await;
    b.js("return location.pathname + location.search;")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_privacy_center_in_a_browser() {
    let Some(bin) = chromedriver() else { return };
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let shop = format!("sqlite://{}?mode=rwc", dir.path().join("shop.db").display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&shop).await.expect("connect");
    for sql in crate::discovery::schema() {
        sqlx::query(AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("schema");
    }
    pool.close().await;
    let clock = fixed_clock();
    let mut connections = std::collections::BTreeMap::new();
    connections.insert("shop".to_owned(), shop.clone());
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        smtp: Some(smtp.config()),
        dataset_connections: connections,
        ..Options::default()
    })
    .await;
    let admin = s.admin_key.clone();
    let base = s.base.clone();
    // The data map (from the example), a dataset with a scan's proposals waiting for review.
    let acme = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/map/acme.yml"
    ))
    .expect("example map");
    let r = s
        .call(
            Method::POST,
            "/v1/map:import",
            Some(&admin),
            Body::Raw("application/yaml", acme),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s
        .call(
            Method::PUT,
            "/v1/datasets/shop",
            Some(&admin),
            Body::Raw(
                "application/json",
                crate::discovery::DECLARED.as_bytes().to_vec(),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let (dora_id, dora_key) = s.operator_with_key("Dora DPO", "dpo").await;
    let (sam_id, _) = s.operator_with_key("Sam Support", "support").await;
    let r = s
        .call(
            Method::POST,
            "/v1/datasets/shop/scan",
            Some(&dora_key),
            Body::Json(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    let driver = Driver::start(&bin).await;
    let staff = driver.session().await;

    // Enrol with an authenticator app, then sign in with a code; a wrong code is refused.
    let dora_path = invite(&s, &dora_id).await;
    let dora = browser_enrol(&staff, &base, &clock, &dora_path, "dora", Some("enroll")).await;
    staff.type_into("#login", "dora").await;
    staff.type_into("#password", PASSWORD).await;
    staff.type_into("#code", &wrong_code(&clock, &dora)).await;
    check_page(&staff, "login").await;
    staff.click("main button[type=submit]").await;
    assert!(
        text_of(&staff, ".flash.error .code")
            .await
            .contains("login_failed")
    );
    browser_sign_in(&staff, &base, &clock, "dora", &dora).await;
    assert_eq!(text_of(&staff, "h1").await, "Dashboard");
    assert!(
        staff.js("return typeof window.htmx === 'object';").await == true,
        "htmx runs under the CSP"
    );
    check_page(&staff, "dashboard").await;

    // A course and a vendor, so those screens have something to show and do.
    let r = s
        .call(
            Method::PUT,
            "/v1/training/courses/privacy-basics",
            Some(&admin),
            Body::Json(json!({
                "title": "Privacy basics", "validity_days": 365, "required_for": ["dpo", "support"]
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = s
        .call(
            Method::PUT,
            "/v1/vendors/bi",
            Some(&dora_key),
            Body::Json(json!({
                "name": "BI tool", "risk": "low", "role": "controller"
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");

    // Every main screen opens for the DPO and passes the checks.
    for (path, title) in [
        ("/console/requests", "Rights requests"),
        ("/console/consent", "Consent"),
        ("/console/map", "Data map"),
        ("/console/vault", "Vault schema"),
        ("/console/audit", "Audit log"),
        ("/console/incidents", "Incidents"),
        ("/console/vendors", "Vendors and DPIAs"),
        ("/console/training", "Training"),
        ("/console/retention", "Retention"),
        ("/console/discovery", "Discovery"),
        ("/console/policies", "Policies"),
    ] {
        staff.go(&format!("{base}{path}")).await;
        if staff
            .js("return document.querySelector('h1') === null;")
            .await
            == true
        {
            let html = staff.js("return document.documentElement.outerHTML;").await;
            panic!("{path}: {html}");
        }
        assert_eq!(text_of(&staff, "h1").await, title, "{path}");
        let errors = staff
            .js("return document.querySelectorAll('.flash.error').length;")
            .await;
        assert_eq!(errors, 0, "{path} shows an error");
        check_page(&staff, path.trim_start_matches("/console/")).await;
    }
    // Training and vendor reviews are recorded from their screens.
    staff.go(&format!("{base}/console/training")).await;
    staff.click("details summary").await;
    staff
        .js(&format!(
            "document.getElementById('operator_id').value = {}; return true;",
            json!(dora_id)
        ))
        .await;
    let to = submit(&staff, "details form button").await;
    assert_eq!(to, "/console/training?done=completion_recorded");
    assert!(
        text_of(&staff, "main").await.contains("1 of"),
        "the DPO is current now"
    );
    staff.go(&format!("{base}/console/vendors")).await;
    staff.type_into("#notes-bi", "Reviewed the DPA").await;
    let to = submit(&staff, "form[action='/console/vendors/bi/reviews'] button").await;
    assert_eq!(to, "/console/vendors?done=review_recorded");
    check_page(&staff, "vendors-reviewed").await;
    // The map's policy check runs from the page.
    staff.go(&format!("{base}/console/map")).await;
    submit(&staff, "button[value=check]").await;
    assert!(
        text_of(&staff, "#check-results h2")
            .await
            .starts_with("Policy check")
    );
    check_page(&staff, "map-check").await;
    // The audit viewer filters (htmx swaps the rows in place).
    staff.go(&format!("{base}/console/audit")).await;
    staff.type_into("#action", "console.login").await;
    staff.click(".filters button").await;
    staff
        .wait_for("[...document.querySelectorAll('#audit-rows tbody tr code')].length > 0 && [...document.querySelectorAll('#audit-rows tbody tr code')].every(c => c.textContent === 'console.login')")
        .await;
    staff.type_into("#actor", "dora").await;
    staff.click(".filters button").await;
    staff
        .wait_for("[...document.querySelectorAll('#audit-rows tbody tr')].length > 0 && [...document.querySelectorAll('#audit-rows tbody tr')].every(r => r.textContent.includes('Dora DPO'))")
        .await;
    check_page(&staff, "audit-filtered").await;

    // Reviewing a discovery proposal writes the category into the dataset's declaration.
    staff.go(&format!("{base}/console/discovery")).await;
    let column = staff
        .js("const r = [...document.querySelectorAll('tbody tr[id^=proposal-]')].find(r => r.textContent.includes('shop.t_cust.c1')); return r && r.id;")
        .await;
    let row = column
        .as_str()
        .expect("a proposal for t_cust.c1")
        .to_owned();
    let to = submit(&staff, &format!("#{row} button:not(.danger)")).await;
    assert_eq!(to, "/console/discovery?done=accepted");
    let declared = s
        .call(Method::GET, "/v1/datasets/shop", Some(&admin), Body::None)
        .await;
    assert!(
        declared.json.to_string().contains("user.contact.email"),
        "{}",
        declared.json
    );
    check_page(&staff, "discovery-reviewed").await;

    // A purpose and its notice, written and published twice in the notice editor.
    staff.go(&format!("{base}/console/consent")).await;
    staff.type_into("#key", "newsletter").await;
    staff.type_into("#name", "Newsletter").await;
    staff
        .type_into("#description", "News about our shop, by email.")
        .await;
    staff
        .type_into("#data_uses", "marketing.communications.email")
        .await;
    staff
        .type_into("#data_categories", "user.contact.email")
        .await;
    staff.type_into("#notice", "privacy").await;
    let to = submit(&staff, "details form button[type=submit]").await;
    assert_eq!(to, "/console/consent/purposes/newsletter?done=saved");
    staff.type_into("#title", "How we use your email").await;
    staff
        .type_into("#body", "We send one newsletter a month.")
        .await;
    let to = submit(&staff, "#notice-editor button").await;
    assert_eq!(to, "/console/consent/purposes/newsletter?done=published");
    staff
        .type_into(
            "#body",
            "We send one newsletter a month, and never share your address.",
        )
        .await;
    submit(&staff, "#notice-editor button").await;
    let versions = staff
        .js("return document.querySelectorAll('main table tbody tr').length;")
        .await;
    assert_eq!(versions, 2);
    check_page(&staff, "notice-editor").await;
    let r = s
        .call(
            Method::GET,
            "/v1/notices/privacy/versions",
            Some(&admin),
            Body::None,
        )
        .await;
    assert_eq!(r.json.as_array().map(Vec::len), Some(2), "{r:?}");
    // A bad purpose is refused with the rule named, and nothing is written.
    staff.go(&format!("{base}/console/consent")).await;
    staff.click("details summary").await;
    staff.type_into("#key", "bad").await;
    staff.type_into("#name", "Bad").await;
    staff.type_into("#data_uses", "not.a.use").await;
    let to = submit(&staff, "details form button[type=submit]").await;
    assert!(to.starts_with("/console/consent?error="), "{to}");
    browser_sign_out(&staff).await;

    // A customer: the privacy center, a request, the emailed code, preferences with GPC.
    let customer = driver.session().await;
    customer.go(&format!("{base}/privacy")).await;
    assert!(
        text_of(&customer, "main")
            .await
            .contains("How we use your email")
    );
    assert!(
        text_of(&customer, "main").await.contains("Fulfil orders"),
        "processing from the data map"
    );
    check_page(&customer, "privacy-home").await;
    customer
        .go(&format!("{base}/privacy/notices/privacy"))
        .await;
    assert_eq!(
        customer
            .js("return document.querySelectorAll('article.notice').length;")
            .await,
        2
    );
    check_page(&customer, "privacy-notice-history").await;
    customer.go(&format!("{base}/privacy/request")).await;
    check_page(&customer, "privacy-request").await;
    customer.click("#t-access").await;
    customer.type_into("#email", "ana@example.com").await;
    customer.type_into("#name", "Ana Example").await;
    let to = submit(&customer, "main form button[type=submit]").await;
    assert!(to.starts_with("/privacy/requests/rr_"), "{to}");
    let request_id = to
        .trim_start_matches("/privacy/requests/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(text_of(&customer, "#request-state").await, "verifying");
    check_page(&customer, "privacy-status").await;
    let mail = smtp.wait_for(1).await;
    customer.type_into("#code", &code_in(&mail[0])).await;
    let to = submit(&customer, "form[action$='/verify'] button").await;
    assert!(to.ends_with("done=verified"), "{to}");
    assert_eq!(text_of(&customer, "#request-state").await, "in progress");

    customer.go(&format!("{base}/privacy/preferences")).await;
    customer.click("#newsletter-given").await;
    let to = submit(&customer, "main form button:not([name])").await;
    assert_eq!(to, "/privacy/preferences?done=saved");
    assert_eq!(text_of(&customer, "#state-newsletter").await, "given");
    // The same visitor sends GPC: the page says so.
    customer.cdp("Network.enable", json!({})).await;
    customer
        .cdp(
            "Network.setExtraHTTPHeaders",
            json!({"headers": {"Sec-GPC": "1"}}),
        )
        .await;
    customer.reload().await;
    customer
        .wait_for("document.getElementById('gpc-notice')")
        .await;
    check_page(&customer, "privacy-preferences").await;
    // Withdrawing is as easy as giving.
    let to = submit(&customer, "button[name=withdraw_all]").await;
    assert_eq!(to, "/privacy/preferences?done=saved");
    assert_eq!(text_of(&customer, "#state-newsletter").await, "withdrawn");

    // Support works the request: it is in the queue, and goes for approval.
    let sam_path = invite(&s, &sam_id).await;
    let sam = browser_enrol(&staff, &base, &clock, &sam_path, "sam", None).await;
    // Signing in by keyboard alone: the fields come in order, Enter submits.
    staff.go(&format!("{base}/console/login")).await;
    staff.tab_to("#login").await;
    staff.keys("sam").await;
    staff.press(TAB).await;
    assert_eq!(staff.focused().await, "password");
    staff.keys(PASSWORD).await;
    staff.press(TAB).await;
    assert_eq!(staff.focused().await, "code");
    staff.keys(&fresh_code(&clock, &sam)).await;
    staff.press(ENTER).await;
    path_is(&staff, "/console").await;
    staff.go(&format!("{base}/console/requests")).await;
    staff
        .wait_for(&format!(
            "document.querySelector('a[href=\"/console/requests/{request_id}\"]')"
        ))
        .await;
    check_page(&staff, "requests-queue").await;
    staff
        .click(&format!("a[href=\"/console/requests/{request_id}\"]"))
        .await;
    path_is(&staff, &format!("/console/requests/{request_id}")).await;
    // The requester's identity opens on demand (audited).
    staff.click("a[href$='identity=1']").await;
    assert!(text_of(&staff, "main").await.contains("ana@example.com"));
    let to = submit(&staff, "input[value=submit_for_approval] ~ button").await;
    assert!(to.ends_with("done=submit_for_approval"), "{to}");
    assert_eq!(text_of(&staff, "h2 .state").await, "awaiting approval");
    // The one who submitted cannot approve (and support may not approve at all).
    browser_sign_out(&staff).await;

    // The DPO approves and completes it; the export link goes to the requester.
    browser_sign_in(&staff, &base, &clock, "dora", &dora).await;
    staff
        .go(&format!("{base}/console/requests/{request_id}"))
        .await;
    let to = submit(&staff, "input[value=approve] ~ button").await;
    assert!(to.ends_with("done=approve"), "{to}");
    // Systems of the data map without a connection become manual tasks first.
    let to = submit(&staff, "input[value=complete] ~ button").await;
    assert!(to.ends_with("error=manual_tasks_open"), "{to}");
    check_page(&staff, "request-manual-tasks").await;
    loop {
        let open = staff
            .js("const i = document.querySelector('input[name=evidence]'); return i && i.id;")
            .await;
        let Some(id) = open.as_str().map(str::to_owned) else {
            break;
        };
        staff
            .type_into(&format!("#{id}"), "Exported the customer's rows by hand")
            .await;
        let to = submit(&staff, &format!("#{id} ~ button")).await;
        assert!(to.ends_with("done=task_updated"), "{to}");
    }
    let to = submit(&staff, "input[value=complete] ~ button").await;
    assert!(to.ends_with("done=complete"), "{to}");
    assert_eq!(text_of(&staff, "h2 .state").await, "completed");
    check_page(&staff, "request-completed").await;
    let r = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{request_id}"),
            Some(&dora_key),
            Body::None,
        )
        .await;
    assert_eq!(r.json["state"], "completed", "{r:?}");
    let mail = smtp.wait_for(2).await;
    assert!(
        mail.iter()
            .any(|m| m.contains("/v1/privacy-center/exports/") || m.contains("download")),
        "an export link was mailed"
    );
    customer
        .go(&format!("{base}/privacy/requests/{request_id}"))
        .await;
    assert_eq!(text_of(&customer, "#request-state").await, "completed");

    // The DPO may not invite operators (operator.write is the admin's): refused, nothing made.
    staff.go(&format!("{base}/console/operators")).await;
    let denied = staff
        .js("return document.querySelector('h1') && document.querySelector('h1').textContent;")
        .await;
    if denied == "Operators and keys" {
        let to = submit(&staff, "td.actions form button").await;
        assert!(to.contains("error=access_denied"), "{to}");
    }
    browser_sign_out(&staff).await;

    // The administrator: operators, keys and invitations.
    let me = s
        .call(Method::GET, "/v1/me", Some(&admin), Body::None)
        .await;
    let admin_id = me.json["operator"]["id"]
        .as_str()
        .expect("admin id")
        .to_owned();
    let admin_path = invite(&s, &admin_id).await;
    let root = browser_enrol(&staff, &base, &clock, &admin_path, "root", None).await;
    browser_sign_in(&staff, &base, &clock, "root", &root).await;
    staff.go(&format!("{base}/console/operators")).await;
    assert_eq!(text_of(&staff, "h1").await, "Operators and keys");
    assert!(
        text_of(&staff, "main").await.contains("dora"),
        "enrolment shown"
    );
    check_page(&staff, "operators").await;
    let to = submit(
        &staff,
        &format!("form[action='/console/operators/{sam_id}/invite'] button"),
    )
    .await;
    assert_eq!(to, format!("/console/operators/{sam_id}/invite"));
    let link = staff
        .js("return document.getElementById('secret').value;")
        .await;
    assert!(
        link.as_str()
            .is_some_and(|l| l.starts_with("/console/enroll/")),
        "{link}"
    );
    check_page(&staff, "invitation").await;
}

/// Security keys: added on the Account screen with Chrome's virtual authenticator (WebDriver's
/// WebAuthn extension), then used to sign in instead of a code; a forged assertion is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_keys_sign_in_in_a_browser() {
    let Some(bin) = chromedriver() else { return };
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    // WebAuthn needs a host name: an RP id cannot be an IP address.
    let base = s.base.replace("127.0.0.1", "localhost");
    let (dora_id, _) = s.operator_with_key("Dora DPO", "dpo").await;
    let driver = Driver::start(&bin).await;
    let b = driver.session().await;
    let added = b
        .cmd(
            Method::POST,
            "/webauthn/authenticator",
            Some(json!({
                "protocol": "ctap2", "transport": "usb", "hasResidentKey": false,
                "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true
            })),
        )
        .await;
    assert!(added.as_str().is_some(), "{added}");
    let path = invite(&s, &dora_id).await;
    let secret = browser_enrol(&b, &base, &clock, &path, "dora", None).await;
    browser_sign_in(&b, &base, &clock, "dora", &secret).await;

    // Add a key on the Account screen.
    b.go(&format!("{base}/console/account")).await;
    b.type_into("#key-name", "Desk key").await;
    let to = submit(&b, "#add-key button").await;
    assert_eq!(to, "/console/account?done=key_added");
    assert!(text_of(&b, "main table").await.contains("Desk key"));
    check_page(&b, "account").await;
    browser_sign_out(&b).await;

    // Sign in with password and the key: no code typed.
    b.type_into("#login", "dora").await;
    b.type_into("#password", PASSWORD).await;
    b.wait_for("!document.querySelector('[data-security-key-login]').hidden")
        .await;
    b.click("[data-security-key-login] button").await;
    path_is(&b, "/console").await;
    assert_eq!(text_of(&b, "h1").await, "Dashboard");
    // An unknown login gets no key to use: the page says so.
    b.click("form.who button").await;
    path_is(&b, "/console/login").await;
    b.type_into("#login", "nobody").await;
    b.click("[data-security-key-login] button").await;
    b.wait_for("document.querySelector('[data-security-key-status]').textContent.includes('no security key')")
        .await;

    // A forged assertion (any fields) is one more failed sign-in.
    let mut web = Web::new(&s.base.replace("127.0.0.1", "localhost"));
    let p = web
        .post(
            "/console/login",
            &[
                ("login", "dora"),
                ("password", PASSWORD),
                ("wa_token", "x.1.y"),
                ("wa_id", "AAAA"),
                ("wa_client_data", "e30"),
                ("wa_auth_data", "AAAA"),
                ("wa_signature", "AAAA"),
            ],
        )
        .await;
    assert_eq!(p.status, 401, "{}", p.body);
    // Over an IP address there is no relying party: the options are refused.
    let mut ip = Web::new(&s.base);
    let p = ip
        .post("/console/webauthn/login-options", &[("login", "dora")])
        .await;
    assert_eq!(p.status, 422, "{}", p.body);

    let audit = s.audit_text().await;
    assert!(audit.contains("console.security_key.add"));
    assert!(
        !audit.contains("Desk key"),
        "key names stay out of the audit log"
    );
}

/// Two servers over one PostgreSQL database: a session begun on one serves on the other, and
/// signing out on either ends it on both (sessions live in the database; the cookie's MAC key
/// comes from the shared vault root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sessions_span_servers_over_postgres() {
    let Some(url) = crate::harness::pg_url() else {
        return;
    };
    let db = crate::harness::PgDb::create(&url).await;
    let clock = fixed_clock();
    let a = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let b = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        data_dir: Some(a.data_dir.clone()),
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let (dora_id, _) = a.operator_with_key("Dora DPO", "dpo").await;
    let mut on_a = Web::new(&a.base);
    let path = invite(&a, &dora_id).await;
    let secret = enrol(&mut on_a, &clock, &path, "dora").await;
    let p = sign_in(&mut on_a, &clock, "dora", &secret).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let mut on_b = Web::new(&b.base);
    on_b.cookie = on_a.cookie.clone();
    let dash = on_b.get("/console").await;
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert!(dash.body.contains("Dora DPO"));
    // The code used on A cannot be used again on B.
    let key = totp::base32_decode(&secret).unwrap();
    let used = totp::code(&key, totp::step_at(clock.now().as_second()).unwrap());
    let mut other = Web::new(&b.base);
    let p = other
        .post(
            "/console/login",
            &[("login", "dora"), ("password", PASSWORD), ("code", &used)],
        )
        .await;
    assert_eq!(p.status, 401);
    // Signing out on B ends the session on A.
    let p = on_b
        .post("/console/logout", &[("csrf", &csrf(&dash.body))])
        .await;
    assert_eq!(p.location(), "/console/login?done=signed_out");
    assert_eq!(on_a.get("/console").await.status, 303);
    drop((a, b));
    drop(db);
}

/// Under TLS: HSTS on every page, and the session cookie `Secure` with the `__Host-` prefix.
#[tokio::test]
async fn over_tls_pages_send_hsts_and_cookies_are_host_only_and_secure() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("cert");
    let (cert_path, key_path) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).expect("write key");
    let clock = fixed_clock();
    let s = TestServer::start_with(Options {
        tls: Some(custodian_server::TlsFiles {
            cert: cert_path,
            key: key_path,
        }),
        fixed_clock: Some(clock.clone()),
        ..Options::default()
    })
    .await;
    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("root");
    let mut web = Web::with(
        &s.base,
        reqwest::Client::builder().add_root_certificate(root),
    );
    let p = web.get("/privacy").await;
    assert_eq!(p.status, 200);
    assert_eq!(
        p.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    // The harness's client does not trust this certificate: the API through this one.
    let api = |path: &str, body: serde_json::Value| {
        web.http
            .post(format!("{}{path}", s.base))
            .bearer_auth(&s.admin_key)
            .json(&body)
            .send()
    };
    let op: serde_json::Value = api("/v1/operators", json!({"name": "Dora DPO", "role": "dpo"}))
        .await
        .expect("create operator")
        .json()
        .await
        .expect("json");
    let dora_id = op["id"].as_str().expect("id").to_owned();
    let inv: serde_json::Value = api(
        &format!("/v1/operators/{dora_id}/console-invitation"),
        json!({}),
    )
    .await
    .expect("invite")
    .json()
    .await
    .expect("json");
    let path = inv["path"].as_str().expect("path").to_owned();
    let secret = enrol(&mut web, &clock, &path, "dora").await;
    let p = sign_in(&mut web, &clock, "dora", &secret).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let set = p.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-custodian_session="), "{set}");
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    let dash = web.get("/console").await;
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert!(dash.headers.contains_key("strict-transport-security"));
}
