//! Geofences uploaded with the mission protocol (MISSION_TYPE_FENCE) and rally
//! points (MISSION_TYPE_RALLY): validation of the uploaded items and the
//! inside/outside test the fence failsafe uses. Geometry is done in the local
//! east/north frame around home, which is exact enough for district-sized fences.

use mavlink::dialects::ardupilotmega::{MavCmd, MavMissionResult};

use crate::geo::{e7_to_deg, GeoPoint, LocalPoint};
use crate::mission::MissionItem;

#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    Polygon {
        vertices: Vec<(f64, f64)>,
        inclusion: bool,
        group: u32,
    },
    Circle {
        center: (f64, f64),
        radius_m: f64,
        inclusion: bool,
        group: u32,
    },
}

/// Why the vehicle is outside its fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breach {
    /// Outside an inclusion zone, inside an exclusion zone, or too far from home.
    Boundary,
    /// Above the altitude limit.
    MaxAltitude,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Geofence {
    pub zones: Vec<Zone>,
    /// NAV_FENCE_RETURN_POINT, local frame.
    pub return_point: Option<(f64, f64)>,
}

/// Check a whole uploaded fence plan: known commands, positions, vertex counts
/// that agree and cover consecutive items, at least 3 vertices, positive radii.
pub fn validate_fence(items: &[MissionItem]) -> Result<(), (u16, MavMissionResult)> {
    let mut index = 0;
    let mut return_points = 0;
    while index < items.len() {
        let item = &items[index];
        let seq = item.seq;
        match item.command {
            MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
            | MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION => {
                let count = item.param1;
                if !(count.is_finite() && count >= 3.0 && count.fract() == 0.0) {
                    return Err((seq, MavMissionResult::MAV_MISSION_INVALID_PARAM1));
                }
                let count = count as usize;
                let Some(vertices) = items.get(index..index + count) else {
                    return Err((seq, MavMissionResult::MAV_MISSION_INVALID_PARAM1));
                };
                if vertices
                    .iter()
                    .any(|vertex| vertex.command != item.command || vertex.param1 != item.param1)
                {
                    return Err((seq, MavMissionResult::MAV_MISSION_INVALID_PARAM1));
                }
                index += count;
            }
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
            | MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION => {
                if !(item.param1.is_finite() && item.param1 > 0.0) {
                    return Err((seq, MavMissionResult::MAV_MISSION_INVALID_PARAM1));
                }
                index += 1;
            }
            MavCmd::MAV_CMD_NAV_FENCE_RETURN_POINT => {
                return_points += 1;
                if return_points > 1 {
                    return Err((seq, MavMissionResult::MAV_MISSION_ERROR));
                }
                index += 1;
            }
            _ => return Err((seq, MavMissionResult::MAV_MISSION_UNSUPPORTED)),
        }
        if !valid_position(item) {
            return Err((seq, MavMissionResult::MAV_MISSION_INVALID_PARAM5_X));
        }
    }
    Ok(())
}

/// Rally plans hold only rally points with positions.
pub fn validate_rally(items: &[MissionItem]) -> Result<(), (u16, MavMissionResult)> {
    for item in items {
        if item.command != MavCmd::MAV_CMD_NAV_RALLY_POINT {
            return Err((item.seq, MavMissionResult::MAV_MISSION_UNSUPPORTED));
        }
        if !valid_position(item) {
            return Err((item.seq, MavMissionResult::MAV_MISSION_INVALID_PARAM5_X));
        }
    }
    Ok(())
}

fn valid_position(item: &MissionItem) -> bool {
    e7_to_deg(item.x).abs() <= 90.0 && e7_to_deg(item.y).abs() <= 180.0
}

impl Geofence {
    /// Build from a validated fence plan.
    pub fn from_items(home: &GeoPoint, items: &[MissionItem]) -> Geofence {
        let local = |item: &MissionItem| {
            let point = home.to_local(&GeoPoint {
                lat_deg: e7_to_deg(item.x),
                lon_deg: e7_to_deg(item.y),
                alt_msl_m: home.alt_msl_m,
            });
            (point.east_m, point.north_m)
        };
        let mut fence = Geofence::default();
        let mut index = 0;
        while index < items.len() {
            let item = &items[index];
            match item.command {
                MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
                | MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION => {
                    let count = (item.param1.max(1.0) as usize).min(items.len() - index);
                    fence.zones.push(Zone::Polygon {
                        vertices: items[index..index + count].iter().map(local).collect(),
                        inclusion: item.command
                            == MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                        group: item.param2.max(0.0) as u32,
                    });
                    index += count;
                }
                MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION
                | MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION => {
                    fence.zones.push(Zone::Circle {
                        center: local(item),
                        radius_m: f64::from(item.param1),
                        inclusion: item.command == MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
                        group: item.param2.max(0.0) as u32,
                    });
                    index += 1;
                }
                MavCmd::MAV_CMD_NAV_FENCE_RETURN_POINT => {
                    fence.return_point = Some(local(item));
                    index += 1;
                }
                _ => index += 1,
            }
        }
        fence
    }

