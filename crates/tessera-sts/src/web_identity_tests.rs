//! Unit tests of `AssumeRoleWithWebIdentity`: tokens signed with an RSA and an EC key made
//! here, an in-memory issuer (the fetcher is replaced), and a manual clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;
use tessera_wire::{AwsError, QueryParams};

use super::oidc::{self, FetchError, Fetcher};
use super::*;
use crate::caller::CallMeta;
use crate::clock::ManualClock;
use crate::iam::credentials::providers::{OidcProvider, OIDC_PROVIDER};
use crate::model::{self, table, Role};
use crate::{Call, CallerKind, Config, ServiceName, Services};

const ACCT: &str = "111122223333";
const T0: i64 = 1_700_000_000;
const ISSUER: &str = "https://oidc.example.com/id/CLUSTER1";
const RESOURCE: &str = "oidc.example.com/id/CLUSTER1";
const JWKS_URL: &str = "https://oidc.example.com/id/CLUSTER1/keys";
const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/s3-reader";
const SUB: &str = "system:serviceaccount:default:reader";

/// The issuer's answers, by URL, and how many fetches were made.
#[derive(Default)]
struct FakeIssuer {
    answers: Mutex<HashMap<String, Result<Vec<u8>, FetchError>>>,
    fetches: AtomicUsize,
}

impl FakeIssuer {
    fn serve(&self, url: &str, body: Value) {
        self.answers.lock().unwrap().insert(url.into(), Ok(body.to_string().into_bytes()));
    }
    fn fail(&self, url: &str, e: FetchError) {
        self.answers.lock().unwrap().insert(url.into(), Err(e));
    }
    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Fetcher for FakeIssuer {
    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.answers
            .lock()
            .unwrap()
            .get(url)
            .cloned()
            .unwrap_or_else(|| Err(FetchError::Unreachable("connection refused".into())))
    }
}

struct Keys {
    rsa_der: Vec<u8>,
    rsa_jwk: Value,
    rsa2_der: Vec<u8>,
    rsa2_jwk: Value,
    ec_der: Vec<u8>,
    ec_jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn rsa_key(kid: &str) -> (Vec<u8>, Value) {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let der = key.to_pkcs1_der().unwrap().as_bytes().to_vec();
    let jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
        "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())});
    (der, jwk)
}

/// Keys made once per test run (RSA key generation is slow).
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let (rsa_der, rsa_jwk) = rsa_key("rsa-1");
        let (rsa2_der, rsa2_jwk) = rsa_key("rsa-2");
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        let ec_jwk = json!({"kty": "EC", "kid": "ec-1", "crv": "P-256", "use": "sig",
            "x": b64(&point[1..33]), "y": b64(&point[33..65])});
        Keys { rsa_der, rsa_jwk, rsa2_der, rsa2_jwk, ec_der: pkcs8.as_ref().to_vec(), ec_jwk }
    })
}

fn sign_rs256(kid: &str, der: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der)).unwrap()
}

fn sign_es256(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&keys().ec_der)).unwrap()
}

fn claims(now: i64) -> Value {
    json!({"iss": ISSUER, "sub": SUB, "aud": ["sts.amazonaws.com"], "iat": now, "nbf": now, "exp": now + 3600})
}

fn good_token(now: i64) -> String {
    sign_rs256("rsa-1", &keys().rsa_der, &claims(now))
}

struct Env {
    services: Services,
    clock: Arc<ManualClock>,
    issuer: Arc<FakeIssuer>,
}

impl Env {
    fn now(&self) -> i64 {
        self.services.clock.now_secs()
    }
}

fn trust_policy(sub: &str) -> String {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": format!("arn:aws:iam::{ACCT}:oidc-provider/{RESOURCE}")},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{RESOURCE}:aud"): "sts.amazonaws.com",
            format!("{RESOURCE}:sub"): sub,
        }}
    }]})
    .to_string()
}

fn put_role(services: &Services, name: &str, trust: &str) {
    let role = Role {
        account: ACCT.into(),
        name: name.into(),
        path: "/".into(),
        role_id: "AROACCCCCCCCCCCCCCCCC".into(),
        created: T0,
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: 3600,
        tags: vec![],
        permissions_boundary: None,
        inline_policies: vec![],
        attached_policies: vec![],
        last_used: None,
        source_role_template: None,
    };
    let mut w = services.store.write().unwrap();
    model::save(w.as_mut(), table::ROLE, &model::name_key(ACCT, name), &role).unwrap();
    w.commit().unwrap();
}

