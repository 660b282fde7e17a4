//! `tessera graph`: the organization's privilege-escalation graph, offline (crate
//! `tessera-graph`; docs/GRAPH.md).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use tessera_services::{Clock, Config, Services, SystemClock};
use tessera_store::secrets::SecretBox;

/// `tessera graph` options.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The server's data dir (the graph only reads the store; the server may be running).
    #[arg(long, default_value = "./tessera-data")]
    data_dir: PathBuf,
    /// The server's PostgreSQL store, if it uses one (as for `tessera serve`).
    #[arg(long, env = "TESSERA_STORE_URL", hide_env_values = true, value_name = "URL", value_parser = crate::parse_store_url)]
    store_url: Option<String>,
    /// List only the principals of this account (their edges may lead out of it).
    #[arg(long, value_name = "ID")]
    account: Option<String>,
    /// `json` (principals and edges) or `dot` (Graphviz; admin paths highlighted).
    #[arg(long, value_enum, default_value_t = GraphFormat::Json)]
    format: GraphFormat,
}

/// `tessera graph --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum GraphFormat {
    Json,
    Dot,
}

/// Run `tessera graph`: build the graph and print it on stdout.
pub fn run(args: GraphArgs) -> anyhow::Result<()> {
    let store = crate::server::open_existing_store(&args.data_dir, args.store_url.as_deref())?;
    // The graph never opens a sealed secret: a fresh key serves.
    let secrets = SecretBox::new(&SecretBox::generate_key());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now_millis();
    let services = Services::new(store, secrets, clock, Config { endpoint: String::new() });
    let mut graph = tessera_graph::build(&services, now).map_err(|e| anyhow::anyhow!("building the graph: {e}"))?;
    if let Some(account) = &args.account {
        graph.only_account(account);
    }
    let text = match args.format {
        GraphFormat::Json => graph.to_json(),
        GraphFormat::Dot => graph.to_dot(),
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", text.trim_end()).and_then(|()| out.flush()) {
        // A reader that stopped early (`| head`) is not a failure of the graph.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
