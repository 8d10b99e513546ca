//! Crypto-shredding: personal fields are sealed (XChaCha20-Poly1305 with the person's data key)
//! before they reach the log, and revealed in ONE place on the way out.
//!
//! The write side seals every append that goes through [`SealingStore`]; the log, its hash chain,
//! checkpoints and backups therefore only ever hold ciphertext. The read side reveals in
//! [`KeyStore::reveal`], which [`SealingStore`]'s reads (every read of the [`crate::Ledger`]:
//! records, registers as of a point, histories, the audit trail, the feed, changes) and the live
//! projections (commit listener and start-up rebuild) call. A sealed value whose key is gone
//! reads `[erased]`.
//!
//! The associated data binds tenant, person and field, so a ciphertext copied to another
//! person, tenant or field does not open.

use std::io;
use std::sync::Arc;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use isms_domain::personal::{personal_fields, ERASED};
use isms_projections::personal::{visit_personal_values, Sealed};
use isms_store::{
    AppendError, AppendRequest, Appended, BoxFuture, ChainHead, Envelope, EventStore, IdempotencyRecord, NewEvent,
    Position, StoreError, StreamRef, TenantId, VerifiedMark,
};
use rand::RngCore;
use serde_json::Value;
use uuid::Uuid;

use crate::keys::{KeyState, KeyStore};

const NONCE_BYTES: usize = 24;
/// Versioned, so a later scheme can tell its ciphertexts apart.
const AAD_CONTEXT: &[u8] = b"isms-ledger personal field v1";

fn associated_data(tenant: &TenantId, person: &str, pointer: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_CONTEXT.len() + tenant.as_str().len() + person.len() + pointer.len() + 3);
    for part in [AAD_CONTEXT, tenant.as_str().as_bytes(), person.as_bytes(), pointer.as_bytes()] {
        aad.extend_from_slice(part);
        aad.push(0);
    }
    aad
}

/// `base64(nonce || ciphertext)` of `plaintext` under `key`, bound to tenant, person and field.
pub(crate) fn seal_text(key: &[u8; 32], tenant: &TenantId, person: &str, pointer: &str, plaintext: &str) -> String {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = associated_data(tenant, person, pointer);
    let ciphertext = XChaCha20Poly1305::new(&Key::from(*key))
        .encrypt(&XNonce::from(nonce), Payload { msg: plaintext.as_bytes(), aad: &aad })
        .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    base64::engine::general_purpose::STANDARD.encode(sealed)
}

/// The plaintext of a sealed value; `None` when it does not open with this key and binding.
pub(crate) fn open_text(
    key: &[u8; 32],
    tenant: &TenantId,
    person: &str,
    pointer: &str,
    sealed: &str,
) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
    let (nonce, ciphertext) = bytes.split_at_checked(NONCE_BYTES)?;
    let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
    let aad = associated_data(tenant, person, pointer);
    let plaintext = XChaCha20Poly1305::new(&Key::from(*key))
        .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad })
        .ok()?;
    String::from_utf8(plaintext).ok()
}

