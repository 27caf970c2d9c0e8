//! IAB Global Privacy Platform (GPP) strings.
//!
//! Layout: `/work/shared/reference/standards.md` §2, from the IAB Tech Lab "Consent String
//! Specification" (Core) and the section specifications. A GPP string is a header and the
//! sections it lists, joined with `~`; a section may have sub-sections joined with `.`.
//!
//! * The header is `Type(6) = 3`, `Version(6) = 1` and the section ids as a
//!   `Range(Fibonacci)`; the ids must appear in increasing order and give the order of the
//!   sections.
//! * Sections decoded here: TCF EU v1 (1, deprecated, kept for old strings), TCF EU v2 (2,
//!   via [`crate::tcf`]), TCF Canada (5), US Privacy (6), US national (7, version 1 and 2)
//!   and the state sections California (8), Virginia (9), Colorado (10), Utah (11) and
//!   Connecticut (12). Other ids are kept verbatim as [`Section::Unknown`].
//! * Encoding writes the header and the US sections with "compressed" padding (to a whole
//!   byte, then to a whole character), as iabgpp-es, iabgpp-java and the vectors do.

mod header;
mod tcfca;
mod tcfeuv1;
mod us;
mod uspv1;
mod values;

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::codec::{CodecError, IdBudget};
use crate::tcf::{self, TcString, TcfError};

pub use header::GppHeader;
pub use tcfca::TcfCaV1;
pub use tcfeuv1::TcfEuV1;
pub use us::{UsCa, UsCo, UsCt, UsNat, UsNatVersion, UsUt, UsVa, decode_usnat, encode_usnat};
pub use uspv1::{UspFlag, UspV1};
pub use values::{Consent, MspaMode, Notice, OptOut};

/// GPP section ids (`Sections/Section Information.md`, standards.md §2.2).
pub mod section_id {
    /// EU TCF v1 (deprecated).
    pub const TCF_EU_V1: u16 = 1;
    /// EU TCF v2.
    pub const TCF_EU_V2: u16 = 2;
    /// Canadian TCF.
    pub const TCF_CA_V1: u16 = 5;
    /// US Privacy string (unencoded).
    pub const USP_V1: u16 = 6;
    /// MSPA US national.
    pub const US_NAT: u16 = 7;
    /// California.
    pub const US_CA: u16 = 8;
    /// Virginia.
    pub const US_VA: u16 = 9;
    /// Colorado.
    pub const US_CO: u16 = 10;
    /// Utah.
    pub const US_UT: u16 = 11;
    /// Connecticut.
    pub const US_CT: u16 = 12;
}

/// A decoded GPP string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GppString {
    /// The header; its `section_ids` match the ids of `sections`, in order.
    pub header: GppHeader,
    /// The sections, in string order.
    pub sections: Vec<Section>,
}

/// One GPP section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Section {
    /// Section 1: EU TCF v1.1 (deprecated).
    TcfEuV1(TcfEuV1),
    /// Section 2: EU TCF v2, the TC string as is.
    TcfEuV2(TcString),
    /// Section 5: Canadian TCF.
    TcfCaV1(TcfCaV1),
    /// Section 6: US Privacy string.
    UspV1(UspV1),
    /// Section 7: MSPA US national.
    UsNat(UsNat),
    /// Section 8: California.
    UsCa(UsCa),
    /// Section 9: Virginia.
    UsVa(UsVa),
    /// Section 10: Colorado.
    UsCo(UsCo),
    /// Section 11: Utah.
    UsUt(UsUt),
    /// Section 12: Connecticut.
    UsCt(UsCt),
    /// Any other section id, kept verbatim.
    Unknown {
        /// Section id from the header.
        id: u16,
        /// The section text between the `~` separators.
        raw: String,
    },
}

impl Section {
    /// The GPP section id.
    #[must_use]
    pub fn id(&self) -> u16 {
        match self {
            Self::TcfEuV1(_) => section_id::TCF_EU_V1,
            Self::TcfEuV2(_) => section_id::TCF_EU_V2,
            Self::TcfCaV1(_) => section_id::TCF_CA_V1,
            Self::UspV1(_) => section_id::USP_V1,
            Self::UsNat(_) => section_id::US_NAT,
            Self::UsCa(_) => section_id::US_CA,
            Self::UsVa(_) => section_id::US_VA,
            Self::UsCo(_) => section_id::US_CO,
            Self::UsUt(_) => section_id::US_UT,
            Self::UsCt(_) => section_id::US_CT,
            Self::Unknown { id, .. } => *id,
        }
    }
}

