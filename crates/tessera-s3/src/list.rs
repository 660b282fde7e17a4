//! Listing keys of a bucket with prefix, delimiter and a resume point, over the ordered
//! object index.

use tessera_store::{ReadTxn, StoreError};

use crate::records::{table, ObjectRecord};

/// One entry of a listing page.
#[derive(Debug, Clone)]
pub enum Entry {
    /// An object.
    Object(String, Box<ObjectRecord>),
    /// A common prefix (ends with the delimiter).
    Prefix(String),
}

impl Entry {
    /// The key or prefix.
    pub fn name(&self) -> &str {
        match self {
            Entry::Object(k, _) | Entry::Prefix(k) => k,
        }
    }
}

/// A listing page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Entries in key order.
    pub entries: Vec<Entry>,
    /// Whether more entries follow.
    pub truncated: bool,
}

/// List `bucket`: keys starting with `prefix`, rolled up at `delimiter`, sorting after `after`
/// (a key or a common prefix returned before), at most `max_keys` entries.
pub fn list(
    r: &(impl ReadTxn + ?Sized),
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max_keys: usize,
) -> Result<Page, StoreError> {
    let mut page = Page::default();
    if max_keys == 0 {
        return Ok(page);
    }
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let base = format!("{bucket}/");
    let scan_prefix = format!("{base}{prefix}");
    let mut cursor: Option<String> = after.map(|a| format!("{base}{a}"));
    let mut last_prefix: Option<String> = None;
    'outer: loop {
        let want = (max_keys + 1 - page.entries.len()).clamp(16, 1000);
        let rows = r.scan(table::OBJECT, &scan_prefix, cursor.as_deref(), want)?;
        let n = rows.len();
        if n == 0 {
            break;
        }
        for (full, value) in rows {
            let key = full.get(base.len()..).unwrap_or_default().to_string();
            if let Some(d) = delimiter {
                let rest = key.get(prefix.len()..).unwrap_or_default();
                if let Some(i) = rest.find(d) {
                    let cp = key[..prefix.len() + i + d.len()].to_string();
                    let seen = after.is_some_and(|a| a.starts_with(&cp)) || last_prefix.as_deref() == Some(&cp);
                    if !seen {
                        page.entries.push(Entry::Prefix(cp.clone()));
                        last_prefix = Some(cp.clone());
                    }
                    // Skip every key under this prefix.
                    cursor = Some(format!("{base}{cp}\u{10FFFF}"));
                    if page.entries.len() > max_keys {
                        break 'outer;
                    }
                    continue 'outer;
                }
            }
            let record: ObjectRecord = serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
                table: table::OBJECT.into(),
                key: full.clone(),
                reason: e.to_string(),
            })?;
            page.entries.push(Entry::Object(key, Box::new(record)));
            cursor = Some(full);
            if page.entries.len() > max_keys {
                break 'outer;
            }
        }
        if n < want {
            break;
        }
    }
    page.truncated = page.entries.len() > max_keys;
    page.entries.truncate(max_keys);
    Ok(page)
}
