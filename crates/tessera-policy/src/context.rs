//! The request context: condition keys (case-insensitive) with one or more string values.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: condition keys are short; SipHash's DoS resistance buys nothing here.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Map = HashMap<String, Vec<String>, BuildHasherDefault<Fnv>>;

/// Condition keys of a request. Keys are case-insensitive; each key has one or more values
/// (an empty list is a present key with an empty set, as for `aws:TagKeys` with no tags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    map: Map,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `key` to `values`, replacing any previous values.
    pub fn insert<I, S>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.map.insert(key.to_ascii_lowercase(), values.into_iter().map(Into::into).collect());
    }

    /// Set `key` to the single value `value`.
    pub fn insert_one(&mut self, key: &str, value: impl Into<String>) {
        self.map.insert(key.to_ascii_lowercase(), vec![value.into()]);
    }

    /// Set `key` only if it is absent.
    pub fn insert_default(&mut self, key: &str, value: impl Into<String>) {
        self.map.entry(key.to_ascii_lowercase()).or_insert_with(|| vec![value.into()]);
    }

    /// Remove `key`.
    pub fn remove(&mut self, key: &str) {
        self.map.remove(&key.to_ascii_lowercase());
    }

    /// The values of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&[String]> {
        if key.bytes().any(|b| b.is_ascii_uppercase()) {
            self.map.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
        } else {
            self.map.get(key).map(Vec::as_slice)
        }
    }

    /// Lookup with an already lower-cased key.
    pub(crate) fn get_lower(&self, key: &str) -> Option<&[String]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// All keys (lower-cased) and values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
