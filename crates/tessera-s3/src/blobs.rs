//! Object bytes. On the embedded store they are files on disk; when the store is PostgreSQL they
//! are rows of the same database ([`tessera_store::pgblobs`]), so that every server sharing it
//! serves every object (docs/S3.md, "Object bytes on PostgreSQL"). [`Blobs`] is either; the rest
//! of this comment is about the files.
//!
//! Files: `DIR/s3/data/<2 hex>/<32 hex>`, written through
//! `DIR/s3/tmp/` (write, fsync, atomic rename, fsync of the directory). A blob is never
//! modified once renamed into place; an upload that fails or is interrupted leaves only a
//! temporary file, removed at once (or at the next start after a crash).
//!
//! While `tessera backup` runs it holds `DIR/s3/backup.lock` ([`BACKUP_LOCK`]): a blob removed
//! then is moved to `DIR/s3/retained/` ([`RETAINED`]) instead of deleted, so that the backup,
//! whose database snapshot may still name it, can copy it; the backup empties `retained/` when
//! it ends (a start without the lock empties it too).

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use rand::Rng;
use tessera_store::pgblobs::{BlobSnapshot, PgBlobs, CHUNK};
use tessera_store::{Store, StoreError};
use tokio::io::AsyncWriteExt;

use crate::records::{ObjectRecord, Segment};

/// The file `tessera backup` holds in the blob root while it runs (its process id inside).
pub const BACKUP_LOCK: &str = "backup.lock";
/// Where blobs removed while [`BACKUP_LOCK`] exists are kept until the backup ends.
pub const RETAINED: &str = "retained";

/// Write buffer between the request body and the file.
const WRITE_BUFFER: usize = 256 * 1024;
/// Read chunk size when streaming a blob out.
const READ_CHUNK: usize = 64 * 1024;
/// Most segment files a read opens before it starts (the rest open as the stream reaches them).
const PINNED_SEGMENTS: usize = 64;

/// Where object bytes live: the blob directory of one data dir, or the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
    /// `Some`: the bytes are in PostgreSQL (`root` is not used for them).
    pg: Option<PgBlobs>,
}

/// A blob written and made durable.
#[derive(Debug, Clone)]
pub struct Written {
    /// Blob id.
    pub blob: String,
    /// Bytes written.
    pub size: u64,
    /// MD5 of the bytes.
    pub md5: [u8; 16],
}

/// Why writing a blob failed.
#[derive(Debug)]
pub enum WriteError {
    /// The request body failed (client went away, bad chunk signature, hash mismatch).
    Body(String),
    /// The body had a different length than announced.
    Length {
        /// Announced.
        expected: u64,
        /// Received.
        got: u64,
    },
    /// The disk failed.
    Io(io::Error),
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> Self {
        WriteError::Io(e)
    }
}

/// Removes the temporary file unless it was renamed into place.
struct TempGuard {
    path: Option<PathBuf>,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The files of an object's segments, opened before its bytes are read.
///
/// A GET that runs while a PUT or DELETE replaces the same key must return the old object or
/// the new one, whole, never an error. The writer removes the old blobs once the new record is
/// committed; an open file stays readable after its name is removed, so a reader that opened its
/// segments reads the object its record named. If a file is already gone when it is opened, the
/// record the reader holds is stale: [`Blobs::pin`] says `NotFound` and the caller reads the record
/// again. Only the first [`PINNED_SEGMENTS`] segments of a range are opened ahead (a multipart
/// object may have 10,000); a later one replaced mid-stream ends the stream with an error.
///
/// On PostgreSQL the pin is a read snapshot taken after the record was read: a blob present in
/// it stays readable through it whatever commits later, so every segment is pinned.
#[derive(Default)]
pub struct Pinned {
    files: Vec<Option<std::fs::File>>,
    snapshot: Option<BlobSnapshot>,
}

impl std::fmt::Debug for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinned").field("files", &self.files.len()).field("snapshot", &self.snapshot.is_some()).finish()
    }
}

impl Pinned {
    /// Nothing opened ahead: every segment opens when it is reached.
    pub fn none() -> Pinned {
        Pinned::default()
    }

    fn take(&mut self, index: usize) -> Option<std::fs::File> {
        self.files.get_mut(index).and_then(Option::take)
    }
}

