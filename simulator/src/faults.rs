//! Faults on demand: what can go wrong, scenario files that schedule faults
//! per vehicle in simulated time, and the link model that cuts, drops and
//! delays datagrams. Deterministic for a seed: every random draw comes from
//! the vehicle's own seeded generator.

use std::path::Path;

use serde::Deserialize;

use crate::noise::Rng;

/// One fault (or the end of one).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Nothing gets through either way, for `duration_s` (or until `link_restore`).
    LinkCut {
        #[serde(default)]
        duration_s: Option<f64>,
    },
    /// Lose each datagram with probability `loss` (0..=1) and delay the rest by
    /// `latency_ms` plus up to `jitter_ms`, both ways.
    LossyLink {
        #[serde(default)]
        loss: f64,
        #[serde(default)]
        latency_ms: f64,
        #[serde(default)]
        jitter_ms: f64,
    },
    /// Back to a perfect link.
    LinkRestore,
    /// No GPS fix for `duration_s` (or until `gps_restore`).
    GpsLoss {
        #[serde(default)]
        duration_s: Option<f64>,
    },
    GpsRestore,
    /// A cell fails: the charge drops to `remaining_fraction` at once.
    BatteryFault {
        remaining_fraction: f64,
    },
    /// A motor stops: forced landing, no more arming.
    MotorFailure,
    /// Steady wind of `speed_mps` blowing from `from_deg` (true bearing) with
    /// gusts of standard deviation `gust_mps`.
    Wind {
        speed_mps: f64,
        #[serde(default)]
        from_deg: f64,
        #[serde(default)]
        gust_mps: f64,
    },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    #[error("{field} must be {expected}, got {value}")]
    OutOfRange {
        field: &'static str,
        expected: &'static str,
        value: f64,
    },
}

impl Fault {
    /// Refuse values that make no physical sense.
    pub fn validate(&self) -> Result<(), FaultError> {
        let check = |field, value: f64, ok: bool, expected| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(FaultError::OutOfRange {
                    field,
                    expected,
                    value,
                })
            }
        };
        let optional_duration = |value: Option<f64>| match value {
            Some(seconds) => check("duration_s", seconds, seconds > 0.0, "positive"),
            None => Ok(()),
        };
        match *self {
            Fault::LinkCut { duration_s } | Fault::GpsLoss { duration_s } => {
                optional_duration(duration_s)
            }
            Fault::LossyLink {
                loss,
                latency_ms,
                jitter_ms,
            } => {
                check("loss", loss, (0.0..=1.0).contains(&loss), "within 0..=1")?;
                check("latency_ms", latency_ms, latency_ms >= 0.0, "at least 0")?;
                check("jitter_ms", jitter_ms, jitter_ms >= 0.0, "at least 0")
            }
            Fault::BatteryFault { remaining_fraction } => check(
                "remaining_fraction",
                remaining_fraction,
                (0.0..=1.0).contains(&remaining_fraction),
                "within 0..=1",
            ),
            Fault::Wind {
                speed_mps,
                from_deg,
                gust_mps,
            } => {
                check(
                    "speed_mps",
                    speed_mps,
                    (0.0..=40.0).contains(&speed_mps),
                    "within 0..=40",
                )?;
                check("from_deg", from_deg, true, "a number")?;
                check(
                    "gust_mps",
                    gust_mps,
                    (0.0..=20.0).contains(&gust_mps),
                    "within 0..=20",
                )
            }
            Fault::LinkRestore | Fault::GpsRestore | Fault::MotorFailure => Ok(()),
        }
    }

    /// Faults that act on the radio link rather than on the vehicle.
    pub fn is_link_fault(&self) -> bool {
        matches!(
            self,
            Fault::LinkCut { .. } | Fault::LossyLink { .. } | Fault::LinkRestore
        )
    }
}

/// A fault at a simulated time for one vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedFault {
    /// Simulated seconds since start.
    pub at_s: f64,
    /// Vehicle name.
    pub vehicle: String,
    pub fault: Fault,
}

/// A scenario file: a seed and timed faults. On disk each fault is one flat
/// JSON object: `{"at_s": 5, "vehicle": "drone-1", "kind": "gps_loss", ...}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub faults: Vec<TimedFault>,
}

/// The file's shape before each fault is split into time, vehicle and fault
/// (serde's `flatten` would silently accept misspelt fields).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    faults: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {reason}")]
    Read {
        path: String,
        reason: std::io::Error,
    },
    #[error("scenario {origin}: {reason}")]
    Syntax {
        origin: String,
        reason: serde_json::Error,
    },
    #[error("scenario {origin}: fault {index} ({vehicle} at {at_s} s): {reason}")]
    BadFault {
        origin: String,
        index: usize,
        vehicle: String,
        at_s: f64,
        reason: FaultError,
    },
    #[error("scenario {origin}: fault {index}: {reason}")]
    BadEntry {
        origin: String,
        index: usize,
        reason: String,
    },
    #[error("scenario {origin}: fault {index}: at_s must be a time of at least 0, got {at_s}")]
    BadTime {
        origin: String,
        index: usize,
        at_s: f64,
    },
}

