//! TCF v2.3 policy rules, kept apart from decoding (standards.md §1.10: a decoder accepts
//! strings that a strict validator rejects).

use jiff::Timestamp;
use thiserror::Error;

use super::{RestrictionType, TcString};

/// Purposes for which legitimate interest is not allowed since TCF 2.2.
const NO_LI_PURPOSES: [u16; 5] = [1, 3, 4, 5, 6];

/// Lowest policy version accepted (TCF 2.2).
const MIN_POLICY_VERSION: u8 = 4;

/// A TCF v2.3 rule that a TC string breaks. See [`validate_v23`] for the sources.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum V23Violation {
    /// The version field is not 2.
    #[error("version {0} is not 2")]
    UnsupportedVersion(u8),
    /// `TcfPolicyVersion` below 4: invalid since 30 September 2023.
    #[error("TCF policy version {found} is below 4")]
    PolicyVersionTooOld {
        /// The string's policy version.
        found: u8,
    },
    /// `IsServiceSpecific` is 0; vendors must treat such strings as invalid.
    #[error("IsServiceSpecific must be 1")]
    NotServiceSpecific,
    /// Legitimate-interest transparency signalled for purposes 1, 3, 4, 5 or 6.
    #[error("legitimate interest is not allowed for purposes {0:?}")]
    ForbiddenLegitimateInterest(Vec<u16>),
    /// The DisclosedVendors segment is missing (mandatory since TCF 2.3).
    #[error("DisclosedVendors segment missing")]
    MissingDisclosedVendors,
    /// The legacy AllowedVendors segment is present; it no longer exists in the
    /// specification.
    #[error("AllowedVendors segment is no longer part of the specification")]
    AllowedVendorsPresent,
    /// `Created` is not at the start of a UTC day.
    #[error("Created is not at the start of a UTC day")]
    CreatedNotStartOfDay,
    /// `LastUpdated` is not at the start of a UTC day.
    #[error("LastUpdated is not at the start of a UTC day")]
    LastUpdatedNotStartOfDay,
    /// `Created` and `LastUpdated` differ.
    #[error("Created and LastUpdated differ")]
    CreatedDiffersFromLastUpdated,
    /// A publisher restriction with type 3, which the specification leaves undefined.
    #[error("publisher restriction for purpose {purpose_id} has the undefined type 3")]
    UndefinedRestrictionType {
        /// Purpose of the offending entry.
        purpose_id: u8,
    },
}

/// Checks a decoded TC string against the TCF v2.2/v2.3 validity rules of
/// `/work/shared/reference/standards.md` §1, returning every rule it breaks:
///
/// * version 2 (§1.2 row 1);
/// * `TcfPolicyVersion >= 4` (§1 version history, "2.2 (May 2023)": strings with a policy
///   version below 4 are invalid from 30 September 2023; §1.2 row 9);
/// * `IsServiceSpecific = 1` (§1.2 row 10);
/// * no legitimate-interest bit for purposes 1, 3, 4, 5, 6 (§1.2 row 14);
/// * a DisclosedVendors segment is present (§1 version history, "2.3 (Apr 2025)", and §1.5:
///   mandatory since 2.3 — required here whatever the policy version, since the string is
///   checked against 2.3);
/// * no AllowedVendors segment (§1 version history: it no longer exists);
/// * `Created` and `LastUpdated` at the start of a UTC day (§1.1) and equal (§1 version
///   history, "Since Dec 2021"; §1.2 row 3);
/// * no publisher restriction of the undefined type 3 (§1.4).
///
/// # Errors
/// The list of violations, in the order above, when there is at least one.
pub fn validate_v23(tc: &TcString) -> Result<(), Vec<V23Violation>> {
    let mut violations = Vec::new();
    if tc.version != 2 {
        violations.push(V23Violation::UnsupportedVersion(tc.version));
    }
    if tc.tcf_policy_version < MIN_POLICY_VERSION {
        violations.push(V23Violation::PolicyVersionTooOld {
            found: tc.tcf_policy_version,
        });
    }
    if !tc.is_service_specific {
        violations.push(V23Violation::NotServiceSpecific);
    }
    let forbidden: Vec<u16> = NO_LI_PURPOSES
        .into_iter()
        .filter(|p| tc.purposes_li_transparency.contains(p))
        .collect();
    if !forbidden.is_empty() {
        violations.push(V23Violation::ForbiddenLegitimateInterest(forbidden));
    }
    if tc.disclosed_vendors.is_none() {
        violations.push(V23Violation::MissingDisclosedVendors);
    }
    if tc.allowed_vendors.is_some() {
        violations.push(V23Violation::AllowedVendorsPresent);
    }
    if !is_start_of_day(tc.created) {
        violations.push(V23Violation::CreatedNotStartOfDay);
    }
    if !is_start_of_day(tc.last_updated) {
        violations.push(V23Violation::LastUpdatedNotStartOfDay);
    }
    if tc.created != tc.last_updated {
        violations.push(V23Violation::CreatedDiffersFromLastUpdated);
    }
    for restriction in &tc.publisher_restrictions {
        if restriction.restriction_type == RestrictionType::Undefined {
            violations.push(V23Violation::UndefinedRestrictionType {
                purpose_id: restriction.purpose_id,
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

fn is_start_of_day(ts: Timestamp) -> bool {
    ts.subsec_nanosecond() == 0 && ts.as_second().rem_euclid(86_400) == 0
}
