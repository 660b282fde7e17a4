//! What every Tessera service shares, over the [`Store`]: [`Services`], the caller, records,
//! authorization, the STS session tokens that authenticate `ASIA...` keys, the Organizations
//! view the authorizer reads, and first start. The services live in crates of their own
//! (`tessera-iam`, `tessera-sts`, ...); `tessera-services` dispatches to them.
//!
//! The flow is always authenticate ([`Services::credentials`]) → authorize
//! ([`Services::authorize`], inside each operation, before it touches state) → operate (one
//! store transaction) → respond.

pub mod access_record;
pub mod authz;
pub mod bootstrap;
pub mod cache;
pub mod caller;
pub mod clock;
pub mod ids;
pub mod managed;
pub mod model;
pub mod org;
pub mod sts;
pub mod validate;

use std::sync::Arc;

use tessera_store::secrets::SecretBox;
use tessera_store::{Store, StoreError};
use tessera_wire::{AwsError, Protocol, QueryParams};

pub use caller::{Call, CallMeta, Caller, CallerKind, SessionInfo, WorkloadIdentity};
pub use clock::{Clock, SystemClock};

/// A service of the AWS API that Tessera serves on its one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceName {
    /// AWS STS (query protocol).
    Sts,
    /// IAM (query protocol).
    Iam,
    /// AWS Organizations (JSON 1.1).
    Organizations,
    /// Amazon EC2 (EC2 protocol).
    Ec2,
    /// AWS CloudTrail (JSON 1.1).
    CloudTrail,
    /// Amazon S3 (REST-XML).
    S3,
    /// AWS Account Management (REST-JSON).
    Account,
    /// IAM Access Analyzer (REST-JSON); its operations run in the `tessera-analyzer` crate.
    AccessAnalyzer,
    /// AWS Private CA (`acm-pca`): Smithy RPC v2 CBOR, or JSON 1.1 for a request with
    /// `X-Amz-Target`; its operations run in the `tessera-pca` crate.
    PrivateCa,
}

impl ServiceName {
    /// From the service in a SigV4 credential scope.
    pub fn from_signing_name(name: &str) -> Option<Self> {
        Some(match name {
            "sts" => ServiceName::Sts,
            "iam" => ServiceName::Iam,
            "organizations" => ServiceName::Organizations,
            "ec2" => ServiceName::Ec2,
            "cloudtrail" => ServiceName::CloudTrail,
            "s3" => ServiceName::S3,
            "account" => ServiceName::Account,
            "access-analyzer" => ServiceName::AccessAnalyzer,
            "acm-pca" => ServiceName::PrivateCa,
            _ => return None,
        })
    }

    /// The SigV4 signing name, also the IAM action prefix.
    pub fn signing_name(self) -> &'static str {
        match self {
            ServiceName::Sts => "sts",
            ServiceName::Iam => "iam",
            ServiceName::Organizations => "organizations",
            ServiceName::Ec2 => "ec2",
            ServiceName::CloudTrail => "cloudtrail",
            ServiceName::S3 => "s3",
            ServiceName::Account => "account",
            ServiceName::AccessAnalyzer => "access-analyzer",
            ServiceName::PrivateCa => "acm-pca",
        }
    }

    /// The wire protocol (for AWS Private CA, the one of a request without `X-Amz-Target`: the
    /// server picks JSON 1.1 per request when it has one).
    pub fn protocol(self) -> Protocol {
        match self {
            ServiceName::Sts => Protocol::Query { xmlns: tessera_wire::response::STS_XMLNS },
            ServiceName::Iam => Protocol::Query { xmlns: tessera_wire::response::IAM_XMLNS },
            ServiceName::Organizations | ServiceName::CloudTrail => Protocol::Json,
            ServiceName::Ec2 => Protocol::Ec2,
            ServiceName::S3 => Protocol::RestXml,
            ServiceName::Account | ServiceName::AccessAnalyzer => Protocol::RestJson,
            ServiceName::PrivateCa => Protocol::RpcV2Cbor,
        }
    }

    /// `(method, requestUri, operation)` of a REST-JSON service's operations (empty for the
    /// other protocols, whose operation is in the body or a header).
    pub fn rest_routes(self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self {
            ServiceName::Account => tessera_wire::operations::ACCOUNT_ROUTES,
            ServiceName::AccessAnalyzer => tessera_wire::operations::ACCESSANALYZER_ROUTES,
            _ => &[],
        }
    }

    /// The signing names of every service Tessera serves.
    pub const SERVED: &'static [&'static str] =
        &["sts", "iam", "organizations", "ec2", "cloudtrail", "s3", "account", "access-analyzer", "acm-pca"];

    /// Every operation name of the service's API model.
    pub fn operations(self) -> &'static [&'static str] {
        use tessera_wire::operations::*;
        match self {
            ServiceName::Sts => STS_OPERATIONS,
            ServiceName::Iam => IAM_OPERATIONS,
            ServiceName::Organizations => ORGANIZATIONS_OPERATIONS,
            ServiceName::Ec2 => EC2_OPERATIONS,
            ServiceName::CloudTrail => CLOUDTRAIL_OPERATIONS,
            ServiceName::S3 => S3_OPERATIONS,
            ServiceName::Account => ACCOUNT_OPERATIONS,
            ServiceName::AccessAnalyzer => ACCESSANALYZER_OPERATIONS,
            ServiceName::PrivateCa => ACM_PCA_OPERATIONS,
        }
    }
}

