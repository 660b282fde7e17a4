//! The web console at `<endpoint>/console` (see `docs/CONSOLE.md`).
//!
//! Server-rendered HTML with a little JavaScript, all embedded in the binary. Everything a page
//! shows is fetched through [`Services::handle`] (or S3's in-process entry) as the signed-in
//! principal or the role it switched to, so the policy engine decides what the user sees.

mod events_page;
mod graph_page;
mod html;
mod iam_edit;
mod iam_more;
mod org_pages;
mod pages;
pub mod root_password;
mod saml;
mod security_credentials;
mod session;
mod signin;
mod simulator_page;
mod xml;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use http::{HeaderValue, Method, StatusCode};
use tessera_services::{ids, Call, CallMeta, Caller, Dispatch, Input, ServiceName, Services};
use tessera_wire::{AwsError, QueryParams};

use self::session::{Identity, Session, Sessions, State as SessionState};

/// Largest request body the console accepts.
const MAX_BODY: usize = 1024 * 1024;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The console's shared state.
pub struct Console {
    services: Arc<Services>,
    s3: Arc<tessera_s3::S3Endpoint>,
    sessions: Sessions,
    session_secs: i64,
}

impl Console {
    /// A console over `services` and S3. The signed-in session length is 12 hours, or
    /// `TESSERA_CONSOLE_SESSION_SECONDS` (at least 1) when set.
    pub fn new(services: Arc<Services>, s3: Arc<tessera_s3::S3Endpoint>) -> Console {
        let session_secs = std::env::var("TESSERA_CONSOLE_SESSION_SECONDS")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 1)
            .unwrap_or(session::DEFAULT_SESSION_SECS);
        let sessions = Sessions::new(services.clone());
        Console { services, s3, sessions, session_secs }
    }

    fn now(&self) -> i64 {
        self.services.clock.now_secs()
    }
}

/// The console's routes: `/console` and everything under it.
pub fn router(console: Arc<Console>) -> Router {
    Router::new().route("/console", any(handle)).route("/console/{*rest}", any(handle)).with_state(console)
}

/// One decoded console request.
pub(crate) struct Req {
    method: Method,
    /// The path below `/console` (`/` for the console's home).
    path: String,
    query: Vec<(String, String)>,
    form: Vec<(String, String)>,
    cookie: Option<String>,
    csrf_header: Option<String>,
    /// Whether the session cookie gets `Secure`: over TLS, or behind a proxy that says https.
    secure: bool,
    /// Whether the request came on Tessera's TLS listener (`aws:SecureTransport`; no header
    /// can set it).
    tls: bool,
    peer: SocketAddr,
    user_agent: String,
}

impl Req {
    fn q(&self, name: &str) -> String {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
    fn f(&self, name: &str) -> String {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_string()).unwrap_or_default()
    }
    /// A form field as sent (passwords are not trimmed).
    fn raw(&self, name: &str) -> String {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
    fn checked(&self, name: &str) -> bool {
        !self.f(name).is_empty()
    }
}

/// A console response.
pub(crate) struct Resp {
    status: StatusCode,
    content_type: &'static str,
    body: String,
    headers: Vec<(&'static str, String)>,
}

impl Resp {
    fn html(body: String) -> Resp {
        Resp { status: StatusCode::OK, content_type: "text/html; charset=utf-8", body, headers: Vec::new() }
    }
    fn status(mut self, status: StatusCode) -> Resp {
        self.status = status;
        self
    }
    fn redirect(to: &str) -> Resp {
        Resp {
            status: StatusCode::SEE_OTHER,
            content_type: "text/plain; charset=utf-8",
            body: String::new(),
            headers: vec![("location", to.to_string())],
        }
    }
    fn json(value: &serde_json::Value) -> Resp {
        Resp { status: StatusCode::OK, content_type: "application/json", body: value.to_string(), headers: Vec::new() }
    }
    fn with_cookie(mut self, cookie: String) -> Resp {
        self.headers.push(("set-cookie", cookie));
        self
    }
}

async fn handle(State(console): State<Arc<Console>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return into_response(Resp::html("Request too large".into()).status(StatusCode::PAYLOAD_TOO_LARGE)),
    };
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let path = parts.uri.path().strip_prefix("/console").unwrap_or("").to_string();
    let path = if path.is_empty() { "/".to_string() } else { path };
    let is_form = header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let form = if is_form { form_urlencoded::parse(&body).into_owned().collect() } else { Vec::new() };
    let query = form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()).into_owned().collect();
    let cookie = header("cookie").and_then(|c| {
        c.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == session::COOKIE)
            .map(|(_, v)| v.to_string())
    });
    // From the listener, never from a header a client could send.
    let tls = parts.extensions.get::<tessera_s3::TlsConnection>().is_some();
    // A spoofed header can only make the cookie stricter.
    let secure = tls || header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let req = Req {
        method: parts.method.clone(),
        path,
        query,
        form,
        cookie,
        csrf_header: header("x-csrf-token"),
        secure,
        tls,
        peer,
        user_agent: header("user-agent").unwrap_or_default(),
    };
    let work = tokio::task::spawn_blocking(move || console.dispatch(&req));
    match work.await {
        Ok(r) => into_response(r),
        Err(_) => into_response(Resp::html("Internal error".into()).status(StatusCode::INTERNAL_SERVER_ERROR)),
    }
}

