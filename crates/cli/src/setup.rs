//! Opening the store, initialising an installation, and loading its keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::clock::Clock;
use custodian_core::operator::{Operator, Role};
use custodian_core::ports::{Initialization, Installation, Store};
use custodian_crypto::envelope::EnvelopeCrypto;
use custodian_crypto::jws::JwsSigner;
use custodian_crypto::keyfile;
use custodian_crypto::keys::{FileKeyProvider, KeyProvider, encode_kek};
use custodian_crypto::note::NoteSigner;
use custodian_crypto::pkcs11::{Pkcs11Config, Pkcs11KeyProvider};
use custodian_crypto::vault::Key256;
use custodian_store_postgres::PostgresStore;
use custodian_store_sqlite::SqliteStore;

use crate::config::StoreLocation;

/// The log-signing key's file name in the data directory.
pub const SIGNING_KEY_FILE: &str = "log-signing.key";
/// The local key-encryption key's file name in the data directory.
pub const KEK_FILE: &str = "kek.key";
/// The vault's root secret (blind indexes, pseudonyms, deterministic and FF1 tokens).
pub const VAULT_KEY_FILE: &str = "vault.key";

/// The key that signs consent receipts (Ed25519, PKCS#8).
pub const RECEIPT_KEY_FILE: &str = "consent-signing.key";
/// The development admin key's default file name.
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// Opens the store the location names (applying migrations).
pub async fn open_store(loc: &StoreLocation) -> anyhow::Result<Arc<dyn Store>> {
    match &loc.database_url {
        Some(url) => {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                bail!(
                    "--database-url must be a postgres:// URL (SQLite lives in the data directory)"
                );
            }
            let store = PostgresStore::connect(url)
                .await
                .context("cannot open the PostgreSQL database")?;
            Ok(Arc::new(store))
        }
        None => {
            ensure_dir(&loc.data_dir)?;
            let store = SqliteStore::open(&loc.data_dir).await.with_context(|| {
                format!(
                    "cannot open the SQLite database in {}",
                    loc.data_dir.display()
                )
            })?;
            Ok(Arc::new(store))
        }
    }
}

/// The lock file of a data directory: `custodian serve` holds it shared while it runs (so
/// several servers may share a directory), `custodian restore` exclusively, so a restore never
/// replaces the database under a running server, nor does a server start on a half-restored
/// one. Advisory (`flock`): released when the holding process ends, however it ends.
pub const LOCK_FILE: &str = "custodian.lock";

/// Who may hold a data directory's lock alongside whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirUse {
    /// A running server: other servers too, but no restore.
    Serve,
    /// A restore: nobody else.
    Restore,
}

/// Takes `dir`'s lock (see [`LOCK_FILE`]) for `using`, creating the directory if needed; the
/// lock lasts as long as the returned file is open. Fails at once, never waits, when the
/// directory is held in a way `using` excludes.
pub fn lock_data_dir(dir: &Path, using: DirUse) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    ensure_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let taken = match using {
        DirUse::Serve => file.try_lock_shared(),
        DirUse::Restore => file.try_lock(),
    };
    match taken {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => match using {
            DirUse::Serve => bail!(
                "{} is being restored (custodian restore holds {LOCK_FILE}): start the server once it is done",
                dir.display()
            ),
            DirUse::Restore => bail!(
                "a Custodian server is running on {} (it holds {LOCK_FILE}): stop it before restoring",
                dir.display()
            ),
        },
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

fn ensure_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    }
    Ok(())
}

/// What `initialize` made.
pub struct Initialized {
    /// Where the admin key was written.
    pub admin_key_file: PathBuf,
    /// The installation.
    pub installation: Installation,
}