fn env() -> Env {
    let clock = Arc::new(ManualClock::new(T0 * 1000));
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let services = Services::new(
        store,
        SecretBox::new(&[9u8; 32]),
        clock.clone(),
        Config { endpoint: "http://127.0.0.1:1".into() },
    );
    let provider = OidcProvider {
        account: ACCT.into(),
        url: ISSUER.into(),
        created: T0,
        client_ids: vec!["sts.amazonaws.com".into()],
        thumbprints: vec![],
        tags: vec![],
    };
    {
        let mut w = services.store.write().unwrap();
        model::save(w.as_mut(), OIDC_PROVIDER, &format!("{ACCT}/{RESOURCE}"), &provider).unwrap();
        w.commit().unwrap();
    }
    put_role(&services, "s3-reader", &trust_policy(SUB));
    let issuer = Arc::new(FakeIssuer::default());
    issuer
        .serve(&format!("{ISSUER}/.well-known/openid-configuration"), json!({"issuer": ISSUER, "jwks_uri": JWKS_URL}));
    issuer.serve(JWKS_URL, json!({"keys": [keys().rsa_jwk, keys().ec_jwk]}));
    services.sts.oidc.set_fetcher(issuer.clone());
    Env { services, clock, issuer }
}

fn call(env: &Env) -> Call {
    Call {
        caller: unsigned_caller(),
        operation: "AssumeRoleWithWebIdentity".into(),
        meta: CallMeta {
            request_id: "req".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            secure_transport: false,
            now_millis: env.services.clock.now_millis(),
        },
    }
}

fn assume_with(env: &Env, token: &str, extra: &[(&str, &str)]) -> Result<String, AwsError> {
    let mut pairs = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "web"),
        ("WebIdentityToken", token),
    ];
    pairs.extend_from_slice(extra);
    let c = call(env);
    let p = QueryParams::from_pairs(pairs);
    check_session_scope(&c.caller, ServiceName::Sts, &c.operation)?;
    handle(&env.services, &c, &p).map(|r| String::from_utf8(r.body.to_vec()).unwrap())
}

fn assume(env: &Env, token: &str) -> Result<String, AwsError> {
    assume_with(env, token, &[])
}

fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_string()
}

fn err(r: Result<String, AwsError>) -> AwsError {
    match r {
        Ok(body) => panic!("expected an error, got {body}"),
        Err(e) => e,
    }
}

#[test]
fn a_good_rs256_token_gives_a_role_session() {
    let env = env();
    let body = assume(&env, &good_token(env.now())).unwrap();
    assert_eq!(xml_value(&body, "Arn"), "arn:aws:sts::111122223333:assumed-role/s3-reader/web");
    assert_eq!(xml_value(&body, "AssumedRoleId"), "AROACCCCCCCCCCCCCCCCC:web");
    assert_eq!(xml_value(&body, "SubjectFromWebIdentityToken"), SUB);
    assert_eq!(xml_value(&body, "Audience"), "sts.amazonaws.com");
    assert_eq!(xml_value(&body, "Provider"), format!("arn:aws:iam::{ACCT}:oidc-provider/{RESOURCE}"));
    assert!(!body.contains("PackedPolicySize"));

    // The credentials authenticate as the role session, with the provider in its context.
    let key = xml_value(&body, "AccessKeyId");
    let token = xml_value(&body, "SessionToken");
    let (caller, secret) = session_credentials(&env.services, &key, Some(&token)).unwrap();
    assert_eq!(secret, xml_value(&body, "SecretAccessKey"));
    assert_eq!(caller.arn, "arn:aws:sts::111122223333:assumed-role/s3-reader/web");
    assert_eq!(caller.user_id, "AROACCCCCCCCCCCCCCCCC:web");
    assert!(matches!(caller.kind, CallerKind::AssumedRole { .. }));
    let session = caller.session.unwrap();
    assert_eq!(session.issued_by, "AssumeRoleWithWebIdentity");
    assert_eq!(
        session.federated_provider.as_deref(),
        Some("arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/CLUSTER1")
    );
    assert_eq!(session.expires_at, env.now() + 3600);
}

