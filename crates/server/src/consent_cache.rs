//! The consent-check cache: purposes and subjects' current states, kept in memory so a
//! check answers without a database read, and never stale.
//!
//! Freshness: with a store no other process writes (SQLite), both purposes and states are
//! cached, and this process's writes invalidate their entries as they commit. With a shared
//! store (PostgreSQL), a notification from another server can arrive a moment after the
//! write was acknowledged, so a check there reads the subject's state from the database
//! every time (one primary-key read): a withdrawal is honoured by the very next check on
//! every server. Only purposes are cached there, invalidated through the store's listener
//! (LISTEN/NOTIFY); while it is not connected nothing is cached, and when it reconnects
//! everything is forgotten. An entry filled from a read that raced with an invalidation is
//! not kept (a generation counter).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use custodian_core::consent::ledger::CurrentConsent;
use custodian_core::consent::purpose::StoredPurpose;
use custodian_core::ports::{ConsentChange, Store, StoreError};

/// Entries kept at most; past this the cache starts over.
const MAX_ENTRIES: usize = 500_000;

/// A subject's pseudonym and a purpose key.
pub type StateKey = (String, String);

/// Cached purposes and current states.
#[derive(Debug, Default)]
pub struct ConsentCache {
    purposes: RwLock<HashMap<String, Option<Arc<StoredPurpose>>>>,
    states: RwLock<HashMap<StateKey, Option<CurrentConsent>>>,
    generation: AtomicU64,
    /// Whether entries may be trusted: always with a store no other process writes; with a
    /// shared store only while the listener is connected.
    live: AtomicBool,
    /// Whether subjects' states are cached (only when no other process writes the store).
    states_cached: AtomicBool,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl ConsentCache {
    /// An empty cache that is not yet live.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the cache is in use.
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// A purpose (None when no purpose has this key).
    pub async fn purpose(
        &self,
        store: &dyn Store,
        key: &str,
    ) -> Result<Option<Arc<StoredPurpose>>, StoreError> {
        if self.is_live()
            && let Some(p) = read(&self.purposes).get(key)
        {
            return Ok(p.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = store.get_purpose(key).await?.map(Arc::new);
        self.keep(generation, || {
            let mut m = write(&self.purposes);
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(key.to_owned(), found.clone());
        });
        Ok(found)
    }

    /// A subject's current state for a purpose.
    pub async fn current(
        &self,
        store: &dyn Store,
        pseudonym: &str,
        purpose: &str,
    ) -> Result<Option<CurrentConsent>, StoreError> {
        if !self.states_cached.load(Ordering::Acquire) {
            return store.current_consent(pseudonym, purpose).await;
        }
        let key = (pseudonym.to_owned(), purpose.to_owned());
        if self.is_live()
            && let Some(c) = read(&self.states).get(&key)
        {
            return Ok(c.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let found = store.current_consent(pseudonym, purpose).await?;
        self.keep(generation, || {
            let mut m = write(&self.states);
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
            m.insert(key, found.clone());
        });
        Ok(found)
    }

    /// The current states of many (subject pseudonym, purpose) pairs, in their order: cached
    /// ones from memory, the others in one store read.
    pub async fn current_many(
        &self,
        store: &dyn Store,
        keys: &[StateKey],
    ) -> Result<Vec<Option<CurrentConsent>>, StoreError> {
        let cached = self.states_cached.load(Ordering::Acquire) && self.is_live();
        let mut answers: Vec<Option<Option<CurrentConsent>>> = if cached {
            let m = read(&self.states);
            keys.iter().map(|k| m.get(k).cloned()).collect()
        } else {
            vec![None; keys.len()]
        };
        let missing: Vec<StateKey> = keys
            .iter()
            .zip(&answers)
            .filter(|(_, a)| a.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        if !missing.is_empty() {
            let generation = self.generation.load(Ordering::Acquire);
            let found: HashMap<StateKey, CurrentConsent> = store
                .current_consents(&missing)
                .await?
                .into_iter()
                .map(|c| ((c.subject.clone(), c.purpose.clone()), c))
                .collect();
            for (k, a) in keys.iter().zip(answers.iter_mut()) {
                if a.is_none() {
                    *a = Some(found.get(k).cloned());
                }
            }
            if self.states_cached.load(Ordering::Acquire) {
                self.keep(generation, || {
                    let mut m = write(&self.states);
                    if m.len() + missing.len() >= MAX_ENTRIES {
                        m.clear();
                    }
                    for k in missing {
                        let v = found.get(&k).cloned();
                        m.insert(k, v);
                    }
                });
            }
        }
        Ok(answers.into_iter().map(Option::flatten).collect())
    }

    /// Runs `fill` only if nothing was invalidated since `generation` was read.
    fn keep(&self, generation: u64, fill: impl FnOnce()) {
        if self.is_live() && self.generation.load(Ordering::Acquire) == generation {
            fill();
            // An invalidation that slipped in while filling: drop what was just kept.
            if self.generation.load(Ordering::Acquire) != generation {
                self.clear();
            }
        }
    }

    /// Forgets what a change makes stale.
    pub fn invalidate(&self, change: &ConsentChange) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match change {
            ConsentChange::Consent(subject, purpose) => {
                write(&self.states).remove(&(subject.clone(), purpose.clone()));
            }
            ConsentChange::Purpose(key) => {
                write(&self.purposes).remove(key);
            }
            ConsentChange::Reset => self.clear(),
        }
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        write(&self.purposes).clear();
        write(&self.states).clear();
    }

    fn set_live(&self, live: bool) {
        self.clear();
        self.live.store(live, Ordering::Release);
    }
}

/// Keeps the cache fresh: live at once for a store no other process writes; otherwise live
/// only while the store's listener is connected (reconnecting every second when it fails).
pub fn spawn_consent_listener(
    store: Arc<dyn Store>,
    cache: Arc<ConsentCache>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match store.consent_listener().await {
                Ok(None) => {
                    cache.states_cached.store(true, Ordering::Release);
                    cache.set_live(true);
                    return;
                }
                Ok(Some(mut listener)) => {
                    cache.set_live(true);
                    loop {
                        match listener.next().await {
                            Ok(change) => cache.invalidate(&change),
                            Err(e) => {
                                tracing::warn!(error = %e, "consent listener failed; checks read the database until it reconnects");
                                break;
                            }
                        }
                    }
                    cache.set_live(false);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for consent changes; checks read the database");
                    cache.set_live(false);
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}
