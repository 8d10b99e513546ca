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
    let file = path(data_dir);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let secret = hex::decode(text.trim()).with_context(|| format!("{} is not a hex secret", file.display()))?;
            anyhow::ensure!(secret.len() >= 32, "{} holds fewer than 256 bits", file.display());
            Ok((secret, false))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
            let mut secret = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut secret);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&file) {
                Ok(mut handle) => {
                    handle.write_all(hex::encode(&secret).as_bytes())?;
                    handle.sync_all()?;
                    Ok((secret, true))
                }
                // Another process created it between our read and create: use theirs.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(data_dir),
                Err(error) => Err(error).with_context(|| format!("cannot create {}", file.display())),
            }
        }
        Err(error) => Err(error).with_context(|| format!("cannot read {}", file.display())),
    }
}
