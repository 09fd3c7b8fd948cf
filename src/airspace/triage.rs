//! The triage of a route's candidate zones: what each candidate's hot line
//! alone tells of its leg (clear, a conflict, to be scanned on its rings,
//! or to be tested in full), worked out with no branch on the zone's data,
//! four candidates at a time where the CPU has AVX2 (detected when the
//! program runs) and one at a time elsewhere, with the same answers.
//!
//! Why no branch: whether a candidate is rejected or sure follows no
//! pattern a predictor could learn, and a wrong guess throws away the work
//! begun after it (the index's module doc has the figures). Why four at a
//! time: every candidate needs the same few dozen operations (the band,
//! the distance from the leg to two discs, and, where only part of the leg
//! is in the band, that part and its distance to both discs).
//!
//! The walk writes a leg's candidates as whole groups of four, filled up
//! with the index's padding zone, so that each group has one leg, whose
//! numbers are read once for the group.

use super::geom::{Segment, Xy};
use super::index::{ZoneHot, ZoneIndex};

/// What a candidate's hot line tells of its leg. The discriminants are the
/// verdicts' codes (bit 0 sure, bit 1 to be scanned, 3 undecided), which
/// the vector form writes as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Triage {
    /// The leg does not meet the zone.
    Clear = 0,
    /// The leg meets the zone.
    Conflict = 1,
    /// A permanent packed polygon: its rings decide on the part of the
    /// leg in its band ([`Verdicts::part`]).
    Scan = 2,
    /// Only the full test can tell (a buffer, a schedule, a circle, a
    /// part in the band of no length, a NaN altitude).
    Undecided = 3,
}

/// The verdicts by code.
const BY_CODE: [Triage; 4] = [
    Triage::Clear,
    Triage::Conflict,
    Triage::Scan,
    Triage::Undecided,
];

/// Candidates come in groups of this many, all of one leg.
pub(super) const GROUP: usize = 4;

/// A zone whose box meets a leg's (or the padding zone).
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    /// 1-based.
    pub(super) leg: u32,
    pub(super) zone: u32,
}

/// A leg as the triage reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct LegTriage {
    a: Xy,
    b: Xy,
    /// The altitudes above ground at `a` and `b`, and the lower and higher.
    h0: f64,
    h1: f64,
    low: f64,
    high: f64,
    segment: Segment,
    /// No lateral buffer, and a length: a permanent zone's rings decide
    /// the part of the leg in its band.
    scan_ok: bool,
    /// Besides, the altitude changes along the leg and is a number at both
    /// ends, so that the part in a band is a fraction of the leg.
    part_ok: bool,
}

impl LegTriage {
    pub(super) fn new((a, b): (Xy, Xy), (h0, h1): (f64, f64), lateral_buffer_m: f64) -> LegTriage {
        let scan_ok = lateral_buffer_m <= 0.0 && a != b;
        LegTriage {
            a,
            b,
            h0,
            h1,
            // `min` and `max`, not a branch: which end is higher follows
            // no pattern.
            low: h0.min(h1),
            high: h0.max(h1),
            segment: Segment::new(a, b),
            scan_ok,
            part_ok: scan_ok && h0 != h1 && h0.is_finite() && h1.is_finite(),
        }
    }
}

/// The triage's answers for a route's candidates, kept between checks.
#[derive(Debug, Default)]
pub(super) struct Verdicts {
    /// Each candidate's verdict (the caller writes the scans' and full
    /// tests' answers over theirs).
    pub(super) verdicts: Vec<Triage>,
    /// The part of each candidate's leg its rings decide (the whole leg,
    /// or its part in the zone's band), column by column; meaningful for
    /// those to be scanned.
    part_ax: Vec<f64>,
    part_ay: Vec<f64>,
    part_bx: Vec<f64>,
    part_by: Vec<f64>,
    /// The places of the candidates to be scanned (the first `scans`),
    /// and of those to be tested in full (the first `undecided`).
    pub(super) to_scan: Vec<u32>,
    pub(super) scans: usize,
    pub(super) to_decide: Vec<u32>,
    pub(super) undecided: usize,
}

