//! Planar geometry in local metres: the exact predicates every airspace
//! check rests on. Everything here is closed-set: a point on a zone's edge is
//! in the zone, a leg that only touches an edge or a vertex meets the zone.
//! The one exception is [`PlanarShape::contains`], a crossing-number test
//! whose answer exactly on the boundary is unspecified; callers that must
//! count the boundary use [`PlanarShape::distance`] or [`leg_intervals`].

use super::sides::{self, side_bits, side_bits_of_points, Line, SideBits};

/// A point (or vector) in local metres: x east, y north.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Xy {
    pub x: f64,
    pub y: f64,
}

impl Xy {
    pub const fn new(x: f64, y: f64) -> Xy {
        Xy { x, y }
    }
    pub(super) fn sub(self, o: Xy) -> Xy {
        Xy::new(self.x - o.x, self.y - o.y)
    }
    fn add(self, o: Xy) -> Xy {
        Xy::new(self.x + o.x, self.y + o.y)
    }
    fn scale(self, k: f64) -> Xy {
        Xy::new(self.x * k, self.y * k)
    }
    fn dot(self, o: Xy) -> f64 {
        self.x * o.x + self.y * o.y
    }
    pub(super) fn cross(self, o: Xy) -> f64 {
        self.x * o.y - self.y * o.x
    }
    pub fn distance(self, o: Xy) -> f64 {
        // Not hypot: it is several times slower and overflow cannot happen
        // at district scale.
        let (dx, dy) = (self.x - o.x, self.y - o.y);
        (dx * dx + dy * dy).sqrt()
    }
    /// The point a fraction `t` of the way from `self` to `to`.
    pub fn lerp(self, to: Xy, t: f64) -> Xy {
        self.add(to.sub(self).scale(t))
    }
}

/// Axis-aligned bounding box; closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl Bbox {
    pub const EMPTY: Bbox = Bbox {
        min_x: f64::INFINITY,
        min_y: f64::INFINITY,
        max_x: f64::NEG_INFINITY,
        max_y: f64::NEG_INFINITY,
    };

    pub fn of_points(points: &[Xy]) -> Bbox {
        points.iter().fold(Bbox::EMPTY, |b, p| b.including(*p))
    }

    pub fn of_segment(a: Xy, b: Xy) -> Bbox {
        Bbox {
            min_x: a.x.min(b.x),
            min_y: a.y.min(b.y),
            max_x: a.x.max(b.x),
            max_y: a.y.max(b.y),
        }
    }

    pub fn including(self, p: Xy) -> Bbox {
        Bbox {
            min_x: self.min_x.min(p.x),
            min_y: self.min_y.min(p.y),
            max_x: self.max_x.max(p.x),
            max_y: self.max_y.max(p.y),
        }
    }

    pub fn union(self, o: Bbox) -> Bbox {
        Bbox {
            min_x: self.min_x.min(o.min_x),
            min_y: self.min_y.min(o.min_y),
            max_x: self.max_x.max(o.max_x),
            max_y: self.max_y.max(o.max_y),
        }
    }

    pub fn expanded(self, d: f64) -> Bbox {
        Bbox {
            min_x: self.min_x - d,
            min_y: self.min_y - d,
            max_x: self.max_x + d,
            max_y: self.max_y + d,
        }
    }

    #[inline]
    pub fn intersects(&self, o: &Bbox) -> bool {
        self.min_x <= o.max_x
            && o.min_x <= self.max_x
            && self.min_y <= o.max_y
            && o.min_y <= self.max_y
    }

    #[inline]
    pub fn contains_point(&self, p: Xy) -> bool {
        p.x >= self.min_x && p.x <= self.max_x && p.y >= self.min_y && p.y <= self.max_y
    }
}

/// A simple closed ring. Stored closed (last point repeats the first) so its
/// edges are consecutive pairs; orientation and starting vertex are whatever
/// the source gave, and no predicate here depends on them.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    points: Vec<Xy>,
    bbox: Bbox,
}

impl Ring {
    /// `points` may or may not repeat the first point at the end. Needs at
    /// least 3 distinct vertices (validated at import; here a degenerate ring
    /// simply contains nothing).
    pub fn new(mut points: Vec<Xy>) -> Ring {
        if points.len() > 1 && points.first() == points.last() {
            points.pop();
        }
        if let Some(first) = points.first().copied() {
            points.push(first);
        }
        let bbox = Bbox::of_points(&points);
        Ring { points, bbox }
    }

    /// Vertices without the closing repeat.
    pub fn vertices(&self) -> &[Xy] {
        &self.points[..self.points.len().saturating_sub(1)]
    }

    pub fn bbox(&self) -> Bbox {
        self.bbox
    }

    #[inline]
    pub fn edges(&self) -> impl Iterator<Item = (Xy, Xy)> + '_ {
        self.points.windows(2).map(|w| (w[0], w[1]))
    }

    /// Even-odd crossing test (half-open in y, so each crossing counts once).
    #[inline]
    pub fn contains(&self, p: Xy) -> bool {
        if !self.bbox.contains_point(p) {
            return false;
        }
        let mut inside = false;
        for w in self.points.windows(2) {
            let (a, b) = (w[0], w[1]);
            if (a.y > p.y) != (b.y > p.y) {
                let x = a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x);
                if p.x < x {
                    inside = !inside;
                }
            }
        }
        inside
    }

    pub fn distance_to_edge(&self, p: Xy) -> f64 {
        self.edges()
            .map(|(a, b)| point_segment_distance2(p, a, b))
            .fold(f64::INFINITY, f64::min)
            .sqrt()
    }

    /// Twice the signed area: positive counter-clockwise.
    pub fn signed_area2(&self) -> f64 {
        self.edges().map(|(a, b)| a.cross(b)).sum()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanarPolygon {
    pub exterior: Ring,
    pub holes: Vec<Ring>,
}

/// A zone's footprint in local metres.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanarShape {
    Polygon(PlanarPolygon),
    Circle { center: Xy, radius_m: f64 },
}

impl PlanarShape {
    pub fn polygon(exterior: Vec<Xy>, holes: Vec<Vec<Xy>>) -> PlanarShape {
        PlanarShape::Polygon(PlanarPolygon {
            exterior: Ring::new(exterior),
            holes: holes.into_iter().map(Ring::new).collect(),
        })
    }

    pub fn bbox(&self) -> Bbox {
        match self {
            PlanarShape::Polygon(p) => p.exterior.bbox(),
            PlanarShape::Circle { center, radius_m } => {
                Bbox::of_segment(*center, *center).expanded(*radius_m)
            }
        }
    }

    fn rings(&self) -> impl Iterator<Item = &Ring> {
        let rings: &[Ring] = match self {
            PlanarShape::Polygon(p) => std::slice::from_ref(&p.exterior),
            PlanarShape::Circle { .. } => &[],
        };
        let holes: &[Ring] = match self {
            PlanarShape::Polygon(p) => &p.holes,
            PlanarShape::Circle { .. } => &[],
        };
        rings.iter().chain(holes.iter())
    }

