//! Subscription changes as events in the log: who sent the tenant's events where, and since
//! when, is itself audit evidence (a new webhook is a new flow of information out of the ISMS).
//! The events carry no secret and not the full URL (its path or query may hold a token): only
//! the target's scheme, host and port. The log can never be erased; the webhook tree can.

use chrono::{DateTime, Utc};
use isms_store::{AppendRequest, CommandMeta, EventStore, ExpectedVersion, NewEvent, StreamRef, TenantId};
use serde_json::json;
use uuid::Uuid;

/// Not a register: the projections skip this stream type.
pub const STREAM_TYPE: &str = "webhook_subscription";
/// The actor of changes the server makes itself (deactivation after `410 Gone`).
pub const SYSTEM_ACTOR: &str = "isms-webhooks";

/// A subscription change, as recorded.
#[derive(Debug, Clone)]
pub enum Change {
    Created { url: String, event_types: Vec<String>, active: bool },
    Activated,
    Deactivated { reason: Option<String> },
    SecretRotated { previous_valid_until: DateTime<Utc> },
    Deleted,
}

/// `https://hooks.example.com:8443` of a URL: no user, path or query.
fn target(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}", url.scheme(), url.host_str().unwrap_or_default())
        }
        Err(_) => String::new(),
    }
}

impl Change {
    fn event(&self) -> NewEvent {
        let (event_type, data) = match self {
            Self::Created { url, event_types, active } => (
                "WebhookSubscriptionCreated",
                json!({"target": target(url), "event_types": event_types, "active": active}),
            ),
            Self::Activated => ("WebhookSubscriptionActivated", json!({})),
            Self::Deactivated { reason } => ("WebhookSubscriptionDeactivated", json!({"reason": reason})),
            Self::SecretRotated { previous_valid_until } => {
                ("WebhookSubscriptionSecretRotated", json!({"previous_secrets_valid_until": previous_valid_until}))
            }
            Self::Deleted => ("WebhookSubscriptionDeleted", json!({})),
        };
        NewEvent { event_type: event_type.to_owned(), schema_version: 1, data, effective_at: None }
    }
}

/// Appends the change to the subscription's stream; resolves once it is durable.
pub async fn record(
    store: &dyn EventStore,
    tenant: &TenantId,
    subscription: Uuid,
    actor: &str,
    correlation_id: Uuid,
    change: Change,
) -> Result<(), String> {
    let request = AppendRequest {
        tenant: tenant.clone(),
        stream: StreamRef::new(STREAM_TYPE, subscription.to_string()),
        expected: ExpectedVersion::Any,
        events: vec![change.event()],
        meta: CommandMeta {
            actor: actor.to_owned(),
            correlation_id,
            causation_id: None,
            idempotency: None,
            source: None,
        },
    };
    store.append(request).await.map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_target_drops_credentials_path_and_query() {
        assert_eq!(target("https://user:pw@hooks.example.com:8443/t/SECRET?key=1"), "https://hooks.example.com:8443");
        assert_eq!(target("http://[::1]/hook"), "http://[::1]");
    }
}
