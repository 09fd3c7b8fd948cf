//! Ring coordinates packed to 16 bits a number, for the decision-only scan
//! of a leg against a polygon (`route_check`'s conflict pairs and the bulk
//! 3D check).
//!
//! Why: on a map of thousands of zones a route check reads each candidate's
//! rings from memory the core has rarely seen, and those reads, more than
//! the arithmetic, set its pace (`index`'s module doc has the figures). As
//! f64 columns with their header a 30-vertex ring spans about ten cache
//! lines; packed, with its header in the same run, three.
//!
//! A polygon's run holds its origin (the low corner of its box) and a
//! power-of-two step, then for each ring its point count, its box in steps
//! and its points (closed), each rounded to the nearest step: x in a
//! word's low 16 bits, y in its high 16. Runs follow one another with no
//! gap, and the array ends in spare words for the wide loads past the
//! last point. An orientation worked out
//! from packed points is then within a known bound of the exact one, and
//! the scan takes a decision only where the packed value is farther than
//! that bound from zero (or from the value it is compared with). A vertex
//! nearer the leg's line than that (a few hundredths of a step) makes
//! [`PackedRings::leg_meets`] answer `None`, and the caller decides on the
//! exact coordinates: the answer is always the exact scan's.
//!
//! The bounds, in steps (a step is a power of two, so moving to steps is
//! exact): a packed coordinate is within `Q = 1/2` (plus the rounding of
//! the subtraction from the origin) of the true one, so the side of a
//! vertex, `D x (v - a)`, is within `(|Dx| + |Dy|) Q` of the true side, and
//! an edge's orientation against the leg's end `a`, `(d - c) x (a - c)`,
//! within `2Q |a - c|_1 + Q |d - c|_1 + 4Q^2`. Every double-precision
//! rounding, here and in the exact scan the answer must equal, is covered
//! by a further `2^-44 L^2`, `L` bounding every coordinate in steps
//! (f64 arithmetic errs by a few `2^-53` of such products). Sides are
//! worked out in single precision, eight points at a time, which adds
//! `(|Dx| + |Dy|)(2^-6 + 2^-23 L)` to their bound.
//!
//! A vertex's projection on the leg, `D . (v - a)`, has the same form as
//! its side, so it is within the same bound; the scan takes it as sure
//! before `a`, past `b` (beyond `|D|^2`) or between them only with twice
//! that bound to spare. An edge across the leg's line crosses it between
//! its ends' projections, so where both ends are sure on the same side of
//! `a` or `b`, or both between, the edge is decided with no arithmetic of
//! its own, and its crossing lies far enough from the leg's ends for the
//! exact scan's roundings to agree.

use std::iter;

use super::geom::{Bbox, Contact, PlanarPolygon, Xy};
use super::sides::SideBits;

/// Words read past a ring's last point by the eight-wide loads: the
/// words after it (the next ring or run), or the spare words that end
/// the array.
pub(super) const PADDING: usize = 7;
/// Origin x and y and the steps per metre (two words each), the ring count.
const HEADER: usize = 7;
/// A ring's point count, low corner and high corner.
const RING_HEADER: usize = 3;
/// Where a run's first point is.
const FIRST_POINT: usize = HEADER + RING_HEADER;
/// The largest number of steps across a polygon's box.
const STEPS: f64 = 65535.0;
/// How far a packed coordinate may be from the true one, in steps: half a
/// step, plus the rounding of the subtraction from the origin (at most
/// 2^-53 of 65,536 steps).
const Q: f64 = 0.5 + 1.0 / (1u64 << 30) as f64;

/// Polygons' rings packed one run after another; a run is found by the
/// word number [`PackedRings::push_polygon`] returned.
#[derive(Debug, Clone, Default)]
pub(super) struct PackedRings {
    words: Vec<u32>,
}

