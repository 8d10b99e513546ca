//! Operator commands: `config check`, `backup`, `restore` and `rebuild`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use isms::config::Settings;
use isms::exit_code;
use isms_store::backup::{self, BackupError, Secret, Source};
use isms_store::{chain, SledStorage, Storage, StoreError, READ_CHUNK};

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (file, ISMS_* environment, flags) without starting.
    Check {
        /// A TOML configuration file [env: ISMS_CONFIG].
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(flatten)]
        flags: isms::config::Flags,
    },
}

#[derive(clap::Args)]
pub struct BackupArgs {
    /// The data directory of a stopped server.
    #[arg(long, env = "ISMS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// The archive to write (must not exist); written with mode 0600.
    #[arg(long)]
    out: PathBuf,
    /// Also put the JWT secret and the checkpoint signing key in the archive (`secrets/`), so a
    /// restore keeps the server's identity. The archive is then as secret as those keys.
    #[arg(long)]
    include_secrets: bool,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The archive, from `isms backup` or GET /api/v1/admin/backup.
    #[arg(long)]
    from: PathBuf,
    /// An empty (or missing) directory to restore into.
    #[arg(long)]
    data_dir: PathBuf,
    /// The server's Ed25519 public key to trust for the checkpoints (a file or the key itself);
    /// without it the archive's own public-key.json is used.
    #[arg(long)]
    public_key: Option<String>,
}

/// The configuration from the file, the process's environment and `flags`; or, having listed
/// every problem on stderr, the exit code for a bad configuration.
pub fn settings(file: Option<&Path>, flags: &isms::config::Flags) -> Result<(Settings, Option<PathBuf>), i32> {
    Settings::from_process(file, flags).map_err(|invalid| {
        eprint!("error: {invalid}");
        exit_code::USAGE
    })
}

pub fn config(command: ConfigCommand) -> i32 {
    let ConfigCommand::Check { config, flags } = command;
    match settings(config.as_deref(), &flags) {
        Ok((settings, file)) => {
            let from = file.map_or_else(|| "defaults and environment only".to_owned(), |f| f.display().to_string());
            println!("# the configuration is valid (from {from}); effective settings:");
            print!("{}", settings.redacted_toml());
            0
        }
        Err(code) => code,
    }
}

/// Opens a data directory's event log for an offline command, or says why not and which exit
/// code that is. `online` tells what to use instead while a server holds the directory.
pub fn open_offline(data_dir: &Path, online: &str) -> Result<SledStorage, i32> {
    let events = isms::events_dir(data_dir);
    if !events.join("db").exists() {
        eprintln!("error: there is no event log in {} (expected {})", data_dir.display(), events.display());
        return Err(exit_code::USAGE);
    }
    match SledStorage::open(&events) {
        Ok(storage) => Ok(storage),
        Err(StoreError::Locked(dir)) => {
            eprintln!("error: {dir} is in use by a running `isms serve`; {online}");
            Err(exit_code::LOCKED)
        }
        Err(error) => {
            eprintln!("error: {error}");
            Err(1)
        }
    }
}

pub fn backup(args: &BackupArgs) -> i32 {
    if args.out.exists() {
        eprintln!("error: {} already exists; choose a new file name", args.out.display());
        return exit_code::USAGE;
    }
    let storage = match open_offline(
        &args.data_dir,
        "take an online backup instead: GET /api/v1/admin/backup (scope admin, tenant listed in \
         backup.operator_tenants), or stop the server first",
    ) {
        Ok(storage) => storage,
        Err(code) => return code,
    };
    match write_backup(args, &storage) {
        Ok(manifest) => {
            for tenant in &manifest.tenants {
                println!(
                    "tenant {}: {} events, head position {} hash {}, {} checkpoint(s)",
                    tenant.tenant, tenant.events, tenant.head_position, tenant.head_hash, tenant.checkpoints
                );
            }
            let secrets = if manifest.includes_secrets { "WITH the server's secrets (keep it encrypted)" } else { "" };
            println!("ok: wrote {} ({} tenant(s)) {secrets}", args.out.display(), manifest.tenants.len());
            0
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            if matches!(error.downcast_ref::<BackupError>(), Some(BackupError::Invalid { .. })) {
                exit_code::CHAIN_BROKEN
            } else {
                1
            }
        }
    }
}

fn write_backup(args: &BackupArgs, storage: &SledStorage) -> anyhow::Result<backup::Manifest> {
    use anyhow::Context;
    let key = isms::secret::checkpoint_key(&args.data_dir)?;
    let mut secrets = Vec::new();
    if args.include_secrets {
        for (name, path) in secret_files(&args.data_dir) {
            if path.exists() {
                let content = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                secrets.push(Secret { name: name.into(), content });
            }
        }
    }
    let partial = args.out.with_extension("partial");
    let file = private_file(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
    let source = Source::offline(storage)?;
    let generator = format!("isms {} (offline)", env!("CARGO_PKG_VERSION"));
    let written = backup::write(&source, &key.verifying_key(), &secrets, &generator, std::io::BufWriter::new(&file))
        .and_then(|manifest| file.sync_all().map(|()| manifest).map_err(BackupError::from));
    match written {
        Ok(manifest) => {
            std::fs::rename(&partial, &args.out).with_context(|| format!("cannot rename to {}", args.out.display()))?;
            Ok(manifest)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error.into())
        }
    }
}

