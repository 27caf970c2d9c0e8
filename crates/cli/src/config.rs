//! Configuration: command-line flags over `CUSTODIAN_*` environment variables over a TOML
//! file over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use custodian_server::{ServerConfig, TlsFiles};
use ipnet::IpNet;
use serde::Deserialize;

/// The TOML configuration file; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Data directory (keys; the SQLite database unless `database_url` is set).
    pub data_dir: Option<PathBuf>,
    /// Listen address.
    pub listen: Option<SocketAddr>,
    /// PostgreSQL URL.
    pub database_url: Option<String>,
    /// TLS certificate (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Proxies whose X-Forwarded-For is trusted (CIDR).
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body, bytes.
    pub max_body_bytes: Option<usize>,
    /// Failed authentications allowed per client address per minute.
    pub auth_failures_per_minute: Option<u32>,
    /// NATS server URL for publishing consent changes to JetStream (also
    /// `CUSTODIAN_NATS_URL`).
    pub nats_url: Option<String>,
    /// SMTP relay for verification codes and notices to requesters, e.g.
    /// `smtps://user:password@mail.example.com:465` (also `CUSTODIAN_SMTP_URL`).
    pub smtp_url: Option<String>,
    /// The sender of that mail, e.g. `Privacy <privacy@example.com>` (also
    /// `CUSTODIAN_SMTP_FROM`).
    pub smtp_from: Option<String>,
    /// IANA time zone rights-request deadlines are counted in by default (also
    /// `CUSTODIAN_RIGHTS_TIME_ZONE`; default UTC).
    pub rights_time_zone: Option<String>,
    /// The privacy team's address for reminders of rights requests due within 7 days, within
    /// 1 day and overdue (also `CUSTODIAN_RIGHTS_REMINDERS_TO`; needs the SMTP settings).
    pub rights_reminders_to: Option<String>,
    /// The address the server is reached at from outside, e.g. `https://privacy.example.com`,
    /// for links in mail such as export downloads (also `CUSTODIAN_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// Data Rights Protocol settings file (JSON: `business_id`, `agents` from the service
    /// directory, optional `verification_url` and `voluntary_jurisdiction`; also
    /// `CUSTODIAN_DRP_CONFIG`). Unset: the DRP endpoints answer 404 `drp_disabled`.
    pub drp_config: Option<PathBuf>,
    /// Connection URLs of declared datasets, by dataset key (`postgres://…`,
    /// `mysql://…`/`mariadb://…`, `sqlite:…`); also `CUSTODIAN_DATASET_URL_<KEY>` (the key
    /// upper-cased), which wins. A dataset without one gets manual tasks.
    #[serde(default)]
    pub dataset_connections: std::collections::BTreeMap<String, String>,
    /// The privacy center's name, instead of the data map's organization (also
    /// `CUSTODIAN_PRIVACY_NAME`).
    pub privacy_name: Option<String>,
    /// The privacy center's accent colour, `#rrggbb`; text on it is black or white, whichever
    /// contrasts more (also `CUSTODIAN_PRIVACY_ACCENT`).
    pub privacy_accent: Option<String>,
    /// The privacy center's logo: a PNG, JPEG, WebP or SVG file of at most 256 KiB, read at
    /// start (also `CUSTODIAN_PRIVACY_LOGO`).
    pub privacy_logo: Option<PathBuf>,
}

/// The dataset connections: the file's, with `CUSTODIAN_DATASET_URL_<KEY>` over them.
fn dataset_connections(
    file: &FileConfig,
) -> anyhow::Result<custodian_server::datasets::Connections> {
    let mut urls = file.dataset_connections.clone();
    for (name, value) in std::env::vars() {
        if let Some(key) = name.strip_prefix("CUSTODIAN_DATASET_URL_")
            && !value.is_empty()
        {
            urls.insert(key.to_ascii_lowercase(), value);
        }
    }
    custodian_server::datasets::Connections::new(urls).map_err(anyhow::Error::msg)
}

fn env_or(name: &str, file: &Option<String>) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| file.clone())
}

