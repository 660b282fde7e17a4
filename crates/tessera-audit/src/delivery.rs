//! Trail delivery: gzip JSON log files and signed digest files, written with CloudTrail's S3 key
//! layout through a [`TrailDelivery`] target.
//!
//! The server delivers into Tessera's S3 buckets (`tessera_s3::TrailBuckets`). [`FsDelivery`]
//! writes objects as files under a directory (`<root>/<bucket>/<key>`, user metadata as JSON
//! under `<root>/.metadata/`), for this crate's tests and tools that have no S3.
//!
//! A [`Deliverer`] runs every few seconds: for each logging trail it reads the events stored
//! since its cursor, writes one log file per region, and every digest period one digest file per
//! region that lists those log files and chains to the previous digest.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rand::Rng;

use crate::digest::{
    sha256_hex, signing_string, DigestFile, DigestLogFile, HASH_ALGORITHM, SIGNATURE_ALGORITHM,
    SIGNATURE_ALGORITHM_METADATA, SIGNATURE_METADATA,
};
use crate::event::{datetime, event_time};
use crate::store::{AuditError, AuditStore, DeliveryEvent, DigestChain, LogFileEntry, PreviousDigest, Trail};

/// An object read back from a delivery target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Content.
    pub body: Vec<u8>,
    /// User metadata (`x-amz-meta-<name>` without the prefix).
    pub metadata: BTreeMap<String, String>,
}

/// Where trail files go: an S3-like bucket/key namespace.
pub trait TrailDelivery: Send + Sync {
    /// Write an object durably (replacing any object of that key).
    fn put_object(&self, bucket: &str, key: &str, body: &[u8], metadata: &BTreeMap<String, String>) -> io::Result<()>;
    /// Write one of `trail`'s files into its bucket, as CloudTrail does (the S3 target checks
    /// that the bucket still exists and its policy still lets CloudTrail write the key).
    fn put_trail_file(
        &self,
        trail: &Trail,
        key: &str,
        body: &[u8],
        metadata: &BTreeMap<String, String>,
    ) -> io::Result<()> {
        self.put_object(&trail.s3_bucket_name, key, body, metadata)
    }
    /// Read an object; `None` if it does not exist.
    fn get_object(&self, bucket: &str, key: &str) -> io::Result<Option<StoredObject>>;
    /// Keys under `prefix`, sorted.
    fn list_objects(&self, bucket: &str, prefix: &str) -> io::Result<Vec<String>>;
    /// Where an object lives, for messages (`s3://bucket/key`, or a file path for the
    /// filesystem target).
    fn locate(&self, bucket: &str, key: &str) -> String;
    /// Whether `trail`'s bucket exists and its policy lets CloudTrail write there (what
    /// `CreateTrail` and `UpdateTrail` check). The filesystem target accepts every trail.
    fn check_trail_bucket(&self, trail: &Trail) -> Result<(), BucketProblem> {
        let _ = trail;
        Ok(())
    }
}

/// Why a trail's bucket cannot take its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketProblem {
    /// No bucket of that name (`S3BucketDoesNotExistException`).
    NoSuchBucket,
    /// The bucket policy does not let `cloudtrail.amazonaws.com` read the bucket ACL and write
    /// under `[prefix/]AWSLogs/<account>/` (`InsufficientS3BucketPolicyException`).
    InsufficientPolicy,
    /// The store failed.
    Unavailable(String),
}

/// Objects as files under a root directory (`DIR/s3`).
#[derive(Debug, Clone)]
pub struct FsDelivery {
    root: PathBuf,
}

/// Directory (under the root) holding object metadata; not a valid bucket name.
const METADATA_DIR: &str = ".metadata";

fn safe_relative(key: &str) -> io::Result<PathBuf> {
    let p = Path::new(key);
    if key.is_empty() || p.is_absolute() || p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid object key '{key}'")));
    }
    Ok(p.to_path_buf())
}

