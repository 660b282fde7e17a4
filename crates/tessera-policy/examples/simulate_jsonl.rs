//! `tessera policy simulate --jsonl` without the server's dependencies: stdin to stdout, for
//! profiling the simulator path (`perf record target/release/examples/simulate_jsonl < in > out`).

use std::io::{stdin, stdout, BufWriter};

fn main() -> std::io::Result<()> {
    let code = tessera_policy::simulate::run_cli(stdin().lock(), BufWriter::new(stdout().lock()), true)?;
    std::process::exit(code);
}
