//! Codecs for the IAB privacy signal strings: TCF v2 TC strings ([`tcf`]) and Global Privacy
//! Platform strings ([`gpp`]), with the US national (usnat) section the server emits.
//!
//! Pure code: no IO, no async, no clock. The decoded types are the wire formats, so they
//! derive `serde` traits. Decoders never panic, whatever the input, and their error messages
//! never echo the input.
//!
//! Field layouts follow `/work/shared/reference/standards.md` §1 (TCF) and §2 (GPP), which
//! transcribes the IAB Tech Lab specifications; where reference libraries disagree with the
//! specification text, the item's documentation says which reading is used and why.
//!
//! * [`bits`]: bit strings, base64url, Fibonacci coding.
//! * [`tcf`]: [`tcf::decode`], [`tcf::encode`], [`tcf::validate_v23`].
//! * [`gpp`]: [`gpp::decode`], [`gpp::encode`], [`gpp::encode_usnat`],
//!   [`gpp::UsNat::from_opt_outs`], [`gpp::gpp_string_for_usnat`].

pub mod bits;
mod codec;
pub mod gpp;
pub mod tcf;

pub use codec::MAX_EXPANDED_IDS;

/// A set of 1-based ids (vendors, purposes, special features, sections…), sorted.
pub type IdSet = std::collections::BTreeSet<u16>;
