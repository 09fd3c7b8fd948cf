//! One scheduling round: the queue and the ready fleet in, which drones
//! take off now with which tasks, and what every other task is waiting for.
//! Pure, no IO; the dispatcher runs a round every half second and whenever
//! something changes.
//!
//! The round is a small routing problem ([`crate::routing`]): each ready
//! drone may fly one sortie from its dock, as long as its battery allows;
//! each task needs a drone carrying its sensor, and is worth a penalty that
//! grows with its priority and with how long it has waited, weighed by its
//! department's fair share ([`crate::routing::fair_share`]). Sorties that
//! should take off now are launched; the rest of the plan is only a forecast
//! that tells waiting tasks when they are likely to fly, and is planned
//! afresh next round, when more is known.

use std::collections::HashMap;
use std::time::Duration;

use geo::Point;

use crate::coverage::LocalFrame;
use crate::planning::{self, Airframe};
use crate::routing::fair_share::{self, Demand, Share};
use crate::routing::outlook::{self, Hold, Outlook};
use crate::routing::{self, Drone, Problem, SearchLimits, Site, Task};
use crate::task::Priority;

/// A task waiting in the queue.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub id: String,
    pub department: String,
    /// Where the work starts (a target, or a survey leg's first point).
    pub site: Point,
    /// Time spent on the work once there, seconds.
    pub service_s: f64,
    pub sensor: String,
    pub priority: Priority,
    /// How long it has waited, seconds.
    pub waited_s: f64,
    /// When the work may start and by when it must be done, seconds from
    /// now (`0` and infinity for a task with no window).
    pub window_s: (f64, f64),
}

/// A drone on its dock, charged enough to be worth planning for.
#[derive(Debug, Clone)]
pub struct Ready {
    pub id: String,
    pub dock: Point,
    pub sensors: Vec<String>,
    pub battery_pct: f64,
}

