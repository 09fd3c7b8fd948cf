//! Time-window segments: a summary of a stretch of a sortie that lets two
//! stretches be joined, and the result checked, in constant time.
//!
//! A segment records the least time its visits take (`duration`, waiting
//! included), how late it would run against its windows (`time_warp`, zero
//! when it can be flown as planned) and the span of start times that achieve
//! that least duration (`earliest`..=`latest`). Joining follows the
//! concatenation rules of Vidal et al. (2013) for time windows; with the
//! start free, a whole sortie's `duration` is its shortest take-off-to-
//! landing time, which is what the battery limits.

use super::problem::Problem;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub first: u16,
    pub last: u16,
    pub duration: i64,
    pub time_warp: i64,
    pub earliest: i64,
    pub latest: i64,
    pub distance: i64,
}

impl Segment {
    /// A single visit to `node`.
    #[inline]
    pub fn visit(problem: &Problem, node: usize) -> Segment {
        let (open, close) = problem.window_s(node);
        Segment {
            first: node as u16,
            last: node as u16,
            duration: problem.service_s(node),
            time_warp: 0,
            earliest: open,
            latest: close,
            distance: 0,
        }
    }

    /// Leaving `drone`'s dock, no earlier than the drone is ready.
    #[inline]
    pub fn take_off(problem: &Problem, drone: usize) -> Segment {
        let d = problem.drones()[drone];
        Segment {
            first: d.dock as u16,
            last: d.dock as u16,
            duration: 0,
            time_warp: 0,
            earliest: i64::from(d.ready_at_s),
            latest: problem.latest_landing_s(),
            distance: 0,
        }
    }

    /// `self` flown, then straight on to `next`.
    #[inline]
    pub fn then(&self, problem: &Problem, next: &Segment) -> Segment {
        let (from, to) = (self.last as usize, next.first as usize);
        let travel = problem.travel_s(from, to);
        let delta = self.duration - self.time_warp + travel;
        let wait = (next.earliest - delta - self.latest).max(0);
        let warp = (self.earliest + delta - next.latest).max(0);
        Segment {
            first: self.first,
            last: next.last,
            duration: self.duration + next.duration + travel + wait,
            time_warp: self.time_warp + next.time_warp + warp,
            earliest: (next.earliest - delta).max(self.earliest) - wait,
            latest: (next.latest - delta).min(self.latest) + warp,
            distance: self.distance + next.distance + problem.distance_m(from, to),
        }
    }

    /// Whether a whole sortie (dock to dock) summarised by `self` can be
    /// flown: every window met and no longer than the battery allows.
    #[inline]
    pub fn is_flyable_sortie(&self, max_sortie_s: i64) -> bool {
        self.time_warp == 0 && self.duration <= max_sortie_s
    }
}

#[cfg(test)]
mod tests {
    use super::super::problem::{Drone, Site, Task};
    use super::*;

    fn problem(tasks: Vec<Task>) -> Problem {
        Problem::new(
            vec![Site {
                east_m: 0.0,
                north_m: 0.0,
            }],
            vec![Drone::at_dock(0)],
            tasks,
            10.0,
            1500,
            5100,
        )
        .unwrap()
    }

    fn task(east_m: f64, window_s: (u32, u32)) -> Task {
        Task {
            site: Site {
                east_m,
                north_m: 0.0,
            },
            service_s: 20,
            window_s,
            drop_penalty: 20_000,
            requires: 0,
        }
    }

    /// Simulates the sortie second by second: start as late as possible
    /// while still meeting every window, and measure take-off to landing.
    fn brute_force_duration(problem: &Problem, route: &[usize]) -> Option<i64> {
        let mut best: Option<i64> = None;
        for departure in 0..=problem.latest_landing_s() {
            let mut clock = departure;
            let mut at = 0usize;
            let mut ok = true;
            for &node in route {
                clock += problem.travel_s(at, node);
                let (open, close) = problem.window_s(node);
                clock = clock.max(open);
                if clock > close {
                    ok = false;
                    break;
                }
                clock += problem.service_s(node);
                at = node;
            }
            clock += problem.travel_s(at, 0);
            if ok && clock <= problem.latest_landing_s() {
                let span = clock - departure;
                best = Some(best.map_or(span, |b: i64| b.min(span)));
            }
        }
        best
    }

    fn sortie(problem: &Problem, route: &[usize]) -> Segment {
        let mut segment = Segment::visit(problem, 0);
        for &node in route {
            segment = segment.then(problem, &Segment::visit(problem, node));
        }
        segment.then(problem, &Segment::visit(problem, 0))
    }

    #[test]
    fn joined_segments_give_the_shortest_feasible_sortie() {
        // Two visits whose windows force a wait between them.
        let p = problem(vec![task(1000.0, (100, 200)), task(2000.0, (400, 500))]);
        let segment = sortie(&p, &[1, 2]);
        assert_eq!(segment.time_warp, 0);
        assert_eq!(Some(segment.duration), brute_force_duration(&p, &[1, 2]));
        assert_eq!(segment.distance, 4000);
    }

    #[test]
    fn a_window_that_cannot_be_met_shows_as_time_warp() {
        // The second window closes before the drone can get there.
        let p = problem(vec![task(1000.0, (100, 120)), task(3000.0, (0, 150))]);
        let segment = sortie(&p, &[1, 2]);
        assert!(segment.time_warp > 0);
        assert_eq!(brute_force_duration(&p, &[1, 2]), None);
    }

    #[test]
    fn joining_is_associative() {
        let p = problem(vec![
            task(500.0, (0, 900)),
            task(1500.0, (300, 700)),
            task(800.0, (1000, 1600)),
        ]);
        let v = |n| Segment::visit(&p, n);
        let left = v(0).then(&p, &v(1)).then(&p, &v(2)).then(&p, &v(3));
        let right = v(0).then(&p, &v(1).then(&p, &v(2).then(&p, &v(3))));
        assert_eq!(left, right);
    }

    #[test]
    fn agrees_with_brute_force_on_random_sorties() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(11);
        for _ in 0..60 {
            let tasks: Vec<Task> = (0..4)
                .map(|_| {
                    let open = rng.random_range(0..1500);
                    task(
                        rng.random_range(-3000.0..3000.0),
                        (open, open + rng.random_range(0..600)),
                    )
                })
                .collect();
            let p = problem(tasks);
            let route = [1, 2, 3, 4];
            let segment = sortie(&p, &route);
            let brute = brute_force_duration(&p, &route);
            if segment.time_warp == 0 {
                assert_eq!(Some(segment.duration), brute);
            } else {
                assert_eq!(brute, None);
            }
        }
    }
}
