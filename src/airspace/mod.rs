//! Airspace: which zones apply at a place, an altitude and a time, and why a
//! flight may not go there. Pure functions and immutable indexes; no IO.
//!
//! - [`zone`], [`band`], [`schedule`]: the zone model (footprint, altitude
//!   band with its datum, time of applicability, kind).
//! - [`geom`]: exact planar predicates in local metres; `sides` reads the
//!   side of a leg's line that each vertex of a ring lies on, four at a
//!   time where the CPU can.
//! - [`index`]: the immutable grid index and the live [`index::Airspace`]
//!   that swaps indexes atomically when zones change.
//! - [`route_check`]: leg-by-leg 3D and time check with explanations.
//! - [`import`]: GeoJSON, ED-269 and QGroundControl `.plan` in, GeoJSON out.
//!
//! [`check_point`] and [`check_route`] are the dispatcher's entry points over
//! a [`Region`].

pub mod band;
pub mod conformance;
pub mod deconflict;
pub mod detour;
pub mod geom;
pub mod import;
pub mod index;
mod packed;
pub mod route_check;
pub mod schedule;
mod sides;
mod triage;
pub mod zone;

use chrono::{DateTime, Duration, Utc};
use geo::{Contains, Point};

pub use band::{AltitudeReference, Band, VerticalContext};
pub use index::{Airspace, AirspaceFrame, ZoneIndex};
pub use route_check::{CheckOptions, ConflictPair, LegConflict, PairScratch, Waypoint};
pub use schedule::{Applicability, Schedule};
pub use zone::{Zone, ZoneKind, ZoneShape};

use crate::region::Region;

/// ` (reason)`, or nothing where no reason is given (a QGC fence has none).
fn reason_in_brackets(reason: &str) -> String {
    match reason.trim() {
        "" => String::new(),
        r => format!(" ({r})"),
    }
}

/// Why a flight may not go where it was asked: written for the person who
/// asked, naming the zone and what would make it acceptable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("the point {lon:.5}, {lat:.5} is outside the operating area `{region}`")]
    OutsideRegion { region: String, lat: f64, lon: f64 },
    #[error("the point is inside zone {zone_id} `{zone_name}` ({kind}, {band}), where flight is not allowed {when}{}", reason_in_brackets(.reason))]
    InZone {
        zone_id: String,
        zone_name: String,
        kind: ZoneKind,
        band: Band,
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
    #[error("{0}")]
    Route(Box<LegConflict>),
}

/// The region's zones plus its boundary as the operating area, in a frame
/// centred on the region.
pub fn region_index(region: &Region) -> ZoneIndex {
    let ext = region.boundary.exterior();
    let (lon0, lat0) = ext.0.first().map(|c| (c.x, c.y)).unwrap_or((0.0, 0.0));
    let mut frame = AirspaceFrame::new(lon0, lat0, region.utc_offset_hours);
    // AMSL and WGS84 bands are checked above this region's ground.
    frame.vertical = region.vertical;
    let mut zones = region.zones.clone();
    let ring = |l: &geo::LineString| -> Vec<(f64, f64)> {
        let mut v: Vec<(f64, f64)> = l.0.iter().map(|c| (c.x, c.y)).collect();
        if v.len() > 1 && v.first() == v.last() {
            v.pop();
        }
        v
    };
    zones.push(Zone {
        id: region.name.clone(),
        name: region.name.clone(),
        reason: "operating area".into(),
        kind: ZoneKind::OperatingArea,
        shape: ZoneShape::Polygon {
            exterior: ring(ext),
            holes: region.boundary.interiors().iter().map(ring).collect(),
        },
        band: Band::surface_up(),
        time: Applicability::permanent(),
    });
    ZoneIndex::build(zones, frame)
}

/// Checks a target point at an altitude above ground at a given time.
/// Prohibited and authorisation-required zones refuse; the others inform.
pub fn check_point(
    region: &Region,
    target: Point,
    alt_agl_m: f64,
    when: DateTime<Utc>,
) -> Result<(), Refusal> {
    check_point_in(&region_index(region), region, target, alt_agl_m, when)
}

/// [`check_point`] against an index already built for the region (the
/// dispatcher keeps one, swapped when zones change), with the region's
/// boundary.
pub fn check_point_in(
    index: &ZoneIndex,
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
    let p = index.frame().local.to_local(target.x(), target.y());
    let mut near = Vec::new();
    // Distance 0: a point on a zone's edge is in the zone.
    index.zones_near(p, 0.0, &mut near);
    // By id: zone numbers are the index's own (map order).
    near.sort_unstable_by_key(|&z| index.id_rank(z));
    for z in near {
        let zone = index.zone(z);
        let (floor, ceiling) = index.band_agl(z);
        let blocks = matches!(
            zone.kind,
            ZoneKind::Prohibited | ZoneKind::AuthorisationRequired
        );
        if !blocks
            || alt_agl_m < floor
            || alt_agl_m > ceiling
            || !zone.time.active_at(when, index.frame().utc_offset)
        {
            continue;
        }
        if floor > 0.0 && ceiling.is_infinite() {
            return Err(Refusal::AboveCeiling {
                zone_id: zone.id.clone(),
                zone_name: zone.name.clone(),
                alt_m: alt_agl_m,
                ceiling_m: floor,
            });
        }
        return Err(Refusal::InZone {
            zone_id: zone.id.clone(),
            zone_name: zone.name.clone(),
            kind: zone.kind,
            band: zone.band,
            when: zone.time.describe(),
            reason: zone.reason.clone(),
        });
    }
    Ok(())
}

