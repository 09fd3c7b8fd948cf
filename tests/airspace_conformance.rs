//! Live conformance: a position against the planned volumes and the zones;
//! flights affected by a new temporary restriction.

use chrono::{DateTime, Duration, TimeZone, Utc};
use skyshare::airspace::conformance::{affected_by, assess, Alert, ConformanceConfig, Position};
use skyshare::airspace::deconflict::{route_volumes, Intent, VolumeMargins};
use skyshare::airspace::{
    AirspaceFrame, AltitudeReference, Applicability, Band, Waypoint, Zone, ZoneIndex, ZoneKind,
    ZoneShape,
};

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap() + Duration::minutes(min)
}

fn zone(id: &str, x0: f64, x1: f64, time: Applicability) -> Zone {
    Zone {
        id: id.into(),
        name: id.into(),
        reason: String::new(),
        kind: ZoneKind::Prohibited,
        shape: ZoneShape::Polygon {
            exterior: vec![(x0, 100.0), (x1, 100.0), (x1, 200.0), (x0, 200.0)],
            holes: vec![],
        },
        band: Band::new(0.0, 120.0, AltitudeReference::Agl).unwrap(),
        time,
    }
}

/// East along y = 0 from x = 0 to 1000 at 60 m, minutes 0 to 10.
fn flight(id: &str, y: f64) -> Intent {
    let wps = [(0.0, 0), (1000.0, 10)].map(|(x, m)| Waypoint {
        lon: x,
        lat: y,
        alt_agl_m: 60.0,
        time: t(m),
    });
    Intent {
        id: id.into(),
        priority: 1,
        volumes: route_volumes(&wps, &AirspaceFrame::planar(), &VolumeMargins::default()),
    }
}

fn at(x: f64, y: f64, alt: f64, min: i64) -> Position {
    Position {
        lon: x,
        lat: y,
        alt_agl_m: alt,
        time: t(min),
    }
}

fn cfg() -> ConformanceConfig {
    ConformanceConfig {
        proximity_alert_m: 30.0,
        authorisations: vec![],
    }
}

#[test]
fn on_plan_and_clear_of_zones_raises_nothing() {
    let index = ZoneIndex::build(
        vec![zone("Z", 400.0, 600.0, Applicability::permanent())],
        AirspaceFrame::planar(),
    );
    assert_eq!(
        assess(&flight("f", 0.0), &index, &at(500.0, 5.0, 60.0, 5), &cfg()),
        vec![]
    );
}

#[test]
fn leaving_the_planned_volume_is_detected_with_the_distance() {
    let index = ZoneIndex::build(vec![], AirspaceFrame::planar());
    let alerts = assess(&flight("f", 0.0), &index, &at(500.0, 50.0, 60.0, 5), &cfg());
    assert_eq!(
        alerts,
        vec![Alert::OutsideVolume {
            distance_m: Some(50.0),
            on_route: false
        }]
    );
    let too_high = assess(&flight("f", 0.0), &index, &at(500.0, 0.0, 90.0, 5), &cfg());
    assert_eq!(too_high.len(), 1);
}

#[test]
fn a_drone_on_its_route_but_off_its_time_is_told_apart_from_one_off_its_route() {
    // Leg 1 east along y = 0 (minutes 0-10), leg 2 north along x = 1000
    // (10-20). At minute 5 the drone is already half way up leg 2.
    let wps = [(0.0, 0.0, 0), (1000.0, 0.0, 10), (1000.0, 1000.0, 20)].map(|(x, y, m)| Waypoint {
        lon: x,
        lat: y,
        alt_agl_m: 60.0,
        time: t(m),
    });
    let ahead = Intent {
        id: "f".into(),
        priority: 1,
        volumes: route_volumes(&wps, &AirspaceFrame::planar(), &VolumeMargins::default()),
    };
    let index = ZoneIndex::build(vec![], AirspaceFrame::planar());
    let alerts = assess(&ahead, &index, &at(1000.0, 500.0, 60.0, 5), &cfg());
    assert!(
        matches!(
            alerts[..],
            [Alert::OutsideVolume {
                on_route: true,
                distance_m: Some(_)
            }]
        ),
        "{alerts:?}"
    );
    assert!(
        skyshare::alerts::describe(&alerts[0])
            .starts_with("on its planned route but off its planned time"),
        "{alerts:?}"
    );
    // Beside leg 2, on no volume of any time: off its route.
    let off = assess(&ahead, &index, &at(1300.0, 500.0, 60.0, 5), &cfg());
    assert!(
        matches!(
            off[..],
            [Alert::OutsideVolume {
                on_route: false,
                ..
            }]
        ),
        "{off:?}"
    );
}

#[test]
fn entering_or_nearing_an_active_zone_raises_an_alert() {
    let index = ZoneIndex::build(
        vec![zone("Z", 400.0, 600.0, Applicability::permanent())],
        AirspaceFrame::planar(),
    );
    let near = assess(&flight("f", 0.0), &index, &at(500.0, 80.0, 60.0, 5), &cfg());
    assert!(
        near.contains(&Alert::NearZone {
            zone_id: "Z".into(),
            distance_m: 20.0
        }),
        "{near:?}"
    );
    let inside = assess(
        &flight("f", 0.0),
        &index,
        &at(500.0, 150.0, 60.0, 5),
        &cfg(),
    );
    assert!(
        inside.contains(&Alert::InZone {
            zone_id: "Z".into(),
            kind: ZoneKind::Prohibited
        }),
        "{inside:?}"
    );
    let inactive = ZoneIndex::build(
        vec![zone(
            "Z",
            400.0,
            600.0,
            Applicability::between(t(30), t(60)),
        )],
        AirspaceFrame::planar(),
    );
    let later = assess(
        &flight("f", 0.0),
        &inactive,
        &at(500.0, 150.0, 60.0, 5),
        &cfg(),
    );
    assert_eq!(
        later,
        vec![Alert::OutsideVolume {
            distance_m: Some(150.0),
            on_route: false
        }]
    );
}

#[test]
fn a_new_temporary_restriction_lists_the_flights_and_legs_it_affects() {
    let flights = [flight("crosses", 150.0), flight("clear", -500.0)];
    let tfr = zone("TFR", 400.0, 600.0, Applicability::between(t(0), t(60)));
    let affected = affected_by(&tfr, &AirspaceFrame::planar(), &flights);
    assert_eq!(affected, vec![("crosses".to_string(), vec![1])]);
    let tomorrow = zone(
        "TFR2",
        400.0,
        600.0,
        Applicability::between(t(24 * 60), t(25 * 60)),
    );
    assert!(affected_by(&tomorrow, &AirspaceFrame::planar(), &flights).is_empty());
}
