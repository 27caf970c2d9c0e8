//! The US sections: national (usnat, 7) and the states California (8), Virginia (9),
//! Colorado (10), Utah (11) and Connecticut (12).
//!
//! Every section is a core sub-section (`Version(6)` then 2-bit fields) optionally followed,
//! after `.`, by a GPC sub-section `SubsectionType(2) = 1`, `Gpc(1)` (usnat, usca, usco,
//! usct; usva and usut have none). Field orders are those of the IAB section specifications
//! (standards.md §2.3), cross-checked against the iabgpp-rs vectors.

use serde::{Deserialize, Serialize};

use crate::bits::{BitReader, BitWriter, Bits, Padding};
use crate::codec::{self, CodecError, read_bool, read_u8};

use super::values::{Consent, MspaMode, Notice, OptOut, TwoBit};
use super::{GppError, SectionError, section_id};

/// Version of every state section defined here.
const STATE_VERSION: u8 = 1;
/// GPC sub-section type.
const GPC_SUBSECTION: u8 = 1;

// ---------------------------------------------------------------------------------------
// Shared framing

fn read_value<T: TwoBit>(r: &mut BitReader<'_>) -> Result<T, CodecError> {
    Ok(T::from_bits(read_u8(r, 2)?))
}

fn read_array<T: TwoBit + Default, const N: usize>(
    r: &mut BitReader<'_>,
) -> Result<[T; N], CodecError> {
    let mut out = [T::default(); N];
    for slot in &mut out {
        *slot = read_value(r)?;
    }
    Ok(out)
}

fn read_list<T: TwoBit>(r: &mut BitReader<'_>, len: usize) -> Result<Vec<T>, CodecError> {
    (0..len).map(|_| read_value(r)).collect()
}

fn write_value<T: TwoBit>(w: &mut BitWriter, value: T) {
    write_two_bits(w, value.bits());
}

fn write_two_bits(w: &mut BitWriter, raw: u8) {
    w.write_bool(raw & 0b10 != 0);
    w.write_bool(raw & 0b01 != 0);
}

fn write_values<T: TwoBit>(w: &mut BitWriter, values: &[T]) {
    for &value in values {
        write_value(w, value);
    }
}

/// Writes a 6-bit version; every version used here is below 64.
fn write_version(w: &mut BitWriter, version: u8) {
    for shift in (0..6).rev() {
        w.write_bool((version >> shift) & 1 == 1);
    }
}

/// Splits a section into its decoded core and the texts of its sub-sections.
fn split(text: &str) -> Result<(Bits, std::str::Split<'_, char>), SectionError> {
    let mut parts = text.split('.');
    let core = parts.next().unwrap_or_default();
    if core.is_empty() {
        return Err(SectionError::Empty);
    }
    Ok((codec::segment_bits(core)?, parts))
}

/// Reads the sub-sections after the core. `gpc_allowed` says whether the section defines a
/// GPC sub-section at all.
fn read_subsections<'a>(
    parts: impl Iterator<Item = &'a str>,
    gpc_allowed: bool,
) -> Result<Option<bool>, SectionError> {
    let mut gpc = None;
    for part in parts {
        if part.is_empty() {
            return Err(SectionError::Empty);
        }
        let bits = codec::segment_bits(part)?;
        let mut r = bits.reader();
        let subsection_type = read_u8(&mut r, 2)?;
        if subsection_type != GPC_SUBSECTION || !gpc_allowed {
            return Err(SectionError::UnexpectedSubsectionType(subsection_type));
        }
        if gpc.is_some() {
            return Err(SectionError::DuplicateSubsection(subsection_type));
        }
        gpc = Some(read_bool(&mut r)?);
    }
    Ok(gpc)
}

fn read_state_version(r: &mut BitReader<'_>) -> Result<(), SectionError> {
    let version = read_u8(r, 6)?;
    if version == STATE_VERSION {
        Ok(())
    } else {
        Err(SectionError::UnsupportedVersion(version))
    }
}

