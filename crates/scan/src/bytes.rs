//! Byte-level helpers shared by the detectors. All take the whole text and an index, and
//! return `false` (or stop) at the ends instead of panicking.

use crate::CONTEXT_WINDOW;

/// `t` with each escape sequence `\n`, `\r` and `\t` (a backslash not itself escaped, then
/// the letter) turned into two spaces, so detectors see the word break it stands for at the
/// same offsets; `None` when `t` holds none (the common case costs one `memchr`-like pass).
pub(crate) fn blank_escapes(t: &[u8]) -> Option<Vec<u8>> {
    let first = memchr::memchr_iter(b'\\', t)
        .find(|&i| matches!(t.get(i + 1), Some(b'n' | b'r' | b't')))?;
    let mut out = t.to_vec();
    // Back up to the start of the run of backslashes before `first`, so that escaped
    // backslashes (`\\n`: a backslash, then the letter n) pair up correctly.
    let mut i = first;
    while i > 0 && t[i - 1] == b'\\' {
        i -= 1;
    }
    while i + 1 < t.len() {
        if t[i] != b'\\' {
            i += 1;
            continue;
        }
        if matches!(t[i + 1], b'n' | b'r' | b't') {
            out[i] = b' ';
            out[i + 1] = b' ';
        }
        i += 2;
    }
    Some(out)
}

/// A needle's finder, built once per process (`static N: Needle = Needle::new(|| Finder::new(b"…"))`):
/// building one, as `memmem::find` does on each call, costs more than searching the short
/// texts most scans get.
pub(crate) type Needle = std::sync::LazyLock<memchr::memmem::Finder<'static>>;

/// The end of a window of at most `n` bytes from `s`, moved back off the middle of a
/// character (so that a word cut by the window's end still ends on a `char` boundary).
pub(crate) fn window_end(t: &[u8], s: usize, n: usize) -> usize {
    let mut e = s.saturating_add(n).min(t.len());
    while e > s && e < t.len() && t[e] & 0xC0 == 0x80 {
        e -= 1;
    }
    e
}

/// The byte at `i`, or 0 past the end.
pub(crate) fn at(t: &[u8], i: usize) -> u8 {
    t.get(i).copied().unwrap_or(0)
}

/// Whether the byte at `i` is an ASCII digit.
pub(crate) fn is_digit(t: &[u8], i: usize) -> bool {
    at(t, i).is_ascii_digit()
}

/// Whether the byte at `i` is ASCII alphanumeric.
pub(crate) fn is_alnum(t: &[u8], i: usize) -> bool {
    at(t, i).is_ascii_alphanumeric()
}

/// Whether the byte before `i` is ASCII alphanumeric (false at the start).
pub(crate) fn alnum_before(t: &[u8], i: usize) -> bool {
    i > 0 && is_alnum(t, i - 1)
}

/// A set of bytes, as a table (built at compile time with [`set`]).
pub(crate) type ByteSet = [bool; 256];

/// The set of `bytes`, with every ASCII digit when `digits` and every ASCII capital when
/// `capitals`.
pub(crate) const fn set(bytes: &[u8], digits: bool, capitals: bool) -> ByteSet {
    let mut s = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        s[bytes[i] as usize] = true;
        i += 1;
    }
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if (digits && c.is_ascii_digit()) || (capitals && c.is_ascii_uppercase()) {
            s[b] = true;
        }
        b += 1;
    }
    s
}

/// ASCII digits.
pub(crate) const DIGITS: ByteSet = set(b"", true, false);

/// ASCII capitals.
pub(crate) const CAPITALS: ByteSet = set(b"", false, true);

/// ASCII digits and capitals.
pub(crate) const DIGITS_AND_CAPITALS: ByteSet = set(b"", true, true);

/// ASCII capitals and the first bytes of non-ASCII characters (which may be capitals:
/// [`capital_at`] tells).
pub(crate) const CAPITALS_OR_LEADS: ByteSet = {
    let mut s = CAPITALS;
    let mut b = 0xC0;
    while b <= 0xF7 {
        s[b] = true;
        b += 1;
    }
    s
};