/// Whether an error says a blob file is gone (its record was replaced after it was read).
pub fn is_gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Delete the blobs kept in `root`'s [`RETAINED`] directory (when a backup ends, or at a start
/// with no backup running).
pub fn clear_retained(root: &Path) {
    if let Ok(entries) = std::fs::read_dir(root.join(RETAINED)) {
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn pg_io(e: StoreError) -> io::Error {
    io::Error::other(e.to_string())
}

fn new_blob_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill(&mut b);
    hex::encode(b)
}

impl Blobs {
    /// Open `root` (`DIR/s3`), creating `data/` and `tmp/` and clearing leftovers in `tmp/`.
    pub fn open(root: &Path) -> io::Result<Blobs> {
        std::fs::create_dir_all(root.join("data"))?;
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let entry = entry?;
            let _ = std::fs::remove_file(entry.path());
        }
        // Blobs a backup kept but did not clear (it ended without its cleanup).
        if !root.join(BACKUP_LOCK).exists() {
            clear_retained(root);
        }
        Ok(Blobs { root: root.to_path_buf(), pg: None })
    }

    /// The blobs of a server on `store`: in PostgreSQL when `store` is, else [`Blobs::open`] of
    /// `root`. On PostgreSQL, blob files a version before this one left in `root` are moved into
    /// the database first (each whole, in one transaction, then its file removed), so that the
    /// objects they hold stay readable, through every server.
    pub fn open_for(store: &dyn Store, root: &Path) -> io::Result<Blobs> {
        match store.as_postgres() {
            None => Blobs::open(root),
            Some(pg) => {
                let blobs = Blobs { root: root.to_path_buf(), pg: Some(pg.blobs()) };
                blobs.import_files()?;
                Ok(blobs)
            }
        }
    }

    /// [`Blobs::attach`] for a second user of a server's blobs on `store`.
    pub fn attach_for(store: &dyn Store, root: &Path) -> io::Result<Blobs> {
        match store.as_postgres() {
            None => Blobs::attach(root),
            Some(pg) => Ok(Blobs { root: root.to_path_buf(), pg: Some(pg.blobs()) }),
        }
    }

    /// Whether the bytes are in PostgreSQL.
    pub fn in_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// Move the files of `root/data/` into PostgreSQL ([`Blobs::open_for`]).
    fn import_files(&self) -> io::Result<()> {
        let Some(pg) = &self.pg else { return Ok(()) };
        let Ok(shards) = std::fs::read_dir(self.root.join("data")) else { return Ok(()) };
        let mut moved = 0u64;
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else { continue };
            for file in files.flatten() {
                let Some(id) = file.file_name().to_str().map(str::to_string) else { continue };
                if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    continue;
                }
                if !pg.exists(&id).map_err(pg_io)? {
                    let mut writer = pg.writer(&id).map_err(pg_io)?;
                    let mut f = std::fs::File::open(file.path())?;
                    let mut buf = vec![0u8; CHUNK];
                    loop {
                        let n = f.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        writer.write(&buf[..n]).map_err(pg_io)?;
                    }
                    writer.finish().map_err(pg_io)?;
                }
                std::fs::remove_file(file.path())?;
                moved += 1;
            }
        }
        if moved > 0 {
            tracing::info!(blobs = moved, "moved object bytes from the data dir into PostgreSQL");
        }
        Ok(())
    }

    /// Use `root` as [`Blobs::open`] left it, without clearing `tmp/` (for a second user of
    /// the same directory, such as trail delivery or `tessera audit verify`).
    pub fn attach(root: &Path) -> io::Result<Blobs> {
        std::fs::create_dir_all(root.join("data"))?;
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Blobs { root: root.to_path_buf(), pg: None })
    }

    /// Write `data` into a new blob durably, from a blocking thread: the same steps as
    /// [`Blobs::write`] (temporary file, fsync, rename, fsync of the directory).
    pub fn write_bytes(&self, data: &[u8]) -> io::Result<Written> {
        use std::io::Write as _;
        let id = new_blob_id();
        if let Some(pg) = &self.pg {
            let mut writer = pg.writer(&id).map_err(pg_io)?;
            writer.write(data).map_err(pg_io)?;
            writer.finish().map_err(pg_io)?;
            return Ok(Written { blob: id, size: data.len() as u64, md5: Md5::digest(data).into() });
        }
        let tmp_path = self.root.join("tmp").join(&id);
        let mut guard = TempGuard { path: Some(tmp_path.clone()) };
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp_path)?;
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        let final_path = self.path(&id);
        let dir = final_path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.join("data"));
        std::fs::create_dir_all(&dir)?;
        std::fs::rename(&tmp_path, &final_path)?;
        sync_dir(&dir)?;
        guard.path = None;
        Ok(Written { blob: id, size: data.len() as u64, md5: Md5::digest(data).into() })
    }

    /// Path of blob `id`.
    pub fn path(&self, id: &str) -> PathBuf {
        let shard = id.get(..2).unwrap_or("00");
        self.root.join("data").join(shard).join(id)
    }

    /// Stream `body` into a new blob: MD5 on the way, fsync, atomic rename, fsync of the
    /// directory. With `expected`, the body must have exactly that many bytes.
    pub async fn write<S, E>(&self, mut body: S, expected: Option<u64>) -> Result<Written, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let id = new_blob_id();
        if let Some(pg) = &self.pg {
            return write_pg(pg, id, body, expected).await;
        }
        let tmp_path = self.root.join("tmp").join(&id);
        let mut guard = TempGuard { path: Some(tmp_path.clone()) };
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&tmp_path).await?;
        let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut check = BodyCheck::new(expected);
        while let Some(chunk) = body.next().await {
            out.write_all(&check.take(chunk)?).await?;
        }
        let (size, md5) = check.finish()?;
        out.flush().await?;
        let file = out.into_inner();
        file.sync_all().await?;
        drop(file);
        let final_path = self.path(&id);
        let dir = final_path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.join("data"));
        tokio::task::spawn_blocking(move || -> io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            std::fs::rename(&tmp_path, &final_path)?;
            sync_dir(&dir)
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))??;
        guard.path = None;
        Ok(Written { blob: id, size, md5 })
    }

    /// Concatenate `segments[range]`-style copy of an existing object into a new blob.
    /// `pinned` is [`Blobs::pin`] of the whole source.
    pub async fn copy(&self, segments: &[Segment], pinned: Pinned) -> Result<Written, WriteError> {
        let stream = self.read_stream(segments.to_vec(), pinned, 0, segments.iter().map(|s| s.size).sum())?;
        self.write(stream, None).await
    }

    /// Open the files of the segments holding bytes `offset..offset + len` (the first
    /// [`PINNED_SEGMENTS`] of them) so that a concurrent overwrite cannot take them away; see
    /// [`Pinned`]. `NotFound` ([`is_gone`]) means the record is stale: read it again.
    pub fn pin(&self, segments: &[Segment], offset: u64, len: u64) -> io::Result<Pinned> {
        if let Some(pg) = &self.pg {
            let mut snapshot = pg.snapshot().map_err(pg_io)?;
            let wanted: Vec<&str> = overlapping(segments, offset, len).map(|s| s.blob.as_str()).collect();
            if !snapshot.all_present(&wanted).map_err(pg_io)? {
                return Err(io::Error::new(io::ErrorKind::NotFound, "a blob of the record is gone"));
            }
            return Ok(Pinned { files: Vec::new(), snapshot: Some(snapshot) });
        }
        let mut files = Vec::with_capacity(segments.len().min(PINNED_SEGMENTS));
        let (mut at, end) = (0u64, offset.saturating_add(len));
        let mut opened = 0;
        for seg in segments {
            let overlaps = at < end && at + seg.size > offset;
            at += seg.size;
            if overlaps && opened < PINNED_SEGMENTS {
                files.push(Some(std::fs::File::open(self.path(&seg.blob))?));
                opened += 1;
            } else {
                files.push(None);
            }
        }
        Ok(Pinned { files, snapshot: None })
    }

    /// After an object record's commit: on success drop the blobs of the object it replaced,
    /// on failure the new blobs that no record names.
    pub fn settle<E>(
        &self,
        committed: Result<Option<ObjectRecord>, E>,
        new_blobs: impl IntoIterator<Item = String>,
    ) -> Result<(), E> {
        match committed {
            Ok(old) => {
                if let Some(old) = old {
                    self.remove(old.segments.into_iter().map(|s| s.blob));
                }
                Ok(())
            }
            Err(e) => {
                self.remove(new_blobs);
                Err(e)
            }
        }
    }

    /// Remove blobs (after the records naming them are gone). Failures are logged. While a
    /// backup holds [`BACKUP_LOCK`] they are moved to [`RETAINED`] instead: the lock was taken
    /// before the backup's database snapshot, and the records were dropped before this call, so
    /// a blob the snapshot names is either still in `data/` or here.
    pub fn remove(&self, ids: impl IntoIterator<Item = String>) {
        if let Some(pg) = &self.pg {
            let ids: Vec<String> = ids.into_iter().collect();
            if let Err(e) = pg.remove(&ids) {
                tracing::warn!(blobs = ids.len(), error = %e, "could not remove blobs");
            }
            return;
        }
        let retain = self.root.join(BACKUP_LOCK).exists();
        for id in ids {
            let result = if retain {
                let kept = self.root.join(RETAINED);
                std::fs::create_dir_all(&kept).and_then(|()| std::fs::rename(self.path(&id), kept.join(&id)))
            } else {
                std::fs::remove_file(self.path(&id))
            };
            if let Err(e) = result {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(blob = %id, error = %e, "could not remove blob");
                }
            }
        }
    }

    /// Read `len` bytes from `offset` of the concatenation of `segments` into memory (small
    /// objects). `pinned` is [`Blobs::pin`] of the range, or [`Pinned::none`].
    pub fn read_small(&self, segments: &[Segment], mut pinned: Pinned, offset: u64, len: u64) -> io::Result<Bytes> {
        if let Some(pg) = &self.pg {
            let mut snapshot = match pinned.snapshot.take() {
                Some(s) => s,
                None => pg.snapshot().map_err(pg_io)?,
            };
            let mut out = BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
            for (seg, skip, take) in ranges(segments, offset, len) {
                let take = usize::try_from(take).map_err(io::Error::other)?;
                out.extend_from_slice(&snapshot.read(&seg.blob, skip, take).map_err(pg_io)?);
            }
            if out.len() as u64 != len {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "blob shorter than its record"));
            }
            return Ok(out.freeze());
        }
        let mut out = BytesMut::with_capacity(usize::try_from(len).unwrap_or(0));
        let mut skip = offset;
        let mut left = len;
        for (index, seg) in segments.iter().enumerate() {
            if left == 0 {
                break;
            }
            if skip >= seg.size {
                skip -= seg.size;
                continue;
            }
            let take = (seg.size - skip).min(left);
            let mut f = match pinned.take(index) {
                Some(f) => f,
                None => std::fs::File::open(self.path(&seg.blob))?,
            };
            if skip > 0 {
                f.seek(SeekFrom::Start(skip))?;
            }
            let start = out.len();
            out.resize(start + usize::try_from(take).map_err(io::Error::other)?, 0);
            f.read_exact(&mut out[start..])?;
            left -= take;
            skip = 0;
        }
        if left > 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "blob shorter than its record"));
        }
        Ok(out.freeze())
    }

    /// A stream of `len` bytes from `offset` of the concatenation of `segments`.
    /// `pinned` is [`Blobs::pin`] of the range, or [`Pinned::none`].
    pub fn read_stream(&self, segments: Vec<Segment>, pinned: Pinned, offset: u64, len: u64) -> io::Result<BlobStream> {
        let pg = self.pg.clone();
        let mut pinned = pinned;
        let snapshot = pinned.snapshot.take();
        Ok(BlobStream {
            blobs: self.clone(),
            pg,
            snapshot,
            segments,
            pinned,
            index: 0,
            skip: offset,
            left: len,
            state: StreamState::Idle(None),
        })
    }
}

