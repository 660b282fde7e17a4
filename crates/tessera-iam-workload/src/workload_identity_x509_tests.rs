//! X.509 outbound signers through `iam::handle`, on an in-memory store with certificate
//! authority records written directly and a clock moved by the calls' times.

use serde_json::json;
use tessera_pca::model::{load_ca, save_ca, CertificateAuthority};

use super::super::super::credentials::test_support::{
    body, elem, params, put_user, root_call, services_at, user_call, ACCOUNT,
};
use crate::{Call, Services};

const H: i64 = 3600;
const T0: i64 = 1_800_000_000;
const OTHER: &str = "210987654321";

fn authority(account: &str, id: &str, key_algorithm: &str) -> CertificateAuthority {
    CertificateAuthority {
        status: "ACTIVE".into(),
        key_algorithm: key_algorithm.into(),
        subject: json!({"CommonName": id}),
        usage_mode: "SERVICE_AFFILIATED".into(),
        service_affiliation: Some(tessera_pca::IAM_WORKLOAD_IDENTITY.into()),
        ..CertificateAuthority::pending(id, account, "us-east-1", 0)
    }
}

fn put_ca(services: &Services, ca: &CertificateAuthority) {
    let mut txn = services.store.write().unwrap_or_else(|_| panic!("write"));
    save_ca(txn.as_mut(), ca).unwrap_or_else(|_| panic!("save"));
    txn.commit().unwrap_or_else(|_| panic!("commit"));
}

fn get_ca(services: &Services, account: &str, id: &str) -> CertificateAuthority {
    let read = services.store.read().unwrap_or_else(|_| panic!("read"));
    load_ca(read.as_ref(), "us-east-1", account, id).ok().flatten().unwrap_or_else(|| panic!("ca {id}"))
}

fn run(services: &Services, call: &Call, pairs: &[(&str, &str)]) -> Result<String, (String, String)> {
    crate::iam::handle(services, call, &params(pairs)).map(|r| body(&r)).map_err(|e| (e.code, e.message))
}

fn code(r: Result<String, (String, String)>) -> String {
    r.err().map(|e| e.0).unwrap_or_else(|| "OK".into())
}

fn provider(services: &Services, name: &str) -> String {
    let r = run(
        services,
        &root_call("CreateWorkloadIdentityProvider", T0),
        &[("ProviderName", name), ("Scheme", "SPIFFE"), ("WorkloadIdentityDomain", "example.org")],
    );
    r.ok().and_then(|b| elem(&b, "Arn")).unwrap_or_default()
}

/// Call `op` on provider `arn` naming certificate authority `id` of `account` at `at`.
fn on_ca(
    services: &Services,
    call: Call,
    arn: &str,
    account: &str,
    id: &str,
    extra: &[(&str, &str)],
) -> Result<String, (String, String)> {
    let mut pairs = vec![
        ("WorkloadIdentityProviderArn", arn),
        ("OutboundSigner.X509.CertificateAuthorityId", id),
        ("OutboundSigner.X509.AccountId", account),
    ];
    pairs.extend_from_slice(extra);
    run(services, &call, &pairs)
}

fn root(op: &str, at: i64) -> Call {
    root_call(op, at)
}

/// `(ca id, Status)` of every listed X.509 signer, and the whole body.
fn listed(services: &Services, arn: &str, at: i64) -> (Vec<(String, String)>, String) {
    let b = run(
        services,
        &root("ListWorkloadIdentityProviderOutboundSigners", at),
        &[("WorkloadIdentityProviderArn", arn)],
    )
    .unwrap_or_default();
    let mut out: Vec<(String, String)> = b
        .split("<member>")
        .filter(|m| m.contains("<SignerType>X509</SignerType>"))
        .map(|m| (elem(m, "CertificateAuthorityId").unwrap_or_default(), elem(m, "Status").unwrap_or_default()))
        .collect();
    out.sort();
    (out, b)
}

fn status(services: &Services, arn: &str, id: &str, at: i64) -> String {
    listed(services, arn, at).0.into_iter().find(|(i, _)| i == id).map(|(_, s)| s).unwrap_or_else(|| "GONE".into())
}

/// A call of `op` by user `name` as [`allow`] stored it.
fn as_user(op: &str, name: &str, at: i64) -> Call {
    let mut call = user_call(op, name, at);
    let id = format!("AIDA{:0>17}", name.len());
    call.caller.user_id = id.clone();
    call.caller.kind = crate::caller::CallerKind::User { name: name.into(), path: "/".into(), user_id: id };
    call
}

