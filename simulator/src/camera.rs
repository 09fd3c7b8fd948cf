//! The payload camera on a nadir gimbal: when it fires, and what orientation
//! and file name each image gets.

use std::f64::consts::FRAC_PI_2;

use crate::geo::GeoPoint;

/// Gimbal pitch for survey work: straight down.
pub const NADIR_PITCH_RAD: f64 = -FRAC_PI_2;

/// One image taken by the camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// 0-based, increments per vehicle for its whole life.
    pub image_index: i32,
    pub time_boot_ms: u32,
    /// Wall-clock epoch at sim start plus simulated time since boot, µs.
    pub time_utc_us: u64,
    pub position: GeoPoint,
    pub relative_alt_m: f64,
    /// Camera orientation (w, x, y, z) in NED: vehicle yaw, then gimbal pitch.
    pub orientation_wxyz: [f32; 4],
    pub file_url: String,
}

/// Automatic triggering configured by mission items or commands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Camera {
    images_taken: i32,
    /// DO_SET_CAM_TRIGG_DIST: fire every this many metres flown horizontally.
    trigger_distance_m: Option<f64>,
    distance_since_trigger_m: f64,
    /// IMAGE_START_CAPTURE with an interval: fire every this many seconds.
    interval: Option<IntervalTrigger>,
}

#[derive(Debug, Clone, PartialEq)]
struct IntervalTrigger {
    interval_s: f64,
    next_at_s: f64,
    /// `None` = until IMAGE_STOP_CAPTURE.
    remaining: Option<u32>,
}

impl Camera {
    /// Reserve the next image index.
    pub fn next_image_index(&mut self) -> i32 {
        let index = self.images_taken;
        self.images_taken += 1;
        index
    }

    /// Taking images on a timer (which a parked vehicle must keep stepping for).
    pub fn is_capturing(&self) -> bool {
        self.interval.is_some()
    }

    pub fn images_taken(&self) -> i32 {
        self.images_taken
    }

    /// DO_SET_CAM_TRIGG_DIST; 0 (or less) stops distance triggering.
    pub fn set_trigger_distance(&mut self, distance_m: f64) {
        self.distance_since_trigger_m = 0.0;
        self.trigger_distance_m = (distance_m > 0.0).then_some(distance_m);
    }

    /// IMAGE_START_CAPTURE with count != 1: `count` images (0 = unlimited)
    /// every `interval_s`, the first one now.
    pub fn start_interval(&mut self, interval_s: f64, count: u32, now_s: f64) {
        self.interval = Some(IntervalTrigger {
            interval_s: interval_s.max(0.1),
            next_at_s: now_s,
            remaining: (count > 0).then_some(count),
        });
    }

    /// IMAGE_STOP_CAPTURE: stops interval and distance triggering.
    pub fn stop(&mut self) {
        self.interval = None;
        self.trigger_distance_m = None;
    }

    /// How many images the automatic triggers want taken during a step in
    /// which the vehicle flew `travelled_m` horizontally and the clock reached `now_s`.
    pub fn automatic_triggers(&mut self, travelled_m: f64, now_s: f64) -> u32 {
        let mut due = 0;
        if let Some(distance_m) = self.trigger_distance_m {
            self.distance_since_trigger_m += travelled_m;
            while self.distance_since_trigger_m >= distance_m {
                self.distance_since_trigger_m -= distance_m;
                due += 1;
            }
        }
        if let Some(interval) = &mut self.interval {
            while now_s >= interval.next_at_s && interval.remaining != Some(0) {
                due += 1;
                interval.next_at_s += interval.interval_s;
                if let Some(remaining) = &mut interval.remaining {
                    *remaining -= 1;
                }
            }
            if interval.remaining == Some(0) {
                self.interval = None;
            }
        }
        due
    }
}

/// File name for an image, e.g. `sim://drone-1/IMG_0001.jpg` for index 0.
pub fn file_url(vehicle_name: &str, image_index: i32) -> String {
    format!("sim://{vehicle_name}/IMG_{:04}.jpg", image_index + 1)
}

