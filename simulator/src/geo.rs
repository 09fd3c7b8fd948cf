//! Geographic points and the local east-north-up frame each vehicle flies in.
//!
//! Distances stay small (a district, a few kilometres), so an equirectangular
//! projection around the vehicle's home is accurate to centimetres and keeps the
//! kinematics in plain metres.

/// Mean Earth radius used for the local projection.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 position with altitude above mean sea level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub lat_deg: f64,
    pub lon_deg: f64,
    pub alt_msl_m: f64,
}

/// A point in the local east-north-up frame whose origin is the vehicle's home
/// (so `up_m` is the height above home, the MAVLink `relative_alt`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LocalPoint {
    pub east_m: f64,
    pub north_m: f64,
    pub up_m: f64,
}

impl LocalPoint {
    pub const ORIGIN: LocalPoint = LocalPoint {
        east_m: 0.0,
        north_m: 0.0,
        up_m: 0.0,
    };

    pub fn new(east_m: f64, north_m: f64, up_m: f64) -> Self {
        LocalPoint {
            east_m,
            north_m,
            up_m,
        }
    }

    pub fn horizontal_distance_m(&self, other: &LocalPoint) -> f64 {
        (self.east_m - other.east_m).hypot(self.north_m - other.north_m)
    }

    pub fn distance_m(&self, other: &LocalPoint) -> f64 {
        self.horizontal_distance_m(other)
            .hypot(self.up_m - other.up_m)
    }

    /// Same horizontal position at another height.
    pub fn at_height(&self, up_m: f64) -> LocalPoint {
        LocalPoint { up_m, ..*self }
    }
}

impl GeoPoint {
    /// Position of `geo` relative to `self` (the frame origin); the altitude
    /// difference becomes `up_m`.
    pub fn to_local(&self, geo: &GeoPoint) -> LocalPoint {
        let north_m = (geo.lat_deg - self.lat_deg).to_radians() * EARTH_RADIUS_M;
        let east_m = (geo.lon_deg - self.lon_deg).to_radians()
            * EARTH_RADIUS_M
            * self.lat_deg.to_radians().cos();
        LocalPoint {
            east_m,
            north_m,
            up_m: geo.alt_msl_m - self.alt_msl_m,
        }
    }

    /// Inverse of [`GeoPoint::to_local`].
    pub fn from_local(&self, local: &LocalPoint) -> GeoPoint {
        let lat_deg = self.lat_deg + (local.north_m / EARTH_RADIUS_M).to_degrees();
        let lon_deg = self.lon_deg
            + (local.east_m / (EARTH_RADIUS_M * self.lat_deg.to_radians().cos())).to_degrees();
        GeoPoint {
            lat_deg,
            lon_deg,
            alt_msl_m: self.alt_msl_m + local.up_m,
        }
    }

    /// A point `east_m`/`north_m` away at the same altitude.
    pub fn offset_m(&self, east_m: f64, north_m: f64) -> GeoPoint {
        self.from_local(&LocalPoint::new(east_m, north_m, 0.0))
    }
}

/// Degrees to the MAVLink integer encoding (degrees × 10^7).
pub fn deg_to_e7(deg: f64) -> i32 {
    (deg * 1e7).round() as i32
}

/// MAVLink integer encoding (degrees × 10^7) to degrees.
pub fn e7_to_deg(e7: i32) -> f64 {
    f64::from(e7) / 1e7
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_round_trip_is_centimetre_exact() {
        let home = GeoPoint {
            lat_deg: 30.505,
            lon_deg: 114.398,
            alt_msl_m: 20.0,
        };
        let local = LocalPoint::new(812.5, -431.25, 37.0);
        let geo = home.from_local(&local);
        let back = home.to_local(&geo);
        assert!(back.distance_m(&local) < 0.01, "{back:?}");
    }

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        let home = GeoPoint {
            lat_deg: 30.0,
            lon_deg: 114.0,
            alt_msl_m: 0.0,
        };
        let north = GeoPoint {
            lat_deg: 31.0,
            ..home
        };
        let local = home.to_local(&north);
        assert!((local.north_m - 111_195.0).abs() < 10.0, "{local:?}");
        assert!(local.east_m.abs() < 1e-6);
    }
}
