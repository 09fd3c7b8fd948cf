//! Multirotor kinematics: a point mass that accelerates toward a target with
//! speed and acceleration limits, the way a position controller behaves when
//! seen from outside. No attitude dynamics; attitude is derived for telemetry.

use std::f64::consts::{PI, TAU};

use crate::geo::LocalPoint;

pub const DEFAULT_CRUISE_SPEED_MPS: f64 = 12.0;
pub const DEFAULT_CLIMB_SPEED_MPS: f64 = 3.0;
pub const DEFAULT_DESCENT_SPEED_MPS: f64 = 2.0;
/// PX4 MPC_LAND_SPEED-like final descent speed close to the ground.
pub const LAND_SPEED_MPS: f64 = 0.8;
/// Below this height the landing descent slows to [`LAND_SPEED_MPS`].
pub const LAND_SLOWDOWN_HEIGHT_M: f64 = 5.0;
pub const HORIZONTAL_ACCEL_MPS2: f64 = 3.0;
pub const VERTICAL_ACCEL_MPS2: f64 = 2.0;
const GRAVITY_MPS2: f64 = 9.81;
/// Heading follows the direction of travel only when moving faster than this,
/// otherwise it would jitter around a hover point.
const HEADING_FOLLOW_MIN_SPEED_MPS: f64 = 1.0;
const YAW_RATE_RAD_PER_S: f64 = PI / 2.0;

/// Speed limits in force for the current manoeuvre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedLimits {
    pub horizontal_mps: f64,
    pub climb_mps: f64,
    pub descent_mps: f64,
}

