//! Tags and the resource policy of a workload identity provider:
//! `Tag/Untag/ListWorkloadIdentityProviderTags` and
//! `Put/Get/DeleteWorkloadIdentityProviderResourcePolicy` (IAM API Reference).
//!
//! Tag keys are case sensitive here, unlike other IAM tags: a key spelled exactly as an attached
//! one replaces its value, and a request that would leave two keys differing only in case is
//! `InvalidInput`; keys in the reserved `aws:` namespace are `InvalidInput` too.
//!
//! The resource policy is a property of the provider, at most one, stored exactly as given after
//! the policy engine's parser accepted it as a resource-based policy (`MalformedPolicyDocument`
//! otherwise). AWS consults it when a member account binds a template to an organization-scoped
//! provider (`iam:AssociateWorkloadIdentityTemplate`); neither organization-scoped providers nor
//! templates are built, so nothing consults it yet (docs/WORKLOAD_IDENTITY.md).

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::super::credentials::{parse_tag_keys, request_tag_context, tags_page};
use super::super::entities::Cx;
use super::providers::merge_case_sensitive;
use super::{authorized_provider, no_such_entity_policy, request_tags, update_provider, TAGS_PER_PROVIDER};
use crate::authz::{validate_policy_document, PolicyDocKind};
use crate::validate::Checks;

/// `TagWorkloadIdentityProvider`.
pub(crate) fn tag(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    if !cx.params.has_list("Tags") {
        return Err(tessera_wire::query::null_member("Tags"));
    }
    let tags = request_tags(cx.params)?;
    let p = authorized_provider(cx, "iam:TagWorkloadIdentityProvider", request_tag_context(&tags), |_| {})?;
    update_provider(cx, &p, |p| merge_case_sensitive(&mut p.tags, tags, TAGS_PER_PROVIDER))?;
    Ok(cx.respond(None))
}

/// `UntagWorkloadIdentityProvider`: keys not attached are ignored.
pub(crate) fn untag(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let keys = parse_tag_keys(cx.params)?;
    let context = vec![("aws:TagKeys".to_string(), keys.clone())];
    let p = authorized_provider(cx, "iam:UntagWorkloadIdentityProvider", context, |_| {})?;
    update_provider(cx, &p, |p| {
        p.tags.retain(|t| !keys.contains(&t.key));
        Ok(())
    })?;
    Ok(cx.respond(None))
}

/// `ListWorkloadIdentityProviderTags`.
pub(crate) fn list_tags(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.page()?;
    let p = authorized_provider(cx, "iam:ListWorkloadIdentityProviderTags", Vec::new(), |_| {})?;
    Ok(cx.respond(Some(tags_page(cx.params, &p.tags)?)))
}

/// `PutWorkloadIdentityProviderResourcePolicy`: attach or replace the provider's policy.
pub(crate) fn put_resource_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut document = String::new();
    let p = authorized_provider(cx, "iam:PutWorkloadIdentityProviderResourcePolicy", Vec::new(), |c: &mut Checks| {
        document = cx.document(c, "PolicyDocument");
    });
    // A malformed document is refused before the provider's existence is told, but only to a
    // caller allowed to put it (authorization came first).
    if let Err(e) = &p {
        if e.code != "NoSuchEntity" {
            return Err(e.clone());
        }
    }
    validate_policy_document(&document, PolicyDocKind::Resource, "")?;
    let p = p?;
    update_provider(cx, &p, |p| {
        p.resource_policy = Some(document);
        Ok(())
    })?;
    Ok(cx.respond(Some(String::new())))
}

/// `GetWorkloadIdentityProviderResourcePolicy`: `NoSuchEntity` covers both a provider that does
/// not exist and a provider without a policy.
pub(crate) fn get_resource_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let p = authorized_provider(cx, "iam:GetWorkloadIdentityProviderResourcePolicy", Vec::new(), |_| {})?;
    let document = p.resource_policy.as_deref().ok_or_else(|| no_such_entity_policy(&p.arn()))?;
    let mut w = XmlWriter::fragment();
    w.elem("Arn", &p.arn()).elem("PolicyDocument", document);
    Ok(cx.respond(Some(w.finish())))
}

/// `DeleteWorkloadIdentityProviderResourcePolicy`: the provider stays; deleting a policy that
/// is not there is `NoSuchEntity`.
pub(crate) fn delete_resource_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let p = authorized_provider(cx, "iam:DeleteWorkloadIdentityProviderResourcePolicy", Vec::new(), |_| {})?;
    let arn = p.arn();
    update_provider(cx, &p, |p| match p.resource_policy.take() {
        Some(_) => Ok(()),
        None => Err(no_such_entity_policy(&arn)),
    })?;
    Ok(cx.respond(Some(String::new())))
}