/// The segments holding bytes `offset..offset + len` of their concatenation.
fn overlapping(segments: &[Segment], offset: u64, len: u64) -> impl Iterator<Item = &Segment> {
    ranges(segments, offset, len).map(|(seg, _, _)| seg)
}

/// For bytes `offset..offset + len` of the concatenation of `segments`: each segment holding
/// some, with where they start in it and how many.
fn ranges(segments: &[Segment], offset: u64, len: u64) -> impl Iterator<Item = (&Segment, u64, u64)> {
    let end = offset.saturating_add(len);
    let mut at = 0u64;
    segments.iter().filter_map(move |seg| {
        let (start, stop) = (at, at + seg.size);
        at = stop;
        let (from, to) = (start.max(offset), stop.min(end));
        (from < to).then(|| (seg, from - start, to - from))
    })
}

/// [`Blobs::write`] into PostgreSQL: every chunk in one transaction, committed once the body
/// has its announced length; any failure before rolls it back (no row stays).
async fn write_pg<S, E>(pg: &PgBlobs, id: String, mut body: S, expected: Option<u64>) -> Result<Written, WriteError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut writer = pg.writer(&id).map_err(pg_io)?;
    let mut check = BodyCheck::new(expected);
    while let Some(chunk) = body.next().await {
        writer.write(&check.take(chunk)?).map_err(pg_io)?;
    }
    let (size, md5) = check.finish()?;
    writer.finish().map_err(pg_io)?;
    Ok(Written { blob: id, size, md5 })
}

