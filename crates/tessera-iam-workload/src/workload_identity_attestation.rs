//! A workload identity template's attestation policy:
//! `Put/Get/DeleteWorkloadIdentityTemplateAttestationPolicy` (IAM API Reference of each; IAM
//! User Guide `workload-identity-attestation-policies.html`), and the checks a path pattern and
//! a policy meet when they are written.
//!
//! "An attestation policy is an IAM resource-based policy in the standard IAM policy language"
//! (user guide): the engine's parser checks it as one (`MalformedPolicyDocument` otherwise).
//! "The policy's conditions must fit the template's stored `PathPattern`" (API reference of
//! `PutWorkloadIdentityTemplateAttestationPolicy`): every `aws:WorkloadAttestation/...` key a
//! condition tests must belong to an attestation source (`aws:WorkloadAttestation/aws/<service>/`)
//! the pattern's placeholders draw from, since a workload rendered through this template is
//! attested by those sources only; otherwise `InvalidInput`. A pattern's placeholders must name
//! attested context keys (`aws:WorkloadAttestation/aws/<service>/<key>`): a key outside that
//! namespace (such as `aws:PrincipalArn`) resolves to the caller's identity, not to something the
//! workload proved, and is `InvalidInput` (model: `WorkloadIdentityTemplatePathPatternType`).

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::super::entities::{invalid_input, no_such_entity, Cx};
use super::template_ops::{authorized_template, update_template};
use super::templates::pattern_placeholders;
use crate::authz::{validate_policy_document, PolicyDocKind};
use crate::validate::Checks;

/// The namespace of attested context keys.
pub const ATTESTATION_PREFIX: &str = "aws:WorkloadAttestation/";

/// The attestation source of an attested context key (`aws/eks` for
/// `aws:WorkloadAttestation/aws/eks/Namespace`), lowercased (keys are case-insensitive); `None`
/// for a key outside the namespace or without a source and a name.
pub fn attestation_source(key: &str) -> Option<String> {
    let head = key.get(..ATTESTATION_PREFIX.len())?;
    if !head.eq_ignore_ascii_case(ATTESTATION_PREFIX) {
        return None;
    }
    let rest = &key[ATTESTATION_PREFIX.len()..];
    let mut parts = rest.splitn(3, '/');
    let (owner, service, name) = (parts.next()?, parts.next()?, parts.next()?);
    if !owner.eq_ignore_ascii_case("aws") || service.is_empty() || name.is_empty() {
        return None;
    }
    Some(format!("aws/{}", service.to_ascii_lowercase()))
}

/// Check a path pattern's placeholders: each names an attested context key.
pub fn check_placeholders(pattern: &str) -> Result<(), AwsError> {
    let keys = pattern_placeholders(pattern).ok_or_else(|| invalid_input("The PathPattern is not valid."))?;
    for key in keys {
        if attestation_source(key).is_none() {
            return Err(invalid_input(format!(
                "The placeholder {{{key}}} of the PathPattern does not name an attested context key (aws:WorkloadAttestation/aws/<service>/<key>)."
            )));
        }
    }
    Ok(())
}

/// Every condition key a policy document tests, as written.
pub fn condition_keys(policy: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else { return Vec::new() };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.iter().collect::<Vec<_>>(),
        Some(s) => vec![s],
        None => Vec::new(),
    };
    let mut keys = Vec::new();
    for s in statements {
        let Some(serde_json::Value::Object(ops)) = s.get("Condition") else { continue };
        for block in ops.values() {
            if let serde_json::Value::Object(entries) = block {
                keys.extend(entries.keys().cloned());
            }
        }
    }
    keys
}

/// Check an attestation policy against the pattern it will serve: a resource-based policy in
/// IAM's grammar (`MalformedPolicyDocument`) whose attested keys fit the pattern (`InvalidInput`).
pub fn check_attestation_policy(policy: &str, pattern: &str) -> Result<(), AwsError> {
    validate_policy_document(policy, PolicyDocKind::Resource, "")?;
    let sources: Vec<String> =
        pattern_placeholders(pattern).unwrap_or_default().into_iter().filter_map(attestation_source).collect();
    for key in condition_keys(policy) {
        let head = key.get(..ATTESTATION_PREFIX.len());
        if !head.is_some_and(|h| h.eq_ignore_ascii_case(ATTESTATION_PREFIX)) {
            continue;
        }
        let fits = attestation_source(&key).is_some_and(|s| sources.contains(&s));
        if !fits {
            return Err(invalid_input(format!(
                "The attestation policy does not fit the template's PathPattern: condition key {key} is not attested by the sources the pattern uses ({}).",
                sources.join(", ")
            )));
        }
    }
    Ok(())
}

