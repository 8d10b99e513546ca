//! The key store of crypto-shredding: one random 256-bit data key per person, kept OUTSIDE the
//! event log (`<data-dir>/keys/<tenant>/<person id>.key`), so that destroying a key makes that
//! person's sealed fields unreadable in every copy of the log, backups included.
//!
//! One small file per key rather than a sled tree: sled keeps superseded values in its segment
//! files until it happens to rewrite them, so a "deleted" key could survive on disk for a long
//! time. A file can be overwritten in place, fsynced and unlinked now. What the disk does below
//! the file system (SSD wear levelling, copy-on-write file systems, journals in data mode) is
//! outside our reach: see the README on what that guarantees.
//!
//! An erased person leaves a tombstone (`<person id>.erased`): their key is never created again,
//! and plaintext fields of events written before sealing existed read `[erased]` too.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use isms_store::TenantId;
use rand::RngCore;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Where the key store lives (the `isms::ServeConfig` field `personal_data`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonalDataConfig {
    /// The key store's directory; `<data-dir>/keys` when `None`. Put it on another volume to
    /// back it up on its own schedule (see the README on erasure and backups).
    pub keys_dir: Option<PathBuf>,
}

/// A person's data key; zeroed in memory when the last holder drops it.
pub type DataKey = Arc<Zeroizing<[u8; 32]>>;

/// What the key store knows about one person.
#[derive(Clone)]
pub enum KeyState {
    Key(DataKey),
    /// The person was erased: the key is destroyed and never created again.
    Erased,
    /// No key was ever created (no sealed event yet, or events older than sealing).
    Missing,
}

impl std::fmt::Debug for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str(match self {
            Self::Key(_) => "Key(..)",
            Self::Erased => "Erased",
            Self::Missing => "Missing",
        })
    }
}

/// Per-person data keys: on disk (the service) or in memory only (tests and benchmarks).
pub struct KeyStore {
    dir: Option<PathBuf>,
    /// Keys read or created so far; a replay looks a key up for every people event.
    cache: RwLock<HashMap<TenantId, HashMap<Uuid, KeyState>>>,
    /// Serializes creation and destruction, so two commands never race to create one key.
    changing: Mutex<()>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

const KEY_SUFFIX: &str = "key";
const TOMBSTONE_SUFFIX: &str = "erased";

impl KeyStore {
    /// The key store in `dir` (created, owner-only, when missing).
    ///
    /// A key file beside its person's tombstone (a key store restored from a backup taken
    /// before the erasure, say) is destroyed here, before anything can read it.
    pub fn open(dir: &Path) -> io::Result<Self> {
        create_private_dir(dir)?;
        let store = Self { dir: Some(dir.to_owned()), cache: RwLock::default(), changing: Mutex::default() };
        for tenant in fs::read_dir(dir)? {
            let tenant = tenant?.path();
            let Some(tenant_id) = tenant.file_name().and_then(|n| TenantId::parse(&n.to_string_lossy()).ok()) else {
                continue;
            };
            if !tenant.is_dir() {
                continue;
            }
            for file in fs::read_dir(&tenant)? {
                let path = file?.path();
                let is_tombstone = path.extension().is_some_and(|e| e == TOMBSTONE_SUFFIX);
                let person = path.file_stem().and_then(|s| Uuid::parse_str(&s.to_string_lossy()).ok());
                if let (true, Some(person)) = (is_tombstone, person) {
                    if path.with_extension(KEY_SUFFIX).exists() {
                        tracing::warn!(tenant = %tenant_id, %person, "destroying the key of an erased person again");
                        store.destroy(&tenant_id, person)?;
                    }
                }
            }
        }
        Ok(store)
    }

    /// Keys that live as long as the process: for tests and benchmarks only (a restart erases
    /// everyone).
    pub fn in_memory() -> Self {
        Self { dir: None, cache: RwLock::default(), changing: Mutex::default() }
    }

    /// The person's key state.
    pub fn state(&self, tenant: &TenantId, person: Uuid) -> io::Result<KeyState> {
        if let Some(state) =
            self.cache.read().unwrap_or_else(|p| p.into_inner()).get(tenant).and_then(|m| m.get(&person))
        {
            return Ok(state.clone());
        }
        let loaded = self.load(tenant, person)?;
        // Never over what a destruction or creation recorded meanwhile: a key read from disk
        // just before its destruction must not come back into the cache after it.
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        Ok(cache.entry(tenant.clone()).or_default().entry(person).or_insert(loaded).clone())
    }

