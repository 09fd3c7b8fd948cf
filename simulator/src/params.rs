//! The parameter protocol's store: a small, realistic parameter set per
//! autopilot profile, and the vehicle settings derived from it. Every
//! parameter here changes behaviour (failsafes, speeds, altitudes); there are
//! no decorative entries.

use mavlink::dialects::ardupilotmega::{MavParamType, PARAM_VALUE_DATA};

use crate::profile::AutopilotProfile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Int32,
    Real32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamDef {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default: f32,
    pub min: f32,
    pub max: f32,
}

const fn int(name: &'static str, default: f32, min: f32, max: f32) -> ParamDef {
    ParamDef {
        name,
        kind: ParamKind::Int32,
        default,
        min,
        max,
    }
}

const fn real(name: &'static str, default: f32, min: f32, max: f32) -> ParamDef {
    ParamDef {
        name,
        kind: ParamKind::Real32,
        default,
        min,
        max,
    }
}

/// PX4 names, defaults and ranges (battery thresholds raised a little for a
/// city fleet but inside PX4's allowed ranges). Sorted by name, as PX4 lists them.
const PX4_PARAMS: &[ParamDef] = &[
    real("BAT_CRIT_THR", 0.10, 0.05, 0.25),
    real("BAT_EMERGEN_THR", 0.05, 0.03, 0.20),
    real("BAT_LOW_THR", 0.20, 0.12, 0.50),
    real("COM_DISARM_LAND", 2.0, -1.0, 20.0),
    int("COM_DL_LOSS_T", 10.0, 5.0, 300.0),
    // 0 warning, 2 land at critical, 3 return at critical and land at emergency.
    int("COM_LOW_BAT_ACT", 3.0, 0.0, 3.0),
    // 0 none, 1 warning, 2 hold, 3 return, 4 terminate, 5 land.
    int("GF_ACTION", 2.0, 0.0, 5.0),
    real("GF_MAX_HOR_DIST", 0.0, 0.0, 10_000.0),
    real("GF_MAX_VER_DIST", 0.0, 0.0, 10_000.0),
    real("MIS_TAKEOFF_ALT", 10.0, 1.0, 500.0),
    real("MPC_XY_CRUISE", 12.0, 3.0, 20.0),
    // 0 disabled, 1 hold, 2 return, 3 land (5 terminate and 6 lockdown are not simulated).
    int("NAV_DLL_ACT", 0.0, 0.0, 3.0),
    real("RTL_RETURN_ALT", 30.0, 0.0, 150.0),
];

/// ArduCopter names and units (RTL_ALT in cm, WPNAV_SPEED in cm/s), sorted.
const ARDUPILOT_PARAMS: &[ParamDef] = &[
    real("BATT_CRT_VOLT", 21.0, 0.0, 60.0),
    // 0 none, 1 land, 2 RTL (3-5 SmartRTL/terminate variants are treated as RTL / land).
    int("BATT_FS_CRT_ACT", 1.0, 0.0, 5.0),
    int("BATT_FS_LOW_ACT", 2.0, 0.0, 5.0),
    real("BATT_LOW_TIMER", 10.0, 0.0, 120.0),
    real("BATT_LOW_VOLT", 21.6, 0.0, 60.0),
    real("DISARM_DELAY", 2.0, 0.0, 127.0),
    // 0 report only, 1 RTL or land, 2 land, 3-5 variants of RTL / land.
    int("FENCE_ACTION", 1.0, 0.0, 5.0),
    real("FENCE_ALT_MAX", 100.0, 10.0, 1000.0),
    int("FENCE_ENABLE", 0.0, 0.0, 1.0),
    real("FENCE_RADIUS", 300.0, 30.0, 10_000.0),
    // Bits: 1 max altitude, 2 circle around home, 4 uploaded polygons and circles.
    int("FENCE_TYPE", 7.0, 0.0, 15.0),
    // 0 disabled, 1 RTL, 3/4 SmartRTL variants (as RTL / land), 5 land.
    int("FS_GCS_ENABLE", 0.0, 0.0, 5.0),
    real("FS_GCS_TIMEOUT", 5.0, 2.0, 120.0),
    real("RTL_ALT", 3000.0, 200.0, 30_000.0),
    real("WPNAV_SPEED", 1200.0, 20.0, 2000.0),
];

