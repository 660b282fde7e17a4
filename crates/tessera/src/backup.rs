//! `tessera backup` and `tessera restore`: a consistent snapshot of a data dir, running server or
//! not, in one archive file, and a new data dir made from it.
//!
//! The archive is a tar file (gzip-compressed unless `--no-compress`) whose entries are the data
//! dir's files under their own relative paths, then `manifest.json`: the format and its version,
//! the Tessera version, the time, the store kind, whether `master.key` is in it, the number of
//! audit events, and every file with its size and SHA-256. `restore` extracts into a directory
//! of its own beside the target, checks every file against the manifest, and only then renames
//! that directory into place, so a damaged archive leaves nothing behind.
//!
//! Consistency with a server writing meanwhile (the order below is what makes it hold):
//! 1. `DIR/s3/backup.lock` is taken: from now on the server moves the blobs it removes to
//!    `DIR/s3/retained/` instead of deleting them (`tessera_s3::blobs`).
//! 2. The audit journal is copied, then `audit.db` snapshotted (`tessera_audit::sqlite::backup_to`
//!    says why no acknowledged event can be missed).
//! 3. `tessera.db` is snapshotted with `VACUUM INTO` (one read transaction).
//! 4. The blobs in `DIR/s3/data/` and `DIR/s3/retained/` are copied. Blobs never change once
//!    written and are written before the record that names them is committed, so every blob
//!    the snapshot names exists at step 3; if it was removed since, its record was dropped after
//!    the lock, so it went to `retained/`. Blobs written after the snapshot are copied too; no
//!    record names them, and they take only space.
//! 5. The lock is released and `retained/` emptied.
//!
//! `endpoint` and `imds-endpoint` name the old server's ports and are left out; `master.key`
//! is left out unless asked for (docs/OPERATIONS.md, "Backup and restore").

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The archive's format name, in its manifest.
const FORMAT: &str = "tessera-backup";
/// The newest manifest format this build writes and reads.
const FORMAT_VERSION: u32 = 1;
/// The manifest's name in the archive (its last entry).
const MANIFEST: &str = "manifest.json";
/// Largest manifest `restore` reads.
const MAX_MANIFEST: u64 = 256 * 1024 * 1024;

/// What `tessera backup` is asked to do.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// The data dir to back up.
    pub data_dir: PathBuf,
    /// The archive file to write (must not exist).
    pub out: PathBuf,
    /// Put `master.key` in the archive.
    pub include_master_key: bool,
    /// The PostgreSQL store, when the server uses one: its database is not in the archive.
    pub store_url: Option<String>,
    /// Write a plain tar instead of gzip.
    pub no_compress: bool,
}

/// One file of the archive, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileEntry {
    path: String,
    size: u64,
    sha256: String,
}

/// The archive's last entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    format: String,
    format_version: u32,
    tessera_version: String,
    created: String,
    /// `sqlite` (tessera.db is in the archive) or `postgresql` (it is not).
    store: String,
    master_key_included: bool,
    events: u64,
    files: Vec<FileEntry>,
}

/// Removes a temporary file or directory unless disarmed.
struct Cleanup(Option<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            if p.is_dir() {
                let _ = std::fs::remove_dir_all(&p);
            } else {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

/// `DIR/s3/backup.lock` while the backup runs; released (and `retained/` emptied) on drop.
struct BlobLock {
    s3: PathBuf,
}

impl BlobLock {
    fn take(s3: &Path) -> anyhow::Result<BlobLock> {
        let lock = s3.join(tessera_s3::blobs::BACKUP_LOCK);
        if let Ok(text) = std::fs::read_to_string(&lock) {
            let pid = text.trim();
            if !pid.is_empty() && Path::new("/proc").join(pid).exists() {
                bail!("another backup of this data dir is running (process {pid}; {} exists)", lock.display());
            }
            // Left by a backup that did not end cleanly.
            std::fs::remove_file(&lock).with_context(|| format!("removing the stale {}", lock.display()))?;
        }
        let mut f = private_file(&lock).with_context(|| format!("creating {}", lock.display()))?;
        f.write_all(std::process::id().to_string().as_bytes())?;
        f.sync_all()?;
        Ok(BlobLock { s3: s3.to_path_buf() })
    }
}

impl Drop for BlobLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.s3.join(tessera_s3::blobs::BACKUP_LOCK));
        tessera_s3::blobs::clear_retained(&self.s3);
    }
}

