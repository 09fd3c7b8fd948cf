//! What a vehicle tells its ground stations: MAVLink messages built from the
//! vehicle state, and the wall-clock schedule they are streamed on.
//!
//! Every message is built field by field: several mavlink defaults are
//! unsafe (a default HEARTBEAT reads as armed).

use std::time::{Duration, Instant};

use mavlink::dialects::ardupilotmega::{
    FenceBreach, FenceMitigate, GpsFixType, MavAutopilot, MavBatteryChargeState, MavBatteryFault,
    MavBatteryFunction, MavBatteryMode, MavBatteryType, MavLandedState, MavMessage, MavModeFlag,
    MavProtocolCapability, MavState, MavSysStatusSensor, MavSysStatusSensorExtended, MavType,
    MavVtolState, MissionState as MavMissionState, ATTITUDE_DATA, AUTOPILOT_VERSION_DATA,
    BATTERY_STATUS_DATA, EXTENDED_SYS_STATE_DATA, FENCE_STATUS_DATA, GLOBAL_POSITION_INT_DATA,
    GPS_RAW_INT_DATA, HEARTBEAT_DATA, HOME_POSITION_DATA, MISSION_CURRENT_DATA, SYS_STATUS_DATA,
    VFR_HUD_DATA,
};

use crate::battery::{ChargeState, CELL_COUNT};
use crate::fence::Breach;
use crate::flight::wrap_pi;
use crate::geo::deg_to_e7;
use crate::modes::FlightMode;
use crate::profile::AutopilotProfile;
use crate::vehicle::{LandedState, MissionState, Vehicle};

pub const HEARTBEAT_ID: u32 = 0;
pub const SYS_STATUS_ID: u32 = 1;
pub const GPS_RAW_INT_ID: u32 = 24;
pub const ATTITUDE_ID: u32 = 30;
pub const GLOBAL_POSITION_INT_ID: u32 = 33;
pub const MISSION_CURRENT_ID: u32 = 42;
pub const VFR_HUD_ID: u32 = 74;
pub const FENCE_STATUS_ID: u32 = 162;
pub const BATTERY_STATUS_ID: u32 = 147;
pub const AUTOPILOT_VERSION_ID: u32 = 148;
pub const HOME_POSITION_ID: u32 = 242;
pub const EXTENDED_SYS_STATE_ID: u32 = 245;

/// Default streams: (message id, wall-clock interval).
const DEFAULT_STREAMS: [(u32, Duration); 11] = [
    (HEARTBEAT_ID, Duration::from_secs(1)),
    (GLOBAL_POSITION_INT_ID, Duration::from_millis(250)),
    (ATTITUDE_ID, Duration::from_millis(250)),
    (SYS_STATUS_ID, Duration::from_secs(1)),
    (BATTERY_STATUS_ID, Duration::from_secs(1)),
    (EXTENDED_SYS_STATE_ID, Duration::from_secs(1)),
    (MISSION_CURRENT_ID, Duration::from_secs(1)),
    (HOME_POSITION_ID, Duration::from_secs(5)),
    (GPS_RAW_INT_ID, Duration::from_secs(1)),
    (VFR_HUD_ID, Duration::from_secs(1)),
    (FENCE_STATUS_ID, Duration::from_secs(1)),
];

/// A fleet dispatcher's minimum: position at 4 Hz, status at 1 Hz.
const FLEET_STREAMS: [(u32, Duration); 3] = [
    (HEARTBEAT_ID, Duration::from_secs(1)),
    (GLOBAL_POSITION_INT_ID, Duration::from_millis(250)),
    (SYS_STATUS_ID, Duration::from_secs(1)),
];

/// Which messages are streamed without being asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StreamSet {
    /// What a PX4 sends a ground station on a normal link (the default).
    #[default]
    Full,
    /// HEARTBEAT and SYS_STATUS at 1 Hz, GLOBAL_POSITION_INT at 4 Hz; more on
    /// request (SET_MESSAGE_INTERVAL, REQUEST_MESSAGE). For large fleets.
    Fleet,
}

impl std::str::FromStr for StreamSet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "full" => Ok(StreamSet::Full),
            "fleet" => Ok(StreamSet::Fleet),
            other => Err(format!(
                "unknown stream set `{other}`; expected `full` or `fleet`"
            )),
        }
    }
}

