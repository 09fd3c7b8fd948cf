//! Airspace: which zones apply at a place, an altitude and a time, and why a
//! flight may not go there. Pure functions, no IO.
//!
//! This first version checks the target point and each straight leg of a
//! planned route in 2D against the zones active at the flight's time, with
//! altitude ceilings applied per zone. 3D bands, buffers and 4D
//! deconfliction come with the airspace issue.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, Utc, Weekday};
use geo::{Contains, Intersects, Line, Point, Polygon};
use serde_json::Value;

use crate::region::Region;

#[derive(Debug, Clone, PartialEq)]
pub enum ZoneKind {
    /// No flight at any altitude while active.
    Prohibited,
    /// Flight allowed up to a ceiling above ground.
    AltitudeLimit { ceiling_agl_m: f64 },
}

/// Weekly local-time window during which a zone is active.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub days: Vec<Weekday>,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Schedule {
    pub fn from_json(value: &Value) -> Result<Schedule, String> {
        let days = value["days"]
            .as_array()
            .ok_or("schedule.days must be an array like [\"MON\", \"TUE\"]")?
            .iter()
            .map(|d| {
                d.as_str()
                    .and_then(|s| s.parse::<Weekday>().ok())
                    .ok_or_else(|| format!("schedule.days: {d} is not a weekday"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let time = |key: &str| {
            value[key]
                .as_str()
                .and_then(|s| NaiveTime::parse_from_str(s, "%H:%M").ok())
                .ok_or_else(|| format!("schedule.{key} must be a time like \"14:00\""))
        };
        let (start, end) = (time("start")?, time("end")?);
        if start >= end {
            return Err("schedule.start must be before schedule.end".into());
        }
        Ok(Schedule { days, start, end })
    }

    fn active_at(&self, local: DateTime<FixedOffset>) -> bool {
        let t = local.time();
        self.days.contains(&local.weekday()) && t >= self.start && t < self.end
    }
}

#[derive(Debug, Clone)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub reason: String,
    pub kind: ZoneKind,
    pub area: Polygon,
    /// None: always active.
    pub schedule: Option<Schedule>,
}

impl Zone {
    pub fn active_at(&self, when: DateTime<Utc>, utc_offset_hours: i32) -> bool {
        match &self.schedule {
            None => true,
            Some(s) => {
                let offset = FixedOffset::east_opt(utc_offset_hours * 3600)
                    .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"));
                s.active_at(when.with_timezone(&offset))
            }
        }
    }

    fn describe_time(&self) -> String {
        match &self.schedule {
            None => "permanently".into(),
            Some(s) => format!(
                "on {} from {} to {} local time",
                s.days
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                s.start.format("%H:%M"),
                s.end.format("%H:%M")
            ),
        }
    }
}

/// Why a flight may not go where it was asked: written for the person who
/// asked, naming the zone and what would make it acceptable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("the point {lon:.5}, {lat:.5} is outside the operating area `{region}`")]
    OutsideRegion { region: String, lat: f64, lon: f64 },
    #[error("the point is inside zone {zone_id} `{zone_name}`, where flight is prohibited {when} ({reason})")]
    InProhibitedZone {
        zone_id: String,
        zone_name: String,
        when: String,
        reason: String,
    },
    #[error("{alt_m:.0} m is above the {ceiling_m:.0} m ceiling of zone {zone_id} `{zone_name}`; ask for {ceiling_m:.0} m or lower")]
    AboveCeiling {
        zone_id: String,
        zone_name: String,
        alt_m: f64,
        ceiling_m: f64,
    },
    #[error("leg {leg} of the route crosses zone {zone_id} `{zone_name}`, prohibited {when}")]
    LegCrossesZone {
        leg: usize,
        zone_id: String,
        zone_name: String,
        when: String,
    },
}

/// Checks a target point at an altitude above ground at a given time.
pub fn check_point(
    region: &Region,
    target: Point,
    alt_agl_m: f64,
    when: DateTime<Utc>,
) -> Result<(), Refusal> {
    if !region.boundary.contains(&target) {
        return Err(Refusal::OutsideRegion {
            region: region.name.clone(),
            lat: target.y(),
            lon: target.x(),
        });
    }
    for zone in region
        .zones
        .iter()
        .filter(|z| z.active_at(when, region.utc_offset_hours))
    {
        // Intersects, not Contains: a point on a zone's edge is in the zone.
        if !zone.area.intersects(&target) {
            continue;
        }
        match zone.kind {
            ZoneKind::Prohibited => {
                return Err(Refusal::InProhibitedZone {
                    zone_id: zone.id.clone(),
                    zone_name: zone.name.clone(),
                    when: zone.describe_time(),
                    reason: zone.reason.clone(),
                })
            }
            ZoneKind::AltitudeLimit { ceiling_agl_m } if alt_agl_m > ceiling_agl_m => {
                return Err(Refusal::AboveCeiling {
                    zone_id: zone.id.clone(),
                    zone_name: zone.name.clone(),
                    alt_m: alt_agl_m,
                    ceiling_m: ceiling_agl_m,
                })
            }
            ZoneKind::AltitudeLimit { .. } => {}
        }
    }
    Ok(())
}

/// Checks the straight legs of a route (lon/lat points flown at `alt_agl_m`)
/// against every zone active at any time during `[start, start + duration]`.
/// Zones are sampled each minute of the window, so a zone that opens mid-flight
/// still blocks it.
pub fn check_route(
    region: &Region,
    route: &[Point],
    alt_agl_m: f64,
    start: DateTime<Utc>,
    duration: Duration,
) -> Result<(), Refusal> {
    let minutes = duration.num_minutes().max(0) + 1;
    for zone in &region.zones {
        let active = (0..=minutes)
            .any(|m| zone.active_at(start + Duration::minutes(m), region.utc_offset_hours));
        if !active {
            continue;
        }
        let blocks = match zone.kind {
            ZoneKind::Prohibited => true,
            ZoneKind::AltitudeLimit { ceiling_agl_m } => alt_agl_m > ceiling_agl_m,
        };
        if !blocks {
            continue;
        }
        for (i, pair) in route.windows(2).enumerate() {
            if Line::new(pair[0], pair[1]).intersects(&zone.area) {
                return Err(Refusal::LegCrossesZone {
                    leg: i + 1,
                    zone_id: zone.id.clone(),
                    zone_name: zone.name.clone(),
                    when: match zone.kind {
                        ZoneKind::Prohibited => zone.describe_time(),
                        ZoneKind::AltitudeLimit { ceiling_agl_m } => {
                            format!("above {ceiling_agl_m:.0} m")
                        }
                    },
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at_local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn point_outside_the_boundary_is_refused() {
        let r = Region::demo();
        let err = check_point(&r, Point::new(114.30, 30.50), 50.0, Utc::now()).unwrap_err();
        assert!(matches!(err, Refusal::OutsideRegion { .. }));
    }

    #[test]
    fn permanent_prohibited_zone_refuses_and_names_itself() {
        let r = Region::demo();
        let err = check_point(&r, Point::new(114.408, 30.5015), 50.0, Utc::now()).unwrap_err();
        assert!(err.to_string().contains("Z-HOSP"), "{err}");
    }

    #[test]
    fn scheduled_zone_blocks_inside_its_hours_only() {
        let r = Region::demo();
        let stadium = Point::new(114.433, 30.497);
        // 2026-11-28 is a Saturday.
        assert!(check_point(&r, stadium, 50.0, at_local(2026, 11, 28, 15, 0)).is_err());
        assert!(check_point(&r, stadium, 50.0, at_local(2026, 11, 28, 19, 0)).is_ok());
        assert!(check_point(&r, stadium, 50.0, at_local(2026, 11, 25, 15, 0)).is_ok());
    }

    #[test]
    fn altitude_limit_applies_above_its_ceiling_only() {
        let r = Region::demo();
        let campus = Point::new(114.415, 30.513);
        assert!(check_point(&r, campus, 50.0, Utc::now()).is_ok());
        let err = check_point(&r, campus, 80.0, Utc::now()).unwrap_err();
        assert!(err.to_string().contains("60 m ceiling"), "{err}");
    }

    #[test]
    fn a_leg_through_a_prohibited_zone_is_refused_with_its_number() {
        let r = Region::demo();
        let route = [Point::new(114.404, 30.5015), Point::new(114.412, 30.5015)];
        let err = check_route(&r, &route, 50.0, Utc::now(), Duration::minutes(5)).unwrap_err();
        assert!(
            matches!(err, Refusal::LegCrossesZone { leg: 1, .. }),
            "{err}"
        );
        let clear = [Point::new(114.399, 30.504), Point::new(114.401, 30.506)];
        assert!(check_route(&r, &clear, 50.0, Utc::now(), Duration::minutes(5)).is_ok());
    }
}
