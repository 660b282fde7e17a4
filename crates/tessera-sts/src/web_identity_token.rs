//! `GetWebIdentityToken`: Tessera as an OpenID Connect issuer for outbound identity federation
//! (STS API reference, `API_GetWebIdentityToken.html`; IAM User Guide, "Federate AWS identities
//! to external services" and "Understanding token claims",
//! `id_roles_providers_outbound_token_claims.html`).
//!
//! Tokens are JWTs signed with `RS256` (RSA 2048) or `ES384` (ECDSA P-384) through the
//! `jsonwebtoken` crate; keys are made with the `rsa` crate and `ring`. One current key per
//! algorithm serves every account; each key is stored in table [`SIGNING_KEY_TABLE`] with its
//! private half sealed by the data dir's SecretBox (context `sts-outbound-key/<kid>`) and its
//! public half as a JWK. [`rotate_signing_keys`] (run by `tessera keys rotate`) retires the
//! current keys and makes new ones; a retired key stays in the JWKS for
//! [`MAX_TOKEN_SECS`] more, until every token it signed has expired, and is then deleted.
//! [`openid_configuration`] and [`jwks`] are the documents the server publishes, unsigned,
//! under each issuer URL (`iam_workload::outbound_federation`).

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};
use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::params::{self, Check};
use crate::authz::AuthzRequest;
use crate::caller::CallerKind;
use crate::iam_workload::outbound_federation::setting;
use crate::iam_workload::outbound_keys::{
    current_key, ensure_signing_keys, seal_context, signing_error, ALGORITHMS, CLAIMS_NAMESPACE, DEFAULT_TOKEN_SECS,
    MAX_TOKEN_SECS,
};
use crate::model::Tag;
use crate::{internal, Call, Services};

/// The validated request.
struct Request {
    audience: Vec<String>,
    alg: String,
    duration: i64,
    tags: Vec<Tag>,
    scope: Option<String>,
    /// `TokenType` `JWT_SVID`: a JWT-SVID of the session's workload identity.
    jwt_svid: bool,
}

fn read_request(p: &QueryParams) -> Result<Request, AwsError> {
    let mut check = Check::default();
    let audience: Vec<String> = p.list("Audience").into_iter().map(str::to_string).collect();
    if audience.is_empty() {
        return Err(tessera_wire::query::null_member("audience"));
    }
    for (i, a) in audience.iter().enumerate() {
        check.length(&format!("audience.{}.member", i + 1), a, 1, 1000);
    }
    check.count("audience", &format!("[{}]", audience.join(", ")), audience.len(), 10);
    let alg = p.required("SigningAlgorithm")?;
    check.length("signingAlgorithm", alg, 5, 5);
    let duration = params::duration(p)?;
    if let Some(d) = duration {
        check.range("durationSeconds", d, 60, MAX_TOKEN_SECS);
    }
    let scope = p.get("Scope");
    if let Some(s) = scope {
        check.length("scope", s, 1, 256).pattern(
            "scope",
            s,
            r"[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+( [\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+)*",
            s.split(' ')
                .all(|w| !w.is_empty() && w.bytes().all(|b| (0x21..=0x7e).contains(&b) && !b"\",\\".contains(&b))),
        );
    }
    let inputs = params::session_inputs(p, &mut check, false);
    check.finish()?;
    params::check_session_inputs(&inputs)?;
    if !ALGORITHMS.contains(&alg) {
        return Err(AwsError::validation(format!("SigningAlgorithm '{alg}' is not supported: use RS256 or ES384.")));
    }
    let token_type = p.get("TokenType");
    match token_type {
        None | Some("AWSIdentity") | Some("JWT_SVID") => {}
        Some(other) => return Err(AwsError::validation(format!("Invalid value for TokenType: {other}"))),
    }
    // "TokenType is mutually exclusive with SubjectMode and Scope."
    if token_type.is_some() && (p.get("SubjectMode").is_some() || scope.is_some()) {
        return Err(AwsError::validation(
            "TokenType is mutually exclusive with SubjectMode and Scope: specify only one of them.",
        ));
    }
    let jwt_svid = token_type == Some("JWT_SVID");
    if jwt_svid && audience.len() != 1 {
        return Err(AwsError::validation("A token of type JWT_SVID needs exactly one audience."));
    }
    if jwt_svid && !inputs.tags.is_empty() {
        return Err(AwsError::validation("Tags cannot be specified with a TokenType of JWT_SVID."));
    }
    match p.get("SubjectMode") {
        None | Some("AWSIdentity") => {}
        Some(other) => {
            return Err(AwsError::invalid_parameter_value(format!(
                "SubjectMode {other} is not supported by Tessera: only AWSIdentity."
            )))
        }
    }
    Ok(Request {
        audience,
        alg: alg.to_string(),
        duration: duration.unwrap_or(DEFAULT_TOKEN_SECS),
        tags: inputs.tags,
        scope: scope.map(str::to_string),
        jwt_svid,
    })
}

