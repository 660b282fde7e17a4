//! Time the first use of the embedded AWS managed policy catalogue in a fresh process: the gzip
//! decompression and indexing that `managed.rs` does once, lazily (docs/BENCHMARKS.md, "AWS
//! managed policy catalogue"), then one lookup after it. Prints one JSON line.
//!
//! ```sh
//! cargo build --release -p tessera-services --example managed_catalogue_load
//! for i in $(seq 21); do target/release/examples/managed_catalogue_load; done
//! ```

use std::time::Instant;

use tessera_services::managed;

fn main() {
    let t = Instant::now();
    let count = managed::all().len();
    let first_use = t.elapsed();
    let t = Instant::now();
    let found = managed::by_arn("arn:aws:iam::aws:policy/job-function/ViewOnlyAccess").is_some();
    let lookup = t.elapsed();
    assert!(found);
    println!(
        r#"{{"policies":{count},"first_use_ms":{:.3},"lookup_after_us":{:.3}}}"#,
        first_use.as_secs_f64() * 1e3,
        lookup.as_secs_f64() * 1e6
    );
}
