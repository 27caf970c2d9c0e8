//! Integration tests for `custodian-iab`: one binary, a module per area.
//!
//! Vectors live in `tests/vectors/` (origins and licences in `ATTRIBUTION.md` there).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    missing_docs
)]

mod bits;
mod gpp_errors;
mod gpp_vectors;
mod robustness;
mod support;
mod tcf_errors;
mod tcf_validate;
mod tcf_vectors;
mod usnat;