/// A request body on its way into a blob: its MD5, and its length against the announced one.
struct BodyCheck {
    md5: Md5,
    size: u64,
    expected: Option<u64>,
}

impl BodyCheck {
    fn new(expected: Option<u64>) -> BodyCheck {
        BodyCheck { md5: Md5::new(), size: 0, expected }
    }

    /// The next piece of the body, counted (an error once it is longer than announced).
    fn take<E: std::fmt::Display>(&mut self, chunk: Result<Bytes, E>) -> Result<Bytes, WriteError> {
        let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
        self.md5.update(&chunk);
        self.size += chunk.len() as u64;
        match self.expected {
            Some(n) if self.size > n => Err(WriteError::Length { expected: n, got: self.size }),
            _ => Ok(chunk),
        }
    }

    /// The body's length and MD5, once it ended with its announced length.
    fn finish(self) -> Result<(u64, [u8; 16]), WriteError> {
        match self.expected {
            Some(n) if self.size != n => Err(WriteError::Length { expected: n, got: self.size }),
            _ => Ok((self.size, self.md5.finalize().into())),
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// A read's bytes, and where the stream is afterwards (`None` once it has read its last byte, so
/// that a file or database snapshot is let go as soon as the stream ends).
type ReadFuture = Pin<Box<dyn std::future::Future<Output = io::Result<(Bytes, Option<ReadState>)>> + Send + Sync>>;

/// Where a stream is inside one segment.
struct ReadState {
    source: Source,
    remaining_in_segment: u64,
}

/// What a stream reads a segment from.
enum Source {
    /// The segment's file, at the next byte to read.
    File(std::fs::File),
    /// The segment's blob in PostgreSQL, through the stream's snapshot.
    Pg { snapshot: Box<BlobSnapshot>, blob: String, at: u64 },
}

/// The next segment to open: its file (pinned) or path, its blob, where to start, how much.
struct Open {
    file: Option<std::fs::File>,
    path: PathBuf,
    blob: String,
    skip: u64,
    remaining: u64,
    snapshot: Option<BlobSnapshot>,
}

/// Streams bytes out of a list of segments, one blocking read at a time (up to 64 KiB of a
/// file; on PostgreSQL, up to the end of the current 1 MiB chunk).
pub struct BlobStream {
    blobs: Blobs,
    pg: Option<PgBlobs>,
    /// The PostgreSQL snapshot the stream reads in (from [`Blobs::pin`], else taken at the first
    /// read), while no read holds it.
    snapshot: Option<BlobSnapshot>,
    segments: Vec<Segment>,
    pinned: Pinned,
    index: usize,
    skip: u64,
    left: u64,
    state: StreamState,
}

enum StreamState {
    Idle(Option<ReadState>),
    Reading(ReadFuture),
}

impl BlobStream {
    /// Bytes still to come.
    pub fn remaining(&self) -> u64 {
        self.left
    }

    fn next_read(&mut self, state: Option<ReadState>) -> ReadFuture {
        let open = match state {
            Some(s) if s.remaining_in_segment > 0 => Ok(s),
            parked => {
                if let Some(ReadState { source: Source::Pg { snapshot, .. }, .. }) = parked {
                    self.snapshot = Some(*snapshot);
                }
                loop {
                    let Some(seg) = self.segments.get(self.index) else {
                        return Box::pin(async {
                            Err(io::Error::new(io::ErrorKind::UnexpectedEof, "blob shorter than its record"))
                        });
                    };
                    let index = self.index;
                    self.index += 1;
                    if self.skip >= seg.size {
                        self.skip -= seg.size;
                        continue;
                    }
                    let open = Open {
                        file: self.pinned.take(index),
                        path: self.blobs.path(&seg.blob),
                        blob: seg.blob.clone(),
                        skip: self.skip,
                        remaining: seg.size - self.skip,
                        snapshot: self.snapshot.take(),
                    };
                    self.skip = 0;
                    break Err(open);
                }
            }
        };
        let (pg, left) = (self.pg.clone(), self.left);
        let read = tokio::task::spawn_blocking(move || -> io::Result<(Bytes, Option<ReadState>)> {
            let mut state = match open {
                Ok(s) => s,
                Err(o) => open_segment(pg.as_ref(), o)?,
            };
            let bytes = match &mut state.source {
                Source::File(file) => {
                    let n = left.min(READ_CHUNK as u64).min(state.remaining_in_segment);
                    let mut buf = BytesMut::zeroed(usize::try_from(n).map_err(io::Error::other)?);
                    file.read_exact(&mut buf)?;
                    buf.freeze()
                }
                Source::Pg { snapshot, blob, at } => {
                    let to_chunk_end = CHUNK as u64 - *at % CHUNK as u64;
                    let n = left.min(to_chunk_end).min(state.remaining_in_segment);
                    let n = usize::try_from(n).map_err(io::Error::other)?;
                    let bytes = Bytes::from(snapshot.read(blob, *at, n).map_err(pg_io)?);
                    *at += n as u64;
                    bytes
                }
            };
            state.remaining_in_segment -= bytes.len() as u64;
            // The last read lets go of the file or snapshot here, off the async threads.
            let more = (bytes.len() as u64) < left;
            Ok((bytes, more.then_some(state)))
        });
        Box::pin(async move { read.await.map_err(|e| io::Error::other(e.to_string()))? })
    }
}

/// Start reading a segment (on a blocking thread): open and seek its file, or take the
/// PostgreSQL snapshot the stream reads in.
fn open_segment(pg: Option<&PgBlobs>, o: Open) -> io::Result<ReadState> {
    let source = match pg {
        Some(pg) => {
            let snapshot = match o.snapshot {
                Some(s) => s,
                None => pg.snapshot().map_err(pg_io)?,
            };
            Source::Pg { snapshot: Box::new(snapshot), blob: o.blob, at: o.skip }
        }
        None => {
            let mut file = match o.file {
                Some(f) => f,
                None => std::fs::File::open(o.path)?,
            };
            if o.skip > 0 {
                file.seek(SeekFrom::Start(o.skip))?;
            }
            Source::File(file)
        }
    };
    Ok(ReadState { source, remaining_in_segment: o.remaining })
}

/// The error type `s3s` streams carry.
pub type StdError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl Stream for BlobStream {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                StreamState::Idle(parked) => {
                    if this.left == 0 {
                        return Poll::Ready(None);
                    }
                    let parked = parked.take();
                    let fut = this.next_read(parked);
                    this.state = StreamState::Reading(fut);
                }
                StreamState::Reading(fut) => {
                    return match fut.as_mut().poll(cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(Err(e)) => {
                            this.left = 0;
                            this.state = StreamState::Idle(None);
                            Poll::Ready(Some(Err(Box::new(e))))
                        }
                        Poll::Ready(Ok((bytes, state))) => {
                            this.left = this.left.saturating_sub(bytes.len() as u64);
                            this.state = StreamState::Idle(state);
                            Poll::Ready(Some(Ok(bytes)))
                        }
                    };
                }
            }
        }
    }
}

