//! Software-in-the-loop fleet: N simulated multirotors (PX4 or ArduCopter on
//! the wire), each speaking MAVLink 2 on its own UDP port.
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
//! their schedule, [`params`] the parameter set that drives the failsafes,
//! [`fence`] geofence and rally plans, [`faults`] scenarios and the link
//! model, [`noise`] seeded randomness, [`profile`] PX4 vs ArduCopter,
//! [`autopilot`] wires these into MAVLink-in/MAVLink-out, and [`link`]
//! decodes datagrams. Only this file touches sockets and clocks (real time,
//! speed-up, or lockstep).

pub mod autopilot;
pub mod battery;
pub mod camera;
pub mod commands;
pub mod faults;
pub mod fence;
pub mod flight;
pub mod geo;
pub mod link;
pub mod mission;
pub mod modes;
pub mod noise;
pub mod params;
pub mod profile;
pub mod telemetry;
pub mod vehicle;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mavlink::MavHeader;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::autopilot::{Autopilot, OutMessage, Outbound, Recipient};
use crate::faults::Delivery;
use crate::link::Peers;
use crate::vehicle::{Vehicle, VehicleConfig};

pub use crate::faults::{Fault, Scenario};
pub use crate::geo::GeoPoint;
pub use crate::profile::AutopilotProfile;
pub use crate::telemetry::StreamSet;

/// How often a vehicle that is flying (or transferring a plan) wakes to step
/// physics and send due streams (wall clock).
const TICK: Duration = Duration::from_millis(20);
/// A parked vehicle sleeps until its next stream is due, but at most this long.
const IDLE_TICK: Duration = Duration::from_millis(250);
/// Component id of every simulated autopilot.
const AUTOPILOT_COMPONENT_ID: u8 = 1;
/// Receive buffer per vehicle. MAVLink frames are at most 280 bytes and
/// ground stations send one or a few per datagram; kept small so ten thousand
/// vehicles fit in memory.
const MAX_DATAGRAM_BYTES: usize = 4096;

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

/// How simulated time advances.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClockMode {
    /// With the wall clock, times `SimConfig::speedup`.
    #[default]
    RealTime,
    /// Only when [`Lockstep::advance`] says so; streams and retries follow
    /// simulated time too. For tests.
    Lockstep,
}

/// Settings beyond [`SimConfig`], kept apart so existing struct literals of
/// `SimConfig` and `VehicleSpec` keep compiling. `Default` is the plain PX4
/// fleet: real time, no noise, no faults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimOptions {
    /// Profile of every vehicle not named in `profiles`.
    pub autopilot: AutopilotProfile,
    /// Per-vehicle profile, by vehicle name.
    pub profiles: HashMap<String, AutopilotProfile>,
    /// Seed of all randomness (gusts, GPS noise, lossy links). A scenario's
    /// non-zero seed takes precedence.
    pub seed: u64,
    /// Standard deviation of the reported GPS error, m (0 = exact positions).
    pub gps_noise_m: f64,
    /// Timed faults per vehicle.
    pub scenario: Scenario,
    pub clock: ClockMode,
    /// Allow vehicles on different ports to share a system id (a real fleet
    /// of separately linked drones often does; needed beyond 255 vehicles).
    pub shared_system_ids: bool,
    /// Messages streamed unasked.
    pub streams: StreamSet,
    /// Pack the stream messages due at one instant into one datagram (MAVLink
    /// over UDP allows several frames per datagram; pymavlink, QGroundControl
    /// and MAVSDK read them). Fewer system calls for very large fleets.
    pub batch_streams: bool,
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
    #[error("no vehicle named {0}")]
    UnknownVehicle(String),
    #[error("fault for {vehicle}: {source}")]
    BadFault {
        vehicle: String,
        #[source]
        source: faults::FaultError,
    },
    #[error("vehicle {0} is not running")]
    NotRunning(String),
}

/// Something to do to a running vehicle from outside.
#[derive(Debug, Clone, PartialEq)]
enum Control {
    Fault(Fault),
}

/// Injects faults into a running fleet; cheap to clone, usable from any task.
#[derive(Debug, Clone)]
pub struct SimHandle {
    vehicles: Arc<HashMap<String, mpsc::UnboundedSender<Control>>>,
}