/// PX4 v1.15.0 release, encoded as PX4 does (major, minor, patch, type 255 = release).
const FLIGHT_SW_VERSION: u32 = 0x010F_00FF;
/// ArduCopter 4.5.7 release, in ArduPilot's packing (major, minor, patch, type 255 = official).
const ARDUCOPTER_SW_VERSION: u32 = 0x0405_07FF;

/// Sensors a healthy PX4 multirotor reports present, enabled and healthy.
const SENSORS: u32 = 1 // 3D gyro
    | 2 // 3D accel
    | 4 // 3D mag
    | 8 // absolute pressure
    | 32 // GPS
    | 1024 // angular rate control
    | 2048 // attitude stabilisation
    | 4096 // yaw position
    | 8192 // altitude control
    | 16384 // xy position control
    | 32768 // motor outputs
    | 2_097_152 // AHRS
    | 33_554_432 // battery
    | 268_435_456; // pre-arm check
const SENSOR_MOTOR_OUTPUTS: u32 = 32768;
const SENSOR_GPS: u32 = 32;
const SENSOR_BATTERY: u32 = 33_554_432;

#[derive(Debug, Clone)]
struct Stream {
    message_id: u32,
    default_interval: Duration,
    /// `None` = disabled by SET_MESSAGE_INTERVAL -1.
    interval: Option<Duration>,
    next_due: Instant,
}

/// When each streamed message is next due, in wall-clock time.
#[derive(Debug, Clone)]
pub struct StreamSchedule {
    streams: Vec<Stream>,
}

impl StreamSchedule {
    pub fn new(now: Instant) -> Self {
        StreamSchedule::with_set(now, StreamSet::Full)
    }

    pub fn with_set(now: Instant, set: StreamSet) -> Self {
        let streams: &[(u32, Duration)] = match set {
            StreamSet::Full => &DEFAULT_STREAMS,
            StreamSet::Fleet => &FLEET_STREAMS,
        };
        StreamSchedule {
            streams: streams
                .iter()
                .map(|(message_id, interval)| Stream {
                    message_id: *message_id,
                    default_interval: *interval,
                    interval: Some(*interval),
                    next_due: now,
                })
                .collect(),
        }
    }

    /// Message ids due at `now`; each is rescheduled one interval later.
    pub fn due(&mut self, now: Instant) -> Vec<u32> {
        let mut due = Vec::new();
        for stream in &mut self.streams {
            if let Some(interval) = stream.interval {
                if now >= stream.next_due {
                    due.push(stream.message_id);
                    // Skip missed slots instead of bursting after a stall.
                    stream.next_due = (stream.next_due + interval).max(now);
                }
            }
        }
        due
    }

    /// Shift every stream's first slot by `phase` (0..1) of its interval, so a
    /// fleet started at one instant does not send in synchronised bursts
    /// (real drones boot at different times).
    pub fn stagger(&mut self, phase: f64, now: Instant) {
        let phase = phase.clamp(0.0, 1.0);
        for stream in &mut self.streams {
            if let Some(interval) = stream.interval {
                stream.next_due = now + interval.mul_f64(phase);
            }
        }
    }

    /// When the next stream is due, if any is enabled.
    pub fn next_due(&self) -> Option<Instant> {
        self.streams
            .iter()
            .filter(|stream| stream.interval.is_some())
            .map(|stream| stream.next_due)
            .min()
    }

    /// Send everything at the next poll (a new ground station appeared).
    pub fn make_all_due(&mut self, now: Instant) {
        for stream in &mut self.streams {
            stream.next_due = now;
        }
    }

    /// MAV_CMD_SET_MESSAGE_INTERVAL: `interval_us` -1 disables, 0 restores
    /// the default, > 0 sets. Returns false for messages we do not stream.
    pub fn set_interval(&mut self, message_id: u32, interval_us: f32, now: Instant) -> bool {
        let Some(stream) = self
            .streams
            .iter_mut()
            .find(|stream| stream.message_id == message_id)
        else {
            return false;
        };
        stream.interval = if interval_us < 0.0 {
            None
        } else if interval_us == 0.0 {
            Some(stream.default_interval)
        } else {
            // Floor at 10 ms so a typo cannot flood the link.
            Some(Duration::from_micros(interval_us as u64).max(Duration::from_millis(10)))
        };
        stream.next_due = now;
        true
    }

