//! Planning: turns a task into a flight the autopilot can fly, with the
//! distance, duration and energy it will take. Pure, no IO.

use geo::{Bearing, Destination, Distance, Haversine, Point};
use wire::{Mission, MissionItem};

use crate::coverage::area::{photos_along, AreaSpec};
use crate::coverage::corridor::CorridorSpec;
use crate::coverage::{
    plan_area, plan_corridor, split_into_sorties, Camera, CoverageError, Overlap, Xy,
};
use crate::region::Dock;
use crate::task::Work;

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

/// The wind a flight is planned for: where it blows from (degrees true)
/// and how fast. A configured design wind, the strongest the operator plans
/// for; calm by default.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Wind {
    pub from_deg: f64,
    pub speed_mps: f64,
}

/// Below this ground speed a leg is treated as flown at it: a drone that
/// barely makes headway (or cannot hold its track in a crosswind) costs so
/// much battery that the flight is refused, without dividing by zero.
const MIN_GROUND_SPEED_MPS: f64 = 1.0;

impl Wind {
    pub const CALM: Wind = Wind {
        from_deg: 0.0,
        speed_mps: 0.0,
    };

    /// Ground speed along a track (degrees true) for a drone holding
    /// `airspeed_mps`: it crabs into the crosswind, which takes part of its
    /// airspeed, and the head or tail component adds to what is left.
    pub fn ground_speed_mps(&self, track_deg: f64, airspeed_mps: f64) -> f64 {
        // The wind blows towards the opposite of where it comes from.
        let relative = (self.from_deg + 180.0 - track_deg).to_radians();
        let along = self.speed_mps * relative.cos();
        let cross = self.speed_mps * relative.sin();
        let holding = airspeed_mps * airspeed_mps - cross * cross;
        if holding <= 0.0 {
            return MIN_GROUND_SPEED_MPS;
        }
        (along + holding.sqrt()).max(MIN_GROUND_SPEED_MPS)
    }

    /// The slowest ground speed over every heading: straight into the wind.
    /// What a plan must assume for legs whose direction is not known yet.
    pub fn worst_ground_speed_mps(&self, airspeed_mps: f64) -> f64 {
        (airspeed_mps - self.speed_mps.abs()).max(MIN_GROUND_SPEED_MPS)
    }
}

/// Time to fly a route leg by leg in `wind`, seconds.
pub fn route_time_s(route: &[Point], airspeed_mps: f64, wind: &Wind) -> f64 {
    route
        .windows(2)
        .map(|w| {
            let d = Haversine.distance(w[0], w[1]);
            if d < 0.01 {
                return 0.0;
            }
            d / wind.ground_speed_mps(Haversine.bearing(w[0], w[1]), airspeed_mps)
        })
        .sum()
}

/// What a department asked to have photographed.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    plan_sortie(dock, &[Visit::Inspect(*task)], airframe).flight
}

/// One piece of work in a sortie.
#[derive(Debug, Clone, PartialEq)]
pub enum Visit {
    Inspect(PointInspection),
    Survey(SurveyLeg),
}

impl Visit {
    pub fn alt_agl_m(&self) -> f64 {
        match self {
            Visit::Inspect(p) => p.alt_agl_m,
            Visit::Survey(leg) => leg.alt_agl_m,
        }
    }
}

/// One sortie that inspects several points in order: its flight plan, and
/// which mission items belong to which inspection so progress and photos
/// can be credited to the right task.
#[derive(Debug, Clone)]
pub struct SortiePlan {
    pub flight: FlightPlan,
    /// For each inspection, in order, its first and last mission item
    /// (sequence numbers as uploaded).
    pub items_of: Vec<(u16, u16)>,
}

/// Take off, inspect each point in turn, return to the dock and land. The
/// camera is pointed at each target before its photos, so an orbit looks in
/// and a hover looks straight down at it.
pub fn plan_sortie(dock: &Dock, tasks: &[Visit], airframe: &Airframe) -> SortiePlan {
    plan_sortie_in_wind(dock, tasks, airframe, &Wind::CALM)
}