impl s3s::stream::ByteStream for BlobStream {
    fn remaining_length(&self) -> s3s::stream::RemainingLength {
        s3s::stream::RemainingLength::new_exact(usize::try_from(self.left).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_removed_during_a_backup_are_retained_and_cleared_after() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open(dir.path()).unwrap();
        let a = blobs.write_bytes(b"a").unwrap();
        let b = blobs.write_bytes(b"b").unwrap();
        blobs.remove([a.blob.clone()]);
        assert!(!blobs.path(&a.blob).exists());
        assert!(!dir.path().join(RETAINED).join(&a.blob).exists(), "no backup: deleted");
        std::fs::write(dir.path().join(BACKUP_LOCK), "1").unwrap();
        blobs.remove([b.blob.clone()]);
        assert!(!blobs.path(&b.blob).exists());
        assert_eq!(std::fs::read(dir.path().join(RETAINED).join(&b.blob)).unwrap(), b"b");
        Blobs::open(dir.path()).unwrap();
        assert!(dir.path().join(RETAINED).join(&b.blob).exists(), "kept while the lock is held");
        std::fs::remove_file(dir.path().join(BACKUP_LOCK)).unwrap();
        Blobs::open(dir.path()).unwrap();
        assert!(!dir.path().join(RETAINED).join(&b.blob).exists(), "a start without the lock empties retained/");
    }

    /// On PostgreSQL (when `TESSERA_TEST_POSTGRES_URL` names a database; a fresh schema, dropped
    /// after): a read that pinned its blobs streams them whole, across segments and chunks, after
    /// they were removed; a later pin says they are gone; a short body leaves nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_reads_keep_their_snapshot() {
        let Ok(base) = std::env::var("TESSERA_TEST_POSTGRES_URL") else {
            eprintln!("SKIPPED: TESSERA_TEST_POSTGRES_URL is not set");
            return;
        };
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let schema = format!("tessera_s3blobs_{}_{}", std::process::id(), nanos % 1_000_000_000);
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}schema={schema}");
        let store = tokio::task::block_in_place(|| tessera_store::postgres::PostgresStore::open(&url)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::open_for(&store, dir.path()).unwrap();
        assert!(blobs.in_postgres());

        let first: Vec<u8> = (0..CHUNK + CHUNK / 2).map(|i| (i % 253) as u8).collect();
        let second: Vec<u8> = (0..2 * CHUNK + 3).map(|i| (i % 251) as u8).collect();
        let pieces: Vec<Result<Bytes, io::Error>> =
            first.chunks(100_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let a = blobs.write(futures::stream::iter(pieces), Some(first.len() as u64)).await.unwrap();
        assert_eq!(a.md5, <[u8; 16]>::from(Md5::digest(&first)));
        let b = blobs.write_bytes(&second).unwrap();
        let segments =
            vec![Segment { blob: a.blob.clone(), size: a.size }, Segment { blob: b.blob.clone(), size: b.size }];
        let whole: Vec<u8> = first.iter().chain(second.iter()).copied().collect();
        let (offset, len) = (100u64, whole.len() as u64 - 200);

        let pinned = blobs.pin(&segments, offset, len).unwrap();
        blobs.remove([a.blob.clone(), b.blob.clone()]);
        let mut stream = blobs.read_stream(segments.clone(), pinned, offset, len).unwrap();
        let mut got = Vec::new();
        while let Some(piece) = stream.next().await {
            let piece = piece.unwrap();
            assert!(piece.len() <= CHUNK, "one chunk at a time");
            got.extend_from_slice(&piece);
        }
        assert_eq!(got, &whole[offset as usize..(offset + len) as usize]);
        assert_eq!(stream.remaining(), 0);
        drop(stream);
        let gone = blobs.pin(&segments, 0, 10).unwrap_err();
        assert!(is_gone(&gone), "{gone}");

        let short: Vec<Result<Bytes, io::Error>> = vec![Ok(Bytes::from_static(b"abc"))];
        let err = blobs.write(futures::stream::iter(short), Some(4)).await.unwrap_err();
        assert!(matches!(err, WriteError::Length { expected: 4, got: 3 }));
        drop(blobs);
        drop(store);
        let dropped = std::process::Command::new("psql")
            .args([base.as_str(), "-c", &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")])
            .output();
        assert!(dropped.is_ok_and(|o| o.status.success()), "the test schema is dropped");
    }
}