/// A new file, mode 0600, that must not exist yet.
fn private_file(path: &Path) -> std::io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Reads through to `inner`, hashing and counting what passes.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Writes through to `inner`, hashing and counting what passes.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Where the tar goes: the file, through gzip or not.
enum Sink {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
        }
    }
}

impl Sink {
    /// Write out everything (the gzip trailer included) and return the file.
    fn finish(self) -> std::io::Result<File> {
        let buffered = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
        };
        buffered.into_inner().map_err(std::io::IntoInnerError::into_error)
    }
}

/// The tar being written and the manifest's file list.
struct ArchiveWriter {
    tar: tar::Builder<Sink>,
    files: Vec<FileEntry>,
    bytes: u64,
    mtime: u64,
}

impl ArchiveWriter {
    fn header(&self, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(size);
        h.set_mode(0o600);
        h.set_mtime(self.mtime);
        h
    }

    /// Add the file at `source` as `name`: exactly the bytes it had when opened (its size is
    /// read from the open file, and a file that changes length meanwhile is an error).
    fn add_file(&mut self, name: &str, source: &Path) -> anyhow::Result<()> {
        let file = File::open(source).with_context(|| format!("opening {}", source.display()))?;
        let size = file.metadata()?.len();
        self.add_reader(name, size, file).with_context(|| format!("archiving {}", source.display()))
    }

    fn add_bytes(&mut self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.add_reader(name, bytes.len() as u64, bytes)
    }

    fn add_reader(&mut self, name: &str, size: u64, reader: impl Read) -> anyhow::Result<()> {
        let mut header = self.header(size);
        let mut hashing = Hashing { inner: reader.take(size), hash: Sha256::new(), bytes: 0 };
        self.tar.append_data(&mut header, name, &mut hashing)?;
        if hashing.bytes != size {
            bail!("{name} changed size while it was being archived");
        }
        self.files.push(FileEntry { path: name.to_string(), size, sha256: hex::encode(hashing.hash.finalize()) });
        self.bytes += size;
        Ok(())
    }
}

/// What `tessera backup` prints on stdout.
#[derive(Debug, Serialize)]
pub struct BackupSummary {
    /// The archive written.
    pub out: String,
    /// Files in it (the manifest not counted).
    pub files: usize,
    /// Their bytes, uncompressed.
    pub bytes: u64,
    /// The archive's size.
    pub archive_bytes: u64,
    /// Audit events in it.
    pub events: u64,
    /// `sqlite` or `postgresql`.
    pub store: String,
    /// Whether master.key is in it.
    pub master_key_included: bool,
    /// Wall time taken.
    pub duration_seconds: f64,
}

