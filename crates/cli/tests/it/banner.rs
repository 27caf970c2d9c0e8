//! The consent banner in a real browser: headless Chromium driven over W3C WebDriver
//! (chromedriver, spoken to with `reqwest`), on a host page served from another origin than
//! Custodian, so CORS is exercised as on a customer's site. The ledger is read back through
//! the admin API. Also: the script's size budget and its caching headers.
//!
//! Chromium and chromedriver come from the Debian packages `chromium` and `chromium-driver`;
//! the browser tests are skipped when `chromedriver` is not on `PATH`, unless `CI` is set.

use std::process::Command;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Body, TestServer};
use crate::webdriver::{Driver, ENTER, ESCAPE, SPACE, Session, chromedriver};

/// The script as built into the server.
const SCRIPT: &str = include_str!("../../../server/assets/banner.js");
const SCRIPT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/assets/banner.js");
/// The budget: 15 KB, minified and gzipped (held here without minifying).
const BUDGET: usize = 15 * 1024;

// --- Custodian setup -----------------------------------------------------------------------

async fn define_purposes(s: &TestServer) {
    let admin = s.admin_key.clone();
    for (key, body) in [
        (
            "analytics",
            json!({
                "names": {"en": "Analytics"},
                "descriptions": {"en": "Counting visits to improve the site."},
                "legal_basis": "consent", "consent": "opt_in",
                "jurisdictions": ["EU"], "notice": "privacy", "validity_days": 365
            }),
        ),
        (
            "ads",
            json!({
                "names": {"en": "Advertising partners"},
                "descriptions": {"en": "Sharing visits with ad partners."},
                "legal_basis": "legitimate_interests", "consent": "opt_out",
                "opt_out_kinds": ["sale", "targeted_advertising"],
                "jurisdictions": ["US-CA"], "notice": "privacy"
            }),
        ),
    ] {
        let r = s
            .call(
                Method::PUT,
                &format!("/v1/purposes/{key}"),
                Some(&admin),
                Body::Json(body),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
}

async fn publish_notice(s: &TestServer, title: &str, body: &str, expect_version: i64) {
    let admin = s.admin_key.clone();
    let r = s
        .call(
            Method::POST,
            "/v1/notices/privacy/versions",
            Some(&admin),
            Body::Json(json!({"texts": {"en": {
                "title": title, "body": body, "url": "https://example.com/privacy"
            }}})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json["version"], expect_version, "{r:?}");
}

/// One ledger record, as the test compares them: (purpose, state, method, notice version).
type Rec = (String, String, String, Option<i64>);

async fn ledger(s: &TestServer, visitor: &str) -> Vec<Rec> {
    let r = s
        .get(&format!("/v1/consent/subjects/{visitor}/events"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.json["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["purpose"].as_str().unwrap_or_default().to_owned(),
                e["state"].as_str().unwrap_or_default().to_owned(),
                e["method"].as_str().unwrap_or_default().to_owned(),
                e["notice"]["version"].as_i64(),
            )
        })
        .collect()
}

fn rec(purpose: &str, state: &str, method: &str, version: Option<i64>) -> Rec {
    (purpose.into(), state.into(), method.into(), version)
}

// --- The host page, on its own origin ------------------------------------------------------

/// A one-page HTTP server on another port: the customer's site.
struct HostPage {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl HostPage {
    async fn start(custodian: &str) -> Self {
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>\
             <script>window.__ev=[];document.addEventListener('custodian:consent',\
             function(e){{window.__ev.push(e.detail)}});</script>\
             <script src=\"{custodian}/v1/public/banner.js\" data-lang=\"en\"></script>\
             </head><body><h1>A shop</h1><p><a href=\"#top\">A link on the page</a></p>\
             </body></html>"
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let html = html.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let (status, body) = if buf.starts_with(b"GET / ") {
                        ("200 OK", html)
                    } else {
                        ("404 Not Found", String::new())
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\n\
                         cache-control: no-store\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self { url, task }
    }
}

impl Drop for HostPage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// --- A small W3C WebDriver client ----------------------------------------------------------

impl Session {
    async fn visitor(&self) -> String {
        self.wait_for("localStorage.getItem('custodian.visitor')")
            .await
            .as_str()
            .expect("visitor id")
            .to_owned()
    }

    /// The last `custodian:consent` event the page saw.
    async fn last_event(&self) -> Value {
        self.js("return window.__ev[window.__ev.length - 1] || null;")
            .await
    }
}

const BANNER_SHOWN: &str = "document.querySelector('.cstdn[role=dialog]')";
const BANNER_GONE: &str = "!document.querySelector('.cstdn')";

// --- Tests ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_script_fits_the_budget_and_is_cacheable() {
    let raw = std::fs::read(SCRIPT_PATH).expect("read banner.js");
    assert!(raw.len() <= BUDGET, "banner.js is {} bytes", raw.len());
    let gz = Command::new("gzip")
        .args(["-9", "-c", SCRIPT_PATH])
        .output()
        .expect("run gzip");
    assert!(gz.status.success(), "{gz:?}");
    assert!(
        gz.stdout.len() <= BUDGET,
        "banner.js is {} bytes gzipped",
        gz.stdout.len()
    );

    let s = TestServer::start().await;
    let url = format!("{}/v1/public/banner.js", s.base);
    let r = s.http.get(&url).send().await.expect("get");
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().expect("ascii");
    assert!(ct.starts_with("text/javascript"), "{ct}");
    let etag = r.headers()["etag"].to_str().expect("ascii").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(r.text().await.expect("body"), SCRIPT);
    let r = s
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()["etag"], etag.as_str());
    let r = s
        .http
        .get(&url)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_recorded_and_a_new_notice_is_asked_again_by_keyboard() {
    let Some(bin) = chromedriver() else { return };
    let s = TestServer::start().await;
    define_purposes(&s).await;
    publish_notice(
        &s,
        "Your <b>privacy</b>",
        "We count visits and share them with partners.",
        1,
    )
    .await;
    let page = HostPage::start(&s.base).await;
    let driver = Driver::start(&bin).await;
    let b = driver.session().await;

    // First visit: the banner asks, with the notice as text and three equal buttons.
    b.go(&page.url).await;
    b.wait_for(BANNER_SHOWN).await;
    let dialog = b
        .js("const d = document.querySelector('.cstdn');
             const t = document.getElementById(d.getAttribute('aria-labelledby'));
             const x = document.getElementById(d.getAttribute('aria-describedby'));
             return {modal: d.getAttribute('aria-modal'), title: t.textContent,
                     markup: !!t.querySelector('b'), desc: x.textContent,
                     link: d.querySelector('a').href,
                     live: d.querySelector('[aria-live=polite]') !== null,
                     focus: document.activeElement.textContent};")
        .await;
    assert_eq!(
        dialog,
        json!({"modal": "false", "title": "Your <b>privacy</b>", "markup": false,
               "desc": "We count visits and share them with partners.",
               "link": "https://example.com/privacy", "live": true, "focus": "Accept all"})
    );
    let buttons = b
        .js(
            "return [...document.querySelectorAll('.cstdn-r > *')].map(e => {
               const r = e.getBoundingClientRect();
               return [e.tagName, e.textContent, r.width, r.height];
             });",
        )
        .await;
    let buttons = buttons.as_array().expect("buttons");
    let labels: Vec<(&str, &str)> = buttons
        .iter()
        .map(|b| (b[0].as_str().unwrap_or(""), b[1].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        labels,
        [
            ("BUTTON", "Accept all"),
            ("BUTTON", "Refuse all"),
            ("BUTTON", "Customize")
        ]
    );
    let size = |b: &Value| (b[2].as_f64().unwrap_or(0.0), b[3].as_f64().unwrap_or(0.0));
    let (w, h) = size(&buttons[0]);
    assert!(w > 40.0 && h >= 44.0, "{buttons:?}");
    for other in &buttons[1..] {
        let (w2, h2) = size(other);
        assert!(
            (w - w2).abs() < 0.5 && (h - h2).abs() < 0.5,
            "unequal buttons: {buttons:?}"
        );
    }
    // Nothing is recorded until a choice is made.
    assert_eq!(b.js("return localStorage.length;").await, 0);

    // Offline, a choice cannot be saved: the banner stays, with a message read out politely.
    let offline = |on: bool| json!({"offline": on, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1});
    b.cdp("Network.enable", json!({})).await;
    b.cdp("Network.emulateNetworkConditions", offline(true))
        .await;
    b.click(".cstdn button[data-cstdn=refuse]").await;
    let message = b
        .wait_for("document.querySelector('.cstdn [aria-live=polite]').textContent")
        .await;
    assert_eq!(
        message,
        "Your choices could not be saved. Please try again."
    );
    assert_eq!(b.js(&format!("return !!{BANNER_SHOWN};")).await, true);
    assert_eq!(b.js("return localStorage.length;").await, 0);
    b.cdp("Network.emulateNetworkConditions", offline(false))
        .await;

    // Refuse all: both refused, method banner, on notice version 1.
    b.click(".cstdn button[data-cstdn=refuse]").await;
    b.wait_for(BANNER_GONE).await;
    let visitor = b.visitor().await;
    assert!(
        visitor.starts_with("vis_") && visitor.len() == 36,
        "{visitor}"
    );
    assert_eq!(
        ledger(&s, &visitor).await,
        [
            rec("ads", "refused", "banner", Some(1)),
            rec("analytics", "refused", "banner", Some(1))
        ]
    );
    assert_eq!(
        b.last_event().await,
        json!({"reason": "save", "visitor_id": visitor,
               "choices": {"ads": "refused", "analytics": "refused"}})
    );
    assert_eq!(
        b.js("return CustodianConsent.get();").await,
        json!({"ads": "refused", "analytics": "refused"})
    );
    // Only the visitor id is kept in the browser.
    assert_eq!(
        b.js("return Object.keys(localStorage);").await,
        json!(["custodian.visitor"])
    );

    // Reload: the choices stand, no banner.
    b.reload().await;
    let ev = b.wait_for("window.__ev[0]").await;
    assert_eq!(ev["reason"], "load");
    assert_eq!(b.js(&format!("return {BANNER_GONE};")).await, true);

    // A new notice version: asked again. Keyboard only from here.
    publish_notice(&s, "Your privacy", "We now also measure scrolling.", 2).await;
    b.reload().await;
    b.wait_for(BANNER_SHOWN).await;
    assert_eq!(
        b.js("return document.getElementById('cstdn-desc').textContent;")
            .await,
        "We now also measure scrolling."
    );
    b.tab_to("button[data-cstdn=customize]").await;
    b.press(ENTER).await;
    b.wait_for("!document.getElementById('cstdn-panel').hidden")
        .await;
    let boxes = b
        .js(
            "return [...document.querySelectorAll('.cstdn input[type=checkbox]')]
               .map(e => [e.value, e.checked, e.disabled, e.labels[0].textContent]);",
        )
        .await;
    assert_eq!(
        boxes,
        json!([
            ["ads", false, false, "Advertising partners"],
            ["analytics", false, false, "Analytics"]
        ])
    );
    // Escape is not a choice: the settings fold away, the banner stays, nothing is recorded.
    b.press(ESCAPE).await;
    b.wait_for("document.getElementById('cstdn-panel').hidden")
        .await;
    assert_eq!(
        b.js("return document.activeElement.getAttribute('data-cstdn');")
            .await,
        "customize"
    );
    assert_eq!(ledger(&s, &visitor).await.len(), 2);
    b.press(ENTER).await;
    b.wait_for("!document.getElementById('cstdn-panel').hidden")
        .await;
    b.tab_to("#cstdn-p-analytics").await;
    b.press(SPACE).await;
    b.wait_for("document.getElementById('cstdn-p-analytics').checked")
        .await;
    b.tab_to("button[data-cstdn=save]").await;
    b.press(ENTER).await;
    b.wait_for(BANNER_GONE).await;
    assert_eq!(
        ledger(&s, &visitor).await[2..],
        [
            rec("ads", "refused", "banner", Some(2)),
            rec("analytics", "given", "banner", Some(2))
        ]
    );
    assert_eq!(
        b.last_event().await["choices"],
        json!({"ads": "refused", "analytics": "given"})
    );
    assert_eq!(b.visitor().await, visitor, "the same visitor throughout");

    // open() brings the settings back, as they stand; unchecking a given consent withdraws it.
    b.js("CustodianConsent.open(); return null;").await;
    b.wait_for(BANNER_SHOWN).await;
    assert_eq!(
        b.js("return document.getElementById('cstdn-p-analytics').checked;")
            .await,
        true
    );
    b.click("#cstdn-p-analytics").await;
    b.click(".cstdn button[data-cstdn=save]").await;
    b.wait_for(BANNER_GONE).await;
    assert_eq!(
        ledger(&s, &visitor).await[4..],
        [
            rec("ads", "refused", "banner", Some(2)),
            rec("analytics", "withdrawn", "banner", Some(2))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpc_is_recorded_without_a_click_and_survives_accept_all() {
    let Some(bin) = chromedriver() else { return };
    let s = TestServer::start().await;
    define_purposes(&s).await;
    publish_notice(&s, "Your privacy", "We count visits.", 1).await;
    let page = HostPage::start(&s.base).await;
    let driver = Driver::start(&bin).await;
    let b = driver.session().await;
    b.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true});"}),
    )
    .await;

    b.go(&page.url).await;
    assert_eq!(b.js("return navigator.globalPrivacyControl;").await, true);
    // The opt-out is recorded before anyone clicks; the banner still asks about analytics.
    b.wait_for(BANNER_SHOWN).await;
    let visitor = b.visitor().await;
    assert_eq!(
        ledger(&s, &visitor).await,
        [rec("ads", "refused", "gpc", None)]
    );
    let ads = b
        .js("const e = document.getElementById('cstdn-p-ads');
             return [e.checked, e.disabled, e.getAttribute('aria-describedby').split(' ')
               .map(i => document.getElementById(i).textContent).join(' | ')];")
        .await;
    assert_eq!(
        ads,
        json!([
            false,
            true,
            "Sharing visits with ad partners. | Turned off by the Global Privacy Control signal of your browser."
        ])
    );

    // Accept all: analytics given; ads stays refused through GPC.
    b.click(".cstdn button[data-cstdn=accept]").await;
    b.wait_for(BANNER_GONE).await;
    assert_eq!(
        ledger(&s, &visitor).await,
        [
            rec("ads", "refused", "gpc", None),
            rec("ads", "refused", "gpc", Some(1)),
            rec("analytics", "given", "banner", Some(1)),
        ]
    );
    assert_eq!(
        b.js("return CustodianConsent.get();").await,
        json!({"ads": "refused", "analytics": "given"})
    );

    // Next visit: nothing to ask, nothing recorded again.
    b.reload().await;
    assert_eq!(b.wait_for("window.__ev[0]").await["reason"], "load");
    assert_eq!(b.js(&format!("return {BANNER_GONE};")).await, true);
    assert_eq!(ledger(&s, &visitor).await.len(), 3);
}
