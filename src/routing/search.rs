//! Ruin and recreate with simulated annealing.
//!
//! Each iteration removes a few strings of neighbouring tasks from nearby
//! sorties (the ruin), reinserts every removed task, and the unserved ones
//! met on the way, at its cheapest flyable place (the recreate), and accepts
//! the result by the annealing rule. Strings of neighbours are what make
//! room: removing tasks that are close in space frees time in the sorties
//! around them, so a task that did not fit may now.
//!
//! Sorties keep prefix and suffix [`Segment`]s so an insertion is checked in
//! constant time; a rejected iteration restores the few sorties it touched.

use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, SeedableRng};

use super::problem::Problem;
use super::segment::Segment;
use super::solution::{self, Plan};

/// When to stop, and how to search. Both limits apply; the first reached
/// ends the search.
#[derive(Debug, Clone)]
pub struct SearchLimits {
    pub time: Duration,
    pub iterations: u64,
    pub seed: u64,
    /// Annealing temperature at the start and at the end, in metres of
    /// objective: how much worse a plan may be and still be accepted.
    pub start_temperature: f64,
    pub end_temperature: f64,
    /// Stop as soon as the best plan's objective is at most this.
    pub target_objective: Option<i64>,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            time: Duration::from_secs(1),
            iterations: u64::MAX,
            seed: 1,
            start_temperature: 1_000.0,
            end_temperature: 10.0,
            target_objective: None,
        }
    }
}

/// What the search found and how it got there.
#[derive(Debug, Clone)]
pub struct SearchReport {
    pub plan: Plan,
    pub objective: i64,
    pub iterations: u64,
    pub elapsed: Duration,
    /// Every improvement of the best plan: when, and its objective.
    pub improvements: Vec<(Duration, i64)>,
}

impl SearchReport {
    /// How long the search took to first reach `objective` or better.
    pub fn time_to_reach(&self, objective: i64) -> Option<Duration> {
        self.improvements
            .iter()
            .find(|(_, found)| *found <= objective)
            .map(|(at, _)| *at)
    }
}

/// Plan the problem within `limits`. Deterministic for a seed and an
/// iteration limit; with only a time limit, the result depends on speed.
pub fn solve(problem: &Problem, limits: &SearchLimits) -> SearchReport {
    let started = Instant::now();
    let mut search = Search::new(problem, limits.seed);
    let all: Vec<usize> = (0..problem.tasks().len()).collect();
    search.recreate(all);
    let mut best = search.snapshot();
    let mut best_cost = search.cost;
    let mut improvements = vec![(started.elapsed(), best_cost)];
    let mut iterations = 0u64;
    let ratio = limits.end_temperature / limits.start_temperature;
    while iterations < limits.iterations
        && limits
            .target_objective
            .is_none_or(|target| best_cost > target)
    {
        // Reading the clock every iteration costs little next to one
        // iteration's insertions.
        let elapsed = started.elapsed();
        if elapsed >= limits.time {
            break;
        }
        // With an iteration limit the schedule follows iterations alone, so
        // that a seed gives the same plan however fast the machine is.
        let progress = if limits.iterations == u64::MAX {
            elapsed.as_secs_f64() / limits.time.as_secs_f64()
        } else {
            iterations as f64 / limits.iterations as f64
        };
        let temperature = limits.start_temperature * ratio.powf(progress);
        iterations += 1;

        let before = search.cost;
        search.begin();
        let removed = search.ruin();
        search.recreate(removed);
        let threshold = before as f64 - temperature * search.rng.random::<f64>().ln();
        if (search.cost as f64) < threshold {
            search.commit();
            if search.cost < best_cost {
                best_cost = search.cost;
                best = search.snapshot();
                improvements.push((started.elapsed(), best_cost));
            }
        } else {
            search.rollback(before);
        }
    }
    let plan = best.into_plan(problem);
    debug_assert_eq!(plan.verify(problem), Ok(()));
    debug_assert_eq!(plan.objective(problem), best_cost);
    SearchReport {
        objective: best_cost,
        plan,
        iterations,
        elapsed: started.elapsed(),
        improvements,
    }
}

