//! The delegation request state machine.

use super::*;

fn request(owner: Option<&str>) -> DelegationRequest {
    DelegationRequest {
        id: "dr-0123456789abcdef".into(),
        requestor_account: "111111111111".into(),
        owner_account: owner.map(str::to_string),
        owner_id: None,
        approver_id: None,
        approver_kind: None,
        description: "d".into(),
        request_message: None,
        policy_template_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".into(),
        parameters: Vec::new(),
        permission_policy:
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#.into(),
        workflow_id: "wf-1".into(),
        redirect_url: None,
        notification_channel: "arn:aws:sns:us-east-1:111111111111:t".into(),
        session_duration: 3600,
        only_send_by_owner: false,
        state: state::UNASSIGNED.into(),
        notes: None,
        rejection_reason: None,
        created: 0,
        updated: 0,
        expires: None,
        sealed_token: None,
        token_digest: None,
        token_used: false,
    }
}

const ALICE: &str = "arn:aws:iam::222222222222:user/alice";
const BOB: &str = "arn:aws:iam::222222222222:user/bob";

fn actor<'a>(account: &'a str, arn: &'a str, kind: &'a CallerKind) -> Actor<'a> {
    Actor { account, arn, kind }
}

#[test]
fn the_approval_path_records_owner_and_approver() {
    let kind = CallerKind::Root;
    let mut r = request(None);
    apply(&mut r, Step::Associate, &actor("222222222222", ALICE, &kind), None, 10).unwrap();
    assert_eq!((r.state.as_str(), r.owner_id.as_deref()), (state::ASSIGNED, Some(ALICE)));
    assert_eq!(r.owner_account.as_deref(), Some("222222222222"));
    apply(&mut r, Step::Update, &actor("222222222222", ALICE, &kind), Some("to bob"), 11).unwrap();
    assert_eq!(r.state, state::PENDING_APPROVAL);
    apply(&mut r, Step::Accept, &actor("222222222222", BOB, &kind), None, 12).unwrap();
    assert_eq!((r.state.as_str(), r.approver_id.as_deref()), (state::ACCEPTED, Some(BOB)));
    apply(&mut r, Step::Send, &actor("222222222222", BOB, &kind), None, 13).unwrap();
    assert_eq!(r.state, state::FINALIZED);
    assert_eq!(r.expires, Some(13 + 3600));
    assert_eq!(r.state_at(13 + 3599), state::FINALIZED);
    assert_eq!(r.state_at(13 + 3600), state::EXPIRED);
}

#[test]
fn wrong_states_and_accounts_change_nothing() {
    let kind = CallerKind::Root;
    let mut r = request(Some("222222222222"));
    let before = r.clone();
    assert!(apply(&mut r, Step::Associate, &actor("333333333333", ALICE, &kind), None, 1).is_err());
    assert!(apply(&mut r, Step::Accept, &actor("222222222222", ALICE, &kind), None, 1).is_err());
    assert!(apply(&mut r, Step::Send, &actor("222222222222", ALICE, &kind), None, 1).is_err());
    assert_eq!(r, before);
    apply(&mut r, Step::Associate, &actor("222222222222", ALICE, &kind), None, 2).unwrap();
    assert!(apply(&mut r, Step::Accept, &actor("333333333333", BOB, &kind), None, 3).is_err());
    apply(&mut r, Step::Reject, &actor("222222222222", BOB, &kind), Some("no"), 3).unwrap();
    assert_eq!(r.rejection_reason.as_deref(), Some("no"));
    let rejected = r.clone();
    assert!(apply(&mut r, Step::Accept, &actor("222222222222", BOB, &kind), None, 4).is_err());
    assert!(apply(&mut r, Step::Send, &actor("222222222222", BOB, &kind), None, 4).is_err());
    assert_eq!(r, rejected);
    assert_eq!(r.state_at(3 + REJECTED_TTL_SECS), state::EXPIRED);
}