/// What a failsafe makes the vehicle do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailsafeAction {
    /// Tell the ground station, keep flying.
    Warn,
    Hold,
    Return,
    Land,
}

/// A battery level, by charge fraction (PX4) or pack voltage (ArduPilot).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatteryLevel {
    Fraction(f64),
    Volts(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryFailsafe {
    /// Threshold, and what to do below it; the first stage is "low".
    pub stages: [(BatteryLevel, FailsafeAction); 3],
    /// The level must stay below a threshold this long (ArduPilot BATT_LOW_TIMER).
    pub delay_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FenceSettings {
    /// Whether fences are enforced at all (ArduPilot FENCE_ENABLE; PX4 always).
    pub enabled: bool,
    pub action: FailsafeAction,
    /// Height above home; `None` = no altitude limit.
    pub max_altitude_m: Option<f64>,
    /// Distance from home; `None` = no limit.
    pub max_distance_m: Option<f64>,
    /// Enforce the uploaded polygons and circles.
    pub uploaded_zones: bool,
}

/// Everything the vehicle reads from parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VehicleSettings {
    pub battery: BatteryFailsafe,
    /// Ground-station link loss: timeout and action; `None` = disabled.
    pub link_loss: Option<(f64, FailsafeAction)>,
    pub fence: FenceSettings,
    pub return_altitude_m: f64,
    pub takeoff_altitude_m: Option<f64>,
    pub cruise_speed_mps: f64,
    pub disarm_after_landing_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("no parameter named `{0}`")]
    UnknownName(String),
    #[error("no parameter at index {0}")]
    UnknownIndex(i32),
    #[error("parameter {name}: {value} is outside {min}..={max}")]
    OutOfRange {
        name: &'static str,
        value: f32,
        min: f32,
        max: f32,
    },
    #[error("parameter {name}: type {given:?} does not match {expected:?}")]
    WrongType {
        name: &'static str,
        given: MavParamType,
        expected: MavParamType,
    },
}

#[derive(Debug, Clone)]
pub struct Params {
    profile: AutopilotProfile,
    defs: &'static [ParamDef],
    values: Vec<f32>,
}

impl Params {
    pub fn new(profile: AutopilotProfile) -> Self {
        let defs = match profile {
            AutopilotProfile::Px4 => PX4_PARAMS,
            AutopilotProfile::ArduPilot => ARDUPILOT_PARAMS,
        };
        Params {
            profile,
            defs,
            values: defs.iter().map(|def| def.default).collect(),
        }
    }

    pub fn count(&self) -> u16 {
        self.defs.len() as u16
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.defs.iter().position(|def| def.name == name)
    }

    pub fn get(&self, name: &str) -> Option<f32> {
        self.index_of(name).map(|index| self.values[index])
    }

    /// Set by name, as PARAM_SET does; returns the index of the parameter.
    pub fn set(&mut self, name: &str, value: f32) -> Result<usize, ParamError> {
        let index = self
            .index_of(name)
            .ok_or_else(|| ParamError::UnknownName(name.to_string()))?;
        let def = self.defs[index];
        if !(value.is_finite() && value >= def.min && value <= def.max) {
            return Err(ParamError::OutOfRange {
                name: def.name,
                value,
                min: def.min,
                max: def.max,
            });
        }
        self.values[index] = match def.kind {
            ParamKind::Int32 => value.round(),
            ParamKind::Real32 => value,
        };
        Ok(index)
    }