impl PackedRings {
    /// Asks the memory for the first `lines` cache lines of the run at
    /// `at` (a hint: nothing is read, nothing can fault).
    #[inline(always)]
    pub(super) fn prefetch(&self, at: u32, lines: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let start = self.words.as_ptr().wrapping_add(at as usize).cast::<i8>();
            for line in 0..lines {
                // SAFETY: a prefetch reads nothing and cannot fault, at any
                // address.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(64 * line)) };
            }
        }
    }

    /// Packs `poly`'s rings; where its run starts, or None if it cannot be
    /// packed (coordinates that are not finite, or more words than an
    /// index addresses): such a polygon is always scanned exactly.
    pub(super) fn push_polygon(&mut self, poly: &PlanarPolygon) -> Option<u32> {
        let rings: Vec<Vec<Xy>> = iter::once(&poly.exterior)
            .chain(&poly.holes)
            .map(|r| {
                let v = r.vertices();
                v.iter().chain(v.first()).copied().collect()
            })
            .collect();
        let bbox = rings
            .iter()
            .fold(Bbox::EMPTY, |b, r| b.union(Bbox::of_points(r)));
        let finite = [bbox.min_x, bbox.min_y, bbox.max_x, bbox.max_y]
            .iter()
            .all(|v| v.is_finite());
        let words: usize = rings.iter().map(|r| RING_HEADER + r.len()).sum();
        // The run is written over the spare words past the last one.
        let start = self.words.len().saturating_sub(PADDING);
        let at = u32::try_from(start).ok()?;
        if !finite || rings.is_empty() || u32::try_from(start + HEADER + words + PADDING).is_err() {
            return None;
        }
        self.words.truncate(start);
        let origin = Xy::new(bbox.min_x, bbox.min_y);
        let extent = (bbox.max_x - bbox.min_x).max(bbox.max_y - bbox.min_y);
        let exponent = step_exponent(extent);
        let step = 2f64.powi(exponent);
        let pack = |p: Xy| {
            let q = |v: f64, o: f64| ((v - o) / step).round().clamp(0.0, STEPS) as u32;
            q(p.x, origin.x) | q(p.y, origin.y) << 16
        };
        let w = &mut self.words;
        for v in [origin.x, origin.y, 1.0 / step] {
            let bits = v.to_bits();
            w.extend([bits as u32, (bits >> 32) as u32]);
        }
        w.push(rings.len() as u32);
        for ring in &rings {
            let b = Bbox::of_points(ring);
            w.push(ring.len() as u32);
            w.push(pack(Xy::new(b.min_x, b.min_y)));
            w.push(pack(Xy::new(b.max_x, b.max_y)));
            w.extend(ring.iter().map(|&p| pack(p)));
        }
        // Spare words for the eight-wide loads past the last ring's end
        // (past any other ring's, they read the next ring or run: either
        // way their bits are cleared).
        w.extend([0; PADDING]);
        Some(at)
    }

    /// Whether the leg `a`-`b` meets the polygon whose run starts at `at`
    /// (touching counts), as `geom::leg_meets_flat` decides on the exact
    /// coordinates; None where the packed points are too coarse to be sure.
    #[inline(always)]
    pub(super) fn leg_meets(&self, at: u32, a: Xy, b: Xy) -> Option<bool> {
        let w = &self.words[at as usize..];
        #[cfg(target_arch = "x86_64")]
        {
            // The run's header and its first ring's, read as one array:
            // one bounds check, not one a word (about a dozen
            // instructions a scan).
            if let Some((head, points)) = w.split_first_chunk::<FIRST_POINT>() {
                if head[6] == 1
                    && (2..=64).contains(&head[HEADER])
                    && std::arch::is_x86_feature_detected!("avx2")
                {
                    // SAFETY: the CPU has AVX2 (checked just above), and
                    // `head` starts a run of one ring of at most 64
                    // points, as `push_polygon` wrote it.
                    return unsafe { avx2::one_ring_meets(head, points, a, b) };
                }
            }
        }
        self.leg_meets_any(w, a, b)
    }

    /// [`PackedRings::leg_meets`] for any run `w`: rings one after another,
    /// each scanned 64 points at a time.
    fn leg_meets_any(&self, w: &[u32], a: Xy, b: Xy) -> Option<bool> {
        let head = w
            .first_chunk::<HEADER>()
            .expect("a run starts with its header");
        let leg = PackedLeg::of_run(head, a, b);
        let leg_box = Bbox::of_segment(leg.a, leg.b);
        let mut inside = false;
        let mut at = HEADER;
        for ring in 0..w[6] {
            let len = w[at] as usize;
            let (lo, hi) = (unpack(w[at + 1]), unpack(w[at + 2]));
            let points = &w[at + RING_HEADER..at + RING_HEADER + len + PADDING];
            at += RING_HEADER + len;
            // A hole whose box (widened by the rounding) is clear of the
            // leg's is not touched, and the leg's start is outside it. (The
            // exterior's box is the polygon's, which the caller's filters
            // have already found near the leg.)
            if ring > 0
                && (lo.x - 1.0 > leg_box.max_x
                    || hi.x + 1.0 < leg_box.min_x
                    || lo.y - 1.0 > leg_box.max_y
                    || hi.y + 1.0 < leg_box.min_y)
            {
                continue;
            }
            match leg.ring_scan(points, len)? {
                Contact::Touches => return Some(true),
                Contact::CrossesRay => inside = !inside,
                Contact::Misses => {}
            }
        }
        Some(inside)
    }
}

