//! The audit journal: where an event becomes durable before the response that it records is sent.
//!
//! The writer thread appends each group commit's events to the newest segment file
//! (`audit.journal/<sequence number of its first event, 20 digits>.log` beside `audit.db`) and
//! syncs it with one `fdatasync`: a sequential append, the cheapest durable write there is. The
//! indexer reads the journal back and indexes the events into SQLite off the request path; a
//! segment is deleted once every event in it is indexed and synced there.
//!
//! An entry is `u32` body length, `u32` CRC-32 of the body (both little-endian), then the body.
//! Segments are zero-filled ahead of the entries (1 MiB at a time), so that most syncs write
//! only data, not the file's size and block map; zeros read as the end. Appends are sequential
//! and answered only after the sync, so a crash can tear only the end of the newest segment:
//! reading a segment stops at the first entry that is short or fails its CRC, and a store that
//! opens starts a new segment rather than append after such a tail.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::store::AuditError;

/// A segment is closed and a new one started once it holds this many bytes.
const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// How far ahead of the entries a segment is zero-filled.
const ZERO_AHEAD: u64 = 1024 * 1024;
/// Largest entry accepted when reading (an event record is at most a few hundred KiB).
const MAX_ENTRY: u32 = 64 * 1024 * 1024;

/// An event encoded for the journal and the index (done on the request's thread, so that the
/// writer only writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub account: i64,
    pub event_time: i64,
    pub event_id: String,
    pub event_name: String,
    pub event_source: String,
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    pub read_only: bool,
    pub region: String,
    pub resources_json: Option<String>,
    /// The record JSON, compressed.
    pub record: Vec<u8>,
    /// The unique id (`AIDA...`, `AROA...`) of the IAM user or role that made the call, for the
    /// last-access index ([`crate::last_access`]). Written after `record`; entries from before
    /// it end at `record` and read as `None`.
    pub principal: Option<String>,
}

fn io(context: &str, e: std::io::Error) -> AuditError {
    AuditError::Storage(format!("audit journal: {context}: {e}"))
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX - 1).to_le_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
}

/// Append the entry of event `seq` to `out`.
fn encode_entry(out: &mut Vec<u8>, seq: i64, row: &Row) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&row.account.to_le_bytes());
    out.extend_from_slice(&row.event_time.to_le_bytes());
    out.push(u8::from(row.read_only));
    for field in [
        Some(row.event_id.as_bytes()),
        Some(row.event_name.as_bytes()),
        Some(row.event_source.as_bytes()),
        row.username.as_deref().map(str::as_bytes),
        row.access_key_id.as_deref().map(str::as_bytes),
        Some(row.region.as_bytes()),
        row.resources_json.as_deref().map(str::as_bytes),
        Some(row.record.as_slice()),
    ] {
        put_bytes(out, field);
    }
    if let Some(p) = &row.principal {
        put_bytes(out, Some(p.as_bytes()));
    }
    let body = &out[start + 8..];
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(body);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Reads the fields of an entry body in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(i64::from_le_bytes)
    }
    fn bytes(&mut self) -> Option<Option<&'a [u8]>> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        if len == u32::MAX {
            return Some(None);
        }
        self.take(usize::try_from(len).ok()?).map(Some)
    }
    fn string(&mut self) -> Option<Option<String>> {
        match self.bytes()? {
            None => Some(None),
            Some(b) => String::from_utf8(b.to_vec()).ok().map(Some),
        }
    }
}

/// Decode an entry body (CRC already checked).
fn decode_body(body: &[u8]) -> Option<(i64, Row)> {
    let mut f = Fields(body);
    let seq = f.i64()?;
    let account = f.i64()?;
    let event_time = f.i64()?;
    let read_only = f.take(1)?[0] != 0;
    let mut row = Row {
        account,
        event_time,
        read_only,
        event_id: f.string()??,
        event_name: f.string()??,
        event_source: f.string()??,
        username: f.string()?,
        access_key_id: f.string()?,
        region: f.string()??,
        resources_json: f.string()?,
        record: f.bytes()??.to_vec(),
        principal: None,
    };
    if !f.0.is_empty() {
        row.principal = f.string()?;
    }
    f.0.is_empty().then_some((seq, row))
}

/// The next entry of `r`: `Ok(None)` at the end, or at a short or corrupt entry (a torn tail, or
/// an append still in progress). Returns the entry's size in bytes with it.
fn read_entry(r: &mut impl Read) -> Result<Option<(u64, i64, Row)>, AuditError> {
    let mut head = [0u8; 8];
    if !read_full(r, &mut head)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len > MAX_ENTRY {
        return Ok(None);
    }
    let mut body = vec![0u8; usize::try_from(len).unwrap_or(0)];
    if !read_full(r, &mut body)? || crc32fast::hash(&body) != crc {
        return Ok(None);
    }
    Ok(decode_body(&body).map(|(seq, row)| (8 + u64::from(len), seq, row)))
}

