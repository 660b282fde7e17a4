//! Object bytes on disk: `DIR/s3/data/<2 hex>/<32 hex>` files, written through
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

/// The blob directory of one data dir.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
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
#[derive(Debug, Default)]
pub struct Pinned {
    files: Vec<Option<std::fs::File>>,
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
        Ok(Blobs { root: root.to_path_buf() })
    }

    /// Use `root` as [`Blobs::open`] left it, without clearing `tmp/` (for a second user of
    /// the same directory, such as trail delivery or `tessera audit verify`).
    pub fn attach(root: &Path) -> io::Result<Blobs> {
        std::fs::create_dir_all(root.join("data"))?;
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Blobs { root: root.to_path_buf() })
    }

    /// Write `data` into a new blob durably, from a blocking thread: the same steps as
    /// [`Blobs::write`] (temporary file, fsync, rename, fsync of the directory).
    pub fn write_bytes(&self, data: &[u8]) -> io::Result<Written> {
        use std::io::Write as _;
        let id = new_blob_id();
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
        let tmp_path = self.root.join("tmp").join(&id);
        let mut guard = TempGuard { path: Some(tmp_path.clone()) };
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&tmp_path).await?;
        let mut out = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
        let mut md5 = Md5::new();
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
            md5.update(&chunk);
            size += chunk.len() as u64;
            if expected.is_some_and(|n| size > n) {
                return Err(WriteError::Length { expected: expected.unwrap_or(0), got: size });
            }
            out.write_all(&chunk).await?;
        }
        if let Some(n) = expected {
            if size != n {
                return Err(WriteError::Length { expected: n, got: size });
            }
        }
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
        Ok(Written { blob: id, size, md5: md5.finalize().into() })
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
        Ok(Pinned { files })
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
        Ok(BlobStream {
            blobs: self.clone(),
            segments,
            pinned,
            index: 0,
            skip: offset,
            left: len,
            state: StreamState::Idle(None),
        })
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

type ReadFuture = Pin<Box<dyn std::future::Future<Output = io::Result<(Bytes, ReadState)>> + Send + Sync>>;

/// Where a stream is inside one segment file.
struct ReadState {
    file: std::fs::File,
    remaining_in_segment: u64,
}

/// Streams bytes out of a list of segments, one blocking read of up to 64 KiB at a time.
pub struct BlobStream {
    blobs: Blobs,
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
        let want = self.left.min(READ_CHUNK as u64);
        let open = match state {
            Some(s) if s.remaining_in_segment > 0 => Ok(s),
            _ => loop {
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
                let file = self.pinned.take(index).ok_or_else(|| self.blobs.path(&seg.blob));
                let skip = self.skip;
                let remaining = seg.size - skip;
                self.skip = 0;
                break Err((file, skip, remaining));
            },
        };
        Box::pin(async move {
            tokio::task::spawn_blocking(move || -> io::Result<(Bytes, ReadState)> {
                let mut state = match open {
                    Ok(s) => s,
                    Err((file, skip, remaining)) => {
                        let mut file = match file {
                            Ok(f) => f,
                            Err(path) => std::fs::File::open(path)?,
                        };
                        if skip > 0 {
                            file.seek(SeekFrom::Start(skip))?;
                        }
                        ReadState { file, remaining_in_segment: remaining }
                    }
                };
                let n = want.min(state.remaining_in_segment);
                let mut buf = BytesMut::zeroed(usize::try_from(n).map_err(io::Error::other)?);
                state.file.read_exact(&mut buf)?;
                state.remaining_in_segment -= n;
                Ok((buf.freeze(), state))
            })
            .await
            .map_err(|e| io::Error::other(e.to_string()))?
        })
    }
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
                            this.state = StreamState::Idle(Some(state));
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
}
