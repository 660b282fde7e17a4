//! `--imds-listen`: a second, plain-HTTP listener that serves only the instance metadata
//! service (`/imds/<instance-id>/...`), for instances whose SDKs should reach IMDS without TLS
//! while the main endpoint serves HTTPS.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::StatusCode;

/// The IMDS-only application: unsigned `/imds/` requests go to the metadata service (through
/// [`crate::resources::route`]); everything else is 404.
pub fn router(resources: crate::resources::Resources) -> Router {
    Router::new()
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(resources, crate::resources::route))
        .layer(axum::middleware::from_fn(imds_only))
}

/// Serve `router` on `listener` until SIGTERM/SIGINT.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(crate::server::shutdown_signal())
        .await
}

async fn imds_only(req: Request, next: Next) -> Response {
    let signed = req.headers().contains_key(http::header::AUTHORIZATION)
        || req.uri().query().unwrap_or("").contains("X-Amz-Signature=");
    if signed || !req.uri().path().starts_with("/imds/") {
        return not_found().await.into_response();
    }
    next.run(req).await
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, [("content-type", "text/plain")], "Not Found: this listener serves only /imds/\n")
}