/// The secrets of a data directory by their name in the archive.
fn secret_files(data_dir: &Path) -> [(&'static str, PathBuf); 2] {
    [("checkpoint-key", isms::secret::checkpoint_key_path(data_dir)), ("jwt-secret", isms::secret::path(data_dir))]
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

pub fn restore(args: &RestoreArgs) -> i32 {
    match std::fs::read_dir(&args.data_dir) {
        Ok(mut entries) => {
            if let Some(Ok(first)) = entries.next() {
                eprintln!(
                    "error: refusing to restore into {}: the directory is not empty (it holds {:?}); restore into a new, \
                     empty directory and point the server at it",
                    args.data_dir.display(),
                    first.file_name()
                );
                return exit_code::USAGE;
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.data_dir.display());
            return exit_code::USAGE;
        }
    }
    let open = || std::fs::File::open(&args.from).map(std::io::BufReader::new);
    if let Err(error) = open() {
        eprintln!("error: cannot read {}: {error}", args.from.display());
        return exit_code::USAGE;
    }
    let trusted = match &args.public_key {
        None => None,
        Some(given) => {
            let text = std::fs::read_to_string(given).unwrap_or_else(|_| given.clone());
            match isms_store::proofs::parse_public_key(&text) {
                Ok(key) => Some(key),
                Err(reason) => {
                    eprintln!("error: --public-key: {reason}");
                    return exit_code::USAGE;
                }
            }
        }
    };
    let started = Instant::now();
    let manifest = match open().map_err(BackupError::from).and_then(|file| backup::verify(file, trusted.as_ref())) {
        Ok(manifest) => manifest,
        Err(error) => {
            eprintln!("FAILED: the archive does not verify, nothing was written: {error}");
            return exit_code::CHAIN_BROKEN;
        }
    };
    println!("verified {} in {} ms", args.from.display(), started.elapsed().as_millis());
    match import(args, open) {
        Ok(()) => {
            for tenant in &manifest.tenants {
                println!(
                    "tenant {}: {} events restored, head position {} hash {}",
                    tenant.tenant, tenant.events, tenant.head_position, tenant.head_hash
                );
            }
            if !manifest.includes_secrets {
                println!(
                    "note: the archive holds no secrets: put back jwt-secret and checkpoint-key (and keys/) from your \
                     separate secret backup, or the server creates new ones on start"
                );
            }
            println!("ok: restored into {} in {} ms", args.data_dir.display(), started.elapsed().as_millis());
            0
        }
        Err(error) => {
            eprintln!("error: the restore failed and was undone: {error:#}");
            let _ = std::fs::remove_dir_all(&args.data_dir);
            1
        }
    }
}

fn import<R: std::io::Read>(args: &RestoreArgs, open: impl Fn() -> std::io::Result<R>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)?;
    let storage = SledStorage::open(&isms::events_dir(&args.data_dir))?;
    let secrets = backup::import(open()?, &storage)?;
    for secret in secrets {
        let Some((_, path)) = secret_files(&args.data_dir).into_iter().find(|(name, _)| *name == secret.name) else {
            continue;
        };
        let mut file = private_file(&path)?;
        file.write_all(&secret.content)?;
        file.sync_all()?;
    }
    // Read back what was written and mark it verified, so the first start does not check it again.
    match chain::verify_all(&storage, false)? {
        Ok(_) => Ok(()),
        Err(broken) => anyhow::bail!("the restored log does not verify: {broken}"),
    }
}

pub fn rebuild(data_dir: &Path) -> i32 {
    let storage = match open_offline(data_dir, "stop it first: `isms serve` rebuilds every projection at start") {
        Ok(storage) => storage,
        Err(code) => return code,
    };
    match rebuild_all(&storage) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    }
}

/// Verifies and replays every tenant through the same projection code the server uses at
/// start. The projections live in memory, so this writes nothing: it proves that the log
/// projects, and how long a start-up rebuild takes.
fn rebuild_all(storage: &SledStorage) -> Result<i32, StoreError> {
    let total = Instant::now();
    let tenants = storage.tenants()?;
    for tenant in &tenants {
        let started = Instant::now();
        let report = match chain::verify_chain(storage, tenant, None, None)? {
            Ok(report) => report,
            Err(broken) => {
                eprintln!("FAILED: {broken}");
                return Ok(exit_code::CHAIN_BROKEN);
            }
        };
        let verified_ms = started.elapsed().as_millis();
        let started = Instant::now();
        let mut registers = isms_projections::Registers::default();
        let mut position = 0;
        loop {
            let events = storage.events_after(tenant, position, READ_CHUNK)?;
            let Some(last) = events.last() else { break };
            position = last.position;
            for event in events {
                let (at, event_type, stream) =
                    (event.position, event.event_type.clone(), format!("{}/{}", event.stream_type, event.stream_id));
                if let Err(error) = registers.apply_owned(event) {
                    eprintln!(
                        "FAILED: tenant {tenant}: the event at position {at} ({event_type} on {stream}) does not \
                         project: {error}"
                    );
                    return Ok(exit_code::PROJECTION_FAILED);
                }
            }
        }
        println!(
            "tenant {tenant}: {} events verified in {verified_ms} ms, projected in {} ms (head position {})",
            report.events_checked,
            started.elapsed().as_millis(),
            report.head.position
        );
    }
    println!("ok: {} tenant(s) rebuilt in {} ms", tenants.len(), total.elapsed().as_millis());
    Ok(0)
}
