//! Which autopilot the simulated vehicle pretends to be. The flight itself is
//! the same; what differs is what ground stations see on the wire: the
//! HEARTBEAT autopilot type, mode numbers, parameter names and encoding,
//! mission numbering and how a mission is paused.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AutopilotProfile {
    /// PX4 multirotor (the default).
    #[default]
    Px4,
    /// ArduCopter.
    ArduPilot,
}

impl AutopilotProfile {
    pub fn name(self) -> &'static str {
        match self {
            AutopilotProfile::Px4 => "px4",
            AutopilotProfile::ArduPilot => "ardupilot",
        }
    }

    /// ArduPilot stores home as mission item 0; real items start at 1.
    pub fn mission_has_home_item(self) -> bool {
        self == AutopilotProfile::ArduPilot
    }
}

impl fmt::Display for AutopilotProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown autopilot `{0}`; expected `px4` or `ardupilot`")]
pub struct UnknownProfile(pub String);

impl FromStr for AutopilotProfile {
    type Err = UnknownProfile;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "px4" => Ok(AutopilotProfile::Px4),
            "ardupilot" | "arducopter" | "apm" => Ok(AutopilotProfile::ArduPilot),
            _ => Err(UnknownProfile(text.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_parse_case_insensitively_and_unknown_names_are_refused() {
        assert_eq!("PX4".parse(), Ok(AutopilotProfile::Px4));
        assert_eq!("ArduPilot".parse(), Ok(AutopilotProfile::ArduPilot));
        assert_eq!(
            "betaflight".parse::<AutopilotProfile>(),
            Err(UnknownProfile("betaflight".into()))
        );
    }
}