/// Average number of tasks removed per iteration, and the longest string.
const MEAN_REMOVED: f64 = 10.0;
const MAX_STRING: f64 = 10.0;
/// Chance of skipping a position during insertion: a little noise that
/// lets the recreate find orders a strictly greedy one never would.
const BLINK_RATE: f64 = 0.01;
/// How many nearest tasks each task keeps as neighbours.
const NEIGHBOURS: usize = 100;
const UNASSIGNED: u32 = u32::MAX;
const UNSERVED_SEED_RATE: f64 = 0.5;
/// Fleets up to this many drones try every sortie for every insertion.
const ALL_ROUTES_UP_TO: usize = 32;
/// Otherwise, the sorties of this many nearest tasks are tried...
const INSERTION_NEIGHBOURS: usize = 40;
/// ...and empty sorties from this many nearest docks.
const NEAREST_DOCKS: usize = 3;

#[derive(Clone)]
struct Route {
    drone: usize,
    dock: usize,
    nodes: Vec<u16>,
    /// `prefix[i]`: dock then `nodes[..i]`. `suffix[i]`: `nodes[i..]` then dock.
    prefix: Vec<Segment>,
    suffix: Vec<Segment>,
    /// Metres flown, dock to dock; an empty sortie is not flown.
    distance: i64,
    max_sortie_s: i64,
}

impl Route {
    fn new(problem: &Problem, drone: usize) -> Route {
        let dock = problem.drones()[drone].dock;
        let mut route = Route {
            drone,
            dock,
            nodes: Vec::new(),
            prefix: Vec::new(),
            suffix: Vec::new(),
            distance: 0,
            max_sortie_s: problem.max_sortie_s(drone),
        };
        route.refresh(problem);
        route
    }

    fn refresh(&mut self, problem: &Problem) {
        let dock = Segment::visit(problem, self.dock);
        self.prefix.clear();
        self.prefix.push(Segment::take_off(problem, self.drone));
        for &node in &self.nodes {
            let last = self.prefix[self.prefix.len() - 1];
            self.prefix
                .push(last.then(problem, &Segment::visit(problem, node as usize)));
        }
        self.suffix.clear();
        self.suffix.resize(self.nodes.len() + 1, dock);
        for i in (0..self.nodes.len()).rev() {
            self.suffix[i] =
                Segment::visit(problem, self.nodes[i] as usize).then(problem, &self.suffix[i + 1]);
        }
        self.distance = self.prefix[0].then(problem, &self.suffix[0]).distance;
    }

    fn distance(&self) -> i64 {
        self.distance
    }

    fn node_before(&self, position: usize) -> usize {
        if position == 0 {
            self.dock
        } else {
            self.nodes[position - 1] as usize
        }
    }

    fn node_at(&self, position: usize) -> usize {
        self.nodes.get(position).map_or(self.dock, |&n| n as usize)
    }
}

struct Search<'p> {
    problem: &'p Problem,
    rng: StdRng,
    routes: Vec<Route>,
    route_of: Vec<u32>,
    cost: i64,
    neighbours: Vec<Vec<u16>>,
    /// Routes changed in this iteration, with their state before it.
    journal: Vec<Route>,
    touched: Vec<bool>,
    nearest_docks: Vec<Vec<usize>>,
    routes_by_dock: Vec<Vec<usize>>,
    /// Scratch space for [`Search::candidate_routes`].
    candidates: Vec<usize>,
    marks: Vec<u32>,
    stamp: u32,
    empty_dock_tried: Vec<bool>,
}

struct Snapshot {
    routes: Vec<(usize, Vec<u16>)>,
}

impl Snapshot {
    fn into_plan(self, problem: &Problem) -> Plan {
        let mut served = vec![false; problem.tasks().len()];
        let mut sorties = Vec::new();
        for (drone, nodes) in self.routes {
            if nodes.is_empty() {
                continue;
            }
            let tasks: Vec<usize> = nodes
                .iter()
                .map(|&n| problem.node_task(n as usize))
                .collect();
            for &t in &tasks {
                served[t] = true;
            }
            sorties.push(solution::sortie(problem, drone, tasks));
        }
        let unserved = (0..served.len()).filter(|&t| !served[t]).collect();
        Plan { sorties, unserved }
    }
}

