//! `GetDelegatedAccessToken` (STS API Reference; IAM User Guide
//! `access_policies-temporary-delegation.html`): the partner exchanges the token of a finalized
//! delegation request (IAM `SendDelegationToken`) for temporary credentials of the identity that
//! accepted the request (an IAM user's as a federated user session of that user, see
//! [`session_kind`]), limited by the request's permission policy as a session policy, until
//! the end of the delegated session. The token works once, only for the requestor account, and
//! never after the request expired; every refusal changes nothing.

use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::assume_role::issue;
use super::write_credentials;
use crate::caller::{CallerKind, SessionInfo};
use crate::iam_workload::delegation_requests::{self as dr, DelegationRequest};
use crate::{internal, model, Call, Services};

fn expired() -> AwsError {
    AwsError::new(400, "ExpiredTradeInTokenException", "The trade-in token is expired, already used or not valid.")
}

/// The principal of the delegated session. Session policies do not apply to IAM users (IAM User
/// Guide, `access_policies.html#policies_session`), so an IAM user's delegation is a federated
/// user session of that user, as `GetFederationToken` makes: the user's permissions intersected
/// with the session policy. Role sessions, federated users and the root user keep their kind.
pub fn session_kind(approver: &CallerKind) -> CallerKind {
    match approver {
        CallerKind::User { name, .. } => {
            CallerKind::FederatedUser { name: name.chars().take(32).collect(), user_name: name.clone() }
        }
        other => other.clone(),
    }
}

/// Run `GetDelegatedAccessToken`.
pub fn get_delegated_access_token(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let token = p.required("TradeInToken")?;
    let id = dr::token_request_id(token).ok_or_else(expired)?;
    let caller = &call.caller;
    let read = services.store.read().map_err(internal)?;
    let found: Option<DelegationRequest> = model::load(read.as_ref(), dr::TABLE, id).map_err(internal)?;
    drop(read);
    let arn = found.as_ref().map_or_else(|| dr::request_arn(&caller.account, id), DelegationRequest::arn);
    services.authorize(call, "sts:GetDelegatedAccessToken", &arn)?;
    let found = found.ok_or_else(expired)?;
    if found.requestor_account != caller.account {
        return Err(AwsError::access_denied(format!(
            "The trade-in token was not issued to account {}.",
            caller.account
        )));
    }
    let now = call.now_secs();
    let request = {
        let mut txn = services.store.write().map_err(internal)?;
        let mut r: DelegationRequest =
            model::load(txn.as_ref(), dr::TABLE, id).map_err(internal)?.ok_or_else(expired)?;
        let live = r.state_at(now) == dr::state::FINALIZED && !r.token_used;
        if !live || !r.token_digest.as_deref().is_some_and(|d| dr::token_matches(d, token)) {
            return Err(expired());
        }
        r.token_used = true;
        r.token_digest = None;
        r.sealed_token = None;
        model::save(txn.as_mut(), dr::TABLE, id, &r).map_err(internal)?;
        txn.commit().map_err(internal)?;
        r
    };
    let (Some(kind), Some(account), Some(principal), Some(expires)) = (
        request.approver_kind.as_ref(),
        request.owner_account.as_deref(),
        request.approver_id.as_deref(),
        request.expires,
    ) else {
        return Err(expired());
    };
    let info = SessionInfo {
        issued_at: now,
        expires_at: expires,
        session_policy: Some(request.permission_policy.clone()),
        issued_by: "GetDelegatedAccessToken".into(),
        source_principal_arn: Some(caller.arn.clone()),
        ..SessionInfo::default()
    };
    let kind = session_kind(kind);
    let creds = issue(services, account, &kind, &info)?;
    let mut w = XmlWriter::fragment();
    write_credentials(&mut w, &creds);
    w.elem("AssumedPrincipal", principal);
    Ok(WireResponse::query(STS_XMLNS, "GetDelegatedAccessToken", Some(&w.finish()), &call.meta.request_id))
}
