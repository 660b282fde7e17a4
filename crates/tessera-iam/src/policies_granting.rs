//! `ListPoliciesGrantingServiceAccess` (`access_policies_last-accessed-view-data.html`): for each
//! service namespace asked, the permissions policies of a user (its own and its groups'), group or
//! role that allow some action of that service.
//!
//! As the API reference says, only permissions policies count (no resource-based policies,
//! boundaries, SCPs or trust policies). A policy counts when one of its `Allow` statements has an
//! `Action` matching, or a `NotAction` not matching, some action of the namespace in Tessera's
//! action table; conditions and resources are not considered, as the last-accessed report
//! decides which services an entity's policies cover.

use tessera_store::ReadTxn;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{invalid_input, load_named, no_such_entity, resolve_policy, Cx, Entity};
use super::last_accessed::allow_blocks;
use crate::model::{table, Group, Role, User};
use crate::validate::Checks;

/// One permissions policy of the entity.
struct Granting {
    name: String,
    /// `INLINE` (with its owner) or `MANAGED` (with its ARN).
    inline_owner: Option<(&'static str, String)>,
    arn: Option<String>,
    /// The `Allow` statements' (`NotAction`?, lower-cased patterns).
    blocks: Vec<(bool, Vec<String>)>,
}

/// Lower-case the patterns once.
fn lowered(blocks: Vec<(bool, Vec<String>)>) -> Vec<(bool, Vec<String>)> {
    blocks.into_iter().map(|(not, pats)| (not, pats.iter().map(|p| p.to_ascii_lowercase()).collect())).collect()
}

/// Whether a lower-cased action pattern can match an action of `ns` at all: actions have one
/// `:`, so a pattern with a `:` must match the namespace before it.
fn may_match(pattern: &str, ns: &str) -> bool {
    pattern.split_once(':').is_none_or(|(service, _)| tessera_policy::wildcard_match(service, ns))
}

/// Whether some `Allow` block grants one of `actions` (lower-cased `ns:Action`).
fn grants(blocks: &[(bool, Vec<String>)], ns: &str, actions: &[String]) -> bool {
    blocks.iter().any(|(not, pats)| {
        let relevant: Vec<&String> = pats.iter().filter(|p| may_match(p, ns)).collect();
        let matched = |a: &String| relevant.iter().any(|p| tessera_policy::wildcard_match(p, a));
        if *not {
            actions.iter().any(|a| !matched(a))
        } else {
            !relevant.is_empty() && actions.iter().any(matched)
        }
    })
}

/// The inline and attached policies of one entity, appended to `out` (managed ones once).
fn policies_of<E: Entity>(
    r: &(impl ReadTxn + ?Sized),
    account: &str,
    e: &E,
    out: &mut Vec<Granting>,
) -> Result<(), AwsError> {
    let owner = match E::KIND {
        crate::model::EntityKind::User => "USER",
        crate::model::EntityKind::Group => "GROUP",
        crate::model::EntityKind::Role => "ROLE",
    };
    for (name, doc) in e.inline_policies() {
        out.push(Granting {
            name: name.clone(),
            inline_owner: Some((owner, e.name().to_string())),
            arn: None,
            blocks: lowered(allow_blocks(std::slice::from_ref(doc))),
        });
    }
    for arn in e.attached() {
        if out.iter().any(|g| g.arn.as_deref() == Some(arn)) {
            continue;
        }
        if let Some(p) = resolve_policy(r, account, arn)? {
            let docs: Vec<String> = p.default_document().map(str::to_string).into_iter().collect();
            out.push(Granting {
                name: p.name().to_string(),
                inline_owner: None,
                arn: Some(arn.clone()),
                blocks: lowered(allow_blocks(&docs)),
            });
        }
    }
    Ok(())
}

/// The policies of the user, group or role `arn` of `account`; `None` when it does not exist.
fn entity_policies(r: &(impl ReadTxn + ?Sized), account: &str, arn: &str) -> Result<Option<Vec<Granting>>, AwsError> {
    let bad = || invalid_input(format!("ARN {arn} is not valid."));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
    let (owner, resource) = rest.split_once(':').ok_or_else(bad)?;
    let (kind, path_name) = resource.split_once('/').ok_or_else(bad)?;
    let name = path_name.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || !matches!(kind, "user" | "group" | "role") {
        return Err(bad());
    }
    if owner != account {
        return Ok(None);
    }
    let mut out = Vec::new();
    match kind {
        "user" => {
            let Some(u) = load_named::<User>(r, table::USER, account, name)?.filter(|u| u.arn() == arn) else {
                return Ok(None);
            };
            policies_of(r, account, &u, &mut out)?;
            for g in &u.groups {
                if let Some(g) = load_named::<Group>(r, table::GROUP, account, g)? {
                    policies_of(r, account, &g, &mut out)?;
                }
            }
        }
        "group" => {
            let Some(g) = load_named::<Group>(r, table::GROUP, account, name)?.filter(|g| g.arn() == arn) else {
                return Ok(None);
            };
            policies_of(r, account, &g, &mut out)?;
        }
        _ => {
            let Some(x) = load_named::<Role>(r, table::ROLE, account, name)?.filter(|x| x.arn() == arn) else {
                return Ok(None);
            };
            policies_of(r, account, &x, &mut out)?;
        }
    }
    Ok(Some(out))
}

/// `ListPoliciesGrantingServiceAccess` (one page: every namespace asked, every policy).
pub(crate) fn list(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let arn = cx.arn(&mut c, "Arn");
    let namespaces = cx.params.list("ServiceNamespaces");
    c.not_null("serviceNamespaces", cx.params.has_list("ServiceNamespaces"));
    c.list_length("serviceNamespaces", "serviceNamespaces", namespaces.len(), 200);
    for (i, ns) in namespaces.iter().enumerate() {
        let field = format!("serviceNamespaces.{}.member", i + 1);
        c.length(&field, ns, 1, 64)
            .pattern(&field, ns, r"[\w-]*", |s| s.chars().all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '-'));
    }
    c.finish()?;
    if namespaces.is_empty() {
        return Err(invalid_input("ServiceNamespaces must name at least one service."));
    }
    if cx.params.get("Marker").is_some() {
        return Err(invalid_input("Invalid Marker: this operation answers in one page."));
    }
    let account = cx.account();
    cx.authorize("iam:ListPoliciesGrantingServiceAccess", &arn, Vec::new())?;
    let read = cx.read()?;
    let policies = entity_policies(read.as_ref(), account, &arn)?
        .ok_or_else(|| no_such_entity(format!("Entity {arn} not found.")))?;
    drop(read);
    let mut w = XmlWriter::fragment();
    w.open("PoliciesGrantingServiceAccess", None);
    for ns in &namespaces {
        let ns_lower = ns.to_ascii_lowercase();
        let prefix = format!("{ns_lower}:");
        let actions: Vec<String> = tessera_policy::validate::known_actions()
            .iter()
            .filter(|a| a.len() > prefix.len() && a.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes()))
            .map(|a| a.to_ascii_lowercase())
            .collect();
        if actions.is_empty() {
            return Err(invalid_input(format!("Service namespace {ns} is not valid.")));
        }
        w.open("member", None).elem("ServiceNamespace", ns).open("Policies", None);
        for p in policies.iter().filter(|p| grants(&p.blocks, &ns_lower, &actions)) {
            w.open("member", None).elem("PolicyName", &p.name);
            match &p.inline_owner {
                Some((kind, owner)) => {
                    w.elem("PolicyType", "INLINE").elem("EntityType", kind).elem("EntityName", owner);
                }
                None => {
                    w.elem("PolicyType", "MANAGED");
                    w.opt("PolicyArn", p.arn.as_deref());
                }
            }
            w.close();
        }
        w.close().close();
    }
    w.close().elem("IsTruncated", "false");
    Ok(cx.respond(Some(w.finish())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_not_action() {
        let actions = vec!["s3:getobject".to_string(), "s3:putobject".to_string()];
        let block = |not: bool, p: &[&str]| vec![(not, p.iter().map(|s| s.to_string()).collect())];
        assert!(grants(&block(false, &["*"]), "s3", &actions));
        assert!(grants(&block(false, &["s3:get*"]), "s3", &actions));
        assert!(grants(&block(false, &["s*"]), "s3", &actions));
        assert!(!grants(&block(false, &["ec2:*"]), "s3", &actions));
        assert!(!grants(&block(false, &["s3:list*"]), "s3", &actions));
        assert!(grants(&block(true, &["iam:*"]), "s3", &actions));
        assert!(!grants(&block(true, &["s3:*"]), "s3", &actions));
        assert!(grants(&block(true, &["s3:get*"]), "s3", &actions));
        assert!(!grants(&[], "s3", &actions));
    }
}