/// Base64url of a core, plus `.` and the GPC sub-section when `gpc` is set.
fn finish(core: BitWriter, gpc: Option<bool>) -> String {
    let mut out = core.finish().to_base64url(Padding::Byte);
    if let Some(gpc) = gpc {
        let mut w = BitWriter::new();
        write_two_bits(&mut w, GPC_SUBSECTION);
        w.write_bool(gpc);
        out.push('.');
        out.push_str(&w.finish().to_base64url(Padding::Byte));
    }
    out
}

// ---------------------------------------------------------------------------------------
// usnat (section 7)

/// Version of the usnat section layout.
///
/// Version 2 (2024) grew the sensitive data categories from 12 to 16 and the known-child
/// consents from 2 to 3; the field order is otherwise the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UsNatVersion {
    /// Version 1 (December 2022): 12 sensitive data categories, 2 known-child consents.
    V1,
    /// Version 2 (2024): 16 sensitive data categories, 3 known-child consents.
    V2,
}

impl UsNatVersion {
    /// The wire value (1 or 2).
    #[must_use]
    pub fn raw(self) -> u8 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }

    /// The version for a wire value.
    #[must_use]
    pub fn from_raw(raw: u8) -> Option<Self> {
        match raw {
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            _ => None,
        }
    }

    /// Number of entries in `SensitiveDataProcessing` (12 or 16).
    #[must_use]
    pub fn sensitive_data_categories(self) -> usize {
        match self {
            Self::V1 => 12,
            Self::V2 => 16,
        }
    }

    /// Number of entries in `KnownChildSensitiveDataConsents` (2 or 3).
    #[must_use]
    pub fn known_child_categories(self) -> usize {
        match self {
            Self::V1 => 2,
            Self::V2 => 3,
        }
    }
}

/// MSPA US national section (GPP section 7), core and optional GPC sub-section.
///
/// `sensitive_data_processing` entries, 1-based: 1 racial or ethnic origin, 2 religious or
/// philosophical beliefs, 3 health (condition or diagnosis), 4 sex life or sexual
/// orientation, 5 citizenship or immigration status, 6 genetic data (unique
/// identification), 7 biometric data (unique identification), 8 precise geolocation,
/// 9 SSN / driver's licence / state id / passport, 10 account log-in or financial account
/// with credentials, 11 union membership, 12 contents of mail, email or text messages;
/// version 2 adds 13 consumer health data, 14 status as a crime victim, 15 national origin,
/// 16 transgender or nonbinary status.
///
/// `known_child_sensitive_data_consents` entries: 1 age 13 to 16, 2 under 13; version 2 adds
/// 3 age 16 to 17.
///
/// Decoding always yields lists of exactly the lengths of `version`'s layout. Encoding
/// writes exactly that many entries: missing ones as [`Consent::NotApplicable`], extra ones
/// dropped (so build the lists for the version you encode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsNat {
    /// Layout version.
    pub version: UsNatVersion,
    /// Notice describing the processing of personal information.
    pub sharing_notice: Notice,
    /// Notice of the opportunity to opt out of the sale of personal information.
    pub sale_opt_out_notice: Notice,
    /// Notice of the opportunity to opt out of the sharing of personal information.
    pub sharing_opt_out_notice: Notice,
    /// Notice of the opportunity to opt out of targeted advertising.
    pub targeted_advertising_opt_out_notice: Notice,
    /// Notice of the right to opt out of the processing of sensitive data.
    pub sensitive_data_processing_opt_out_notice: Notice,
    /// Notice (link) enabling the consumer to limit the use of sensitive personal information.
    pub sensitive_data_limit_use_notice: Notice,
    /// Opt-out of the sale of personal information.
    pub sale_opt_out: OptOut,
    /// Opt-out of the sharing of personal information.
    pub sharing_opt_out: OptOut,
    /// Opt-out of processing for targeted advertising.
    pub targeted_advertising_opt_out: OptOut,
    /// Consent per sensitive data category (see the type documentation).
    pub sensitive_data_processing: Vec<Consent>,
    /// Consent for known children's data (see the type documentation).
    pub known_child_sensitive_data_consents: Vec<Consent>,
    /// Consent to processing beyond the secondary use limitations.
    pub personal_data_consents: Consent,
    /// Covered transaction under the MSPA (1 yes, 2 no; 0 is not allowed).
    pub mspa_covered_transaction: MspaMode,
    /// MSPA opt-out option mode.
    pub mspa_opt_out_option_mode: MspaMode,
    /// MSPA service provider mode.
    pub mspa_service_provider_mode: MspaMode,
    /// GPC sub-section: `Some(signal)` when present.
    pub gpc: Option<bool>,
}