/// Initialises a new installation: key files, then the store (in one transaction). If the
/// store refuses, the key files just written are removed, so nothing is half-written.
pub async fn initialize(
    loc: &StoreLocation,
    store: &dyn Store,
    clock: &dyn Clock,
    admin_key_file: Option<PathBuf>,
) -> anyhow::Result<Initialized> {
    ensure_dir(&loc.data_dir)?;
    let signing = loc.data_dir.join(SIGNING_KEY_FILE);
    let kek = loc.data_dir.join(KEK_FILE);
    let vault_key = loc.data_dir.join(VAULT_KEY_FILE);
    let receipt_key = loc.data_dir.join(RECEIPT_KEY_FILE);
    let admin_file = admin_key_file.unwrap_or_else(|| loc.data_dir.join(ADMIN_KEY_FILE));
    for f in [&signing, &kek, &vault_key, &receipt_key, &admin_file] {
        if f.exists() {
            bail!(
                "{} already exists: this data directory is initialised already",
                f.display()
            );
        }
    }
    if store.installation().await?.is_some() {
        bail!("the database is initialised already");
    }
    let now = custodian_core::clock::to_millis(clock.now());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let installation = Installation {
        log_origin: format!("custodian.local/{}", &id[..12]),
        id,
        created_at: now,
    };
    let admin = Operator {
        id: uuid::Uuid::now_v7().to_string(),
        name: "Administrator".into(),
        role: Role::Admin,
        training_valid_until: None,
        disabled: false,
        created_at: now,
    };
    let (secret, key) = custodian_server::routes::operators::issue_key(&admin, now, None)
        .map_err(|_| anyhow::anyhow!("cannot generate the admin key"))?;
    let signing_key = NoteSigner::generate_pkcs8()?;
    let passphrase = kek_passphrase()?;
    let kek_bytes = zeroize::Zeroizing::new(encode_kek(
        &Key256::generate().map_err(|_| anyhow::anyhow!("cannot make the KEK"))?,
        passphrase.as_deref().map(String::as_str),
    )?);
    let vault_bytes = zeroize::Zeroizing::new(custodian_crypto::random::bytes::<32>()?);
    let receipt_bytes = JwsSigner::generate_pkcs8()?;
    // Only files this call created are removed on failure (create_new never overwrites).
    let mut written: Vec<PathBuf> = Vec::new();
    let result = async {
        keyfile::create_secret_file(&signing, &signing_key)
            .with_context(|| format!("cannot write {}", signing.display()))?;
        written.push(signing.clone());
        keyfile::create_secret_file(&kek, kek_bytes.as_slice())
            .with_context(|| format!("cannot write {}", kek.display()))?;
        written.push(kek.clone());
        keyfile::create_secret_file(&vault_key, vault_bytes.as_slice())
            .with_context(|| format!("cannot write {}", vault_key.display()))?;
        written.push(vault_key.clone());
        keyfile::create_secret_file(&receipt_key, receipt_bytes.as_slice())
            .with_context(|| format!("cannot write {}", receipt_key.display()))?;
        written.push(receipt_key.clone());
        keyfile::create_secret_file(&admin_file, format!("{}\n", secret.as_str()).as_bytes())
            .with_context(|| format!("cannot write {}", admin_file.display()))?;
        written.push(admin_file.clone());
        store
            .initialize(Initialization {
                installation: installation.clone(),
                admin: admin.clone(),
                admin_key: key,
                policies: custodian_policy::DEFAULT_POLICIES.to_owned(),
                audit: AuditDraft::new(
                    now,
                    "init",
                    "cli",
                    "system.init",
                    "installation",
                    Decision::Allow,
                ),
            })
            .await
            .context("cannot initialise the database")?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        for f in &written {
            let _ = std::fs::remove_file(f);
        }
        return Err(e);
    }
    Ok(Initialized {
        admin_key_file: admin_file,
        installation,
    })
}

