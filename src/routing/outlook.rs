//! What a plan means for each task: when it is expected to be flown, or
//! what holds it. These answers are what a department sees next to a
//! waiting task, so each names the rule that holds it.

use std::fmt;

use super::problem::Problem;
use super::segment::Segment;
use super::solution::Plan;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outlook {
    /// In the plan: flown by `drone` as its `position`-th visit (from 0),
    /// arriving at `arrival_s` after taking off at `take_off_s`.
    Planned {
        drone: usize,
        position: usize,
        take_off_s: i64,
        arrival_s: i64,
    },
    /// Not in the plan, and why.
    Held(Hold),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// No drone carries what the task requires.
    NoCapableDrone,
    /// Even alone, from the best dock, the flight is longer than any capable
    /// drone's battery allows now.
    BeyondReach { needed_s: i64, longest_s: i64 },
    /// No capable drone can be there before the window closes.
    WindowUnreachable {
        earliest_arrival_s: i64,
        close_s: i64,
    },
    /// It could be flown, but the fleet's time in its window goes to tasks
    /// that weigh more; `over_share` when its department has used its share.
    FleetBooked { over_share: bool },
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hold::NoCapableDrone => write!(f, "no drone in service carries the sensor it needs"),
            Hold::BeyondReach {
                needed_s,
                longest_s,
            } => write!(
                f,
                "the flight needs {} min in the air, and the longest any capable drone can fly now is {} min",
                ceil_minutes(*needed_s),
                longest_s / 60
            ),
            Hold::WindowUnreachable {
                earliest_arrival_s,
                close_s,
            } => write!(
                f,
                "no capable drone can arrive before its window closes (earliest arrival {} s after the window)",
                earliest_arrival_s - close_s
            ),
            Hold::FleetBooked { over_share: true } => write!(
                f,
                "department over its quota this week: it has flown more than its share of the fleet's flight time over the last 7 days, and the capable drones are busy with other departments' work"
            ),
            Hold::FleetBooked { over_share: false } => write!(
                f,
                "every capable drone is booked in its window with work of higher priority"
            ),
        }
    }
}

fn ceil_minutes(seconds: i64) -> i64 {
    (seconds + 59) / 60
}

/// The outlook of every task in `plan`. `over_share[t]` says whether task
/// `t`'s department has used its share (see `fair_share`).
pub fn outlooks(problem: &Problem, plan: &Plan, over_share: &[bool]) -> Vec<Outlook> {
    let mut out: Vec<Option<Outlook>> = vec![None; problem.tasks().len()];
    for sortie in &plan.sorties {
        let dock = problem.drones()[sortie.drone].dock;
        let (mut clock, mut at) = (sortie.take_off_s, dock);
        for (position, &task) in sortie.tasks.iter().enumerate() {
            let node = problem.task_node(task);
            clock += problem.travel_s(at, node);
            clock = clock.max(i64::from(problem.tasks()[task].window_s.0));
            out[task] = Some(Outlook::Planned {
                drone: sortie.drone,
                position,
                take_off_s: sortie.take_off_s,
                arrival_s: clock,
            });
            clock += i64::from(problem.tasks()[task].service_s);
            at = node;
        }
    }
    for &task in &plan.unserved {
        let over = over_share.get(task).copied().unwrap_or(false);
        out[task] = Some(Outlook::Held(why_held(problem, task, over)));
    }
    out.into_iter()
        .map(|o| o.unwrap_or(Outlook::Held(Hold::FleetBooked { over_share: false })))
        .collect()
}