impl UsNat {
    /// A version 1 usnat section for a business that records a user's opt-out choices.
    ///
    /// Mapping (`None` means the choice does not apply, 0 "not applicable"):
    ///
    /// | Input | Fields set |
    /// |---|---|
    /// | `sale_opt_out` | `SaleOptOut`: `Some(true)` → 1 opted out, `Some(false)` → 2 did not opt out; `SaleOptOutNotice` → 1 provided when `Some` |
    /// | `sharing_opt_out` | `SharingOptOut` and `SharingOptOutNotice`, the same way |
    /// | `targeted_advertising_opt_out` | `TargetedAdvertisingOptOut` and `TargetedAdvertisingOptOutNotice`, the same way |
    /// | `sensitive_data_limit` | all 12 `SensitiveDataProcessing` categories: `Some(true)` (the user limited the use of sensitive data) → 1 no consent, `Some(false)` → 2 consent (the section's value for "did not opt out / may process"); `SensitiveDataLimitUseNotice` and `SensitiveDataProcessingOptOutNotice` → 1 provided when `Some` |
    /// | any choice `Some` | `SharingNotice` (the general notice of processing) → 1 provided; otherwise 0 |
    /// | `gpc` | GPC sub-section present with that value |
    ///
    /// Always: `KnownChildSensitiveDataConsents` and `PersonalDataConsents` 0 (not
    /// applicable), `MspaCoveredTransaction` 2 (no), `MspaOptOutOptionMode` and
    /// `MspaServiceProviderMode` 0 (not applicable).
    #[must_use]
    pub fn from_opt_outs(
        sale_opt_out: Option<bool>,
        sharing_opt_out: Option<bool>,
        targeted_advertising_opt_out: Option<bool>,
        sensitive_data_limit: Option<bool>,
        gpc: bool,
    ) -> Self {
        let version = UsNatVersion::V1;
        let any_choice = [
            sale_opt_out,
            sharing_opt_out,
            targeted_advertising_opt_out,
            sensitive_data_limit,
        ]
        .iter()
        .any(Option::is_some);
        let sensitive = match sensitive_data_limit {
            None => Consent::NotApplicable,
            Some(true) => Consent::NoConsent,
            Some(false) => Consent::Consent,
        };
        Self {
            version,
            sharing_notice: notice(any_choice),
            sale_opt_out_notice: notice(sale_opt_out.is_some()),
            sharing_opt_out_notice: notice(sharing_opt_out.is_some()),
            targeted_advertising_opt_out_notice: notice(targeted_advertising_opt_out.is_some()),
            sensitive_data_processing_opt_out_notice: notice(sensitive_data_limit.is_some()),
            sensitive_data_limit_use_notice: notice(sensitive_data_limit.is_some()),
            sale_opt_out: opt_out(sale_opt_out),
            sharing_opt_out: opt_out(sharing_opt_out),
            targeted_advertising_opt_out: opt_out(targeted_advertising_opt_out),
            sensitive_data_processing: vec![sensitive; version.sensitive_data_categories()],
            known_child_sensitive_data_consents: vec![
                Consent::NotApplicable;
                version.known_child_categories()
            ],
            personal_data_consents: Consent::NotApplicable,
            mspa_covered_transaction: MspaMode::No,
            mspa_opt_out_option_mode: MspaMode::NotApplicable,
            mspa_service_provider_mode: MspaMode::NotApplicable,
            gpc: Some(gpc),
        }
    }