/// [`plan_sortie`] in a wind: each leg's time from its ground speed (head-
/// and crosswind), so its energy too. Climb, descent and the holds for
/// photos are at the airframe's power whatever the wind (holding station in
/// a wind is flying at an airspeed below cruise, which a multirotor does at
/// about its hover power), then the reserve is kept on top.
pub fn plan_sortie_in_wind(
    dock: &Dock,
    tasks: &[Visit],
    airframe: &Airframe,
    wind: &Wind,
) -> SortiePlan {
    let first_alt = tasks
        .first()
        .map_or(DEFAULT_TRANSIT_ALT_M, Visit::alt_agl_m);
    let mut items = vec![MissionItem::Takeoff {
        alt_rel_m: first_alt as f32,
    }];
    let mut items_of = Vec::with_capacity(tasks.len());
    let mut route = vec![dock.position];
    let mut hold_s = 0.0;
    for task in tasks {
        let first = items.len() as u16;
        match task {
            Visit::Inspect(inspection) => {
                let shots = inspection_items(inspection, &mut items);
                hold_s += HOLD_PER_PHOTO_S * shots.len() as f64;
                route.extend(shots);
            }
            Visit::Survey(leg) => {
                survey_items(leg, &mut items);
                route.extend(leg.stops.iter().map(|(p, _)| *p));
            }
        }
        items_of.push((first, items.len() as u16 - 1));
    }
    items.push(MissionItem::ReturnToLaunch);
    route.push(dock.position);

    let distance_m: f64 = route
        .windows(2)
        .map(|w| Haversine.distance(w[0], w[1]))
        .sum();
    let highest = tasks.iter().map(Visit::alt_agl_m).fold(first_alt, f64::max);
    let duration_s = route_time_s(&route, airframe.cruise_speed_mps, wind)
        + highest / airframe.climb_speed_mps
        + highest / airframe.descent_speed_mps
        + hold_s;
    let energy_wh = airframe.cruise_power_w * duration_s / 3600.0;
    SortiePlan {
        flight: FlightPlan {
            mission: Mission { items },
            route,
            distance_m,
            duration_s,
            energy_pct: 100.0 * energy_wh / airframe.battery_capacity_wh,
        },
        items_of,
    }
}

/// Used only when a sortie has no inspection at all.
const DEFAULT_TRANSIT_ALT_M: f64 = 30.0;

/// Appends one inspection's mission items; returns the points it flies to.
fn inspection_items(task: &PointInspection, items: &mut Vec<MissionItem>) -> Vec<Point> {
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
    items.push(MissionItem::LookAt {
        lat_deg: task.target.y(),
        lon_deg: task.target.x(),
        alt_rel_m: 0.0,
    });
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
    shots
}

/// Appends a survey leg's items: through each turn and photo point at the
/// survey height, a photo at each photo point.
fn survey_items(leg: &SurveyLeg, items: &mut Vec<MissionItem>) {
    let alt = leg.alt_agl_m as f32;
    for (at, photo) in &leg.stops {
        items.push(MissionItem::Waypoint {
            lat_deg: at.y(),
            lon_deg: at.x(),
            alt_rel_m: alt,
            hold_s: 0.0,
        });
        if *photo {
            items.push(MissionItem::CaptureImage);
        }
    }
}

/// One sortie's share of an area or corridor survey.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyLeg {
    pub alt_agl_m: f64,
    /// Turns and photo points in flying order; `true` where a photo is
    /// taken.
    pub stops: Vec<(Point, bool)>,
}

