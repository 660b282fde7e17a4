//! The HTTP server: one endpoint, every service.
//!
//! Each request flows one way: decode → authenticate (SigV4 + credentials) → the service
//! operation, which authorizes before it touches state → encode the response.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use tessera_services::{ids, Call, CallMeta, Dispatch, Input, ServiceName, Services};
use tessera_sigv4::{Payload, RequestParts, SigV4Error, VerifyOptions};
use tessera_store::postgres::PostgresStore;
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;
use tessera_store::Store;
use tessera_wire::{AwsError, Protocol, QueryParams, WireResponse};

/// Largest request body accepted outside S3 (IAM's largest input, a SAML metadata
/// document, is 10 MB).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Signing keys derived from callers' secrets (four HMACs per request otherwise), keyed by
/// access key, a fingerprint of the secret and the credential scope, so a changed secret or a
/// new day never hits an old entry.
static SIGNING_KEYS: std::sync::LazyLock<tessera_sigv4::SigningKeyCache> =
    std::sync::LazyLock::new(tessera_sigv4::SigningKeyCache::default);

/// Benchmarks only (`--unaudited-benchmark-only`): requests are not audited.
static UNAUDITED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether API calls are audited (false only with `--unaudited-benchmark-only`); the console
/// audits its calls the same way.
pub(crate) fn audited() -> bool {
    !UNAUDITED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Start the server (HTTPS when `tls` is given) and block until SIGTERM/SIGINT.
pub fn run(
    listen: SocketAddr,
    data_dir: &Path,
    store_url: Option<&str>,
    audit: &crate::audit_cli::AuditOptions,
    tls: Option<&crate::tls::TlsSource>,
    imds_listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    // Before the data dir is opened: a certificate that does not load stops the start.
    let certs = match tls {
        Some(source) => {
            create_private_dir(data_dir)?;
            Some(crate::tls::load(source, data_dir, listen)?)
        }
        None => None,
    };
    let services = Arc::new(open(data_dir, store_url, audit)?);
    let management = tessera_services::bootstrap::first_start(&services, data_dir).context("first start")?;
    if audit.unaudited_benchmark_only {
        tracing::warn!("--unaudited-benchmark-only: API calls are NOT being audited");
        UNAUDITED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    let target = crate::audit_cli::trail_target(&services, data_dir)?;
    if services.trail_target.set(Arc::clone(&target)).is_err() {
        anyhow::bail!("trail target set twice");
    }
    tessera_analyzer::start_background(Arc::clone(&services)).context("starting the access analyzer")?;
    let delivery = crate::audit_cli::start_delivery(&services, Arc::clone(&services.audit), target, audit)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        let endpoint = format!("{}://{addr}", if certs.is_some() { "https" } else { "http" });
        tessera_services::bootstrap::write_private_file(&data_dir.join("endpoint"), format!("{endpoint}\n").as_bytes())
            .context("writing the endpoint file")?;
        tracing::info!(%endpoint, management_account = %management, "tessera is serving");
        tessera_services::iam::outbound_federation::set_public_endpoint(&endpoint);
        let resources = crate::resources::Resources::open(services.clone(), data_dir)?;
        let imds = match imds_listen {
            Some(imds_addr) => {
                let l =
                    tokio::net::TcpListener::bind(imds_addr).await.with_context(|| format!("binding {imds_addr}"))?;
                let imds_endpoint = format!("http://{}", l.local_addr()?);
                tessera_services::bootstrap::write_private_file(
                    &data_dir.join("imds-endpoint"),
                    format!("{imds_endpoint}\n").as_bytes(),
                )
                .context("writing the imds-endpoint file")?;
                tracing::info!(%imds_endpoint, "instance metadata service listening");
                Some(tokio::spawn(crate::imds_listener::serve(l, crate::imds_listener::router(resources.clone()))))
            }
            None => None,
        };
        let console = Arc::new(crate::console::Console::new(services.clone(), resources.s3()));
        let app = Router::new()
            .route("/_tessera/health", get(health))
            .route("/_tessera/metrics", get(crate::metrics::endpoint))
            .route("/_tessera/outbound/{issuer}/.well-known/{document}", get(outbound_document))
            .fallback(aws)
            .with_state(services)
            .merge(crate::console::router(console))
            .layer(axum::middleware::from_fn_with_state(resources, crate::resources::route))
            .layer(axum::middleware::from_fn(crate::access_log::log_request));
        match certs {
            Some(certs) => {
                let config = certs.server_config()?;
                crate::tls::reload_on_sighup(certs)?;
                crate::tls::serve(listener, config, app, shutdown_signal()).await;
            }
            None => axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving")?,
        }
        if let Some(imds) = imds {
            imds.await.context("the IMDS listener")?.context("serving IMDS")?;
        }
        // Deliver what trails have pending and close their digest periods.
        tokio::task::spawn_blocking(move || delivery.shutdown()).await.context("final trail delivery")?;
        tracing::info!("tessera stopped");
        Ok(())
    })
}