/// Loads the log-signing key, named after the installation's log origin.
pub fn load_signer(data_dir: &Path, installation: &Installation) -> anyhow::Result<NoteSigner> {
    let path = data_dir.join(SIGNING_KEY_FILE);
    let pkcs8 = keyfile::read_secret_file(&path)
        .with_context(|| format!("cannot read the log-signing key {}", path.display()))?;
    NoteSigner::from_pkcs8(&installation.log_origin, &pkcs8)
        .context("the log-signing key is invalid")
}

/// The consent-receipt signing key. A data directory initialised before consent existed has
/// none; one is made if no purpose was ever defined (so no receipt was ever signed).
pub async fn load_receipt_signer(data_dir: &Path, store: &dyn Store) -> anyhow::Result<JwsSigner> {
    let path = data_dir.join(RECEIPT_KEY_FILE);
    if !path.exists() && store.list_purposes().await?.is_empty() {
        let fresh = JwsSigner::generate_pkcs8()?;
        keyfile::create_secret_file(&path, fresh.as_slice())
            .with_context(|| format!("cannot write {}", path.display()))?;
        tracing::warn!(path = %path.display(), "created the consent-receipt key (this data directory predates consent)");
    }
    let pkcs8 = keyfile::read_secret_file(&path)
        .with_context(|| format!("cannot read the consent-receipt key {}", path.display()))?;
    JwsSigner::from_pkcs8(&pkcs8).context("the consent-receipt key is invalid")
}

/// The vault's cryptography: the KEK from `kek.key` (the file key provider) and the root
/// secret from `vault.key`.
///
/// A data directory initialised before the vault existed has no `vault.key`; one is made if
/// the vault holds no subject yet (otherwise the key is missing, and that is an error: a new
/// one would not find what the old one indexed).
pub async fn load_vault_crypto(
    data_dir: &Path,
    store: &dyn Store,
) -> anyhow::Result<EnvelopeCrypto> {
    let provider = key_provider(data_dir)?;
    let path = data_dir.join(VAULT_KEY_FILE);
    // Only a vault that never held anything may get a fresh root secret: otherwise indexes,
    // pseudonyms (and the erasure ledger's matching) would silently stop agreeing.
    if !path.exists()
        && store.subject_keys(None, 1).await?.is_empty()
        && store.list_collections().await?.is_empty()
        && store.erasure_ledger().await?.is_empty()
    {
        let fresh = zeroize::Zeroizing::new(custodian_crypto::random::bytes::<32>()?);
        keyfile::create_secret_file(&path, fresh.as_slice())
            .with_context(|| format!("cannot write {}", path.display()))?;
        tracing::warn!(path = %path.display(), "created the vault key (this data directory predates the vault)");
    }
    let root = keyfile::read_secret_file(&path)
        .with_context(|| format!("cannot read the vault key {}", path.display()))?;
    let root = Key256::from_bytes(&root)
        .map_err(|_| anyhow::anyhow!("{} must hold exactly 32 bytes", path.display()))?;
    EnvelopeCrypto::new(provider, &root)
        .map_err(|e| anyhow::anyhow!("cannot set up the vault's keys: {e}"))
}

/// The passphrase protecting the file keyring, from `CUSTODIAN_KEK_PASSPHRASE` or the file
/// `CUSTODIAN_KEK_PASSPHRASE_FILE` names; none when neither is set.
pub fn kek_passphrase() -> anyhow::Result<Option<zeroize::Zeroizing<String>>> {
    if let Ok(f) = std::env::var("CUSTODIAN_KEK_PASSPHRASE_FILE") {
        let bytes = keyfile::read_secret_file(Path::new(&f))
            .with_context(|| format!("cannot read the passphrase file {f}"))?;
        let text = String::from_utf8(bytes.to_vec()).context("the passphrase file is not UTF-8")?;
        return Ok(Some(zeroize::Zeroizing::new(
            text.trim_end_matches(['\n', '\r']).to_owned(),
        )));
    }
    Ok(std::env::var("CUSTODIAN_KEK_PASSPHRASE")
        .ok()
        .map(zeroize::Zeroizing::new))
}

