//! The audit trail's command line: `serve` options, `tessera audit verify` and `tessera audit import`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use tessera_audit::delivery::{Deliverer, DeliveryConfig, DeliveryHandle, TrailDelivery};
use tessera_audit::postgres::PostgresAuditStore;
use tessera_audit::sqlite::SqliteAuditStore;
use tessera_audit::{AuditLimits, AuditStore};
use tessera_services::Services;
use tessera_store::secrets::SecretBox;

/// Audit options of `tessera serve`.
#[derive(Debug, Clone, Args)]
pub struct AuditOptions {
    /// Days of event history kept in DIR/audit.db (LookupEvents); older events are deleted.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_retention_days: u32,
    /// Most events kept in DIR/audit.db; the oldest are deleted first.
    #[arg(long, default_value_t = 50_000_000, value_parser = clap::value_parser!(u64).range(1000..))]
    pub audit_max_events: u64,
    /// Seconds between deliveries of trail log files.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_delivery_seconds: u64,
    /// Seconds covered by one digest file (AWS: 3600).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub audit_digest_seconds: u64,
    /// Benchmarks only: do not record events (measures what auditing costs). Never in production.
    #[arg(long, hide = true)]
    pub unaudited_benchmark_only: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            audit_retention_days: 90,
            audit_max_events: 50_000_000,
            audit_delivery_seconds: 60,
            audit_digest_seconds: 3600,
            unaudited_benchmark_only: false,
        }
    }
}

/// `tessera audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check a trail's delivered log files against its signed digest chain, like
    /// `aws cloudtrail validate-logs`. Exits non-zero and names the first broken link if any
    /// file is missing or altered.
    #[command(verbatim_doc_comment)]
    Verify {
        /// The server's data directory.
        #[arg(long, default_value = "./tessera-data")]
        data_dir: PathBuf,
        /// Only this trail (name or ARN); default: every trail.
        #[arg(long)]
        trail: Option<String>,
        /// The server's PostgreSQL store, if it uses one (as for `tessera serve`): the trail
        /// files are objects of Tessera's S3, whose records live in the store.
        #[arg(long, env = "TESSERA_STORE_URL", hide_env_values = true, value_name = "URL", value_parser = crate::parse_store_url)]
        store_url: Option<String>,
    },
    /// Ship the audit journal of a node that will not come back into the cluster's PostgreSQL
    /// audit trail, so that every event it acknowledged is in LookupEvents and trails.
    /// Idempotent: events already shipped (by the node itself or an earlier import) are skipped.
    #[command(verbatim_doc_comment)]
    Import {
        /// The dead node's data dir, or its `audit.journal` directory (a copy will do).
        #[arg(long, value_name = "DIR")]
        journal: PathBuf,
        /// The node's id; default: read from `node-id` in the data dir.
        #[arg(long)]
        node_id: Option<String>,
        /// The cluster's PostgreSQL store.
        #[arg(long, env = "TESSERA_STORE_URL", hide_env_values = true, value_name = "URL", value_parser = crate::parse_store_url)]
        store_url: String,
    },
}

/// Open the audit store with the data dir's key-encryption key: DIR/audit.db, or with a
/// PostgreSQL store the cluster's audit tables there (events still pass through DIR/audit.journal).
pub fn open_store(
    data_dir: &Path,
    store_url: Option<&str>,
    kek: &[u8; 32],
    opts: &AuditOptions,
) -> anyhow::Result<Arc<dyn AuditStore>> {
    let limits = AuditLimits { retention_days: opts.audit_retention_days, max_events: opts.audit_max_events };
    if let Some(url) = store_url {
        let store = PostgresAuditStore::open(data_dir, url, SecretBox::new(kek), limits)
            .context("opening the audit store (PostgreSQL)")?;
        tracing::info!(node_id = %store.node_id(), "audit trail shared through PostgreSQL");
        return Ok(Arc::new(store));
    }
    let store = SqliteAuditStore::open(&data_dir.join("audit.db"), SecretBox::new(kek), limits)
        .context("opening the audit store (audit.db)")?;
    Ok(Arc::new(store))
}