    /// PARAM_SET as it arrives on the wire: decode the value per the
    /// profile's encoding, check the type, store.
    pub fn set_from_wire(
        &mut self,
        name: &str,
        wire_value: f32,
        wire_type: MavParamType,
    ) -> Result<usize, ParamError> {
        let index = self
            .index_of(name)
            .ok_or_else(|| ParamError::UnknownName(name.to_string()))?;
        let def = self.defs[index];
        let expected = mav_type(def.kind);
        let value = match (def.kind, self.profile) {
            (ParamKind::Real32, _) => {
                if wire_type != MavParamType::MAV_PARAM_TYPE_REAL32 {
                    return Err(ParamError::WrongType {
                        name: def.name,
                        given: wire_type,
                        expected,
                    });
                }
                wire_value
            }
            // PX4 sends integers bytewise: the float's bits are the int32.
            (ParamKind::Int32, AutopilotProfile::Px4) => match wire_type {
                MavParamType::MAV_PARAM_TYPE_INT32
                | MavParamType::MAV_PARAM_TYPE_INT16
                | MavParamType::MAV_PARAM_TYPE_INT8
                | MavParamType::MAV_PARAM_TYPE_UINT8
                | MavParamType::MAV_PARAM_TYPE_UINT16
                | MavParamType::MAV_PARAM_TYPE_UINT32 => wire_value.to_bits() as i32 as f32,
                _ => {
                    return Err(ParamError::WrongType {
                        name: def.name,
                        given: wire_type,
                        expected,
                    })
                }
            },
            // ArduPilot casts: the float is the number, whatever type is claimed.
            (ParamKind::Int32, AutopilotProfile::ArduPilot) => wire_value,
        };
        self.set(name, value)
    }

    /// PARAM_VALUE for the parameter at `index`.
    pub fn value_message(&self, index: usize) -> Option<PARAM_VALUE_DATA> {
        let def = self.defs.get(index)?;
        let value = self.values[index];
        let param_value = match (def.kind, self.profile) {
            (ParamKind::Int32, AutopilotProfile::Px4) => f32::from_bits(value as i32 as u32),
            _ => value,
        };
        Some(PARAM_VALUE_DATA {
            param_value,
            param_count: self.count(),
            param_index: index as u16,
            param_id: def.name.into(),
            param_type: mav_type(def.kind),
        })
    }