/// The PKCS#11 settings, when `CUSTODIAN_KEY_PROVIDER=pkcs11`.
pub fn pkcs11_config() -> anyhow::Result<Option<Pkcs11Config>> {
    match std::env::var("CUSTODIAN_KEY_PROVIDER").as_deref() {
        Err(_) | Ok("file") => return Ok(None),
        Ok("pkcs11") => {}
        Ok(_) => bail!("CUSTODIAN_KEY_PROVIDER must be file or pkcs11"),
    }
    let var = |name: &str| {
        std::env::var(name)
            .with_context(|| format!("{name} must be set for the pkcs11 key provider"))
    };
    let pin = match std::env::var("CUSTODIAN_PKCS11_PIN_FILE") {
        Ok(f) => keyfile::read_secret_file(Path::new(&f))
            .with_context(|| format!("cannot read the PIN file {f}"))
            .and_then(|b| String::from_utf8(b.to_vec()).context("the PIN file is not UTF-8"))?
            .trim()
            .to_owned(),
        Err(_) => var("CUSTODIAN_PKCS11_PIN")?,
    };
    Ok(Some(Pkcs11Config {
        module: var("CUSTODIAN_PKCS11_MODULE")?,
        token: var("CUSTODIAN_PKCS11_TOKEN")?,
        pin,
        key_label: std::env::var("CUSTODIAN_PKCS11_KEY_LABEL")
            .unwrap_or_else(|_| "custodian-kek".to_owned()),
    }))
}

/// The key provider the environment selects: the data directory's keyring (default), or a
/// PKCS#11 token (`CUSTODIAN_KEY_PROVIDER=pkcs11`; the KEK is generated in the token if the
/// label is not there yet).
pub fn key_provider(data_dir: &Path) -> anyhow::Result<Arc<dyn KeyProvider>> {
    match pkcs11_config()? {
        Some(c) => Ok(Arc::new(
            Pkcs11KeyProvider::open(&c, true).context("cannot use the PKCS#11 key provider")?,
        )),
        None => {
            let kek = data_dir.join(KEK_FILE);
            let passphrase = kek_passphrase()?;
            let passphrase = passphrase.as_deref().map(String::as_str);
            Ok(Arc::new(
                FileKeyProvider::load_dir_with(data_dir, passphrase).with_context(|| {
                    format!("cannot load the key-encryption key {}", kek.display())
                })?,
            ))
        }
    }
}

/// The installation, or an error telling the user to initialise.
pub async fn require_installation(store: &dyn Store) -> anyhow::Result<Installation> {
    store
        .installation()
        .await?
        .context("this database is not initialised: run `custodian init` (or `custodian serve` on an empty data directory)")
}

/// The server's state over `store`: the log signer, the stored policy set, the vault's keys
/// and the receipt signer loaded from the data directory (for `serve`, and for commands that
/// run the server's logic without serving, such as `evidence export`).
pub async fn app_state(
    loc: &StoreLocation,
    store: Arc<dyn Store>,
    installation: &Installation,
    clock: Arc<dyn Clock>,
    config: custodian_server::ServerConfig,
) -> anyhow::Result<custodian_server::state::AppState> {
    let signer = load_signer(&loc.data_dir, installation)?;
    let policies = store
        .policy_set()
        .await?
        .context("the database has no policy set")?;
    let engine = custodian_policy::CedarEngine::new(&policies.text, policies.version)
        .context("the stored policy set does not load")?;
    let vault_crypto = load_vault_crypto(&loc.data_dir, store.as_ref()).await?;
    let receipts = load_receipt_signer(&loc.data_dir, store.as_ref()).await?;
    Ok(custodian_server::build_state(
        store,
        Arc::new(engine),
        clock,
        Arc::new(signer),
        Arc::new(vault_crypto),
        Arc::new(receipts),
        config,
    ))
}