impl Verdicts {
    /// The part of candidate `i`'s leg that its rings decide.
    #[cfg(test)]
    pub(super) fn part(&self, i: usize) -> (Xy, Xy) {
        (
            Xy::new(self.part_ax[i], self.part_ay[i]),
            Xy::new(self.part_bx[i], self.part_by[i]),
        )
    }

    /// Hands `scan` each candidate to be scanned, in order: its zone, the
    /// zone of the one `ahead` places later (the last one, near the end:
    /// no branch) to be asked for ahead, and the part of its leg; its
    /// answer (whether the part meets the zone) is the verdict.
    // The columns cut to the candidates' count first, so that one bounds
    // check of a place stands for all of them (about 20 instructions a
    // scan fewer).
    #[inline(always)]
    pub(super) fn scan_each(
        &mut self,
        candidates: &[Candidate],
        ahead: usize,
        mut scan: impl FnMut(u32, u32, (Xy, Xy)) -> bool,
    ) {
        let n = candidates.len();
        let (ax, ay) = (&self.part_ax[..n], &self.part_ay[..n]);
        let (bx, by) = (&self.part_bx[..n], &self.part_by[..n]);
        let verdicts = &mut self.verdicts[..n];
        let to_scan = &self.to_scan[..self.scans];
        for (k, &i) in to_scan.iter().enumerate() {
            let later = to_scan[(k + ahead).min(to_scan.len() - 1)] as usize;
            let i = i as usize;
            let zone = candidates[i].zone;
            let part = (Xy::new(ax[i], ay[i]), Xy::new(bx[i], by[i]));
            verdicts[i] = if scan(zone, candidates[later].zone, part) {
                Triage::Conflict
            } else {
                Triage::Clear
            };
        }
    }

    /// Room for `n` candidates.
    fn reset(&mut self, n: usize) {
        if self.verdicts.len() < n {
            self.verdicts.resize(n, Triage::Clear);
            for column in [
                &mut self.part_ax,
                &mut self.part_ay,
                &mut self.part_bx,
                &mut self.part_by,
            ] {
                column.resize(n, 0.0);
            }
            // The vector form writes a group's four places past the last
            // kept.
            self.to_scan.resize(n + GROUP, 0);
            self.to_decide.resize(n + GROUP, 0);
        }
        (self.scans, self.undecided) = (0, 0);
    }

    /// Records candidate `i`'s verdict (`code`: [`BY_CODE`]) and the part
    /// of its leg, kept by counts, with no branch.
    #[inline(always)]
    fn record(&mut self, i: usize, code: u8, (pa, pb): (Xy, Xy)) {
        self.verdicts[i] = BY_CODE[usize::from(code & 3)];
        (self.part_ax[i], self.part_ay[i]) = (pa.x, pa.y);
        (self.part_bx[i], self.part_by[i]) = (pb.x, pb.y);
        self.to_scan[self.scans] = i as u32;
        self.scans += usize::from(code == Triage::Scan as u8);
        self.to_decide[self.undecided] = i as u32;
        self.undecided += usize::from(code == Triage::Undecided as u8);
    }
}

/// Fills `candidates` up to a whole number of groups with `padding` (a
/// candidate of the leg just walked, with the index's padding zone), with
/// no branch on how many.
#[inline]
pub(super) fn pad_group(candidates: &mut Vec<Candidate>, padding: Candidate) {
    let n = candidates.len();
    candidates.reserve(GROUP - 1);
    for slot in &mut candidates.spare_capacity_mut()[..GROUP - 1] {
        slot.write(padding);
    }
    // SAFETY: the places up to `GROUP - 1` past `n` were written above.
    unsafe { candidates.set_len(n + n.wrapping_neg() % GROUP) };
}