impl<'p> Search<'p> {
    fn new(problem: &'p Problem, seed: u64) -> Search<'p> {
        let routes: Vec<Route> = (0..problem.drones().len())
            .map(|drone| Route::new(problem, drone))
            .collect();
        let tasks = problem.tasks().len();
        let neighbours = (0..tasks)
            .map(|t| {
                let node = problem.task_node(t);
                let mut others: Vec<u16> = (0..tasks)
                    .filter(|&o| o != t)
                    .map(|o| problem.task_node(o) as u16)
                    .collect();
                others.sort_by_key(|&o| problem.distance_m(node, o as usize));
                others.truncate(NEIGHBOURS);
                others
            })
            .collect();
        let penalty: i64 = (0..tasks).map(|t| problem.drop_penalty(t)).sum();
        let docks = problem.docks().len();
        let nearest_docks = (0..tasks)
            .map(|t| {
                let mut order: Vec<usize> = (0..docks).collect();
                order.sort_by_key(|&d| problem.distance_m(d, problem.task_node(t)));
                order.truncate(NEAREST_DOCKS);
                order
            })
            .collect();
        let mut routes_by_dock = vec![Vec::new(); docks];
        for (index, route) in routes.iter().enumerate() {
            routes_by_dock[route.dock].push(index);
        }
        Search {
            nearest_docks,
            routes_by_dock,
            candidates: Vec::new(),
            marks: vec![0; routes.len()],
            stamp: 0,
            empty_dock_tried: vec![false; docks],
            problem,
            rng: StdRng::seed_from_u64(seed),
            touched: vec![false; routes.len()],
            routes,
            route_of: vec![UNASSIGNED; tasks],
            cost: penalty,
            neighbours,
            journal: Vec::new(),
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            routes: self
                .routes
                .iter()
                .map(|r| (r.drone, r.nodes.clone()))
                .collect(),
        }
    }

    fn begin(&mut self) {
        self.journal.clear();
        self.touched.fill(false);
    }

    fn touch(&mut self, route: usize) {
        if !self.touched[route] {
            self.touched[route] = true;
            self.journal.push(self.routes[route].clone());
        }
    }

    fn commit(&mut self) {}

    fn rollback(&mut self, cost: i64) {
        let journal = std::mem::take(&mut self.journal);
        // Clear every touched sortie's tasks before restoring any: a task
        // moved between two touched sorties must end up where it was.
        for saved in &journal {
            for &node in &self.routes[saved.drone].nodes {
                self.route_of[self.problem.node_task(node as usize)] = UNASSIGNED;
            }
        }
        for saved in journal {
            let index = saved.drone;
            for &node in &saved.nodes {
                self.route_of[self.problem.node_task(node as usize)] = index as u32;
            }
            self.routes[index] = saved;
        }
        self.cost = cost;
    }

    fn average_sortie_len(&self) -> f64 {
        let (served, flying) = self
            .routes
            .iter()
            .filter(|r| !r.nodes.is_empty())
            .fold((0usize, 0usize), |(s, f), r| (s + r.nodes.len(), f + 1));
        if flying == 0 {
            1.0
        } else {
            served as f64 / flying as f64
        }
    }

    /// Remove strings of neighbouring tasks from up to a few sorties.
    /// Returns the removed tasks and the unserved tasks met on the way.
    fn ruin(&mut self) -> Vec<usize> {
        let tasks = self.problem.tasks().len();
        let mut removed = Vec::new();
        if tasks == 0 {
            return removed;
        }
        let max_string = MAX_STRING.min(self.average_sortie_len());
        let max_strings = (4.0 * MEAN_REMOVED / (1.0 + max_string) - 1.0).max(1.0);
        let strings = self.rng.random_range(1.0..max_strings + 1.0).floor() as usize;
        // Half the time, ruin around a task that is not served: that is
        // where room is worth the most, since a drop costs far more than
        // the metres a better order saves.
        let unserved = self.route_of.iter().filter(|&&r| r == UNASSIGNED).count();
        let seed = if unserved > 0 && self.rng.random::<f64>() < UNSERVED_SEED_RATE {
            let pick = self.rng.random_range(0..unserved);
            self.route_of
                .iter()
                .enumerate()
                .filter(|(_, &r)| r == UNASSIGNED)
                .nth(pick)
                .map_or(0, |(task, _)| task)
        } else {
            self.rng.random_range(0..tasks)
        };
        let mut ruined = 0usize;
        let mut walk = vec![self.problem.task_node(seed) as u16];
        walk.extend_from_slice(&self.neighbours[seed]);
        for node in walk {
            if ruined >= strings {
                break;
            }
            let task = self.problem.node_task(node as usize);
            let route = self.route_of[task];
            if route == UNASSIGNED {
                if !removed.contains(&task) {
                    removed.push(task);
                }
                continue;
            }
            let route = route as usize;
            if self.touched[route] {
                continue;
            }
            let len = self.routes[route].nodes.len();
            let cap = max_string.min(len as f64);
            let string = (self.rng.random_range(1.0..cap + 1.0).floor() as usize).clamp(1, len);
            let position = self.routes[route]
                .nodes
                .iter()
                .position(|&n| n == node)
                .expect("route_of and the route agree");
            let lowest = (position + 1).saturating_sub(string);
            let highest = position.min(len - string);
            let start = self.rng.random_range(lowest..=highest);
            self.touch(route);
            let before = self.routes[route].distance();
            let taken: Vec<u16> = self.routes[route]
                .nodes
                .drain(start..start + string)
                .collect();
            self.routes[route].refresh(self.problem);
            self.cost += self.routes[route].distance() - before;
            for n in taken {
                let t = self.problem.node_task(n as usize);
                self.route_of[t] = UNASSIGNED;
                self.cost += self.problem.drop_penalty(t);
                removed.push(t);
            }
            ruined += 1;
        }
        removed
    }

    /// Insert each task at its cheapest flyable place, in an order chosen
    /// at random among a few that each favour a different kind of task.
    fn recreate(&mut self, mut tasks: Vec<usize>) {
        let problem = self.problem;
        let dock_of_node = |node: usize| {
            (0..problem.docks().len())
                .map(|dock| problem.distance_m(dock, node))
                .min()
                .unwrap_or(0)
        };
        match self.rng.random_range(0..12) {
            0..4 => shuffle(&mut tasks, &mut self.rng),
            4..8 => {
                shuffle(&mut tasks, &mut self.rng);
                tasks.sort_by_key(|&t| std::cmp::Reverse(problem.drop_penalty(t)));
            }
            8..10 => tasks.sort_by_key(|&t| {
                let (open, close) = problem.tasks()[t].window_s;
                close - open
            }),
            10 => tasks.sort_by_key(|&t| std::cmp::Reverse(dock_of_node(problem.task_node(t)))),
            _ => tasks.sort_by_key(|&t| dock_of_node(problem.task_node(t))),
        }
        for task in tasks {
            if let Some((route, position, delta)) = self.cheapest_insertion(task) {
                if delta < problem.drop_penalty(task) {
                    self.insert(task, route, position, delta);
                }
            }
        }
    }

    fn cheapest_insertion(&mut self, task: usize) -> Option<(usize, usize, i64)> {
        let problem = self.problem;
        let node = problem.task_node(task);
        let visit = Segment::visit(problem, node);
        let mut best: Option<(usize, usize, i64)> = None;
        let candidates = self.candidate_routes(task);
        for &index in &candidates {
            let route = &self.routes[index];
            if !problem.can_serve(route.drone, task) {
                continue;
            }
            for position in 0..=route.nodes.len() {
                if self.rng.random::<f64>() < BLINK_RATE {
                    continue;
                }
                let before = route.node_before(position);
                let after = route.node_at(position);
                let delta = problem.distance_m(before, node) + problem.distance_m(node, after)
                    - problem.distance_m(before, after);
                if best.is_some_and(|(_, _, best_delta)| delta >= best_delta) {
                    continue;
                }
                let joined = route.prefix[position]
                    .then(problem, &visit)
                    .then(problem, &route.suffix[position]);
                if joined.is_flyable_sortie(route.max_sortie_s) {
                    best = Some((index, position, delta));
                }
            }
        }
        self.candidates = candidates;
        best
    }

    /// The sorties worth trying for `task`. A small fleet tries them all.
    /// A large one tries only the sorties that already serve one of the
    /// task's nearest neighbours, and one empty sortie from each of the
    /// nearest docks: a task far from a sortie's other visits is never its
    /// cheapest place, and skipping those keeps an insertion's cost
    /// independent of the fleet's size.
    fn candidate_routes(&mut self, task: usize) -> Vec<usize> {
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        self.stamp = self.stamp.wrapping_add(1);
        let stamp = self.stamp;
        let mut empty_dock_tried = std::mem::take(&mut self.empty_dock_tried);
        empty_dock_tried.fill(false);
        let all = self.routes.len() <= ALL_ROUTES_UP_TO;
        let docks: &[usize] = if all { &[] } else { &self.nearest_docks[task] };
        let mut consider = |index: usize, routes: &[Route], marks: &mut [u32]| {
            let route = &routes[index];
            if marks[index] == stamp {
                return;
            }
            if route.nodes.is_empty() {
                // Empty sorties from one dock are all alike: try one per dock.
                if (all || docks.contains(&route.dock))
                    && !std::mem::replace(&mut empty_dock_tried[route.dock], true)
                {
                    marks[index] = stamp;
                    candidates.push(index);
                }
                return;
            }
            marks[index] = stamp;
            candidates.push(index);
        };
        if all {
            for index in 0..self.routes.len() {
                consider(index, &self.routes, &mut self.marks);
            }
        } else {
            for &other in self.neighbours[task].iter().take(INSERTION_NEIGHBOURS) {
                let route = self.route_of[self.problem.node_task(other as usize)];
                if route != UNASSIGNED {
                    consider(route as usize, &self.routes, &mut self.marks);
                }
            }
            for &dock in docks {
                for &index in &self.routes_by_dock[dock] {
                    consider(index, &self.routes, &mut self.marks);
                }
            }
        }
        self.empty_dock_tried = empty_dock_tried;
        candidates
    }

    fn insert(&mut self, task: usize, route: usize, position: usize, delta: i64) {
        self.touch(route);
        let node = self.problem.task_node(task) as u16;
        self.routes[route].nodes.insert(position, node);
        self.routes[route].refresh(self.problem);
        self.route_of[task] = route as u32;
        self.cost += delta - self.problem.drop_penalty(task);
    }
}

fn shuffle(items: &mut [usize], rng: &mut StdRng) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::super::bench_instance::InstanceFile;
    use super::super::problem::{Drone, Site, Task};
    use super::*;

