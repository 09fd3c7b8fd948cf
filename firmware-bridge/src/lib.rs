//! firmware-bridge: runs beside one autopilot (on its companion computer)
//! and connects it to skyshare over MQTT.
//!
//! MAVLink in: [`link`] receives frames (UDP, TCP or serial, optionally
//! signed), [`vehicle_state`] folds them into the latest state, [`events`]
//! turns changes into contract events and [`telemetry`] samples the state at
//! a rate a pilot can raise for a while. [`mavlink_input`] strings the input
//! path together as one pure function for fuzzing.
//!
//! MQTT in: [`mqtt_session`] reads commands through [`command_intake`],
//! de-duplicates them with [`command_ledger`], and [`commands`] carries them
//! out one at a time: flight commands as per-autopilot [`recipes`] (PX4,
//! ArduCopter), plans through [`mission_upload`] (mission, fence, rally).
//! Everything bound for the broker waits in the [`outbox`], whose events and
//! replies are also kept on disk by the [`spool`] until acknowledged.
//! [`tunnel`] carries raw MAVLink for a remote ground station.
//!
//! The MAVLink side never depends on the broker: with MQTT down the bridge
//! keeps hearing the autopilot, keeps its own HEARTBEAT going and buffers
//! events.

pub mod autopilot;
pub mod command_intake;
pub mod command_ledger;
pub mod commands;
pub mod events;
pub mod flight_mode;
pub mod link;
pub mod mavlink_input;
pub mod mission_upload;
pub mod mqtt_session;
pub mod mqtt_tls;
pub mod outbox;
pub mod recipes;
pub mod spool;
pub mod status_text;
pub mod telemetry;
pub mod tunnel;
pub mod vehicle_state;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mavlink::dialects::ardupilotmega::MavMessage;
use mavlink::MavHeader;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use wire::{Event, EventBody};

use crate::autopilot::{Autopilot, Frame};
use crate::command_ledger::{CommandLedger, REMEMBERED_COMMANDS};
use crate::commands::{CommandRunner, CommandedMode, Replier};
use crate::events::{EventDetector, Hints};
use crate::link::MavlinkLink;
use crate::mqtt_session::{MqttSession, SessionConfig};
use crate::outbox::Outgoing;
use crate::vehicle_state::{Applied, VehicleState};

pub const DEFAULT_TELEMETRY_HZ: f64 = 2.0;
pub const DEFAULT_MQTT_KEEP_ALIVE: Duration = Duration::from_secs(5);
/// How often to check for a silent autopilot.
const LINK_CHECK_PERIOD: Duration = Duration::from_millis(250);
/// Commands waiting behind the one running.
const COMMAND_QUEUE: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub struct BridgeConfig {
    /// Drone id: the topic level `skyshare/v1/drones/{drone_id}/…`.
    pub drone_id: String,
    /// `udpout:127.0.0.1:14540`, `udpin:0.0.0.0:14550`, `tcpout:host:port`,
    /// `tcpin:0.0.0.0:5760` or (with the `serial` feature)
    /// `serial:/dev/ttyAMA0:921600`.
    pub mavlink: String,
    /// `mqtt://host:port`.
    pub mqtt_url: String,
    pub telemetry_hz: f64,
    /// The broker declares the bridge dead (and publishes its Last Will)
    /// after about 1.5 times this without a packet.
    pub mqtt_keep_alive: Duration,
    /// Where undelivered events and replies are kept on disk so a restart
    /// loses none; `None` keeps them in memory only.
    pub spool_dir: Option<PathBuf>,
    /// Username/password and TLS for the broker connection.
    pub mqtt_security: mqtt_session::MqttSecurity,
    /// Carry raw MAVLink both ways over `…/mavlink/up|down` for a remote
    /// ground station.
    pub gcs_tunnel: bool,
    /// MAVLink 2 signing on the autopilot link.
    pub mavlink_signing: Option<link::LinkSigning>,
}

