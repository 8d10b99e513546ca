//! `isms-bench http`: end-to-end command throughput and latency of a real `isms serve`.
//!
//! The store benchmark measures the write path alone; this one measures what a client sees:
//! HTTP parsing, token verification, the domain decision, the durable group commit and the
//! projection update, over real TCP connections on 127.0.0.1. Every client identifies a risk
//! and then assesses the risk it just created, so both a stream-creating command and a
//! version-checked command on an existing stream are exercised. The server runs from a fresh
//! temporary data directory and is always stopped at the end (see [`crate::server`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::report::{round3, Host, LatencySummary, Target};
use crate::server::{free_port, locate_binary, mint_token, Server};

const WARM_UP: Duration = Duration::from_secs(1);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many failed commands are quoted in full in the report.
const ERROR_SAMPLES: usize = 5;
const TARGET_COMMANDS_PER_SEC: f64 = 5_000.0;
const TARGET_CONCURRENT_P99_MS: f64 = 50.0;
const TARGET_SINGLE_P50_MS: f64 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// `concurrent`, then `single`.
    All,
    /// `--clients` clients issuing commands at the same time.
    Concurrent,
    /// One client, one command at a time (latency floor).
    Single,
}

#[derive(Debug, clap::Args)]
pub struct HttpArgs {
    /// Concurrent clients in the `concurrent` scenario.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Measured seconds per scenario (after a 1 s warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// The `isms` server binary (default: `isms` next to this executable).
    #[arg(long)]
    pub isms_bin: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    pub scenario: Scenario,
    /// Keep the temporary data directory and server log instead of deleting them.
    #[arg(long)]
    pub keep_data_dir: bool,
}

#[derive(Debug, Serialize)]
struct ScenarioResult {
    scenario: &'static str,
    clients: usize,
    warm_up_s: f64,
    elapsed_s: f64,
    commands: u64,
    commands_per_s: f64,
    errors: u64,
    warm_up_errors: u64,
    latency: LatencySummary,
    targets: Vec<Target>,
}

impl ScenarioResult {
    fn print(&self) {
        println!(
            "\nscenario {} ({} client{}, {:.3} s measured after {:.0} s warm-up)",
            self.scenario,
            self.clients,
            if self.clients == 1 { "" } else { "s" },
            self.elapsed_s,
            self.warm_up_s
        );
        println!(
            "  throughput             {:.0} commands/s ({} commands, {} errors, {} during warm-up)",
            self.commands_per_s, self.commands, self.errors, self.warm_up_errors
        );
        self.latency.print("command latency");
        for target in &self.targets {
            target.print();
        }
    }
}

#[derive(Debug, Serialize)]
struct HttpResult {
    bench: &'static str,
    isms_bin: String,
    server_ready_s: f64,
    scenarios: Vec<ScenarioResult>,
    errors_total: u64,
    error_samples: Vec<String>,
    host: Host,
}

pub async fn run(args: HttpArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.duration_secs == 0 {
        bail!("--clients and --duration-secs must be at least 1");
    }
    // Dropping the benchmark future on Ctrl-C or SIGTERM drops its `Server`, which kills the
    // server and reaps it before the temporary data directory is removed.
    tokio::select! {
        result = run_with_server(args) => result,
        signal = interrupted() => bail!("interrupted by {signal}; the server was stopped"),
    }
}

/// Resolves when the process is asked to stop (Ctrl-C, or SIGTERM on Unix); never resolves
/// where signals cannot be listened for.
async fn interrupted() -> &'static str {
    let ctrl_c = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
                "SIGTERM"
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<&'static str>();
    tokio::select! {
        name = ctrl_c => name,
        name = terminate => name,
    }
}

