//! The registers kept as documents: vendors and DPIAs, each an entry of a kind under a key,
//! its body the JSON the core writes ([`crate::vendor`], [`crate::dpia`]), changed only over
//! the version read.

use jiff::Timestamp;

use crate::ports::{Store, StoreError};

/// The kinds of register entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterKind {
    /// A vendor or processor ([`crate::vendor::Vendor`]).
    Vendor,
    /// A data protection impact assessment ([`crate::dpia::Dpia`]).
    Dpia,
}

impl RegisterKind {
    /// `vendor` or `dpia`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisterKind::Vendor => "vendor",
            RegisterKind::Dpia => "dpia",
        }
    }

    /// Parses [`RegisterKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [RegisterKind::Vendor, RegisterKind::Dpia]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterEntry {
    /// Its kind.
    pub kind: RegisterKind,
    /// Its key.
    pub key: String,
    /// The document (JSON).
    pub body: String,
    /// 1 when added, then one more with each change.
    pub version: i64,
    /// Added.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// Every DPIA in the register (entries that no longer read are left out).
pub async fn dpias(store: &dyn Store) -> Result<Vec<crate::dpia::Dpia>, StoreError> {
    Ok(store
        .register_entries(RegisterKind::Dpia)
        .await?
        .iter()
        .filter_map(|e| crate::dpia::Dpia::from_json(&e.key, &e.body))
        .collect())
}
