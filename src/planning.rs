//! Planning: turns a task into a flight the autopilot can fly, with the
//! distance, duration and energy it will take. Pure, no IO.

use geo::{Destination, Distance, Haversine, Point};
use wire::{Mission, MissionItem};

use crate::region::Dock;

/// Airframe figures the plan is built on. They match the simulator's default
/// multirotor; real airframes will come from the fleet registry.
#[derive(Debug, Clone, Copy)]
pub struct Airframe {
    pub cruise_speed_mps: f64,
    pub climb_speed_mps: f64,
    pub descent_speed_mps: f64,
    pub cruise_power_w: f64,
    pub battery_capacity_wh: f64,
    /// Battery kept back for the unexpected (wind, holds, a go-around).
    pub reserve_pct: f64,
}

impl Default for Airframe {
    fn default() -> Self {
        Airframe {
            cruise_speed_mps: 12.0,
            climb_speed_mps: 3.0,
            descent_speed_mps: 1.5,
            cruise_power_w: 300.0,
            battery_capacity_wh: 115.0,
            reserve_pct: 25.0,
        }
    }
}

/// What a department asked to have photographed.
#[derive(Debug, Clone, Copy)]
pub struct PointInspection {
    pub target: Point,
    pub alt_agl_m: f64,
    /// 0: hover over the point; otherwise orbit at this radius looking at it.
    pub radius_m: f64,
    pub photos: u32,
}

#[derive(Debug, Clone)]
pub struct FlightPlan {
    pub mission: Mission,
    /// Dock, transit, the inspection points, and back to the dock (lon/lat).
    pub route: Vec<Point>,
    pub distance_m: f64,
    pub duration_s: f64,
    /// Battery the flight uses, before the reserve.
    pub energy_pct: f64,
}

impl FlightPlan {
    pub fn battery_needed_pct(&self, airframe: &Airframe) -> f64 {
        self.energy_pct + airframe.reserve_pct
    }
}

/// Seconds held at each photo point so the image is not blurred by motion.
const HOLD_PER_PHOTO_S: f64 = 2.0;

/// Take off from the dock, fly to the point, take the photos (hovering, or
/// from evenly spaced points of an orbit with the camera on the target),
/// return to the dock and land.
pub fn plan_point_inspection(
    dock: &Dock,
    task: &PointInspection,
    airframe: &Airframe,
) -> FlightPlan {
    let alt = task.alt_agl_m as f32;
    let photos = task.photos.max(1);
    let shots: Vec<Point> = if task.radius_m <= 0.0 {
        vec![task.target]
    } else {
        (0..photos)
            .map(|k| {
                let bearing = 360.0 * k as f64 / photos as f64;
                Haversine.destination(task.target, bearing, task.radius_m)
            })
            .collect()
    };
    let mut items = vec![MissionItem::Takeoff { alt_rel_m: alt }];
    if task.radius_m > 0.0 {
        items.push(MissionItem::LookAt {
            lat_deg: task.target.y(),
            lon_deg: task.target.x(),
            alt_rel_m: 0.0,
        });
    }
    let hover_shots = if task.radius_m <= 0.0 { photos } else { 1 };
    for shot in &shots {
        items.push(MissionItem::Waypoint {
            lat_deg: shot.y(),
            lon_deg: shot.x(),
            alt_rel_m: alt,
            hold_s: HOLD_PER_PHOTO_S as f32,
        });
        for _ in 0..hover_shots {
            items.push(MissionItem::CaptureImage);
        }
    }
    items.push(MissionItem::ReturnToLaunch);

    let mut route = vec![dock.position];
    route.extend(shots.iter().copied());
    route.push(dock.position);
    let distance_m: f64 = route
        .windows(2)
        .map(|w| Haversine.distance(w[0], w[1]))
        .sum();
    let duration_s = distance_m / airframe.cruise_speed_mps
        + task.alt_agl_m / airframe.climb_speed_mps
        + task.alt_agl_m / airframe.descent_speed_mps
        + HOLD_PER_PHOTO_S * shots.len() as f64;
    let energy_wh = airframe.cruise_power_w * duration_s / 3600.0;
    FlightPlan {
        mission: Mission { items },
        route,
        distance_m,
        duration_s,
        energy_pct: 100.0 * energy_wh / airframe.battery_capacity_wh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dock() -> Dock {
        Dock {
            id: "d".into(),
            name: "d".into(),
            position: Point::new(114.399, 30.504),
            alt_msl_m: 20.0,
        }
    }

    #[test]
    fn orbit_plan_takes_off_photographs_each_point_and_returns() {
        let task = PointInspection {
            target: Point::new(114.402, 30.506),
            alt_agl_m: 50.0,
            radius_m: 30.0,
            photos: 4,
        };
        let plan = plan_point_inspection(&dock(), &task, &Airframe::default());
        let items = &plan.mission.items;
        assert!(matches!(items[0], MissionItem::Takeoff { alt_rel_m } if alt_rel_m == 50.0));
        assert_eq!(
            items
                .iter()
                .filter(|i| **i == MissionItem::CaptureImage)
                .count(),
            4
        );
        assert_eq!(items.last(), Some(&MissionItem::ReturnToLaunch));
        // Each orbit point is 30 m from the target.
        for p in &plan.route[1..5] {
            assert!((Haversine.distance(*p, task.target) - 30.0).abs() < 0.5);
        }
        assert!(plan.distance_m > 2.0 * Haversine.distance(dock().position, task.target) - 70.0);
        assert!(plan.energy_pct > 0.0 && plan.energy_pct < 20.0);
    }

    #[test]
    fn farther_targets_need_more_energy() {
        let near = PointInspection {
            target: Point::new(114.401, 30.505),
            alt_agl_m: 40.0,
            radius_m: 0.0,
            photos: 2,
        };
        let far = PointInspection {
            target: Point::new(114.45, 30.52),
            ..near
        };
        let a = Airframe::default();
        let (pn, pf) = (
            plan_point_inspection(&dock(), &near, &a),
            plan_point_inspection(&dock(), &far, &a),
        );
        assert!(pf.energy_pct > pn.energy_pct);
        assert_eq!(
            pn.mission
                .items
                .iter()
                .filter(|i| **i == MissionItem::CaptureImage)
                .count(),
            2
        );
    }
}