    /// The settings the vehicle flies by.
    pub fn settings(&self) -> VehicleSettings {
        let get = |name: &str| f64::from(self.get(name).unwrap_or(0.0));
        match self.profile {
            AutopilotProfile::Px4 => {
                let (critical_action, emergency_action) = match get("COM_LOW_BAT_ACT") as i32 {
                    2 => (FailsafeAction::Land, FailsafeAction::Land),
                    3 => (FailsafeAction::Return, FailsafeAction::Land),
                    _ => (FailsafeAction::Warn, FailsafeAction::Warn),
                };
                let link_action = match get("NAV_DLL_ACT") as i32 {
                    1 => Some(FailsafeAction::Hold),
                    2 => Some(FailsafeAction::Return),
                    3 => Some(FailsafeAction::Land),
                    _ => None,
                };
                let fence_action = match get("GF_ACTION") as i32 {
                    0 | 1 => FailsafeAction::Warn,
                    3 => FailsafeAction::Return,
                    // Terminate is not simulated; landing is the closest safe stand-in.
                    4 | 5 => FailsafeAction::Land,
                    _ => FailsafeAction::Hold,
                };
                let positive = |value: f64| (value > 0.0).then_some(value);
                VehicleSettings {
                    battery: BatteryFailsafe {
                        stages: [
                            (
                                BatteryLevel::Fraction(get("BAT_LOW_THR")),
                                FailsafeAction::Warn,
                            ),
                            (BatteryLevel::Fraction(get("BAT_CRIT_THR")), critical_action),
                            (
                                BatteryLevel::Fraction(get("BAT_EMERGEN_THR")),
                                emergency_action,
                            ),
                        ],
                        delay_s: 0.0,
                    },
                    link_loss: link_action.map(|action| (get("COM_DL_LOSS_T"), action)),
                    fence: FenceSettings {
                        enabled: true,
                        action: fence_action,
                        max_altitude_m: positive(get("GF_MAX_VER_DIST")),
                        max_distance_m: positive(get("GF_MAX_HOR_DIST")),
                        uploaded_zones: true,
                    },
                    return_altitude_m: get("RTL_RETURN_ALT"),
                    takeoff_altitude_m: Some(get("MIS_TAKEOFF_ALT")),
                    cruise_speed_mps: get("MPC_XY_CRUISE"),
                    // -1 switches automatic disarming off.
                    disarm_after_landing_s: (get("COM_DISARM_LAND") >= 0.0)
                        .then(|| get("COM_DISARM_LAND")),
                }
            }
            AutopilotProfile::ArduPilot => {
                let battery_action = |value: f64| match value as i32 {
                    0 => FailsafeAction::Warn,
                    2 | 3 => FailsafeAction::Return,
                    _ => FailsafeAction::Land,
                };
                let link_action = match get("FS_GCS_ENABLE") as i32 {
                    0 => None,
                    1..=3 => Some(FailsafeAction::Return),
                    _ => Some(FailsafeAction::Land),
                };
                let fence_action = match get("FENCE_ACTION") as i32 {
                    0 => FailsafeAction::Warn,
                    2 => FailsafeAction::Land,
                    4 => FailsafeAction::Hold,
                    _ => FailsafeAction::Return,
                };
                let fence_type = get("FENCE_TYPE") as u32;
                let low_action = battery_action(get("BATT_FS_LOW_ACT"));
                let critical_action = battery_action(get("BATT_FS_CRT_ACT"));
                VehicleSettings {
                    battery: BatteryFailsafe {
                        stages: [
                            (BatteryLevel::Volts(get("BATT_LOW_VOLT")), low_action),
                            (BatteryLevel::Volts(get("BATT_CRT_VOLT")), critical_action),
                            // ArduPilot has two stages; the third repeats the second.
                            (BatteryLevel::Volts(get("BATT_CRT_VOLT")), critical_action),
                        ],
                        delay_s: get("BATT_LOW_TIMER"),
                    },
                    link_loss: link_action.map(|action| (get("FS_GCS_TIMEOUT"), action)),
                    fence: FenceSettings {
                        enabled: get("FENCE_ENABLE") >= 1.0,
                        action: fence_action,
                        max_altitude_m: (fence_type & 1 != 0).then(|| get("FENCE_ALT_MAX")),
                        max_distance_m: (fence_type & 2 != 0).then(|| get("FENCE_RADIUS")),
                        uploaded_zones: fence_type & 4 != 0,
                    },
                    return_altitude_m: get("RTL_ALT") / 100.0,
                    // ArduCopter's takeoff command always carries the altitude.
                    takeoff_altitude_m: None,
                    cruise_speed_mps: get("WPNAV_SPEED") / 100.0,
                    disarm_after_landing_s: (get("DISARM_DELAY") > 0.0)
                        .then(|| get("DISARM_DELAY")),
                }
            }
        }
    }
}

