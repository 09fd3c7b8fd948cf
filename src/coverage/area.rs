//! Area survey: parallel flight lines across a polygon (holes allowed),
//! flown back and forth, each line run out past the edge so the drone
//! turns outside the area and photographs it at steady speed and level
//! attitude. The heading is the one that makes the shortest path.

use geo::{Coord, Polygon};

use super::camera::{spacing_m, Camera, Overlap};
use super::local::{check_coordinates, LocalFrame, Xy};
use super::CoverageError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaSpec {
    pub camera: Camera,
    pub height_m: f64,
    pub overlap: Overlap,
    /// How far each line runs past the area's edge, metres.
    pub turnaround_m: f64,
    /// Direction of the lines, degrees clockwise from north; `None`: the
    /// heading with the shortest path.
    pub heading_deg: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AreaSurvey {
    pub frame: LocalFrame,
    pub heading_deg: f64,
    pub line_spacing_m: f64,
    pub trigger_distance_m: f64,
    pub gsd_m: f64,
    /// Each pass's photographed stretch (inside the area), in flying order.
    pub passes: Vec<(Xy, Xy)>,
    /// The path flown: each pass with its run-out at both ends.
    pub path: Vec<Xy>,
    pub path_length_m: f64,
    pub photos: usize,
}

/// Plan the survey of `area` (longitude/latitude).
pub fn plan_area(area: &Polygon, spec: &AreaSpec) -> Result<AreaSurvey, CoverageError> {
    let rings: Vec<&geo::LineString> = std::iter::once(area.exterior())
        .chain(area.interiors())
        .collect();
    for ring in &rings {
        check_coordinates(&ring.points().collect::<Vec<_>>())?;
    }
    let outer: Vec<Coord> = area.exterior().0.clone();
    let Some(&first) = outer.first() else {
        return Err(CoverageError::DegenerateArea);
    };
    let frame = LocalFrame::new(first.into());
    let local: Vec<Vec<Xy>> = rings
        .iter()
        .map(|ring| ring.points().map(|p| frame.to_local(p)).collect())
        .collect();
    if distinct_corners(&local[0]) < 3 || ring_area(&local[0]).abs() < 1e-6 {
        return Err(CoverageError::DegenerateArea);
    }
    if !(spec.turnaround_m.is_finite() && spec.turnaround_m >= 0.0) {
        return Err(CoverageError::OutOfRange {
            what: "turnaround",
            expected: "a distance of 0 m or more",
            got: spec.turnaround_m,
        });
    }
    let (line_spacing_m, trigger_distance_m) =
        spacing_m(&spec.camera, spec.height_m, spec.overlap)?;

    let heading_deg = match spec.heading_deg {
        Some(h) if h.is_finite() => h.rem_euclid(180.0),
        Some(h) => {
            return Err(CoverageError::OutOfRange {
                what: "heading",
                expected: "degrees clockwise from north",
                got: h,
            })
        }
        None => {
            // Rank every candidate cheaply, then settle between the best few
            // and the edge directions on the exact paths: the cheap paths
            // favour lines that clip corners the exact ones must cover.
            let edges = edge_headings(&local[0]);
            let mut ranked: Vec<(f64, f64)> = (0..180)
                .map(f64::from)
                .map(|h| {
                    let (_, path) = sweep(&local, h, line_spacing_m, spec.turnaround_m, false);
                    (h, length(&path))
                })
                .collect();
            ranked.sort_by(|a, b| a.1.total_cmp(&b.1));
            ranked
                .iter()
                .take(SHORTLIST)
                .map(|&(h, _)| h)
                .chain(edges)
                .map(|h| {
                    let (_, path) = sweep(&local, h, line_spacing_m, spec.turnaround_m, true);
                    (h, length(&path))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("at least one candidate heading")
                .0
        }
    };
    let (passes, path) = sweep(&local, heading_deg, line_spacing_m, spec.turnaround_m, true);
    let photos = passes
        .iter()
        .map(|(a, b)| photos_along(a.distance(*b), trigger_distance_m))
        .sum();
    Ok(AreaSurvey {
        frame,
        heading_deg,
        line_spacing_m,
        trigger_distance_m,
        gsd_m: spec.camera.gsd_m(spec.height_m),
        path_length_m: length(&path),
        passes,
        path,
        photos,
    })
}

/// How many of the best whole-degree headings are compared exactly.
const SHORTLIST: usize = 6;

/// The direction of every edge of the outline: for a convex area the best
/// lines run along one of its edges.
fn edge_headings(ring: &[Xy]) -> Vec<f64> {
    ring.windows(2)
        .filter_map(|pair| {
            let (dx, dy) = (pair[1].x - pair[0].x, pair[1].y - pair[0].y);
            (dx != 0.0 || dy != 0.0).then(|| dx.atan2(dy).to_degrees().rem_euclid(180.0))
        })
        .collect()
}

fn unit_vectors(heading_deg: f64) -> (Xy, Xy) {
    let h = heading_deg.to_radians();
    // Along the lines, and across them (to the right of the heading).
    (Xy::new(h.sin(), h.cos()), Xy::new(h.cos(), -h.sin()))
}

fn dot(p: Xy, axis: Xy) -> f64 {
    p.x * axis.x + p.y * axis.y
}

fn from_uv(u: f64, v: f64, along: Xy, across: Xy) -> Xy {
    Xy::new(u * along.x + v * across.x, u * along.y + v * across.y)
}

/// Lines at `heading_deg`, `spacing` apart and centred over the area,
/// flown alternately one way and back.
///
/// With `exact`, each line photographs the band of half a spacing on either
/// side of it, so its passes are the extents along the line of that band's
/// pieces of the area (outside every hole): a slanted edge is covered out
/// to its far corner, not only where the line itself meets it. Without,
/// passes are where the line itself is inside: cheap, and close enough to
/// compare headings.
fn sweep(
    rings: &[Vec<Xy>],
    heading_deg: f64,
    spacing: f64,
    run_out: f64,
    exact: bool,
) -> (Vec<(Xy, Xy)>, Vec<Xy>) {
    let (along, across) = unit_vectors(heading_deg);
    let uv: Vec<Vec<(f64, f64)>> = rings
        .iter()
        .map(|ring| {
            ring.iter()
                .map(|&p| (dot(p, along), dot(p, across)))
                .collect()
        })
        .collect();
    let (v_min, v_max) = uv[0]
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, v)| {
            (lo.min(v), hi.max(v))
        });
    let (u_min, u_max) = uv[0]
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(u, _)| {
            (lo.min(u), hi.max(u))
        });
    let extent = v_max - v_min;
    let lines = ((extent / spacing).ceil() as usize).max(1);
    // Centre the lines so the margins at both sides are equal (and at most
    // half a spacing).
    let first_v = v_min + (extent - (lines - 1) as f64 * spacing) / 2.0;
    let area = exact.then(|| uv_polygon(&uv));
    let mut passes = Vec::new();
    let mut path = Vec::new();
    for line in 0..lines {
        let v = first_v + line as f64 * spacing;
        let mut stretches = match &area {
            Some(area) => band_extents(area, v - spacing / 2.0, v + spacing / 2.0, u_min, u_max),
            None => inside_at(&uv, v),
        };
        if line % 2 == 1 {
            stretches.reverse();
            for s in &mut stretches {
                *s = (s.1, s.0);
            }
        }
        for (start, end) in stretches {
            let direction = (end - start).signum();
            passes.push((
                from_uv(start, v, along, across),
                from_uv(end, v, along, across),
            ));
            path.push(from_uv(start - direction * run_out, v, along, across));
            path.push(from_uv(end + direction * run_out, v, along, across));
        }
    }
    (passes, path)
}