/// Fill `buf`; `false` if the input ends first.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<bool, AuditError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io("read", e)),
        }
    }
    Ok(true)
}

pub(crate) fn segment_path(dir: &Path, first_seq: i64) -> PathBuf {
    dir.join(format!("{first_seq:020}.log"))
}

/// First sequence numbers of the segments in `dir`, oldest first.
fn segments(dir: &Path) -> Result<Vec<i64>, AuditError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("list", e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.map_err(|e| io("list", e))?.file_name();
        if let Some(seq) = name.to_str().and_then(|n| n.strip_suffix(".log")).and_then(|n| n.parse::<i64>().ok()) {
            out.push(seq);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("sync directory", e))
}

/// The valid entries of one segment file: the last sequence number and the byte length they take.
pub(crate) fn scan_segment(path: &Path) -> Result<(Option<i64>, u64), AuditError> {
    let file = File::open(path).map_err(|e| io("open", e))?;
    let mut r = BufReader::with_capacity(256 * 1024, file);
    let (mut last, mut len) = (None, 0u64);
    while let Some((size, seq, _)) = read_entry(&mut r)? {
        last = Some(seq);
        len += size;
    }
    Ok((last, len))
}

/// One segment copied by [`copy_segments`]: its first sequence number, its last valid one
/// (`None` if it held no whole entry) and the bytes copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CopiedSegment {
    pub first: i64,
    pub last: Option<i64>,
    pub bytes: u64,
}

/// Copy the segments of the journal in `dir` into `out` (created), while a writer may append
/// and the indexer may delete: each copy is cut after its last whole entry (an append in
/// progress, or the zero fill, is left out), and a segment deleted before it is copied is
/// skipped (it was deleted because every event in it was indexed).
pub(crate) fn copy_segments(dir: &Path, out: &Path) -> Result<Vec<CopiedSegment>, AuditError> {
    std::fs::create_dir_all(out).map_err(|e| io("create directory", e))?;
    let mut copied = Vec::new();
    for first in segments(dir)? {
        let target = segment_path(out, first);
        match std::fs::copy(segment_path(dir, first), &target) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(io("copy segment", e)),
        }
        let (last, bytes) = scan_segment(&target)?;
        OpenOptions::new()
            .write(true)
            .open(&target)
            .and_then(|f| f.set_len(bytes))
            .map_err(|e| io("cut segment copy", e))?;
        copied.push(CopiedSegment { first, last, bytes });
    }
    Ok(copied)
}

/// The highest sequence number the journal in `dir` holds (0 if none), read before a writer
/// starts; a torn tail is left where it is (the writer starts a new segment).
pub(crate) fn recover(dir: &Path) -> Result<i64, AuditError> {
    for first in segments(dir)?.iter().rev() {
        if let (Some(seq), _) = scan_segment(&segment_path(dir, *first))? {
            return Ok(seq);
        }
    }
    Ok(0)
}

/// The writing end: one file per segment, or a queue for stores in memory.
pub(crate) enum JournalWriter {
    /// Segment files in a directory: the current one, where its entries end, and how far it is
    /// zero-filled.
    File { dir: PathBuf, file: File, bytes: u64, zeroed: u64, buf: Vec<u8> },
    /// Events handed straight to the indexer (in-memory stores, for tests).
    Memory(Arc<Mutex<VecDeque<(i64, Row)>>>),
}

impl JournalWriter {
    /// Start a new segment in `dir` for events from `next_seq` on (after [`recover`], which
    /// returned less than `next_seq`).
    pub(crate) fn open(dir: &Path, next_seq: i64) -> Result<JournalWriter, AuditError> {
        std::fs::create_dir_all(dir).map_err(|e| io("create directory", e))?;
        let file = Self::new_segment(dir, next_seq)?;
        Ok(JournalWriter::File {
            dir: dir.to_path_buf(),
            file,
            bytes: 0,
            zeroed: 0,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// A new, empty segment file for events from `first_seq` on. A file of that name can only
    /// be one a crash left before its first entry was whole (a valid entry numbered `first_seq`
    /// would have made `recover` return at least that): it is replaced.
    fn new_segment(dir: &Path, first_seq: i64) -> Result<File, AuditError> {
        let path = segment_path(dir, first_seq);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io("replace segment", e)),
        }
        let file = OpenOptions::new()
            .create_new(true)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io("create segment", e))?;
        sync_dir(dir)?;
        Ok(file)
    }

