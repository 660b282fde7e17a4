//! Workload identity operations through `iam::handle`, on an in-memory store: garbage never
//! panics, deletion tasks expire after 24 hours, private keys are stored sealed only.

use super::super::credentials::test_support::{body, elem, params, root_call, services_at, user_call, ACCOUNT};
use super::{provider_key, WorkloadIdentityProvider, PROVIDER_TABLE};
use crate::model;

const T0: i64 = 1_800_000_000;

const OPERATIONS: &[&str] = &[
    "CreateWorkloadIdentityProvider",
    "GetWorkloadIdentityProvider",
    "ListWorkloadIdentityProviders",
    "DeleteWorkloadIdentityProvider",
    "GetWorkloadIdentityProviderDeletionStatus",
    "ListWorkloadIdentityProviderOutboundSigners",
    "TagWorkloadIdentityProvider",
    "UntagWorkloadIdentityProvider",
    "ListWorkloadIdentityProviderTags",
    "PutWorkloadIdentityProviderResourcePolicy",
    "GetWorkloadIdentityProviderResourcePolicy",
    "DeleteWorkloadIdentityProviderResourcePolicy",
    "CreateWorkloadIdentityProviderOutboundSigner",
    "UpdateWorkloadIdentityProviderOutboundSigner",
    "DeleteWorkloadIdentityProviderOutboundSigner",
    "EnableWorkloadIdentityProviderOutboundSigner",
    "DisableWorkloadIdentityProviderOutboundSigner",
    "CreateWorkloadIdentityTemplate",
    "GetWorkloadIdentityTemplate",
    "ListWorkloadIdentityTemplates",
    "DeleteWorkloadIdentityTemplate",
    "TagWorkloadIdentityTemplate",
    "UntagWorkloadIdentityTemplate",
    "ListWorkloadIdentityTemplateTags",
    "PutWorkloadIdentityTemplateAttestationPolicy",
    "GetWorkloadIdentityTemplateAttestationPolicy",
    "DeleteWorkloadIdentityTemplateAttestationPolicy",
    "EnableOrganizationLevelResources",
    "DisableOrganizationLevelResources",
];

fn create(services: &crate::Services, name: &str) -> String {
    let call = root_call("CreateWorkloadIdentityProvider", T0);
    let p = params(&[("ProviderName", name), ("Scheme", "SPIFFE"), ("WorkloadIdentityDomain", "example.org")]);
    let r = crate::iam::handle(services, &call, &p).map(|r| body(&r)).unwrap_or_default();
    elem(&r, "Arn").unwrap_or_default()
}

#[test]
fn garbage_never_panics_and_is_a_client_error() {
    let services = services_at(T0);
    let arn = create(&services, "p1");
    assert!(arn.ends_with(":workload-identity-provider/p1"));
    let values = [
        "",
        "x",
        "é",
        "aws:x",
        "\u{0}",
        "-1",
        "99999999999999999999",
        "NONE",
        "SPIFFE",
        "ORGANIZATION",
        "JWT",
        "X509",
        "{",
        "arn:aws:iam::123456789012:workload-identity-provider/",
        &arn,
        "ÿÿÿÿ",
        "a/b/c",
        "%zz",
        "{aws:WorkloadAttestation/aws/eks/Namespace}",
        "a/{x}/{",
        "arn:aws:iam::o-abcdefghij:workload-identity-template/t",
        "service_principal = \"eks.amazonaws.com\"",
    ];
    let long = "é".repeat(3000);
    let names = [
        "WorkloadIdentityProviderArn",
        "ProviderName",
        "Scheme",
        "WorkloadIdentityDomain",
        "ResourceScope",
        "Description",
        "DeletionTaskId",
        "Marker",
        "MaxItems",
        "PolicyDocument",
        "SignerType",
        "SigningDelayInHours",
        "Tags.member.1.Key",
        "Tags.member.1.Value",
        "TagKeys.member.1",
        "OutboundSigner.X509.CertificateAuthorityId",
        "OutboundSigner.X509.AccountId",
        "Name",
        "PathPattern",
        "PathPrefix",
        "AttestationPolicy",
        "WorkloadIdentityTemplateArn",
        "Filter",
        "TemplateDefinition.TemplateDefinitionArn",
        "TemplateDefinition.ReplacementValues.entry.1.key",
    ];
    for op in OPERATIONS {
        for (i, v) in values.iter().chain(std::iter::once(&long.as_str())).enumerate() {
            let pairs: Vec<(&str, &str)> =
                names.iter().enumerate().map(|(j, n)| (*n, values[(i + j) % values.len()])).collect();
            for p in [params(&[]), params(&[(names[i % names.len()], v)]), params(&pairs)] {
                let call = root_call(op, T0);
                match crate::iam::handle(&services, &call, &p) {
                    Ok(r) => assert!(r.status < 300, "{op}"),
                    Err(e) => assert!((400..500).contains(&e.status) || e.status == 501, "{op}: {e:?}"),
                }
            }
        }
    }
}

