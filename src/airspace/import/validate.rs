//! Checks shared by every zone format: positions in range, rings closed,
//! simple (no self-intersection) and non-empty, so the index never sees a
//! shape whose inside is ambiguous.

use serde_json::Value;

use crate::airspace::geom::{segments_meet, Xy};

/// Checks a longitude/latitude pair. `order` says how the source wrote it,
/// so a swapped pair is reported in the source's own terms.
pub fn lon_lat(lon: f64, lat: f64, order: &str) -> Result<(f64, f64), String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!(
            "position has a non-finite number (lon {lon}, lat {lat})"
        ));
    }
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        let hint = if (-90.0..=90.0).contains(&lon) && (-180.0..=180.0).contains(&lat) {
            format!("; latitude and longitude look swapped ({order} order expected)")
        } else {
            String::new()
        };
        return Err(format!(
            "position lon {lon}, lat {lat} is out of range{hint}"
        ));
    }
    Ok((lon, lat))
}

fn number(v: &Value, what: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{what} is not a number")),
        // serde_json reads NaN only as a string, which is how it arrives here.
        Value::String(s) if s.eq_ignore_ascii_case("nan") => Err(format!("{what} is NaN")),
        other => Err(format!("{what} is not a number: {other}")),
    }
}

/// A GeoJSON position `[lon, lat]` or `[lon, lat, alt]`.
pub fn geojson_position(value: &Value) -> Result<(f64, f64), String> {
    let arr = value
        .as_array()
        .ok_or_else(|| format!("position {value} is not an array [lon, lat]"))?;
    if arr.len() < 2 || arr.len() > 3 {
        return Err(format!(
            "a position has 2 or 3 numbers, found {}",
            arr.len()
        ));
    }
    lon_lat(
        number(&arr[0], "longitude")?,
        number(&arr[1], "latitude")?,
        "[lon, lat]",
    )
}

/// Validates one ring and returns its vertices without the closing repeat.
/// `must_close`: the format requires first = last (GeoJSON, ED-269); QGC
/// polygons are implicitly closed.
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
}
