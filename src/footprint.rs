//! The ground footprint of one photo: the four corner rays of the camera,
//! turned by its attitude (pitch and yaw, or the full quaternion of the
//! photo's message, roll included), cut with flat ground `height_m` below
//! it (protocols.md §8), and the ground sample distance. Pure; no IO.

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
/// (clockwise from north), camera roll zero. None when the height is not
/// positive or a corner ray never meets the ground (the horizon is in view).
pub fn footprint(
    camera: &Camera,
    lat_deg: f64,
    lon_deg: f64,
    height_m: f64,
    pitch_deg: f64,
    yaw_deg: f64,
) -> Option<Footprint> {
    let (p, psi) = (pitch_deg.to_radians(), yaw_deg.to_radians());
    // Forward, right and down of the image in north-east-down.
    let f = [p.cos() * psi.cos(), p.cos() * psi.sin(), -p.sin()];
    let r = [-psi.sin(), psi.cos(), 0.0];
    let d = [p.sin() * psi.cos(), p.sin() * psi.sin(), p.cos()];
    project(camera, lat_deg, lon_deg, height_m, [f, r, d])
}

/// Footprint of a camera whose orientation is `attitude` (roll included).
pub fn footprint_oriented(
    camera: &Camera,
    lat_deg: f64,
    lon_deg: f64,
    height_m: f64,
    attitude: &CameraAttitude,
) -> Option<Footprint> {
    project(camera, lat_deg, lon_deg, height_m, attitude.axes())
}

/// Cuts the four corner rays of a camera whose forward (optical axis),
/// right and down image axes are `[f, r, d]` in north-east-down with the
/// ground `height_m` below.
fn project(
    camera: &Camera,
    lat_deg: f64,
    lon_deg: f64,
    height_m: f64,
    [f, r, d]: [[f64; 3]; 3],
) -> Option<Footprint> {
    if height_m.is_nan() || height_m <= 0.0 || !lat_deg.is_finite() || !lon_deg.is_finite() {
        return None;
    }
    let tan_h = camera.sensor_width_mm / (2.0 * camera.focal_length_mm);
    let tan_v = camera.sensor_height_mm / (2.0 * camera.focal_length_mm);
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

/// Where a camera looked when it took a photo: the orientation quaternion
/// of MAVLink CAMERA_IMAGE_CAPTURED (w, x, y, z; it turns the camera's
/// forward-right-down axes into north-east-down, so the identity looks
/// ahead to the north) and its Z-Y-X Euler angles.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CameraAttitude {
    /// Unit quaternion (w, x, y, z).
    pub q: [f64; 4],
    pub roll_deg: f64,
    /// −90 looks straight down: the gimbal's pitch, from the horizon.
    pub pitch_deg: f64,
    /// Clockwise from north, 0 to 360.
    pub yaw_deg: f64,
}

impl CameraAttitude {
    /// None when the quaternion is not finite or has no length (a camera
    /// that does not know its orientation).
    pub fn from_quaternion(q: [f64; 4]) -> Option<CameraAttitude> {
        let norm = q.iter().map(|c| c * c).sum::<f64>().sqrt();
        if !norm.is_finite() || norm < 1e-6 {
            return None;
        }
        let q = q.map(|c| c / norm);
        let [f, r, d] = axes_of(q);
        // Euler angles from the rotation matrix, whose columns are f, r, d.
        let sin_pitch = (-f[2]).clamp(-1.0, 1.0);
        let pitch = sin_pitch.asin();
        let (roll, yaw) = if sin_pitch.abs() > 0.999_999 {
            // Looking straight up or down roll and yaw turn the image the
            // same way: all of it is put in yaw.
            (0.0, (-r[0]).atan2(r[1]))
        } else {
            (r[2].atan2(d[2]), f[1].atan2(f[0]))
        };
        Some(CameraAttitude {
            q,
            roll_deg: roll.to_degrees(),
            pitch_deg: pitch.to_degrees(),
            yaw_deg: yaw.to_degrees().rem_euclid(360.0),
        })
    }

    /// The camera's forward, right and down axes in north-east-down.
    pub fn axes(&self) -> [[f64; 3]; 3] {
        axes_of(self.q)
    }

    /// Angle between the optical axis and straight down, degrees (STAC
    /// `view:off_nadir`).
    pub fn off_nadir_deg(&self) -> f64 {
        self.axes()[0][2].clamp(-1.0, 1.0).acos().to_degrees()
    }

