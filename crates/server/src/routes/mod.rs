//! The HTTP routes, one module per area.

pub mod audit;
pub mod consent;
pub mod health;
pub mod operators;
pub mod policies;
pub mod vault;

use crate::error::{ApiError, ErrorCode};

/// Checks that a path id looks like one of ours (a UUID); anything else is a 400.
pub fn check_id(id: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ApiError::new(ErrorCode::InvalidPathParameter))
}