/// Whether a capital letter of any script starts at `i` (`Groningen`, `Ålesund`, `Łódź`,
/// `Μοναγρούλι`).
pub(crate) fn capital_at(t: &[u8], i: usize) -> bool {
    let b = at(t, i);
    b.is_ascii_uppercase() || (b >= 0xC0 && char_at(t, i).is_some_and(|(c, _)| c.is_uppercase()))
}

/// The character that starts at `i` when a multi-byte one does, and its length in bytes.
pub(crate) fn char_at(t: &[u8], i: usize) -> Option<(char, usize)> {
    let (n, lead) = match at(t, i) {
        b @ 0xC0..=0xDF => (2, u32::from(b & 0x1F)),
        b @ 0xE0..=0xEF => (3, u32::from(b & 0x0F)),
        b @ 0xF0..=0xF7 => (4, u32::from(b & 0x07)),
        _ => return None,
    };
    // Decoded by hand (the scanner's hottest loops ask this of every non-ASCII character);
    // a byte that does not continue the character makes it none.
    let mut c = lead;
    for &b in t.get(i + 1..i + n)? {
        if b & 0xC0 != 0x80 {
            return None;
        }
        c = (c << 6) | u32::from(b & 0x3F);
    }
    Some((char::from_u32(c)?, n))
}

/// The first byte at or after `i` that is in `s`, or the end of the text. Detectors jump
/// with it from one byte their matches can start with (or hold) to the next: one table
/// look-up per byte in between.
pub(crate) fn next_in(t: &[u8], i: usize, s: &ByteSet) -> usize {
    t.get(i..)
        .and_then(|rest| rest.iter().position(|&b| s[usize::from(b)]))
        .map_or(t.len(), |k| i + k)
}

/// Where a match that holds its first digit `k` bytes after its start may next start: `k`
/// bytes before the first digit at or after `i` (never before `i`), or the end of the text
/// when no digit follows.
pub(crate) fn before_next_digit(t: &[u8], i: usize, k: usize) -> usize {
    let d = next_in(t, i, &DIGITS);
    if d == t.len() {
        d
    } else {
        d.saturating_sub(k).max(i)
    }
}

/// Every place a match that holds a digit at most `k` bytes after its start may start, in
/// order: the positions up to `k` bytes before each digit.
pub(crate) fn starts_before_digits(t: &[u8], k: usize) -> impl Iterator<Item = usize> + '_ {
    let mut next = 0;
    std::iter::from_fn(move || {
        let i = before_next_digit(t, next, k);
        (i < t.len()).then(|| {
            next = i + 1;
            i
        })
    })
}

/// The start of the next word (a run of ASCII letters and digits) that holds a digit, at
/// or after `i` (never before `i`), or the end of the text.
pub(crate) fn next_word_with_digit(t: &[u8], i: usize) -> usize {
    let mut s = next_in(t, i, &DIGITS);
    if s == t.len() {
        return s;
    }
    while s > i && t[s - 1].is_ascii_alphanumeric() {
        s -= 1;
    }
    s
}

/// The end of the run of ASCII digits starting at `i`.
pub(crate) fn digits_end(t: &[u8], i: usize) -> usize {
    let mut e = i;
    while is_digit(t, e) {
        e += 1;
    }
    e
}

/// Whether a number starting at `s` continues something before it: an alphanumeric byte, a
/// separator from `seps` glued to an alphanumeric one (`ORD-2024`, `1.2`), or a space after a
/// digit when `seps` holds a space (`DE89 3704`).
pub(crate) fn joined_before(t: &[u8], s: usize, seps: &[u8]) -> bool {
    if s == 0 {
        return false;
    }
    let p = at(t, s - 1);
    if p.is_ascii_alphanumeric() {
        return true;
    }
    if s < 2 || !seps.contains(&p) {
        return false;
    }
    let pp = at(t, s - 2);
    if p == b' ' {
        pp.is_ascii_digit()
    } else {
        pp.is_ascii_alphanumeric()
    }
}

