//! Bit strings, the URL-safe base64 used by TCF and GPP, and Fibonacci coding.
//!
//! TCF and GPP strings are bit strings: big-endian integers and flags packed left to right,
//! zero-padded and written six bits per character in the RFC 4648 §5 alphabet
//! (`A–Z a–z 0–9 - _`). This module holds the shared low-level pieces:
//!
//! * [`Bits`]: an owned bit string, convertible from and to base64url and to a `0`/`1` text
//!   form (handy in tests and when comparing with specification tables);
//! * [`BitReader`] and [`BitWriter`]: sequential access with fixed-width integers and
//!   Fibonacci-coded integers;
//! * [`Padding`]: the two padding conventions found in the wild.
//!
//! Nothing here panics on any input: every read past the end is a [`BitsError`].

use thiserror::Error;

/// Error from the bit-level layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BitsError {
    /// A read went past the end of the bit string.
    #[error("unexpected end of data")]
    UnexpectedEnd,
    /// A character outside the base64url alphabet.
    #[error("invalid base64url character at position {position}")]
    InvalidBase64 {
        /// Zero-based character index in the input.
        position: usize,
    },
    /// `=` padding that is not at the end, longer than two characters, or leaves a length
    /// that is not a multiple of four.
    #[error("invalid base64 padding")]
    InvalidPadding,
    /// A value does not fit in the requested number of bits, or more than 64 bits were
    /// requested.
    #[error("value does not fit in {width} bits")]
    ValueTooWide {
        /// The requested width.
        width: u32,
    },
    /// A Fibonacci code word whose value exceeds `u64::MAX`.
    #[error("Fibonacci-coded value exceeds 64 bits")]
    FibonacciOverflow,
    /// Fibonacci coding has no code word for zero.
    #[error("Fibonacci coding cannot represent zero")]
    FibonacciZero,
    /// A character other than `0`, `1` or white space in a binary text.
    #[error("invalid binary digit at position {position}")]
    InvalidBinaryDigit {
        /// Zero-based character index in the input.
        position: usize,
    },
}

/// How a bit string is padded before it is written as base64url.
///
/// Padding bits are always zero and `=` is never emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Pad to a whole number of bytes, then to a whole number of characters. This is what
    /// iabgpp-es calls "compressed": the GPP header, the US sections and TCF Canada, and what
    /// older TCF v2 encoders (iabtcf-java) produce.
    Byte,
    /// Pad to a multiple of 24 bits (four characters). This is the "traditional" form used
    /// by the TCF v2 specification's own examples and by iabtcf-es / iabgpp-es for TCF EU.
    Block24,
}

/// An owned bit string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Bits {
    // INVARIANT: `bytes.len() == len.div_ceil(8)` and every bit past `len` in the last byte
    // is zero, so derived equality compares only the meaningful bits.
    bytes: Vec<u8>,
    len: usize,
}

