//! The real `custodian` binary: durability under kill -9, graceful SIGTERM, refusing to
//! re-initialise, two processes over one PostgreSQL database, and the README's quick start.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custodian_cli::audit::verify_store;
use custodian_core::ports::Store;
use serde_json::json;

use crate::harness::{PgDb, pg_url};

const BIN: &str = env!("CARGO_BIN_EXE_custodian");

/// A `custodian serve` child process, killed when dropped.
struct Proc {
    child: Child,
    base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `custodian serve` with `args` in `cwd` and waits for its listening line.
fn spawn_serve(cwd: &Path, args: &[&str]) -> Proc {
    spawn_serve_env(cwd, args, &[])
}

/// [`spawn_serve`] with extra environment variables.
fn spawn_serve_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .env("CUSTODIAN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn custodian");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .expect("line");
        if let Some(rest) = line.strip_prefix("Custodian is listening on ") {
            break rest.split_whitespace().next().expect("url").to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Proc { child, base }
}

fn run(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run custodian")
}

fn admin_key(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("admin.key"))
        .expect("admin key")
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_write_load_loses_no_acknowledged_write() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let data_s = data.to_str().expect("utf8");
    let mut proc = spawn_serve(
        tmp.path(),
        &["--data-dir", data_s, "--listen", "127.0.0.1:0"],
    );
    let key = admin_key(&data);
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut workers = Vec::new();
    for w in 0..6 {
        let (http, base, key, acked) =
            (http.clone(), proc.base.clone(), key.clone(), acked.clone());
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let r = http
                    .post(format!("{base}/v1/operators"))
                    .bearer_auth(&key)
                    .json(&json!({"name": format!("w{w}-{i}"), "role": "support"}))
                    .send()
                    .await;
                let Ok(r) = r else { break };
                if r.status() == 201
                    && let Ok(v) = r.json::<serde_json::Value>().await
                    && let Some(id) = v["id"].as_str()
                {
                    acked.lock().expect("lock").push(id.to_owned());
                }
            }
        }));
    }
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proc.child.kill().expect("kill -9");
    proc.child.wait().expect("reaped");
    for w in workers {
        let _ = w.await;
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 20,
        "the load generator got only {} writes through",
        acked.len()
    );

    let store = custodian_store_sqlite::SqliteStore::open(&data)
        .await
        .expect("reopen after crash");
    let ops: std::collections::HashSet<String> = store
        .list_operators()
        .await
        .expect("ops")
        .into_iter()
        .map(|o| o.id)
        .collect();
    let events = store.audit_events(0, 100_000).await.expect("events");
    let audited: std::collections::HashSet<&str> =
        events.iter().map(|e| e.draft.resource.as_str()).collect();
    for id in &acked {
        assert!(ops.contains(id), "acknowledged operator {id} was lost");
        assert!(
            audited.contains(format!("operator:{id}").as_str()),
            "its audit event was lost"
        );
    }
    verify_store(&store)
        .await
        .expect("the log verifies after the crash");
}

#[test]
fn a_worker_count_out_of_range_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    for n in ["0", "257", "many"] {
        let out = run(tmp.path(), &["serve", "--workers", n]);
        assert!(!out.status.success(), "--workers {n}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--workers"),
            "{out:?}"
        );
    }
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut proc = spawn_serve(tmp.path(), &["--listen", "127.0.0.1:0", "--workers", "1"]);
    let pid = proc.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = proc.child.try_wait().expect("wait") {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "did not stop within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A restore is refused while a server runs on the data directory (it would replace the
/// database under it), and works once the server has stopped; a server does not start while a
/// restore holds the directory. Two servers may share a directory.
#[test]
fn restore_waits_for_the_server_to_stop() {
    let tmp = tempfile::tempdir().expect("tmp");
    let serve = &[
        "--data-dir",
        "d",
        "--listen",
        "127.0.0.1:0",
        "--workers",
        "1",
    ];
    let first = spawn_serve(tmp.path(), serve);
    let second = spawn_serve(tmp.path(), serve);
    let backup = run(tmp.path(), &["backup", "--data-dir", "d", "--out", "b.db"]);
    assert!(backup.status.success(), "{backup:?}");
    let restore = || {
        run(
            tmp.path(),
            &["restore", "--data-dir", "d", "--from", "b.db"],
        )
    };
    let refused = restore();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("stop it before restoring"),
        "{refused:?}"
    );
    drop(first);
    assert!(!restore().status.success(), "one server still runs");
    drop(second);
    let done = restore();
    assert!(done.status.success(), "{done:?}");
    let kept = std::fs::read_dir(tmp.path().join("d"))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".pre-restore-") && !n.ends_with("-wal") && !n.ends_with("-shm"))
        .count();
    assert_eq!(kept, 1, "only the restore that ran moved a database aside");

    // A restore holding the directory: the server refuses to start, and says why. The lock is
    // held by another process (`flock -o` keeps it while its command runs): held in this one,
    // a child forked meanwhile by another test could keep it past its release.
    let mut holder = Command::new("flock")
        .args(["-x", "-o", "d/custodian.lock", "sleep", "60"])
        .current_dir(tmp.path())
        .spawn()
        .expect("flock (util-linux)");
    let lock_path = tmp.path().join("d").join("custodian.lock");
    let started = Instant::now();
    loop {
        // Taken by `flock` once a shared lock is refused here (a shared one taken here is
        // given back at once; it cannot stop the server below).
        let probe = std::fs::File::open(&lock_path).expect("lock file");
        if matches!(
            probe.try_lock_shared(),
            Err(std::fs::TryLockError::WouldBlock)
        ) {
            break;
        }
        drop(probe);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "flock never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run(
        tmp.path(),
        &["serve", "--data-dir", "d", "--listen", "127.0.0.1:0"],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is being restored"),
        "{out:?}"
    );
    let _ = holder.kill();
    let _ = holder.wait();
    drop(spawn_serve(tmp.path(), serve));
}

