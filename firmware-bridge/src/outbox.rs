//! What the bridge has to say over MQTT, held until the broker has it.
//!
//! QoS 1 messages (events, replies, status) stay here until their PUBACK
//! arrives; if the connection drops first they go back to the front of the
//! queue, in their original order, and are sent again after reconnecting.
//! rumqttc cannot do this for us: with a clean session it discards its own
//! unacknowledged packets on reconnect. Duplicates are possible and allowed
//! (events and replies carry ids the dispatcher de-duplicates on).
//!
//! The queue is bounded; when full, the oldest message is dropped and
//! counted. With a [`Spool`] every event and reply is also written to disk
//! when queued and marked done when acknowledged (or dropped), so a bridge
//! restart during a broker outage loses nothing: the next run queues the
//! undelivered ones again, in order, with their ids.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use crate::spool::{Spool, SpoolError, SpooledKind};

use rumqttc::QoS;
use wire::{CommandReply, Event, Telemetry};

/// What other parts of the bridge hand to the MQTT session.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Event(Event),
    Reply(CommandReply),
    Telemetry(Telemetry),
    /// Raw MAVLink frames for `…/mavlink/up` (the ground-station tunnel).
    MavlinkUp(Vec<u8>),
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
    spool: Option<Spool>,
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
            spool: None,
        }
    }

    /// An outbox backed by the spool for `drone` in `dir`, holding whatever
    /// an earlier run left undelivered there.
    pub fn with_spool(capacity: usize, dir: &Path, drone: &str) -> Result<Self, SpoolError> {
        let (spool, recovered) = Spool::open(dir, drone)?;
        let mut outbox = Outbox::new(capacity);
        outbox.next_order = recovered.last_order;
        if !recovered.pending.is_empty() {
            tracing::info!(
                drone,
                spool = %dir.display(),
                undelivered = recovered.pending.len(),
                "outbox spool holds messages from an earlier run; they go first"
            );
        }
        for message in recovered.pending {
            let kind = match message.kind {
                SpooledKind::Event => Kind::Event,
                SpooledKind::Reply => Kind::Reply,
            };
            outbox.queue.push_back(Message {
                order: message.order,
                kind,
                topic: message.topic,
                payload: message.payload,
                qos: QoS::AtLeastOnce,
                retain: false,
            });
        }
        outbox.spool = Some(spool);
        // The spool may hold more than this run's capacity allows.
        outbox.enforce_capacity();
        Ok(outbox)
    }

    fn enforce_capacity(&mut self) {
        while self.queue.len() > self.capacity {
            let Some(dropped) = self.queue.pop_front() else {
                return;
            };
            self.dropped_total += 1;
            tracing::warn!(
                topic = %dropped.topic,
                dropped_total = self.dropped_total,
                capacity = self.capacity,
                "MQTT outbox full; dropped its oldest message"
            );
            if let Some(spool) = &mut self.spool {
                spool.done(dropped.order);
            }
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
        if let Some(spool) = &mut self.spool {
            let spooled = match kind {
                Kind::Reply => SpooledKind::Reply,
                _ => SpooledKind::Event,
            };
            spool.append(message.order, spooled, &message.topic, &message.payload);
        }
        self.queue.push_back(message);
        self.enforce_capacity();
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
        let message = self.unacked.remove(&pkid)?;
        if let (Some(spool), Kind::Event | Kind::Reply) = (&mut self.spool, message.kind) {
            spool.done(message.order);
        }
        Some(message.kind)
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
        self.enforce_capacity();
    }

    /// Events and replies written to disk and not yet delivered.
    pub fn spooled(&self) -> Option<usize> {
        self.spool.as_ref().map(Spool::pending)
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

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "skyshare-outbox-{name}-{}-{}",
            std::process::id(),
            crate::wall_clock_ms()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Hands every queued message over and sends it, as the session does.
    fn send_all(outbox: &mut Outbox, first_pkid: u16) -> Vec<u16> {
        let mut pkids = Vec::new();
        let mut pkid = first_pkid;
        while let Some(message) = outbox.pop_ready() {
            outbox.handed(message);
            outbox.on_sent(pkid);
            pkids.push(pkid);
            pkid += 1;
        }
        pkids
    }

    #[test]
    fn a_restarted_bridge_resends_what_the_broker_never_acknowledged() {
        let dir = temp_dir("restart");
        let mut outbox = Outbox::with_spool(100, &dir, "d1").unwrap();
        for text in ["e1", "e2", "e3"] {
            event(&mut outbox, text);
        }
        outbox.push(Kind::Reply, "t/replies".into(), b"r4".to_vec());
        let pkids = send_all(&mut outbox, 1);
        outbox.on_acked(pkids[0]); // e1 delivered, the rest in flight
        drop(outbox); // the bridge dies

        let mut restarted = Outbox::with_spool(100, &dir, "d1").unwrap();
        event(&mut restarted, "e5");
        let resent: Vec<(Kind, String)> = std::iter::from_fn(|| restarted.pop_ready())
            .map(|m| (m.kind, String::from_utf8(m.payload).unwrap()))
            .collect();
        assert_eq!(
            resent,
            [
                (Kind::Event, "e2".to_owned()),
                (Kind::Event, "e3".to_owned()),
                (Kind::Reply, "r4".to_owned()),
                (Kind::Event, "e5".to_owned()),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn messages_dropped_for_space_are_not_resurrected_by_a_restart() {
        let dir = temp_dir("dropped");
        let mut outbox = Outbox::with_spool(2, &dir, "d1").unwrap();
        for text in ["e1", "e2", "e3"] {
            event(&mut outbox, text);
        }
        assert_eq!(outbox.dropped_total(), 1);
        drop(outbox);
        let mut restarted = Outbox::with_spool(2, &dir, "d1").unwrap();
        assert_eq!(payloads(&mut restarted), ["e2", "e3"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