/// Run `GetWebIdentityToken`.
pub fn get_web_identity_token(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let req = read_request(p)?;
    let caller = &call.caller;
    let mut context: Vec<(String, Vec<String>)> = vec![
        ("sts:IdentityTokenAudience".into(), req.audience.clone()),
        ("sts:SigningAlgorithm".into(), vec![req.alg.clone()]),
        ("sts:DurationSeconds".into(), vec![req.duration.to_string()]),
        ("sts:TokenType".into(), vec![if req.jwt_svid { "JWT_SVID" } else { "AWSIdentity" }.to_string()]),
    ];
    let authz = |action: &'static str, context: Vec<(String, Vec<String>)>| AuthzRequest {
        action,
        resource: "*",
        context,
        ..Default::default()
    };
    services.authorize_request(call, &authz("sts:GetWebIdentityToken", context.clone()))?;
    if !req.tags.is_empty() {
        for t in &req.tags {
            context.push((format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]));
        }
        context.push(("aws:TagKeys".into(), req.tags.iter().map(|t| t.key.clone()).collect()));
        services.authorize_request(call, &authz("sts:TagGetWebIdentityToken", context))?;
    }

    let now = call.now_secs();
    let expires = now + req.duration;
    check_escalation(caller, expires)?;
    if req.jwt_svid {
        let token = crate::workload_context::jwt_svid(services, call, &req.audience[0], &req.alg, now, expires)?;
        return Ok(respond(call, &token, expires));
    }
    let (issuer, organization) = {
        let r = services.store.read().map_err(internal)?;
        let issuer = setting(r.as_ref(), &caller.account)?.filter(|s| s.enabled).ok_or_else(|| {
            AwsError::new(
                403,
                "OutboundWebIdentityFederationDisabledException",
                "Outbound web identity federation is not enabled for this account.",
            )
        })?;
        let organization = crate::organizations::organization_of(r.as_ref(), &caller.account).map_err(internal)?;
        (issuer.issuer, organization)
    };

    // The caller's identity: a role session is its role (`principal_id` under the namespace).
    let principal = match &caller.kind {
        CallerKind::AssumedRole { .. } => caller.role_arn().unwrap_or_else(|| caller.arn.clone()),
        _ => caller.arn.clone(),
    };
    let mut aws = Map::new();
    aws.insert("aws_account".into(), json!(caller.account));
    aws.insert("source_region".into(), json!(call.meta.region));
    aws.insert("principal_id".into(), json!(principal));
    if let Some((org_id, path)) = organization {
        aws.insert("org_id".into(), json!(org_id));
        aws.insert("ou_path".into(), json!(path));
    }
    if let Some(session) = caller.session.as_ref().filter(|s| !s.tags.is_empty()) {
        let tags: Map<String, Value> = session.tags.iter().map(|t| (t.key.clone(), json!(t.value))).collect();
        aws.insert("principal_tags".into(), Value::Object(tags));
    }
    if !req.tags.is_empty() {
        let tags: Map<String, Value> = req.tags.iter().map(|t| (t.key.clone(), json!(t.value))).collect();
        aws.insert("request_tags".into(), Value::Object(tags));
    }
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("sub".into(), json!(principal));
    claims.insert("aud".into(), if req.audience.len() == 1 { json!(req.audience[0]) } else { json!(req.audience) });
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(expires));
    claims.insert("jti".into(), json!(crate::ids::request_id()));
    if let Some(scope) = &req.scope {
        claims.insert("scope".into(), json!(scope));
    }
    claims.insert(CLAIMS_NAMESPACE.into(), Value::Object(aws));

    ensure_signing_keys(services)?;
    let key = {
        let r = services.store.read().map_err(internal)?;
        current_key(r.as_ref(), &req.alg)?.ok_or_else(AwsError::internal)?
    };
    let der = services.secrets.open(&seal_context(&key.kid), &key.sealed).map_err(internal)?;
    let (algorithm, encoding) = if key.alg == "RS256" {
        (Algorithm::RS256, EncodingKey::from_rsa_der(&der))
    } else {
        (Algorithm::ES384, EncodingKey::from_ec_der(&der))
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(key.kid.clone());
    let token = jsonwebtoken::encode(&header, &Value::Object(claims), &encoding).map_err(signing_error)?;
    Ok(respond(call, &token, expires))
}

/// `SessionDurationEscalationException` when a token would outlive the calling session (both
/// token types).
fn check_escalation(caller: &crate::Caller, expires: i64) -> Result<(), AwsError> {
    match &caller.session {
        Some(session) if expires > session.expires_at => Err(AwsError::new(
            403,
            "SessionDurationEscalationException",
            "The requested token duration would extend the session beyond its original expiration time.",
        )),
        _ => Ok(()),
    }
}