#[test]
fn a_good_es256_token_is_accepted() {
    let env = env();
    let body = assume(&env, &sign_es256(&claims(env.now()))).unwrap();
    assert_eq!(xml_value(&body, "SubjectFromWebIdentityToken"), SUB);
}

#[test]
fn keys_are_cached_per_issuer_and_fetched_again_after_an_hour() {
    let env = env();
    assume(&env, &good_token(env.now())).unwrap();
    assert_eq!(env.issuer.fetches(), 2, "discovery + key set");
    env.clock.advance_secs(600);
    assume(&env, &good_token(env.now())).unwrap();
    assert_eq!(env.issuer.fetches(), 2, "cached");
    env.clock.advance_secs(oidc::JWKS_TTL_SECS);
    assume(&env, &good_token(env.now())).unwrap();
    assert_eq!(env.issuer.fetches(), 4, "stale keys are fetched again");
}

#[test]
fn a_tampered_token_is_an_invalid_identity_token() {
    let env = env();
    let token = good_token(env.now());
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged = claims(env.now());
    forged["sub"] = json!("system:serviceaccount:kube-system:admin");
    let forged = format!("{}.{}.{}", parts[0], b64(forged.to_string().as_bytes()), parts[2]);
    let e = err(assume(&env, &forged));
    assert_eq!((e.status, e.code.as_str()), (400, "InvalidIdentityToken"));
    assert_eq!(e.message, oidc::INVALID_TOKEN_MESSAGE);

    // Signed by a key the issuer does not publish under that key id.
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa2_der, &claims(env.now()))));
    assert_eq!(e.code, "InvalidIdentityToken");
}

#[test]
fn the_audience_must_be_a_client_id() {
    let env = env();
    let mut c = claims(env.now());
    c["aud"] = json!("sts.amazon.com");
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)));
    assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidIdentityToken", "Incorrect token audience"));

    c.as_object_mut().unwrap().remove("aud");
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)));
    assert_eq!(e.message, "Missing a required claim: aud");

    // azp, when a client id, is the audience (and aud becomes `<provider>:oaud`).
    c["azp"] = json!("sts.amazonaws.com");
    c["aud"] = json!("something-else");
    let body = assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)).unwrap();
    assert_eq!(xml_value(&body, "Audience"), "sts.amazonaws.com");
}

#[test]
fn an_expired_token_is_refused_after_five_minutes_of_skew() {
    let env = env();
    let now = env.now();
    let mut c = claims(now - 7200);
    c["exp"] = json!(now - 100);
    assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)).expect("within the 5-minute leeway");
    c["exp"] = json!(now - 400);
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)));
    assert_eq!((e.status, e.code.as_str()), (400, "ExpiredTokenException"));
    assert_eq!(
        e.message,
        format!("Token expired: current date/time {now} must be before the expiration date/time {}", now - 400)
    );
    // The clock moves: a good token expires.
    let token = good_token(now);
    env.clock.advance_secs(3600 + oidc::LEEWAY_SECS);
    assert_eq!(err(assume(&env, &token)).code, "ExpiredTokenException");
    // exp is required.
    let mut c = claims(env.now());
    c.as_object_mut().unwrap().remove("exp");
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)));
    assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidIdentityToken", "Missing a required claim: exp"));
}

#[test]
fn a_token_not_yet_valid_is_refused() {
    let env = env();
    let now = env.now();
    let mut c = claims(now);
    c["nbf"] = json!(now + 1000);
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)));
    assert_eq!(e.code, "InvalidIdentityToken");
    assert!(e.message.starts_with("Token not yet valid"), "{}", e.message);
    let mut c = claims(now);
    c["iat"] = json!(now + 1000);
    assert_eq!(err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c))).code, "InvalidIdentityToken");
    // Within the leeway.
    let mut c = claims(now);
    c["nbf"] = json!(now + 60);
    c["iat"] = json!(now + 60);
    assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)).unwrap();
}