impl Scenario {
    /// Parse JSON; `origin` names the source in errors (a path, "inline").
    pub fn from_json(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        let file: ScenarioFile =
            serde_json::from_str(text).map_err(|reason| ScenarioError::Syntax {
                origin: origin.to_string(),
                reason,
            })?;
        let mut scenario = Scenario {
            seed: file.seed,
            faults: Vec::with_capacity(file.faults.len()),
        };
        for (index, mut entry) in file.faults.into_iter().enumerate() {
            let bad = |reason: String| ScenarioError::BadEntry {
                origin: origin.to_string(),
                index,
                reason,
            };
            let at_s = entry
                .remove("at_s")
                .ok_or_else(|| bad("missing at_s".into()))?
                .as_f64()
                .ok_or_else(|| bad("at_s must be a number of seconds".into()))?;
            let vehicle = match entry.remove("vehicle") {
                Some(serde_json::Value::String(name)) => name,
                Some(_) => return Err(bad("vehicle must be a vehicle name".into())),
                None => return Err(bad("missing vehicle".into())),
            };
            let fault = Fault::deserialize(serde_json::Value::Object(entry))
                .map_err(|reason| bad(reason.to_string()))?;
            scenario.faults.push(TimedFault {
                at_s,
                vehicle,
                fault,
            });
        }
        for (index, timed) in scenario.faults.iter().enumerate() {
            if !(timed.at_s.is_finite() && timed.at_s >= 0.0) {
                return Err(ScenarioError::BadTime {
                    origin: origin.to_string(),
                    index,
                    at_s: timed.at_s,
                });
            }
            timed
                .fault
                .validate()
                .map_err(|reason| ScenarioError::BadFault {
                    origin: origin.to_string(),
                    index,
                    vehicle: timed.vehicle.clone(),
                    at_s: timed.at_s,
                    reason,
                })?;
        }
        Ok(scenario)
    }

    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|reason| ScenarioError::Read {
            path: path.display().to_string(),
            reason,
        })?;
        Scenario::from_json(&text, &path.display().to_string())
    }

    /// The faults for one vehicle, in time order.
    pub fn for_vehicle(&self, name: &str) -> Vec<(f64, Fault)> {
        let mut faults: Vec<(f64, Fault)> = self
            .faults
            .iter()
            .filter(|timed| timed.vehicle == name)
            .map(|timed| (timed.at_s, timed.fault.clone()))
            .collect();
        faults.sort_by(|a, b| a.0.total_cmp(&b.0));
        faults
    }
}

/// Scheduled faults of one vehicle, released as simulated time passes.
#[derive(Debug, Clone, Default)]
pub struct FaultSchedule {
    pending: std::collections::VecDeque<(f64, Fault)>,
}

impl FaultSchedule {
    pub fn new(faults: Vec<(f64, Fault)>) -> Self {
        FaultSchedule {
            pending: faults.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Faults due at `sim_time_s`.
    pub fn due(&mut self, sim_time_s: f64) -> Vec<Fault> {
        let mut due = Vec::new();
        while self
            .pending
            .front()
            .is_some_and(|(at_s, _)| *at_s <= sim_time_s)
        {
            if let Some((_, fault)) = self.pending.pop_front() {
                due.push(fault);
            }
        }
        due
    }
}

/// What happens to one datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delivery {
    Deliver,
    /// Deliver after this many (simulated) seconds.
    Delay(f64),
    Drop,
}

/// The radio link's condition: cut, lossy, slow or perfect.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkConditions {
    cut_until_s: Option<f64>,
    loss: f64,
    latency_s: f64,
    jitter_s: f64,
    pub dropped: u64,
}

impl LinkConditions {
    pub fn apply(&mut self, fault: &Fault, sim_time_s: f64) {
        match *fault {
            Fault::LinkCut { duration_s } => {
                self.cut_until_s = Some(duration_s.map_or(f64::INFINITY, |d| sim_time_s + d));
            }
            Fault::LossyLink {
                loss,
                latency_ms,
                jitter_ms,
            } => {
                self.loss = loss;
                self.latency_s = latency_ms / 1000.0;
                self.jitter_s = jitter_ms / 1000.0;
            }
            Fault::LinkRestore => {
                *self = LinkConditions {
                    dropped: self.dropped,
                    ..LinkConditions::default()
                }
            }
            _ => {}
        }
    }

    pub fn is_cut(&self, sim_time_s: f64) -> bool {
        self.cut_until_s.is_some_and(|until_s| sim_time_s < until_s)
    }

    pub fn is_perfect(&self, sim_time_s: f64) -> bool {
        !self.is_cut(sim_time_s)
            && self.loss == 0.0
            && self.latency_s == 0.0
            && self.jitter_s == 0.0
    }

