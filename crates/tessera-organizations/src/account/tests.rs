use serde_json::json;

use super::input::{is_contact_phone, is_email, is_phone, Fields, Rule};

#[test]
fn model_patterns() {
    assert!(is_email("a.b+c@example.co") && is_email("  x@y.io ") && !is_email("x@y") && !is_email("x y@z.io"));
    assert!(is_phone("+1 (555) 010-0") && !is_phone("555 x"));
    assert!(is_contact_phone("+44 20 7946 0000") && !is_contact_phone("44 20") && !is_contact_phone("+"));
}

#[test]
fn every_failing_field_is_listed() {
    let v = json!({"Name": "", "Title": 3, "AccountId": "12"});
    let mut f = Fields::default();
    f.string(&v, "Name", true, Rule { min: 1, max: 64, pattern: None });
    f.string(&v, "Title", true, Rule { min: 1, max: 50, pattern: None });
    f.string(&v, "EmailAddress", true, Rule { min: 1, max: 254, pattern: Some(is_email) });
    f.account_id(&v);
    let e = f.finish().unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str(), e.reason.as_deref()),
        (400, "ValidationException", Some("fieldValidationFailed"))
    );
    let names: Vec<&str> = e.field_list.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Name", "Title", "EmailAddress", "AccountId"]);
    assert!(e.message.starts_with("4 validation errors detected"));
}