/// The decoded input of an operation.
#[derive(Debug, Clone)]
pub enum Input {
    /// Query / EC2 protocol parameters.
    Query(QueryParams),
    /// JSON 1.1 or REST-JSON body.
    Json(serde_json::Value),
    /// A Smithy RPC v2 CBOR body in its JSON form ([`tessera_wire::cbor::decode_body`]); the
    /// answer goes back in CBOR.
    Cbor(serde_json::Value),
}

impl Input {
    /// The query parameters, or an error for a JSON input.
    pub fn query(&self) -> Result<&QueryParams, AwsError> {
        match self {
            Input::Query(q) => Ok(q),
            Input::Json(_) | Input::Cbor(_) => {
                Err(AwsError::new(400, "InvalidRequest", "expected a query-protocol request"))
            }
        }
    }
    /// The JSON body (or a CBOR body's JSON form), or an error for a query input.
    pub fn json(&self) -> Result<&serde_json::Value, AwsError> {
        match self {
            Input::Json(v) | Input::Cbor(v) => Ok(v),
            Input::Query(_) => Err(AwsError::new(400, "InvalidRequest", "expected a JSON request")),
        }
    }
}

/// Configuration of the services.
#[derive(Debug, Clone)]
pub struct Config {
    /// The base URL the server answers on (for OIDC, IMDS and console links).
    pub endpoint: String,
}

/// Shared state of every service.
pub struct Services {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Seals secrets at rest.
    pub secrets: SecretBox,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Configuration.
    pub config: Config,
    /// Decoded records, tagged with the store generation they were read at.
    pub caches: cache::Caches,
    /// STS state in memory (decrypted token keys); `Default::default()` to start.
    pub sts: sts::StsState,
    /// The audit trail (CloudTrail events and trails).
    pub audit: Arc<dyn tessera_audit::AuditStore>,
    /// Where trails deliver (Tessera's S3 buckets, set by the server once S3 is open);
    /// `CreateTrail`/`UpdateTrail` check the bucket and its policy through it. Unset: no check.
    pub trail_target: std::sync::OnceLock<Arc<dyn tessera_audit::delivery::TrailDelivery>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").field("store", &self.store.backend_name()).finish()
    }
}

/// Whether Organizations' `CloseAccount` closed `account`, read in `read`.
fn account_closed_in(read: &dyn tessera_store::ReadTxn, account: &str) -> Result<bool, AwsError> {
    let record: Option<model::Account> = model::load(read, model::table::ACCOUNT, account).map_err(internal)?;
    Ok(record.is_some_and(|a| a.closed.is_some()))
}

/// A storage failure becomes a generic 500; the detail is logged, never returned.
pub fn internal(e: StoreError) -> AwsError {
    tracing::error!(error = %e, "storage failure");
    AwsError::internal()
}