fn uv_polygon(uv: &[Vec<(f64, f64)>]) -> Polygon {
    let ring = |r: &Vec<(f64, f64)>| geo::LineString::from(r.clone());
    Polygon::new(ring(&uv[0]), uv[1..].iter().map(ring).collect())
}

/// The extents along the lines (u) of the pieces of `area` between the
/// levels `low` and `high`, overlapping extents joined.
fn band_extents(area: &Polygon, low: f64, high: f64, u_min: f64, u_max: f64) -> Vec<(f64, f64)> {
    use geo::BooleanOps;
    let band = Polygon::new(
        geo::LineString::from(vec![
            (u_min - 1.0, low),
            (u_max + 1.0, low),
            (u_max + 1.0, high),
            (u_min - 1.0, high),
            (u_min - 1.0, low),
        ]),
        vec![],
    );
    let pieces = area.intersection(&band);
    merge(
        pieces
            .0
            .iter()
            .map(|piece| {
                piece
                    .exterior()
                    .coords()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                        (lo.min(c.x), hi.max(c.x))
                    })
            })
            .filter(|(lo, hi)| hi > lo)
            .collect(),
    )
}

/// The stretches of the level `v` inside the area: crossings of every ring,
/// paired up in order along the level.
fn inside_at(uv: &[Vec<(f64, f64)>], v: f64) -> Vec<(f64, f64)> {
    let mut crossings = Vec::new();
    for ring in uv {
        for edge in ring.windows(2) {
            let ((ua, va), (ub, vb)) = (edge[0], edge[1]);
            // Half-open, so a level through a vertex counts it once.
            if (va <= v && v < vb) || (vb <= v && v < va) {
                crossings.push(ua + (v - va) * (ub - ua) / (vb - va));
            }
        }
    }
    crossings.sort_by(f64::total_cmp);
    crossings
        .chunks_exact(2)
        .map(|pair| (pair[0], pair[1]))
        .filter(|(a, b)| b > a)
        .collect()
}

