//! The registers kept as documents: vendors, DPIAs, the access monitor's rules, state and
//! alerts, console credentials, invitations and sessions, each an entry of a kind under a key,
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
    /// The access monitor's rules (key `rules`) and state (key `state`)
    /// ([`crate::monitor`]).
    Monitor,
    /// An alert the access monitor raised (keyed by id).
    Alert,
    /// An operator's console credential (keyed by operator id; [`crate::console::Credential`]).
    ConsoleCredential,
    /// An invitation to enrol in the console (keyed by the token's SHA-256).
    ConsoleInvitation,
    /// A console session (keyed by the token's SHA-256).
    ConsoleSession,
}

impl RegisterKind {
    /// `vendor`, `dpia`, `monitor` or `alert`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisterKind::Vendor => "vendor",
            RegisterKind::Dpia => "dpia",
            RegisterKind::Monitor => "monitor",
            RegisterKind::Alert => "alert",
            RegisterKind::ConsoleCredential => "console_credential",
            RegisterKind::ConsoleInvitation => "console_invitation",
            RegisterKind::ConsoleSession => "console_session",
        }
    }

    /// Parses [`RegisterKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            RegisterKind::Vendor,
            RegisterKind::Dpia,
            RegisterKind::Monitor,
            RegisterKind::Alert,
            RegisterKind::ConsoleCredential,
            RegisterKind::ConsoleInvitation,
            RegisterKind::ConsoleSession,
        ]
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
