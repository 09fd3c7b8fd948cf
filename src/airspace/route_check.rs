//! Leg-by-leg route check in 3D and time. Each leg is a segment between two
//! waypoints, flown from the first waypoint's time to the second's, its
//! altitude varying linearly. A zone conflicts with a leg when there is a
//! part of the leg that is at once within the lateral buffer of the zone's
//! footprint, inside its band (plus the vertical margin), and flown while the
//! zone applies. The answer names the leg, the zone, and where, at what
//! altitude and when that part starts, and how deep it goes.

use std::fmt;

use chrono::{DateTime, Duration, FixedOffset, Utc};

use std::sync::Arc;

use super::geom::{
    leg_clearance, leg_intervals_flat, leg_intervals_into, leg_meets_with_intervals, Bbox,
    Interval, LegScratch, LocalFrame, PlanarShape, Segment, Xy,
};
use super::index::ZoneIndex;
use super::triage::{self, Candidate, LegTriage, Triage, Verdicts};
use super::zone::{Zone, ZoneKind};

/// A waypoint of a planned route, with the time the plan reaches it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waypoint {
    pub lon: f64,
    pub lat: f64,
    pub alt_agl_m: f64,
    pub time: DateTime<Utc>,
}

/// Builds waypoint times for points flown one after the other at a ground
/// speed, starting at `start`.
pub fn timed_route(
    index: &ZoneIndex,
    points: &[(f64, f64, f64)],
    start: DateTime<Utc>,
    speed_m_s: f64,
) -> Vec<Waypoint> {
    let frame = &index.frame().local;
    let mut t = start;
    let mut out = Vec::with_capacity(points.len());
    for (i, &(lon, lat, alt)) in points.iter().enumerate() {
        if i > 0 {
            let (plon, plat, palt) = points[i - 1];
            let d = frame
                .to_local(plon, plat)
                .distance(frame.to_local(lon, lat));
            let d = d.hypot(alt - palt);
            t += Duration::milliseconds((d / speed_m_s.max(0.1) * 1000.0).round() as i64);
        }
        out.push(Waypoint {
            lon,
            lat,
            alt_agl_m: alt,
            time: t,
        });
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckOptions {
    /// Position uncertainty plus safety margin, metres each side of a leg.
    pub lateral_buffer_m: f64,
    pub vertical_margin_m: f64,
    /// Ids of authorisation-required zones the operator holds a permit for.
    pub authorisations: Vec<String>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            lateral_buffer_m: 10.0,
            vertical_margin_m: 5.0,
            authorisations: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The route may not be flown as planned.
    Blocking,
    /// The route may be flown; the pilot should know.
    Notice,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConflictKind {
    /// Part of the leg, `[s, e]` as fractions of the leg from `a` to `b`
    /// (local metres), is in or within the buffer of the zone. How deep is
    /// worked out when asked ([`LegConflict::depth_m`]): the decision needs
    /// only the interval, and a route check stays in microseconds.
    Enters {
        /// The index's local frame: the zone's footprint is projected
        /// again when the depth is asked for, so finding a conflict costs
        /// no second shared pointer.
        frame: LocalFrame,
        a: Xy,
        b: Xy,
        s: f64,
        e: f64,
    },
    /// Part of the leg is outside the operating area, or within the buffer
    /// of its edge (`outside_m` negative: still inside by that much).
    LeavesOperatingArea { outside_m: f64 },
}

/// One leg against one zone.
#[derive(Debug, Clone, PartialEq)]
pub struct LegConflict {
    /// 1-based; leg `n` goes from waypoint `n - 1` to waypoint `n`.
    pub leg: usize,
    pub zone: Arc<Zone>,
    pub kind: ConflictKind,
    pub severity: Severity,
    pub alt_agl_m: f64,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub local: FixedOffset,
    pub buffer_m: f64,
    /// The zone's band above ground as checked, and how far beyond it the
    /// check reaches: a conflict at an altitude outside the band is one
    /// within that margin.
    pub band_agl_m: (f64, f64),
    pub vertical_margin_m: f64,
    /// The later parts of the leg in the zone, if it leaves and comes back
    /// (`from`-`until` is the first).
    pub again: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl fmt::Display for LegConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "leg {} (waypoint {} -> {}) ",
            self.leg,
            self.leg - 1,
            self.leg
        )?;
        match &self.kind {
            ConflictKind::Enters { .. } => {
                let depth_m = self.depth_m();
                let zone = self.zone_words();
                // Under half a metre either way reads as on the edge, not
                // as "0 m inside" or "-0 m from".
                if depth_m >= 0.5 {
                    write!(f, "enters {zone} {depth_m:.0} m inside its edge")?
                } else if depth_m > -0.5 {
                    write!(f, "touches the edge of {zone}")?
                } else {
                    write!(
                        f,
                        "passes {:.0} m from the edge of {zone}, within the {:.0} m buffer",
                        -depth_m, self.buffer_m
                    )?
                }
            }
            ConflictKind::LeavesOperatingArea { outside_m } if *outside_m > 0.0 => {
                write!(f, "leaves the operating area {} by {:.0} m", self.zone.id, outside_m)?
            }
            ConflictKind::LeavesOperatingArea { outside_m } => write!(
                f,
                "comes within {:.0} m of the edge of the operating area {}, inside the {:.0} m buffer",
                -outside_m,
                self.zone.id,
                self.buffer_m
            )?,
        }
        // To the second: a leg of a minute or less inside a zone would
        // otherwise read "15:00-15:00".
        let a = self.from.with_timezone(&self.local);
        let b = self.until.with_timezone(&self.local);
        write!(f, " at {:.0} m AGL", self.alt_agl_m)?;
        let (floor, ceiling) = self.band_agl_m;
        let entering = matches!(self.kind, ConflictKind::Enters { .. });
        if entering && (self.alt_agl_m < floor || self.alt_agl_m > ceiling) {
            let band = if ceiling.is_finite() {
                format!("{:.0}-{ceiling:.0} m AGL", floor.max(0.0))
            } else {
                format!("above {floor:.0} m AGL")
            };
            write!(
                f,
                " (within the {:.0} m vertical margin of its band, {band} here)",
                self.vertical_margin_m
            )?;
        }
        let local = |t: &DateTime<Utc>| t.with_timezone(&self.local);
        write!(f, ", {}-{}", a.format("%H:%M:%S"), b.format("%H:%M:%S"))?;
        for (from, until) in &self.again {
            write!(
                f,
                " and again {}-{}",
                local(from).format("%H:%M:%S"),
                local(until).format("%H:%M:%S")
            )?;
        }
        write!(f, " (UTC{})", self.local)?;
        if self.severity == Severity::Notice {
            write!(f, " (notice, not blocking)")?;
        }
        if !self.zone.reason.trim().is_empty() {
            write!(f, "; reason: {}", self.zone.reason.trim())?;
        }
        Ok(())
    }
}

impl LegConflict {
    /// The zone as an explanation names it: its id, its name where that
    /// says more, its kind and band.
    fn zone_words(&self) -> String {
        let z = &self.zone;
        let name = z.name.trim();
        if name.is_empty() || name == z.id {
            z.label()
        } else {
            format!("{} \"{name}\" ({}, {})", z.id, z.kind, z.band)
        }
    }

    pub fn is_blocking(&self) -> bool {
        self.severity == Severity::Blocking
    }

    /// How far inside the zone's edge the leg goes (positive), or how far
    /// outside it stays while within the buffer (negative); for leaving the
    /// operating area, how far outside it goes.
    pub fn depth_m(&self) -> f64 {
        match &self.kind {
            ConflictKind::Enters { frame, a, b, s, e } => {
                depth(*a, *b, *s, *e, &self.zone.shape.to_planar(frame))
            }
            ConflictKind::LeavesOperatingArea { outside_m } => *outside_m,
        }
    }
}

/// Parameter interval along a leg where the altitude is in `[lo, hi]`.
fn vertical_interval(alt0: f64, alt1: f64, lo: f64, hi: f64) -> Option<Interval> {
    if alt0 == alt1 {
        return (alt0 >= lo && alt0 <= hi).then_some((0.0, 1.0));
    }
    let d = alt1 - alt0;
    let (mut t0, mut t1) = ((lo - alt0) / d, (hi - alt0) / d);
    if t0 > t1 {
        std::mem::swap(&mut t0, &mut t1);
    }
    let (t0, t1) = (t0.max(0.0), t1.min(1.0));
    (t0 <= t1).then_some((t0, t1))
}

/// The parts of a leg in `shape` (touching counts), as sorted intervals.
fn leg_intervals_of(a: Xy, b: Xy, shape: &PlanarShape) -> Vec<Interval> {
    let mut scratch = LegScratch::default();
    leg_intervals_into(a, b, shape, 0.0, &mut scratch);
    scratch.out
}

/// The parts of `[0, 1]` outside the sorted, disjoint `inside` intervals
/// (of more than no length).
fn outside_parts(inside: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut from = 0.0;
    for &(s, e) in inside {
        if s > from {
            out.push((from, s));
        }
        from = from.max(e);
    }
    if from < 1.0 {
        out.push((from, 1.0));
    }
    out
}

fn at_fraction(t0: DateTime<Utc>, t1: DateTime<Utc>, f: f64) -> DateTime<Utc> {
    let span = (t1 - t0).num_milliseconds() as f64;
    t0 + Duration::milliseconds((span * f).round() as i64)
}

/// Deepest point of `[s, e]` inside the shape (positive), or, if the part
/// is outside, how far it stays from the edge (negative). Sampled at 9
/// points: enough for an explanation; the conflict itself is exact.
fn depth(a: Xy, b: Xy, s: f64, e: f64, shape: &PlanarShape) -> f64 {
    (0..=8)
        .map(|k| {
            let p = a.lerp(b, s + (e - s) * k as f64 / 8.0);
            let edge = shape.distance_to_boundary(p);
            if edge == 0.0 || shape.contains(p) {
                edge
            } else {
                -edge
            }
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// A conflicting (leg, zone) pair as [`ZoneIndex::conflict_pairs`] finds
/// it: the decision alone, explained on demand by [`ZoneIndex::explain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConflictPair {
    /// 1-based, as [`LegConflict::leg`].
    pub leg: u32,
    /// The zone's number in the index ([`ZoneIndex::zone`]).
    pub zone: u32,
    pub blocking: bool,
}

/// Working space of [`ZoneIndex::conflict_pairs`], kept between checks.
#[derive(Debug, Default)]
pub struct PairScratch {
    pts: Vec<Xy>,
    legs: LegScratch,
    /// The route's candidates, leg after leg, each leg's filled up to a
    /// whole group for the triage.
    candidates: Vec<Candidate>,
    /// What the triage needs of each leg (leg 1 first).
    legs_seen: Vec<LegTriage>,
    /// What is known of each candidate.
    verdicts: Verdicts,
    /// The zone pairs, set aside while the operating areas' are merged in.
    zone_pairs: Vec<ConflictPair>,
}

/// How many scans ahead the scan pass asks the memory for a zone's
/// packed run: far enough for the lines to arrive (a scan takes about
/// 100 ns), near enough that they are still there when it comes.
const SCAN_AHEAD: usize = 8;

/// One leg of a route being checked.
struct LegContext<'a> {
    wa: &'a Waypoint,
    wb: &'a Waypoint,
    a: Xy,
    b: Xy,
    leg: usize,
    /// The lowest and highest altitude flown on the leg.
    low: f64,
    high: f64,
    /// The leg, ready for distance tests.
    segment: Segment,
}

impl<'a> LegContext<'a> {
    #[inline]
    fn new(route: &'a [Waypoint], pts: &[Xy], leg: usize) -> LegContext<'a> {
        Self::of(&route[leg - 1], &route[leg], pts[leg - 1], pts[leg], leg)
    }

    #[inline]
    fn of(wa: &'a Waypoint, wb: &'a Waypoint, a: Xy, b: Xy, leg: usize) -> LegContext<'a> {
        // `min` and `max`, not a branch: which end is higher follows no
        // pattern.
        let (low, high) = (
            wa.alt_agl_m.min(wb.alt_agl_m),
            wa.alt_agl_m.max(wb.alt_agl_m),
        );
        LegContext {
            wa,
            wb,
            a,
            b,
            leg,
            low,
            high,
            segment: Segment::new(a, b),
        }
    }

    fn query(&self, options: &CheckOptions) -> Bbox {
        Bbox::of_segment(self.a, self.b).expanded(options.lateral_buffer_m)
    }
}

/// Where a leg first meets a zone: the part `[s, e]` of the leg, the
/// fraction `f` and time `first` from which the zone applies to it, and the
/// time the part ends; with detail, the later parts in it too.
struct Hit {
    s: f64,
    e: f64,
    f: f64,
    first: DateTime<Utc>,
    until: DateTime<Utc>,
    again: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl ZoneIndex {
    /// Every conflict of the route, ordered by leg then time. Blocking ones
    /// decide; notices are for the pilot.
    pub fn check_route(&self, route: &[Waypoint], options: &CheckOptions) -> Vec<LegConflict> {
        self.check_legs(route, options, false)
    }

    /// The verdict alone: the first blocking conflict (earliest leg, then
    /// earliest time), or None if the route may be flown. Stops at the
    /// first leg that has one, so a refused route costs less than a full
    /// listing.
    pub fn first_blocking(
        &self,
        route: &[Waypoint],
        options: &CheckOptions,
    ) -> Option<LegConflict> {
        self.check_legs(route, options, true)
            .into_iter()
            .find(LegConflict::is_blocking)
    }

    fn check_legs(
        &self,
        route: &[Waypoint],
        options: &CheckOptions,
        stop_at_first_blocking: bool,
    ) -> Vec<LegConflict> {
        let frame = *self.frame();
        let pts: Vec<Xy> = route
            .iter()
            .map(|w| frame.local.to_local(w.lon, w.lat))
            .collect();
        let mut out = Vec::new();
        // One working buffer for every (leg, zone) pair of the route, and
        // one for the conflicts of a leg with their sort keys (when, then
        // the zone id's rank).
        let mut scratch = LegScratch::default();
        let mut found: Vec<Option<LegConflict>> = Vec::new();
        let mut keys: Vec<(DateTime<Utc>, u32, u32)> = Vec::new();
        let operating = self.operating_areas();
        for leg in 1..route.len() {
            let ctx = LegContext::new(route, &pts, leg);
            self.for_each_candidate(ctx.query(options), |z| {
                let Some(hit) = self.leg_meets_zone::<true>(&ctx, z, options, &mut scratch) else {
                    return;
                };
                keys.push((hit.first, self.id_rank(z), found.len() as u32));
                found.push(Some(self.conflict_of(&ctx, z, hit, options)));
            });
            if !operating.is_empty() {
                if let Some((z, c)) = self.check_operating_area(
                    operating,
                    leg,
                    (ctx.wa, ctx.wb),
                    (ctx.a, ctx.b),
                    options,
                ) {
                    keys.push((c.from, self.id_rank(z), found.len() as u32));
                    found.push(Some(c));
                }
            }
            // By time, then zone id, then order found (so stable); the keys
            // are sorted, the conflicts moved once.
            let blocking = found.iter().flatten().any(LegConflict::is_blocking);
            if keys.is_sorted() {
                out.extend(found.drain(..).flatten());
            } else {
                keys.sort_unstable();
                out.extend(keys.iter().filter_map(|k| found[k.2 as usize].take()));
                found.clear();
            }
            keys.clear();
            if stop_at_first_blocking && blocking {
                break;
            }
        }
        out
    }

    /// Every conflicting (leg, zone) pair of the route, the same pairs as
    /// [`ZoneIndex::check_route`] finds with the same severity (a leg that
    /// leaves a zone's band exactly on the zone's edge may be told apart by
    /// rounding: here the part of the leg in the band is tested, there the
    /// leg's parts in the footprint are cut to the band), into `out`
    /// (cleared first), by leg and then in the index's map order. Nothing
    /// is worked out beyond the decision: no times, altitudes or depths,
    /// no zone record read (unless authorisations must be matched by id).
    /// [`ZoneIndex::explain`] gives the full conflict of a pair when it is
    /// shown; `scratch` is kept by the caller so repeated checks allocate
    /// nothing.
    pub fn conflict_pairs(
        &self,
        route: &[Waypoint],
        options: &CheckOptions,
        scratch: &mut PairScratch,
        out: &mut Vec<ConflictPair>,
    ) {
        out.clear();
        let frame = &self.frame().local;
        let PairScratch {
            pts,
            legs,
            candidates,
            legs_seen,
            verdicts,
            zone_pairs,
        } = scratch;
        pts.clear();
        pts.extend(route.iter().map(|w| frame.to_local(w.lon, w.lat)));
        // In passes, so that no branch waits on a zone's data or guesses
        // at it: whether a candidate conflicts follows no pattern a branch
        // predictor could learn, and a wrong guess costs the work begun
        // after it. First the walk: every leg's candidates, kept by a
        // count, and what the triage needs of each leg.
        candidates.clear();
        legs_seen.clear();
        for leg in 1..route.len() {
            let (a, b) = (pts[leg - 1], pts[leg]);
            legs_seen.push(LegTriage::new(
                (a, b),
                (route[leg - 1].alt_agl_m, route[leg].alt_agl_m),
                options.lateral_buffer_m,
            ));
            let query = Bbox::of_segment(a, b).expanded(options.lateral_buffer_m);
            let leg = leg as u32;
            self.push_candidates(query, candidates, move |zone| Candidate { leg, zone });
            let zone = self.padding_zone();
            triage::pad_group(candidates, Candidate { leg, zone });
        }
        // Then each candidate's hot line, with no branch on it: clear, a
        // conflict, to be scanned, or to be tested in full.
        let margins = (options.vertical_margin_m, options.lateral_buffer_m);
        // Four at a time where the CPU allows (`triage`'s tests hold the
        // two forms to the same answers).
        triage::triage(self, candidates, legs_seen, margins, true, verdicts);
        // Then the ones to be scanned, on their rings (the part of the leg
        // in the zone's band), and the rest. On a district's map few of
        // these runs are in the core's own cache: the first are asked for
        // before the first scan, the rest each `SCAN_AHEAD` scans ahead of
        // its own (the index's module doc has the figures).
        let scans = verdicts.scans;
        for &i in &verdicts.to_scan[..scans.min(SCAN_AHEAD)] {
            self.prefetch_packed(candidates[i as usize].zone as usize);
        }
        verdicts.scan_each(candidates, SCAN_AHEAD, |zone, later, (pa, pb)| {
            self.prefetch_packed(later as usize);
            self.polygon_meets_leg(zone as usize, pa, pb) == Some(true)
        });
        for k in 0..verdicts.undecided {
            let i = verdicts.to_decide[k] as usize;
            let c = candidates[i];
            let (leg, z) = (c.leg as usize, c.zone as usize);
            let (a, b) = (pts[leg - 1], pts[leg]);
            // A zone with a schedule, a circle, a lateral buffer, or a part
            // of the leg in the band too short to have a line.
            let part = (options.lateral_buffer_m <= 0.0 && a != b && self.is_permanent(z))
                .then(|| {
                    self.band_part_meets(
                        z,
                        (a, b),
                        (route[leg - 1].alt_agl_m, route[leg].alt_agl_m),
                        options,
                    )
                })
                .flatten();
            let meets = part.unwrap_or_else(|| {
                let ctx = LegContext::new(route, pts, leg);
                self.leg_meets_zone::<false>(&ctx, z, options, legs)
                    .is_some()
            });
            verdicts.verdicts[i] = if meets {
                Triage::Conflict
            } else {
                Triage::Clear
            };
        }
        let n = candidates.len();
        let verdicts = &verdicts.verdicts[..n];
        // Then the pairs, in the walk's order, each written and kept by a
        // count, not a branch.
        out.reserve(n);
        let spare = out.spare_capacity_mut()[..n].as_mut_ptr();
        let mut kept = 0;
        // Read once, here: inside the loop it would be read again after
        // every write.
        let by_kind = options.authorisations.is_empty();
        for (c, &verdict) in candidates.iter().zip(verdicts) {
            let z = c.zone as usize;
            let blocking = if by_kind {
                self.blocks_by_kind(z)
            } else {
                self.severity(z, options) == Severity::Blocking
            };
            // SAFETY: `kept` counts the pairs before this one, below `n`.
            unsafe {
                (*spare.add(kept)).write(ConflictPair {
                    leg: c.leg,
                    zone: c.zone,
                    blocking,
                })
            };
            kept += usize::from(verdict == Triage::Conflict);
        }
        // SAFETY: the first `kept` of the spare places were written above.
        unsafe { out.set_len(kept) };
        self.operating_area_pairs(route, pts, options, zone_pairs, out);
    }

    /// Whether the leg `a`-`b` (of non-zero length), flown from `h0` to
    /// `h1` metres above ground, meets permanent zone `z` (not an
    /// operating area) whose outer disc it enters, with no lateral buffer: as
    /// `leg_meets_zone` decides it without detail, the part of the leg in
    /// the zone's band against its inner disc and then its rings. None
    /// where only the full test can tell (that part has no length, or the
    /// zone is a circle).
    #[inline]
    fn band_part_meets(
        &self,
        z: usize,
        (a, b): (Xy, Xy),
        (h0, h1): (f64, f64),
        options: &CheckOptions,
    ) -> Option<bool> {
        let (floor, ceiling) = self.band_agl(z);
        let (lo, hi) = (
            floor - options.vertical_margin_m,
            ceiling + options.vertical_margin_m,
        );
        let (low, high) = (h0.min(h1), h0.max(h1));
        let (pa, pb) = if (low >= lo) & (high <= hi) {
            (a, b)
        } else {
            let Some((s, e)) = vertical_interval(h0, h1, lo, hi) else {
                return Some(false);
            };
            let (pa, pb) = (a.lerp(b, s), a.lerp(b, e));
            if self.discs(z).enters(&Segment::new(pa, pb)) {
                return Some(true);
            }
            (pa, pb)
        };
        if pa == pb {
            return None;
        }
        self.polygon_meets_leg(z, pa, pb)
    }

    /// The operating-area pairs of a route, merged into `out` (which holds
    /// the zone pairs, ordered by leg) after each leg's zone pairs, as
    /// [`ZoneIndex::conflict_pairs`] lists them; `zone_pairs` is working
    /// space.
    fn operating_area_pairs(
        &self,
        route: &[Waypoint],
        pts: &[Xy],
        options: &CheckOptions,
        zone_pairs: &mut Vec<ConflictPair>,
        out: &mut Vec<ConflictPair>,
    ) {
        let operating = self.operating_areas();
        if operating.is_empty() {
            return;
        }
        // The zone pairs move aside (buffers swapped, nothing allocated
        // once both have grown) and come back leg by leg.
        std::mem::swap(zone_pairs, out);
        out.clear();
        let mut from = 0;
        for leg in 1..route.len() {
            let end = from + zone_pairs[from..].partition_point(|p| p.leg as usize <= leg);
            out.extend_from_slice(&zone_pairs[from..end]);
            from = end;
            let ctx = LegContext::new(route, pts, leg);
            if let Some((z, _)) =
                self.check_operating_area(operating, leg, (ctx.wa, ctx.wb), (ctx.a, ctx.b), options)
            {
                out.push(ConflictPair {
                    leg: leg as u32,
                    zone: z as u32,
                    blocking: true,
                });
            }
        }
    }

    /// Whether a conflict with zone `z` blocks the flight when no
    /// authorisation is held ([`Severity::Blocking`]), from the zone's
    /// kind alone, with no branch: `severity` as a bit mask of kinds.
    #[inline]
    fn blocks_by_kind(&self, z: usize) -> bool {
        let blocking_kinds = 1u32 << ZoneKind::Prohibited as u32
            | 1 << ZoneKind::AuthorisationRequired as u32
            | 1 << ZoneKind::OperatingArea as u32;
        blocking_kinds >> self.kind(z) as u32 & 1 == 1
    }

    /// The full conflict (where, at what altitude and time, how deep) of a
    /// pair [`ZoneIndex::conflict_pairs`] found for this route and these
    /// options; None if the pair is not one of them.
    pub fn explain(
        &self,
        route: &[Waypoint],
        options: &CheckOptions,
        pair: ConflictPair,
    ) -> Option<LegConflict> {
        let (leg, z) = (pair.leg as usize, pair.zone as usize);
        if leg == 0 || leg >= route.len() || z >= self.len() {
            return None;
        }
        let frame = &self.frame().local;
        let pts = [
            frame.to_local(route[leg - 1].lon, route[leg - 1].lat),
            frame.to_local(route[leg].lon, route[leg].lat),
        ];
        let ctx = LegContext::of(&route[leg - 1], &route[leg], pts[0], pts[1], leg);
        if self.kind(z) == ZoneKind::OperatingArea {
            return self
                .check_operating_area(
                    self.operating_areas(),
                    leg,
                    (ctx.wa, ctx.wb),
                    (ctx.a, ctx.b),
                    options,
                )
                .filter(|(found, _)| *found == z)
                .map(|(_, c)| c);
        }
        let hit = self.leg_meets_zone::<true>(&ctx, z, options, &mut LegScratch::default())?;
        Some(self.conflict_of(&ctx, z, hit, options))
    }

    fn severity(&self, z: usize, options: &CheckOptions) -> Severity {
        match self.kind(z) {
            ZoneKind::Prohibited | ZoneKind::OperatingArea => Severity::Blocking,
            ZoneKind::AuthorisationRequired
                if options.authorisations.is_empty()
                    || !options.authorisations.contains(&self.zone(z).id) =>
            {
                Severity::Blocking
            }
            _ => Severity::Notice,
        }
    }

    /// Whether the leg meets zone `z` (not an operating area): the first
    /// part of the leg within the buffer of its footprint, inside its band
    /// and flown while it applies. Without `DETAIL` only the decision is
    /// sure (the part, fraction and times may be left at the leg's start).
    #[inline]
    fn leg_meets_zone<const DETAIL: bool>(
        &self,
        ctx: &LegContext,
        z: usize,
        options: &CheckOptions,
        scratch: &mut LegScratch,
    ) -> Option<Hit> {
        let (wa, wb, a, b) = (ctx.wa, ctx.wb, ctx.a, ctx.b);
        // Cheapest rejections first: kind and band are read from arrays
        // beside the boxes, geometry only for what is left.
        if self.kind(z) == ZoneKind::OperatingArea {
            return None;
        }
        let (floor, ceiling) = self.band_agl(z);
        let (lo, hi) = (
            floor - options.vertical_margin_m,
            ceiling + options.vertical_margin_m,
        );
        if ctx.high < lo || ctx.low > hi {
            return None;
        }
        let discs = self.discs(z);
        if discs.clear_of(&ctx.segment, options.lateral_buffer_m) {
            return None;
        }
        // The whole leg in the band is the common case (and what the
        // division below would give).
        let vertical = if ctx.low >= lo && ctx.high <= hi {
            (0.0, 1.0)
        } else {
            vertical_interval(wa.alt_agl_m, wb.alt_agl_m, lo, hi)?
        };
        if !DETAIL && self.is_permanent(z) {
            // Through the disc inside the footprint: a conflict, with no
            // edge read.
            let inside_band = if vertical == (0.0, 1.0) {
                ctx.segment
            } else {
                Segment::new(a.lerp(b, vertical.0), a.lerp(b, vertical.1))
            };
            if discs.enters(&inside_band) {
                return Some(Hit {
                    s: 0.0,
                    e: 0.0,
                    f: 0.0,
                    first: wa.time,
                    until: wa.time,
                    again: Vec::new(),
                });
            }
        }
        if !DETAIL && options.lateral_buffer_m <= 0.0 && self.is_permanent(z) && a != b {
            // The zone applies whenever the leg is in its band: the part of
            // the leg in the band meeting it is the conflict, and the first
            // edge met decides.
            let (pa, pb) = if vertical == (0.0, 1.0) {
                (a, b)
            } else {
                (a.lerp(b, vertical.0), a.lerp(b, vertical.1))
            };
            if let Some(meets) = (pa != pb)
                .then(|| self.polygon_meets_leg(z, pa, pb))
                .flatten()
            {
                return meets.then_some(Hit {
                    s: 0.0,
                    e: 0.0,
                    f: 0.0,
                    first: wa.time,
                    until: wa.time,
                    again: Vec::new(),
                });
            }
        }
        if options.lateral_buffer_m <= 0.0 {
            let meets = match self.flat_polygon(z) {
                Some(polygon) if a != b => {
                    leg_meets_with_intervals(a, b, self.flat_rings(), polygon, scratch)
                }
                _ => {
                    let shape = self.shape(z);
                    let meets = shape.meets_segment(a, b);
                    leg_intervals_into(a, b, shape, 0.0, scratch);
                    meets
                }
            };
            if !meets {
                return None;
            }
        } else {
            match self.flat_polygon(z) {
                Some(polygon) if a != b => leg_intervals_flat(
                    a,
                    b,
                    self.flat_rings(),
                    polygon,
                    options.lateral_buffer_m,
                    scratch,
                ),
                _ => leg_intervals_into(a, b, self.shape(z), options.lateral_buffer_m, scratch),
            }
        }
        let span = (wb.time - wa.time).num_milliseconds();
        let mut found: Option<Hit> = None;
        for &(s, e) in &scratch.out {
            let (s, e) = (s.max(vertical.0), e.min(vertical.1));
            if s > e {
                continue;
            }
            // Times as `at_fraction` gives them, from the leg's span
            // worked out once.
            let (ms_s, ms_e) = (
                (span as f64 * s).round() as i64,
                (span as f64 * e).round() as i64,
            );
            let (ts, te) = (
                wa.time + Duration::milliseconds(ms_s),
                wa.time + Duration::milliseconds(ms_e),
            );
            // A permanent zone applies from the start of the part.
            let (first, first_ms) = if self.is_permanent(z) {
                if ts > te {
                    continue;
                }
                (ts, ms_s)
            } else {
                let Some(first) = self
                    .zone(z)
                    .time
                    .first_active(ts, te, self.frame().utc_offset)
                else {
                    continue;
                };
                (first, (first - wa.time).num_milliseconds())
            };
            if let Some(hit) = &mut found {
                // A later part of the leg in the zone (a concave zone, a
                // hole, a window that opens twice): said too.
                hit.again.push((first, te));
                continue;
            }
            let f = if span > 0 {
                (first_ms as f64 / span as f64).clamp(s, e)
            } else {
                s
            };
            let hit = Hit {
                s,
                e,
                f,
                first,
                until: te,
                again: Vec::new(),
            };
            if !DETAIL {
                return Some(hit);
            }
            found = Some(hit);
        }
        found
    }

    fn conflict_of(
        &self,
        ctx: &LegContext,
        z: usize,
        hit: Hit,
        options: &CheckOptions,
    ) -> LegConflict {
        let frame = self.frame();
        let (wa, wb) = (ctx.wa, ctx.wb);
        LegConflict {
            leg: ctx.leg,
            zone: Arc::clone(self.zone(z)),
            kind: ConflictKind::Enters {
                frame: frame.local,
                a: ctx.a,
                b: ctx.b,
                s: hit.s,
                e: hit.e,
            },
            severity: self.severity(z, options),
            alt_agl_m: wa.alt_agl_m + (wb.alt_agl_m - wa.alt_agl_m) * hit.f,
            from: hit.first,
            until: hit.until,
            local: frame.utc_offset,
            buffer_m: options.lateral_buffer_m,
            band_agl_m: self.band_agl(z),
            vertical_margin_m: options.vertical_margin_m,
            again: hit.again,
        }
    }

    /// A leg must stay inside one operating area, `buffer` clear of its edge.
    fn check_operating_area(
        &self,
        areas: &[usize],
        leg: usize,
        (wa, wb): (&Waypoint, &Waypoint),
        (a, b): (Xy, Xy),
        options: &CheckOptions,
    ) -> Option<(usize, LegConflict)> {
        let frame = *self.frame();
        let mut worst: Option<(usize, f64, f64)> = None;
        for &z in areas {
            // Exact: a leg cutting a concave corner of the area between
            // any sampled points is still caught.
            let (min_clear, at) = leg_clearance(a, b, self.shape(z));
            if min_clear >= options.lateral_buffer_m {
                return None;
            }
            if worst.is_none_or(|(_, c, _)| min_clear > c) {
                worst = Some((z, min_clear, at));
            }
        }
        let (z, clear, f) = worst?;
        let zone = self.zone(z);
        // Where the leg is outside the area, the parts outside (the first,
        // then the rest); where it only comes near the edge, the moment
        // it is nearest.
        let outside = if clear < 0.0 && a != b {
            outside_parts(&leg_intervals_of(a, b, self.shape(z)))
        } else {
            Vec::new()
        };
        let mut times = outside.iter().map(|&(s, e)| {
            (
                at_fraction(wa.time, wb.time, s),
                at_fraction(wa.time, wb.time, e),
            )
        });
        let at = at_fraction(wa.time, wb.time, f);
        let (from, until) = times.next().unwrap_or((at, at));
        let again = times.collect();
        Some((
            z,
            LegConflict {
                leg,
                zone: Arc::clone(zone),
                kind: ConflictKind::LeavesOperatingArea { outside_m: -clear },
                severity: Severity::Blocking,
                alt_agl_m: wa.alt_agl_m + (wb.alt_agl_m - wa.alt_agl_m) * f,
                from,
                until,
                local: frame.utc_offset,
                buffer_m: options.lateral_buffer_m,
                band_agl_m: self.band_agl(z),
                vertical_margin_m: options.vertical_margin_m,
                again,
            },
        ))
    }
}