impl BridgeConfig {
    pub fn new(
        drone_id: impl Into<String>,
        mavlink: impl Into<String>,
        mqtt_url: impl Into<String>,
    ) -> Self {
        BridgeConfig {
            drone_id: drone_id.into(),
            mavlink: mavlink.into(),
            mqtt_url: mqtt_url.into(),
            telemetry_hz: DEFAULT_TELEMETRY_HZ,
            mqtt_keep_alive: DEFAULT_MQTT_KEEP_ALIVE,
            spool_dir: None,
            mqtt_security: mqtt_session::MqttSecurity::default(),
            gcs_tunnel: false,
            mavlink_signing: None,
        }
    }

    /// Everything that can be checked before touching the network.
    pub fn validate(&self) -> Result<(), BridgeError> {
        wire::topic::validate_drone_id(&self.drone_id).map_err(|reason| {
            BridgeError::InvalidConfig(format!("drone id `{}`: {reason}", self.drone_id))
        })?;
        if !(self.telemetry_hz.is_finite() && self.telemetry_hz > 0.0 && self.telemetry_hz <= 50.0)
        {
            return Err(BridgeError::InvalidConfig(format!(
                "telemetry rate must be above 0 and at most 50 Hz, got {}",
                self.telemetry_hz
            )));
        }
        if !(self.mqtt_keep_alive >= Duration::from_secs(1)
            && self.mqtt_keep_alive <= Duration::from_secs(65_535))
        {
            return Err(BridgeError::InvalidConfig(format!(
                "MQTT keep-alive must be 1 s to 65535 s, got {:?}",
                self.mqtt_keep_alive
            )));
        }
        link::validate_address(&self.mavlink)?;
        if self.mavlink_signing.is_some() && !cfg!(feature = "signing") {
            return Err(BridgeError::InvalidConfig(
                "this bridge was built without the `signing` feature; MAVLink signing is unavailable"
                    .into(),
            ));
        }
        let (_, _, tls_url) = mqtt_session::parse_mqtt_url(&self.mqtt_url)?;
        self.mqtt_security.validate(tls_url)?;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("invalid bridge configuration: {0}")]
    InvalidConfig(String),
    #[error(transparent)]
    Link(#[from] link::LinkError),
    #[error(transparent)]
    Spool(#[from] spool::SpoolError),
    #[error("bridge task failed: {0}")]
    Task(String),
}

/// Milliseconds since the Unix epoch, for payload timestamps.
pub fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

/// Runs the bridge until `shutdown` is cancelled: then publishes `offline`
/// and disconnects from the broker cleanly.
pub async fn run(config: BridgeConfig, shutdown: CancellationToken) -> Result<(), BridgeError> {
    config.validate()?;
    let drone = config.drone_id.clone();
    let link = MavlinkLink::open(&config.mavlink, config.mavlink_signing.clone()).await?;
    tracing::info!(drone = %drone, mavlink = %config.mavlink, mqtt = %config.mqtt_url, "bridge starting");

    // Stops our own tasks once the MQTT session has said goodbye; not a
    // child of `shutdown`, so the MAVLink side keeps running (and the
    // session keeps its inputs) while `offline` is being delivered.
    let stop = CancellationToken::new();
    let (frames_tx, frames_rx) = mpsc::channel::<(MavHeader, MavMessage)>(1024);
    let (protocol_tx, _) = broadcast::channel::<Frame>(1024);
    let (state_tx, state_rx) = watch::channel(VehicleState::default());
    let (outgoing_tx, outgoing_rx) = mpsc::channel::<Outgoing>(1024);
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_QUEUE);
    let ledger = Arc::new(Mutex::new(CommandLedger::new(REMEMBERED_COMMANDS)));
    let uploaded_mission_items = Arc::new(AtomicU32::new(u32::MAX));
    let (telemetry_rate_tx, telemetry_rate_rx) = watch::channel(None);
    let commanded_mode = CommandedMode::default();
    let (tunnel_up_tx, tunnel_up_rx) = mpsc::channel::<Vec<u8>>(1024);
    let (tunnel_down_tx, tunnel_down_rx) = mpsc::channel::<Vec<u8>>(256);

    // Dropping the set (run() returning, or its task being aborted) aborts
    // every task in it.
    let mut tasks = JoinSet::new();
    tasks.spawn(link.clone().receive(frames_tx, stop.clone()));
    tasks.spawn(link.clone().heartbeat(stop.clone()));
    tasks.spawn(
        VehicleTracker {
            drone: drone.clone(),
            state: state_tx,
            protocol_feed: protocol_tx.clone(),
            outbox: outgoing_tx.clone(),
            event_ids: EventIds::new(&drone),
            uploaded_mission_items: uploaded_mission_items.clone(),
            commanded_mode: commanded_mode.clone(),
            tunnel_up: config.gcs_tunnel.then_some(tunnel_up_tx),
        }
        .run(frames_rx, stop.clone()),
    );
    if config.gcs_tunnel {
        tasks.spawn(tunnel::forward_up(
            tunnel_up_rx,
            outgoing_tx.clone(),
            stop.clone(),
        ));
        tasks.spawn(tunnel::forward_down(
            link.clone(),
            tunnel_down_rx,
            stop.clone(),
        ));
    }
    tasks.spawn(telemetry::publish_periodically(
        drone.clone(),
        config.telemetry_hz,
        state_rx.clone(),
        telemetry_rate_rx,
        outgoing_tx.clone(),
        stop.clone(),
    ));
    tasks.spawn(
        CommandRunner {
            autopilot: Autopilot::new(link.clone(), protocol_tx, state_rx.clone()),
            replier: Replier {
                drone: drone.clone(),
                ledger: ledger.clone(),
                outbox: outgoing_tx,
            },
            uploaded_mission_items,
            telemetry_rate: telemetry_rate_tx,
            commanded_mode,
        }
        .run(commands_rx, stop.clone()),
    );

    let session = MqttSession {
        config: SessionConfig {
            drone_id: drone.clone(),
            mqtt_url: config.mqtt_url.clone(),
            keep_alive: config.mqtt_keep_alive,
            spool_dir: config.spool_dir.clone(),
            security: config.mqtt_security.clone(),
        },
        ledger,
        commands: commands_tx,
        outgoing: outgoing_rx,
        vehicle: state_rx,
        tunnel_down: config.gcs_tunnel.then_some(tunnel_down_tx),
    };
    // The session runs here, not in the set: on shutdown it must outlive the
    // other tasks long enough to say `offline`.
    let session_outcome = tokio::select! {
        outcome = session.run(shutdown.clone()) => outcome,
        joined = tasks.join_next() => Err(BridgeError::Task(match joined {
            Some(Err(error)) => error.to_string(),
            _ => "a bridge task ended unexpectedly".into(),
        })),
    };
    stop.cancel();
    while tasks.join_next().await.is_some() {}
    tracing::info!(
        drone = %drone,
        unparsable_mavlink_frames = link.unparsable_frames(),
        mavlink_input = ?link.input_tally(),
        "bridge stopped"
    );
    session_outcome
}

/// Event ids: drone id, a prefix unique to this run of the bridge, and a
/// counter; unique without persisted state.
pub struct EventIds {
    prefix: String,
    next: u64,
}

impl EventIds {
    pub fn new(drone: &str) -> Self {
        let boot_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_micros());
        EventIds {
            prefix: format!("{drone}-{boot_us:x}-{:x}", std::process::id()),
            next: 0,
        }
    }