    pub fn is_streamed(&self, message_id: u32) -> bool {
        self.streams
            .iter()
            .any(|stream| stream.message_id == message_id)
    }
}

/// Build the message with `message_id` from the vehicle state, if we can.
pub fn message_for(vehicle: &Vehicle, message_id: u32) -> Option<MavMessage> {
    let message = match message_id {
        HEARTBEAT_ID => heartbeat(vehicle),
        SYS_STATUS_ID => sys_status(vehicle),
        ATTITUDE_ID => attitude(vehicle),
        GLOBAL_POSITION_INT_ID => global_position_int(vehicle),
        MISSION_CURRENT_ID => mission_current(vehicle),
        BATTERY_STATUS_ID => battery_status(vehicle),
        AUTOPILOT_VERSION_ID => autopilot_version(vehicle),
        HOME_POSITION_ID => home_position(vehicle),
        EXTENDED_SYS_STATE_ID => extended_sys_state(vehicle),
        GPS_RAW_INT_ID => gps_raw_int(vehicle),
        VFR_HUD_ID => vfr_hud(vehicle),
        FENCE_STATUS_ID => fence_status(vehicle),
        _ => return None,
    };
    Some(message)
}

pub fn heartbeat(vehicle: &Vehicle) -> MavMessage {
    let mut base_mode = MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
        | MavModeFlag::MAV_MODE_FLAG_STABILIZE_ENABLED
        | MavModeFlag::MAV_MODE_FLAG_GUIDED_ENABLED
        | MavModeFlag::MAV_MODE_FLAG_AUTO_ENABLED;
    if vehicle.is_armed() {
        base_mode |= MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED;
    }
    let system_status = if vehicle.battery_charge_state() == ChargeState::Emergency
        && vehicle.landed_state() != LandedState::OnGround
    {
        MavState::MAV_STATE_CRITICAL
    } else if vehicle.landed_state() == LandedState::OnGround {
        MavState::MAV_STATE_STANDBY
    } else {
        MavState::MAV_STATE_ACTIVE
    };
    let (custom_mode, autopilot) = match vehicle.profile() {
        AutopilotProfile::Px4 => (
            vehicle.mode().px4_custom_mode(),
            MavAutopilot::MAV_AUTOPILOT_PX4,
        ),
        AutopilotProfile::ArduPilot => (
            vehicle.mode().ardupilot_number(),
            MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
        ),
    };
    MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        custom_mode,
        mavtype: MavType::MAV_TYPE_QUADROTOR,
        autopilot,
        base_mode,
        system_status,
        mavlink_version: 3,
    })
}

pub fn global_position_int(vehicle: &Vehicle) -> MavMessage {
    let position = vehicle.reported_position();
    let kinematics = vehicle.kinematics();
    let velocity = kinematics.velocity;
    MavMessage::GLOBAL_POSITION_INT(GLOBAL_POSITION_INT_DATA {
        time_boot_ms: vehicle.time_boot_ms(),
        lat: deg_to_e7(position.lat_deg),
        lon: deg_to_e7(position.lon_deg),
        alt: (position.alt_msl_m * 1000.0).round() as i32,
        relative_alt: (kinematics.position.up_m * 1000.0).round() as i32,
        vx: centimetres_per_second(velocity.north_mps),
        vy: centimetres_per_second(velocity.east_mps),
        vz: centimetres_per_second(-velocity.up_mps),
        hdg: ((kinematics.yaw_rad.to_degrees() * 100.0).round() as u32 % 36000) as u16,
    })
}

