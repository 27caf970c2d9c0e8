//! IAB TCF v2 TC strings (Transparency and Consent Framework, EU).
//!
//! Layout: `/work/shared/reference/standards.md` §1, from the IAB Tech Lab "Consent string and
//! vendor list formats v2" specification. A TC string is a core segment followed by optional
//! segments, joined with `.`; each non-core segment starts with a 3-bit segment type:
//! 1 = DisclosedVendors, 2 = AllowedVendors (legacy), 3 = PublisherTC.
//!
//! * [`decode`] accepts any TCF v2 string whose bits are well formed, whatever policy version
//!   it carries; the policy rules of TCF v2.3 are a separate layer, [`validate_v23`].
//! * [`encode`] writes the core segment, then DisclosedVendors, AllowedVendors and PublisherTC
//!   when present, each vendor section in whichever of bitfield and range encoding is shorter,
//!   padded to a multiple of 24 bits (the "traditional" padding of the specification's own
//!   examples, iabtcf-es and iabgpp-es).

pub(crate) mod decode;
pub(crate) mod encode;
mod validate;

use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::IdSet;
use crate::codec::CodecError;

pub use decode::decode;
pub use encode::encode;
pub use validate::{V23Violation, validate_v23};

/// A decoded TCF v2 TC string.
///
/// Id sets hold 1-based ids. Timestamps have decisecond precision on the wire; [`encode`]
/// truncates anything finer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcString {
    /// Version field; always 2 for the strings this module reads and writes.
    pub version: u8,
    /// When the TC string was created.
    pub created: Timestamp,
    /// When the TC string was last updated.
    pub last_updated: Timestamp,
    /// Consent management platform id (Global CMP List), 12 bits.
    pub cmp_id: u16,
    /// CMP version, 12 bits.
    pub cmp_version: u16,
    /// CMP screen on which consent was given, 6 bits.
    pub consent_screen: u8,
    /// ISO 639-1 language of the CMP UI: two upper-case letters, e.g. `"EN"`.
    pub consent_language: String,
    /// Global Vendor List version, 12 bits.
    pub vendor_list_version: u16,
    /// TCF policy version, 6 bits (4 = TCF 2.2; see [`validate_v23`]).
    pub tcf_policy_version: u8,
    /// Whether the string is service-specific (must be true under TCF 2.2 and later).
    pub is_service_specific: bool,
    /// Whether the CMP used non-standard texts (formerly "UseNonStandardStacks").
    pub use_non_standard_texts: bool,
    /// Special features opted in, ids 1–12.
    pub special_feature_opt_ins: IdSet,
    /// Purposes consented, ids 1–24.
    pub purposes_consent: IdSet,
    /// Purposes whose legitimate-interest transparency was established, ids 1–24.
    pub purposes_li_transparency: IdSet,
    /// Whether purpose 1 was not disclosed (jurisdiction-specific treatment).
    pub purpose_one_treatment: bool,
    /// ISO 3166-1 alpha-2 country of the publisher: two upper-case letters (`"AA"` is the
    /// common "unknown" value).
    pub publisher_cc: String,
    /// Vendors with consent.
    pub vendor_consents: IdSet,
    /// Vendors with legitimate-interest transparency established.
    pub vendor_legitimate_interests: IdSet,
    /// Publisher restrictions, in wire order. The same purpose or vendor may appear in more
    /// than one entry (iabtcf-es issue 201), so this is a list, not a map.
    pub publisher_restrictions: Vec<PublisherRestriction>,
    /// DisclosedVendors segment (type 1): vendors shown to the user. Mandatory since TCF 2.3.
    pub disclosed_vendors: Option<IdSet>,
    /// AllowedVendors segment (type 2). Removed from the specification in 2021 but still
    /// produced by old CMPs; decoded and re-encoded so that such strings survive a round trip.
    pub allowed_vendors: Option<IdSet>,
    /// PublisherTC segment (type 3).
    pub publisher_tc: Option<PublisherTc>,
}

/// One publisher restriction entry (standards.md §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherRestriction {
    /// Purpose the restriction applies to, 6 bits.
    pub purpose_id: u8,
    /// What the publisher requires for that purpose.
    pub restriction_type: RestrictionType,
    /// Vendors the restriction applies to.
    pub vendors: IdSet,
}

/// Publisher restriction type (2 bits).
///
/// In TCF Canada the same values read "require express consent" (1) and "require implied
/// consent" (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RestrictionType {
    /// 0: the purpose is flatly not allowed by the publisher.
    NotAllowed,
    /// 1: the publisher requires consent.
    RequireConsent,
    /// 2: the publisher requires legitimate interest.
    RequireLegitimateInterest,
    /// 3: undefined by the specification; kept so that decoding is lossless.
    Undefined,
}

impl RestrictionType {
    /// The restriction type for a 2-bit wire value (`None` above 3).
    #[must_use]
    pub fn from_raw(raw: u8) -> Option<Self> {
        match raw {
            0 => Some(Self::NotAllowed),
            1 => Some(Self::RequireConsent),
            2 => Some(Self::RequireLegitimateInterest),
            3 => Some(Self::Undefined),
            _ => None,
        }
    }