    /// Decide one datagram's fate (either direction).
    pub fn admit(&mut self, sim_time_s: f64, rng: &mut Rng) -> Delivery {
        if self.is_cut(sim_time_s) || (self.loss > 0.0 && rng.uniform() < self.loss) {
            self.dropped += 1;
            return Delivery::Drop;
        }
        let delay_s = self.latency_s + self.jitter_s * rng.uniform();
        if delay_s > 0.0 {
            Delivery::Delay(delay_s)
        } else {
            Delivery::Deliver
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_parses_every_fault_kind() {
        let text = r#"{
            "seed": 9,
            "faults": [
                {"at_s": 5, "vehicle": "drone-1", "kind": "link_cut", "duration_s": 3},
                {"at_s": 1, "vehicle": "drone-1", "kind": "lossy_link", "loss": 0.2, "latency_ms": 150},
                {"at_s": 2, "vehicle": "drone-2", "kind": "gps_loss"},
                {"at_s": 3, "vehicle": "drone-2", "kind": "battery_fault", "remaining_fraction": 0.08},
                {"at_s": 4, "vehicle": "drone-2", "kind": "motor_failure"},
                {"at_s": 0, "vehicle": "drone-1", "kind": "wind", "speed_mps": 8, "from_deg": 270, "gust_mps": 2}
            ]
        }"#;
        let scenario = Scenario::from_json(text, "inline").expect("valid scenario");
        assert_eq!(scenario.seed, 9);
        let first = scenario.for_vehicle("drone-1");
        assert_eq!(first.len(), 3);
        assert_eq!(first[0].0, 0.0);
        assert!(matches!(first[2].1, Fault::LinkCut { duration_s: Some(d) } if d == 3.0));
        assert_eq!(scenario.for_vehicle("drone-2").len(), 3);
    }

    #[test]
    fn bad_scenarios_name_what_is_wrong_and_where() {
        let unknown = r#"{"faults": [{"at_s": 1, "vehicle": "d", "kind": "meteor"}]}"#;
        let error = Scenario::from_json(unknown, "s.json")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("s.json") && error.contains("meteor"),
            "{error}"
        );
        let range = r#"{"faults": [{"at_s": 1, "vehicle": "d", "kind": "lossy_link", "loss": 3}]}"#;
        let error = Scenario::from_json(range, "s.json")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("fault 0") && error.contains("loss"),
            "{error}"
        );
        let typo =
            r#"{"faults": [{"at_s": 1, "vehicle": "d", "kind": "gps_loss", "duration": 3}]}"#;
        let error = Scenario::from_json(typo, "s.json").unwrap_err().to_string();
        assert!(
            error.contains("fault 0") && error.contains("duration"),
            "{error}"
        );
        let no_vehicle = r#"{"faults": [{"at_s": 1, "kind": "gps_loss"}]}"#;
        let error = Scenario::from_json(no_vehicle, "s.json")
            .unwrap_err()
            .to_string();
        assert!(error.contains("missing vehicle"), "{error}");
        let time = r#"{"faults": [{"at_s": -1, "vehicle": "d", "kind": "motor_failure"}]}"#;
        assert!(matches!(
            Scenario::from_json(time, "s.json"),
            Err(ScenarioError::BadTime { index: 0, .. })
        ));
        assert!(matches!(
            Scenario::from_json("{", "s.json"),
            Err(ScenarioError::Syntax { .. })
        ));
    }

    #[test]
    fn a_cut_link_drops_everything_until_it_heals() {
        let mut link = LinkConditions::default();
        let mut rng = Rng::new(1);
        link.apply(
            &Fault::LinkCut {
                duration_s: Some(2.0),
            },
            10.0,
        );
        assert_eq!(link.admit(11.0, &mut rng), Delivery::Drop);
        assert_eq!(link.admit(12.5, &mut rng), Delivery::Deliver);
    }

    #[test]
    fn a_lossy_link_loses_about_the_asked_fraction_deterministically() {
        let run = |seed| {
            let mut link = LinkConditions::default();
            link.apply(
                &Fault::LossyLink {
                    loss: 0.3,
                    latency_ms: 100.0,
                    jitter_ms: 50.0,
                },
                0.0,
            );
            let mut rng = Rng::new(seed);
            (0..10_000)
                .map(|_| link.admit(1.0, &mut rng))
                .collect::<Vec<_>>()
        };
        let outcomes = run(5);
        assert_eq!(outcomes, run(5));
        let dropped = outcomes.iter().filter(|d| **d == Delivery::Drop).count();
        assert!((2_700..3_300).contains(&dropped), "{dropped}");
        assert!(outcomes.iter().all(|d| match d {
            Delivery::Delay(s) => (0.1..=0.15).contains(s),
            Delivery::Drop => true,
            Delivery::Deliver => false,
        }));
    }
}