impl Bits {
    /// An empty bit string.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of bits.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the bit string holds no bits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bit at `index` (0 = leftmost), or `None` past the end.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<bool> {
        if index >= self.len {
            return None;
        }
        let byte = self.bytes.get(index / 8)?;
        Some(byte & (0x80 >> (index % 8)) != 0)
    }

    /// Appends one bit.
    pub fn push(&mut self, bit: bool) {
        if self.len.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if bit && let Some(last) = self.bytes.last_mut() {
            *last |= 0x80 >> (self.len % 8);
        }
        self.len += 1;
    }

    /// A reader positioned at the first bit.
    #[must_use]
    pub fn reader(&self) -> BitReader<'_> {
        BitReader { bits: self, pos: 0 }
    }

    /// Decodes base64url text (alphabet `A–Z a–z 0–9 - _`), six bits per character.
    ///
    /// Up to two trailing `=` are tolerated when they make the length a multiple of four
    /// (iabtcf-java's `cAAAAAAAITg=`); `+`, `/` and any other character are rejected.
    ///
    /// # Errors
    /// [`BitsError::InvalidBase64`] or [`BitsError::InvalidPadding`].
    pub fn from_base64url(text: &str) -> Result<Self, BitsError> {
        let bytes = text.as_bytes();
        let body_len = bytes.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
        let pad = bytes.len() - body_len;
        if pad > 2 || (pad > 0 && !bytes.len().is_multiple_of(4)) {
            return Err(BitsError::InvalidPadding);
        }
        let mut bits = Self::new();
        for (position, &c) in bytes.iter().take(body_len).enumerate() {
            let value = sextet_value(c).ok_or(if c == b'=' {
                BitsError::InvalidPadding
            } else {
                BitsError::InvalidBase64 { position }
            })?;
            for shift in (0..6).rev() {
                bits.push((value >> shift) & 1 == 1);
            }
        }
        Ok(bits)
    }

    /// Encodes as base64url without `=`, zero-padding as `padding` says.
    #[must_use]
    pub fn to_base64url(&self, padding: Padding) -> String {
        let padded_len = match padding {
            Padding::Byte => self.len.next_multiple_of(8).next_multiple_of(6),
            Padding::Block24 => self.len.next_multiple_of(24),
        };
        let mut out = String::with_capacity(padded_len / 6);
        for start in (0..padded_len).step_by(6) {
            let mut value = 0u8;
            for index in start..start + 6 {
                value = (value << 1) | u8::from(self.get(index).unwrap_or(false));
            }
            out.push(char::from(ALPHABET[usize::from(value)]));
        }
        out
    }

    /// Parses a text of `0` and `1`; white space is ignored, so specification tables can be
    /// pasted as they are (`"000011 000001"`).
    ///
    /// # Errors
    /// [`BitsError::InvalidBinaryDigit`] for any other character.
    pub fn from_binary_str(text: &str) -> Result<Self, BitsError> {
        let mut bits = Self::new();
        for (position, c) in text.chars().enumerate() {
            match c {
                '0' => bits.push(false),
                '1' => bits.push(true),
                c if c.is_whitespace() => {}
                _ => return Err(BitsError::InvalidBinaryDigit { position }),
            }
        }
        Ok(bits)
    }

    /// The bits as a text of `0` and `1`.
    #[must_use]
    pub fn to_binary_string(&self) -> String {
        (0..self.len)
            .map(|i| if self.get(i) == Some(true) { '1' } else { '0' })
            .collect()
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn sextet_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Sequential reader over a [`Bits`].
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    bits: &'a Bits,
    pos: usize,
}

impl BitReader<'_> {
    /// Bits consumed so far.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bits left to read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.bits.len - self.pos
    }

    /// Reads one bit.
    ///
    /// # Errors
    /// [`BitsError::UnexpectedEnd`].
    pub fn read_bool(&mut self) -> Result<bool, BitsError> {
        let bit = self.bits.get(self.pos).ok_or(BitsError::UnexpectedEnd)?;
        self.pos += 1;
        Ok(bit)
    }

    /// Reads a big-endian unsigned integer of `width` bits (0 to 64).
    ///
    /// # Errors
    /// [`BitsError::ValueTooWide`] if `width > 64`, [`BitsError::UnexpectedEnd`] if fewer
    /// than `width` bits remain (nothing is consumed then).
    pub fn read_u64(&mut self, width: u32) -> Result<u64, BitsError> {
        if width > 64 {
            return Err(BitsError::ValueTooWide { width });
        }
        if self.remaining() < width as usize {
            return Err(BitsError::UnexpectedEnd);
        }
        let mut value = 0u64;
        for _ in 0..width {
            value = (value << 1) | u64::from(self.read_bool()?);
        }
        Ok(value)
    }

    /// Reads an integer of `width` bits (at most 8).
    ///
    /// # Errors
    /// As [`BitReader::read_u64`]; [`BitsError::ValueTooWide`] if `width > 8`.
    pub fn read_u8(&mut self, width: u32) -> Result<u8, BitsError> {
        if width > 8 {
            return Err(BitsError::ValueTooWide { width });
        }
        u8::try_from(self.read_u64(width)?).map_err(|_| BitsError::ValueTooWide { width })
    }

    /// Reads an integer of `width` bits (at most 16).
    ///
    /// # Errors
    /// As [`BitReader::read_u64`]; [`BitsError::ValueTooWide`] if `width > 16`.
    pub fn read_u16(&mut self, width: u32) -> Result<u16, BitsError> {
        if width > 16 {
            return Err(BitsError::ValueTooWide { width });
        }
        u16::try_from(self.read_u64(width)?).map_err(|_| BitsError::ValueTooWide { width })
    }

    /// Reads a Fibonacci-coded positive integer (Zeckendorf bits, least significant first,
    /// ended by `11`): `11` = 1, `011` = 2, `0011` = 3, `1011` = 4, `00011` = 5.
    ///
    /// # Errors
    /// [`BitsError::UnexpectedEnd`] if the terminating `11` is missing,
    /// [`BitsError::FibonacciOverflow`] if the value exceeds `u64::MAX`.
    pub fn read_fibonacci(&mut self) -> Result<u64, BitsError> {
        let mut value = 0u64;
        // `current` is the Fibonacci number of the next bit position: 1, 2, 3, 5, 8, …
        // `None` once the sequence itself has left the u64 range.
        let mut current = Some(1u64);
        let mut next = Some(2u64);
        let mut previous_bit = false;
        loop {
            let bit = self.read_bool()?;
            if bit && previous_bit {
                return Ok(value);
            }
            if bit {
                let weight = current.ok_or(BitsError::FibonacciOverflow)?;
                value = value
                    .checked_add(weight)
                    .ok_or(BitsError::FibonacciOverflow)?;
            }
            previous_bit = bit;
            let following = match (current, next) {
                (Some(a), Some(b)) => a.checked_add(b),
                _ => None,
            };
            current = next;
            next = following;
        }
    }
}