/// Open (or create) the data dir: key-encryption key, store (the embedded SQLite file in the
/// data dir, or the PostgreSQL database at `store_url`), audit store.
fn open(data_dir: &Path, store_url: Option<&str>, audit: &crate::audit_cli::AuditOptions) -> anyhow::Result<Services> {
    create_private_dir(data_dir)?;
    let key_path = data_dir.join("master.key");
    let kek = read_kek(&key_path)?;
    let store: Arc<dyn Store> = match store_url {
        None => Arc::new(SqliteStore::open(&data_dir.join("tessera.db")).context("opening the store")?),
        Some(url) => Arc::new(PostgresStore::open(url).context("opening the PostgreSQL store")?),
    };
    tracing::info!(backend = store.backend_name(), "store open");
    let kek = match kek {
        Some(k) => k,
        None => {
            refuse_missing_master_key(store.as_ref(), &key_path)?;
            let key = SecretBox::generate_key();
            tessera_services::bootstrap::write_private_file(&key_path, &key)?;
            key
        }
    };
    let secrets = SecretBox::new(&kek);
    check_master_key(store.as_ref(), &secrets, data_dir)?;
    let audit = crate::audit_cli::open_store(data_dir, store_url, &kek, audit)?;
    Ok(Services::new(
        store,
        secrets,
        Arc::new(tessera_services::SystemClock),
        tessera_services::Config { endpoint: String::new() },
    )
    .with_audit(audit))
}

/// The store of a data dir that a server has already made (for commands run beside it):
/// DIR/tessera.db, or the PostgreSQL database at `store_url`.
pub(crate) fn open_existing_store(data_dir: &Path, store_url: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match store_url {
        None => {
            let db = data_dir.join("tessera.db");
            if !db.exists() {
                anyhow::bail!(
                    "{} does not exist: start `tessera serve --data-dir {}` once first",
                    db.display(),
                    data_dir.display()
                );
            }
            Arc::new(SqliteStore::open(&db).context("opening the store")?)
        }
        Some(url) => Arc::new(PostgresStore::open(url).context("opening the PostgreSQL store")?),
    })
}

/// `tessera keys rotate`: a new STS session-token key in the data dir's store.
pub fn rotate_token_key(data_dir: &Path, store_url: Option<&str>) -> anyhow::Result<String> {
    if !data_dir.join("master.key").is_file() {
        anyhow::bail!("{} holds no master.key: is it a Tessera data dir?", data_dir.display());
    }
    let services = open(data_dir, store_url, &crate::audit_cli::AuditOptions::default())?;
    tessera_services::iam::outbound_keys::rotate_signing_keys(&services)
        .map_err(|e| anyhow::anyhow!("rotating the outbound federation keys: {}: {}", e.code, e.message))?;
    tessera_services::sts::rotate_token_key(&services)
        .map_err(|e| anyhow::anyhow!("rotating the token key: {}: {}", e.code, e.message))
}

/// Where the store keeps a value sealed with the master key, to tell a wrong key at start.
const MASTER_KEY_CHECK: &str = "master-key-check";