/// The smallest power of two (as its exponent) in which `extent` is at
/// most [`STEPS`] steps.
fn step_exponent(extent: f64) -> i32 {
    if extent <= 0.0 {
        return -60;
    }
    let mut e = (extent / STEPS).log2().ceil() as i32;
    while (extent / 2f64.powi(e)).round() > STEPS {
        e += 1;
    }
    while e > -60 && (extent / 2f64.powi(e - 1)).round() <= STEPS {
        e -= 1;
    }
    e
}

#[inline]
fn unpack(word: u32) -> Xy {
    Xy::new(f64::from(word & 0xFFFF), f64::from(word >> 16))
}

/// A leg in a polygon's steps, with the bounds its decisions need.
pub(super) struct PackedLeg {
    a: Xy,
    b: Xy,
    /// The side of a packed point in single precision,
    /// `dx * qy - dy * qx + c`: eight points per instruction.
    dx32: f32,
    dy32: f32,
    c32: f32,
    /// How far that may be from the exact scan's side, rounded up.
    side_bound: f32,
    /// The projection of a packed point on the leg, `dx * qx + dy * qy +
    /// p`, `D . (q - a)`, in single precision like the side (and within
    /// the same bound of the true one): sure before `a` under
    /// `-margin_a`, sure past `b` over `past_b`, sure between them
    /// strictly inside `(margin_a, short_of_b)`. Twice the side's bound,
    /// and the leg's squared length rounded outwards, for room.
    p32: f32,
    margin_a: f32,
    past_b: f32,
    short_of_b: f32,
    /// Half a step plus the rounding of the leg's ends.
    q: f64,
    /// `4 q^2` plus every rounding, here and in the exact scan: the part
    /// of an edge's bound that is the same for every edge.
    edge_slack: f64,
}

impl PackedLeg {
    /// The leg `a`-`b` (metres) in the steps of the polygon whose run is
    /// `w`.
    // Always inlined (with `new`): as a call from the AVX2 scan, which the
    // compiler would not inline into, it handed its struct back through
    // memory: about 17 instructions more a scan (callgrind, dense route).
    #[inline(always)]
    fn of_run(w: &[u32; HEADER], a: Xy, b: Xy) -> PackedLeg {
        let f64_at = |k: usize| f64::from_bits(u64::from(w[k]) | u64::from(w[k + 1]) << 32);
        let origin = Xy::new(f64_at(0), f64_at(2));
        let per_step = f64_at(4);
        let to_steps = |p: Xy| Xy::new((p.x - origin.x) * per_step, (p.y - origin.y) * per_step);
        PackedLeg::new(to_steps(a), to_steps(b))
    }