/// Builds a [`Bits`] left to right.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    bits: Bits,
}

impl BitWriter {
    /// An empty writer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Bits written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    /// Whether nothing has been written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Appends one bit.
    pub fn write_bool(&mut self, bit: bool) {
        self.bits.push(bit);
    }

    /// Appends `value` as a big-endian integer of `width` bits (0 to 64).
    ///
    /// # Errors
    /// [`BitsError::ValueTooWide`] if `value` needs more than `width` bits or
    /// `width > 64`; nothing is written then.
    pub fn write_u64(&mut self, value: u64, width: u32) -> Result<(), BitsError> {
        let fits = match width {
            0 => value == 0,
            1..=63 => value >> width == 0,
            64 => true,
            _ => false,
        };
        if !fits {
            return Err(BitsError::ValueTooWide { width });
        }
        for shift in (0..width).rev() {
            self.bits.push((value >> shift) & 1 == 1);
        }
        Ok(())
    }

    /// Appends `value` in Fibonacci coding (see [`BitReader::read_fibonacci`]).
    ///
    /// # Errors
    /// [`BitsError::FibonacciZero`] for 0.
    pub fn write_fibonacci(&mut self, value: u64) -> Result<(), BitsError> {
        for bit in fibonacci_code(value)? {
            self.bits.push(bit);
        }
        Ok(())
    }

    /// Appends every bit of `other`.
    pub fn append(&mut self, other: &Bits) {
        for index in 0..other.len() {
            self.bits.push(other.get(index).unwrap_or(false));
        }
    }

    /// The bits written.
    #[must_use]
    pub fn finish(self) -> Bits {
        self.bits
    }
}

/// The Fibonacci code word of `value`, terminator included.
///
/// # Errors
/// [`BitsError::FibonacciZero`] for 0.
pub fn fibonacci_code(value: u64) -> Result<Vec<bool>, BitsError> {
    if value == 0 {
        return Err(BitsError::FibonacciZero);
    }
    let mut weights = vec![1u64];
    let mut next = 2u64;
    while next <= value {
        let following = weights.last().and_then(|&last| last.checked_add(next));
        weights.push(next);
        match following {
            Some(f) => next = f,
            None => break,
        }
    }
    let mut code = vec![false; weights.len()];
    let mut rest = value;
    for (index, &weight) in weights.iter().enumerate().rev() {
        if weight <= rest {
            rest -= weight;
            if let Some(slot) = code.get_mut(index) {
                *slot = true;
            }
        }
    }
    // Zeckendorf: the largest weight is always used, so the code ends in 1; trim any
    // unused top positions (none in practice) before adding the terminator.
    while code.last() == Some(&false) {
        code.pop();
    }
    code.push(true);
    Ok(code)
}

/// Number of bits in the Fibonacci code word of `value` (terminator included), or `None`
/// for 0.
#[must_use]
pub fn fibonacci_len(value: u64) -> Option<usize> {
    fibonacci_code(value).ok().map(|code| code.len())
}