    /// Interior test; unspecified exactly on the boundary (see module doc).
    #[inline]
    pub fn contains(&self, p: Xy) -> bool {
        match self {
            PlanarShape::Polygon(poly) => {
                poly.exterior.contains(p) && !poly.holes.iter().any(|h| h.contains(p))
            }
            PlanarShape::Circle { center, radius_m } => {
                let d = p.sub(*center);
                d.dot(d) < radius_m * radius_m
            }
        }
    }

    /// Distance from `p` to the closed shape: 0 inside or on the boundary.
    pub fn distance(&self, p: Xy) -> f64 {
        match self {
            PlanarShape::Polygon(_) => {
                let edge = self.distance_to_boundary(p);
                if self.contains(p) {
                    0.0
                } else {
                    edge
                }
            }
            PlanarShape::Circle { center, radius_m } => (p.distance(*center) - radius_m).max(0.0),
        }
    }

    /// Distance from `p` to the nearest boundary (any ring, or the circle).
    pub fn distance_to_boundary(&self, p: Xy) -> f64 {
        match self {
            PlanarShape::Polygon(_) => self
                .rings()
                .map(|r| r.distance_to_edge(p))
                .fold(f64::INFINITY, f64::min),
            PlanarShape::Circle { center, radius_m } => (p.distance(*center) - radius_m).abs(),
        }
    }

    /// Whether the segment `a`-`b` meets the closed shape (touching counts).
    /// This is the hot predicate of the benchmark: an endpoint inside, or any
    /// edge crossed or touched. If neither, the segment lies wholly outside
    /// or wholly inside one hole.
    #[inline]
    pub fn meets_segment(&self, a: Xy, b: Xy) -> bool {
        match self {
            PlanarShape::Polygon(poly) if a != b => {
                // Each ring by the sides of the leg's line: contact, or the
                // even-odd parity of `a` over all rings (inside the
                // exterior and outside every hole, for a valid polygon).
                let sb = Bbox::of_segment(a, b);
                let line = Line::through(a, b);
                let mut inside = false;
                for ring in std::iter::once(&poly.exterior).chain(poly.holes.iter()) {
                    // A ring whose box is clear of the segment's box cannot
                    // be touched, and `a` is outside it.
                    if !ring.bbox.intersects(&sb) {
                        continue;
                    }
                    let points = &ring.points;
                    let contact = ring_scan(
                        a,
                        b,
                        &sb,
                        points.len(),
                        |k| points[k],
                        |from, n| side_bits_of_points(&line, &points[from..from + n]),
                    );
                    match contact {
                        Contact::Touches => return true,
                        Contact::CrossesRay => inside = !inside,
                        Contact::Misses => {}
                    }
                }
                inside
            }
            PlanarShape::Polygon(poly) => {
                // A point: on an edge, or inside.
                poly.exterior
                    .edges()
                    .chain(poly.holes.iter().flat_map(|h| h.edges()))
                    .any(|(c, d)| segments_meet(a, a, c, d))
                    || self.contains(a)
            }
            PlanarShape::Circle { center, radius_m } => {
                point_segment_distance(*center, a, b) <= *radius_m
            }
        }
    }
}

/// Whether the box of edge `c`-`d` meets `b`: `Bbox::of_segment(c, d)
/// .intersects(b)` for finite coordinates, without forming the box (the hot
/// test of every edge scan; most edges fail it on one axis).
#[inline]
fn edge_box_meets(c: Xy, d: Xy, b: &Bbox) -> bool {
    !((c.x < b.min_x && d.x < b.min_x)
        || (c.x > b.max_x && d.x > b.max_x)
        || (c.y < b.min_y && d.y < b.min_y)
        || (c.y > b.max_y && d.y > b.max_y))
}

#[inline]
fn orient(a: Xy, b: Xy, c: Xy) -> f64 {
    (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)
}

/// Closed segments `a`-`b` and `c`-`d` share at least one point.
#[inline]
pub fn segments_meet(a: Xy, b: Xy, c: Xy, d: Xy) -> bool {
    if a.x.max(b.x) < c.x.min(d.x)
        || c.x.max(d.x) < a.x.min(b.x)
        || a.y.max(b.y) < c.y.min(d.y)
        || c.y.max(d.y) < a.y.min(b.y)
    {
        return false;
    }
    boxed_segments_meet(a, b, c, d)
}

/// [`segments_meet`] for segments whose boxes are known to meet.
#[inline]
fn boxed_segments_meet(a: Xy, b: Xy, c: Xy, d: Xy) -> bool {
    let d1 = orient(c, d, a);
    let d2 = orient(c, d, b);
    let d3 = orient(a, b, c);
    let d4 = orient(a, b, d);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    // Touching or collinear: the bounding boxes already overlap, so a zero
    // orientation means the point lies on the other segment.
    (d1 == 0.0 && on_segment(c, d, a))
        || (d2 == 0.0 && on_segment(c, d, b))
        || (d3 == 0.0 && on_segment(a, b, c))
        || (d4 == 0.0 && on_segment(a, b, d))
}

#[inline]
fn on_segment(a: Xy, b: Xy, p: Xy) -> bool {
    p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
}

pub fn point_segment_distance(p: Xy, a: Xy, b: Xy) -> f64 {
    point_segment_distance2(p, a, b).sqrt()
}

/// Squared distance from `p` to segment `a`-`b`.
#[inline]
fn point_segment_distance2(p: Xy, a: Xy, b: Xy) -> f64 {
    Segment::new(a, b).distance2(p)
}

/// A segment with its direction and squared length worked out once: a
/// route check measures each leg against the discs of several zones.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    a: Xy,
    ab: Xy,
    len2: f64,
    /// `1 / len2`, or 0 for a segment of no length.
    inv_len2: f64,
}

impl Segment {
    #[inline]
    pub fn new(a: Xy, b: Xy) -> Segment {
        let ab = b.sub(a);
        let len2 = ab.dot(ab);
        Segment {
            a,
            ab,
            len2,
            inv_len2: if len2 > 0.0 { 1.0 / len2 } else { 0.0 },
        }
    }

    /// The start, the direction (end minus start) and `1 / len2` (0 for a
    /// segment of no length), as [`Segment::distance2_filter`] uses them:
    /// for the same filter worked out several segments at a time.
    #[inline]
    pub fn filter_terms(&self) -> (Xy, Xy, f64) {
        (self.a, self.ab, self.inv_len2)
    }

    /// [`Segment::distance2`] with the division done once, in `new`: for
    /// filters whose margins far exceed the extra rounding (a few parts in
    /// 2^52 of the segment's length), tried against many points per leg.
    #[inline]
    #[allow(clippy::manual_clamp)]
    pub fn distance2_filter(&self, p: Xy) -> f64 {
        let t = p.sub(self.a).dot(self.ab) * self.inv_len2;
        // `max` and `min`, not `clamp` or a comparison: those compile to
        // branches, and where the nearest point falls follows no pattern.
        let t = t.max(0.0).min(1.0);
        let d = p.sub(self.a.add(self.ab.scale(t)));
        d.dot(d)
    }

