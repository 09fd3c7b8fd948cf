//! Flight modes: decoding what the autopilot reports in HEARTBEAT into the
//! contract's [`FlightMode`], and the PX4 (main, sub) pairs the bridge asks for.
//!
//! PX4 packs its mode into HEARTBEAT.custom_mode as `sub << 24 | main << 16`
//! (px4_custom_mode.h) but reads DO_SET_MODE's param2 = main and param3 = sub
//! as separate bytes, so the two directions are kept apart here.

use wire::FlightMode;

/// Which autopilot firmware is on the other end of the link; decides how
/// modes are decoded and which command recipes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutopilotKind {
    Px4,
    ArduPilot,
    Generic,
}

impl AutopilotKind {
    /// The name the contract uses in `Status.autopilot`.
    pub fn name(self) -> &'static str {
        match self {
            AutopilotKind::Px4 => "px4",
            AutopilotKind::ArduPilot => "ardupilot",
            AutopilotKind::Generic => "generic",
        }
    }

    /// Decodes HEARTBEAT.custom_mode for this firmware.
    pub fn flight_mode(self, custom_mode: u32) -> FlightMode {
        match self {
            AutopilotKind::Px4 => px4_flight_mode(custom_mode),
            AutopilotKind::ArduPilot => arducopter_flight_mode(custom_mode),
            AutopilotKind::Generic => FlightMode::Unknown,
        }
    }
}

/// PX4 main modes (px4_custom_mode.h, PX4_CUSTOM_MAIN_MODE_*).
pub const PX4_MAIN_MODE_AUTO: u8 = 4;

/// A PX4 mode as DO_SET_MODE carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Px4Mode {
    pub main_mode: u8,
    pub sub_mode: u8,
}

impl Px4Mode {
    pub const MISSION: Px4Mode = Px4Mode::auto(4);
    pub const HOLD: Px4Mode = Px4Mode::auto(3);
    pub const RETURN: Px4Mode = Px4Mode::auto(5);
    pub const LAND: Px4Mode = Px4Mode::auto(6);

    const fn auto(sub_mode: u8) -> Px4Mode {
        Px4Mode {
            main_mode: PX4_MAIN_MODE_AUTO,
            sub_mode,
        }
    }

    /// HEARTBEAT.custom_mode when PX4 is in this mode.
    pub fn custom_mode(self) -> u32 {
        (u32::from(self.sub_mode) << 24) | (u32::from(self.main_mode) << 16)
    }

    /// Whether a reported custom_mode is this mode. Only main and sub are
    /// compared: the low 16 bits are unused by PX4.
    pub fn matches(self, custom_mode: u32) -> bool {
        custom_mode & 0xFFFF_0000 == self.custom_mode()
    }

    /// Name as PX4 and QGroundControl print it, for messages.
    pub fn name(self) -> String {
        let sub = match self.sub_mode {
            2 => "TAKEOFF",
            3 => "LOITER",
            4 => "MISSION",
            5 => "RTL",
            6 => "LAND",
            _ => return format!("main {} sub {}", self.main_mode, self.sub_mode),
        };
        if self.main_mode == PX4_MAIN_MODE_AUTO {
            format!("AUTO.{sub}")
        } else {
            format!("main {} sub {}", self.main_mode, self.sub_mode)
        }
    }
}

/// Decodes PX4's packed HEARTBEAT.custom_mode.
pub fn px4_flight_mode(custom_mode: u32) -> FlightMode {
    let main_mode = ((custom_mode >> 16) & 0xFF) as u8;
    let sub_mode = ((custom_mode >> 24) & 0xFF) as u8;
    match main_mode {
        1 | 5 | 8 => FlightMode::Manual, // MANUAL, ACRO, RATTITUDE
        2 | 7 => FlightMode::Stabilized, // ALTCTL, STABILIZED
        3 | 9 => FlightMode::Position,   // POSCTL, SIMPLE
        6 => FlightMode::Guided,         // OFFBOARD
        PX4_MAIN_MODE_AUTO => match sub_mode {
            2 | 10 => FlightMode::Takeoff, // TAKEOFF, VTOL_TAKEOFF
            3 => FlightMode::Hold,         // LOITER
            4 => FlightMode::Mission,
            5 | 7 => FlightMode::Return, // RTL, RTGS
            6 | 9 => FlightMode::Land,   // LAND, PRECLAND
            8 => FlightMode::Guided,     // FOLLOW_TARGET
            _ => FlightMode::Unknown,    // READY, EXTERNAL1-8, unknown
        },
        _ => FlightMode::Unknown, // TERMINATION and anything newer
    }
}

/// Decodes ArduCopter's mode number (its custom_mode is the plain number).
pub fn arducopter_flight_mode(custom_mode: u32) -> FlightMode {
    match custom_mode {
        0 | 2 => FlightMode::Stabilized, // STABILIZE, ALT_HOLD
        1 => FlightMode::Manual,         // ACRO
        3 => FlightMode::Mission,        // AUTO
        4 => FlightMode::Guided,
        5 | 17 => FlightMode::Hold,        // LOITER, BRAKE
        6 | 21 | 27 => FlightMode::Return, // RTL, SMART_RTL, AUTO_RTL
        9 => FlightMode::Land,
        16 => FlightMode::Position, // POSHOLD
        _ => FlightMode::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn px4_auto_sub_modes_decode_to_contract_modes() {
        let cases = [
            (0x0404_0000, FlightMode::Mission),
            (50_593_792, FlightMode::Hold),
            (84_148_224, FlightMode::Return),
            (0x0604_0000, FlightMode::Land),
            (0x0204_0000, FlightMode::Takeoff),
            (0x0003_0000, FlightMode::Position),
            (0x0006_0000, FlightMode::Guided),
            (0x0001_0000, FlightMode::Manual),
            (0x0007_0000, FlightMode::Stabilized),
            (0x0104_0000, FlightMode::Unknown),
            (0x000A_0000, FlightMode::Unknown),
            (0, FlightMode::Unknown),
        ];
        for (custom_mode, expected) in cases {
            assert_eq!(px4_flight_mode(custom_mode), expected, "{custom_mode:#x}");
        }
    }

    #[test]
    fn px4_modes_round_trip_between_set_mode_and_heartbeat() {
        assert_eq!(Px4Mode::MISSION.custom_mode(), 67_371_008);
        assert_eq!(Px4Mode::HOLD.custom_mode(), 50_593_792);
        assert_eq!(Px4Mode::RETURN.custom_mode(), 84_148_224);
        assert!(Px4Mode::LAND.matches(0x0604_0000 | 0x1234));
        assert!(!Px4Mode::LAND.matches(Px4Mode::MISSION.custom_mode()));
        assert_eq!(Px4Mode::MISSION.name(), "AUTO.MISSION");
        assert_eq!(
            AutopilotKind::Px4.flight_mode(Px4Mode::RETURN.custom_mode()),
            FlightMode::Return
        );
    }

    #[test]
    fn arducopter_numbers_decode() {
        assert_eq!(arducopter_flight_mode(3), FlightMode::Mission);
        assert_eq!(arducopter_flight_mode(6), FlightMode::Return);
        assert_eq!(arducopter_flight_mode(99), FlightMode::Unknown);
        assert_eq!(AutopilotKind::Generic.flight_mode(3), FlightMode::Unknown);
    }
}