fn progress(msg: &str) {
    eprintln!("tessera backup: {msg}");
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn rfc3339_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// `tessera backup`.
pub fn backup(req: &BackupRequest) -> anyhow::Result<BackupSummary> {
    let started = Instant::now();
    let dir = &req.data_dir;
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let postgres = req.store_url.is_some();
    if !postgres && !dir.join("tessera.db").is_file() {
        bail!(
            "{} holds no tessera.db: is it a Tessera data dir? (a server on PostgreSQL: give its --store-url)",
            dir.display()
        );
    }
    if req.include_master_key && !dir.join("master.key").is_file() {
        bail!("--include-master-key: {} holds no master.key", dir.display());
    }
    if req.out.exists() {
        bail!("{} exists: a backup never overwrites a file; choose a new name", req.out.display());
    }
    let name = req.out.file_name().and_then(|n| n.to_str()).context("--out must name a file")?.to_string();
    let out_dir = match req.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let pid = std::process::id();
    let tmp = out_dir.join(format!(".{name}.tmp-{pid}"));
    let staging = out_dir.join(format!(".{name}.staging-{pid}"));
    crate::server::create_private_dir(&staging)?;
    let _staging_cleanup = Cleanup(Some(staging.clone()));
    let file = private_file(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut tmp_cleanup = Cleanup(Some(tmp.clone()));

    // 1. Blobs removed from now on are kept until the end.
    let s3 = dir.join("s3");
    let lock = if s3.is_dir() { Some(BlobLock::take(&s3)?) } else { None };

    // 2. The audit store: journal, then audit.db.
    let audit_db = dir.join("audit.db");
    let audit = if audit_db.is_file() {
        progress("copying the audit journal, then snapshotting audit.db");
        tessera_audit::sqlite::backup_to(&audit_db, &staging).map_err(|e| anyhow::anyhow!("audit store: {e}"))?
    } else if postgres && dir.join("audit.journal").is_dir() {
        progress(
            "the audit trail is in PostgreSQL (pg_dump holds it); copying this node's journal (events not shipped yet)",
        );
        tessera_audit::sqlite::journal_backup_to(&dir.join("audit.journal"), &staging)
            .map_err(|e| anyhow::anyhow!("audit journal: {e}"))?
    } else {
        tessera_audit::sqlite::AuditBackup { files: Vec::new(), events: 0 }
    };

    // 3. The store.
    if postgres {
        progress(
            "the store is PostgreSQL: this archive holds the data dir's files only; back the database up \
             (records and S3 object bytes) with pg_dump (docs/OPERATIONS.md)",
        );
    } else {
        progress("snapshotting tessera.db");
        tessera_store::sqlite::snapshot_into(&dir.join("tessera.db"), &staging.join("tessera.db"))
            .map_err(|e| anyhow::anyhow!("snapshotting tessera.db: {e}"))?;
    }

    let buffered = BufWriter::with_capacity(1 << 20, file);
    let sink = if req.no_compress {
        Sink::Plain(buffered)
    } else {
        Sink::Gzip(flate2::write::GzEncoder::new(buffered, flate2::Compression::fast()))
    };
    let mtime = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut archive = ArchiveWriter { tar: tar::Builder::new(sink), files: Vec::new(), bytes: 0, mtime };
    if !postgres {
        archive.add_file("tessera.db", &staging.join("tessera.db"))?;
    }
    for rel in &audit.files {
        let name = rel.to_str().context("audit file name is not UTF-8")?;
        archive.add_file(name, &staging.join(rel))?;
    }
    // Small files are read whole, so each is one consistent version.
    let mut small = vec![PathBuf::from("credentials")];
    if postgres && dir.join("node-id").is_file() {
        // The node's identity in the shared audit tables: its restored journal ships under it.
        small.push(PathBuf::from("node-id"));
    }
    if req.include_master_key {
        small.push(PathBuf::from("master.key"));
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("tls")) {
        let mut names: Vec<_> = entries.flatten().filter(|e| e.path().is_file()).map(|e| e.file_name()).collect();
        names.sort();
        small.extend(names.into_iter().map(|n| Path::new("tls").join(n)));
    }
    for rel in small {
        match std::fs::read(dir.join(&rel)) {
            Ok(bytes) => archive.add_bytes(rel.to_str().context("file name is not UTF-8")?, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.join(&rel).display())),
        }
    }

    // 4. The blobs.
    if lock.is_some() {
        copy_blobs(&s3, &mut archive)?;
    }
    let summary_files = archive.files.len();
    let bytes = archive.bytes;
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        tessera_version: env!("CARGO_PKG_VERSION").into(),
        created: rfc3339_now(),
        store: if postgres { "postgresql" } else { "sqlite" }.into(),
        master_key_included: req.include_master_key,
        events: audit.events,
        files: std::mem::take(&mut archive.files),
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    let mut header = archive.header(text.len() as u64);
    archive.tar.append_data(&mut header, MANIFEST, text.as_slice())?;
    let file = archive.tar.into_inner().and_then(Sink::finish).context("finishing the archive")?;
    // 5. Blobs need no keeping any more.
    drop(lock);
    file.sync_all().context("syncing the archive")?;
    let archive_bytes = file.metadata()?.len();
    drop(file);
    std::fs::rename(&tmp, &req.out).with_context(|| format!("renaming the archive to {}", req.out.display()))?;
    tmp_cleanup.0 = None;
    sync_dir(&out_dir);
    progress(&format!(
        "wrote {} ({} files, {} uncompressed, {} archive, {} audit events){}",
        req.out.display(),
        summary_files,
        mib(bytes),
        mib(archive_bytes),
        audit.events,
        if req.include_master_key {
            "; it holds master.key: keep it as secret as the key itself"
        } else {
            "; master.key is NOT in it: keep a copy of DIR/master.key apart, restore needs it"
        }
    ));
    Ok(BackupSummary {
        out: req.out.display().to_string(),
        files: summary_files,
        bytes,
        archive_bytes,
        events: audit.events,
        store: manifest.store,
        master_key_included: req.include_master_key,
        duration_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Add every blob of `DIR/s3/data/<shard>/` and `DIR/s3/retained/` as `s3/data/<shard>/<id>`.
fn copy_blobs(s3: &Path, archive: &mut ArchiveWriter) -> anyhow::Result<()> {
    let mut blobs: Vec<(String, PathBuf)> = Vec::new();
    let data = s3.join("data");
    if let Ok(shards) = std::fs::read_dir(&data) {
        for shard in shards.flatten() {
            let Ok(files) = std::fs::read_dir(shard.path()) else { continue };
            for f in files.flatten() {
                if let Some(id) = f.file_name().to_str() {
                    blobs.push((id.to_string(), f.path()));
                }
            }
        }
    }
    let mut seen: std::collections::HashSet<String> = blobs.iter().map(|(id, _)| id.clone()).collect();
    if let Ok(files) = std::fs::read_dir(s3.join(tessera_s3::blobs::RETAINED)) {
        for f in files.flatten() {
            if let Some(id) = f.file_name().to_str() {
                if seen.insert(id.to_string()) {
                    blobs.push((id.to_string(), f.path()));
                }
            }
        }
    }
    blobs.sort();
    progress(&format!("copying {} S3 blobs (object bytes and trail files)", blobs.len()));
    let retained = s3.join(tessera_s3::blobs::RETAINED);
    let mut last_report = Instant::now();
    for (i, (id, path)) in blobs.iter().enumerate() {
        let Some(shard) = id.get(..2) else { continue };
        let name = format!("s3/data/{shard}/{id}");
        match File::open(path) {
            Ok(file) => {
                let size = file.metadata()?.len();
                archive.add_reader(&name, size, file).with_context(|| format!("archiving {}", path.display()))?;
            }
            // Removed since it was listed: moved to retained/ (the lock was held), or removed
            // before the lock, when no record in the snapshot named it any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Ok(file) = File::open(retained.join(id)) {
                    let size = file.metadata()?.len();
                    archive.add_reader(&name, size, file)?;
                }
            }
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        }
        if last_report.elapsed().as_secs() >= 2 {
            progress(&format!("{} of {} blobs, {} so far", i + 1, blobs.len(), mib(archive.bytes)));
            last_report = Instant::now();
        }
    }
    Ok(())
}

/// What `tessera restore` prints on stdout.
#[derive(Debug, Serialize)]
pub struct RestoreSummary {
    /// The data dir made.
    pub data_dir: String,
    /// Files restored.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Audit events in the backup.
    pub events: u64,
    /// `sqlite` or `postgresql`.
    pub store: String,
    /// When the backup was made.
    pub created: String,
    /// Whether master.key was restored.
    pub master_key_included: bool,
    /// Wall time taken.
    pub duration_seconds: f64,
}

/// A path from the archive as a safe relative path (plain names only, no `..`, not absolute).
fn safe_relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// `tessera restore`.
pub fn restore(from: &Path, data_dir: &Path) -> anyhow::Result<RestoreSummary> {
    let started = Instant::now();
    let target_exists = match std::fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{} is not empty: restore makes a new data dir and never writes into one", data_dir.display());
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e).with_context(|| format!("{} is not a usable directory", data_dir.display())),
    };
    let name = data_dir.file_name().and_then(|n| n.to_str()).context("--data-dir must name a directory")?;
    let parent = match data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = File::open(from).with_context(|| format!("opening {}", from.display()))?;
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = parent.join(format!(".{name}.restore-{}", std::process::id()));
    crate::server::create_private_dir(&staging)?;
    let mut cleanup = Cleanup(Some(staging.clone()));
    let manifest = extract(file, &staging).map_err(|e| {
        anyhow::anyhow!("{} is not an intact Tessera backup: {e:#}; nothing was restored", from.display())
    })?;
    if target_exists {
        std::fs::remove_dir(data_dir).with_context(|| format!("replacing the empty {}", data_dir.display()))?;
    }
    std::fs::rename(&staging, data_dir)
        .with_context(|| format!("moving the restored files to {}", data_dir.display()))?;
    cleanup.0 = None;
    sync_dir(&parent);
    let bytes = manifest.files.iter().map(|f| f.size).sum();
    Ok(RestoreSummary {
        data_dir: data_dir.display().to_string(),
        files: manifest.files.len(),
        bytes,
        events: manifest.events,
        store: manifest.store,
        created: manifest.created,
        master_key_included: manifest.master_key_included,
        duration_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Extract the archive into `staging` and check it against its manifest.
fn extract(file: File, staging: &Path) -> anyhow::Result<Manifest> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let gzip = {
        let head = std::io::BufRead::fill_buf(&mut reader)?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let input: Box<dyn Read> = if gzip { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
    let mut tar = tar::Archive::new(input);
    let mut found: std::collections::BTreeMap<String, (u64, String)> = std::collections::BTreeMap::new();
    let mut manifest_text = None;
    for entry in tar.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let raw = entry.path().context("an entry's name")?.into_owned();
        let Some(rel) = safe_relative(&raw) else { bail!("the entry {} is not a plain relative path", raw.display()) };
        if entry.header().entry_type() != tar::EntryType::Regular {
            bail!("the entry {} is not a regular file", rel.display());
        }
        let key = rel.to_str().context("an entry's name is not UTF-8")?.to_string();
        if key == MANIFEST {
            let mut text = String::new();
            (&mut entry).take(MAX_MANIFEST).read_to_string(&mut text).context("reading the manifest")?;
            manifest_text = Some(text);
            continue;
        }
        if found.contains_key(&key) {
            bail!("{key} is in the archive twice");
        }
        let path = staging.join(&rel);
        if let Some(p) = path.parent() {
            crate::server::create_private_dir(p)?;
        }
        let mut out = HashingWriter { inner: private_file(&path)?, hash: Sha256::new(), bytes: 0 };
        std::io::copy(&mut entry, &mut out).with_context(|| format!("extracting {key}"))?;
        out.inner.sync_all()?;
        found.insert(key, (out.bytes, hex::encode(out.hash.finalize())));
    }
    let text = manifest_text.context("it has no manifest.json (truncated?)")?;
    let manifest: Manifest = serde_json::from_str(&text).context("its manifest.json does not parse")?;
    if manifest.format != FORMAT {
        bail!("its manifest names the format {:?}, not {FORMAT:?}", manifest.format);
    }
    if manifest.format_version > FORMAT_VERSION {
        bail!(
            "it was made by Tessera {} in format version {}; this build reads up to {FORMAT_VERSION}",
            manifest.tessera_version,
            manifest.format_version
        );
    }
    for f in &manifest.files {
        match found.remove(&f.path) {
            None => bail!("{} is listed in the manifest but missing", f.path),
            Some((size, sha)) if size != f.size || sha != f.sha256 => {
                bail!("{} does not match its size and SHA-256 in the manifest", f.path)
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().next() {
        bail!("{extra} is in the archive but not in its manifest");
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_dir(root: &Path) -> PathBuf {
        let dir = root.join("data");
        std::fs::create_dir_all(dir.join("s3/data/ab")).unwrap();
        std::fs::create_dir_all(dir.join("tls")).unwrap();
        let store = tessera_store::sqlite::SqliteStore::open(&dir.join("tessera.db")).unwrap();
        tessera_store::transact(&store, |t| t.put("t", "k", b"v")).unwrap();
        drop(store);
        std::fs::write(dir.join("credentials"), "[root]\n").unwrap();
        std::fs::write(dir.join("master.key"), [7u8; 32]).unwrap();
        std::fs::write(dir.join("endpoint"), "http://127.0.0.1:1\n").unwrap();
        std::fs::write(dir.join("tls/ca.pem"), "pem").unwrap();
        std::fs::write(dir.join("s3/data/ab/abcdef"), b"object bytes").unwrap();
        // Removed by the server while a backup ran (a stale lock's leftover here).
        std::fs::create_dir_all(dir.join("s3/retained")).unwrap();
        std::fs::write(dir.join("s3/retained/cd01"), b"retained").unwrap();
        dir
    }

    fn request(dir: &Path, out: &Path, key: bool) -> BackupRequest {
        BackupRequest {
            data_dir: dir.to_path_buf(),
            out: out.to_path_buf(),
            include_master_key: key,
            store_url: None,
            no_compress: false,
        }
    }

    #[test]
    fn round_trip_leaves_out_endpoint_and_master_key_and_releases_the_lock() {
        let root = tempfile::tempdir().unwrap();
        let dir = sample_dir(root.path());
        let out = root.path().join("b.tar.gz");
        let s = backup(&request(&dir, &out, false)).unwrap();
        assert_eq!(s.files, 5, "tessera.db, credentials, tls/ca.pem, two blobs");
        assert!(!dir.join("s3/backup.lock").exists());
        assert!(!dir.join("s3/retained/cd01").exists(), "retained blobs are dropped at the end");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let new = root.path().join("restored");
        let r = restore(&out, &new).unwrap();
        assert_eq!(r.files, 5);
        assert_eq!(std::fs::read(new.join("s3/data/ab/abcdef")).unwrap(), b"object bytes");
        assert_eq!(std::fs::read(new.join("s3/data/cd/cd01")).unwrap(), b"retained");
        assert!(!new.join("master.key").exists());
        assert!(!new.join("endpoint").exists());
        let store = tessera_store::sqlite::SqliteStore::open(&new.join("tessera.db")).unwrap();
        assert_eq!(tessera_store::Store::read(&store).unwrap().get("t", "k").unwrap().as_deref(), Some(&b"v"[..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o700);
        }
        assert!(backup(&request(&dir, &out, false)).is_err(), "an existing file is never overwritten");
        let keyed = root.path().join("k.tar");
        let mut req = request(&dir, &keyed, true);
        req.no_compress = true;
        backup(&req).unwrap();
        let new2 = root.path().join("restored2");
        assert!(restore(&keyed, &new2).unwrap().master_key_included);
        assert_eq!(std::fs::read(new2.join("master.key")).unwrap(), [7u8; 32]);
    }

    #[test]
    fn a_damaged_archive_or_a_used_target_restores_nothing() {
        let root = tempfile::tempdir().unwrap();
        let dir = sample_dir(root.path());
        let out = root.path().join("b.tar");
        let mut req = request(&dir, &out, false);
        req.no_compress = true;
        backup(&req).unwrap();
        let mut bytes = std::fs::read(&out).unwrap();
        let at = bytes.windows(12).position(|w| w == b"object bytes").unwrap();
        bytes[at] ^= 0x20;
        let bad = root.path().join("bad.tar");
        std::fs::write(&bad, &bytes).unwrap();
        let new = root.path().join("r");
        let e = restore(&bad, &new).unwrap_err().to_string();
        assert!(e.contains("s3/data/ab/abcdef") && e.contains("nothing was restored"), "{e}");
        assert!(!new.exists());
        let leftovers: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("restore-"))
            .collect();
        assert!(leftovers.is_empty(), "the staging dir is removed");
        let truncated = root.path().join("short.tar");
        std::fs::write(&truncated, &std::fs::read(&out).unwrap()[..2048]).unwrap();
        assert!(restore(&truncated, &new).unwrap_err().to_string().contains("nothing was restored"));
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("x"), "").unwrap();
        assert!(restore(&out, &new).unwrap_err().to_string().contains("not empty"));
    }

    #[test]
    fn unsafe_paths_are_refused() {
        assert_eq!(safe_relative(Path::new("s3/data/ab/x")), Some(PathBuf::from("s3/data/ab/x")));
        assert_eq!(safe_relative(Path::new("../x")), None);
        assert_eq!(safe_relative(Path::new("/etc/passwd")), None);
        assert_eq!(safe_relative(Path::new("a/../../x")), None);
        assert_eq!(safe_relative(Path::new("")), None);
    }
}
