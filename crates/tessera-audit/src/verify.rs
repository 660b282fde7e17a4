//! Checking a trail's delivered files, as `aws cloudtrail validate-logs` does: each digest file's
//! signature, the hash chain between digests, and every listed log file's hash.
//!
//! A chain is walked from its newest digest (known to the store) back to its first. A digest
//! that is missing, altered or out of place, and a log file that is missing or altered, are each
//! reported; the oldest of them is the first broken link.

use std::collections::BTreeSet;
use std::path::Path;

use crate::delivery::{gunzip, TrailDelivery};
use crate::digest::{sha256_hex, signing_string, DigestFile, PublicKeyInfo, SIGNATURE_METADATA};
use crate::event::parse_iso8601;
use crate::store::{AuditError, Trail};

/// Largest uncompressed log or digest file read.
const MAX_FILE: u64 = 1 << 30;

/// The verdict on one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileResult {
    /// `Digest file` or `Log file`.
    pub kind: &'static str,
    /// `s3://bucket/key`.
    pub uri: String,
    /// Where it is on disk.
    pub location: String,
    /// `None` when valid, else why not.
    pub problem: Option<String>,
    /// Time used to order problems (digest end time / newest event time, epoch ms).
    pub time_millis: i64,
}

impl FileResult {
    /// One line, like validate-logs prints.
    pub fn line(&self) -> String {
        match &self.problem {
            None => format!("{:<12} {}  valid", self.kind, self.uri),
            Some(p) => format!("{:<12} {}  INVALID: {p}", self.kind, self.uri),
        }
    }
}

/// The result of verifying one trail.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrailReport {
    /// Trail ARN.
    pub trail_arn: String,
    /// Every file checked, newest digest first.
    pub files: Vec<FileResult>,
    /// Log files delivered but not yet covered by a digest.
    pub pending_log_files: usize,
    /// Digest files found in the trail's folders but not reached by the chain.
    pub unchained_digests: Vec<String>,
    /// Why the trail could not be checked at all.
    pub note: Option<String>,
}

impl TrailReport {
    /// Digest files (valid, total).
    pub fn digests(&self) -> (usize, usize) {
        count(&self.files, "Digest file")
    }
    /// Log files (valid, total).
    pub fn logs(&self) -> (usize, usize) {
        count(&self.files, "Log file")
    }
    /// The oldest invalid file.
    pub fn first_broken(&self) -> Option<&FileResult> {
        self.files.iter().filter(|f| f.problem.is_some()).min_by_key(|f| (f.time_millis, f.kind == "Log file"))
    }
    /// Whether everything checked is valid.
    pub fn is_valid(&self) -> bool {
        self.files.iter().all(|f| f.problem.is_none())
    }
}

fn count(files: &[FileResult], kind: &str) -> (usize, usize) {
    let all = files.iter().filter(|f| f.kind == kind);
    (all.clone().filter(|f| f.problem.is_none()).count(), all.count())
}

struct Expect {
    bucket: String,
    object: String,
    hash: Option<String>,
    signature: Option<String>,
}