fn safe_bucket(bucket: &str) -> io::Result<&str> {
    if bucket.is_empty() || bucket.starts_with('.') || bucket.contains('/') || bucket.contains('\\') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("invalid bucket '{bucket}'")));
    }
    Ok(bucket)
}

fn write_durably(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("object"),
        rand::thread_rng().gen::<u32>()
    ));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl FsDelivery {
    /// A target rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> FsDelivery {
        FsDelivery { root: root.into() }
    }

    fn object_path(&self, bucket: &str, key: &str) -> io::Result<PathBuf> {
        Ok(self.root.join(safe_bucket(bucket)?).join(safe_relative(key)?))
    }

    fn metadata_path(&self, bucket: &str, key: &str) -> io::Result<PathBuf> {
        Ok(self
            .root
            .join(METADATA_DIR)
            .join(safe_bucket(bucket)?)
            .join(format!("{}.json", safe_relative(key)?.display())))
    }
}

impl TrailDelivery for FsDelivery {
    fn put_object(&self, bucket: &str, key: &str, body: &[u8], metadata: &BTreeMap<String, String>) -> io::Result<()> {
        let path = self.object_path(bucket, key)?;
        if !metadata.is_empty() {
            let json = serde_json::to_vec(metadata).map_err(io::Error::other)?;
            write_durably(&self.metadata_path(bucket, key)?, &json)?;
        }
        write_durably(&path, body)
    }

    fn get_object(&self, bucket: &str, key: &str) -> io::Result<Option<StoredObject>> {
        let path = self.object_path(bucket, key)?;
        let body = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let metadata = match fs::read(self.metadata_path(bucket, key)?) {
            Ok(m) => serde_json::from_slice(&m).unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        Ok(Some(StoredObject { body, metadata }))
    }

    fn list_objects(&self, bucket: &str, prefix: &str) -> io::Result<Vec<String>> {
        let base = self.root.join(safe_bucket(bucket)?);
        // Walk from the deepest directory the prefix names.
        let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let start = if dir_part.is_empty() { base.clone() } else { base.join(safe_relative(dir_part)?) };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&base) {
                    let key = rel.components().filter_map(|c| c.as_os_str().to_str()).collect::<Vec<_>>().join("/");
                    let hidden = key.rsplit('/').next().is_some_and(|n| n.starts_with('.'));
                    if !hidden && key.starts_with(prefix) {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn locate(&self, bucket: &str, key: &str) -> String {
        self.object_path(bucket, key).map(|p| p.display().to_string()).unwrap_or_else(|_| format!("{bucket}/{key}"))
    }
}

/// gzip `data`.
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4), flate2::Compression::default());
    e.write_all(data)?;
    e.finish()
}

/// gunzip `data` (at most `limit` bytes of output).
pub fn gunzip(data: &[u8], limit: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).take(limit).read_to_end(&mut out)?;
    Ok(out)
}

fn stamp(millis: i64, with_seconds: bool) -> String {
    let t = datetime(millis);
    if with_seconds {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    } else {
        format!("{:04}{:02}{:02}T{:02}{:02}Z", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
    }
}

fn date_path(millis: i64) -> String {
    let t = datetime(millis);
    format!("{:04}/{:02}/{:02}", t.year(), u8::from(t.month()), t.day())
}

fn random_suffix() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..16).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// Key of a log file: `[prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<random>.json.gz`.
pub fn log_file_key(trail: &Trail, region: &str, millis: i64) -> String {
    format!(
        "{}AWSLogs/{acct}/CloudTrail/{region}/{}/{acct}_CloudTrail_{region}_{}_{}.json.gz",
        trail.prefix_path(),
        date_path(millis),
        stamp(millis, false),
        random_suffix(),
        acct = trail.account,
    )
}

