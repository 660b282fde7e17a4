//! One X.509 outbound signer entry of a workload identity provider
//! (`API_WorkloadIdentityX509OutboundSignerDetail.html`): an AWS Private CA certificate
//! authority in a slot (the slot is the CA's key algorithm), with the times that say when it
//! signs and how long its trust material is published.
//!
//! "The times are authoritative"; the status is IAM's reading of them against the current time
//! (`WorkloadIdentityOutboundSignerSummary`): the start time counts as inside the signing
//! window and the end time as outside it.
//! - `IN_TRANSITION`: attached, `StartSigningTime` not yet arrived (trust material published);
//! - `ACTIVE`: signing new credentials (the only status that issues);
//! - `VALIDATING`: no longer signing, trust material still published until
//!   `DiscoveryExpirationTime`;
//! - `INACTIVE`: retired, nothing published.

use serde::{Deserialize, Serialize};

/// How long a stopped signer's trust material stays published (12 hours).
pub const VALIDATING_SECS: i64 = 12 * 3600;

/// The key algorithms (slots) of X.509 signers, in the order Tessera prefers them when several
/// slots hold a signing entry (`GetCertificate` signs with the first; docs/WORKLOAD_IDENTITY.md).
pub const SLOT_KEY_ALGORITHMS: &[&str] =
    &["EC_prime256v1", "EC_secp384r1", "EC_secp521r1", "RSA_2048", "RSA_3072", "RSA_4096"];

/// One X.509 signer entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct X509Signer {
    /// `CertificateAuthorityId`.
    pub ca_id: String,
    /// `AccountId`: the CA's owner.
    pub ca_account: String,
    /// The Region the CA was looked up in (`us-east-1`).
    pub ca_region: String,
    /// The slot: the CA's key algorithm (`EC_prime256v1`, `RSA_2048`, ...).
    pub key_algorithm: String,
    /// `StartSigningTime`, epoch seconds.
    pub start: i64,
    /// `EndSigningTime`, epoch seconds; `None` while there is no end to the signing window.
    #[serde(default)]
    pub end: Option<i64>,
    /// `DiscoveryExpirationTime`, epoch seconds; `None` while trust material stays published.
    #[serde(default)]
    pub discovery_expiration: Option<i64>,
    /// Stopped by a cancelled rotation before it ever signed: `Enable` never resumes it.
    #[serde(default)]
    pub cancelled: bool,
}

impl X509Signer {
    /// `arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>`.
    pub fn ca_arn(&self) -> String {
        tessera_pca::model::ca_arn(&self.ca_region, &self.ca_account, &self.ca_id)
    }

    /// The status at `now` (epoch seconds).
    pub fn status(&self, now: i64) -> &'static str {
        if self.is_signing(now) {
            "ACTIVE"
        } else if now < self.start && self.end.is_none_or(|e| now < e) {
            "IN_TRANSITION"
        } else if self.publishes(now) {
            "VALIDATING"
        } else {
            "INACTIVE"
        }
    }

    /// Whether it signs new credentials at `now`: `start <= now < end`.
    pub fn is_signing(&self, now: i64) -> bool {
        self.start <= now && self.end.is_none_or(|e| now < e)
    }

    /// Whether its trust material is published at `now` (every status but `INACTIVE`).
    pub fn publishes(&self, now: i64) -> bool {
        self.discovery_expiration.is_none_or(|d| now < d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(start: i64, end: Option<i64>, discovery: Option<i64>) -> X509Signer {
        X509Signer {
            ca_id: "ca".into(),
            ca_account: "111122223333".into(),
            ca_region: "us-east-1".into(),
            key_algorithm: "EC_prime256v1".into(),
            start,
            end,
            discovery_expiration: discovery,
            cancelled: false,
        }
    }

    // API_WorkloadIdentityOutboundSignerSummary.html: the start time is inside the signing
    // window and the end time outside it.
    #[test]
    fn status_is_read_from_the_times() {
        let s = signer(100, None, None);
        assert_eq!(s.status(99), "IN_TRANSITION");
        assert_eq!(s.status(100), "ACTIVE");
        let stopped = signer(100, Some(200), Some(200 + VALIDATING_SECS));
        assert_eq!(stopped.status(199), "ACTIVE");
        assert_eq!(stopped.status(200), "VALIDATING");
        assert_eq!(stopped.status(200 + VALIDATING_SECS), "INACTIVE");
        // Stopped before it ever signed (a disable during IN_TRANSITION).
        let never = signer(500, Some(100), Some(100 + VALIDATING_SECS));
        assert_eq!(never.status(150), "VALIDATING");
        assert!(!never.is_signing(600));
        assert_eq!(signer(0, None, None).ca_arn(), "arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/ca");
    }
}
