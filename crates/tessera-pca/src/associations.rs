//! Resources associated with a service-affiliated CA: `CreateCertificateAuthorityAssociation`,
//! `DeleteCertificateAuthorityAssociation`, `ListCertificateAuthorityAssociations`. Both
//! changes are idempotent, as AWS documents; a CA that is not `SERVICE_AFFILIATED` refuses
//! them with `InvalidRequestException`.

use serde_json::{json, Value};
use tessera_core::validate::Checks;
use tessera_core::{Call, Services};
use tessera_wire::AwsError;

use crate::common::{
    authorized_ca, epoch, finish, invalid_request, paged, require_status, required_str, update_ca, NOT_DELETED,
};
use crate::model::CertificateAuthority;

/// `arn:[a-z0-9][a-z0-9-]*:[a-z0-9-]+:[a-z0-9-]*:([0-9]{0,12}|o-[a-z0-9]{10,32}):.+`.
fn is_associated_resource_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let lower = |s: &str| s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let [scheme, partition, service, region, account, rest] = parts.as_slice() else { return false };
    let account_ok = (account.len() <= 12 && account.bytes().all(|b| b.is_ascii_digit()))
        || account.strip_prefix("o-").is_some_and(|o| (10..=32).contains(&o.len()) && lower(o) && !o.contains('-'));
    *scheme == "arn"
        && !partition.is_empty()
        && lower(partition)
        && !partition.starts_with('-')
        && !service.is_empty()
        && lower(service)
        && lower(region)
        && account_ok
        && !rest.is_empty()
}

/// The `AssociatedResourceArn` member, checked against the model.
fn resource_arn(input: &Value) -> Result<&str, AwsError> {
    let arn = required_str(input, "AssociatedResourceArn")?;
    let mut c = Checks::new();
    c.length("associatedResourceArn", arn, 5, 256).pattern(
        "associatedResourceArn",
        arn,
        "arn:[a-z0-9][a-z0-9-]*:[a-z0-9-]+:[a-z0-9-]*:([0-9]{0,12}|o-[a-z0-9]{10,32}):.+",
        is_associated_resource_arn,
    );
    finish(&mut c)?;
    Ok(arn)
}

fn require_affiliated(ca: &CertificateAuthority) -> Result<(), AwsError> {
    if ca.usage_mode == "SERVICE_AFFILIATED" {
        return Ok(());
    }
    Err(invalid_request(format!(
        "The certificate authority {} is not SERVICE_AFFILIATED: only a service-affiliated CA has associations.",
        ca.arn()
    )))
}

/// `CreateCertificateAuthorityAssociation` (an existing association succeeds again).
pub fn create(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(
        services,
        call,
        input,
        "CertificateAuthorityArn",
        "acm-pca:CreateCertificateAuthorityAssociation",
    )?;
    let arn = resource_arn(input)?;
    require_affiliated(&ca)?;
    require_status(&ca, NOT_DELETED)?;
    if ca.is_associated(arn) {
        return Ok(json!({}));
    }
    let now = call.meta.now_millis;
    update_ca(services, &ca, |_, stored| {
        stored.associate(arn, now);
        Ok(())
    })?;
    Ok(json!({}))
}

/// `DeleteCertificateAuthorityAssociation` (an absent association succeeds too).
pub fn delete(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(
        services,
        call,
        input,
        "CertificateAuthorityArn",
        "acm-pca:DeleteCertificateAuthorityAssociation",
    )?;
    let arn = resource_arn(input)?;
    require_affiliated(&ca)?;
    require_status(&ca, NOT_DELETED)?;
    if !ca.is_associated(arn) {
        return Ok(json!({}));
    }
    update_ca(services, &ca, |_, stored| {
        stored.disassociate(arn);
        Ok(())
    })?;
    Ok(json!({}))
}

/// `ListCertificateAuthorityAssociations`: the associations and the CA's `ServiceAffiliation`.
pub fn list(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(
        services,
        call,
        input,
        "CertificateAuthorityArn",
        "acm-pca:ListCertificateAuthorityAssociations",
    )?;
    require_affiliated(&ca)?;
    let arn = ca.arn();
    let items = ca
        .associations
        .iter()
        .map(|a| {
            let v = json!({
                "CertificateAuthorityArn": arn,
                "AssociatedResourceArn": a.resource_arn,
                "CreatedAt": epoch(a.created_at),
            });
            (a.resource_arn.clone(), v)
        })
        .collect();
    let mut out = paged(input, "Associations", items, 100, 1000)?;
    if let (Some(code), Value::Object(map)) = (&ca.service_affiliation, &mut out) {
        map.insert("ServiceAffiliation".into(), json!({ "ServiceAffiliationCode": code }));
    }
    Ok(out)
}