/// Store user `user` (ids follow `put_user`) allowed `actions` on everything.
fn allow(services: &Services, user: &str, actions: &[&str]) {
    let stored = put_user(services, user);
    assert_eq!(stored.user_id, format!("AIDA{:0>17}", user.len()));
    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]});
    let r = run(
        services,
        &root("PutUserPolicy", T0),
        &[("UserName", user), ("PolicyName", "p"), ("PolicyDocument", &doc.to_string())],
    );
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn create_checks_every_requirement_and_changes_nothing_on_refusal() {
    let services = services_at(T0);
    let arn = provider(&services, "p");
    let refuse = |ca: CertificateAuthority, want: &str, words: &str| {
        put_ca(&services, &ca);
        let r =
            on_ca(&services, root("CreateWorkloadIdentityProviderOutboundSigner", T0), &arn, &ca.account, &ca.id, &[]);
        let (c, m) = r.err().unwrap_or_default();
        assert_eq!(c, want, "{}: {m}", ca.id);
        assert!(m.contains(words), "{}: {m}", ca.id);
        assert!(get_ca(&services, &ca.account, &ca.id).associations.is_empty());
    };
    let good = || authority(ACCOUNT, "ca", "EC_prime256v1");
    let missing =
        on_ca(&services, root("CreateWorkloadIdentityProviderOutboundSigner", T0), &arn, ACCOUNT, "nope", &[]);
    assert!(
        missing.as_ref().err().is_some_and(|e| e.0 == "InvalidInput" && e.1.contains("cannot be found")),
        "{missing:?}"
    );
    refuse(CertificateAuthority { status: "DELETED".into(), ..good() }, "InvalidInput", "cannot be found");
    refuse(CertificateAuthority { status: "PENDING_CERTIFICATE".into(), ..good() }, "InvalidInput", "ACTIVE");
    refuse(CertificateAuthority { ca_type: "LEAF".into(), ..good() }, "InvalidInput", "ROOT or SUBORDINATE");
    refuse(authority(ACCOUNT, "ca", "ML_DSA_44"), "InvalidInput", "key algorithm");
    refuse(CertificateAuthority { usage_mode: "GENERAL_PURPOSE".into(), ..good() }, "InvalidInput", "UsageMode");
    refuse(CertificateAuthority { service_affiliation: None, ..good() }, "InvalidInput", "service affiliation");
    // Another account's CA that does not share itself cannot be seen.
    refuse(authority(OTHER, "theirs", "EC_prime256v1"), "InvalidInput", "cannot be found");
    // A bad delay is a validation error and changes nothing.
    put_ca(&services, &good());
    let r = on_ca(
        &services,
        root("CreateWorkloadIdentityProviderOutboundSigner", T0),
        &arn,
        ACCOUNT,
        "ca",
        &[("SigningDelayInHours", "0")],
    );
    assert_eq!(code(r), "ValidationError");
    assert!(listed(&services, &arn, T0).0.is_empty());

    // Shared through its resource policy: usable.
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
        "Action": "acm-pca:CreateCertificateAuthorityAssociation", "Resource": "*"}]});
    put_ca(
        &services,
        &CertificateAuthority { policy: Some(policy.to_string()), ..authority(OTHER, "theirs", "RSA_2048") },
    );
    let r = on_ca(&services, root("CreateWorkloadIdentityProviderOutboundSigner", T0), &arn, OTHER, "theirs", &[]);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(get_ca(&services, OTHER, "theirs").associations.len(), 1);
}

