//! `tessera`: the server and its command line.

mod access_log;
mod audit_cli;
mod backup;
mod console;
mod graph_cli;
mod imds_listener;
mod metrics;
mod resources;
mod server;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// jemalloc: per-thread caches make the many small allocations of a request, and their release
/// on another thread (an audit event is made on a request thread and freed by the writer),
/// cheaper than glibc's arenas, whose locks the audit writer and the request threads contended
/// for; freed pages go back to the system after a second (`JEMALLOC_SYS_WITH_MALLOC_CONF` in
/// `.cargo/config.toml`), which keeps a large upload's memory flat. See docs/BENCHMARKS.md.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Tessera: a self-hosted, AWS-compatible identity plane (IAM, STS, Organizations, ...).
///
/// Start a server, then point the real AWS CLI or any AWS SDK at it:
///
///   tessera serve --data-dir ./tessera-data
///
///   export AWS_SHARED_CREDENTIALS_FILE=./tessera-data/credentials AWS_PROFILE=root
///
///   export AWS_ENDPOINT_URL=$(cat ./tessera-data/endpoint) AWS_DEFAULT_REGION=us-east-1
///
///   aws sts get-caller-identity
#[derive(Debug, Parser)]
#[command(name = "tessera", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: STS, IAM, Organizations, S3, EC2 and CloudTrail on one endpoint.
    ///
    /// On a data dir with no state it creates the management account and writes its root
    /// access key to DIR/credentials (mode 0600, profile `root`). Once it accepts requests it
    /// writes its base URL to DIR/endpoint. SIGTERM or SIGINT stop it cleanly; a restart on the
    /// same data dir keeps every account, key, policy and session.
    #[command(verbatim_doc_comment)]
    Serve {
        /// Address to listen on. `127.0.0.1:0` picks a free port (read it from DIR/endpoint).
        #[arg(long, default_value = "127.0.0.1:8750")]
        listen: SocketAddr,
        /// Directory holding all state (created if missing, mode 0700).
        #[arg(long, default_value = "./tessera-data")]
        data_dir: PathBuf,
        /// Keep the state in a PostgreSQL database instead of the embedded SQLite file
        /// DIR/tessera.db: `postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?schema=NAME]`
        /// (the schema is created if missing). DIR still holds master.key, credentials and
        /// endpoint; servers sharing one database need the same master.key. See docs/STORAGE.md.
        #[arg(long, env = "TESSERA_STORE_URL", hide_env_values = true, value_name = "URL", value_parser = parse_store_url)]
        store_url: Option<String>,
        /// Serve HTTPS with this PEM certificate (the server's certificate first, then any
        /// intermediates); needs --tls-key. `kill -HUP <pid>` reloads both files: new
        /// connections get the new certificate, open ones keep theirs, and a file that does
        /// not load is logged and the current certificate stays. See docs/OPERATIONS.md.
        #[arg(long, value_name = "FILE", requires = "tls_key", conflicts_with = "tls_self_signed")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve HTTPS with a certificate from a private CA made under DIR/tls/ on first start
        /// (ca.pem, ca.key mode 0600; later starts reuse them), for the listen address,
        /// `localhost` and `*.localhost`. For local use and tests, not for a shared server.
        /// Clients trust it through the CA file:
        ///   export AWS_CA_BUNDLE=DIR/tls/ca.pem AWS_ENDPOINT_URL=$(cat DIR/endpoint)
        #[arg(long, verbatim_doc_comment)]
        tls_self_signed: bool,
        /// Also listen on this address, plain HTTP, for the instance metadata service only
        /// (`/imds/<instance-id>/...`; anything else is 404), so instances reach IMDS without
        /// a CA bundle while the main endpoint serves HTTPS. Its base URL goes to
        /// DIR/imds-endpoint: AWS_EC2_METADATA_SERVICE_ENDPOINT=$(cat DIR/imds-endpoint)/imds/ID/
        #[arg(long, value_name = "ADDR")]
        imds_listen: Option<SocketAddr>,
        /// The URL clients reach this server at when it is not the listen address (a load
        /// balancer's: https://tessera.example.com). Outbound web identity federation's issuer
        /// URLs (the tokens' `iss`, their discovery document and JWKS) are made under it when an
        /// account enables the feature; DIR/endpoint still names the listener. See
        /// docs/OUTBOUND_FEDERATION.md.
        #[arg(long, env = "TESSERA_PUBLIC_URL", value_name = "URL", value_parser = parse_public_url)]
        public_url: Option<String>,
        /// Log format: `text` (one line per event, `key=value` fields) or `json` (one JSON
        /// object per line). Colours only when stderr is a terminal. See docs/OPERATIONS.md.
        #[arg(long, env = "TESSERA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Benchmarks only: record no metrics (measures what metrics cost; /_tessera/metrics
        /// then answers 503). Never in production.
        #[arg(long, hide = true)]
        no_metrics_benchmark_only: bool,
        #[command(flatten)]
        audit: audit_cli::AuditOptions,
    },
    /// The audit trail: `tessera audit verify` checks delivered CloudTrail log files.
    Audit {
        #[command(subcommand)]
        command: audit_cli::AuditCommand,
    },
    /// Evaluate and check IAM policies offline, without a server.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Manage the keys that seal STS session tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The web console at <endpoint>/console: `tessera console set-root-password`.
    #[command(subcommand)]
    Console(ConsoleCommand),
    /// Snapshot a data dir into one archive file, while its server runs or not.
    ///
    /// Takes a consistent snapshot of the store (tessera.db, through SQLite's VACUUM INTO, not a
    /// file copy), the audit store (audit.db and the events in its journal not yet indexed), the
    /// S3 object bytes and trail files under DIR/s3, DIR/credentials and DIR/tls, into a tar file
    /// (gzip unless --no-compress) with a manifest of every file's size and SHA-256. The server
    /// keeps serving meanwhile; what it commits after the snapshot is not in the backup.
    ///
    ///   tessera backup --data-dir ./tessera-data --out /backups/tessera-$(date +%F).tar.gz
    ///
    /// master.key is NOT in the archive unless --include-master-key: the secrets in the store
    /// (access keys, passwords, signing keys) are sealed with it, so an archive without it
    /// reveals none of them. Keep a copy of DIR/master.key somewhere else; restore needs it.
    ///
    /// The archive is written to a temporary file beside FILE (mode 0600) and renamed when
    /// complete; FILE must not exist. Progress goes to stderr; a JSON summary (files, bytes,
    /// events, duration) to stdout. With --store-url (PostgreSQL) only the data dir's files are
    /// archived: back the database up with pg_dump first (docs/OPERATIONS.md).
    #[command(verbatim_doc_comment)]
    Backup {
        /// The server's data dir.
        #[arg(long, default_value = "./tessera-data")]
        data_dir: PathBuf,
        /// The archive to write (must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Put DIR/master.key in the archive too: anyone with the file can then read every
        /// secret in it. Without it, restore leaves master.key out and says so.
        #[arg(long)]
        include_master_key: bool,
        /// Write a plain tar file, not gzip (faster; object bytes that are already compressed
        /// gain little from gzip).
        #[arg(long)]
        no_compress: bool,
        /// The server's PostgreSQL store, if it uses one: the database is not archived.
        #[arg(long, env = "TESSERA_STORE_URL", hide_env_values = true, value_name = "URL", value_parser = parse_store_url)]
        store_url: Option<String>,
    },
    /// Make a new data dir from a `tessera backup` archive.
    ///
    /// Every file is checked against the archive's manifest (size and SHA-256) before anything
    /// appears at DIR: files are extracted into a directory beside it, which is renamed to DIR
    /// only when all of them match. DIR must not exist or be empty; it is made with mode 0700.
    ///
    ///   tessera restore --from /backups/tessera-2026-12-06.tar.gz --data-dir ./tessera-data-new
    ///   cp ./tessera-data/master.key ./tessera-data-new/   # unless the backup included it
    ///   tessera serve --data-dir ./tessera-data-new
    ///
    /// `tessera serve` refuses a data dir whose store has secrets but which has no master.key
    /// (a new key would make them unreadable). Prints a JSON summary on stdout.
    #[command(verbatim_doc_comment)]
    Restore {
        /// The archive `tessera backup` wrote.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The data dir to make (must not exist, or be empty).
        #[arg(long, value_name = "NEW")]
        data_dir: PathBuf,
    },
    /// Who can reach what: the organization's principals, the roles they can assume and the
    /// privilege-escalation moves they can make, each decided by the policy engine (JSON or
    /// Graphviz DOT on stdout). See docs/GRAPH.md.
    Graph(graph_cli::GraphArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new session-token key: new sessions are sealed with it from now on.
    ///
    /// Tokens sealed with earlier keys keep working until they expire (at most 36 hours), then
    /// those keys are deleted at the next rotation. Safe while `tessera serve` runs on the same
    /// data dir: a running server picks the new key up within a minute, and at once for a token
    /// it does not know. Prints {"KeyId": "..."} on stdout.
    ///
    ///   tessera keys rotate --data-dir ./tessera-data
    #[command(verbatim_doc_comment)]
    Rotate {
        /// The server's data dir (it must exist: it holds master.key).
        #[arg(long, default_value = "./tessera-data")]
        data_dir: PathBuf,
        /// The server's PostgreSQL store, if it uses one (as for `tessera serve`).
        #[arg(long, env = "TESSERA_STORE_URL", hide_env_values = true, value_name = "URL", value_parser = parse_store_url)]
        store_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConsoleCommand {
    /// Set the console password of an account's root user (sign-in with the account's email
    /// address). Reads the password from the first line of stdin:
    ///
    ///   printf '%s\n' "$PASSWORD" | tessera console set-root-password --data-dir DIR --account ID
    ///
    /// The server may be running; the new password applies to the next sign-in.
    #[command(verbatim_doc_comment)]
    SetRootPassword {
        /// The server's data dir.
        #[arg(long, default_value = "./tessera-data")]
        data_dir: PathBuf,
        /// The account id (12 digits).
        #[arg(long)]
        account: String,
        /// The PostgreSQL store, when the server uses one (see `tessera serve --help`).
        #[arg(long, env = "TESSERA_STORE_URL", hide_env_values = true, value_name = "URL", value_parser = parse_store_url)]
        store_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Decide requests offline, as IAM's SimulateCustomPolicy does.
    ///
    /// Reads a SimulateCustomPolicy request (AWS's field names: PolicyInputList, ActionNames,
    /// ResourceArns, CallerArn, ContextEntries, ResourcePolicy, PermissionsBoundaryPolicyInputList,
    /// plus ServiceControlPolicyInputList, ResourceControlPolicyInputList and
    /// SessionPolicyInputList) as JSON on stdin and writes SimulateCustomPolicy's response
    /// (EvaluationResults with EvalDecision allowed, explicitDeny or implicitDeny, and the
    /// matched statements) as JSON on stdout.
    ///
    ///   echo '{"PolicyInputList":["{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}}"],
    ///          "ActionNames":["s3:GetObject"],"ResourceArns":["arn:aws:s3:::b/k"]}' | tessera policy simulate
    ///
    /// Exit status: 0 when every input was evaluated, 1 when any was not; a failed input's output
    /// is {"Error":{"Code":"InvalidInput","Message":...}} in its place, so --jsonl stays aligned.
    #[command(verbatim_doc_comment)]
    Simulate {
        /// One JSON input per line in, one JSON output per line out, in order.
        #[arg(long)]
        jsonl: bool,
    },
    /// Check policy documents: syntax, IAM's MalformedPolicyDocument rules, unknown actions and
    /// condition keys, malformed ARNs, statements that can never match (like Access Analyzer's
    /// ValidatePolicy). Prints one finding per line; exits 1 if any file has an ERROR finding.
    Validate {
        /// What the documents are.
        #[arg(long, value_enum, default_value_t = PolicyKindArg::Identity)]
        policy_type: PolicyKindArg,
        /// Policy documents (JSON files); `-` reads stdin.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `tessera serve --log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Log to stderr at `RUST_LOG`'s levels (default `info`), in `format`, with terminal colours
/// only when stderr is a terminal.
///
/// The server (`background`) hands each formatted line to a writer thread, so that a request
/// does not wait for its access-log line's `write` to stderr; when that thread falls behind by
/// 128,000 lines, requests wait for it (lines are never dropped). Lines still queued when the
/// process is killed with SIGKILL are lost: the access log is an operational record, the audit
/// trail is the durable one. The returned guard flushes the queue when dropped.
fn init_logging(format: LogFormat, background: bool) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use std::io::IsTerminal;
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // s3s logs whole requests, their Authorization header included, at debug: never a secret.
    if let Ok(quiet) = "s3s=info".parse() {
        filter = filter.add_directive(quiet);
    }
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = if background {
        let (w, g) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("tessera-log")
            .finish(std::io::stderr());
        (tracing_subscriber::fmt::writer::BoxMakeWriter::new(w), Some(g))
    } else {
        (tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr), None)
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
    }
    guard
}

/// Policy types for `tessera policy validate --policy-type`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PolicyKindArg {
    Identity,
    Resource,
    Trust,
    PermissionsBoundary,
    Session,
    Scp,
    Rcp,
}

impl From<PolicyKindArg> for tessera_policy::PolicyType {
    fn from(k: PolicyKindArg) -> Self {
        use tessera_policy::PolicyType as T;
        match k {
            PolicyKindArg::Identity => T::Identity,
            PolicyKindArg::Resource => T::Resource,
            PolicyKindArg::Trust => T::Trust,
            PolicyKindArg::PermissionsBoundary => T::PermissionsBoundary,
            PolicyKindArg::Session => T::Session,
            PolicyKindArg::Scp => T::Scp,
            PolicyKindArg::Rcp => T::Rcp,
        }
    }
}

/// `--store-url`: a PostgreSQL URL (the only networked backend).
fn parse_store_url(url: &str) -> Result<String, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_string())
    } else {
        Err("expected a PostgreSQL URL: postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME".into())
    }
}

