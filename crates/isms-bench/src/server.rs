//! Running a real `isms` server for `isms-bench http`: locate the binary, mint a token, start
//! `isms serve` on a free port, wait until it is ready, and always stop it again.
//!
//! Kept apart from the load loop because the process handling is where a benchmark tends to
//! leave orphaned servers and locked data directories behind. [`Server`] kills and reaps the
//! child in `Drop`, so every exit path — an error, a panic, Ctrl-C dropping the future — stops
//! the server before the temporary data directory is removed.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

/// The scopes the benchmark token carries.
const SCOPES: &str = "isms:read isms:write audit:read admin";

/// Finds the `isms` binary: the given path, or `isms` next to this executable.
pub fn locate_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()
            .context("cannot tell where isms-bench itself is")?
            .with_file_name(format!("isms{}", std::env::consts::EXE_SUFFIX)),
    };
    if !path.is_file() {
        bail!(
            "the isms server binary was not found at {}; build both with \
             `cargo build --release -p isms -p isms-bench`, or pass --isms-bin PATH",
            path.display()
        );
    }
    Ok(path)
}

/// Mints a bearer token with `isms token`. This also creates the data directory's signing
/// secret on first use, which is why it runs before `serve` starts; `token` does not open the
/// event log, so it never contends for the data directory lock.
pub fn mint_token(binary: &Path, data_dir: &Path) -> anyhow::Result<String> {
    let output = Command::new(binary)
        .arg("token")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--sub", "bench", "--tenant", "bench", "--scope", SCOPES])
        .args(["--ttl", "2h"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {} token", binary.display()))?;
    if !output.status.success() {
        bail!("`isms token` failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim());
    }
    let token =
        String::from_utf8(output.stdout).context("`isms token` printed something that is not UTF-8")?.trim().to_owned();
    if token.is_empty() || token.contains(char::is_whitespace) {
        bail!("`isms token` did not print a single token: {token:?}");
    }
    Ok(token)
}

/// A free TCP port on 127.0.0.1 (bound, read and released; the server binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot bind 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A running `isms serve`; killed and reaped when dropped.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts `isms serve --data-dir DIR --bind 127.0.0.1:PORT`, logging to `log`.
    pub fn start(binary: &Path, data_dir: &Path, port: u16, log: PathBuf) -> anyhow::Result<Self> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let out = File::create(&log).with_context(|| format!("cannot create the server log {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(binary)
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--bind")
            .arg(addr.to_string())
            // The benchmark measures throughput: the per-principal rate limit would measure itself.
            .env("ISMS_RATE_LIMIT_PER_SECOND", "0")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {} serve", binary.display()))?;
        Ok(Self { child: Some(child), addr, log })
    }

    /// The server's exit status if it has already exited.
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(child) => Ok(child.try_wait()?),
            None => Err(anyhow!("the server was already stopped")),
        }
    }

    /// Polls `GET /readyz` until it answers 200; fails early if the server exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let url = format!("http://{}/readyz", self.addr);
        let probe = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
        loop {
            if let Some(status) = self.exited()? {
                bail!("isms serve exited ({status}) before it was ready; its log:\n{}", self.log_tail());
            }
            let last = match probe.get(&url).send().await {
                Ok(response) if response.status() == reqwest::StatusCode::OK => return Ok(started.elapsed()),
                Ok(response) => format!("HTTP {}", response.status()),
                Err(error) => error.to_string(),
            };
            if started.elapsed() >= timeout {
                bail!(
                    "isms serve was not ready within {timeout:?} (last /readyz: {last}); its log:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        match std::fs::read_to_string(&self.log) {
            Ok(text) => {
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(20)..].join("\n");
                if tail.is_empty() {
                    "(empty)".to_owned()
                } else {
                    tail
                }
            }
            Err(error) => format!("(cannot read {}: {error})", self.log.display()),
        }
    }

    /// Kills the server and waits for it; returns how it ended (None if already stopped).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }

    #[test]
    fn missing_binary_says_how_to_build_it() {
        let error = locate_binary(Some(Path::new("/nonexistent/isms"))).unwrap_err();
        assert!(error.to_string().contains("cargo build --release -p isms"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn dropping_a_server_kills_it() {
        // `sleep` stands in for the server: Drop must kill and reap it promptly.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let server = Server { child: Some(child), addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 1)), log };
        let started = Instant::now();
        drop(server);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }
}
