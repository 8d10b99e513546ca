//! The real `isms` binary: kill -9 right after acknowledgements, offline verification, refusal
//! to start on tampered data, and clear errors when the data directory is in use.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_isms");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Server {
    pub(crate) async fn start(dir: &Path) -> Self {
        let port = free_port();
        let child = Command::new(BIN)
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--bind", &format!("127.0.0.1:{port}"), "--workers", "2"])
            .env("ISMS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
                if response.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { child, base }
    }

    async fn get_json(&self, client: &reqwest::Client, token: &str, path: &str) -> serde_json::Value {
        let response = client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.json().await.unwrap()
    }

    /// Identifies `count` risks titled "risk 0", "risk 1", ...
    async fn identify_risks(&self, client: &reqwest::Client, token: &str, count: usize) {
        for n in 0..count {
            let response = client
                .post(format!("{}/api/v1/risks", self.base))
                .bearer_auth(token)
                .json(&json!({"title": format!("risk {n}"), "category": "c", "owner": "alice"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 201);
        }
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

pub(crate) fn token(dir: &Path) -> String {
    let output = Command::new(BIN)
        .args(["token", "--data-dir"])
        .arg(dir)
        .args(["--sub", "alice", "--tenant", "acme", "--scope", "isms:read isms:write audit:read"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn verify(dir: &Path) -> std::process::Output {
    Command::new(BIN).args(["verify", "--data-dir"]).arg(dir).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_right_after_acknowledgements_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let token = token(dir.path());
    let client = reqwest::Client::new();
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..3 {
        let server = Server::start(dir.path()).await;
        // Several writers at once, then kill -9 the moment the last answer arrives.
        let mut requests = Vec::new();
        for writer in 0..16 {
            let request = client
                .post(format!("{}/api/v1/risks", server.base))
                .bearer_auth(&token)
                .json(&json!({"title": format!("round {round} writer {writer}"), "category": "c", "owner": "alice"}))
                .send();
            requests.push(request);
        }
        for response in futures_util::future::join_all(requests).await {
            let response = response.unwrap();
            assert_eq!(response.status().as_u16(), 201);
            let body: serde_json::Value = response.json().await.unwrap();
            acknowledged.push(body["id"].as_str().unwrap().to_owned());
        }
        server.kill_9();
    }
    let server = Server::start(dir.path()).await;
    for id in &acknowledged {
        let response =
            client.get(format!("{}/api/v1/risks/{id}", server.base)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "acknowledged risk {id} survived kill -9");
    }
    let feed = server.get_json(&client, &token, "/api/v1/events?limit=500").await;
    let positions: Vec<u64> =
        feed["items"].as_array().unwrap().iter().map(|e| e["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, (1..=acknowledged.len() as u64).collect::<Vec<_>>());

    // While the server holds the directory, offline tools say so clearly.
    let busy = verify(dir.path());
    assert_eq!(busy.status.code(), Some(isms::exit_code::LOCKED));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("isms serve"));
    server.kill_9();

    let verified = verify(dir.path());
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    assert!(String::from_utf8_lossy(&verified.stdout).contains("48 events verified"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_data_is_named_by_verify_and_refused_by_serve_without_changing_it() {
    let dir = tempfile::tempdir().unwrap();
    let token = token(dir.path());
    let server = Server::start(dir.path()).await;
    let client = reqwest::Client::new();
    server.identify_risks(&client, &token, 5).await;
    server.kill_9();

    // Rewrite the title of the event at position 3, as an administrator with disk access could.
    let tampered_value = {
        let db = sled::open(isms::events_dir(dir.path())).unwrap();
        let (key, value) = db
            .iter()
            .map(|entry| entry.unwrap())
            .find(|(_, value)| serde_json::from_slice::<isms_store::Envelope>(value).is_ok_and(|e| e.position == 3))
            .unwrap();
        let tampered = String::from_utf8(value.to_vec()).unwrap().replace("risk 2", "risk X");
        db.insert(&key, tampered.as_bytes()).unwrap();
        db.flush().unwrap();
        (key.to_vec(), tampered)
    };

    let verified = verify(dir.path());
    assert_eq!(verified.status.code(), Some(isms::exit_code::CHAIN_BROKEN));
    assert!(
        String::from_utf8_lossy(&verified.stderr).contains("position 3"),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );

    let refused = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--bind", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(isms::exit_code::CHAIN_BROKEN));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("position 3"));

    let db = sled::open(isms::events_dir(dir.path())).unwrap();
    assert_eq!(
        db.get(&tampered_value.0).unwrap().unwrap().to_vec(),
        tampered_value.1.into_bytes(),
        "nothing was repaired"
    );
    assert_eq!(db.iter().filter(|e| e.as_ref().unwrap().0.first() == Some(&b'E')).count(), 5, "nothing was deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_after_verifying_the_runs_events() {
    let dir = tempfile::tempdir().unwrap();
    let token = token(dir.path());
    let mut server = Server::start(dir.path()).await;
    let client = reqwest::Client::new();
    server.identify_risks(&client, &token, 5).await;
    let terminated = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(terminated.success());
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap()).await.unwrap();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");

    // The run's events were verified on the way out, so the next start checks nothing old.
    let server = Server::start(dir.path()).await;
    let integrity = server.get_json(&client, &token, "/api/v1/integrity").await;
    assert_eq!(integrity["chain_head"]["position"], 5);
    assert_eq!(integrity["last_verified"]["position"], 5);
    assert_eq!(integrity["last_verified"]["hash"], integrity["chain_head"]["hash"]);
    server.kill_9();
}