pub fn gps_raw_int(vehicle: &Vehicle) -> MavMessage {
    let position = vehicle.reported_position();
    let fix = vehicle.has_gps_fix();
    let velocity = vehicle.kinematics().velocity;
    let course_cdeg = vehicle
        .kinematics()
        .course_rad()
        .map_or(u16::MAX, |course_rad| {
            ((course_rad.to_degrees().rem_euclid(360.0) * 100.0).round() as u32 % 36000) as u16
        });
    MavMessage::GPS_RAW_INT(GPS_RAW_INT_DATA {
        time_usec: vehicle.time_boot_us(),
        lat: deg_to_e7(position.lat_deg),
        lon: deg_to_e7(position.lon_deg),
        alt: (position.alt_msl_m * 1000.0).round() as i32,
        // HDOP/VDOP 0.8/1.2 of a good open-sky fix.
        eph: if fix { 80 } else { u16::MAX },
        epv: if fix { 120 } else { u16::MAX },
        vel: (velocity.horizontal_speed_mps() * 100.0)
            .round()
            .min(65534.0) as u16,
        cog: course_cdeg,
        fix_type: if fix {
            GpsFixType::GPS_FIX_TYPE_3D_FIX
        } else {
            GpsFixType::GPS_FIX_TYPE_NO_FIX
        },
        satellites_visible: if fix { 16 } else { 0 },
        alt_ellipsoid: (position.alt_msl_m * 1000.0).round() as i32,
        h_acc: 500,
        v_acc: 800,
        vel_acc: 200,
        hdg_acc: 0,
        yaw: 0,
    })
}

pub fn vfr_hud(vehicle: &Vehicle) -> MavMessage {
    let kinematics = vehicle.kinematics();
    let ground_speed_mps = kinematics.velocity.horizontal_speed_mps();
    let throttle_percent = if !vehicle.is_armed() {
        0
    } else if vehicle.landed_state() == LandedState::OnGround {
        10
    } else {
        // Hover near half throttle, more to climb and to cruise fast.
        (50.0 + 8.0 * kinematics.velocity.up_mps + 1.5 * ground_speed_mps).clamp(0.0, 100.0) as u16
    };
    MavMessage::VFR_HUD(VFR_HUD_DATA {
        airspeed: vehicle.airspeed_mps() as f32,
        groundspeed: ground_speed_mps as f32,
        alt: vehicle.position().alt_msl_m as f32,
        climb: kinematics.velocity.up_mps as f32,
        heading: (kinematics.yaw_rad.to_degrees().rem_euclid(360.0).round() as i16) % 360,
        throttle: throttle_percent,
    })
}

pub fn fence_status(vehicle: &Vehicle) -> MavMessage {
    let status = vehicle.fence_status();
    MavMessage::FENCE_STATUS(FENCE_STATUS_DATA {
        breach_time: status.breach_time_ms,
        breach_count: status.breach_count,
        breach_status: u8::from(status.breach.is_some()),
        breach_type: match status.breach {
            None => FenceBreach::FENCE_BREACH_NONE,
            Some(Breach::Boundary) => FenceBreach::FENCE_BREACH_BOUNDARY,
            Some(Breach::MaxAltitude) => FenceBreach::FENCE_BREACH_MAXALT,
        },
        breach_mitigation: FenceMitigate::FENCE_MITIGATE_NONE,
    })
}

pub fn attitude(vehicle: &Vehicle) -> MavMessage {
    let kinematics = vehicle.kinematics();
    let (roll_rad, pitch_rad) = kinematics.roll_pitch_rad();
    MavMessage::ATTITUDE(ATTITUDE_DATA {
        time_boot_ms: vehicle.time_boot_ms(),
        roll: roll_rad as f32,
        pitch: pitch_rad as f32,
        yaw: wrap_pi(kinematics.yaw_rad) as f32,
        rollspeed: 0.0,
        pitchspeed: 0.0,
        yawspeed: kinematics.yaw_rate_rad_per_s as f32,
    })
}