    /// Append `rows`, numbered from `first_seq`, and make them durable.
    pub(crate) fn append(&mut self, first_seq: i64, rows: Vec<Row>) -> Result<(), AuditError> {
        match self {
            JournalWriter::File { dir, file, bytes, zeroed, buf } => {
                if *bytes >= SEGMENT_BYTES {
                    *file = Self::new_segment(dir, first_seq)?;
                    *bytes = 0;
                    *zeroed = 0;
                }
                buf.clear();
                for (seq, row) in (first_seq..).zip(&rows) {
                    encode_entry(buf, seq, row);
                }
                let end = *bytes + buf.len() as u64;
                if end > *zeroed {
                    let upto = end + ZERO_AHEAD;
                    let zeros = vec![0u8; usize::try_from(upto - *zeroed).unwrap_or(0)];
                    file.write_all_at(&zeros, *zeroed).map_err(|e| io("zero-fill", e))?;
                    *zeroed = upto;
                }
                // A failed write or sync may leave part of the batch in the file: the next batch
                // is written over it (same offset), and readers stop at a torn entry anyway.
                file.write_all_at(buf, *bytes).and_then(|()| file.sync_data()).map_err(|e| io("append", e))?;
                *bytes = end;
                if buf.capacity() > 4 * 1024 * 1024 {
                    *buf = Vec::with_capacity(64 * 1024);
                }
                Ok(())
            }
            JournalWriter::Memory(queue) => {
                let mut q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                q.extend((first_seq..).zip(rows));
                Ok(())
            }
        }
    }
}

/// The reading end, used by the indexer: where it stopped reading.
pub(crate) enum JournalReader {
    /// Segment files: the segment being read and the offset of its next entry.
    File { dir: PathBuf, at: Option<(i64, u64)> },
    /// The writer's queue.
    Memory(Arc<Mutex<VecDeque<(i64, Row)>>>),
}

impl JournalReader {
    /// A reader from the start of the journal in `dir`.
    pub(crate) fn open(dir: &Path) -> JournalReader {
        JournalReader::File { dir: dir.to_path_buf(), at: None }
    }

    /// A writer and reader in memory.
    pub(crate) fn memory() -> (JournalWriter, JournalReader) {
        let q = Arc::new(Mutex::new(VecDeque::new()));
        (JournalWriter::Memory(Arc::clone(&q)), JournalReader::Memory(q))
    }

