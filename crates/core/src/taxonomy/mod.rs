//! The taxonomy the product ships: fideslang-compatible keys for data categories, data uses
//! and data subjects, so Fides YAML interchanges key for key.
//!
//! Keys are dotted paths (`user.contact.email`); every key's parent (`user.contact`) is a key
//! of the same kind. Organisations' own additions are kept by the data map, not here.

use std::collections::HashMap;
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

const DATA_CATEGORIES: &str = include_str!("data_categories.tsv");
const DATA_USES: &str = include_str!("data_uses.tsv");
const DATA_SUBJECTS: &str = include_str!("data_subjects.tsv");

/// A shipped key's name and description (Custodian's own wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Description {
    /// The key.
    pub key: &'static str,
    /// A short name.
    pub name: &'static str,
    /// One sentence on what it covers.
    pub description: &'static str,
}

/// Lines are `key<TAB>name<TAB>description`; `#` starts a comment line.
fn parse(text: &'static str) -> Vec<Description> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut cols = l.splitn(3, '\t').map(str::trim);
            Description {
                key: cols.next().unwrap_or_default(),
                name: cols.next().unwrap_or_default(),
                description: cols.next().unwrap_or_default(),
            }
        })
        .collect()
}

struct Loaded {
    entries: Vec<Description>,
    keys: Vec<&'static str>,
    index: HashMap<&'static str, usize>,
}

fn loaded(kind: Kind) -> &'static Loaded {
    static CELLS: [OnceLock<Loaded>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (i, text) = match kind {
        Kind::DataCategory => (0, DATA_CATEGORIES),
        Kind::DataUse => (1, DATA_USES),
        Kind::DataSubject => (2, DATA_SUBJECTS),
    };
    CELLS[i].get_or_init(|| {
        let entries = parse(text);
        let keys = entries.iter().map(|e| e.key).collect();
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.key, i))
            .collect();
        Loaded {
            entries,
            keys,
            index,
        }
    })
}

/// Every key of a kind, in the shipped order (parents before children).
pub fn keys(kind: Kind) -> &'static [&'static str] {
    &loaded(kind).keys
}

/// Every shipped entry of a kind, with names and descriptions.
pub fn entries(kind: Kind) -> &'static [Description] {
    &loaded(kind).entries
}

/// Whether `key` is a key of `kind`.
pub fn contains(kind: Kind, key: &str) -> bool {
    loaded(kind).index.contains_key(key)
}

/// The name and description of a shipped key.
pub fn describe(kind: Kind, key: &str) -> Option<&'static Description> {
    let l = loaded(kind);
    l.index.get(key).map(|&i| &l.entries[i])
}

/// Whether `ancestor` is `key` or one of its dotted ancestors (`user.contact` covers
/// `user.contact.email`, not `user.contactless`).
pub fn covers(ancestor: &str, key: &str) -> bool {
    key.strip_prefix(ancestor)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The categories of personal data GDPR Art. 9(1) and 10 single out (health, biometric and
/// genetic data, racial or ethnic origin, political opinions, religious beliefs, sex life or
/// sexual orientation, criminal convictions), as taxonomy keys.
pub const SPECIAL_CATEGORIES: [&str; 7] = [
    "user.biometric",
    "user.criminal_history",
    "user.demographic.political_opinion",
    "user.demographic.race_ethnicity",
    "user.demographic.religious_belief",
    "user.demographic.sexual_orientation",
    "user.health_and_medical",
];

/// Whether a category is (under) one of [`SPECIAL_CATEGORIES`].
pub fn is_special(category: &str) -> bool {
    SPECIAL_CATEGORIES.iter().any(|p| covers(p, category))
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
                loaded(kind).index.len(),
                "{kind:?} has duplicate keys"
            );
            for e in entries(kind) {
                assert!(!e.name.is_empty() && !e.description.is_empty(), "{}", e.key);
            }
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
        assert!(covers("user.contact", "user.contact.email") && covers("user", "user"));
        assert!(
            !covers("user.contact", "user.contactless")
                && !covers("user.contact.email", "user.contact")
        );
        assert!(is_special("user.health_and_medical.genetic") && !is_special("user.contact.email"));
        assert!(describe(Kind::DataCategory, "user.contact.email").is_some());
    }
}
