//! EC2 records: instances (no machines run; an instance is its record) and their instance
//! profile associations.

use serde::{Deserialize, Serialize};

use crate::model::Tag;

/// Table names.
pub mod table {
    /// [`super::Instance`] by `<account>/<region>/<instance id>`.
    pub const INSTANCE: &str = "ec2_instance";
    /// Instance id → `<account>/<region>/<instance id>` (IMDS looks instances up by id).
    pub const INSTANCE_ID: &str = "ec2_instance_id";
    /// [`super::ImdsCredentials`] by instance id.
    pub const IMDS_CREDENTIALS: &str = "ec2_imds_credentials";
}

/// Key of an instance record.
pub fn instance_key(account: &str, region: &str, instance_id: &str) -> String {
    format!("{account}/{region}/{instance_id}")
}

/// An instance profile associated with an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileAssociation {
    /// `iip-assoc-...`.
    pub association_id: String,
    /// The profile's ARN at association time.
    pub profile_arn: String,
    /// `AIPA...`.
    pub profile_id: String,
    /// Account of the profile (the instance's account).
    pub profile_account: String,
    /// Profile name.
    pub profile_name: String,
    /// When it was associated (epoch seconds).
    pub since: i64,
}

/// An EC2 instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// `i-` + 17 hex.
    pub instance_id: String,
    /// Owning account.
    pub account: String,
    /// Region.
    pub region: String,
    /// `r-` + 17 hex.
    pub reservation_id: String,
    /// AMI id.
    pub image_id: String,
    /// Instance type.
    pub instance_type: String,
    /// Key pair name.
    #[serde(default)]
    pub key_name: Option<String>,
    /// `running`, `stopped` or `terminated` (transitions complete at once).
    pub state: String,
    /// Launch time (epoch seconds).
    pub launch_time: i64,
    /// Why the state last changed.
    #[serde(default)]
    pub state_reason: String,
    /// Availability zone.
    pub availability_zone: String,
    /// Private IPv4 address.
    pub private_ip: String,
    /// Index in its launch request.
    pub ami_launch_index: u32,
    /// Idempotency token.
    #[serde(default)]
    pub client_token: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Associated instance profile.
    #[serde(default)]
    pub profile: Option<ProfileAssociation>,
    /// When it was terminated (epoch seconds); terminated instances stay visible for an hour.
    #[serde(default)]
    pub terminated_at: Option<i64>,
}

impl Instance {
    /// `arn:aws:ec2:<region>:<account>:instance/<id>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:ec2:{}:{}:instance/{}", self.region, self.account, self.instance_id)
    }

    /// The private DNS name AWS gives the address.
    pub fn private_dns(&self) -> String {
        let ip = self.private_ip.replace('.', "-");
        if self.region == "us-east-1" {
            format!("ip-{ip}.ec2.internal")
        } else {
            format!("ip-{ip}.{}.compute.internal", self.region)
        }
    }

    /// EC2's state code.
    pub fn state_code(state: &str) -> u32 {
        match state {
            "pending" => 0,
            "running" => 16,
            "shutting-down" => 32,
            "terminated" => 48,
            "stopping" => 64,
            "stopped" => 80,
            _ => 0,
        }
    }
}

/// Role credentials IMDS handed an instance, kept so that every read returns the same
/// credentials until they are refreshed. Secret and token are sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImdsCredentials {
    /// The association they were issued for.
    pub association_id: String,
    /// Role ARN.
    pub role_arn: String,
    /// `ASIA...`.
    pub access_key_id: String,
    /// Secret access key, sealed under `imds/<instance id>/secret`.
    pub secret_sealed: String,
    /// Session token, sealed under `imds/<instance id>/token`.
    pub token_sealed: String,
    /// When they were issued (epoch seconds).
    pub issued_at: i64,
    /// When they expire (epoch seconds).
    pub expires_at: i64,
}
