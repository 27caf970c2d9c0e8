//! Collections as a store last read them, so that each record request does not read its
//! collection's schema again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::vault::record::StoredCollection;

/// The most collections remembered (a store with more reads the rest from the database).
const MAX_CACHED: usize = 1024;

/// Collections (and, where the store keeps them, collections found absent) as last read.
///
/// The store calls [`forget`](Self::forget) after each schema change it makes, so its own
/// changes are seen by the next request; a read that began before a change is not kept (the
/// generation moved on meanwhile). A store that is not the only writer of its database gives
/// entries a maximum age: another process's change is then seen within that age, as policy
/// changes are (the server re-reads its policy set every second).
pub struct CollectionCache {
    generation: AtomicU64,
    max_age: Option<Duration>,
    by_name: RwLock<HashMap<String, (Option<StoredCollection>, Instant)>>,
}

impl CollectionCache {
    /// A cache whose entries are good until forgotten (`None`), or for `max_age`.
    pub fn new(max_age: Option<Duration>) -> Self {
        Self {
            generation: AtomicU64::new(0),
            max_age,
            by_name: RwLock::default(),
        }
    }

    /// The collection named `name` as last read (`Some(None)`: absent), unless unknown or
    /// older than the maximum age at `now`.
    pub fn get(&self, name: &str, now: Instant) -> Option<Option<StoredCollection>> {
        let m = self.by_name.read().unwrap_or_else(PoisonError::into_inner);
        let (found, read_at) = m.get(name)?;
        if self
            .max_age
            .is_some_and(|age| now.saturating_duration_since(*read_at) > age)
        {
            return None;
        }
        Some(found.clone())
    }

    /// The generation to hand back to [`keep`](Self::keep) after reading the database.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Remembers what a read that began at `generation` found at `read_at` (when the read
    /// began), unless a change was made since.
    pub fn keep(
        &self,
        generation: u64,
        name: &str,
        found: &Option<StoredCollection>,
        read_at: Instant,
    ) {
        let mut m = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock that `forget` also takes, so a stale read is never kept.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if m.len() >= MAX_CACHED {
            m.clear();
        }
        m.insert(name.to_owned(), (found.clone(), read_at));
    }

    /// Forgets every collection (after a schema change).
    pub fn forget(&self) {
        let mut m = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        m.clear();
    }
}

impl Default for CollectionCache {
    fn default() -> Self {
        Self::new(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::vault::schema::CollectionSchema;

    fn stored(version: i64) -> StoredCollection {
        StoredCollection {
            schema: CollectionSchema {
                name: "customers".into(),
                fields: Vec::new(),
            },
            version,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn entries_are_kept_until_forgotten_or_too_old() {
        let t0 = Instant::now();
        let later = |ms| t0 + Duration::from_millis(ms);
        let forever = CollectionCache::default();
        assert_eq!(forever.get("customers", t0), None);
        forever.keep(forever.generation(), "customers", &Some(stored(1)), t0);
        forever.keep(forever.generation(), "absent", &None, t0);
        assert_eq!(
            forever.get("customers", later(3_600_000)),
            Some(Some(stored(1)))
        );
        assert_eq!(forever.get("absent", later(3_600_000)), Some(None));
        forever.forget();
        assert_eq!(forever.get("customers", t0), None);

        let aged = CollectionCache::new(Some(Duration::from_secs(1)));
        aged.keep(aged.generation(), "customers", &Some(stored(2)), t0);
        assert_eq!(aged.get("customers", later(1000)), Some(Some(stored(2))));
        assert_eq!(
            aged.get("customers", later(1001)),
            None,
            "older than its age"
        );
        // A clock read before the entry's own does not make it younger than zero.
        if let Some(earlier) = t0.checked_sub(Duration::from_millis(5)) {
            assert_eq!(aged.get("customers", earlier), Some(Some(stored(2))));
        }
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_kept() {
        let c = CollectionCache::default();
        let now = Instant::now();
        let before = c.generation();
        c.forget();
        c.keep(before, "customers", &Some(stored(1)), now);
        assert_eq!(c.get("customers", now), None);
        c.keep(c.generation(), "customers", &Some(stored(2)), now);
        assert_eq!(c.get("customers", now), Some(Some(stored(2))));
    }
}
