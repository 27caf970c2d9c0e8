//! Field codecs shared by the TCF and GPP sections: id sets as bitfields and ranges,
//! letters, timestamps. Crate-private; errors surface as `TcfError` / `SectionError`.

use jiff::Timestamp;

use crate::IdSet;
use crate::bits::{BitReader, BitWriter, Bits, BitsError, Padding, fibonacci_len};

/// Upper bound on the number of ids that range entries may expand to in one decoded string.
///
/// A range entry costs 33 bits but may name 65,535 ids, so without a bound a few kilobytes of
/// publisher restrictions could expand to hundreds of millions of set entries.
pub const MAX_EXPANDED_IDS: usize = 1 << 20;

/// Low-level field error, mapped into the public error types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodecError {
    BadBase64,
    Truncated,
    RangeStartAfterEnd {
        start: u16,
        end: u16,
    },
    ZeroId,
    IdAboveMax {
        id: u16,
        max: u16,
    },
    IdOverflow,
    TooManyIds,
    InvalidLetter(u8),
    /// Encoding: a value does not fit its field.
    FieldOverflow {
        field: &'static str,
    },
    /// Encoding: an id outside the field's id space (0, or above the field's size).
    IdOutOfRange {
        field: &'static str,
        id: u16,
    },
    /// Encoding: a two-letter field that is not two upper-case ASCII letters.
    InvalidLetters {
        field: &'static str,
    },
    /// Encoding: more range entries than a 12-bit count can hold.
    TooManyEntries {
        field: &'static str,
    },
    TimestampOutOfRange,
}

impl From<BitsError> for CodecError {
    fn from(error: BitsError) -> Self {
        match error {
            BitsError::InvalidBase64 { .. } | BitsError::InvalidPadding => Self::BadBase64,
            BitsError::FibonacciOverflow => Self::IdOverflow,
            BitsError::UnexpectedEnd
            | BitsError::ValueTooWide { .. }
            | BitsError::FibonacciZero
            | BitsError::InvalidBinaryDigit { .. } => Self::Truncated,
        }
    }
}

/// Decodes one base64url segment.
pub(crate) fn segment_bits(text: &str) -> Result<Bits, CodecError> {
    Bits::from_base64url(text).map_err(|_| CodecError::BadBase64)
}

/// Counts ids produced by range entries against [`MAX_EXPANDED_IDS`]. One budget covers a
/// whole decoded string (every section of a GPP string).
#[derive(Debug)]
pub(crate) struct IdBudget {
    remaining: usize,
}

impl IdBudget {
    pub(crate) fn new() -> Self {
        Self {
            remaining: MAX_EXPANDED_IDS,
        }
    }