/// Overlapping or touching stretches joined, in order along the line.
fn merge(mut stretches: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    stretches.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(stretches.len());
    for (start, end) in stretches {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Photos at the start of a stretch and every trigger distance on, the
/// last at or past its end.
pub fn photos_along(length_m: f64, trigger_m: f64) -> usize {
    (length_m / trigger_m - 1e-6).ceil().max(0.0) as usize + 1
}

pub(crate) fn length(path: &[Xy]) -> f64 {
    path.windows(2).map(|w| w[0].distance(w[1])).sum()
}

fn distinct_corners(ring: &[Xy]) -> usize {
    let mut corners: Vec<(i64, i64)> = ring
        .iter()
        .map(|p| ((p.x * 1000.0) as i64, (p.y * 1000.0) as i64))
        .collect();
    corners.sort_unstable();
    corners.dedup();
    corners.len()
}

fn ring_area(ring: &[Xy]) -> f64 {
    ring.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, LineString, Point};
    use proptest::prelude::*;

    /// A polygon from corners given in metres east/north of a point in
    /// Optics Valley.
    fn polygon_m(exterior: &[(f64, f64)], holes: &[Vec<(f64, f64)>]) -> (Polygon, LocalFrame) {
        let frame = LocalFrame::new(Point::new(114.40, 30.50));
        let ring = |corners: &[(f64, f64)]| {
            let mut coords: Vec<Coord> = corners
                .iter()
                .map(|&(x, y)| frame.to_geo(Xy::new(x, y)).into())
                .collect();
            coords.push(coords[0]);
            LineString::new(coords)
        };
        (
            Polygon::new(ring(exterior), holes.iter().map(|h| ring(h)).collect()),
            frame,
        )
    }

    fn spec() -> AreaSpec {
        AreaSpec {
            camera: Camera::visible(),
            height_m: 100.0,
            overlap: Overlap::default(),
            turnaround_m: 15.0,
            heading_deg: None,
        }
    }

    /// Whether the point (in the survey's frame) is photographed: within
    /// half a footprint across a pass and between its ends.
    fn covered(survey: &AreaSurvey, p: Xy, half_across: f64) -> bool {
        survey.passes.iter().any(|&(a, b)| {
            let len = a.distance(b);
            let along = Xy::new((b.x - a.x) / len, (b.y - a.y) / len);
            let rel = Xy::new(p.x - a.x, p.y - a.y);
            let u = dot(rel, along);
            let v = rel.x * along.y - rel.y * along.x;
            (-1e-6..=len + 1e-6).contains(&u) && v.abs() <= half_across + 1e-6
        })
    }

    #[test]
    fn a_long_field_is_flown_along_its_length_in_few_lines() {
        // 200 m east-west by 600 m north-south.
        let (area, _) = polygon_m(
            &[(0.0, 0.0), (200.0, 0.0), (200.0, 600.0), (0.0, 600.0)],
            &[],
        );
        let survey = plan_area(&area, &spec()).unwrap();
        assert!(
            survey.heading_deg.abs() < 0.5 || (survey.heading_deg - 180.0).abs() < 0.5,
            "heading {}",
            survey.heading_deg
        );
        // 45 m between lines over 200 m: 5 lines.
        assert_eq!(survey.passes.len(), 5);
        assert!((survey.line_spacing_m - 45.0).abs() < 1e-9);
        assert!((survey.trigger_distance_m - 20.0).abs() < 1e-9);
        // 600 m passes at 20 m: 31 photos each.
        assert_eq!(survey.photos, 5 * 31);
    }

    #[test]
    fn every_turnaround_is_outside_the_area() {
        let (area, frame) = polygon_m(
            &[(0.0, 0.0), (300.0, 40.0), (380.0, 300.0), (60.0, 260.0)],
            &[],
        );
        let survey = plan_area(&area, &spec()).unwrap();
        for corner in &survey.path {
            let geo = survey.frame.to_geo(*corner);
            assert!(!area.contains(&geo), "turn at {corner:?} is inside");
        }
        let _ = frame;
    }

    #[test]
    fn a_hole_is_not_flown_over_inside_a_pass_and_the_rest_is_covered() {
        let (area, frame) = polygon_m(
            &[(0.0, 0.0), (400.0, 0.0), (400.0, 400.0), (0.0, 400.0)],
            &[vec![
                (150.0, 150.0),
                (250.0, 150.0),
                (250.0, 250.0),
                (150.0, 250.0),
            ]],
        );
        let survey = plan_area(
            &area,
            &AreaSpec {
                heading_deg: Some(0.0),
                ..spec()
            },
        )
        .unwrap();
        let hole_centre = survey.frame.to_local(frame.to_geo(Xy::new(200.0, 200.0)));
        let (across, _) = Camera::visible().footprint_m(100.0);
        // No pass's photographed stretch runs through the hole's centre line.
        assert!(!survey.passes.iter().any(|&(a, b)| {
            let (lo, hi) = (a.y.min(b.y), a.y.max(b.y));
            (a.x - hole_centre.x).abs() < 1.0 && lo < hole_centre.y && hole_centre.y < hi
        }));
        // Points around the hole are still covered.
        for (x, y) in [(50.0, 50.0), (200.0, 100.0), (350.0, 350.0), (120.0, 200.0)] {
            let p = survey.frame.to_local(frame.to_geo(Xy::new(x, y)));
            assert!(covered(&survey, p, across / 2.0), "({x}, {y}) not covered");
        }
    }

    #[test]
    fn refuses_an_area_that_is_a_line_and_swapped_coordinates() {
        let (flat, _) = polygon_m(&[(0.0, 0.0), (100.0, 0.0), (200.0, 0.0)], &[]);
        assert_eq!(
            plan_area(&flat, &spec()),
            Err(CoverageError::DegenerateArea)
        );
        let swapped = Polygon::new(
            LineString::from(vec![
                (30.5, 114.4),
                (30.6, 114.4),
                (30.6, 114.5),
                (30.5, 114.4),
            ]),
            vec![],
        );
        let error = plan_area(&swapped, &spec()).unwrap_err();
        assert!(
            matches!(error, CoverageError::BadCoordinate { .. }),
            "{error}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the (convex) outline and heading, every point inside
        /// the area is within some image's footprint.
        #[test]
        fn every_point_of_a_convex_area_is_photographed(
            corners in prop::collection::vec((0.0f64..500.0, 0.0f64..500.0), 3..9),
            heading in 0.0f64..180.0,
            samples in prop::collection::vec((0.0f64..1.0, 0.0f64..1.0), 20),
        ) {
            use geo::ConvexHull;
            let points: Vec<Point> = corners.iter().map(|&(x, y)| Point::new(x, y)).collect();
            let hull = geo::MultiPoint::new(points).convex_hull();
            let hull_corners: Vec<(f64, f64)> = hull.exterior().points().map(|p| (p.x(), p.y())).collect();
            prop_assume!(hull_corners.len() >= 4);
            let (area, frame) = polygon_m(&hull_corners[..hull_corners.len() - 1], &[]);
            let local_hull: Vec<Xy> = hull_corners.iter().map(|&(x, y)| Xy::new(x, y)).collect();
            prop_assume!(ring_area(&local_hull).abs() > 100.0);
            let survey = plan_area(&area, &AreaSpec { heading_deg: Some(heading), ..spec() }).unwrap();
            let (across, _) = Camera::visible().footprint_m(100.0);
            let (min_x, max_x) = hull_corners.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
            let (min_y, max_y) = hull_corners.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
            for (sx, sy) in samples {
                let m = Xy::new(min_x + sx * (max_x - min_x), min_y + sy * (max_y - min_y));
                let geo = frame.to_geo(m);
                if area.contains(&geo) {
                    let p = survey.frame.to_local(geo);
                    prop_assert!(covered(&survey, p, across / 2.0), "{m:?} not covered");
                }
            }
        }
    }
}