#[test]
fn open_requests_expire_after_a_week_without_a_step() {
    let kind = CallerKind::Root;
    let mut r = request(None);
    // A record without `expires` (written before inactivity expiry) counts from its last step.
    assert_eq!(r.expiry(), INACTIVITY_TTL_SECS);
    assert_eq!(r.state_at(INACTIVITY_TTL_SECS - 1), state::UNASSIGNED);
    assert_eq!(r.state_at(INACTIVITY_TTL_SECS), state::EXPIRED);
    // Each step starts the week again.
    apply(&mut r, Step::Associate, &actor("222222222222", ALICE, &kind), None, 100).unwrap();
    assert_eq!(r.state_at(INACTIVITY_TTL_SECS), state::ASSIGNED);
    apply(&mut r, Step::Update, &actor("222222222222", ALICE, &kind), None, 200).unwrap();
    assert_eq!(r.expiry(), 200 + INACTIVITY_TTL_SECS);
    assert_eq!(r.state_at(200 + INACTIVITY_TTL_SECS), state::EXPIRED);
    // An expired request takes no step, and the refusal changes nothing.
    let before = r.clone();
    let e =
        apply(&mut r, Step::Accept, &actor("222222222222", BOB, &kind), None, 200 + INACTIVITY_TTL_SECS).unwrap_err();
    assert!(e.message.contains("EXPIRED"), "{}", e.message);
    assert_eq!(r, before);
    apply(&mut r, Step::Accept, &actor("222222222222", BOB, &kind), None, 300).unwrap();
    assert_eq!(r.state_at(300 + INACTIVITY_TTL_SECS - 1), state::ACCEPTED);
    assert_eq!(r.state_at(300 + INACTIVITY_TTL_SECS), state::EXPIRED);
}

#[test]
fn only_the_owner_sends_when_the_partner_says_so() {
    let kind = CallerKind::Root;
    let mut r = request(None);
    r.only_send_by_owner = true;
    apply(&mut r, Step::Associate, &actor("222222222222", ALICE, &kind), None, 1).unwrap();
    apply(&mut r, Step::Accept, &actor("222222222222", BOB, &kind), None, 2).unwrap();
    assert!(apply(&mut r, Step::Send, &actor("222222222222", BOB, &kind), None, 3).is_err());
    assert_eq!(r.state, state::ACCEPTED);
    apply(&mut r, Step::Send, &actor("222222222222", ALICE, &kind), None, 3).unwrap();
    assert_eq!(r.state, state::FINALIZED);
}

#[test]
fn tokens_compare_by_digest_and_name_their_request() {
    let digest = token_digest("dr-0123456789abcdef.secret");
    assert!(token_matches(&digest, "dr-0123456789abcdef.secret"));
    assert!(!token_matches(&digest, "dr-0123456789abcdef.secreT"));
    assert!(!token_matches("", "x"));
    assert_eq!(token_request_id("dr-0123456789abcdef.secret"), Some("dr-0123456789abcdef"));
    assert_eq!(token_request_id("short.secret"), None);
    assert_eq!(token_request_id("no-dot-in-this-token"), None);
}

#[test]
fn parameters_fill_the_template_and_summaries_are_plain() {
    let p = |n: &str, v: &[&str], k: &str| PolicyParameter {
        name: n.into(),
        values: v.iter().map(|s| s.to_string()).collect(),
        kind: Some(k.into()),
    };
    let t = r#"{"Statement":[{"Effect":"Allow","Action":"${Acts}","Resource":"arn:aws:s3:::${Bucket}/*"}]}"#;
    let doc =
        apply_parameters(t, &[p("Bucket", &["b\"x"], "string"), p("Acts", &["s3:GetObject"], "stringList")]).unwrap();
    assert_eq!(doc, r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b\"x/*"}]}"#);
    assert!(apply_parameters(t, &[p("Bucket", &["a", "b"], "string")]).is_err());
    let s = reads::summarize(&request(None));
    assert!(s.contains("1 hour (") && s.contains("- Allows s3:GetObject on *."), "{s}");
    assert_eq!(
        parse_request_arn("arn:aws:iam::111111111111:delegation-request/dr-0123456789abcdef"),
        Some("dr-0123456789abcdef")
    );
    assert_eq!(parse_request_arn("arn:aws:iam::111111111111:role/dr-0123456789abcdef"), None);
}