    pub(crate) fn decode_section(text: &str) -> Result<Self, SectionError> {
        let (core, subsections) = split(text)?;
        let r = &mut core.reader();
        let raw_version = read_u8(r, 6)?;
        let version = UsNatVersion::from_raw(raw_version)
            .ok_or(SectionError::UnsupportedVersion(raw_version))?;
        let mut usnat = Self {
            version,
            sharing_notice: read_value(r)?,
            sale_opt_out_notice: read_value(r)?,
            sharing_opt_out_notice: read_value(r)?,
            targeted_advertising_opt_out_notice: read_value(r)?,
            sensitive_data_processing_opt_out_notice: read_value(r)?,
            sensitive_data_limit_use_notice: read_value(r)?,
            sale_opt_out: read_value(r)?,
            sharing_opt_out: read_value(r)?,
            targeted_advertising_opt_out: read_value(r)?,
            sensitive_data_processing: read_list(r, version.sensitive_data_categories())?,
            known_child_sensitive_data_consents: read_list(r, version.known_child_categories())?,
            personal_data_consents: read_value(r)?,
            mspa_covered_transaction: read_value(r)?,
            mspa_opt_out_option_mode: read_value(r)?,
            mspa_service_provider_mode: read_value(r)?,
            gpc: None,
        };
        usnat.gpc = read_subsections(subsections, true)?;
        Ok(usnat)
    }
}

fn notice(provided: bool) -> Notice {
    if provided {
        Notice::Provided
    } else {
        Notice::NotApplicable
    }
}

fn opt_out(choice: Option<bool>) -> OptOut {
    match choice {
        None => OptOut::NotApplicable,
        Some(true) => OptOut::OptedOut,
        Some(false) => OptOut::DidNotOptOut,
    }
}

/// Writes exactly `len` entries of `values`, padding with the default (not applicable).
fn write_fixed<T: TwoBit + Default>(w: &mut BitWriter, values: &[T], len: usize) {
    for index in 0..len {
        write_value(w, values.get(index).copied().unwrap_or_default());
    }
}

/// Encodes a usnat section (GPP section 7) in the layout of `usnat.version`, with the GPC
/// sub-section when `usnat.gpc` is `Some`. List fields are padded or cut to the layout's
/// lengths (see [`UsNat`]).
#[must_use]
pub fn encode_usnat(usnat: &UsNat) -> String {
    let mut w = BitWriter::new();
    write_version(&mut w, usnat.version.raw());
    write_values(
        &mut w,
        &[
            usnat.sharing_notice,
            usnat.sale_opt_out_notice,
            usnat.sharing_opt_out_notice,
            usnat.targeted_advertising_opt_out_notice,
            usnat.sensitive_data_processing_opt_out_notice,
            usnat.sensitive_data_limit_use_notice,
        ],
    );
    write_values(
        &mut w,
        &[
            usnat.sale_opt_out,
            usnat.sharing_opt_out,
            usnat.targeted_advertising_opt_out,
        ],
    );
    write_fixed(
        &mut w,
        &usnat.sensitive_data_processing,
        usnat.version.sensitive_data_categories(),
    );
    write_fixed(
        &mut w,
        &usnat.known_child_sensitive_data_consents,
        usnat.version.known_child_categories(),
    );
    write_value(&mut w, usnat.personal_data_consents);
    write_values(
        &mut w,
        &[
            usnat.mspa_covered_transaction,
            usnat.mspa_opt_out_option_mode,
            usnat.mspa_service_provider_mode,
        ],
    );
    finish(w, usnat.gpc)
}

/// Decodes a usnat section on its own (the text after the header's `~`).
///
/// # Errors
/// [`GppError::Section`] with id 7.
pub fn decode_usnat(text: &str) -> Result<UsNat, GppError> {
    UsNat::decode_section(text).map_err(|source| GppError::Section {
        id: section_id::US_NAT,
        source,
    })
}

// ---------------------------------------------------------------------------------------
// States

fn write_mspa(w: &mut BitWriter, covered: MspaMode, opt_out_mode: MspaMode, sp_mode: MspaMode) {
    write_values(w, &[covered, opt_out_mode, sp_mode]);
}