impl SimHandle {
    /// Inject `fault` into `vehicle` now (at its current simulated time).
    pub fn inject(&self, vehicle: &str, fault: Fault) -> Result<(), SimError> {
        fault.validate().map_err(|source| SimError::BadFault {
            vehicle: vehicle.to_string(),
            source,
        })?;
        let sender = self
            .vehicles
            .get(vehicle)
            .ok_or_else(|| SimError::UnknownVehicle(vehicle.to_string()))?;
        sender
            .send(Control::Fault(fault))
            .map_err(|_| SimError::NotRunning(vehicle.to_string()))
    }
}

/// Drives simulated time in [`ClockMode::Lockstep`].
#[derive(Debug, Clone)]
pub struct Lockstep {
    shared: Arc<LockstepShared>,
}

#[derive(Debug)]
struct LockstepShared {
    target_s: watch::Sender<f64>,
    /// Simulated time each vehicle has reached (f64 bits); infinity once stopped.
    reached_s: Vec<AtomicU64>,
    progress: Notify,
}

impl Lockstep {
    /// Advance every vehicle by `dt_s` simulated seconds and wait until all
    /// have stepped, answered what arrived meanwhile and sent their streams.
    pub async fn advance(&self, dt_s: f64) {
        let target_s = *self.shared.target_s.borrow() + dt_s.max(0.0);
        self.shared.target_s.send_replace(target_s);
        loop {
            let notified = self.shared.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self
                .shared
                .reached_s
                .iter()
                .all(|reached| f64::from_bits(reached.load(Ordering::Acquire)) >= target_s)
            {
                return;
            }
            notified.await;
        }
    }

    /// Simulated seconds since start.
    pub fn sim_time_s(&self) -> f64 {
        *self.shared.target_s.borrow()
    }
}

/// A bound, not yet running fleet.
pub struct Simulator {
    vehicles: Vec<BoundVehicle>,
    speedup: f64,
    ground_stations: Vec<SocketAddr>,
    seed: u64,
    gps_noise_m: f64,
    scenario: Scenario,
    handle: SimHandle,
    lockstep: Option<Lockstep>,
    streams: StreamSet,
    batch_streams: bool,
}

struct BoundVehicle {
    spec: VehicleSpec,
    profile: AutopilotProfile,
    socket: UdpSocket,
    address: SocketAddr,
    control: mpsc::UnboundedReceiver<Control>,
    /// Subscribed at bind time, so an advance made before `run` is not missed.
    lockstep_target: Option<watch::Receiver<f64>>,
}

impl Simulator {
    /// Validate the configuration and bind every vehicle's UDP socket.
    pub async fn bind(config: SimConfig) -> Result<Simulator, SimError> {
        Simulator::bind_with(config, SimOptions::default()).await
    }