    fn site(east_m: f64, north_m: f64) -> Site {
        Site { east_m, north_m }
    }

    fn task(east_m: f64, north_m: f64, window_s: (u32, u32), drop_penalty: i64) -> Task {
        Task {
            site: site(east_m, north_m),
            service_s: 30,
            window_s,
            drop_penalty,
            requires: 0,
        }
    }

    fn limits(iterations: u64) -> SearchLimits {
        SearchLimits {
            time: Duration::from_secs(60),
            iterations,
            ..SearchLimits::default()
        }
    }

    #[test]
    fn serves_every_task_when_one_sortie_can_fly_them_all_in_order() {
        // Four tasks on a line east of the dock: the best sortie flies out
        // along the line and back, 2 x 4 km.
        let tasks = (1..=4)
            .map(|k| task(1000.0 * k as f64, 0.0, (0, 3600), 20_000))
            .collect();
        let problem = Problem::new(
            vec![site(0.0, 0.0)],
            vec![Drone::at_dock(0), Drone::at_dock(0)],
            tasks,
            10.0,
            1500,
            5100,
        )
        .unwrap();
        let report = solve(&problem, &limits(500));
        assert_eq!(report.plan.verify(&problem), Ok(()));
        assert!(report.plan.unserved.is_empty());
        assert_eq!(report.objective, 8000);
        assert_eq!(report.plan.objective(&problem), report.objective);
    }