/// Checks the straight legs of a route (lon/lat points flown at `alt_agl_m`,
/// evenly in time over `[start, start + duration]`) leg by leg, with the
/// default lateral buffer; refuses with the first blocking conflict.
pub fn check_route(
    region: &Region,
    route: &[Point],
    alt_agl_m: f64,
    start: DateTime<Utc>,
    duration: Duration,
) -> Result<(), Refusal> {
    check_route_in(&region_index(region), route, alt_agl_m, start, duration)
}

/// [`check_route`] against an index already built for the region.
pub fn check_route_in(
    index: &ZoneIndex,
    route: &[Point],
    alt_agl_m: f64,
    start: DateTime<Utc>,
    duration: Duration,
) -> Result<(), Refusal> {
    let frame = index.frame().local;
    let lengths: Vec<f64> = route
        .windows(2)
        .map(|w| {
            frame
                .to_local(w[0].x(), w[0].y())
                .distance(frame.to_local(w[1].x(), w[1].y()))
        })
        .collect();
    let total: f64 = lengths.iter().sum();
    let mut travelled = 0.0;
    let waypoints: Vec<Waypoint> = route
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i > 0 {
                travelled += lengths[i - 1];
            }
            let f = if total > 0.0 { travelled / total } else { 0.0 };
            Waypoint {
                lon: p.x(),
                lat: p.y(),
                alt_agl_m,
                time: start
                    + Duration::milliseconds((duration.num_milliseconds() as f64 * f) as i64),
            }
        })
        .collect();
    match index.first_blocking(&waypoints, &CheckOptions::default()) {
        Some(c) => Err(Refusal::Route(Box::new(c))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn at_local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_refusal_gives_the_zones_reason_in_brackets_only_when_it_has_one() {
        let refusal = |reason: &str| Refusal::InZone {
            zone_id: "F".into(),
            zone_name: "Fence".into(),
            kind: ZoneKind::Prohibited,
            band: Band::surface_up(),
            when: "permanently".into(),
            reason: reason.into(),
        };
        assert!(refusal("").to_string().ends_with("not allowed permanently"));
        assert!(refusal("Helipad")
            .to_string()
            .ends_with("not allowed permanently (Helipad)"));
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
    fn amsl_and_wgs84_bands_are_checked_above_the_regions_ground() {
        let mut r = Region::demo();
        // The docks' mean altitude is the ground unless the boundary says.
        let docks_mean = r.docks.iter().map(|d| d.alt_msl_m).sum::<f64>() / r.docks.len() as f64;
        assert_eq!(r.vertical.ground_amsl_m, docks_mean);
        assert_eq!(r.vertical.geoid_undulation_m, 0.0);
        r.vertical = VerticalContext {
            ground_amsl_m: 30.0,
            geoid_undulation_m: -12.0,
        };
        let spot = Point::new(114.40, 30.51);
        let square = |d: f64| ZoneShape::Polygon {
            exterior: vec![
                (spot.x() - d, spot.y() - d),
                (spot.x() + d, spot.y() - d),
                (spot.x() + d, spot.y() + d),
                (spot.x() - d, spot.y() + d),
            ],
            holes: vec![],
        };
        for (id, reference, floor) in [
            // 100-150 m AMSL is 70-120 m above this ground.
            ("Z-AMSL", AltitudeReference::Amsl, 100.0),
            // 88-138 m above the ellipsoid is 100-150 m AMSL here.
            ("Z-W84", AltitudeReference::Wgs84, 88.0),
        ] {
            let mut region = r.clone();
            region.zones = vec![Zone {
                id: id.into(),
                name: id.into(),
                reason: "test".into(),
                kind: ZoneKind::Prohibited,
                shape: square(0.002),
                band: Band::new(floor, floor + 50.0, reference).unwrap(),
                time: Applicability::permanent(),
            }];
            assert!(
                check_point(&region, spot, 60.0, Utc::now()).is_ok(),
                "{id} at 60 m AGL"
            );
            let err = check_point(&region, spot, 80.0, Utc::now()).unwrap_err();
            assert!(err.to_string().contains(id), "{id} at 80 m AGL: {err}");
            assert!(
                check_point(&region, spot, 125.0, Utc::now()).is_ok(),
                "{id} at 125 m AGL"
            );
        }
    }

    #[test]
    fn a_leg_through_a_prohibited_zone_is_refused_with_its_number() {
        let r = Region::demo();
        let route = [Point::new(114.404, 30.5015), Point::new(114.412, 30.5015)];
        let err = check_route(&r, &route, 50.0, Utc::now(), Duration::minutes(5)).unwrap_err();
        match &err {
            Refusal::Route(c) => {
                assert_eq!(c.leg, 1);
                assert_eq!(c.zone.id, "Z-HOSP");
            }
            other => panic!("expected a route conflict, got {other}"),
        }
        assert!(
            err.to_string()
                .starts_with("leg 1 (waypoint 0 -> 1) enters Z-HOSP \"Hospital helipad (illustrative)\" (prohibited"),
            "{err}"
        );
        let clear = [Point::new(114.399, 30.504), Point::new(114.401, 30.506)];
        assert!(check_route(&r, &clear, 50.0, Utc::now(), Duration::minutes(5)).is_ok());
    }
}
