//! The local HS256 signing secret: 256 random bits in `<data-dir>/jwt-secret`, mode 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::RngCore;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("jwt-secret")
}

/// Reads the secret, creating it first if there is none. Returns whether it was created.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<(Vec<u8>, bool)> {
    load_or_create_key(&path(data_dir), "secret")
}

/// Where the Ed25519 key that signs checkpoints lives.
pub fn checkpoint_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("checkpoint-key")
}

/// The Ed25519 key that signs checkpoints and evidence packs, created on first use. Losing it
/// does not lose data: checkpoints signed with it stay verifiable with its public key.
pub fn checkpoint_key(data_dir: &Path) -> anyhow::Result<ed25519_dalek::SigningKey> {
    let file = checkpoint_key_path(data_dir);
    let (bytes, _) = load_or_create_key(&file, "checkpoint key")?;
    let seed: [u8; 32] = bytes[..32].try_into().with_context(|| format!("{} is too short", file.display()))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// 256 random bits, hex, in `file` (mode 0600), read if present. Returns whether it was created.
fn load_or_create_key(file: &Path, what: &str) -> anyhow::Result<(Vec<u8>, bool)> {
    match std::fs::read_to_string(file) {
        Ok(text) => {
            let secret = hex::decode(text.trim()).with_context(|| format!("{} is not a hex {what}", file.display()))?;
            anyhow::ensure!(secret.len() >= 32, "{} holds fewer than 256 bits", file.display());
            Ok((secret, false))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let mut secret = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(file) {
                Ok(mut handle) => {
                    handle.write_all(hex::encode(&secret).as_bytes())?;
                    handle.sync_all()?;
                    Ok((secret, true))
                }
                // Another process created it between our read and create: use theirs.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_key(file, what),
                Err(error) => Err(error).with_context(|| format!("cannot create {}", file.display())),
            }
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", file.display())),
    }
}