/// Why a GPP string could not be decoded or encoded.
///
/// Messages carry numbers only, never the input, so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GppError {
    /// The input is empty.
    #[error("empty GPP string")]
    Empty,
    /// The header could not be read.
    #[error("invalid GPP header: {0}")]
    Header(#[source] SectionError),
    /// The header's type field is not 3.
    #[error("not a GPP header (type {0}, expected 3)")]
    NotAGppHeader(u8),
    /// The header's version field is not 1.
    #[error("unsupported GPP version {0}")]
    UnsupportedVersion(u8),
    /// The header lists a different number of sections than the string holds.
    #[error("header lists {declared} sections but the string has {found}")]
    SectionCountMismatch {
        /// Sections listed in the header.
        declared: usize,
        /// Sections present after the header.
        found: usize,
    },
    /// A section could not be decoded or encoded.
    #[error("section {id}: {source}")]
    Section {
        /// Section id.
        id: u16,
        /// What went wrong.
        #[source]
        source: SectionError,
    },
    /// Encoding: section ids are not strictly increasing.
    #[error("section ids must be strictly increasing")]
    SectionsNotSorted,
    /// Encoding: the header's section ids differ from the sections' ids.
    #[error("header section ids do not match the sections")]
    HeaderMismatch,
}

/// Why one section (or the header) could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SectionError {
    /// The section, or one of its sub-sections, is empty.
    #[error("empty section or sub-section")]
    Empty,
    /// A character outside the base64url alphabet, or misplaced `=` padding.
    #[error("invalid base64url")]
    BadBase64,
    /// The bits ended before a field did.
    #[error("truncated")]
    Truncated,
    /// The section's version field is not one this crate knows.
    #[error("unsupported section version {0}")]
    UnsupportedVersion(u8),
    /// A sub-section type that the section does not define (0 is the core, which may only
    /// come first).
    #[error("unexpected sub-section type {0}")]
    UnexpectedSubsectionType(u8),
    /// The same sub-section type appears twice.
    #[error("duplicate sub-section type {0}")]
    DuplicateSubsection(u8),
    /// A range entry whose start is above its end.
    #[error("range entry starts at {start} after its end {end}")]
    RangeStartAfterEnd {
        /// First id of the entry.
        start: u16,
        /// Last id of the entry.
        end: u16,
    },
    /// A range entry naming id 0.
    #[error("id 0 in a range entry")]
    ZeroId,
    /// A range entry naming an id above the field's maximum.
    #[error("id {id} above the field's maximum {max}")]
    IdAboveMax {
        /// Offending id.
        id: u16,
        /// The field's maximum.
        max: u16,
    },
    /// An id (or a Fibonacci-coded offset) does not fit in 16 bits.
    #[error("id overflow")]
    IdOverflow,
    /// Range entries expand to more ids than [`crate::MAX_EXPANDED_IDS`].
    #[error("range entries expand to too many ids")]
    TooManyIds,
    /// A 6-bit letter value above 25 (`Z`).
    #[error("invalid letter value {0}")]
    InvalidLetter(u8),
    /// Not a US Privacy string (`1` then three of `Y`, `N`, `-`).
    #[error("invalid US Privacy string")]
    InvalidUspV1,
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
    /// A timestamp before 1970 or beyond the 36-bit decisecond range.
    #[error("timestamp out of range")]
    TimestampOutOfRange,
    /// Encoding: an unknown section's text contains `~` or is not websafe.
    #[error("raw section text is not websafe or contains '~'")]
    InvalidRawSection,
    /// The TCF EU v2 section failed to decode or encode.
    #[error("TCF: {0}")]
    Tcf(#[source] TcfError),
}

