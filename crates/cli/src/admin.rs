//! `custodian operators …` and `custodian keys …`: offline administration, audited as `cli`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use custodian_core::audit::{AuditDraft, Decision};
use custodian_core::clock::Clock;
use custodian_core::operator::{Operator, Role, validate_operator_name};
use custodian_core::ports::{Installation, Store};
use custodian_crypto::keyfile;
use custodian_server::routes::operators::{MAX_KEY_DAYS, issue_key};

use crate::config::StoreLocation;
use crate::setup;

/// Operator commands.
#[derive(Subcommand)]
pub enum OperatorsCommand {
    /// List operators.
    #[command(after_help = "Example:\n  custodian operators list --data-dir /var/lib/custodian")]
    List,
    /// Create an operator, optionally with a first API key.
    #[command(
        after_help = "Example:\n  custodian operators create --name \"Dana Auditor\" --role auditor --key-file dana.key"
    )]
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Role: admin, dpo, support, marketing, engineer or auditor.
        #[arg(long)]
        role: String,
        /// Also issue a key and write it to this file (mode 0600).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
    /// Disable an operator (its keys stop working).
    #[command(
        after_help = "Example:\n  custodian operators disable 0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10"
    )]
    Disable {
        /// Operator id.
        id: String,
    },
    /// Invite an operator to the web console: prints a single-use enrolment link (72 hours)
    /// where they set a login name, a password and an authenticator app. Enrolling again
    /// replaces their console credential.
    #[command(
        after_help = "Example:\n  custodian operators invite 0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10 --url http://127.0.0.1:8080"
    )]
    Invite {
        /// Operator id.
        id: String,
        /// The address the console is reached at, to print a whole link (default: the path).
        #[arg(long)]
        url: Option<String>,
    },
    /// Re-enable an operator.
    #[command(
        after_help = "Example:\n  custodian operators enable 0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10"
    )]
    Enable {
        /// Operator id.
        id: String,
    },
}

/// Key commands.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Issue an API key for an operator.
    #[command(
        after_help = "Example:\n  custodian keys create --operator 0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10 --expires-in-days 90 --out key.txt"
    )]
    Create {
        /// Operator id.
        #[arg(long)]
        operator: String,
        /// Days until it expires (1 to 3650); never by default.
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Write the key to this file (mode 0600) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List keys (never their secrets).
    #[command(
        after_help = "Example:\n  custodian keys list --operator 0192f0c1-7f3a-7c55-9d1e-3b6c2a9e4f10"
    )]
    List {
        /// Only this operator's keys.
        #[arg(long)]
        operator: Option<String>,
    },
    /// Revoke a key.
    #[command(
        after_help = "Example:\n  custodian keys revoke 0192f0c2-1b7e-7d40-8a55-6f0e9c3d2b11"
    )]
    Revoke {
        /// Key id.
        id: String,
    },
    /// Make a new key-encryption key and re-wrap every subject's data key under it, while the
    /// servers run (they pick up the new KEK on their next wrap). The old KEK is kept as
    /// `kek-retired-<id>.key` until no data key needs it.
    #[command(
        after_help = "Examples:\n  custodian keys rotate\n  custodian keys rotate --rewrap-only   # finish or repeat the re-wrap, no new KEK"
    )]
    Rotate {
        /// Only re-wrap keys not yet under the current KEK.
        #[arg(long)]
        rewrap_only: bool,
    },
    /// Give subjects new data keys, re-encrypting their records and tokens (one subject at a
    /// time, while the servers run).
    #[command(
        after_help = "Examples:\n  custodian keys rotate-data-keys                 # every subject\n  custodian keys rotate-data-keys --subject cus_1042"
    )]
    RotateDataKeys {
        /// Only this subject.
        #[arg(long)]
        subject: Option<String>,
    },
    /// Print the audit log's verifier (public) key, for `audit verify --public-key`.
    #[command(after_help = "Example:\n  custodian keys log-public-key > log.pub")]
    LogPublicKey,
}

/// The audit draft of an offline administration command (actor `cli`).
pub fn draft(clock: &dyn Clock, action: &str, resource: String) -> AuditDraft {
    AuditDraft::new(
        clock.now(),
        format!("cli-{}", uuid::Uuid::now_v7()),
        "cli",
        action,
        resource,
        Decision::Allow,
    )
}