#[test]
fn init_writes_private_keys_and_refuses_an_initialised_directory() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let out = run(
        tmp.path(),
        &["init", "--data-dir", "d", "--admin-key-file", "first.key"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["d/kek.key", "d/vault.key", "d/log-signing.key", "first.key"] {
        let mode = std::fs::metadata(tmp.path().join(f))
            .expect(f)
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    // The KEK that init wrote is what the vault's file key provider loads.
    let provider = custodian_crypto::keys::FileKeyProvider::load_dir(&tmp.path().join("d"))
        .expect("kek loads");
    assert!(
        custodian_crypto::keys::KeyProvider::current_kek_id(&provider)
            .expect("id")
            .starts_with("file:")
    );
    let again = run(tmp.path(), &["init", "--data-dir", "d"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("initialised already"));
    let verify = run(tmp.path(), &["audit", "verify", "--data-dir", "d"]);
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stdout).starts_with("ok: 1 events, root "));
    let bad = run(
        tmp.path(),
        &["serve", "--data-dir", "d", "--listen", "not-an-address"],
    );
    assert!(!bad.status.success());
    let bad = run(
        tmp.path(),
        &["serve", "--data-dir", "d", "--database-url", "mysql://x"],
    );
    assert!(!bad.status.success());
}

/// A fresh PostgreSQL database initialised by `custodian init` in a temporary directory,
/// and two `custodian serve` processes over it; with the admin key.
async fn two_serve_over_postgres() -> Option<(PgDb, tempfile::TempDir, String, Proc, Proc)> {
    let base = pg_url()?;
    let db = PgDb::create(&base).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let out = run(
        tmp.path(),
        &["init", "--data-dir", "d", "--database-url", &db.url],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = admin_key(&tmp.path().join("d"));
    let args = [
        "--data-dir",
        "d",
        "--database-url",
        db.url.as_str(),
        "--listen",
        "127.0.0.1:0",
    ];
    let a = spawn_serve(tmp.path(), &args);
    let b = spawn_serve(tmp.path(), &args);
    Some((db, tmp, key, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_over_postgres_append_to_one_verifiable_log() {
    let Some((db, tmp, key, a, b)) = two_serve_over_postgres().await else {
        return;
    };
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let (http, key) = (http.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/v1/operators"))
                .bearer_auth(key)
                .json(&json!({"name": format!("Op {i}"), "role": "support"}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for t in futures::future::join_all(tasks).await {
        assert_eq!(t.expect("task").expect("request"), 201);
    }
    let out = run(
        tmp.path(),
        &[
            "audit",
            "verify",
            "--data-dir",
            "d",
            "--database-url",
            &db.url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: 61 events, root "));
}

/// Retention's jobs are claimed with `FOR UPDATE SKIP LOCKED`: two `custodian serve`
/// processes over one PostgreSQL database, asked to run retention at the same moment,
/// dispose of each due subject exactly once, and the log still verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_run_retention_without_disposing_twice() {
    let Some((db, tmp, admin, a, b)) = two_serve_over_postgres().await else {
        return;
    };
    let http = reqwest::Client::new();
    let send = |m: reqwest::Method, url: String, key: &str, body: Option<serde_json::Value>| {
        let mut r = http
            .request(m, url)
            .bearer_auth(key)
            .header("custodian-purpose", "service_delivery");
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let mut keys = Vec::new();
    for role in ["engineer", "dpo"] {
        let r = send(
            reqwest::Method::POST,
            format!("{}/v1/operators", a.base),
            &admin,
            Some(json!({"name": role, "role": role})),
        )
        .await
        .expect("operator");
        let id = r.json::<serde_json::Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let r = send(
            reqwest::Method::POST,
            format!("{}/v1/operators/{id}/keys", a.base),
            &admin,
            Some(json!({})),
        )
        .await
        .expect("key");
        keys.push(
            r.json::<serde_json::Value>().await.expect("json")["key"]
                .as_str()
                .expect("key")
                .to_owned(),
        );
    }
    let (eng, dpo) = (keys[0].clone(), keys[1].clone());
    let r = http
        .post(format!("{}/v1/map:import", a.base))
        .bearer_auth(&admin)
        .header("content-type", "application/yaml")
        .body("retention_rule:\n  - {key: closed, data_categories: [user.name], period: P1D, trigger: end_of_relationship, action: crypto_shred}\n")
        .send()
        .await
        .expect("import");
    assert_eq!(r.status(), 200);
    let r = send(reqwest::Method::PUT, format!("{}/v1/collections/people", a.base), &eng,
        Some(json!({"fields": [{"name": "name", "type": "text", "category": "user.name", "sensitivity": "medium"}]})))
        .await.expect("collection");
    assert_eq!(r.status(), 201);
    for i in 0..30 {
        let r = send(
            reqwest::Method::POST,
            format!("{}/v1/collections/people/records", b.base),
            &eng,
            Some(json!({"subject_id": format!("p{i}"), "fields": {"name": format!("Person {i}")}})),
        )
        .await
        .expect("record");
        assert_eq!(r.status(), 201);
        let r = send(
            reqwest::Method::PUT,
            format!("{}/v1/subjects/p{i}/relationship", a.base),
            &eng,
            Some(json!({"ended_at": "2020-01-01T00:00:00Z"})),
        )
        .await
        .expect("relationship");
        assert_eq!(r.status(), 204);
    }
    let (ra, rb) = tokio::join!(
        send(
            reqwest::Method::POST,
            format!("{}/v1/retention/runs", a.base),
            &dpo,
            None
        ),
        send(
            reqwest::Method::POST,
            format!("{}/v1/retention/runs", b.base),
            &dpo,
            None
        )
    );
    let ra: serde_json::Value = ra.expect("run a").json().await.expect("json");
    let rb: serde_json::Value = rb.expect("run b").json().await.expect("json");
    let shredded = ra["shredded"].as_u64().unwrap_or(0) + rb["shredded"].as_u64().unwrap_or(0);
    assert_eq!(shredded, 30, "{ra} {rb}");
    let out = run(
        tmp.path(),
        &[
            "audit",
            "verify",
            "--data-dir",
            "d",
            "--database-url",
            &db.url,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        tmp.path(),
        &[
            "erasures",
            "export",
            "--data-dir",
            "d",
            "--database-url",
            &db.url,
            "--out",
            "ledger.jsonl",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("exported 30 erasure ledger entries"),
        "each subject erased once: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The README's quick start, run verbatim with bash against `custodian serve` on its
/// default address, from a fresh directory.
#[test]
fn readme_quick_start_runs_verbatim() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README");
    let start = readme
        .find("```sh quickstart")
        .expect("README has a ```sh quickstart block");
    let body = &readme[start..];
    let body = &body[body.find('\n').expect("newline") + 1..];
    let script = &body[..body.find("```").expect("block end")];
    if std::net::TcpListener::bind("127.0.0.1:8080").is_err() {
        panic!("port 8080 is taken; the quick start needs it (stop the other server)");
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let _server = spawn_serve(tmp.path(), &[]);
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(tmp.path())
        .env("PATH", path)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "quick start failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The vault with its KEK in a PKCS#11 token (SoftHSM2): data keys are wrapped by the token,
/// a restarted server unwraps them again, and without the token nothing opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_keeps_its_kek_in_a_pkcs11_token() {
    const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
    if !Path::new(MODULE).exists() {
        assert!(
            std::env::var("CI").is_err(),
            "SoftHSM2 must be installed under CI"
        );
        eprintln!("skipped: SoftHSM2 is not installed");
        return;
    }
    let label = format!(
        "cst-it-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let init = Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            &label,
            "--so-pin",
            "0000",
            "--pin",
            "4321",
        ])
        .output()
        .expect("softhsm2-util");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    struct DeleteToken(String);
    impl Drop for DeleteToken {
        fn drop(&mut self) {
            let _ = Command::new("softhsm2-util")
                .args(["--delete-token", "--token", &self.0])
                .output();
        }
    }
    let _cleanup = DeleteToken(label.clone());
    let env = [
        ("CUSTODIAN_KEY_PROVIDER", "pkcs11"),
        ("CUSTODIAN_PKCS11_MODULE", MODULE),
        ("CUSTODIAN_PKCS11_TOKEN", label.as_str()),
        ("CUSTODIAN_PKCS11_PIN", "4321"),
    ];
    let tmp = tempfile::tempdir().expect("tmp");
    let args = ["--data-dir", "data", "--listen", "127.0.0.1:0"];
    let server = spawn_serve_env(tmp.path(), &args, &env);
    let data = tmp.path().join("data");
    for (name, role) in [("eng", "engineer"), ("dpo", "dpo")] {
        let out = run(
            tmp.path(),
            &[
                "operators",
                "create",
                "--data-dir",
                "data",
                "--name",
                name,
                "--role",
                role,
                "--key-file",
                &format!("{name}.key"),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let key = |name: &str| admin_key_at(&tmp.path().join(format!("{name}.key")));
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{}/v1/collections/customers", server.base))
        .bearer_auth(key("eng"))
        .json(&json!({"fields": [{"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium"}]}))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 201);
    let r: serde_json::Value = http
        .post(format!("{}/v1/collections/customers/records", server.base))
        .bearer_auth(key("eng"))
        .header("custodian-purpose", "service_delivery")
        .json(&json!({"subject_id": "cus_1", "fields": {"email": "jane@example.com"}}))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    let path = format!(
        "/v1/collections/customers/records/{}",
        r["id"].as_str().expect("id")
    );
    let read = |base: String| {
        let (http, path, dpo) = (http.clone(), path.clone(), key("dpo"));
        async move {
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(dpo)
                .header("custodian-purpose", "dsr")
                .send()
                .await
                .expect("get");
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (status, body) = read(server.base.clone()).await;
    assert_eq!(
        (status, body["fields"]["email"].clone()),
        (200, json!("jane@example.com"))
    );
    drop(server);

    // The wrapped key names the token's KEK; a restarted server opens it through the token.
    let store = custodian_store_sqlite::SqliteStore::open(&data)
        .await
        .expect("open");
    let keys = store.subject_keys(None, 10).await.expect("keys");
    assert!(
        keys[0].kek_id.starts_with("pkcs11:"),
        "{:?}",
        keys[0].kek_id
    );
    store.close().await;
    let server = spawn_serve_env(tmp.path(), &args, &env);
    let (status, body) = read(server.base.clone()).await;
    assert_eq!(
        (status, body["fields"]["email"].clone()),
        (200, json!("jane@example.com"))
    );
    drop(server);
    // Without the token, the data key does not open (the file KEK is not the one).
    let server = spawn_serve(tmp.path(), &args);
    let (status, _) = read(server.base.clone()).await;
    assert_eq!(status, 500);
}

fn admin_key_at(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("key file")
        .trim()
        .to_owned()
}

/// A passphrase-protected file KEK: `init` writes it sealed, `serve` refuses to start without
/// the passphrase and serves with it.
#[test]
fn a_passphrase_protects_the_file_kek() {
    let tmp = tempfile::tempdir().expect("tmp");
    let init = Command::new(BIN)
        .args(["init", "--data-dir", "d"])
        .current_dir(tmp.path())
        .env("CUSTODIAN_KEK_PASSPHRASE", "correct horse battery staple")
        .output()
        .expect("init");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let kek = std::fs::read(tmp.path().join("d/kek.key")).expect("kek");
    assert!(
        kek.starts_with(b"custodian-kek-pbkdf2-v1\n"),
        "the KEK file is sealed"
    );
    let refused = Command::new(BIN)
        .args(["serve", "--data-dir", "d", "--listen", "127.0.0.1:0"])
        .current_dir(tmp.path())
        .env("CUSTODIAN_LOG", "warn")
        .output()
        .expect("serve");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("passphrase-protected"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let server = spawn_serve_env(
        tmp.path(),
        &["--data-dir", "d", "--listen", "127.0.0.1:0"],
        &[("CUSTODIAN_KEK_PASSPHRASE", "correct horse battery staple")],
    );
    assert!(server.base.starts_with("http://127.0.0.1:"));
}
