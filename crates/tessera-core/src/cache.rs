//! Caches of decoded records, exact because every entry is tagged with the store's
//! [`generation`](tessera_store::Store::generation) at the time it was loaded: any commit
//! makes every older entry a miss.

use std::collections::HashMap;
use std::sync::Mutex;

/// A bounded map from string keys to values loaded at a store generation.
#[derive(Debug)]
pub struct GenCache<V> {
    entries: Mutex<HashMap<String, (u64, V)>>,
    capacity: usize,
}

impl<V: Clone> GenCache<V> {
    /// An empty cache holding at most `capacity` entries (it is cleared when full).
    pub fn new(capacity: usize) -> Self {
        GenCache { entries: Mutex::new(HashMap::new()), capacity }
    }

    /// The value of `key` loaded at `generation`, or `load()`'s, which is then cached. Read the
    /// generation *before* loading, so that a commit racing with the load makes it a miss.
    pub fn get_or_load<E>(&self, generation: u64, key: &str, load: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        if let Ok(entries) = self.entries.lock() {
            if let Some((g, v)) = entries.get(key) {
                if *g == generation {
                    return Ok(v.clone());
                }
            }
        }
        let value = load()?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(key.to_string(), (generation, value.clone()));
        }
        Ok(value)
    }
}

/// The caches of [`crate::Services`].
#[derive(Debug)]
pub struct Caches {
    /// Access key id → (caller, secret) for long-term keys.
    pub(crate) credentials: GenCache<(crate::Caller, String)>,
    /// Principal → its identity policies, boundary and tags.
    pub(crate) identity: GenCache<std::sync::Arc<crate::authz::Identity>>,
    /// Role name key (`model::name_key`) → the role, or `None` where there is none (AssumeRole).
    pub role: GenCache<Option<std::sync::Arc<crate::model::Role>>>,
    /// Account → its SCP / RCP levels and organization keys.
    pub(crate) organization: GenCache<std::sync::Arc<crate::authz::OrgView>>,
    /// Account → whether `CloseAccount` closed it.
    pub(crate) closed_account: GenCache<bool>,
    /// Access key id → the last use recorded in the store (epoch seconds, service, region), so
    /// that `GetAccessKeyLastUsed` bookkeeping costs no store read on most requests.
    pub key_use: Mutex<HashMap<String, (i64, String, String)>>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            credentials: GenCache::new(65_536),
            identity: GenCache::new(65_536),
            role: GenCache::new(65_536),
            organization: GenCache::new(4_096),
            closed_account: GenCache::new(4_096),
            key_use: Mutex::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_generation_misses() {
        let c = GenCache::new(2);
        let mut loads = 0;
        let mut get = |g| {
            c.get_or_load(g, "k", || -> Result<u32, ()> {
                loads += 1;
                Ok(g as u32)
            })
            .unwrap()
        };
        assert_eq!((get(1), get(1), get(2)), (1, 1, 2));
        assert_eq!(loads, 2);
    }
}
