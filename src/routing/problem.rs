//! The routing problem: docks, drones, tasks, and the distance and travel
//! time between every pair of places, precomputed once.

use thiserror::Error;

/// A place on the local plane, metres east and north of the region's origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    pub east_m: f64,
    pub north_m: f64,
}

impl Site {
    pub fn distance_m(self, other: Site) -> f64 {
        (self.east_m - other.east_m).hypot(self.north_m - other.north_m)
    }
}

/// One visit: fly to `site`, arrive within `window_s`, stay `service_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub site: Site,
    pub service_s: u32,
    /// Earliest and latest arrival, seconds from the plan's epoch.
    pub window_s: (u32, u32),
    /// What leaving the task unserved costs, in the objective's metres.
    pub drop_penalty: i64,
    /// Capabilities (payloads) the drone must carry, as [`Capabilities`].
    pub requires: Capabilities,
}

/// A set of capabilities, one bit each (a payload such as a thermal
/// camera). The caller decides what each bit means.
pub type Capabilities = u32;

/// A drone: where its one sortie starts and ends, what it carries, and
/// when and for how long it can fly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drone {
    pub dock: usize,
    pub carries: Capabilities,
    /// The longest sortie its battery allows now; `None`: the fleet's.
    pub max_sortie_s: Option<u32>,
    /// Earliest take-off: now for a drone on its dock, later for one still
    /// flying or charging.
    pub ready_at_s: u32,
}

