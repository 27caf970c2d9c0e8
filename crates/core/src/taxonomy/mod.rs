//! The taxonomy the product ships: fideslang-compatible keys for data categories, data uses
//! and data subjects, so Fides YAML interchanges key for key.
//!
//! Keys are dotted paths (`user.contact.email`); every key's parent (`user.contact`) is a key
//! of the same kind. Organisations' own additions are kept by the data map, not here.

use std::collections::HashSet;
use std::sync::OnceLock;

/// One kind of taxonomy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// What personal data is (`user.contact.email`).
    DataCategory,
    /// What it is used for (`marketing.advertising`).
    DataUse,
    /// Whose data it is (`customer`).
    DataSubject,
}

const DATA_CATEGORIES: &str = include_str!("data_categories.txt");
const DATA_USES: &str = include_str!("data_uses.txt");
const DATA_SUBJECTS: &str = include_str!("data_subjects.txt");

fn parse(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

struct Loaded {
    keys: Vec<&'static str>,
    set: HashSet<&'static str>,
}

fn loaded(kind: Kind) -> &'static Loaded {
    static CELLS: [OnceLock<Loaded>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (i, text) = match kind {
        Kind::DataCategory => (0, DATA_CATEGORIES),
        Kind::DataUse => (1, DATA_USES),
        Kind::DataSubject => (2, DATA_SUBJECTS),
    };
    CELLS[i].get_or_init(|| {
        let keys = parse(text);
        let set = keys.iter().copied().collect();
        Loaded { keys, set }
    })
}

/// Every key of a kind, in the shipped order (parents before children).
pub fn keys(kind: Kind) -> &'static [&'static str] {
    &loaded(kind).keys
}

/// Whether `key` is a key of `kind`.
pub fn contains(kind: Kind, key: &str) -> bool {
    loaded(kind).set.contains(key)
}

/// The parent of a dotted key (`user.contact` for `user.contact.email`), if it has one.
pub fn parent(key: &str) -> Option<&str> {
    key.rsplit_once('.').map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_keys_are_well_formed_and_rooted() {
        for kind in [Kind::DataCategory, Kind::DataUse, Kind::DataSubject] {
            let ks = keys(kind);
            assert!(!ks.is_empty());
            assert_eq!(
                ks.len(),
                loaded(kind).set.len(),
                "{kind:?} has duplicate keys"
            );
            for k in ks {
                assert!(
                    k.split('.').all(|p| !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')),
                    "{k}"
                );
                if let Some(p) = parent(k) {
                    assert!(contains(kind, p), "{kind:?} {k} has no parent {p}");
                }
            }
        }
        assert_eq!(keys(Kind::DataCategory).len(), 85);
        assert_eq!(keys(Kind::DataUse).len(), 54);
        assert_eq!(keys(Kind::DataSubject).len(), 15);
    }

    #[test]
    fn known_keys_are_found_and_others_are_not() {
        for k in [
            "user",
            "user.contact.email",
            "user.health_and_medical",
            "user.financial.bank_account",
            "system.operations",
        ] {
            assert!(contains(Kind::DataCategory, k), "{k}");
        }
        for k in [
            "",
            "user.",
            "user.contact.emial",
            "User.contact",
            "marketing.advertising",
        ] {
            assert!(!contains(Kind::DataCategory, k), "{k}");
        }
        assert!(contains(Kind::DataUse, "marketing.advertising"));
        assert!(contains(Kind::DataSubject, "customer"));
        assert_eq!(parent("user.contact.email"), Some("user.contact"));
        assert_eq!(parent("user"), None);
    }
}
