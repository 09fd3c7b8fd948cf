//! Fair shares of the fleet's flight time between departments.
//!
//! Each department has a quota, a fraction of the fleet's flight time over
//! an accounting period (a week, say). Before planning, every task is
//! weighed: a department's tasks, most important first, are *within its
//! share* until their estimated flight time uses up what the department is
//! still owed; the rest are *over its share*. A task within a share gets a
//! drop penalty in proportion to the flight time it needs, and so large
//! that the planner never leaves one unserved to make room for tasks over a
//! share: the planner then serves the most within-share flight time it can,
//! so a department whose tasks are far away is not starved by one whose
//! tasks are cheap. Tasks over a share keep their plain priority penalty, so
//! they still fly whenever there is room, and capacity never sits idle while
//! work waits. Emergencies are outside quotas: always within share.
//!
//! This weighing is the whole of fairness: the planner itself stays a plain
//! cost minimiser, and the explanation of a held task says which rule held
//! it.

/// A department's standing in the accounting period.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// Fraction of the fleet's flight time the department is entitled to.
    /// Quotas need not sum to one; they are normalised.
    pub quota: f64,
    /// Flight time the department has already used in the period, seconds.
    pub used_s: f64,
}

/// One task waiting to be planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub department: usize,
    /// The task's plain drop penalty (from its priority), metres.
    pub penalty: i64,
    pub emergency: bool,
    /// What serving it is expected to cost in flight time, seconds.
    pub estimated_s: f64,
    /// Ordering within the department: lower first (e.g. priority, then
    /// deadline, then submission time folded into one key by the caller).
    pub rank: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Weighing {
    pub penalty: i64,
    pub within_share: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DepartmentAccount {
    /// Flight time still owed to the department, seconds, this round
    /// included.
    pub owed_s: f64,
    /// Estimated flight time of its waiting tasks, emergencies excluded.
    pub demand_s: f64,
}

/// A task within its department's share has its plain penalty multiplied
/// by one plus this many per second of estimated flight time: for any task
/// of a minute or more, over six hundred times the plain penalty, more than
/// all the tasks over a share that it could displace in a district's plan.
pub const WITHIN_SHARE_WEIGHT_PER_S: f64 = 10.0;

fn within_share_penalty(demand: &Demand) -> i64 {
    let weight = 1.0 + WITHIN_SHARE_WEIGHT_PER_S * demand.estimated_s.max(1.0);
    (demand.penalty as f64 * weight).min(i64::MAX as f64 / 1e6) as i64
}

/// Weigh every demand. `capacity_s` is the flight time the fleet can offer
/// in this planning round.
pub fn weigh(
    shares: &[Share],
    demands: &[Demand],
    capacity_s: f64,
) -> (Vec<Weighing>, Vec<DepartmentAccount>) {
    let total_quota: f64 = shares.iter().map(|s| s.quota.max(0.0)).sum();
    let fraction = |d: usize| {
        if total_quota > 0.0 {
            shares[d].quota.max(0.0) / total_quota
        } else {
            1.0 / shares.len() as f64
        }
    };
    let used_total: f64 = shares.iter().map(|s| s.used_s.max(0.0)).sum();
    let period_total = used_total + capacity_s.max(0.0);
    let mut accounts: Vec<DepartmentAccount> = (0..shares.len())
        .map(|d| DepartmentAccount {
            owed_s: (fraction(d) * period_total - shares[d].used_s.max(0.0)).max(0.0),
            demand_s: 0.0,
        })
        .collect();

    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| (demands[i].department, demands[i].rank));
    let mut weighings = vec![
        Weighing {
            penalty: 0,
            within_share: false,
        };
        demands.len()
    ];
    let mut spent = vec![0.0; shares.len()];
    for i in order {
        let demand = &demands[i];
        let within = if demand.emergency {
            true
        } else {
            let d = demand.department;
            accounts[d].demand_s += demand.estimated_s;
            // A task that starts within what is owed counts as within, so a
            // department owed anything at all gets at least one task.
            let within = spent[d] < accounts[d].owed_s;
            spent[d] += demand.estimated_s;
            within
        };
        weighings[i] = Weighing {
            penalty: if within {
                within_share_penalty(demand)
            } else {
                demand.penalty
            },
            within_share: within,
        };
    }
    (weighings, accounts)
}

/// A flight as the weekly accounting sees it: when it flew and for whom
/// (one entry per task of the sortie).
#[derive(Debug, Clone, PartialEq)]
pub struct Flown {
    pub start_ms: i64,
    /// None while still in the air.
    pub end_ms: Option<i64>,
    pub departments: Vec<String>,
}

