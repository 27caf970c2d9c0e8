//! TCF Canada (GPP section 5), from `Sections/Canada/GPPExtension: IAB Canada TCF.md`.
//!
//! Where the libraries and the specification text disagree, this module follows:
//!
//! * vendor express / implied consents: the TCF vendor-section layout (`MaxVendorId(16)`,
//!   `IsRangeEncoding(1)`, bitfield or `Range(Int)`, GPP's `OptimizedIntRange`), which is what
//!   iabgpp-es, iabgpp-java and iabgpp-rs read and what the `tcfcav1_full` vector holds,
//!   although the specification's table says `OptimizedRange`;
//! * `PubRestrictions`: the specification's `N-ArrayOfRanges(6,2)` whose ids are an
//!   `OptimizedRange` (Fibonacci or N-bitfield), as iabgpp-rs reads it (iabgpp-java writes
//!   fixed-integer ranges instead; no vector has an entry). The field came with TCF CA v1.1:
//!   when fewer than 12 bits follow the vendor sections it is read as empty;
//! * DisclosedVendors (sub-section type 1): the specification's `OptimizedRange`, as
//!   iabgpp-rs and current iabgpp-java read it.
//!
//! Segments are written with "compressed" (byte) padding, as the vectors are.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::IdSet;
use crate::bits::{BitReader, BitWriter, Padding};
use crate::codec::{
    self, CodecError, IdBudget, read_bitfield, read_bool, read_letters, read_optimized_range,
    read_timestamp, read_u8, read_u16, read_vendor_section, to_text, write_bitfield, write_letters,
    write_optimized_range, write_timestamp, write_uint, write_vendor_section,
};
use crate::tcf::decode::read_publisher_tc_body;
use crate::tcf::encode::write_publisher_tc_body;
use crate::tcf::{PublisherRestriction, PublisherTc, RestrictionType};

use super::SectionError;

const VERSION: u8 = 1;
const PADDING: Padding = Padding::Byte;

/// Canadian TCF section (GPP section 5), version 1.
///
/// TCF Canada reads "consent" as express consent and "legitimate interest" as implied
/// consent; the shared [`PublisherRestriction`] and [`PublisherTc`] types are used with that
/// reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcfCaV1 {
    /// When the string was created.
    pub created: Timestamp,
    /// When the string was last updated.
    pub last_updated: Timestamp,
    /// CMP id, 12 bits.
    pub cmp_id: u16,
    /// CMP version, 12 bits.
    pub cmp_version: u16,
    /// CMP screen, 6 bits.
    pub consent_screen: u8,
    /// ISO 639-1 language, two upper-case letters.
    pub consent_language: String,
    /// Vendor list version, 12 bits.
    pub vendor_list_version: u16,
    /// Policy version, 6 bits.
    pub tcf_policy_version: u8,
    /// Whether non-standard stacks were used.
    pub use_non_standard_stacks: bool,
    /// Special features with express consent, ids 1–12.
    pub special_feature_express_consents: IdSet,
    /// Purposes with express consent, ids 1–24.
    pub purposes_express_consent: IdSet,
    /// Purposes with implied consent, ids 1–24.
    pub purposes_implied_consent: IdSet,
    /// Vendors with express consent.
    pub vendor_express_consent: IdSet,
    /// Vendors with implied consent.
    pub vendor_implied_consent: IdSet,
    /// Publisher restrictions (`RequireConsent` reads "require express consent",
    /// `RequireLegitimateInterest` "require implied consent").
    pub pub_restrictions: Vec<PublisherRestriction>,
    /// Disclosed vendors sub-section (type 1).
    pub disclosed_vendors: Option<IdSet>,
    /// Publisher purposes sub-section (type 3).
    pub publisher_purposes: Option<PublisherTc>,
}

impl TcfCaV1 {
    pub(crate) fn decode_section(text: &str, budget: &mut IdBudget) -> Result<Self, SectionError> {
        let mut parts = text.split('.');
        let core = parts.next().unwrap_or_default();
        if core.is_empty() {
            return Err(SectionError::Empty);
        }
        let bits = codec::segment_bits(core)?;
        let mut section = read_core(&mut bits.reader(), budget)?;
        for part in parts {
            if part.is_empty() {
                return Err(SectionError::Empty);
            }
            let bits = codec::segment_bits(part)?;
            let mut r = bits.reader();
            match read_u8(&mut r, 3)? {
                1 => {
                    if section.disclosed_vendors.is_some() {
                        return Err(SectionError::DuplicateSubsection(1));
                    }
                    section.disclosed_vendors = Some(read_optimized_range(&mut r, budget)?);
                }
                3 => {
                    if section.publisher_purposes.is_some() {
                        return Err(SectionError::DuplicateSubsection(3));
                    }
                    section.publisher_purposes = Some(read_publisher_tc_body(&mut r)?);
                }
                other => return Err(SectionError::UnexpectedSubsectionType(other)),
            }
        }
        Ok(section)
    }