#[test]
fn a_signer_lives_through_rotation_disable_enable_and_deletes() {
    let services = services_at(T0);
    let arn = provider(&services, "p");
    for id in ["a", "b", "c"] {
        put_ca(&services, &authority(ACCOUNT, id, "EC_prime256v1"));
    }
    let create = |id: &str, at: i64| {
        on_ca(&services, root("CreateWorkloadIdentityProviderOutboundSigner", at), &arn, ACCOUNT, id, &[])
    };
    assert!(create("a", T0).is_ok());
    let assoc = get_ca(&services, ACCOUNT, "a").associations;
    assert_eq!(assoc.iter().map(|a| a.resource_arn.as_str()).collect::<Vec<_>>(), vec![arn.as_str()]);
    assert_eq!(status(&services, &arn, "a", T0), "IN_TRANSITION");
    assert_eq!(status(&services, &arn, "a", T0 + H), "ACTIVE", "the default delay is one hour");
    // The slot is taken, whatever CA asks for it.
    assert_eq!(code(create("b", T0 + H)), "EntityAlreadyExists");
    assert!(get_ca(&services, ACCOUNT, "b").associations.is_empty());

    let get = |at: i64| {
        run(&services, &root("GetWorkloadIdentityProvider", at), &[("WorkloadIdentityProviderArn", &arn)])
            .unwrap_or_default()
    };
    let g = get(T0 + H);
    let x509 = elem(&g, "X509").unwrap_or_default();
    assert_eq!(elem(&x509, "CertificateAuthorityId").as_deref(), Some("a"), "{g}");
    assert_eq!(elem(&x509, "AccountId").as_deref(), Some(ACCOUNT));
    assert_eq!(elem(&x509, "Status").as_deref(), Some("ACTIVE"));
    assert_eq!(elem(&x509, "EndSigningTime"), None);

    let delete = |id: &str, at: i64| {
        on_ca(&services, root("DeleteWorkloadIdentityProviderOutboundSigner", at), &arn, ACCOUNT, id, &[])
    };
    let refused = delete("a", T0 + H);
    assert!(refused.as_ref().err().is_some_and(|e| e.0 == "InvalidInput" && e.1.contains("ACTIVE")), "{refused:?}");

    // Rotation to b after one hour: a signs until then, validates 12 hours, retires.
    let t1 = T0 + 2 * H;
    let r = on_ca(
        &services,
        root("UpdateWorkloadIdentityProviderOutboundSigner", t1),
        &arn,
        ACCOUNT,
        "b",
        &[("SigningDelayInHours", "1")],
    );
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(code(delete("b", t1)), "InvalidInput", "IN_TRANSITION cannot be deleted");
    assert_eq!(
        listed(&services, &arn, t1).0,
        vec![("a".into(), "ACTIVE".into()), ("b".into(), "IN_TRANSITION".into())]
    );
    assert_eq!(
        listed(&services, &arn, t1 + H).0,
        vec![("a".into(), "VALIDATING".into()), ("b".into(), "ACTIVE".into())]
    );
    let retired = t1 + 13 * H;
    assert_eq!(status(&services, &arn, "a", retired), "INACTIVE");
    let g = get(retired);
    assert!(!g.contains("<CertificateAuthorityId>a<"), "Get omits INACTIVE entries: {g}");
    assert!(g.contains("<CertificateAuthorityId>b<"));

    // Delete the retired entry: its association goes with it; a second delete finds nothing.
    let d = delete("a", retired).unwrap_or_default();
    assert_eq!(elem(&d, "Status").as_deref(), Some("SUCCEEDED"), "{d}");
    assert_eq!(elem(&d, "WorkloadIdentityProviderArn").as_deref(), Some(arn.as_str()));
    assert!(get_ca(&services, ACCOUNT, "a").associations.is_empty());
    assert_eq!(code(delete("a", retired)), "NoSuchEntity");
    assert_eq!(code(delete("c", retired)), "NoSuchEntity");

    // Disable: VALIDATING, then INACTIVE; Enable resumes it after its delay.
    let disable = |at: i64| {
        run(
            &services,
            &root("DisableWorkloadIdentityProviderOutboundSigner", at),
            &[("WorkloadIdentityProviderArn", &arn), ("SignerType", "X509")],
        )
    };
    let t2 = retired + H;
    assert!(disable(t2).is_ok());
    assert_eq!(status(&services, &arn, "b", t2), "VALIDATING");
    assert!(disable(t2 + H).is_ok(), "idempotent");
    let (l, body) = listed(&services, &arn, t2 + H);
    assert_eq!(l, vec![("b".into(), "VALIDATING".into())]);
    let member = body.split("<member>").find(|m| m.contains("X509")).unwrap_or_default().to_string();
    assert_eq!(elem(&member, "EndSigningTime").as_deref(), Some(crate::clock::iso8601(t2).as_str()), "{member}");
    assert_eq!(elem(&member, "DiscoveryExpirationTime").as_deref(), Some(crate::clock::iso8601(t2 + 12 * H).as_str()));
    assert_eq!(status(&services, &arn, "b", t2 + 12 * H), "INACTIVE");
    let enable = run(
        &services,
        &root("EnableWorkloadIdentityProviderOutboundSigner", t2 + 20 * H),
        &[("WorkloadIdentityProviderArn", &arn), ("SignerType", "X509"), ("SigningDelayInHours", "2")],
    );
    assert!(enable.is_ok(), "{enable:?}");
    assert_eq!(status(&services, &arn, "b", t2 + 20 * H), "IN_TRANSITION");
    assert_eq!(status(&services, &arn, "b", t2 + 22 * H), "ACTIVE");

    // JWT signers are IAM's own.
    let jwt = run(
        &services,
        &root("DisableWorkloadIdentityProviderOutboundSigner", t2),
        &[("WorkloadIdentityProviderArn", &arn), ("SignerType", "JWT")],
    );
    assert_eq!(code(jwt), "InvalidInput");

    // The provider cannot go while an entry remains.
    let del_provider =
        |at: i64| run(&services, &root("DeleteWorkloadIdentityProvider", at), &[("WorkloadIdentityProviderArn", &arn)]);
    assert_eq!(code(del_provider(t2 + 22 * H)), "DeleteConflict");
    assert!(disable(t2 + 22 * H).is_ok());
    assert!(delete("b", t2 + 23 * H).is_ok());
    assert!(del_provider(t2 + 23 * H).is_ok());
}