    #[inline(always)]
    fn new(a: Xy, b: Xy) -> PackedLeg {
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let l = [a.x, a.y, b.x, b.y]
            .iter()
            .fold(STEPS + 1.0, |m, v| m.max(v.abs()));
        // The ends carry the rounding of their move to steps (2^-53 of
        // their size), added to the packed points' own.
        let q = Q + l / (1u64 << 50) as f64;
        let round = l * l / (1u64 << 44) as f64;
        // Single precision errs by 2^-24 of each product and sum: with
        // points under 2^16 steps and the constant under (|dx| + |dy|) l,
        // by at most (|dx| + |dy|)(2^-6 + 2^-23 l) in all (with room).
        let d1 = dx.abs() + dy.abs();
        let single = d1 * (1.0 / 64.0 + l / (1u64 << 23) as f64) * 1.01;
        let bound = d1 * q + round + single;
        // Rounded up, with no branch: the conversion errs by at most 2^-24
        // of the value, and the bound is raised by 2^-20 of itself first.
        let up = 1.0 + 1.0 / (1u64 << 20) as f64;
        let side_bound = (bound * up) as f32;
        let length2 = dx * dx + dy * dy;
        PackedLeg {
            a,
            b,
            dx32: dx as f32,
            dy32: dy as f32,
            c32: (dy * a.x - dx * a.y) as f32,
            side_bound,
            p32: (-(dx * a.x + dy * a.y)) as f32,
            margin_a: (2.0 * bound * up) as f32,
            past_b: ((length2 + 2.0 * bound) * up) as f32,
            short_of_b: ((length2 - 2.0 * bound) / up) as f32,
            q,
            edge_slack: 4.0 * q * q + round,
        }
    }

    /// As `geom::ring_scan`, on packed points; None where a decision is
    /// within the bound (a vertex near the line, an edge ending near the
    /// leg's ends).
    #[inline]
    fn ring_scan(&self, points: &[u32], len: usize) -> Option<Contact> {
        let mut odd = false;
        let mut from = 0;
        while from + 1 < len {
            let n = (len - from).min(64);
            let bits = side_bits(self, &points[from..], n);
            if !bits.every_side_sure(n) {
                return None;
            }
            match self.across_edges(points, from, &bits, n)? {
                Contact::Touches => return Some(Contact::Touches),
                Contact::CrossesRay => odd = !odd,
                Contact::Misses => {}
            }
            from += 63;
        }
        Some(if odd {
            Contact::CrossesRay
        } else {
            Contact::Misses
        })
    }

