//! Dispatch: which drone flies a task. Pure, no IO.
//!
//! This first rule picks the nearest drone that is ready (online, on the
//! ground, disarmed, not busy) and has the battery the plan needs. Fair
//! shares, priorities and preemption come with the dispatch issue.

use geo::{Distance, Haversine, Point};

#[derive(Debug, Clone)]
pub struct Candidate {
    pub drone_id: String,
    pub position: Point,
    pub battery_pct: f64,
    pub ready: bool,
    pub sensors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Drone(String),
    /// Nothing can fly it now; the text says what holds it.
    Wait(String),
}

/// `battery_needed_pct(candidate)` is the plan's need when flown from that
/// candidate's position (including reserve).
pub fn choose_drone(
    candidates: &[Candidate],
    target: Point,
    sensor: &str,
    battery_needed_pct: impl Fn(&Candidate) -> f64,
) -> Choice {
    let with_sensor: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.sensors.iter().any(|s| s == sensor))
        .collect();
    if with_sensor.is_empty() {
        return Choice::Wait(format!("no drone online carries a {sensor} sensor"));
    }
    let ready: Vec<&&Candidate> = with_sensor.iter().filter(|c| c.ready).collect();
    if ready.is_empty() {
        return Choice::Wait(format!("every drone with a {sensor} sensor is busy"));
    }
    let best = ready
        .iter()
        .filter(|c| c.battery_pct >= battery_needed_pct(c))
        .min_by(|a, b| {
            let da = Haversine.distance(a.position, target);
            let db = Haversine.distance(b.position, target);
            da.total_cmp(&db)
        });
    match best {
        Some(c) => Choice::Drone(c.drone_id.clone()),
        None => Choice::Wait("no free drone has enough battery yet; waiting for charging".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, lon: f64, battery: f64, ready: bool) -> Candidate {
        Candidate {
            drone_id: id.into(),
            position: Point::new(lon, 30.5),
            battery_pct: battery,
            ready,
            sensors: vec!["visible".into()],
        }
    }

    #[test]
    fn nearest_ready_drone_with_battery_wins() {
        let target = Point::new(114.40, 30.5);
        let fleet = [
            c("near-busy", 114.401, 100.0, false),
            c("near-empty", 114.402, 20.0, true),
            c("far", 114.45, 90.0, true),
            c("middle", 114.42, 90.0, true),
        ];
        assert_eq!(
            choose_drone(&fleet, target, "visible", |_| 40.0),
            Choice::Drone("middle".into())
        );
    }

    #[test]
    fn explains_why_nothing_can_fly() {
        let target = Point::new(114.40, 30.5);
        let fleet = [c("a", 114.41, 10.0, true)];
        assert!(
            matches!(choose_drone(&fleet, target, "thermal", |_| 40.0), Choice::Wait(w) if w.contains("thermal"))
        );
        assert!(
            matches!(choose_drone(&fleet, target, "visible", |_| 40.0), Choice::Wait(w) if w.contains("battery"))
        );
    }
}
