//! Consent and preferences: purposes and their legal bases, versioned notices, the consent
//! ledger and its derived state, and the decision of a consent check.

pub mod import;
pub mod ledger;
pub mod notice;
pub mod outbox;
pub mod purpose;