impl SurveyLeg {
    pub fn photos(&self) -> usize {
        self.stops.iter().filter(|(_, photo)| *photo).count()
    }
    pub fn length_m(&self) -> f64 {
        self.stops
            .windows(2)
            .map(|w| Haversine.distance(w[0].0, w[1].0))
            .sum()
    }
    pub fn entry(&self) -> Option<Point> {
        self.stops.first().map(|(p, _)| *p)
    }
}

/// A whole survey, cut into legs that each fit one full battery from the
/// dock it was planned from.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyPlan {
    pub legs: Vec<SurveyLeg>,
    pub trigger_distance_m: f64,
    pub gsd_m: f64,
}

/// The camera a sensor stands for.
pub fn camera_for(sensor: &str) -> Camera {
    match sensor {
        "thermal" => Camera::thermal(),
        _ => Camera::visible(),
    }
}

/// Plan an area or corridor survey from `dock`: the path, photo points at
/// the trigger distance on its photographed stretches, and legs that one
/// full battery can fly from that dock.
pub fn plan_survey(
    work: &Work,
    alt_agl_m: f64,
    sensor: &str,
    overlap: Overlap,
    dock: Point,
    airframe: &Airframe,
) -> Result<SurveyPlan, CoverageError> {
    plan_survey_in_wind(
        work,
        alt_agl_m,
        sensor,
        overlap,
        dock,
        airframe,
        &Wind::CALM,
    )
}

/// [`plan_survey`] for a design wind: each leg must fit one battery even if
/// all of it were flown straight into the wind, so a stronger wind gives
/// shorter legs and more sorties.
pub fn plan_survey_in_wind(
    work: &Work,
    alt_agl_m: f64,
    sensor: &str,
    overlap: Overlap,
    dock: Point,
    airframe: &Airframe,
    wind: &Wind,
) -> Result<SurveyPlan, CoverageError> {
    let ground_speed = wind.worst_ground_speed_mps(airframe.cruise_speed_mps);
    let camera = camera_for(sensor);
    // Run out far enough to level off after a turn at cruise speed.
    let turnaround_m = 2.0 * airframe.cruise_speed_mps;
    let (frame, path, photographed, trigger_distance_m, gsd_m) = match work {
        Work::Area(polygon) => {
            let survey = plan_area(
                polygon,
                &AreaSpec {
                    camera,
                    height_m: alt_agl_m,
                    overlap,
                    turnaround_m,
                    heading_deg: None,
                },
            )?;
            (
                survey.frame,
                survey.path,
                survey.passes,
                survey.trigger_distance_m,
                survey.gsd_m,
            )
        }
        Work::Corridor { centre, width_m } => {
            let survey = plan_corridor(
                centre,
                *width_m,
                &CorridorSpec {
                    camera,
                    height_m: alt_agl_m,
                    overlap,
                    turnaround_m,
                },
            )?;
            // Every stretch of the path is photographed, run-outs and the
            // short hops between passes too: a few photos more than needed.
            let stretches = survey.path.windows(2).map(|w| (w[0], w[1])).collect();
            (
                survey.frame,
                survey.path,
                stretches,
                survey.trigger_distance_m,
                survey.gsd_m,
            )
        }
        Work::Point(_) => {
            return Err(CoverageError::OutOfRange {
                what: "survey work",
                expected: "an area or a corridor",
                got: 0.0,
            })
        }
    };
    let climb_and_descent_m = (alt_agl_m / airframe.climb_speed_mps
        + alt_agl_m / airframe.descent_speed_mps)
        * ground_speed;
    let budget_m = endurance_s(100.0, airframe) * ground_speed - climb_and_descent_m;
    let legs = split_into_sorties(&path, frame.to_local(dock), budget_m)?;

    // Photo points, with their distance along the path.
    let mut at = 0.0;
    let mut photos: Vec<(f64, Xy)> = Vec::new();
    for pair in path.windows(2) {
        let length = pair[0].distance(pair[1]);
        if let Some(&(a, b)) = photographed
            .iter()
            .find(|(a, b)| on_segment(*a, pair) && on_segment(*b, pair))
        {
            let (from, to) = (pair[0].distance(a), pair[0].distance(b));
            let (from, to) = (from.min(to), from.max(to));
            for k in 0..photos_along(to - from, trigger_distance_m) {
                let d = (from + k as f64 * trigger_distance_m).min(to);
                let t = if length > 0.0 { d / length } else { 0.0 };
                photos.push((at + d, pair[0].lerp(pair[1], t)));
            }
        }
        at += length;
    }
    let legs = legs
        .into_iter()
        .map(|leg| {
            let mut stops: Vec<(f64, Xy, bool)> = Vec::new();
            let mut along = leg.from_m;
            for (i, p) in leg.points.iter().enumerate() {
                if i > 0 {
                    along += leg.points[i - 1].distance(*p);
                }
                stops.push((along, *p, false));
            }
            let last_leg_end = (leg.to_m - at).abs() < 1e-6;
            stops.extend(
                photos
                    .iter()
                    .filter(|(d, _)| {
                        *d >= leg.from_m
                            && (*d < leg.to_m || (last_leg_end && *d <= leg.to_m + 1e-6))
                    })
                    .map(|(d, p)| (*d, *p, true)),
            );
            // By distance along the path; a photo point on a turn after it.
            stops.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
            SurveyLeg {
                alt_agl_m,
                stops: stops
                    .into_iter()
                    .map(|(_, p, photo)| (frame.to_geo(p), photo))
                    .collect(),
            }
        })
        .collect();
    Ok(SurveyPlan {
        legs,
        trigger_distance_m,
        gsd_m,
    })
}