/// Tries the task alone on every capable drone: if no lone sortie can fly
/// it, that is the reason; otherwise the fleet is simply booked.
fn why_held(problem: &Problem, task: usize, over_share: bool) -> Hold {
    let capable: Vec<usize> = (0..problem.drones().len())
        .filter(|&d| problem.can_serve(d, task))
        .collect();
    if capable.is_empty() {
        return Hold::NoCapableDrone;
    }
    let node = problem.task_node(task);
    let close_s = i64::from(problem.tasks()[task].window_s.1);
    let mut shortest_needed = i64::MAX;
    let mut longest_reach = 0;
    let mut earliest_arrival = i64::MAX;
    for &drone in &capable {
        let dock = problem.drones()[drone].dock;
        let alone = Segment::take_off(problem, drone)
            .then(problem, &Segment::visit(problem, node))
            .then(problem, &Segment::visit(problem, dock));
        if alone.is_flyable_sortie(problem.max_sortie_s(drone)) {
            return Hold::FleetBooked { over_share };
        }
        let needed =
            problem.travel_s(dock, node) + problem.service_s(node) + problem.travel_s(node, dock);
        shortest_needed = shortest_needed.min(needed);
        longest_reach = longest_reach.max(problem.max_sortie_s(drone));
        earliest_arrival = earliest_arrival
            .min(i64::from(problem.drones()[drone].ready_at_s) + problem.travel_s(dock, node));
    }
    if shortest_needed > longest_reach {
        Hold::BeyondReach {
            needed_s: shortest_needed,
            longest_s: longest_reach,
        }
    } else {
        Hold::WindowUnreachable {
            earliest_arrival_s: earliest_arrival,
            close_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::problem::{Drone, Site, Task};
    use super::super::search::{solve, SearchLimits};
    use super::*;

    fn task(east_m: f64, window_s: (u32, u32), requires: u32) -> Task {
        Task {
            site: Site {
                east_m,
                north_m: 0.0,
            },
            service_s: 60,
            window_s,
            drop_penalty: 20_000,
            requires,
        }
    }

    #[test]
    fn each_held_task_names_the_rule_that_holds_it_and_planned_ones_their_arrival() {
        let problem = Problem::new(
            vec![Site {
                east_m: 0.0,
                north_m: 0.0,
            }],
            vec![Drone {
                carries: 0b01,
                ready_at_s: 300,
                ..Drone::at_dock(0)
            }],
            vec![
                task(1000.0, (0, 3600), 0),   // flown: 100 s out after take-off
                task(500.0, (0, 3600), 0b10), // needs a sensor nobody carries
                task(9000.0, (0, 3600), 0),   // 1860 s alone: beyond 1500 s
                task(1500.0, (0, 200), 0),    // the drone is busy until 300 s
            ],
            10.0,
            1500,
            5100,
        )
        .unwrap();
        let plan = solve(
            &problem,
            &SearchLimits {
                iterations: 100,
                ..SearchLimits::default()
            },
        )
        .plan;
        let outlooks = outlooks(&problem, &plan, &[false; 4]);
        match &outlooks[0] {
            Outlook::Planned {
                drone: 0,
                position: 0,
                take_off_s,
                arrival_s,
            } => assert_eq!(arrival_s - take_off_s, 100),
            other => panic!("task 0: {other:?}"),
        }
        assert_eq!(outlooks[1], Outlook::Held(Hold::NoCapableDrone));
        assert_eq!(
            outlooks[2],
            Outlook::Held(Hold::BeyondReach {
                needed_s: 1860,
                longest_s: 1500
            })
        );
        assert_eq!(
            outlooks[3],
            Outlook::Held(Hold::WindowUnreachable {
                earliest_arrival_s: 450,
                close_s: 200
            })
        );
        assert!(Hold::BeyondReach {
            needed_s: 1860,
            longest_s: 1500
        }
        .to_string()
        .contains("needs 31 min in the air"));
    }

    #[test]
    fn a_task_that_could_fly_alone_but_lost_its_place_is_booked_out_and_says_whose_share() {
        // Two tasks 4 km apart in the same instant; one drone.
        let mut clash = vec![task(2000.0, (600, 600), 0), task(-2000.0, (600, 600), 0)];
        clash[1].drop_penalty = 60_000;
        let problem = Problem::new(
            vec![Site {
                east_m: 0.0,
                north_m: 0.0,
            }],
            vec![Drone::at_dock(0)],
            clash,
            10.0,
            1500,
            5100,
        )
        .unwrap();
        let plan = solve(
            &problem,
            &SearchLimits {
                iterations: 100,
                ..SearchLimits::default()
            },
        )
        .plan;
        let outlooks = outlooks(&problem, &plan, &[true, false]);
        assert_eq!(
            outlooks[0],
            Outlook::Held(Hold::FleetBooked { over_share: true })
        );
        assert!(Hold::FleetBooked { over_share: true }
            .to_string()
            .contains("over its quota this week"));
    }
}
