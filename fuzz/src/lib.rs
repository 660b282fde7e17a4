//! What the fuzz targets share: splitting the input into fields, and an in-memory [`Services`]
//! (SQLite in memory, a manual clock, an OIDC issuer whose key set is served from memory) so
//! that no target needs a server, a disk or the network.

use std::sync::{Arc, OnceLock};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use tessera_services::clock::ManualClock;
use tessera_services::iam::credentials::providers::{OidcProvider, OIDC_PROVIDER};
use tessera_services::sts::oidc::{FetchError, Fetcher};
use tessera_services::{model, CallMeta, Caller, Config, Services};
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;

/// The account every in-memory call is made in.
pub const ACCOUNT: &str = "111122223333";
/// The fixed time of the in-memory services (epoch seconds).
pub const NOW: i64 = 1_700_000_000;
/// The OIDC issuer registered in [`ACCOUNT`].
pub const ISSUER: &str = "https://oidc.example.com/id/FUZZ";
/// Its key set's URL.
pub const JWKS_URL: &str = "https://oidc.example.com/id/FUZZ/keys";
/// The client id registered for the issuer.
pub const CLIENT_ID: &str = "sts.amazonaws.com";
/// The key id of the issuer's signing key.
pub const KID: &str = "fuzz-ec-1";

/// Up to `n` fields of `data`, split at `0xff` bytes (absent fields are empty).
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0xff).collect();
    out.resize(n, &[]);
    out
}

/// [`fields`] as lossy UTF-8 text.
pub fn text_fields(data: &[u8], n: usize) -> Vec<String> {
    fields(data, n).into_iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect()
}

/// The issuer's answers: the discovery document and the key set, from memory.
struct MemoryIssuer {
    jwks: Vec<u8>,
}

impl Fetcher for MemoryIssuer {
    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        if url == format!("{ISSUER}/.well-known/openid-configuration") {
            Ok(json!({"issuer": ISSUER, "jwks_uri": JWKS_URL}).to_string().into_bytes())
        } else if url == JWKS_URL {
            Ok(self.jwks.clone())
        } else {
            Err(FetchError::Unreachable("not served in memory".into()))
        }
    }
}

/// The in-memory world of the targets that need [`Services`].
pub struct World {
    /// The services (in-memory store, clock fixed at [`NOW`]).
    pub services: Services,
    /// The issuer's EC P-256 private key (PKCS#8 DER), to sign valid ID tokens.
    pub ec_pkcs8: Vec<u8>,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The process-wide [`World`], made on first use.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let store = Arc::new(SqliteStore::open_in_memory().expect("in-memory store"));
        let clock = Arc::new(ManualClock::new(NOW * 1000));
        let services =
            Services::new(store, SecretBox::new(&[7u8; 32]), clock, Config { endpoint: "http://127.0.0.1:1".into() });
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("EC key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("EC key");
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "kid": KID, "crv": "P-256", "use": "sig",
            "x": b64(&point[1..33]), "y": b64(&point[33..65])});
        let jwks = json!({ "keys": [jwk] }).to_string().into_bytes();
        services.sts.oidc.set_fetcher(Arc::new(MemoryIssuer { jwks }));
        let provider = OidcProvider {
            account: ACCOUNT.into(),
            url: ISSUER.into(),
            created: NOW,
            client_ids: vec![CLIENT_ID.into()],
            thumbprints: vec![],
            tags: vec![],
        };
        let resource = provider.resource().to_string();
        let mut w = services.store.write().expect("store write");
        model::save(w.as_mut(), OIDC_PROVIDER, &format!("{ACCOUNT}/{resource}"), &provider).expect("save provider");
        w.commit().expect("commit");
        World { services, ec_pkcs8: pkcs8.as_ref().to_vec() }
    })
}

impl World {
    /// An ES256 ID token for `claims`, signed with the issuer's key.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.ec_pkcs8)).expect("signing")
    }

    /// The claims of a valid ID token at [`NOW`].
    pub fn claims(&self) -> Value {
        json!({"iss": ISSUER, "sub": "system:serviceaccount:fuzz:reader", "aud": [CLIENT_ID],
            "iat": NOW, "nbf": NOW, "exp": NOW + 3600})
    }

    /// A call's facts at [`NOW`].
    pub fn meta(&self) -> CallMeta {
        CallMeta {
            request_id: "fuzz".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "fuzz".into(),
            secure_transport: false,
            now_millis: NOW * 1000,
        }
    }

    /// The root user of [`ACCOUNT`].
    pub fn root(&self) -> Caller {
        Caller::root(ACCOUNT, "AKIAFUZZFUZZFUZZFUZZ")
    }
}
