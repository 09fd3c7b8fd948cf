//! Which side of a leg's line each vertex of a ring lies on, read for up to
//! 64 vertices at once into two bit masks.
//!
//! The decision "does this leg meet this zone" reads every vertex's side of
//! the leg's line and looks closer only where the side changes (see
//! `geom::ring_scan`). Reading the sides is most of a route check's
//! arithmetic, and it is the same few operations on every vertex, so on
//! x86-64 CPUs with AVX2 (detected when the program runs) four vertices are
//! read per instruction from the rings' coordinates stored column-wise
//! ([`super::geom::FlatRings`]). Elsewhere the same sums run one vertex at a
//! time. Both give the same bits: each side is
//! `dx * (y - ay) - dy * (x - ax)`, the operations of `geom::orient` in its
//! order, with no fused multiply-add, so every sign agrees bit for bit with
//! the scalar predicate the rest of the module uses.

use super::geom::Xy;

/// A leg's line, from `a` in the direction `b - a`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Line {
    ax: f64,
    ay: f64,
    dx: f64,
    dy: f64,
}

impl Line {
    #[inline]
    pub(super) fn through(a: Xy, b: Xy) -> Line {
        Line {
            ax: a.x,
            ay: a.y,
            dx: b.x - a.x,
            dy: b.y - a.y,
        }
    }

    /// Twice the signed area of (`a`, `b`, `p`): positive with `p` on the
    /// left of the line, as `geom::orient(a, b, p)`.
    #[inline]
    pub(super) fn side(&self, x: f64, y: f64) -> f64 {
        self.dx * (y - self.ay) - self.dy * (x - self.ax)
    }
}

/// Bit `k` says vertex `k` lies strictly on that side of the line; a vertex
/// on the line (or a NaN side) has neither bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SideBits {
    pub left: u64,
    pub right: u64,
}

impl SideBits {
    /// Bit `k` set where the edge from vertex `k` to vertex `k + 1` (of `n`
    /// vertices) needs a closer look: its ends are not strictly on one side.
    #[inline]
    pub(super) fn edges_to_check(&self, n: usize) -> u64 {
        let one_side = (self.left & (self.left >> 1)) | (self.right & (self.right >> 1));
        !one_side & edge_mask(n)
    }

    /// Of [`SideBits::edges_to_check`], the edges whose ends are strictly on
    /// opposite sides (neither on the line).
    #[inline]
    pub(super) fn edges_across(&self, n: usize) -> u64 {
        let across = (self.left & (self.right >> 1)) | (self.right & (self.left >> 1));
        across & edge_mask(n)
    }
}

/// The `n - 1` low bits: one per edge between `n` vertices (`1 <= n <= 64`).
#[inline]
fn edge_mask(n: usize) -> u64 {
    debug_assert!((1..=64).contains(&n));
    u64::MAX >> (65 - n)
}

/// How many coordinates past a ring's last vertex must be readable for
/// [`side_bits`]: its wide loads read four at a time from any vertex.
pub(super) const PADDING: usize = 3;

/// The sides of the first `n` (at most 64) vertices given column-wise in
/// `xs` and `ys`, which hold at least `n + PADDING` values each (what is
/// read past `n` is ignored).
#[inline]
pub(super) fn side_bits(line: &Line, xs: &[f64], ys: &[f64], n: usize) -> SideBits {
    assert!(n <= 64 && xs.len() >= n + PADDING && ys.len() >= n + PADDING);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above), and the assert
            // above keeps every four-wide load within `xs` and `ys`.
            return unsafe { avx2::side_bits(line, xs, ys, n) };
        }
    }
    side_bits_scalar(line, xs, ys, n)
}

/// [`side_bits`] one vertex at a time: the reference for the wide path and
/// the path on CPUs without it.
#[inline]
pub(super) fn side_bits_scalar(line: &Line, xs: &[f64], ys: &[f64], n: usize) -> SideBits {
    let mut bits = SideBits { left: 0, right: 0 };
    for (k, (&x, &y)) in xs[..n].iter().zip(&ys[..n]).enumerate() {
        let s = line.side(x, y);
        bits.left |= u64::from(s > 0.0) << k;
        bits.right |= u64::from(s < 0.0) << k;
    }
    bits
}

