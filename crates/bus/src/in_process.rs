//! The in-process bus: topics and exchanges are maps of channels inside this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::{Bus, BusError, Consumer, Delivery, Message};

const QUEUE_DEPTH: usize = 1024;

#[derive(Default)]
struct Topic {
    consumers: Vec<mpsc::Sender<Delivery>>,
    next: usize,
}

/// A bus whose producers and consumers all live in this process.
#[derive(Default)]
pub struct InProcessBus {
    topics: Mutex<HashMap<String, Topic>>,
    exchanges: Mutex<HashMap<String, Vec<mpsc::Sender<Delivery>>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Picks the next live consumer of a topic, dropping the ones that went away.
    fn pick(&self, topic: &str) -> Result<mpsc::Sender<Delivery>, BusError> {
        let mut topics = self.topics.lock().map_err(|_| BusError::Closed)?;
        let t = topics.get_mut(topic).ok_or_else(|| BusError::NoConsumer(topic.to_string()))?;
        t.consumers.retain(|c| !c.is_closed());
        if t.consumers.is_empty() {
            return Err(BusError::NoConsumer(topic.to_string()));
        }
        t.next = (t.next + 1) % t.consumers.len();
        Ok(t.consumers[t.next].clone())
    }
}

#[async_trait::async_trait]
impl Bus for InProcessBus {
    async fn cast(&self, topic: &str, message: Message) -> Result<(), BusError> {
        let tx = self.pick(topic)?;
        tx.send(Delivery { message, reply: None }).await.map_err(|_| BusError::NoConsumer(topic.to_string()))
    }

    async fn call(&self, topic: &str, message: Message, timeout: Duration) -> Result<serde_json::Value, BusError> {
        let tx = self.pick(topic)?;
        let method = message.method.clone();
        let (reply_tx, reply_rx) = oneshot::channel();
        tx.send(Delivery { message, reply: Some(reply_tx) }).await.map_err(|_| BusError::NoConsumer(topic.to_string()))?;
        match tokio::time::timeout(timeout, reply_rx).await {
            Err(_) => Err(BusError::Timeout { topic: topic.to_string(), method, timeout }),
            Ok(Err(_)) => Err(BusError::Remote { topic: topic.to_string(), method, message: "consumer dropped the request".into() }),
            Ok(Ok(Err(message))) => Err(BusError::Remote { topic: topic.to_string(), method, message }),
            Ok(Ok(Ok(v))) => Ok(v),
        }
    }

    async fn fanout(&self, exchange: &str, message: Message) -> Result<(), BusError> {
        let subscribers: Vec<_> = {
            let mut ex = self.exchanges.lock().map_err(|_| BusError::Closed)?;
            let subs = ex.entry(exchange.to_string()).or_default();
            subs.retain(|s| !s.is_closed());
            subs.clone()
        };
        for s in subscribers {
            // A slow subscriber must not block the publisher: notifications are best-effort.
            if s.try_send(Delivery { message: message.clone(), reply: None }).is_err() {
                tracing::warn!(exchange, "dropped a fanout message for a full or closed subscriber");
            }
        }
        Ok(())
    }

    async fn consume(&self, topic: &str) -> Result<Consumer, BusError> {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        self.topics.lock().map_err(|_| BusError::Closed)?.entry(topic.to_string()).or_default().consumers.push(tx);
        Ok(Consumer { rx })
    }

    async fn subscribe(&self, exchange: &str) -> Result<Consumer, BusError> {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        self.exchanges.lock().map_err(|_| BusError::Closed)?.entry(exchange.to_string()).or_default().push(tx);
        Ok(Consumer { rx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn cast_call_fanout() {
        let bus = InProcessBus::new();
        assert!(matches!(bus.cast("compute.h1", Message::new("x", json!({}))).await, Err(BusError::NoConsumer(_))));
        let mut c = bus.consume("compute.h1").await.unwrap();
        tokio::spawn(async move {
            while let Some(d) = c.next().await {
                let n = d.message.args["n"].as_i64().unwrap_or(0);
                if d.message.method == "fail" {
                    d.reply(Err("boom".into()));
                } else {
                    d.reply(Ok(json!({"n": n + 1})));
                }
            }
        });
        let r = bus.call("compute.h1", Message::new("inc", json!({"n": 41})), Duration::from_secs(1)).await.unwrap();
        assert_eq!(r["n"], 42);
        assert!(matches!(
            bus.call("compute.h1", Message::new("fail", json!({})), Duration::from_secs(1)).await,
            Err(BusError::Remote { .. })
        ));
        bus.cast("compute.h1", Message::new("inc", json!({}))).await.unwrap();

        let mut s1 = bus.subscribe("notifications").await.unwrap();
        let mut s2 = bus.subscribe("notifications").await.unwrap();
        bus.fanout("notifications", Message::new("port.update", json!({"id": "p"}))).await.unwrap();
        assert_eq!(s1.next().await.unwrap().message.method, "port.update");
        assert_eq!(s2.next().await.unwrap().message.method, "port.update");
    }

    #[tokio::test]
    async fn call_times_out() {
        let bus = InProcessBus::new();
        let _c = bus.consume("slow").await.unwrap();
        let r = bus.call("slow", Message::new("x", json!({})), Duration::from_millis(20)).await;
        assert!(matches!(r, Err(BusError::Timeout { .. })));
    }
}