#[test]
fn acm_pca_permissions_are_the_callers() {
    let services = services_at(T0);
    let arn = provider(&services, "p");
    put_ca(&services, &authority(ACCOUNT, "a", "EC_prime256v1"));
    allow(&services, "iamonly", &["iam:*"]);
    let create = |call: Call| on_ca(&services, call, &arn, ACCOUNT, "a", &[]);
    let denied = create(as_user("CreateWorkloadIdentityProviderOutboundSigner", "iamonly", T0));
    assert!(
        denied
            .as_ref()
            .err()
            .is_some_and(|e| e.0 == "AccessDenied" && e.1.contains("acm-pca:CreateCertificateAuthorityAssociation")),
        "{denied:?}"
    );
    assert!(listed(&services, &arn, T0).0.is_empty());
    allow(&services, "both", &["iam:*", "acm-pca:CreateCertificateAuthorityAssociation"]);
    let r = create(as_user("CreateWorkloadIdentityProviderOutboundSigner", "both", T0));
    assert!(r.is_ok(), "{r:?}");

    let t = T0 + 2 * H;
    assert!(run(
        &services,
        &root("DisableWorkloadIdentityProviderOutboundSigner", t),
        &[("WorkloadIdentityProviderArn", &arn), ("SignerType", "X509")]
    )
    .is_ok());
    // AWS Private CA refuses to release the association: nothing is removed.
    let delete = |user: &str| {
        on_ca(&services, as_user("DeleteWorkloadIdentityProviderOutboundSigner", user, t), &arn, ACCOUNT, "a", &[])
    };
    let refused = delete("both");
    assert!(
        refused.as_ref().err().is_some_and(|e| e.1.contains("acm-pca:DeleteCertificateAuthorityAssociation")),
        "{refused:?}"
    );
    assert_eq!(status(&services, &arn, "a", t), "VALIDATING");
    assert_eq!(get_ca(&services, ACCOUNT, "a").associations.len(), 1);
    // The association is already gone: the deletion goes ahead.
    put_ca(&services, &authority(ACCOUNT, "a", "EC_prime256v1"));
    assert!(delete("both").is_ok());
    assert_eq!(status(&services, &arn, "a", t), "GONE");
}

#[test]
fn the_listing_pages_in_a_stable_order_with_markers_tied_to_the_arn() {
    let services = services_at(T0);
    let arn = provider(&services, "p");
    let other = provider(&services, "q");
    for (id, alg) in [("a", "EC_prime256v1"), ("r", "RSA_2048"), ("s", "EC_secp384r1")] {
        put_ca(&services, &authority(ACCOUNT, id, alg));
        assert!(
            on_ca(&services, root("CreateWorkloadIdentityProviderOutboundSigner", T0), &arn, ACCOUNT, id, &[]).is_ok()
        );
    }
    let page = |arn: &str, marker: Option<&str>| {
        let mut pairs = vec![("WorkloadIdentityProviderArn", arn), ("MaxItems", "2")];
        pairs.extend(marker.map(|m| ("Marker", m)));
        run(&services, &root("ListWorkloadIdentityProviderOutboundSigners", T0), &pairs)
    };
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let b = page(&arn, marker.as_deref()).unwrap_or_default();
        seen.extend(
            b.split("<member>")
                .skip(1)
                .map(|m| elem(m, "CertificateAuthorityId").or_else(|| elem(m, "SigningAlgorithm")).unwrap_or_default()),
        );
        marker = elem(&b, "Marker");
        if elem(&b, "IsTruncated").as_deref() != Some("true") {
            break;
        }
        assert!(marker.is_some());
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["ES384", "RS256", "a", "r", "s"], "each entry once");
    let first = page(&arn, None).ok().and_then(|b| elem(&b, "Marker")).unwrap_or_default();
    assert_eq!(code(page(&other, Some(&first))), "InvalidInput", "a marker of another ARN");
    let again = page(&arn, None).unwrap_or_default();
    assert_eq!(elem(&again, "Marker").as_deref(), Some(first.as_str()), "same order on every call");
}

