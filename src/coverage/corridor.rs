//! Corridor survey: a river, a road or a pipeline given as a centre line
//! and a width, flown as passes parallel to the centre line, enough of them
//! for the footprints to cover the width with the requested side overlap.

use geo::LineString;

use super::area::{length, photos_along};
use super::camera::{spacing_m, Camera, Overlap};
use super::local::{check_coordinates, LocalFrame, Xy};
use super::CoverageError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorridorSpec {
    pub camera: Camera,
    pub height_m: f64,
    pub overlap: Overlap,
    /// How far each pass runs past the corridor's ends, metres.
    pub turnaround_m: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CorridorSurvey {
    pub frame: LocalFrame,
    /// Each pass's lateral offset from the centre line, metres (positive
    /// to the left of the line's direction), in flying order.
    pub offsets_m: Vec<f64>,
    pub trigger_distance_m: f64,
    pub gsd_m: f64,
    pub path: Vec<Xy>,
    pub path_length_m: f64,
    pub photos: usize,
}

/// A join sharper than this offsets to at most twice the offset, rather
/// than shooting a long spike out of the corner.
const MAX_MITER: f64 = 2.0;

pub fn plan_corridor(
    centre: &LineString,
    width_m: f64,
    spec: &CorridorSpec,
) -> Result<CorridorSurvey, CoverageError> {
    let points: Vec<geo::Point> = centre.points().collect();
    check_coordinates(&points)?;
    if !(width_m.is_finite() && width_m > 0.0) {
        return Err(CoverageError::OutOfRange {
            what: "corridor width",
            expected: "a positive number of metres",
            got: width_m,
        });
    }
    let Some(&first) = points.first() else {
        return Err(CoverageError::DegenerateLine);
    };
    let frame = LocalFrame::new(first);
    let mut line: Vec<Xy> = points.iter().map(|&p| frame.to_local(p)).collect();
    line.dedup_by(|a, b| a.distance(*b) < 0.01);
    if line.len() < 2 {
        return Err(CoverageError::DegenerateLine);
    }
    let (spacing, trigger_distance_m) = spacing_m(&spec.camera, spec.height_m, spec.overlap)?;
    let (across, _) = spec.camera.footprint_m(spec.height_m);
    let passes = if width_m <= across {
        1
    } else {
        ((width_m - across) / spacing).ceil() as usize + 1
    };
    let mut offsets_m: Vec<f64> = (0..passes)
        .map(|k| (k as f64 - (passes - 1) as f64 / 2.0) * spacing)
        .collect();
    // Fly from one side to the other, turning at alternate ends.
    offsets_m.sort_by(f64::total_cmp);

    let mut path = Vec::new();
    let mut photos = 0;
    for (k, &offset) in offsets_m.iter().enumerate() {
        let mut pass = offset_line(&line, offset);
        if k % 2 == 1 {
            pass.reverse();
        }
        photos += photos_along(length(&pass), trigger_distance_m);
        let n = pass.len();
        path.push(extend(pass[1], pass[0], spec.turnaround_m));
        path.extend_from_slice(&pass);
        path.push(extend(pass[n - 2], pass[n - 1], spec.turnaround_m));
    }
    Ok(CorridorSurvey {
        frame,
        offsets_m,
        trigger_distance_m,
        gsd_m: spec.camera.gsd_m(spec.height_m),
        path_length_m: length(&path),
        path,
        photos,
    })
}

/// `to` moved on by `distance` in the direction from `from`.
fn extend(from: Xy, to: Xy, distance: f64) -> Xy {
    let len = from.distance(to);
    Xy::new(
        to.x + (to.x - from.x) / len * distance,
        to.y + (to.y - from.y) / len * distance,
    )
}

/// The line moved sideways by `offset` (left positive), each corner on the
/// bisector of its two legs.
fn offset_line(line: &[Xy], offset: f64) -> Vec<Xy> {
    let normal = |a: Xy, b: Xy| {
        let len = a.distance(b);
        Xy::new(-(b.y - a.y) / len, (b.x - a.x) / len)
    };
    (0..line.len())
        .map(|i| {
            let before = (i > 0).then(|| normal(line[i - 1], line[i]));
            let after = (i + 1 < line.len()).then(|| normal(line[i], line[i + 1]));
            let n = match (before, after) {
                (Some(a), Some(b)) => {
                    let sum = Xy::new(a.x + b.x, a.y + b.y);
                    let len = sum.x.hypot(sum.y);
                    if len < 1e-9 {
                        a
                    } else {
                        // The bisector, lengthened so both legs keep their
                        // distance from the centre line.
                        let bisector = Xy::new(sum.x / len, sum.y / len);
                        let cos_half = (bisector.x * a.x + bisector.y * a.y).max(1.0 / MAX_MITER);
                        Xy::new(bisector.x / cos_half, bisector.y / cos_half)
                    }
                }
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => Xy::new(0.0, 0.0),
            };
            Xy::new(line[i].x + n.x * offset, line[i].y + n.y * offset)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Point;

    fn spec() -> CorridorSpec {
        CorridorSpec {
            camera: Camera::visible(),
            height_m: 60.0,
            overlap: Overlap::default(),
            turnaround_m: 10.0,
        }
    }

    fn line_m(points: &[(f64, f64)]) -> LineString {
        let frame = LocalFrame::new(Point::new(114.40, 30.50));
        LineString::from(
            points
                .iter()
                .map(|&(x, y)| {
                    let p = frame.to_geo(Xy::new(x, y));
                    (p.x(), p.y())
                })
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn a_corridor_narrower_than_one_footprint_is_one_pass_down_the_middle() {
        // At 60 m the footprint is 90 m across.
        let survey = plan_corridor(&line_m(&[(0.0, 0.0), (0.0, 1000.0)]), 50.0, &spec()).unwrap();
        assert_eq!(survey.offsets_m, vec![0.0]);
        // 1000 m plus 10 m of run-out at each end.
        assert!(
            (survey.path_length_m - 1020.0).abs() < 0.5,
            "{}",
            survey.path_length_m
        );
    }

    #[test]
    fn a_wide_corridor_gets_enough_passes_to_cover_its_width_with_overlap() {
        // 90 m footprint, 27 m between passes: 200 m needs 1 + ceil(110/27) = 6.
        let survey = plan_corridor(
            &line_m(&[(0.0, 0.0), (500.0, 0.0), (800.0, 300.0)]),
            200.0,
            &spec(),
        )
        .unwrap();
        assert_eq!(survey.offsets_m.len(), 6);
        let (across, _) = Camera::visible().footprint_m(60.0);
        let reach = survey.offsets_m.last().unwrap() + across / 2.0;
        assert!(reach >= 100.0, "covers {reach} m either side");
        for pair in survey.offsets_m.windows(2) {
            assert!((pair[1] - pair[0] - 27.0).abs() < 1e-9);
        }
    }

    #[test]
    fn each_offset_pass_keeps_its_distance_from_the_centre_line_around_a_bend() {
        let centre = [
            Xy::new(0.0, 0.0),
            Xy::new(100.0, 0.0),
            Xy::new(100.0, 100.0),
        ];
        let pass = offset_line(&centre, 10.0);
        // Left of east-then-north is north-then-west: corner at (90, 10).
        assert!((pass[1].x - 90.0).abs() < 1e-9 && (pass[1].y - 10.0).abs() < 1e-9);
        assert!((pass[0].y - 10.0).abs() < 1e-9);
        assert!((pass[2].x - 90.0).abs() < 1e-9);
    }

    #[test]
    fn refuses_a_single_point_and_a_width_of_zero() {
        assert_eq!(
            plan_corridor(&line_m(&[(0.0, 0.0), (0.0, 0.0)]), 50.0, &spec()),
            Err(CoverageError::DegenerateLine)
        );
        let error = plan_corridor(&line_m(&[(0.0, 0.0), (0.0, 10.0)]), 0.0, &spec()).unwrap_err();
        assert!(error.to_string().contains("corridor width"), "{error}");
    }
}
