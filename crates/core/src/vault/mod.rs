//! The vault's pure rules: field types with validation and normalisation, and masks.
//!
//! Architecture invariant: a [`value::ValueError`] names the field's rule, never the value, so
//! it can go into an API error as it is.

pub mod import;
pub mod mask;
pub mod record;
pub mod schema;
pub mod service;
pub mod value;