#[test]
fn update_refuses_what_it_cannot_rotate() {
    let services = services_at(T0);
    let arn = provider(&services, "p");
    put_ca(&services, &authority(ACCOUNT, "a", "EC_prime256v1"));
    put_ca(&services, &authority(ACCOUNT, "r", "RSA_2048"));
    put_ca(&services, &CertificateAuthority { status: "DISABLED".into(), ..authority(ACCOUNT, "d", "EC_prime256v1") });
    let update =
        |id: &str| on_ca(&services, root("UpdateWorkloadIdentityProviderOutboundSigner", T0), &arn, ACCOUNT, id, &[]);
    assert_eq!(code(update("a")), "InvalidInput", "no slot to rotate");
    assert!(on_ca(&services, root("CreateWorkloadIdentityProviderOutboundSigner", T0), &arn, ACCOUNT, "a", &[]).is_ok());
    assert_eq!(code(update("r")), "InvalidInput", "another key algorithm");
    assert_eq!(code(update("d")), "InvalidInput", "the requirements again");
    assert_eq!(code(update("missing")), "InvalidInput");
    assert!(get_ca(&services, ACCOUNT, "r").associations.is_empty());
    assert_eq!(listed(&services, &arn, T0).0, vec![("a".into(), "IN_TRANSITION".into())]);
    // The default delay of Update is 24 hours; the new CA's association is recorded.
    put_ca(&services, &authority(ACCOUNT, "b", "EC_prime256v1"));
    assert!(update("b").is_ok());
    assert_eq!(get_ca(&services, ACCOUNT, "b").associations.len(), 1);
    assert_eq!(status(&services, &arn, "b", T0 + 24 * H - 1), "IN_TRANSITION");
    assert_eq!(status(&services, &arn, "b", T0 + 24 * H), "ACTIVE");
    assert_eq!(status(&services, &arn, "a", T0 + 1), "VALIDATING", "a, which never signed, was replaced");
    assert_eq!(status(&services, &arn, "a", T0 + 24 * H), "INACTIVE");
}

#[test]
fn a_full_slot_sheds_inactive_entries_and_releases_their_associations() {
    let services = services_at(T0);
    let arn = provider(&services, "p");
    let ids = ["a", "b", "c", "d", "e", "f"];
    for id in ids {
        put_ca(&services, &authority(ACCOUNT, id, "EC_prime256v1"));
    }
    assert!(on_ca(&services, root("CreateWorkloadIdentityProviderOutboundSigner", T0), &arn, ACCOUNT, "a", &[]).is_ok());
    let mut at = T0 + 2 * H;
    for id in &ids[1..5] {
        let r = on_ca(
            &services,
            root("UpdateWorkloadIdentityProviderOutboundSigner", at),
            &arn,
            ACCOUNT,
            id,
            &[("SigningDelayInHours", "1")],
        );
        assert!(r.is_ok(), "{id}: {r:?}");
        at += 20 * H;
    }
    assert_eq!(listed(&services, &arn, at).0.len(), 5);
    // Nothing INACTIVE yet right after a rotation? a, b, c are: the oldest (a) goes.
    let r = on_ca(
        &services,
        root("UpdateWorkloadIdentityProviderOutboundSigner", at),
        &arn,
        ACCOUNT,
        "f",
        &[("SigningDelayInHours", "1")],
    );
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(status(&services, &arn, "a", at), "GONE");
    assert!(get_ca(&services, ACCOUNT, "a").associations.is_empty());
    assert_eq!(listed(&services, &arn, at).0.len(), 5);
}
