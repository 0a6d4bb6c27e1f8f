//! The message bus services use to talk to their agents, as oslo.messaging does for OpenStack:
//! `cast` (one-way, to one consumer of a topic, round-robin), `call` (request/reply with a
//! timeout) and `fanout` (to every subscriber, for notifications). [`Bus`] is the trait; the
//! in-process implementation here is the all-in-one's default, and an AMQP (RabbitMQ)
//! implementation fills the same trait for multi-node deployments.

mod in_process;

use std::time::Duration;

pub use in_process::InProcessBus;

/// A message on the bus: a method name, its arguments and the caller's request context.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub method: String,
    pub args: serde_json::Value,
    #[serde(default)]
    pub context: serde_json::Value,
}

impl Message {
    pub fn new(method: impl Into<String>, args: serde_json::Value) -> Self {
        Self { method: method.into(), args, context: serde_json::Value::Null }
    }
}

/// Errors a bus operation can end in.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("no consumer is listening on topic '{0}'")]
    NoConsumer(String),
    #[error("timed out after {timeout:?} waiting for a reply to '{method}' on topic '{topic}'")]
    Timeout { topic: String, method: String, timeout: Duration },
    #[error("the consumer on topic '{topic}' failed '{method}': {message}")]
    Remote { topic: String, method: String, message: String },
    #[error("the bus is closed")]
    Closed,
}

/// A delivered message; for a `call`, answer it with [`Delivery::reply`].
pub struct Delivery {
    pub message: Message,
    reply: Option<tokio::sync::oneshot::Sender<Result<serde_json::Value, String>>>,
}

impl Delivery {
    /// Sends the result of a `call` back to the caller (a no-op for casts and fanouts).
    pub fn reply(self, result: Result<serde_json::Value, String>) {
        if let Some(tx) = self.reply {
            let _ = tx.send(result);
        }
    }

    pub fn expects_reply(&self) -> bool {
        self.reply.is_some()
    }
}

/// A stream of deliveries for a topic or a fanout exchange.
pub struct Consumer {
    rx: tokio::sync::mpsc::Receiver<Delivery>,
}

impl Consumer {
    /// The next delivery, or `None` once the bus is gone.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }
}

/// The bus contract every implementation keeps.
#[async_trait::async_trait]
pub trait Bus: Send + Sync {
    /// One-way message to one consumer of `topic` (e.g. `compute.<host>`).
    async fn cast(&self, topic: &str, message: Message) -> Result<(), BusError>;
    /// Request/reply with one consumer of `topic`.
    async fn call(&self, topic: &str, message: Message, timeout: Duration) -> Result<serde_json::Value, BusError>;
    /// One-way message to every consumer subscribed to `exchange`.
    async fn fanout(&self, exchange: &str, message: Message) -> Result<(), BusError>;
    /// Becomes one of the consumers of `topic` (messages are shared round-robin among them).
    async fn consume(&self, topic: &str) -> Result<Consumer, BusError>;
    /// Subscribes to every fanout on `exchange`.
    async fn subscribe(&self, exchange: &str) -> Result<Consumer, BusError>;
}
