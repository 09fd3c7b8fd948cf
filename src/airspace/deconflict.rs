//! Strategic deconfliction of the fleet's own flights, after the ASTM F3548
//! model (shared/reference/protocols.md §9): each planned flight is an
//! operational intent made of 4D volumes (here one per leg: the leg
//! buffered laterally, its altitude range plus a margin, its time window
//! plus a margin). A new intent may not intersect an intent of higher
//! priority; equal priorities are a policy choice (the regulator's, in
//! F3548); it may intersect lower ones, which must then be re-planned. If it
//! is blocked, it is re-timed by the smallest delay that clears it, within a
//! limit, or refused with the conflicts named.

use chrono::{DateTime, Duration, Utc};

use super::geom::{point_segment_distance, segments_meet, Bbox, Xy};
use super::index::AirspaceFrame;
use super::route_check::Waypoint;

/// One leg's 4D volume: a capsule (segment `a`-`b`, `radius_m`) between
/// two altitudes, over a time window. Local metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Volume4D {
    pub a: Xy,
    pub b: Xy,
    pub radius_m: f64,
    pub alt_low_m: f64,
    pub alt_high_m: f64,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Closest distance between two segments.
pub fn segment_distance(a: Xy, b: Xy, c: Xy, d: Xy) -> f64 {
    if segments_meet(a, b, c, d) {
        return 0.0;
    }
    point_segment_distance(a, c, d)
        .min(point_segment_distance(b, c, d))
        .min(point_segment_distance(c, a, b))
        .min(point_segment_distance(d, a, b))
}

impl Volume4D {
    pub fn bbox(&self) -> Bbox {
        Bbox::of_segment(self.a, self.b).expanded(self.radius_m)
    }

    /// Shares space and time with `other` (touching counts).
    pub fn intersects(&self, other: &Volume4D) -> bool {
        self.start <= other.end
            && other.start <= self.end
            && self.alt_low_m <= other.alt_high_m
            && other.alt_low_m <= self.alt_high_m
            && self.bbox().intersects(&other.bbox())
            && segment_distance(self.a, self.b, other.a, other.b) <= self.radius_m + other.radius_m
    }

    fn delayed(&self, by: Duration) -> Volume4D {
        Volume4D {
            start: self.start + by,
            end: self.end + by,
            ..*self
        }
    }
}

/// Margins that turn a planned route into volumes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolumeMargins {
    pub lateral_m: f64,
    pub vertical_m: f64,
    pub time: Duration,
}

impl Default for VolumeMargins {
    fn default() -> Self {
        VolumeMargins {
            lateral_m: 20.0,
            vertical_m: 10.0,
            time: Duration::seconds(30),
        }
    }
}