/// California (GPP section 8, version 1), core and optional GPC sub-section.
///
/// `sensitive_data_processing` uses opt-out values; entries, 1-based: 1 SSN / driver's
/// licence / state id / passport, 2 account log-in or financial account with credentials,
/// 3 precise geolocation, 4 racial or ethnic origin, religious or philosophical beliefs, or
/// union membership, 5 contents of mail, email or text messages, 6 genetic data,
/// 7 biometric data (unique identification), 8 health, 9 sex life or sexual orientation.
/// `known_child_sensitive_data_consents`: 1 sell, 2 share personal information of a known
/// child under 16.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsCa {
    /// Notice of the opportunity to opt out of sale.
    pub sale_opt_out_notice: Notice,
    /// Notice of the opportunity to opt out of sharing.
    pub sharing_opt_out_notice: Notice,
    /// Notice of the right to limit the use of sensitive personal information.
    pub sensitive_data_limit_use_notice: Notice,
    /// Opt-out of sale.
    pub sale_opt_out: OptOut,
    /// Opt-out of sharing.
    pub sharing_opt_out: OptOut,
    /// Opt-out per sensitive data category (see the type documentation).
    pub sensitive_data_processing: [OptOut; 9],
    /// Known-child consents (see the type documentation).
    pub known_child_sensitive_data_consents: [Consent; 2],
    /// Consent to processing beyond the secondary use limitations.
    pub personal_data_consents: Consent,
    /// Covered transaction under the MSPA (1 yes, 2 no).
    pub mspa_covered_transaction: MspaMode,
    /// MSPA opt-out option mode.
    pub mspa_opt_out_option_mode: MspaMode,
    /// MSPA service provider mode.
    pub mspa_service_provider_mode: MspaMode,
    /// GPC sub-section: `Some(signal)` when present.
    pub gpc: Option<bool>,
}

impl UsCa {
    pub(crate) fn decode_section(text: &str) -> Result<Self, SectionError> {
        let (core, subsections) = split(text)?;
        let r = &mut core.reader();
        read_state_version(r)?;
        let mut section = Self {
            sale_opt_out_notice: read_value(r)?,
            sharing_opt_out_notice: read_value(r)?,
            sensitive_data_limit_use_notice: read_value(r)?,
            sale_opt_out: read_value(r)?,
            sharing_opt_out: read_value(r)?,
            sensitive_data_processing: read_array(r)?,
            known_child_sensitive_data_consents: read_array(r)?,
            personal_data_consents: read_value(r)?,
            mspa_covered_transaction: read_value(r)?,
            mspa_opt_out_option_mode: read_value(r)?,
            mspa_service_provider_mode: read_value(r)?,
            gpc: None,
        };
        section.gpc = read_subsections(subsections, true)?;
        Ok(section)
    }

    pub(crate) fn encode_section(&self) -> String {
        let mut w = BitWriter::new();
        write_version(&mut w, STATE_VERSION);
        write_values(
            &mut w,
            &[
                self.sale_opt_out_notice,
                self.sharing_opt_out_notice,
                self.sensitive_data_limit_use_notice,
            ],
        );
        write_values(&mut w, &[self.sale_opt_out, self.sharing_opt_out]);
        write_values(&mut w, &self.sensitive_data_processing);
        write_values(&mut w, &self.known_child_sensitive_data_consents);
        write_value(&mut w, self.personal_data_consents);
        write_mspa(
            &mut w,
            self.mspa_covered_transaction,
            self.mspa_opt_out_option_mode,
            self.mspa_service_provider_mode,
        );
        finish(w, self.gpc)
    }
}