mod through_handle {
    //! The operations through `iam::handle` on an in-memory store.

    use super::super::{DelegationRequest, TABLE};
    use crate::credentials::test_support::{body, elem, params, root_call, services_at};
    use crate::model;

    const T0: i64 = 1_800_000_000;
    const OPERATIONS: &[&str] = &[
        "CreateDelegationRequest",
        "GetDelegationRequest",
        "ListDelegationRequests",
        "AssociateDelegationRequest",
        "AcceptDelegationRequest",
        "RejectDelegationRequest",
        "UpdateDelegationRequest",
        "SendDelegationToken",
        "GetHumanReadableSummary",
    ];

    fn run(services: &crate::Services, op: &str, pairs: &[(&str, &str)]) -> Result<String, tessera_wire::AwsError> {
        crate::iam::handle(services, &root_call(op, T0), &params(pairs)).map(|r| body(&r))
    }

    fn create(services: &crate::Services) -> String {
        create_from(services, "arn:aws:iam::aws:policy/ReadOnlyAccess", "workflow-1")
    }

    fn create_from(services: &crate::Services, template: &str, workflow: &str) -> String {
        let r = run(
            services,
            "CreateDelegationRequest",
            &[
                ("Description", "d"),
                ("Permissions.PolicyTemplateArn", template),
                ("RequestorWorkflowId", workflow),
                ("NotificationChannel", "topic"),
                ("SessionDuration", "900"),
            ],
        );
        r.ok().and_then(|b| elem(&b, "DelegationRequestId")).unwrap_or_default()
    }

    #[test]
    fn the_listing_pages_through_the_account_index() {
        let services = services_at(T0);
        let ids: Vec<String> = (0..5)
            .map(|i| create_from(&services, "arn:aws:iam::aws:policy/ReadOnlyAccess", &format!("workflow-{i}")))
            .collect();
        assert!(ids.iter().all(|id| id.starts_with("dr-")));
        // Another account's rows are not read: only the caller's index prefix is.
        let read = services.store.read().unwrap_or_else(|_| panic!("read"));
        let rows = read.scan(super::super::ACCOUNT_INDEX, "", None, usize::MAX).unwrap_or_default();
        assert_eq!(rows.len(), 5);
        drop(read);
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut p = vec![("MaxItems", "2")];
            if let Some(m) = &marker {
                p.push(("Marker", m.as_str()));
            }
            let b = run(&services, "ListDelegationRequests", &p).unwrap_or_default();
            seen.extend(b.split("<member>").skip(1).filter_map(|m| elem(m, "DelegationRequestId")));
            marker = elem(&b, "Marker");
            if marker.is_none() {
                break;
            }
        }
        let mut sorted = ids.clone();
        sorted.sort();
        let mut got = seen.clone();
        got.sort();
        assert_eq!(got, sorted, "every request once, over pages");
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn requests_stored_before_the_index_are_listed() {
        let services = services_at(T0);
        let id = create(&services);
        // As a store written before the index existed: the request without its index rows.
        let mut w = services.store.write().unwrap_or_else(|_| panic!("write"));
        for (key, _) in w.scan(super::super::ACCOUNT_INDEX, "", None, usize::MAX).unwrap_or_default() {
            w.delete(super::super::ACCOUNT_INDEX, &key).unwrap_or_default();
        }
        w.commit().unwrap_or_else(|_| panic!("commit"));
        let listed = run(&services, "ListDelegationRequests", &[]).unwrap_or_default();
        assert_eq!(elem(&listed, "DelegationRequestId"), Some(id.clone()), "{listed}");
        // Once: later listings read the index only.
        let again = run(&services, "ListDelegationRequests", &[]).unwrap_or_default();
        assert_eq!(again.matches("<DelegationRequestId>").count(), 1, "{again}");
    }