    /// What the edges between the `n` points from `from` of `points` do
    /// to the leg, every point's side being sure: one meets it
    /// (`Touches`), or an odd number cross the ray beyond `b`
    /// (`CrossesRay`), or an even number (`Misses`); None where a decision
    /// is within the bound.
    ///
    /// Only the edges across the leg's line matter (the rest stay on one
    /// side), and each crosses it between its ends' projections on the
    /// leg: where both are surely between `a` and `b`, the edge meets the
    /// leg; both surely before `a`, it misses and crosses the line behind
    /// `a`; both surely past `b`, it misses and crosses the ray. Only the
    /// few left, across the line near an end of the leg, are decided one
    /// by one (before this, every edge across the line was: most of a
    /// polygon's decision time, with a branch on each outcome).
    #[inline]
    fn across_edges(
        &self,
        points: &[u32],
        from: usize,
        bits: &PackedBits,
        n: usize,
    ) -> Option<Contact> {
        let across = bits.sides.edges_across(n);
        let both = |m: u64| m & (m >> 1);
        if across & both(bits.between) != 0 {
            return Some(Contact::Touches);
        }
        let past = across & both(bits.past_b);
        let mut odd = past.count_ones() % 2 == 1;
        let mut across = across & !(past | both(bits.before_a));
        while across != 0 {
            let k = from + across.trailing_zeros() as usize;
            across &= across - 1;
            let (c, d) = (unpack(points[k]), unpack(points[k + 1]));
            let (u, wa, wb) = (d.sub(c), self.a.sub(c), self.b.sub(c));
            let (d1, d2) = (u.cross(wa), u.cross(wb));
            let norm = |v: Xy| v.x.abs() + v.y.abs();
            // 2Q|w - c|_1 + Q|d - c|_1 + 4Q^2 + round (module doc).
            let of_edge = self.q * norm(u) + self.edge_slack;
            let bound = |w: Xy| 2.0 * self.q * norm(w) + of_edge;
            let (b1, b2) = (bound(wa), bound(wb));
            if d1.abs() <= b1 || d2.abs() <= b2 {
                return None;
            }
            if (d1 > 0.0) != (d2 > 0.0) {
                return Some(Contact::Touches);
            }
            // Both ends of the leg strictly on one side of the edge:
            // the edge crosses the ray beyond `b` when `a` is farther.
            let farther = d1.abs() - d2.abs();
            if farther.abs() <= b1 + b2 {
                return None;
            }
            if farther > 0.0 {
                odd = !odd;
            }
        }
        Some(if odd {
            Contact::CrossesRay
        } else {
            Contact::Misses
        })
    }

    /// The side of the packed point `(qx, qy)`, `D x (q - a)`, in single
    /// precision, in the order the wide path computes it.
    #[inline]
    fn side(&self, qx: f32, qy: f32) -> f32 {
        (self.dx32 * qy - self.dy32 * qx) + self.c32
    }

    /// The projection of the packed point `(qx, qy)` on the leg, `D . (q -
    /// a)`, in single precision, in the order the wide path computes it.
    #[inline]
    fn along(&self, qx: f32, qy: f32) -> f32 {
        (self.dx32 * qx + self.dy32 * qy) + self.p32
    }
}

/// What is sure of each of up to 64 packed points against a leg (bit `k`
/// for point `k`): its side of the leg's line, and where its projection on
/// the leg falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedBits {
    sides: SideBits,
    before_a: u64,
    past_b: u64,
    between: u64,
}

impl PackedBits {
    /// Every one of the `n` points surely on one side of the line.
    #[inline]
    fn every_side_sure(&self, n: usize) -> bool {
        self.sides.left | self.sides.right == edge_points(n)
    }
}

/// The `n` low bits: one per point (`1 <= n <= 64`).
#[inline]
fn edge_points(n: usize) -> u64 {
    if n == 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The sides of the first `n` (at most 64) packed points, each bit set only
/// where the side is sure: farther from zero than the leg's bound.
#[inline]
fn side_bits(leg: &PackedLeg, points: &[u32], n: usize) -> PackedBits {
    assert!(n <= 64 && points.len() >= n + PADDING);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above), and the assert
            // above keeps every eight-wide load within `points`.
            return unsafe { avx2::side_bits(leg, points, n) };
        }
    }
    side_bits_scalar(leg, points, n)
}