/// `NoSuchEntity` for a template without an attestation policy.
fn no_policy(arn: &str) -> AwsError {
    no_such_entity(format!("The workload identity template with ARN {arn} has no attestation policy."))
}

/// `PutWorkloadIdentityTemplateAttestationPolicy`: an upsert.
pub(crate) fn put(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut document = String::new();
    let t =
        authorized_template(cx, "iam:PutWorkloadIdentityTemplateAttestationPolicy", Vec::new(), |c: &mut Checks| {
            document = cx.document(c, "AttestationPolicy");
        })?;
    check_attestation_policy(&document, &t.path_pattern)?;
    update_template(cx, &t, |t| {
        t.attestation_policy = Some(document);
        Ok(())
    })?;
    Ok(cx.respond(Some(String::new())))
}

/// `GetWorkloadIdentityTemplateAttestationPolicy`: `NoSuchEntity` covers a template that does
/// not exist and one without a policy.
pub(crate) fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let t = authorized_template(cx, "iam:GetWorkloadIdentityTemplateAttestationPolicy", Vec::new(), |_| {})?;
    let policy = t.attestation_policy().ok_or_else(|| no_policy(&t.arn()))?;
    let mut w = XmlWriter::fragment();
    w.elem("WorkloadIdentityTemplateArn", &t.arn()).elem("AttestationPolicy", policy);
    Ok(cx.respond(Some(w.finish())))
}

/// `DeleteWorkloadIdentityTemplateAttestationPolicy`: the template stays and admits nothing; a
/// template without a policy is `NoSuchEntity`.
pub(crate) fn delete(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let t = authorized_template(cx, "iam:DeleteWorkloadIdentityTemplateAttestationPolicy", Vec::new(), |_| {})?;
    let arn = t.arn();
    update_template(cx, &t, |t| match t.attestation_policy.take() {
        Some(_) => Ok(()),
        None => Err(no_policy(&arn)),
    })?;
    Ok(cx.respond(Some(String::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATTERN: &str =
        "{aws:WorkloadAttestation/aws/eks/ClusterName}/ns/{aws:WorkloadAttestation/aws/eks/Namespace}";

    fn policy(key: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"pods.eks.amazonaws.com"}},"Action":"sts:IssueWorkloadIdentityContext","Resource":"*","Condition":{{"StringEquals":{{"{key}":"prod"}}}}}}]}}"#
        )
    }

    #[test]
    fn sources_come_from_attested_keys() {
        assert_eq!(attestation_source("aws:WorkloadAttestation/aws/eks/Namespace").as_deref(), Some("aws/eks"));
        assert_eq!(attestation_source("AWS:workloadattestation/aws/EKS/x/y").as_deref(), Some("aws/eks"));
        assert_eq!(attestation_source("aws:WorkloadAttestation/aws/eks"), None);
        assert_eq!(attestation_source("aws:WorkloadAttestation/aws/eks/"), None);
        assert_eq!(attestation_source("aws:PrincipalArn"), None);
        assert_eq!(attestation_source("é"), None);
    }

    #[test]
    fn placeholders_must_be_attested_keys() {
        assert!(check_placeholders(PATTERN).is_ok());
        assert_eq!(
            check_placeholders("prod/{aws:PrincipalArn}").err().map(|e| e.code.to_string()).as_deref(),
            Some("InvalidInput")
        );
    }

    #[test]
    fn policies_must_fit_the_pattern() {
        assert!(check_attestation_policy(&policy("aws:WorkloadAttestation/aws/eks/Namespace"), PATTERN).is_ok());
        assert!(check_attestation_policy(&policy("aws:WorkloadAttestation/aws/eks/ServiceAccount"), PATTERN).is_ok());
        assert!(check_attestation_policy(&policy("aws:SourceAccount"), PATTERN).is_ok());
        let code = |r: Result<(), AwsError>| r.err().map(|e| e.code.to_string());
        assert_eq!(
            code(check_attestation_policy(&policy("aws:WorkloadAttestation/aws/ecs/TaskArn"), PATTERN)).as_deref(),
            Some("InvalidInput")
        );
        assert_eq!(code(check_attestation_policy("{", PATTERN)).as_deref(), Some("MalformedPolicyDocument"));
        let identity = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:IssueWorkloadIdentityContext","Resource":"*"}]}"#;
        assert_eq!(code(check_attestation_policy(identity, PATTERN)).as_deref(), Some("MalformedPolicyDocument"));
    }
}