#[test]
fn an_issuer_not_registered_in_the_roles_account_is_refused() {
    let env = env();
    let mut c = claims(env.now());
    c["iss"] = json!("https://other.example.com");
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)));
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://other.example.com")
    );
    assert_eq!(env.issuer.fetches(), 0, "nothing is fetched for an unknown issuer");
    // The provider is in another account than the role's.
    put_role(&env.services, "elsewhere", &trust_policy(SUB));
    let e = err(assume_with(&env, &good_token(env.now()), &[("RoleArn", "arn:aws:iam::444455556666:role/s3-reader")]));
    assert_eq!(e.code, "InvalidIdentityToken");
}

#[test]
fn http_issuers_are_refused_unless_on_loopback() {
    let env = env();
    let mut c = claims(env.now());
    c["iss"] = json!("http://oidc.example.com/id/CLUSTER1");
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)));
    assert_eq!(e.message, "No OpenIDConnect provider found in your account for http://oidc.example.com/id/CLUSTER1");
    assert_eq!(env.issuer.fetches(), 0);
    assert_eq!(oidc::url_allowed("http://oidc.example.com/keys"), None);
    assert_eq!(oidc::url_allowed("ftp://oidc.example.com/keys"), None);
    assert_eq!(oidc::url_allowed("https://oidc.example.com/keys"), Some(false));
    assert_eq!(oidc::url_allowed("http://127.0.0.1:8080/keys"), Some(true));
    assert_eq!(oidc::url_allowed("http://localhost:8080/keys"), Some(true));
    assert_eq!(oidc::url_allowed("http://[::1]:8080/keys"), Some(true));
    assert_eq!(oidc::url_allowed("http://127.0.0.1.example.com/keys"), None);
    // A discovery document pointing at an http key set on a remote host is not followed.
    env.issuer.serve(
        &format!("{ISSUER}/.well-known/openid-configuration"),
        json!({"jwks_uri": "http://oidc.example.com/keys"}),
    );
    let e = err(assume(&env, &good_token(env.now())));
    assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidIdentityToken", oidc::KEY_RETRIEVAL_MESSAGE));
}

#[test]
fn an_unknown_key_id_makes_the_keys_fetched_again_once() {
    let env = env();
    assume(&env, &good_token(env.now())).unwrap();
    assert_eq!(env.issuer.fetches(), 2);
    // The issuer rotates to rsa-2.
    env.issuer.serve(JWKS_URL, json!({"keys": [keys().rsa_jwk, keys().rsa2_jwk]}));
    let rotated = || sign_rs256("rsa-2", &keys().rsa2_der, &claims(env.now()));
    // Within the refetch floor the cached set answers (forged key ids cannot hammer the issuer).
    let e = err(assume(&env, &rotated()));
    assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidIdentityToken", oidc::KEY_RETRIEVAL_MESSAGE));
    assert_eq!(env.issuer.fetches(), 2);
    env.clock.advance_secs(oidc::REFETCH_FLOOR_SECS);
    assume(&env, &rotated()).unwrap();
    assert_eq!(env.issuer.fetches(), 4, "fetched again once");
    assume(&env, &rotated()).unwrap();
    assert_eq!(env.issuer.fetches(), 4);
    // A key id the issuer does not have.
    env.clock.advance_secs(oidc::REFETCH_FLOOR_SECS);
    let e = err(assume(&env, &sign_rs256("rsa-9", &keys().rsa2_der, &claims(env.now()))));
    assert_eq!(e.message, oidc::KEY_RETRIEVAL_MESSAGE);
    assert_eq!(env.issuer.fetches(), 6);
}

#[test]
fn an_unreachable_issuer_is_an_idp_communication_error() {
    let env = env();
    env.issuer.fail(
        &format!("{ISSUER}/.well-known/openid-configuration"),
        FetchError::Unreachable("connection refused".into()),
    );
    let e = err(assume(&env, &good_token(env.now())));
    assert_eq!((e.status, e.code.as_str()), (400, "IDPCommunicationError"));
    // A reachable issuer with a broken answer is InvalidIdentityToken.
    env.issuer.fail(&format!("{ISSUER}/.well-known/openid-configuration"), FetchError::Bad("HTTP status 404".into()));
    let e = err(assume(&env, &good_token(env.now())));
    assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidIdentityToken", oidc::KEY_RETRIEVAL_MESSAGE));
    env.issuer.serve(&format!("{ISSUER}/.well-known/openid-configuration"), json!({"jwks_uri": JWKS_URL}));
    env.issuer.serve(JWKS_URL, json!({"not": "keys"}));
    assert_eq!(err(assume(&env, &good_token(env.now()))).message, oidc::KEY_RETRIEVAL_MESSAGE);
}