    /// Squared distance from `p` to the segment.
    #[inline]
    pub fn distance2(&self, p: Xy) -> f64 {
        let t = if self.len2 > 0.0 {
            (p.sub(self.a).dot(self.ab) / self.len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let d = p.sub(self.a.add(self.ab.scale(t)));
        d.dot(d)
    }
}

/// Closed parameter interval `[t0, t1]` along a leg, `0 <= t0 <= t1 <= 1`.
pub type Interval = (f64, f64);

/// The parts of the leg `a`-`b` that come within `buffer_m` of the closed
/// shape, as sorted disjoint parameter intervals. Exact up to rounding: the
/// buffered shape is the union of the shape and a capsule around every
/// edge, and a line meets a convex capsule in one interval. A leg that only
/// touches gives a zero-length interval, which still counts.
pub fn leg_intervals(a: Xy, b: Xy, shape: &PlanarShape, buffer_m: f64) -> Vec<Interval> {
    let mut scratch = LegScratch::default();
    leg_intervals_into(a, b, shape, buffer_m, &mut scratch);
    scratch.out
}

/// Working space of [`leg_intervals_into`], kept by the caller so a route
/// check allocates once, not per (leg, zone).
#[derive(Debug, Default)]
pub struct LegScratch {
    cuts: Vec<f64>,
    /// The answer of the last call.
    pub out: Vec<Interval>,
}

/// [`leg_intervals`] into `scratch.out`, reusing its buffers.
pub fn leg_intervals_into(
    a: Xy,
    b: Xy,
    shape: &PlanarShape,
    buffer_m: f64,
    scratch: &mut LegScratch,
) {
    let LegScratch { cuts, out } = scratch;
    out.clear();
    let v = b.sub(a);
    if v.dot(v) == 0.0 {
        if shape.distance(a) <= buffer_m {
            out.push((0.0, 1.0));
        }
        return;
    }
    match shape {
        PlanarShape::Circle { center, radius_m } => {
            if let Some(i) = line_disc(a, v, *center, radius_m + buffer_m) {
                out.push(i);
            }
        }
        PlanarShape::Polygon(_) => {
            // Inside parts: split the leg where it crosses any ring and test
            // the middle of each piece.
            // Edges whose boxes are further than the buffer from the leg's
            // box can neither cross it nor come within the buffer.
            let leg_box = Bbox::of_segment(a, b);
            let near_box = leg_box.expanded(buffer_m);
            cuts.clear();
            cuts.extend([0.0, 1.0]);
            for ring in shape.rings() {
                if !ring.bbox.intersects(&leg_box) {
                    continue;
                }
                for (c, d) in ring.edges() {
                    if edge_box_meets(c, d, &leg_box) {
                        if let Some(t) = crossing_parameter(a, v, c, d) {
                            cuts.push(t);
                        } else if buffer_m <= 0.0 {
                            // Parallel: only a collinear overlap touches.
                            if let Some(i) = collinear_overlap(a, v, c, d) {
                                out.push(i);
                            }
                        }
                    }
                }
            }
            cuts.sort_unstable_by(f64::total_cmp);
            for w in cuts.windows(2) {
                if w[1] > w[0] && shape.contains(a.lerp(b, (w[0] + w[1]) / 2.0)) {
                    out.push((w[0], w[1]));
                }
            }
            if buffer_m <= 0.0 {
                // Without a buffer the closed shape adds to the inside pieces
                // only where the leg touches an edge: every crossing
                // parameter (the seeds 0 and 1 are not crossings) and the
                // collinear overlaps above. No capsules needed.
                let mut seeds = 2;
                for &t in cuts.iter() {
                    if (t == 0.0 || t == 1.0) && seeds > 0 {
                        seeds -= 1;
                        continue;
                    }
                    out.push((t, t));
                }
                merge_intervals(out);
                return;
            }
            for ring in shape.rings() {
                if !ring.bbox.intersects(&near_box) {
                    continue;
                }
                for (c, d) in ring.edges() {
                    if edge_box_meets(c, d, &near_box) {
                        if let Some(i) = line_capsule(a, v, c, d, buffer_m) {
                            out.push(i);
                        }
                    }
                }
            }
        }
    }
    merge_intervals(out);
}

/// Polygon rings laid out for scanning: the points of every ring in one
/// array, ring after ring (each closed), with each ring's box beside its
/// place. An index lays its zones out in map order, so a route's legs,
/// which meet neighbouring zones, read neighbouring memory: a check is
/// bound by memory reads far more than by arithmetic.
#[derive(Debug, Clone, Default)]
pub struct FlatRings {
    points: Vec<Xy>,
    /// The same points column-wise, for the wide reads of
    /// [`sides::side_bits`]: per ring, its x coordinates and then its y
    /// coordinates, each followed by [`sides::PADDING`] copies of the last.
    /// One ring's numbers are one run of memory, read front to back.
    columns: Vec<f64>,
    rings: Vec<FlatRing>,
}

#[derive(Debug, Clone, Copy)]
struct FlatRing {
    bbox: Bbox,
    start: u32,
    end: u32,
    /// Where the ring's x coordinates start in `columns`.
    column: u32,
}

/// A polygon's rings in a [`FlatRings`]: numbers `first..end`, exterior first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatPolygon {
    pub first: u32,
    pub end: u32,
}

impl FlatRings {
    pub fn push_polygon(&mut self, poly: &PlanarPolygon) -> FlatPolygon {
        let first = self.rings.len() as u32;
        for ring in std::iter::once(&poly.exterior).chain(poly.holes.iter()) {
            let start = self.points.len() as u32;
            let column = self.columns.len() as u32;
            self.points.extend_from_slice(&ring.points);
            let last = ring.points.last().copied().unwrap_or(Xy::new(0.0, 0.0));
            let padded = || {
                ring.points
                    .iter()
                    .chain(std::iter::repeat_n(&last, sides::PADDING))
            };
            self.columns.extend(padded().map(|p| p.x));
            self.columns.extend(padded().map(|p| p.y));
            self.rings.push(FlatRing {
                bbox: ring.bbox,
                start,
                end: self.points.len() as u32,
                column,
            });
        }
        FlatPolygon {
            first,
            end: self.rings.len() as u32,
        }
    }

    #[inline]
    fn rings(&self, p: FlatPolygon) -> &[FlatRing] {
        &self.rings[p.first as usize..p.end as usize]
    }

    #[inline]
    fn points(&self, r: &FlatRing) -> &[Xy] {
        &self.points[r.start as usize..r.end as usize]
    }

    /// The ring's coordinates column-wise, with the padding after them.
    #[inline]
    fn columns(&self, r: &FlatRing) -> (&[f64], &[f64]) {
        let from = r.column as usize;
        let len = (r.end - r.start) as usize + sides::PADDING;
        self.columns[from..from + 2 * len].split_at(len)
    }

