//! `skyshare bench airspace POLYS ROUTES`: the shared geofence instance
//! (shared/bench/geofence_instance.py) through the zone index, timed, with
//! the same conflict definitions as the shapely peer (peer_shapely.py):
//!
//! - 3D: a segment (two consecutive waypoints) conflicts with a zone when it
//!   meets the polygon (touching counts, as GEOS `intersects`) and its
//!   altitude range `[min, max]` overlaps the zone's band `[floor, ceiling]`.
//! - 2D: distinct (route, zone) pairs whose polyline meets the polygon.
//! - Points: a point strictly inside a polygon (GEOS `within`).
//!
//! With `--peer-python`, the peer runs on the same files in the same run and
//! the figures are printed side by side with the ratios.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{TimeZone, Utc};
use serde::Deserialize;

use crate::airspace::geom::Xy;
use crate::airspace::{
    AirspaceFrame, AltitudeReference, Applicability, Band, CheckOptions, PairScratch, Waypoint,
    Zone, ZoneIndex, ZoneKind, ZoneShape,
};

#[derive(Deserialize)]
struct PolyRecord {
    ring: Vec<[f64; 2]>,
    alt: [f64; 2],
}

#[derive(Deserialize)]
struct RouteRecord {
    pts: Vec<[f64; 2]>,
    alt: Vec<f64>,
}

pub struct Instance {
    pub zones: Vec<Zone>,
    pub routes: Vec<(Vec<Xy>, Vec<f64>)>,
}

/// Reads the two instance files; coordinates are local metres.
pub fn load(polys: &Path, routes_path: &Path) -> anyhow::Result<Instance> {
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let polys: Vec<PolyRecord> = serde_json::from_str(&read(polys)?)
        .with_context(|| format!("{} is not a polygon list", polys.display()))?;
    let routes: Vec<RouteRecord> = serde_json::from_str(&read(routes_path)?)
        .with_context(|| format!("{} is not a route list", routes_path.display()))?;
    let mut zones = Vec::with_capacity(polys.len());
    for (i, p) in polys.into_iter().enumerate() {
        if p.ring.len() < 3 {
            bail!("polygon {i} has {} vertices", p.ring.len());
        }
        let band = Band::new(p.alt[0], p.alt[1], AltitudeReference::Agl)
            .with_context(|| format!("polygon {i}"))?;
        zones.push(Zone {
            id: format!("P{i}"),
            name: format!("polygon {i}"),
            reason: String::new(),
            kind: ZoneKind::Prohibited,
            shape: ZoneShape::Polygon {
                exterior: p.ring.iter().map(|c| (c[0], c[1])).collect(),
                holes: Vec::new(),
            },
            band,
            time: Applicability::permanent(),
        });
    }
    if routes.is_empty() {
        bail!(
            "{} holds no routes: the route figures need at least one",
            routes_path.display()
        );
    }
    let mut out = Vec::with_capacity(routes.len());
    for (j, r) in routes.into_iter().enumerate() {
        if r.pts.len() != r.alt.len() || r.pts.len() < 2 {
            bail!(
                "route {j}: {} points and {} altitudes",
                r.pts.len(),
                r.alt.len()
            );
        }
        out.push((r.pts.iter().map(|c| Xy::new(c[0], c[1])).collect(), r.alt));
    }
    Ok(Instance { zones, routes: out })
}

/// Best and median of `reps` runs of `f`, in seconds, and its last result.
fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut times = Vec::with_capacity(reps);
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let r = f();
        times.push(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    times.sort_by(f64::total_cmp);
    (
        times[0],
        times[times.len() / 2],
        last.expect("at least one run"),
    )
}

/// Deterministic points when no point file is given (splitmix64).
fn generated_points(n: usize, lo: f64, hi: f64) -> Vec<Xy> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        lo + (hi - lo) * ((z >> 11) as f64 / (1u64 << 53) as f64)
    };
    (0..n).map(|_| Xy::new(next(), next())).collect()
}