    /// Compass direction the optical axis points to, degrees clockwise from
    /// north (STAC `view:azimuth`); None looking straight down, where it
    /// has none.
    pub fn azimuth_deg(&self) -> Option<f64> {
        let f = self.axes()[0];
        (f[0].hypot(f[1]) > 1e-3).then(|| f[1].atan2(f[0]).to_degrees().rem_euclid(360.0))
    }
}

/// What an image record keeps of the camera's orientation: the attitude
/// from the photo's message, and the gimbal's angles: pitch from the
/// horizon, and yaw from the airframe's nose when the drone's heading at
/// the time is known.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ImageAttitude {
    pub camera: CameraAttitude,
    pub gimbal_pitch_deg: f64,
    /// −180 to 180, positive to the right of the nose.
    pub gimbal_yaw_deg: Option<f64>,
    pub vehicle_heading_deg: Option<f64>,
}

impl ImageAttitude {
    /// None when the camera did not know its orientation.
    pub fn new(q: [f64; 4], vehicle_heading_deg: Option<f64>) -> Option<ImageAttitude> {
        let camera = CameraAttitude::from_quaternion(q)?;
        let heading = vehicle_heading_deg.filter(|h| h.is_finite());
        Some(ImageAttitude {
            camera,
            gimbal_pitch_deg: camera.pitch_deg,
            gimbal_yaw_deg: heading.map(|h| (camera.yaw_deg - h + 180.0).rem_euclid(360.0) - 180.0),
            vehicle_heading_deg: heading,
        })
    }
}

