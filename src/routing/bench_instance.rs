//! The shared dispatch benchmark's instance file (written by
//! `dispatch_instance.py` beside the OR-Tools peer), read into a
//! [`Problem`], and a generator of larger instances of the same kind for
//! measuring how planning time grows.

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::Deserialize;

use super::problem::{Drone, Problem, ProblemError, Site, Task};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceFile {
    pub speed_mps: f64,
    pub horizon_s: u32,
    pub max_sortie_s: u32,
    pub docks: Vec<[f64; 2]>,
    pub drones: Vec<InstanceDrone>,
    pub tasks: Vec<InstanceTask>,
    pub drop_penalty_m_per_priority: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceDrone {
    pub id: usize,
    pub dock: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceTask {
    pub x: f64,
    pub y: f64,
    pub service_s: u32,
    pub tw: [u32; 2],
    pub priority: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("instance file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("instance file describes an impossible problem: {0}")]
    Problem(#[from] ProblemError),
}

impl InstanceFile {
    pub fn parse(text: &str) -> Result<InstanceFile, InstanceError> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        Ok(serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            serde_json::Error::io(std::io::Error::other(format!("at {path}: {inner}")))
        })?)
    }

    /// The routing problem as the peer models it: a sortie may land as late
    /// as the horizon plus one sortie, and a dropped task costs its priority
    /// times the per-priority penalty.
    pub fn problem(&self) -> Result<Problem, InstanceError> {
        let docks = self
            .docks
            .iter()
            .map(|&[east_m, north_m]| Site { east_m, north_m })
            .collect();
        let drones = self.drones.iter().map(|d| Drone::at_dock(d.dock)).collect();
        let tasks = self
            .tasks
            .iter()
            .map(|t| Task {
                site: Site {
                    east_m: t.x,
                    north_m: t.y,
                },
                service_s: t.service_s,
                window_s: (t.tw[0], t.tw[1]),
                drop_penalty: i64::from(t.priority) * self.drop_penalty_m_per_priority,
                requires: 0,
            })
            .collect();
        Ok(Problem::new(
            docks,
            drones,
            tasks,
            self.speed_mps,
            self.max_sortie_s,
            self.horizon_s + self.max_sortie_s,
        )?)
    }

    /// An instance like the benchmark's, grown to `tasks` tasks and
    /// `drones` drones at the same density: the area grows with the task
    /// count, five drones share each dock, docks sit on a grid.
    pub fn generate(tasks: usize, drones: usize, seed: u64) -> InstanceFile {
        let mut rng = StdRng::seed_from_u64(seed);
        let side_m = 10_000.0 * (tasks as f64 / 200.0).sqrt();
        let dock_count = drones.div_ceil(5).max(1);
        let columns = (dock_count as f64).sqrt().ceil() as usize;
        let rows = dock_count.div_ceil(columns);
        let docks = (0..dock_count)
            .map(|d| {
                let (column, row) = (d % columns, d / columns);
                [
                    side_m * (column as f64 + 0.5) / columns as f64,
                    side_m * (row as f64 + 0.5) / rows as f64,
                ]
            })
            .collect();
        let tasks = (0..tasks)
            .map(|_| {
                let open = rng.random_range(0.0..3000.0f64);
                let width = rng.random_range(600.0..1800.0f64);
                InstanceTask {
                    x: (rng.random_range(0.0..side_m) * 10.0f64).round() / 10.0,
                    y: (rng.random_range(0.0..side_m) * 10.0f64).round() / 10.0,
                    service_s: rng.random_range(20..=60),
                    tw: [open as u32, (open + width).min(3600.0) as u32],
                    priority: rng.random_range(1..=3),
                }
            })
            .collect();
        InstanceFile {
            speed_mps: 10.0,
            horizon_s: 3600,
            max_sortie_s: 1500,
            docks,
            drones: (0..drones)
                .map(|id| InstanceDrone { id, dock: id / 5 })
                .collect(),
            tasks,
            drop_penalty_m_per_priority: 20_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_benchmark_format_and_counts_penalties_by_priority() {
        let text = r#"{"speed_mps": 10.0, "horizon_s": 3600, "max_sortie_s": 1500,
            "docks": [[2500, 2500], [7500, 2500]],
            "drones": [{"id": 0, "dock": 0}, {"id": 1, "dock": 1}],
            "tasks": [{"x": 100.5, "y": 200.0, "service_s": 30, "tw": [60, 900], "priority": 3}],
            "drop_penalty_m_per_priority": 20000}"#;
        let problem = InstanceFile::parse(text).unwrap().problem().unwrap();
        assert_eq!(problem.tasks()[0].drop_penalty, 60_000);
        assert_eq!(problem.latest_landing_s(), 5100);
        assert_eq!(problem.drones()[1].dock, 1);
    }

    #[test]
    fn a_malformed_instance_names_the_field_that_is_wrong() {
        let text = r#"{"speed_mps": 10.0, "horizon_s": 3600, "max_sortie_s": 1500,
            "docks": [[0, 0]], "drones": [{"id": 0, "dock": 0}],
            "tasks": [{"x": 1, "y": 2, "service_s": 30, "tw": [60], "priority": 1}],
            "drop_penalty_m_per_priority": 20000}"#;
        let error = InstanceFile::parse(text).unwrap_err().to_string();
        assert!(error.contains("tasks[0].tw"), "{error}");
    }

    #[test]
    fn an_instance_with_a_drone_on_a_missing_dock_is_refused() {
        let text = r#"{"speed_mps": 10.0, "horizon_s": 3600, "max_sortie_s": 1500,
            "docks": [[0, 0]], "drones": [{"id": 0, "dock": 4}], "tasks": [],
            "drop_penalty_m_per_priority": 20000}"#;
        let error = InstanceFile::parse(text)
            .unwrap()
            .problem()
            .unwrap_err()
            .to_string();
        assert!(error.contains("dock 4"), "{error}");
    }

    #[test]
    fn generated_instances_grow_at_the_same_density() {
        let small = InstanceFile::generate(200, 20, 1);
        let large = InstanceFile::generate(2000, 200, 1);
        assert_eq!(small.tasks.len(), 200);
        assert_eq!(large.drones.len(), 200);
        assert_eq!(large.docks.len(), 40);
        let max_x = |i: &InstanceFile| i.tasks.iter().map(|t| t.x).fold(0.0, f64::max);
        assert!(max_x(&large) > 3.0 * max_x(&small));
        assert!(large.tasks.iter().all(|t| t.tw[0] <= t.tw[1]));
    }
}
