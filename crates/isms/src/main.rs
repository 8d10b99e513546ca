//! `isms`: the isms-ledger service and its offline tools.

/// glibc's allocator slows replays and group commits badly: decoded envelopes are allocated on
/// one thread and freed on another, in batches. mimalloc handles that pattern well.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod operations;
mod verify_proof;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use isms::{exit_code, ServeConfig};
use isms_store::chain;

#[derive(Parser)]
#[command(name = "isms", version, about = "isms-ledger: an ISO/IEC 27001 ISMS kept as a verifiable event log")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service. Settings: defaults < the TOML file (--config or ISMS_CONFIG) < ISMS_*
    /// environment variables < these flags; see `isms config check` and deploy/isms.toml.
    Serve {
        /// A TOML configuration file [env: ISMS_CONFIG].
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        flags: isms::config::Flags,
    },
    /// Check the configuration without starting: prints the effective configuration (secrets
    /// redacted) and exits 0, or lists every problem and exits 2.
    Config {
        #[command(subcommand)]
        command: operations::ConfigCommand,
    },
    /// Write a backup archive of every tenant from a stopped server's data directory (for a
    /// running server use GET /api/v1/admin/backup). Exits 4 when the directory is in use.
    Backup(operations::BackupArgs),
    /// Restore a backup archive into an empty data directory, after verifying every file and
    /// every tenant's chain. Exits 2 for a non-empty target, 3 for an archive that does not verify.
    Restore(operations::RestoreArgs),
    /// Rebuild every projection from the log, offline: verifies and replays every tenant through
    /// the read models, printing counts and timings. Exits 3 for a broken chain, 5 naming the
    /// first event that does not project, 4 when a server holds the directory.
    Rebuild {
        #[arg(long, env = "ISMS_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Print a token signed with the data directory's local HS256 secret. The data directory,
    /// issuer and audience come from the same configuration as `serve` (file, ISMS_*, flags).
    Token {
        /// A TOML configuration file [env: ISMS_CONFIG].
        #[arg(long)]
        config: Option<PathBuf>,
        /// [env: ISMS_DATA_DIR] [default: ./data]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The caller's identity (becomes `actor` on every event).
        #[arg(long)]
        sub: String,
        #[arg(long)]
        tenant: String,
        /// Space-delimited scopes: isms:read isms:write audit:read admin.
        #[arg(long, default_value = "isms:read isms:write")]
        scope: String,
        /// Lifetime, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// [env: ISMS_JWT_ISSUER] [default: isms-local]
        #[arg(long)]
        issuer: Option<String>,
        /// [env: ISMS_JWT_AUDIENCE] [default: isms-ledger]
        #[arg(long)]
        audience: Option<String>,
    },
    /// Verify every tenant's hash chain from position 1, offline. Exits 3 naming the first bad position.
    Verify {
        #[arg(long, env = "ISMS_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Print the public key that signs checkpoints and evidence packs (the JSON that
    /// `GET /api/v1/public-key` serves), for the operator to hand to auditors through another
    /// channel than the server. Works while `serve` runs.
    PublicKey {
        #[arg(long, env = "ISMS_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
    /// Verify an evidence pack offline: file hashes, signatures, hash chain, Merkle root, and the
    /// registers and reports re-projected from its events. Exits 3 naming what failed.
    VerifyPack {
        /// The pack, as downloaded from GET /api/v1/evidence-pack.
        file: PathBuf,
        /// The server's Ed25519 public key to trust: a file (public-key.json or PEM) or the key
        /// as base64 or hex. Without it the pack's own key is used, which only shows that the
        /// pack is self-consistent.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Verify signed checkpoints and Merkle proofs offline (no server, no data directory).
    /// Exits 0 when everything verifies, 1 naming what failed, 2 when an input cannot be read.
    VerifyProof(verify_proof::Args),
    /// Print the OpenAPI document.
    Openapi,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ISMS_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("ISMS_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn parse_ttl(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().with_context(|| format!("ttl '{text}' must look like 30m, 1h or 7d"))?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => anyhow::bail!("ttl '{text}' must end in s, m, h or d"),
    };
    anyhow::ensure!(seconds > 0, "ttl must be positive");
    Ok(seconds)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let code = match cli.command {
        Command::Serve { config, flags } => match operations::settings(config.as_deref(), &flags) {
            Ok((settings, _)) => serve(settings.serve_config()),
            Err(code) => code,
        },
        Command::Config { command } => operations::config(command),
        Command::Backup(args) => operations::backup(&args),
        Command::Restore(args) => operations::restore(&args),
        Command::Rebuild { data_dir } => operations::rebuild(&data_dir),
        Command::Token { config, data_dir, sub, tenant, scope, ttl, issuer, audience } => {
            let flags =
                isms::config::Flags { data_dir, jwt_issuer: issuer, jwt_audience: audience, ..Default::default() };
            match operations::settings(config.as_deref(), &flags) {
                Ok((settings, _)) => report(token(
                    &settings.data_dir,
                    sub,
                    tenant,
                    scope,
                    &ttl,
                    settings.jwt.issuer,
                    settings.jwt.audience,
                )),
                Err(code) => code,
            }
        }
        Command::Verify { data_dir } => verify(&data_dir),
        Command::PublicKey { data_dir } => public_key(&data_dir),
        Command::VerifyPack { file, public_key } => verify_pack(&file, public_key.as_deref()),
        Command::VerifyProof(args) => verify_proof::run(&args),
        Command::Openapi => {
            println!("{}", isms_api::openapi_json());
            0
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn report(result: anyhow::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error:#}");
            1
        }
    }
}

/// Live event streams never finish on their own; actix's graceful stop would wait its whole
/// shutdown timeout for them. On the same signals actix stops on, they are ended first (their
/// consumers reconnect with Last-Event-ID).
fn end_live_streams_on_signal(durable_head: std::sync::Arc<isms_webhooks::DurableHead>) {
    actix_web::rt::spawn(async move {
        let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        durable_head.close();
    });
}

fn serve(config: ServeConfig) -> i32 {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let running = match isms::start(&config) {
            Ok(running) => running,
            Err(error) => {
                tracing::error!(%error, "cannot start");
                eprintln!("error: {error}");
                return error.exit_code();
            }
        };
        let store = running.store.clone();
        end_live_streams_on_signal(running.durable_head.clone());
        // actix stops on SIGTERM/SIGINT: no new connections, in-flight requests finish.
        let outcome = running.server.await;
        // Then every queued append is written durably before the process exits.
        let _ = tokio::task::spawn_blocking(move || isms::finish(&store)).await;
        match outcome {
            Ok(()) => {
                tracing::info!("stopped cleanly");
                0
            }
            Err(error) => {
                eprintln!("error: {error}");
                1
            }
        }
    })
}

fn token(
    data_dir: &std::path::Path,
    sub: String,
    tenant: String,
    scope: String,
    ttl: &str,
    issuer: String,
    audience: String,
) -> anyhow::Result<()> {
    isms_store::TenantId::parse(&tenant).map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(!sub.trim().is_empty(), "--sub must not be empty");
    let (secret, _) = isms::secret::load_or_create(data_dir)?;
    let now = chrono::Utc::now().timestamp() as u64;
    let claims = isms_api::Claims {
        sub,
        tenant,
        scope,
        iss: issuer,
        aud: isms_api::auth::Audience::One(audience),
        exp: now + parse_ttl(ttl)?,
        nbf: Some(now),
        iat: Some(now),
    };
    println!("{}", isms_api::mint_hs256(&secret, &claims).map_err(anyhow::Error::msg)?);
    Ok(())
}

fn public_key(data_dir: &std::path::Path) -> i32 {
    if !isms::secret::checkpoint_key_path(data_dir).exists() {
        eprintln!("error: there is no checkpoint key in {} (the first `isms serve` creates it)", data_dir.display());
        return exit_code::USAGE;
    }
    match isms::secret::checkpoint_key(data_dir) {
        Ok(key) => {
            let key = key.verifying_key();
            let document = serde_json::json!({
                "key_id": isms_store::checkpoint::key_id(&key),
                "algorithm": "Ed25519",
                "public_key": isms_store::proofs::public_key_base64(&key),
                "public_key_pem": isms_store::proofs::public_key_pem(&key),
            });
            println!("{document:#}");
            0
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            1
        }
    }
}

fn verify(data_dir: &std::path::Path) -> i32 {
    let storage = match operations::open_offline(data_dir, "stop it first (or verify a copy of the directory)") {
        Ok(storage) => storage,
        Err(code) => return code,
    };
    match chain::verify_all(&storage, true) {
        Ok(Ok(reports)) => {
            for (tenant, report) in &reports {
                println!(
                    "tenant {tenant}: {} events verified, head position {} hash {}",
                    report.events_checked, report.head.position, report.head.hash
                );
            }
            println!("ok: {} tenant chain(s) verified", reports.len());
            0
        }
        Ok(Err(broken)) => {
            eprintln!("FAILED: {broken}");
            exit_code::CHAIN_BROKEN
        }
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    }
}

/// `isms verify-pack`: 0 when every check passes, 3 when any fails, 2 when the file or the key
/// cannot be read.
fn verify_pack(file: &std::path::Path, public_key: Option<&str>) -> i32 {
    let archive = match std::fs::read(file) {
        Ok(archive) => archive,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", file.display());
            return exit_code::USAGE;
        }
    };
    let trusted = match public_key {
        None => None,
        Some(given) => {
            // A path to a key file, or the key itself.
            let text = std::fs::read_to_string(given).unwrap_or_else(|_| given.to_owned());
            match isms_evidence::parse_public_key(&text) {
                Ok(key) => Some(key),
                Err(reason) => {
                    eprintln!("error: --public-key: {reason}");
                    return exit_code::USAGE;
                }
            }
        }
    };
    let verification = isms_evidence::verify(&archive, trusted.as_ref());
    if let Some(m) = &verification.manifest {
        let instant = |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        println!(
            "pack: tenant {}, positions 1 to {}, as_of {}, read date {}, made by {} at {}",
            m.tenant,
            m.position,
            m.as_of.map_or_else(|| "-".to_owned(), instant),
            m.read_date,
            m.generator,
            instant(m.generated_at)
        );
    }
    for check in &verification.checks {
        let status = if check.passed { "ok    " } else { "FAILED" };
        println!("{status}  {}: {}: {}", check.file, check.name, check.detail);
    }
    match &verification.key {
        Some((key_id, isms_evidence::KeySource::Trusted)) => {
            println!("signatures checked with the trusted key {key_id} given with --public-key")
        }
        Some((key_id, isms_evidence::KeySource::Pack)) => println!(
            "warning: no --public-key given, so the signatures were checked with the key inside the pack ({key_id}): \
             this shows only that the pack is self-consistent, not that your server made it. Pass --public-key with \
             the server's key to check that"
        ),
        None => {}
    }
    let failed = verification.failures().count();
    if verification.passed() {
        println!("ok: the evidence pack verifies ({} checks)", verification.checks.len());
        0
    } else {
        eprintln!("FAILED: {failed} of {} checks failed", verification.checks.len());
        exit_code::CHAIN_BROKEN
    }
}