fn mav_type(kind: ParamKind) -> MavParamType {
    match kind {
        ParamKind::Int32 => MavParamType::MAV_PARAM_TYPE_INT32,
        ParamKind::Real32 => MavParamType::MAV_PARAM_TYPE_REAL32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn px4_integers_travel_bytewise_and_floats_as_numbers() {
        let mut params = Params::new(AutopilotProfile::Px4);
        let index = params.index_of("NAV_DLL_ACT").unwrap();
        let message = params.value_message(index).unwrap();
        assert_eq!(message.param_type, MavParamType::MAV_PARAM_TYPE_INT32);
        assert_eq!(message.param_value.to_bits(), 0);
        params
            .set_from_wire(
                "NAV_DLL_ACT",
                f32::from_bits(2),
                MavParamType::MAV_PARAM_TYPE_INT32,
            )
            .unwrap();
        assert_eq!(params.get("NAV_DLL_ACT"), Some(2.0));
        assert_eq!(
            params.value_message(index).unwrap().param_value.to_bits(),
            2
        );
        let rtl = params.index_of("RTL_RETURN_ALT").unwrap();
        assert_eq!(params.value_message(rtl).unwrap().param_value, 30.0);
    }

    #[test]
    fn ardupilot_integers_travel_as_cast_floats() {
        let mut params = Params::new(AutopilotProfile::ArduPilot);
        params
            .set_from_wire("FS_GCS_ENABLE", 1.0, MavParamType::MAV_PARAM_TYPE_INT8)
            .unwrap();
        let index = params.index_of("FS_GCS_ENABLE").unwrap();
        assert_eq!(params.value_message(index).unwrap().param_value, 1.0);
    }

    #[test]
    fn unknown_names_out_of_range_values_and_wrong_types_are_refused() {
        let mut params = Params::new(AutopilotProfile::Px4);
        assert_eq!(
            params.set("NO_SUCH", 1.0),
            Err(ParamError::UnknownName("NO_SUCH".into()))
        );
        assert!(matches!(
            params.set("BAT_LOW_THR", 0.9),
            Err(ParamError::OutOfRange { .. })
        ));
        assert!(matches!(
            params.set_from_wire("RTL_RETURN_ALT", 40.0, MavParamType::MAV_PARAM_TYPE_INT32),
            Err(ParamError::WrongType { .. })
        ));
        assert_eq!(params.get("RTL_RETURN_ALT"), Some(30.0));
    }

    #[test]
    fn disarm_delay_minus_one_or_zero_switches_automatic_disarming_off() {
        let mut px4 = Params::new(AutopilotProfile::Px4);
        assert_eq!(px4.settings().disarm_after_landing_s, Some(2.0));
        px4.set("COM_DISARM_LAND", -1.0).unwrap();
        assert_eq!(px4.settings().disarm_after_landing_s, None);
        let mut ardupilot = Params::new(AutopilotProfile::ArduPilot);
        ardupilot.set("DISARM_DELAY", 0.0).unwrap();
        assert_eq!(ardupilot.settings().disarm_after_landing_s, None);
    }

    #[test]
    fn failsafe_parameters_drive_the_settings() {
        let mut params = Params::new(AutopilotProfile::Px4);
        assert_eq!(params.settings().link_loss, None);
        params.set("NAV_DLL_ACT", 2.0).unwrap();
        params.set("COM_DL_LOSS_T", 7.0).unwrap();
        params.set("GF_MAX_VER_DIST", 60.0).unwrap();
        params.set("GF_ACTION", 5.0).unwrap();
        let settings = params.settings();
        assert_eq!(settings.link_loss, Some((7.0, FailsafeAction::Return)));
        assert_eq!(settings.fence.max_altitude_m, Some(60.0));
        assert_eq!(settings.fence.action, FailsafeAction::Land);

        let mut params = Params::new(AutopilotProfile::ArduPilot);
        assert!(!params.settings().fence.enabled);
        params.set("FENCE_ENABLE", 1.0).unwrap();
        params.set("FENCE_TYPE", 1.0).unwrap();
        params.set("FS_GCS_ENABLE", 5.0).unwrap();
        let settings = params.settings();
        assert!(settings.fence.enabled);
        assert_eq!(settings.fence.max_altitude_m, Some(100.0));
        assert_eq!(settings.fence.max_distance_m, None);
        assert!(!settings.fence.uploaded_zones);
        assert_eq!(settings.link_loss, Some((5.0, FailsafeAction::Land)));
        assert_eq!(settings.return_altitude_m, 30.0);
    }
}