/// Virginia (GPP section 9, version 1), core only.
///
/// `sensitive_data_processing` entries, 1-based: 1 racial or ethnic origin, 2 religious or
/// philosophical beliefs, 3 mental or physical health diagnosis, 4 sex life or sexual
/// orientation, 5 citizenship or immigration status, 6 genetic data, 7 biometric data
/// (unique identification), 8 precise geolocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsVa {
    /// Notice of the processing of personal data.
    pub sharing_notice: Notice,
    /// Notice of the opportunity to opt out of sale.
    pub sale_opt_out_notice: Notice,
    /// Notice of the opportunity to opt out of targeted advertising.
    pub targeted_advertising_opt_out_notice: Notice,
    /// Opt-out of sale.
    pub sale_opt_out: OptOut,
    /// Opt-out of targeted advertising.
    pub targeted_advertising_opt_out: OptOut,
    /// Consent per sensitive data category (see the type documentation).
    pub sensitive_data_processing: [Consent; 8],
    /// Consent to process sensitive data of a known child.
    pub known_child_sensitive_data_consents: Consent,
    /// Covered transaction under the MSPA (1 yes, 2 no).
    pub mspa_covered_transaction: MspaMode,
    /// MSPA opt-out option mode.
    pub mspa_opt_out_option_mode: MspaMode,
    /// MSPA service provider mode.
    pub mspa_service_provider_mode: MspaMode,
}

impl UsVa {
    pub(crate) fn decode_section(text: &str) -> Result<Self, SectionError> {
        let (core, subsections) = split(text)?;
        let r = &mut core.reader();
        read_state_version(r)?;
        let section = Self {
            sharing_notice: read_value(r)?,
            sale_opt_out_notice: read_value(r)?,
            targeted_advertising_opt_out_notice: read_value(r)?,
            sale_opt_out: read_value(r)?,
            targeted_advertising_opt_out: read_value(r)?,
            sensitive_data_processing: read_array(r)?,
            known_child_sensitive_data_consents: read_value(r)?,
            mspa_covered_transaction: read_value(r)?,
            mspa_opt_out_option_mode: read_value(r)?,
            mspa_service_provider_mode: read_value(r)?,
        };
        read_subsections(subsections, false)?;
        Ok(section)
    }

    pub(crate) fn encode_section(&self) -> String {
        let mut w = BitWriter::new();
        write_version(&mut w, STATE_VERSION);
        write_values(
            &mut w,
            &[
                self.sharing_notice,
                self.sale_opt_out_notice,
                self.targeted_advertising_opt_out_notice,
            ],
        );
        write_values(
            &mut w,
            &[self.sale_opt_out, self.targeted_advertising_opt_out],
        );
        write_values(&mut w, &self.sensitive_data_processing);
        write_value(&mut w, self.known_child_sensitive_data_consents);
        write_mspa(
            &mut w,
            self.mspa_covered_transaction,
            self.mspa_opt_out_option_mode,
            self.mspa_service_provider_mode,
        );
        finish(w, None)
    }
}

/// Colorado (GPP section 10, version 1), core and optional GPC sub-section.
///
/// `sensitive_data_processing` entries, 1-based: 1 racial or ethnic origin, 2 religious
/// beliefs, 3 health condition or diagnosis, 4 sex life or sexual orientation,
/// 5 citizenship or citizenship status, 6 genetic data, 7 biometric data (unique
/// identification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsCo {
    /// Notice of the processing of personal data.
    pub sharing_notice: Notice,
    /// Notice of the opportunity to opt out of sale.
    pub sale_opt_out_notice: Notice,
    /// Notice of the opportunity to opt out of targeted advertising.
    pub targeted_advertising_opt_out_notice: Notice,
    /// Opt-out of sale.
    pub sale_opt_out: OptOut,
    /// Opt-out of targeted advertising.
    pub targeted_advertising_opt_out: OptOut,
    /// Consent per sensitive data category (see the type documentation).
    pub sensitive_data_processing: [Consent; 7],
    /// Consent to process sensitive data of a known child.
    pub known_child_sensitive_data_consents: Consent,
    /// Covered transaction under the MSPA (1 yes, 2 no).
    pub mspa_covered_transaction: MspaMode,
    /// MSPA opt-out option mode.
    pub mspa_opt_out_option_mode: MspaMode,
    /// MSPA service provider mode.
    pub mspa_service_provider_mode: MspaMode,
    /// GPC sub-section: `Some(signal)` when present.
    pub gpc: Option<bool>,
}