/// Whether a number ending at `e` goes on: an alphanumeric byte, or a separator from `seps`
/// followed by a digit (`1.2.3.4.5`).
pub(crate) fn joined_after(t: &[u8], e: usize, seps: &[u8]) -> bool {
    let n = at(t, e);
    n.is_ascii_alphanumeric() || (seps.contains(&n) && is_digit(t, e + 1))
}

/// Whether one of `words` occurs as a whole word (case-insensitive, optional plural `s`) in
/// the [`CONTEXT_WINDOW`] bytes before `start`.
pub(crate) fn context(t: &[u8], start: usize, words: &[&str]) -> bool {
    let from = start.saturating_sub(CONTEXT_WINDOW);
    any_word(t.get(from..start).unwrap_or(&[]), words)
}

/// Whether one of `words` occurs as a whole word in the [`CONTEXT_WINDOW`] bytes after
/// `end` ("… typed 225106261 in the social security field").
pub(crate) fn context_after(t: &[u8], end: usize, words: &[&str]) -> bool {
    let to = end.saturating_add(CONTEXT_WINDOW).min(t.len());
    any_word(t.get(end..to).unwrap_or(&[]), words)
}

/// Whether one of `words` occurs as a whole word in `hay`. One pass notes the first letter
/// of each word of `hay`; only the listed words that start with one of those letters are
/// searched for.
fn any_word(hay: &[u8], words: &[&str]) -> bool {
    let mut starts = 0u32;
    let mut prev_letter = false;
    for &b in hay {
        let letter = b.is_ascii_alphabetic();
        if letter && !prev_letter {
            starts |= 1 << ((b | 0x20) - b'a');
        }
        prev_letter = letter;
    }
    words.iter().any(|word| {
        let w = word.as_bytes();
        let possible = w
            .first()
            .is_none_or(|&f| !f.is_ascii_alphabetic() || starts & (1 << ((f | 0x20) - b'a')) != 0);
        possible && has_word(hay, w)
    })
}

fn has_word(hay: &[u8], word: &[u8]) -> bool {
    if word.is_empty() || hay.len() < word.len() {
        return false;
    }
    let first = word[0].to_ascii_lowercase();
    (0..=hay.len() - word.len()).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && (i == 0 || !hay[i - 1].is_ascii_alphabetic())
            && hay[i..i + word.len()].eq_ignore_ascii_case(word)
            && {
                let after = at(hay, i + word.len());
                !after.is_ascii_alphabetic()
                    || (after.eq_ignore_ascii_case(&b's')
                        && !at(hay, i + word.len() + 1).is_ascii_alphabetic())
            }
    })
}

/// Shannon entropy of `v` in bits per byte.
pub(crate) fn entropy(v: &[u8]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in v {
        counts[usize::from(b)] += 1;
    }
    let n = v.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The bytes `t[s..e]` as a `&str` when they are ASCII (always the case for detector spans).
pub(crate) fn ascii(t: &[u8], s: usize, e: usize) -> Option<&str> {
    let b = t.get(s..e)?;
    if b.is_ascii() {
        std::str::from_utf8(b).ok()
    } else {
        None
    }
}

/// Whether `t[i..]` starts with one of `words` (lower case), ASCII case-insensitively,
/// followed by a non-letter; returns the end of the match.
pub(crate) fn word_at(t: &[u8], i: usize, words: &[&str]) -> Option<usize> {
    words.iter().find_map(|w| {
        let e = i + w.len();
        (t.get(i..e)?.eq_ignore_ascii_case(w.as_bytes()) && !at(t, e).is_ascii_alphabetic())
            .then_some(e)
    })
}

/// Whether `t[i..]` starts with `p`, ASCII case-insensitively.
pub(crate) fn starts_with_ci(t: &[u8], i: usize, p: &[u8]) -> bool {
    t.get(i..i + p.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(p))
}

/// Whether `t[i..]` starts with `p` exactly.
pub(crate) fn starts_with(t: &[u8], i: usize, p: &[u8]) -> bool {
    t.get(i..i + p.len()).is_some_and(|s| s == p)
}

/// Digits of `t[s..e]` (other bytes skipped) as a `String`.
pub(crate) fn digits_of(t: &[u8], s: usize, e: usize) -> String {
    t.get(s..e)
        .unwrap_or(&[])
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|&b| char::from(b))
        .collect()
}