/// Columns of the rotation matrix of unit quaternion `q`.
fn axes_of([w, x, y, z]: [f64; 4]) -> [[f64; 3]; 3] {
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y + w * z),
            2.0 * (x * z - w * y),
        ],
        [
            2.0 * (x * y - w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z + w * x),
        ],
        [
            2.0 * (x * z + w * y),
            2.0 * (y * z - w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
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
    /// The quaternion the simulator sends: yaw about down, then pitch.
    fn yaw_pitch(yaw_deg: f64, pitch_deg: f64) -> [f64; 4] {
        let (sy, cy) = (yaw_deg.to_radians() / 2.0).sin_cos();
        let (sp, cp) = (pitch_deg.to_radians() / 2.0).sin_cos();
        [cy * cp, -sy * sp, cy * sp, sy * cp]
    }

    fn centre(fp: &Footprint) -> [f64; 2] {
        let n = 4.0;
        let (lon, lat) = fp.ring[..4]
            .iter()
            .fold((0.0, 0.0), |(a, b), p| (a + p[0] / n, b + p[1] / n));
        [lon, lat]
    }

    #[test]
    fn attitude_angles_come_from_the_quaternion_even_straight_down() {
        let a = CameraAttitude::from_quaternion(yaw_pitch(30.0, -45.0)).unwrap();
        assert!((a.pitch_deg + 45.0).abs() < 1e-9, "{a:?}");
        assert!((a.yaw_deg - 30.0).abs() < 1e-9, "{a:?}");
        assert!(a.roll_deg.abs() < 1e-9, "{a:?}");
        assert!((a.off_nadir_deg() - 45.0).abs() < 1e-9);
        assert!((a.azimuth_deg().unwrap() - 30.0).abs() < 1e-9);
        // Nadir facing east: pitch −90, the heading kept in yaw, no azimuth.
        let nadir = CameraAttitude::from_quaternion(yaw_pitch(90.0, -90.0)).unwrap();
        assert!((nadir.pitch_deg + 90.0).abs() < 1e-6, "{nadir:?}");
        assert!((nadir.yaw_deg - 90.0).abs() < 1e-6, "{nadir:?}");
        assert!(nadir.off_nadir_deg() < 1e-6);
        assert_eq!(nadir.azimuth_deg(), None);
        // Not normalised is fine; no length, or NaN, is no attitude.
        let doubled = yaw_pitch(10.0, -60.0).map(|c| 2.0 * c);
        assert!((CameraAttitude::from_quaternion(doubled).unwrap().pitch_deg + 60.0).abs() < 1e-9);
        assert_eq!(CameraAttitude::from_quaternion([0.0; 4]), None);
        assert_eq!(
            CameraAttitude::from_quaternion([f64::NAN, 0.0, 0.0, 0.0]),
            None
        );
    }

    #[test]
    fn the_quaternion_footprint_matches_pitch_and_yaw_without_roll() {
        let camera = Camera::visible();
        for (yaw, pitch) in [(0.0, -90.0), (90.0, -90.0), (30.0, -60.0), (200.0, -70.0)] {
            let a = CameraAttitude::from_quaternion(yaw_pitch(yaw, pitch)).unwrap();
            let q = footprint_oriented(&camera, 30.5, 114.4, 80.0, &a).unwrap();
            let e = footprint(&camera, 30.5, 114.4, 80.0, pitch, yaw).unwrap();
            for (x, y) in q.ring.iter().zip(&e.ring) {
                assert!(
                    (x[0] - y[0]).abs() < 1e-9 && (x[1] - y[1]).abs() < 1e-9,
                    "{yaw} {pitch}"
                );
            }
        }
    }

    #[test]
    fn an_oblique_photo_looking_east_covers_ground_east_of_the_drone_stretched_along_its_view() {
        let camera = Camera::visible();
        let (lat, lon) = (30.5, 114.4);
        let nadir = footprint(&camera, lat, lon, 100.0, -90.0, 90.0).unwrap();
        let a = CameraAttitude::from_quaternion(yaw_pitch(90.0, -45.0)).unwrap();
        let oblique = footprint_oriented(&camera, lat, lon, 100.0, &a).unwrap();
        // Displaced: the nadir view is centred under the drone, the
        // oblique one well to the east and not north or south of it.
        let (east, north) = metres([lon, lat], centre(&nadir), lat);
        assert!(east.abs() < 0.5 && north.abs() < 0.5, "{east} {north}");
        let (east, north) = metres([lon, lat], centre(&oblique), lat);
        assert!(east > 80.0, "centre {east} m east");
        assert!(north.abs() < 0.5, "centre {north} m north");
        // The drone is outside what it sees: the near edge is east of it.
        let (near, _) = metres([lon, lat], [oblique.bbox[0], lat], lat);
        assert!(near > 0.0, "near edge {near}");
        // Elongated along the view (east-west), and wider at the far edge
        // than at the near one.
        let (along, _) = metres([oblique.bbox[0], lat], [oblique.bbox[2], lat], lat);
        let (nadir_along, _) = metres([nadir.bbox[0], lat], [nadir.bbox[2], lat], lat);
        assert!(along > 1.5 * nadir_along, "{along} vs nadir {nadir_along}");
        let mut corners: Vec<[f64; 2]> = oblique.ring[..4].to_vec();
        corners.sort_by(|a, b| a[0].total_cmp(&b[0]));
        let width = |p: [f64; 2], q: [f64; 2]| metres(p, q, lat).1.abs();
        assert!(
            width(corners[2], corners[3]) > 2.0 * width(corners[0], corners[1]),
            "{corners:?}"
        );
    }

    #[test]
    fn roll_turns_the_footprint_about_where_the_camera_points() {
        // Pitched 60 degrees down facing north, then rolled 30 degrees
        // about the optical axis.
        let camera = Camera::visible();
        let (lat, lon) = (30.5, 114.4);
        let [w, x, y, z] = yaw_pitch(0.0, -60.0);
        let (s, c) = (30f64.to_radians() / 2.0).sin_cos();
        let q = [w * c - x * s, w * s + x * c, y * c + z * s, z * c - y * s];
        let rolled = CameraAttitude::from_quaternion(q).unwrap();
        assert!((rolled.roll_deg - 30.0).abs() < 1e-6, "{rolled:?}");
        assert!((rolled.pitch_deg + 60.0).abs() < 1e-6, "{rolled:?}");
        assert!(rolled.yaw_deg.abs() < 1e-6 || (rolled.yaw_deg - 360.0).abs() < 1e-6);
        let fp = footprint_oriented(&camera, lat, lon, 100.0, &rolled).unwrap();
        let level = footprint(&camera, lat, lon, 100.0, -60.0, 0.0).unwrap();
        // Both contain the point the optical axis meets, 57.7 m north.
        let aim = geo::Point::new(
            lon,
            lat + (100.0 / 60f64.to_radians().tan() / EARTH_RADIUS_M).to_degrees(),
        );
        for ring in [&fp.ring, &level.ring] {
            let polygon = geo::Polygon::new(ring.iter().map(|p| (p[0], p[1])).collect(), vec![]);
            assert!(geo::Contains::contains(&polygon, &aim));
        }
        // But the corners are elsewhere: the roll is not ignored.
        let moved = fp.ring[..4]
            .iter()
            .zip(&level.ring[..4])
            .map(|(a, b)| {
                let (e, n) = metres(*a, *b, lat);
                e.hypot(n)
            })
            .fold(0.0, f64::max);
        assert!(moved > 20.0, "corners moved {moved} m");
    }
}
