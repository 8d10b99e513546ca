//! The service's configuration: built-in defaults, then a TOML file (`--config` or
//! `ISMS_CONFIG`), then `ISMS_*` environment variables, then command-line flags; each layer
//! overrides the one before. Everything is checked before the service starts, and every problem
//! is reported at once, naming the key (or variable) and what is wrong with it.
//!
//! The defaults, serialized, are the schema: a key is known when the defaults have it, its type
//! is the default's type, and its environment variable is `ISMS_` followed by its dotted path
//! in upper case with `_` for `.` (`checkpoint.every_events` is `ISMS_CHECKPOINT_EVERY_EVENTS`).
//! A feature adds its settings as one field of [`Settings`] holding a struct that derives
//! `Default`, `Serialize` and `Deserialize` with `#[serde(default, deny_unknown_fields)]` (use
//! `""` or `0` for "unset" rather than `Option`, so that the key exists and can be set from
//! the environment), and one line in [`Settings::serve_config`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

use crate::{ServeConfig, TokenVerification, DEFAULT_AUDIENCE, DEFAULT_ISSUER};

/// The environment variable that names the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "ISMS_CONFIG";

/// Every setting of `isms serve`, with its default. Field names are the TOML keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the event log and the local keys live.
    pub data_dir: PathBuf,
    /// Address (host:port) to listen on.
    pub bind: String,
    /// HTTP worker threads; 0 means one per core.
    pub workers: u64,
    /// Seconds between background verifications of new events (0 = only at start and stop).
    pub verify_interval_secs: u64,
    pub jwt: JwtSettings,
    pub checkpoint: CheckpointSettings,
    pub backup: isms_api::backup::BackupSettings,
    pub rate_limit: RateLimitSettings,
    pub http: HttpSettings,
    pub webhook: WebhookConfig,
    pub access_removal: AccessRemovalConfig,
    pub personal_data: PersonalDataSettings,
    /// Jira and ServiceNow: per-tenant webhook secrets (`[[ticketing.secrets]]`), which tickets
    /// are incidents, and which ticket statuses complete a corrective action. File only: its
    /// lists of tables have no environment form.
    pub ticketing: isms_api::ticketing::TicketingSettings,
}

/// Per-principal rate limiting (OWASP API4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Requests per second each principal (tenant and `sub`; the peer IP without a token) may
    /// sustain; 0 turns rate limiting off.
    pub per_second: f64,
    /// Requests a principal may send at once after being idle.
    pub burst: u64,
    /// Most principals tracked at once (bounded memory).
    pub max_principals: u64,
}

/// Timeouts and browser access.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Longest a handler may take; then 503 `handler_timeout`.
    pub handler_timeout_secs: u64,
    /// Longest a client may take to send a request head (408).
    pub client_request_timeout_secs: u64,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive_secs: u64,
    /// Origins browsers may call the API from (CORS); none by default.
    pub cors_allowed_origins: Vec<String>,
}

/// Webhook delivery and the event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Hosts or IP addresses webhooks may target although private, loopback or link-local.
    pub allow_hosts: Vec<String>,
    /// Waits before the 2nd, 3rd, ... attempt of a delivery; after the last, it is given up.
    pub retry_delays_secs: Vec<u64>,
    /// Random spread (0 to 1) applied to each wait.
    pub jitter: f64,
    pub connect_timeout_secs: u64,
    /// Whole request, connect to the last byte of the answer.
    pub request_timeout_secs: u64,
    /// How long a rotated-out secret keeps signing beside the new one.
    pub rotation_grace_secs: u64,
    /// Deliveries in flight at once.
    pub max_concurrent_deliveries: u64,
    /// Prefix of the CloudEvents `source` attribute.
    pub event_source_base: String,
    /// Seconds between comment lines on an idle event stream.
    pub stream_heartbeat_secs: u64,
}

/// The leaver's access-removal checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessRemovalConfig {
    /// Days after the leave date by which every item is due.
    pub due_days: u64,
}