/// Sorts every candidate (whole groups of [`GROUP`], each of one leg; leg
/// `k` is `legs[k - 1]`) into `out`, four at a time where the CPU allows
/// and `simd` asks.
pub(super) fn triage(
    index: &ZoneIndex,
    candidates: &[Candidate],
    legs: &[LegTriage],
    (vertical_margin_m, lateral_buffer_m): (f64, f64),
    simd: bool,
    out: &mut Verdicts,
) {
    assert!(
        candidates.len().is_multiple_of(GROUP),
        "candidates in whole groups"
    );
    out.reset(candidates.len());
    let hot = index.hot_lines();
    #[cfg(target_arch = "x86_64")]
    if simd && std::arch::is_x86_feature_detected!("avx2") {
        let fits = |c: &[Candidate]| {
            (1..=legs.len()).contains(&(c[0].leg as usize))
                && c.iter()
                    .all(|x| x.leg == c[0].leg && (x.zone as usize) < hot.len())
        };
        debug_assert!(candidates.chunks_exact(GROUP).all(fits));
        // SAFETY: the CPU has AVX2 (checked just above); every candidate's
        // zone has a hot line (the walk wrote it, or the padding zone), and
        // they come in groups of four of one leg in `legs`.
        unsafe {
            avx2::triage(
                hot,
                candidates,
                legs,
                vertical_margin_m,
                lateral_buffer_m,
                out,
            )
        };
        return;
    }
    let _ = simd;
    for (i, c) in candidates.iter().enumerate() {
        let leg = &legs[c.leg as usize - 1];
        let (code, part) = one(
            &hot[c.zone as usize],
            leg,
            vertical_margin_m,
            lateral_buffer_m,
        );
        out.record(i, code, part);
    }
}

