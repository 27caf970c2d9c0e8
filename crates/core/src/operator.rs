//! Operators (the staff and services that call Custodian), their roles and API keys.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

/// What an operator is for; Cedar policies grant actions to roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs the installation: operators, keys, policies.
    Admin,
    /// Data protection officer: rights requests, audit, policies.
    Dpo,
    /// Customer support staff.
    Support,
    /// Marketing staff.
    Marketing,
    /// Engineers and the services they run.
    Engineer,
    /// External or internal auditor: read-only access to the audit log.
    Auditor,
}

impl Role {
    /// Every role, in a stable order.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Dpo,
        Role::Support,
        Role::Marketing,
        Role::Engineer,
        Role::Auditor,
    ];

    /// The stable lower-case name used on the wire, in storage and in Cedar.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Dpo => "dpo",
            Role::Support => "support",
            Role::Marketing => "marketing",
            Role::Engineer => "engineer",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name given is not one of [`Role::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown role")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownRole)
    }
}

/// A person or service that calls Custodian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Stable id (a UUID v7 string).
    pub id: String,
    /// Display name; operators are staff, not data subjects, but the name is still kept out of logs.
    pub name: String,
    /// The operator's role.
    pub role: Role,
    /// Until when the operator's privacy training counts as current (none: never trained).
    pub training_valid_until: Option<Timestamp>,
    /// A disabled operator cannot authenticate.
    pub disabled: bool,
    /// When the operator was created.
    pub created_at: Timestamp,
}

impl Operator {
    /// Whether the operator's training is current at `now`.
    pub fn training_current(&self, now: Timestamp) -> bool {
        self.training_valid_until.is_some_and(|until| until > now)
    }
}

/// The longest operator name accepted.
pub const MAX_OPERATOR_NAME: usize = 200;

/// Why an operator name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// Empty or only white space.
    #[error("name is empty")]
    Empty,
    /// Longer than [`MAX_OPERATOR_NAME`] bytes.
    #[error("name is longer than {MAX_OPERATOR_NAME} bytes")]
    TooLong,
    /// Contains a control character.
    #[error("name contains a control character")]
    ControlCharacter,
}

/// Validates and trims an operator name.
pub fn validate_operator_name(name: &str) -> Result<String, NameError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_OPERATOR_NAME {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    Ok(name.to_owned())
}

/// An API key as stored: the secret itself is never kept, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Stable id (a UUID v7 string).
    pub id: String,
    /// The operator the key authenticates.
    pub operator_id: String,
    /// The first characters of the key, shown so people can tell keys apart.
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    /// When the key was created.
    pub created_at: Timestamp,
    /// After this instant the key no longer authenticates.
    pub expires_at: Option<Timestamp>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    /// Whether the key authenticates at `now`.
    pub fn usable_at(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_reject_unknown() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().ok(), Some(r));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn names_are_validated() {
        assert_eq!(validate_operator_name("  Ada "), Ok("Ada".into()));
        assert_eq!(validate_operator_name("  "), Err(NameError::Empty));
        assert_eq!(
            validate_operator_name("a\u{7}b"),
            Err(NameError::ControlCharacter)
        );
        assert_eq!(
            validate_operator_name(&"x".repeat(201)),
            Err(NameError::TooLong)
        );
    }

    #[test]
    fn key_usability_follows_expiry_and_revocation() {
        let t = |s: i64| Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH);
        let mut k = ApiKey {
            id: "k".into(),
            operator_id: "o".into(),
            prefix: "p".into(),
            hash: "h".into(),
            created_at: t(0),
            expires_at: Some(t(100)),
            revoked_at: None,
        };
        assert!(k.usable_at(t(99)));
        assert!(!k.usable_at(t(100)));
        k.expires_at = None;
        assert!(k.usable_at(t(1_000_000)));
        k.revoked_at = Some(t(5));
        assert!(!k.usable_at(t(6)));
    }
}
