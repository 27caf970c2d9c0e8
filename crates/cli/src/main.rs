//! `custodian`: the server and its administration commands.

use std::process::ExitCode;

use clap::Parser;
use custodian_cli::{Cli, Command, run};

/// mimalloc instead of the system allocator: a request allocates and frees many small
/// buffers on two threads at once, where glibc's allocator showed as the largest user-space
/// cost in profiles of the consent check (see bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTODIAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if json { "info" } else { "warn" }));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Serve { .. }));
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Command::Serve {
        workers: Some(n), ..
    } = &cli.command
    {
        runtime.worker_threads(usize::from(*n));
    }
    let result = match runtime.build() {
        Ok(rt) => rt.block_on(run(cli)),
        Err(e) => Err(anyhow::Error::from(e).context("cannot start the async runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
