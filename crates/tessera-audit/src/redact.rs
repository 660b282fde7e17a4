//! Redaction: secrets never reach an event.
//!
//! As on AWS, request members that carry secrets are recorded as
//! `HIDDEN_DUE_TO_SECURITY_REASONS` (passwords, MFA codes, private keys) or left out (identity
//! tokens and SAML assertions), and response members that carry secrets (secret access keys,
//! session tokens, MFA seeds and QR codes, service passwords) are left out. Every redacted value
//! is also scrubbed from the rest of the record (e.g. an error message that quotes it).

use serde_json::Value;

use crate::event::HIDDEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Keep the member, show `HIDDEN_DUE_TO_SECURITY_REASONS`.
    Hide,
    /// Leave the member out.
    Remove,
}

fn rule(member: &str) -> Option<Rule> {
    match member.to_ascii_lowercase().as_str() {
        "password"
        | "oldpassword"
        | "newpassword"
        | "privatekey"
        | "tokencode"
        | "authenticationcode1"
        | "authenticationcode2" => Some(Rule::Hide),
        "secretaccesskey"
        | "sessiontoken"
        | "base32stringseed"
        | "qrcodepng"
        | "samlassertion"
        | "samlresponse"
        | "webidentitytoken"
        | "tradeintoken"
        | "exchangetoken"
        | "contextassertion"
        | "clientsecret"
        | "servicepassword"
        | "servicecredentialsecret"
        | "secretkey" => Some(Rule::Remove),
        _ => None,
    }
}

/// Collected secret values, to scrub wherever else they appear.
#[derive(Debug, Default, Clone)]
pub struct Secrets(Vec<String>);

impl Secrets {
    /// Remember a secret value (short values are too common to scrub safely).
    pub fn add(&mut self, s: &str) {
        if s.len() >= 6 && s != HIDDEN && !self.0.iter().any(|x| x == s) {
            self.0.push(s.to_string());
        }
    }

    /// `s` with every known secret replaced.
    pub fn scrub(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), HIDDEN);
            }
        }
        out
    }

    /// Scrub every string (keys included) of a JSON value.
    pub fn scrub_value(&self, v: &mut Value) {
        if self.0.is_empty() {
            return;
        }
        match v {
            Value::String(s) if self.0.iter().any(|x| s.contains(x.as_str())) => *s = self.scrub(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.scrub_value(x)),
            Value::Object(m) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    if let Some(mut x) = m.remove(&k) {
                        self.scrub_value(&mut x);
                        m.insert(self.scrub(&k), x);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn collect(v: &Value, secrets: &mut Secrets) {
    match v {
        Value::String(s) => secrets.add(s),
        Value::Array(a) => a.iter().for_each(|x| collect(x, secrets)),
        Value::Object(m) => m.values().for_each(|x| collect(x, secrets)),
        _ => {}
    }
}

fn walk(v: &mut Value, secrets: &mut Secrets, response: bool) {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                match rule(&k) {
                    Some(r) => {
                        if let Some(old) = m.get(&k) {
                            collect(old, secrets);
                        }
                        if r == Rule::Remove || response {
                            m.remove(&k);
                        } else if let Some(slot) = m.get_mut(&k) {
                            *slot = Value::String(HIDDEN.to_string());
                        }
                    }
                    None => {
                        if let Some(child) = m.get_mut(&k) {
                            walk(child, secrets, response);
                        }
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, secrets, response)),
        _ => {}
    }
}

/// Redact `requestParameters` in place, collecting the secrets it held.
pub fn redact_request(v: &mut Value, secrets: &mut Secrets) {
    walk(v, secrets, false);
}

/// Redact `responseElements` in place, collecting the secrets it held.
pub fn redact_response(v: &mut Value, secrets: &mut Secrets) {
    walk(v, secrets, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_members_are_hidden_or_removed() {
        let mut v = json!({
            "userName": "bob",
            "password": "Sup3r-Secret!",
            "oldPassword": "0ld-Secret!",
            "authenticationCode1": "123456",
            "authenticationCode2": "654321",
            "tokenCode": "111222",
            "webIdentityToken": "eyJhbGciOi.payload.sig",
            "sAMLAssertion": "PHNhbWw+",
            "nested": [{"newPassword": "N3w-Secret!"}],
            "privateKey": "-----BEGIN RSA PRIVATE KEY-----",
            "passwordResetRequired": true,
            "minimumPasswordLength": 14,
        });
        let mut s = Secrets::default();
        redact_request(&mut v, &mut s);
        assert_eq!(
            v,
            json!({
                "userName": "bob",
                "password": HIDDEN,
                "oldPassword": HIDDEN,
                "authenticationCode1": HIDDEN,
                "authenticationCode2": HIDDEN,
                "tokenCode": HIDDEN,
                "nested": [{"newPassword": HIDDEN}],
                "privateKey": HIDDEN,
                "passwordResetRequired": true,
                "minimumPasswordLength": 14,
            })
        );
        assert_eq!(s.scrub("Value 'Sup3r-Secret!' at 'password'"), format!("Value '{HIDDEN}' at 'password'"));
        assert_eq!(s.scrub("code 123456 bad"), format!("code {HIDDEN} bad"));
    }

    #[test]
    fn response_secrets_are_removed() {
        let mut v = json!({
            "credentials": {"accessKeyId": "ASIAX", "secretAccessKey": "abc/def+secret", "sessionToken": "tok3n-value",
                            "expiration": "x"},
            "accessKey": {"accessKeyId": "AKIAX", "secretAccessKey": "another/secret", "status": "Active"},
            "virtualMFADevice": {"serialNumber": "arn", "base32StringSeed": "SEEDSEED", "qRCodePNG": "iVBORw0K"},
            "serviceSpecificCredential": {"servicePassword": "pw-pw-pw", "serviceUserName": "u"},
        });
        let mut s = Secrets::default();
        redact_response(&mut v, &mut s);
        assert_eq!(
            v,
            json!({
                "credentials": {"accessKeyId": "ASIAX", "expiration": "x"},
                "accessKey": {"accessKeyId": "AKIAX", "status": "Active"},
                "virtualMFADevice": {"serialNumber": "arn"},
                "serviceSpecificCredential": {"serviceUserName": "u"},
            })
        );
        let mut other = json!({"m": "token tok3n-value leaked", "tok3n-value": 1});
        s.scrub_value(&mut other);
        assert_eq!(other, json!({"m": format!("token {HIDDEN} leaked"), HIDDEN: 1}));
    }
}