/// Take off now with these tasks, in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub drone: String,
    pub tasks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Forecast {
    /// Planned on a drone that is ready, for a later take-off (its window
    /// has not opened yet).
    Later { drone: String, take_off_in_s: i64 },
    /// Not in this round's plan, and why.
    Held(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Round {
    pub launches: Vec<Launch>,
    /// For every task not launched, by id.
    pub forecasts: HashMap<String, Forecast>,
}

/// A sortie planned to take off within this many seconds goes now: the
/// next round would only launch it a little later.
const LAUNCH_WITHIN_S: i64 = 30;
/// Penalty per unit of priority, metres: a task is worth flying this far.
const PENALTY_PER_PRIORITY_M: i64 = 20_000;
/// Penalty added per minute waited, metres, so old routine work is not
/// passed over for ever by newer work of the same priority.
const PENALTY_PER_MINUTE_WAITED_M: f64 = 200.0;
/// How far ahead a round plans.
const HORIZON_S: u32 = 3600;

fn priority_weight(priority: Priority) -> i64 {
    match priority {
        Priority::Routine => 1,
        Priority::Urgent => 3,
        Priority::Emergency => 10,
    }
}

/// Plan one round. `shares` gives each department's quota and the flight
/// time it has used this period; a department not listed has an equal
/// share and has used nothing.
pub fn plan_round(
    waiting: &[Waiting],
    ready: &[Ready],
    shares: &HashMap<String, Share>,
    airframe: &Airframe,
    budget: Duration,
) -> Round {
    let mut round = Round::default();
    // Work whose window opens beyond this round's horizon, or is too short
    // for the work, waits outside the plan.
    let (waiting, later): (Vec<&Waiting>, Vec<&Waiting>) = waiting.iter().partition(|w| {
        w.window_s.0 <= f64::from(HORIZON_S) && w.window_s.1 - w.window_s.0.max(0.0) >= w.service_s
    });
    for w in later {
        let why = if w.window_s.0 > f64::from(HORIZON_S) {
            format!(
                "its window opens in about {} min",
                (w.window_s.0 / 60.0).ceil()
            )
        } else {
            "what is left of its window is shorter than the work takes".to_string()
        };
        round.forecasts.insert(w.id.clone(), Forecast::Held(why));
    }
    if waiting.is_empty() {
        return round;
    }
    // Sensors as capability bits, in order of first mention.
    let mut sensor_bits: HashMap<&str, u32> = HashMap::new();
    for name in waiting.iter().map(|w| w.sensor.as_str()).chain(
        ready
            .iter()
            .flat_map(|r| r.sensors.iter().map(String::as_str)),
    ) {
        let next = 1u32 << sensor_bits.len().min(31);
        sensor_bits.entry(name).or_insert(next);
    }
    let origin = ready.first().map_or(waiting[0].site, |r| r.dock);
    let frame = LocalFrame::new(origin);
    let site = |p: Point| {
        let xy = frame.to_local(p);
        Site {
            east_m: xy.x,
            north_m: xy.y,
        }
    };

    // Drones that share a dock position share a dock.
    let mut docks: Vec<Point> = Vec::new();
    let drones: Vec<Drone> = ready
        .iter()
        .map(|r| {
            let dock = docks.iter().position(|d| d == &r.dock).unwrap_or_else(|| {
                docks.push(r.dock);
                docks.len() - 1
            });
            Drone {
                dock,
                carries: r
                    .sensors
                    .iter()
                    .map(|s| sensor_bits[s.as_str()])
                    .fold(0, |a, b| a | b),
                // Climb and descent come out of the battery, not the route.
                max_sortie_s: Some(endurance_for_route_s(r.battery_pct, airframe) as u32),
                ready_at_s: 0,
            }
        })
        .collect();

    let department_index: HashMap<&str, usize> = {
        let mut names: Vec<&str> = waiting.iter().map(|w| w.department.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names.into_iter().enumerate().map(|(i, n)| (n, i)).collect()
    };
    let mut department_shares = vec![
        Share {
            quota: 1.0,
            used_s: 0.0,
        };
        department_index.len()
    ];
    for (name, &i) in &department_index {
        if let Some(share) = shares.get(*name) {
            department_shares[i] = share.clone();
        }
    }
    let service_s: Vec<f64> = waiting.iter().map(|w| w.service_s).collect();
    let demands: Vec<Demand> = waiting
        .iter()
        .zip(&service_s)
        .map(|(w, service)| {
            let nearest_dock_s = docks
                .iter()
                .map(|d| frame.to_local(*d).distance(frame.to_local(w.site)))
                .fold(f64::INFINITY, f64::min)
                / airframe.cruise_speed_mps;
            Demand {
                department: department_index[w.department.as_str()],
                penalty: penalty(w),
                emergency: w.priority == Priority::Emergency,
                estimated_s: service + 2.0 * nearest_dock_s.min(f64::from(HORIZON_S)),
                // Most important first, then longest waiting.
                rank: -(priority_weight(w.priority) * 1_000_000 + w.waited_s as i64),
            }
        })
        .collect();
    let capacity_s: f64 = drones
        .iter()
        .map(|d| f64::from(d.max_sortie_s.unwrap_or(0)))
        .sum();
    let (weighings, _) = fair_share::weigh(&department_shares, &demands, capacity_s);

    let tasks: Vec<Task> = waiting
        .iter()
        .zip(&service_s)
        .zip(&weighings)
        .map(|((w, service), weighing)| Task {
            site: site(w.site),
            service_s: service.ceil() as u32,
            // Arrive once the window has opened and early enough to finish
            // the work before it closes.
            window_s: (
                w.window_s.0.clamp(0.0, f64::from(HORIZON_S)) as u32,
                (w.window_s.1 - service).clamp(w.window_s.0.max(0.0), f64::from(HORIZON_S)) as u32,
            ),
            drop_penalty: weighing.penalty,
            requires: sensor_bits[w.sensor.as_str()],
        })
        .collect();
    let problem = match Problem::new(
        docks.iter().map(|d| site(*d)).collect(),
        drones,
        tasks,
        airframe.cruise_speed_mps,
        0,
        HORIZON_S * 2,
    ) {
        Ok(p) => p,
        Err(error) => {
            // Only non-finite positions get here, and the API refuses those.
            for w in waiting {
                round.forecasts.insert(
                    w.id.clone(),
                    Forecast::Held(format!("cannot be planned: {error}")),
                );
            }
            return round;
        }
    };
    let report = routing::solve(
        &problem,
        &SearchLimits {
            time: budget,
            ..SearchLimits::default()
        },
    );
    let over_share: Vec<bool> = weighings.iter().map(|w| !w.within_share).collect();
    let outlooks = outlook::outlooks(&problem, &report.plan, &over_share);
    for sortie in &report.plan.sorties {
        if sortie.take_off_s <= LAUNCH_WITHIN_S {
            round.launches.push(Launch {
                drone: ready[sortie.drone].id.clone(),
                tasks: sortie
                    .tasks
                    .iter()
                    .map(|&t| waiting[t].id.clone())
                    .collect(),
            });
        }
    }
    for (t, outlook) in outlooks.into_iter().enumerate() {
        let forecast = match outlook {
            Outlook::Planned {
                drone, take_off_s, ..
            } if take_off_s > LAUNCH_WITHIN_S => Forecast::Later {
                drone: ready[drone].id.clone(),
                take_off_in_s: take_off_s,
            },
            Outlook::Planned { .. } => continue,
            Outlook::Held(hold) => Forecast::Held(explain(&hold, waiting[t], ready)),
        };
        round.forecasts.insert(waiting[t].id.clone(), forecast);
    }
    round
}

/// Endurance less the climb to and descent from a typical working height,
/// which every sortie pays once.
fn endurance_for_route_s(battery_pct: f64, airframe: &Airframe) -> f64 {
    const WORKING_HEIGHT_M: f64 = 60.0;
    let climb_and_descent =
        WORKING_HEIGHT_M / airframe.climb_speed_mps + WORKING_HEIGHT_M / airframe.descent_speed_mps;
    (planning::endurance_s(battery_pct, airframe) - climb_and_descent).max(0.0)
}

fn penalty(w: &Waiting) -> i64 {
    priority_weight(w.priority) * PENALTY_PER_PRIORITY_M
        + (w.waited_s / 60.0 * PENALTY_PER_MINUTE_WAITED_M) as i64
}

/// The hold in words a department can act on. "No capable drone" here
/// means none of the drones ready now: the others are flying or charging.
fn explain(hold: &Hold, task: &Waiting, ready: &[Ready]) -> String {
    match hold {
        Hold::NoCapableDrone if ready.is_empty() => {
            "every drone is flying or charging; it will be planned as soon as one is ready".into()
        }
        Hold::NoCapableDrone => format!(
            "every drone with a {} sensor is flying or charging; it will be planned as soon as one is ready",
            task.sensor
        ),
        Hold::BeyondReach { .. } => format!(
            "no ready drone with a {} sensor has the battery to reach it; waiting for one to charge",
            task.sensor
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(
        id: &str,
        department: &str,
        target: Point,
        sensor: &str,
        priority: Priority,
    ) -> Waiting {
        let inspection = crate::planning::PointInspection {
            target,
            alt_agl_m: 40.0,
            radius_m: 20.0,
            photos: 3,
        };
        Waiting {
            id: id.into(),
            department: department.into(),
            site: target,
            service_s: planning::inspection_time_s(&inspection, &Airframe::default()),
            sensor: sensor.into(),
            priority,
            waited_s: 10.0,
            window_s: (0.0, f64::INFINITY),
        }
    }

    fn ready(id: &str, dock: Point, sensors: &[&str], battery_pct: f64) -> Ready {
        Ready {
            id: id.into(),
            dock,
            sensors: sensors.iter().map(|s| s.to_string()).collect(),
            battery_pct,
        }
    }

    const DOCK_A: (f64, f64) = (114.400, 30.500);
    const DOCK_B: (f64, f64) = (114.430, 30.500);

    fn p(xy: (f64, f64)) -> Point {
        Point::new(xy.0, xy.1)
    }

    fn budget() -> Duration {
        Duration::from_millis(30)
    }

    #[test]
    fn each_task_goes_to_the_drone_whose_dock_is_near_it() {
        let near_a = Point::new(114.401, 30.501);
        let near_b = Point::new(114.431, 30.501);
        let round = plan_round(
            &[
                waiting("t1", "urban", near_a, "visible", Priority::Routine),
                waiting("t2", "environment", near_b, "visible", Priority::Routine),
            ],
            &[
                ready("a", p(DOCK_A), &["visible"], 100.0),
                ready("b", p(DOCK_B), &["visible"], 100.0),
            ],
            &HashMap::new(),
            &Airframe::default(),
            budget(),
        );
        let mut launches = round.launches.clone();
        launches.sort_by(|x, y| x.drone.cmp(&y.drone));
        assert_eq!(
            launches,
            vec![
                Launch {
                    drone: "a".into(),
                    tasks: vec!["t1".into()]
                },
                Launch {
                    drone: "b".into(),
                    tasks: vec!["t2".into()]
                }
            ]
        );
        assert!(round.forecasts.is_empty());
    }

    #[test]
    fn a_task_whose_window_opens_later_is_planned_for_then_and_one_beyond_the_horizon_waits() {
        let mut soon = waiting(
            "soon",
            "urban",
            Point::new(114.401, 30.501),
            "visible",
            Priority::Routine,
        );
        soon.window_s = (1200.0, 3000.0);
        let mut tomorrow = waiting(
            "tomorrow",
            "urban",
            Point::new(114.402, 30.501),
            "visible",
            Priority::Routine,
        );
        tomorrow.window_s = (86_400.0, 90_000.0);
        let round = plan_round(
            &[soon, tomorrow],
            &[ready("a", p(DOCK_A), &["visible"], 100.0)],
            &HashMap::new(),
            &Airframe::default(),
            budget(),
        );
        assert!(round.launches.is_empty());
        match &round.forecasts["soon"] {
            // Take off just in time to arrive as the window opens.
            Forecast::Later {
                drone,
                take_off_in_s,
            } => {
                assert_eq!(drone, "a");
                assert!((1100..=1200).contains(take_off_in_s), "{take_off_in_s}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            round.forecasts["tomorrow"],
            Forecast::Held("its window opens in about 1440 min".into())
        );
    }

    #[test]
    fn nearby_tasks_share_one_sortie() {
        let round = plan_round(
            &[
                waiting(
                    "t1",
                    "urban",
                    Point::new(114.401, 30.501),
                    "visible",
                    Priority::Routine,
                ),
                waiting(
                    "t2",
                    "urban",
                    Point::new(114.402, 30.501),
                    "visible",
                    Priority::Routine,
                ),
            ],
            &[ready("a", p(DOCK_A), &["visible"], 100.0)],
            &HashMap::new(),
            &Airframe::default(),
            budget(),
        );
        assert_eq!(round.launches.len(), 1);
        assert_eq!(round.launches[0].tasks.len(), 2);
    }

    #[test]
    fn a_thermal_task_waits_for_a_thermal_drone_and_says_so() {
        let round = plan_round(
            &[waiting(
                "hot",
                "emergency",
                Point::new(114.401, 30.501),
                "thermal",
                Priority::Urgent,
            )],
            &[ready("a", p(DOCK_A), &["visible"], 100.0)],
            &HashMap::new(),
            &Airframe::default(),
            budget(),
        );
        assert!(round.launches.is_empty());
        match &round.forecasts["hot"] {
            Forecast::Held(why) => assert!(
                why.contains("thermal sensor is flying or charging"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_nearly_empty_battery_is_not_sent_far_and_the_task_says_why() {
        let far = Point::new(114.44, 30.52);
        let round = plan_round(
            &[waiting("far", "water", far, "visible", Priority::Routine)],
            &[ready("a", p(DOCK_A), &["visible"], 30.0)],
            &HashMap::new(),
            &Airframe::default(),
            budget(),
        );
        assert!(round.launches.is_empty());
        match &round.forecasts["far"] {
            Forecast::Held(why) => assert!(why.contains("battery to reach it"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_emergency_takes_the_only_drone_before_routine_work_that_waited_longer() {
        let mut routine = waiting(
            "old",
            "urban",
            Point::new(114.401, 30.501),
            "visible",
            Priority::Routine,
        );
        routine.waited_s = 3600.0;
        // Opposite sides of the dock, 770 m out each: on a battery at 50%
        // (285 s in the air) one sortie can fly either but not both.
        let routine = Waiting {
            site: Point::new(114.392, 30.500),
            ..routine
        };
        let emergency = waiting(
            "fire",
            "emergency",
            Point::new(114.408, 30.500),
            "visible",
            Priority::Emergency,
        );
        let round = plan_round(
            &[routine, emergency],
            &[ready("a", p(DOCK_A), &["visible"], 50.0)],
            &HashMap::new(),
            &Airframe::default(),
            budget(),
        );
        assert_eq!(round.launches.len(), 1);
        assert_eq!(round.launches[0].tasks, vec!["fire".to_string()]);
        assert!(matches!(round.forecasts["old"], Forecast::Held(_)));
    }

    #[test]
    fn a_department_over_its_weekly_quota_still_flies_when_nothing_else_waits() {
        let near = Point::new(114.401, 30.501);
        let shares: HashMap<String, Share> = [
            (
                "water".to_string(),
                Share {
                    quota: 1.0,
                    used_s: 40_000.0,
                },
            ),
            (
                "urban".to_string(),
                Share {
                    quota: 1.0,
                    used_s: 0.0,
                },
            ),
        ]
        .into();
        let round = plan_round(
            &[waiting("w1", "water", near, "visible", Priority::Routine)],
            &[ready("a", p(DOCK_A), &["visible"], 100.0)],
            &shares,
            &Airframe::default(),
            budget(),
        );
        assert_eq!(
            round.launches,
            vec![Launch {
                drone: "a".into(),
                tasks: vec!["w1".into()]
            }],
            "capacity does not sit idle for a quota"
        );
    }
}