/// The time a chain's next digest is stamped with: `now`, or the second after the previous
/// digest's when that one was stamped in the same second (a final delivery right after a
/// periodic one). A digest file's key names its time to the second: two digests of one second
/// would share a key, and the later would overwrite the earlier and drop its log files from the
/// chain. AWS's hourly digests never meet this; shorter periods and shutdowns can.
fn digest_time(chain: &DigestChain, now: i64) -> i64 {
    match &chain.previous {
        Some(p) if now.div_euclid(1000) <= p.end_millis.div_euclid(1000) => (p.end_millis.div_euclid(1000) + 1) * 1000,
        _ => now,
    }
}

/// Key of a digest file: `[prefix/]AWSLogs/<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHmmssZ>.json.gz`.
pub fn digest_file_key(trail: &Trail, region: &str, end_millis: i64) -> String {
    format!(
        "{}AWSLogs/{acct}/CloudTrail-Digest/{region}/{}/{acct}_CloudTrail-Digest_{region}_{}_{}_{}.json.gz",
        trail.prefix_path(),
        date_path(end_millis),
        trail.name,
        trail.home_region,
        stamp(end_millis, true),
        acct = trail.account,
    )
}

/// Whether an event of `event_source` in `region` is a global service event.
pub fn is_global_service_event(event_source: &str, region: &str) -> bool {
    matches!(event_source, "iam.amazonaws.com" | "organizations.amazonaws.com")
        || (event_source == "sts.amazonaws.com" && region == "us-east-1")
}

/// Whether `trail` delivers `event`.
pub fn trail_wants(trail: &Trail, event: &DeliveryEvent) -> bool {
    if event.account != trail.account {
        return false;
    }
    let global = is_global_service_event(&event.event_source, &event.region);
    if global && !trail.include_global_service_events {
        return false;
    }
    if !trail.is_multi_region_trail && event.region != trail.home_region {
        return false;
    }
    let started = trail.state.start_logging_millis.unwrap_or(i64::MAX);
    let stopped = if trail.state.is_logging { i64::MAX } else { trail.state.stop_logging_millis.unwrap_or(i64::MIN) };
    event.event_time_millis >= started.saturating_sub(1000) && event.event_time_millis <= stopped
}

/// Timing of deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// How often log files are delivered.
    pub interval: Duration,
    /// How long a digest file's period is (AWS: one hour).
    pub digest_period: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig { interval: Duration::from_secs(60), digest_period: Duration::from_secs(3600) }
    }
}

/// Most records in one log file.
const MAX_RECORDS_PER_FILE: usize = 5000;
/// Events read from the store per batch.
const READ_BATCH: usize = 5000;

/// Delivers trails' log and digest files.
pub struct Deliverer {
    store: Arc<dyn AuditStore>,
    target: Arc<dyn TrailDelivery>,
    config: DeliveryConfig,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    running: Mutex<()>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer").field("config", &self.config).finish()
    }
}

#[derive(Default)]
struct Pending {
    /// Region → records.
    by_region: BTreeMap<String, Vec<DeliveryEvent>>,
}

impl Deliverer {
    /// A deliverer over `store`, writing to `target`; `clock` gives epoch milliseconds.
    pub fn new(
        store: Arc<dyn AuditStore>,
        target: Arc<dyn TrailDelivery>,
        config: DeliveryConfig,
        clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    ) -> Deliverer {
        Deliverer { store, target, config, clock, running: Mutex::new(()) }
    }

    /// How long a delivery lease lasts: three delivery intervals, at least 15 seconds. The holder
    /// renews it at each delivery; if it stops, another server takes over once it expires.
    fn lease_ttl(&self) -> Duration {
        (self.config.interval * 3).max(Duration::from_secs(15))
    }

    /// The delivery target.
    pub fn target(&self) -> &Arc<dyn TrailDelivery> {
        &self.target
    }

