//! US Privacy string (GPP section 6, the legacy `us_privacy` value): four ASCII characters,
//! `Version('1') | Notice | OptOutSale | LspaCovered`, each flag `Y`, `N` or `-`
//! (standards.md §2.3).

use serde::{Deserialize, Serialize};

use super::SectionError;

/// A US Privacy flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UspFlag {
    /// `Y`.
    Yes,
    /// `N`.
    No,
    /// `-`: not applicable.
    #[default]
    NotApplicable,
}

impl UspFlag {
    fn from_char(c: u8) -> Option<Self> {
        match c {
            b'Y' => Some(Self::Yes),
            b'N' => Some(Self::No),
            b'-' => Some(Self::NotApplicable),
            _ => None,
        }
    }

    fn to_char(self) -> char {
        match self {
            Self::Yes => 'Y',
            Self::No => 'N',
            Self::NotApplicable => '-',
        }
    }
}

/// US Privacy string, version 1 (e.g. `1YNN`; `1---` when nothing applies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UspV1 {
    /// Explicit notice / opportunity to opt out given.
    pub notice: UspFlag,
    /// The user opted out of the sale of personal information.
    pub opt_out_sale: UspFlag,
    /// The publisher is a signatory to the IAB LSPA.
    pub lspa_covered: UspFlag,
}

impl UspV1 {
    pub(crate) fn decode_section(text: &str) -> Result<Self, SectionError> {
        let &[version, notice, opt_out_sale, lspa_covered] = text.as_bytes() else {
            return Err(SectionError::InvalidUspV1);
        };
        if !version.is_ascii_digit() {
            return Err(SectionError::InvalidUspV1);
        }
        if version != b'1' {
            return Err(SectionError::UnsupportedVersion(version - b'0'));
        }
        let flag = |c| UspFlag::from_char(c).ok_or(SectionError::InvalidUspV1);
        Ok(Self {
            notice: flag(notice)?,
            opt_out_sale: flag(opt_out_sale)?,
            lspa_covered: flag(lspa_covered)?,
        })
    }

    pub(crate) fn encode_section(&self) -> String {
        [
            '1',
            self.notice.to_char(),
            self.opt_out_sale.to_char(),
            self.lspa_covered.to_char(),
        ]
        .into_iter()
        .collect()
    }
}