    /// As [`Ring::contains`] for each ring, then [`PlanarShape::contains`].
    #[inline]
    fn polygon_contains(&self, p: FlatPolygon, q: Xy) -> bool {
        let rings = self.rings(p);
        let in_ring = |r: &FlatRing| r.bbox.contains_point(q) && ray_parity(self.points(r), q);
        in_ring(&rings[0]) && !rings[1..].iter().any(in_ring)
    }
}

/// Even-odd crossing test of a closed point list (half-open in y).
#[inline]
fn ray_parity(points: &[Xy], p: Xy) -> bool {
    let mut inside = false;
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > p.y) != (b.y > p.y) {
            let x = a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x);
            if p.x < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// For an unbuffered leg of non-zero length and a polygon: whether the leg
/// meets it, exactly as [`PlanarShape::meets_segment`] answers, and if so
/// its parts in the polygon, exactly as [`leg_intervals`] gives them, into
/// `scratch.out`. One pass over the edges serves both (a route check needs
/// both: the first decides, the second explains).
pub fn leg_meets_with_intervals(
    a: Xy,
    b: Xy,
    flat: &FlatRings,
    polygon: FlatPolygon,
    scratch: &mut LegScratch,
) -> bool {
    let v = b.sub(a);
    let LegScratch { cuts, out } = scratch;
    out.clear();
    cuts.clear();
    cuts.extend([0.0, 1.0]);
    let sb = Bbox::of_segment(a, b);
    let mut touched = false;
    let mut inside = false;
    let rings = flat.rings(polygon);
    // Whether the pieces' insides may be told by counting crossings from
    // `a`'s side instead of testing each piece's middle: only for one ring
    // crossed cleanly (not near a vertex, not along an edge, crossings
    // well apart, below), where both give the same answer.
    let mut clean = rings.len() == 1;
    for ring in rings {
        if !ring.bbox.intersects(&sb) {
            continue;
        }
        let points = flat.points(ring);
        let mut parity = false;
        for w in points.windows(2) {
            let (c, d) = (w[0], w[1]);
            // `a`'s ray test over every edge, as `ray_parity` does.
            if (c.y > a.y) != (d.y > a.y) {
                let x = c.x + (a.y - c.y) / (d.y - c.y) * (d.x - c.x);
                if a.x < x {
                    parity = !parity;
                }
            }
            if edge_box_meets(c, d, &sb) {
                touched = touched || boxed_segments_meet(a, b, c, d);
                match line_crossing(a, v, c, d) {
                    Some((t, u)) => {
                        if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
                            cuts.push(t);
                        }
                        // Near a vertex, or near either end of the leg (an
                        // end on or next to the edge): count nothing on it.
                        let near_u = u > -CLEAN_GAP && u < 1.0 + CLEAN_GAP;
                        let near_end = t.abs() <= CLEAN_GAP || (t - 1.0).abs() <= CLEAN_GAP;
                        clean &= !(near_u && (u <= CLEAN_GAP || u >= 1.0 - CLEAN_GAP || near_end));
                    }
                    None => {
                        if let Some(i) = collinear_overlap(a, v, c, d) {
                            out.push(i);
                        }
                        clean = false;
                    }
                }
            }
        }
        // Even-odd over the rings, as `meets_segment` counts `a` (it only
        // matters when no edge is touched).
        if parity {
            inside = !inside;
        }
    }
    if !(touched || inside) {
        out.clear();
        return false;
    }
    cuts.sort_unstable_by(f64::total_cmp);
    clean &= cuts.windows(2).all(|w| w[1] - w[0] > CLEAN_GAP);
    if clean {
        // One ring, every crossing transversal: the leg is inside from `a`
        // as `a` is, and changes side at each crossing.
        let mut state = inside;
        for w in cuts.windows(2) {
            if state {
                out.push((w[0], w[1]));
            }
            state = !state;
        }
    } else {
        for w in cuts.windows(2) {
            if w[1] > w[0] && flat.polygon_contains(polygon, a.lerp(b, (w[0] + w[1]) / 2.0)) {
                out.push((w[0], w[1]));
            }
        }
    }
    let mut seeds = 2;
    for &t in cuts.iter() {
        if (t == 0.0 || t == 1.0) && seeds > 0 {
            seeds -= 1;
            continue;
        }
        out.push((t, t));
    }
    merge_intervals(out);
    true
}

/// [`leg_intervals`] with a buffer (`buffer_m > 0`) for a leg of non-zero
/// length and a polygon laid out flat, exactly as `leg_intervals` gives them,
/// into `scratch.out`: the pieces inside, read by counting crossings where
/// the ring is crossed cleanly, and the capsules of the edges near the leg.
pub fn leg_intervals_flat(
    a: Xy,
    b: Xy,
    flat: &FlatRings,
    polygon: FlatPolygon,
    buffer_m: f64,
    scratch: &mut LegScratch,
) {
    let v = b.sub(a);
    let LegScratch { cuts, out } = scratch;
    out.clear();
    cuts.clear();
    cuts.extend([0.0, 1.0]);
    let leg_box = Bbox::of_segment(a, b);
    let near_box = leg_box.expanded(buffer_m);
    let rings = flat.rings(polygon);
    let mut clean = rings.len() == 1;
    let mut inside = false;
    for ring in rings {
        if !ring.bbox.intersects(&near_box) {
            // Neither crossed nor near; `a` is outside its box.
            clean &= !ring.bbox.contains_point(a);
            continue;
        }
        let points = flat.points(ring);
        let mut parity = false;
        for w in points.windows(2) {
            let (c, d) = (w[0], w[1]);
            if (c.y > a.y) != (d.y > a.y) {
                let x = c.x + (a.y - c.y) / (d.y - c.y) * (d.x - c.x);
                if a.x < x {
                    parity = !parity;
                }
            }
            if edge_box_meets(c, d, &near_box) {
                if edge_box_meets(c, d, &leg_box) {
                    match line_crossing(a, v, c, d) {
                        Some((t, u)) => {
                            if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
                                cuts.push(t);
                            }
                            let near_u = u > -CLEAN_GAP && u < 1.0 + CLEAN_GAP;
                            let near_end = t.abs() <= CLEAN_GAP || (t - 1.0).abs() <= CLEAN_GAP;
                            clean &=
                                !(near_u && (u <= CLEAN_GAP || u >= 1.0 - CLEAN_GAP || near_end));
                        }
                        None => clean = false,
                    }
                }
                if let Some(i) = line_capsule(a, v, c, d, buffer_m) {
                    out.push(i);
                }
            }
        }
        inside = parity;
    }
    cuts.sort_unstable_by(f64::total_cmp);
    clean &= cuts.windows(2).all(|w| w[1] - w[0] > CLEAN_GAP);
    if clean {
        let mut state = inside;
        for w in cuts.windows(2) {
            if state {
                out.push((w[0], w[1]));
            }
            state = !state;
        }
    } else {
        for w in cuts.windows(2) {
            if w[1] > w[0] && flat.polygon_contains(polygon, a.lerp(b, (w[0] + w[1]) / 2.0)) {
                out.push((w[0], w[1]));
            }
        }
    }
    merge_intervals(out);
}

