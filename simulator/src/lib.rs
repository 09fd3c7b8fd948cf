//! Software-in-the-loop fleet: N simulated PX4 multirotors, each speaking
//! MAVLink 2 on its own UDP port.
//!
//! ```no_run
//! # async fn demo() -> Result<(), simulator::SimError> {
//! use simulator::{GeoPoint, SimConfig, Simulator, VehicleSpec};
//! let config = SimConfig {
//!     vehicles: vec![VehicleSpec {
//!         name: "drone-1".into(),
//!         system_id: 1,
//!         home: GeoPoint { lat_deg: 30.505, lon_deg: 114.398, alt_msl_m: 20.0 },
//!         port: 0,
//!     }],
//!     speedup: 1.0,
//!     bind_ip: "127.0.0.1".parse().unwrap(),
//! };
//! let simulator = Simulator::bind(config).await?;
//! println!("{:?}", simulator.addresses());
//! simulator.run(tokio_util::sync::CancellationToken::new()).await
//! # }
//! ```
//!
//! Code map: [`vehicle`] is the state machine (modes, mission execution,
//! landing), [`flight`] the kinematics, [`battery`] the energy model,
//! [`camera`] image capture, [`mission`] the plan transfer protocol,
//! [`commands`] the command protocol, [`telemetry`] the outgoing messages and
//! their schedule, [`autopilot`] wires these into MAVLink-in/MAVLink-out, and
//! [`link`] decodes datagrams. Only this file touches sockets and clocks.

pub mod autopilot;
pub mod battery;
pub mod camera;
pub mod commands;
pub mod fence;
pub mod flight;
pub mod geo;
pub mod link;
pub mod mission;
pub mod modes;
pub mod params;
pub mod profile;
pub mod telemetry;
pub mod vehicle;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mavlink::MavHeader;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::autopilot::{Autopilot, OutMessage, Outbound, Recipient};
use crate::link::Peers;
pub use crate::profile::AutopilotProfile;
use crate::vehicle::{Vehicle, VehicleConfig};

pub use crate::geo::GeoPoint;

/// How often each vehicle task wakes to step physics and send due streams
/// (wall clock).
const TICK: Duration = Duration::from_millis(20);
/// Component id of every simulated autopilot.
const AUTOPILOT_COMPONENT_ID: u8 = 1;
/// Largest UDP payload; MAVLink frames are at most 280 bytes but a datagram
/// may carry several.
const MAX_DATAGRAM_BYTES: usize = 65_536;

/// One vehicle to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleSpec {
    pub name: String,
    /// MAVLink system id, unique within the fleet, 1..=255.
    pub system_id: u8,
    /// Where it starts (on its dock) and returns to.
    pub home: GeoPoint,
    /// UDP port to bind; 0 lets the OS pick.
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub vehicles: Vec<VehicleSpec>,
    /// Simulated seconds per wall-clock second; 1.0 is real time.
    pub speedup: f64,
    pub bind_ip: IpAddr,
}

/// Settings beyond [`SimConfig`], kept apart so existing struct literals of
/// `SimConfig` and `VehicleSpec` keep compiling. `Default` is the plain PX4 fleet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimOptions {
    /// Profile of every vehicle not named in `profiles`.
    pub autopilot: AutopilotProfile,
    /// Per-vehicle profile, by vehicle name.
    pub profiles: HashMap<String, AutopilotProfile>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulator configuration: {0}")]
    InvalidConfig(String),
    #[error("vehicle {name}: cannot bind UDP {address}: {source}")]
    Bind {
        name: String,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("vehicle {name}: socket error: {source}")]
    Socket {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("vehicle task failed: {0}")]
    Task(String),
}

/// A bound, not yet running fleet.
pub struct Simulator {
    vehicles: Vec<BoundVehicle>,
    speedup: f64,
    ground_stations: Vec<SocketAddr>,
}

struct BoundVehicle {
    spec: VehicleSpec,
    profile: AutopilotProfile,
    socket: UdpSocket,
    address: SocketAddr,
}

impl Simulator {
    /// Validate the configuration and bind every vehicle's UDP socket.
    pub async fn bind(config: SimConfig) -> Result<Simulator, SimError> {
        Simulator::bind_with(config, SimOptions::default()).await
    }