fn respond(call: &Call, token: &str, expires: i64) -> WireResponse {
    let mut w = XmlWriter::fragment();
    w.elem("WebIdentityToken", token).elem("Expiration", &crate::clock::iso8601(expires));
    WireResponse::query(STS_XMLNS, "GetWebIdentityToken", Some(&w.finish()), &call.meta.request_id)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{DecodingKey, Validation};
    use tessera_store::secrets::SecretBox;
    use tessera_store::sqlite::SqliteStore;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine;

    use super::*;
    use crate::clock::ManualClock;
    use crate::iam_workload::outbound_federation::{OutboundFederation, OUTBOUND_TABLE};
    use crate::iam_workload::outbound_keys::{all_keys, jwks, openid_configuration, rotate_signing_keys};
    use crate::model;
    use crate::Config;

    const ISSUER_ID: &str = "0d8f2c1e-6c1b-4f5e-9a53-1f0e2b3c4d5e";
    const ISSUER: &str = "http://127.0.0.1:1/_tessera/outbound/0d8f2c1e-6c1b-4f5e-9a53-1f0e2b3c4d5e";

    fn env() -> (Services, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let store = Arc::new(SqliteStore::open_in_memory().unwrap());
        let services =
            Services::new(store, SecretBox::new(&[9u8; 32]), clock.clone(), Config { endpoint: String::new() });
        let record = OutboundFederation { enabled: true, issuer_id: ISSUER_ID.into(), issuer: ISSUER.into() };
        let mut w = services.store.write().unwrap();
        model::save(w.as_mut(), OUTBOUND_TABLE, "a/111122223333", &record).unwrap();
        model::save(w.as_mut(), OUTBOUND_TABLE, &format!("i/{ISSUER_ID}"), &"111122223333".to_string()).unwrap();
        w.commit().unwrap();
        (services, clock)
    }

    fn published(services: &Services) -> Vec<Jwk> {
        let doc: Value = serde_json::from_str(&jwks(services, ISSUER_ID).unwrap().unwrap()).unwrap();
        serde_json::from_value(doc["keys"].clone()).unwrap()
    }

    fn sign(services: &Services, alg: &str) -> String {
        let r = services.store.read().unwrap();
        let key = current_key(r.as_ref(), alg).unwrap().unwrap();
        let der = services.secrets.open(&seal_context(&key.kid), &key.sealed).unwrap();
        let (algorithm, encoding) = if alg == "RS256" {
            (Algorithm::RS256, EncodingKey::from_rsa_der(&der))
        } else {
            (Algorithm::ES384, EncodingKey::from_ec_der(&der))
        };
        let mut header = Header::new(algorithm);
        header.kid = Some(key.kid);
        let claims = json!({"iss": ISSUER, "aud": "x", "sub": "s", "exp": 4_000_000_000i64});
        jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
    }

    fn verifies(token: &str, keys: &[Jwk]) -> bool {
        let Ok(header) = jsonwebtoken::decode_header(token) else { return false };
        let Some(jwk) = keys.iter().find(|k| k.common.key_id == header.kid) else { return false };
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&["x"]);
        validation.set_issuer(&[ISSUER]);
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).is_ok()
    }

    #[test]
    fn documents_only_for_known_issuers() {
        let (services, _) = env();
        assert!(jwks(&services, "no-such-issuer").unwrap().is_none());
        assert!(openid_configuration(&services, "no-such-issuer").unwrap().is_none());
        let doc: Value = serde_json::from_str(&openid_configuration(&services, ISSUER_ID).unwrap().unwrap()).unwrap();
        assert_eq!(doc["issuer"], ISSUER);
        assert_eq!(doc["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    }

    #[test]
    fn keys_sign_verifiable_tokens_and_rotation_keeps_old_keys_for_an_hour() {
        let (services, clock) = env();
        ensure_signing_keys(&services).unwrap();
        ensure_signing_keys(&services).unwrap(); // no second key per algorithm
        let keys = published(&services);
        assert_eq!(keys.len(), 2);
        let jwks_text = jwks(&services, ISSUER_ID).unwrap().unwrap();
        assert!(!jwks_text.contains("\"d\""), "private key material in the JWKS");
        let old_rs = sign(&services, "RS256");
        let old_es = sign(&services, "ES384");
        assert!(verifies(&old_rs, &keys) && verifies(&old_es, &keys));
        // A token changed after signing does not verify.
        let mut parts: Vec<&str> = old_es.split('.').collect();
        let forged = B64.encode(br#"{"iss":"x","aud":"x","sub":"root","exp":4000000000}"#);
        parts[1] = &forged;
        assert!(!verifies(&parts.join("."), &keys));

        rotate_signing_keys(&services).unwrap();
        let keys = published(&services);
        assert_eq!(keys.len(), 4);
        let new_rs = sign(&services, "RS256");
        assert_ne!(
            jsonwebtoken::decode_header(&new_rs).unwrap().kid,
            jsonwebtoken::decode_header(&old_rs).unwrap().kid
        );
        assert!(verifies(&old_rs, &keys) && verifies(&new_rs, &keys));

        // An hour later the retired keys leave the JWKS, and the next rotation deletes them.
        clock.advance_secs(MAX_TOKEN_SECS + 1);
        let keys = published(&services);
        assert_eq!(keys.len(), 2);
        assert!(!verifies(&old_rs, &keys) && verifies(&new_rs, &keys));
        rotate_signing_keys(&services).unwrap();
        let r = services.store.read().unwrap();
        assert_eq!(all_keys(r.as_ref()).unwrap().len(), 4);
    }
}