    #[test]
    fn when_only_one_of_two_clashing_tasks_fits_it_keeps_the_higher_priority() {
        // Both windows are the same instant, 4 km apart: one drone can
        // serve only one of them.
        let problem = Problem::new(
            vec![site(0.0, 0.0)],
            vec![Drone::at_dock(0)],
            vec![
                task(2000.0, 0.0, (600, 600), 20_000),
                task(-2000.0, 0.0, (600, 600), 60_000),
            ],
            10.0,
            1500,
            5100,
        )
        .unwrap();
        let report = solve(&problem, &limits(200));
        assert_eq!(report.plan.verify(&problem), Ok(()));
        assert_eq!(report.plan.unserved, vec![0]);
        assert_eq!(report.objective, 4000 + 20_000);
    }

    #[test]
    fn leaves_a_task_unserved_when_serving_it_costs_more_than_its_penalty() {
        let problem = Problem::new(
            vec![site(0.0, 0.0)],
            vec![Drone::at_dock(0)],
            vec![task(3000.0, 0.0, (0, 3600), 1_000)],
            10.0,
            1500,
            5100,
        )
        .unwrap();
        let report = solve(&problem, &limits(50));
        assert_eq!(report.plan.unserved, vec![0]);
        assert_eq!(report.objective, 1_000);
    }