    /// [`Simulator::bind`] with extra options (autopilot profiles, ...).
    pub async fn bind_with(config: SimConfig, options: SimOptions) -> Result<Simulator, SimError> {
        validate(&config)?;
        if let Some(unknown) = options
            .profiles
            .keys()
            .find(|name| !config.vehicles.iter().any(|spec| &spec.name == *name))
        {
            return Err(SimError::InvalidConfig(format!(
                "autopilot profile given for unknown vehicle {unknown}"
            )));
        }
        let mut vehicles = Vec::with_capacity(config.vehicles.len());
        for spec in config.vehicles {
            let requested = SocketAddr::new(config.bind_ip, spec.port);
            let socket = UdpSocket::bind(requested)
                .await
                .map_err(|source| SimError::Bind {
                    name: spec.name.clone(),
                    address: requested,
                    source,
                })?;
            let address = socket.local_addr().map_err(|source| SimError::Socket {
                name: spec.name.clone(),
                source,
            })?;
            let profile = options
                .profiles
                .get(&spec.name)
                .copied()
                .unwrap_or(options.autopilot);
            vehicles.push(BoundVehicle {
                profile,
                spec,
                socket,
                address,
            });
        }
        Ok(Simulator {
            vehicles,
            speedup: config.speedup,
            ground_stations: Vec::new(),
        })
    }

    /// Every vehicle also streams to `address` from the start, without
    /// waiting to hear from it: for ground stations that only listen, such
    /// as QGroundControl on UDP 14550 or MAVSDK with `udpin://`.
    pub fn stream_to(&mut self, address: SocketAddr) {
        self.ground_stations.push(address);
    }

    /// The bound local address of each vehicle, in spec order.
    pub fn addresses(&self) -> Vec<(String, SocketAddr)> {
        self.vehicles
            .iter()
            .map(|vehicle| (vehicle.spec.name.clone(), vehicle.address))
            .collect()
    }