/// Verify every chain of `trail` against the files in `target`.
pub fn verify_trail(trail: &Trail, keys: &[PublicKeyInfo], target: &dyn TrailDelivery) -> TrailReport {
    let mut report = TrailReport { trail_arn: trail.arn(), ..Default::default() };
    if trail.state.chains.values().all(|c| c.previous.is_none()) {
        report.note = Some(if trail.log_file_validation_enabled {
            "no digest file has been delivered yet".into()
        } else {
            "log file validation is not enabled for this trail".into()
        });
    }
    let mut reached: BTreeSet<(String, String)> = BTreeSet::new();
    for (region, chain) in &trail.state.chains {
        report.pending_log_files += chain.pending.len();
        let Some(newest) = &chain.previous else { continue };
        let mut next = Some(Expect {
            bucket: newest.bucket.clone(),
            object: newest.object.clone(),
            hash: Some(newest.hash.clone()),
            signature: Some(newest.signature.clone()),
        });
        let mut guard = 0usize;
        while let Some(expect) = next.take() {
            guard += 1;
            if guard > 1_000_000 {
                break;
            }
            if !reached.insert((expect.bucket.clone(), expect.object.clone())) {
                // The chain leads back to a digest file already checked: the file named as
                // previous was overwritten by a later one (no digest file holds its own hash),
                // and whatever it listed is no longer covered. That link is broken.
                report.files.push(FileResult {
                    kind: "Digest file",
                    uri: format!("s3://{}/{}", expect.bucket, expect.object),
                    location: target.locate(&expect.bucket, &expect.object),
                    problem: Some(
                        "hash value doesn't match (the chain leads back to a digest file already checked)".into(),
                    ),
                    time_millis: digest_time_from_key(&expect.object),
                });
                break;
            }
            next = check_digest(&expect, keys, target, &mut report, region);
        }
    }
    // Digest files under the trail's folders the chains did not reach.
    let mut buckets: BTreeSet<String> = reached.iter().map(|(b, _)| b.clone()).collect();
    buckets.insert(trail.s3_bucket_name.clone());
    for bucket in buckets {
        let prefix = format!("{}AWSLogs/{}/CloudTrail-Digest/", trail.prefix_path(), trail.account);
        let name_part = "_CloudTrail-Digest_";
        if let Ok(keys) = target.list_objects(&bucket, &prefix) {
            for k in keys {
                let ours = k.contains(name_part) && k.contains(&format!("_{}_{}_", trail.name, trail.home_region));
                if ours && !reached.contains(&(bucket.clone(), k.clone())) {
                    report.unchained_digests.push(format!("s3://{bucket}/{k}"));
                }
            }
        }
    }
    report
}

fn check_digest(
    expect: &Expect,
    keys: &[PublicKeyInfo],
    target: &dyn TrailDelivery,
    report: &mut TrailReport,
    region: &str,
) -> Option<Expect> {
    let uri = format!("s3://{}/{}", expect.bucket, expect.object);
    let location = target.locate(&expect.bucket, &expect.object);
    let time = digest_time_from_key(&expect.object);
    let mut result = FileResult { kind: "Digest file", uri, location, problem: None, time_millis: time };
    let object = match target.get_object(&expect.bucket, &expect.object) {
        Ok(Some(o)) => o,
        Ok(None) => {
            result.problem = Some("not found".into());
            report.files.push(result);
            return None;
        }
        Err(e) => {
            result.problem = Some(format!("could not be read: {e}"));
            report.files.push(result);
            return None;
        }
    };
    let json = match gunzip(&object.body, MAX_FILE) {
        Ok(j) => j,
        Err(e) => {
            result.problem = Some(format!("not a valid gzip file ({e})"));
            report.files.push(result);
            return None;
        }
    };
    let hash = sha256_hex(&json);
    let digest: DigestFile = match serde_json::from_slice(&json) {
        Ok(d) => d,
        Err(_) => {
            result.problem = Some("not a valid digest file".into());
            report.files.push(result);
            return None;
        }
    };
    if let Some(t) = parse_iso8601(&digest.digest_end_time) {
        result.time_millis = t;
    }
    let previous = digest.previous_digest_s3_object.as_ref().map(|o| Expect {
        bucket: digest.previous_digest_s3_bucket.clone().unwrap_or_else(|| expect.bucket.clone()),
        object: o.clone(),
        hash: digest.previous_digest_hash_value.clone(),
        signature: digest.previous_digest_signature.clone(),
    });
    let signature = object.metadata.get(SIGNATURE_METADATA).cloned().unwrap_or_default();
    let problem = if digest.digest_s3_bucket != expect.bucket || digest.digest_s3_object != expect.object {
        Some("digest file has been moved or copied from another location".to_string())
    } else if expect.hash.as_deref().is_some_and(|h| h != hash) {
        Some("hash value doesn't match".to_string())
    } else if expect.signature.as_deref().is_some_and(|s| s != signature) {
        Some("signature does not match the one recorded by the next digest".to_string())
    } else {
        match keys.iter().find(|k| k.fingerprint == digest.digest_public_key_fingerprint) {
            None => Some(format!("public key not found for fingerprint {}", digest.digest_public_key_fingerprint)),
            Some(key) => {
                let to_sign = signing_string(
                    &digest.digest_end_time,
                    &digest.digest_s3_bucket,
                    &digest.digest_s3_object,
                    &hash,
                    digest.previous_digest_signature.as_deref(),
                );
                (!key.verify(to_sign.as_bytes(), &signature)).then(|| "signature verification failed".to_string())
            }
        }
    };
    let _ = region;
    result.problem = problem;
    report.files.push(result);
    for lf in &digest.log_files {
        report.files.push(check_log_file(lf, target));
    }
    previous
}