    #[test]
    fn a_task_beyond_one_batterys_reach_is_never_served() {
        // 8 km out and back at 10 m/s is 1600 s, over the 1500 s sortie.
        let problem = Problem::new(
            vec![site(0.0, 0.0)],
            vec![Drone::at_dock(0)],
            vec![task(8000.0, 0.0, (0, 3600), 1_000_000)],
            10.0,
            1500,
            5100,
        )
        .unwrap();
        let report = solve(&problem, &limits(50));
        assert_eq!(report.plan.unserved, vec![0]);
    }

    #[test]
    fn a_task_goes_only_to_a_drone_that_carries_what_it_requires() {
        const THERMAL: u32 = 0b10;
        let mut hot = task(100.0, 0.0, (0, 3600), 20_000);
        hot.requires = THERMAL;
        // The nearer drone has no thermal camera; the one 3 km away does.
        let problem = Problem::new(
            vec![site(0.0, 0.0), site(3000.0, 0.0)],
            vec![
                Drone {
                    carries: 0b01,
                    ..Drone::at_dock(0)
                },
                Drone {
                    carries: 0b11,
                    ..Drone::at_dock(1)
                },
            ],
            vec![hot],
            10.0,
            1500,
            5100,
        )
        .unwrap();
        let report = solve(&problem, &limits(100));
        assert_eq!(report.plan.verify(&problem), Ok(()));
        assert_eq!(report.plan.sorties.len(), 1);
        assert_eq!(report.plan.sorties[0].drone, 1);
    }

    #[test]
    fn a_busy_drone_takes_off_no_earlier_than_it_is_ready_and_a_weak_battery_limits_its_reach() {
        let problem = Problem::new(
            vec![site(0.0, 0.0)],
            vec![
                Drone {
                    ready_at_s: 900,
                    ..Drone::at_dock(0)
                },
                Drone {
                    max_sortie_s: Some(300),
                    ..Drone::at_dock(0)
                },
            ],
            // 2 km out: 430 s there and back with the hover, too long for
            // the weak battery; the window closes before the busy drone
            // could arrive if it left at 900 s.
            vec![
                task(2000.0, 0.0, (0, 3600), 20_000),
                task(0.0, 2000.0, (0, 1000), 20_000),
            ],
            10.0,
            1500,
            5100,
        )
        .unwrap();
        let report = solve(&problem, &limits(200));
        assert_eq!(report.plan.verify(&problem), Ok(()));
        assert_eq!(report.plan.unserved, vec![1]);
        let sortie = &report.plan.sorties[0];
        assert_eq!((sortie.drone, sortie.tasks.as_slice()), (0, &[0][..]));
        assert!(sortie.take_off_s >= 900);
    }

    #[test]
    fn the_same_seed_and_iteration_count_give_the_same_plan() {
        let problem = InstanceFile::generate(60, 6, 3).problem().unwrap();
        let first = solve(&problem, &limits(300));
        let second = solve(&problem, &limits(300));
        assert_eq!(first.plan, second.plan);
        assert_eq!(first.objective, second.objective);
    }

    #[test]
    fn search_improves_on_the_first_plan_and_every_plan_it_keeps_is_flyable() {
        let problem = InstanceFile::generate(120, 12, 5).problem().unwrap();
        let first = solve(&problem, &limits(0));
        let searched = solve(&problem, &limits(3000));
        assert_eq!(first.plan.verify(&problem), Ok(()));
        assert_eq!(searched.plan.verify(&problem), Ok(()));
        assert_eq!(searched.plan.objective(&problem), searched.objective);
        assert!(
            searched.objective < first.objective,
            "search {} vs first plan {}",
            searched.objective,
            first.objective
        );
        // The record of improvements is monotone and ends at the result.
        assert!(searched.improvements.windows(2).all(|w| w[1].1 < w[0].1));
        assert_eq!(searched.improvements.last().unwrap().1, searched.objective);
    }

    #[test]
    fn stops_as_soon_as_the_target_objective_is_reached() {
        let problem = InstanceFile::generate(60, 6, 9).problem().unwrap();
        let first = solve(&problem, &limits(0));
        let report = solve(
            &problem,
            &SearchLimits {
                target_objective: Some(first.objective),
                ..limits(100_000)
            },
        );
        assert_eq!(report.iterations, 0);
    }
}