/// Crypto-shredding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonalDataSettings {
    /// The per-person key store; empty means `<data_dir>/keys`. Keep it out of event backups.
    pub keys_dir: PathBuf,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        let limits = isms_api::limits::HttpLimits::default();
        Self {
            per_second: limits.rate_per_second,
            burst: limits.rate_burst.into(),
            max_principals: limits.rate_max_principals as u64,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        let limits = isms_api::limits::HttpLimits::default();
        Self {
            handler_timeout_secs: limits.handler_timeout.as_secs(),
            client_request_timeout_secs: limits.client_request_timeout.as_secs(),
            keep_alive_secs: limits.keep_alive.as_secs(),
            cors_allowed_origins: limits.cors_allowed_origins,
        }
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        let webhooks = isms_webhooks::WebhookSettings::default();
        Self {
            allow_hosts: webhooks.allow_hosts,
            retry_delays_secs: webhooks.retry_delays.iter().map(Duration::as_secs).collect(),
            jitter: webhooks.jitter,
            connect_timeout_secs: webhooks.connect_timeout.as_secs(),
            request_timeout_secs: webhooks.request_timeout.as_secs(),
            rotation_grace_secs: webhooks.rotation_grace.as_secs(),
            max_concurrent_deliveries: webhooks.max_concurrent_deliveries as u64,
            event_source_base: webhooks.event_source_base,
            stream_heartbeat_secs: webhooks.stream_heartbeat.as_secs(),
        }
    }
}

impl Default for AccessRemovalConfig {
    fn default() -> Self {
        Self { due_days: isms_api::access_removal::AccessRemovalSettings::default().due_days.into() }
    }
}

impl Default for PersonalDataSettings {
    fn default() -> Self {
        Self { keys_dir: PathBuf::new() }
    }
}

/// How bearer tokens are verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtSettings {
    /// Required `iss` claim.
    pub issuer: String,
    /// Required `aud` claim.
    pub audience: String,
    /// PEM public key of an external issuer; empty means the local HS256 secret.
    pub public_key_file: PathBuf,
    /// Algorithm of `public_key_file`: `ES256` or `EdDSA`.
    pub algorithm: String,
    /// JWKS file of an external issuer; empty means none.
    pub jwks_file: PathBuf,
}

/// When signed checkpoints are taken without being asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointSettings {
    /// Sign one when this many events were added since the last (0 = never).
    pub every_events: u64,
    /// Sign one when the log grew and this many seconds passed (0 = never).
    pub interval_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            bind: "127.0.0.1:8080".into(),
            workers: 0,
            verify_interval_secs: 60,
            jwt: JwtSettings::default(),
            checkpoint: CheckpointSettings::default(),
            backup: Default::default(),
            rate_limit: Default::default(),
            http: Default::default(),
            webhook: Default::default(),
            access_removal: Default::default(),
            personal_data: Default::default(),
            ticketing: Default::default(),
        }
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
            public_key_file: PathBuf::new(),
            algorithm: "ES256".into(),
            jwks_file: PathBuf::new(),
        }
    }
}

impl Default for CheckpointSettings {
    fn default() -> Self {
        Self { every_events: 10_000, interval_secs: 3600 }
    }
}

/// The longest interval accepted for periodic work: a week.
const MAX_INTERVAL_SECS: u64 = 7 * 86_400;

/// The command-line flags of `isms serve` and `isms config check`: the top layer.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Flags {
    /// Where the event log and local keys live [env: ISMS_DATA_DIR] [default: ./data].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [env: ISMS_BIND] [default: 127.0.0.1:8080].
    #[arg(long)]
    pub bind: Option<String>,
    /// Expected `iss` of tokens [env: ISMS_JWT_ISSUER] [default: isms-local].
    #[arg(long)]
    pub jwt_issuer: Option<String>,
    /// Expected `aud` of tokens [env: ISMS_JWT_AUDIENCE] [default: isms-ledger].
    #[arg(long)]
    pub jwt_audience: Option<String>,
    /// PEM public key of an external token issuer (disables the local HS256 secret)
    /// [env: ISMS_JWT_PUBLIC_KEY_FILE].
    #[arg(long)]
    pub jwt_public_key_file: Option<PathBuf>,
    /// Algorithm of that key: ES256 or EdDSA [env: ISMS_JWT_ALGORITHM] [default: ES256].
    #[arg(long)]
    pub jwt_algorithm: Option<String>,
    /// JWKS file of an external token issuer (disables the local HS256 secret) [env: ISMS_JWT_JWKS_FILE].
    #[arg(long)]
    pub jwt_jwks_file: Option<PathBuf>,
    /// HTTP worker threads, 0 = one per core [env: ISMS_WORKERS] [default: 0].
    #[arg(long)]
    pub workers: Option<u64>,
    /// Seconds between background verifications of new events, 0 = only at start and stop
    /// [env: ISMS_VERIFY_INTERVAL_SECS] [default: 60].
    #[arg(long)]
    pub verify_interval_secs: Option<u64>,
    /// Sign a checkpoint when this many events were added since the last one, 0 = never
    /// [env: ISMS_CHECKPOINT_EVERY_EVENTS] [default: 10000].
    #[arg(long)]
    pub checkpoint_every_events: Option<u64>,
    /// Sign a checkpoint when the log grew and this many seconds passed, 0 = never
    /// [env: ISMS_CHECKPOINT_INTERVAL_SECS] [default: 3600].
    #[arg(long)]
    pub checkpoint_interval_secs: Option<u64>,
}

