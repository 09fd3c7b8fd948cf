//! The simulated multirotor: arming, PX4 flight modes, mission execution,
//! landing and the energy it spends. Pure state machine: commands are method
//! calls, time advances only through [`Vehicle::step`], and everything the
//! outside world should hear about is queued as a [`VehicleEvent`].

use mavlink::dialects::ardupilotmega::{MavCmd, MavSeverity};

use crate::battery::{Battery, ChargeState};
use crate::camera::{self, Camera, Capture};
use crate::faults::Fault;
use crate::fence::{Breach, Geofence};
use crate::flight::{self, Kinematics, SpeedLimits};
use crate::geo::{e7_to_deg, GeoPoint, LocalPoint};
use crate::mission::{home_item, AltitudeReference, MissionItem, Plan};
use crate::modes::FlightMode;
use crate::noise::{GaussMarkov, Rng};
use crate::params::{BatteryLevel, FailsafeAction, Params, VehicleSettings};
use crate::profile::AutopilotProfile;

/// Horizontal distance at which a waypoint counts as reached (unless the item
/// sets its own acceptance radius).
pub const ACCEPTANCE_RADIUS_M: f64 = 1.0;
/// Vertical distance at which a target altitude counts as reached (PX4 NAV_MC_ALT_RAD).
pub const ALTITUDE_ACCEPTANCE_M: f64 = 0.8;
/// Takeoff height when NAV_TAKEOFF carries no usable altitude.
pub const DEFAULT_TAKEOFF_ALT_M: f64 = 10.0;
/// Closer than this to home, RTL descends where it is (PX4 RTL_MIN_DIST).
pub const RTL_MIN_DISTANCE_M: f64 = 5.0;
/// Parked closer than this to home, the vehicle sits on its dock and charges.
pub const DOCK_RADIUS_M: f64 = 5.0;
/// MAV_CMD_COMPONENT_ARM_DISARM param2 magic that skips checks.
pub const FORCE_ARM_DISARM_MAGIC: f32 = 21196.0;

const HOVER_POWER_W: f64 = 250.0;
/// Extra power per (m/s)² of ground speed (parasitic drag); ~340 W at 12 m/s.
const DRAG_POWER_W_PER_MPS2: f64 = 0.6;
const CLIMB_POWER_W_PER_MPS: f64 = 40.0;
/// Armed on the ground with propellers idling.
const IDLE_ARMED_POWER_W: f64 = 40.0;
/// Gusts change over a few seconds.
const GUST_CORRELATION_S: f64 = 3.0;
/// A position controller rejects a gust within about this long; the error it
/// leaves is the gust times this.
const GUST_REJECTION_S: f64 = 0.7;
/// GPS errors wander over tens of seconds.
const GPS_ERROR_CORRELATION_S: f64 = 20.0;
/// Vertical GPS error relative to horizontal.
const GPS_VERTICAL_ERROR_RATIO: f64 = 1.6;

#[derive(Debug, Clone, PartialEq)]
pub struct VehicleConfig {
    pub name: String,
    pub system_id: u8,
    pub home: GeoPoint,
    /// Wall-clock UTC at boot, µs since the Unix epoch; image timestamps are
    /// this plus simulated time.
    pub boot_utc_us: u64,
    pub profile: AutopilotProfile,
    /// Seed of this vehicle's noise (gusts, GPS error).
    pub seed: u64,
    /// Standard deviation of the reported horizontal GPS error, m (0 = exact).
    pub gps_noise_m: f64,
}

/// Wind as the vehicle feels it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Wind {
    /// Steady wind velocity (where the air goes), m/s.
    east_mps: f64,
    north_mps: f64,
    gust_east: GaussMarkov,
    gust_north: GaussMarkov,
}

impl Wind {
    fn calm() -> Self {
        Wind {
            east_mps: 0.0,
            north_mps: 0.0,
            gust_east: GaussMarkov::new(0.0, GUST_CORRELATION_S),
            gust_north: GaussMarkov::new(0.0, GUST_CORRELATION_S),
        }
    }
}

/// Sensors and airframe health, changed by faults.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Health {
    gps_fix: bool,
    gps_lost_until_s: Option<f64>,
    motor_failed: bool,
}

/// MAV_LANDED_STATE as the vehicle sees itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LandedState {
    OnGround,
    InAir,
    Takeoff,
    Landing,
}

/// MISSION_STATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissionState {
    NoMission,
    NotStarted,
    Active,
    Paused,
    Complete,
}

/// Why a command was refused; maps to MAV_RESULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not now, maybe later (MAV_RESULT_TEMPORARILY_REJECTED).
    TemporarilyRejected(&'static str),
    /// Not in this state (MAV_RESULT_DENIED).
    Denied(&'static str),
    /// Tried and could not (MAV_RESULT_FAILED; ArduPilot's usual refusal).
    Failed(&'static str),
}

/// Something the vehicle wants its ground stations to hear about now.
#[derive(Debug, Clone, PartialEq)]
pub enum VehicleEvent {
    MissionItemReached(u16),
    MissionCurrentChanged,
    ImageCaptured(Capture),
    ModeChanged(FlightMode),
    ArmedChanged(bool),
    LandedStateChanged(LandedState),
    /// STATUSTEXT for the ground station (failsafes, refusals, mission events).
    StatusText(MavSeverity, String),
    /// The fence breach state changed (FENCE_STATUS is due).
    FenceStatusChanged,
}

/// What FENCE_STATUS reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FenceStatus {
    pub breach: Option<Breach>,
    pub breach_count: u16,
    /// Boot time of the last breach, ms.
    pub breach_time_ms: u32,
}

/// Ground-station link as the failsafe sees it (sim time of the last GCS heartbeat).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct GcsLink {
    last_heard_s: Option<f64>,
    lost: bool,
}

