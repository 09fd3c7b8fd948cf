//! A plan: each drone's sortie as an ordered list of tasks, and what it
//! costs. Evaluated from scratch here, independently of the search's
//! incremental bookkeeping, so the search can be checked against it.

use super::problem::Problem;
use super::segment::Segment;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sortie {
    pub drone: usize,
    /// Task indices in the order flown.
    pub tasks: Vec<usize>,
    /// Take-off and landing, seconds from the epoch: the earliest take-off
    /// that needs no waiting in the air (the shortest time aloft).
    pub take_off_s: i64,
    pub landing_s: i64,
    pub distance_m: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One per drone that flies; drones with nothing to do are left out.
    pub sorties: Vec<Sortie>,
    /// Tasks no sortie serves, by index.
    pub unserved: Vec<usize>,
}

/// Why a plan cannot be flown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("drone {drone}'s sortie misses a time window by {late_s} s in total")]
    MissesWindow { drone: usize, late_s: i64 },
    #[error(
        "drone {drone}'s sortie lasts {duration_s} s, longer than the {limit_s} s a battery allows"
    )]
    TooLong {
        drone: usize,
        duration_s: i64,
        limit_s: i64,
    },
    #[error("task {0} is served more than once or both served and unserved")]
    Duplicated(usize),
    #[error("task {0} is neither served nor listed as unserved")]
    Missing(usize),
    #[error("drone {0} flies more than one sortie")]
    DroneTwice(usize),
    #[error("drone {drone} does not carry what task {task} requires")]
    Incapable { drone: usize, task: usize },
    #[error("drone {drone}'s sortie, flown from its take-off at {take_off_s} s, {problem}")]
    Replay {
        drone: usize,
        take_off_s: i64,
        problem: String,
    },
}

impl Plan {
    pub fn distance_m(&self) -> i64 {
        self.sorties.iter().map(|s| s.distance_m).sum()
    }

    pub fn penalty(&self, problem: &Problem) -> i64 {
        self.unserved.iter().map(|&t| problem.drop_penalty(t)).sum()
    }

    /// Metres flown plus the penalties of unserved tasks.
    pub fn objective(&self, problem: &Problem) -> i64 {
        self.distance_m() + self.penalty(problem)
    }

    pub fn served(&self) -> usize {
        self.sorties.iter().map(|s| s.tasks.len()).sum()
    }

    /// Re-derive every sortie's feasibility and check that each task is
    /// accounted for exactly once.
    pub fn verify(&self, problem: &Problem) -> Result<(), PlanError> {
        let mut seen = vec![false; problem.tasks().len()];
        let mut flying = vec![false; problem.drones().len()];
        for sortie in &self.sorties {
            if std::mem::replace(&mut flying[sortie.drone], true) {
                return Err(PlanError::DroneTwice(sortie.drone));
            }
            let segment = sortie_segment(problem, sortie.drone, &sortie.tasks);
            if segment.time_warp > 0 {
                return Err(PlanError::MissesWindow {
                    drone: sortie.drone,
                    late_s: segment.time_warp,
                });
            }
            if segment.duration > problem.max_sortie_s(sortie.drone) {
                return Err(PlanError::TooLong {
                    drone: sortie.drone,
                    duration_s: segment.duration,
                    limit_s: problem.max_sortie_s(sortie.drone),
                });
            }
            if let Some(&task) = sortie
                .tasks
                .iter()
                .find(|&&t| !problem.can_serve(sortie.drone, t))
            {
                return Err(PlanError::Incapable {
                    drone: sortie.drone,
                    task,
                });
            }
            replay(problem, sortie)?;
            for &task in &sortie.tasks {
                if std::mem::replace(&mut seen[task], true) {
                    return Err(PlanError::Duplicated(task));
                }
            }
        }
        for &task in &self.unserved {
            if std::mem::replace(&mut seen[task], true) {
                return Err(PlanError::Duplicated(task));
            }
        }
        match seen.iter().position(|&s| !s) {
            Some(task) => Err(PlanError::Missing(task)),
            None => Ok(()),
        }
    }
}