    #[test]
    fn the_permission_check_asks_the_engine_for_the_caller() {
        let services = services_at(T0);
        let id = create(&services);
        let got = run(
            &services,
            "GetDelegationRequest",
            &[("DelegationRequestId", &id), ("DelegationPermissionCheck", "true")],
        )
        .unwrap_or_default();
        // The root user holds everything ReadOnlyAccess asks for.
        assert_eq!(elem(&got, "PermissionCheckStatus").as_deref(), Some("COMPLETED"), "{got}");
        assert_eq!(elem(&got, "PermissionCheckResult").as_deref(), Some("ALLOWED"), "{got}");
        let plain = run(&services, "GetDelegationRequest", &[("DelegationRequestId", &id)]).unwrap_or_default();
        assert_eq!(elem(&plain, "PermissionCheckStatus"), None);
        assert!(elem(&plain, "ExpirationTime").is_some(), "{plain}");
    }

    #[test]
    fn garbage_never_panics_and_is_a_client_error() {
        let services = services_at(T0);
        let id = create(&services);
        assert!(id.starts_with("dr-"));
        let arn = format!("arn:aws:iam::123456789012:delegation-request/{id}");
        let values =
            ["", "x", "é", "\u{0}", "-1", "99999999999999999999", "true", "{", &id, &arn, "a.b", "ÿÿÿÿ", "%zz"];
        let long = "é".repeat(3000);
        let names = [
            "DelegationRequestId",
            "EntityArn",
            "Locale",
            "Notes",
            "OwnerId",
            "Marker",
            "MaxItems",
            "Description",
            "OwnerAccountId",
            "RequestMessage",
            "RequestorWorkflowId",
            "RedirectUrl",
            "NotificationChannel",
            "SessionDuration",
            "OnlySendByOwner",
            "DelegationPermissionCheck",
            "Permissions.PolicyTemplateArn",
            "Permissions.Parameters.member.1.Name",
            "Permissions.Parameters.member.1.Type",
            "Permissions.Parameters.member.1.Values.member.1",
        ];
        for op in OPERATIONS {
            for (i, v) in values.iter().chain(std::iter::once(&long.as_str())).enumerate() {
                let pairs: Vec<(&str, &str)> =
                    names.iter().enumerate().map(|(j, n)| (*n, values[(i + j) % values.len()])).collect();
                for p in [params(&[]), params(&[(names[i % names.len()], v)]), params(&pairs)] {
                    match crate::iam::handle(&services, &root_call(op, T0), &p) {
                        Ok(r) => assert!(r.status < 300, "{op}"),
                        Err(e) => assert!((400..500).contains(&e.status), "{op}: {e:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn the_token_is_stored_sealed_then_as_a_digest_and_delivered_once() {
        let services = services_at(T0);
        let id = create(&services);
        for op in ["AssociateDelegationRequest", "AcceptDelegationRequest", "SendDelegationToken"] {
            assert!(run(&services, op, &[("DelegationRequestId", &id)]).is_ok(), "{op}");
        }
        let stored = |services: &crate::Services| {
            let read = services.store.read().unwrap_or_else(|_| panic!("read"));
            let raw = read.get(TABLE, &id).ok().flatten().unwrap_or_default();
            let r: Option<DelegationRequest> = model::load(read.as_ref(), TABLE, &id).unwrap_or_default();
            (String::from_utf8_lossy(&raw).to_string(), r.unwrap_or_else(|| panic!("stored")))
        };
        let (_, before) = stored(&services);
        assert!(before.sealed_token.is_some() && before.token_digest.is_some());
        let got = run(&services, "GetDelegationRequest", &[("DelegationRequestId", &id)]).unwrap_or_default();
        let token = elem(&got, "ExchangeToken").unwrap_or_default();
        assert!(token.starts_with(&format!("{id}.")));
        let (raw, after) = stored(&services);
        assert!(!raw.contains(&token) && !raw.contains(token.split_once('.').map_or("", |t| t.1)));
        assert_eq!(after.sealed_token, None);
        assert!(super::super::token_matches(after.token_digest.as_deref().unwrap_or_default(), &token));
        let again = run(&services, "GetDelegationRequest", &[("DelegationRequestId", &id)]).unwrap_or_default();
        assert_eq!(elem(&again, "ExchangeToken"), None);
        assert_eq!(elem(&again, "State").as_deref(), Some("FINALIZED"));
    }
}