/// [`side_bits`] one point at a time: the reference for the wide path and
/// the path on CPUs without it.
#[inline]
fn side_bits_scalar(leg: &PackedLeg, points: &[u32], n: usize) -> PackedBits {
    let mut bits = PackedBits {
        sides: SideBits { left: 0, right: 0 },
        before_a: 0,
        past_b: 0,
        between: 0,
    };
    for (k, &w) in points[..n].iter().enumerate() {
        let (qx, qy) = ((w & 0xFFFF) as f32, (w >> 16) as f32);
        let s = leg.side(qx, qy);
        bits.sides.left |= u64::from(s > leg.side_bound) << k;
        bits.sides.right |= u64::from(s < -leg.side_bound) << k;
        let e = leg.along(qx, qy);
        bits.before_a |= u64::from(e < -leg.margin_a) << k;
        bits.past_b |= u64::from(e > leg.past_b) << k;
        bits.between |= u64::from((e > leg.margin_a) & (e < leg.short_of_b)) << k;
    }
    bits
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Contact, PackedBits, PackedLeg, SideBits, Xy, FIRST_POINT, HEADER, PADDING};

    /// [`PackedRings::leg_meets`] on the run `w` of a polygon of one ring
    /// of 2 to 64 points (closed): the common case, with every step in one
    /// function, so that the sides are worked out inline and nothing is
    /// kept aside for a call (this path was about 640 instructions a
    /// polygon, more than half of a route check's, when it went through
    /// the general loops).
    ///
    /// Safety: the CPU supports AVX2, and `head` and `rest` are a run
    /// written by `push_polygon` of one ring of 2 to 64 points, split at
    /// its first point.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn one_ring_meets(
        head: &[u32; FIRST_POINT],
        rest: &[u32],
        a: Xy,
        b: Xy,
    ) -> Option<bool> {
        let leg = PackedLeg::of_run(head.first_chunk().expect("the run's header"), a, b);
        let len = head[HEADER] as usize;
        let points = &rest[..len + PADDING];
        // SAFETY: AVX2 as above; `points` holds `len + PADDING` words and
        // `len <= 64`.
        let bits = unsafe { side_bits(&leg, points, len) };
        if !bits.every_side_sure(len) {
            return None;
        }
        match leg.across_edges(points, 0, &bits, len)? {
            Contact::Touches | Contact::CrossesRay => Some(true),
            Contact::Misses => Some(false),
        }
    }

    /// Eight points per step. Loads may read up to seven words past `n`;
    /// their bits are cleared.
    ///
    /// Safety: the CPU supports AVX2, and `points` holds at least `n + 7`
    /// words, `n <= 64`.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn side_bits(leg: &PackedLeg, points: &[u32], n: usize) -> PackedBits {
        let (dx, dy, c, p) = (
            _mm256_set1_ps(leg.dx32),
            _mm256_set1_ps(leg.dy32),
            _mm256_set1_ps(leg.c32),
            _mm256_set1_ps(leg.p32),
        );
        let (above, below) = (
            _mm256_set1_ps(leg.side_bound),
            _mm256_set1_ps(-leg.side_bound),
        );
        let (after_a, before_a, past_b, short_of_b) = (
            _mm256_set1_ps(leg.margin_a),
            _mm256_set1_ps(-leg.margin_a),
            _mm256_set1_ps(leg.past_b),
            _mm256_set1_ps(leg.short_of_b),
        );
        let low16 = _mm256_set1_epi32(0xFFFF);
        let mask = |v: __m256| _mm256_movemask_ps(v) as u32 as u64;
        let (mut left, mut right) = (0u64, 0u64);
        let (mut before, mut past, mut between) = (0u64, 0u64, 0u64);
        let mut k = 0;
        while k < n {
            let w = _mm256_loadu_si256(points.as_ptr().add(k).cast());
            let x = _mm256_cvtepi32_ps(_mm256_and_si256(w, low16));
            let y = _mm256_cvtepi32_ps(_mm256_srli_epi32::<16>(w));
            // (dx * y - dy * x) + c, as `PackedLeg::side`.
            let s = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(dx, y), _mm256_mul_ps(dy, x)), c);
            left |= mask(_mm256_cmp_ps::<_CMP_GT_OQ>(s, above)) << k;
            right |= mask(_mm256_cmp_ps::<_CMP_LT_OQ>(s, below)) << k;
            // (dx * x + dy * y) + p, as `PackedLeg::along`.
            let e = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(dx, x), _mm256_mul_ps(dy, y)), p);
            before |= mask(_mm256_cmp_ps::<_CMP_LT_OQ>(e, before_a)) << k;
            past |= mask(_mm256_cmp_ps::<_CMP_GT_OQ>(e, past_b)) << k;
            let inside = _mm256_and_ps(
                _mm256_cmp_ps::<_CMP_GT_OQ>(e, after_a),
                _mm256_cmp_ps::<_CMP_LT_OQ>(e, short_of_b),
            );
            between |= mask(inside) << k;
            k += 8;
        }
        // Bits from the loads past `n` (and past 64, shifted out) go.
        let keep = super::edge_points(n);
        PackedBits {
            sides: SideBits {
                left: left & keep,
                right: right & keep,
            },
            before_a: before & keep,
            past_b: past & keep,
            between: between & keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airspace::geom::tests::{star_ring, uniform};
    use crate::airspace::geom::{leg_meets_flat, FlatPolygon, FlatRings, PlanarShape};

    fn packed_and_flat(shape: &PlanarShape) -> (PackedRings, u32, FlatRings, FlatPolygon) {
        let PlanarShape::Polygon(poly) = shape else {
            unreachable!()
        };
        let mut packed = PackedRings::default();
        // A run after another one, so that offsets are exercised.
        packed.push_polygon(poly).expect("packs");
        let at = packed.push_polygon(poly).expect("packs");
        let mut flat = FlatRings::default();
        let polygon = flat.push_polygon(poly);
        (packed, at, flat, polygon)
    }

    /// Wherever the packed scan decides, it decides as the exact scan; on
    /// legs in general position (random real coordinates, zones far from
    /// the frame's origin, holes, rings of more than 64 points) it nearly
    /// always decides; on legs through vertices and along edges of
    /// whole-metre rings it steps back.
    #[test]
    fn the_packed_scan_decides_as_the_exact_scan_or_steps_back() {
        let mut next = uniform(0xD1B5_4A32_D192_ED03u64);
        let (mut decided, mut stepped_back, mut met) = (0usize, 0usize, 0usize);
        let (mut exact_cases, mut exact_stepped_back) = (0usize, 0usize);
        for round in 0..300 {
            let n = if next() < 0.25 {
                65 + (next() * 140.0) as usize
            } else {
                4 + (next() * 46.0) as usize
            };
            let r0 = 20.0 + next() * 2000.0;
            let whole_metres = round % 3 == 0;
            // Up to 25 km from the origin, where a metre is a fine
            // fraction of the coordinates.
            let centre = Xy::new(
                ((next() - 0.5) * 50_000.0).round(),
                ((next() - 0.5) * 50_000.0).round(),
            );
            let ring: Vec<Xy> = star_ring(&mut next, n, r0, whole_metres)
                .into_iter()
                .map(|p| Xy::new(p.x + centre.x, p.y + centre.y))
                .collect();
            let hole: Vec<Xy> = (0..6)
                .map(|k| {
                    let t = k as f64 / 6.0 * std::f64::consts::TAU;
                    Xy::new(centre.x + 0.2 * r0 * t.cos(), centre.y + 0.2 * r0 * t.sin())
                })
                .collect();
            let holes = if round % 2 == 0 {
                vec![hole]
            } else {
                Vec::new()
            };
            let shape = PlanarShape::polygon(ring.clone(), holes);
            let (packed, at, flat, polygon) = packed_and_flat(&shape);
            for k in 0..80 {
                let v = (next() * n as f64) as usize % n;
                let mut p = || {
                    let v = Xy::new(
                        centre.x + (next() - 0.5) * 3.0 * r0,
                        centre.y + (next() - 0.5) * 3.0 * r0,
                    );
                    if whole_metres {
                        Xy::new(v.x.round(), v.y.round())
                    } else {
                        v
                    }
                };
                let (c, d) = (ring[v], ring[(v + 1) % n]);
                let (a, b) = match k % 8 {
                    // Along an edge, through a vertex, from a vertex.
                    0 => (c, d),
                    1 => {
                        let q = p();
                        (q, Xy::new(2.0 * c.x - q.x, 2.0 * c.y - q.y))
                    }
                    2 => (c, p()),
                    _ => (p(), p()),
                };
                if a == b {
                    continue;
                }
                let exact = leg_meets_flat(a, b, &flat, polygon);
                // The one-ring path (taken here where the ring has at most
                // 64 points and no hole) answers as the general loops,
                // stepping back included.
                assert_eq!(
                    packed.leg_meets(at, a, b),
                    packed.leg_meets_any(&packed.words[at as usize..], a, b),
                    "leg {a:?}-{b:?} against {ring:?}"
                );
                let on_a_vertex = k % 8 < 3;
                match packed.leg_meets(at, a, b) {
                    Some(m) => {
                        assert_eq!(m, exact, "leg {a:?}-{b:?} against {ring:?}");
                        if !on_a_vertex {
                            decided += 1;
                        }
                    }
                    None if !on_a_vertex => stepped_back += 1,
                    None => {}
                }
                // (Rings of one window of side bits: a longer one may find
                // contact in an earlier window and stop there.)
                if on_a_vertex && whole_metres && n < 64 {
                    exact_cases += 1;
                    if packed.leg_meets(at, a, b).is_none() {
                        exact_stepped_back += 1;
                    }
                }
                met += usize::from(exact);
            }
        }
        // Legs in general position are decided packed (a step is at most
        // 6 cm here, so few vertices lie within the bound of a line).
        assert!(
            stepped_back * 100 < decided,
            "{stepped_back} stepped back, {decided} decided"
        );
        // A leg through a vertex always has a vertex on its line.
        assert_eq!(exact_stepped_back, exact_cases, "legs through a vertex");
        assert!(
            met > 3000 && decided > 10_000,
            "{met} met, {decided} decided"
        );
    }

    /// The wide path and the one-at-a-time path give the same bits.
    #[test]
    fn the_wide_and_the_scalar_packed_sides_agree() {
        let mut next = uniform(0x1234_5678_9ABC_DEF1u64);
        for _ in 0..2000 {
            let n = 1 + (next() * 64.0) as usize;
            let points: Vec<u32> = (0..n + PADDING)
                .map(|_| ((next() * 65536.0) as u32) | ((next() * 65536.0) as u32) << 16)
                .collect();
            let mut p = || Xy::new(next() * 70_000.0 - 2000.0, next() * 70_000.0 - 2000.0);
            let leg = PackedLeg::new(p(), p());
            assert_eq!(
                side_bits(&leg, &points, n),
                side_bits_scalar(&leg, &points, n)
            );
        }
    }

    /// A polygon's box spans at most 65,535 steps, with the step as fine as
    /// that allows; its points round to within half a step.
    #[test]
    fn a_polygon_packs_into_its_finest_step() {
        for extent in [1e-3, 0.7, 1.0, 65_535.0, 65_536.0, 123_456.789, 3.0e7] {
            let e = step_exponent(extent);
            assert!((extent / 2f64.powi(e)).round() <= STEPS, "{extent}");
            assert!((extent / 2f64.powi(e - 1)).round() > STEPS, "{extent}");
        }
        let ring = vec![
            Xy::new(1000.25, -70.0),
            Xy::new(1900.0, -70.0),
            Xy::new(1900.0, 400.123),
        ];
        let shape = PlanarShape::polygon(ring.clone(), Vec::new());
        let (packed, at, _, _) = packed_and_flat(&shape);
        let w = &packed.words[at as usize..];
        let step = 1.0 / f64::from_bits(u64::from(w[4]) | u64::from(w[5]) << 32);
        assert_eq!(step, 2f64.powi(-6), "900 m over 65,535 steps");
        for (k, p) in ring.iter().enumerate() {
            let q = unpack(w[HEADER + RING_HEADER + k]);
            let back = Xy::new(1000.25 + q.x * step, -70.0 + q.y * step);
            assert!(
                (back.x - p.x).abs() <= step / 2.0 && (back.y - p.y).abs() <= step / 2.0,
                "{p:?} packs to {back:?}"
            );
        }
    }
}
