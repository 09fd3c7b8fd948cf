//! A local plane around an origin: longitude/latitude to metres and back
//! (equirectangular; good to centimetres over a few kilometres).

use geo::Point;

use super::CoverageError;

/// WGS84 equatorial radius, metres.
const EARTH_RADIUS_M: f64 = 6_378_137.0;

/// Metres east (`x`) and north (`y`) of a frame's origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Xy {
    pub x: f64,
    pub y: f64,
}

impl Xy {
    pub fn new(x: f64, y: f64) -> Xy {
        Xy { x, y }
    }
    pub fn distance(self, other: Xy) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
    pub fn lerp(self, other: Xy, t: f64) -> Xy {
        Xy::new(
            self.x + (other.x - self.x) * t,
            self.y + (other.y - self.y) * t,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    origin: Point,
    metres_per_deg_lon: f64,
    metres_per_deg_lat: f64,
}

impl LocalFrame {
    pub fn new(origin: Point) -> LocalFrame {
        let metres_per_deg_lat = EARTH_RADIUS_M.to_radians();
        LocalFrame {
            origin,
            metres_per_deg_lat,
            metres_per_deg_lon: metres_per_deg_lat * origin.y().to_radians().cos(),
        }
    }

    pub fn to_local(&self, p: Point) -> Xy {
        Xy::new(
            (p.x() - self.origin.x()) * self.metres_per_deg_lon,
            (p.y() - self.origin.y()) * self.metres_per_deg_lat,
        )
    }

    pub fn to_geo(&self, xy: Xy) -> Point {
        Point::new(
            self.origin.x() + xy.x / self.metres_per_deg_lon,
            self.origin.y() + xy.y / self.metres_per_deg_lat,
        )
    }
}

/// Refuse coordinates that are not finite or out of range (most often,
/// latitude and longitude swapped).
pub fn check_coordinates(points: &[Point]) -> Result<(), CoverageError> {
    for (index, p) in points.iter().enumerate() {
        let (lon, lat) = (p.x(), p.y());
        if !(lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0) {
            return Err(CoverageError::BadCoordinate { index, lon, lat });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Haversine};

    #[test]
    fn round_trips_and_agrees_with_haversine_over_a_district() {
        let frame = LocalFrame::new(Point::new(114.40, 30.50));
        let far = Point::new(114.45, 30.53);
        let local = frame.to_local(far);
        let back = frame.to_geo(local);
        assert!((back.x() - far.x()).abs() < 1e-12 && (back.y() - far.y()).abs() < 1e-12);
        let planar = local.distance(Xy::new(0.0, 0.0));
        let geodesic = Haversine.distance(Point::new(114.40, 30.50), far);
        assert!(
            (planar - geodesic).abs() / geodesic < 0.005,
            "{planar} vs {geodesic}"
        );
    }
}