pub fn sys_status(vehicle: &Vehicle) -> MavMessage {
    let battery = vehicle.battery();
    let mut enabled = SENSORS;
    if !vehicle.is_armed() {
        enabled &= !SENSOR_MOTOR_OUTPUTS;
    }
    let mut health = SENSORS;
    if !vehicle.has_gps_fix() {
        health &= !SENSOR_GPS;
    }
    if vehicle.motor_failed() {
        health &= !SENSOR_MOTOR_OUTPUTS;
    }
    if matches!(
        vehicle.battery_charge_state(),
        ChargeState::Critical | ChargeState::Emergency
    ) {
        health &= !SENSOR_BATTERY;
    }
    MavMessage::SYS_STATUS(SYS_STATUS_DATA {
        onboard_control_sensors_present: MavSysStatusSensor::from_bits_retain(SENSORS),
        onboard_control_sensors_enabled: MavSysStatusSensor::from_bits_retain(enabled),
        onboard_control_sensors_health: MavSysStatusSensor::from_bits_retain(health),
        load: 250,
        voltage_battery: millivolts(battery.voltage_v()),
        current_battery: (battery.current_a() * 100.0)
            .round()
            .min(f64::from(i16::MAX)) as i16,
        drop_rate_comm: 0,
        errors_comm: 0,
        errors_count1: 0,
        errors_count2: 0,
        errors_count3: 0,
        errors_count4: 0,
        battery_remaining: battery.remaining_percent(),
        onboard_control_sensors_present_extended: MavSysStatusSensorExtended::from_bits_retain(0),
        onboard_control_sensors_enabled_extended: MavSysStatusSensorExtended::from_bits_retain(0),
        onboard_control_sensors_health_extended: MavSysStatusSensorExtended::from_bits_retain(0),
    })
}

pub fn battery_status(vehicle: &Vehicle) -> MavMessage {
    let battery = vehicle.battery();
    let mut voltages = [u16::MAX; 10];
    let cell_mv = millivolts(battery.cell_voltage_v());
    for cell in voltages.iter_mut().take(CELL_COUNT) {
        *cell = cell_mv;
    }
    let charge_state = match vehicle.battery_charge_state() {
        ChargeState::Ok => MavBatteryChargeState::MAV_BATTERY_CHARGE_STATE_OK,
        ChargeState::Low => MavBatteryChargeState::MAV_BATTERY_CHARGE_STATE_LOW,
        ChargeState::Critical => MavBatteryChargeState::MAV_BATTERY_CHARGE_STATE_CRITICAL,
        ChargeState::Emergency => MavBatteryChargeState::MAV_BATTERY_CHARGE_STATE_EMERGENCY,
        ChargeState::Charging => MavBatteryChargeState::MAV_BATTERY_CHARGE_STATE_CHARGING,
    };
    MavMessage::BATTERY_STATUS(BATTERY_STATUS_DATA {
        current_consumed: battery.consumed_mah().round() as i32,
        // hJ: 1 Wh = 3600 J = 36 hJ.
        energy_consumed: (battery.consumed_wh() * 36.0).round() as i32,
        // Not modelled; INT16_MAX is "unknown".
        temperature: i16::MAX,
        voltages,
        current_battery: (battery.current_a() * 100.0)
            .round()
            .min(f64::from(i16::MAX)) as i16,
        id: 0,
        battery_function: MavBatteryFunction::MAV_BATTERY_FUNCTION_ALL,
        mavtype: MavBatteryType::MAV_BATTERY_TYPE_LIPO,
        battery_remaining: battery.remaining_percent(),
        // 0 = not provided, which is also what "not discharging" should say.
        time_remaining: battery
            .time_remaining_s()
            .map_or(0, |seconds| seconds.round().min(f64::from(i32::MAX)) as i32),
        charge_state,
        // Cells 11-14 do not exist on a 6S pack (0 = not present).
        voltages_ext: [0; 4],
        mode: MavBatteryMode::MAV_BATTERY_MODE_UNKNOWN,
        fault_bitmask: MavBatteryFault::from_bits_retain(0),
    })
}

pub fn extended_sys_state(vehicle: &Vehicle) -> MavMessage {
    let landed_state = match vehicle.landed_state() {
        LandedState::OnGround => MavLandedState::MAV_LANDED_STATE_ON_GROUND,
        LandedState::InAir => MavLandedState::MAV_LANDED_STATE_IN_AIR,
        LandedState::Takeoff => MavLandedState::MAV_LANDED_STATE_TAKEOFF,
        LandedState::Landing => MavLandedState::MAV_LANDED_STATE_LANDING,
    };
    MavMessage::EXTENDED_SYS_STATE(EXTENDED_SYS_STATE_DATA {
        vtol_state: MavVtolState::MAV_VTOL_STATE_UNDEFINED,
        landed_state,
    })
}