    /// True when `point` satisfies the zones: inside no exclusion zone and,
    /// if there are inclusion zones, inside all zones of at least one group.
    pub fn zones_allow(&self, point: &LocalPoint) -> bool {
        let here = (point.east_m, point.north_m);
        let mut groups: Vec<(u32, bool)> = Vec::new();
        for zone in &self.zones {
            let (inside, inclusion, group) = match zone {
                Zone::Polygon {
                    vertices,
                    inclusion,
                    group,
                } => (point_in_polygon(here, vertices), *inclusion, *group),
                Zone::Circle {
                    center,
                    radius_m,
                    inclusion,
                    group,
                } => (
                    (here.0 - center.0).hypot(here.1 - center.1) <= *radius_m,
                    *inclusion,
                    *group,
                ),
            };
            if !inclusion {
                if inside {
                    return false;
                }
                continue;
            }
            match groups.iter_mut().find(|(id, _)| *id == group) {
                Some((_, all_inside)) => *all_inside &= inside,
                None => groups.push((group, inside)),
            }
        }
        groups.is_empty() || groups.iter().any(|(_, all_inside)| *all_inside)
    }
}

/// Even-odd ray casting.
fn point_in_polygon(point: (f64, f64), vertices: &[(f64, f64)]) -> bool {
    let (x, y) = point;
    let mut inside = false;
    let mut previous = vertices.len().wrapping_sub(1);
    for (index, &(xi, yi)) in vertices.iter().enumerate() {
        let (xj, yj) = vertices[previous];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        previous = index;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::deg_to_e7;
    use mavlink::dialects::ardupilotmega::MavFrame;

    fn home() -> GeoPoint {
        GeoPoint {
            lat_deg: 30.505,
            lon_deg: 114.398,
            alt_msl_m: 20.0,
        }
    }

    fn item(seq: u16, command: MavCmd, east_m: f64, north_m: f64, p1: f32) -> MissionItem {
        let at = home().offset_m(east_m, north_m);
        MissionItem {
            seq,
            frame: MavFrame::MAV_FRAME_GLOBAL,
            command,
            current: 0,
            autocontinue: 0,
            param1: p1,
            param2: 0.0,
            param3: 0.0,
            param4: 0.0,
            x: deg_to_e7(at.lat_deg),
            y: deg_to_e7(at.lon_deg),
            z: 0.0,
        }
    }

    fn square(first_seq: u16, command: MavCmd, half_m: f64, east_m: f64) -> Vec<MissionItem> {
        [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
            .iter()
            .enumerate()
            .map(|(i, (e, n))| {
                item(
                    first_seq + i as u16,
                    command,
                    east_m + e * half_m,
                    n * half_m,
                    4.0,
                )
            })
            .collect()
    }

    #[test]
    fn inclusion_polygon_with_an_exclusion_circle_inside_it() {
        let mut items = square(
            0,
            MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            100.0,
            0.0,
        );
        items.push(item(
            4,
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION,
            50.0,
            50.0,
            10.0,
        ));
        assert_eq!(validate_fence(&items), Ok(()));
        let fence = Geofence::from_items(&home(), &items);
        assert!(fence.zones_allow(&LocalPoint::new(0.0, 0.0, 10.0)));
        assert!(!fence.zones_allow(&LocalPoint::new(150.0, 0.0, 10.0)));
        assert!(!fence.zones_allow(&LocalPoint::new(52.0, 48.0, 10.0)));
    }

    #[test]
    fn vehicle_must_be_inside_every_zone_of_some_inclusion_group() {
        let mut items = square(
            0,
            MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            100.0,
            0.0,
        );
        items.push(item(
            4,
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
            500.0,
            0.0,
            50.0,
        ));
        items[4].param2 = 1.0;
        let fence = Geofence::from_items(&home(), &items);
        assert!(fence.zones_allow(&LocalPoint::new(0.0, 0.0, 0.0)));
        assert!(fence.zones_allow(&LocalPoint::new(510.0, 0.0, 0.0)));
        assert!(!fence.zones_allow(&LocalPoint::new(300.0, 0.0, 0.0)));
    }

    #[test]
    fn malformed_fences_are_refused_with_the_offending_item() {
        let mut short = square(
            0,
            MavCmd::MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            100.0,
            0.0,
        );
        short.pop();
        assert_eq!(
            validate_fence(&short),
            Err((0, MavMissionResult::MAV_MISSION_INVALID_PARAM1))
        );
        let waypoint = vec![item(0, MavCmd::MAV_CMD_NAV_WAYPOINT, 0.0, 0.0, 0.0)];
        assert_eq!(
            validate_fence(&waypoint),
            Err((0, MavMissionResult::MAV_MISSION_UNSUPPORTED))
        );
        let zero_radius = vec![item(
            0,
            MavCmd::MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
            0.0,
            0.0,
            0.0,
        )];
        assert!(validate_fence(&zero_radius).is_err());
        assert_eq!(
            validate_rally(&waypoint),
            Err((0, MavMissionResult::MAV_MISSION_UNSUPPORTED))
        );
    }
}