/// Sorts and merges overlapping intervals in place.
fn merge_intervals(v: &mut Vec<Interval>) {
    if v.len() < 2 {
        return;
    }
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut n = 0;
    for i in 0..v.len() {
        let (s, e) = v[i];
        if n > 0 && s <= v[n - 1].1 {
            v[n - 1].1 = v[n - 1].1.max(e);
        } else {
            v[n] = (s, e);
            n += 1;
        }
    }
    v.truncate(n);
}

/// How far apart (as fractions of the leg, and of an edge) crossings must
/// be, and from vertices, for the crossing count to stand in for testing
/// each piece: far beyond rounding, so both tell the same side.
const CLEAN_GAP: f64 = 1e-7;

/// Where the lines of `a + t v` and c-d cross, as `(t, u)` along each
/// (unclamped; None when parallel): [`crossing_parameter`] is `t` when both
/// are in [0, 1], computed the same way.
#[inline]
fn line_crossing(a: Xy, v: Xy, c: Xy, d: Xy) -> Option<(f64, f64)> {
    let w = d.sub(c);
    let denom = v.cross(w);
    if denom == 0.0 {
        return None;
    }
    let ac = c.sub(a);
    Some((ac.cross(w) / denom, ac.cross(v) / denom))
}

/// Parameter along `a + t v`, t in [0, 1], where it crosses segment c-d.
fn crossing_parameter(a: Xy, v: Xy, c: Xy, d: Xy) -> Option<f64> {
    let w = d.sub(c);
    let denom = v.cross(w);
    if denom == 0.0 {
        return None;
    }
    let ac = c.sub(a);
    let t = ac.cross(w) / denom;
    let u = ac.cross(v) / denom;
    ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u)).then_some(t)
}

/// Where `a + t v`, t in [0, 1], runs along segment c-d (collinear).
fn collinear_overlap(a: Xy, v: Xy, c: Xy, d: Xy) -> Option<Interval> {
    // Both ends on the leg's line: an edge that only starts on it (beyond
    // the leg) does not run along it.
    if v.cross(c.sub(a)) != 0.0 || v.cross(d.sub(a)) != 0.0 {
        return None;
    }
    let len2 = v.dot(v);
    let (tc, td) = (c.sub(a).dot(v) / len2, d.sub(a).dot(v) / len2);
    clip01(tc.min(td), tc.max(td))
}

/// Where `a + t v`, t in [0, 1], lies within `r` of `center`.
fn line_disc(a: Xy, v: Xy, center: Xy, r: f64) -> Option<Interval> {
    let f = a.sub(center);
    let qa = v.dot(v);
    let qb = 2.0 * f.dot(v);
    let qc = f.dot(f) - r * r;
    let disc = qb * qb - 4.0 * qa * qc;
    if disc < 0.0 {
        return None;
    }
    let s = disc.sqrt();
    clip01((-qb - s) / (2.0 * qa), (-qb + s) / (2.0 * qa))
}

fn clip01(t0: f64, t1: f64) -> Option<Interval> {
    let (t0, t1) = (t0.max(0.0), t1.min(1.0));
    (t0 <= t1).then_some((t0, t1))
}

/// Where `a + t v`, t in [0, 1], lies within `r` of segment c-d (a capsule).
fn line_capsule(a: Xy, v: Xy, c: Xy, d: Xy, r: f64) -> Option<Interval> {
    let mut best: Option<Interval> = None;
    let mut take = |i: Option<Interval>| {
        if let Some((s, e)) = i {
            best = Some(match best {
                None => (s, e),
                Some((bs, be)) => (bs.min(s), be.max(e)),
            });
        }
    };
    take(line_disc(a, v, c, r));
    take(line_disc(a, v, d, r));
    let e = d.sub(c);
    let len = e.dot(e).sqrt();
    if len > 0.0 {
        let u = e.scale(1.0 / len);
        let n = Xy::new(-u.y, u.x);
        let p = a.sub(c);
        // Slab clipping in the edge's frame: along in [0, len], across in [-r, r].
        let mut lo: f64 = 0.0;
        let mut hi: f64 = 1.0;
        let mut ok = true;
        for (p0, dv, min, max) in [(p.dot(u), v.dot(u), 0.0, len), (p.dot(n), v.dot(n), -r, r)] {
            if dv == 0.0 {
                if p0 < min || p0 > max {
                    ok = false;
                }
            } else {
                let (mut t0, mut t1) = ((min - p0) / dv, (max - p0) / dv);
                if t0 > t1 {
                    std::mem::swap(&mut t0, &mut t1);
                }
                lo = lo.max(t0);
                hi = hi.min(t1);
            }
        }
        if ok && lo <= hi {
            take(Some((lo, hi)));
        }
    }
    best
}

/// Local east-north metres around a reference point (equirectangular):
/// accurate to well under a metre across a city district, which is the
/// scale zones and routes are checked at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    pub origin_lon: f64,
    pub origin_lat: f64,
    metres_per_deg_lon: f64,
    metres_per_deg_lat: f64,
    /// Longitudes are angles: a difference from the origin's is taken the
    /// short way round (so a zone across the 180th meridian stays whole).
    /// Not for [`LocalFrame::identity`], whose coordinates are metres.
    wraps: bool,
}

const EARTH_RADIUS_M: f64 = 6_371_008.8;

impl LocalFrame {
    pub fn new(origin_lon: f64, origin_lat: f64) -> LocalFrame {
        let per_deg = EARTH_RADIUS_M.to_radians();
        LocalFrame {
            origin_lon,
            origin_lat,
            metres_per_deg_lon: per_deg * origin_lat.to_radians().cos(),
            metres_per_deg_lat: per_deg,
            wraps: true,
        }
    }

    /// A frame where coordinates already are metres (benchmark instances).
    pub fn identity() -> LocalFrame {
        LocalFrame {
            origin_lon: 0.0,
            origin_lat: 0.0,
            metres_per_deg_lon: 1.0,
            metres_per_deg_lat: 1.0,
            wraps: false,
        }
    }

    pub fn to_local(&self, lon: f64, lat: f64) -> Xy {
        let mut dlon = lon - self.origin_lon;
        if self.wraps {
            dlon = wrap_degrees(dlon);
        }
        Xy::new(
            dlon * self.metres_per_deg_lon,
            (lat - self.origin_lat) * self.metres_per_deg_lat,
        )
    }

    pub fn to_lon_lat(&self, p: Xy) -> (f64, f64) {
        let mut lon = self.origin_lon + p.x / self.metres_per_deg_lon;
        if self.wraps {
            lon = wrap_degrees(lon);
        }
        (lon, self.origin_lat + p.y / self.metres_per_deg_lat)
    }

    /// Converts a length in metres to degrees of longitude and latitude here.
    pub fn metres_to_degrees(&self, m: f64) -> (f64, f64) {
        (m / self.metres_per_deg_lon, m / self.metres_per_deg_lat)
    }
}

/// An angle in degrees, brought into `[-180, 180)`.
pub fn wrap_degrees(d: f64) -> f64 {
    if (-180.0..180.0).contains(&d) {
        d
    } else {
        d - 360.0 * ((d + 180.0) / 360.0).floor()
    }
}

