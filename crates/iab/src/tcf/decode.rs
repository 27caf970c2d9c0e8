//! TC string decoding.

use crate::bits::BitReader;
use crate::codec::{
    self, CodecError, IdBudget, read_bitfield, read_bool, read_int_range, read_letters,
    read_timestamp, read_u8, read_u16, read_vendor_section,
};

use super::{PublisherRestriction, PublisherTc, RestrictionType, TcString, TcfError};

/// Decodes a TCF v2 TC string.
///
/// Segments after the core may come in any order; `=` padding is tolerated; trailing
/// padding bits are ignored. Range entries are checked (`start <= end`, ids from 1 to
/// `MaxVendorId`) and their total expansion is bounded by [`crate::MAX_EXPANDED_IDS`].
///
/// # Errors
/// A [`TcfError`] naming the first problem found; TCF v1.1 strings give
/// [`TcfError::UnsupportedVersion`]`(1)`. Never panics.
pub fn decode(input: &str) -> Result<TcString, TcfError> {
    decode_with_budget(input, &mut IdBudget::new())
}

/// [`decode`] drawing range expansions from a caller's budget (shared by GPP sections).
pub(crate) fn decode_with_budget(input: &str, budget: &mut IdBudget) -> Result<TcString, TcfError> {
    if input.is_empty() {
        return Err(TcfError::Empty);
    }
    let mut segments = input.split('.');
    let core_text = segments.next().unwrap_or_default();
    let core_bits = segment(core_text)?;
    let mut tc = read_core(&mut core_bits.reader(), budget)?;

    for text in segments {
        let bits = segment(text)?;
        let mut r = bits.reader();
        let segment_type = read_u8(&mut r, 3)?;
        match segment_type {
            0 => return Err(TcfError::MisplacedCoreSegment),
            1 => {
                if tc.disclosed_vendors.is_some() {
                    return Err(TcfError::DuplicateSegment(1));
                }
                tc.disclosed_vendors = Some(read_vendor_section(&mut r, budget)?);
            }
            2 => {
                if tc.allowed_vendors.is_some() {
                    return Err(TcfError::DuplicateSegment(2));
                }
                tc.allowed_vendors = Some(read_vendor_section(&mut r, budget)?);
            }
            3 => {
                if tc.publisher_tc.is_some() {
                    return Err(TcfError::DuplicateSegment(3));
                }
                tc.publisher_tc = Some(read_publisher_tc_body(&mut r)?);
            }
            other => return Err(TcfError::UnknownSegmentType(other)),
        }
    }
    Ok(tc)
}

fn segment(text: &str) -> Result<crate::bits::Bits, TcfError> {
    if text.is_empty() {
        return Err(TcfError::EmptySegment);
    }
    Ok(codec::segment_bits(text)?)
}

fn read_core(r: &mut BitReader<'_>, budget: &mut IdBudget) -> Result<TcString, TcfError> {
    let version = read_u8(r, 6)?;
    if version != 2 {
        return Err(TcfError::UnsupportedVersion(version));
    }
    Ok(TcString {
        version,
        created: read_timestamp(r)?,
        last_updated: read_timestamp(r)?,
        cmp_id: read_u16(r, 12)?,
        cmp_version: read_u16(r, 12)?,
        consent_screen: read_u8(r, 6)?,
        consent_language: read_letters(r, 2)?,
        vendor_list_version: read_u16(r, 12)?,
        tcf_policy_version: read_u8(r, 6)?,
        is_service_specific: read_bool(r)?,
        use_non_standard_texts: read_bool(r)?,
        special_feature_opt_ins: read_bitfield(r, 12)?,
        purposes_consent: read_bitfield(r, 24)?,
        purposes_li_transparency: read_bitfield(r, 24)?,
        purpose_one_treatment: read_bool(r)?,
        publisher_cc: read_letters(r, 2)?,
        vendor_consents: read_vendor_section(r, budget)?,
        vendor_legitimate_interests: read_vendor_section(r, budget)?,
        publisher_restrictions: read_publisher_restrictions(r, budget)?,
        disclosed_vendors: None,
        allowed_vendors: None,
        publisher_tc: None,
    })
}

/// `NumPubRestrictions(12)`, then per entry `PurposeId(6)`, `RestrictionType(2)` and a
/// `Range(Int)` of vendors.
fn read_publisher_restrictions(
    r: &mut BitReader<'_>,
    budget: &mut IdBudget,
) -> Result<Vec<PublisherRestriction>, CodecError> {
    let count = read_u16(r, 12)?;
    let mut out = Vec::new();
    for _ in 0..count {
        let purpose_id = read_u8(r, 6)?;
        let restriction_type =
            RestrictionType::from_raw(read_u8(r, 2)?).unwrap_or(RestrictionType::Undefined);
        let vendors = read_int_range(r, None, budget)?;
        out.push(PublisherRestriction {
            purpose_id,
            restriction_type,
            vendors,
        });
    }
    Ok(out)
}

/// The PublisherTC body after its segment type (shared with TCF Canada's publisher
/// purposes sub-section).
pub(crate) fn read_publisher_tc_body(r: &mut BitReader<'_>) -> Result<PublisherTc, CodecError> {
    let purposes_consent = read_bitfield(r, 24)?;
    let purposes_li_transparency = read_bitfield(r, 24)?;
    let num_custom_purposes = read_u8(r, 6)?;
    let custom_purposes_consent = read_bitfield(r, usize::from(num_custom_purposes))?;
    let custom_purposes_li_transparency = read_bitfield(r, usize::from(num_custom_purposes))?;
    Ok(PublisherTc {
        purposes_consent,
        purposes_li_transparency,
        num_custom_purposes,
        custom_purposes_consent,
        custom_purposes_li_transparency,
    })
}
