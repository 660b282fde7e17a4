//! `tessera`: the server and its command line.

mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { listen, data_dir } => server::run(listen, &data_dir),
    }
}
