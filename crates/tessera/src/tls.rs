//! HTTPS: the TLS listener (rustls with the `ring` provider), certificate reload on SIGHUP,
//! and `--tls-self-signed`'s private CA under `DIR/tls/`.
//!
//! Requests that arrive over TLS carry the [`tessera_s3::TlsConnection`] extension, set here by
//! the listener (never from a header); `aws:SecureTransport` is true exactly for those.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tessera_s3::TlsConnection;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server's certificate and key come from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// `--tls-cert FILE --tls-key FILE`: PEM files, reloaded on SIGHUP.
    Files { cert: PathBuf, key: PathBuf },
    /// `--tls-self-signed`: a private CA and a server certificate under `DIR/tls/`.
    SelfSigned,
}

/// Load the certificate a [`TlsSource`] names (made first for `--tls-self-signed`).
pub fn load(source: &TlsSource, data_dir: &Path, listen: SocketAddr) -> anyhow::Result<Arc<Certificates>> {
    match source {
        TlsSource::Files { cert, key } => Certificates::load(cert.clone(), key.clone(), None),
        TlsSource::SelfSigned => {
            let (cert, key, ca) = self_signed(&data_dir.join("tls"), listen.ip())?;
            Certificates::load(cert, key, Some(ca))
        }
    }
}

/// The current certificate, swapped on reload; each new handshake reads it, so connections
/// already open keep the one they started with.
#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// `--tls-self-signed` only: certificates for `<account-id>.localhost` names.
    ca: Option<LocalCa>,
}

impl Certificates {
    /// Load the PEM certificate chain and private key.
    fn load(cert: PathBuf, key: PathBuf, ca: Option<LocalCa>) -> anyhow::Result<Arc<Certificates>> {
        let current = RwLock::new(load_certified_key(&cert, &key)?);
        Ok(Arc::new(Certificates { cert, key, current, ca }))
    }

    /// Read the files again; on any error the certificate in use stays and the error is logged.
    pub fn reload(&self) {
        match load_certified_key(&self.cert, &self.key) {
            Ok(k) => {
                if let Ok(mut current) = self.current.write() {
                    *current = k;
                }
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "TLS certificate NOT reloaded; the previous one stays in use")
            }
        }
    }

    /// The rustls configuration: this certificate, ALPN `h2` then `http/1.1`, session tickets on.
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        // Session resumption by stateless tickets: a client that reconnects skips the certificate
        // and signature of a full handshake (TLS 1.3 still runs a fresh key exchange, PSK-DHE, so
        // forward secrecy holds). Ticket keys are random, kept in memory only, and rotate every
        // 6 hours; a restart makes every client do one full handshake. rustls's in-memory session
        // cache (256 entries) stays as the fallback for clients that do not take tickets.
        config.ticketer = rustls::crypto::ring::Ticketer::new().context("TLS session ticket keys")?;
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let (Some(ca), Some(name)) = (&self.ca, hello.server_name()) {
            if let Some(k) = ca.account_certificate(name) {
                return Some(k);
            }
        }
        self.current.read().ok().map(|k| k.clone())
    }
}

fn load_certified_key(cert: &Path, key: &Path) -> anyhow::Result<Arc<CertifiedKey>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("reading the certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", cert.display());
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("reading the private key {}: {e}", key.display()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&private)
        .map_err(|e| anyhow::anyhow!("the private key {}: {e}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        anyhow::anyhow!("the key {} does not belong to the certificate {}: {e}", key.display(), cert.display())
    })?;
    Ok(Arc::new(certified))
}

/// Reload the certificates on every SIGHUP, for as long as the server runs.
pub fn reload_on_sighup(certs: Arc<Certificates>) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut hup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).context("listening for SIGHUP")?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let certs = certs.clone();
                let _ = tokio::task::spawn_blocking(move || certs.reload()).await;
            }
        });
    }
    #[cfg(not(unix))]
    let _ = certs;
    Ok(())
}

