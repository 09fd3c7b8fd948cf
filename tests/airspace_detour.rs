//! Detours around prohibited zones inside the operating area.

use chrono::{DateTime, TimeZone, Utc};
use skyshare::airspace::detour::{DetourRequest, NoDetour};
use skyshare::airspace::{
    AirspaceFrame, AltitudeReference, Applicability, Band, CheckOptions, Waypoint, Zone, ZoneIndex,
    ZoneKind, ZoneShape,
};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap()
}

fn rect(id: &str, kind: ZoneKind, x0: f64, y0: f64, x1: f64, y1: f64, time: Applicability) -> Zone {
    Zone {
        id: id.into(),
        name: id.into(),
        reason: String::new(),
        kind,
        shape: ZoneShape::Polygon {
            exterior: vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
            holes: vec![],
        },
        band: Band::new(0.0, 120.0, AltitudeReference::Agl).unwrap(),
        time,
    }
}

fn area() -> Zone {
    rect(
        "AREA",
        ZoneKind::OperatingArea,
        -1000.0,
        -1000.0,
        1000.0,
        1000.0,
        Applicability::permanent(),
    )
}

fn request(from: (f64, f64), to: (f64, f64)) -> DetourRequest {
    DetourRequest {
        from,
        to,
        alt_agl_m: (60.0, 60.0),
        start: at(10),
        end: at(11),
        buffer_m: 10.0,
        vertical_margin_m: 0.0,
        authorisations: vec![],
    }
}

/// A 100 m square zone of `kind` with the band `floor`-`ceiling` m AGL,
/// across the way from (-100, 50) to (200, 50), inside the area.
fn across_the_way(kind: ZoneKind, floor: f64, ceiling: f64) -> ZoneIndex {
    let mut z = rect(
        "Z",
        kind,
        0.0,
        0.0,
        100.0,
        100.0,
        Applicability::permanent(),
    );
    z.band = Band::new(floor, ceiling, AltitudeReference::Agl).unwrap();
    ZoneIndex::build(vec![area(), z], AirspaceFrame::planar())
}

#[test]
fn a_zone_within_the_vertical_margin_or_met_while_climbing_is_avoided() {
    // The band's ceiling is 100 m. At 104 m the leg is clear of the band
    // but within a 5 m margin; climbing from 50 to 200 m it passes
    // through. Either way the route check refuses the direct leg, so the
    // detour must go round, not offer the leg itself.
    let index = across_the_way(ZoneKind::Prohibited, 0.0, 100.0);
    for (alt, margin) in [((104.0, 104.0), 5.0), ((50.0, 200.0), 0.0)] {
        let req = DetourRequest {
            alt_agl_m: alt,
            vertical_margin_m: margin,
            ..request((-100.0, 50.0), (200.0, 50.0))
        };
        let d = index.detour(&req).unwrap();
        assert!(
            d.waypoints.len() >= 4 && d.length_m > d.direct_length_m + 30.0,
            "{alt:?}: {d:?}"
        );
    }
    // Above the margin the zone is no obstacle.
    let req = DetourRequest {
        alt_agl_m: (106.0, 106.0),
        vertical_margin_m: 5.0,
        ..request((-100.0, 50.0), (200.0, 50.0))
    };
    assert_eq!(index.detour(&req).unwrap().waypoints.len(), 2);
}

#[test]
fn an_authorised_zone_is_flown_through_and_an_unauthorised_one_avoided() {
    let index = across_the_way(ZoneKind::AuthorisationRequired, 0.0, 120.0);
    let way = request((-100.0, 50.0), (200.0, 50.0));
    assert!(index.detour(&way).unwrap().waypoints.len() >= 4);
    let authorised = DetourRequest {
        authorisations: vec!["Z".into()],
        ..way
    };
    assert_eq!(index.detour(&authorised).unwrap().waypoints.len(), 2);
}

#[test]
fn detour_goes_round_a_prohibited_zone_and_its_legs_pass_the_route_check() {
    let hosp = rect(
        "HOSP",
        ZoneKind::Prohibited,
        0.0,
        0.0,
        100.0,
        100.0,
        Applicability::permanent(),
    );
    let index = ZoneIndex::build(vec![area(), hosp], AirspaceFrame::planar());
    let d = index
        .detour(&request((-100.0, 50.0), (200.0, 50.0)))
        .unwrap();
    assert!(d.waypoints.len() >= 4, "{d:?}");
    // Round one side of a 100 m square with a 10 m buffer: about 337 m.
    assert!(
        d.length_m > d.direct_length_m && d.length_m < 345.0,
        "{d:?}"
    );
    let wps: Vec<Waypoint> = d
        .waypoints
        .iter()
        .map(|&(x, y)| Waypoint {
            lon: x,
            lat: y,
            alt_agl_m: 60.0,
            time: at(10),
        })
        .collect();
    let options = CheckOptions {
        lateral_buffer_m: 10.0,
        vertical_margin_m: 0.0,
        authorisations: vec![],
    };
    assert!(index.check_route(&wps, &options).is_empty());
}

#[test]
fn clear_direct_leg_is_its_own_detour() {
    let hosp = rect(
        "HOSP",
        ZoneKind::Prohibited,
        0.0,
        0.0,
        100.0,
        100.0,
        Applicability::permanent(),
    );
    let index = ZoneIndex::build(vec![area(), hosp], AirspaceFrame::planar());
    let d = index
        .detour(&request((-100.0, 300.0), (200.0, 300.0)))
        .unwrap();
    assert_eq!(d.waypoints, vec![(-100.0, 300.0), (200.0, 300.0)]);
}

#[test]
fn zone_inactive_during_the_flight_is_not_avoided() {
    let event = rect(
        "EVENT",
        ZoneKind::Prohibited,
        0.0,
        0.0,
        100.0,
        100.0,
        Applicability::between(at(14), at(16)),
    );
    let index = ZoneIndex::build(vec![area(), event], AirspaceFrame::planar());
    assert_eq!(
        index
            .detour(&request((-100.0, 50.0), (200.0, 50.0)))
            .unwrap()
            .waypoints
            .len(),
        2
    );
}

#[test]
fn start_inside_a_zone_has_no_detour_and_says_which() {
    let hosp = rect(
        "HOSP",
        ZoneKind::Prohibited,
        0.0,
        0.0,
        100.0,
        100.0,
        Applicability::permanent(),
    );
    let index = ZoneIndex::build(vec![area(), hosp], AirspaceFrame::planar());
    let err = index
        .detour(&request((50.0, 50.0), (300.0, 50.0)))
        .unwrap_err();
    assert!(
        matches!(&err, NoDetour::StartInZone { zone_id, .. } if zone_id == "HOSP"),
        "{err}"
    );
}

#[test]
fn a_wall_across_the_operating_area_leaves_no_detour() {
    let wall = rect(
        "WALL",
        ZoneKind::Prohibited,
        -1100.0,
        -20.0,
        1100.0,
        20.0,
        Applicability::permanent(),
    );
    let index = ZoneIndex::build(vec![area(), wall], AirspaceFrame::planar());
    let err = index
        .detour(&request((0.0, -500.0), (0.0, 500.0)))
        .unwrap_err();
    assert!(matches!(err, NoDetour::Enclosed { .. }), "{err}");
    assert!(err.to_string().contains("WALL"), "{err}");
}
