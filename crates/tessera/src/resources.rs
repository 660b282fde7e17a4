//! Routing of the resource services that do not go through [`Services::handle`]: S3 (through
//! `s3s`) and the instance metadata service.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tessera_services::Services;

/// What the resource routes need.
#[derive(Clone)]
pub struct Resources {
    services: Arc<Services>,
    s3: Arc<tessera_s3::S3Endpoint>,
}

impl Resources {
    /// Open S3's storage under `DIR/s3`.
    pub fn open(services: Arc<Services>, data_dir: &Path) -> anyhow::Result<Resources> {
        let s3 = tessera_s3::S3Endpoint::open_audited(services.clone(), &data_dir.join("s3"), crate::server::audited())
            .context("opening S3 storage")?;
        Ok(Resources { services, s3: Arc::new(s3) })
    }

    /// S3, for the console's in-process calls.
    pub fn s3(&self) -> Arc<tessera_s3::S3Endpoint> {
        self.s3.clone()
    }
}

/// Middleware in front of every route: unsigned requests under `/imds/<instance-id>/` go to the
/// instance metadata service; unsigned requests under `/console` go to the web console; S3 requests (signed for `s3`, or anonymous path-style requests
/// that are not STS calls) go to S3; everything else goes on.
pub async fn route(State(res): State<Resources>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let signed = parts.headers.contains_key(http::header::AUTHORIZATION)
        || parts.uri.query().unwrap_or("").contains("X-Amz-Signature=");
    if !signed && parts.uri.path().starts_with("/imds/") {
        return imds(&res, &parts).await;
    }
    // The console's pages (unsigned requests under /console) are not S3's.
    let console = parts.uri.path() == "/console" || parts.uri.path().starts_with("/console/");
    if (!signed && console) || !tessera_s3::is_s3_request(&parts) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let control = signed && tessera_s3::control::is_control_path(parts.uri.path());
    if let Some(r) = crate::access_log::record_of(&parts) {
        r.update(|f| f.service = Some(if control { "s3-control" } else { "s3" }.to_string()));
    }
    let req = Request::from_parts(parts, body);
    let resp = if control { res.s3.handle_control(req, peer).await } else { res.s3.handle(req, peer).await };
    resp.map(Body::new)
}

/// Serve `/imds/<instance-id>/<path>`.
async fn imds(res: &Resources, parts: &http::request::Parts) -> Response {
    let rest = parts.uri.path().trim_start_matches("/imds/");
    let (instance_id, path) = rest.split_once('/').unwrap_or((rest, ""));
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let req = tessera_services::imds::ImdsRequest {
        method: parts.method.as_str().to_string(),
        instance_id: instance_id.to_string(),
        path: path.to_string(),
        token: header("x-aws-ec2-metadata-token"),
        token_ttl: header("x-aws-ec2-metadata-token-ttl-seconds"),
        forwarded: parts.headers.contains_key("x-forwarded-for"),
    };
    let services = res.services.clone();
    let record = crate::access_log::record_of(parts);
    let work = move || {
        let _current = record.as_ref().map(|r| r.enter());
        tessera_services::imds::handle(&services, &req)
    };
    let out = match tokio::task::spawn_blocking(work).await {
        Ok(r) => r,
        Err(_) => tessera_services::imds::ImdsResponse {
            status: 500,
            content_type: "text/plain",
            body: String::new(),
            headers: Vec::new(),
        },
    };
    let head = parts.method == http::Method::HEAD;
    let mut resp = Response::new(if head { Body::empty() } else { Body::from(out.body) });
    *resp.status_mut() = http::StatusCode::from_u16(out.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(out.content_type));
    resp.headers_mut().insert(http::header::SERVER, http::HeaderValue::from_static("EC2ws"));
    for (name, value) in out.headers {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}