impl From<CodecError> for SectionError {
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

/// Decodes a GPP string.
///
/// The header's id list must have as many entries as there are `~`-separated sections;
/// each known section is decoded, and a failure names the section id. The header may be
/// in the specification's minimal padding (`DBABM`) or the libraries' byte padding
/// (`DBABMA`).
///
/// # Errors
/// A [`GppError`]. Never panics.
pub fn decode(input: &str) -> Result<GppString, GppError> {
    if input.is_empty() {
        return Err(GppError::Empty);
    }
    let mut parts = input.split('~');
    let header = GppHeader::decode(parts.next().unwrap_or_default())?;
    let texts: Vec<&str> = parts.collect();
    if texts.len() != header.section_ids.len() {
        return Err(GppError::SectionCountMismatch {
            declared: header.section_ids.len(),
            found: texts.len(),
        });
    }
    // One budget for every section: range expansions are bounded for the whole string.
    let mut budget = IdBudget::new();
    let sections = header
        .section_ids
        .iter()
        .zip(texts)
        .map(|(&id, text)| {
            decode_section(id, text, &mut budget).map_err(|source| GppError::Section { id, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GppString { header, sections })
}

fn decode_section(id: u16, text: &str, budget: &mut IdBudget) -> Result<Section, SectionError> {
    Ok(match id {
        section_id::TCF_EU_V1 => Section::TcfEuV1(TcfEuV1::decode_section(text, budget)?),
        section_id::TCF_EU_V2 => Section::TcfEuV2(
            tcf::decode::decode_with_budget(text, budget).map_err(SectionError::Tcf)?,
        ),
        section_id::TCF_CA_V1 => Section::TcfCaV1(TcfCaV1::decode_section(text, budget)?),
        section_id::USP_V1 => Section::UspV1(UspV1::decode_section(text)?),
        section_id::US_NAT => Section::UsNat(UsNat::decode_section(text)?),
        section_id::US_CA => Section::UsCa(UsCa::decode_section(text)?),
        section_id::US_VA => Section::UsVa(UsVa::decode_section(text)?),
        section_id::US_CO => Section::UsCo(UsCo::decode_section(text)?),
        section_id::US_UT => Section::UsUt(UsUt::decode_section(text)?),
        section_id::US_CT => Section::UsCt(UsCt::decode_section(text)?),
        _ => Section::Unknown {
            id,
            raw: text.to_owned(),
        },
    })
}

/// Encodes a GPP string: the header (built from the sections' ids) and every section.
///
/// Unknown sections are written verbatim and must be websafe without `~`.
///
/// # Errors
/// [`GppError::SectionsNotSorted`] unless section ids are strictly increasing,
/// [`GppError::HeaderMismatch`] if `header.section_ids` disagrees with the sections,
/// [`GppError::UnsupportedVersion`] unless `header.version` is 1, and
/// [`GppError::Section`] for a section whose values the wire format cannot hold.
pub fn encode(gpp: &GppString) -> Result<String, GppError> {
    let ids: Vec<u16> = gpp.sections.iter().map(Section::id).collect();
    if ids.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(GppError::SectionsNotSorted);
    }
    if ids != gpp.header.section_ids {
        return Err(GppError::HeaderMismatch);
    }
    let mut out = gpp.header.encode()?;
    for section in &gpp.sections {
        out.push('~');
        let text = encode_section(section).map_err(|source| GppError::Section {
            id: section.id(),
            source,
        })?;
        out.push_str(&text);
    }
    Ok(out)
}

fn encode_section(section: &Section) -> Result<String, SectionError> {
    Ok(match section {
        Section::TcfEuV1(s) => s.encode_section()?,
        Section::TcfEuV2(tc) => tcf::encode(tc).map_err(SectionError::Tcf)?,
        Section::TcfCaV1(s) => s.encode_section()?,
        Section::UspV1(s) => s.encode_section(),
        Section::UsNat(s) => encode_usnat(s),
        Section::UsCa(s) => s.encode_section(),
        Section::UsVa(s) => s.encode_section(),
        Section::UsCo(s) => s.encode_section(),
        Section::UsUt(s) => s.encode_section(),
        Section::UsCt(s) => s.encode_section(),
        Section::Unknown { raw, .. } => {
            let websafe = raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='));
            if !websafe {
                return Err(SectionError::InvalidRawSection);
            }
            raw.clone()
        }
    })
}

/// The encoded GPP header listing section 7 (usnat) alone: type 3, version 1, one entry
/// with id 7, byte padded. A test checks it against [`GppHeader`]'s encoder.
pub const USNAT_ONLY_HEADER: &str = "DBABLA";

/// A complete GPP string holding one usnat section: [`USNAT_ONLY_HEADER`] + `~` +
/// [`encode_usnat`].
#[must_use]
pub fn gpp_string_for_usnat(usnat: &UsNat) -> String {
    let mut out = String::from(USNAT_ONLY_HEADER);
    out.push('~');
    out.push_str(&encode_usnat(usnat));
    out
}

impl FromStr for GppString {
    type Err = GppError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        decode(s)
    }
}