    /// Run every vehicle until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), SimError> {
        let boot_utc_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since_epoch| since_epoch.as_micros() as u64);
        let mut tasks = JoinSet::new();
        for bound in self.vehicles {
            let vehicle = Vehicle::new(VehicleConfig {
                name: bound.spec.name.clone(),
                system_id: bound.spec.system_id,
                home: bound.spec.home,
                boot_utc_us,
                profile: bound.profile,
            });
            tracing::info!(
                vehicle = %bound.spec.name,
                system_id = bound.spec.system_id,
                autopilot = %bound.profile,
                address = %bound.address,
                "vehicle ready"
            );
            tasks.spawn(fly(
                vehicle,
                bound.socket,
                self.speedup,
                self.ground_stations.clone(),
                shutdown.clone(),
            ));
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let outcome = match joined {
                Ok(outcome) => outcome,
                Err(join_error) => Err(SimError::Task(join_error.to_string())),
            };
            if let Err(error) = outcome {
                tracing::error!(%error, "vehicle stopped");
                // One broken vehicle takes the fleet down rather than
                // silently shrinking it.
                shutdown.cancel();
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn validate(config: &SimConfig) -> Result<(), SimError> {
    if !(config.speedup.is_finite() && config.speedup > 0.0) {
        return Err(SimError::InvalidConfig(format!(
            "speedup must be a positive number, got {}",
            config.speedup
        )));
    }
    let mut system_ids = HashSet::new();
    let mut names = HashSet::new();
    for spec in &config.vehicles {
        if spec.system_id == 0 {
            return Err(SimError::InvalidConfig(format!(
                "vehicle {}: system id 0 is reserved for broadcast",
                spec.name
            )));
        }
        if !system_ids.insert(spec.system_id) {
            return Err(SimError::InvalidConfig(format!(
                "system id {} used twice",
                spec.system_id
            )));
        }
        if !names.insert(spec.name.as_str()) {
            return Err(SimError::InvalidConfig(format!(
                "vehicle name {} used twice",
                spec.name
            )));
        }
        let home = spec.home;
        if !(home.lat_deg.abs() <= 85.0
            && home.lon_deg.abs() <= 180.0
            && home.alt_msl_m.is_finite())
        {
            return Err(SimError::InvalidConfig(format!(
                "vehicle {}: home {home:?} is not a usable position",
                spec.name
            )));
        }
    }
    Ok(())
}

/// The socket side of one vehicle: receive, tick, send.
async fn fly(
    vehicle: Vehicle,
    socket: UdpSocket,
    speedup: f64,
    ground_stations: Vec<SocketAddr>,
    shutdown: CancellationToken,
) -> Result<(), SimError> {
    let name = vehicle.name().to_string();
    let system_id = vehicle.system_id();
    let start = Instant::now();
    let mut autopilot = Autopilot::new(vehicle, start);
    let mut sender = Sender {
        socket: &socket,
        name: &name,
        system_id,
        sequence: 0,
        peers: Peers::with_fixed(ground_stations),
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buffer = vec![0u8; MAX_DATAGRAM_BYTES];
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            received = socket.recv_from(&mut buffer) => {
                let (length, from) = match received {
                    Ok(received) => received,
                    Err(error) => {
                        // E.g. ICMP port unreachable reported on some platforms;
                        // never fatal for a UDP server.
                        tracing::debug!(vehicle = %name, %error, "receive failed");
                        continue;
                    }
                };
                let now = Instant::now();
                let (frames, problems) = link::decode_datagram(&buffer[..length]);
                if problems.total() > 0 {
                    tracing::debug!(vehicle = %name, %from, ?problems, "ignored malformed input");
                    autopilot.record_malformed(&problems);
                }
                for frame in frames {
                    if sender.peers.heard_from(from, now) {
                        tracing::info!(vehicle = %name, peer = %from, "ground station connected");
                        autopilot.peer_joined(now);
                    }
                    let outbound = autopilot.handle_frame(from, &frame, now);
                    sender.send_all(outbound).await;
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                let sim_time_s = now.duration_since(start).as_secs_f64() * speedup;
                let outbound = autopilot.advance_to(sim_time_s);
                sender.send_all(outbound).await;
                for gone in sender.peers.prune(now) {
                    tracing::info!(vehicle = %name, peer = %gone, "ground station silent, streams stopped");
                }
                let outbound = autopilot.poll(now);
                sender.send_all(outbound).await;
            }
        }
    }
    let ignored = autopilot.ignored();
    tracing::info!(
        vehicle = %name,
        malformed = ignored.malformed.total(),
        bad_crc = ignored.malformed.bad_crc,
        mavlink1 = ignored.malformed.mavlink1_frames,
        for_someone_else = ignored.for_someone_else,
        undecodable = ignored.undecodable,
        "vehicle stopped"
    );
    Ok(())
}

struct Sender<'a> {
    socket: &'a UdpSocket,
    name: &'a str,
    system_id: u8,
    sequence: u8,
    peers: Peers,
}

impl Sender<'_> {
    async fn send_all(&mut self, outbound: Vec<Outbound>) {
        for message in outbound {
            self.send(message).await;
        }
    }

    async fn send(&mut self, outbound: Outbound) {
        if outbound.to == Recipient::AllPeers && self.peers.is_empty() {
            return;
        }
        let header = MavHeader {
            system_id: u32::from(self.system_id),
            component_id: AUTOPILOT_COMPONENT_ID,
            sequence: self.sequence,
        };
        self.sequence = self.sequence.wrapping_add(1);
        let bytes = match &outbound.message {
            OutMessage::Mav(message) => link::encode(header, message),
            OutMessage::UnknownCommandAck {
                command_id,
                target_system,
                target_component,
            } => autopilot::encode_unknown_command_ack(
                header,
                *command_id,
                *target_system,
                *target_component,
            ),
        };
        match outbound.to {
            Recipient::Peer(address) => self.send_to(&bytes, address).await,
            Recipient::AllPeers => {
                let addresses: Vec<SocketAddr> = self.peers.addresses().copied().collect();
                for address in addresses {
                    self.send_to(&bytes, address).await;
                }
            }
        }
    }

    async fn send_to(&self, bytes: &[u8], address: SocketAddr) {
        if let Err(error) = self.socket.send_to(bytes, address).await {
            tracing::debug!(vehicle = %self.name, %address, %error, "send failed");
        }
    }
}
