//! A small W3C WebDriver client for the browser tests: chromedriver (Debian's
//! `chromium-driver`) driving headless Chromium, spoken to with `reqwest`. Absent outside CI,
//! the browser tests are skipped; under CI its absence fails them.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

/// How long a condition is waited for, and how often it is polled.
pub const WAIT: Duration = Duration::from_secs(10);
pub const POLL: Duration = Duration::from_millis(50);

pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
pub const ESCAPE: &str = "\u{E00C}";
pub const SPACE: &str = " ";

/// The `chromedriver` binary, if installed; under CI its absence is a failure.
pub fn chromedriver() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("chromedriver"))
            .find(|f| f.is_file())
    });
    match found {
        Some(f) => Some(f),
        None if std::env::var_os("CI").is_some() => {
            panic!("chromedriver must be installed under CI (Debian: chromium chromium-driver)")
        }
        None => {
            eprintln!("skipped: chromedriver is not on PATH");
            None
        }
    }
}

/// A running chromedriver, killed on drop.
pub struct Driver {
    child: Child,
    addr: String,
    http: reqwest::Client,
}

impl Driver {
    pub async fn start(bin: &Path) -> Self {
        // chromedriver needs its port on the command line, so one is chosen by binding and
        // dropping a socket; another socket of the parallel suite may take it in between, and
        // then chromedriver exits: it is started again on another port.
        for _ in 0..5 {
            if let Some(d) = Self::try_start(bin).await {
                return d;
            }
        }
        panic!("chromedriver did not start on any of 5 ports");
    }

    async fn try_start(bin: &Path) -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut d = Self {
            child,
            addr: format!("127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let start = Instant::now();
        loop {
            let ready = d
                .http
                .get(format!("http://{}/status", d.addr))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success());
            if let Some(r) = ready {
                let v: Option<Value> = r.json().await.ok();
                if v.is_some_and(|v| v["value"]["ready"] == true) {
                    return Some(d);
                }
            }
            if d.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            assert!(start.elapsed() < WAIT, "chromedriver did not start");
            tokio::time::sleep(POLL).await;
        }
    }

    /// A new headless browser with a fresh profile.
    pub async fn session(&self) -> Session {
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let v = self
            .send(
                Method::POST,
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": {
                    "goog:chromeOptions": {"args": args}
                }}})),
            )
            .await;
        let id = v["sessionId"].as_str().expect("session id").to_owned();
        Session {
            http: self.http.clone(),
            addr: self.addr.clone(),
            id,
            _profile: profile,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        wd(&self.http, &self.addr, method, path, body).await
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver command; panics on a WebDriver error. Returns the `value` member.
pub async fn wd(
    http: &reqwest::Client,
    addr: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http.request(method.clone(), format!("http://{addr}{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("webdriver request");
    let status = resp.status();
    let v: Value = resp.json().await.expect("webdriver json");
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v["value"].clone()
}

/// A browser session; deleted (the browser closed) on drop, before its profile is removed.
pub struct Session {
    http: reqwest::Client,
    addr: String,
    id: String,
    _profile: tempfile::TempDir,
}

pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Session {
    pub async fn cmd(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.id);
        wd(&self.http, &self.addr, method, &path, body).await
    }

    pub async fn go(&self, url: &str) {
        self.cmd(Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn reload(&self) {
        self.cmd(Method::POST, "/refresh", Some(json!({}))).await;
    }

    /// Runs a script body (`return …`) in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.cmd(
            Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Polls `expr` until it is truthy; returns its value.
    pub async fn wait_for(&self, expr: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.js(&format!("return ({expr});")).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(start.elapsed() < WAIT, "timed out waiting for {expr}: {v}");
            tokio::time::sleep(POLL).await;
        }
    }

    pub async fn click(&self, css: &str) {
        let v = self
            .cmd(
                Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        let el = v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_owned();
        self.cmd(
            Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The element matching `css` (its WebDriver id); panics when there is none.
    pub async fn element(&self, css: &str) -> String {
        let v = self
            .cmd(
                Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_owned()
    }

    /// Clears the field matching `css` and types `text` into it, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.element(css).await;
        self.cmd(
            Method::POST,
            &format!("/element/{el}/clear"),
            Some(json!({})),
        )
        .await;
        self.cmd(
            Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let v = self.cmd(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot base64"))
            .expect("screenshot decodes");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Presses and releases one key, sent to whatever has the focus.
    pub async fn press(&self, key: &str) {
        self.cmd(
            Method::POST,
            "/actions",
            Some(
                json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                    {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
                ]}]}),
            ),
        )
        .await;
    }

    /// Types `text` with the keyboard into whatever has the focus.
    pub async fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            actions.push(json!({"type": "keyDown", "value": c.to_string()}));
            actions.push(json!({"type": "keyUp", "value": c.to_string()}));
        }
        self.cmd(
            Method::POST,
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        )
        .await;
    }

    /// The id of the focused element.
    pub async fn focused(&self) -> Value {
        self.js("return document.activeElement && document.activeElement.id;")
            .await
    }

    /// Presses Tab until the focused element matches `css` (at most 12 times).
    pub async fn tab_to(&self, css: &str) {
        let check = format!(
            "return !!document.activeElement && document.activeElement.matches({});",
            json!(css)
        );
        for _ in 0..12 {
            if self.js(&check).await == true {
                return;
            }
            self.press(TAB).await;
        }
        panic!("Tab never reached {css}");
    }

    /// A Chrome DevTools command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": cmd, "params": params})),
        )
        .await
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Synchronous, so the browser closes even when the test panicked.
        if let Ok(mut sock) = std::net::TcpStream::connect(&self.addr) {
            let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
            let req = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n",
                self.id, self.addr
            );
            if sock.write_all(req.as_bytes()).is_ok() {
                let mut sink = Vec::new();
                let _ = sock.read_to_end(&mut sink);
            }
        }
    }
}
