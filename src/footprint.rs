//! The ground footprint of one photo: the four corner rays of the camera
//! cut with flat ground `height_m` below it (protocols.md §8), and the
//! ground sample distance. Pure; no IO.

use crate::coverage::Camera;

const EARTH_RADIUS_M: f64 = 6_378_137.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Footprint {
    /// Closed ring of [lon, lat], counter-clockwise (RFC 7946).
    pub ring: Vec<[f64; 2]>,
    /// [min lon, min lat, max lon, max lat].
    pub bbox: [f64; 4],
    /// Metres per pixel at the centre of a nadir view.
    pub gsd_m: f64,
}

/// Footprint of `camera` at (`lat_deg`, `lon_deg`), `height_m` above flat
/// ground, gimbal pitch `pitch_deg` (−90 = nadir) and yaw `yaw_deg`
/// (clockwise from north). None when the height is not positive or a corner
/// ray never meets the ground (the horizon is in view).
pub fn footprint(
    camera: &Camera,
    lat_deg: f64,
    lon_deg: f64,
    height_m: f64,
    pitch_deg: f64,
    yaw_deg: f64,
) -> Option<Footprint> {
    if height_m.is_nan() || height_m <= 0.0 || !lat_deg.is_finite() || !lon_deg.is_finite() {
        return None;
    }
    let tan_h = camera.sensor_width_mm / (2.0 * camera.focal_length_mm);
    let tan_v = camera.sensor_height_mm / (2.0 * camera.focal_length_mm);
    let (p, psi) = (pitch_deg.to_radians(), yaw_deg.to_radians());
    // Forward, right and down of the image in north-east-down.
    let f = [p.cos() * psi.cos(), p.cos() * psi.sin(), -p.sin()];
    let r = [-psi.sin(), psi.cos(), 0.0];
    let d = [p.sin() * psi.cos(), p.sin() * psi.sin(), p.cos()];
    let mut ring = Vec::with_capacity(5);
    for (a, b) in [(-1.0, -1.0), (-1.0, 1.0), (1.0, 1.0), (1.0, -1.0)] {
        let v: Vec<f64> = (0..3)
            .map(|i| f[i] + a * tan_h * r[i] + b * tan_v * d[i])
            .collect();
        if v[2] <= 1e-9 {
            return None;
        }
        let north = height_m * v[0] / v[2];
        let east = height_m * v[1] / v[2];
        let lat = lat_deg + (north / EARTH_RADIUS_M).to_degrees();
        let lon = lon_deg + (east / (EARTH_RADIUS_M * lat_deg.to_radians().cos())).to_degrees();
        ring.push([lon, lat]);
    }
    ring.push(ring[0]);
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for [lon, lat] in &ring {
        bbox[0] = bbox[0].min(*lon);
        bbox[1] = bbox[1].min(*lat);
        bbox[2] = bbox[2].max(*lon);
        bbox[3] = bbox[3].max(*lat);
    }
    let gsd_m = height_m * camera.sensor_width_mm
        / (camera.focal_length_mm * f64::from(camera.image_width_px));
    Some(Footprint { ring, bbox, gsd_m })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metres(a: [f64; 2], b: [f64; 2], lat: f64) -> (f64, f64) {
        let north = (b[1] - a[1]).to_radians() * EARTH_RADIUS_M;
        let east = (b[0] - a[0]).to_radians() * EARTH_RADIUS_M * lat.to_radians().cos();
        (east, north)
    }

    #[test]
    fn nadir_visible_at_100_m_covers_150_by_100_m_with_the_stated_gsd() {
        let fp = footprint(&Camera::visible(), 30.5, 114.4, 100.0, -90.0, 0.0).unwrap();
        assert_eq!(fp.ring.len(), 5);
        assert_eq!(fp.ring[0], fp.ring[4]);
        let (w, _) = metres(fp.ring[0], fp.ring[3], 30.5);
        let (_, l) = metres(fp.ring[1], fp.ring[0], 30.5);
        assert!((w - 150.0).abs() < 0.5, "width {w}");
        assert!((l - 100.0).abs() < 0.5, "length {l}");
        // 100 * 13.2 / (8.8 * 5472) m per pixel.
        assert!((fp.gsd_m - 0.027412).abs() < 1e-5, "{}", fp.gsd_m);
    }

    #[test]
    fn ring_is_counter_clockwise_and_thermal_is_smaller() {
        let fp = footprint(&Camera::thermal(), 30.5, 114.4, 60.0, -90.0, 30.0).unwrap();
        let area2: f64 = fp
            .ring
            .windows(2)
            .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
            .sum();
        assert!(area2 > 0.0, "clockwise ring");
        let visible = footprint(&Camera::visible(), 30.5, 114.4, 60.0, -90.0, 30.0).unwrap();
        assert!(fp.bbox[2] - fp.bbox[0] < visible.bbox[2] - visible.bbox[0]);
    }

    #[test]
    fn oblique_view_reaches_from_near_to_far_edge_and_horizon_has_none() {
        // HFOV 73.7 deg, VFOV 53.1 deg: 33.4 to 299.7 m ahead at pitch -45.
        let camera = Camera {
            sensor_width_mm: 2.0 * (73.7f64 / 2.0).to_radians().tan(),
            sensor_height_mm: 2.0 * (53.1f64 / 2.0).to_radians().tan(),
            focal_length_mm: 1.0,
            image_width_px: 4000,
            image_height_px: 3000,
        };
        let fp = footprint(&camera, 0.0, 0.0, 100.0, -45.0, 0.0).unwrap();
        let south = fp.bbox[1].to_radians() * EARTH_RADIUS_M;
        let north = fp.bbox[3].to_radians() * EARTH_RADIUS_M;
        assert!((south - 33.4).abs() < 0.5, "near edge {south}");
        assert!((north - 299.7).abs() < 0.5, "far edge {north}");
        assert!(footprint(&camera, 0.0, 0.0, 100.0, -10.0, 0.0).is_none());
        assert!(footprint(&camera, 0.0, 0.0, 0.0, -90.0, 0.0).is_none());
    }
}