/// Points as little-endian f64 pairs (numpy `xy.astype('<f8').tofile(...)`).
fn read_points(path: &Path) -> anyhow::Result<Vec<Xy>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() % 16 != 0 {
        bail!(
            "{}: {} bytes is not a whole number of (x, y) f64 pairs",
            path.display(),
            bytes.len()
        );
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|c| {
            let x = f64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
            let y = f64::from_le_bytes(c[8..].try_into().expect("8 bytes"));
            Xy::new(x, y)
        })
        .collect())
}

#[derive(Debug, Default, Clone)]
pub struct Figures {
    pub segments: usize,
    pub segment_conflicts: usize,
    pub routes_in_conflict: usize,
    pub segment_best_s: f64,
    pub segment_median_s: f64,
    pub route_pairs_2d: usize,
    pub route_pairs_best_s: f64,
    pub points: usize,
    pub point_hits: usize,
    pub points_best_s: f64,
    pub route_check_p50_us: f64,
    pub route_check_p99_us: f64,
    pub route_check_max_us: f64,
    pub route_check_conflicts: usize,
    pub verdict_p50_us: f64,
    pub verdict_p99_us: f64,
    pub verdict_refused: usize,
    pub buffered_p50_us: f64,
    pub buffered_p99_us: f64,
    pub buffered_conflicts: usize,
    pub pairs_p50_us: f64,
    pub pairs_p99_us: f64,
    pub pairs_max_us: f64,
    /// Each route's fastest time over the repetitions, at p50 and p99: the
    /// work a route takes, without the machine's interruptions.
    pub pairs_best_p50_us: f64,
    pub pairs_best_p99_us: f64,
    /// The p99 of each pass over the routes on its own (one check of each
    /// route), the lowest, the median and the highest over the passes:
    /// how much of the p99 over every sample comes from the machine's slow
    /// spells, which can last longer than a pass.
    pub pairs_pass_p99_us: [f64; 3],
    /// Each route checked right after three checks of the same route: its
    /// zones in the core's caches, as on a district's map of tens of zones.
    /// Set against the figures above, it tells how much of a check is
    /// waiting for memory.
    pub pairs_cached_p50_us: f64,
    pub pairs_cached_p99_us: f64,
    /// A fixed computation as long as the pairs' median, reading no memory,
    /// timed as often right after them: what this machine's interruptions
    /// alone add at p99 to work of that length.
    pub reference_p50_us: f64,
    pub reference_p99_us: f64,
    /// How many checks the pairs' p50 and p99 are over (routes x passes).
    pub pairs_samples: usize,
    pub pairs_conflicts: usize,
    /// Whether the pairs found are those of the full check, route by route.
    pub pairs_agree: bool,
    pub index_build_s: f64,
}

/// Runs the three measurements on a loaded instance.
/// `reps` repeats each bulk measurement, `route_reps` is the number of
/// passes over the routes for the one-route figures.
pub fn measure(
    instance: Instance,
    points: Vec<Xy>,
    reps: usize,
    route_reps: usize,
    route_only: bool,
) -> Figures {
    let mut f = Figures::default();
    let t = Instant::now();
    let index = ZoneIndex::build(instance.zones, AirspaceFrame::planar());
    f.index_build_s = t.elapsed().as_secs_f64();
    f.segments = instance.routes.iter().map(|(p, _)| p.len() - 1).sum();
    if !route_only {
        measure_bulk(&index, &instance.routes, &points, reps, &mut f);
    }
    measure_routes(&index, &instance.routes, route_reps, &mut f);
    f
}

