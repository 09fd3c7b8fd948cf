//! The bridge's MQTT session: connect (with the offline Last Will), publish
//! `online` and subscribe to commands on every ConnAck, publish what the
//! outbox holds, take in commands, and say `offline` on the way out.
//!
//! When the broker is unreachable the event loop retries every second while
//! the MAVLink side keeps running; events and replies wait in the outbox.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event as MqttEvent, LastWill, MqttOptions, Packet, QoS,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use wire::{Availability, Channel, Command, Status, Topic};

use crate::command_ledger::{Admission, CommandLedger};
use crate::outbox::{Kind, Outbox, Outgoing};
use crate::vehicle_state::VehicleState;
use crate::{wall_clock_ms, BridgeError};

/// Bounded in-memory buffer for events and replies while the broker is away.
pub const OUTBOX_CAPACITY: usize = 10_000;
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);
/// QoS 1 publishes in flight at once; below rumqttc's inflight limit (100)
/// and its request channel, so handing one over never blocks the loop.
const MAX_IN_FLIGHT: usize = 32;
const CLIENT_CHANNEL_CAPACITY: usize = 64;
/// A mission of a few hundred items is ~100 kB of JSON.
const MAX_PACKET_BYTES: usize = 1 << 20;
/// On shutdown, how long to try to deliver what is queued plus `offline`.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub drone_id: String,
    pub mqtt_url: String,
    pub keep_alive: Duration,
    pub spool_dir: Option<std::path::PathBuf>,
    pub security: MqttSecurity,
}

/// How the bridge proves who it is to the broker, and checks the broker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MqttSecurity {
    /// MQTT username and password (sent in CONNECT; use TLS so they are not
    /// readable on the network).
    pub credentials: Option<(String, String)>,
    /// For `mqtts://`: the CA that signed the broker's certificate (PEM);
    /// `None` trusts the system's roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Client certificate and key (PEM), for brokers that authenticate
    /// clients by certificate.
    pub client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl MqttSecurity {
    /// Checks the settings against the URL scheme (`tls` = `mqtts://`).
    pub fn validate(&self, tls: bool) -> Result<(), BridgeError> {
        let bad = |reason: String| Err(BridgeError::InvalidConfig(reason));
        if let Some((user, _)) = &self.credentials {
            if user.is_empty() {
                return bad("MQTT username is empty".into());
            }
        }
        if !tls && (self.ca_file.is_some() || self.client_cert.is_some()) {
            return bad("a CA file or client certificate needs an mqtts:// broker URL".into());
        }
        if tls && !cfg!(feature = "tls") {
            return bad(
                "this bridge was built without the `tls` feature; mqtts:// is unavailable".into(),
            );
        }
        if tls && self.ca_file.is_none() {
            return bad("mqtts:// needs the broker's CA certificate (--mqtt-ca)".into());
        }
        let files = self
            .ca_file
            .iter()
            .chain(self.client_cert.iter().flat_map(|(cert, key)| [cert, key]));
        for file in files {
            if !file.is_file() {
                return bad(format!("TLS file {} does not exist", file.display()));
            }
        }
        Ok(())
    }
}

/// `mqtt://host[:port]` (or `tcp://`), or `mqtts://host[:port]` for TLS
/// → (host, port, tls). Default ports: 1883, and 8883 with TLS.
pub fn parse_mqtt_url(url: &str) -> Result<(String, u16, bool), BridgeError> {
    let bad = |reason: &str| BridgeError::InvalidConfig(format!("MQTT URL `{url}`: {reason}"));
    let (rest, tls) = if let Some(rest) = url.strip_prefix("mqtts://") {
        (rest, true)
    } else {
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(|| bad("expected mqtt://host:port or mqtts://host:port"))?;
        (rest, false)
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Err(bad("no host"));
    }
    // [v6]:port, host:port or host.
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        (host, after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    let port = match port {
        Some(port) => port
            .parse()
            .map_err(|_| bad("port is not a number 0-65535"))?,
        None if tls => 8883,
        None => 1883,
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host.to_owned(), port, tls))
}

/// What `…/status` says beyond online/offline; re-published when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StatusFacts {
    autopilot: Option<&'static str>,
    autopilot_link: bool,
}

impl StatusFacts {
    fn of(state: &VehicleState) -> Self {
        StatusFacts {
            autopilot: state.autopilot.map(|target| target.kind.name()),
            autopilot_link: state.link_up,
        }
    }
}