impl Flags {
    /// The flags that were given, as a partial configuration table.
    fn layer(&self) -> Table {
        let mut layer = Table::new();
        let path = |p: &PathBuf| Value::String(p.display().to_string());
        let integer = |n: u64| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
        let given: [(&str, Option<Value>); 11] = [
            ("data_dir", self.data_dir.as_ref().map(path)),
            ("bind", self.bind.clone().map(Value::String)),
            ("workers", self.workers.map(integer)),
            ("verify_interval_secs", self.verify_interval_secs.map(integer)),
            ("jwt.issuer", self.jwt_issuer.clone().map(Value::String)),
            ("jwt.audience", self.jwt_audience.clone().map(Value::String)),
            ("jwt.public_key_file", self.jwt_public_key_file.as_ref().map(path)),
            ("jwt.algorithm", self.jwt_algorithm.clone().map(Value::String)),
            ("jwt.jwks_file", self.jwt_jwks_file.as_ref().map(path)),
            ("checkpoint.every_events", self.checkpoint_every_events.map(integer)),
            ("checkpoint.interval_secs", self.checkpoint_interval_secs.map(integer)),
        ];
        for (key, value) in given {
            if let Some(value) = value {
                insert_path(&mut layer, key, value);
            }
        }
        layer
    }
}

/// One thing wrong with the configuration: where it came from, the key, and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, `environment variable ISMS_X`, or `--flag` the value came from.
    pub origin: String,
    /// The dotted key.
    pub key: String,
    pub problem: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.problem)
        } else {
            write!(f, "{}: key `{}`: {}", self.origin, self.key, self.problem)
        }
    }
}

/// Every problem found, in the order found.
#[derive(Debug, Clone)]
pub struct Invalid(pub Vec<Problem>);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "the configuration is invalid ({} problem(s)):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}

/// A leaf of the schema: its dotted key and its default value (whose type it must keep).
struct Leaf {
    key: String,
    default: Value,
}

/// Where each layer's values came from, for error messages.
#[derive(Clone, Copy)]
enum Layer<'a> {
    File(&'a Path),
    Environment,
    Flags,
}

impl Layer<'_> {
    fn origin(&self, key: &str) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Environment => format!("environment variable {}", env_name(key)),
            Self::Flags => format!("--{}", key.replace(['.', '_'], "-")),
        }
    }
}

/// `checkpoint.every_events` → `ISMS_CHECKPOINT_EVERY_EVENTS`.
pub fn env_name(key: &str) -> String {
    format!("ISMS_{}", key.replace('.', "_").to_ascii_uppercase())
}

