//! TC string encoding.

use crate::bits::{BitWriter, Padding};
use crate::codec::{
    CodecError, to_text, write_bitfield, write_int_range, write_letters, write_timestamp,
    write_uint, write_vendor_section,
};

use super::{PublisherRestriction, PublisherTc, TcString, TcfError};

/// Padding of every TCF EU segment (see the module documentation).
const PADDING: Padding = Padding::Block24;

/// Encodes a TC string: the core segment, then DisclosedVendors, AllowedVendors and
/// PublisherTC when present.
///
/// Each vendor section uses whichever of bitfield and range encoding is shorter (a tie goes
/// to the bitfield), with `MaxVendorId` = the highest id in the set. Publisher restriction
/// vendors are written as ranges of consecutive ids. Timestamps are truncated to
/// deciseconds.
///
/// # Errors
/// [`TcfError::UnsupportedVersion`] unless `version` is 2; [`TcfError::FieldOverflow`],
/// [`TcfError::IdOutOfRange`], [`TcfError::InvalidLetters`], [`TcfError::TooManyEntries`]
/// or [`TcfError::TimestampOutOfRange`] for values the wire format cannot hold.
pub fn encode(tc: &TcString) -> Result<String, TcfError> {
    if tc.version != 2 {
        return Err(TcfError::UnsupportedVersion(tc.version));
    }
    let mut out = to_text(core(tc)?, PADDING);
    if let Some(disclosed) = &tc.disclosed_vendors {
        out.push('.');
        out.push_str(&vendor_segment(1, disclosed, "disclosed_vendors")?);
    }
    if let Some(allowed) = &tc.allowed_vendors {
        out.push('.');
        out.push_str(&vendor_segment(2, allowed, "allowed_vendors")?);
    }
    if let Some(publisher_tc) = &tc.publisher_tc {
        let mut w = BitWriter::new();
        write_uint(&mut w, 3u8, 3, "segment_type")?;
        write_publisher_tc_body(&mut w, publisher_tc)?;
        out.push('.');
        out.push_str(&to_text(w, PADDING));
    }
    Ok(out)
}

fn core(tc: &TcString) -> Result<BitWriter, CodecError> {
    let mut w = BitWriter::new();
    write_uint(&mut w, tc.version, 6, "version")?;
    write_timestamp(&mut w, tc.created)?;
    write_timestamp(&mut w, tc.last_updated)?;
    write_uint(&mut w, tc.cmp_id, 12, "cmp_id")?;
    write_uint(&mut w, tc.cmp_version, 12, "cmp_version")?;
    write_uint(&mut w, tc.consent_screen, 6, "consent_screen")?;
    write_letters(&mut w, &tc.consent_language, 2, "consent_language")?;
    write_uint(&mut w, tc.vendor_list_version, 12, "vendor_list_version")?;
    write_uint(&mut w, tc.tcf_policy_version, 6, "tcf_policy_version")?;
    w.write_bool(tc.is_service_specific);
    w.write_bool(tc.use_non_standard_texts);
    write_bitfield(
        &mut w,
        &tc.special_feature_opt_ins,
        12,
        "special_feature_opt_ins",
    )?;
    write_bitfield(&mut w, &tc.purposes_consent, 24, "purposes_consent")?;
    write_bitfield(
        &mut w,
        &tc.purposes_li_transparency,
        24,
        "purposes_li_transparency",
    )?;
    w.write_bool(tc.purpose_one_treatment);
    write_letters(&mut w, &tc.publisher_cc, 2, "publisher_cc")?;
    write_vendor_section(&mut w, &tc.vendor_consents, "vendor_consents")?;
    write_vendor_section(
        &mut w,
        &tc.vendor_legitimate_interests,
        "vendor_legitimate_interests",
    )?;
    write_publisher_restrictions(&mut w, &tc.publisher_restrictions)?;
    Ok(w)
}

fn write_publisher_restrictions(
    w: &mut BitWriter,
    restrictions: &[PublisherRestriction],
) -> Result<(), CodecError> {
    const FIELD: &str = "publisher_restrictions";
    let count = u16::try_from(restrictions.len())
        .ok()
        .filter(|&n| n < 1 << 12)
        .ok_or(CodecError::TooManyEntries { field: FIELD })?;
    write_uint(w, count, 12, FIELD)?;
    for restriction in restrictions {
        write_uint(w, restriction.purpose_id, 6, FIELD)?;
        write_uint(w, restriction.restriction_type.raw(), 2, FIELD)?;
        write_int_range(w, &restriction.vendors, FIELD)?;
    }
    Ok(())
}

fn vendor_segment(
    segment_type: u8,
    vendors: &crate::IdSet,
    field: &'static str,
) -> Result<String, CodecError> {
    let mut w = BitWriter::new();
    write_uint(&mut w, segment_type, 3, "segment_type")?;
    write_vendor_section(&mut w, vendors, field)?;
    Ok(to_text(w, PADDING))
}

/// The PublisherTC body after its segment type (shared with TCF Canada).
pub(crate) fn write_publisher_tc_body(
    w: &mut BitWriter,
    publisher_tc: &PublisherTc,
) -> Result<(), CodecError> {
    write_bitfield(
        w,
        &publisher_tc.purposes_consent,
        24,
        "publisher_tc.purposes_consent",
    )?;
    write_bitfield(
        w,
        &publisher_tc.purposes_li_transparency,
        24,
        "publisher_tc.purposes_li_transparency",
    )?;
    let n = publisher_tc.num_custom_purposes;
    write_uint(w, n, 6, "publisher_tc.num_custom_purposes")?;
    write_bitfield(
        w,
        &publisher_tc.custom_purposes_consent,
        usize::from(n),
        "publisher_tc.custom_purposes_consent",
    )?;
    write_bitfield(
        w,
        &publisher_tc.custom_purposes_li_transparency,
        usize::from(n),
        "publisher_tc.custom_purposes_li_transparency",
    )?;
    Ok(())
}
