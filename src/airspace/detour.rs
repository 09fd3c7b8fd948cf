//! Detour: the shortest way from one point to another, flown between two
//! altitudes, that stays `buffer` clear of every zone that would refuse the
//! flight there (its band within the vertical margin of those altitudes,
//! and not authorised), and inside the operating area, or why there is
//! none.
//!
//! Method: a visibility graph. Its nodes are the start, the goal and points
//! just outside each blocking zone's buffered vertices (circles get a
//! circumscribed 16-gon); an edge joins two nodes when the straight leg
//! between them passes the exact leg test against every blocking zone and
//! stays inside the operating area. Dijkstra then finds the shortest path.
//! Shortest paths around polygons bend only at (buffered) vertices, so the
//! answer is within the small offset of the true shortest path.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};

use super::geom::{leg_intervals, Bbox, PlanarShape, Xy};
use super::index::ZoneIndex;
use super::zone::ZoneKind;

#[derive(Debug, Clone, PartialEq)]
pub struct Detour {
    /// (lon, lat) of every waypoint, start and goal included.
    pub waypoints: Vec<(f64, f64)>,
    pub length_m: f64,
    pub direct_length_m: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoDetour {
    #[error("the start is inside (or within {buffer_m:.0} m of) zone {zone_id}: no way out")]
    StartInZone { zone_id: String, buffer_m: f64 },
    #[error("the destination is inside (or within {buffer_m:.0} m of) zone {zone_id}: no way in")]
    GoalInZone { zone_id: String, buffer_m: f64 },
    #[error("the {which} is outside the operating area")]
    OutsideOperatingArea { which: &'static str },
    #[error("no path stays {buffer_m:.0} m clear of zones {zones} and inside the operating area")]
    Enclosed { zones: String, buffer_m: f64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetourRequest {
    pub from: (f64, f64),
    pub to: (f64, f64),
    /// The lowest and highest altitude flown, metres above ground: a zone
    /// whose band (widened by `vertical_margin_m`) meets that range is
    /// avoided, as the route check would refuse the leg in it.
    pub alt_agl_m: (f64, f64),
    /// The flight's window: a zone active at any time in it is avoided.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub buffer_m: f64,
    pub vertical_margin_m: f64,
    /// Ids of the authorisation-required zones the flight may enter.
    pub authorisations: Vec<String>,
}

struct Obstacles<'a> {
    index: &'a ZoneIndex,
    blocking: Vec<usize>,
    areas: Vec<usize>,
    buffer_m: f64,
}

impl Obstacles<'_> {
    fn leg_is_clear(&self, a: Xy, b: Xy) -> bool {
        let leg_box = Bbox::of_segment(a, b).expanded(self.buffer_m);
        self.blocking.iter().all(|&z| {
            !self.index.shape(z).bbox().intersects(&leg_box)
                || leg_intervals(a, b, self.index.shape(z), self.buffer_m).is_empty()
        }) && (self.areas.is_empty()
            || self
                .areas
                .iter()
                .any(|&z| inside_area(self.index.shape(z), a, b)))
    }

    fn blocking_at(&self, p: Xy) -> Option<usize> {
        self.blocking
            .iter()
            .copied()
            .find(|&z| self.index.shape(z).distance(p) <= self.buffer_m)
    }
}

/// The whole leg is inside the area: both ends inside and no edge of the
/// area touched (an area may be non-convex or have holes).
fn inside_area(area: &PlanarShape, a: Xy, b: Xy) -> bool {
    area.contains(a) && area.contains(b) && !touches_boundary(area, a, b)
}

fn touches_boundary(area: &PlanarShape, a: Xy, b: Xy) -> bool {
    match area {
        PlanarShape::Polygon(p) => std::iter::once(&p.exterior).chain(p.holes.iter()).any(|r| {
            r.edges()
                .any(|(c, d)| super::geom::segments_meet(a, b, c, d))
        }),
        PlanarShape::Circle { .. } => false,
    }
}

/// Candidate turning points just outside a zone's buffer.
fn corner_points(shape: &PlanarShape, buffer_m: f64) -> Vec<Xy> {
    // A little extra so the turning point itself passes the exact test.
    let clearance = buffer_m + 0.5 + buffer_m * 0.01;
    match shape {
        PlanarShape::Circle { center, radius_m } => {
            let n = 16;
            let r = (radius_m + clearance) / (std::f64::consts::PI / n as f64).cos();
            (0..n)
                .map(|k| {
                    let a = std::f64::consts::TAU * k as f64 / n as f64;
                    Xy::new(center.x + r * a.cos(), center.y + r * a.sin())
                })
                .collect()
        }
        PlanarShape::Polygon(p) => {
            let mut out = Vec::new();
            for ring in std::iter::once(&p.exterior).chain(p.holes.iter()) {
                let v = ring.vertices();
                let n = v.len();
                // Outward is to the right of travel for a counter-clockwise
                // exterior; flip for clockwise rings (either orientation is accepted).
                let sign = if ring.signed_area2() > 0.0 { 1.0 } else { -1.0 };
                for i in 0..n {
                    let (prev, cur, next) = (v[(i + n - 1) % n], v[i], v[(i + 1) % n]);
                    let normal = |a: Xy, b: Xy| {
                        let (dx, dy) = (b.x - a.x, b.y - a.y);
                        let len = (dx * dx + dy * dy).sqrt().max(1e-12);
                        Xy::new(sign * dy / len, -sign * dx / len)
                    };
                    let (n1, n2) = (normal(prev, cur), normal(cur, next));
                    let (bx, by) = (n1.x + n2.x, n1.y + n2.y);
                    let len = (bx * bx + by * by).sqrt();
                    if len < 1e-9 {
                        continue;
                    }
                    // Distance along the bisector that keeps `clearance` from both edges.
                    let cos_half = (len / 2.0).clamp(0.2, 1.0);
                    let d = clearance / cos_half;
                    out.push(Xy::new(cur.x + bx / len * d, cur.y + by / len * d));
                }
            }
            out
        }
    }
}

#[derive(PartialEq)]
struct Entry(f64, usize);
impl Eq for Entry {}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then_with(|| o.1.cmp(&self.1))
    }
}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl ZoneIndex {
    /// The shortest clear path, or why there is none.
    pub fn detour(&self, req: &DetourRequest) -> Result<Detour, NoDetour> {
        let frame = *self.frame();
        let (a, b) = (
            frame.local.to_local(req.from.0, req.from.1),
            frame.local.to_local(req.to.0, req.to.1),
        );
        let mut blocking = Vec::new();
        let mut areas = Vec::new();
        for (z, zone) in self.zones().iter().enumerate() {
            if zone
                .time
                .first_active(req.start, req.end, frame.utc_offset)
                .is_none()
            {
                continue;
            }
            // The route check's own test: the band widened by the margin
            // against every altitude the leg flies.
            let (floor, ceiling) = self.band_agl(z);
            let (low, high) = req.alt_agl_m;
            let in_band =
                low <= ceiling + req.vertical_margin_m && high >= floor - req.vertical_margin_m;
            match zone.kind {
                ZoneKind::OperatingArea => areas.push(z),
                ZoneKind::Prohibited if in_band => blocking.push(z),
                ZoneKind::AuthorisationRequired
                    if in_band && !req.authorisations.contains(&zone.id) =>
                {
                    blocking.push(z)
                }
                _ => {}
            }
        }
        // By id, so which zone a refusal names does not hang on the
        // index's own numbering (map order).
        blocking.sort_unstable_by_key(|&z| self.id_rank(z));
        areas.sort_unstable_by_key(|&z| self.id_rank(z));
        let obstacles = Obstacles {
            index: self,
            blocking,
            areas,
            buffer_m: req.buffer_m,
        };
        for (p, which) in [(a, "start"), (b, "destination")] {
            if let Some(z) = obstacles.blocking_at(p) {
                let zone_id = self.zone(z).id.clone();
                return Err(if which == "start" {
                    NoDetour::StartInZone {
                        zone_id,
                        buffer_m: req.buffer_m,
                    }
                } else {
                    NoDetour::GoalInZone {
                        zone_id,
                        buffer_m: req.buffer_m,
                    }
                });
            }
            if !obstacles.areas.is_empty()
                && !obstacles.areas.iter().any(|&z| self.shape(z).contains(p))
            {
                return Err(NoDetour::OutsideOperatingArea { which });
            }
        }
        let mut nodes = vec![a, b];
        for &z in &obstacles.blocking {
            nodes.extend(corner_points(self.shape(z), req.buffer_m));
        }
        // Dijkstra with edges tested lazily: only nodes popped get their
        // neighbours checked, so a clear direct leg costs one test.
        let n = nodes.len();
        let mut dist = vec![f64::INFINITY; n];
        let mut prev = vec![usize::MAX; n];
        let mut done = vec![false; n];
        let mut heap = BinaryHeap::new();
        dist[0] = 0.0;
        heap.push(Entry(0.0, 0));
        while let Some(Entry(d, u)) = heap.pop() {
            if done[u] {
                continue;
            }
            done[u] = true;
            if u == 1 {
                break;
            }
            for v in 0..n {
                if done[v] {
                    continue;
                }
                let nd = d + nodes[u].distance(nodes[v]);
                if nd < dist[v] && obstacles.leg_is_clear(nodes[u], nodes[v]) {
                    dist[v] = nd;
                    prev[v] = u;
                    heap.push(Entry(nd, v));
                }
            }
        }
        if !dist[1].is_finite() {
            let mut zones: Vec<String> = obstacles
                .blocking
                .iter()
                .map(|&z| self.zone(z).id.clone())
                .collect();
            zones.truncate(10);
            return Err(NoDetour::Enclosed {
                zones: zones.join(", "),
                buffer_m: req.buffer_m,
            });
        }
        let mut path = vec![1];
        while *path.last().expect("non-empty") != 0 {
            path.push(prev[*path.last().expect("non-empty")]);
        }
        path.reverse();
        Ok(Detour {
            waypoints: path
                .iter()
                .map(|&i| frame.local.to_lon_lat(nodes[i]))
                .collect(),
            length_m: dist[1],
            direct_length_m: a.distance(b),
        })
    }
}