/// Trail files as objects of Tessera's S3 (records in the services' store, bytes under DIR/s3).
pub fn trail_target(services: &Services, data_dir: &Path) -> anyhow::Result<Arc<dyn TrailDelivery>> {
    let target = tessera_s3::TrailBuckets::open(services.store.clone(), services.clock.clone(), &data_dir.join("s3"))
        .context("opening S3 storage for trail delivery")?;
    Ok(Arc::new(target))
}

/// Start trail delivery into the trails' S3 buckets.
pub fn start_delivery(
    services: &Services,
    store: Arc<dyn AuditStore>,
    target: Arc<dyn TrailDelivery>,
    opts: &AuditOptions,
) -> anyhow::Result<DeliveryHandle> {
    let clock = Arc::clone(&services.clock);
    let deliverer = Deliverer::new(
        store,
        target,
        DeliveryConfig {
            interval: Duration::from_secs(opts.audit_delivery_seconds),
            digest_period: Duration::from_secs(opts.audit_digest_seconds),
        },
        Arc::new(move || clock.now_millis()),
    );
    Arc::new(deliverer).spawn().context("starting trail delivery")
}

/// Run `tessera audit ...`; exits with status 1 when verification finds a broken link.
pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    let code = match command {
        AuditCommand::Verify { data_dir, trail, store_url } => {
            verify(&data_dir, trail.as_deref(), store_url.as_deref())?
        }
        AuditCommand::Import { journal, node_id, store_url } => import(&journal, node_id.as_deref(), &store_url)?,
    };
    if code != ExitCode::SUCCESS {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
    Ok(())
}

fn verify(data_dir: &Path, trail: Option<&str>, store_url: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = crate::server::open_existing_store(data_dir, store_url)?;
    let target = tessera_s3::TrailBuckets::open(store, Arc::new(tessera_services::SystemClock), &data_dir.join("s3"))
        .context("opening S3 storage")?;
    let reports = match store_url {
        // A cluster: trails and keys are in PostgreSQL.
        Some(url) => {
            let (trails, keys) = tessera_audit::postgres::read_offline(url).map_err(|e| anyhow::anyhow!("{e}"))?;
            tessera_audit::verify::verify_trails(&trails, &keys, &target, trail)
        }
        None => tessera_audit::verify::verify_data_dir(data_dir, &target, trail),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    if reports.is_empty() {
        println!("No trails in {}.", data_dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut ok = true;
    for r in &reports {
        println!("Validating log files for trail {}", r.trail_arn);
        if let Some(note) = &r.note {
            println!("  ({note})");
        }
        for f in &r.files {
            println!("{}", f.line());
        }
        let (dv, dt) = r.digests();
        let (lv, lt) = r.logs();
        println!("Results:");
        println!("{dv}/{dt} digest files valid{}", invalid_suffix(dt - dv, "digest"));
        println!("{lv}/{lt} log files valid{}", invalid_suffix(lt - lv, "log"));
        if r.pending_log_files > 0 {
            println!(
                "{} log files delivered after the newest digest (checked by the next digest)",
                r.pending_log_files
            );
        }
        for d in &r.unchained_digests {
            println!("Note: digest file {d} is not part of the chain");
        }
        if let Some(b) = r.first_broken() {
            ok = false;
            // The location is the object's s3:// URI; other targets name a path too.
            let place = if b.location == b.uri { String::new() } else { format!(" ({})", b.location) };
            println!(
                "First broken link: {} {}{place}: {}",
                b.kind.to_lowercase(),
                b.uri,
                b.problem.as_deref().unwrap_or("invalid")
            );
        }
        println!();
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn import(journal: &Path, node_id: Option<&str>, store_url: &str) -> anyhow::Result<ExitCode> {
    let dir =
        if journal.join("audit.journal").is_dir() { journal.join("audit.journal") } else { journal.to_path_buf() };
    let node = match node_id {
        Some(n) => n.to_string(),
        None => tessera_audit::postgres::journal_node_id(&dir).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let shipped =
        tessera_audit::postgres::import_journal(&dir, &node, store_url).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Imported the audit journal of node {node} from {}: {} events read, {} new.",
        dir.display(),
        shipped.read,
        shipped.inserted
    );
    Ok(ExitCode::SUCCESS)
}

fn invalid_suffix(n: usize, what: &str) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} {what} files INVALID")
    }
}
