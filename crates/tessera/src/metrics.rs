//! Prometheus metrics at `GET /_tessera/metrics` (text exposition format), through the
//! `metrics` facade and its Prometheus exporter. The request metrics are recorded here from
//! each request's access record; the audit journal and the store record their own.
//!
//! Like `/_tessera/health`, the endpoint is unauthenticated: expose it no further than health.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::access_log::Line;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets, in seconds (100 µs to 10 s).
const SECONDS_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Group-commit batch sizes, in events.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

/// STS operations that issue credentials (a session).
const SESSION_OPERATIONS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "AssumeRoot",
    "GetFederationToken",
    "GetScopedCredentials",
    "GetSessionToken",
];

/// Install the process-wide recorder (once; later calls do nothing).
pub fn install() -> anyhow::Result<()> {
    if HANDLE.get().is_some() {
        return Ok(());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full("tessera_audit_batch_events".into()), BATCH_BUCKETS)?
        .install_recorder()?;
    describe();
    // The exporter keeps every histogram sample until upkeep folds it into the buckets; with
    // `install_recorder` nothing runs upkeep but a scrape, so a server nobody scrapes would grow
    // by every request's samples (bench/soak.py saw ~3 MiB a minute at 1,400 requests/s).
    let upkeep = handle.clone();
    std::thread::Builder::new().name("tessera-metrics".into()).spawn(move || loop {
        std::thread::sleep(UPKEEP_EVERY);
        upkeep.run_upkeep();
    })?;
    let _ = HANDLE.set(handle);
    Ok(())
}

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "tessera_requests_total",
        "Requests answered, by service, operation, status class and error code."
    );
    describe_histogram!("tessera_request_duration_seconds", Unit::Seconds, "Request latency by service.");
    describe_counter!(
        "tessera_authz_decisions_total",
        "Requests by the authorization decision that decided them and the deciding policy type."
    );
    describe_counter!("tessera_sts_sessions_issued_total", "Temporary credentials issued, by STS operation.");
    describe_gauge!("tessera_audit_queue_depth", "Audit events queued for the journal writer.");
    describe_histogram!("tessera_audit_batch_events", "Audit events per group commit.");
    describe_histogram!("tessera_audit_sync_seconds", Unit::Seconds, "Audit journal write+sync latency.");
    describe_counter!("tessera_audit_sync_failures_total", "Audit journal group commits that failed.");
    describe_gauge!("tessera_audit_indexer_lag_events", "Durable audit events not yet indexed.");
    describe_histogram!("tessera_store_transaction_seconds", Unit::Seconds, "Store write transaction latency.");
    describe_gauge!("process_resident_memory_bytes", Unit::Bytes, "Resident memory.");
    describe_gauge!("process_open_fds", "Open file descriptors.");
}

/// Count one answered request.
pub fn record(line: &Line<'_>) {
    let status_class = format!("{}xx", line.status / 100);
    let operation = operation_label(line).to_string();
    let error_code = line.error_code.unwrap_or("").to_string();
    let service = line.service.to_string();
    metrics::counter!("tessera_requests_total",
        "service" => service.clone(), "operation" => operation.clone(),
        "status_class" => status_class, "error_code" => error_code)
    .increment(1);
    metrics::histogram!("tessera_request_duration_seconds", "service" => service.clone())
        .record(line.latency_us as f64 / 1e6);
    if let Some(decision) = line.decision {
        metrics::counter!("tessera_authz_decisions_total",
            "decision" => decision, "policy_type" => line.policy_type.unwrap_or(""))
        .increment(1);
    }
    if service == "sts" && line.status < 300 && SESSION_OPERATIONS.contains(&operation.as_str()) {
        metrics::counter!("tessera_sts_sessions_issued_total", "operation" => operation).increment(1);
    }
}

/// The operation as a label: only names a service could have (the client chooses the
/// `Action` it sends; an unknown one must not make a new series).
fn operation_label<'a>(line: &'a Line<'_>) -> &'a str {
    let op = line.operation;
    let unknown = matches!(line.error_code, Some("InvalidAction" | "UnknownOperationException" | "NotImplemented"));
    let plain = !op.is_empty() && op.len() <= 64 && op.bytes().all(|b| b.is_ascii_alphanumeric());
    if plain && !unknown && !matches!(line.service, "console" | "imds") {
        op
    } else {
        "other"
    }
}

/// `GET /_tessera/metrics`.
pub async fn endpoint() -> Response {
    let Some(handle) = HANDLE.get() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics are not enabled\n").into_response();
    };
    process_gauges();
    handle.run_upkeep();
    (StatusCode::OK, [("content-type", "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

/// The process's resident memory and open files, from `/proc/self` (absent elsewhere).
fn process_gauges() {
    let rss_kb = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
    });
    if let Some(kb) = rss_kb {
        metrics::gauge!("process_resident_memory_bytes").set(kb * 1024.0);
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        metrics::gauge!("process_open_fds").set(dir.count() as f64);
    }
}