/// Segments with the band filter, routes in 2D, points in zones.
fn measure_bulk(
    index: &ZoneIndex,
    routes: &[(Vec<Xy>, Vec<f64>)],
    points: &[Xy],
    reps: usize,
    f: &mut Figures,
) {
    // Segments prepared outside the timing, as the peer does.
    let mut segs: Vec<(Xy, Xy, f64, f64, u32)> = Vec::new();
    for (j, (pts, alt)) in routes.iter().enumerate() {
        for k in 0..pts.len() - 1 {
            segs.push((
                pts[k],
                pts[k + 1],
                alt[k].min(alt[k + 1]),
                alt[k].max(alt[k + 1]),
                j as u32,
            ));
        }
    }
    let mut hits = Vec::new();
    let (best, median, (conflicts, routes_hit)) = time(reps, || {
        let mut conflicts = 0usize;
        let mut route_hit = vec![false; routes.len()];
        for &(a, b, lo, hi, route) in &segs {
            hits.clear();
            index.segment_band_hits(a, b, lo, hi, &mut hits);
            if !hits.is_empty() {
                conflicts += hits.len();
                route_hit[route as usize] = true;
            }
        }
        (conflicts, route_hit.iter().filter(|h| **h).count())
    });
    (
        f.segment_best_s,
        f.segment_median_s,
        f.segment_conflicts,
        f.routes_in_conflict,
    ) = (best, median, conflicts, routes_hit);

    let (best, _, pairs) = time(reps, || {
        let mut pairs = 0usize;
        let mut zones = Vec::new();
        for (pts, _) in routes {
            zones.clear();
            for w in pts.windows(2) {
                index.segment_band_hits(w[0], w[1], f64::NEG_INFINITY, f64::INFINITY, &mut zones);
            }
            zones.sort_unstable();
            zones.dedup();
            pairs += zones.len();
        }
        pairs
    });
    (f.route_pairs_best_s, f.route_pairs_2d) = (best, pairs);

    f.points = points.len();
    let (best, _, hit_count) = time(reps.min(3), || index.count_points_inside(points));
    (f.points_best_s, f.point_hits) = (best, hit_count);
}

