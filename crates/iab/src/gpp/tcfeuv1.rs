//! EU TCF v1.1 consent string (GPP section 1, deprecated).
//!
//! Layout from the IAB "Consent string and vendor list formats v1.1": `Version(6) = 1`,
//! `Created(36)`, `LastUpdated(36)`, `CmpId(12)`, `CmpVersion(12)`, `ConsentScreen(6)`,
//! `ConsentLanguage(12)`, `VendorListVersion(12)`, `PurposesAllowed(24)`, `MaxVendorId(16)`,
//! `EncodingType(1)`, then either a bitfield of `MaxVendorId` bits or `DefaultConsent(1)` and a
//! `Range(Int)` of the vendors whose consent differs from the default.
//!
//! Only GPP reads this: [`crate::tcf::decode`] rejects v1.1 strings.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::IdSet;
use crate::bits::{BitReader, BitWriter, Padding};
use crate::codec::{
    self, CodecError, IdBudget, check_ids, int_range_len, read_bitfield, read_bool, read_int_range,
    read_letters, read_timestamp, read_u8, read_u16, runs, to_text, write_bitfield,
    write_int_range, write_letters, write_timestamp, write_uint,
};

use super::SectionError;

const VERSION: u8 = 1;

/// EU TCF v1.1 section (GPP section 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcfEuV1 {
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
    /// Purposes allowed, ids 1–24.
    pub purposes_allowed: IdSet,
    /// `MaxVendorId`: the vendor id space of the string. Kept because a range encoding with
    /// default consent gives consent to every id up to it.
    pub max_vendor_id: u16,
    /// Vendors with consent, ids 1–`max_vendor_id`.
    pub vendor_consents: IdSet,
}

impl TcfEuV1 {
    pub(crate) fn decode_section(text: &str, budget: &mut IdBudget) -> Result<Self, SectionError> {
        if text.is_empty() {
            return Err(SectionError::Empty);
        }
        let bits = codec::segment_bits(text)?;
        let r = &mut bits.reader();
        let version = read_u8(r, 6)?;
        if version != VERSION {
            return Err(SectionError::UnsupportedVersion(version));
        }
        let created = read_timestamp(r)?;
        let last_updated = read_timestamp(r)?;
        let cmp_id = read_u16(r, 12)?;
        let cmp_version = read_u16(r, 12)?;
        let consent_screen = read_u8(r, 6)?;
        let consent_language = read_letters(r, 2)?;
        let vendor_list_version = read_u16(r, 12)?;
        let purposes_allowed = read_bitfield(r, 24)?;
        let max_vendor_id = read_u16(r, 16)?;
        let vendor_consents = read_vendor_consents(r, max_vendor_id, budget)?;
        Ok(Self {
            created,
            last_updated,
            cmp_id,
            cmp_version,
            consent_screen,
            consent_language,
            vendor_list_version,
            purposes_allowed,
            max_vendor_id,
            vendor_consents,
        })
    }

    /// Writes the shortest of: bitfield, ranges of consented vendors (default no consent),
    /// ranges of the others (default consent). Byte padding, as the vector has.
    pub(crate) fn encode_section(&self) -> Result<String, SectionError> {
        let mut w = BitWriter::new();
        write_uint(&mut w, VERSION, 6, "version")?;
        write_timestamp(&mut w, self.created)?;
        write_timestamp(&mut w, self.last_updated)?;
        write_uint(&mut w, self.cmp_id, 12, "cmp_id")?;
        write_uint(&mut w, self.cmp_version, 12, "cmp_version")?;
        write_uint(&mut w, self.consent_screen, 6, "consent_screen")?;
        write_letters(&mut w, &self.consent_language, 2, "consent_language")?;
        write_uint(&mut w, self.vendor_list_version, 12, "vendor_list_version")?;
        write_bitfield(&mut w, &self.purposes_allowed, 24, "purposes_allowed")?;
        write_vendor_consents(&mut w, self.max_vendor_id, &self.vendor_consents)?;
        Ok(to_text(w, Padding::Byte))
    }
}

fn read_vendor_consents(
    r: &mut BitReader<'_>,
    max: u16,
    budget: &mut IdBudget,
) -> Result<IdSet, CodecError> {
    if !read_bool(r)? {
        return read_bitfield(r, usize::from(max));
    }
    let default_consent = read_bool(r)?;
    let listed = read_int_range(r, Some(max), budget)?;
    if default_consent {
        budget.spend(usize::from(max))?;
        Ok((1..=max).filter(|id| !listed.contains(id)).collect())
    } else {
        Ok(listed)
    }
}

fn write_vendor_consents(w: &mut BitWriter, max: u16, consents: &IdSet) -> Result<(), CodecError> {
    const FIELD: &str = "vendor_consents";
    check_ids(consents, usize::from(max), FIELD)?;
    write_uint(w, max, 16, "max_vendor_id")?;
    let others: IdSet = (1..=max).filter(|id| !consents.contains(id)).collect();
    let bitfield_len = usize::from(max);
    let consented_len = 1 + int_range_len(&runs(consents));
    let others_len = 1 + int_range_len(&runs(&others));
    let fits = |set: &IdSet| runs(set).len() < 1 << 12;
    if consented_len < bitfield_len && consented_len <= others_len && fits(consents) {
        w.write_bool(true);
        w.write_bool(false);
        write_int_range(w, consents, FIELD)
    } else if others_len < bitfield_len && fits(&others) {
        w.write_bool(true);
        w.write_bool(true);
        write_int_range(w, &others, FIELD)
    } else {
        w.write_bool(false);
        write_bitfield(w, consents, bitfield_len, FIELD)
    }
}