    pub fn next_id(&mut self) -> String {
        self.next += 1;
        format!("{}-{}", self.prefix, self.next)
    }
}

/// Owns the vehicle state: folds every frame in, detects events, checks the
/// link, and passes frames on to the command and mission protocols.
struct VehicleTracker {
    drone: String,
    state: watch::Sender<VehicleState>,
    protocol_feed: broadcast::Sender<Frame>,
    outbox: mpsc::Sender<Outgoing>,
    event_ids: EventIds,
    uploaded_mission_items: Arc<AtomicU32>,
    commanded_mode: CommandedMode,
    /// With the ground-station tunnel on: every frame heard, re-serialised.
    tunnel_up: Option<mpsc::Sender<Vec<u8>>>,
}

impl VehicleTracker {
    async fn run(
        mut self,
        mut frames: mpsc::Receiver<(MavHeader, MavMessage)>,
        shutdown: CancellationToken,
    ) {
        let mut detector = EventDetector::new();
        let mut link_checks = tokio::time::interval(LINK_CHECK_PERIOD);
        let mut current = VehicleState::default();
        loop {
            let before = current.clone();
            let message = tokio::select! {
                () = shutdown.cancelled() => return,
                // Each check also lets the detector give out status texts
                // whose remaining chunks never came.
                _ = link_checks.tick() => {
                    if current.check_link(std::time::Instant::now()) {
                        tracing::warn!(drone = %self.drone, "autopilot link lost: no HEARTBEAT");
                    }
                    None
                }
                frame = frames.recv() => {
                    let Some((header, message)) = frame else { return };
                    if let Some(tunnel) = &self.tunnel_up {
                        // Full: the broker is behind; drop like a radio.
                        let _ = tunnel.try_send(tunnel::frame_bytes(header, &message));
                    }
                    if current.apply(&header, &message, std::time::Instant::now()) == Applied::Ignored {
                        continue;
                    }
                    // No receivers (no protocol running) is normal.
                    let _ = self.protocol_feed.send(Arc::new((header, message.clone())));
                    Some(message)
                }
            };
            let uploaded = self.uploaded_mission_items.load(Ordering::Relaxed);
            let hints = Hints {
                mission_total: u16::try_from(uploaded).ok(),
                commanded_mode: self.commanded_mode.recent(std::time::Instant::now()),
            };
            let now = std::time::Instant::now();
            for body in detector.observe(&before, &current, message.as_ref(), &hints, now) {
                self.publish_event(body).await;
            }
            if current != before {
                self.state.send_replace(current.clone());
            }
        }
    }