/// The least signed clearance of the leg `a`-`b` from the edge of `shape`
/// (positive inside: how far the leg stays from the edge; negative: how far
/// outside it goes), with the fraction of the leg where it is reached.
///
/// The decision it feeds (is the leg inside, `buffer` clear of the edge?)
/// is exact: every crossing or touch of an edge is found, and a leg that
/// meets no edge lies wholly inside or wholly outside, its clearance then
/// being the distance between the leg and the nearest edge. Only how far a
/// leg goes outside, which is for the explanation, is measured at a few
/// points of each outside part.
pub fn leg_clearance(a: Xy, b: Xy, shape: &PlanarShape) -> (f64, f64) {
    let poly = match shape {
        // The distance from the centre is convex along the leg, so greatest
        // at an end.
        PlanarShape::Circle { center, radius_m } => {
            let (da, db) = (a.distance(*center), b.distance(*center));
            return if da >= db {
                (radius_m - da, 0.0)
            } else {
                (radius_m - db, 1.0)
            };
        }
        PlanarShape::Polygon(poly) => poly,
    };
    if a == b {
        let edge = shape.distance_to_boundary(a);
        return (if shape.contains(a) { edge } else { -edge }, 0.0);
    }
    let v = b.sub(a);
    let len2 = v.dot(v);
    // Fractions where the leg meets an edge, and the nearest approach to
    // any edge (squared distance, fraction of the leg).
    let mut cuts: Vec<f64> = Vec::new();
    let mut nearest = (f64::INFINITY, 0.0);
    let mut closer = |d2: f64, f: f64| {
        if d2 < nearest.0 {
            nearest = (d2, f);
        }
    };
    for ring in std::iter::once(&poly.exterior).chain(poly.holes.iter()) {
        for (c, d) in ring.edges() {
            closer(point_segment_distance2(a, c, d), 0.0);
            closer(point_segment_distance2(b, c, d), 1.0);
            for p in [c, d] {
                let f = (p.sub(a).dot(v) / len2).clamp(0.0, 1.0);
                closer(point_segment_distance2(p, a, b), f);
            }
            if !segments_meet(a, b, c, d) {
                continue;
            }
            match line_crossing(a, v, c, d) {
                Some((t, _)) => cuts.push(t.clamp(0.0, 1.0)),
                // Parallel and meeting: along the edge, or touching an end.
                None => {
                    for p in [c, d] {
                        cuts.push((p.sub(a).dot(v) / len2).clamp(0.0, 1.0));
                    }
                    cuts.extend([0.0, 1.0]);
                }
            }
            // A touch at a vertex of either may round the crossing away:
            // the ends of both segments bound it too.
            for p in [c, d] {
                if point_segment_distance2(p, a, b) == 0.0 {
                    cuts.push((p.sub(a).dot(v) / len2).clamp(0.0, 1.0));
                }
            }
        }
    }
    if cuts.is_empty() {
        // Wholly inside or wholly outside: one side throughout.
        if shape.contains(a) {
            return (nearest.0.sqrt(), nearest.1);
        }
        return deepest_outside(a, b, shape, &[(0.0, 1.0)])
            .unwrap_or((-nearest.0.sqrt(), nearest.1));
    }
    cuts.sort_unstable_by(f64::total_cmp);
    let first_touch = cuts[0];
    cuts.extend([0.0, 1.0]);
    cuts.sort_unstable_by(f64::total_cmp);
    cuts.dedup();
    // Between two consecutive meeting points the leg is on one side; its
    // middle tells which.
    let outside: Vec<Interval> = cuts
        .windows(2)
        .filter(|w| !shape.contains(a.lerp(b, (w[0] + w[1]) / 2.0)))
        .map(|w| (w[0], w[1]))
        .collect();
    deepest_outside(a, b, shape, &outside).unwrap_or((0.0, first_touch))
}

/// The farthest point outside `shape` of the given parts of the leg,
/// measured at 9 points of each, as (minus the distance, fraction).
fn deepest_outside(a: Xy, b: Xy, shape: &PlanarShape, parts: &[Interval]) -> Option<(f64, f64)> {
    let mut best: Option<(f64, f64)> = None;
    for &(s, e) in parts {
        for k in 0..=8 {
            let f = s + (e - s) * k as f64 / 8.0;
            let d = shape.distance(a.lerp(b, f));
            if best.is_none_or(|(bd, _)| -d < bd) {
                best = Some((-d, f));
            }
        }
    }
    best.filter(|&(d, _)| d < 0.0)
}

/// Whether the leg `a`-`b` meets a polygon laid out flat (touching counts),
/// deciding as [`PlanarShape::meets_segment`] does, stopping at the first
/// contact: the decision alone, for a zone that applies over the whole leg.
///
/// It reads the ring by the side of the leg's line each vertex is on (one
/// orientation per vertex): only the few edges whose ends are on opposite
/// sides can touch the leg or cross its ray, so most edges cost a product
/// and a compare, where testing each edge against the leg costs five.
/// `a`'s side of the polygon is the parity of the crossings of the ray
/// from `a` through `b`, a vertex exactly on the line counting as on its
/// left: the count for the line moved by an infinitesimal, consistent for
/// the two edges at a vertex. Contact is decided with the same orientation
/// signs as [`segments_meet`].
#[inline]
pub fn leg_meets_flat(a: Xy, b: Xy, flat: &FlatRings, polygon: FlatPolygon) -> bool {
    debug_assert!(a != b, "a leg of no length has no line to read sides by");
    let sb = Bbox::of_segment(a, b);
    let line = Line::through(a, b);
    let mut inside = false;
    for ring in flat.rings(polygon) {
        // A ring whose box is clear of the leg's is not touched, and `a`
        // is outside it (its crossings are even).
        if !ring.bbox.intersects(&sb) {
            continue;
        }
        let (xs, ys) = flat.columns(ring);
        let n = xs.len() - sides::PADDING;
        let contact = ring_scan(
            a,
            b,
            &sb,
            n,
            |k| Xy::new(xs[k], ys[k]),
            |from, n| side_bits(&line, &xs[from..], &ys[from..], n),
        );
        match contact {
            Contact::Touches => return true,
            Contact::CrossesRay => inside = !inside,
            Contact::Misses => {}
        }
    }
    inside
}