#[test]
fn the_trust_policy_decides() {
    let env = env();
    let mut c = claims(env.now());
    c["sub"] = json!("system:serviceaccount:default:other");
    let e = err(assume(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c)));
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    );
    // A missing role is refused the same way.
    let e = err(assume_with(&env, &good_token(env.now()), &[("RoleArn", "arn:aws:iam::111122223333:role/missing")]));
    assert_eq!(e.message, "Not authorized to perform sts:AssumeRoleWithWebIdentity");
    // A trust policy for AssumeRole only does not allow web identities.
    put_role(
        &env.services,
        "plain",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:root")}, "Action": "sts:AssumeRole"}]})
        .to_string(),
    );
    let e = err(assume_with(&env, &good_token(env.now()), &[("RoleArn", "arn:aws:iam::111122223333:role/plain")]));
    assert_eq!(e.code, "AccessDenied");
    // amr and aws:FederatedProvider are in the context.
    put_role(
        &env.services,
        "amr",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Federated": format!("arn:aws:iam::{ACCT}:oidc-provider/{RESOURCE}")},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"ForAnyValue:StringLike": {format!("{RESOURCE}:amr"): "mfa"},
                "StringEquals": {"aws:FederatedProvider": format!("arn:aws:iam::{ACCT}:oidc-provider/{RESOURCE}")}}}]})
        .to_string(),
    );
    let amr_role = [("RoleArn", "arn:aws:iam::111122223333:role/amr")];
    assert_eq!(err(assume_with(&env, &good_token(env.now()), &amr_role)).code, "AccessDenied");
    let mut c = claims(env.now());
    c["amr"] = json!(["pwd", "mfa"]);
    assume_with(&env, &sign_rs256("rsa-1", &keys().rsa_der, &c), &amr_role).unwrap();
}

#[test]
fn duration_session_policy_and_validation() {
    let env = env();
    let token = good_token(env.now());
    let e = err(assume_with(&env, &token, &[("DurationSeconds", "7200")]));
    assert_eq!(e.message, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
    let e = err(assume_with(&env, &token, &[("DurationSeconds", "899")]));
    assert_eq!(e.code, "ValidationError");
    let body = assume_with(
        &env,
        &token,
        &[
            ("DurationSeconds", "900"),
            (
                "Policy",
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            ),
        ],
    )
    .unwrap();
    assert!(xml_value(&body, "PackedPolicySize").parse::<u32>().unwrap() > 0);
    let e = err(assume_with(&env, &token, &[("RoleSessionName", "bad name")]));
    assert_eq!(e.code, "ValidationError");
    let e = err(assume_with(&env, &token, &[("ProviderId", "www.amazon.com")]));
    assert_eq!(e.code, "InvalidParameterValue");
    // The token is never echoed in validation messages.
    let long = "x".repeat(20001);
    let e = err(assume(&env, &long));
    assert!(!e.message.contains("xxxx"), "{}", e.message);
    assert!(e.message.contains("webIdentityToken"));
}

#[test]
fn source_identity_and_session_tags_come_from_the_token() {
    let env = env();
    let mut c = claims(env.now());
    c[web_identity::SOURCE_IDENTITY_CLAIM] = json!("alice@example.com");
    c[web_identity::TAGS_CLAIM] = json!({"principal_tags": {"team": ["blue"]}, "transitive_tag_keys": ["team"]});
    let token = sign_rs256("rsa-1", &keys().rsa_der, &c);
    // The seed trust policy does not allow sts:TagSession nor sts:SetSourceIdentity.
    assert_eq!(err(assume(&env, &token)).code, "AccessDenied");
    let provider = format!("arn:aws:iam::{ACCT}:oidc-provider/{RESOURCE}");
    put_role(
        &env.services,
        "s3-reader",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": provider},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"],
            "Condition": {"StringEquals": {"aws:RequestTag/team": "blue", "sts:SourceIdentity": "alice@example.com"}}}]})
        .to_string(),
    );
    let body = assume(&env, &token).unwrap();
    assert_eq!(xml_value(&body, "SourceIdentity"), "alice@example.com");
    assert!(body.contains("<PackedPolicySize>"));
    let (caller, _) =
        session_credentials(&env.services, &xml_value(&body, "AccessKeyId"), Some(&xml_value(&body, "SessionToken")))
            .unwrap();
    let session = caller.session.unwrap();
    assert_eq!(session.tags.len(), 1);
    assert_eq!(session.transitive_tag_keys, vec!["team".to_string()]);
    assert_eq!(session.source_identity.as_deref(), Some("alice@example.com"));
}