/// Number value of the ASCII digits `t[s..e]` (at most 9 digits are meaningful).
pub(crate) fn num(t: &[u8], s: usize, e: usize) -> u32 {
    t.get(s..e).unwrap_or(&[]).iter().fold(0u32, |acc, &b| {
        acc.saturating_mul(10)
            .saturating_add(u32::from(b.wrapping_sub(b'0')))
    })
}

/// The word that ends just before `end` (skipping up to 4 spaces, and `:` when `colon`):
/// its ASCII letters (at most 16) and where it starts; empty when there is none.
pub(crate) fn word_before(t: &[u8], end: usize, colon: bool) -> (&[u8], usize) {
    let mut e = end;
    while e > 0 && end - e < 4 && (t[e - 1] == b' ' || (colon && t[e - 1] == b':')) {
        e -= 1;
    }
    let mut s = e;
    while s > 0 && t[s - 1].is_ascii_alphabetic() && e - s < 16 {
        s -= 1;
    }
    if s > 0 && t[s - 1].is_ascii_alphabetic() {
        return (&[], s);
    }
    (&t[s..e], s)
}

/// Whether `w` is one of `words` (lower case), ASCII case-insensitively.
pub(crate) fn is_one_of(w: &[u8], words: &[&str]) -> bool {
    words.iter().any(|x| w.eq_ignore_ascii_case(x.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::{
        CAPITALS, DIGITS, DIGITS_AND_CAPITALS, before_next_digit, next_in, next_word_with_digit,
        set, starts_before_digits,
    };

    #[test]
    fn jumps_land_on_the_next_byte_of_a_set_and_never_go_back() {
        let t = b"ab Cd 12 x";
        assert_eq!(next_in(t, 0, &DIGITS), 6);
        assert_eq!(next_in(t, 6, &DIGITS), 6);
        assert_eq!(next_in(t, 8, &DIGITS), t.len());
        assert_eq!(next_in(t, 0, &CAPITALS), 3);
        assert_eq!(next_in(t, 4, &DIGITS_AND_CAPITALS), 6);
        assert_eq!(next_in(t, 0, &set(b"x", false, false)), 9);
        // Past the end: the end.
        assert_eq!(next_in(t, 99, &DIGITS), t.len());
        assert_eq!(next_in(b"", 0, &DIGITS), 0);

        // `k` bytes before the next digit, but never before `i`; the end when none follows.
        assert_eq!(before_next_digit(b"xx AB123", 0, 2), 3);
        assert_eq!(before_next_digit(b"xx AB123", 4, 2), 4);
        assert_eq!(before_next_digit(b"1", 0, 3), 0);
        assert_eq!(before_next_digit(b"no digits", 0, 2), 9);
        assert_eq!(
            starts_before_digits(b"ab1 xyz 23", 1).collect::<Vec<_>>(),
            [1, 2, 7, 8, 9]
        );

        // The start of the word that holds the next digit, never before `i`.
        assert_eq!(next_word_with_digit(b"see AB12C now", 0), 4);
        assert_eq!(next_word_with_digit(b"see AB12C now", 5), 5);
        assert_eq!(next_word_with_digit(b"x-9", 0), 2);
        assert_eq!(next_word_with_digit(b"none", 0), 4);
    }

    #[test]
    fn escapes_are_blanked_in_place() {
        assert_eq!(super::blank_escapes(b"plain, no escapes"), None);
        assert_eq!(super::blank_escapes(br"\x"), None);
        assert_eq!(
            super::blank_escapes(br"a\nb\tc\rd").as_deref(),
            Some(&b"a  b  c  d"[..])
        );
        // Escaped backslashes pair up: only the last `\n` is a line break.
        assert_eq!(
            super::blank_escapes(br"a\\nb\\\nc").as_deref(),
            Some(&br"a\\nb\\  c"[..])
        );
        assert_eq!(super::blank_escapes(br"end\").as_deref(), None);
    }
}