impl Settings {
    /// Loads and validates the configuration: defaults < `file` < environment (`env` looks a
    /// variable up) < `flags`. A missing `file` falls back to `ISMS_CONFIG`, then to none.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Flags,
    ) -> Result<(Self, Option<PathBuf>), Invalid> {
        let file = file.map(Path::to_owned).or_else(|| env(CONFIG_ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
        let schema = schema();
        let mut problems = Vec::new();
        let mut merged = Merged {
            table: Table::try_from(Settings::default()).expect("the defaults serialize to a table"),
            origins: BTreeMap::new(),
        };
        if let Some(path) = &file {
            match read_file(path) {
                Ok(table) => merged.overlay(table, &schema, Layer::File(path), &mut problems),
                Err(problem) => problems.push(problem),
            }
        }
        let environment = environment_layer(&schema, env, &mut problems);
        merged.overlay(environment, &schema, Layer::Environment, &mut problems);
        merged.overlay(flags.layer(), &schema, Layer::Flags, &mut problems);
        let Merged { table: merged, origins } = merged;
        let settings = match Value::Table(merged).try_into::<Settings>() {
            Ok(settings) => settings,
            Err(error) => {
                problems.push(Problem {
                    origin: "configuration".into(),
                    key: String::new(),
                    problem: error.to_string(),
                });
                return Err(Invalid(problems));
            }
        };
        settings.validate(&origins, &mut problems);
        if problems.is_empty() {
            Ok((settings, file))
        } else {
            Err(Invalid(problems))
        }
    }

    /// Loads from the process's environment.
    pub fn from_process(file: Option<&Path>, flags: &Flags) -> Result<(Self, Option<PathBuf>), Invalid> {
        Self::load(file, &|name| std::env::var(name).ok(), flags)
    }

    /// Range and consistency checks that types alone do not express.
    fn validate(&self, origins: &BTreeMap<String, String>, problems: &mut Vec<Problem>) {
        let mut bad = |key: &str, problem: String| {
            let origin = origins.get(key).cloned().unwrap_or_else(|| "default".into());
            problems.push(Problem { origin, key: key.into(), problem });
        };
        if self.data_dir.as_os_str().is_empty() {
            bad("data_dir", "must not be empty".into());
        }
        if let Err(problem) = check_bind(&self.bind) {
            bad("bind", problem);
        }
        if self.workers > 1024 {
            bad("workers", format!("must be between 0 and 1024, not {}", self.workers));
        }
        for (key, value) in [
            ("verify_interval_secs", self.verify_interval_secs),
            ("checkpoint.interval_secs", self.checkpoint.interval_secs),
        ] {
            if value > MAX_INTERVAL_SECS {
                bad(key, format!("must be between 0 and {MAX_INTERVAL_SECS} (a week), not {value}"));
            }
        }
        for (key, value) in [("jwt.issuer", &self.jwt.issuer), ("jwt.audience", &self.jwt.audience)] {
            if value.trim().is_empty() {
                bad(key, "must not be empty".into());
            }
        }
        for tenant in &self.backup.operator_tenants {
            if let Err(error) = isms_store::TenantId::parse(tenant) {
                bad("backup.operator_tenants", error.to_string());
            }
        }
        if !(self.rate_limit.per_second.is_finite() && self.rate_limit.per_second >= 0.0) {
            bad("rate_limit.per_second", format!("must be 0 (off) or positive, not {}", self.rate_limit.per_second));
        }
        if self.rate_limit.per_second > 0.0 && self.rate_limit.burst == 0 {
            bad("rate_limit.burst", "must be at least 1 while rate limiting is on".into());
        }
        if !(0.0..=1.0).contains(&self.webhook.jitter) {
            bad("webhook.jitter", format!("must be between 0 and 1, not {}", self.webhook.jitter));
        }
        if self.webhook.retry_delays_secs.is_empty() {
            bad("webhook.retry_delays_secs", "must list at least one wait".into());
        }
        for (key, value) in [
            ("http.handler_timeout_secs", self.http.handler_timeout_secs),
            ("http.client_request_timeout_secs", self.http.client_request_timeout_secs),
            ("webhook.connect_timeout_secs", self.webhook.connect_timeout_secs),
            ("webhook.request_timeout_secs", self.webhook.request_timeout_secs),
            ("webhook.max_concurrent_deliveries", self.webhook.max_concurrent_deliveries),
            ("webhook.stream_heartbeat_secs", self.webhook.stream_heartbeat_secs),
            ("access_removal.due_days", self.access_removal.due_days),
        ] {
            if value == 0 {
                bad(key, "must be at least 1".into());
            }
        }
        for origin in &self.http.cors_allowed_origins {
            if !(origin.starts_with("https://") || origin.starts_with("http://")) || origin.ends_with('/') {
                bad("http.cors_allowed_origins", format!("'{origin}' is not an origin like https://app.example.com"));
            }
        }
        if !["ES256", "EdDSA"].contains(&self.jwt.algorithm.as_str()) {
            bad("jwt.algorithm", format!("must be ES256 or EdDSA, not '{}'", self.jwt.algorithm));
        }
        let public_key = !self.jwt.public_key_file.as_os_str().is_empty();
        let jwks = !self.jwt.jwks_file.as_os_str().is_empty();
        if public_key && jwks {
            bad("jwt.jwks_file", "cannot be set together with jwt.public_key_file: choose one".into());
        }
        for (key, file, given) in [
            ("jwt.public_key_file", &self.jwt.public_key_file, public_key),
            ("jwt.jwks_file", &self.jwt.jwks_file, jwks),
        ] {
            if given {
                if let Err(error) = std::fs::File::open(file) {
                    bad(key, format!("cannot read {}: {error}", file.display()));
                }
            }
        }
    }

    /// The settings as the service uses them.
    pub fn serve_config(&self) -> ServeConfig {
        let verification = if !self.jwt.public_key_file.as_os_str().is_empty() {
            let algorithm = if self.jwt.algorithm == "EdDSA" {
                jsonwebtoken::Algorithm::EdDSA
            } else {
                jsonwebtoken::Algorithm::ES256
            };
            TokenVerification::PublicKey { algorithm, pem_file: self.jwt.public_key_file.clone() }
        } else if !self.jwt.jwks_file.as_os_str().is_empty() {
            TokenVerification::Jwks { file: self.jwt.jwks_file.clone() }
        } else {
            TokenVerification::LocalSecret
        };
        ServeConfig {
            data_dir: self.data_dir.clone(),
            bind: self.bind.clone(),
            issuer: self.jwt.issuer.clone(),
            audience: self.jwt.audience.clone(),
            verification,
            workers: usize::try_from(self.workers).unwrap_or(usize::MAX),
            verify_interval: Duration::from_secs(self.verify_interval_secs),
            checkpoints: isms_store::proofs::CheckpointPolicy {
                every_events: self.checkpoint.every_events,
                interval: Duration::from_secs(self.checkpoint.interval_secs),
            },
            backup: self.backup.clone(),
            limits: isms_api::limits::HttpLimits {
                rate_per_second: self.rate_limit.per_second,
                rate_burst: saturate(self.rate_limit.burst),
                rate_max_principals: saturate(self.rate_limit.max_principals),
                handler_timeout: Duration::from_secs(self.http.handler_timeout_secs),
                client_request_timeout: Duration::from_secs(self.http.client_request_timeout_secs),
                keep_alive: Duration::from_secs(self.http.keep_alive_secs),
                cors_allowed_origins: self.http.cors_allowed_origins.clone(),
            },
            webhooks: isms_webhooks::WebhookSettings {
                allow_hosts: self.webhook.allow_hosts.clone(),
                retry_delays: self.webhook.retry_delays_secs.iter().copied().map(Duration::from_secs).collect(),
                jitter: self.webhook.jitter,
                connect_timeout: Duration::from_secs(self.webhook.connect_timeout_secs),
                request_timeout: Duration::from_secs(self.webhook.request_timeout_secs),
                rotation_grace: Duration::from_secs(self.webhook.rotation_grace_secs),
                max_concurrent_deliveries: saturate(self.webhook.max_concurrent_deliveries),
                event_source_base: self.webhook.event_source_base.clone(),
                stream_heartbeat: Duration::from_secs(self.webhook.stream_heartbeat_secs),
            },
            access_removal: isms_api::access_removal::AccessRemovalSettings {
                due_days: saturate(self.access_removal.due_days),
            },
            ticketing: self.ticketing.clone(),
            personal_data: isms_app::PersonalDataConfig {
                keys_dir: (!self.personal_data.keys_dir.as_os_str().is_empty())
                    .then(|| self.personal_data.keys_dir.clone()),
            },
        }
    }

    /// The effective configuration as TOML, with secret values replaced by `"<redacted>"`.
    pub fn redacted_toml(&self) -> String {
        let mut table = Table::try_from(self).expect("settings serialize to a table");
        redact(&mut table);
        toml::to_string_pretty(&table).expect("a table serializes")
    }
}

/// Values are range-checked in `validate`; this only keeps an absurd one from wrapping.
fn saturate<T: TryFrom<u64> + Bounded>(value: u64) -> T {
    T::try_from(value).unwrap_or(T::MAX)
}

/// The largest value of the integer types settings convert into.
trait Bounded {
    const MAX: Self;
}
impl Bounded for u32 {
    const MAX: Self = u32::MAX;
}
impl Bounded for usize {
    const MAX: Self = usize::MAX;
}

fn check_bind(bind: &str) -> Result<(), String> {
    let Some((host, port)) = bind.rsplit_once(':') else {
        return Err(format!("must be host:port (e.g. 127.0.0.1:8080), not '{bind}'"));
    };
    if host.is_empty() {
        return Err(format!("has no host in '{bind}' (use 0.0.0.0:{port} for every interface)"));
    }
    port.parse::<u16>().map(|_| ()).map_err(|_| format!("has no valid port (0-65535) in '{bind}'"))
}

/// A key holds a secret when its last part names one; such values are never printed. No
/// current key does (the JWT secret and the signing key are files in the data directory), but
/// integrations add tokens and webhook secrets.
fn is_secret(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    !last.ends_with("_file")
        && ["secret", "password", "token", "api_key", "private_key"].iter().any(|word| last.contains(word))
}

fn redact(table: &mut Table) {
    for (key, value) in table.iter_mut() {
        match value {
            Value::Table(inner) => redact(inner),
            // Lists of tables, e.g. `[[ticketing.secrets]]`.
            Value::Array(items) => items.iter_mut().filter_map(Value::as_table_mut).for_each(redact),
            Value::String(text) if is_secret(key) && !text.is_empty() => *text = "<redacted>".into(),
            _ => {}
        }
    }
}

fn read_file(path: &Path) -> Result<Table, Problem> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| Problem {
        origin: origin.clone(),
        key: String::new(),
        problem: format!("cannot read the configuration file: {error}"),
    })?;
    text.parse::<Table>().map_err(|error| Problem {
        origin,
        key: String::new(),
        problem: format!("not valid TOML: {}", error.to_string().trim_end()),
    })
}