    async fn publish_event(&mut self, body: EventBody) {
        tracing::info!(drone = %self.drone, event = ?body, "vehicle event");
        let event = Event {
            v: wire::VERSION,
            id: self.event_ids.next_id(),
            drone: self.drone.clone(),
            ts_ms: wall_clock_ms(),
            body,
        };
        if self.outbox.send(Outgoing::Event(event)).await.is_err() {
            tracing::debug!(drone = %self.drone, "MQTT session gone; event not queued");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_explains_what_is_wrong() {
        let good = BridgeConfig::new("d1", "udpout:127.0.0.1:14540", "mqtt://127.0.0.1:1883");
        assert!(good.validate().is_ok());
        let bad_id = BridgeConfig::new("d/1", "udpout:127.0.0.1:14540", "mqtt://127.0.0.1:1883");
        assert!(bad_id
            .validate()
            .unwrap_err()
            .to_string()
            .contains("drone id"));
        let bad_link = BridgeConfig::new("d1", "serial:/dev/ttyS0:57600", "mqtt://127.0.0.1:1883");
        assert!(bad_link.validate().is_err() != cfg!(feature = "serial"));
        let unknown = BridgeConfig::new("d1", "carrier-pigeon:1", "mqtt://127.0.0.1:1883");
        assert!(unknown
            .validate()
            .unwrap_err()
            .to_string()
            .contains("udpout"));
        let bad_rate = BridgeConfig {
            telemetry_hz: 0.0,
            ..good.clone()
        };
        assert!(bad_rate.validate().is_err());
    }

    #[test]
    fn event_ids_are_unique_and_name_the_drone() {
        let mut ids = EventIds::new("d1");
        let first = ids.next_id();
        let second = ids.next_id();
        assert_ne!(first, second);
        assert!(first.starts_with("d1-"));
    }
}