/// Camera orientation quaternion (w, x, y, z), NED, for a gimbal at `pitch_rad`
/// on a vehicle heading `yaw_rad`: rotate by yaw about down, then pitch about
/// the new right axis (the aerospace Z-Y-X order with zero roll).
pub fn orientation_wxyz(yaw_rad: f64, pitch_rad: f64) -> [f32; 4] {
    let (sin_half_yaw, cos_half_yaw) = (yaw_rad / 2.0).sin_cos();
    let (sin_half_pitch, cos_half_pitch) = (pitch_rad / 2.0).sin_cos();
    // q_yaw ⊗ q_pitch with q_yaw = (cy, 0, 0, sy) and q_pitch = (cp, 0, sp, 0).
    [
        (cos_half_yaw * cos_half_pitch) as f32,
        (-sin_half_yaw * sin_half_pitch) as f32,
        (cos_half_yaw * sin_half_pitch) as f32,
        (sin_half_yaw * cos_half_pitch) as f32,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_count_from_one() {
        assert_eq!(file_url("drone-1", 0), "sim://drone-1/IMG_0001.jpg");
        assert_eq!(file_url("d", 41), "sim://d/IMG_0042.jpg");
    }

    #[test]
    fn nadir_facing_north_points_the_camera_axis_down() {
        let q = orientation_wxyz(0.0, NADIR_PITCH_RAD);
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert!((q[0] - half).abs() < 1e-6 && (q[2] + half).abs() < 1e-6);
        assert!(q[1].abs() < 1e-6 && q[3].abs() < 1e-6);
        // Rotate the camera's forward axis (1, 0, 0) by q: it must end up at NED down.
        let forward = rotate([1.0, 0.0, 0.0], q);
        assert!((forward[2] - 1.0).abs() < 1e-6, "{forward:?}");
    }

    #[test]
    fn nadir_facing_east_keeps_the_image_top_to_the_east() {
        let q = orientation_wxyz(FRAC_PI_2, NADIR_PITCH_RAD);
        let norm: f32 = q.iter().map(|c| c * c).sum();
        assert!((norm - 1.0).abs() < 1e-6);
        let forward = rotate([1.0, 0.0, 0.0], q);
        assert!((forward[2] - 1.0).abs() < 1e-6, "{forward:?}");
        // The camera's "up" in the image (-z body after pitching down) points east.
        let image_top = rotate([0.0, 0.0, -1.0], q);
        assert!((image_top[1] - 1.0).abs() < 1e-6, "{image_top:?}");
    }

    #[test]
    fn distance_and_interval_triggers_fire_and_stop() {
        let mut camera = Camera::default();
        camera.set_trigger_distance(10.0);
        assert_eq!(camera.automatic_triggers(25.0, 0.0), 2);
        assert_eq!(camera.automatic_triggers(5.0, 0.0), 1);
        camera.stop();
        assert_eq!(camera.automatic_triggers(100.0, 0.0), 0);
        camera.start_interval(2.0, 3, 10.0);
        assert_eq!(camera.automatic_triggers(0.0, 10.0), 1);
        assert_eq!(camera.automatic_triggers(0.0, 13.0), 1);
        assert_eq!(camera.automatic_triggers(0.0, 20.0), 1);
        assert_eq!(camera.automatic_triggers(0.0, 30.0), 0);
    }

    fn rotate(v: [f32; 3], q: [f32; 4]) -> [f32; 3] {
        let [w, x, y, z] = q;
        // v' = q v q*, expanded.
        let (vx, vy, vz) = (v[0], v[1], v[2]);
        let tx = 2.0 * (y * vz - z * vy);
        let ty = 2.0 * (z * vx - x * vz);
        let tz = 2.0 * (x * vy - y * vx);
        [
            vx + w * tx + (y * tz - z * ty),
            vy + w * ty + (z * tx - x * tz),
            vz + w * tz + (x * ty - y * tx),
        ]
    }
}
