//! Events leaving the ledger: the CloudEvents shape shared by the feed, the live stream and
//! webhooks; the signal that new events are durable; and signed webhook deliveries through a
//! durable outbox kept beside the event log (never in it).
#![forbid(unsafe_code)]

pub mod cloudevent;
pub mod durable;
pub mod lifecycle;
pub mod service;
pub mod settings;
pub mod signing;
pub mod ssrf;

pub use cloudevent::{cloud_event_type, CloudEvent, TypeFilter};
pub use durable::DurableHead;
pub use service::{
    Attempt, Delivery, DeliveryCounters, DeliveryStatus, NewSubscription, SigningSecret, Subscription, WebhookError,
    Webhooks,
};
pub use settings::WebhookSettings;