fn into_response(r: Resp) -> Response {
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() = r.status;
    let h = resp.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    h.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    for (name, value) in r.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.append(name, v);
        }
    }
    resp
}

/// The session cookie for `id`: HttpOnly, SameSite=Strict, scoped to `/console`; Secure when
/// the request came over https.
fn session_cookie(id: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{}={id}; Path=/console; HttpOnly; SameSite=Strict{secure}", session::COOKIE)
}

fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}", session::COOKIE)
}

/// The principal a page acts as, with what the frame needs.
pub(crate) struct Cx<'a> {
    req: &'a Req,
    sid: String,
    session: Session,
    identity: Identity,
    /// The current caller: the role session when switched, else the signed-in principal.
    caller: Caller,
    flash: Option<String>,
}

impl Console {
    fn dispatch(&self, req: &Req) -> Resp {
        match (&req.method, req.path.as_str()) {
            (&Method::GET, "/static/console.css") => {
                return Resp { content_type: "text/css; charset=utf-8", ..Resp::html(CSS.to_string()) }
            }
            (&Method::GET, "/static/console.js") => {
                return Resp { content_type: "text/javascript; charset=utf-8", ..Resp::html(JS.to_string()) }
            }
            _ => {}
        }
        let now = self.now();
        let found = req.cookie.as_deref().and_then(|id| self.sessions.get(id, now).map(|s| (id.to_string(), s)));
        let is_post = req.method == Method::POST;
        if !is_post && req.method != Method::GET && req.method != Method::HEAD {
            return Resp::html("Method not allowed".into()).status(StatusCode::METHOD_NOT_ALLOWED);
        }
        if is_post && req.path == "/saml" {
            // An IdP-initiated POST carries no CSRF token: the signed response is the credential.
            return self.saml_post(req, now);
        }
        if is_post {
            let Some((_, session)) = &found else {
                // No live session: a sign-in form without one is a CSRF failure; anything else
                // needs a sign-in first.
                if req.path == "/signin" || req.path == "/mfa" {
                    return csrf_failure();
                }
                return Resp::redirect("/console/signin").with_cookie(clear_cookie(req.secure));
            };
            let sent = req.csrf_header.clone().unwrap_or_else(|| req.f("csrf"));
            if !session::tokens_equal(&sent, &session.csrf) {
                return csrf_failure();
            }
        }
        match req.path.as_str() {
            "/signin" => return self.signin(req, found, now),
            "/mfa" => return self.mfa(req, found, now),
            "/saml/choose" => return self.saml_choose(req, found, now),
            "/signout" => {
                if let Some((id, _)) = &found {
                    self.sessions.remove(id);
                }
                return Resp::redirect("/console/signin").with_cookie(clear_cookie(req.secure));
            }
            _ => {}
        }
        let Some((sid, session)) = found else {
            return Resp::redirect("/console/signin").with_cookie(clear_cookie(req.secure));
        };
        let SessionState::SignedIn(identity) = &session.state else {
            return Resp::redirect("/console/signin");
        };
        let mut identity = (**identity).clone();
        // A password that must be changed first: nothing else until it is (AWS's sign-in).
        if identity.password_reset && req.path != "/password" {
            return Resp::redirect("/console/password");
        }
        let mut flash = self.sessions.take_flash(&sid, &session);
        // The role session lives as long as its credentials.
        let caller = match &identity.role {
            Some(role) => match self.services.credentials(&role.access_key_id, Some(&role.session_token)) {
                Ok((caller, _)) => caller,
                Err(_) => {
                    identity.role = None;
                    let back = identity.clone();
                    self.sessions.update(&sid, |s| s.state = SessionState::SignedIn(Box::new(back)));
                    flash = Some("Your role session expired: you are back to your own identity.".into());
                    identity.base.clone()
                }
            },
            None => identity.base.clone(),
        };
        let cx = Cx { req, sid, session, identity, caller, flash };
        self.route(&cx)
    }