fn on_segment(p: Xy, segment: &[Xy]) -> bool {
    let (a, b) = (segment[0], segment[1]);
    (a.distance(p) + p.distance(b) - a.distance(b)).abs() < 1e-6
}

/// Time spent at one inspection once there, seconds: the orbit flown and
/// the holds for the photos. What the routing planner calls its service.
pub fn inspection_time_s(task: &PointInspection, airframe: &Airframe) -> f64 {
    let photos = f64::from(task.photos.max(1));
    if task.radius_m <= 0.0 {
        HOLD_PER_PHOTO_S * photos
    } else {
        // Out to the orbit, around it between the photo points (a chord per
        // photo), and back in towards the next task.
        let chords = photos * 2.0 * task.radius_m * (std::f64::consts::PI / photos).sin();
        (2.0 * task.radius_m + chords) / airframe.cruise_speed_mps + HOLD_PER_PHOTO_S * photos
    }
}

/// The longest time in the air a battery at `battery_pct` allows, keeping
/// the reserve, seconds.
pub fn endurance_s(battery_pct: f64, airframe: &Airframe) -> f64 {
    let usable_pct = (battery_pct - airframe.reserve_pct).max(0.0);
    usable_pct / 100.0 * airframe.battery_capacity_wh * 3600.0 / airframe.cruise_power_w
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
    fn a_sortie_inspects_each_point_in_turn_and_knows_which_items_are_whose() {
        let orbit = PointInspection {
            target: Point::new(114.402, 30.506),
            alt_agl_m: 50.0,
            radius_m: 30.0,
            photos: 3,
        };
        let hover = PointInspection {
            target: Point::new(114.405, 30.507),
            alt_agl_m: 40.0,
            radius_m: 0.0,
            photos: 2,
        };
        let a = Airframe::default();
        let sortie = plan_sortie(&dock(), &[Visit::Inspect(orbit), Visit::Inspect(hover)], &a);
        let items = &sortie.flight.mission.items;
        assert_eq!(sortie.items_of.len(), 2);
        let (o_first, o_last) = sortie.items_of[0];
        let (h_first, h_last) = sortie.items_of[1];
        assert_eq!(o_first, 1, "right after take-off");
        assert_eq!(h_first, o_last + 1);
        assert_eq!(usize::from(h_last), items.len() - 2, "just before RTL");
        let photos_in = |(first, last): (u16, u16)| {
            items[usize::from(first)..=usize::from(last)]
                .iter()
                .filter(|i| **i == MissionItem::CaptureImage)
                .count()
        };
        assert_eq!(photos_in(sortie.items_of[0]), 3);
        assert_eq!(photos_in(sortie.items_of[1]), 2);
        assert!(matches!(
            items[usize::from(h_first)],
            MissionItem::LookAt { lat_deg, .. } if lat_deg == 30.507
        ));
        // One sortie for both costs less than two sorties.
        let apart = plan_point_inspection(&dock(), &orbit, &a).distance_m
            + plan_point_inspection(&dock(), &hover, &a).distance_m;
        assert!(sortie.flight.distance_m < apart);
    }

    #[test]
    fn a_survey_too_big_for_one_battery_is_cut_into_legs_that_share_out_every_photo() {
        use geo::{LineString, Polygon};
        let a = Airframe::default();
        // About 1.4 km x 1.1 km, 1 km from the dock: several batteries at 40 m.
        let area = Polygon::new(
            LineString::from(vec![
                (114.41, 30.51),
                (114.425, 30.51),
                (114.425, 30.52),
                (114.41, 30.52),
                (114.41, 30.51),
            ]),
            vec![],
        );
        let dock = Point::new(114.40, 30.505);
        let survey = plan_survey(
            &Work::Area(area.clone()),
            40.0,
            "visible",
            Overlap::default(),
            dock,
            &a,
        )
        .unwrap();
        assert!(survey.legs.len() > 1, "{} legs", survey.legs.len());
        // The same request gives the same legs.
        let again = plan_survey(
            &Work::Area(area),
            40.0,
            "visible",
            Overlap::default(),
            dock,
            &a,
        )
        .unwrap();
        assert_eq!(survey, again);
        let budget_m = endurance_s(100.0, &a) * a.cruise_speed_mps;
        for (k, leg) in survey.legs.iter().enumerate() {
            let (entry, exit) = (leg.stops[0].0, leg.stops[leg.stops.len() - 1].0);
            let flight =
                Haversine.distance(dock, entry) + leg.length_m() + Haversine.distance(exit, dock);
            assert!(
                flight <= budget_m * 1.01,
                "leg {k}: {flight:.0} m of {budget_m:.0}"
            );
            assert!(leg.photos() > 0, "leg {k} takes no photos");
            if k > 0 {
                let previous = survey.legs[k - 1].stops.last().unwrap().0;
                assert!(
                    Haversine.distance(previous, entry) < 0.5,
                    "leg {k} resumes where {} stopped",
                    k - 1
                );
            }
        }
        // Photos 8 m apart along lines 18 m apart over about 1.55 km²:
        // roughly one photo per 144 m².
        let photos: usize = survey.legs.iter().map(SurveyLeg::photos).sum();
        // No photo point is taken twice where one leg hands over to the next.
        let points: Vec<Point> = survey
            .legs
            .iter()
            .flat_map(|leg| {
                leg.stops
                    .iter()
                    .filter(|(_, photo)| *photo)
                    .map(|(p, _)| *p)
            })
            .collect();
        assert!(points
            .windows(2)
            .all(|w| Haversine.distance(w[0], w[1]) > 0.01));
        assert!((9_000..13_000).contains(&photos), "{photos} photos");
    }

    #[test]
    fn endurance_keeps_the_reserve() {
        let a = Airframe::default();
        assert_eq!(endurance_s(a.reserve_pct, &a), 0.0);
        // 75% of 115 Wh at 300 W: 1035 s.
        assert!((endurance_s(100.0, &a) - 1035.0).abs() < 1e-9);
        assert!(
            inspection_time_s(
                &PointInspection {
                    target: Point::new(0.0, 0.0),
                    alt_agl_m: 30.0,
                    radius_m: 0.0,
                    photos: 3
                },
                &a
            ) == 6.0
        );
    }

    #[test]
    fn a_leg_into_the_wind_costs_more_than_the_same_leg_downwind_or_in_calm_air() {
        let a = Airframe::default();
        let dock = dock();
        // Due east of the dock, 1.5 km.
        let east = Haversine.destination(dock.position, 90.0, 1500.0);
        let from_east = Wind {
            from_deg: 90.0,
            speed_mps: 6.0,
        };
        let out = [dock.position, east];
        let back = [east, dock.position];
        let calm = route_time_s(&out, a.cruise_speed_mps, &Wind::CALM);
        let into = route_time_s(&out, a.cruise_speed_mps, &from_east);
        let with = route_time_s(&back, a.cruise_speed_mps, &from_east);
        assert!((calm - 125.0).abs() < 0.5, "{calm}");
        assert!(
            (into - 250.0).abs() < 0.5,
            "headwind halves the ground speed: {into}"
        );
        assert!(with < calm);
        // A crosswind costs too: part of the airspeed goes into crabbing.
        let from_north = Wind {
            from_deg: 0.0,
            speed_mps: 6.0,
        };
        assert!(route_time_s(&out, a.cruise_speed_mps, &from_north) > calm);
        // And the round trip costs more in any wind than in calm air.
        let target = PointInspection {
            target: east,
            alt_agl_m: 40.0,
            radius_m: 0.0,
            photos: 2,
        };
        let visit = [Visit::Inspect(target)];
        let calm = plan_sortie(&dock, &visit, &a).flight;
        for wind in [from_east, from_north] {
            let windy = plan_sortie_in_wind(&dock, &visit, &a, &wind).flight;
            assert!(windy.energy_pct > calm.energy_pct, "{wind:?}");
            assert_eq!(windy.distance_m, calm.distance_m);
        }
    }

    #[test]
    fn a_sortie_that_fits_in_calm_air_is_refused_in_a_strong_wind_and_a_survey_is_split_further() {
        let a = Airframe::default();
        let dock = dock();
        let far = PointInspection {
            target: Haversine.destination(dock.position, 0.0, 4500.0),
            alt_agl_m: 40.0,
            radius_m: 0.0,
            photos: 2,
        };
        let visit = [Visit::Inspect(far)];
        let calm = plan_sortie(&dock, &visit, &a).flight;
        assert!(calm.battery_needed_pct(&a) <= 100.0, "{}", calm.energy_pct);
        let gale = Wind {
            from_deg: 0.0,
            speed_mps: 9.0,
        };
        let windy = plan_sortie_in_wind(&dock, &visit, &a, &gale).flight;
        assert!(windy.battery_needed_pct(&a) > 100.0, "{}", windy.energy_pct);

        use geo::{LineString, Polygon};
        // About 400 m x 330 m next to the dock: one battery in calm air.
        let area = Polygon::new(
            LineString::from(vec![
                (114.400, 30.505),
                (114.404, 30.505),
                (114.404, 30.508),
                (114.400, 30.508),
                (114.400, 30.505),
            ]),
            vec![],
        );
        let plan = |wind: &Wind| {
            plan_survey_in_wind(
                &Work::Area(area.clone()),
                40.0,
                "visible",
                Overlap::default(),
                dock.position,
                &a,
                wind,
            )
            .unwrap()
        };
        let calm = plan(&Wind::CALM);
        let windy = plan(&gale);
        assert_eq!(calm.legs.len(), 1);
        assert!(windy.legs.len() > 1, "{} legs", windy.legs.len());
        let photos = |p: &SurveyPlan| p.legs.iter().map(SurveyLeg::photos).sum::<usize>();
        assert_eq!(
            photos(&calm),
            photos(&windy),
            "the same photos, in more sorties"
        );
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
