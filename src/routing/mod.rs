//! Routing: which drone visits which tasks, in what order, within the time
//! windows and the sortie limit, so that the fleet flies as little as it can
//! and drops as little priority as it must. Pure, no IO.
//!
//! The model is a multi-depot vehicle routing problem with time windows and
//! optional visits: every drone flies at most one sortie from its dock and
//! back, each sortie no longer than the battery allows (take-off to landing,
//! waiting included); a task not served costs a penalty that grows with its
//! priority. The objective is metres flown plus penalties, counted exactly as
//! OR-Tools' routing model counts it so the two can be compared (see
//! `skyshare bench dispatch`).
//!
//! The search is ruin and recreate with simulated annealing, removing strings
//! of neighbouring tasks from nearby sorties and reinserting greedily (after
//! Christiaens and Vanden Berghe's SISR). Every insertion is checked in O(1)
//! with time-window segments ([`segment`]), so one core explores hundreds of
//! thousands of plans per second on a district-sized problem.

pub mod bench_instance;
pub mod benchmark;
pub mod fair_share;
pub mod outlook;
pub mod problem;
pub mod search;
pub mod segment;
pub mod solution;

pub use problem::{Drone, Problem, ProblemError, Site, Task};
pub use search::{solve, SearchLimits, SearchReport};
pub use solution::{Plan, Sortie};