    /// The key to seal a new event of the person with, created (durably, before any event uses
    /// it) on first use; `None` once the person is erased.
    pub fn key_for_sealing(&self, tenant: &TenantId, person: Uuid) -> io::Result<Option<DataKey>> {
        if let KeyState::Key(key) = self.state(tenant, person)? {
            return Ok(Some(key));
        }
        let _changing = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        // Under the lock the cache is authoritative: only this process changes the key store.
        let key = match self.state(tenant, person)? {
            KeyState::Key(key) => key,
            KeyState::Erased => return Ok(None),
            KeyState::Missing => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(key.as_mut());
                if let Some(path) = self.path(tenant, person, KEY_SUFFIX) {
                    write_durably(&path, key.as_ref())?;
                }
                Arc::new(key)
            }
        };
        self.remember(tenant, person, KeyState::Key(key.clone()));
        Ok(Some(key))
    }

    /// Destroys the person's key: the file is overwritten with zeros, fsynced and unlinked, a
    /// tombstone is written, and the directory is fsynced; the cached copy is dropped (and
    /// zeroed once no read still holds it). Repeating it is harmless.
    pub fn destroy(&self, tenant: &TenantId, person: Uuid) -> io::Result<()> {
        let _changing = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(key_path), Some(tombstone)) =
            (self.path(tenant, person, KEY_SUFFIX), self.path(tenant, person, TOMBSTONE_SUFFIX))
        {
            if !tombstone.exists() {
                write_durably(&tombstone, b"")?;
            }
            match OpenOptions::new().write(true).open(&key_path) {
                Ok(mut file) => {
                    file.write_all(&[0u8; 32])?;
                    file.sync_all()?;
                    drop(file);
                    fs::remove_file(&key_path)?;
                    sync_dir(key_path.parent().unwrap_or(Path::new(".")))?;
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        self.remember(tenant, person, KeyState::Erased);
        Ok(())
    }

    fn load(&self, tenant: &TenantId, person: Uuid) -> io::Result<KeyState> {
        let Some(key_path) = self.path(tenant, person, KEY_SUFFIX) else {
            // In memory, what is not cached does not exist.
            return Ok(KeyState::Missing);
        };
        if self.path(tenant, person, TOMBSTONE_SUFFIX).is_some_and(|p| p.exists()) {
            return Ok(KeyState::Erased);
        }
        match fs::read(&key_path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{} is not a 32-byte key", key_path.display()))
                })?;
                Ok(KeyState::Key(Arc::new(Zeroizing::new(key))))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(KeyState::Missing),
            Err(error) => Err(error),
        }
    }

    fn remember(&self, tenant: &TenantId, person: Uuid, state: KeyState) {
        let mut cache = self.cache.write().unwrap_or_else(|p| p.into_inner());
        cache.entry(tenant.clone()).or_default().insert(person, state);
    }

    fn path(&self, tenant: &TenantId, person: Uuid, suffix: &str) -> Option<PathBuf> {
        // Tenant ids are `[a-z0-9_-]` (checked by `TenantId::parse`): safe as a directory name.
        Some(self.dir.as_ref()?.join(tenant.as_str()).join(format!("{person}.{suffix}")))
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes a new file through a temporary name, fsyncs it, renames it into place and fsyncs the
/// directory: the file exists whole or not at all after a crash.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let temporary = path.with_extension("tmp");
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn a_key_is_created_once_survives_reopening_and_is_gone_after_destruction() {
        let dir = tempfile::tempdir().unwrap();
        let person = Uuid::now_v7();
        let store = KeyStore::open(dir.path()).unwrap();
        assert!(matches!(store.state(&acme(), person).unwrap(), KeyState::Missing));
        let key = store.key_for_sealing(&acme(), person).unwrap().unwrap();
        assert_eq!(**store.key_for_sealing(&acme(), person).unwrap().unwrap(), **key);
        let reopened = KeyStore::open(dir.path()).unwrap();
        assert!(matches!(reopened.state(&acme(), person).unwrap(), KeyState::Key(k) if **k == **key));

        reopened.destroy(&acme(), person).unwrap();
        reopened.destroy(&acme(), person).unwrap();
        let key_file = dir.path().join("acme").join(format!("{person}.key"));
        assert!(!key_file.exists());
        for store in [reopened, KeyStore::open(dir.path()).unwrap()] {
            assert!(matches!(store.state(&acme(), person).unwrap(), KeyState::Erased));
            assert!(store.key_for_sealing(&acme(), person).unwrap().is_none(), "an erased key is never recreated");
        }
        // A key restored from an old backup beside its tombstone is destroyed on opening.
        std::fs::write(&key_file, key.as_ref()).unwrap();
        let restored = KeyStore::open(dir.path()).unwrap();
        assert!(!key_file.exists());
        assert!(matches!(restored.state(&acme(), person).unwrap(), KeyState::Erased));
    }
}