#[test]
fn algorithm_confusion_is_refused() {
    let env = env();
    // An HMAC token whose secret is... anything: never accepted, even with an `oct` key published.
    env.issuer.serve(JWKS_URL, json!({"keys": [keys().rsa_jwk, {"kty": "oct", "kid": "rsa-1", "k": b64(b"secret")}]}));
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let token = jsonwebtoken::encode(&header, &claims(env.now()), &EncodingKey::from_secret(b"secret")).unwrap();
    assert_eq!(err(assume(&env, &token)).code, "InvalidIdentityToken");
    // alg none.
    let none = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims(env.now()).to_string().as_bytes()));
    assert_eq!(err(assume(&env, &none)).code, "InvalidIdentityToken");
    // An RSA-signed token presented as ES256.
    let good = good_token(env.now());
    let parts: Vec<&str> = good.split('.').collect();
    let es = format!("{}.{}.{}", b64(br#"{"alg":"ES256","kid":"ec-1"}"#), parts[1], parts[2]);
    assert_eq!(err(assume(&env, &es)).code, "InvalidIdentityToken");
}

#[test]
fn fuzzy_tokens_are_invalid_identity_tokens_never_panics() {
    let env = env();
    let good = good_token(env.now());
    let mut inputs: Vec<String> = vec![
        "abcd".into(),
        "a.b.c".into(),
        "....".into(),
        "eyJ.eyJ.sig".into(),
        "!!!!.@@@@.####".into(),
        format!("{good}.extra"),
        good.replace('.', ""),
        good[..good.len() / 2].to_string(),
        format!("{}.{}.sig", b64(b"{}"), b64(b"{}")),
        format!("{}.{}.sig", b64(br#"{"alg":"RS256"}"#), b64(b"[1,2,3]")),
        format!("{}.{}.sig", b64(br#"{"alg":"RS256"}"#), b64(br#"{"iss":5}"#)),
        format!("{}.{}.sig", b64(br#"{"alg":"RS256"}"#), b64(format!(r#"{{"iss":"{ISSUER}"}}"#).as_bytes())),
        format!(
            "{}.{}.sig",
            b64(br#"{"alg":"RS256","kid":"rsa-1"}"#),
            b64(format!(r#"{{"iss":"{ISSUER}"}}"#).as_bytes())
        ),
        "é".repeat(19_999),
        "A".repeat(20_000),
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [4usize, 17, 100, 1000, 5000] {
        let s: String = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(
                    b" !#$%&'()*+,-./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
                        [(seed % 78) as usize],
                )
            })
            .collect();
        inputs.push(s);
    }
    for input in inputs {
        let e = err(assume(&env, &input));
        assert!(
            e.code == "InvalidIdentityToken" || e.code == "ValidationError",
            "{}: {} for {:.40}",
            e.code,
            e.message,
            input
        );
    }
}

#[test]
fn unsigned_caller_is_allowed_nothing() {
    let env = env();
    let c = Call { operation: "ListUsers".into(), ..call(&env) };
    assert!(env.services.authorize(&c, "iam:ListUsers", "*").is_err());
    assert!(env.services.authorize(&c, "sts:GetCallerIdentity", "*").is_err());
    // Not even a resource policy open to everyone lets it in.
    let open = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#;
    for account in ["", ACCT] {
        let req = crate::authz::AuthzRequest {
            action: "s3:GetObject",
            resource: "arn:aws:s3:::bucket/key",
            resource_account: Some(account),
            resource_policy: Some(open),
            ..Default::default()
        };
        let e = env.services.authorize_request(&c, &req).unwrap_err();
        assert_eq!(e.code, "AccessDenied");
    }
    // The scope check lets it reach the unsigned operations.
    assert!(check_session_scope(&c.caller, ServiceName::Sts, "AssumeRoleWithWebIdentity").is_ok());
}