    pub(crate) fn spend(&mut self, count: usize) -> Result<(), CodecError> {
        self.remaining = self
            .remaining
            .checked_sub(count)
            .ok_or(CodecError::TooManyIds)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Scalars

pub(crate) fn read_u8(r: &mut BitReader<'_>, width: u32) -> Result<u8, CodecError> {
    Ok(r.read_u8(width)?)
}

pub(crate) fn read_u16(r: &mut BitReader<'_>, width: u32) -> Result<u16, CodecError> {
    Ok(r.read_u16(width)?)
}

pub(crate) fn read_bool(r: &mut BitReader<'_>) -> Result<bool, CodecError> {
    Ok(r.read_bool()?)
}

pub(crate) fn write_uint(
    w: &mut BitWriter,
    value: impl Into<u64>,
    width: u32,
    field: &'static str,
) -> Result<(), CodecError> {
    w.write_u64(value.into(), width)
        .map_err(|_| CodecError::FieldOverflow { field })
}

/// Reads a 36-bit decisecond timestamp.
pub(crate) fn read_timestamp(r: &mut BitReader<'_>) -> Result<Timestamp, CodecError> {
    let deciseconds = r.read_u64(36)?;
    let millis = i64::try_from(deciseconds)
        .ok()
        .and_then(|ds| ds.checked_mul(100))
        .ok_or(CodecError::TimestampOutOfRange)?;
    Timestamp::from_millisecond(millis).map_err(|_| CodecError::TimestampOutOfRange)
}

/// Writes a timestamp as 36-bit deciseconds; precision below a decisecond is truncated.
pub(crate) fn write_timestamp(w: &mut BitWriter, ts: Timestamp) -> Result<(), CodecError> {
    let millis = ts.as_millisecond();
    let deciseconds =
        u64::try_from(millis.div_euclid(100)).map_err(|_| CodecError::TimestampOutOfRange)?;
    w.write_u64(deciseconds, 36)
        .map_err(|_| CodecError::TimestampOutOfRange)
}

/// Reads `count` 6-bit letters (`A` = 0 … `Z` = 25).
pub(crate) fn read_letters(r: &mut BitReader<'_>, count: usize) -> Result<String, CodecError> {
    let mut out = String::with_capacity(count);
    for _ in 0..count {
        let value = r.read_u8(6)?;
        if value > 25 {
            return Err(CodecError::InvalidLetter(value));
        }
        out.push(char::from(b'A' + value));
    }
    Ok(out)
}

pub(crate) fn write_letters(
    w: &mut BitWriter,
    text: &str,
    count: usize,
    field: &'static str,
) -> Result<(), CodecError> {
    let bytes = text.as_bytes();
    if bytes.len() != count || !bytes.iter().all(u8::is_ascii_uppercase) {
        return Err(CodecError::InvalidLetters { field });
    }
    for &b in bytes {
        write_uint(w, b - b'A', 6, field)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Id sets

/// Reads a fixed bitfield of `len` bits: bit i set means id i+1.
pub(crate) fn read_bitfield(r: &mut BitReader<'_>, len: usize) -> Result<IdSet, CodecError> {
    if r.remaining() < len {
        return Err(CodecError::Truncated);
    }
    let mut set = IdSet::new();
    for index in 0..len {
        if r.read_bool()? {
            let id = u16::try_from(index + 1).map_err(|_| CodecError::IdOverflow)?;
            set.insert(id);
        }
    }
    Ok(set)
}

/// Writes `set` as a fixed bitfield of `len` bits; every id must be in `1..=len`.
pub(crate) fn write_bitfield(
    w: &mut BitWriter,
    set: &IdSet,
    len: usize,
    field: &'static str,
) -> Result<(), CodecError> {
    check_ids(set, len, field)?;
    for index in 0..len {
        let present = u16::try_from(index + 1).is_ok_and(|id| set.contains(&id));
        w.write_bool(present);
    }
    Ok(())
}

/// Checks that every id of `set` is in `1..=max`.
pub(crate) fn check_ids(set: &IdSet, max: usize, field: &'static str) -> Result<(), CodecError> {
    for &id in set {
        if id == 0 || usize::from(id) > max {
            return Err(CodecError::IdOutOfRange { field, id });
        }
    }
    Ok(())
}

/// Maximal runs of consecutive ids, as inclusive `(start, end)` pairs.
pub(crate) fn runs(set: &IdSet) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for &id in set {
        match out.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(id) => *end = id,
            _ => out.push((id, id)),
        }
    }
    out
}

/// Reads a `Range(Int)`: a 12-bit entry count, then per entry `IsARange(1)`,
/// `Start(16)` and, for a range, `End(16)`. Ids above `max` (when given) are an error.
pub(crate) fn read_int_range(
    r: &mut BitReader<'_>,
    max: Option<u16>,
    budget: &mut IdBudget,
) -> Result<IdSet, CodecError> {
    let entries = r.read_u16(12)?;
    let mut set = IdSet::new();
    for _ in 0..entries {
        let is_range = r.read_bool()?;
        let start = r.read_u16(16)?;
        let end = if is_range { r.read_u16(16)? } else { start };
        if start == 0 {
            return Err(CodecError::ZeroId);
        }
        if start > end {
            return Err(CodecError::RangeStartAfterEnd { start, end });
        }
        if let Some(max) = max
            && end > max
        {
            return Err(CodecError::IdAboveMax { id: end, max });
        }
        budget.spend(usize::from(end - start) + 1)?;
        set.extend(start..=end);
    }
    Ok(set)
}

/// Bits needed by [`write_int_range`] for these runs.
pub(crate) fn int_range_len(runs: &[(u16, u16)]) -> usize {
    12 + runs
        .iter()
        .map(|(start, end)| if start == end { 17 } else { 33 })
        .sum::<usize>()
}

pub(crate) fn write_int_range(
    w: &mut BitWriter,
    set: &IdSet,
    field: &'static str,
) -> Result<(), CodecError> {
    check_ids(set, usize::from(u16::MAX), field)?;
    let runs = runs(set);
    let count = u16::try_from(runs.len())
        .ok()
        .filter(|&n| n < 1 << 12)
        .ok_or(CodecError::TooManyEntries { field })?;
    write_uint(w, count, 12, field)?;
    for (start, end) in runs {
        w.write_bool(start != end);
        write_uint(w, start, 16, field)?;
        if start != end {
            write_uint(w, end, 16, field)?;
        }
    }
    Ok(())
}

/// Reads the TCF vendor-section layout (GPP calls it `OptimizedIntRange`): `MaxVendorId(16)`,
/// `IsRangeEncoding(1)`, then a bitfield of `MaxVendorId` bits or a `Range(Int)`.
pub(crate) fn read_vendor_section(
    r: &mut BitReader<'_>,
    budget: &mut IdBudget,
) -> Result<IdSet, CodecError> {
    let max = r.read_u16(16)?;
    if r.read_bool()? {
        read_int_range(r, Some(max), budget)
    } else {
        read_bitfield(r, usize::from(max))
    }
}

/// Writes the TCF vendor-section layout, choosing the shorter of bitfield and range
/// (a tie goes to the bitfield).
pub(crate) fn write_vendor_section(
    w: &mut BitWriter,
    set: &IdSet,
    field: &'static str,
) -> Result<(), CodecError> {
    check_ids(set, usize::from(u16::MAX), field)?;
    let max = set.last().copied().unwrap_or(0);
    let runs = runs(set);
    write_uint(w, max, 16, field)?;
    let range_len = int_range_len(&runs);
    if range_len < usize::from(max) && runs.len() < 1 << 12 {
        w.write_bool(true);
        write_int_range(w, set, field)
    } else {
        w.write_bool(false);
        write_bitfield(w, set, usize::from(max), field)
    }
}

/// Reads a GPP `Range(Fibonacci)`: a 12-bit entry count, then per entry `IsGroup(1)`, the
/// Fibonacci-coded offset from the previous id (0 before the first) and, for a group, the
/// Fibonacci-coded distance from its first to its last id. Ids come out strictly increasing.
pub(crate) fn read_fibonacci_range(
    r: &mut BitReader<'_>,
    budget: &mut IdBudget,
) -> Result<Vec<u16>, CodecError> {
    let entries = r.read_u16(12)?;
    let mut ids = Vec::new();
    let mut last = 0u16;
    for _ in 0..entries {
        let is_group = r.read_bool()?;
        let offset = r.read_fibonacci()?;
        let start = add_offset(last, offset)?;
        let end = if is_group {
            add_offset(start, r.read_fibonacci()?)?
        } else {
            start
        };
        budget.spend(usize::from(end - start) + 1)?;
        ids.extend(start..=end);
        last = end;
    }
    Ok(ids)
}

fn add_offset(base: u16, offset: u64) -> Result<u16, CodecError> {
    u64::from(base)
        .checked_add(offset)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or(CodecError::IdOverflow)
}

/// Entries of a `Range(Fibonacci)` for a strictly increasing id list: runs of two or more
/// ids become groups.
fn fibonacci_entries(set: &IdSet) -> Vec<(u16, u16)> {
    runs(set)
}

pub(crate) fn fibonacci_range_len(set: &IdSet) -> usize {
    let mut last = 0u16;
    let mut len = 12;
    for (start, end) in fibonacci_entries(set) {
        len += 1 + fibonacci_len(u64::from(start - last)).unwrap_or(0);
        if start != end {
            len += fibonacci_len(u64::from(end - start)).unwrap_or(0);
        }
        last = end;
    }
    len
}

pub(crate) fn write_fibonacci_range(
    w: &mut BitWriter,
    set: &IdSet,
    field: &'static str,
) -> Result<(), CodecError> {
    check_ids(set, usize::from(u16::MAX), field)?;
    let entries = fibonacci_entries(set);
    let count = u16::try_from(entries.len())
        .ok()
        .filter(|&n| n < 1 << 12)
        .ok_or(CodecError::TooManyEntries { field })?;
    write_uint(w, count, 12, field)?;
    let mut last = 0u16;
    for (start, end) in entries {
        // INVARIANT: ids are strictly increasing and non-zero, so every offset is >= 1.
        w.write_bool(start != end);
        w.write_fibonacci(u64::from(start - last))
            .map_err(|_| CodecError::IdOutOfRange { field, id: start })?;
        if start != end {
            w.write_fibonacci(u64::from(end - start))
                .map_err(|_| CodecError::IdOutOfRange { field, id: end })?;
        }
        last = end;
    }
    Ok(())
}

/// Reads a GPP `OptimizedRange`: `IsFibonacci(1)`, then a `Range(Fibonacci)` or an
/// `N-Bitfield` (`Int(16)` length and that many bits).
pub(crate) fn read_optimized_range(
    r: &mut BitReader<'_>,
    budget: &mut IdBudget,
) -> Result<IdSet, CodecError> {
    if r.read_bool()? {
        Ok(read_fibonacci_range(r, budget)?.into_iter().collect())
    } else {
        let len = r.read_u16(16)?;
        read_bitfield(r, usize::from(len))
    }
}

/// Writes a GPP `OptimizedRange`, choosing the shorter form (a tie goes to the bitfield).
pub(crate) fn write_optimized_range(
    w: &mut BitWriter,
    set: &IdSet,
    field: &'static str,
) -> Result<(), CodecError> {
    check_ids(set, usize::from(u16::MAX), field)?;
    let max = set.last().copied().unwrap_or(0);
    let fib_len = fibonacci_range_len(set);
    if fib_len < 16 + usize::from(max) && runs(set).len() < 1 << 12 {
        w.write_bool(true);
        write_fibonacci_range(w, set, field)
    } else {
        w.write_bool(false);
        write_uint(w, max, 16, field)?;
        write_bitfield(w, set, usize::from(max), field)
    }
}

/// Encodes a finished bit string.
pub(crate) fn to_text(w: BitWriter, padding: Padding) -> String {
    w.finish().to_base64url(padding)
}
