//! `isms-bench`: measures what the ISMS ledger can sustain, on the machine it runs on.
//!
//! - `isms-bench store`: durable appends straight into the event store (no HTTP).
//! - `isms-bench http`: commands against a real `isms serve` it starts and stops itself.
//! - `isms-bench rebuild`: chain verification and projection rebuild over a large log.
//!
//! Both print human-readable figures and end with one JSON line holding the same figures, so
//! a run can be pasted into notes as it is. Nothing is estimated: every figure is measured in
//! the run that prints it. Build in release mode; debug figures are meaningless (the JSON line
//! records which build produced it).

mod http_bench;
mod rebuild_bench;
mod report;
mod server;
mod store_bench;

/// glibc's allocator slows replays and group commits badly: decoded envelopes are allocated on
/// one thread and freed on another, in batches. mimalloc handles that pattern well.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "isms-bench", version, about = "Load generator for the ISMS ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Durable append throughput of the sled event store with concurrent appenders.
    Store(store_bench::StoreArgs),
    /// End-to-end command throughput and latency over HTTP against `isms serve`.
    Http(http_bench::HttpArgs),
    /// Start-up cost on a large log: full chain verification and a rebuild of every projection.
    Rebuild(rebuild_bench::RebuildArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("isms-bench: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Store(args) => store_bench::run(args).await,
            Command::Http(args) => http_bench::run(args).await,
            Command::Rebuild(args) => rebuild_bench::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("isms-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
