//! Work too long for one battery, cut into sorties: each flies from the
//! dock to where the last one stopped, on along the path as far as the
//! battery allows while still getting home, and back.

use super::local::Xy;
use super::CoverageError;

#[derive(Debug, Clone, PartialEq)]
pub struct SortieLeg {
    /// Where along the path (metres from its start) this sortie takes over
    /// and where it stops.
    pub from_m: f64,
    pub to_m: f64,
    /// The stretch of path flown, from the take-over point to the stop.
    pub points: Vec<Xy>,
    /// Dock to the path, the stretch, and back to the dock, metres.
    pub flight_m: f64,
}

/// Cut `path` into sorties from `dock`, each at most `budget_m` in all.
pub fn split_into_sorties(
    path: &[Xy],
    dock: Xy,
    budget_m: f64,
) -> Result<Vec<SortieLeg>, CoverageError> {
    if !(budget_m.is_finite() && budget_m > 0.0) {
        return Err(CoverageError::OutOfRange {
            what: "sortie budget",
            expected: "a positive number of metres",
            got: budget_m,
        });
    }
    if path.is_empty() {
        return Ok(Vec::new());
    }
    // Distance along the path at each vertex.
    let mut at = vec![0.0];
    for pair in path.windows(2) {
        at.push(at[at.len() - 1] + pair[0].distance(pair[1]));
    }
    let total = at[at.len() - 1];
    let point_at = |s: f64| -> Xy {
        let i = at
            .partition_point(|&a| a <= s)
            .clamp(1, at.len().max(2) - 1);
        if path.len() == 1 {
            return path[0];
        }
        let span = at[i] - at[i - 1];
        let t = if span > 0.0 {
            (s - at[i - 1]) / span
        } else {
            0.0
        };
        path[i - 1].lerp(path[i], t.clamp(0.0, 1.0))
    };
    // Flying from `start` to `end` along the path and home only grows as
    // `end` moves on (a metre more of path brings home at most a metre
    // nearer), so the farthest reachable stop can be bisected.
    let cost = |start: f64, end: f64| {
        dock.distance(point_at(start)) + (end - start) + point_at(end).distance(dock)
    };
    let mut legs = Vec::new();
    let mut start = 0.0;
    loop {
        let reach = cost(start, start);
        if reach > budget_m {
            return Err(CoverageError::BeyondReach {
                reach_m: reach,
                budget_m,
            });
        }
        let end = if cost(start, total) <= budget_m {
            total
        } else {
            let (mut ok, mut too_far) = (start, total);
            while too_far - ok > 0.01 {
                let mid = (ok + too_far) / 2.0;
                if cost(start, mid) <= budget_m {
                    ok = mid;
                } else {
                    too_far = mid;
                }
            }
            ok
        };
        if end - start < 1.0 && end < total {
            // Only the transit fits: no battery gets further than here.
            return Err(CoverageError::BeyondReach {
                reach_m: reach,
                budget_m,
            });
        }
        let mut points = vec![point_at(start)];
        points.extend(
            at.iter()
                .zip(path)
                .filter(|(&a, _)| a > start && a < end)
                .map(|(_, &p)| p),
        );
        points.push(point_at(end));
        legs.push(SortieLeg {
            from_m: start,
            to_m: end,
            points,
            flight_m: cost(start, end),
        });
        if end >= total {
            return Ok(legs);
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_path_one_battery_can_fly_is_one_sortie() {
        let path = [Xy::new(100.0, 0.0), Xy::new(100.0, 500.0)];
        let legs = split_into_sorties(&path, Xy::new(0.0, 0.0), 2000.0).unwrap();
        assert_eq!(legs.len(), 1);
        assert_eq!(legs[0].points, path.to_vec());
        assert!((legs[0].flight_m - (100.0 + 500.0 + 509.9)).abs() < 0.1);
    }

    #[test]
    fn a_long_path_is_cut_into_sorties_that_each_resume_where_the_last_stopped() {
        // A 6 km lawnmower 1 to 1.5 km from the dock, 4 km per battery.
        let path: Vec<Xy> = (0..=12)
            .map(|k| {
                Xy::new(
                    1000.0 + if k % 2 == 0 { 0.0 } else { 500.0 },
                    10.0 * k as f64,
                )
            })
            .collect();
        let legs = split_into_sorties(&path, Xy::new(0.0, 0.0), 4000.0).unwrap();
        assert!(legs.len() >= 5, "{} legs", legs.len());
        assert_eq!(legs[0].from_m, 0.0);
        for pair in legs.windows(2) {
            assert_eq!(pair[0].to_m, pair[1].from_m);
            assert_eq!(pair[0].points.last(), pair[1].points.first());
        }
        assert!(legs.iter().all(|l| l.flight_m <= 4000.0 + 1e-6));
    }

    #[test]
    fn work_beyond_one_batterys_reach_is_refused_with_the_figures() {
        let path = [Xy::new(5000.0, 0.0), Xy::new(5100.0, 0.0)];
        let error = split_into_sorties(&path, Xy::new(0.0, 0.0), 8000.0).unwrap_err();
        assert_eq!(
            error,
            CoverageError::BeyondReach {
                reach_m: 10_000.0,
                budget_m: 8000.0
            }
        );
    }

    proptest! {
        #[test]
        fn sorties_cover_the_whole_path_in_order_and_each_fits_its_battery(
            corners in prop::collection::vec((-800.0f64..800.0, -800.0f64..800.0), 2..20),
            budget in 3500.0f64..9000.0,
        ) {
            let path: Vec<Xy> = corners.iter().map(|&(x, y)| Xy::new(x, y)).collect();
            let legs = split_into_sorties(&path, Xy::new(0.0, 0.0), budget).unwrap();
            let total: f64 = path.windows(2).map(|w| w[0].distance(w[1])).sum();
            prop_assert_eq!(legs[0].from_m, 0.0);
            prop_assert!((legs.last().unwrap().to_m - total).abs() < 1e-6);
            for pair in legs.windows(2) {
                prop_assert_eq!(pair[0].to_m, pair[1].from_m);
            }
            for leg in &legs {
                prop_assert!(leg.flight_m <= budget + 1e-6);
                let flown: f64 = leg.points.windows(2).map(|w| w[0].distance(w[1])).sum();
                prop_assert!((flown - (leg.to_m - leg.from_m)).abs() < 1e-3);
            }
        }
    }
}