/// Runs an operator command.
pub async fn operators(
    store: &dyn Store,
    clock: &dyn Clock,
    cmd: OperatorsCommand,
) -> anyhow::Result<()> {
    match cmd {
        OperatorsCommand::List => {
            store
                .append_audit(draft(clock, "operator.read", "operators".into()))
                .await?;
            for o in store.list_operators().await? {
                println!(
                    "{}  {:<9}  {}{}",
                    o.id,
                    o.role,
                    o.name,
                    if o.disabled { "  (disabled)" } else { "" }
                );
            }
        }
        OperatorsCommand::Create {
            name,
            role,
            key_file,
        } => {
            let role: Role = role.parse().map_err(|_| {
                anyhow::anyhow!(
                    "unknown role: use admin, dpo, support, marketing, engineer or auditor"
                )
            })?;
            let name = validate_operator_name(&name).map_err(|e| anyhow::anyhow!("name: {e}"))?;
            if let Some(f) = &key_file
                && f.exists()
            {
                bail!("{} already exists", f.display());
            }
            let op = Operator {
                id: uuid::Uuid::now_v7().to_string(),
                name,
                role,
                training_valid_until: None,
                disabled: false,
                created_at: custodian_core::clock::to_millis(clock.now()),
            };
            store
                .create_operator(
                    &op,
                    draft(clock, "operator.write", format!("operator:{}", op.id)),
                )
                .await?;
            println!("created operator {} ({})", op.id, op.role);
            if let Some(f) = key_file {
                let (secret, key) = issue_key(&op, clock.now(), None)
                    .map_err(|_| anyhow::anyhow!("cannot make a key"))?;
                keyfile::create_secret_file(&f, format!("{}\n", secret.as_str()).as_bytes())
                    .with_context(|| format!("cannot write {}", f.display()))?;
                if let Err(e) = store
                    .create_api_key(
                        &key,
                        draft(clock, "operator.write", format!("api_key:{}", key.id)),
                    )
                    .await
                {
                    let _ = std::fs::remove_file(&f);
                    return Err(anyhow::Error::from(e).context(format!(
                        "operator {} was created, but its key was not; issue one with `custodian keys create --operator {}`",
                        op.id, op.id
                    )));
                }
                println!("API key {} written to {} (mode 0600)", key.id, f.display());
            }
        }
        OperatorsCommand::Invite { .. } => {
            bail!("invitations are made by `invite`, which needs the server's keys")
        }
        OperatorsCommand::Disable { id } | OperatorsCommand::Enable { id }
            if uuid::Uuid::parse_str(&id).is_err() =>
        {
            bail!("{id:?} is not an operator id")
        }
        OperatorsCommand::Disable { id } => {
            store
                .set_operator_disabled(
                    &id,
                    true,
                    draft(clock, "operator.write", format!("operator:{id}")),
                )
                .await
                .map_err(not_found("operator"))?;
            println!("disabled operator {id}");
        }
        OperatorsCommand::Enable { id } => {
            store
                .set_operator_disabled(
                    &id,
                    false,
                    draft(clock, "operator.write", format!("operator:{id}")),
                )
                .await
                .map_err(not_found("operator"))?;
            println!("enabled operator {id}");
        }
    }
    Ok(())
}

/// `custodian operators invite`: issues a console invitation through the server's own logic
/// (the TOTP secret sealed under the installation's system key), audited as `cli`.
pub async fn invite(
    loc: &StoreLocation,
    clock: std::sync::Arc<dyn Clock>,
    id: &str,
    url: Option<&str>,
) -> anyhow::Result<()> {
    if uuid::Uuid::parse_str(id).is_err() {
        bail!("{id:?} is not an operator id");
    }
    if let Some(u) = url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        bail!("--url must start with http:// or https://");
    }
    let store = setup::open_store(loc).await?;
    let installation = setup::require_installation(store.as_ref()).await?;
    let op = store.get_operator(id).await?.context("no such operator")?;
    let state = setup::app_state(
        loc,
        store,
        &installation,
        clock.clone(),
        custodian_server::ServerConfig::default(),
    )
    .await?;
    let token = custodian_server::console::session::issue_invitation(
        &state,
        &op,
        "cli",
        draft(
            clock.as_ref(),
            "console.invite",
            format!("operator:{}", op.id),
        ),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
    let path = custodian_server::console::session::invitation_path(&token);
    match url {
        Some(u) => println!("{}{path}", u.trim_end_matches('/')),
        None => println!("{path}"),
    }
    eprintln!(
        "single-use enrolment link for {} ({}), valid 72 hours",
        op.id, op.role
    );
    Ok(())
}