/// Serve `app` over TLS until `shutdown` resolves, then let open connections finish.
/// Each request carries `ConnectInfo<SocketAddr>` and [`TlsConnection`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(TlsConnection);
                let mut app = app.clone();
                tower_service::Service::call(&mut app, req)
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new());
            builder.http2().timer(TokioTimer::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The names the self-signed server certificate is for: the listen address (loopback for an
/// unspecified one), `localhost` and `*.localhost` (S3 Control's `<account-id>.localhost`).
fn self_signed_names(ip: IpAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "*.localhost".to_string()];
    if ip.is_unspecified() {
        names.push("127.0.0.1".into());
        names.push("::1".into());
    } else {
        names.push(ip.to_string());
    }
    names
}

/// `--tls-self-signed`: `dir/ca.pem` + `dir/ca.key` (a private CA, made once) and
/// `dir/server.pem` + `dir/server.key` signed by it, made again only when the names change
/// (they are recorded in `dir/server.names`). Returns the server certificate and key paths,
/// and the CA.
fn self_signed(dir: &Path, ip: IpAddr) -> anyhow::Result<(PathBuf, PathBuf, LocalCa)> {
    crate::server::create_private_dir(dir)?;
    let write_key = |path: &Path, pem: &str| {
        tessera_services::bootstrap::write_private_file(path, pem.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    };
    let (ca_pem, ca_key, server_pem, server_key, names_file) = (
        dir.join("ca.pem"),
        dir.join("ca.key"),
        dir.join("server.pem"),
        dir.join("server.key"),
        dir.join("server.names"),
    );
    let ca_key_pair = if ca_key.is_file() && ca_pem.is_file() {
        let pem = std::fs::read_to_string(&ca_key).with_context(|| format!("reading {}", ca_key.display()))?;
        rcgen::KeyPair::from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", ca_key.display()))?
    } else {
        let key = rcgen::KeyPair::generate().context("making the CA key")?;
        let ca = ca_params().self_signed(&key).context("making the CA certificate")?;
        write_key(&ca_key, &key.serialize_pem())?;
        std::fs::write(&ca_pem, ca.pem()).with_context(|| format!("writing {}", ca_pem.display()))?;
        // A new CA: whatever server certificate is there was not signed by it.
        let _ = std::fs::remove_file(&names_file);
        tracing::info!(ca = %ca_pem.display(), "made a private CA for --tls-self-signed");
        key
    };
    // The same parameters and key give the same issuer name and key identifier as ca.pem.
    let ca = ca_params().self_signed(&ca_key_pair).context("loading the CA")?;
    let ca = LocalCa { cert: ca, key: ca_key_pair, issued: Mutex::new(HashMap::new()) };
    let names = self_signed_names(ip);
    let recorded = std::fs::read_to_string(&names_file).unwrap_or_default();
    if recorded.trim() == names.join(",") && server_pem.is_file() && server_key.is_file() {
        return Ok((server_pem, server_key, ca));
    }
    let (cert, key) = ca.issue(names.clone())?;
    write_key(&server_key, &key.serialize_pem())?;
    std::fs::write(&server_pem, cert.pem()).with_context(|| format!("writing {}", server_pem.display()))?;
    std::fs::write(&names_file, names.join(",")).with_context(|| format!("writing {}", names_file.display()))?;
    Ok((server_pem, server_key, ca))
}

/// Most `<account-id>.localhost` certificates kept in memory.
const MAX_ACCOUNT_CERTIFICATES: usize = 1000;

/// `--tls-self-signed`'s CA, in memory. Clients built on OpenSSL refuse `*.localhost` (a
/// wildcard right above a top-level name), so S3 Control's `<account-id>.localhost` gets a
/// certificate of its own, issued at its first handshake (never written to disk).
struct LocalCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
    issued: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa").finish_non_exhaustive()
    }
}

impl LocalCa {
    /// A server certificate for `names`, signed by this CA, and its key.
    fn issue(&self, names: Vec<String>) -> anyhow::Result<(rcgen::Certificate, rcgen::KeyPair)> {
        let mut params = rcgen::CertificateParams::new(names).context("server certificate names")?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature, rcgen::KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().context("making the server key")?;
        let cert = params.signed_by(&key, &self.cert, &self.key).context("signing the server certificate")?;
        Ok((cert, key))
    }

    /// The certificate for `<12 digits>.localhost`; `None` for any other name.
    fn account_certificate(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let account = name.strip_suffix(".localhost")?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut issued = self.issued.lock().ok()?;
        if let Some(k) = issued.get(name) {
            return Some(k.clone());
        }
        if issued.len() >= MAX_ACCOUNT_CERTIFICATES {
            return None;
        }
        let (cert, key) = self.issue(vec![name.to_string()]).ok()?;
        let private = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let signing = rustls::crypto::ring::sign::any_supported_type(&private).ok()?;
        let certified = Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing));
        issued.insert(name.to_string(), certified.clone());
        Some(certified)
    }
}

/// The private CA's certificate parameters (fixed, so the CA can be re-derived from its key).
fn ca_params() -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "Tessera local CA");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "Tessera (--tls-self-signed)");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (cert, key, _) = self_signed(dir.path(), ip).unwrap();
        let first = std::fs::read(&cert).unwrap();
        let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
        assert!(load_certified_key(&cert, &key).is_ok());
        let (cert2, _, local) = self_signed(dir.path(), ip).unwrap();
        assert!(local.account_certificate("123456789012.localhost").is_some());
        assert!(local.account_certificate("example.localhost").is_none());
        assert!(local.account_certificate("123456789012.example.com").is_none());
        assert_eq!(std::fs::read(&cert2).unwrap(), first);
        // Another listen address: a new server certificate from the same CA.
        self_signed(dir.path(), "10.0.0.1".parse().unwrap()).unwrap();
        assert_ne!(std::fs::read(&cert2).unwrap(), first);
        assert_eq!(std::fs::read(dir.path().join("ca.pem")).unwrap(), ca);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("ca.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_bad_reload_keeps_the_old_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, _) = self_signed(dir.path(), "127.0.0.1".parse().unwrap()).unwrap();
        let certs = Certificates::load(cert.clone(), key, None).unwrap();
        let before = certs.current.read().unwrap().cert.clone();
        std::fs::write(&cert, "not a certificate").unwrap();
        certs.reload();
        assert_eq!(certs.current.read().unwrap().cert, before);
    }
}