#[test]
fn private_keys_are_stored_sealed_and_tasks_expire() {
    let services = services_at(T0);
    let arn = create(&services, "keys");
    let read = services.store.read().unwrap_or_else(|_| panic!("read"));
    let stored: Option<WorkloadIdentityProvider> =
        model::load(read.as_ref(), PROVIDER_TABLE, &provider_key(ACCOUNT, "keys")).unwrap_or_default();
    drop(read);
    let stored = stored.unwrap_or_else(|| panic!("stored"));
    assert_eq!(stored.jwt_signers.len(), 2);
    for s in &stored.jwt_signers {
        assert!(!s.sealed_private_key.contains("PRIVATE"));
        let ctx = super::signers::seal_context(&stored.id, &s.kid);
        assert!(services.secrets.open(&ctx, &s.sealed_private_key).is_ok_and(|k| k.len() > 32));
    }

    let call = root_call("DeleteWorkloadIdentityProvider", T0);
    let r = crate::iam::handle(&services, &call, &params(&[("WorkloadIdentityProviderArn", &arn)]));
    let task = r.map(|r| elem(&body(&r), "DeletionTaskId").unwrap_or_default()).unwrap_or_default();
    assert!(task.starts_with("task/workload-identity-provider/keys/"));
    let status = |caller: crate::Call| crate::iam::handle(&services, &caller, &params(&[("DeletionTaskId", &task)]));
    let ok = status(root_call("GetWorkloadIdentityProviderDeletionStatus", T0 + 3600));
    assert!(ok.is_ok_and(|r| elem(&body(&r), "Status").as_deref() == Some("SUCCEEDED")));
    let late = status(root_call("GetWorkloadIdentityProviderDeletionStatus", T0 + 24 * 3600 + 1));
    assert_eq!(late.err().map(|e| e.code), Some("NoSuchEntity".to_string()));
    // A user without permission is denied, whether or not the task exists.
    let denied = status(user_call("GetWorkloadIdentityProviderDeletionStatus", "nobody", T0 + 60));
    assert_eq!(denied.err().map(|e| e.code), Some("AccessDenied".to_string()));
}

#[test]
fn providers_stored_with_es256_get_rs256_at_start_and_keep_es384() {
    let services = services_at(T0);
    create(&services, "old");
    let key = provider_key(ACCOUNT, "old");
    let load = || -> WorkloadIdentityProvider {
        let read = services.store.read().unwrap_or_else(|_| panic!("read"));
        model::load(read.as_ref(), PROVIDER_TABLE, &key).unwrap_or_default().unwrap_or_else(|| panic!("stored"))
    };
    // Make it look as a provider stored before RS256: ES256 and ES384 signers.
    let mut old = load();
    let es384 = old.jwt_signers.iter().find(|s| s.signing_algorithm == "ES384").cloned();
    let es384 = es384.unwrap_or_else(|| panic!("ES384 signer"));
    let mut es256 = es384.clone();
    es256.signing_algorithm = "ES256".into();
    es256.key_algorithm = "ECC_NIST_P256".into();
    es256.kid = "old-es256".into();
    old.jwt_signers = vec![es256, es384.clone()];
    let mut w = services.store.write().unwrap_or_else(|_| panic!("write"));
    model::save(w.as_mut(), PROVIDER_TABLE, &key, &old).unwrap_or_else(|_| panic!("save"));
    w.commit().unwrap_or_else(|_| panic!("commit"));

    assert_eq!(super::signers::upgrade_providers(&services).ok(), Some(1));
    let now = load();
    let algs: Vec<&str> = now.jwt_signers.iter().map(|s| s.signing_algorithm.as_str()).collect();
    assert_eq!(algs, ["ES384", "RS256"]);
    assert_eq!(now.jwt_signers[0].kid, es384.kid, "the ES384 key is kept");
    let rs256 = &now.jwt_signers[1];
    let ctx = super::signers::seal_context(&now.id, &rs256.kid);
    assert!(services.secrets.open(&ctx, &rs256.sealed_private_key).is_ok());
    assert!(rs256.jwk("jwt-svid").is_some_and(|j| j["kty"] == "RSA"));
    // A second start changes nothing.
    assert_eq!(super::signers::upgrade_providers(&services).ok(), Some(0));
    assert_eq!(load().jwt_signers[1].kid, rs256.kid);
    // A NONE provider stored with keys loses them: it has none.
    let mut none = load();
    none.scheme = "NONE".into();
    let mut w = services.store.write().unwrap_or_else(|_| panic!("write"));
    model::save(w.as_mut(), PROVIDER_TABLE, &key, &none).unwrap_or_else(|_| panic!("save"));
    w.commit().unwrap_or_else(|_| panic!("commit"));
    assert_eq!(super::signers::upgrade_providers(&services).ok(), Some(1));
    assert!(load().jwt_signers.is_empty());
}