impl Services {
    /// Services over `store`, sealing secrets with `secrets`.
    pub fn new(store: Arc<dyn Store>, secrets: SecretBox, clock: Arc<dyn Clock>, config: Config) -> Services {
        Services {
            store,
            secrets,
            clock,
            config,
            caches: cache::Caches::default(),
            sts: sts::StsState::default(),
            audit: Arc::new(tessera_audit::NotConfigured),
            trail_target: std::sync::OnceLock::new(),
        }
    }

    /// The same services recording their audit events in `audit` (without one, every audited
    /// request fails).
    pub fn with_audit(mut self, audit: Arc<dyn tessera_audit::AuditStore>) -> Services {
        self.audit = audit;
        self
    }

    /// Services on an in-memory store with a fresh key and the given clock, for tests.
    pub fn in_memory(clock: Arc<dyn Clock>) -> Result<Services, StoreError> {
        let store = tessera_store::sqlite::SqliteStore::open_in_memory()?;
        let secrets = SecretBox::new(&SecretBox::generate_key());
        let services =
            Services::new(Arc::new(store), secrets, clock, Config { endpoint: "http://127.0.0.1:8750".into() });
        Ok(match tessera_audit::sqlite::SqliteAuditStore::open_in_memory() {
            Ok(audit) => services.with_audit(Arc::new(audit)),
            Err(_) => services,
        })
    }

    /// The credentials behind an access key id: the caller and the secret to verify the
    /// signature with. `security_token` is the `X-Amz-Security-Token` of the request.
    ///
    /// Unknown or inactive keys give `InvalidClientTokenId`, as AWS answers.
    pub fn credentials(&self, access_key_id: &str, security_token: Option<&str>) -> Result<(Caller, String), AwsError> {
        let generation = self.store.generation();
        if access_key_id.starts_with("ASIA") {
            let found = sts::session_credentials(self, access_key_id, security_token)?;
            // A session outlives nothing: made before its account closed, it stops with it.
            if self.account_closed(generation, &found.0.account)? {
                return Err(sts::invalid_token());
            }
            return Ok(found);
        }
        self.caches.credentials.get_or_load(generation, access_key_id, || self.load_credentials(access_key_id))
    }

    /// Whether Organizations' `CloseAccount` closed `account`: its record, read once per store
    /// generation.
    fn account_closed(&self, generation: u64, account: &str) -> Result<bool, AwsError> {
        self.caches.closed_account.get_or_load(generation, account, || {
            let read = self.store.read().map_err(internal)?;
            account_closed_in(read.as_ref(), account)
        })
    }

    /// [`Services::credentials`] for a long-term key, from the store.
    /// A closed account's keys (its root's and its users') are refused like unknown ones; the
    /// answer is cached with the key.
    fn load_credentials(&self, access_key_id: &str) -> Result<(Caller, String), AwsError> {
        let invalid = sts::invalid_token;
        let read = self.store.read().map_err(internal)?;
        let key: model::AccessKey = model::load(read.as_ref(), model::table::ACCESS_KEY, access_key_id)
            .map_err(internal)?
            .ok_or_else(invalid)?;
        // In this read transaction: a second one beside it would wait on the embedded store.
        if key.status != "Active" || account_closed_in(read.as_ref(), &key.account)? {
            return Err(invalid());
        }
        let secret =
            self.secrets.open(&model::AccessKey::seal_context(access_key_id), &key.secret_sealed).map_err(internal)?;
        let secret = String::from_utf8(secret).map_err(|_| AwsError::internal())?;
        let caller = match &key.owner {
            model::KeyOwner::Root => Caller::root(&key.account, access_key_id),
            model::KeyOwner::User { name } => {
                let user: model::User =
                    model::load(read.as_ref(), model::table::USER, &model::name_key(&key.account, name))
                        .map_err(internal)?
                        .ok_or_else(invalid)?;
                Caller {
                    account: key.account.clone(),
                    arn: user.arn(),
                    user_id: user.user_id.clone(),
                    kind: CallerKind::User { name: user.name, path: user.path, user_id: user.user_id },
                    access_key_id: access_key_id.to_string(),
                    session: None,
                }
            }
        };
        Ok((caller, secret))
    }
}