impl UsCo {
    pub(crate) fn decode_section(text: &str) -> Result<Self, SectionError> {
        let (core, subsections) = split(text)?;
        let r = &mut core.reader();
        read_state_version(r)?;
        let mut section = Self {
            sharing_notice: read_value(r)?,
            sale_opt_out_notice: read_value(r)?,
            targeted_advertising_opt_out_notice: read_value(r)?,
            sale_opt_out: read_value(r)?,
            targeted_advertising_opt_out: read_value(r)?,
            sensitive_data_processing: read_array(r)?,
            known_child_sensitive_data_consents: read_value(r)?,
            mspa_covered_transaction: read_value(r)?,
            mspa_opt_out_option_mode: read_value(r)?,
            mspa_service_provider_mode: read_value(r)?,
            gpc: None,
        };
        section.gpc = read_subsections(subsections, true)?;
        Ok(section)
    }

    pub(crate) fn encode_section(&self) -> String {
        let mut w = BitWriter::new();
        write_version(&mut w, STATE_VERSION);
        write_values(
            &mut w,
            &[
                self.sharing_notice,
                self.sale_opt_out_notice,
                self.targeted_advertising_opt_out_notice,
            ],
        );
        write_values(
            &mut w,
            &[self.sale_opt_out, self.targeted_advertising_opt_out],
        );
        write_values(&mut w, &self.sensitive_data_processing);
        write_value(&mut w, self.known_child_sensitive_data_consents);
        write_mspa(
            &mut w,
            self.mspa_covered_transaction,
            self.mspa_opt_out_option_mode,
            self.mspa_service_provider_mode,
        );
        finish(w, self.gpc)
    }
}

/// Utah (GPP section 11, version 1), core only.
///
/// `sensitive_data_processing` entries, 1-based: 1 racial or ethnic origin, 2 religious
/// beliefs, 3 sexual orientation, 4 citizenship or immigration status, 5 medical history
/// or health, 6 genetic data, 7 biometric data (unique identification), 8 specific
/// geolocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsUt {
    /// Notice of the processing of personal data.
    pub sharing_notice: Notice,
    /// Notice of the opportunity to opt out of sale.
    pub sale_opt_out_notice: Notice,
    /// Notice of the opportunity to opt out of targeted advertising.
    pub targeted_advertising_opt_out_notice: Notice,
    /// Notice of the right to opt out of the processing of sensitive data.
    pub sensitive_data_processing_opt_out_notice: Notice,
    /// Opt-out of sale.
    pub sale_opt_out: OptOut,
    /// Opt-out of targeted advertising.
    pub targeted_advertising_opt_out: OptOut,
    /// Consent per sensitive data category (see the type documentation).
    pub sensitive_data_processing: [Consent; 8],
    /// Consent to process sensitive data of a known child.
    pub known_child_sensitive_data_consents: Consent,
    /// Covered transaction under the MSPA (1 yes, 2 no).
    pub mspa_covered_transaction: MspaMode,
    /// MSPA opt-out option mode.
    pub mspa_opt_out_option_mode: MspaMode,
    /// MSPA service provider mode.
    pub mspa_service_provider_mode: MspaMode,
}

impl UsUt {
    pub(crate) fn decode_section(text: &str) -> Result<Self, SectionError> {
        let (core, subsections) = split(text)?;
        let r = &mut core.reader();
        read_state_version(r)?;
        let section = Self {
            sharing_notice: read_value(r)?,
            sale_opt_out_notice: read_value(r)?,
            targeted_advertising_opt_out_notice: read_value(r)?,
            sensitive_data_processing_opt_out_notice: read_value(r)?,
            sale_opt_out: read_value(r)?,
            targeted_advertising_opt_out: read_value(r)?,
            sensitive_data_processing: read_array(r)?,
            known_child_sensitive_data_consents: read_value(r)?,
            mspa_covered_transaction: read_value(r)?,
            mspa_opt_out_option_mode: read_value(r)?,
            mspa_service_provider_mode: read_value(r)?,
        };
        read_subsections(subsections, false)?;
        Ok(section)
    }