    /// Deliver what is due now. With `close`, also write a digest for every chain with
    /// undigested log files or time (server shutdown).
    pub fn run_once(&self, close: bool) -> Result<(), AuditError> {
        let _one_at_a_time = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Servers sharing a store take turns: only the lease holder delivers.
        if !self.store.delivery_lease(self.lease_ttl())? {
            return Ok(());
        }
        let now = (self.clock)();
        let trails: Vec<Trail> = self
            .store
            .trails(None)?
            .into_iter()
            .filter(|t| t.state.is_logging || t.state.final_delivery_pending)
            .collect();
        if trails.is_empty() {
            return Ok(());
        }
        let snapshot = self.store.max_seq()?;
        let mut pending: Vec<Pending> = trails.iter().map(|_| Pending::default()).collect();
        let mut cursor = trails.iter().map(|t| t.state.cursor).min().unwrap_or(snapshot);
        while cursor < snapshot {
            let batch = self.store.events_after(cursor, READ_BATCH)?;
            let Some(last) = batch.last() else { break };
            cursor = last.seq;
            for ev in batch.into_iter().filter(|e| e.seq <= snapshot) {
                for (t, p) in trails.iter().zip(pending.iter_mut()) {
                    if ev.seq > t.state.cursor && trail_wants(t, &ev) {
                        p.by_region.entry(ev.region.clone()).or_default().push(ev.clone());
                    }
                }
            }
        }
        for (trail, p) in trails.iter().zip(pending) {
            self.deliver_trail(trail, p, snapshot, now, close);
        }
        Ok(())
    }

