//! Console sign-in from an IdP-initiated SAML POST (`POST /console/saml`, AWS's
//! `https://signin.aws.amazon.com/saml`; see `docs/SAML.md`).
//!
//! The IdP posts a signed `SAMLResponse`. The roles its assertion offers are read from the
//! assertion as verified against the provider they name; with one role the user is signed in
//! at once, with several a role chooser is shown. The chosen role is assumed with
//! `AssumeRoleWithSAML` (audited, the assertion spent), and the console session lasts as long as
//! those credentials.

use http::StatusCode;
use tessera_services::sts::{self, saml};
use tessera_services::ServiceName;
use tessera_wire::AwsError;

use super::html::{csrf_field, error_box, esc, page};
use super::session::{self, Identity, Session, State};
use super::{session_cookie, Console, Req, Resp};

fn failure(e: &AwsError) -> Resp {
    let body = format!(
        r#"<h1>Sign-in failed</h1>{}<p><a href="/console/signin">Sign in with a user name and password</a></p>"#,
        error_box(&e.code, &e.message)
    );
    Resp::html(page("Sign-in failed", None, None, &body))
        .status(StatusCode::from_u16(e.status).unwrap_or(StatusCode::FORBIDDEN))
}

fn chooser(csrf: &str, roles: &[(String, String)]) -> String {
    let options: String = roles
        .iter()
        .enumerate()
        .map(|(i, (role, _))| {
            let checked = if i == 0 { " checked" } else { "" };
            format!(
                r#"<label class="check"><input type="radio" name="role" value="{0}"{checked}> {0}</label>"#,
                esc(role)
            )
        })
        .collect();
    let body = format!(
        r#"<h1>Select a role</h1><form method="post" action="/console/saml/choose" class="card" id="saml-roles">{}{options}
<button type="submit" id="saml-signin">Sign in</button></form>"#,
        csrf_field(csrf)
    );
    page("Select a role", None, None, &body)
}

impl Console {
    /// `POST /console/saml`: the IdP's `SAMLResponse`.
    pub(super) fn saml_post(&self, req: &Req, now: i64) -> Resp {
        let response = req.raw("SAMLResponse");
        let (roles, secs) = match saml::console_offer(&self.services, &response, now) {
            Ok(offer) => offer,
            Err(e) => return failure(&e),
        };
        match roles.as_slice() {
            [] => failure(&AwsError::access_denied("The SAML response offers no role.")),
            [(role, provider)] => self.saml_sign_in(req, None, &response, role, provider, secs, now),
            _ => {
                let state = State::SamlPending { response, roles: roles.clone(), secs };
                let id = self.sessions.create(state, now, now + session::ANONYMOUS_SECS);
                let csrf = self.sessions.get(&id, now).map(|s| s.csrf).unwrap_or_default();
                Resp::html(chooser(&csrf, &roles)).with_cookie(session_cookie(&id, req.secure))
            }
        }
    }

    /// `POST /console/saml/choose` (CSRF-checked by the dispatcher): the chosen role.
    pub(super) fn saml_choose(&self, req: &Req, found: Option<(String, Session)>, now: i64) -> Resp {
        let Some((id, Session { state: State::SamlPending { response, roles, secs }, .. })) = found else {
            return Resp::redirect("/console/signin");
        };
        let choice = req.f("role");
        let Some((role, provider)) = roles.iter().find(|(r, _)| *r == choice) else {
            return failure(&AwsError::validation("Choose one of the roles offered."));
        };
        self.saml_sign_in(req, Some(&id), &response, role, provider, secs, now)
    }

    /// Assume `role` with the response and start a console session on its credentials.
    #[allow(clippy::too_many_arguments)]
    fn saml_sign_in(
        &self,
        req: &Req,
        old_id: Option<&str>,
        response: &str,
        role: &str,
        provider: &str,
        secs: i64,
        now: i64,
    ) -> Resp {
        let duration = secs.to_string();
        let params = [
            ("RoleArn", role),
            ("PrincipalArn", provider),
            ("SAMLAssertion", response),
            ("DurationSeconds", &duration),
        ];
        let node = match self.call_with(req, &sts::unsigned_caller(), ServiceName::Sts, "AssumeRoleWithSAML", &params) {
            Ok(n) => n,
            Err(e) => return failure(&e),
        };
        let (access_key_id, session_token) = (node.text_of("AccessKeyId"), node.text_of("SessionToken"));
        let Ok((caller, _)) = self.services.credentials(&access_key_id, Some(&session_token)) else {
            return failure(&AwsError::internal());
        };
        let expires = caller.session.as_ref().map_or(now + secs, |s| s.expires_at);
        let label = caller.arn.rsplit(":assumed-role/").next().unwrap_or_default().to_string();
        if let Some(id) = old_id {
            self.sessions.remove(id);
        }
        let identity = Identity { base: caller, label, role: None, password_reset: false };
        let id = self.sessions.create(State::SignedIn(Box::new(identity)), now, expires);
        // A page, not a redirect: the session cookie is SameSite=Strict, and a redirect that
        // follows the IdP's cross-site POST would not carry it; this same-origin navigation does.
        let body = r#"<meta http-equiv="refresh" content="0;url=/console"><h1>Signed in</h1><p><a href="/console" id="continue">Continue to the console</a></p>"#;
        Resp::html(page("Signed in", None, None, body)).with_cookie(session_cookie(&id, req.secure))
    }
}