pub fn home_position(vehicle: &Vehicle) -> MavMessage {
    let home = vehicle.home();
    MavMessage::HOME_POSITION(HOME_POSITION_DATA {
        latitude: deg_to_e7(home.lat_deg),
        longitude: deg_to_e7(home.lon_deg),
        altitude: (home.alt_msl_m * 1000.0).round() as i32,
        // Home is the origin of the local frame.
        x: 0.0,
        y: 0.0,
        z: 0.0,
        q: [1.0, 0.0, 0.0, 0.0],
        approach_x: 0.0,
        approach_y: 0.0,
        approach_z: 0.0,
        time_usec: vehicle.time_boot_us(),
    })
}

pub fn mission_current(vehicle: &Vehicle) -> MavMessage {
    let plan = vehicle.mission();
    let mission_state = match vehicle.mission_state() {
        MissionState::NoMission => MavMissionState::MISSION_STATE_NO_MISSION,
        MissionState::NotStarted => MavMissionState::MISSION_STATE_NOT_STARTED,
        MissionState::Active => MavMissionState::MISSION_STATE_ACTIVE,
        MissionState::Paused => MavMissionState::MISSION_STATE_PAUSED,
        MissionState::Complete => MavMissionState::MISSION_STATE_COMPLETE,
    };
    let mission_mode = if vehicle.mode() == FlightMode::Mission {
        1
    } else if vehicle.mission_state() == MissionState::Paused {
        2
    } else {
        0
    };
    MavMessage::MISSION_CURRENT(MISSION_CURRENT_DATA {
        seq: vehicle.current_seq(),
        total: if !vehicle.has_mission() {
            u16::MAX
        } else if vehicle.profile().mission_has_home_item() {
            // ArduPilot counts home but never flies it: the last seq is the total.
            plan.items.len() as u16 - 1
        } else {
            plan.items.len() as u16
        },
        mission_state,
        mission_mode,
        mission_id: plan.plan_id,
        // Fence and rally ids are filled in by the caller that stores those plans.
        fence_id: 0,
        rally_points_id: 0,
    })
}

pub fn autopilot_version(vehicle: &Vehicle) -> MavMessage {
    MavMessage::AUTOPILOT_VERSION(AUTOPILOT_VERSION_DATA {
        capabilities: MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MISSION_INT
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_COMMAND_INT
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MAVLINK2
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
            | MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
            | param_encoding(vehicle.profile()),
        // Stable per vehicle so ground stations can recognise it across restarts.
        uid: 0x5359_4D00_0000_0000 | u64::from(vehicle.system_id()),
        flight_sw_version: match vehicle.profile() {
            AutopilotProfile::Px4 => FLIGHT_SW_VERSION,
            AutopilotProfile::ArduPilot => ARDUCOPTER_SW_VERSION,
        },
        middleware_sw_version: 0,
        os_sw_version: 0,
        board_version: 0,
        vendor_id: 0,
        product_id: 0,
        flight_custom_version: [0; 8],
        middleware_custom_version: [0; 8],
        os_custom_version: [0; 8],
        uid2: [0; 18],
    })
}

/// How integer parameters travel: PX4 bytewise, ArduPilot as cast floats
/// (both also float-capable, the deprecated PARAM_FLOAT bit).
#[allow(deprecated)]
fn param_encoding(profile: AutopilotProfile) -> MavProtocolCapability {
    MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
        | match profile {
            AutopilotProfile::Px4 => {
                MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE
            }
            AutopilotProfile::ArduPilot => {
                MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST
            }
        }
}

fn millivolts(volts: f64) -> u16 {
    (volts * 1000.0).round().clamp(0.0, f64::from(u16::MAX - 1)) as u16
}

fn centimetres_per_second(mps: f64) -> i16 {
    (mps * 100.0)
        .round()
        .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_streams_at_default_rates_and_honours_intervals() {
        let start = Instant::now();
        let mut schedule = StreamSchedule::new(start);
        assert_eq!(schedule.due(start).len(), DEFAULT_STREAMS.len());
        let later = start + Duration::from_millis(300);
        let due = schedule.due(later);
        assert!(due.contains(&GLOBAL_POSITION_INT_ID));
        assert!(!due.contains(&HEARTBEAT_ID));
        assert!(schedule.set_interval(GLOBAL_POSITION_INT_ID, -1.0, later));
        assert!(!schedule
            .due(later + Duration::from_secs(2))
            .contains(&GLOBAL_POSITION_INT_ID));
        assert!(!schedule.set_interval(9999, 1000.0, later));
    }
}
