//! `custodian retention plan`: what retention would dispose of now (or at `--at`), and why:
//! each vault disposal with the rules that call for it and since when, what a legal hold
//! keeps back, and each connected table with its cutoff. Reads no values; audited as actor
//! `cli`.

use anyhow::Context;
use clap::Subcommand;
use custodian_core::Timestamp;
use custodian_core::clock::Clock;
use custodian_core::map::service::current;
use custodian_core::ports::Store;
use custodian_core::retention::service::{dataset_tables, vault_facts};
use custodian_core::retention::{Due, Item, Skipped, plan_datasets, plan_vault};

use crate::config::StoreLocation;

/// The retention commands.
#[derive(Subcommand)]
pub enum RetentionCommand {
    /// Preview what retention would dispose of, and why.
    #[command(
        after_help = "Examples:\n  custodian retention plan\n  custodian retention plan --at 2027-06-30T00:00:00Z"
    )]
    Plan {
        /// Plan for this instant (RFC 3339) instead of now.
        #[arg(long)]
        at: Option<String>,
    },
}

fn line(d: &Due) -> String {
    let what = match &d.item {
        Item::ShredSubject => "crypto-shred the subject (every record)".to_owned(),
        Item::DeleteRecord { collection, record } => format!("delete record {collection}/{record}"),
        Item::DropFields {
            collection,
            record,
            fields,
        } => format!(
            "remove {} from record {collection}/{record}",
            fields.join(", ")
        ),
    };
    format!(
        "{}: {what}; due since {} (rules: {})",
        d.subject_id,
        d.due_at,
        d.rules.join(", ")
    )
}

/// Prints the plan.
pub async fn plan(
    loc: &StoreLocation,
    store: &dyn Store,
    clock: &dyn Clock,
    at: Option<&str>,
) -> anyhow::Result<()> {
    let at = match at {
        Some(s) => s
            .parse::<Timestamp>()
            .with_context(|| "--at is an RFC 3339 time, e.g. 2027-01-01T00:00:00Z")?,
        None => clock.now(),
    };
    store
        .append_audit(crate::admin::draft(clock, "retention.plan", "map".into()))
        .await?;
    let map = current(store).await?;
    let holds: Vec<_> = store.holds().await?.into_iter().map(|h| h.hold).collect();
    let crypto = crate::setup::load_vault_crypto(&loc.data_dir, store).await?;
    let pseudonym = |s: &str| custodian_core::vault::service::VaultCrypto::pseudonym(&crypto, s);
    let facts = vault_facts(store, &pseudonym, &map.retention_rules, at).await?;
    let vault = plan_vault(&map.retention_rules, &holds, &facts, at);
    let tables = plan_datasets(
        &map.retention_rules,
        &holds,
        &dataset_tables(&map.datasets),
        at,
    );
    println!(
        "retention plan at {at}: {} rules, {} legal holds",
        map.retention_rules.len(),
        holds.len()
    );
    for d in &vault.due {
        println!("due     vault {}", line(d));
    }
    for h in &vault.held {
        println!(
            "held    vault {} — kept by hold {}",
            line(&h.due),
            h.hold_id
        );
    }
    for t in &tables.disposals {
        let what = if t.delete_rows {
            "delete rows".to_owned()
        } else {
            format!("anonymize {} in rows", t.columns.join(", "))
        };
        println!(
            "due     dataset {}.{}: {what} whose {} is at or before {} (rules: {})",
            t.dataset,
            t.table,
            t.time_column,
            t.cutoff,
            t.rules.join(", ")
        );
    }
    for s in &tables.skipped {
        let why = match &s.why {
            Skipped::NoTimeColumn => {
                "the table declares no time column for the rule's trigger".to_owned()
            }
            Skipped::ConsentTriggerNotApplicable => {
                "consent withdrawals are known only for vault subjects".to_owned()
            }
            Skipped::Held { hold_id } => format!("kept by hold {hold_id}"),
        };
        println!(
            "skipped dataset {}.{} for rule {}: {why}",
            s.dataset, s.table, s.rule
        );
    }
    println!(
        "{} vault disposals due, {} held; {} tables due, {} skipped",
        vault.due.len(),
        vault.held.len(),
        tables.disposals.len(),
        tables.skipped.len()
    );
    Ok(())
}