/// One route at a time, as a flight request is checked.
fn measure_routes(index: &ZoneIndex, routes: &[(Vec<Xy>, Vec<f64>)], reps: usize, f: &mut Figures) {
    // One route at a time through the full check a flight request gets:
    // exact 3D intervals, times, explanations; 10 s per leg.
    let start = Utc
        .with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("valid time");
    let routes: Vec<Vec<Waypoint>> = routes
        .iter()
        .map(|(pts, alt)| {
            pts.iter()
                .zip(alt)
                .enumerate()
                .map(|(k, (p, &a))| Waypoint {
                    lon: p.x,
                    lat: p.y,
                    alt_agl_m: a,
                    time: start + chrono::Duration::seconds(10 * k as i64),
                })
                .collect()
        })
        .collect();
    let options = CheckOptions {
        lateral_buffer_m: 0.0,
        vertical_margin_m: 0.0,
        authorisations: Vec::new(),
    };
    let mut samples = Vec::with_capacity(routes.len() * reps);
    for _ in 0..reps.max(1) {
        f.route_check_conflicts = 0;
        for r in &routes {
            let t = Instant::now();
            let c = index.check_route(r, &options);
            samples.push(t.elapsed().as_secs_f64() * 1e6);
            f.route_check_conflicts += c.len();
        }
    }
    samples.sort_by(f64::total_cmp);
    let q = |s: &[f64], p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    f.route_check_p50_us = q(&samples, 0.5);
    f.route_check_p99_us = q(&samples, 0.99);
    f.route_check_max_us = q(&samples, 1.0);
    // The decision alone: every conflicting (leg, zone) pair with whether
    // it blocks, explained only when shown.
    let mut scratch = PairScratch::default();
    let mut pairs = Vec::new();
    let mut samples = Vec::with_capacity(routes.len() * reps);
    let mut best = vec![f64::INFINITY; routes.len()];
    for _ in 0..reps.max(1) {
        f.pairs_conflicts = 0;
        for (r, best) in routes.iter().zip(&mut best) {
            let t = Instant::now();
            index.conflict_pairs(r, &options, &mut scratch, &mut pairs);
            let us = t.elapsed().as_secs_f64() * 1e6;
            samples.push(us);
            *best = best.min(us);
            f.pairs_conflicts += pairs.len();
        }
    }
    let mut pass_p99: Vec<f64> = samples
        .chunks(routes.len().max(1))
        .map(|pass| {
            let mut pass = pass.to_vec();
            pass.sort_by(f64::total_cmp);
            q(&pass, 0.99)
        })
        .collect();
    pass_p99.sort_by(f64::total_cmp);
    f.pairs_pass_p99_us = [q(&pass_p99, 0.0), q(&pass_p99, 0.5), q(&pass_p99, 1.0)];
    best.sort_by(f64::total_cmp);
    f.pairs_best_p50_us = q(&best, 0.5);
    f.pairs_best_p99_us = q(&best, 0.99);
    samples.sort_by(f64::total_cmp);
    f.pairs_samples = samples.len();
    f.pairs_p50_us = q(&samples, 0.5);
    f.pairs_p99_us = q(&samples, 0.99);
    f.pairs_max_us = q(&samples, 1.0);
    let steps = reference_steps(f.pairs_p50_us);
    let mut reference: Vec<f64> = (0..samples.len())
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(fixed_work(steps));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    reference.sort_by(f64::total_cmp);
    f.reference_p50_us = q(&reference, 0.5);
    f.reference_p99_us = q(&reference, 0.99);
    let mut cached = Vec::with_capacity(routes.len());
    for r in &routes {
        for _ in 0..3 {
            index.conflict_pairs(r, &options, &mut scratch, &mut pairs);
        }
        let t = Instant::now();
        index.conflict_pairs(r, &options, &mut scratch, &mut pairs);
        cached.push(t.elapsed().as_secs_f64() * 1e6);
    }
    cached.sort_by(f64::total_cmp);
    f.pairs_cached_p50_us = q(&cached, 0.5);
    f.pairs_cached_p99_us = q(&cached, 0.99);
    // Untimed: the pairs are the full check's, leg, zone and severity.
    f.pairs_agree = routes.iter().all(|r| {
        index.conflict_pairs(r, &options, &mut scratch, &mut pairs);
        let mut lean: Vec<(usize, String, bool)> = pairs
            .iter()
            .map(|p| {
                (
                    p.leg as usize,
                    index.zone(p.zone as usize).id.clone(),
                    p.blocking,
                )
            })
            .collect();
        let mut full: Vec<(usize, String, bool)> = index
            .check_route(r, &options)
            .iter()
            .map(|c| (c.leg, c.zone.id.clone(), c.is_blocking()))
            .collect();
        lean.sort();
        full.sort();
        lean == full
    });
    // The verdict the dispatcher asks for: first blocking conflict or none.
    let mut samples = Vec::with_capacity(routes.len() * reps);
    for _ in 0..reps.max(1) {
        f.verdict_refused = 0;
        for r in &routes {
            let t = Instant::now();
            let c = index.first_blocking(r, &options);
            samples.push(t.elapsed().as_secs_f64() * 1e6);
            f.verdict_refused += usize::from(c.is_some());
        }
    }
    samples.sort_by(f64::total_cmp);
    f.verdict_p50_us = q(&samples, 0.5);
    f.verdict_p99_us = q(&samples, 0.99);
    // The dispatcher's own options: a 10 m lateral buffer, 5 m vertical.
    let options = CheckOptions::default();
    let mut samples = Vec::with_capacity(routes.len() * reps);
    for _ in 0..reps.max(1) {
        f.buffered_conflicts = 0;
        for r in &routes {
            let t = Instant::now();
            let c = index.check_route(r, &options);
            samples.push(t.elapsed().as_secs_f64() * 1e6);
            f.buffered_conflicts += c.len();
        }
    }
    samples.sort_by(f64::total_cmp);
    f.buffered_p50_us = q(&samples, 0.5);
    f.buffered_p99_us = q(&samples, 0.99);
}