async fn run_with_server(args: HttpArgs) -> anyhow::Result<()> {
    let binary = locate_binary(args.isms_bin.as_deref())?;
    // Declared before the server so the server is dropped (killed) before the directory goes.
    let mut scratch =
        tempfile::Builder::new().prefix("isms-bench-http-").tempdir().context("cannot create a temporary directory")?;
    scratch.disable_cleanup(args.keep_data_dir);
    let data_dir = scratch.path().join("data");
    std::fs::create_dir(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    println!("isms-bench http: server {}, data in {}", binary.display(), data_dir.display());

    let token = {
        let (binary, data_dir) = (binary.clone(), data_dir.clone());
        tokio::task::spawn_blocking(move || mint_token(&binary, &data_dir)).await??
    };
    let port = free_port()?;
    let mut server = Server::start(&binary, &data_dir, port, scratch.path().join("server.log"))?;
    let ready_in = server.wait_ready(READY_TIMEOUT).await?;
    println!("  server ready on {} after {:.3} s", server.addr, ready_in.as_secs_f64());

    let client = http_client(&token, args.clients)?;
    let base = format!("http://{}", server.addr);
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sequence = Arc::new(AtomicU64::new(0));
    let duration = Duration::from_secs(args.duration_secs);
    let mut plan = Vec::new();
    if matches!(args.scenario, Scenario::All | Scenario::Concurrent) {
        plan.push(("concurrent", args.clients));
    }
    if matches!(args.scenario, Scenario::All | Scenario::Single) {
        plan.push(("single", 1));
    }

    let mut scenarios = Vec::new();
    for (name, clients) in plan {
        let load =
            Load { client: client.clone(), base: base.clone(), sequence: sequence.clone(), samples: samples.clone() };
        let warm_up = load.phase(clients, WARM_UP).await?;
        let measured = load.phase(clients, duration).await?;
        let result = scenario_result(name, clients, warm_up.errors, measured);
        result.print();
        scenarios.push(result);
        if let Some(status) = server.exited()? {
            bail!("isms serve exited ({status}) during the {name} scenario; its log:\n{}", server.log_tail());
        }
    }
    server.stop();

    let errors_total: u64 = scenarios.iter().map(|s| s.errors + s.warm_up_errors).sum();
    let error_samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if !error_samples.is_empty() {
        println!("\nfirst failed commands:");
        for sample in &error_samples {
            println!("  {sample}");
        }
    }
    if args.keep_data_dir {
        println!("\ndata directory and server log kept in {}", scratch.path().display());
    }
    println!();
    crate::report::print_json_line(&HttpResult {
        bench: "http",
        isms_bin: binary.display().to_string(),
        server_ready_s: round3(ready_in.as_secs_f64()),
        scenarios,
        errors_total,
        error_samples,
        host: Host::current(),
    })?;
    if errors_total > 0 {
        bail!("{errors_total} commands failed (see the samples above)");
    }
    Ok(())
}

/// One client shared by every task, with a pool large enough that each task keeps its own
/// connection; the token and content type go on every request.
fn http_client(token: &str, clients: usize) -> anyhow::Result<reqwest::Client> {
    let mut headers = HeaderMap::new();
    let mut authorization =
        HeaderValue::from_str(&format!("Bearer {token}")).context("the token cannot be sent in a header")?;
    authorization.set_sensitive(true);
    headers.insert(AUTHORIZATION, authorization);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(reqwest::Client::builder()
        // The server is on 127.0.0.1: never route it through an HTTP(S)_PROXY from the env.
        .no_proxy()
        .default_headers(headers)
        .pool_max_idle_per_host(clients.max(1))
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn scenario_result(name: &'static str, clients: usize, warm_up_errors: u64, measured: Phase) -> ScenarioResult {
    let seconds = measured.elapsed.as_secs_f64();
    let commands_per_s = measured.latencies.len() as f64 / seconds;
    let commands = measured.latencies.len() as u64;
    let latency = LatencySummary::from_durations(measured.latencies);
    let targets = match name {
        "concurrent" => vec![
            Target::new(format!(">= {TARGET_COMMANDS_PER_SEC} commands/s"), commands_per_s >= TARGET_COMMANDS_PER_SEC),
            Target::new(
                format!("p99 < {TARGET_CONCURRENT_P99_MS} ms"),
                latency.samples > 0 && latency.p99_ms < TARGET_CONCURRENT_P99_MS,
            ),
        ],
        _ => vec![Target::new(
            format!("p50 < {TARGET_SINGLE_P50_MS} ms"),
            latency.samples > 0 && latency.p50_ms < TARGET_SINGLE_P50_MS,
        )],
    };
    ScenarioResult {
        scenario: name,
        clients,
        warm_up_s: WARM_UP.as_secs_f64(),
        elapsed_s: round3(seconds),
        commands,
        commands_per_s: commands_per_s.round(),
        errors: measured.errors,
        warm_up_errors,
        latency,
        targets,
    }
}

/// What one timed phase (warm-up or measurement) produced.
struct Phase {
    /// One per successful command.
    latencies: Vec<Duration>,
    errors: u64,
    /// From the start until the last client finished its last command.
    elapsed: Duration,
}

#[derive(Clone)]
struct Load {
    client: reqwest::Client,
    base: String,
    /// Numbers risk titles across all clients and phases.
    sequence: Arc<AtomicU64>,
    samples: Arc<Mutex<Vec<String>>>,
}

impl Load {
    /// Runs `clients` client loops until `duration` has passed.
    async fn phase(&self, clients: usize, duration: Duration) -> anyhow::Result<Phase> {
        let started = Instant::now();
        let deadline = started + duration;
        let mut tasks = JoinSet::new();
        for _ in 0..clients {
            let load = self.clone();
            tasks.spawn(async move { load.client_loop(deadline).await });
        }
        let mut latencies = Vec::new();
        let mut errors = 0;
        while let Some(joined) = tasks.join_next().await {
            let (client_latencies, client_errors) = joined.context("a client task panicked")?;
            latencies.extend(client_latencies);
            errors += client_errors;
        }
        Ok(Phase { latencies, errors, elapsed: started.elapsed() })
    }

    /// Identify a risk, assess it, repeat; returns the successful latencies and error count.
    async fn client_loop(&self, deadline: Instant) -> (Vec<Duration>, u64) {
        let mut latencies = Vec::new();
        let mut errors = 0;
        let risks = format!("{}/api/v1/risks", self.base);
        while Instant::now() < deadline {
            let n = self.sequence.fetch_add(1, Ordering::Relaxed);
            let identify = json!({
                "title": format!("Bench risk {n}"),
                "description": "Generated by isms-bench",
                "kind": "risk",
                "category": "operations",
                "owner": "bench",
                "asset_refs": [],
                "threat": "load",
                "vulnerability": "none"
            });
            let started = Instant::now();
            let id = match self.command(&risks, &identify, StatusCode::CREATED).await.and_then(|body| risk_id(&body)) {
                Ok(id) => {
                    latencies.push(started.elapsed());
                    id
                }
                Err(failure) => {
                    errors += 1;
                    self.failed(failure).await;
                    continue;
                }
            };
            if Instant::now() >= deadline {
                break;
            }
            let assess = json!({"likelihood": 3, "impact": 4, "rationale": "bench"});
            let started = Instant::now();
            match self.command(&format!("{risks}/{id}/assessments"), &assess, StatusCode::OK).await {
                Ok(_) => latencies.push(started.elapsed()),
                Err(failure) => {
                    errors += 1;
                    self.failed(failure).await;
                }
            }
        }
        (latencies, errors)
    }

    /// POSTs `body` and reads the whole response; anything but `expect` is a failure.
    async fn command(&self, url: &str, body: &Value, expect: StatusCode) -> Result<Vec<u8>, Failure> {
        let path = url.strip_prefix(&self.base).unwrap_or(url).to_owned();
        let response = self.client.post(url).json(body).send().await.map_err(|e| Failure::transport(&path, &e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| Failure::transport(&path, &e))?;
        if status != expect {
            return Err(Failure {
                text: format!(
                    "POST {path} -> {status} (expected {expect}): {}",
                    truncate(&String::from_utf8_lossy(&bytes))
                ),
                transport: false,
            });
        }
        Ok(bytes.to_vec())
    }

    /// Records a failure sample; after a transport error, pauses briefly so a dead server does
    /// not turn into a busy loop.
    async fn failed(&self, failure: Failure) {
        {
            let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
            if samples.len() < ERROR_SAMPLES {
                samples.push(failure.text);
            }
        }
        if failure.transport {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

struct Failure {
    text: String,
    transport: bool,
}

impl Failure {
    fn transport(path: &str, error: &reqwest::Error) -> Self {
        Self { text: format!("POST {path}: {error}"), transport: true }
    }
}

/// The `"id"` of a created risk.
fn risk_id(body: &[u8]) -> Result<String, Failure> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
        .filter(|id| !id.is_empty() && !id.contains(['/', '?', '#']))
        .ok_or_else(|| Failure {
            text: format!(
                "POST /api/v1/risks -> 201 without a usable string \"id\": {}",
                truncate(&String::from_utf8_lossy(body))
            ),
            transport: false,
        })
}

fn truncate(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_id_reads_the_string_id() {
        assert_eq!(risk_id(br#"{"id":"0192-abc","version":1}"#).ok(), Some("0192-abc".to_owned()));
        assert!(risk_id(br#"{"id":7}"#).is_err());
        assert!(risk_id(b"not json").is_err());
        assert!(risk_id(br#"{"id":"../x/y"}"#).is_err());
    }

    #[test]
    fn truncate_keeps_short_text_and_cuts_long_text() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(400);
        assert_eq!(truncate(&long).chars().count(), 301);
    }

    #[test]
    fn targets_follow_the_scenario() {
        let phase =
            Phase { latencies: vec![Duration::from_millis(1); 100], errors: 0, elapsed: Duration::from_secs(1) };
        let single = scenario_result("single", 1, 0, phase);
        assert_eq!(single.commands, 100);
        assert_eq!(single.targets.len(), 1);
        assert!(single.targets[0].met);
    }
}