/// The sides of up to 64 vertices stored as points (a `PlanarShape`'s own
/// rings, which are not laid out column-wise).
#[inline]
pub(super) fn side_bits_of_points(line: &Line, points: &[Xy]) -> SideBits {
    debug_assert!(points.len() <= 64);
    let mut bits = SideBits { left: 0, right: 0 };
    for (k, p) in points.iter().enumerate() {
        let s = line.side(p.x, p.y);
        bits.left |= u64::from(s > 0.0) << k;
        bits.right |= u64::from(s < 0.0) << k;
    }
    bits
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Line, SideBits};

    /// Four vertices per step. Loads may read up to three values past `n`;
    /// their bits are cleared.
    ///
    /// Safety: the CPU supports AVX2, and `xs` and `ys` hold at least
    /// `n + 3` values each, `n <= 64`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn side_bits(line: &Line, xs: &[f64], ys: &[f64], n: usize) -> SideBits {
        let (ax, ay) = (_mm256_set1_pd(line.ax), _mm256_set1_pd(line.ay));
        let (dx, dy) = (_mm256_set1_pd(line.dx), _mm256_set1_pd(line.dy));
        let zero = _mm256_setzero_pd();
        let (mut left, mut right) = (0u64, 0u64);
        let mut k = 0;
        while k < n {
            let x = _mm256_loadu_pd(xs.as_ptr().add(k));
            let y = _mm256_loadu_pd(ys.as_ptr().add(k));
            // dx * (y - ay) - dy * (x - ax), as `Line::side`.
            let s = _mm256_sub_pd(
                _mm256_mul_pd(dx, _mm256_sub_pd(y, ay)),
                _mm256_mul_pd(dy, _mm256_sub_pd(x, ax)),
            );
            left |= (_mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(s, zero)) as u64) << k;
            right |= (_mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(s, zero)) as u64) << k;
            k += 4;
        }
        // Bits from the loads past `n` (and past 64, shifted out) go.
        let keep = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        SideBits {
            left: left & keep,
            right: right & keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn padded(v: &[f64]) -> Vec<f64> {
        let mut v = v.to_vec();
        v.extend(std::iter::repeat_n(f64::NAN, PADDING));
        v
    }

    proptest! {
        /// The wide path and the one-at-a-time path give the same bits,
        /// also for vertices exactly on the line (whole-metre coordinates
        /// make many of them) and whatever lies in the padding.
        #[test]
        fn the_wide_and_the_scalar_sides_agree(
            pts in proptest::collection::vec((-20i32..20, -20i32..20), 1..=64),
            a in (-20i32..20, -20i32..20),
            b in (-20i32..20, -20i32..20),
            jitter in 0.0f64..1e-3,
        ) {
            let xs: Vec<f64> = pts.iter().enumerate()
                .map(|(k, p)| f64::from(p.0) + if k % 5 == 4 { jitter } else { 0.0 })
                .collect();
            let ys: Vec<f64> = pts.iter().map(|p| f64::from(p.1)).collect();
            let line = Line::through(
                Xy::new(f64::from(a.0), f64::from(a.1)),
                Xy::new(f64::from(b.0), f64::from(b.1)),
            );
            let n = xs.len();
            let (pxs, pys) = (padded(&xs), padded(&ys));
            let wide = side_bits(&line, &pxs, &pys, n);
            let one = side_bits_scalar(&line, &pxs, &pys, n);
            prop_assert_eq!(wide, one);
            let points: Vec<Xy> = xs.iter().zip(&ys).map(|(&x, &y)| Xy::new(x, y)).collect();
            prop_assert_eq!(side_bits_of_points(&line, &points), one);
            // Each bit is the sign of the plain orientation.
            for k in 0..n {
                let s = line.side(xs[k], ys[k]);
                prop_assert_eq!(one.left >> k & 1 == 1, s > 0.0);
                prop_assert_eq!(one.right >> k & 1 == 1, s < 0.0);
            }
        }
    }

    #[test]
    fn edges_to_check_are_those_not_strictly_on_one_side() {
        // Vertices: left, left, on the line, right, right, left.
        let bits = SideBits {
            left: 0b100011,
            right: 0b011000,
        };
        // Edges 0-1 (left, left) and 3-4 (right, right) are skipped; 1-2
        // and 2-3 touch the line; 4-5 crosses it.
        assert_eq!(bits.edges_to_check(6), 0b10110);
        assert_eq!(bits.edges_across(6), 0b10000);
        // Only the edges between the first n vertices count.
        assert_eq!(bits.edges_to_check(3), 0b10);
        let all_left = SideBits {
            left: u64::MAX,
            right: 0,
        };
        assert_eq!(all_left.edges_to_check(64), 0);
        let alternating = SideBits {
            left: 0x5555_5555_5555_5555,
            right: 0xAAAA_AAAA_AAAA_AAAA,
        };
        assert_eq!(alternating.edges_across(64), u64::MAX >> 1);
    }
}
