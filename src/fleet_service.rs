//! Drones out of service: in maintenance (never assigned until put back in
//! service) or lost (never assigned; whatever it was flying goes back to
//! the queue). And the rule that finds a lost drone on its own: a drone out
//! on a flight whose link has been gone longer than a threshold. Pure.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    #[default]
    InService,
    Maintenance,
    Lost,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::InService => "in_service",
            ServiceState::Maintenance => "maintenance",
            ServiceState::Lost => "lost",
        }
    }

    pub fn parse(text: &str) -> Option<ServiceState> {
        match text {
            "in_service" => Some(ServiceState::InService),
            "maintenance" => Some(ServiceState::Maintenance),
            "lost" => Some(ServiceState::Lost),
            _ => None,
        }
    }

    pub fn assignable(self) -> bool {
        self == ServiceState::InService
    }
}

/// A drone's service state and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Service {
    pub state: ServiceState,
    pub reason: Option<String>,
}

/// What the dispatcher knows of a flying drone's link, as ages (time since)
/// rather than instants so the rule stays a pure function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkAges {
    /// Since the last telemetry; None if none came since the dispatcher
    /// started.
    pub telemetry: Option<Duration>,
    /// Since the bridge's status went offline (its Last Will, or a clean
    /// shutdown); None while online.
    pub offline: Option<Duration>,
    /// Since the dispatcher began following this flight (launch, or the
    /// restart that picked it up).
    pub following: Duration,
}

/// How long a drone out on a flight has been unheard of, if longer than
/// `threshold`: then it is lost. A drone on the ground is never declared
/// lost here (it is not flying anyone's work), and a short gap (a broker
/// restart, a bridge reconnecting) stays under the threshold.
pub fn lost_for(ages: LinkAges, threshold: Duration) -> Option<Duration> {
    // Silence counts from the last telemetry, or from when the flight was
    // picked up if none has come since; a Last Will counts from when it
    // came (telemetry resets the offline mark, so both agree in practice).
    let silent = ages.telemetry.unwrap_or(ages.following);
    let gone = silent.max(ages.offline.unwrap_or_default());
    (gone > threshold).then_some(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(30);

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn a_flying_drone_heard_recently_is_not_lost() {
        let ages = LinkAges {
            telemetry: Some(s(2)),
            offline: None,
            following: s(600),
        };
        assert_eq!(lost_for(ages, T), None);
    }

    #[test]
    fn silence_longer_than_the_threshold_means_lost() {
        let ages = LinkAges {
            telemetry: Some(s(45)),
            offline: None,
            following: s(600),
        };
        assert_eq!(lost_for(ages, T), Some(s(45)));
    }

    #[test]
    fn a_last_will_counts_from_when_it_came() {
        let ages = LinkAges {
            telemetry: Some(s(20)),
            offline: Some(s(40)),
            following: s(600),
        };
        assert_eq!(lost_for(ages, T), Some(s(40)));
        let fresh_will = LinkAges {
            telemetry: Some(s(6)),
            offline: Some(s(5)),
            ..ages
        };
        assert_eq!(lost_for(fresh_will, T), None);
    }

    #[test]
    fn a_flight_picked_up_after_a_restart_gets_the_threshold_from_then() {
        let just_restarted = LinkAges {
            telemetry: None,
            offline: None,
            following: s(3),
        };
        assert_eq!(lost_for(just_restarted, T), None);
        let never_heard = LinkAges {
            following: s(31),
            ..just_restarted
        };
        assert_eq!(lost_for(never_heard, T), Some(s(31)));
    }

    #[test]
    fn states_read_back_from_their_names() {
        for state in [
            ServiceState::InService,
            ServiceState::Maintenance,
            ServiceState::Lost,
        ] {
            assert_eq!(ServiceState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ServiceState::parse("broken"), None);
        assert!(!ServiceState::Maintenance.assignable());
    }
}