/// Fly the sortie second by second from its recorded take-off, waiting
/// where a window has not opened yet: a check that shares nothing with the
/// segment arithmetic the search relies on.
fn replay(problem: &Problem, sortie: &Sortie) -> Result<(), PlanError> {
    let fail = |what: String| PlanError::Replay {
        drone: sortie.drone,
        take_off_s: sortie.take_off_s,
        problem: what,
    };
    let dock = problem.drones()[sortie.drone].dock;
    let (mut clock, mut at, mut metres) = (sortie.take_off_s, dock, 0);
    let ready = i64::from(problem.drones()[sortie.drone].ready_at_s);
    if clock < ready {
        return Err(fail(format!(
            "takes off before the drone is ready at {ready} s"
        )));
    }
    for &task in &sortie.tasks {
        let node = problem.task_node(task);
        clock += problem.travel_s(at, node);
        metres += problem.distance_m(at, node);
        let (open, close) = problem.tasks()[task].window_s;
        clock = clock.max(i64::from(open));
        if clock > i64::from(close) {
            return Err(fail(format!(
                "reaches task {task} at {clock} s, after its window closes at {close} s"
            )));
        }
        clock += i64::from(problem.tasks()[task].service_s);
        at = node;
    }
    clock += problem.travel_s(at, dock);
    metres += problem.distance_m(at, dock);
    if clock != sortie.landing_s || metres != sortie.distance_m {
        return Err(fail(format!(
            "lands at {clock} s after {metres} m, not at {} s after {} m as recorded",
            sortie.landing_s, sortie.distance_m
        )));
    }
    if clock - sortie.take_off_s > problem.max_sortie_s(sortie.drone) {
        return Err(fail(format!(
            "is {} s in the air, more than the {} s its battery allows",
            clock - sortie.take_off_s,
            problem.max_sortie_s(sortie.drone)
        )));
    }
    if clock > problem.latest_landing_s() {
        return Err(fail(format!(
            "lands at {clock} s, after the latest landing at {} s",
            problem.latest_landing_s()
        )));
    }
    Ok(())
}

/// The segment of a whole sortie: dock, the tasks in order, dock.
pub fn sortie_segment(problem: &Problem, drone: usize, tasks: &[usize]) -> Segment {
    let dock = problem.drones()[drone].dock;
    let mut segment = Segment::take_off(problem, drone);
    for &task in tasks {
        segment = segment.then(problem, &Segment::visit(problem, problem.task_node(task)));
    }
    segment.then(problem, &Segment::visit(problem, dock))
}

/// Build the sortie record for `drone` flying `tasks` (which must be
/// flyable), taking off as early as it can without waiting in the air.
pub fn sortie(problem: &Problem, drone: usize, tasks: Vec<usize>) -> Sortie {
    let segment = sortie_segment(problem, drone, &tasks);
    Sortie {
        drone,
        take_off_s: segment.earliest,
        landing_s: segment.earliest + segment.duration,
        distance_m: segment.distance,
        tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::super::problem::{Drone, Site, Task};
    use super::*;

    fn problem() -> Problem {
        let task = |east_m: f64, window_s| Task {
            site: Site {
                east_m,
                north_m: 0.0,
            },
            service_s: 30,
            window_s,
            drop_penalty: 20_000,
            requires: 0,
        };
        Problem::new(
            vec![Site {
                east_m: 0.0,
                north_m: 0.0,
            }],
            vec![Drone::at_dock(0), Drone::at_dock(0)],
            vec![task(1000.0, (600, 700)), task(2000.0, (0, 3600))],
            10.0,
            1500,
            5100,
        )
        .unwrap()
    }

    #[test]
    fn a_sortie_takes_off_just_in_time_for_its_first_window() {
        let p = problem();
        let s = sortie(&p, 0, vec![0, 1]);
        // 100 s to the first task, whose window opens at 600 s.
        assert_eq!(s.take_off_s, 500);
        assert_eq!(s.landing_s, 500 + 100 + 30 + 100 + 30 + 200);
        let plan = Plan {
            sorties: vec![s],
            unserved: vec![],
        };
        assert_eq!(plan.verify(&p), Ok(()));
        assert_eq!(plan.objective(&p), 4000);
    }

    #[test]
    fn verify_refuses_a_sortie_that_takes_off_too_late_for_a_window() {
        let p = problem();
        let mut s = sortie(&p, 0, vec![0, 1]);
        s.take_off_s += 300;
        s.landing_s += 300;
        let plan = Plan {
            sorties: vec![s],
            unserved: vec![],
        };
        let error = plan.verify(&p).unwrap_err().to_string();
        assert!(error.contains("after its window closes"), "{error}");
    }

    #[test]
    fn verify_refuses_a_task_counted_twice_or_forgotten() {
        let p = problem();
        let twice = Plan {
            sorties: vec![sortie(&p, 0, vec![0, 1])],
            unserved: vec![1],
        };
        assert_eq!(twice.verify(&p), Err(PlanError::Duplicated(1)));
        let forgotten = Plan {
            sorties: vec![sortie(&p, 0, vec![0])],
            unserved: vec![],
        };
        assert_eq!(forgotten.verify(&p), Err(PlanError::Missing(1)));
        let one_drone_twice = Plan {
            sorties: vec![sortie(&p, 1, vec![0]), sortie(&p, 1, vec![1])],
            unserved: vec![],
        };
        assert_eq!(one_drone_twice.verify(&p), Err(PlanError::DroneTwice(1)));
    }
}