    pub(crate) fn encode_section(&self) -> Result<String, SectionError> {
        let mut out = to_text(self.core()?, PADDING);
        if let Some(disclosed) = &self.disclosed_vendors {
            let mut w = BitWriter::new();
            write_uint(&mut w, 1u8, 3, "subsection_type")?;
            write_optimized_range(&mut w, disclosed, "disclosed_vendors")?;
            out.push('.');
            out.push_str(&to_text(w, PADDING));
        }
        if let Some(purposes) = &self.publisher_purposes {
            let mut w = BitWriter::new();
            write_uint(&mut w, 3u8, 3, "subsection_type")?;
            write_publisher_tc_body(&mut w, purposes)?;
            out.push('.');
            out.push_str(&to_text(w, PADDING));
        }
        Ok(out)
    }

    fn core(&self) -> Result<BitWriter, CodecError> {
        let mut w = BitWriter::new();
        write_uint(&mut w, VERSION, 6, "version")?;
        write_timestamp(&mut w, self.created)?;
        write_timestamp(&mut w, self.last_updated)?;
        write_uint(&mut w, self.cmp_id, 12, "cmp_id")?;
        write_uint(&mut w, self.cmp_version, 12, "cmp_version")?;
        write_uint(&mut w, self.consent_screen, 6, "consent_screen")?;
        write_letters(&mut w, &self.consent_language, 2, "consent_language")?;
        write_uint(&mut w, self.vendor_list_version, 12, "vendor_list_version")?;
        write_uint(&mut w, self.tcf_policy_version, 6, "tcf_policy_version")?;
        w.write_bool(self.use_non_standard_stacks);
        write_bitfield(
            &mut w,
            &self.special_feature_express_consents,
            12,
            "special_feature_express_consents",
        )?;
        write_bitfield(
            &mut w,
            &self.purposes_express_consent,
            24,
            "purposes_express_consent",
        )?;
        write_bitfield(
            &mut w,
            &self.purposes_implied_consent,
            24,
            "purposes_implied_consent",
        )?;
        write_vendor_section(
            &mut w,
            &self.vendor_express_consent,
            "vendor_express_consent",
        )?;
        write_vendor_section(
            &mut w,
            &self.vendor_implied_consent,
            "vendor_implied_consent",
        )?;
        const FIELD: &str = "pub_restrictions";
        let count = u16::try_from(self.pub_restrictions.len())
            .ok()
            .filter(|&n| n < 1 << 12)
            .ok_or(CodecError::TooManyEntries { field: FIELD })?;
        write_uint(&mut w, count, 12, FIELD)?;
        for restriction in &self.pub_restrictions {
            write_uint(&mut w, restriction.purpose_id, 6, FIELD)?;
            write_uint(&mut w, restriction.restriction_type.raw(), 2, FIELD)?;
            write_optimized_range(&mut w, &restriction.vendors, FIELD)?;
        }
        Ok(w)
    }
}

fn read_core(r: &mut BitReader<'_>, budget: &mut IdBudget) -> Result<TcfCaV1, SectionError> {
    let version = read_u8(r, 6)?;
    if version != VERSION {
        return Err(SectionError::UnsupportedVersion(version));
    }
    Ok(TcfCaV1 {
        created: read_timestamp(r)?,
        last_updated: read_timestamp(r)?,
        cmp_id: read_u16(r, 12)?,
        cmp_version: read_u16(r, 12)?,
        consent_screen: read_u8(r, 6)?,
        consent_language: read_letters(r, 2)?,
        vendor_list_version: read_u16(r, 12)?,
        tcf_policy_version: read_u8(r, 6)?,
        use_non_standard_stacks: read_bool(r)?,
        special_feature_express_consents: read_bitfield(r, 12)?,
        purposes_express_consent: read_bitfield(r, 24)?,
        purposes_implied_consent: read_bitfield(r, 24)?,
        vendor_express_consent: read_vendor_section(r, budget)?,
        vendor_implied_consent: read_vendor_section(r, budget)?,
        pub_restrictions: read_pub_restrictions(r, budget)?,
        disclosed_vendors: None,
        publisher_purposes: None,
    })
}

/// `N-ArrayOfRanges(6,2)`: `Int(12)` count, then per record `Int(6)` purpose, `Int(2)` type
/// and an `OptimizedRange` of vendors. Absent (fewer than 12 bits left) reads as empty.
fn read_pub_restrictions(
    r: &mut BitReader<'_>,
    budget: &mut IdBudget,
) -> Result<Vec<PublisherRestriction>, CodecError> {
    if r.remaining() < 12 {
        return Ok(Vec::new());
    }
    let count = read_u16(r, 12)?;
    let mut out = Vec::new();
    for _ in 0..count {
        let purpose_id = read_u8(r, 6)?;
        let restriction_type =
            RestrictionType::from_raw(read_u8(r, 2)?).unwrap_or(RestrictionType::Undefined);
        let vendors = read_optimized_range(r, budget)?;
        out.push(PublisherRestriction {
            purpose_id,
            restriction_type,
            vendors,
        });
    }
    Ok(out)
}