    /// [`Simulator::bind`] with extra options (autopilot profiles, seed,
    /// scenario, lockstep clock).
    pub async fn bind_with(config: SimConfig, options: SimOptions) -> Result<Simulator, SimError> {
        validate(&config, &options)?;
        let mut vehicles = Vec::with_capacity(config.vehicles.len());
        let mut controls = HashMap::with_capacity(config.vehicles.len());
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
            let (sender, control) = mpsc::unbounded_channel();
            controls.insert(spec.name.clone(), sender);
            vehicles.push(BoundVehicle {
                profile,
                spec,
                socket,
                address,
                control,
                lockstep_target: None,
            });
        }
        let lockstep = (options.clock == ClockMode::Lockstep).then(|| Lockstep {
            shared: Arc::new(LockstepShared {
                target_s: watch::Sender::new(0.0),
                reached_s: (0..vehicles.len())
                    .map(|_| AtomicU64::new(0f64.to_bits()))
                    .collect(),
                progress: Notify::new(),
            }),
        });
        if let Some(lockstep) = &lockstep {
            for vehicle in &mut vehicles {
                vehicle.lockstep_target = Some(lockstep.shared.target_s.subscribe());
            }
        }
        Ok(Simulator {
            vehicles,
            speedup: config.speedup,
            ground_stations: Vec::new(),
            seed: if options.scenario.seed != 0 {
                options.scenario.seed
            } else {
                options.seed
            },
            gps_noise_m: options.gps_noise_m,
            scenario: options.scenario,
            handle: SimHandle {
                vehicles: Arc::new(controls),
            },
            lockstep,
            streams: options.streams,
            batch_streams: options.batch_streams,
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

    /// Injects faults at run time; take it before [`Simulator::run`].
    pub fn handle(&self) -> SimHandle {
        self.handle.clone()
    }

    /// The clock of a [`ClockMode::Lockstep`] fleet (`None` in real time).
    pub fn lockstep(&self) -> Option<Lockstep> {
        self.lockstep.clone()
    }

    /// Run every vehicle until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), SimError> {
        let boot_utc_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since_epoch| since_epoch.as_micros() as u64);
        let mut tasks = JoinSet::new();
        let start = Instant::now();
        for (index, bound) in self.vehicles.into_iter().enumerate() {
            let vehicle = Vehicle::new(VehicleConfig {
                name: bound.spec.name.clone(),
                system_id: bound.spec.system_id,
                home: bound.spec.home,
                boot_utc_us,
                profile: bound.profile,
                seed: self.seed,
                gps_noise_m: self.gps_noise_m,
            });
            tracing::debug!(
                vehicle = %bound.spec.name,
                system_id = bound.spec.system_id,
                autopilot = %bound.profile,
                address = %bound.address,
                "vehicle ready"
            );
            let mut autopilot = Autopilot::with_streams(vehicle, start, self.streams);
            // Golden-ratio spacing spreads any number of vehicles evenly.
            autopilot.stagger_streams((index as f64 * 0.618_033_988_75).fract(), start);
            autopilot.schedule_faults(self.scenario.for_vehicle(&bound.spec.name));
            let clock = match (&self.lockstep, bound.lockstep_target) {
                (Some(lockstep), Some(target_s)) => Clock::Lockstep {
                    start,
                    target_s,
                    shared: lockstep.shared.clone(),
                    index,
                },
                _ => Clock::RealTime {
                    start,
                    speedup: self.speedup,
                },
            };
            tasks.spawn(fly(
                self.batch_streams,
                autopilot,
                bound.socket,
                bound.control,
                clock,
                self.ground_stations.clone(),
                shutdown.clone(),
            ));
        }
        tracing::info!(vehicles = tasks.len(), "fleet running");
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

fn validate(config: &SimConfig, options: &SimOptions) -> Result<(), SimError> {
    if !(config.speedup.is_finite() && config.speedup > 0.0) {
        return Err(SimError::InvalidConfig(format!(
            "speedup must be a positive number, got {}",
            config.speedup
        )));
    }
    if !(options.gps_noise_m.is_finite() && (0.0..=50.0).contains(&options.gps_noise_m)) {
        return Err(SimError::InvalidConfig(format!(
            "GPS noise must be within 0..=50 m, got {}",
            options.gps_noise_m
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
        if !system_ids.insert(spec.system_id) && !options.shared_system_ids {
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
    if let Some(unknown) = options
        .profiles
        .keys()
        .find(|name| !names.contains(name.as_str()))
    {
        return Err(SimError::InvalidConfig(format!(
            "autopilot profile given for unknown vehicle {unknown}"
        )));
    }
    if let Some(timed) = options
        .scenario
        .faults
        .iter()
        .find(|timed| !names.contains(timed.vehicle.as_str()))
    {
        return Err(SimError::InvalidConfig(format!(
            "scenario fault at {} s names unknown vehicle {}",
            timed.at_s, timed.vehicle
        )));
    }
    Ok(())
}

/// Where a vehicle task's time comes from.
enum Clock {
    RealTime {
        start: Instant,
        speedup: f64,
    },
    Lockstep {
        start: Instant,
        target_s: watch::Receiver<f64>,
        shared: Arc<LockstepShared>,
        index: usize,
    },
}

impl Clock {
    /// The instant streams and retries are scheduled by: the wall clock, or
    /// in lockstep the start plus simulated time.
    fn now(&self, sim_time_s: f64) -> Instant {
        match self {
            Clock::RealTime { .. } => Instant::now(),
            Clock::Lockstep { start, .. } => *start + Duration::from_secs_f64(sim_time_s),
        }
    }

    fn report(&self, sim_time_s: f64) {
        if let Clock::Lockstep { shared, index, .. } = self {
            shared.reached_s[*index].store(sim_time_s.to_bits(), Ordering::Release);
            shared.progress.notify_waiters();
        }
    }
}

/// A datagram held back by a slow link.
enum Delayed {
    Inbound { bytes: Vec<u8>, from: SocketAddr },
    Outbound { bytes: Vec<u8>, to: SocketAddr },
}

/// The socket side of one vehicle: receive, tick, send.
async fn fly(
    batch_streams: bool,
    mut autopilot: Autopilot,
    socket: UdpSocket,
    mut control: mpsc::UnboundedReceiver<Control>,
    mut clock: Clock,
    ground_stations: Vec<SocketAddr>,
    shutdown: CancellationToken,
) -> Result<(), SimError> {
    let name = autopilot.vehicle().name().to_string();
    let system_id = autopilot.vehicle().system_id();
    let mut link = LinkSide {
        socket: &socket,
        name: &name,
        system_id,
        sequence: 0,
        peers: Peers::with_fixed(ground_stations),
        delayed: VecDeque::new(),
        batch_streams,
    };
    let mut buffer = vec![0u8; MAX_DATAGRAM_BYTES];
    let mut control_open = true;
    let mut next_wake = Instant::now();
    loop {
        let lockstep = matches!(clock, Clock::Lockstep { .. });
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
                let sim_time_s = autopilot.vehicle().sim_time_s();
                match autopilot.link_admit() {
                    Delivery::Drop => continue,
                    Delivery::Delay(delay_s) => {
                        link.delay(sim_time_s + delay_s, Delayed::Inbound { bytes: buffer[..length].to_vec(), from });
                        continue;
                    }
                    Delivery::Deliver => {}
                }
                let now = clock.now(sim_time_s);
                link.receive(&mut autopilot, &buffer[..length], from, now).await;
                // Whatever arrived may have woken a parked vehicle.
                next_wake = next_wake.min(Instant::now() + TICK);
            }
            command = control.recv(), if control_open => {
                match command {
                    Some(Control::Fault(fault)) => {
                        let outbound = autopilot.inject(&fault);
                        link.send_all(&mut autopilot, outbound).await;
                        next_wake = next_wake.min(Instant::now() + TICK);
                    }
                    None => control_open = false,
                }
            }
            () = tokio::time::sleep_until(next_wake.into()), if !lockstep => {
                let Clock::RealTime { start, speedup } = &clock else { continue };
                let now = Instant::now();
                let sim_time_s = now.duration_since(*start).as_secs_f64() * speedup;
                link.tick(&mut autopilot, sim_time_s, now).await;
                // Flying vehicles tick at the physics rate; parked ones sleep
                // until their next stream.
                next_wake = if autopilot.is_active() || !link.delayed.is_empty() {
                    now + TICK
                } else {
                    autopilot.next_stream_due().map_or(now + IDLE_TICK, |due| due.clamp(now + TICK, now + IDLE_TICK))
                };
            }
            changed = async {
                match &mut clock {
                    Clock::Lockstep { target_s, .. } => target_s.changed().await.map(|()| *target_s.borrow_and_update()),
                    Clock::RealTime { .. } => std::future::pending().await,
                }
            }, if lockstep => {
                let Ok(target_s) = changed else { break };
                // Faults injected before this advance act before it.
                while let Ok(Control::Fault(fault)) = control.try_recv() {
                    let outbound = autopilot.inject(&fault);
                    link.send_all(&mut autopilot, outbound).await;
                }
                // Step in TICK-sized slices so streams and retries keep their rates.
                let slice_s = TICK.as_secs_f64();
                let mut sim_time_s = autopilot.vehicle().sim_time_s();
                while sim_time_s + 1e-9 < target_s {
                    sim_time_s = (sim_time_s + slice_s).min(target_s);
                    let now = clock.now(sim_time_s);
                    link.tick(&mut autopilot, sim_time_s, now).await;
                }
                clock.report(target_s);
            }
        }
    }
    clock.report(f64::INFINITY);
    let ignored = autopilot.ignored();
    tracing::debug!(
        vehicle = %name,
        malformed = ignored.malformed.total(),
        bad_crc = ignored.malformed.bad_crc,
        mavlink1 = ignored.malformed.mavlink1_frames,
        for_someone_else = ignored.for_someone_else,
        undecodable = ignored.undecodable,
        link_dropped = autopilot.link().dropped,
        "vehicle stopped"
    );
    Ok(())
}

/// The network side of one vehicle: its socket, peers and slow-link queue.
struct LinkSide<'a> {
    socket: &'a UdpSocket,
    name: &'a str,
    system_id: u8,
    sequence: u8,
    peers: Peers,
    /// (due simulated time, datagram), in arrival order.
    delayed: VecDeque<(f64, Delayed)>,
    batch_streams: bool,
}

impl LinkSide<'_> {
    fn delay(&mut self, due_s: f64, datagram: Delayed) {
        // Keep the queue ordered by due time (jitter can reorder, as radios do).
        let position = self
            .delayed
            .iter()
            .position(|(at_s, _)| *at_s > due_s)
            .unwrap_or(self.delayed.len());
        self.delayed.insert(position, (due_s, datagram));
    }

    async fn tick(&mut self, autopilot: &mut Autopilot, sim_time_s: f64, now: Instant) {
        let outbound = autopilot.advance_to(sim_time_s);
        self.send_all(autopilot, outbound).await;
        while self
            .delayed
            .front()
            .is_some_and(|(due_s, _)| *due_s <= sim_time_s)
        {
            let Some((_, datagram)) = self.delayed.pop_front() else {
                break;
            };
            match datagram {
                Delayed::Inbound { bytes, from } => {
                    self.receive(autopilot, &bytes, from, now).await;
                }
                Delayed::Outbound { bytes, to } => self.send_to(&bytes, to).await,
            }
        }
        // Ground stations come and go in wall-clock time, also in lockstep.
        for gone in self.peers.prune(Instant::now()) {
            tracing::info!(vehicle = %self.name, peer = %gone, "ground station silent, streams stopped");
        }
        let outbound = autopilot.poll(now);
        if self.batch_streams {
            self.send_batched(autopilot, outbound).await;
        } else {
            self.send_all(autopilot, outbound).await;
        }
    }

    /// Streams to all peers packed into as few datagrams as fit a typical MTU.
    async fn send_batched(&mut self, autopilot: &mut Autopilot, outbound: Vec<Outbound>) {
        const BATCH_BYTES: usize = 1200;
        let mut batch = Vec::with_capacity(BATCH_BYTES + 300);
        for message in outbound {
            match (&message.to, &message.message) {
                (Recipient::AllPeers, OutMessage::Mav(mav)) => {
                    let header = self.next_header();
                    batch.extend(link::encode(header, mav));
                    if batch.len() >= BATCH_BYTES {
                        self.send_bytes_to_peers(autopilot, &batch).await;
                        batch.clear();
                    }
                }
                _ => self.send(autopilot, message).await,
            }
        }
        if !batch.is_empty() {
            self.send_bytes_to_peers(autopilot, &batch).await;
        }
    }

    fn next_header(&mut self) -> MavHeader {
        let header = MavHeader {
            system_id: u32::from(self.system_id),
            component_id: AUTOPILOT_COMPONENT_ID,
            sequence: self.sequence,
        };
        self.sequence = self.sequence.wrapping_add(1);
        header
    }

    async fn send_bytes_to_peers(&mut self, autopilot: &mut Autopilot, bytes: &[u8]) {
        let addresses: Vec<SocketAddr> = self.peers.addresses().copied().collect();
        for address in addresses {
            self.deliver(autopilot, bytes, address).await;
        }
    }

    /// One datagram through the link model.
    async fn deliver(&mut self, autopilot: &mut Autopilot, bytes: &[u8], address: SocketAddr) {
        match autopilot.link_admit() {
            Delivery::Deliver => self.send_to(bytes, address).await,
            Delivery::Delay(delay_s) => {
                let due_s = autopilot.vehicle().sim_time_s() + delay_s;
                self.delay(
                    due_s,
                    Delayed::Outbound {
                        bytes: bytes.to_vec(),
                        to: address,
                    },
                );
            }
            Delivery::Drop => {}
        }
    }

    async fn receive(
        &mut self,
        autopilot: &mut Autopilot,
        bytes: &[u8],
        from: SocketAddr,
        now: Instant,
    ) {
        let (frames, problems) = link::decode_datagram(bytes);
        if problems.total() > 0 {
            tracing::debug!(vehicle = %self.name, %from, ?problems, "ignored malformed input");
            autopilot.record_malformed(&problems);
        }
        for frame in frames {
            if self.peers.heard_from(from, Instant::now()) {
                tracing::info!(vehicle = %self.name, peer = %from, "ground station connected");
                autopilot.peer_joined(now);
            }
            let outbound = autopilot.handle_frame(from, &frame, now);
            self.send_all(autopilot, outbound).await;
        }
    }

    async fn send_all(&mut self, autopilot: &mut Autopilot, outbound: Vec<Outbound>) {
        for message in outbound {
            self.send(autopilot, message).await;
        }
    }

    async fn send(&mut self, autopilot: &mut Autopilot, outbound: Outbound) {
        if outbound.to == Recipient::AllPeers && self.peers.is_empty() {
            return;
        }
        let header = self.next_header();
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
        let addresses: Vec<SocketAddr> = match outbound.to {
            Recipient::Peer(address) => vec![address],
            Recipient::AllPeers => self.peers.addresses().copied().collect(),
        };
        for address in addresses {
            self.deliver(autopilot, &bytes, address).await;
        }
    }

    async fn send_to(&self, bytes: &[u8], address: SocketAddr) {
        if let Err(error) = self.socket.send_to(bytes, address).await {
            tracing::debug!(vehicle = %self.name, %address, %error, "send failed");
        }
    }
}