/// Flight time each department used between `since_ms` and `now_ms`,
/// seconds. A sortie's time is shared equally between its tasks (they fly
/// one after the other in one flight; the transit is shared work), and
/// only the part inside the period counts.
pub fn used_by_department(
    flights: &[Flown],
    since_ms: i64,
    now_ms: i64,
) -> std::collections::HashMap<String, f64> {
    let mut used = std::collections::HashMap::new();
    for flight in flights {
        let start = flight.start_ms.max(since_ms);
        let end = flight.end_ms.unwrap_or(now_ms).min(now_ms);
        if end <= start || flight.departments.is_empty() {
            continue;
        }
        let each_s = (end - start) as f64 / 1000.0 / flight.departments.len() as f64;
        for department in &flight.departments {
            *used.entry(department.clone()).or_insert(0.0) += each_s;
        }
    }
    used
}

#[cfg(test)]
mod tests {
    use super::super::problem::{Drone, Problem, Site, Task};
    use super::super::search::{solve, SearchLimits};
    use super::*;

    fn demand(department: usize, rank: i64) -> Demand {
        Demand {
            department,
            penalty: 20_000,
            emergency: false,
            estimated_s: 300.0,
            rank,
        }
    }

    fn equal_shares() -> Vec<Share> {
        vec![
            Share {
                quota: 1.0,
                used_s: 0.0,
            },
            Share {
                quota: 1.0,
                used_s: 0.0,
            },
        ]
    }

    #[test]
    fn under_load_each_department_gets_its_share_and_the_busier_one_waits_beyond_it() {
        // Capacity for 6 tasks of 300 s: 3 each by quota. Department 0 asks
        // for 10, department 1 for 2.
        let mut demands: Vec<Demand> = (0..10).map(|r| demand(0, r)).collect();
        demands.extend((0..2).map(|r| demand(1, r)));
        let (weighings, accounts) = weigh(&equal_shares(), &demands, 1800.0);
        let within = |d: usize| {
            demands
                .iter()
                .zip(&weighings)
                .filter(|(x, w)| x.department == d && w.within_share)
                .count()
        };
        assert_eq!(within(0), 3);
        assert_eq!(within(1), 2);
        // The first three by rank are the ones within.
        assert!(weighings[..3].iter().all(|w| w.within_share));
        assert!(weighings[3..10].iter().all(|w| !w.within_share));
        assert_eq!(accounts[0].owed_s, 900.0);
        assert_eq!(accounts[0].demand_s, 3000.0);
    }

    #[test]
    fn a_department_that_already_flew_more_than_its_share_this_week_is_over_it() {
        let shares = vec![
            Share {
                quota: 1.0,
                used_s: 10_000.0,
            },
            Share {
                quota: 1.0,
                used_s: 0.0,
            },
        ];
        let demands = vec![demand(0, 0), demand(1, 0)];
        let (weighings, _) = weigh(&shares, &demands, 1200.0);
        assert!(!weighings[0].within_share);
        assert!(weighings[1].within_share);
    }

    #[test]
    fn an_emergency_is_within_share_whatever_the_department_has_used() {
        let shares = vec![Share {
            quota: 0.0,
            used_s: 1e9,
        }];
        let mut urgent = demand(0, 0);
        urgent.emergency = true;
        let (weighings, _) = weigh(&shares, &[urgent], 600.0);
        assert!(weighings[0].within_share);
        assert_eq!(weighings[0].penalty, 20_000 * 3001);
    }

    /// One drone with room for five tasks beside the dock or one far away
    /// and one near. Department 0's six tasks sit beside the dock,
    /// department 1's two are 2 km out: a plain planner flies five of
    /// department 0's and starves department 1.
    #[test]
    fn the_planner_with_weighed_tasks_does_not_starve_the_department_that_is_further_away() {
        let near = |k: usize| Site {
            east_m: 100.0 + 10.0 * k as f64,
            north_m: 0.0,
        };
        let far = |k: usize| Site {
            east_m: 0.0,
            north_m: 2000.0 + 10.0 * k as f64,
        };
        let sites: Vec<(usize, Site)> = (0..6)
            .map(|k| (0, near(k)))
            .chain((0..2).map(|k| (1, far(k))))
            .collect();
        let build = |penalties: &[i64]| {
            let tasks = sites
                .iter()
                .zip(penalties)
                .map(|((_, site), &drop_penalty)| Task {
                    site: *site,
                    service_s: 120,
                    window_s: (0, 3600),
                    drop_penalty,
                    requires: 0,
                })
                .collect();
            Problem::new(
                vec![Site {
                    east_m: 0.0,
                    north_m: 0.0,
                }],
                vec![Drone::at_dock(0)],
                tasks,
                10.0,
                700,
                5100,
            )
            .unwrap()
        };
        let limits = SearchLimits {
            iterations: 500,
            ..SearchLimits::default()
        };
        let served_of = |problem: &Problem, department: usize| {
            let report = solve(problem, &limits);
            assert_eq!(report.plan.verify(problem), Ok(()));
            report.plan.sorties[0]
                .tasks
                .iter()
                .filter(|&&t| sites[t].0 == department)
                .count()
        };

        let plain = build(&[20_000; 8]);
        assert_eq!(
            served_of(&plain, 1),
            0,
            "without shares the far department starves"
        );

        let demands: Vec<Demand> = sites
            .iter()
            .enumerate()
            .map(|(rank, (department, site))| Demand {
                department: *department,
                penalty: 20_000,
                emergency: false,
                // Hover plus the round trip from the dock at 10 m/s.
                estimated_s: 120.0 + 2.0 * site.east_m.hypot(site.north_m) / 10.0,
                rank: rank as i64,
            })
            .collect();
        let (weighings, _) = weigh(&equal_shares(), &demands, 700.0);
        let penalties: Vec<i64> = weighings.iter().map(|w| w.penalty).collect();
        let fair = build(&penalties);
        assert!(served_of(&fair, 1) >= 1, "with shares it gets its turn");
        assert!(
            served_of(&fair, 0) >= 1,
            "and the near department still flies"
        );
    }