impl KeyStore {
    /// Seals the personal values of events about to be appended to `stream` (whose id names
    /// the person). Values already sealed are left as they are. Once the person is erased,
    /// personal values are written as `[erased]`, never in plaintext.
    pub fn seal_events(&self, tenant: &TenantId, stream: &StreamRef, events: &mut [NewEvent]) -> io::Result<()> {
        if personal_fields(&stream.stream_type).is_empty() {
            return Ok(());
        }
        let person = Uuid::parse_str(&stream.stream_id).map_err(|error| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("a stream with personal data needs a UUID id: {error}"))
        })?;
        let key = self.key_for_sealing(tenant, person)?;
        let person = person.to_string();
        for event in events {
            visit_personal_values(&stream.stream_type, &mut event.data, &mut |pointer, value| {
                let Value::String(text) = value else { return };
                *value = match &key {
                    Some(key) => Sealed::to_value(seal_text(key, tenant, &person, pointer, text), &person),
                    None => Value::String(ERASED.into()),
                };
            });
        }
        Ok(())
    }

    /// Replaces the envelope's sealed personal values with their plaintext, or `[erased]` when
    /// the key is gone; plaintext written before sealing existed reads `[erased]` once its
    /// person is erased. Every read of personal data goes through here.
    pub fn reveal(&self, envelope: &mut Envelope) {
        if personal_fields(&envelope.stream_type).is_empty() {
            return;
        }
        let tenant = &envelope.tenant;
        let subject = Uuid::parse_str(&envelope.stream_id).ok();
        visit_personal_values(&envelope.stream_type, &mut envelope.data, &mut |pointer, value| {
            let revealed = match Sealed::of(value) {
                Some(sealed) => self.open_sealed(tenant, sealed, pointer),
                None if subject.is_some_and(|person| matches!(self.known(tenant, person), KeyState::Erased)) => {
                    ERASED.to_owned()
                }
                None => return,
            };
            *value = Value::String(revealed);
        });
    }

    fn open_sealed(&self, tenant: &TenantId, sealed: Sealed<'_>, pointer: &str) -> String {
        let Ok(person) = Uuid::parse_str(sealed.key) else { return ERASED.into() };
        match self.known(tenant, person) {
            KeyState::Key(key) => open_text(&key, tenant, sealed.key, pointer, sealed.sealed).unwrap_or_else(|| {
                // The chain vouches for the stored bytes, so this is a key that does not belong
                // to the value (a restored key store of another installation, say).
                tracing::error!(%tenant, %person, pointer, "a sealed personal value does not open with its key");
                ERASED.into()
            }),
            KeyState::Erased | KeyState::Missing => ERASED.into(),
        }
    }

    /// The key state for reading; a key store that cannot be read hides the values (and says so
    /// in the log) rather than failing every read.
    fn known(&self, tenant: &TenantId, person: Uuid) -> KeyState {
        self.state(tenant, person).unwrap_or_else(|error| {
            tracing::error!(%tenant, %person, %error, "cannot read a personal data key; its values read [erased]");
            KeyState::Missing
        })
    }
}

/// The log as the application sees it: appends are sealed on the way in, reads revealed on the
/// way out. Everything else passes through unchanged.
pub(crate) struct SealingStore {
    pub(crate) inner: Arc<dyn EventStore>,
    pub(crate) keys: Arc<KeyStore>,
}

impl SealingStore {
    fn revealed(&self, mut events: Vec<Envelope>) -> Vec<Envelope> {
        events.iter_mut().for_each(|envelope| self.keys.reveal(envelope));
        events
    }
}

impl EventStore for SealingStore {
    fn append(&self, mut request: AppendRequest) -> BoxFuture<Result<Appended, AppendError>> {
        if let Err(error) = self.keys.seal_events(&request.tenant, &request.stream, &mut request.events) {
            let error = StoreError::Io(format!("cannot seal personal data: {error}"));
            return Box::pin(async move { Err(AppendError::Store(error)) });
        }
        let appending = self.inner.append(request);
        let keys = self.keys.clone();
        Box::pin(async move {
            let mut appended = appending.await?;
            appended.envelopes.iter_mut().for_each(|envelope| keys.reveal(envelope));
            Ok(appended)
        })
    }

    fn read_stream(
        &self,
        tenant: &TenantId,
        stream: &StreamRef,
        up_to: Option<Position>,
    ) -> Result<Vec<Envelope>, StoreError> {
        Ok(self.revealed(self.inner.read_stream(tenant, stream, up_to)?))
    }

    fn read_all(&self, tenant: &TenantId, after: Position, limit: usize) -> Result<Vec<Envelope>, StoreError> {
        Ok(self.revealed(self.inner.read_all(tenant, after, limit)?))
    }

    fn position_at(&self, tenant: &TenantId, at: chrono::DateTime<chrono::Utc>) -> Result<Position, StoreError> {
        self.inner.position_at(tenant, at)
    }

    fn head(&self, tenant: &TenantId) -> Result<ChainHead, StoreError> {
        self.inner.head(tenant)
    }

    fn idempotency(&self, tenant: &TenantId, actor: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency(tenant, actor, key)
    }

    fn verified(&self, tenant: &TenantId) -> Result<Option<VerifiedMark>, StoreError> {
        self.inner.verified(tenant)
    }

    fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.inner.tenants()
    }

    fn failure(&self) -> Option<String> {
        self.inner.failure()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn acme() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    #[test]
    fn a_sealed_text_opens_only_with_its_key_tenant_person_and_field() {
        let key = [7u8; 32];
        let sealed = seal_text(&key, &acme(), "p1", "/display_name", "Zebedee Quux");
        assert_eq!(open_text(&key, &acme(), "p1", "/display_name", &sealed).as_deref(), Some("Zebedee Quux"));
        assert_ne!(sealed, seal_text(&key, &acme(), "p1", "/display_name", "Zebedee Quux"), "fresh nonce each time");
        assert_eq!(open_text(&[8u8; 32], &acme(), "p1", "/display_name", &sealed), None);
        assert_eq!(open_text(&key, &TenantId::parse("globex").unwrap(), "p1", "/display_name", &sealed), None);
        assert_eq!(open_text(&key, &acme(), "p2", "/display_name", &sealed), None);
        assert_eq!(open_text(&key, &acme(), "p1", "/email", &sealed), None);
        assert_eq!(open_text(&key, &acme(), "p1", "/display_name", "AAAA"), None);
    }

    fn envelope(person: Uuid, data: Value) -> Envelope {
        serde_json::from_value(json!({
            "position": 1, "stream_type": "person", "stream_id": person.to_string(), "version": 1,
            "event_id": Uuid::now_v7(), "event_type": "PersonJoined", "schema_version": 1, "data": data,
            "recorded_at": "2026-01-01T00:00:00Z", "tenant": "acme", "actor": "alice",
            "correlation_id": Uuid::now_v7(), "causation_id": null, "idempotency_key": null,
            "prev_hash": "0", "hash": "0"
        }))
        .unwrap()
    }

    #[test]
    fn sealed_fields_reveal_until_the_key_is_destroyed_then_read_erased() {
        let keys = KeyStore::in_memory();
        let person = Uuid::now_v7();
        let stream = StreamRef::new("person", person.to_string());
        let data = json!({"user_name": "zq", "display_name": "Zebedee Quux", "email": null, "department": "dev"});
        let mut events = vec![NewEvent {
            event_type: "PersonJoined".into(),
            schema_version: 1,
            data: data.clone(),
            effective_at: None,
        }];
        keys.seal_events(&acme(), &stream, &mut events).unwrap();
        let stored = events[0].data.to_string();
        assert!(!stored.contains("Zebedee") && !stored.contains("\"zq\"") && stored.contains("\"dev\""), "{stored}");

        let mut read = envelope(person, events[0].data.clone());
        keys.reveal(&mut read);
        assert_eq!(read.data, data);

        keys.destroy(&acme(), person).unwrap();
        let mut read = envelope(person, events[0].data.clone());
        keys.reveal(&mut read);
        assert_eq!(read.data, json!({"user_name": ERASED, "display_name": ERASED, "email": null, "department": "dev"}));
        // A missing key (never created here) reads the same as a destroyed one.
        let mut foreign = envelope(Uuid::now_v7(), events[0].data.clone());
        KeyStore::in_memory().reveal(&mut foreign);
        assert_eq!(foreign.data["display_name"], ERASED);
        // Plaintext from before sealing existed is hidden once its person is erased.
        let mut legacy = envelope(person, data.clone());
        keys.reveal(&mut legacy);
        assert_eq!(legacy.data["display_name"], ERASED);
        // And new events of an erased person never carry the plaintext.
        let mut late =
            vec![NewEvent { event_type: "PersonChanged".into(), schema_version: 1, data, effective_at: None }];
        keys.seal_events(&acme(), &stream, &mut late).unwrap();
        assert_eq!(late[0].data["display_name"], ERASED);
    }

    #[test]
    fn a_ciphertext_moved_to_another_person_does_not_open() {
        let keys = KeyStore::in_memory();
        let (victim, other) = (Uuid::now_v7(), Uuid::now_v7());
        let mut events = vec![NewEvent {
            event_type: "PersonJoined".into(),
            schema_version: 1,
            data: json!({"display_name": "Zebedee Quux"}),
            effective_at: None,
        }];
        keys.seal_events(&acme(), &StreamRef::new("person", victim.to_string()), &mut events).unwrap();
        keys.key_for_sealing(&acme(), other).unwrap();
        let mut moved = events[0].data.clone();
        moved["display_name"]["key"] = json!(other.to_string());
        let mut read = envelope(other, moved);
        keys.reveal(&mut read);
        assert_eq!(read.data["display_name"], ERASED);
    }
}
