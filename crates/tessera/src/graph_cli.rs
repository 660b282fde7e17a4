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
    /// Query: who can do this action (e.g. `s3:GetObject`) on --resource, as they are or
    /// through moves? Prints each principal with its shortest way, as JSON.
    #[arg(long, value_name = "ACTION", requires = "resource", conflicts_with_all = ["from", "format"])]
    who_can: Option<String>,
    /// The resource ARN of --who-can (`*` for any).
    #[arg(long, value_name = "ARN", requires = "who_can")]
    resource: Option<String>,
    /// Query: how can this principal (a user's or role's ARN) reach --to? Prints the shortest
    /// paths, each step with the policy statements that allow it, as JSON.
    #[arg(long, value_name = "ARN", requires = "to", conflicts_with = "format")]
    from: Option<String>,
    /// The target of --from: a principal's ARN, or `admin` (any principal allowed `*` on `*`).
    #[arg(long, value_name = "ARN|admin", requires = "from")]
    to: Option<String>,
    /// Most paths --from/--to prints (all of the fewest moves, up to this many).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: u32,
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
    let text = if let (Some(action), Some(resource)) = (&args.who_can, &args.resource) {
        let mut answer = tessera_graph::who_can(&services, now, action, resource)
            .map_err(|e| anyhow::anyhow!("who can {action} on {resource}: {e}"))?;
        if let Some(account) = &args.account {
            answer.principals.retain(|p| p.arn.split(':').nth(4) == Some(account.as_str()));
        }
        serde_json::to_string_pretty(&answer)?
    } else {
        let mut graph = tessera_graph::build(&services, now).map_err(|e| anyhow::anyhow!("building the graph: {e}"))?;
        if let (Some(from), Some(to)) = (&args.from, &args.to) {
            let paths = tessera_graph::paths(&graph, from, to, args.limit as usize)
                .map_err(|e| anyhow::anyhow!("paths from {from} to {to}: {e}"))?;
            serde_json::to_string_pretty(&paths)?
        } else {
            if let Some(account) = &args.account {
                graph.only_account(account);
            }
            match args.format {
                GraphFormat::Json => graph.to_json(),
                GraphFormat::Dot => graph.to_dot(),
            }
        }
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{}", text.trim_end()).and_then(|()| out.flush()) {
        // A reader that stopped early (`| head`) is not a failure of the graph.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