fn not_found(what: &'static str) -> impl Fn(custodian_core::ports::StoreError) -> anyhow::Error {
    move |e| match e {
        custodian_core::ports::StoreError::NotFound => anyhow::anyhow!("no such {what}"),
        e => e.into(),
    }
}

/// Runs a key command.
pub async fn keys(
    store: &dyn Store,
    clock: &dyn Clock,
    loc: &StoreLocation,
    inst: &Installation,
    cmd: KeysCommand,
) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::RotateDataKeys { subject } => {
            let crypto = crate::setup::load_vault_crypto(&loc.data_dir, store).await?;
            let n = crate::kek::rotate_data_keys(store, &crypto, clock, subject.as_deref()).await?;
            println!("{n} subjects have a new data key");
        }
        KeysCommand::Rotate { rewrap_only } => {
            let r = crate::kek::rotate(store, &loc.data_dir, clock, rewrap_only).await?;
            if let Some(old) = &r.retired {
                println!(
                    "retired key-encryption key {old}; the current one is {}",
                    r.current
                );
            }
            println!("re-wrapped {} data keys", r.rewrapped);
            if r.left.is_empty() {
                println!("every data key is wrapped by {}", r.current);
            } else {
                for (kek, n) in &r.left {
                    println!(
                        "{n} data keys still wrapped by {kek}: run `custodian keys rotate --rewrap-only`"
                    );
                }
            }
        }
        KeysCommand::Create {
            operator,
            expires_in_days,
            out,
        } => {
            if let Some(d) = expires_in_days
                && !(1..=MAX_KEY_DAYS).contains(&d)
            {
                bail!("--expires-in-days must be between 1 and {MAX_KEY_DAYS}");
            }
            let op = store
                .get_operator(&operator)
                .await?
                .context("no such operator")?;
            let (secret, key) = issue_key(&op, clock.now(), expires_in_days)
                .map_err(|_| anyhow::anyhow!("cannot make a key"))?;
            if let Some(f) = &out {
                keyfile::create_secret_file(f, format!("{}\n", secret.as_str()).as_bytes())
                    .with_context(|| format!("cannot write {}", f.display()))?;
            }
            if let Err(e) = store
                .create_api_key(
                    &key,
                    draft(clock, "operator.write", format!("api_key:{}", key.id)),
                )
                .await
            {
                if let Some(f) = &out {
                    let _ = std::fs::remove_file(f);
                }
                return Err(e.into());
            }
            match out {
                Some(f) => println!("API key {} written to {} (mode 0600)", key.id, f.display()),
                None => println!("{}", secret.as_str()),
            }
        }
        KeysCommand::List { operator } => {
            let resource = operator
                .as_ref()
                .map_or_else(|| "operators".to_owned(), |o| format!("operator:{o}"));
            store
                .append_audit(draft(clock, "operator.read", resource))
                .await?;
            for k in store.list_api_keys(operator.as_deref()).await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else if !k.usable_at(clock.now()) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{}  {}…  operator {}  {}",
                    k.id, k.prefix, k.operator_id, state
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if uuid::Uuid::parse_str(&id).is_err() {
                bail!("{id:?} is not a key id");
            }
            store
                .revoke_api_key(
                    &id,
                    clock.now(),
                    draft(clock, "operator.write", format!("api_key:{id}")),
                )
                .await
                .map_err(not_found("unrevoked key"))?;
            println!("revoked key {id}");
        }
        KeysCommand::LogPublicKey => {
            let signer = setup::load_signer(&loc.data_dir, inst)?;
            println!("{}", signer.verifier_key());
        }
    }
    Ok(())
}