    /// Up to `max` events numbered in `(after, upto]`, oldest first; the reader moves past them
    /// (and past events numbered `after` or lower). Events above `upto` are not read yet.
    pub(crate) fn read(&mut self, after: i64, upto: i64, max: usize) -> Result<Vec<(i64, Row)>, AuditError> {
        let mut out = Vec::new();
        match self {
            JournalReader::Memory(queue) => {
                let mut q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                while out.len() < max && q.front().is_some_and(|(seq, _)| *seq <= upto) {
                    if let Some((seq, row)) = q.pop_front() {
                        if seq > after {
                            out.push((seq, row));
                        }
                    }
                }
            }
            JournalReader::File { dir, at } => loop {
                let (segment, offset) = match *at {
                    Some(p) => p,
                    None => match segments(dir)?.first() {
                        Some(first) => (*first, 0),
                        None => return Ok(out),
                    },
                };
                *at = Some((segment, offset));
                let mut offset = offset;
                match File::open(segment_path(dir, segment)) {
                    Ok(mut file) => {
                        file.seek(SeekFrom::Start(offset)).map_err(|e| io("seek", e))?;
                        let mut r = BufReader::with_capacity(256 * 1024, file);
                        while out.len() < max {
                            let Some((size, seq, row)) = read_entry(&mut r)? else { break };
                            if seq > upto {
                                return Ok(out);
                            }
                            offset += size;
                            *at = Some((segment, offset));
                            if seq > after {
                                out.push((seq, row));
                            }
                        }
                        if out.len() >= max {
                            return Ok(out);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(io("open", e)),
                }
                // The end of this segment (or a torn tail): go on only if a newer one exists.
                match segments(dir)?.into_iter().find(|s| *s > segment) {
                    Some(next) => *at = Some((next, 0)),
                    None => return Ok(out),
                }
            },
        }
        Ok(out)
    }

    /// Delete every segment whose events are all numbered `indexed` or lower (never the newest,
    /// which the writer appends to).
    pub(crate) fn remove_indexed(&self, indexed: i64) -> Result<(), AuditError> {
        let JournalReader::File { dir, .. } = self else { return Ok(()) };
        let segs = segments(dir)?;
        for pair in segs.windows(2) {
            if pair[1] - 1 <= indexed {
                match std::fs::remove_file(segment_path(dir, pair[0])) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove segment", e)),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: i64) -> Row {
        Row {
            account: 123_456_789_012,
            event_time: 1_700_000_000_000 + i,
            event_id: format!("id-{i}"),
            event_name: "GetUser".into(),
            event_source: "iam.amazonaws.com".into(),
            username: (i % 2 == 0).then(|| format!("user{i}")),
            access_key_id: None,
            read_only: i % 3 == 0,
            region: "us-east-1".into(),
            resources_json: (i % 4 == 0).then(|| "[]".into()),
            record: vec![6, 1, 2, 3, u8::try_from(i % 256).unwrap()],
            principal: (i % 5 == 0).then(|| format!("AIDA{i}")),
        }
    }

    fn seqs(v: &[(i64, Row)]) -> Vec<i64> {
        v.iter().map(|(s, _)| *s).collect()
    }

    #[test]
    fn entries_round_trip_and_a_torn_tail_ends_its_segment() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("audit.journal");
        let mut w = JournalWriter::open(&j, 1).unwrap();
        w.append(1, (1..=3).map(row).collect()).unwrap();
        w.append(4, (4..=5).map(row).collect()).unwrap();
        let mut r = JournalReader::open(&j);
        let got = r.read(0, 4, 100).unwrap();
        assert_eq!(seqs(&got), [1, 2, 3, 4], "only events up to `upto` are read");
        assert_eq!(got[1].1, row(2));
        assert_eq!(seqs(&r.read(0, 10, 100).unwrap()), [5]);
        assert!(r.read(0, 10, 100).unwrap().is_empty());
        drop(w);
        // A crash in the middle of an append: half an entry at the end.
        let seg = segment_path(&j, 1);
        let mut tail = Vec::new();
        encode_entry(&mut tail, 6, &row(6));
        let (_, valid) = scan_segment(&seg).unwrap();
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        f.write_all_at(&tail[..tail.len() / 2], valid).unwrap();
        drop(f);
        assert_eq!(recover(&j).unwrap(), 5);
        let mut w = JournalWriter::open(&j, 6).unwrap();
        w.append(6, vec![row(6)]).unwrap();
        let mut r = JournalReader::open(&j);
        assert_eq!(seqs(&r.read(2, 10, 100).unwrap()), [3, 4, 5, 6], "events at or below `after` are skipped");
    }

    #[test]
    fn a_corrupt_byte_stops_reading_and_segments_are_removed_once_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("audit.journal");
        let mut w = JournalWriter::open(&j, 1).unwrap();
        w.append(1, (1..=3).map(row).collect()).unwrap();
        let mut w2 = JournalWriter::open(&j, 4).unwrap();
        w2.append(4, (4..=6).map(row).collect()).unwrap();
        let seg = segment_path(&j, 1);
        let mut bytes = std::fs::read(&seg).unwrap();
        let n = usize::try_from(scan_segment(&seg).unwrap().1).unwrap();
        bytes[n - 3] ^= 0xff;
        std::fs::write(&seg, &bytes).unwrap();
        let mut r = JournalReader::open(&j);
        assert_eq!(seqs(&r.read(0, 10, 2).unwrap()), [1, 2], "at most `max` events");
        assert_eq!(seqs(&r.read(0, 10, 100).unwrap()), [4, 5, 6], "the corrupt entry ends its segment");
        r.remove_indexed(2).unwrap();
        assert_eq!(segments(&j).unwrap(), [1, 4], "a segment with unindexed events stays");
        r.remove_indexed(3).unwrap();
        assert_eq!(segments(&j).unwrap(), [4], "the newest segment always stays");
        r.remove_indexed(100).unwrap();
        assert_eq!(segments(&j).unwrap(), [4]);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        let mut x: u32 = 99;
        for len in 0..400 {
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push(u8::try_from(x % 256).unwrap());
            }
            let _ = decode_body(&v);
            let _ = read_entry(&mut v.as_slice());
        }
        let mut good = Vec::new();
        encode_entry(&mut good, 9, &row(9));
        for cut in 0..good.len() {
            assert!(read_entry(&mut &good[..cut]).unwrap().is_none(), "a short entry is no entry");
        }
        assert_eq!(read_entry(&mut good.as_slice()).unwrap().map(|(_, s, r)| (s, r)), Some((9, row(9))));
    }
}