fn check_log_file(lf: &crate::digest::DigestLogFile, target: &dyn TrailDelivery) -> FileResult {
    let uri = format!("s3://{}/{}", lf.s3_bucket, lf.s3_object);
    let location = target.locate(&lf.s3_bucket, &lf.s3_object);
    let time = parse_iso8601(&lf.newest_event_time).unwrap_or(0);
    let problem = match target.get_object(&lf.s3_bucket, &lf.s3_object) {
        Ok(None) => Some("not found".to_string()),
        Err(e) => Some(format!("could not be read: {e}")),
        Ok(Some(o)) => match gunzip(&o.body, MAX_FILE) {
            Err(e) => Some(format!("hash value doesn't match (not a valid gzip file: {e})")),
            Ok(json) => (sha256_hex(&json) != lf.hash_value).then(|| "hash value doesn't match".to_string()),
        },
    };
    FileResult { kind: "Log file", uri, location, problem, time_millis: time }
}

/// `..._20240102T030405Z.json.gz` → epoch ms (0 if the key has no timestamp).
fn digest_time_from_key(key: &str) -> i64 {
    let Some(stem) = key.strip_suffix(".json.gz") else { return 0 };
    let Some(ts) = stem.rsplit('_').next() else { return 0 };
    if ts.len() != 16 {
        return 0;
    }
    let iso = format!("{}-{}-{}T{}:{}:{}Z", &ts[0..4], &ts[4..6], &ts[6..8], &ts[9..11], &ts[11..13], &ts[13..15]);
    parse_iso8601(&iso).unwrap_or(0)
}

/// Verify the trails of a data dir (all, or those named `trail` by name or ARN), reading their
/// files from `target`.
pub fn verify_data_dir(
    data_dir: &Path,
    target: &dyn TrailDelivery,
    trail: Option<&str>,
) -> Result<Vec<TrailReport>, AuditError> {
    let db = data_dir.join("audit.db");
    if !db.exists() {
        return Err(AuditError::Invalid(format!("{} does not exist", db.display())));
    }
    let (trails, keys) = crate::sqlite::read_offline(&db)?;
    verify_trails(&trails, &keys, target, trail)
}

/// Check `trails` (only the one named `trail`, by name or ARN, if given) against `keys`.
pub fn verify_trails(
    trails: &[Trail],
    keys: &[PublicKeyInfo],
    target: &dyn TrailDelivery,
    trail: Option<&str>,
) -> Result<Vec<TrailReport>, AuditError> {
    let chosen: Vec<&Trail> = trails.iter().filter(|t| trail.is_none_or(|n| t.name == n || t.arn() == n)).collect();
    if let Some(n) = trail {
        if chosen.is_empty() {
            return Err(AuditError::Invalid(format!("no trail named {n}")));
        }
    }
    Ok(chosen.into_iter().map(|t| verify_trail(t, keys, target)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_key_times() {
        assert_eq!(
            digest_time_from_key(
                "AWSLogs/1/CloudTrail-Digest/r/2023/11/14/1_CloudTrail-Digest_r_t_r_20231114T221320Z.json.gz"
            ),
            1_700_000_000_000
        );
        assert_eq!(digest_time_from_key("x.json"), 0);
    }
}