/// The SMTP settings, checked: both or neither of the URL and the sender.
fn smtp(file: &FileConfig) -> anyhow::Result<Option<custodian_server::mail::SmtpConfig>> {
    let url = env_or("CUSTODIAN_SMTP_URL", &file.smtp_url);
    let from = env_or("CUSTODIAN_SMTP_FROM", &file.smtp_from);
    match (url, from) {
        (None, None) => Ok(None),
        (Some(url), Some(from)) => {
            let c = custodian_server::mail::SmtpConfig { url, from };
            custodian_server::mail::Mailer::new(&c).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(Some(c))
        }
        _ => anyhow::bail!(
            "smtp_url and smtp_from go together (CUSTODIAN_SMTP_URL, CUSTODIAN_SMTP_FROM)"
        ),
    }
}

impl FileConfig {
    /// Reads a config file; a missing explicit file is an error.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {} is invalid", path.display()))
    }
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub struct StoreLocation {
    /// Data directory.
    pub data_dir: PathBuf,
    /// PostgreSQL URL, if not SQLite.
    pub database_url: Option<String>,
}

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./custodian-data";

impl StoreLocation {
    /// Merges flag/env values with the file.
    pub fn resolve(
        data_dir: Option<PathBuf>,
        database_url: Option<String>,
        file: &FileConfig,
    ) -> Self {
        Self {
            data_dir: data_dir
                .or_else(|| file.data_dir.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: database_url.or_else(|| file.database_url.clone()),
        }
    }
}

/// Merges the server settings.
pub fn server_config(
    listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    trusted_proxies: Vec<IpNet>,
    file: &FileConfig,
) -> anyhow::Result<ServerConfig> {
    let defaults = ServerConfig::default();
    let cert = tls_cert.or_else(|| file.tls_cert.clone());
    let key = tls_key.or_else(|| file.tls_key.clone());
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let max_body_bytes = file.max_body_bytes.unwrap_or(defaults.max_body_bytes);
    anyhow::ensure!(
        (1024..=64 * 1024 * 1024).contains(&max_body_bytes),
        "max_body_bytes must be between 1 KiB and 64 MiB"
    );
    let rights_time_zone = env_or("CUSTODIAN_RIGHTS_TIME_ZONE", &file.rights_time_zone)
        .unwrap_or(defaults.rights_time_zone);
    anyhow::ensure!(
        jiff::tz::TimeZone::get(&rights_time_zone).is_ok(),
        "rights_time_zone must be an IANA time zone name such as Europe/Paris"
    );
    let rights_reminders_to = env_or("CUSTODIAN_RIGHTS_REMINDERS_TO", &file.rights_reminders_to);
    if let Some(to) = &rights_reminders_to {
        anyhow::ensure!(
            custodian_core::vault::value::FieldType::Email
                .normalize(to)
                .is_ok(),
            "rights_reminders_to must be an email address"
        );
    }
    let drp = std::env::var_os("CUSTODIAN_DRP_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| file.drp_config.clone())
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the DRP settings {}", path.display()))?;
            custodian_server::drp::DrpConfig::from_json(&text)
                .map(std::sync::Arc::new)
                .map_err(anyhow::Error::msg)
        })
        .transpose()?;
    let public_url = env_or("CUSTODIAN_PUBLIC_URL", &file.public_url)
        .map(|u| u.trim_end_matches('/').to_owned());
    if let Some(u) = &public_url {
        anyhow::ensure!(
            (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() > "https://".len()
                && !u.contains(['?', '#', ' ']),
            "public_url must be an http(s) URL without query or fragment"
        );
    }
    let logo = std::env::var_os("CUSTODIAN_PRIVACY_LOGO")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| file.privacy_logo.clone())
        .map(|path| {
            let meta = std::fs::metadata(&path)
                .with_context(|| format!("cannot read the privacy logo {}", path.display()))?;
            anyhow::ensure!(
                meta.len() <= custodian_server::console::MAX_LOGO as u64,
                "privacy_logo must be at most 256 KiB"
            );
            let bytes = std::fs::read(&path)
                .with_context(|| format!("cannot read the privacy logo {}", path.display()))?;
            Ok((path.to_string_lossy().into_owned(), bytes))
        })
        .transpose()?;
    let brand = custodian_server::console::Brand::new(
        env_or("CUSTODIAN_PRIVACY_NAME", &file.privacy_name),
        env_or("CUSTODIAN_PRIVACY_ACCENT", &file.privacy_accent),
        logo.as_ref()
            .map(|(name, bytes)| (name.as_str(), bytes.clone())),
    )
    .map_err(anyhow::Error::msg)?;
    Ok(ServerConfig {
        brand,
        listen: listen.or(file.listen).unwrap_or(defaults.listen),
        tls,
        trusted_proxies: if trusted_proxies.is_empty() {
            file.trusted_proxies.clone()
        } else {
            trusted_proxies
        },
        max_body_bytes,
        auth_failures_per_minute: file
            .auth_failures_per_minute
            .unwrap_or(defaults.auth_failures_per_minute),
        nats_url: env_or("CUSTODIAN_NATS_URL", &file.nats_url),
        smtp: smtp(file)?,
        rights_time_zone,
        rights_reminders_to,
        rights_reminders_every: defaults.rights_reminders_every,
        public_url,
        drp,
        dataset_connections: dataset_connections(file)?,
        monitor_every: defaults.monitor_every,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_which_beats_defaults() {
        let file: FileConfig = toml::from_str(
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/c\"\nauth_failures_per_minute = 5\n",
        )
        .expect("parses");
        let loc = StoreLocation::resolve(None, None, &file);
        assert_eq!(loc.data_dir, PathBuf::from("/srv/c"));
        let c = server_config(None, None, None, vec![], &file).expect("config");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.auth_failures_per_minute, 5);
        let c = server_config(
            Some("127.0.0.1:1".parse().expect("addr")),
            None,
            None,
            vec![],
            &file,
        )
        .expect("config");
        assert_eq!(c.listen.port(), 1);
        assert!(server_config(None, Some("c".into()), None, vec![], &file).is_err());
        assert!(toml::from_str::<FileConfig>("lisen = 1").is_err());
    }

    #[test]
    fn dataset_connections_are_checked_and_never_shown() {
        let file: FileConfig =
            toml::from_str("[dataset_connections]\nshop = \"postgres://app:s3cret@db/shop\"\n")
                .expect("parses");
        let c = server_config(None, None, None, vec![], &file).expect("config");
        assert_eq!(
            c.dataset_connections.get("shop"),
            Some("postgres://app:s3cret@db/shop")
        );
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the password never reaches a log"
        );
        for bad in [
            "[dataset_connections]\nshop = \"redis://db\"\n",
            "[dataset_connections]\n\"a-b\" = \"postgres://db/x\"\n",
        ] {
            let file: FileConfig = toml::from_str(bad).expect("parses");
            assert!(
                server_config(None, None, None, vec![], &file).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_privacy_center_brand_is_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        let logo = dir.path().join("logo.svg");
        std::fs::write(&logo, "<svg xmlns='http://www.w3.org/2000/svg'/>").expect("logo");
        let text = format!(
            "privacy_name = \"Acme Privacy\"\nprivacy_accent = \"#7A1FA2\"\nprivacy_logo = {:?}\n",
            logo.display().to_string()
        );
        let file: FileConfig = toml::from_str(&text).expect("parses");
        let c = server_config(None, None, None, vec![], &file).expect("config");
        assert_eq!(c.brand.name.as_deref(), Some("Acme Privacy"));
        assert_eq!(c.brand.accent.as_deref(), Some("#7a1fa2"));
        assert_eq!(c.brand.logo.as_ref().map(|l| l.0), Some("image/svg+xml"));
        let big = dir.path().join("big.png");
        std::fs::write(&big, vec![0u8; 256 * 1024 + 1]).expect("big");
        for bad in [
            "privacy_accent = \"purple\"\n".to_owned(),
            "privacy_accent = \"#12345\"\n".to_owned(),
            "privacy_name = \"  \"\n".to_owned(),
            format!("privacy_logo = {:?}\n", big.display().to_string()),
            format!(
                "privacy_logo = {:?}\n",
                dir.path().join("logo.gif").display().to_string()
            ),
            format!(
                "privacy_logo = {:?}\n",
                dir.path().join("missing.png").display().to_string()
            ),
        ] {
            let file: FileConfig = toml::from_str(&bad).expect("parses");
            assert!(
                server_config(None, None, None, vec![], &file).is_err(),
                "{bad}"
            );
        }
    }
}
