//! The GPP header: `Type(6) = 3`, `Version(6) = 1`, `Sections: Range(Fibonacci)`.

use serde::{Deserialize, Serialize};

use crate::IdSet;
use crate::bits::{BitWriter, Padding};
use crate::codec::{
    self, IdBudget, read_fibonacci_range, read_u8, to_text, write_fibonacci_range, write_uint,
};

use super::{GppError, SectionError};

/// Header type field value.
const HEADER_TYPE: u8 = 3;
/// The only GPP version.
const GPP_VERSION: u8 = 1;

/// The GPP header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GppHeader {
    /// GPP version; 1 is the only one.
    pub version: u8,
    /// Ids of the sections that follow, strictly increasing.
    pub section_ids: Vec<u16>,
}

impl GppHeader {
    pub(crate) fn decode(text: &str) -> Result<Self, GppError> {
        if text.is_empty() {
            return Err(GppError::Header(SectionError::Empty));
        }
        let bits = codec::segment_bits(text).map_err(|e| GppError::Header(e.into()))?;
        let mut r = bits.reader();
        let header_type = read_u8(&mut r, 6).map_err(|e| GppError::Header(e.into()))?;
        if header_type != HEADER_TYPE {
            return Err(GppError::NotAGppHeader(header_type));
        }
        let version = read_u8(&mut r, 6).map_err(|e| GppError::Header(e.into()))?;
        if version != GPP_VERSION {
            return Err(GppError::UnsupportedVersion(version));
        }
        let section_ids = read_fibonacci_range(&mut r, &mut IdBudget::new())
            .map_err(|e| GppError::Header(e.into()))?;
        Ok(Self {
            version,
            section_ids,
        })
    }

    pub(crate) fn encode(&self) -> Result<String, GppError> {
        if self.version != GPP_VERSION {
            return Err(GppError::UnsupportedVersion(self.version));
        }
        if self.section_ids.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(GppError::SectionsNotSorted);
        }
        let ids: IdSet = self.section_ids.iter().copied().collect();
        let mut w = BitWriter::new();
        let result = write_uint(&mut w, HEADER_TYPE, 6, "type")
            .and_then(|()| write_uint(&mut w, self.version, 6, "version"))
            .and_then(|()| write_fibonacci_range(&mut w, &ids, "section_ids"));
        result.map_err(|e| GppError::Header(e.into()))?;
        Ok(to_text(w, Padding::Byte))
    }
}
