//! A word list looked up by hashing: the detectors that test each word of a text against
//! lists of words (given names, titles, place names, street words) ask one table once
//! instead of comparing the word with each list in turn.
//!
//! Words are ASCII letters, matched without regard to case, at most [`MAX`] bytes; each
//! word listed carries a `u32` of the caller's choosing (a bit per list it is in, or an
//! index). The table is open-addressed, at most half full, and built once per process.

/// The longest word a lexicon holds or looks up.
pub(crate) const MAX: usize = 24;

/// A word lower-cased and zero-padded into three words of 8 bytes (no listed word holds a
/// zero byte, so the padding marks the end).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Key([u64; 3]);

impl Key {
    /// The key of `w`: `None` when it is empty, longer than [`MAX`], or holds a byte that is
    /// not an ASCII letter.
    fn new(w: &[u8]) -> Option<Key> {
        if w.is_empty() || w.len() > MAX {
            return None;
        }
        let mut b = [0u8; MAX];
        for (d, &s) in b.iter_mut().zip(w) {
            if !s.is_ascii_alphabetic() {
                return None;
            }
            *d = s | 0x20;
        }
        let word = |k: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[k * 8..k * 8 + 8]);
            u64::from_le_bytes(x)
        };
        Some(Key([word(0), word(1), word(2)]))
    }

    /// A hash of the key whose every bit depends on every byte (MurmurHash3's 64-bit
    /// finaliser over the three words folded together).
    fn hash(self) -> u64 {
        let [a, b, c] = self.0;
        let mut h = a ^ b.rotate_left(21) ^ c.rotate_left(42);
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    }
}

/// Words with a value each.
/// A key's tag, from its hash: the high half, never 0.
fn tag(hash: u64) -> u32 {
    // Truncation is intended: the high half.
    #[allow(clippy::cast_possible_truncation)]
    let t = (hash >> 32) as u32;
    t.max(1)
}

pub(crate) struct Lexicon {
    /// Each slot's tag (the hash's high bits, never 0; 0 is an empty slot) and value: 8 bytes
    /// a slot, so that the probe of a word that is not listed (most words of a text) reads a
    /// small table that stays in cache.
    slots: Vec<(u32, u32)>,
    /// Each slot's word, read only when its tag matches.
    keys: Vec<Key>,
    mask: usize,
    /// For each pair of first two letters ([`pair`]), bit `n` is set when a word held has
    /// those first letters and `n` bytes: most words looked up are ruled out by this alone,
    /// before any hashing.
    shapes: Vec<u32>,
}

/// The index of a word's first two bytes when they are ASCII letters (a one-letter word has
/// its own), in `0..27 * 27`.
fn pair(w: &[u8]) -> Option<usize> {
    let letter = |b: u8| {
        b.is_ascii_alphabetic()
            .then(|| usize::from((b | 0x20) - b'a'))
    };
    let first = letter(*w.first()?)?;
    let second = match w.get(1) {
        Some(&b) => letter(b)?,
        None => 26,
    };
    Some(first * 27 + second)
}

impl Lexicon {
    /// A lexicon of `words`, each with its value; a word listed twice gets the bitwise OR of
    /// its values. Words that cannot be keys (see [`Key::new`]) are left out.
    pub(crate) fn new<'a>(words: impl IntoIterator<Item = (&'a [u8], u32)>) -> Lexicon {
        let words: Vec<(&[u8], Key, u32)> = words
            .into_iter()
            .filter_map(|(w, v)| Some((w, Key::new(w)?, v)))
            .collect();
        let size = (words.len() * 2).next_power_of_two().max(16);
        let mut lexicon = Lexicon {
            slots: vec![(0, 0); size],
            keys: vec![Key::default(); size],
            mask: size - 1,
            shapes: vec![0; 27 * 27],
        };
        for (w, k, v) in words {
            if let Some(p) = pair(w) {
                lexicon.shapes[p] |= 1 << w.len();
            }
            let slot = lexicon.slot(k);
            lexicon.slots[slot].0 = tag(k.hash());
            lexicon.keys[slot] = k;
            lexicon.slots[slot].1 |= v;
        }
        lexicon
    }

    /// The slot that holds `k`, or the empty one where it would go.
    fn slot(&self, k: Key) -> usize {
        // Truncation is intended: the mask keeps the low bits.
        #[allow(clippy::cast_possible_truncation)]
        let hash = k.hash();
        let mut i = hash as usize & self.mask;
        let tag = tag(hash);
        loop {
            let (t, _) = self.slots[i];
            if t == 0 || (t == tag && self.keys[i] == k) {
                return i;
            }
            i = (i + 1) & self.mask;
        }
    }

    pub(crate) fn get(&self, w: &[u8]) -> u32 {
        let shaped =
            w.len() <= MAX && pair(w).is_some_and(|p| self.shapes[p] & (1 << w.len()) != 0);
        if !shaped {
            return 0;
        }
        Key::new(w).map_or(0, |k| self.get_key(k))
    }

    /// The value of the word with key `k`, or 0.
    fn get_key(&self, k: Key) -> u32 {
        self.slots[self.slot(k)].1
    }
}

#[cfg(test)]
mod tests {
    use super::Lexicon;

    #[test]
    fn words_are_found_in_any_case_and_values_merge() {
        let l = Lexicon::new([
            (&b"grace"[..], 1),
            (b"Hopper", 2),
            (b"grace", 4),
            (b"abcdefghijklmnopqrstuvwx", 8),
            (b"abcdefghijklmnopqrstuvwxy", 16),
            (b"o'neil", 32),
        ]);
        assert_eq!(l.get(b"GRACE"), 5);
        assert_eq!(l.get(b"hopper"), 2);
        assert_eq!(l.get(b"hoppers"), 0);
        assert_eq!(l.get(b"grac"), 0);
        assert_eq!(l.get(b"ABCDEFGHIJKLMNOPQRSTUVWX"), 8);
        assert_eq!(l.get(b"abcdefghijklmnopqrstuvwxy"), 0, "longer than MAX");
        assert_eq!(l.get(b"o'neil"), 0, "not letters");
        assert_eq!(l.get(b""), 0);
        // Many words: every one is found, none that was not listed.
        let words: Vec<String> = (0..5000).map(|n| format!("w{}", to_letters(n))).collect();
        let l = Lexicon::new(words.iter().map(|w| (w.as_bytes(), 1)));
        assert!(words.iter().all(|w| l.get(w.as_bytes()) == 1));
        assert_eq!(l.get(b"x"), 0);
    }

    #[test]
    fn only_ascii_letters_make_keys() {
        for b in 0..=255u8 {
            assert_eq!(
                super::Key::new(&[b]).is_some(),
                b.is_ascii_alphabetic(),
                "{b}"
            );
            // In every lane, at every place.
            for at in [0, 7, 8, 15, 16, 23] {
                let mut w = [b'q'; 24];
                w[at] = b;
                assert_eq!(
                    super::Key::new(&w).is_some(),
                    b.is_ascii_alphabetic(),
                    "{b}@{at}"
                );
                assert_eq!(
                    super::Key::new(&w[..=at]).is_some(),
                    b.is_ascii_alphabetic(),
                    "{b}@{at}"
                );
            }
        }
    }

    fn to_letters(mut n: usize) -> String {
        let mut s = String::new();
        loop {
            s.push(char::from(b'a' + (n % 26) as u8));
            n /= 26;
            if n == 0 {
                return s;
            }
        }
    }
}