    fn deliver_trail(&self, trail: &Trail, pending: Pending, snapshot: i64, now: i64, close: bool) {
        let mut delivered: Vec<(String, LogFileEntry)> = Vec::new();
        let mut error: Option<String> = None;
        for (region, events) in &pending.by_region {
            for chunk in events.chunks(MAX_RECORDS_PER_FILE) {
                match self.write_log_file(trail, region, chunk, now) {
                    Ok(entry) => delivered.push((region.clone(), entry)),
                    Err(e) => {
                        tracing::error!(trail = %trail.arn(), error = %e, "log file delivery failed");
                        error = Some(format!("{e}"));
                        break;
                    }
                }
            }
            if error.is_some() {
                break;
            }
        }
        let attempted = !pending.by_region.is_empty();
        let stopping = trail.state.final_delivery_pending && !trail.state.is_logging;
        let mut change = |t: &mut Trail| {
            for (region, entry) in &delivered {
                let chain = t
                    .state
                    .chains
                    .entry(region.clone())
                    .or_insert_with(|| DigestChain { start_millis: now, ..Default::default() });
                chain.oldest_event_millis =
                    Some(chain.oldest_event_millis.map_or(entry.oldest_millis, |o| o.min(entry.oldest_millis)));
                chain.newest_event_millis =
                    Some(chain.newest_event_millis.map_or(entry.newest_millis, |n| n.max(entry.newest_millis)));
                chain.pending.push(entry.clone());
            }
            if attempted {
                t.state.latest_delivery_attempt_millis = Some(now);
            }
            match &error {
                None => {
                    t.state.cursor = t.state.cursor.max(snapshot);
                    if !delivered.is_empty() {
                        t.state.latest_delivery_millis = Some(now);
                        t.state.latest_delivery_attempt_succeeded_millis = Some(now);
                        t.state.latest_delivery_error = None;
                    }
                }
                Some(e) => t.state.latest_delivery_error = Some(e.clone()),
            }
        };
        let updated = match self.store.update_trail(&trail.account, &trail.name, &mut change) {
            Ok(Some(t)) => t,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(trail = %trail.arn(), error = %e, "recording a delivery failed");
                return;
            }
        };
        if error.is_some() || !updated.log_file_validation_enabled {
            if stopping && error.is_none() {
                let _ = self.store.update_trail(&trail.account, &trail.name, &mut |t| {
                    if !t.state.is_logging {
                        t.state.final_delivery_pending = false;
                    }
                });
            }
            return;
        }
        // Digests: every chain whose period is over, or every chain when closing/stopping.
        let period = i64::try_from(self.config.digest_period.as_millis()).unwrap_or(i64::MAX);
        let mut regions: Vec<String> = updated.state.chains.keys().cloned().collect();
        if !regions.contains(&updated.home_region) {
            regions.push(updated.home_region.clone());
        }
        for region in regions {
            let chain = updated
                .state
                .chains
                .get(&region)
                .cloned()
                .unwrap_or(DigestChain { start_millis: now, ..Default::default() });
            let at = digest_time(&chain, now);
            let due = now - chain.start_millis >= period;
            // Closing: a digest for the log files pending, or for the time since the last digest
            // unless that one was written this very second (an empty digest would only be
            // stamped ahead of the clock).
            let closing = (close || stopping) && (!chain.pending.is_empty() || (now > chain.start_millis && at == now));
            if !(due || closing) {
                if !updated.state.chains.contains_key(&region) {
                    let _ = self.store.update_trail(&trail.account, &trail.name, &mut |t| {
                        t.state.chains.entry(region.clone()).or_insert_with(|| chain.clone());
                    });
                }
                continue;
            }
            if let Err(e) = self.write_digest(&updated, &region, &chain, at) {
                tracing::error!(trail = %trail.arn(), error = %e, "digest delivery failed");
                let msg = match e {
                    AuditError::Storage(m) => m,
                    other => other.to_string(),
                };
                let _ = self.store.update_trail(&trail.account, &trail.name, &mut |t| {
                    t.state.latest_digest_error = Some(msg.clone());
                });
                return;
            }
        }
        if stopping {
            let _ = self.store.update_trail(&trail.account, &trail.name, &mut |t| {
                if !t.state.is_logging {
                    t.state.final_delivery_pending = false;
                }
            });
        }
    }

    fn write_log_file(
        &self,
        trail: &Trail,
        region: &str,
        events: &[DeliveryEvent],
        now: i64,
    ) -> io::Result<LogFileEntry> {
        let mut json = String::with_capacity(events.iter().map(|e| e.record.len() + 1).sum::<usize>() + 16);
        json.push_str("{\"Records\":[");
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&e.record);
        }
        json.push_str("]}");
        let key = log_file_key(trail, region, now);
        let body = gzip(json.as_bytes())?;
        self.target.put_trail_file(trail, &key, &body, &BTreeMap::new())?;
        Ok(LogFileEntry {
            bucket: trail.s3_bucket_name.clone(),
            object: key,
            hash: sha256_hex(json.as_bytes()),
            oldest_millis: events.iter().map(|e| e.event_time_millis).min().unwrap_or(now),
            newest_millis: events.iter().map(|e| e.event_time_millis).max().unwrap_or(now),
        })
    }

    /// Write the chain's next digest file, stamped `at` (see [`digest_time`]), and move the chain on.
    fn write_digest(&self, trail: &Trail, region: &str, chain: &DigestChain, at: i64) -> Result<(), AuditError> {
        let signer = self.store.digest_signer(at)?;
        let key = digest_file_key(trail, region, at);
        let end_time = event_time(at);
        let digest = DigestFile {
            aws_account_id: trail.account.clone(),
            digest_start_time: event_time(chain.start_millis),
            digest_end_time: end_time.clone(),
            digest_s3_bucket: trail.s3_bucket_name.clone(),
            digest_s3_object: key.clone(),
            digest_public_key_fingerprint: signer.public.fingerprint.clone(),
            digest_signature_algorithm: SIGNATURE_ALGORITHM.into(),
            newest_event_time: chain.newest_event_millis.map(event_time),
            oldest_event_time: chain.oldest_event_millis.map(event_time),
            previous_digest_s3_bucket: chain.previous.as_ref().map(|p| p.bucket.clone()),
            previous_digest_s3_object: chain.previous.as_ref().map(|p| p.object.clone()),
            previous_digest_hash_value: chain.previous.as_ref().map(|p| p.hash.clone()),
            previous_digest_hash_algorithm: chain.previous.as_ref().map(|_| HASH_ALGORITHM.to_string()),
            previous_digest_signature: chain.previous.as_ref().map(|p| p.signature.clone()),
            log_files: chain
                .pending
                .iter()
                .map(|l| DigestLogFile {
                    s3_bucket: l.bucket.clone(),
                    s3_object: l.object.clone(),
                    hash_value: l.hash.clone(),
                    hash_algorithm: HASH_ALGORITHM.into(),
                    newest_event_time: event_time(l.newest_millis),
                    oldest_event_time: event_time(l.oldest_millis),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&digest).map_err(|e| AuditError::Storage(e.to_string()))?;
        let hash = sha256_hex(&json);
        let to_sign = signing_string(
            &end_time,
            &trail.s3_bucket_name,
            &key,
            &hash,
            chain.previous.as_ref().map(|p| p.signature.as_str()),
        );
        let signature = signer.sign(to_sign.as_bytes());
        let mut metadata = BTreeMap::new();
        metadata.insert(SIGNATURE_METADATA.to_string(), signature.clone());
        metadata.insert(SIGNATURE_ALGORITHM_METADATA.to_string(), SIGNATURE_ALGORITHM.to_string());
        let body = gzip(&json).map_err(|e| AuditError::Storage(e.to_string()))?;
        // The error as GetTrailStatus shows it (`NoSuchBucket`, `AccessDenied`); the key is logged.
        self.target.put_trail_file(trail, &key, &body, &metadata).map_err(|e| {
            tracing::warn!(trail = %trail.arn(), %key, error = %e, "digest file not written");
            AuditError::Storage(e.to_string())
        })?;
        let covered: Vec<String> = chain.pending.iter().map(|l| l.object.clone()).collect();
        let region = region.to_string();
        let previous =
            PreviousDigest { bucket: trail.s3_bucket_name.clone(), object: key, hash, signature, end_millis: at };
        self.store.update_trail(&trail.account, &trail.name, &mut |t| {
            let c = t.state.chains.entry(region.clone()).or_default();
            c.pending.retain(|l| !covered.contains(&l.object));
            c.previous = Some(previous.clone());
            c.start_millis = at;
            c.oldest_event_millis = None;
            c.newest_event_millis = None;
            for l in &c.pending {
                c.oldest_event_millis = Some(c.oldest_event_millis.map_or(l.oldest_millis, |o| o.min(l.oldest_millis)));
                c.newest_event_millis = Some(c.newest_event_millis.map_or(l.newest_millis, |n| n.max(l.newest_millis)));
            }
            t.state.latest_digest_millis = Some(at);
            t.state.latest_digest_error = None;
        })?;
        Ok(())
    }

    /// Run deliveries every `interval` on a thread until the handle is shut down.
    pub fn spawn(self: Arc<Self>) -> io::Result<DeliveryHandle> {
        let (stop, stopped) = mpsc::channel::<()>();
        let me = Arc::clone(&self);
        let thread = std::thread::Builder::new().name("audit-delivery".into()).spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(me.config.interval) {
                if let Err(e) = me.run_once(false) {
                    tracing::error!(error = %e, "trail delivery failed");
                }
            }
        })?;
        Ok(DeliveryHandle { stop: Some(stop), thread: Some(thread), deliverer: self })
    }
}

/// The running delivery thread.
#[derive(Debug)]
pub struct DeliveryHandle {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    deliverer: Arc<Deliverer>,
}

impl DeliveryHandle {
    /// Stop the thread, then deliver everything pending and close every digest period.
    pub fn shutdown(mut self) {
        self.stop_thread();
        if let Err(e) = self.deliverer.run_once(true) {
            tracing::error!(error = %e, "final trail delivery failed");
        }
        if let Err(e) = self.deliverer.store.release_delivery_lease() {
            tracing::warn!(error = %e, "cannot release the trail delivery lease; another server takes over when it expires");
        }
    }

    fn stop_thread(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for DeliveryHandle {
    fn drop(&mut self) {
        self.stop_thread();
    }
}