/// Every key (dotted) with its environment variable and default, for documentation and tests.
pub fn keys() -> Vec<(String, String, Value)> {
    schema().into_iter().map(|leaf| (leaf.key.clone(), env_name(&leaf.key), leaf.default)).collect()
}

/// Every leaf of the defaults, depth first.
fn schema() -> Vec<Leaf> {
    fn walk(prefix: &str, table: &Table, leaves: &mut Vec<Leaf>) {
        for (key, value) in table {
            let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            match value {
                Value::Table(inner) => walk(&key, inner, leaves),
                _ => leaves.push(Leaf { key, default: value.clone() }),
            }
        }
    }
    let defaults = Table::try_from(Settings::default()).expect("the defaults serialize to a table");
    let mut leaves = Vec::new();
    walk("", &defaults, &mut leaves);
    leaves
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean (true or false)",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// The configuration merged so far, and which layer set each key.
struct Merged {
    table: Table,
    origins: BTreeMap<String, String>,
}

impl Merged {
    /// Overlays `layer`, keeping only known keys of the right type; reports the rest.
    fn overlay(&mut self, layer: Table, schema: &[Leaf], from: Layer<'_>, problems: &mut Vec<Problem>) {
        for (key, value) in checked_leaves(layer, schema, from, problems) {
            self.origins.insert(key.clone(), from.origin(&key));
            insert_path(&mut self.table, &key, value);
        }
    }
}

/// The leaves of `layer` that are known keys with values of the right type; reports the rest.
fn checked_leaves(layer: Table, schema: &[Leaf], from: Layer<'_>, problems: &mut Vec<Problem>) -> Vec<(String, Value)> {
    fn walk(prefix: &str, layer: Table, out: &mut Vec<(String, Value)>) {
        for (key, value) in layer {
            let key = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
            match value {
                Value::Table(inner) => walk(&key, inner, out),
                other => out.push((key, other)),
            }
        }
    }
    let mut leaves = Vec::new();
    walk("", layer, &mut leaves);
    let mut accepted = Vec::new();
    for (key, value) in leaves {
        let problem = |text: String| Problem { origin: from.origin(&key), key: key.clone(), problem: text };
        match schema.iter().find(|leaf| leaf.key == key) {
            None => {
                let section = schema.iter().any(|leaf| leaf.key.starts_with(&format!("{key}.")));
                problems.push(problem(if section {
                    format!("is a section, not {}", type_name(&value))
                } else {
                    format!("unknown key (known keys: {})", known_near(schema, &key))
                }));
            }
            Some(leaf) if std::mem::discriminant(&leaf.default) != std::mem::discriminant(&value) => {
                problems.push(problem(format!("expected {}, found {}", type_name(&leaf.default), type_name(&value))));
            }
            Some(_) => match value {
                Value::Integer(n) if n < 0 => problems.push(problem(format!("must not be negative, not {n}"))),
                value => accepted.push((key, value)),
            },
        }
    }
    accepted
}

/// The known keys of the same section as `key` (or the top-level ones), to help with typos.
fn known_near(schema: &[Leaf], key: &str) -> String {
    let section = key.rsplit_once('.').map(|(section, _)| format!("{section}."));
    let near: Vec<&str> = schema
        .iter()
        .map(|leaf| leaf.key.as_str())
        .filter(|known| match &section {
            Some(section) => known.starts_with(section.as_str()),
            None => true,
        })
        .collect();
    if near.is_empty() {
        schema.iter().map(|leaf| leaf.key.as_str()).collect::<Vec<_>>().join(", ")
    } else {
        near.join(", ")
    }
}

fn insert_path(table: &mut Table, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            table.insert(key.to_owned(), value);
        }
        Some((section, rest)) => {
            let inner = table.entry(section.to_owned()).or_insert_with(|| Value::Table(Table::new()));
            if !inner.is_table() {
                *inner = Value::Table(Table::new());
            }
            if let Value::Table(inner) = inner {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// The `ISMS_*` variables of known keys, parsed to the type of the key's default.
fn environment_layer(schema: &[Leaf], env: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<Problem>) -> Table {
    let mut layer = Table::new();
    for leaf in schema {
        let name = env_name(&leaf.key);
        let Some(raw) = env(&name) else { continue };
        let parsed = match &leaf.default {
            Value::String(_) => Ok(Value::String(raw.clone())),
            Value::Integer(_) => raw.trim().parse::<i64>().map(Value::Integer).map_err(|_| "an integer"),
            Value::Float(_) => raw.trim().parse::<f64>().map(Value::Float).map_err(|_| "a number"),
            Value::Boolean(_) => match raw.trim() {
                "true" | "1" | "yes" => Ok(Value::Boolean(true)),
                "false" | "0" | "no" => Ok(Value::Boolean(false)),
                _ => Err("true or false"),
            },
            // Lists come as TOML arrays (`["a", "b"]`) or comma-separated strings.
            Value::Array(default) => {
                let trimmed = raw.trim();
                let integers = matches!(default.first(), Some(Value::Integer(_)));
                if trimmed.starts_with('[') {
                    format!("v = {trimmed}")
                        .parse::<Table>()
                        .ok()
                        .and_then(|mut t| t.remove("v"))
                        .ok_or("a TOML array such as [\"a\", \"b\"]")
                } else {
                    let items = trimmed.split(',').map(str::trim).filter(|s| !s.is_empty());
                    if integers {
                        items
                            .map(|s| s.parse::<i64>().map(Value::Integer))
                            .collect::<Result<Vec<_>, _>>()
                            .map(Value::Array)
                            .map_err(|_| "comma-separated integers")
                    } else {
                        Ok(Value::Array(items.map(|s| Value::String(s.to_owned())).collect()))
                    }
                }
            }
            Value::Datetime(_) | Value::Table(_) => Err("a value that cannot come from the environment"),
        };
        match parsed {
            Ok(value) => insert_path(&mut layer, &leaf.key, value),
            Err(expected) => problems.push(Problem {
                origin: format!("environment variable {name}"),
                key: leaf.key.clone(),
                problem: format!("expected {expected}, found '{raw}'"),
            }),
        }
    }
    layer
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load_with(file: Option<&str>, vars: &[(&str, &str)], flags: &Flags) -> Result<Settings, Invalid> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isms.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Settings::load(file.map(|_| path.as_path()), &|name| vars.get(name).cloned(), flags).map(|(s, _)| s)
    }

    fn problems(result: Result<Settings, Invalid>) -> Vec<String> {
        result.unwrap_err().0.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn no_file_no_environment_gives_the_defaults() {
        assert_eq!(load_with(None, &[], &Flags::default()).unwrap(), Settings::default());
    }

    #[test]
    fn flags_beat_environment_beats_file_beats_defaults() {
        let file = "bind = \"127.0.0.1:1\"\nworkers = 3\n[jwt]\nissuer = \"file\"\naudience = \"file-aud\"\n";
        let vars = [("ISMS_WORKERS", "5"), ("ISMS_JWT_ISSUER", "env")];
        let flags = Flags { jwt_issuer: Some("flag".into()), ..Flags::default() };
        let settings = load_with(Some(file), &vars, &flags).unwrap();
        assert_eq!(settings.bind, "127.0.0.1:1");
        assert_eq!(settings.workers, 5);
        assert_eq!(settings.jwt.issuer, "flag");
        assert_eq!(settings.jwt.audience, "file-aud");
        assert_eq!(settings.checkpoint.every_events, 10_000);
    }

    #[test]
    fn unknown_keys_wrong_types_and_ranges_are_all_named() {
        let file = "bnd = \"x\"\nworkers = \"four\"\n[jwt]\nisuer = \"a\"\nalgorithm = \"HS256\"\n\
                    [checkpoint]\ninterval_secs = 99999999\n";
        let found = problems(load_with(Some(file), &[("ISMS_VERIFY_INTERVAL_SECS", "soon")], &Flags::default()));
        let all = found.join("\n");
        assert!(all.contains("key `bnd`: unknown key"), "{all}");
        assert!(all.contains("key `workers`: expected an integer, found a string"), "{all}");
        assert!(
            all.contains("key `jwt.isuer`: unknown key (known keys: jwt.algorithm, jwt.audience, jwt.issuer"),
            "{all}"
        );
        assert!(all.contains("environment variable ISMS_VERIFY_INTERVAL_SECS: key `verify_interval_secs`"), "{all}");
        assert!(all.contains("key `jwt.algorithm`: must be ES256 or EdDSA"), "{all}");
        assert!(all.contains("isms.toml: key `checkpoint.interval_secs`: must be between 0 and 604800"), "{all}");
    }

    #[test]
    fn integration_and_limit_sections_reach_the_service_and_are_checked() {
        let file = "[rate_limit]\nper_second = 2.5\n[ticketing]\n\
                    secrets = [{ tenant = \"acme\", system = \"jira\", secret = \"s3cret\", client_id = \"jira\" }]\n";
        let vars = [
            ("ISMS_WEBHOOK_ALLOW_HOSTS", "127.0.0.1, ::1"),
            ("ISMS_WEBHOOK_RETRY_DELAYS_SECS", "1,2,3"),
            ("ISMS_HTTP_CORS_ALLOWED_ORIGINS", "https://app.example.com"),
            ("ISMS_ACCESS_REMOVAL_DUE_DAYS", "3"),
        ];
        let settings = load_with(Some(file), &vars, &Flags::default()).unwrap();
        let config = settings.serve_config();
        assert_eq!(config.limits.rate_per_second, 2.5);
        assert_eq!(config.limits.cors_allowed_origins, ["https://app.example.com"]);
        assert_eq!(config.webhooks.allow_hosts, ["127.0.0.1", "::1"]);
        assert_eq!(config.webhooks.retry_delays, [1, 2, 3].map(Duration::from_secs));
        assert_eq!(config.access_removal.due_days, 3);
        assert_eq!(config.ticketing.secrets.len(), 1);
        assert!(!settings.redacted_toml().contains("s3cret"), "ticketing secrets are redacted");

        let bad = [
            ("ISMS_WEBHOOK_JITTER", "2"),
            ("ISMS_WEBHOOK_RETRY_DELAYS_SECS", "1,soon"),
            ("ISMS_RATE_LIMIT_PER_SECOND", "-1"),
            ("ISMS_HTTP_CORS_ALLOWED_ORIGINS", "app.example.com"),
        ];
        let all = problems(load_with(None, &bad, &Flags::default())).join("\n");
        for key in ["webhook.jitter", "webhook.retry_delays_secs", "rate_limit.per_second", "http.cors_allowed_origins"]
        {
            assert!(all.contains(&format!("key `{key}`")), "{key} is named: {all}");
        }
    }

    #[test]
    fn unreadable_files_and_bad_toml_are_reported_with_the_file() {
        let missing = Settings::load(Some(Path::new("/nonexistent/isms.toml")), &|_| None, &Flags::default());
        assert!(problems(missing.map(|(s, _)| s))[0].contains("/nonexistent/isms.toml: cannot read"));
        assert!(problems(load_with(Some("bind = "), &[], &Flags::default()))[0].contains("not valid TOML"));
        let flags = Flags { jwt_jwks_file: Some("/nonexistent/jwks.json".into()), ..Flags::default() };
        assert!(problems(load_with(None, &[], &flags))[0].contains("key `jwt.jwks_file`: cannot read"));
    }

    #[test]
    fn every_key_has_its_own_environment_variable() {
        let names: Vec<String> = schema().iter().map(|leaf| env_name(&leaf.key)).collect();
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(names.contains(&"ISMS_CHECKPOINT_EVERY_EVENTS".to_owned()));
    }

    #[test]
    fn secrets_are_redacted_by_name() {
        assert!(is_secret("webhooks.signing_secret") && is_secret("ticketing.api_token"));
        assert!(!is_secret("jwt.public_key_file") && !is_secret("bind"));
        let mut table: Table = "[a]\nclient_secret = \"hunter2\"\nname = \"x\"".parse().unwrap();
        redact(&mut table);
        assert_eq!(table["a"]["client_secret"].as_str(), Some("<redacted>"));
        assert_eq!(table["a"]["name"].as_str(), Some("x"));
    }
}
