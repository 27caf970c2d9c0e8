//! Custodian's domain: types, rules and services, with no IO.
//!
//! Architecture invariant: this crate depends on no HTTP, SQL or filesystem crate. Time comes
//! through [`clock::Clock`], storage through the ports in [`ports`]; everything here is pure
//! and testable with a fixed clock.

pub mod access;
pub mod audit;
pub mod clock;
pub mod consent;
pub mod console;
pub mod doc;
pub mod dpia;
pub mod incident;
pub mod map;
pub mod monitor;
pub mod operator;
pub mod ports;
pub mod register;
pub mod retention;
pub mod rights;
mod table;
pub mod taxonomy;
pub mod training;
pub mod vault;
pub mod vendor;

pub use jiff;
pub use jiff::Timestamp;