/// One closed ring against the leg `a`-`b` (of non-zero length; box `sb`)
/// by the sides of the leg's line, as [`leg_meets_flat`] reads it: whether
/// the leg touches the ring, else whether the ray from `a` through `b`
/// crosses it an odd number of times (`a` is inside it). The ring has
/// `len` points, `point(k)` the `k`th; `sides_of(from, n)` gives the sides
/// of the `n` (at most 64) points from `from`. The ring is read in windows
/// of 64 points, each sharing its first point with the previous window's
/// last.
#[inline]
fn ring_scan(
    a: Xy,
    b: Xy,
    sb: &Bbox,
    len: usize,
    point: impl Fn(usize) -> Xy,
    mut sides_of: impl FnMut(usize, usize) -> SideBits,
) -> Contact {
    let mut odd = false;
    let mut from = 0;
    while from + 1 < len {
        let n = (len - from).min(64);
        let bits = sides_of(from, n);
        // Most edges with their ends on both sides end strictly on both:
        // where the edge crosses the line is on the leg when `a` and `b`
        // are not strictly on one side of the edge; else the crossing is
        // beyond `b` (on the ray) if `a` is the farther from the edge.
        let mut across = bits.edges_across(n);
        let mut closer = bits.edges_to_check(n) & !across;
        while across != 0 {
            let k = from + across.trailing_zeros() as usize;
            across &= across - 1;
            let (c, d) = (point(k), point(k + 1));
            let (d1, d2) = (orient(c, d, a), orient(c, d, b));
            if !((d1 > 0.0 && d2 > 0.0) || (d1 < 0.0 && d2 < 0.0)) {
                return Contact::Touches;
            }
            if d1.abs() > d2.abs() {
                odd = !odd;
            }
        }
        // The rest have an end on the line (or a side that is not a
        // number, left alone as a product that is not <= 0 is).
        while closer != 0 {
            let k = from + closer.trailing_zeros() as usize;
            closer &= closer - 1;
            let (c, d) = (point(k), point(k + 1));
            let (sc, sd) = (orient(a, b, c), orient(a, b, d));
            if sc * sd <= 0.0 {
                match leg_and_edge(a, b, sb, c, d, sc, sd) {
                    Contact::Touches => return Contact::Touches,
                    Contact::CrossesRay => odd = !odd,
                    Contact::Misses => {}
                }
            }
        }
        from += 63;
    }
    if odd {
        Contact::CrossesRay
    } else {
        Contact::Misses
    }
}

pub(super) enum Contact {
    Touches,
    /// The edge crosses the ray from `a` through `b`, beyond `b`.
    CrossesRay,
    Misses,
}

