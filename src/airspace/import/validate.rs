//! Checks shared by every zone format: positions in range, rings closed,
//! simple (no self-intersection) and non-empty, holes strictly inside their
//! exterior and apart from each other, bands with thickness, so the index
//! never sees a shape whose inside is ambiguous.
//!
//! Holes: a hole must lie strictly inside the exterior and strictly apart
//! from every other hole. Unlike OGC simple-features validity, which lets a
//! hole touch the shell or another hole at one point, any contact is
//! refused: it keeps the check a plain edge-against-edge test (no need to
//! prove the inside stays connected), and a drawing with such a pinch is
//! fixed by moving the hole a little inwards. The predicates are exact
//! (`geo`'s robust orientation on the f64 lon/lat values, no tolerance).

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::Coord;
use serde_json::Value;

use crate::airspace::band::{AltitudeReference, Band, BandError};
use crate::airspace::geom::{segments_meet, Xy};

type Pt = (f64, f64);

/// A number for a message: as written for ordinary values, in exponent form
/// for huge or tiny ones (1e300 is not printed as 301 digits).
pub fn num(v: f64) -> String {
    if v.is_finite() && v != 0.0 && (v.abs() >= 1e9 || v.abs() < 1e-6) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// A JSON value for a message, cut short if long.
pub fn show(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Checks a longitude/latitude pair. `order` says how the source wrote it,
/// so a swapped pair is reported in the source's own terms.
pub fn lon_lat(lon: f64, lat: f64, order: &str) -> Result<(f64, f64), String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!(
            "position has a non-finite number (lon {}, lat {})",
            num(lon),
            num(lat)
        ));
    }
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        let hint = if (-90.0..=90.0).contains(&lon) && (-180.0..=180.0).contains(&lat) {
            format!("; latitude and longitude look swapped ({order} order expected)")
        } else {
            String::new()
        };
        return Err(format!(
            "position lon {}, lat {} is out of range{hint}",
            num(lon),
            num(lat)
        ));
    }
    Ok((lon, lat))
}

fn number(v: &Value, what: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{what} is not a number")),
        // serde_json reads NaN only as a string, which is how it arrives here.
        Value::String(s) if s.eq_ignore_ascii_case("nan") => Err(format!("{what} is NaN")),
        other => Err(format!("{what} is not a number: {}", show(other))),
    }
}

