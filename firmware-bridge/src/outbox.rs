//! What the bridge has to say over MQTT, held until the broker has it.
//!
//! QoS 1 messages (events, replies, status) stay here until their PUBACK
//! arrives; if the connection drops first they go back to the front of the
//! queue, in their original order, and are sent again after reconnecting.
//! rumqttc cannot do this for us: with a clean session it discards its own
//! unacknowledged packets on reconnect. Duplicates are possible and allowed
//! (events and replies carry ids the dispatcher de-duplicates on).
//!
//! The queue is in memory and bounded; when full, the oldest message is
//! dropped and counted. Persisting it on disk, so that a bridge restart
//! during a broker outage loses nothing, is planned with the storage work.

use std::collections::{HashMap, VecDeque};

use rumqttc::QoS;
use wire::{CommandReply, Event, Telemetry};

/// What other parts of the bridge hand to the MQTT session.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Event(Event),
    Reply(CommandReply),
    Telemetry(Telemetry),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Status,
    Event,
    Reply,
    Telemetry,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Position in the order messages were queued; restores it on requeue.
    order: u64,
    pub kind: Kind,
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
}

/// Telemetry is only worth sending while fresh: behind a backlog this long
/// it is dropped (the next sample replaces it).
const TELEMETRY_BACKLOG_LIMIT: usize = 64;