/// How the leg `a`-`b` (box `sb`) and the edge `c`-`d` meet, given the
/// edge's ends' orientations `sc`, `sd` against the leg's line, at least
/// one of them zero (an edge with its ends strictly on opposite sides is
/// decided inline by [`ring_scan`]).
#[cold]
#[inline(never)]
fn leg_and_edge(a: Xy, b: Xy, sb: &Bbox, c: Xy, d: Xy, sc: f64, sd: f64) -> Contact {
    debug_assert!(sc == 0.0 || sd == 0.0);
    let beyond_b = |p: Xy| p.sub(a).dot(b.sub(a)) > 0.0;
    if sc == 0.0 && sd == 0.0 {
        // Along the line: touching if the two overlap (their boxes meet,
        // all four points being on one line).
        return if edge_box_meets(c, d, sb) {
            Contact::Touches
        } else {
            Contact::Misses
        };
    }
    if sc == 0.0 {
        // `c` on the line: on the leg is contact; elsewhere, the edge
        // crosses (moved line) only if `d` is on the right.
        if on_segment(a, b, c) {
            return Contact::Touches;
        }
        return if sd < 0.0 && beyond_b(c) {
            Contact::CrossesRay
        } else {
            Contact::Misses
        };
    }
    // `d` on the line: contact there is found with `d` as the next edge's
    // first end; the crossing counts here if `c` is on the right.
    if on_segment(a, b, d) {
        return Contact::Touches;
    }
    if sc < 0.0 && beyond_b(d) {
        Contact::CrossesRay
    } else {
        Contact::Misses
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn square() -> PlanarShape {
        PlanarShape::polygon(
            vec![
                Xy::new(0.0, 0.0),
                Xy::new(10.0, 0.0),
                Xy::new(10.0, 10.0),
                Xy::new(0.0, 10.0),
            ],
            vec![],
        )
    }

    #[test]
    fn leg_through_a_square_is_inside_for_its_middle_part() {
        let iv = leg_intervals(Xy::new(-10.0, 5.0), Xy::new(20.0, 5.0), &square(), 0.0);
        assert_eq!(iv.len(), 1);
        assert!(
            (iv[0].0 - 1.0 / 3.0).abs() < 1e-9 && (iv[0].1 - 2.0 / 3.0).abs() < 1e-9,
            "{iv:?}"
        );
    }

    #[test]
    fn buffer_widens_the_interval_by_the_buffer() {
        let iv = leg_intervals(Xy::new(-10.0, 5.0), Xy::new(20.0, 5.0), &square(), 3.0);
        assert!(
            (iv[0].0 - 7.0 / 30.0).abs() < 1e-9 && (iv[0].1 - 23.0 / 30.0).abs() < 1e-9,
            "{iv:?}"
        );
    }

    #[test]
    fn a_leg_passing_outside_the_buffer_has_no_interval() {
        assert!(
            leg_intervals(Xy::new(-10.0, 14.0), Xy::new(20.0, 14.0), &square(), 3.0).is_empty()
        );
        assert!(!square().meets_segment(Xy::new(-10.0, 14.0), Xy::new(20.0, 14.0)));
    }

    #[test]
    fn touching_a_vertex_meets() {
        // The line x + y = 20 touches the square only at its corner (10, 10).
        let (a, b) = (Xy::new(5.0, 15.0), Xy::new(15.0, 5.0));
        assert!(square().meets_segment(a, b));
        let iv = leg_intervals(a, b, &square(), 0.0);
        assert_eq!(iv.len(), 1);
        assert!(
            (iv[0].0 - 0.5).abs() < 1e-9 && (iv[0].1 - 0.5).abs() < 1e-9,
            "{iv:?}"
        );
    }

    /// Star polygons with a hole and legs around them, some along an edge
    /// or through a vertex: the one-pass scan over flat rings answers bit
    /// for bit as `meets_segment` and `leg_intervals` do.
    /// A reproducible source of numbers in [0, 1) (xorshift64).
    pub(in crate::airspace) fn uniform(mut state: u64) -> impl FnMut() -> f64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A random star-shaped ring about the origin: `n` vertices at sorted
    /// random angles, each between half and all of `r0` out, in whole
    /// metres if `whole_metres`.
    pub(in crate::airspace) fn star_ring(
        next: &mut impl FnMut() -> f64,
        n: usize,
        r0: f64,
        whole_metres: bool,
    ) -> Vec<Xy> {
        let mut angles: Vec<f64> = (0..n).map(|_| next() * std::f64::consts::TAU).collect();
        angles.sort_by(f64::total_cmp);
        angles
            .iter()
            .map(|a| {
                let r = r0 * (0.5 + 0.5 * next());
                let (x, y) = (r * a.cos(), r * a.sin());
                if whole_metres {
                    Xy::new(x.round(), y.round())
                } else {
                    Xy::new(x, y)
                }
            })
            .collect()
    }

    #[test]
    fn one_pass_over_flat_rings_answers_as_the_two_predicates() {
        let mut next = uniform(0x2545_F491_4F6C_DD1Du64);
        let mut met = 0;
        for _ in 0..400 {
            let n = 4 + (next() * 48.0) as usize;
            let r0 = 50.0 + next() * 500.0;
            let ring = star_ring(&mut next, n, r0, false);
            let hole: Vec<Xy> = (0..8)
                .map(|k| {
                    let a = k as f64 / 8.0 * std::f64::consts::TAU;
                    Xy::new(0.2 * r0 * a.cos(), 0.2 * r0 * a.sin())
                })
                .collect();
            // Half with a hole, half without (read by crossing counts).
            let holes = if next() < 0.5 { vec![hole] } else { Vec::new() };
            let shape = PlanarShape::polygon(ring.clone(), holes);
            let PlanarShape::Polygon(poly) = &shape else {
                unreachable!()
            };
            let mut flat = FlatRings::default();
            let polygon = flat.push_polygon(poly);
            let mut scratch = LegScratch::default();
            for k in 0..50 {
                let mut p = || Xy::new((next() - 0.5) * 3.0 * r0, (next() - 0.5) * 3.0 * r0);
                let (a, b) = match k % 10 {
                    0 => (ring[0], ring[1]),
                    1 => (p(), ring[2]),
                    2 => (Xy::new(0.0, 0.0), p()),
                    _ => (p(), p()),
                };
                let meets = leg_meets_with_intervals(a, b, &flat, polygon, &mut scratch);
                assert_eq!(meets, shape.meets_segment(a, b), "leg {a:?}-{b:?}");
                if meets {
                    met += 1;
                    assert_eq!(
                        scratch.out,
                        leg_intervals(a, b, &shape, 0.0),
                        "leg {a:?}-{b:?}"
                    );
                }
            }
        }
        assert!(met > 2000, "{met} legs met their polygon");
    }

    /// The plain definition, for reference: the leg touches an edge, or
    /// its start is inside (a crossing count along a horizontal ray).
    fn edge_by_edge(shape: &PlanarShape, a: Xy, b: Xy) -> bool {
        let PlanarShape::Polygon(p) = shape else {
            unreachable!()
        };
        std::iter::once(&p.exterior)
            .chain(&p.holes)
            .flat_map(|r| r.edges())
            .any(|(c, d)| segments_meet(a, b, c, d))
            || shape.contains(a)
    }

    /// The scan by sides of the leg's line decides as the edge-by-edge
    /// predicate does, on star polygons with and without a hole and legs
    /// of every kind: random, along an edge, from a vertex, through a
    /// vertex, on an edge's line covering the whole edge, inside the hole.
    #[test]
    fn the_scan_by_sides_of_the_line_decides_as_the_edge_by_edge_test() {
        let mut next = uniform(0x9E37_79B9_7F4A_7C15u64);
        let (mut met, mut missed) = (0, 0);
        for _ in 0..400 {
            // A quarter of the rings have more than 64 points, read in
            // several windows of side bits.
            let n = if next() < 0.25 {
                65 + (next() * 140.0) as usize
            } else {
                4 + (next() * 40.0) as usize
            };
            let r0 = 50.0 + next() * 500.0;
            // Whole metres, so that legs along edges and through vertices
            // are exact.
            let ring = star_ring(&mut next, n, r0, true);
            let hole: Vec<Xy> = [(-10.0, -10.0), (10.0, -10.0), (10.0, 10.0), (-10.0, 10.0)]
                .iter()
                .map(|&(x, y)| Xy::new(x, y))
                .collect();
            // The hole only where it lies inside the exterior (a polygon
            // is valid only so; the angle gaps may leave the centre out).
            let exterior = Ring::new(ring.clone());
            let room = exterior.contains(Xy::new(0.0, 0.0))
                && exterior.distance_to_edge(Xy::new(0.0, 0.0)) > 15.0;
            let holes = if room && next() < 0.5 {
                vec![hole]
            } else {
                Vec::new()
            };
            let shape = PlanarShape::polygon(ring.clone(), holes);
            let PlanarShape::Polygon(poly) = &shape else {
                unreachable!()
            };
            let mut flat = FlatRings::default();
            let polygon = flat.push_polygon(poly);
            for k in 0..60 {
                let v = (next() * n as f64) as usize % n;
                let mut p = || {
                    Xy::new(
                        ((next() - 0.5) * 3.0 * r0).round(),
                        ((next() - 0.5) * 3.0 * r0).round(),
                    )
                };
                let (c, d) = (ring[v], ring[(v + 1) % n]);
                let (a, b) = match k % 12 {
                    0 => (c, d),
                    1 => (p(), c),
                    2 => {
                        // Through the vertex and on past it.
                        let q = p();
                        (q, Xy::new(2.0 * c.x - q.x, 2.0 * c.y - q.y))
                    }
                    3 => (
                        Xy::new(2.0 * c.x - d.x, 2.0 * c.y - d.y),
                        Xy::new(2.0 * d.x - c.x, 2.0 * d.y - c.y),
                    ),
                    4 => (Xy::new(-3.0, 0.0), Xy::new(4.0, 1.0)),
                    5 => (Xy::new(c.x, p().y), Xy::new(c.x, p().y)),
                    _ => (p(), p()),
                };
                if a == b {
                    continue;
                }
                let expected = edge_by_edge(&shape, a, b);
                assert_eq!(
                    leg_meets_flat(a, b, &flat, polygon),
                    expected,
                    "leg {a:?}-{b:?} against {ring:?}"
                );
                assert_eq!(shape.meets_segment(a, b), expected, "leg {a:?}-{b:?}");
                if expected {
                    met += 1;
                } else {
                    missed += 1;
                }
            }
        }
        assert!(met > 5000 && missed > 3000, "{met} met, {missed} missed");
    }

    #[test]
    fn frame_round_trips() {
        let f = LocalFrame::new(114.4, 30.5);
        let p = f.to_local(114.41, 30.51);
        let (lon, lat) = f.to_lon_lat(p);
        assert!((lon - 114.41).abs() < 1e-12 && (lat - 30.51).abs() < 1e-12);
        assert!((p.y - 1111.95).abs() < 1.0, "{p:?}");
    }

    #[test]
    fn longitudes_are_taken_the_short_way_round_the_180th_meridian() {
        // 179.9 E and 179.9 W are 0.2 degrees apart, whichever side of
        // the meridian the frame's origin lies, and map back to themselves.
        for origin in [179.5, -179.5, 114.4] {
            let f = LocalFrame::new(origin, 10.0);
            let (east, west) = (f.to_local(179.9, 10.0), f.to_local(-179.9, 10.0));
            let per_deg = EARTH_RADIUS_M.to_radians() * 10f64.to_radians().cos();
            assert!(
                ((west.x - east.x) - 0.2 * per_deg).abs() < 1e-3,
                "{origin}: {east:?} {west:?}"
            );
            let (lon, _) = f.to_lon_lat(west);
            assert!((lon + 179.9).abs() < 1e-9, "{origin}: {lon}");
        }
        // Metres are not angles.
        let m = LocalFrame::identity();
        assert_eq!(m.to_local(30_000.0, 5.0), Xy::new(30_000.0, 5.0));
    }
}