/// One volume per leg of a timed route.
pub fn route_volumes(
    route: &[Waypoint],
    frame: &AirspaceFrame,
    m: &VolumeMargins,
) -> Vec<Volume4D> {
    route
        .windows(2)
        .map(|w| Volume4D {
            a: frame.local.to_local(w[0].lon, w[0].lat),
            b: frame.local.to_local(w[1].lon, w[1].lat),
            radius_m: m.lateral_m,
            alt_low_m: w[0].alt_agl_m.min(w[1].alt_agl_m) - m.vertical_m,
            alt_high_m: w[0].alt_agl_m.max(w[1].alt_agl_m) + m.vertical_m,
            start: w[0].time - m.time,
            end: w[1].time + m.time,
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub id: String,
    /// Higher value, higher priority (F3548).
    pub priority: i32,
    pub volumes: Vec<Volume4D>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EqualPriority {
    /// Equal priorities may not conflict (first planned keeps its volumes).
    MayNotConflict,
    /// Equal priorities may conflict (then the pilots deconflict tactically).
    MayConflict,
}

/// One pair of intersecting volumes.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentConflict {
    pub other_id: String,
    pub other_priority: i32,
    /// 1-based leg numbers.
    pub leg: usize,
    pub other_leg: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Fly as planned; `preempts` are lower-priority intents it now
    /// intersects, which must be re-planned.
    Accepted {
        preempts: Vec<String>,
    },
    /// Fly `delay` later (all volumes shifted).
    Retimed {
        delay: Duration,
        preempts: Vec<String>,
    },
    Refused {
        conflicts: Vec<IntentConflict>,
    },
}

fn conflicts(new: &[Volume4D], existing: &[Intent]) -> Vec<IntentConflict> {
    let mut out = Vec::new();
    for other in existing {
        for (i, v) in new.iter().enumerate() {
            for (j, w) in other.volumes.iter().enumerate() {
                if v.intersects(w) {
                    out.push(IntentConflict {
                        other_id: other.id.clone(),
                        other_priority: other.priority,
                        leg: i + 1,
                        other_leg: j + 1,
                    });
                }
            }
        }
    }
    out
}

fn split(
    all: Vec<IntentConflict>,
    priority: i32,
    policy: EqualPriority,
) -> (Vec<IntentConflict>, Vec<String>) {
    let mut blocking = Vec::new();
    let mut preempts: Vec<String> = Vec::new();
    for c in all {
        let blocks = c.other_priority > priority
            || (c.other_priority == priority && policy == EqualPriority::MayNotConflict);
        if blocks {
            blocking.push(c);
        } else if !preempts.contains(&c.other_id) && c.other_priority < priority {
            preempts.push(c.other_id);
        }
    }
    (blocking, preempts)
}

/// Decides a new intent against the existing ones: accept, re-time by the
/// first of `step, 2 step, ...` up to `max_delay` that clears every
/// blocking conflict, or refuse naming them.
pub fn decide(
    new: &Intent,
    existing: &[Intent],
    policy: EqualPriority,
    step: Duration,
    max_delay: Duration,
) -> Decision {
    let (blocking, preempts) = split(conflicts(&new.volumes, existing), new.priority, policy);
    if blocking.is_empty() {
        return Decision::Accepted { preempts };
    }
    if step > Duration::zero() {
        let mut delay = step;
        while delay <= max_delay {
            let moved: Vec<Volume4D> = new.volumes.iter().map(|v| v.delayed(delay)).collect();
            let (b, preempts) = split(conflicts(&moved, existing), new.priority, policy);
            if b.is_empty() {
                return Decision::Retimed { delay, preempts };
            }
            delay += step;
        }
    }
    Decision::Refused {
        conflicts: blocking,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn leg(a: (f64, f64), b: (f64, f64), alt: f64, start: i64, end: i64) -> Volume4D {
        Volume4D {
            a: Xy::new(a.0, a.1),
            b: Xy::new(b.0, b.1),
            radius_m: 20.0,
            alt_low_m: alt - 10.0,
            alt_high_m: alt + 10.0,
            start: t(start),
            end: t(end),
        }
    }

    fn intent(id: &str, priority: i32, volumes: Vec<Volume4D>) -> Intent {
        Intent {
            id: id.into(),
            priority,
            volumes,
        }
    }

    fn crossing(id: &str, priority: i32) -> Intent {
        intent(
            id,
            priority,
            vec![leg((0.0, -500.0), (0.0, 500.0), 60.0, 0, 5)],
        )
    }

    fn new_flight(priority: i32) -> Intent {
        intent(
            "new",
            priority,
            vec![leg((-500.0, 0.0), (500.0, 0.0), 60.0, 1, 6)],
        )
    }

    #[test]
    fn higher_priority_intent_blocks_and_the_new_one_is_retimed_past_it() {
        let d = decide(
            &new_flight(1),
            &[crossing("medevac", 5)],
            EqualPriority::MayNotConflict,
            Duration::minutes(1),
            Duration::minutes(30),
        );
        // The other ends at minute 5; the new one starts at 1: 5 minutes later it starts at 6.
        assert_eq!(
            d,
            Decision::Retimed {
                delay: Duration::minutes(5),
                preempts: vec![]
            }
        );
    }

    #[test]
    fn without_room_to_retime_the_conflict_is_named() {
        let d = decide(
            &new_flight(1),
            &[crossing("medevac", 5)],
            EqualPriority::MayNotConflict,
            Duration::minutes(1),
            Duration::minutes(2),
        );
        match d {
            Decision::Refused { conflicts } => {
                assert_eq!(conflicts.len(), 1);
                assert_eq!(
                    (
                        conflicts[0].other_id.as_str(),
                        conflicts[0].leg,
                        conflicts[0].other_leg
                    ),
                    ("medevac", 1, 1)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn higher_priority_new_intent_is_accepted_and_preempts_the_lower() {
        let d = decide(
            &new_flight(5),
            &[crossing("survey", 1)],
            EqualPriority::MayNotConflict,
            Duration::minutes(1),
            Duration::minutes(30),
        );
        assert_eq!(
            d,
            Decision::Accepted {
                preempts: vec!["survey".into()]
            }
        );
    }

    #[test]
    fn equal_priority_follows_the_policy() {
        let may = decide(
            &new_flight(3),
            &[crossing("peer", 3)],
            EqualPriority::MayConflict,
            Duration::zero(),
            Duration::zero(),
        );
        assert_eq!(may, Decision::Accepted { preempts: vec![] });
        let may_not = decide(
            &new_flight(3),
            &[crossing("peer", 3)],
            EqualPriority::MayNotConflict,
            Duration::zero(),
            Duration::zero(),
        );
        assert!(matches!(may_not, Decision::Refused { .. }));
    }

    #[test]
    fn separation_in_altitude_or_time_is_enough() {
        let above = intent(
            "above",
            9,
            vec![leg((0.0, -500.0), (0.0, 500.0), 100.0, 0, 5)],
        );
        let later = intent(
            "later",
            9,
            vec![leg((0.0, -500.0), (0.0, 500.0), 60.0, 7, 9)],
        );
        let d = decide(
            &new_flight(1),
            &[above, later],
            EqualPriority::MayNotConflict,
            Duration::zero(),
            Duration::zero(),
        );
        assert_eq!(d, Decision::Accepted { preempts: vec![] });
    }
}
