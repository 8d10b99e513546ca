//! A signal for "new events became durable", for the live stream and the webhook dispatcher.
//!
//! The writer already hands every durable batch to one [`CommitListener`] (the projections)
//! before it acknowledges anything. Wrapping that listener adds the signal without touching
//! the writer: the waiters re-read the store, which never serves past the durable head.

use std::sync::Arc;

use isms_store::{CommitListener, Envelope};
use tokio::sync::watch;

pub struct DurableHead {
    inner: Arc<dyn CommitListener>,
    /// How many events became durable since start; only its changes matter.
    published: watch::Sender<u64>,
    /// Set when the server is stopping: live streams end, so graceful shutdown is not held up
    /// by consumers that never hang up (they reconnect and resume elsewhere or later).
    closing: watch::Sender<bool>,
}

impl DurableHead {
    pub fn new(inner: Arc<dyn CommitListener>) -> Arc<Self> {
        Arc::new(Self { inner, published: watch::Sender::new(0), closing: watch::Sender::new(false) })
    }

    /// Ends every live stream (at shutdown).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// A receiver that wakes when events of any tenant became durable.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.published.subscribe()
    }
}

impl CommitListener for DurableHead {
    fn committed(&self, events: &[Envelope]) {
        self.inner.committed(events);
        // send_modify notifies even with no receiver, and never blocks the writer.
        self.published.send_modify(|count| *count += events.len() as u64);
    }
}