    /// Run `operation` of `service` as the page's caller, audited like an API call.
    fn call(
        &self,
        cx: &Cx,
        service: ServiceName,
        operation: &str,
        params: &[(&str, &str)],
    ) -> Result<xml::Node, AwsError> {
        self.call_as(cx, &cx.caller, service, operation, params)
    }

    /// Every item of an IAM list call (`list`/`item`, e.g. `Policies`/`member`), following
    /// `Marker` while the answer `IsTruncated` (at most `MAX_PAGES` pages of `MaxItems` 1000).
    fn call_all(
        &self,
        cx: &Cx,
        service: ServiceName,
        operation: &str,
        params: &[(&str, &str)],
        (list, item): (&str, &str),
    ) -> Result<Vec<xml::Node>, AwsError> {
        const MAX_PAGES: usize = 50;
        let mut items = Vec::new();
        let mut marker = String::new();
        for _ in 0..MAX_PAGES {
            let mut p: Vec<(&str, &str)> = params.to_vec();
            p.push(("MaxItems", "1000"));
            if !marker.is_empty() {
                p.push(("Marker", &marker));
            }
            let n = self.call(cx, service, operation, &p)?;
            items.extend(n.list(list, item).into_iter().cloned());
            if n.text_of("IsTruncated") != "true" {
                break;
            }
            marker = n.text_of("Marker");
            if marker.is_empty() {
                break;
            }
        }
        Ok(items)
    }

    fn meta(&self, req: &Req) -> CallMeta {
        CallMeta {
            request_id: ids::request_id(),
            region: "us-east-1".into(),
            source_ip: req.peer.ip().to_string(),
            user_agent: format!("tessera-console {}", req.user_agent),
            secure_transport: req.tls,
            now_millis: self.services.clock.now_millis(),
        }
    }

    fn call_as(
        &self,
        cx: &Cx,
        caller: &Caller,
        service: ServiceName,
        operation: &str,
        params: &[(&str, &str)],
    ) -> Result<xml::Node, AwsError> {
        self.call_with(cx.req, caller, service, operation, params)
    }

    /// Run `operation` as `caller` for request `req`, audited like an API call.
    fn call_with(
        &self,
        req: &Req,
        caller: &Caller,
        service: ServiceName,
        operation: &str,
        params: &[(&str, &str)],
    ) -> Result<xml::Node, AwsError> {
        let version = match service {
            ServiceName::Iam => "2010-05-08",
            ServiceName::Sts => "2011-06-15",
            _ => "2016-11-15",
        };
        let mut pairs: Vec<(&str, &str)> = vec![("Action", operation), ("Version", version)];
        pairs.extend_from_slice(params);
        let input = Input::Query(QueryParams::from_pairs(pairs));
        let response = self.run(req, caller, service, operation, &input)?;
        let text = String::from_utf8_lossy(&response.body);
        xml::parse(&text).ok_or_else(AwsError::internal)
    }