#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    next_order: u64,
    queue: VecDeque<Message>,
    /// Given to the MQTT client, waiting for its packet id (rumqttc reports
    /// `Outgoing::Publish(pkid)` in the order publishes were handed over).
    handed: VecDeque<Message>,
    /// Sent with QoS 1, waiting for PUBACK.
    unacked: HashMap<u16, Message>,
    /// rumqttc held a publish back on a packet-id collision and will report
    /// it again when it finally sends it.
    collided_pkid: Option<u16>,
    dropped_total: u64,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Outbox {
            capacity: capacity.max(1),
            next_order: 0,
            queue: VecDeque::new(),
            handed: VecDeque::new(),
            unacked: HashMap::new(),
            collided_pkid: None,
            dropped_total: 0,
        }
    }

    fn message(
        &mut self,
        kind: Kind,
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
    ) -> Message {
        self.next_order += 1;
        Message {
            order: self.next_order,
            kind,
            topic,
            payload,
            qos,
            retain,
        }
    }

    /// Queues an event or a reply (QoS 1, in order).
    pub fn push(&mut self, kind: Kind, topic: String, payload: Vec<u8>) {
        let message = self.message(kind, topic, payload, QoS::AtLeastOnce, false);
        if self.queue.len() >= self.capacity {
            if let Some(dropped) = self.queue.pop_front() {
                self.dropped_total += 1;
                tracing::warn!(
                    topic = %dropped.topic,
                    dropped_total = self.dropped_total,
                    capacity = self.capacity,
                    "MQTT outbox full; dropped its oldest message"
                );
            }
        }
        self.queue.push_back(message);
    }

    /// Queues a telemetry sample (QoS 0) unless a backlog makes it stale.
    pub fn push_telemetry(&mut self, topic: String, payload: Vec<u8>) -> bool {
        if self.queue.len() >= TELEMETRY_BACKLOG_LIMIT {
            return false;
        }
        let message = self.message(Kind::Telemetry, topic, payload, QoS::AtMostOnce, false);
        self.queue.push_back(message);
        true
    }

    /// Queues a retained status ahead of everything else, replacing any
    /// status not yet sent: only the newest status matters.
    pub fn push_status(&mut self, topic: String, payload: Vec<u8>) {
        self.queue.retain(|message| message.kind != Kind::Status);
        let message = self.message(Kind::Status, topic, payload, QoS::AtLeastOnce, true);
        self.queue.push_front(message);
    }

    /// Queues the last status of a session (`offline`) behind everything
    /// else, so queued events and replies are delivered before it.
    pub fn push_final_status(&mut self, topic: String, payload: Vec<u8>) {
        self.queue.retain(|message| message.kind != Kind::Status);
        let message = self.message(Kind::Status, topic, payload, QoS::AtLeastOnce, true);
        self.queue.push_back(message);
    }

    /// The next message to hand to the client.
    pub fn pop_ready(&mut self) -> Option<Message> {
        self.queue.pop_front()
    }

    /// The client refused it (its channel is full): keep it first in line.
    pub fn unpop(&mut self, message: Message) {
        self.queue.push_front(message);
    }

    /// The client took it.
    pub fn handed(&mut self, message: Message) {
        self.handed.push_back(message);
    }

    /// rumqttc wrote a publish to the network with this packet id.
    pub fn on_sent(&mut self, pkid: u16) {
        if self.collided_pkid == Some(pkid) {
            // The held-back publish finally went out; it is already tracked.
            self.collided_pkid = None;
            return;
        }
        let Some(message) = self.handed.pop_front() else {
            return;
        };
        if message.qos != QoS::AtMostOnce {
            self.unacked.insert(pkid, message);
        }
    }

    /// rumqttc held a publish back because `pkid` was still in flight.
    pub fn on_held_back(&mut self, pkid: u16) {
        if let Some(message) = self.handed.pop_front() {
            self.unacked.insert(pkid, message);
            self.collided_pkid = Some(pkid);
        }
    }

    /// The broker has it. Returns the kind of message acknowledged.
    pub fn on_acked(&mut self, pkid: u16) -> Option<Kind> {
        self.unacked.remove(&pkid).map(|message| message.kind)
    }

    /// The connection dropped: everything not acknowledged goes back to the
    /// front of the queue in its original order. Telemetry is stale by the
    /// time we reconnect, and status is re-published fresh on connect.
    pub fn on_disconnected(&mut self) {
        let mut unconfirmed: Vec<Message> = self
            .handed
            .drain(..)
            .chain(self.unacked.drain().map(|(_, message)| message))
            .filter(|message| matches!(message.kind, Kind::Event | Kind::Reply))
            .collect();
        unconfirmed.sort_by_key(|message| message.order);
        for message in unconfirmed.into_iter().rev() {
            self.queue.push_front(message);
        }
        self.queue.retain(|message| message.kind != Kind::Telemetry);
        self.collided_pkid = None;
        while self.queue.len() > self.capacity {
            self.queue.pop_front();
            self.dropped_total += 1;
        }
    }

    /// Messages handed to the client and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.handed.len() + self.unacked.len()
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped_total
    }

    /// Whether a message of this kind is still waiting or unacknowledged.
    pub fn holds(&self, kind: Kind) -> bool {
        self.queue.iter().any(|m| m.kind == kind)
            || self.handed.iter().any(|m| m.kind == kind)
            || self.unacked.values().any(|m| m.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(outbox: &mut Outbox) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(message) = outbox.pop_ready() {
            out.push(String::from_utf8(message.payload).unwrap());
        }
        out
    }

    fn event(outbox: &mut Outbox, text: &str) {
        outbox.push(Kind::Event, "t/events".into(), text.as_bytes().to_vec());
    }

    #[test]
    fn full_outbox_drops_the_oldest_and_counts_it() {
        let mut outbox = Outbox::new(3);
        for text in ["e1", "e2", "e3", "e4"] {
            event(&mut outbox, text);
        }
        assert_eq!(outbox.dropped_total(), 1);
        assert_eq!(payloads(&mut outbox), ["e2", "e3", "e4"]);
    }

    #[test]
    fn unacknowledged_messages_return_in_order_after_a_disconnect() {
        let mut outbox = Outbox::new(100);
        for text in ["e1", "e2", "e3", "e4"] {
            event(&mut outbox, text);
        }
        // e1 acked, e2 sent but not acked, e3 handed but not sent, e4 queued.
        for pkid in 1..=3 {
            let message = outbox.pop_ready().unwrap();
            outbox.handed(message);
            if pkid < 3 {
                outbox.on_sent(pkid);
            }
        }
        assert_eq!(outbox.on_acked(1), Some(Kind::Event));
        assert_eq!(outbox.in_flight(), 2);
        outbox.on_disconnected();
        assert_eq!(outbox.in_flight(), 0);
        assert_eq!(payloads(&mut outbox), ["e2", "e3", "e4"]);
    }

    #[test]
    fn status_goes_first_and_replaces_an_unsent_status() {
        let mut outbox = Outbox::new(10);
        event(&mut outbox, "e1");
        outbox.push_status("t/status".into(), b"old".to_vec());
        outbox.push_status("t/status".into(), b"new".to_vec());
        assert_eq!(payloads(&mut outbox), ["new", "e1"]);
    }

    #[test]
    fn telemetry_is_not_kept_across_a_disconnect() {
        let mut outbox = Outbox::new(10);
        assert!(outbox.push_telemetry("t/telemetry".into(), b"t1".to_vec()));
        event(&mut outbox, "e1");
        let telemetry = outbox.pop_ready().unwrap();
        outbox.handed(telemetry);
        outbox.on_sent(0);
        assert_eq!(outbox.in_flight(), 0, "QoS 0 needs no ack");
        assert!(outbox.push_telemetry("t/telemetry".into(), b"t2".to_vec()));
        outbox.on_disconnected();
        assert_eq!(payloads(&mut outbox), ["e1"]);
    }
}