impl Default for SpeedLimits {
    fn default() -> Self {
        SpeedLimits {
            horizontal_mps: DEFAULT_CRUISE_SPEED_MPS,
            climb_mps: DEFAULT_CLIMB_SPEED_MPS,
            descent_mps: DEFAULT_DESCENT_SPEED_MPS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Velocity {
    pub east_mps: f64,
    pub north_mps: f64,
    pub up_mps: f64,
}

impl Velocity {
    pub fn horizontal_speed_mps(&self) -> f64 {
        self.east_mps.hypot(self.north_mps)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Kinematics {
    pub position: LocalPoint,
    pub velocity: Velocity,
    /// Heading clockwise from north, 0..2π.
    pub yaw_rad: f64,
    pub yaw_rate_rad_per_s: f64,
    /// Last commanded acceleration, used to derive roll and pitch.
    pub acceleration: Velocity,
}

impl Kinematics {
    /// Advance `dt_s` toward `target`, braking so as to stop on it.
    pub fn fly_toward(&mut self, target: &LocalPoint, limits: &SpeedLimits, dt_s: f64) {
        let to_east_m = target.east_m - self.position.east_m;
        let to_north_m = target.north_m - self.position.north_m;
        let horizontal_distance_m = to_east_m.hypot(to_north_m);
        // Fastest speed from which we can still stop within the remaining distance.
        let horizontal_speed_mps = limits
            .horizontal_mps
            .min((2.0 * HORIZONTAL_ACCEL_MPS2 * horizontal_distance_m).sqrt());
        let (desired_east_mps, desired_north_mps) = if horizontal_distance_m > 1e-6 {
            (
                to_east_m / horizontal_distance_m * horizontal_speed_mps,
                to_north_m / horizontal_distance_m * horizontal_speed_mps,
            )
        } else {
            (0.0, 0.0)
        };

        let to_up_m = target.up_m - self.position.up_m;
        let vertical_limit_mps = if to_up_m >= 0.0 {
            limits.climb_mps
        } else {
            limits.descent_mps
        };
        let desired_up_mps = to_up_m.signum()
            * vertical_limit_mps.min((2.0 * VERTICAL_ACCEL_MPS2 * to_up_m.abs()).sqrt());

        let desired = Velocity {
            east_mps: desired_east_mps,
            north_mps: desired_north_mps,
            up_mps: desired_up_mps,
        };
        self.accelerate_toward(desired, dt_s);

        // Land exactly on the target instead of orbiting it at sub-millimetre scale.
        if horizontal_distance_m < 0.01 && self.velocity.horizontal_speed_mps() < 0.05 {
            self.position.east_m = target.east_m;
            self.position.north_m = target.north_m;
            self.velocity.east_mps = 0.0;
            self.velocity.north_mps = 0.0;
        }
        if to_up_m.abs() < 0.01 && self.velocity.up_mps.abs() < 0.05 {
            self.position.up_m = target.up_m;
            self.velocity.up_mps = 0.0;
        }
    }

    /// Where the vehicle comes to rest horizontally if it brakes now at the
    /// acceleration limit; holding there avoids overshooting and flying back.
    pub fn stopping_point(&self) -> LocalPoint {
        let speed_mps = self.velocity.horizontal_speed_mps();
        let braking_distance_m = speed_mps * speed_mps / (2.0 * HORIZONTAL_ACCEL_MPS2);
        let mut point = self.position;
        if speed_mps > 1e-6 {
            point.east_m += self.velocity.east_mps / speed_mps * braking_distance_m;
            point.north_m += self.velocity.north_mps / speed_mps * braking_distance_m;
        }
        point
    }

    /// Unpowered fall after a forced disarm in the air.
    pub fn fall(&mut self, dt_s: f64) {
        self.acceleration = Velocity {
            east_mps: 0.0,
            north_mps: 0.0,
            up_mps: -GRAVITY_MPS2,
        };
        self.velocity.up_mps -= GRAVITY_MPS2 * dt_s;
        self.integrate(dt_s);
    }

    /// Sitting on the ground: nothing moves.
    pub fn rest_on_ground(&mut self) {
        self.position.up_m = 0.0;
        self.velocity = Velocity::default();
        self.acceleration = Velocity::default();
        self.yaw_rate_rad_per_s = 0.0;
    }

    pub fn on_ground(&self) -> bool {
        self.position.up_m <= 0.0
    }

    /// Turn toward `heading_rad` at a bounded yaw rate.
    pub fn turn_toward(&mut self, heading_rad: f64, dt_s: f64) {
        let error_rad = wrap_pi(heading_rad - self.yaw_rad);
        let max_step_rad = YAW_RATE_RAD_PER_S * dt_s;
        let step_rad = error_rad.clamp(-max_step_rad, max_step_rad);
        self.yaw_rad = (self.yaw_rad + step_rad).rem_euclid(TAU);
        self.yaw_rate_rad_per_s = if dt_s > 0.0 { step_rad / dt_s } else { 0.0 };
    }

    /// Heading of travel, if moving fast enough for it to be meaningful.
    pub fn course_rad(&self) -> Option<f64> {
        (self.velocity.horizontal_speed_mps() > HEADING_FOLLOW_MIN_SPEED_MPS)
            .then(|| heading_rad(self.velocity.east_mps, self.velocity.north_mps))
    }

    /// Roll and pitch (rad, FRD body) a multirotor needs for the current acceleration.
    pub fn roll_pitch_rad(&self) -> (f64, f64) {
        let (sin_yaw, cos_yaw) = self.yaw_rad.sin_cos();
        let forward_mps2 =
            self.acceleration.north_mps * cos_yaw + self.acceleration.east_mps * sin_yaw;
        let right_mps2 =
            -self.acceleration.north_mps * sin_yaw + self.acceleration.east_mps * cos_yaw;
        let roll_rad = (right_mps2 / GRAVITY_MPS2).atan();
        let pitch_rad = (-forward_mps2 / GRAVITY_MPS2).atan();
        (roll_rad, pitch_rad)
    }

    fn accelerate_toward(&mut self, desired: Velocity, dt_s: f64) {
        let delta_east = desired.east_mps - self.velocity.east_mps;
        let delta_north = desired.north_mps - self.velocity.north_mps;
        let delta_horizontal = delta_east.hypot(delta_north);
        let max_horizontal_delta = HORIZONTAL_ACCEL_MPS2 * dt_s;
        let horizontal_scale = if delta_horizontal > max_horizontal_delta {
            max_horizontal_delta / delta_horizontal
        } else {
            1.0
        };
        let delta_up = desired.up_mps - self.velocity.up_mps;
        let max_vertical_delta = VERTICAL_ACCEL_MPS2 * dt_s;
        let applied = Velocity {
            east_mps: delta_east * horizontal_scale,
            north_mps: delta_north * horizontal_scale,
            up_mps: delta_up.clamp(-max_vertical_delta, max_vertical_delta),
        };
        self.acceleration = if dt_s > 0.0 {
            Velocity {
                east_mps: applied.east_mps / dt_s,
                north_mps: applied.north_mps / dt_s,
                up_mps: applied.up_mps / dt_s,
            }
        } else {
            Velocity::default()
        };
        self.velocity.east_mps += applied.east_mps;
        self.velocity.north_mps += applied.north_mps;
        self.velocity.up_mps += applied.up_mps;
        self.integrate(dt_s);
    }

    fn integrate(&mut self, dt_s: f64) {
        self.position.east_m += self.velocity.east_mps * dt_s;
        self.position.north_m += self.velocity.north_mps * dt_s;
        self.position.up_m += self.velocity.up_mps * dt_s;
        if self.position.up_m < 0.0 {
            self.position.up_m = 0.0;
            self.velocity.up_mps = self.velocity.up_mps.max(0.0);
        }
    }
}

/// Compass heading (clockwise from north, 0..2π) of an east/north vector.
pub fn heading_rad(east: f64, north: f64) -> f64 {
    east.atan2(north).rem_euclid(TAU)
}

/// Wrap an angle to -π..π.
pub fn wrap_pi(angle_rad: f64) -> f64 {
    (angle_rad + PI).rem_euclid(TAU) - PI
}

#[cfg(test)]
mod tests {
    use super::*;

    const DT_S: f64 = 0.02;

    fn fly_until_stopped(kinematics: &mut Kinematics, target: LocalPoint, max_s: f64) -> f64 {
        let limits = SpeedLimits::default();
        let mut elapsed_s = 0.0;
        let mut top_speed_mps: f64 = 0.0;
        while elapsed_s < max_s {
            kinematics.fly_toward(&target, &limits, DT_S);
            top_speed_mps = top_speed_mps.max(kinematics.velocity.horizontal_speed_mps());
            elapsed_s += DT_S;
            if kinematics.position.distance_m(&target) < 0.05
                && kinematics.velocity.horizontal_speed_mps() < 0.1
                && kinematics.velocity.up_mps.abs() < 0.1
            {
                break;
            }
        }
        assert!(top_speed_mps <= DEFAULT_CRUISE_SPEED_MPS + 1e-9);
        elapsed_s
    }

    #[test]
    fn reaches_a_point_500_m_away_at_cruise_speed_and_stops_on_it() {
        let mut kinematics = Kinematics {
            position: LocalPoint::new(0.0, 0.0, 20.0),
            ..Kinematics::default()
        };
        let target = LocalPoint::new(300.0, 400.0, 20.0);
        let elapsed_s = fly_until_stopped(&mut kinematics, target, 120.0);
        // 500 m at 12 m/s plus accelerating and braking at 3 m/s² (4 s each, 24 m each).
        let ideal_s = (500.0 - 48.0) / 12.0 + 8.0;
        assert!(
            elapsed_s > ideal_s - 0.5 && elapsed_s < ideal_s + 3.0,
            "took {elapsed_s} s, ideal {ideal_s} s"
        );
        assert!(kinematics.position.distance_m(&target) < 0.05);
    }

    #[test]
    fn climbs_at_three_and_descends_at_two_metres_per_second() {
        let mut kinematics = Kinematics::default();
        let limits = SpeedLimits::default();
        let mut top_climb_mps: f64 = 0.0;
        for _ in 0..(10.0 / DT_S) as usize {
            kinematics.fly_toward(&LocalPoint::new(0.0, 0.0, 30.0), &limits, DT_S);
            top_climb_mps = top_climb_mps.max(kinematics.velocity.up_mps);
        }
        assert!((top_climb_mps - 3.0).abs() < 1e-9);
        let mut top_descent_mps: f64 = 0.0;
        for _ in 0..(30.0 / DT_S) as usize {
            kinematics.fly_toward(&LocalPoint::new(0.0, 0.0, 0.0), &limits, DT_S);
            top_descent_mps = top_descent_mps.max(-kinematics.velocity.up_mps);
        }
        assert!((top_descent_mps - 2.0).abs() < 1e-9);
        assert!(kinematics.on_ground());
    }

    #[test]
    fn acceleration_is_limited() {
        let mut kinematics = Kinematics::default();
        kinematics.position.up_m = 10.0;
        kinematics.fly_toward(
            &LocalPoint::new(1000.0, 0.0, 10.0),
            &SpeedLimits::default(),
            1.0,
        );
        assert!((kinematics.velocity.east_mps - HORIZONTAL_ACCEL_MPS2).abs() < 1e-9);
    }

    #[test]
    fn heading_follows_travel_and_yaw_turns_at_a_bounded_rate() {
        assert!((heading_rad(1.0, 0.0) - PI / 2.0).abs() < 1e-12);
        assert!((heading_rad(0.0, -1.0) - PI).abs() < 1e-12);
        assert!((heading_rad(-1.0, 0.0) - 3.0 * PI / 2.0).abs() < 1e-12);
        let mut kinematics = Kinematics::default();
        kinematics.turn_toward(2.0, 1.0);
        assert!((kinematics.yaw_rad - PI / 2.0).abs() < 1e-12);
        // Takes the short way round through north.
        let mut kinematics = Kinematics {
            yaw_rad: 0.1,
            ..Kinematics::default()
        };
        kinematics.turn_toward(TAU - 0.1, 1.0);
        assert!((kinematics.yaw_rad - (TAU - 0.1)).abs() < 1e-9);
    }

    #[test]
    fn forward_acceleration_pitches_nose_down() {
        let mut kinematics = Kinematics::default();
        kinematics.position.up_m = 10.0;
        kinematics.fly_toward(
            &LocalPoint::new(0.0, 100.0, 10.0),
            &SpeedLimits::default(),
            DT_S,
        );
        let (roll_rad, pitch_rad) = kinematics.roll_pitch_rad();
        assert!(pitch_rad < -0.2, "pitch {pitch_rad}");
        assert!(roll_rad.abs() < 1e-9);
    }
}