    /// The 2-bit wire value.
    #[must_use]
    pub fn raw(self) -> u8 {
        match self {
            Self::NotAllowed => 0,
            Self::RequireConsent => 1,
            Self::RequireLegitimateInterest => 2,
            Self::Undefined => 3,
        }
    }
}

/// PublisherTC segment (type 3, standards.md §1.6).
///
/// TCF Canada uses the same layout for its publisher purposes sub-section, where "consent"
/// reads "express consent" and "legitimate interest" reads "implied consent".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherTc {
    /// Publisher purposes consented, ids 1–24.
    pub purposes_consent: IdSet,
    /// Publisher purposes with legitimate-interest transparency, ids 1–24.
    pub purposes_li_transparency: IdSet,
    /// Number of custom purposes (`NumCustomPurposes`, 0–63): the length of both custom
    /// bitfields. Kept explicitly because it may exceed the highest id set.
    pub num_custom_purposes: u8,
    /// Custom purposes consented, ids 1–`num_custom_purposes`.
    pub custom_purposes_consent: IdSet,
    /// Custom purposes with legitimate-interest transparency, ids 1–`num_custom_purposes`.
    pub custom_purposes_li_transparency: IdSet,
}

/// Why a TC string could not be decoded or encoded.
///
/// Messages carry numbers only, never the input, so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TcfError {
    /// The input is empty.
    #[error("empty TC string")]
    Empty,
    /// A `.`-separated segment is empty.
    #[error("empty segment")]
    EmptySegment,
    /// A character outside the base64url alphabet, or misplaced `=` padding.
    #[error("invalid base64url")]
    BadBase64,
    /// The bits ended before a field did.
    #[error("truncated TC string")]
    Truncated,
    /// The version field is not 2 (1 is TCF v1.1, which is not supported).
    #[error("unsupported TC string version {0}")]
    UnsupportedVersion(u8),
    /// A segment type other than 1, 2 or 3 after the core segment (0 is reported as
    /// [`TcfError::MisplacedCoreSegment`]).
    #[error("unknown segment type {0}")]
    UnknownSegmentType(u8),
    /// A segment after the first one declares type 0 (core).
    #[error("core segment type after the core segment")]
    MisplacedCoreSegment,
    /// The same optional segment type appears twice.
    #[error("duplicate segment type {0}")]
    DuplicateSegment(u8),
    /// A range entry whose start is above its end.
    #[error("range entry starts at {start} after its end {end}")]
    RangeStartAfterEnd {
        /// First id of the entry.
        start: u16,
        /// Last id of the entry.
        end: u16,
    },
    /// A range entry naming id 0 (ids are 1-based).
    #[error("id 0 in a range entry")]
    ZeroId,
    /// A range entry naming an id above the section's `MaxVendorId`.
    #[error("id {id} above the section's maximum {max}")]
    IdAboveMax {
        /// Offending id.
        id: u16,
        /// The section's `MaxVendorId`.
        max: u16,
    },
    /// An id does not fit in 16 bits.
    #[error("id overflow")]
    IdOverflow,
    /// Range entries expand to more ids than [`crate::MAX_EXPANDED_IDS`].
    #[error("range entries expand to too many ids")]
    TooManyIds,
    /// A 6-bit letter value above 25 (`Z`).
    #[error("invalid letter value {0}")]
    InvalidLetter(u8),
    /// Encoding: a value does not fit its field.
    #[error("value does not fit field {field}")]
    FieldOverflow {
        /// Field name.
        field: &'static str,
    },
    /// Encoding: an id outside the field's id space.
    #[error("id {id} out of range for field {field}")]
    IdOutOfRange {
        /// Field name.
        field: &'static str,
        /// Offending id.
        id: u16,
    },
    /// Encoding: a two-letter field that is not two upper-case ASCII letters.
    #[error("field {field} must be two upper-case letters")]
    InvalidLetters {
        /// Field name.
        field: &'static str,
    },
    /// Encoding: more range entries than a 12-bit count can hold.
    #[error("too many entries for field {field}")]
    TooManyEntries {
        /// Field name.
        field: &'static str,
    },
    /// A timestamp before 1970 or beyond the 36-bit decisecond range (year 2187).
    #[error("timestamp out of range")]
    TimestampOutOfRange,
}

impl From<CodecError> for TcfError {
    fn from(error: CodecError) -> Self {
        match error {
            CodecError::BadBase64 => Self::BadBase64,
            CodecError::Truncated => Self::Truncated,
            CodecError::RangeStartAfterEnd { start, end } => {
                Self::RangeStartAfterEnd { start, end }
            }
            CodecError::ZeroId => Self::ZeroId,
            CodecError::IdAboveMax { id, max } => Self::IdAboveMax { id, max },
            CodecError::IdOverflow => Self::IdOverflow,
            CodecError::TooManyIds => Self::TooManyIds,
            CodecError::InvalidLetter(v) => Self::InvalidLetter(v),
            CodecError::FieldOverflow { field } => Self::FieldOverflow { field },
            CodecError::IdOutOfRange { field, id } => Self::IdOutOfRange { field, id },
            CodecError::InvalidLetters { field } => Self::InvalidLetters { field },
            CodecError::TooManyEntries { field } => Self::TooManyEntries { field },
            CodecError::TimestampOutOfRange => Self::TimestampOutOfRange,
        }
    }
}

impl FromStr for TcString {
    type Err = TcfError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode(s)
    }
}