    /// Run a JSON-protocol operation (Organizations) as the page's caller, audited.
    fn call_json(
        &self,
        cx: &Cx,
        service: ServiceName,
        operation: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, AwsError> {
        let response = self.run(cx.req, &cx.caller, service, operation, &Input::Json(body))?;
        serde_json::from_slice(&response.body).map_err(|_| AwsError::internal())
    }

    /// One operation through `Services::handle`, recorded in the audit trail like an API call.
    fn run(
        &self,
        req: &Req,
        caller: &Caller,
        service: ServiceName,
        operation: &str,
        input: &Input,
    ) -> Result<tessera_wire::WireResponse, AwsError> {
        self.run_audited(req, caller, service, operation, input, |call| self.services.handle(service, call, input))
    }

    /// `f` as `caller`'s call of `operation` (with `input`, what the trail records of it),
    /// recorded in the audit trail like an API call. For what only the console does (the root
    /// user's MFA device), run by `f` instead of `Services::handle`.
    fn run_audited(
        &self,
        req: &Req,
        caller: &Caller,
        service: ServiceName,
        operation: &str,
        input: &Input,
        f: impl FnOnce(&Call) -> Result<tessera_wire::WireResponse, AwsError>,
    ) -> Result<tessera_wire::WireResponse, AwsError> {
        let call = Call { caller: caller.clone(), operation: operation.to_string(), meta: self.meta(req) };
        let audited = crate::server::audited();
        if audited {
            tessera_services::cloudtrail::ready(&self.services)?;
        }
        let outcome = f(&call);
        if audited {
            tessera_services::cloudtrail::record_call(&self.services, service, &call, input, &outcome)?;
        }
        outcome
    }

    /// An S3 request (path-style) as the page's caller.
    fn s3(&self, cx: &Cx, method: Method, path_and_query: &str) -> Result<xml::Node, AwsError> {
        let rt = tokio::runtime::Handle::current();
        let meta = self.meta(cx.req);
        let resp = rt.block_on(self.s3.handle_as(method, path_and_query, bytes::Bytes::new(), cx.caller.clone(), meta));
        let status = resp.status();
        let body = rt
            .block_on(axum::body::to_bytes(Body::new(resp.into_body()), 16 * 1024 * 1024))
            .map_err(|_| AwsError::internal())?;
        let text = String::from_utf8_lossy(&body);
        let node = if text.trim().is_empty() { Some(xml::Node::default()) } else { xml::parse(&text) };
        if status.is_client_error() || status.is_server_error() {
            let node = node.unwrap_or_default();
            let code = node.text_of("Code");
            return Err(AwsError::new(
                status.as_u16(),
                if code.is_empty() { "Error".into() } else { code },
                node.text_of("Message"),
            ));
        }
        node.ok_or_else(AwsError::internal)
    }

    /// The frame of a signed-in page.
    fn frame(&self, cx: &Cx, title: &str, body: &str) -> Resp {
        let id = &cx.identity;
        let account = &id.base.account;
        let (who, colour) = match &id.role {
            Some(r) => (r.entry.display.clone(), Some(r.entry.colour.clone())),
            None => (format!("{} @ {}", id.label, account), None),
        };
        let recent =
            self.sessions.recent(&id.base.arn).into_iter().map(|e| (e.account, e.role, e.display, e.colour)).collect();
        let header = html::Header {
            who,
            base_label: id.label.clone(),
            role_colour: colour,
            csrf: cx.session.csrf.clone(),
            recent,
        };
        Resp::html(html::page(title, Some(&header), cx.flash.as_deref(), body))
    }

    /// Set the flash message shown on the next page.
    fn flash(&self, cx: &Cx, message: impl Into<String>) {
        let m = message.into();
        self.sessions.update(&cx.sid, |s| s.flash = Some(m));
    }
}

fn csrf_failure() -> Resp {
    Resp::html(html::page(
        "Forbidden",
        None,
        None,
        &html::error_box(
            "InvalidCsrfToken",
            "The request's CSRF token is missing or invalid. Reload the page and try again.",
        ),
    ))
    .status(StatusCode::FORBIDDEN)
}