impl Drone {
    /// A drone on `dock` that carries everything, is ready at the epoch and
    /// has a full battery.
    pub fn at_dock(dock: usize) -> Drone {
        Drone {
            dock,
            carries: Capabilities::MAX,
            max_sortie_s: None,
            ready_at_s: 0,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum ProblemError {
    #[error("drone {drone} starts from dock {dock}, but there are only {docks} docks")]
    UnknownDock {
        drone: usize,
        dock: usize,
        docks: usize,
    },
    #[error("task {task}: window opens at {open} s, after it closes at {close} s")]
    InvertedWindow { task: usize, open: u32, close: u32 },
    #[error("task {task}: position is not a finite number")]
    NonFiniteSite { task: usize },
    #[error("dock {dock}: position is not a finite number")]
    NonFiniteDock { dock: usize },
    #[error("speed must be a positive number of metres per second, got {0}")]
    BadSpeed(f64),
    #[error("task {task}: drop penalty must not be negative, got {penalty}")]
    NegativePenalty { task: usize, penalty: i64 },
    #[error("{0} places is more than this planner indexes (at most 65,535)")]
    TooLarge(usize),
}

/// An immutable, validated problem with its distance and travel-time
/// matrices. Node `i < docks` is dock `i`; node `docks + k` is task `k`.
#[derive(Debug, Clone)]
pub struct Problem {
    docks: Vec<Site>,
    tasks: Vec<Task>,
    drones: Vec<Drone>,
    max_sortie_s: i64,
    /// No sortie may land later than this (seconds from the epoch).
    latest_landing_s: i64,
    nodes: usize,
    distance_m: Vec<i64>,
    travel_s: Vec<i64>,
}

impl Problem {
    /// Distances are rounded to whole metres and travel times rounded up to
    /// whole seconds, as the OR-Tools peer does, so objectives compare
    /// exactly.
    pub fn new(
        docks: Vec<Site>,
        drones: Vec<Drone>,
        tasks: Vec<Task>,
        speed_mps: f64,
        max_sortie_s: u32,
        latest_landing_s: u32,
    ) -> Result<Problem, ProblemError> {
        if !(speed_mps.is_finite() && speed_mps > 0.0) {
            return Err(ProblemError::BadSpeed(speed_mps));
        }
        for (dock, site) in docks.iter().enumerate() {
            if !(site.east_m.is_finite() && site.north_m.is_finite()) {
                return Err(ProblemError::NonFiniteDock { dock });
            }
        }
        for (drone, d) in drones.iter().enumerate() {
            if d.dock >= docks.len() {
                return Err(ProblemError::UnknownDock {
                    drone,
                    dock: d.dock,
                    docks: docks.len(),
                });
            }
        }
        for (task, t) in tasks.iter().enumerate() {
            if !(t.site.east_m.is_finite() && t.site.north_m.is_finite()) {
                return Err(ProblemError::NonFiniteSite { task });
            }
            if t.window_s.0 > t.window_s.1 {
                return Err(ProblemError::InvertedWindow {
                    task,
                    open: t.window_s.0,
                    close: t.window_s.1,
                });
            }
            if t.drop_penalty < 0 {
                return Err(ProblemError::NegativePenalty {
                    task,
                    penalty: t.drop_penalty,
                });
            }
        }
        let nodes = docks.len() + tasks.len();
        if nodes > u16::MAX as usize {
            return Err(ProblemError::TooLarge(nodes));
        }
        let sites: Vec<Site> = docks
            .iter()
            .copied()
            .chain(tasks.iter().map(|t| t.site))
            .collect();
        let mut distance_m = vec![0; nodes * nodes];
        let mut travel_s = vec![0; nodes * nodes];
        for (i, a) in sites.iter().enumerate() {
            for (j, b) in sites.iter().enumerate() {
                let metres = a.distance_m(*b).round() as i64;
                distance_m[i * nodes + j] = metres;
                travel_s[i * nodes + j] = (metres as f64 / speed_mps).ceil() as i64;
            }
        }
        Ok(Problem {
            docks,
            tasks,
            drones,
            max_sortie_s: i64::from(max_sortie_s),
            latest_landing_s: i64::from(latest_landing_s),
            nodes,
            distance_m,
            travel_s,
        })
    }

    pub fn docks(&self) -> &[Site] {
        &self.docks
    }
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }
    pub fn drones(&self) -> &[Drone] {
        &self.drones
    }
    /// The longest sortie `drone` can fly.
    pub fn max_sortie_s(&self, drone: usize) -> i64 {
        self.drones[drone]
            .max_sortie_s
            .map_or(self.max_sortie_s, i64::from)
    }
    /// Whether `drone` carries everything `task` requires.
    #[inline]
    pub fn can_serve(&self, drone: usize, task: usize) -> bool {
        let requires = self.tasks[task].requires;
        self.drones[drone].carries & requires == requires
    }
    pub fn latest_landing_s(&self) -> i64 {
        self.latest_landing_s
    }
    /// Node index of task `k`.
    pub fn task_node(&self, task: usize) -> usize {
        self.docks.len() + task
    }
    /// Task index of node `node`, which must be a task node.
    pub fn node_task(&self, node: usize) -> usize {
        node - self.docks.len()
    }
    pub fn is_dock(&self, node: usize) -> bool {
        node < self.docks.len()
    }
    pub fn node_count(&self) -> usize {
        self.nodes
    }
    #[inline]
    pub fn distance_m(&self, from: usize, to: usize) -> i64 {
        self.distance_m[from * self.nodes + to]
    }
    #[inline]
    pub fn travel_s(&self, from: usize, to: usize) -> i64 {
        self.travel_s[from * self.nodes + to]
    }
    /// Time spent at a node: a task's hover; nothing at a dock.
    #[inline]
    pub fn service_s(&self, node: usize) -> i64 {
        if self.is_dock(node) {
            0
        } else {
            i64::from(self.tasks[self.node_task(node)].service_s)
        }
    }
    /// Earliest and latest arrival at a node. A dock's is the whole day up
    /// to the latest landing.
    #[inline]
    pub fn window_s(&self, node: usize) -> (i64, i64) {
        if self.is_dock(node) {
            (0, self.latest_landing_s)
        } else {
            let (open, close) = self.tasks[self.node_task(node)].window_s;
            (i64::from(open), i64::from(close))
        }
    }
    pub fn drop_penalty(&self, task: usize) -> i64 {
        self.tasks[task].drop_penalty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(east_m: f64, north_m: f64) -> Site {
        Site { east_m, north_m }
    }

    fn task(east_m: f64, north_m: f64) -> Task {
        Task {
            site: site(east_m, north_m),
            service_s: 30,
            window_s: (0, 3600),
            drop_penalty: 20_000,
            requires: 0,
        }
    }

    #[test]
    fn travel_time_rounds_distance_then_rounds_up_to_whole_seconds() {
        let problem = Problem::new(
            vec![site(0.0, 0.0)],
            vec![Drone::at_dock(0)],
            vec![task(30.4, 0.0), task(0.0, 30.6)],
            10.0,
            1500,
            5100,
        )
        .unwrap();
        assert_eq!(problem.distance_m(0, 1), 30);
        assert_eq!(problem.travel_s(0, 1), 3);
        assert_eq!(problem.distance_m(0, 2), 31);
        assert_eq!(problem.travel_s(0, 2), 4);
        assert_eq!(problem.service_s(1), 30);
        assert_eq!(problem.service_s(0), 0);
    }

    #[test]
    fn refuses_a_drone_on_a_dock_that_does_not_exist() {
        let error = Problem::new(
            vec![site(0.0, 0.0)],
            vec![Drone::at_dock(3)],
            vec![],
            10.0,
            1500,
            5100,
        )
        .unwrap_err();
        assert_eq!(
            error,
            ProblemError::UnknownDock {
                drone: 0,
                dock: 3,
                docks: 1
            }
        );
    }

    #[test]
    fn refuses_a_window_that_closes_before_it_opens() {
        let mut bad = task(1.0, 1.0);
        bad.window_s = (600, 300);
        let error = Problem::new(
            vec![site(0.0, 0.0)],
            vec![Drone::at_dock(0)],
            vec![bad],
            10.0,
            1500,
            5100,
        )
        .unwrap_err();
        assert!(error.to_string().contains("task 0"), "{error}");
    }
}
