//! Integration tests: the real server, booted in-process on 127.0.0.1:0 with a temporary
//! data directory (or a fresh PostgreSQL database), spoken to over HTTP; and the real
//! `custodian` binary for process-level behaviour (kill -9, SIGTERM, two processes).

// Test code: failed expectations panic, and tests may read the wall clock.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod harness;

mod api_errors;
mod audit;
mod auth;
mod banner;
mod consent;
mod console;
mod datasets;
mod discovery;
mod drp;
mod evidence;
mod export;
mod incidents;
mod map;
mod monitoring;
mod policies;
mod process;
mod propagation;
mod registers;
mod retention;
mod rights;
mod scan;
mod smtp;
mod tls;
mod training;
mod vault;
mod webdriver;