/// A chain of dependent multiplies and adds: the same work every time, in
/// registers (no call, no memory), so its spread in time is the machine's
/// alone.
fn fixed_work(steps: u64) -> f64 {
    let mut a = std::hint::black_box(1.0f64);
    for _ in 0..steps {
        a = a * 1.000_000_1 + 0.5;
    }
    a
}

/// How many steps of [`fixed_work`] take about `us` microseconds here
/// (the fastest of a few timings, so an interruption does not shorten it).
fn reference_steps(us: f64) -> u64 {
    const PROBE: u64 = 200_000;
    let fastest = (0..5)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(fixed_work(PROBE));
            t.elapsed().as_secs_f64() * 1e6
        })
        .fold(f64::INFINITY, f64::min);
    ((us / fastest.max(1e-3)) * PROBE as f64).max(1.0) as u64
}

fn print_route_figures(f: &Figures, routes: usize) {
    println!(
        "[route] one {}-leg route, every conflict listed: p50 {:.1} us, p99 {:.1} us, max {:.1} us; conflicts={} over all routes (exact 4D: altitude inside the band where the leg is over the zone)",
        f.segments / routes.max(1),
        f.route_check_p50_us,
        f.route_check_p99_us,
        f.route_check_max_us,
        f.route_check_conflicts
    );
    println!(
        "[route] verdict only (first blocking conflict, explained): p50 {:.1} us, p99 {:.1} us; routes refused={}",
        f.verdict_p50_us, f.verdict_p99_us, f.verdict_refused
    );
    println!(
        "[route] every conflict listed, dispatcher options (10 m buffer, 5 m vertical margin): p50 {:.1} us, p99 {:.1} us; conflicts={}",
        f.buffered_p50_us, f.buffered_p99_us, f.buffered_conflicts
    );
    println!(
        "[route] every conflicting (leg, zone) pair with whether it blocks, no explanation (explained on demand): p50 {:.1} us, p99 {:.1} us, max {:.1} us over {} checks ({} passes); pairs={}; same pairs as the full listing: {}",
        f.pairs_p50_us,
        f.pairs_p99_us,
        f.pairs_max_us,
        f.pairs_samples,
        f.pairs_samples / routes.max(1),
        f.pairs_conflicts,
        if f.pairs_agree { "yes" } else { "NO" }
    );
    println!(
        "[route] the same, p99 of each pass over the routes on its own: lowest {:.1} us, median {:.1} us, highest {:.1} us",
        f.pairs_pass_p99_us[0], f.pairs_pass_p99_us[1], f.pairs_pass_p99_us[2]
    );
    println!(
        "[route] the same, each route's best of the repetitions (the work, without the machine's interruptions): p50 {:.1} us, p99 {:.1} us",
        f.pairs_best_p50_us, f.pairs_best_p99_us
    );
    println!(
        "[route] the same, each route checked right after three checks of it (its zones in the core's caches, as on a district's map): p50 {:.1} us, p99 {:.1} us",
        f.pairs_cached_p50_us, f.pairs_cached_p99_us
    );
    println!(
        "[route] this machine's own spread: a fixed computation as long as the pairs' median, reading no memory, timed as often: p50 {:.1} us, p99 {:.1} us",
        f.reference_p50_us, f.reference_p99_us
    );
    let verdict = |p99: f64| {
        if p99 < 25.0 {
            "met".to_string()
        } else {
            format!("NOT met ({p99:.1} us)")
        }
    };
    println!(
        "[route] target (one 50-leg route under 25 us at p99): every conflict listed and explained: {}; every conflicting pair decided, explanations on demand: {}",
        verdict(f.route_check_p99_us),
        verdict(f.pairs_p99_us)
    );
}