/// One candidate's verdict code ([`BY_CODE`]) and the part of its leg its
/// rings decide, as `ZoneIndex::leg_meets_zone` would find them without
/// detail: the band first, then the segment the rings would decide (for a
/// permanent zone, which applies whenever the leg is in its band, the
/// fraction of the leg `vertical_interval` gives where only part of it can
/// be in the band; else the whole leg) clear of the outer disc, or, for a
/// permanent zone, through the inner one. With `&` for `&&` and `||`: no
/// branch.
#[inline(always)]
fn one(h: &ZoneHot, leg: &LegTriage, vertical_margin_m: f64, buffer_m: f64) -> (u8, (Xy, Xy)) {
    let (lo, hi) = (h.floor - vertical_margin_m, h.ceiling + vertical_margin_m);
    let (low, high) = (leg.low, leg.high);
    let flag = |f: u32| h.flags & f != 0;
    // As `leg_meets_zone` tests them (a NaN altitude included).
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let in_band = flag(ZoneHot::CHECKED) & !(high < lo) & !(low > hi);
    let permanent = flag(ZoneHot::PERMANENT);
    let whole = permanent & (low >= lo) & (high <= hi);
    // The part in the band, as `vertical_interval` finds it (meaningful
    // only where `part_ok`: the altitude changes, and is a number).
    let d = leg.h1 - leg.h0;
    let (t0, t1) = ((lo - leg.h0) / d, (hi - leg.h0) / d);
    let (s, e) = (t0.min(t1).max(0.0), t0.max(t1).min(1.0));
    let part = permanent & leg.part_ok & !whole;
    let some = s <= e;
    let (pa, pb) = (leg.a.lerp(leg.b, s), leg.a.lerp(leg.b, e));
    // What the rings would decide: the part in the band where only part
    // of the leg is, else the whole leg. One outer disc test, on that:
    // the part lies on the leg, so a leg clear of the disc has its part
    // clear too.
    let decided = if part {
        Segment::new(pa, pb)
    } else {
        leg.segment
    };
    let clear = !in_band | (part & !some) | h.discs.clear_of(&decided, buffer_m);
    let sure = !clear & (whole | (part & some)) & h.discs.enters(&decided);
    let fits = (whole & leg.scan_ok) | (part & some & (pa != pb));
    let scan = fits & !clear & !sure & flag(ZoneHot::PACKED);
    let undecided = !clear & !sure & !scan;
    let code = u8::from(sure) | (u8::from(scan) << 1) | (u8::from(undecided) * 3);
    let part = if part { (pa, pb) } else { (leg.a, leg.b) };
    (code, part)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! [`super::one`] four candidates at a time: the same operations in
    //! the same order on each lane (no fused multiply-add), so every
    //! answer is the one-at-a-time answer, bit for bit.

    use std::arch::x86_64::*;
    use std::mem::offset_of;

    use super::{Candidate, LegTriage, Verdicts, GROUP};
    use crate::airspace::index::{Discs, ZoneHot};

    // The places the loads below read.
    const _: () = {
        assert!(offset_of!(ZoneHot, discs) == 0);
        assert!(offset_of!(Discs, outer_x) == 0);
        assert!(offset_of!(Discs, outer_y) == 4);
        assert!(offset_of!(Discs, outer) == 8);
        assert!(offset_of!(Discs, inner_x) == 12);
        assert!(offset_of!(Discs, inner_y) == 16);
        assert!(offset_of!(Discs, inner) == 20);
        assert!(offset_of!(ZoneHot, flags) == 24);
        assert!(offset_of!(ZoneHot, floor) == 32);
        assert!(offset_of!(ZoneHot, ceiling) == 40);
    };

    /// Squared distance from the points `(px, py)` to the segment from
    /// `(ax, ay)` along `(dx, dy)`, as `Segment::distance2_filter`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn distance2(
        (px, py): (__m256d, __m256d),
        (ax, ay): (__m256d, __m256d),
        (dx, dy): (__m256d, __m256d),
        inv_len2: __m256d,
    ) -> __m256d {
        let t = _mm256_mul_pd(
            _mm256_add_pd(
                _mm256_mul_pd(_mm256_sub_pd(px, ax), dx),
                _mm256_mul_pd(_mm256_sub_pd(py, ay), dy),
            ),
            inv_len2,
        );
        // `max` first, with the 0 second: a NaN `t` becomes 0, as
        // `f64::max` makes it.
        let t = _mm256_min_pd(_mm256_max_pd(t, _mm256_setzero_pd()), _mm256_set1_pd(1.0));
        let qx = _mm256_sub_pd(px, _mm256_add_pd(ax, _mm256_mul_pd(dx, t)));
        let qy = _mm256_sub_pd(py, _mm256_add_pd(ay, _mm256_mul_pd(dy, t)));
        _mm256_add_pd(_mm256_mul_pd(qx, qx), _mm256_mul_pd(qy, qy))
    }

    /// Bit `k` of `lanes` (four bits) to bit 0 of byte `k`.
    #[inline(always)]
    fn spread(lanes: u32) -> u32 {
        // Bit k lands on bit 8k: 7k from the product, k from its place.
        (lanes * 0x0020_4081) & 0x0101_0101
    }

    /// For each set of four lanes, the lanes in it packed to the front.
    const PACK: [[i32; 4]; 16] = {
        let mut table = [[0i32; 4]; 16];
        let mut lanes = 0;
        while lanes < 16 {
            let (mut k, mut n) = (0, 0);
            while k < 4 {
                if lanes >> k & 1 == 1 {
                    table[lanes][n] = k;
                    n += 1;
                }
                k += 1;
            }
            lanes += 1;
        }
        table
    };

    /// How many groups ahead the triage asks the memory for hot lines.
    const HOT_AHEAD: usize = 2;

    /// Every group of candidates, as [`super::triage`].
    ///
    /// Safety: the CPU supports AVX2; every candidate's zone is below
    /// `hot.len()`; `candidates.len()` is a multiple of [`GROUP`], each
    /// group of one leg in `legs` (1-based).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn triage(
        hot: &[ZoneHot],
        candidates: &[Candidate],
        legs: &[LegTriage],
        vertical_margin_m: f64,
        lateral_buffer_m: f64,
        out: &mut Verdicts,
    ) {
        let set = _mm256_set1_pd;
        let all = |b: bool| _mm256_castsi256_pd(_mm256_set1_epi64x(-i64::from(b)));
        let ones = all(true);
        let not = |m| _mm256_andnot_pd(m, ones);
        let (and, or) = (_mm256_and_pd, _mm256_or_pd);
        let (vm, buffer) = (set(vertical_margin_m), set(lateral_buffer_m.max(0.0)));
        let (mut scans, mut undecided) = (out.scans, out.undecided);
        let groups = candidates.len() / GROUP;
        let prefetch = |c: &Candidate| {
            _mm_prefetch::<_MM_HINT_T0>(hot.as_ptr().wrapping_add(c.zone as usize).cast::<i8>())
        };
        // The first groups' lines asked for before the first group.
        candidates[..candidates.len().min(HOT_AHEAD * GROUP)]
            .iter()
            .for_each(prefetch);
        for (g, group) in candidates.chunks_exact(GROUP).enumerate() {
            // The hot lines of the group two ahead, asked for now: on a
            // district's map few are in the core's own cache.
            // Near the end, the last group again: no branch.
            let ahead = (g + HOT_AHEAD).min(groups - 1) * GROUP;
            for k in 0..GROUP {
                // SAFETY: `ahead` starts a whole group of `candidates`.
                prefetch(unsafe { candidates.get_unchecked(ahead + k) });
            }
            // SAFETY: each group's leg is in `legs` (the caller's promise).
            let leg = unsafe { legs.get_unchecked(group[0].leg as usize - 1) };
            // SAFETY: every zone has a hot line (the caller's promise).
            let line = |k: usize| unsafe { hot.as_ptr().add(group[k].zone as usize) };
            // The first 32 bytes of each line, as eight 32-bit lanes, turned
            // into columns: four loads, eight shuffles.
            // SAFETY: a hot line is 64 bytes, aligned to 64.
            let row = |k: usize| unsafe { _mm256_load_ps(line(k).cast::<f32>()) };
            let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
            let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
            // Columns 0 and 4, 1 and 5, 2 and 6, 3 and 7.
            let c04 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let c15 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let c26 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let c37 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let low_half = |v: __m256| _mm256_cvtps_pd(_mm256_castps256_ps128(v));
            let high_half = |v: __m256| _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v));
            let outer_c = (low_half(c04), low_half(c15));
            let outer_r = low_half(c26);
            let inner_c = (low_half(c37), high_half(c04));
            let inner_r = high_half(c15);
            let flags = _mm256_cvtepu32_epi64(_mm_castps_si128(_mm256_extractf128_ps::<1>(c26)));
            let flag = |f: u32| {
                let f = _mm256_set1_epi64x(i64::from(f));
                _mm256_castsi256_pd(_mm256_cmpeq_epi64(_mm256_and_si256(flags, f), f))
            };
            // The bands: two lines' floor and ceiling in each half.
            // SAFETY: floor and ceiling are 16 bytes at 32 in a hot line.
            let band = |k: usize| unsafe { _mm_load_pd(line(k).cast::<f64>().add(4)) };
            let x = _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(band(0)), band(2));
            let y = _mm256_insertf128_pd::<1>(_mm256_castpd128_pd256(band(1)), band(3));
            let lo = _mm256_sub_pd(_mm256_unpacklo_pd(x, y), vm);
            let hi = _mm256_add_pd(_mm256_unpackhi_pd(x, y), vm);
            // The leg, the same on every lane.
            let (start, along, inv_len2) = leg.segment.filter_terms();
            let a = (set(start.x), set(start.y));
            let ab = (set(along.x), set(along.y));
            let inv_len2 = set(inv_len2);
            let (low, high) = (set(leg.low), set(leg.high));
            let outer_reach = _mm256_add_pd(outer_r, buffer);
            // `!(high < lo)` and `!(low > hi)`: true where unordered.
            let in_band = and(
                flag(ZoneHot::CHECKED),
                and(
                    _mm256_cmp_pd::<_CMP_NLT_UQ>(high, lo),
                    _mm256_cmp_pd::<_CMP_NGT_UQ>(low, hi),
                ),
            );
            let permanent = flag(ZoneHot::PERMANENT);
            let whole = and(
                permanent,
                and(
                    _mm256_cmp_pd::<_CMP_GE_OQ>(low, lo),
                    _mm256_cmp_pd::<_CMP_LE_OQ>(high, hi),
                ),
            );
            let has_inner = _mm256_cmp_pd::<_CMP_GT_OQ>(inner_r, _mm256_setzero_pd());
            let inner2 = _mm256_mul_pd(inner_r, inner_r);
            let enters = |from, dir, inv| {
                and(
                    has_inner,
                    _mm256_cmp_pd::<_CMP_LT_OQ>(distance2(inner_c, from, dir, inv), inner2),
                )
            };
            // The part in the band, as `vertical_interval` finds it.
            let (h0, d) = (set(leg.h0), set(leg.h1 - leg.h0));
            let t0 = _mm256_div_pd(_mm256_sub_pd(lo, h0), d);
            let t1 = _mm256_div_pd(_mm256_sub_pd(hi, h0), d);
            let s = _mm256_max_pd(_mm256_min_pd(t0, t1), _mm256_setzero_pd());
            let e = _mm256_min_pd(_mm256_max_pd(t0, t1), set(1.0));
            let part = _mm256_andnot_pd(whole, and(permanent, all(leg.part_ok)));
            let some = _mm256_cmp_pd::<_CMP_LE_OQ>(s, e);
            let lerp = |t| {
                (
                    _mm256_add_pd(a.0, _mm256_mul_pd(ab.0, t)),
                    _mm256_add_pd(a.1, _mm256_mul_pd(ab.1, t)),
                )
            };
            let (pa, pb) = (lerp(s), lerp(e));
            let pab = (_mm256_sub_pd(pb.0, pa.0), _mm256_sub_pd(pb.1, pa.1));
            let len2 = _mm256_add_pd(_mm256_mul_pd(pab.0, pab.0), _mm256_mul_pd(pab.1, pab.1));
            let part_inv = and(
                _mm256_div_pd(set(1.0), len2),
                _mm256_cmp_pd::<_CMP_GT_OQ>(len2, _mm256_setzero_pd()),
            );
            let in_part = and(part, some);
            // What the rings would decide: the part in the band where only
            // part of the leg is, else the whole leg; the outer disc tested
            // once, on that.
            let pick = |whole_leg, part_of_it| _mm256_blendv_pd(whole_leg, part_of_it, part);
            let decided_a = (pick(a.0, pa.0), pick(a.1, pa.1));
            let decided_b = (pick(set(leg.b.x), pb.0), pick(set(leg.b.y), pb.1));
            let decided_ab = (pick(ab.0, pab.0), pick(ab.1, pab.1));
            let decided_inv = pick(inv_len2, part_inv);
            let clear_of_outer = _mm256_cmp_pd::<_CMP_GT_OQ>(
                distance2(outer_c, decided_a, decided_ab, decided_inv),
                _mm256_mul_pd(outer_reach, outer_reach),
            );
            let clear = or(
                or(not(in_band), _mm256_andnot_pd(some, part)),
                clear_of_outer,
            );
            let sure = _mm256_andnot_pd(
                clear,
                and(
                    or(whole, in_part),
                    enters(decided_a, decided_ab, decided_inv),
                ),
            );
            let same_ends = and(
                _mm256_cmp_pd::<_CMP_EQ_OQ>(pa.0, pb.0),
                _mm256_cmp_pd::<_CMP_EQ_OQ>(pa.1, pb.1),
            );
            let fits = or(
                and(whole, all(leg.scan_ok)),
                _mm256_andnot_pd(same_ends, in_part),
            );
            let scan = and(
                _mm256_andnot_pd(or(clear, sure), fits),
                flag(ZoneHot::PACKED),
            );
            let undecided_lanes = not(or(clear, or(sure, scan)));
            // The parts: the whole leg, unless only part of it can be in
            // the band.
            let i = g * GROUP;
            let column = |v: &mut Vec<f64>, x: __m256d| {
                debug_assert!(i + GROUP <= v.len());
                // SAFETY: `reset` gave every column a place per candidate.
                unsafe { _mm256_storeu_pd(v.as_mut_ptr().add(i), x) }
            };
            column(&mut out.part_ax, decided_a.0);
            column(&mut out.part_ay, decided_a.1);
            column(&mut out.part_bx, decided_b.0);
            column(&mut out.part_by, decided_b.1);
            // The verdicts' codes, one byte a candidate, and the places of
            // those to be scanned and tested in full packed to the front
            // of four by table: no branch, no loop over the lanes.
            let (sure, scan, undecided_lanes) = (
                _mm256_movemask_pd(sure) as u32,
                _mm256_movemask_pd(scan) as u32,
                _mm256_movemask_pd(undecided_lanes) as u32,
            );
            let codes = spread(sure) | (spread(scan) << 1) | (spread(undecided_lanes) * 3);
            debug_assert!(i + GROUP <= out.verdicts.len());
            // SAFETY: four places from `i` (`reset`), and each byte of
            // `codes` is 0 to 3, a `Triage` (its discriminants).
            unsafe {
                out.verdicts
                    .as_mut_ptr()
                    .add(i)
                    .cast::<u32>()
                    .write_unaligned(codes.to_le())
            };
            let places = _mm_set1_epi32(i as i32);
            let keep = |list: &mut Vec<u32>, count: usize, lanes: u32| {
                debug_assert!(count + GROUP <= list.len());
                // SAFETY: `PACK` rows are four `i32`, one `__m128i`.
                let lanes = unsafe { _mm_loadu_si128(PACK[lanes as usize & 15].as_ptr().cast()) };
                // SAFETY: `reset` left `GROUP` places past every
                // candidate's.
                unsafe {
                    _mm_storeu_si128(
                        list.as_mut_ptr().add(count).cast(),
                        _mm_add_epi32(places, lanes),
                    )
                };
            };
            keep(&mut out.to_scan, scans, scan);
            scans += scan.count_ones() as usize;
            keep(&mut out.to_decide, undecided, undecided_lanes);
            undecided += undecided_lanes.count_ones() as usize;
        }
        (out.scans, out.undecided) = (scans, undecided);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airspace::geom::tests::{star_ring, uniform};
    use crate::airspace::index::AirspaceFrame;
    use crate::airspace::{AltitudeReference, Applicability, Band, Zone, ZoneKind, ZoneShape};
    use chrono::TimeZone;

    #[test]
    fn padding_fills_each_leg_up_to_whole_groups() {
        let mut candidates = Vec::new();
        for (leg, found) in [(1, 0), (2, 3), (3, 4), (4, 5)] {
            for zone in 0..found {
                candidates.push(Candidate { leg, zone });
            }
            pad_group(&mut candidates, Candidate { leg, zone: 99 });
            assert_eq!(candidates.len() % GROUP, 0, "leg {leg}");
        }
        let zones: Vec<u32> = candidates.iter().map(|c| c.zone).collect();
        assert_eq!(zones, [0, 1, 2, 99, 0, 1, 2, 3, 0, 1, 2, 3, 4, 99, 99, 99]);
    }

    /// Zones of every kind of verdict: star polygons (packed), circles,
    /// zones with a time window, an operating area, bands high and low.
    fn mixed_index(next: &mut impl FnMut() -> f64) -> ZoneIndex {
        let window = Applicability::between(
            chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            chrono::Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
        );
        let zones = (0..60)
            .map(|k| {
                let (cx, cy) = (next() * 2000.0, next() * 2000.0);
                let radius = 50.0 + next() * 400.0;
                let shape = if k % 7 == 3 {
                    ZoneShape::Circle {
                        center: (cx, cy),
                        radius_m: radius,
                    }
                } else {
                    let ring = star_ring(next, 8 + k % 40, radius, k % 2 == 0);
                    ZoneShape::Polygon {
                        exterior: ring.iter().map(|p| (cx + p.x, cy + p.y)).collect(),
                        holes: Vec::new(),
                    }
                };
                let floor = [0.0, 30.0, 60.0][k % 3];
                let ceiling = floor + [40.0, 120.0][k % 2];
                Zone {
                    id: format!("z{k}"),
                    name: String::new(),
                    reason: String::new(),
                    kind: if k == 17 {
                        ZoneKind::OperatingArea
                    } else {
                        ZoneKind::Prohibited
                    },
                    shape,
                    band: Band::new(floor, ceiling, AltitudeReference::Agl).expect("band"),
                    time: if k % 5 == 4 {
                        window.clone()
                    } else {
                        Applicability::permanent()
                    },
                }
            })
            .collect();
        ZoneIndex::build(zones, AirspaceFrame::planar())
    }

    #[test]
    fn four_at_a_time_gives_the_one_at_a_time_verdicts_and_parts() {
        if !cfg!(target_arch = "x86_64") || !is_avx2() {
            eprintln!("skipped: this CPU has no AVX2, so only one form runs");
            return;
        }
        let mut next = uniform(7);
        let index = mixed_index(&mut next);
        let (mut seen, mut part_scans) = ([0usize; 4], 0);
        for round in 0..40 {
            // Legs high, low, level, climbing across a band, of no length,
            // and with NaN altitudes; with and without a buffer.
            let buffer = if round % 4 == 3 { 10.0 } else { 0.0 };
            let margin = [0.0, 5.0][round % 2];
            let mut legs = Vec::new();
            let mut candidates = Vec::new();
            for leg in 1..=12u32 {
                let a = Xy::new(next() * 2000.0, next() * 2000.0);
                let b = if leg % 6 == 0 {
                    a
                } else {
                    Xy::new(a.x + next() * 600.0 - 300.0, a.y + next() * 600.0 - 300.0)
                };
                let h = |next: &mut dyn FnMut() -> f64| (next() * 200.0).round();
                let (h0, h1) = match leg % 5 {
                    0 => (70.0, 70.0),
                    1 => (f64::NAN, 50.0),
                    _ => (h(&mut next), h(&mut next)),
                };
                legs.push(LegTriage::new((a, b), (h0, h1), buffer));
                for zone in 0..index.len() as u32 {
                    candidates.push(Candidate { leg, zone });
                }
                pad_group(
                    &mut candidates,
                    Candidate {
                        leg,
                        zone: index.padding_zone(),
                    },
                );
            }
            let (mut one_by_one, mut four) = (Verdicts::default(), Verdicts::default());
            triage(
                &index,
                &candidates,
                &legs,
                (margin, buffer),
                false,
                &mut one_by_one,
            );
            triage(
                &index,
                &candidates,
                &legs,
                (margin, buffer),
                true,
                &mut four,
            );
            let n = candidates.len();
            assert_eq!(
                one_by_one.verdicts[..n],
                four.verdicts[..n],
                "round {round}"
            );
            let scans = &one_by_one.to_scan[..one_by_one.scans];
            assert_eq!(scans, &four.to_scan[..four.scans], "round {round}");
            assert_eq!(
                one_by_one.to_decide[..one_by_one.undecided],
                four.to_decide[..four.undecided],
                "round {round}"
            );
            for &i in scans {
                let part = one_by_one.part(i as usize);
                assert_eq!(part, four.part(i as usize), "round {round}");
                let leg = &legs[candidates[i as usize].leg as usize - 1];
                part_scans += usize::from(part != (leg.a, leg.b));
            }
            for &v in &one_by_one.verdicts[..n] {
                seen[v as usize] += 1;
            }
        }
        assert!(
            seen.iter().all(|&n| n > 0),
            "every verdict met (clear, conflict, scan, undecided): {seen:?}"
        );
        assert!(part_scans > 0, "some scans of part of a leg");
        eprintln!("verdicts {seen:?}, scans of part of a leg {part_scans}");
    }

    fn is_avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        return std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        false
    }
}