/// What the position controller is doing right now.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Maneuver {
    /// On the ground, motors idle or stopped.
    Idle,
    Hold(LocalPoint),
    /// Vertical climb to `target` (takeoff).
    Climb {
        target: LocalPoint,
    },
    /// Straight to `target`; from the ground, climb vertically first.
    Goto {
        target: LocalPoint,
        acceptance_m: f64,
        climb_first: bool,
    },
    Return {
        phase: ReturnPhase,
        cruise_up_m: f64,
    },
    Land {
        east_m: f64,
        north_m: f64,
        descending: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReturnPhase {
    Climb,
    Cruise,
    Descend,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ItemPhase {
    /// The current item has not been started yet (or must be restarted after a pause).
    Pending,
    Flying,
    Holding {
        until_s: f64,
    },
}

#[derive(Debug, Clone)]
pub struct Vehicle {
    config: VehicleConfig,
    armed: bool,
    mode: FlightMode,
    maneuver: Maneuver,
    maneuver_done: bool,
    kinematics: Kinematics,
    on_ground: bool,
    touchdown_at_s: Option<f64>,
    landed_state: LandedState,
    battery: Battery,
    camera: Camera,
    mission: Plan,
    mission_state: MissionState,
    current_seq: u16,
    item_phase: ItemPhase,
    limits: SpeedLimits,
    takeoff_alt_m: f64,
    roi: Option<LocalPoint>,
    sim_time_s: f64,
    events: Vec<VehicleEvent>,
    settings: VehicleSettings,
    geofence: Geofence,
    fence_status: FenceStatus,
    gcs_link: GcsLink,
    /// Battery failsafe stages already acted on (0 none .. 3 emergency).
    battery_stage: usize,
    /// Since when the battery has been below each stage's threshold.
    battery_below_since_s: [Option<f64>; 3],
    rng: Rng,
    wind: Wind,
    /// Reported-position error, east/north/up, m.
    gps_error: [GaussMarkov; 3],
    /// Gust displacement the position controller has not yet rejected, m.
    gust_offset: LocalPoint,
    health: Health,
}

impl Vehicle {
    pub fn new(config: VehicleConfig) -> Self {
        let settings = Params::new(config.profile).settings();
        let first_seq = u16::from(config.profile.mission_has_home_item());
        let initial_mission = match config.profile {
            AutopilotProfile::Px4 => Plan::default(),
            AutopilotProfile::ArduPilot => Plan::new(vec![home_item(&config.home)]),
        };
        Vehicle {
            armed: false,
            mode: FlightMode::Hold,
            maneuver: Maneuver::Idle,
            maneuver_done: false,
            kinematics: Kinematics::default(),
            on_ground: true,
            touchdown_at_s: None,
            landed_state: LandedState::OnGround,
            battery: Battery::default(),
            camera: Camera::default(),
            mission: initial_mission,
            mission_state: MissionState::NoMission,
            current_seq: first_seq,
            item_phase: ItemPhase::Pending,
            limits: SpeedLimits::default(),
            takeoff_alt_m: DEFAULT_TAKEOFF_ALT_M,
            roi: None,
            sim_time_s: 0.0,
            events: Vec::new(),
            settings,
            geofence: Geofence::default(),
            fence_status: FenceStatus::default(),
            gcs_link: GcsLink::default(),
            battery_stage: 0,
            battery_below_since_s: [None; 3],
            rng: Rng::derive(config.seed, u64::from(config.system_id)),
            wind: Wind::calm(),
            gps_error: [
                GaussMarkov::new(config.gps_noise_m, GPS_ERROR_CORRELATION_S),
                GaussMarkov::new(config.gps_noise_m, GPS_ERROR_CORRELATION_S),
                GaussMarkov::new(
                    config.gps_noise_m * GPS_VERTICAL_ERROR_RATIO,
                    GPS_ERROR_CORRELATION_S,
                ),
            ],
            gust_offset: LocalPoint::ORIGIN,
            health: Health {
                gps_fix: true,
                gps_lost_until_s: None,
                motor_failed: false,
            },
            config,
        }
        .with_settings(settings)
    }

    fn with_settings(mut self, settings: VehicleSettings) -> Self {
        self.apply_settings(settings);
        self
    }

    /// New parameter values: speeds, altitudes, failsafes.
    pub fn apply_settings(&mut self, settings: VehicleSettings) {
        self.settings = settings;
        self.limits.horizontal_mps = settings.cruise_speed_mps;
        if self.on_ground {
            if let Some(takeoff_alt_m) = settings.takeoff_altitude_m {
                self.takeoff_alt_m = takeoff_alt_m;
            }
        }
    }

    pub fn settings(&self) -> &VehicleSettings {
        &self.settings
    }

    pub fn profile(&self) -> AutopilotProfile {
        self.config.profile
    }

    /// A new uploaded fence (already validated).
    pub fn set_geofence(&mut self, geofence: Geofence) {
        self.geofence = geofence;
    }

    pub fn fence_status(&self) -> FenceStatus {
        self.fence_status
    }

    /// A HEARTBEAT from a ground station arrived.
    pub fn gcs_heartbeat(&mut self) {
        self.gcs_link.last_heard_s = Some(self.sim_time_s);
        if self.gcs_link.lost {
            self.gcs_link.lost = false;
            self.status(MavSeverity::MAV_SEVERITY_INFO, "Data link regained");
        }
    }

    fn status(&mut self, severity: MavSeverity, text: &str) {
        tracing::info!(vehicle = %self.config.name, text, "status text");
        self.events
            .push(VehicleEvent::StatusText(severity, text.to_string()));
    }

    // ---- observation ----------------------------------------------------

    pub fn name(&self) -> &str {
        &self.config.name
    }
    pub fn system_id(&self) -> u8 {
        self.config.system_id
    }
    pub fn seed(&self) -> u64 {
        self.config.seed
    }
    pub fn home(&self) -> GeoPoint {
        self.config.home
    }
    pub fn is_armed(&self) -> bool {
        self.armed
    }
    pub fn mode(&self) -> FlightMode {
        self.mode
    }
    pub fn landed_state(&self) -> LandedState {
        self.landed_state
    }
    pub fn kinematics(&self) -> &Kinematics {
        &self.kinematics
    }
    pub fn local_position(&self) -> LocalPoint {
        self.kinematics.position
    }
    pub fn position(&self) -> GeoPoint {
        self.config.home.from_local(&self.kinematics.position)
    }

    /// Where the GPS says the vehicle is: the true position plus the seeded,
    /// slowly wandering GPS error.
    pub fn reported_position(&self) -> GeoPoint {
        let here = self.kinematics.position;
        let [east, north, up] = self.gps_error.map(|error| error.value);
        self.config.home.from_local(&LocalPoint::new(
            here.east_m + east,
            here.north_m + north,
            here.up_m + up,
        ))
    }

    /// The battery's state as the failsafes judge it: by the configured
    /// thresholds (fraction for PX4, voltage for ArduCopter).
    pub fn battery_charge_state(&self) -> ChargeState {
        if self.battery.charge_state() == ChargeState::Charging {
            return ChargeState::Charging;
        }
        let [low, critical, emergency] = self.settings.battery.stages;
        if emergency != critical && self.battery_below(emergency.0) {
            ChargeState::Emergency
        } else if self.battery_below(critical.0) {
            ChargeState::Critical
        } else if self.battery_below(low.0) {
            ChargeState::Low
        } else {
            ChargeState::Ok
        }
    }

    pub fn has_gps_fix(&self) -> bool {
        self.health.gps_fix
    }

    pub fn motor_failed(&self) -> bool {
        self.health.motor_failed
    }

    /// Speed through the air (ground velocity minus the steady wind).
    pub fn airspeed_mps(&self) -> f64 {
        let velocity = self.kinematics.velocity;
        if self.on_ground {
            return 0.0;
        }
        (velocity.east_mps - self.wind.east_mps).hypot(velocity.north_mps - self.wind.north_mps)
    }

    /// Steady wind speed, m/s.
    pub fn wind_speed_mps(&self) -> f64 {
        self.wind.east_mps.hypot(self.wind.north_mps)
    }

    /// Inject a vehicle fault (link faults are the link's business).
    pub fn apply_fault(&mut self, fault: &Fault) {
        match *fault {
            Fault::GpsLoss { duration_s } => {
                self.health.gps_fix = false;
                self.health.gps_lost_until_s = duration_s.map(|d| self.sim_time_s + d);
                if self.armed && !self.on_ground {
                    self.failsafe(
                        FailsafeAction::Land,
                        MavSeverity::MAV_SEVERITY_CRITICAL,
                        "GPS lost",
                    );
                } else {
                    self.status(MavSeverity::MAV_SEVERITY_WARNING, "GPS lost");
                }
            }
            Fault::GpsRestore => self.restore_gps(),
            Fault::BatteryFault { remaining_fraction } => {
                self.battery.fail_to(remaining_fraction);
                self.status(MavSeverity::MAV_SEVERITY_CRITICAL, "Battery fault");
            }
            Fault::MotorFailure => {
                self.health.motor_failed = true;
                if self.armed && !self.on_ground {
                    self.failsafe(
                        FailsafeAction::Land,
                        MavSeverity::MAV_SEVERITY_EMERGENCY,
                        "Motor failure, forced",
                    );
                } else {
                    self.status(MavSeverity::MAV_SEVERITY_EMERGENCY, "Motor failure");
                    if self.armed {
                        self.set_armed(false);
                        self.maneuver = Maneuver::Idle;
                    }
                }
            }
            Fault::Wind {
                speed_mps,
                from_deg,
                gust_mps,
            } => {
                // "From" bearing: the air moves the opposite way.
                let toward_rad = (from_deg + 180.0).to_radians();
                self.wind.east_mps = speed_mps * toward_rad.sin();
                self.wind.north_mps = speed_mps * toward_rad.cos();
                self.wind.gust_east.sigma = gust_mps;
                self.wind.gust_north.sigma = gust_mps;
            }
            Fault::LinkCut { .. } | Fault::LossyLink { .. } | Fault::LinkRestore => {}
        }
    }

    fn restore_gps(&mut self) {
        if !self.health.gps_fix {
            self.health.gps_fix = true;
            self.health.gps_lost_until_s = None;
            self.status(MavSeverity::MAV_SEVERITY_INFO, "GPS fix regained");
        }
    }

    /// Wind and GPS: gusts push the airframe until the controller catches up;
    /// without a fix nothing holds it against the steady wind either.
    fn weather_and_sensors(&mut self, dt_s: f64) {
        let [east, north, up] = &mut self.gps_error;
        east.step(dt_s, &mut self.rng);
        north.step(dt_s, &mut self.rng);
        up.step(dt_s, &mut self.rng);
        if self
            .health
            .gps_lost_until_s
            .is_some_and(|until_s| self.sim_time_s >= until_s)
        {
            self.restore_gps();
        }
        let gust_east = self.wind.gust_east.step(dt_s, &mut self.rng);
        let gust_north = self.wind.gust_north.step(dt_s, &mut self.rng);
        if self.on_ground {
            self.gust_offset = LocalPoint::ORIGIN;
            return;
        }
        // The controller holds position against the gust with a lag: the
        // airframe sits offset by about gust x rejection time.
        let wanted = LocalPoint::new(
            gust_east * GUST_REJECTION_S,
            gust_north * GUST_REJECTION_S,
            0.0,
        );
        let shift_east = wanted.east_m - self.gust_offset.east_m;
        let shift_north = wanted.north_m - self.gust_offset.north_m;
        self.gust_offset = wanted;
        let mut drift_east = shift_east;
        let mut drift_north = shift_north;
        if !self.health.gps_fix {
            drift_east += self.wind.east_mps * dt_s;
            drift_north += self.wind.north_mps * dt_s;
        }
        self.kinematics.position.east_m += drift_east;
        self.kinematics.position.north_m += drift_north;
    }
    pub fn battery(&self) -> &Battery {
        &self.battery
    }
    pub fn mission(&self) -> &Plan {
        &self.mission
    }
    /// Sequence number of the first item to fly (1 where item 0 is home).
    pub fn first_mission_seq(&self) -> u16 {
        u16::from(self.config.profile.mission_has_home_item())
    }

    /// Whether there is anything to fly.
    pub fn has_mission(&self) -> bool {
        self.mission.items.len() > usize::from(self.first_mission_seq())
    }

    pub fn mission_state(&self) -> MissionState {
        self.mission_state
    }
    pub fn current_seq(&self) -> u16 {
        self.current_seq
    }
    pub fn sim_time_s(&self) -> f64 {
        self.sim_time_s
    }
    pub fn time_boot_ms(&self) -> u32 {
        (self.sim_time_s * 1000.0) as u32
    }
    pub fn time_boot_us(&self) -> u64 {
        (self.sim_time_s * 1e6) as u64
    }
    pub fn images_taken(&self) -> i32 {
        self.camera.images_taken()
    }

    /// Parked on the ground, disarmed, nothing scheduled: time can pass in
    /// one step without losing anything (the dock charger is linear).
    pub fn is_idle(&self) -> bool {
        !self.armed && self.on_ground && !self.camera.is_capturing()
    }

    /// Drain the queued events.
    pub fn take_events(&mut self) -> Vec<VehicleEvent> {
        std::mem::take(&mut self.events)
    }

    // ---- commands ---------------------------------------------------------

    /// MAV_CMD_COMPONENT_ARM_DISARM with param1 = 1.
    pub fn arm(&mut self, force: bool) -> Result<(), Refusal> {
        if self.armed {
            return Ok(());
        }
        let refusal = if force {
            None
        } else if self.battery_below(self.settings.battery.stages[0].0) {
            Some("battery below arming threshold")
        } else if self.health.motor_failed {
            Some("motor failure")
        } else if !self.health.gps_fix {
            Some("no GPS fix")
        } else if !self.on_ground {
            Some("cannot arm while falling")
        } else if self.settings.fence.enabled
            && self.settings.fence.uploaded_zones
            && !self.geofence.zones_allow(&self.kinematics.position)
        {
            Some("outside the geofence")
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.status(
                MavSeverity::MAV_SEVERITY_CRITICAL,
                &format!("Arming denied: {reason}"),
            );
            return Err(Refusal::Denied(reason));
        }
        self.set_armed(true);
        self.touchdown_at_s = None;
        match self.mode {
            FlightMode::Takeoff => self.begin_takeoff(),
            FlightMode::Mission => self.enter_mission(),
            // Armed on the ground in RTL or LAND: PX4's land detector disarms
            // again shortly, as if it had just landed.
            FlightMode::ReturnToLaunch | FlightMode::Land => {
                self.touchdown_at_s = Some(self.sim_time_s);
            }
            FlightMode::Hold | FlightMode::Guided | FlightMode::Brake => {}
        }
        Ok(())
    }

    /// MAV_CMD_COMPONENT_ARM_DISARM with param1 = 0.
    pub fn disarm(&mut self, force: bool) -> Result<(), Refusal> {
        if !self.armed {
            return Ok(());
        }
        if !self.on_ground && !force {
            return Err(Refusal::Denied("in air; force (21196) required to disarm"));
        }
        self.set_armed(false);
        if self.mission_state == MissionState::Active {
            self.mission_state = MissionState::Paused;
            self.item_phase = ItemPhase::Pending;
        }
        self.maneuver = Maneuver::Idle;
        Ok(())
    }

    /// DO_SET_MODE to a simulated PX4 mode.
    pub fn set_mode(&mut self, mode: FlightMode) -> Result<(), Refusal> {
        match mode {
            FlightMode::Mission => {
                if !self.has_mission() {
                    return Err(Refusal::Denied("no mission uploaded"));
                }
                self.change_mode(FlightMode::Mission);
                if self.armed {
                    self.enter_mission();
                }
            }
            FlightMode::Hold | FlightMode::Guided | FlightMode::Brake => self.hold_in(mode),
            FlightMode::Takeoff => {
                self.change_mode(FlightMode::Takeoff);
                if self.armed {
                    self.begin_takeoff();
                }
            }
            FlightMode::ReturnToLaunch => {
                self.change_mode(FlightMode::ReturnToLaunch);
                if !self.on_ground {
                    self.maneuver = self.return_maneuver();
                }
            }
            FlightMode::Land => {
                self.change_mode(FlightMode::Land);
                if !self.on_ground {
                    let here = self.kinematics.position;
                    self.maneuver = Maneuver::Land {
                        east_m: here.east_m,
                        north_m: here.north_m,
                        descending: true,
                    };
                }
            }
        }
        Ok(())
    }

    /// MAV_CMD_NAV_TAKEOFF: PX4 switches to AUTO.TAKEOFF; the climb starts
    /// now if armed, or on arming (QGC sends takeoff first, then arms).
    pub fn takeoff(&mut self, alt_above_home_m: Option<f64>) -> Result<(), Refusal> {
        if !self.on_ground {
            return Err(Refusal::TemporarilyRejected("already flying"));
        }
        self.takeoff_alt_m = alt_above_home_m
            .filter(|alt_m| alt_m.is_finite() && *alt_m >= 1.0)
            .unwrap_or(
                self.settings
                    .takeoff_altitude_m
                    .unwrap_or(DEFAULT_TAKEOFF_ALT_M),
            );
        self.change_mode(FlightMode::Takeoff);
        if self.armed {
            self.begin_takeoff();
        }
        Ok(())
    }

    /// MAV_CMD_NAV_TAKEOFF as ArduCopter takes it: armed, in GUIDED, climb to
    /// `alt_above_home_m` and stay in GUIDED.
    pub fn guided_takeoff(&mut self, alt_above_home_m: f64) -> Result<(), Refusal> {
        if self.mode != FlightMode::Guided || !self.armed {
            return Err(Refusal::Failed("takeoff needs GUIDED and armed"));
        }
        if !self.on_ground {
            return Err(Refusal::Failed("already flying"));
        }
        if !(alt_above_home_m.is_finite() && alt_above_home_m >= 1.0) {
            return Err(Refusal::Failed("takeoff altitude below 1 m"));
        }
        self.takeoff_alt_m = alt_above_home_m;
        self.begin_takeoff();
        Ok(())
    }

    /// MAV_CMD_DO_REPOSITION with the change-mode flag: enter Hold and fly to
    /// `target` (or stay here when `None`).
    pub fn reposition(
        &mut self,
        target: Option<LocalPoint>,
        ground_speed_mps: Option<f64>,
    ) -> Result<(), Refusal> {
        if self.on_ground || !self.armed {
            return Err(Refusal::TemporarilyRejected("not flying"));
        }
        // PX4 enters Hold; ArduCopter switches to GUIDED.
        self.hold_in(match self.config.profile {
            AutopilotProfile::Px4 => FlightMode::Hold,
            AutopilotProfile::ArduPilot => FlightMode::Guided,
        });
        if let Some(target) = target {
            self.maneuver = Maneuver::Hold(target);
        }
        if let Some(speed_mps) = ground_speed_mps.filter(|speed| *speed > 0.0) {
            self.limits.horizontal_mps = speed_mps;
        }
        Ok(())
    }

    /// MAV_CMD_DO_PAUSE_CONTINUE as ArduCopter does it: pause stops and holds
    /// in AUTO; continue resumes the current item.
    pub fn pause_continue(&mut self, pause: bool) -> Result<(), Refusal> {
        if self.mode != FlightMode::Mission || self.on_ground {
            return Err(Refusal::Denied("not flying a mission"));
        }
        if pause {
            if self.mission_state == MissionState::Active {
                self.mission_state = MissionState::Paused;
                self.item_phase = ItemPhase::Pending;
                self.maneuver = Maneuver::Hold(self.kinematics.stopping_point());
                self.events.push(VehicleEvent::MissionCurrentChanged);
                self.status(MavSeverity::MAV_SEVERITY_INFO, "Mission paused");
            }
        } else if self.mission_state == MissionState::Paused {
            self.enter_mission();
            self.status(MavSeverity::MAV_SEVERITY_INFO, "Mission resumed");
        }
        Ok(())
    }

    /// MAV_CMD_MISSION_START: (re)start the mission at `first_seq`.
    pub fn start_mission(&mut self, first_seq: u16) -> Result<(), Refusal> {
        if !self.has_mission() {
            return Err(Refusal::Denied("no mission uploaded"));
        }
        let first_seq = first_seq.max(self.first_mission_seq());
        if usize::from(first_seq) >= self.mission.items.len() {
            return Err(Refusal::Denied("first item beyond the end of the mission"));
        }
        if !self.armed {
            return Err(Refusal::TemporarilyRejected("arm first"));
        }
        self.set_current_item(first_seq)?;
        self.change_mode(FlightMode::Mission);
        self.enter_mission();
        Ok(())
    }

    /// MAV_CMD_DO_SET_MISSION_CURRENT / MISSION_SET_CURRENT.
    pub fn set_current_item(&mut self, seq: u16) -> Result<(), Refusal> {
        if usize::from(seq) >= self.mission.items.len() || seq < self.first_mission_seq() {
            return Err(Refusal::Denied("no such mission item"));
        }
        self.current_seq = seq;
        self.item_phase = ItemPhase::Pending;
        if self.mission_state == MissionState::Complete {
            self.mission_state = MissionState::NotStarted;
        }
        self.events.push(VehicleEvent::MissionCurrentChanged);
        Ok(())
    }

    /// A new MISSION plan was uploaded (or cleared). Progress restarts at item
    /// 0; if we were flying the old one, hold where we are until told to go.
    pub fn replace_mission(&mut self, plan: Plan) {
        let was_flying_mission = self.mode == FlightMode::Mission && !self.on_ground;
        self.mission = if self.config.profile.mission_has_home_item() {
            // ArduPilot keeps home in slot 0, whatever was uploaded there.
            let mut items = plan.items;
            let home = home_item(&self.config.home);
            match items.first_mut() {
                Some(first) => *first = home,
                None => items.push(home),
            }
            Plan::new(items)
        } else {
            plan
        };
        self.mission_state = if self.has_mission() {
            MissionState::NotStarted
        } else {
            MissionState::NoMission
        };
        self.current_seq = self.first_mission_seq();
        self.item_phase = ItemPhase::Pending;
        if was_flying_mission {
            self.hold_here();
        } else if self.mode == FlightMode::Mission && !self.has_mission() {
            self.change_mode(FlightMode::Hold);
        }
        self.events.push(VehicleEvent::MissionCurrentChanged);
    }

    /// MAV_CMD_DO_CHANGE_SPEED: `speed_type` 0/1 horizontal, 2 climb, 3 descent;
    /// `speed_mps` -2 = default, -1 (or any other non-positive) = unchanged.
    pub fn change_speed(&mut self, speed_type: u8, speed_mps: f64) {
        let default = SpeedLimits {
            horizontal_mps: self.settings.cruise_speed_mps,
            ..SpeedLimits::default()
        };
        let (slot, default_mps) = match speed_type {
            2 => (&mut self.limits.climb_mps, default.climb_mps),
            3 => (&mut self.limits.descent_mps, default.descent_mps),
            _ => (&mut self.limits.horizontal_mps, default.horizontal_mps),
        };
        if speed_mps > 0.0 {
            // Keep requests within what the airframe can do.
            *slot = speed_mps.min(default_mps * 2.0);
        } else if speed_mps == -2.0 {
            *slot = default_mps;
        }
    }

    /// MAV_CMD_DO_SET_ROI_LOCATION (`Some`) / DO_SET_ROI_NONE (`None`).
    pub fn set_region_of_interest(&mut self, roi: Option<LocalPoint>) {
        self.roi = roi;
    }

    /// Take one image now.
    pub fn capture_image(&mut self) {
        let image_index = self.camera.next_image_index();
        let position = self.position();
        let capture = Capture {
            image_index,
            time_boot_ms: self.time_boot_ms(),
            time_utc_us: self.config.boot_utc_us + self.time_boot_us(),
            position,
            relative_alt_m: self.kinematics.position.up_m,
            orientation_wxyz: camera::orientation_wxyz(
                self.kinematics.yaw_rad,
                camera::NADIR_PITCH_RAD,
            ),
            file_url: camera::file_url(&self.config.name, image_index),
        };
        self.events.push(VehicleEvent::ImageCaptured(capture));
    }

    /// MAV_CMD_IMAGE_START_CAPTURE: `count` 1 = one image now; otherwise
    /// `count` images (0 = until stopped) every `interval_s`.
    pub fn start_capture(&mut self, interval_s: f64, count: u32) {
        if count == 1 || interval_s <= 0.0 {
            self.capture_image();
        } else {
            self.camera
                .start_interval(interval_s, count, self.sim_time_s);
        }
    }

    pub fn stop_capture(&mut self) {
        self.camera.stop();
    }

    /// MAV_CMD_DO_SET_CAM_TRIGG_DIST.
    pub fn set_trigger_distance(&mut self, distance_m: f64, trigger_now: bool) {
        self.camera.set_trigger_distance(distance_m);
        if trigger_now {
            self.capture_image();
        }
    }

    /// Convert a global target to the local frame; `alt_m` is read per `reference`
    /// (NaN keeps the current height).
    pub fn local_target(
        &self,
        lat_deg: f64,
        lon_deg: f64,
        alt_m: f64,
        reference: AltitudeReference,
    ) -> LocalPoint {
        let home = self.config.home;
        let up_m = if !alt_m.is_finite() {
            self.kinematics.position.up_m
        } else if reference == AltitudeReference::MeanSeaLevel {
            alt_m - home.alt_msl_m
        } else {
            alt_m
        };
        let mut local = home.to_local(&GeoPoint {
            lat_deg,
            lon_deg,
            alt_msl_m: home.alt_msl_m,
        });
        local.up_m = up_m;
        local
    }

    // ---- time -------------------------------------------------------------

    /// Advance the simulation by `dt_s` seconds (keep it small, e.g. 20 ms).
    pub fn step(&mut self, dt_s: f64) {
        self.sim_time_s += dt_s;
        let before = self.kinematics.position;
        if !self.health.gps_fix {
            // Without a position fix the controller holds only attitude and
            // height: whatever the air does, the airframe follows.
            let here = self.kinematics.position;
            match &mut self.maneuver {
                Maneuver::Land {
                    east_m, north_m, ..
                } => {
                    (*east_m, *north_m) = (here.east_m, here.north_m);
                }
                Maneuver::Hold(point) => *point = here.at_height(point.up_m),
                _ => {}
            }
        }
        self.fly(dt_s);
        self.weather_and_sensors(dt_s);
        self.follow_heading(dt_s);
        if self.armed && self.mode == FlightMode::Mission {
            self.run_mission();
        }
        if self.maneuver_done && self.mode == FlightMode::Takeoff {
            self.hold_here();
        }
        if let (true, FlightMode::Guided, Maneuver::Climb { target }) =
            (self.maneuver_done, self.mode, self.maneuver)
        {
            self.maneuver = Maneuver::Hold(target);
        }
        self.update_energy(dt_s);
        self.battery_failsafe();
        self.link_loss_failsafe();
        self.fence_failsafe();
        self.auto_disarm();
        let travelled_m = if self.on_ground {
            0.0
        } else {
            before.horizontal_distance_m(&self.kinematics.position)
        };
        for _ in 0..self.camera.automatic_triggers(travelled_m, self.sim_time_s) {
            self.capture_image();
        }
        self.update_landed_state();
    }

    fn fly(&mut self, dt_s: f64) {
        self.maneuver_done = false;
        if !self.armed {
            if self.on_ground {
                self.kinematics.rest_on_ground();
            } else {
                self.kinematics.fall(dt_s);
                if self.kinematics.on_ground() {
                    tracing::warn!(vehicle = %self.config.name, "hit the ground unpowered");
                    self.touch_down();
                }
            }
            return;
        }
        let here = self.kinematics.position;
        match self.maneuver {
            Maneuver::Idle => {
                if self.on_ground {
                    self.kinematics.rest_on_ground();
                } else {
                    // Should not happen; a multirotor in the air holds.
                    self.maneuver = Maneuver::Hold(here);
                }
            }
            Maneuver::Hold(point) => {
                self.kinematics.fly_toward(&point, &self.limits, dt_s);
            }
            Maneuver::Climb { target } => {
                self.lift_off();
                self.kinematics.fly_toward(&target, &self.limits, dt_s);
                self.maneuver_done =
                    (self.kinematics.position.up_m - target.up_m).abs() < ALTITUDE_ACCEPTANCE_M;
            }
            Maneuver::Goto {
                target,
                acceptance_m,
                climb_first,
            } => {
                self.lift_off();
                let climbing = climb_first && here.up_m < target.up_m - ALTITUDE_ACCEPTANCE_M;
                let setpoint = if climbing {
                    here.at_height(target.up_m)
                } else {
                    target
                };
                self.kinematics.fly_toward(&setpoint, &self.limits, dt_s);
                let now = self.kinematics.position;
                self.maneuver_done = !climbing
                    && now.horizontal_distance_m(&target) < acceptance_m
                    && (now.up_m - target.up_m).abs() < ALTITUDE_ACCEPTANCE_M;
            }
            Maneuver::Return { phase, cruise_up_m } => {
                let next_phase = match phase {
                    ReturnPhase::Climb => {
                        self.kinematics.fly_toward(
                            &here.at_height(cruise_up_m),
                            &self.limits,
                            dt_s,
                        );
                        (self.kinematics.position.up_m >= cruise_up_m - ALTITUDE_ACCEPTANCE_M)
                            .then_some(ReturnPhase::Cruise)
                    }
                    ReturnPhase::Cruise => {
                        let above_home = LocalPoint::new(0.0, 0.0, cruise_up_m);
                        self.kinematics.fly_toward(&above_home, &self.limits, dt_s);
                        (self.kinematics.position.horizontal_distance_m(&above_home)
                            < ACCEPTANCE_RADIUS_M)
                            .then_some(ReturnPhase::Descend)
                    }
                    ReturnPhase::Descend => {
                        self.descend(0.0, 0.0, dt_s);
                        None
                    }
                };
                if let Some(phase) = next_phase {
                    self.maneuver = Maneuver::Return { phase, cruise_up_m };
                }
            }
            Maneuver::Land {
                east_m,
                north_m,
                descending,
            } => {
                if descending {
                    self.descend(east_m, north_m, dt_s);
                } else {
                    let above = LocalPoint::new(east_m, north_m, here.up_m);
                    self.kinematics.fly_toward(&above, &self.limits, dt_s);
                    if self.kinematics.position.horizontal_distance_m(&above) < ACCEPTANCE_RADIUS_M
                    {
                        self.maneuver = Maneuver::Land {
                            east_m,
                            north_m,
                            descending: true,
                        };
                    }
                }
            }
        }
    }

    /// Final descent onto (`east_m`, `north_m`), slowing near the ground.
    fn descend(&mut self, east_m: f64, north_m: f64, dt_s: f64) {
        if self.on_ground {
            self.maneuver_done = true;
            return;
        }
        let limits = SpeedLimits {
            descent_mps: if self.kinematics.position.up_m > flight::LAND_SLOWDOWN_HEIGHT_M {
                self.limits.descent_mps
            } else {
                flight::LAND_SPEED_MPS
            },
            ..self.limits
        };
        // Aim slightly below ground so the descent does not brake to a stop just above it.
        let touchdown = LocalPoint::new(east_m, north_m, -1.0);
        self.kinematics.fly_toward(&touchdown, &limits, dt_s);
        if self.kinematics.on_ground() {
            self.touch_down();
            self.maneuver_done = true;
        }
    }

    fn lift_off(&mut self) {
        if self.on_ground {
            self.on_ground = false;
            self.touchdown_at_s = None;
        }
    }

    fn touch_down(&mut self) {
        self.on_ground = true;
        self.kinematics.rest_on_ground();
        self.touchdown_at_s = Some(self.sim_time_s);
        self.maneuver = Maneuver::Idle;
    }

    fn follow_heading(&mut self, dt_s: f64) {
        let here = self.kinematics.position;
        let wanted_rad = match self.roi {
            Some(roi) if !self.on_ground && roi.horizontal_distance_m(&here) > 1.0 => Some(
                flight::heading_rad(roi.east_m - here.east_m, roi.north_m - here.north_m),
            ),
            _ => self.kinematics.course_rad(),
        };
        match wanted_rad {
            Some(heading_rad) => self.kinematics.turn_toward(heading_rad, dt_s),
            None => self.kinematics.yaw_rate_rad_per_s = 0.0,
        }
    }

    fn update_energy(&mut self, dt_s: f64) {
        if self.armed {
            let velocity = self.kinematics.velocity;
            let power_w = if self.on_ground {
                IDLE_ARMED_POWER_W
            } else {
                HOVER_POWER_W
                    + DRAG_POWER_W_PER_MPS2 * self.airspeed_mps().powi(2)
                    + CLIMB_POWER_W_PER_MPS * velocity.up_mps.max(0.0)
            };
            self.battery.discharge(power_w, dt_s);
        } else if self.on_ground
            && self
                .kinematics
                .position
                .horizontal_distance_m(&LocalPoint::ORIGIN)
                < DOCK_RADIUS_M
        {
            self.battery.charge(dt_s);
        } else {
            self.battery.rest();
        }
    }

    fn battery_below(&self, level: BatteryLevel) -> bool {
        match level {
            BatteryLevel::Fraction(fraction) => self.battery.fraction() < fraction,
            BatteryLevel::Volts(volts) => self.battery.voltage_v() < volts,
        }
    }

    /// Low, critical and emergency battery: each stage acts once, after the
    /// level has stayed below its threshold for the configured delay.
    fn battery_failsafe(&mut self) {
        let settings = self.settings.battery;
        for (stage, (level, _)) in settings.stages.iter().enumerate() {
            if self.battery_below(*level) {
                self.battery_below_since_s[stage].get_or_insert(self.sim_time_s);
            } else {
                self.battery_below_since_s[stage] = None;
            }
        }
        let reached = self
            .battery_below_since_s
            .iter()
            .rposition(|since| {
                since.is_some_and(|since_s| self.sim_time_s - since_s >= settings.delay_s)
            })
            .map_or(0, |stage| stage + 1);
        if reached == 0 && self.on_ground {
            // Recharged on the dock: the next flight starts afresh.
            self.battery_stage = 0;
        }
        if reached <= self.battery_stage || self.on_ground || !self.armed {
            return;
        }
        self.battery_stage = reached;
        let action = settings.stages[reached - 1].1;
        // ArduPilot has two stages; its third repeats the second.
        let stage_name = if reached == 3 && settings.stages[2] == settings.stages[1] {
            2
        } else {
            reached
        };
        let (severity, what) = match stage_name {
            1 => (MavSeverity::MAV_SEVERITY_WARNING, "Low battery"),
            2 => (MavSeverity::MAV_SEVERITY_CRITICAL, "Critical battery"),
            _ => (MavSeverity::MAV_SEVERITY_EMERGENCY, "Emergency battery"),
        };
        self.failsafe(action, severity, what);
    }

    /// Ground-station link loss: only once a ground station has been heard,
    /// after COM_DL_LOSS_T / FS_GCS_TIMEOUT without its heartbeat.
    fn link_loss_failsafe(&mut self) {
        let Some((timeout_s, action)) = self.settings.link_loss else {
            return;
        };
        let Some(last_heard_s) = self.gcs_link.last_heard_s else {
            return;
        };
        if self.gcs_link.lost || self.sim_time_s - last_heard_s < timeout_s {
            return;
        }
        self.gcs_link.lost = true;
        if self.on_ground || !self.armed {
            self.status(
                MavSeverity::MAV_SEVERITY_WARNING,
                "Connection to ground station lost",
            );
            return;
        }
        self.failsafe(
            action,
            MavSeverity::MAV_SEVERITY_CRITICAL,
            "Connection to ground station lost",
        );
    }

    fn current_breach(&self) -> Option<Breach> {
        let fence = self.settings.fence;
        let here = self.kinematics.position;
        if !fence.enabled {
            return None;
        }
        if fence.max_altitude_m.is_some_and(|max_m| here.up_m > max_m) {
            return Some(Breach::MaxAltitude);
        }
        let too_far = fence
            .max_distance_m
            .is_some_and(|max_m| here.horizontal_distance_m(&LocalPoint::ORIGIN) > max_m);
        if too_far || (fence.uploaded_zones && !self.geofence.zones_allow(&here)) {
            return Some(Breach::Boundary);
        }
        None
    }

    /// Fence and altitude limit: act once on each breach.
    fn fence_failsafe(&mut self) {
        let breach = if self.on_ground {
            None
        } else {
            self.current_breach()
        };
        if breach == self.fence_status.breach {
            return;
        }
        let was_breached = self.fence_status.breach.is_some();
        self.fence_status.breach = breach;
        self.events.push(VehicleEvent::FenceStatusChanged);
        let Some(breach) = breach else {
            return;
        };
        if was_breached {
            // From one kind of breach to another: already handled.
            return;
        }
        self.fence_status.breach_count = self.fence_status.breach_count.wrapping_add(1);
        self.fence_status.breach_time_ms = self.time_boot_ms();
        let what = match breach {
            Breach::Boundary => "Geofence breached",
            Breach::MaxAltitude => "Altitude limit breached",
        };
        self.failsafe(
            self.settings.fence.action,
            MavSeverity::MAV_SEVERITY_CRITICAL,
            what,
        );
    }

    fn failsafe(&mut self, action: FailsafeAction, severity: MavSeverity, what: &str) {
        tracing::warn!(vehicle = %self.config.name, what, ?action, "failsafe");
        let reaction = match action {
            FailsafeAction::Warn => "",
            FailsafeAction::Hold => ", holding",
            FailsafeAction::Return => ", returning",
            FailsafeAction::Land => ", landing",
        };
        self.status(severity, &format!("{what}{reaction}"));
        if self.on_ground || !self.armed {
            return;
        }
        match action {
            FailsafeAction::Warn => {}
            FailsafeAction::Hold => {
                self.hold_here();
                if let (Some(max_m), Maneuver::Hold(point)) =
                    (self.settings.fence.max_altitude_m, self.maneuver)
                {
                    // Holding above the altitude limit would stay in breach.
                    self.maneuver = Maneuver::Hold(point.at_height(point.up_m.min(max_m - 1.0)));
                }
            }
            FailsafeAction::Return => {
                if self.mode != FlightMode::Land {
                    self.set_mode(FlightMode::ReturnToLaunch).ok();
                }
            }
            FailsafeAction::Land => {
                self.set_mode(FlightMode::Land).ok();
            }
        }
    }

    fn auto_disarm(&mut self) {
        if let Some(touchdown_at_s) = self.touchdown_at_s {
            if self.armed
                && self.on_ground
                && self
                    .settings
                    .disarm_after_landing_s
                    .is_some_and(|delay_s| self.sim_time_s - touchdown_at_s >= delay_s)
            {
                self.set_armed(false);
                self.touchdown_at_s = None;
                self.maneuver = Maneuver::Idle;
            }
        }
    }

    fn update_landed_state(&mut self) {
        let state = if self.on_ground {
            LandedState::OnGround
        } else {
            match self.maneuver {
                Maneuver::Climb { .. } => LandedState::Takeoff,
                Maneuver::Goto {
                    target,
                    climb_first: true,
                    ..
                } if self.kinematics.position.up_m < target.up_m - ALTITUDE_ACCEPTANCE_M => {
                    LandedState::Takeoff
                }
                Maneuver::Land {
                    descending: true, ..
                }
                | Maneuver::Return {
                    phase: ReturnPhase::Descend,
                    ..
                } => LandedState::Landing,
                _ => LandedState::InAir,
            }
        };
        if state != self.landed_state {
            self.landed_state = state;
            self.events.push(VehicleEvent::LandedStateChanged(state));
        }
    }

    // ---- modes --------------------------------------------------------------

    fn set_armed(&mut self, armed: bool) {
        if self.armed != armed {
            self.armed = armed;
            self.events.push(VehicleEvent::ArmedChanged(armed));
        }
    }

    fn change_mode(&mut self, mode: FlightMode) {
        if self.mode == FlightMode::Mission
            && mode != FlightMode::Mission
            && self.mission_state == MissionState::Active
        {
            self.mission_state = MissionState::Paused;
            self.item_phase = ItemPhase::Pending;
            self.events.push(VehicleEvent::MissionCurrentChanged);
        }
        if self.mode != mode {
            self.mode = mode;
            self.events.push(VehicleEvent::ModeChanged(mode));
        }
    }

    fn hold_here(&mut self) {
        self.hold_in(FlightMode::Hold);
    }

    fn hold_in(&mut self, mode: FlightMode) {
        self.change_mode(mode);
        self.maneuver = if self.on_ground {
            Maneuver::Idle
        } else {
            Maneuver::Hold(self.kinematics.stopping_point())
        };
    }

    fn begin_takeoff(&mut self) {
        let here = self.kinematics.position;
        self.maneuver = Maneuver::Climb {
            target: here.at_height(self.takeoff_alt_m.max(here.up_m)),
        };
    }

    /// RTL cruise height: at least RTL_RETURN_ALT, but below an altitude limit.
    fn return_altitude_m(&self, here_up_m: f64) -> f64 {
        let wanted_m = here_up_m.max(self.settings.return_altitude_m);
        match self.settings.fence.max_altitude_m {
            Some(max_m) if self.settings.fence.enabled => wanted_m.min(max_m - 1.0),
            _ => wanted_m,
        }
    }

    fn return_maneuver(&self) -> Maneuver {
        let here = self.kinematics.position;
        if here.horizontal_distance_m(&LocalPoint::ORIGIN) < RTL_MIN_DISTANCE_M {
            Maneuver::Return {
                phase: ReturnPhase::Descend,
                cruise_up_m: here.up_m,
            }
        } else {
            Maneuver::Return {
                phase: ReturnPhase::Climb,
                cruise_up_m: self.return_altitude_m(here.up_m),
            }
        }
    }

    // ---- mission execution --------------------------------------------------

    /// Start or resume the mission (mode is already AUTO.MISSION, armed).
    fn enter_mission(&mut self) {
        if !self.has_mission() {
            return;
        }
        if self.mission_state == MissionState::Complete
            || self.current_seq < self.first_mission_seq()
        {
            self.current_seq = self.first_mission_seq();
        }
        if matches!(
            self.mission_state,
            MissionState::NotStarted | MissionState::Complete
        ) {
            self.status(MavSeverity::MAV_SEVERITY_INFO, "Mission started");
        }
        self.mission_state = MissionState::Active;
        self.item_phase = ItemPhase::Pending;
        self.events.push(VehicleEvent::MissionCurrentChanged);
        if !self.on_ground {
            // Until the current item sets a target, stay put rather than keep
            // whatever the previous mode was doing.
            self.maneuver = Maneuver::Hold(self.kinematics.stopping_point());
        }
    }

    fn run_mission(&mut self) {
        if self.mission_state != MissionState::Active {
            return;
        }
        // Each pass either waits (return) or finishes an item; bounded so a
        // plan of only DO items cannot spin forever.
        for _ in 0..=self.mission.items.len() {
            let Some(item) = self
                .mission
                .items
                .get(usize::from(self.current_seq))
                .copied()
            else {
                self.finish_mission();
                return;
            };
            match self.item_phase {
                ItemPhase::Pending => {
                    if self.begin_item(&item) {
                        self.item_phase = ItemPhase::Flying;
                        return;
                    }
                    self.events.push(VehicleEvent::MissionItemReached(item.seq));
                    self.advance_item();
                }
                ItemPhase::Flying => {
                    if !self.maneuver_done {
                        return;
                    }
                    self.maneuver_done = false;
                    self.events.push(VehicleEvent::MissionItemReached(item.seq));
                    let hold_s = match item.command {
                        MavCmd::MAV_CMD_NAV_WAYPOINT | MavCmd::MAV_CMD_NAV_LOITER_TIME => {
                            f64::from(item.param1).max(0.0)
                        }
                        _ => 0.0,
                    };
                    if hold_s > 0.0 {
                        self.item_phase = ItemPhase::Holding {
                            until_s: self.sim_time_s + hold_s,
                        };
                        self.maneuver = Maneuver::Hold(self.kinematics.stopping_point());
                        return;
                    }
                    self.advance_item();
                }
                ItemPhase::Holding { until_s } => {
                    if self.sim_time_s < until_s {
                        return;
                    }
                    self.advance_item();
                }
            }
            if self.mission_state != MissionState::Active {
                return;
            }
        }
    }

    fn advance_item(&mut self) {
        self.item_phase = ItemPhase::Pending;
        if usize::from(self.current_seq) + 1 >= self.mission.items.len() {
            self.finish_mission();
        } else {
            self.current_seq += 1;
            self.events.push(VehicleEvent::MissionCurrentChanged);
        }
    }

    fn finish_mission(&mut self) {
        self.mission_state = MissionState::Complete;
        self.status(MavSeverity::MAV_SEVERITY_INFO, "Mission finished");
        self.events.push(VehicleEvent::MissionCurrentChanged);
        if !self.on_ground {
            // PX4 loiters at the last position when a mission ends in the air.
            self.hold_here();
        }
    }

    /// Start executing `item`. Returns true when it sets a target to fly to,
    /// false for items that complete immediately.
    fn begin_item(&mut self, item: &MissionItem) -> bool {
        let here = self.kinematics.position;
        match item.command {
            MavCmd::MAV_CMD_NAV_TAKEOFF => {
                let target_up_m = self.item_target(item).up_m.max(1.0);
                let target = here.at_height(target_up_m);
                self.maneuver = if self.on_ground {
                    Maneuver::Climb { target }
                } else {
                    Maneuver::Goto {
                        target,
                        acceptance_m: ACCEPTANCE_RADIUS_M,
                        climb_first: false,
                    }
                };
                true
            }
            MavCmd::MAV_CMD_NAV_WAYPOINT | MavCmd::MAV_CMD_NAV_LOITER_TIME => {
                let acceptance_m =
                    if item.command == MavCmd::MAV_CMD_NAV_WAYPOINT && item.param2 > 0.0 {
                        f64::from(item.param2)
                    } else {
                        ACCEPTANCE_RADIUS_M
                    };
                self.maneuver = Maneuver::Goto {
                    target: self.item_target(item),
                    acceptance_m,
                    // PX4 takes off vertically before the first waypoint.
                    climb_first: self.on_ground,
                };
                true
            }
            MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH => {
                if self.on_ground {
                    return false;
                }
                self.maneuver = self.return_maneuver();
                true
            }
            MavCmd::MAV_CMD_NAV_LAND => {
                if self.on_ground {
                    return false;
                }
                let target = self.item_target(item);
                self.maneuver = Maneuver::Land {
                    east_m: target.east_m,
                    north_m: target.north_m,
                    descending: false,
                };
                true
            }
            MavCmd::MAV_CMD_DO_CHANGE_SPEED => {
                self.change_speed(item.param1 as u8, f64::from(item.param2));
                false
            }
            MavCmd::MAV_CMD_DO_SET_ROI_LOCATION => {
                self.roi = Some(self.item_target(item));
                false
            }
            MavCmd::MAV_CMD_DO_SET_ROI_NONE => {
                self.roi = None;
                false
            }
            MavCmd::MAV_CMD_IMAGE_START_CAPTURE => {
                self.start_capture(f64::from(item.param2), item.param3.max(0.0) as u32);
                false
            }
            MavCmd::MAV_CMD_IMAGE_STOP_CAPTURE => {
                self.stop_capture();
                false
            }
            MavCmd::MAV_CMD_DO_SET_CAM_TRIGG_DIST => {
                self.set_trigger_distance(f64::from(item.param1), item.param3 >= 1.0);
                false
            }
            other => {
                // Uploads are validated, so this is only reachable for plans
                // built in code; skipping is what PX4 does with unknown DO items.
                tracing::debug!(command = ?other, "skipping unsupported mission item");
                false
            }
        }
    }

    /// Where an item points, in the local frame; no position means here.
    fn item_target(&self, item: &MissionItem) -> LocalPoint {
        let here = self.kinematics.position;
        let reference = item
            .altitude_reference()
            .unwrap_or(AltitudeReference::AboveHome);
        let mut target = if item.has_horizontal_position() {
            self.local_target(
                e7_to_deg(item.x),
                e7_to_deg(item.y),
                f64::from(item.z),
                reference,
            )
        } else {
            here
        };
        if reference == AltitudeReference::NoPosition || !item.z.is_finite() {
            target.up_m = here.up_m;
        } else if reference == AltitudeReference::MeanSeaLevel {
            target.up_m = f64::from(item.z) - self.config.home.alt_msl_m;
        } else {
            target.up_m = f64::from(item.z);
        }
        target
    }

    /// Swap in a pack at `fraction` charge (tests, low-battery demos).
    pub fn set_battery_fraction(&mut self, fraction: f64) {
        self.battery = Battery::with_fraction(fraction);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fence::Geofence;
    use crate::geo::deg_to_e7;
    use mavlink::dialects::ardupilotmega::MavFrame;

    const DT_S: f64 = 0.02;

    /// Global position of a local point relative to `home`, in MAVLink integers.
    pub fn to_e7(home: &GeoPoint, local: &LocalPoint) -> (i32, i32) {
        let geo = home.from_local(local);
        (deg_to_e7(geo.lat_deg), deg_to_e7(geo.lon_deg))
    }

    fn home() -> GeoPoint {
        GeoPoint {
            lat_deg: 30.505,
            lon_deg: 114.398,
            alt_msl_m: 20.0,
        }
    }

    fn vehicle() -> Vehicle {
        Vehicle::new(VehicleConfig {
            name: "test-1".to_string(),
            system_id: 1,
            home: home(),
            boot_utc_us: 1_700_000_000_000_000,
            profile: AutopilotProfile::Px4,
            seed: 1,
            gps_noise_m: 0.0,
        })
    }

    fn item(seq: u16, command: MavCmd, frame: MavFrame, local: LocalPoint) -> MissionItem {
        let (x, y) = if frame == MavFrame::MAV_FRAME_MISSION {
            (0, 0)
        } else {
            to_e7(&home(), &local)
        };
        MissionItem {
            seq,
            frame,
            command,
            current: 0,
            autocontinue: 1,
            param1: 0.0,
            param2: 0.0,
            param3: 0.0,
            param4: f32::NAN,
            x,
            y,
            z: local.up_m as f32,
        }
    }

    fn run_for(vehicle: &mut Vehicle, seconds: f64) -> Vec<VehicleEvent> {
        let mut events = Vec::new();
        for _ in 0..(seconds / DT_S).round() as usize {
            vehicle.step(DT_S);
            events.extend(vehicle.take_events());
        }
        events
    }

    #[test]
    fn low_battery_refuses_arming_unless_forced() {
        let mut vehicle = vehicle();
        vehicle.set_battery_fraction(0.15);
        assert!(matches!(vehicle.arm(false), Err(Refusal::Denied(_))));
        assert!(!vehicle.is_armed());
        assert_eq!(vehicle.arm(true), Ok(()));
        assert!(vehicle.is_armed());
    }

    #[test]
    fn takeoff_climbs_then_holds_and_refuses_disarm_in_air() {
        let mut vehicle = vehicle();
        vehicle
            .takeoff(Some(15.0))
            .expect("takeoff accepted on ground");
        vehicle.arm(false).expect("arm");
        let events = run_for(&mut vehicle, 2.0);
        assert!(events.contains(&VehicleEvent::LandedStateChanged(LandedState::Takeoff)));
        run_for(&mut vehicle, 10.0);
        assert_eq!(vehicle.mode(), FlightMode::Hold);
        assert!((vehicle.local_position().up_m - 15.0).abs() < 1.0);
        assert_eq!(vehicle.landed_state(), LandedState::InAir);
        assert!(matches!(vehicle.disarm(false), Err(Refusal::Denied(_))));
        assert!(matches!(
            vehicle.takeoff(None),
            Err(Refusal::TemporarilyRejected(_))
        ));
    }

    #[test]
    fn land_touches_down_and_auto_disarms() {
        let mut vehicle = vehicle();
        vehicle.takeoff(Some(10.0)).expect("takeoff");
        vehicle.arm(false).expect("arm");
        run_for(&mut vehicle, 8.0);
        vehicle.set_mode(FlightMode::Land).expect("land");
        let events = run_for(&mut vehicle, 20.0);
        assert!(events.contains(&VehicleEvent::LandedStateChanged(LandedState::Landing)));
        assert!(events.contains(&VehicleEvent::ArmedChanged(false)));
        assert_eq!(vehicle.landed_state(), LandedState::OnGround);
    }

    #[test]
    fn mission_flies_every_item_and_lands_home() {
        let mut vehicle = vehicle();
        let far = LocalPoint::new(60.0, 80.0, 20.0);
        let items = vec![
            item(
                0,
                MavCmd::MAV_CMD_NAV_TAKEOFF,
                MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                LocalPoint::new(0.0, 0.0, 20.0),
            ),
            item(
                1,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                far,
            ),
            MissionItem {
                param3: 1.0,
                ..item(
                    2,
                    MavCmd::MAV_CMD_IMAGE_START_CAPTURE,
                    MavFrame::MAV_FRAME_MISSION,
                    LocalPoint::ORIGIN,
                )
            },
            item(
                3,
                MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH,
                MavFrame::MAV_FRAME_MISSION,
                LocalPoint::ORIGIN,
            ),
        ];
        vehicle.replace_mission(Plan::new(items));
        vehicle.arm(false).expect("arm");
        vehicle.set_mode(FlightMode::Mission).expect("mission");
        let events = run_for(&mut vehicle, 120.0);
        let reached: Vec<u16> = events
            .iter()
            .filter_map(|event| match event {
                VehicleEvent::MissionItemReached(seq) => Some(*seq),
                _ => None,
            })
            .collect();
        assert_eq!(reached, vec![0, 1, 2, 3]);
        let texts = status_texts(&events);
        assert_eq!(
            texts,
            vec![
                "Mission started".to_string(),
                "Mission finished".to_string()
            ]
        );
        let capture = events
            .iter()
            .find_map(|event| match event {
                VehicleEvent::ImageCaptured(capture) => Some(capture.clone()),
                _ => None,
            })
            .expect("image");
        let at = home().to_local(&capture.position);
        assert!(at.horizontal_distance_m(&far) < 2.0, "captured at {at:?}");
        assert_eq!(capture.file_url, "sim://test-1/IMG_0001.jpg");
        assert_eq!(vehicle.mission_state(), MissionState::Complete);
        assert!(!vehicle.is_armed());
        assert!(
            vehicle
                .local_position()
                .horizontal_distance_m(&LocalPoint::ORIGIN)
                < 1.0
        );
        assert!(vehicle.battery().consumed_mah() > 50.0);
    }

    #[test]
    fn mission_mode_without_a_mission_is_denied() {
        let mut vehicle = vehicle();
        assert!(matches!(
            vehicle.set_mode(FlightMode::Mission),
            Err(Refusal::Denied(_))
        ));
        assert!(matches!(vehicle.start_mission(0), Err(Refusal::Denied(_))));
    }

    #[test]
    fn hold_pauses_and_mission_mode_resumes() {
        let mut vehicle = vehicle();
        let items = vec![
            item(
                0,
                MavCmd::MAV_CMD_NAV_WAYPOINT,
                MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                LocalPoint::new(0.0, 300.0, 20.0),
            ),
            item(
                1,
                MavCmd::MAV_CMD_NAV_LAND,
                MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
                LocalPoint::new(0.0, 300.0, 0.0),
            ),
        ];
        vehicle.replace_mission(Plan::new(items));
        vehicle.set_mode(FlightMode::Mission).expect("mission");
        vehicle.arm(false).expect("arm");
        run_for(&mut vehicle, 15.0);
        vehicle.set_mode(FlightMode::Hold).expect("hold");
        assert_eq!(vehicle.mission_state(), MissionState::Paused);
        run_for(&mut vehicle, 5.0);
        let paused_at = vehicle.local_position();
        run_for(&mut vehicle, 5.0);
        assert!(vehicle.local_position().distance_m(&paused_at) < 0.5);
        vehicle.set_mode(FlightMode::Mission).expect("resume");
        run_for(&mut vehicle, 90.0);
        assert_eq!(vehicle.mission_state(), MissionState::Complete);
        assert!((vehicle.local_position().north_m - 300.0).abs() < 1.5);
        assert_eq!(vehicle.landed_state(), LandedState::OnGround);
        assert!(!vehicle.is_armed());
    }

    #[test]
    fn docked_vehicle_recharges() {
        let mut vehicle = vehicle();
        vehicle.set_battery_fraction(0.5);
        run_for(&mut vehicle, 60.0);
        assert!(vehicle.battery().fraction() > 0.5);
    }

    fn px4_settings(changes: &[(&str, f32)]) -> VehicleSettings {
        let mut params = Params::new(AutopilotProfile::Px4);
        for (name, value) in changes {
            params.set(name, *value).expect("valid parameter");
        }
        params.settings()
    }

    fn status_texts(events: &[VehicleEvent]) -> Vec<String> {
        events
            .iter()
            .filter_map(|event| match event {
                VehicleEvent::StatusText(_, text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn airborne(vehicle: &mut Vehicle, alt_m: f64) {
        vehicle.takeoff(Some(alt_m)).expect("takeoff");
        vehicle.arm(false).expect("arm");
        run_for(vehicle, alt_m / 2.0 + 6.0);
        assert_eq!(vehicle.landed_state(), LandedState::InAir);
    }

    #[test]
    fn critical_battery_returns_then_emergency_battery_lands() {
        let mut vehicle = vehicle();
        vehicle.set_battery_fraction(0.6);
        airborne(&mut vehicle, 20.0);
        vehicle
            .reposition(Some(LocalPoint::new(200.0, 0.0, 20.0)), None)
            .unwrap();
        run_for(&mut vehicle, 25.0);
        vehicle.set_battery_fraction(0.09);
        let events = run_for(&mut vehicle, 1.0);
        assert_eq!(vehicle.mode(), FlightMode::ReturnToLaunch);
        let texts = status_texts(&events);
        assert!(
            texts.contains(&"Critical battery, returning".to_string()),
            "{texts:?}"
        );
        vehicle.set_battery_fraction(0.04);
        let events = run_for(&mut vehicle, 1.0);
        assert_eq!(vehicle.mode(), FlightMode::Land);
        assert!(status_texts(&events).contains(&"Emergency battery, landing".to_string()));
    }

    #[test]
    fn reported_charge_state_follows_the_threshold_parameters() {
        let mut vehicle = vehicle();
        vehicle.set_battery_fraction(0.25);
        assert_eq!(vehicle.battery_charge_state(), ChargeState::Ok);
        vehicle.apply_settings(px4_settings(&[("BAT_LOW_THR", 0.3)]));
        assert_eq!(vehicle.battery_charge_state(), ChargeState::Low);
        vehicle.set_battery_fraction(0.04);
        assert_eq!(vehicle.battery_charge_state(), ChargeState::Emergency);
    }

    #[test]
    fn battery_thresholds_come_from_parameters() {
        let mut vehicle = vehicle();
        vehicle.apply_settings(px4_settings(&[
            ("BAT_CRIT_THR", 0.25),
            ("BAT_LOW_THR", 0.3),
        ]));
        vehicle.set_battery_fraction(0.5);
        airborne(&mut vehicle, 10.0);
        vehicle.set_battery_fraction(0.24);
        run_for(&mut vehicle, 0.5);
        assert_eq!(vehicle.mode(), FlightMode::ReturnToLaunch);
    }

    #[test]
    fn link_loss_returns_after_the_timeout_only_once_a_ground_station_was_heard() {
        let mut vehicle = vehicle();
        vehicle.apply_settings(px4_settings(&[
            ("NAV_DLL_ACT", 2.0),
            ("COM_DL_LOSS_T", 5.0),
        ]));
        airborne(&mut vehicle, 10.0);
        run_for(&mut vehicle, 30.0);
        assert_eq!(
            vehicle.mode(),
            FlightMode::Hold,
            "never heard a GCS: no failsafe"
        );
        vehicle.gcs_heartbeat();
        run_for(&mut vehicle, 4.0);
        assert_eq!(vehicle.mode(), FlightMode::Hold);
        let events = run_for(&mut vehicle, 1.5);
        assert_eq!(vehicle.mode(), FlightMode::ReturnToLaunch);
        assert!(status_texts(&events)
            .contains(&"Connection to ground station lost, returning".to_string()));
        let events = {
            vehicle.gcs_heartbeat();
            vehicle.take_events()
        };
        assert!(status_texts(&events).contains(&"Data link regained".to_string()));
    }

    #[test]
    fn arducopter_low_then_critical_voltage_returns_then_lands_after_the_timer() {
        let mut vehicle = Vehicle::new(VehicleConfig {
            profile: AutopilotProfile::ArduPilot,
            ..vehicle().config.clone()
        });
        vehicle.set_mode(FlightMode::Guided).unwrap();
        vehicle.arm(false).unwrap();
        vehicle.guided_takeoff(15.0).unwrap();
        run_for(&mut vehicle, 12.0);
        assert_eq!(vehicle.mode(), FlightMode::Guided);
        assert_eq!(vehicle.landed_state(), LandedState::InAir);
        // ~21.3 V under hover load: below BATT_LOW_VOLT (21.6 V), above BATT_CRT_VOLT (21.0 V).
        vehicle.set_battery_fraction(0.2);
        run_for(&mut vehicle, 5.0);
        assert_eq!(
            vehicle.mode(),
            FlightMode::Guided,
            "BATT_LOW_TIMER (10 s) not yet run out"
        );
        let events = run_for(&mut vehicle, 6.0);
        assert_eq!(vehicle.mode(), FlightMode::ReturnToLaunch);
        assert!(status_texts(&events).contains(&"Low battery, returning".to_string()));
        vehicle.set_battery_fraction(0.01);
        let events = run_for(&mut vehicle, 11.0);
        assert_eq!(vehicle.mode(), FlightMode::Land);
        assert!(status_texts(&events).contains(&"Critical battery, landing".to_string()));
    }

    #[test]
    fn link_loss_is_ignored_when_the_parameter_disables_it() {
        let mut vehicle = vehicle();
        airborne(&mut vehicle, 10.0);
        vehicle.gcs_heartbeat();
        run_for(&mut vehicle, 30.0);
        assert_eq!(vehicle.mode(), FlightMode::Hold);
    }

    fn fence_item(seq: u16, command: MavCmd, east_m: f64, north_m: f64, p1: f32) -> MissionItem {
        MissionItem {
            param1: p1,
            ..item(
                seq,
                command,
                MavFrame::MAV_FRAME_GLOBAL,
                LocalPoint::new(east_m, north_m, 0.0),
            )
        }
    }

    #[test]
    fn leaving_an_inclusion_polygon_triggers_the_fence_action() {
        let mut vehicle = vehicle();
        vehicle.apply_settings(px4_settings(&[("GF_ACTION", 3.0)]));
        let square: Vec<MissionItem> = [(-50.0, -50.0), (50.0, -50.0), (50.0, 50.0), (-50.0, 50.0)]
            .iter()
            .enumerate()
            .map(|(i, (e, n))| {
                fence_item(
                    i as u16,
                    MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                    *e,
                    *n,
                    4.0,
                )
            })
            .collect();
        vehicle.set_geofence(Geofence::from_items(&home(), &square));
        airborne(&mut vehicle, 10.0);
        vehicle
            .reposition(Some(LocalPoint::new(120.0, 0.0, 10.0)), None)
            .unwrap();
        let events = run_for(&mut vehicle, 15.0);
        assert!(events.contains(&VehicleEvent::FenceStatusChanged));
        assert!(status_texts(&events).contains(&"Geofence breached, returning".to_string()));
        assert_eq!(vehicle.fence_status().breach_count, 1);
        assert_eq!(vehicle.mode(), FlightMode::ReturnToLaunch);
        run_for(&mut vehicle, 60.0);
        assert_eq!(vehicle.fence_status().breach, None);
        assert!(!vehicle.is_armed());
    }

    #[test]
    fn entering_an_exclusion_circle_holds_by_default() {
        let mut vehicle = vehicle();
        let keep_out = vec![fence_item(
            0,
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION,
            100.0,
            0.0,
            30.0,
        )];
        vehicle.set_geofence(Geofence::from_items(&home(), &keep_out));
        airborne(&mut vehicle, 10.0);
        vehicle
            .reposition(Some(LocalPoint::new(200.0, 0.0, 10.0)), None)
            .unwrap();
        let events = run_for(&mut vehicle, 30.0);
        assert!(status_texts(&events).contains(&"Geofence breached, holding".to_string()));
        assert_eq!(vehicle.mode(), FlightMode::Hold);
        assert!(
            vehicle.local_position().east_m < 110.0,
            "stopped near the zone"
        );
    }

    #[test]
    fn climbing_through_the_altitude_limit_lands_when_the_action_says_land() {
        let mut vehicle = vehicle();
        vehicle.apply_settings(px4_settings(&[
            ("GF_MAX_VER_DIST", 25.0),
            ("GF_ACTION", 5.0),
        ]));
        vehicle.takeoff(Some(40.0)).unwrap();
        vehicle.arm(false).unwrap();
        let events = run_for(&mut vehicle, 15.0);
        assert!(status_texts(&events).contains(&"Altitude limit breached, landing".to_string()));
        assert_eq!(vehicle.mode(), FlightMode::Land);
        assert_eq!(
            vehicle.fence_status().breach.or(Some(Breach::MaxAltitude)),
            Some(Breach::MaxAltitude)
        );
        assert!(vehicle.local_position().up_m < 27.0);
    }

    #[test]
    fn arming_outside_the_fence_is_refused_with_a_status_text() {
        let mut vehicle = vehicle();
        let far_circle = vec![fence_item(
            0,
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
            500.0,
            0.0,
            50.0,
        )];
        vehicle.set_geofence(Geofence::from_items(&home(), &far_circle));
        assert!(matches!(vehicle.arm(false), Err(Refusal::Denied(_))));
        assert!(status_texts(&vehicle.take_events())
            .contains(&"Arming denied: outside the geofence".to_string()));
    }

    #[test]
    fn ardupilot_pause_holds_in_auto_and_continue_resumes() {
        let mut vehicle = vehicle();
        vehicle.replace_mission(Plan::new(vec![item(
            0,
            MavCmd::MAV_CMD_NAV_WAYPOINT,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            LocalPoint::new(0.0, 300.0, 20.0),
        )]));
        vehicle.set_mode(FlightMode::Mission).unwrap();
        vehicle.arm(false).unwrap();
        run_for(&mut vehicle, 15.0);
        vehicle.pause_continue(true).unwrap();
        assert_eq!(vehicle.mission_state(), MissionState::Paused);
        assert_eq!(vehicle.mode(), FlightMode::Mission);
        run_for(&mut vehicle, 5.0);
        let paused_at = vehicle.local_position();
        run_for(&mut vehicle, 5.0);
        assert!(vehicle.local_position().distance_m(&paused_at) < 0.5);
        vehicle.pause_continue(false).unwrap();
        run_for(&mut vehicle, 40.0);
        assert_eq!(vehicle.mission_state(), MissionState::Complete);
    }

    fn gusty_flight(seed: u64) -> Vec<(f64, f64)> {
        let mut vehicle = Vehicle::new(VehicleConfig {
            seed,
            gps_noise_m: 0.8,
            ..vehicle().config.clone()
        });
        vehicle.apply_fault(&Fault::Wind {
            speed_mps: 6.0,
            from_deg: 90.0,
            gust_mps: 2.5,
        });
        airborne(&mut vehicle, 10.0);
        (0..20)
            .map(|_| {
                run_for(&mut vehicle, 1.0);
                let reported = home().to_local(&vehicle.reported_position());
                let truth = vehicle.local_position();
                (
                    truth.east_m - reported.east_m,
                    truth.horizontal_distance_m(&LocalPoint::ORIGIN),
                )
            })
            .collect()
    }

    #[test]
    fn gusts_and_gps_noise_are_seeded_bounded_and_real() {
        let first = gusty_flight(4);
        assert_eq!(first, gusty_flight(4), "same seed, same flight");
        assert_ne!(first, gusty_flight(5), "another seed, another flight");
        let max_gps_error_m = first
            .iter()
            .map(|(error, _)| error.abs())
            .fold(0.0, f64::max);
        assert!(
            max_gps_error_m > 0.05 && max_gps_error_m < 5.0,
            "{max_gps_error_m}"
        );
        let max_offset_m = first.iter().map(|(_, offset)| *offset).fold(0.0, f64::max);
        assert!(
            max_offset_m > 0.1,
            "gusts push the airframe: {max_offset_m}"
        );
        assert!(
            max_offset_m < 8.0,
            "the controller holds against them: {max_offset_m}"
        );
    }

    #[test]
    fn without_gps_the_wind_carries_the_vehicle_away() {
        let mut vehicle = vehicle();
        airborne(&mut vehicle, 30.0);
        vehicle.apply_fault(&Fault::Wind {
            speed_mps: 5.0,
            from_deg: 180.0,
            gust_mps: 0.0,
        });
        vehicle.apply_fault(&Fault::GpsLoss { duration_s: None });
        assert_eq!(vehicle.mode(), FlightMode::Land);
        run_for(&mut vehicle, 4.0);
        assert!(
            vehicle.local_position().north_m > 15.0,
            "drifted north with a south wind"
        );
    }
}