/// The peer's figures, read from its printed lines.
#[derive(Debug, Default)]
pub struct PeerFigures {
    pub segments_s: Option<f64>,
    pub segment_conflicts: Option<usize>,
    pub route_pairs_s: Option<f64>,
    pub route_pairs: Option<usize>,
    pub points_s: Option<f64>,
    pub point_hits: Option<usize>,
}

fn number_after(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    let num: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse().ok()
}

pub fn parse_peer(output: &str) -> PeerFigures {
    let mut p = PeerFigures::default();
    let keep_min = |slot: &mut Option<f64>, v: Option<f64>| {
        if let Some(v) = v {
            *slot = Some(slot.map_or(v, |s: f64| s.min(v)));
        }
    };
    for line in output.lines() {
        if line.starts_with("[3D band") {
            keep_min(
                &mut p.segments_s,
                number_after(line, "min").map(|ms| ms / 1e3),
            );
            p.segment_conflicts = number_after(line, "conflicts=").map(|n| n as usize);
        } else if line.starts_with("[2D] 1000 routes") {
            keep_min(
                &mut p.route_pairs_s,
                number_after(line, "min").map(|ms| ms / 1e3),
            );
            p.route_pairs = number_after(line, "pairs=").map(|n| n as usize);
        } else if line.starts_with("[PIP] bbox query") {
            keep_min(&mut p.points_s, number_after(line, "candidates:"));
            p.point_hits = number_after(line, "hits=").map(|n| n as usize);
        } else if line.starts_with("[PIP] 1000000 points") {
            keep_min(&mut p.points_s, number_after(line, "min"));
        }
    }
    p
}

pub struct BenchOptions<'a> {
    pub polys: &'a Path,
    pub routes: &'a Path,
    pub points: Option<&'a Path>,
    pub peer_python: Option<&'a Path>,
    pub peer_script: Option<&'a Path>,
    pub reps: usize,
    pub route_reps: usize,
    pub route_only: bool,
}

