//! Spawning the service for a test and talking to it.

use std::sync::Arc;

use isms::{ServeConfig, TokenVerification, DEFAULT_AUDIENCE, DEFAULT_ISSUER};
use isms_app::LiveProjections;
use isms_store::GroupCommitStore;
use serde_json::Value;

pub const ALL_SCOPES: &str = "isms:read isms:write audit:read admin";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub secret: Vec<u8>,
    pub dir: tempfile::TempDir,
    pub store: Arc<GroupCommitStore>,
    pub projections: Arc<LiveProjections>,
    server: actix_web::dev::ServerHandle,
}

/// A response read whole: status, headers, JSON body (Null when empty or not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// The problem `code`, for error replies.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        self
    }
}

pub fn serve_config(dir: &std::path::Path) -> ServeConfig {
    ServeConfig {
        data_dir: dir.to_owned(),
        bind: "127.0.0.1:0".into(),
        issuer: DEFAULT_ISSUER.into(),
        audience: DEFAULT_AUDIENCE.into(),
        verification: TokenVerification::LocalSecret,
        workers: 1,
        verify_interval: std::time::Duration::ZERO,
        checkpoints: isms_store::proofs::CheckpointPolicy { every_events: 0, interval: std::time::Duration::ZERO },
        access_removal: Default::default(),
        ticketing: isms_api::ticketing::TicketingSettings::default(),
        limits: isms_api::limits::HttpLimits::default(),
        backup: isms_api::backup::BackupSettings { operator_tenants: vec!["acme".into()] },
        personal_data: isms_app::PersonalDataConfig::default(),
        webhooks: isms_webhooks::WebhookSettings::default(),
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_in(tempfile::tempdir().unwrap()).await
    }

    /// A server without the per-principal rate limit, for tests that replay hundreds of
    /// requests from one token as fast as they can.
    pub async fn spawn_unthrottled() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = serve_config(dir.path());
        config.limits.rate_per_second = 0.0;
        Self::spawn_with(dir, config).await
    }

    pub async fn spawn_in(dir: tempfile::TempDir) -> Self {
        let config = serve_config(dir.path());
        Self::spawn_with(dir, config).await
    }

    pub async fn spawn_with(dir: tempfile::TempDir, config: ServeConfig) -> Self {
        Self::spawn_with_seams(dir, config, isms::Seams::default()).await
    }

    /// With fault-injecting decorators around the storage or the projections.
    pub async fn spawn_with_seams(dir: tempfile::TempDir, config: ServeConfig, seams: isms::Seams) -> Self {
        let running = isms::start_with(&config, seams).expect("service starts");
        let (secret, _) = isms::secret::load_or_create(dir.path()).unwrap();
        let server = running.server.handle();
        let base = format!("http://{}", running.address);
        let store = running.store.clone();
        let projections = running.projections.clone();
        tokio::spawn(running.server);
        // Idle connections are dropped before the server's 5 s keep-alive closes them: a test that
        // blocks its runtime (running a child process) would otherwise reuse a closed one.
        let client = reqwest::Client::builder().pool_idle_timeout(std::time::Duration::from_secs(2)).build().unwrap();
        Self { base, client, secret, dir, store, projections, server }
    }

    /// Stops the server and the writer, giving back the data directory.
    pub async fn stop(self) -> tempfile::TempDir {
        self.server.stop(true).await;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.shutdown()).await.unwrap();
        self.dir
    }

    pub fn token(&self, sub: &str, tenant: &str, scope: &str) -> String {
        mint(&self.secret, sub, tenant, scope)
    }

    pub fn alice(&self) -> String {
        self.token("alice", "acme", ALL_SCOPES)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        Reply { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, Some(token), path, Some(&body), &[]).await
    }

    /// Posts `body` as it is, labelled JSON: for bodies a `Value` cannot hold (deep nesting,
    /// escapes written out).
    pub async fn post_text(&self, token: &str, path: &str, body: String) -> reqwest::Response {
        let request = self.client.post(format!("{}{path}", self.base)).bearer_auth(token);
        request.header("content-type", "application/json").body(body).send().await.unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(reqwest::Method::GET, Some(token), path, None, &[]).await
    }

    /// Identifies a risk owned by `owner` and returns its id.
    pub async fn identify_risk(&self, token: &str, owner: &str) -> String {
        let reply = self
            .post(
                token,
                "/api/v1/risks",
                serde_json::json!({"title": "Laptop theft", "category": "physical", "owner": owner}),
            )
            .await
            .expect(201);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn raise_nonconformity(&self, token: &str, severity: &str) -> String {
        let reply = self
            .post(
                token,
                "/api/v1/nonconformities",
                serde_json::json!({"title": "Backups never restored", "source": "internal_audit", "severity": severity,
                                   "reference": "8.13", "detected_at": "2026-11-20T10:00:00Z"}),
            )
            .await
            .expect(201);
        reply.body["id"].as_str().unwrap().to_owned()
    }
}

pub fn mint(secret: &[u8], sub: &str, tenant: &str, scope: &str) -> String {
    let now = chrono::Utc::now().timestamp() as u64;
    let claims = isms_api::Claims {
        sub: sub.into(),
        tenant: tenant.into(),
        scope: scope.into(),
        iss: DEFAULT_ISSUER.into(),
        aud: isms_api::auth::Audience::One(DEFAULT_AUDIENCE.into()),
        exp: now + 3600,
        nbf: Some(now),
        iat: Some(now),
    };
    isms_api::mint_hs256(secret, &claims).unwrap()
}

/// Starts the real binary on `data_dir` at a free loopback port, with JSON logs written to
/// `log_path` and the extra environment `env`, and returns it with its base URL once
/// `/readyz` answers.
pub async fn serve_binary_with_json_logs(
    data_dir: &std::path::Path,
    log_path: &std::path::Path,
    env: &[(&str, String)],
) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_isms"))
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--bind", &format!("127.0.0.1:{port}"), "--workers", "1"])
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .env("ISMS_LOG_FORMAT", "json")
        .env("ISMS_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(std::time::Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (child, base)
}