pub struct MqttSession {
    pub config: SessionConfig,
    pub ledger: Arc<Mutex<CommandLedger>>,
    /// Where admitted commands go to be run, in order.
    pub commands: mpsc::Sender<Command>,
    pub outgoing: mpsc::Receiver<Outgoing>,
    pub vehicle: watch::Receiver<VehicleState>,
    /// With the ground-station tunnel on: where `…/mavlink/down` payloads go.
    pub tunnel_down: Option<mpsc::Sender<Vec<u8>>>,
}

struct Topics {
    status: String,
    telemetry: String,
    events: String,
    commands: String,
    replies: String,
    mavlink_up: String,
    mavlink_down: String,
}

impl MqttSession {
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), BridgeError> {
        let drone = self.config.drone_id.clone();
        let topic = |channel| Topic::new(drone.clone(), channel).name();
        let topics = Topics {
            status: topic(Channel::Status),
            telemetry: topic(Channel::Telemetry),
            events: topic(Channel::Events),
            commands: topic(Channel::Commands),
            replies: topic(Channel::Replies),
            mavlink_up: topic(Channel::MavlinkUp),
            mavlink_down: topic(Channel::MavlinkDown),
        };
        let (host, port, tls) = parse_mqtt_url(&self.config.mqtt_url)?;
        let mut options = MqttOptions::new(format!("skyshare-bridge-{drone}"), host, port);
        if let Some((user, password)) = &self.config.security.credentials {
            options.set_credentials(user.clone(), password.clone());
        }
        if tls {
            options.set_transport(crate::mqtt_tls::transport(&self.config.security)?);
        }
        options
            .set_keep_alive(self.config.keep_alive)
            .set_clean_session(true)
            .set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES)
            .set_last_will(LastWill::new(
                topics.status.clone(),
                wire::encode(&self.status(
                    Availability::Offline,
                    StatusFacts::of(&self.vehicle.borrow()),
                )),
                QoS::AtLeastOnce,
                true,
            ));
        let (client, mut eventloop) = AsyncClient::new(options, CLIENT_CHANNEL_CAPACITY);
        let mut outbox = match &self.config.spool_dir {
            Some(dir) => Outbox::with_spool(OUTBOX_CAPACITY, dir, &drone)?,
            None => Outbox::new(OUTBOX_CAPACITY),
        };
        let mut connected = false;
        let mut published_facts: Option<StatusFacts> = None;
        let mut reconnect_at: Option<Instant> = None;
        let mut consecutive_failures = 0u32;
        let mut unreadable_commands = 0u64;

        loop {
            if connected {
                pump(&client, &mut outbox);
            }
            let backoff = async {
                match reconnect_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = backoff => reconnect_at = None,
                polled = eventloop.poll(), if reconnect_at.is_none() => match polled {
                    Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        consecutive_failures = 0;
                        tracing::info!(drone = %drone, url = %self.config.mqtt_url, queued = outbox.queued(), "MQTT connected");
                        let facts = StatusFacts::of(&self.vehicle.borrow());
                        outbox.push_status(topics.status.clone(), wire::encode(&self.status(Availability::Online, facts)));
                        published_facts = Some(facts);
                        // A clean session starts without subscriptions.
                        if let Err(error) = client.try_subscribe(topics.commands.clone(), QoS::AtLeastOnce) {
                            tracing::warn!(drone = %drone, %error, "cannot subscribe to commands");
                        }
                        if self.tunnel_down.is_some() {
                            if let Err(error) = client.try_subscribe(topics.mavlink_down.clone(), QoS::AtMostOnce) {
                                tracing::warn!(drone = %drone, %error, "cannot subscribe to the tunnel");
                            }
                        }
                    }
                    Ok(MqttEvent::Incoming(Packet::Publish(publish))) => {
                        if publish.topic == topics.commands {
                            self.on_command(&publish.payload, &publish.topic, &topics, &mut outbox, &mut unreadable_commands);
                        } else if publish.topic == topics.mavlink_down {
                            if let Some(tunnel) = &self.tunnel_down {
                                // Full: the autopilot link is behind; drop like a radio.
                                let _ = tunnel.try_send(publish.payload.to_vec());
                            }
                        }
                    }
                    Ok(MqttEvent::Incoming(Packet::PubAck(ack))) => {
                        outbox.on_acked(ack.pkid);
                    }
                    Ok(MqttEvent::Incoming(Packet::SubAck(ack))) => {
                        tracing::debug!(drone = %drone, return_codes = ?ack.return_codes, "subscribed to commands");
                    }
                    Ok(MqttEvent::Outgoing(rumqttc::Outgoing::Publish(pkid))) => outbox.on_sent(pkid),
                    Ok(MqttEvent::Outgoing(rumqttc::Outgoing::AwaitAck(pkid))) => outbox.on_held_back(pkid),
                    Ok(_) => {}
                    Err(error) => {
                        connected = false;
                        outbox.on_disconnected();
                        consecutive_failures += 1;
                        log_connection_error(&drone, &error, consecutive_failures, outbox.queued());
                        reconnect_at = Some(Instant::now() + RECONNECT_BACKOFF);
                    }
                },
                received = self.outgoing.recv() => match received {
                    Some(Outgoing::Event(event)) => outbox.push(Kind::Event, topics.events.clone(), wire::encode(&event)),
                    Some(Outgoing::Reply(reply)) => outbox.push(Kind::Reply, topics.replies.clone(), wire::encode(&reply)),
                    Some(Outgoing::Telemetry(sample)) => {
                        // QoS 0: while disconnected a sample has nowhere to go.
                        if connected {
                            outbox.push_telemetry(topics.telemetry.clone(), wire::encode(&sample));
                        }
                    }
                    Some(Outgoing::MavlinkUp(frames)) => {
                        if connected {
                            outbox.push_telemetry(topics.mavlink_up.clone(), frames);
                        }
                    }
                    None => break, // every producer is gone: the bridge is stopping
                },
                changed = self.vehicle.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let facts = StatusFacts::of(&self.vehicle.borrow());
                    if connected && published_facts != Some(facts) {
                        outbox.push_status(topics.status.clone(), wire::encode(&self.status(Availability::Online, facts)));
                        published_facts = Some(facts);
                    }
                }
            }
        }

        if connected {
            self.say_goodbye(&client, &mut eventloop, &mut outbox, &topics)
                .await;
        }
        if outbox.queued() > 0 || outbox.in_flight() > 0 {
            tracing::warn!(
                drone = %drone,
                queued = outbox.queued(),
                in_flight = outbox.in_flight(),
                spooled_on_disk = outbox.spooled(),
                "bridge stopped with undelivered MQTT messages"
            );
        }
        Ok(())
    }

    fn status(&self, state: Availability, facts: StatusFacts) -> Status {
        Status {
            v: wire::VERSION,
            drone: self.config.drone_id.clone(),
            state,
            ts_ms: wall_clock_ms(),
            autopilot: facts.autopilot.map(str::to_owned),
            autopilot_link: facts.autopilot_link,
        }
    }

    fn on_command(
        &self,
        payload: &[u8],
        topic: &str,
        topics: &Topics,
        outbox: &mut Outbox,
        unreadable_commands: &mut u64,
    ) {
        let drone = &self.config.drone_id;
        let mut ledger = self
            .ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let command = match crate::command_intake::read_command(payload) {
            Ok(command) => command,
            Err(refusal) => {
                *unreadable_commands += 1;
                tracing::warn!(
                    drone = %drone,
                    topic,
                    reason = %refusal.reason,
                    unreadable_total = *unreadable_commands,
                    "unreadable command payload"
                );
                // Answer if there is an id to answer to; nothing reaches the
                // autopilot either way.
                if let Some(id) = refusal.id {
                    let admission = ledger.refuse(&id, drone, wall_clock_ms(), refusal.reason);
                    let reply = match admission {
                        Admission::New { accepted } => accepted,
                        Admission::Duplicate { latest } => latest,
                    };
                    outbox.push(Kind::Reply, topics.replies.clone(), wire::encode(&reply));
                }
                return;
            }
        };
        match ledger.admit(&command.id, drone, wall_clock_ms()) {
            Admission::Duplicate { latest } => {
                tracing::info!(drone = %drone, command = %command.id, state = ?latest.state, "duplicate command id; repeating its latest reply");
                outbox.push(Kind::Reply, topics.replies.clone(), wire::encode(&latest));
            }
            Admission::New { accepted } => {
                outbox.push(Kind::Reply, topics.replies.clone(), wire::encode(&accepted));
                let id = command.id.clone();
                if let Err(error) = self.commands.try_send(command) {
                    let why = match error {
                        mpsc::error::TrySendError::Full(_) => {
                            "bridge busy: too many commands queued"
                        }
                        mpsc::error::TrySendError::Closed(_) => "bridge is shutting down",
                    };
                    let failed = crate::command_ledger::reply(
                        &id,
                        drone,
                        wall_clock_ms(),
                        wire::CommandState::Failed,
                        Some(why.into()),
                    );
                    ledger.update(&failed);
                    outbox.push(Kind::Reply, topics.replies.clone(), wire::encode(&failed));
                }
            }
        }
    }

    /// Delivers what is queued (within a deadline), then `offline`, then a
    /// clean DISCONNECT so the broker does not fire the Last Will.
    async fn say_goodbye(
        &self,
        client: &AsyncClient,
        eventloop: &mut rumqttc::EventLoop,
        outbox: &mut Outbox,
        topics: &Topics,
    ) {
        let facts = StatusFacts::of(&self.vehicle.borrow());
        // Behind everything already queued, so events and replies go first.
        outbox.push_final_status(
            topics.status.clone(),
            wire::encode(&self.status(Availability::Offline, facts)),
        );
        let deadline = Instant::now() + SHUTDOWN_FLUSH;
        let delivered = tokio::time::timeout_at(deadline, async {
            loop {
                pump(client, outbox);
                if !outbox.holds(Kind::Status) {
                    return;
                }
                match eventloop.poll().await {
                    Ok(MqttEvent::Incoming(Packet::PubAck(ack))) => {
                        outbox.on_acked(ack.pkid);
                    }
                    Ok(MqttEvent::Outgoing(rumqttc::Outgoing::Publish(pkid))) => {
                        outbox.on_sent(pkid)
                    }
                    Ok(MqttEvent::Outgoing(rumqttc::Outgoing::AwaitAck(pkid))) => {
                        outbox.on_held_back(pkid)
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        })
        .await;
        if delivered.is_err() {
            tracing::warn!(drone = %self.config.drone_id, "offline status not confirmed before shutdown deadline");
        }
        if client.try_disconnect().is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                loop {
                    match eventloop.poll().await {
                        Ok(MqttEvent::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            })
            .await;
        }
        tracing::info!(drone = %self.config.drone_id, "MQTT session closed");
    }
}

/// Hands queued messages to the client while there is room in flight.
fn pump(client: &AsyncClient, outbox: &mut Outbox) {
    while outbox.in_flight() < MAX_IN_FLIGHT {
        let Some(message) = outbox.pop_ready() else {
            return;
        };
        match client.try_publish(
            message.topic.clone(),
            message.qos,
            message.retain,
            message.payload.clone(),
        ) {
            Ok(()) => outbox.handed(message),
            Err(error) => {
                tracing::debug!(%error, "MQTT client busy; will retry");
                outbox.unpop(message);
                return;
            }
        }
    }
}

fn log_connection_error(
    drone: &str,
    error: &ConnectionError,
    consecutive_failures: u32,
    queued: usize,
) {
    // The first failure is news; the retries after it are not.
    if consecutive_failures == 1 {
        tracing::warn!(drone, %error, queued, "MQTT connection lost; retrying every second");
    } else {
        tracing::debug!(drone, %error, consecutive_failures, queued, "MQTT still unreachable");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_files_need_an_mqtts_url_and_must_exist() {
        let with_ca = MqttSecurity {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..MqttSecurity::default()
        };
        assert!(with_ca
            .validate(false)
            .unwrap_err()
            .to_string()
            .contains("mqtts://"));
        if cfg!(feature = "tls") {
            assert!(with_ca
                .validate(true)
                .unwrap_err()
                .to_string()
                .contains("/nonexistent/ca.pem"));
        }
        let no_user = MqttSecurity {
            credentials: Some((String::new(), "pw".into())),
            ..MqttSecurity::default()
        };
        assert!(no_user.validate(false).is_err());
    }

    #[test]
    fn mqtt_urls_parse_to_host_and_port() {
        assert_eq!(
            parse_mqtt_url("mqtt://127.0.0.1:1884").unwrap(),
            ("127.0.0.1".into(), 1884, false)
        );
        assert_eq!(
            parse_mqtt_url("mqtt://broker.local").unwrap(),
            ("broker.local".into(), 1883, false)
        );
        assert_eq!(
            parse_mqtt_url("tcp://[::1]:1885/").unwrap(),
            ("::1".into(), 1885, false)
        );
        assert_eq!(
            parse_mqtt_url("mqtts://broker.local").unwrap(),
            ("broker.local".into(), 8883, true)
        );
        assert!(parse_mqtt_url("ws://host:8883").is_err());
        assert!(parse_mqtt_url("mqtt://host:notaport").is_err());
        assert!(parse_mqtt_url("mqtt://").is_err());
    }
}