/// Runs the benchmark (and the peer if asked) and prints the figures.
pub fn run(o: BenchOptions) -> anyhow::Result<()> {
    let instance = load(o.polys, o.routes)?;
    let points = match o.points {
        Some(p) => read_points(p)?,
        None => generated_points(1_000_000, 0.0, 30_000.0),
    };
    let (zones, routes) = (instance.zones.len(), instance.routes.len());
    let f = measure(instance, points, o.reps, o.route_reps, o.route_only);
    println!(
        "instance: {zones} zones, {routes} routes, {} segments (release build: {})",
        f.segments,
        !cfg!(debug_assertions)
    );
    println!("index build (grid): {:.1} ms", f.index_build_s * 1e3);
    if o.route_only {
        print_route_figures(&f, routes);
        return Ok(());
    }
    println!(
        "[3D band] {} segments vs {zones} zones, altitude filter: best {:.1} ms, median {:.1} ms; conflicts={}; routes in conflict={}",
        f.segments,
        f.segment_best_s * 1e3,
        f.segment_median_s * 1e3,
        f.segment_conflicts,
        f.routes_in_conflict
    );
    println!(
        "[2D] routes vs zones: best {:.1} ms; pairs={}",
        f.route_pairs_best_s * 1e3,
        f.route_pairs_2d
    );
    println!(
        "[PIP] {} points: best {:.3} s => {:.2} M pts/s; hits={}{}",
        f.points,
        f.points_best_s,
        f.points as f64 / f.points_best_s / 1e6,
        f.point_hits,
        if o.points.is_none() {
            " (generated points; pass --points for the peer's)"
        } else {
            ""
        }
    );
    print_route_figures(&f, routes);
    if let Some(python) = o.peer_python {
        let script = o
            .peer_script
            .context("--peer-python needs --peer-script (peer_shapely.py)")?;
        let dir = o
            .polys
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let suffix = o
            .polys
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("polys"))
            .unwrap_or("");
        println!(
            "running the peer: {} {} {suffix} (in {})",
            python.display(),
            script.display(),
            dir.display()
        );
        let out = Command::new(python)
            .arg(std::path::absolute(script)?)
            .args((!suffix.is_empty()).then_some(suffix))
            .current_dir(dir)
            .output()
            .context("running the peer")?;
        if !out.status.success() {
            bail!("the peer failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let p = parse_peer(&text);
        let ratio = |peer: Option<f64>, ours: f64| {
            peer.map_or("n/a".to_string(), |s| format!("{:.1}x", s / ours))
        };
        let same = |peer: Option<usize>, ours: usize| match peer {
            Some(n) if n == ours => "same".to_string(),
            Some(n) => format!("DIFFERENT (peer {n})"),
            None => "peer count not found".to_string(),
        };
        println!("peer (shapely STRtree, best variant) vs skyshare:");
        println!(
            "  3D segments: peer {:.1} ms, skyshare {:.1} ms => {} faster; conflicts {} ({})",
            p.segments_s.unwrap_or(f64::NAN) * 1e3,
            f.segment_best_s * 1e3,
            ratio(p.segments_s, f.segment_best_s),
            f.segment_conflicts,
            same(p.segment_conflicts, f.segment_conflicts)
        );
        println!(
            "  2D routes:   peer {:.1} ms, skyshare {:.1} ms => {} faster; pairs {} ({})",
            p.route_pairs_s.unwrap_or(f64::NAN) * 1e3,
            f.route_pairs_best_s * 1e3,
            ratio(p.route_pairs_s, f.route_pairs_best_s),
            f.route_pairs_2d,
            same(p.route_pairs, f.route_pairs_2d)
        );
        println!(
            "  1M points:   peer {:.3} s, skyshare {:.3} s => {} faster; hits {} ({})",
            p.points_s.unwrap_or(f64::NAN),
            f.points_best_s,
            ratio(p.points_s, f.points_best_s),
            f.point_hits,
            if o.points.is_some() {
                same(p.point_hits, f.point_hits)
            } else {
                "different points".into()
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_file_with_no_routes_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (polys, routes) = (
            dir.path().join("polys.json"),
            dir.path().join("routes.json"),
        );
        std::fs::write(
            &polys,
            r#"[{"ring": [[0,0],[10,0],[0,10]], "alt": [0, 60]}]"#,
        )
        .expect("written");
        std::fs::write(&routes, "[]").expect("written");
        let Err(err) = load(&polys, &routes) else {
            panic!("a file of no routes was loaded");
        };
        assert!(
            err.to_string().contains("routes.json holds no routes"),
            "{err}"
        );
        std::fs::write(&routes, r#"[{"pts": [[1,1],[5,5]], "alt": [30, 40]}]"#).expect("written");
        let instance = load(&polys, &routes).expect("one route is enough");
        assert_eq!((instance.zones.len(), instance.routes.len()), (1, 1));
    }

    #[test]
    fn peer_lines_are_read() {
        let text = "[3D band] 50,000 segments bulk intersects + altitude filter: min 430.2 ms; conflicts=184016; routes in conflict=990; 1 segments/s\n\
[3D band reversed] tree over 50k segments, query 10k prepared polys + alt filter: min 211.0 ms conflicts=184016\n\
[2D] 1000 routes x 10k zones, bulk query intersects: min 90.5 ms median 91.0 ms; pairs=85463; routes hit=1000\n\
[PIP] 1000000 points vs 10k zones, STRtree within (prebuilt points): min 2.500s => 0.40 M pts/s; hits=123\n\
[PIP] bbox query + prepared contains_xy on candidates: 2.400s => 0.41 M pts/s; hits=123\n";
        let p = parse_peer(text);
        assert_eq!(p.segments_s, Some(0.211));
        assert_eq!(p.segment_conflicts, Some(184016));
        assert_eq!(p.route_pairs, Some(85463));
        assert_eq!(p.points_s, Some(2.4));
        assert_eq!(p.point_hits, Some(123));
    }
}
