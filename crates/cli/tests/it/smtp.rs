//! A real SMTP server for tests: Python's aiosmtpd (from PyPI), started on a free port and
//! storing what it receives in a Maildir the test reads.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running aiosmtpd; killed on drop.
pub struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves SMTP on 127.0.0.1, on a port the kernel picks, into the Maildir named by argv[1];
/// prints the port once listening.
const SERVE: &str = "
import asyncio, sys
from aiosmtpd.smtp import SMTP
from aiosmtpd.handlers import Mailbox
async def main():
    handler = Mailbox(sys.argv[1])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname='localhost'), '127.0.0.1', 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
";

fn python() -> String {
    std::env::var("CUSTODIAN_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

impl SmtpServer {
    /// Starts one. Without aiosmtpd installed: None outside CI (the test is skipped), a panic
    /// under CI.
    pub async fn start() -> Option<Self> {
        let has = Command::new(python())
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has {
            if std::env::var("CI").is_ok() {
                panic!("aiosmtpd must be installed under CI (pip install aiosmtpd)");
            }
            eprintln!("skipped: aiosmtpd is not installed (pip install aiosmtpd)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("mail");
        // The server binds port 0 itself and prints the port it got: choosing a free port here
        // and handing it over would race with every other socket the parallel tests open (one
        // CI run lost it to another listener and the relay answered nonsense).
        let mut child = Command::new(python())
            .args(["-c", SERVE])
            .arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let stdout = child.stdout.take().expect("stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
                .map(|_| line)
        });
        let port = match tokio::time::timeout(Duration::from_secs(30), line).await {
            Ok(Ok(Ok(line))) => line.trim().parse::<u16>().ok(),
            _ => None,
        };
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("aiosmtpd did not report its port within 30 s");
        };
        Some(SmtpServer {
            child,
            port,
            maildir,
            _dir: dir,
        })
    }

    /// The relay settings for the server under test.
    pub fn config(&self) -> custodian_server::mail::SmtpConfig {
        custodian_server::mail::SmtpConfig {
            url: format!("smtp://127.0.0.1:{}", self.port),
            from: "Privacy Team <privacy@shop.example>".to_owned(),
        }
    }

    /// Every message received so far, raw, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| {
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                (modified, e.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits until `n` messages have arrived; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {n} messages, got {}", self.messages().len());
    }
}

/// The six-digit code in a verification message.
pub fn code_in(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .expect("a code line")
        .to_owned()
}