/// Refuse to start with a master.key other than the one the store's secrets are sealed with
/// (e.g. a second server on a shared database whose data dir got a fresh key); the first start
/// on a store records the check value.
fn check_master_key(store: &dyn Store, secrets: &SecretBox, data_dir: &Path) -> anyhow::Result<()> {
    let table = tessera_services::model::table::META;
    let mismatch = || {
        anyhow::anyhow!(
            "{} is not the key this store's secrets are sealed with: give every server on one store \
             the same master.key",
            data_dir.join("master.key").display()
        )
    };
    let sealed = store.read().and_then(|r| r.get(table, MASTER_KEY_CHECK)).context("reading the store")?;
    let sealed = match sealed {
        Some(v) => v,
        None => tessera_store::transact(store, |t| -> Result<Vec<u8>, tessera_store::StoreError> {
            // Another server may have recorded it since the read.
            if let Some(v) = t.get(table, MASTER_KEY_CHECK)? {
                return Ok(v);
            }
            let v = secrets.seal(MASTER_KEY_CHECK, MASTER_KEY_CHECK.as_bytes()).into_bytes();
            t.put(table, MASTER_KEY_CHECK, &v)?;
            Ok(v)
        })
        .context("recording the master key check")?,
    };
    let sealed = String::from_utf8(sealed).map_err(|_| mismatch())?;
    match secrets.open(MASTER_KEY_CHECK, &sealed) {
        Ok(v) if v == MASTER_KEY_CHECK.as_bytes() => Ok(()),
        _ => Err(mismatch()),
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// The key-encryption key at `path`, or `None` if there is no such file.
fn read_kek(path: &Path) -> anyhow::Result<Option<[u8; 32]>> {
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map(Some).map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// With no master.key, a store that already holds secrets (it recorded the check value of the
/// key they are sealed with) must not get a new key: every secret would be unreadable. This is
/// the state a backup restored without `--include-master-key` is in.
fn refuse_missing_master_key(store: &dyn Store, key_path: &Path) -> anyhow::Result<()> {
    let recorded = store
        .read()
        .and_then(|r| r.get(tessera_services::model::table::META, MASTER_KEY_CHECK))
        .context("reading the store")?;
    if recorded.is_some() {
        anyhow::bail!(
            "{} is missing, but the store already holds secrets sealed with a master key: copy the master.key \
             of the server this data dir (or its backup) came from to that path, mode 0600, and start again \
             (a new key would make every secret unreadable)",
            key_path.display()
        );
    }
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn health() -> impl IntoResponse {
    (StatusCode::OK, [("content-type", "application/json")], "{\"status\":\"ok\"}")
}

/// An outbound federation issuer's OIDC discovery document or JWKS, unauthenticated
/// (`docs/OUTBOUND_FEDERATION.md`).
async fn outbound_document(
    State(services): State<Arc<Services>>,
    axum::extract::Path((issuer, document)): axum::extract::Path<(String, String)>,
) -> Response {
    use tessera_services::iam::outbound_keys::{jwks, openid_configuration};
    let found = tokio::task::spawn_blocking(move || match document.as_str() {
        "openid-configuration" => openid_configuration(&services, &issuer),
        "jwks.json" => jwks(&services, &issuer),
        _ => Ok(None),
    })
    .await;
    match found {
        Ok(Ok(Some(doc))) => (StatusCode::OK, [("content-type", "application/json")], doc).into_response(),
        Ok(Ok(None)) => StatusCode::NOT_FOUND.into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn aws(
    State(services): State<Arc<Services>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: http::Request<Body>,
) -> Response {
    let (parts, body) = req.into_parts();
    let request_id = ids::request_id();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let e = AwsError::new(413, "RequestEntityTooLarge", "Request body is too large");
            return into_response(WireResponse::error(
                Protocol::Query { xmlns: tessera_wire::response::STS_XMLNS },
                &e,
                &request_id,
            ));
        }
    };
    // The PostgreSQL client blocks on a runtime of its own: never on an async thread.
    let inline = services.store.reads_in_process() && in_memory_sts_call(&parts, &body);
    let record = crate::access_log::record_of(&parts);
    if let Some(r) = &record {
        r.update(|f| f.request_id = Some(request_id.clone()));
    }
    let run = move || {
        // On a blocking thread the request's record must be made current again.
        let _current = record.as_ref().map(|r| r.enter());
        let mut audit = None;
        let response = process(&services, &parts, &body, peer, &request_id, &mut audit);
        (response, audit)
    };
    let work = if inline { Ok(run()) } else { tokio::task::spawn_blocking(run).await };
    match work {
        Ok((response, None)) => into_response(response),
        // The response leaves only once its event is durable; the wait holds no thread.
        Ok((response, Some(pending))) => match pending.receipt.durable().await {
            Ok(()) => into_response(response),
            Err(e) => {
                let e = tessera_services::cloudtrail::audit_failure(&e);
                into_response(WireResponse::error(pending.protocol, &e, &pending.request_id))
            }
        },
        Err(_) => {
            let e = AwsError::internal();
            into_response(WireResponse::error(Protocol::Query { xmlns: tessera_wire::response::STS_XMLNS }, &e, "-"))
        }
    }
}

/// Whether a request is a signed STS call of [`tessera_services::sts::IN_MEMORY_OPERATIONS`]
/// (these run on the async thread: a hand-off to a blocking thread costs more than they do).
/// A request misjudged here is only run on the other kind of thread.
fn in_memory_sts_call(parts: &Parts, body: &Bytes) -> bool {
    let signed_for_sts = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("/sts/aws4_request"));
    if !signed_for_sts {
        return false;
    }
    let query = parts.uri.query().unwrap_or("").as_bytes();
    QueryParams::parse(&[query, body])
        .ok()
        .and_then(|p| p.action().map(|a| tessera_services::sts::IN_MEMORY_OPERATIONS.contains(&a)))
        .unwrap_or(false)
}

/// A response whose audit event is queued but not yet durable.
struct PendingAudit {
    receipt: tessera_audit::Receipt,
    protocol: Protocol,
    request_id: String,
}

fn into_response(w: WireResponse) -> Response {
    let mut r = Response::new(Body::from(w.body));
    *r.status_mut() = StatusCode::from_u16(w.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(w.content_type));
    for (name, value) in w.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    r
}

fn sigv4_error(e: SigV4Error) -> AwsError {
    AwsError::new(e.code.http_status(), e.code.as_str(), e.message)
}

/// The protocol of a request to `service`: the service's own, but for AWS Private CA the one the
/// request speaks (JSON 1.1 with `X-Amz-Target`, else Smithy RPC v2 CBOR).
fn request_protocol(parts: &Parts, service: ServiceName) -> Protocol {
    if service == ServiceName::PrivateCa && parts.headers.contains_key("x-amz-target") {
        Protocol::Json
    } else {
        service.protocol()
    }
}

/// The protocol of a request shaped as one to AWS Private CA (`X-Amz-Target: ACMPrivateCA.*`
/// or a path under `/service/ACMPrivateCA/`), for the errors of a request whose service is not
/// known yet (unsigned, or with an unreadable signature).
fn private_ca_shaped(parts: &Parts) -> Option<Protocol> {
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    if target.and_then(tessera_wire::json::split_target).is_some_and(|(prefix, _)| prefix == PRIVATE_CA_TARGET_PREFIX) {
        Some(Protocol::Json)
    } else if target.is_none() && parts.uri.path().starts_with(PRIVATE_CA_RPC_PATH) {
        Some(Protocol::RpcV2Cbor)
    } else {
        None
    }
}

/// AWS Private CA's `targetPrefix` (JSON 1.1 `X-Amz-Target: ACMPrivateCA.<Op>`).
const PRIVATE_CA_TARGET_PREFIX: &str = "ACMPrivateCA";
/// Where its Smithy RPC v2 CBOR operations are: `POST /service/ACMPrivateCA/operation/<Op>`.
const PRIVATE_CA_RPC_PATH: &str = "/service/ACMPrivateCA/operation/";

/// The operation of a Smithy RPC v2 CBOR request: `POST /service/ACMPrivateCA/operation/<Op>`.
fn rpc_v2_operation(parts: &Parts) -> Result<String, AwsError> {
    let unknown = || AwsError::new(400, "UnknownOperationException", "");
    let op = parts.uri.path().strip_prefix(PRIVATE_CA_RPC_PATH).ok_or_else(unknown)?;
    if parts.method != http::Method::POST || op.is_empty() || op.contains('/') {
        return Err(unknown());
    }
    Ok(op.to_string())
}

/// The operation and input of a request to `service` in `protocol` (see [`request_protocol`]).
fn decode(parts: &Parts, body: &Bytes, service: ServiceName, protocol: Protocol) -> Result<(String, Input), AwsError> {
    match protocol {
        Protocol::Query { .. } | Protocol::Ec2 => {
            let query = parts.uri.query().unwrap_or("").as_bytes();
            let is_form = parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
            let params = if is_form { QueryParams::parse(&[query, body])? } else { QueryParams::parse(&[query])? };
            let op = params.action().ok_or_else(|| AwsError::new(400, "MissingAction", "Missing Action"))?.to_string();
            Ok((op, Input::Query(params)))
        }
        Protocol::Json => {
            let target = parts
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| AwsError::new(400, "UnknownOperationException", "Missing X-Amz-Target header"))?;
            let (prefix, op) = tessera_wire::json::split_target(target)
                .ok_or_else(|| AwsError::new(400, "UnknownOperationException", ""))?;
            if service == ServiceName::PrivateCa && prefix != PRIVATE_CA_TARGET_PREFIX {
                return Err(AwsError::new(400, "UnknownOperationException", ""));
            }
            Ok((op.to_string(), Input::Json(tessera_wire::json::parse_body(body)?)))
        }
        Protocol::RpcV2Cbor => {
            let op = rpc_v2_operation(parts)?;
            Ok((op, Input::Cbor(tessera_wire::cbor::decode_body(body)?)))
        }
        Protocol::RestJson if service == ServiceName::AccessAnalyzer => {
            let (op, input) =
                tessera_analyzer::decode(parts.method.as_str(), parts.uri.path(), parts.uri.query(), body)?;
            Ok((op, Input::Json(input)))
        }
        Protocol::RestJson => {
            let method = parts.method.as_str();
            let path = parts.uri.path();
            let op = tessera_wire::rest_json::route(service.rest_routes(), method, path)
                .ok_or_else(|| tessera_wire::rest_json::unknown_route(method, path))?;
            Ok((op.to_string(), Input::Json(tessera_wire::json::parse_body(body)?)))
        }
        Protocol::RestXml => Err(AwsError::not_implemented("s3", "*")),
    }
}

fn process(
    services: &Services,
    parts: &Parts,
    body: &Bytes,
    peer: SocketAddr,
    request_id: &str,
    audit: &mut Option<PendingAudit>,
) -> WireResponse {
    let default_protocol = Protocol::Query { xmlns: tessera_wire::response::STS_XMLNS };
    let signed = parts.headers.contains_key(http::header::AUTHORIZATION)
        || tessera_sigv4::has_presigned_params(parts.uri.query().unwrap_or(""));
    if !signed {
        return process_unsigned(services, parts, body, peer, request_id, audit);
    }
    let request = RequestParts::from_http(parts, Payload::Bytes(body));
    let parsed = match tessera_sigv4::parse(&request) {
        Ok(p) => p,
        Err(e) => {
            let protocol = private_ca_shaped(parts).unwrap_or(default_protocol);
            return WireResponse::error(protocol, &sigv4_error(e), request_id);
        }
    };
    let Some(service) = ServiceName::from_signing_name(&parsed.scope.service) else {
        return unserved(parts, &parsed.scope.service, request_id);
    };
    tessera_services::access_record::with_current(|r| {
        r.update(|f| {
            f.service = Some(service.signing_name().to_string());
            f.access_key_id = Some(parsed.access_key_id.clone());
        })
    });
    let protocol = request_protocol(parts, service);
    let fail = |e: AwsError| WireResponse::error(protocol, &e, request_id);
    let (caller, secret) = match services.credentials(&parsed.access_key_id, parsed.security_token.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let now_millis = services.clock.now_millis();
    let now = UNIX_EPOCH + Duration::from_millis(u64::try_from(now_millis).unwrap_or(0));
    let key = SIGNING_KEYS.get_or_derive(&parsed.access_key_id, &secret, &parsed.scope);
    let opts = VerifyOptions::for_service(service.signing_name());
    if let Err(e) = tessera_sigv4::verify_with_signing_key(&request, &parsed, &key, now, &opts) {
        return fail(sigv4_error(e));
    }
    let (operation, input) = match decode(parts, body, service, protocol) {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let call = Call {
        caller,
        operation,
        meta: CallMeta {
            request_id: request_id.to_string(),
            region: parsed.scope.region.clone(),
            source_ip: peer.ip().to_string(),
            user_agent: header("user-agent"),
            secure_transport: parts.extensions.get::<tessera_s3::TlsConnection>().is_some(),
            now_millis,
        },
    };
    services.note_access_key_use(&call, service);
    note_call(service, &call);
    run_audited(services, service, protocol, &call, &input, request_id, audit)
}

/// A signed request for a service Tessera does not serve: `ServiceNotServed` (400) in that
/// service's own protocol, answered before the credentials are looked up or the signature is
/// checked (it costs no store read, reveals nothing but the list of served services, which is
/// public, and graph builders probe many services in every region). Not audited: no served
/// API was called.
fn unserved(parts: &Parts, signing_name: &str, request_id: &str) -> WireResponse {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let family = tessera_wire::unserved::family(
        signing_name,
        header("smithy-protocol"),
        header("x-amz-target").is_some(),
        header("content-type"),
    );
    let shown: String = signing_name.chars().take(64).collect();
    let message =
        format!("Tessera does not serve the service '{shown}'; it serves {}.", ServiceName::SERVED.join(", "));
    tessera_wire::unserved::response(family, &message, request_id)
}

/// An unsigned request: only STS's federation calls recognised by their `Action`
/// (`AssumeRoleWithWebIdentity`, `AssumeRoleWithSAML`: the token or assertion is the
/// credential) run; anything else is `MissingAuthenticationToken`, as before.
fn process_unsigned(
    services: &Services,
    parts: &Parts,
    body: &Bytes,
    peer: SocketAddr,
    request_id: &str,
    audit: &mut Option<PendingAudit>,
) -> WireResponse {
    let service = ServiceName::Sts;
    let missing = || {
        let e = sigv4_error(SigV4Error::missing_authentication_token());
        WireResponse::error(private_ca_shaped(parts).unwrap_or(service.protocol()), &e, request_id)
    };
    let (operation, input) = match decode(parts, body, service, service.protocol()) {
        Ok(x) => x,
        Err(_) => return missing(),
    };
    if !tessera_services::sts::UNSIGNED_OPERATIONS.contains(&operation.as_str()) {
        return missing();
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let call = Call {
        caller: tessera_services::sts::unsigned_caller(),
        operation,
        meta: CallMeta {
            request_id: request_id.to_string(),
            // No credential scope names a region; STS's global endpoint is us-east-1.
            region: "us-east-1".to_string(),
            source_ip: peer.ip().to_string(),
            user_agent: header("user-agent"),
            secure_transport: parts.extensions.get::<tessera_s3::TlsConnection>().is_some(),
            now_millis: services.clock.now_millis(),
        },
    };
    note_call(service, &call);
    run_audited(services, service, service.protocol(), &call, &input, request_id, audit)
}

/// Record the request's service and caller for its access-log line.
fn note_call(service: ServiceName, call: &Call) {
    tessera_services::access_record::with_current(|r| {
        r.update(|f| f.service = Some(service.signing_name().to_string()));
        r.note_call(call);
    });
}

/// Run the operation, audited: refuse before acting if events cannot be recorded; queue the
/// outcome's event (allowed or denied, success or error) and leave in `audit` the receipt the
/// caller must see succeed before it sends the response. `protocol` is the request's, which
/// every error of it is answered in.
fn run_audited(
    services: &Services,
    service: ServiceName,
    protocol: Protocol,
    call: &Call,
    input: &Input,
    request_id: &str,
    audit: &mut Option<PendingAudit>,
) -> WireResponse {
    let fail = |e: AwsError| WireResponse::error(protocol, &e, request_id);
    let audited = !UNAUDITED.load(std::sync::atomic::Ordering::Relaxed);
    if audited {
        if let Err(e) = tessera_services::cloudtrail::ready(services) {
            return fail(e);
        }
    }
    let outcome = match service {
        ServiceName::AccessAnalyzer => tessera_analyzer::handle(services, call, input),
        _ => services.handle(service, call, input),
    };
    if audited {
        match tessera_services::cloudtrail::submit_call(services, service, call, input, &outcome) {
            Ok(receipt) => *audit = Some(PendingAudit { receipt, protocol, request_id: request_id.to_string() }),
            Err(e) => return fail(e),
        }
    }
    match outcome {
        Ok(r) => r,
        Err(e) => fail(e),
    }
}