    pub(crate) fn encode_section(&self) -> String {
        let mut w = BitWriter::new();
        write_version(&mut w, STATE_VERSION);
        write_values(
            &mut w,
            &[
                self.sharing_notice,
                self.sale_opt_out_notice,
                self.targeted_advertising_opt_out_notice,
                self.sensitive_data_processing_opt_out_notice,
            ],
        );
        write_values(
            &mut w,
            &[self.sale_opt_out, self.targeted_advertising_opt_out],
        );
        write_values(&mut w, &self.sensitive_data_processing);
        write_value(&mut w, self.known_child_sensitive_data_consents);
        write_mspa(
            &mut w,
            self.mspa_covered_transaction,
            self.mspa_opt_out_option_mode,
            self.mspa_service_provider_mode,
        );
        finish(w, None)
    }
}

/// Connecticut (GPP section 12, version 1), core and optional GPC sub-section.
///
/// `sensitive_data_processing` entries, 1-based: 1 racial or ethnic origin, 2 religious
/// beliefs, 3 mental or physical health condition or diagnosis, 4 sex life or sexual
/// orientation, 5 citizenship or immigration status, 6 genetic data, 7 biometric data
/// (unique identification), 8 precise geolocation.
/// `known_child_sensitive_data_consents`: 1 process sensitive data of a known child,
/// 2 sell the personal data of a consumer aged 13 to 16, 3 process that data for targeted
/// advertising.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsCt {
    /// Notice of the processing of personal data.
    pub sharing_notice: Notice,
    /// Notice of the opportunity to opt out of sale.
    pub sale_opt_out_notice: Notice,
    /// Notice of the opportunity to opt out of targeted advertising.
    pub targeted_advertising_opt_out_notice: Notice,
    /// Opt-out of sale.
    pub sale_opt_out: OptOut,
    /// Opt-out of targeted advertising.
    pub targeted_advertising_opt_out: OptOut,
    /// Consent per sensitive data category (see the type documentation).
    pub sensitive_data_processing: [Consent; 8],
    /// Known-child consents (see the type documentation).
    pub known_child_sensitive_data_consents: [Consent; 3],
    /// Covered transaction under the MSPA (1 yes, 2 no).
    pub mspa_covered_transaction: MspaMode,
    /// MSPA opt-out option mode.
    pub mspa_opt_out_option_mode: MspaMode,
    /// MSPA service provider mode.
    pub mspa_service_provider_mode: MspaMode,
    /// GPC sub-section: `Some(signal)` when present.
    pub gpc: Option<bool>,
}

impl UsCt {
    pub(crate) fn decode_section(text: &str) -> Result<Self, SectionError> {
        let (core, subsections) = split(text)?;
        let r = &mut core.reader();
        read_state_version(r)?;
        let mut section = Self {
            sharing_notice: read_value(r)?,
            sale_opt_out_notice: read_value(r)?,
            targeted_advertising_opt_out_notice: read_value(r)?,
            sale_opt_out: read_value(r)?,
            targeted_advertising_opt_out: read_value(r)?,
            sensitive_data_processing: read_array(r)?,
            known_child_sensitive_data_consents: read_array(r)?,
            mspa_covered_transaction: read_value(r)?,
            mspa_opt_out_option_mode: read_value(r)?,
            mspa_service_provider_mode: read_value(r)?,
            gpc: None,
        };
        section.gpc = read_subsections(subsections, true)?;
        Ok(section)
    }

    pub(crate) fn encode_section(&self) -> String {
        let mut w = BitWriter::new();
        write_version(&mut w, STATE_VERSION);
        write_values(
            &mut w,
            &[
                self.sharing_notice,
                self.sale_opt_out_notice,
                self.targeted_advertising_opt_out_notice,
            ],
        );
        write_values(
            &mut w,
            &[self.sale_opt_out, self.targeted_advertising_opt_out],
        );
        write_values(&mut w, &self.sensitive_data_processing);
        write_values(&mut w, &self.known_child_sensitive_data_consents);
        write_mspa(
            &mut w,
            self.mspa_covered_transaction,
            self.mspa_opt_out_option_mode,
            self.mspa_service_provider_mode,
        );
        finish(w, self.gpc)
    }
}