/// A GeoJSON position `[lon, lat]` or `[lon, lat, alt]`.
pub fn geojson_position(value: &Value) -> Result<(f64, f64), String> {
    let arr = value
        .as_array()
        .ok_or_else(|| format!("position {} is not an array [lon, lat]", show(value)))?;
    if arr.len() < 2 || arr.len() > 3 {
        return Err(format!(
            "a position has 2 or 3 numbers, found {}",
            arr.len()
        ));
    }
    let lon = number(&arr[0], "longitude");
    let lat = number(&arr[1], "latitude");
    match (lon, lat) {
        (Ok(lon), Ok(lat)) => lon_lat(lon, lat, "[lon, lat]"),
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Reads a ring's positions. A bad position is named by its index; the
/// rest of a ring's bad positions (a swapped file has them all) are
/// counted rather than listed one by one.
pub fn positions(
    values: &[Value],
    read: impl Fn(&Value) -> Result<Pt, String>,
) -> Result<Vec<Pt>, String> {
    let mut pts = Vec::with_capacity(values.len());
    let mut first = None;
    let mut more = 0;
    for (i, v) in values.iter().enumerate() {
        match read(v) {
            Ok(p) => pts.push(p),
            Err(e) if first.is_none() => first = Some(format!("position {i}: {e}")),
            Err(_) => more += 1,
        }
    }
    match first {
        None => Ok(pts),
        Some(e) if more == 0 => Err(e),
        Some(e) => Err(format!(
            "{e} (and {more} more bad position{})",
            if more == 1 { "" } else { "s" }
        )),
    }
}

/// The largest circle radius accepted, metres (1,000 km). A drone zone
/// that size is already a country; beyond it a radius is a slip (a unit or
/// an exponent), and one of 1e300 m would close every route in the world.
/// Larger areas are drawn as polygons.
pub const MAX_RADIUS_M: f64 = 1_000_000.0;

/// The largest floor or ceiling accepted, metres from any datum (100 km,
/// the edge of space). Drone airspace ends far below; a value beyond is a
/// slip, except an unlimited ceiling (one left out), which is allowed.
pub const MAX_ALTITUDE_M: f64 = 100_000.0;

/// A positive radius in metres, refused above [`MAX_RADIUS_M`]. `written`
/// names the field and its value as the source wrote them, e.g.
/// "properties.radius_m 1e300" or "radius 4000000 FT".
pub fn radius_in_bound(radius_m: f64, written: &str) -> Result<f64, String> {
    if radius_m <= MAX_RADIUS_M {
        Ok(radius_m)
    } else {
        Err(format!(
            "{written} is more than the {} km a zone's circle may have (a slip of unit or exponent?); draw a larger area as a polygon",
            num(MAX_RADIUS_M / 1000.0)
        ))
    }
}

/// A band from a floor and a ceiling in metres. A band whose floor equals
/// its ceiling has no thickness and holds nothing, so it is refused; so is
/// a floor or a finite ceiling more than [`MAX_ALTITUDE_M`] from the datum.
pub fn band(floor_m: f64, ceiling_m: f64, reference: AltitudeReference) -> Result<Band, String> {
    let beyond = |what: &str, v: f64| {
        format!(
            "band: {what} {} m is more than {} km from the datum ({}): no airspace zone reaches there; check the unit{}",
            num(v),
            num(MAX_ALTITUDE_M / 1000.0),
            reference.as_str(),
            if what == "ceiling" {
                ", or, in GeoJSON, leave ceiling_m out for a zone with no upper limit"
            } else {
                ""
            }
        )
    };
    let mut problems = Vec::new();
    if floor_m.abs() > MAX_ALTITUDE_M {
        problems.push(beyond("floor", floor_m));
    }
    if ceiling_m.is_finite() && ceiling_m.abs() > MAX_ALTITUDE_M {
        problems.push(beyond("ceiling", ceiling_m));
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    if floor_m == ceiling_m {
        return Err(format!(
            "band: floor equals ceiling ({} m): a band must have thickness",
            num(floor_m)
        ));
    }
    Band::new(floor_m, ceiling_m, reference).map_err(|e| match e {
        BandError::FloorAboveCeiling { floor_m, ceiling_m } => format!(
            "band: floor {} m is above ceiling {} m",
            num(floor_m),
            num(ceiling_m)
        ),
        other => format!("band: {other}"),
    })
}

/// GeoJSON Polygon coordinates (ED-269 writes the same): every ring is
/// checked, then the holes against the exterior and each other. Rings are
/// named by their index, ring 0 being the exterior.
#[allow(clippy::type_complexity)]
pub fn polygon(coordinates: &Value) -> Result<(Vec<Pt>, Vec<Vec<Pt>>), Vec<String>> {
    let rings = coordinates
        .as_array()
        .ok_or_else(|| vec!["Polygon coordinates must be an array of rings".to_string()])?;
    if rings.is_empty() {
        return Err(vec![
            "empty geometry: a Polygon needs at least one ring".into()
        ]);
    }
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for (i, r) in rings.iter().enumerate() {
        let checked = r
            .as_array()
            .ok_or_else(|| format!("not an array of positions, found {}", show(r)))
            .and_then(|r| positions(r, geojson_position))
            .and_then(|pts| ring(pts, true));
        match checked {
            Ok(pts) => parsed.push(pts),
            Err(e) => problems.push(format!("ring {i}: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let exterior = parsed.remove(0);
    let problems = holes(&exterior, &parsed);
    if problems.is_empty() {
        Ok((exterior, parsed))
    } else {
        Err(problems)
    }
}

/// Validates one ring and returns its vertices without the closing repeat.
/// `must_close`: the format requires first = last (GeoJSON, ED-269); QGC
/// polygons are implicitly closed. Edge `i` runs from vertex `i` to the next.
pub fn ring(points: Vec<(f64, f64)>, must_close: bool) -> Result<Vec<(f64, f64)>, String> {
    if points.is_empty() {
        return Err("empty ring".into());
    }
    let mut pts = points;
    if must_close {
        if pts.first() != pts.last() {
            return Err("ring is not closed (its last position must repeat the first)".into());
        }
        if pts.len() < 4 {
            return Err(format!(
                "a closed ring needs at least 4 positions, found {}",
                pts.len()
            ));
        }
        pts.pop();
    } else if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts.dedup();
    if pts.len() < 3 {
        return Err(format!(
            "ring has {} distinct vertices, needs at least 3",
            pts.len()
        ));
    }
    if let Some((i, j)) = self_intersection(&pts) {
        return Err(format!("ring intersects itself (edge {i} meets edge {j})"));
    }
    Ok(pts)
}

/// First pair of edges that meet other than at their shared vertex.
fn self_intersection(pts: &[(f64, f64)]) -> Option<(usize, usize)> {
    let n = pts.len();
    let p = |i: usize| Xy::new(pts[i % n].0, pts[i % n].1);
    for i in 0..n {
        for j in i + 1..n {
            let adjacent = j == i + 1 || (i == 0 && j == n - 1);
            let (a, b, c, d) = (p(i), p(i + 1), p(j), p(j + 1));
            if adjacent {
                // Adjacent edges share one vertex; they are bad only if they
                // fold back over each other.
                let shared = if j == i + 1 { b } else { a };
                let (u, v) = if j == i + 1 { (a, d) } else { (b, c) };
                let cross =
                    (u.x - shared.x) * (v.y - shared.y) - (u.y - shared.y) * (v.x - shared.x);
                let dot = (u.x - shared.x) * (v.x - shared.x) + (u.y - shared.y) * (v.y - shared.y);
                if cross == 0.0 && dot > 0.0 {
                    return Some((i, j));
                }
            } else if segments_meet(a, b, c, d) {
                return Some((i, j));
            }
        }
    }
    None
}

/// Exact sign of the turn a -> b -> c: 1 left, -1 right, 0 collinear.
fn orient(a: Pt, b: Pt, c: Pt) -> i8 {
    let at = |p: Pt| Coord { x: p.0, y: p.1 };
    match RobustKernel::orient2d(at(a), at(b), at(c)) {
        Orientation::CounterClockwise => 1,
        Orientation::Clockwise => -1,
        Orientation::Collinear => 0,
    }
}

/// `p` is within the bounding box of segment a-b (on it, when collinear).
fn in_box(a: Pt, b: Pt, p: Pt) -> bool {
    p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Contact {
    /// The edges cross at one point inside both.
    Cross,
    /// They touch at an end, or overlap along a line.
    Touch,
}

fn contact(a: Pt, b: Pt, c: Pt, d: Pt) -> Option<Contact> {
    let (o1, o2) = (orient(a, b, c), orient(a, b, d));
    let (o3, o4) = (orient(c, d, a), orient(c, d, b));
    if o1 * o2 < 0 && o3 * o4 < 0 {
        Some(Contact::Cross)
    } else if (o1 == 0 && in_box(a, b, c))
        || (o2 == 0 && in_box(a, b, d))
        || (o3 == 0 && in_box(c, d, a))
        || (o4 == 0 && in_box(c, d, b))
    {
        Some(Contact::Touch)
    } else {
        None
    }
}

/// Where two rings' edges first meet, a crossing before a touch:
/// (edge of `r`, edge of `s`, how).
fn first_contact(r: &[Pt], s: &[Pt]) -> Option<(usize, usize, Contact)> {
    let edge = |ring: &[Pt], i: usize| (ring[i], ring[(i + 1) % ring.len()]);
    let mut touch = None;
    for i in 0..r.len() {
        let (a, b) = edge(r, i);
        for j in 0..s.len() {
            let (c, d) = edge(s, j);
            match contact(a, b, c, d) {
                Some(Contact::Cross) => return Some((i, j, Contact::Cross)),
                Some(Contact::Touch) if touch.is_none() => touch = Some((i, j, Contact::Touch)),
                _ => {}
            }
        }
    }
    touch
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Inside,
    Outside,
    Boundary,
}

/// Where `p` lies against a simple ring: a winding number from exact
/// orientations only (no computed crossing points).
fn locate(p: Pt, ring: &[Pt]) -> Place {
    let mut winding = 0i32;
    for i in 0..ring.len() {
        let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
        let o = orient(a, b, p);
        if o == 0 && in_box(a, b, p) {
            return Place::Boundary;
        }
        if a.1 <= p.1 {
            if b.1 > p.1 && o > 0 {
                winding += 1;
            }
        } else if b.1 <= p.1 && o < 0 {
            winding -= 1;
        }
    }
    if winding != 0 {
        Place::Inside
    } else {
        Place::Outside
    }
}

/// The same vertices, whatever the starting point or direction.
fn same_vertices(r: &[Pt], s: &[Pt]) -> bool {
    let sorted = |ring: &[Pt]| {
        let mut v = ring.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).expect("finite positions"));
        v
    };
    r.len() == s.len() && sorted(r) == sorted(s)
}

/// Every problem with how a polygon's holes sit: each must lie strictly
/// inside the exterior (no vertex outside, no edge meeting the exterior's)
/// and strictly apart from the others (no crossing, touching or nesting).
/// `holes[i]` is ring `i + 1`. O(edges of one ring x edges of the other)
/// per pair of rings; zones are small.
pub fn holes(exterior: &[Pt], holes: &[Vec<Pt>]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut repeats_exterior = vec![false; holes.len()];
    for (i, hole) in holes.iter().enumerate() {
        let k = i + 1;
        if same_vertices(hole, exterior) {
            repeats_exterior[i] = true;
            problems.push(format!(
                "ring {k}: hole repeats the exterior (ring 0), which would leave the zone no inside"
            ));
            continue;
        }
        let outside = hole
            .iter()
            .position(|&p| locate(p, exterior) == Place::Outside);
        let vertex = |v: usize| {
            format!(
                "its vertex {v} (lon {}, lat {}) is outside the exterior",
                num(hole[v].0),
                num(hole[v].1)
            )
        };
        let problem = match (first_contact(hole, exterior), outside) {
            (None, None) => continue,
            (None, Some(v)) => format!("hole lies outside the exterior ({})", vertex(v)),
            (Some((a, b, Contact::Cross)), _) => format!(
                "hole lies partly outside the exterior (its edge {a} crosses the exterior's edge {b})"
            ),
            (Some((a, b, Contact::Touch)), Some(v)) => format!(
                "hole lies partly outside the exterior ({}; its edge {a} meets the exterior's edge {b})",
                vertex(v)
            ),
            (Some((a, b, Contact::Touch)), None) => format!(
                "hole touches the exterior (its edge {a} meets the exterior's edge {b}); a hole must lie strictly inside"
            ),
        };
        problems.push(format!("ring {k}: {problem}"));
    }
    for j in 0..holes.len() {
        for i in 0..j {
            if repeats_exterior[i] || repeats_exterior[j] {
                continue;
            }
            let (ki, kj) = (i + 1, j + 1);
            let (r, s) = (&holes[j], &holes[i]);
            let problem = if same_vertices(r, s) {
                format!("hole repeats ring {ki}")
            } else if let Some((a, b, how)) = first_contact(r, s) {
                let verb = if how == Contact::Cross {
                    "crosses"
                } else {
                    "meets"
                };
                format!("hole overlaps or touches the hole ring {ki} (its edge {a} {verb} ring {ki}'s edge {b}); holes must lie apart")
            } else if locate(r[0], s) == Place::Inside {
                format!("hole lies inside the hole ring {ki}; holes must not overlap")
            } else if locate(s[0], r) == Place::Inside {
                format!("hole contains the hole ring {ki}; holes must not overlap")
            } else {
                continue;
            };
            problems.push(format!("ring {kj}: {problem}"));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bow_tie_is_refused_as_self_intersecting() {
        let bow = vec![(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)];
        let e = ring(bow, true).unwrap_err();
        assert!(e.contains("intersects itself"), "{e}");
    }

    #[test]
    fn unclosed_ring_is_refused_where_closing_is_required() {
        let open = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
        assert!(ring(open.clone(), true).unwrap_err().contains("not closed"));
        assert_eq!(ring(open, false).unwrap().len(), 4);
    }

    #[test]
    fn swapped_lat_lon_is_named() {
        let e = lon_lat(30.5, 114.4, "[lon, lat]").unwrap_err();
        assert!(e.contains("out of range") && e.contains("swapped"), "{e}");
    }

    const SQUARE: [(f64, f64); 4] = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];

    #[test]
    fn a_hole_with_every_vertex_inside_a_concave_exterior_can_still_cross_it() {
        // A U shape: the notch x 4..6, y 3..10 is outside.
        let u = [
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (6.0, 10.0),
            (6.0, 3.0),
            (4.0, 3.0),
            (4.0, 10.0),
            (0.0, 10.0),
        ];
        // Both ends in the arms, the bar across the notch.
        let bar = vec![(2.0, 5.0), (8.0, 5.0), (8.0, 6.0), (2.0, 6.0)];
        assert!(bar.iter().all(|&p| locate(p, &u) == Place::Inside));
        let problems = holes(&u, &[bar]);
        assert_eq!(
            problems,
            ["ring 1: hole lies partly outside the exterior (its edge 0 crosses the exterior's edge 3)"]
        );
    }

    #[test]
    fn holes_touching_each_other_at_one_corner_are_refused() {
        let a = vec![(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)];
        let b = vec![(3.0, 3.0), (5.0, 3.0), (5.0, 5.0), (3.0, 5.0)];
        let problems = holes(&SQUARE, &[a, b]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .starts_with("ring 2: hole overlaps or touches the hole ring 1 (its edge 0 meets"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_hole_around_an_earlier_hole_is_named_as_containing_it() {
        let small = vec![(4.0, 4.0), (5.0, 4.0), (5.0, 5.0), (4.0, 5.0)];
        let big = vec![(2.0, 2.0), (8.0, 2.0), (8.0, 8.0), (2.0, 8.0)];
        assert_eq!(
            holes(&SQUARE, &[small, big]),
            ["ring 2: hole contains the hole ring 1; holes must not overlap"]
        );
    }

    #[test]
    fn points_on_an_edge_are_on_the_boundary_and_others_are_placed_exactly() {
        assert_eq!(locate((5.0, 0.0), &SQUARE), Place::Boundary);
        assert_eq!(locate((10.0, 10.0), &SQUARE), Place::Boundary);
        assert_eq!(locate((5.0, 5.0), &SQUARE), Place::Inside);
        assert_eq!(locate((5.0, -1e-300), &SQUARE), Place::Outside);
        assert_eq!(locate((11.0, 5.0), &SQUARE), Place::Outside);
    }

    #[test]
    fn numbers_in_messages_use_exponents_only_when_huge_or_tiny() {
        assert_eq!(num(1e300), "1e300");
        assert_eq!(num(-2.5e-12), "-2.5e-12");
        assert_eq!(num(114.4), "114.4");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "NaN");
    }

    #[test]
    fn a_band_with_no_thickness_is_refused_and_a_thin_one_is_not() {
        let e = band(60.0, 60.0, AltitudeReference::Agl).unwrap_err();
        assert_eq!(
            e,
            "band: floor equals ceiling (60 m): a band must have thickness"
        );
        assert!(band(60.0, 60.5, AltitudeReference::Agl).is_ok());
    }
}
