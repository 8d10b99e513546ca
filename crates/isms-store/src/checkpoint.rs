//! Signed checkpoints: the service's signed statement that a tenant's log had, at one position,
//! this chain head and this Merkle tree head. An auditor who keeps one can later prove, with a
//! consistency proof, that the log they see now extends it without any event rewritten.
//!
//! The signature is Ed25519 over the canonical JSON (keys sorted, no whitespace) of the
//! checkpoint without `signature` and `key_id`, so anyone can check it with the public key and a
//! JSON library, and a signed checkpoint is also a self-describing JSON document.

use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical_json;
use crate::merkle::Hash;
use crate::Position;

/// What a checkpoint states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointBody {
    pub tenant: String,
    /// The checkpoint covers the events at positions 1 to `position`.
    pub position: Position,
    /// The `hash` of the event at `position` (64 zeros for an empty log).
    pub chain_head: String,
    /// RFC 6962 tree head (hex) over the event hashes at positions 1 to `position`.
    pub merkle_root: String,
    /// When the checkpoint was signed.
    pub recorded_at: DateTime<Utc>,
}

/// A checkpoint with its signature and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCheckpoint {
    #[serde(flatten)]
    pub body: CheckpointBody,
    /// `sha256:` and the hex SHA-256 of the 32-byte public key.
    pub key_id: String,
    /// Base64 (standard, padded) of the 64-byte Ed25519 signature.
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint was signed by key {found}, not by {expected}")]
    WrongKey { expected: String, found: String },
    #[error("the checkpoint's signature is not valid base64 Ed25519")]
    MalformedSignature,
    #[error("the checkpoint's signature does not match its content")]
    BadSignature,
}

/// The id of a public key, as checkpoints name it.
pub fn key_id(key: &VerifyingKey) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// The hex form of a Merkle tree head, as checkpoints carry it.
pub fn hex_hash(hash: &Hash) -> String {
    hex::encode(hash)
}

impl CheckpointBody {
    /// The bytes that are signed.
    pub fn signing_bytes(&self) -> Vec<u8> {
        canonical_json(&serde_json::to_value(self).expect("a checkpoint serializes"))
    }

    pub fn sign(self, key: &SigningKey) -> SignedCheckpoint {
        let signature = key.sign(&self.signing_bytes());
        SignedCheckpoint {
            key_id: key_id(&key.verifying_key()),
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
            body: self,
        }
    }
}

impl SignedCheckpoint {
    /// Checks the signature with `key`; the checkpoint must name that key.
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), CheckpointError> {
        let expected = key_id(key);
        if self.key_id != expected {
            return Err(CheckpointError::WrongKey { expected, found: self.key_id.clone() });
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.signature)
            .map_err(|_| CheckpointError::MalformedSignature)?;
        let signature = Signature::from_slice(&bytes).map_err(|_| CheckpointError::MalformedSignature)?;
        key.verify(&self.body.signing_bytes(), &signature).map_err(|_| CheckpointError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> CheckpointBody {
        CheckpointBody {
            tenant: "acme".into(),
            position: 3,
            chain_head: "ab".repeat(32),
            merkle_root: "cd".repeat(32),
            recorded_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let signed = body().sign(&key);
        assert_eq!(signed.verify(&key.verifying_key()), Ok(()));
        let json = serde_json::to_value(&signed).unwrap();
        assert_eq!(json["position"], 3, "the body is flat in the JSON");
        let mut moved = signed.clone();
        moved.body.position = 4;
        assert_eq!(moved.verify(&key.verifying_key()), Err(CheckpointError::BadSignature));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(signed.verify(&other.verifying_key()), Err(CheckpointError::WrongKey { .. })));
        let round_trip: SignedCheckpoint = serde_json::from_value(json).unwrap();
        assert_eq!(round_trip.verify(&key.verifying_key()), Ok(()));
    }
}