/// `--public-url`: an absolute http(s) URL without query, fragment or user information.
fn parse_public_url(url: &str) -> Result<String, String> {
    tessera_services::iam::outbound_federation::check_public_url(url)
}

/// `tessera policy validate`: findings as `FILE: SEVERITY CODE location: message`.
fn validate_files(ty: tessera_policy::PolicyType, files: &[PathBuf]) -> anyhow::Result<i32> {
    use std::io::Read;
    let mut worst = 0;
    for file in files {
        let mut text = String::new();
        if file.as_os_str() == "-" {
            std::io::stdin().read_to_string(&mut text)?;
        } else {
            text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        }
        let findings = tessera_policy::validate::validate_policy(&text, ty);
        if findings.is_empty() {
            println!("{}: OK", file.display());
        }
        for f in findings {
            let at = if f.location.is_empty() { String::new() } else { format!(" {}", f.location) };
            println!("{}: {} {}{at}: {}", file.display(), f.severity.as_str(), f.code, f.message);
            if f.severity == tessera_policy::validate::Severity::Error {
                worst = 1;
            }
        }
    }
    Ok(worst)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (format, background) = match &cli.command {
        Command::Serve { log_format, .. } => (*log_format, true),
        _ => (LogFormat::Text, false),
    };
    let _log_writer = init_logging(format, background);
    match cli.command {
        Command::Serve {
            listen,
            data_dir,
            store_url,
            tls_cert,
            tls_key,
            tls_self_signed,
            imds_listen,
            public_url,
            log_format: _,
            no_metrics_benchmark_only,
            audit,
        } => {
            if !no_metrics_benchmark_only {
                metrics::install()?;
            }
            if let Some(url) = &public_url {
                tessera_services::iam::outbound_federation::set_public_url(url);
            }
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(tls::TlsSource::Files { cert, key }),
                _ if tls_self_signed => Some(tls::TlsSource::SelfSigned),
                _ => None,
            };
            server::run(listen, &data_dir, store_url.as_deref(), &audit, tls.as_ref(), imds_listen)
        }
        Command::Policy(PolicyCommand::Simulate { jsonl }) => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let code = tessera_policy::simulate::run_cli(stdin, stdout, jsonl)?;
            std::process::exit(code);
        }
        Command::Policy(PolicyCommand::Validate { policy_type, files }) => {
            let code = validate_files(policy_type.into(), &files)?;
            std::process::exit(code);
        }
        Command::Audit { command } => audit_cli::run(command),
        Command::Keys(KeysCommand::Rotate { data_dir, store_url }) => {
            let key_id = server::rotate_token_key(&data_dir, store_url.as_deref())?;
            println!("{}", serde_json::json!({ "KeyId": key_id }));
            Ok(())
        }
        Command::Console(ConsoleCommand::SetRootPassword { data_dir, account, store_url }) => {
            console::root_password::run_cli(&data_dir, store_url.as_deref(), &account)
        }
        Command::Backup { data_dir, out, include_master_key, no_compress, store_url } => {
            let summary =
                backup::backup(&backup::BackupRequest { data_dir, out, include_master_key, store_url, no_compress })?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
        Command::Restore { from, data_dir } => {
            let summary = backup::restore(&from, &data_dir)?;
            eprintln!(
                "tessera restore: restored {} files ({} audit events) from the backup of {} into {}",
                summary.files,
                summary.events,
                summary.created,
                data_dir.display()
            );
            if !summary.master_key_included {
                eprintln!(
                    "tessera restore: the backup holds no master.key. Copy the master.key of the server it was \
                     taken from to {} (mode 0600) before `tessera serve`: the secrets in the store are sealed \
                     with it.",
                    data_dir.join("master.key").display()
                );
            }
            if summary.store == "postgresql" {
                eprintln!(
                    "tessera restore: the backup was taken of a server on PostgreSQL and holds no database: \
                     restore the database from its pg_dump and start with --store-url (docs/OPERATIONS.md)."
                );
            }
            println!("{}", serde_json::to_string(&summary)?);
            Ok(())
        }
        Command::Graph(args) => graph_cli::run(args),
    }
}