    #[test]
    fn a_week_of_flights_is_shared_between_the_tasks_of_each_sortie() {
        let day_ms = 24 * 3600 * 1000;
        let now = 10 * day_ms;
        let since = now - 7 * day_ms;
        let flights = vec![
            // Half inside the week: 600 s of 1200 s count.
            Flown {
                start_ms: since - 600_000,
                end_ms: Some(since + 600_000),
                departments: vec!["water".into()],
            },
            // One sortie of two tasks for two departments: 300 s each.
            Flown {
                start_ms: now - 3 * day_ms,
                end_ms: Some(now - 3 * day_ms + 600_000),
                departments: vec!["water".into(), "urban".into()],
            },
            // Still in the air for 120 s.
            Flown {
                start_ms: now - 120_000,
                end_ms: None,
                departments: vec!["urban".into()],
            },
            // Before the week: nothing.
            Flown {
                start_ms: since - 2 * day_ms,
                end_ms: Some(since - day_ms),
                departments: vec!["parks".into()],
            },
        ];
        let used = used_by_department(&flights, since, now);
        assert_eq!(used.get("water"), Some(&900.0));
        assert_eq!(used.get("urban"), Some(&420.0));
        assert_eq!(used.get("parks"), None);
    }

    use proptest::prelude::*;

    proptest! {
        /// The fairness rule under load, for any quotas, usage and queues:
        /// a department that has used its share of the period (this round
        /// included) gets no task within share unless it is an emergency;
        /// a department still owed time that has work gets at least its
        /// first task within share (none is starved); and a task within
        /// share always outweighs every task over a share put together, so
        /// the planner fills capacity with over-share work only when
        /// nothing within share could use it.
        #[test]
        fn no_department_is_starved_and_none_exceeds_its_share_while_others_wait(
            quotas in proptest::collection::vec(0.1f64..5.0, 2..5),
            used in proptest::collection::vec(0.0f64..50_000.0, 5),
            tasks in proptest::collection::vec((0usize..5, 60.0f64..1200.0, 0u8..3), 1..40),
            capacity_s in 600.0f64..20_000.0,
        ) {
            let shares: Vec<Share> = quotas
                .iter()
                .zip(&used)
                .map(|(&quota, &used_s)| Share { quota, used_s })
                .collect();
            let n = shares.len();
            let demands: Vec<Demand> = tasks
                .iter()
                .enumerate()
                .map(|(rank, &(d, estimated_s, priority))| Demand {
                    department: d % n,
                    penalty: 20_000 * (1 + i64::from(priority)),
                    emergency: false,
                    estimated_s,
                    rank: rank as i64,
                })
                .collect();
            let (weighings, accounts) = weigh(&shares, &demands, capacity_s);
            let total_quota: f64 = quotas.iter().sum();
            let period: f64 = shares.iter().map(|s| s.used_s).sum::<f64>() + capacity_s;
            for d in 0..n {
                let entitled = quotas[d] / total_quota * period;
                let mine: Vec<usize> = (0..demands.len()).filter(|&i| demands[i].department == d).collect();
                if shares[d].used_s >= entitled {
                    prop_assert!(mine.iter().all(|&i| !weighings[i].within_share),
                        "department {d} used {} of {entitled} and still has work within share", shares[d].used_s);
                } else if let Some(&first) = mine.iter().min_by_key(|&&i| demands[i].rank) {
                    prop_assert!(weighings[first].within_share, "department {d} is owed time and starved");
                }
                // Within-share work never adds up to much more than what is owed:
                // at most one task beyond it.
                let within_s: f64 = mine.iter().filter(|&&i| weighings[i].within_share).map(|&i| demands[i].estimated_s).sum();
                let largest = mine.iter().map(|&i| demands[i].estimated_s).fold(0.0, f64::max);
                prop_assert!(within_s <= accounts[d].owed_s + largest + 1e-6);
            }
            let over_total: i64 = weighings.iter().filter(|w| !w.within_share).map(|w| w.penalty).sum();
            for w in weighings.iter().filter(|w| w.within_share) {
                prop_assert!(w.penalty > over_total, "{} within share against {over_total} over", w.penalty);
            }
        }
    }
}
