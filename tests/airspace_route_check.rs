//! Golden cases of the leg-by-leg route check: small zones and routes in a
//! planar frame (coordinates in metres) with the expected answer beside them.

use chrono::{DateTime, TimeZone, Utc};
use skyshare::airspace::route_check::ConflictKind;
use skyshare::airspace::{
    AirspaceFrame, AltitudeReference, Applicability, Band, CheckOptions, LegConflict, Waypoint,
    Zone, ZoneIndex, ZoneKind, ZoneShape,
};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, h, m, 0).unwrap()
}

fn square(x0: f64, y0: f64, size: f64, holes: Vec<Vec<(f64, f64)>>) -> ZoneShape {
    ZoneShape::Polygon {
        exterior: vec![
            (x0, y0),
            (x0 + size, y0),
            (x0 + size, y0 + size),
            (x0, y0 + size),
        ],
        holes,
    }
}

fn zone(
    id: &str,
    kind: ZoneKind,
    shape: ZoneShape,
    floor: f64,
    ceiling: f64,
    time: Applicability,
) -> Zone {
    Zone {
        id: id.into(),
        name: id.into(),
        reason: String::new(),
        kind,
        shape,
        band: Band::new(floor, ceiling, AltitudeReference::Agl).unwrap(),
        time,
    }
}

fn route(points: &[(f64, f64, f64)], start: DateTime<Utc>, seconds_per_leg: i64) -> Vec<Waypoint> {
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y, alt))| Waypoint {
            lon: x,
            lat: y,
            alt_agl_m: alt,
            time: start + chrono::Duration::seconds(seconds_per_leg * i as i64),
        })
        .collect()
}

fn exact() -> CheckOptions {
    CheckOptions {
        lateral_buffer_m: 0.0,
        vertical_margin_m: 0.0,
        authorisations: vec![],
    }
}

fn check(zones: Vec<Zone>, wps: &[Waypoint], opts: &CheckOptions) -> Vec<LegConflict> {
    ZoneIndex::build(zones, AirspaceFrame::planar()).check_route(wps, opts)
}

#[test]
fn zone_active_14_to_16_blocks_a_flight_at_15_and_not_at_17() {
    let z = zone(
        "Z-EVENT",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 100.0, vec![]),
        0.0,
        120.0,
        Applicability::between(at(14, 0), at(16, 0)),
    );
    let legs = [(-50.0, 50.0, 60.0), (150.0, 50.0, 60.0)];
    let at15 = check(vec![z.clone()], &route(&legs, at(15, 0), 60), &exact());
    assert_eq!(at15.len(), 1, "{at15:?}");
    assert!(at15[0].is_blocking());
    assert!(check(vec![z], &route(&legs, at(17, 0), 60), &exact()).is_empty());
}

#[test]
fn explanation_names_leg_zone_depth_altitude_and_time() {
    // Leg 3 (waypoint 2 -> 3) crosses the zone; 40 m is the deepest point.
    let z = zone(
        "Z-HOSP",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 80.0, vec![]),
        0.0,
        120.0,
        Applicability::permanent(),
    );
    let pts = [
        (-300.0, 40.0, 60.0),
        (-200.0, 40.0, 60.0),
        (-100.0, 40.0, 60.0),
        (180.0, 40.0, 60.0),
    ];
    let conflicts = check(vec![z], &route(&pts, at(15, 0), 70), &exact());
    assert_eq!(conflicts.len(), 1);
    assert_eq!(
        conflicts[0].to_string(),
        "leg 3 (waypoint 2 -> 3) enters Z-HOSP (prohibited, 0-120 m AGL) 40 m inside its edge at 60 m AGL, 15:02:45-15:03:05 (UTC+00:00)"
    );
}

#[test]
fn explanation_says_when_a_conflict_is_only_within_the_vertical_margin() {
    // The band starts at 60 m; the leg flies at 57 m, inside the 5 m margin.
    let z = zone(
        "LOW",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 100.0, vec![]),
        60.0,
        120.0,
        Applicability::permanent(),
    );
    let wps = route(&[(-50.0, 50.0, 57.0), (150.0, 50.0, 57.0)], at(10, 0), 60);
    let margin = CheckOptions {
        vertical_margin_m: 5.0,
        ..exact()
    };
    let c = check(vec![z.clone()], &wps, &margin);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        c[0].to_string().contains(
            "at 57 m AGL (within the 5 m vertical margin of its band, 60-120 m AGL here)"
        ),
        "{}",
        c[0]
    );
    // Inside the band itself nothing is said of the margin.
    let inside = route(&[(-50.0, 50.0, 80.0), (150.0, 50.0, 80.0)], at(10, 0), 60);
    let c = check(vec![z], &inside, &margin);
    assert!(!c[0].to_string().contains("margin"), "{}", c[0]);
}

#[test]
fn explanation_of_a_leg_along_an_edge_says_it_touches_and_names_the_reason() {
    let mut z = zone(
        "EDGE",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 100.0, vec![]),
        0.0,
        120.0,
        Applicability::permanent(),
    );
    z.name = "Substation".into();
    z.reason = "High-voltage yard".into();
    let wps = route(&[(-50.0, 0.0, 50.0), (150.0, 0.0, 50.0)], at(10, 0), 60);
    let c = check(vec![z], &wps, &exact());
    let text = c[0].to_string();
    assert!(
        text.starts_with(
            "leg 1 (waypoint 0 -> 1) touches the edge of EDGE \"Substation\" (prohibited, 0-120 m AGL) at 50 m AGL"
        ),
        "{text}"
    );
    assert!(text.ends_with("; reason: High-voltage yard"), "{text}");
}

#[test]
fn a_leg_that_leaves_a_zone_and_comes_back_is_told_both_times() {
    // A U open to the north: its arms are x 0-40 and 60-100, joined below
    // y 20. A leg along y = 50 crosses one arm, the gap, then the other.
    let u = ZoneShape::Polygon {
        exterior: vec![
            (0.0, 0.0),
            (100.0, 0.0),
            (100.0, 100.0),
            (60.0, 100.0),
            (60.0, 20.0),
            (40.0, 20.0),
            (40.0, 100.0),
            (0.0, 100.0),
        ],
        holes: vec![],
    };
    let z = zone(
        "U",
        ZoneKind::Prohibited,
        u,
        0.0,
        120.0,
        Applicability::permanent(),
    );
    // 200 m in 200 s from x = -50: in the arms over 50-90 s and 110-150 s.
    let wps = route(&[(-50.0, 50.0, 60.0), (150.0, 50.0, 60.0)], at(10, 0), 200);
    let c = check(vec![z], &wps, &exact());
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].again.len(), 1, "{:?}", c[0]);
    assert!(
        c[0].to_string()
            .ends_with("at 60 m AGL, 10:00:50-10:01:30 and again 10:01:50-10:02:30 (UTC+00:00)"),
        "{}",
        c[0]
    );
}

#[test]
fn leg_along_a_zone_edge_meets_it() {
    let z = zone(
        "E",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 100.0, vec![]),
        0.0,
        120.0,
        Applicability::permanent(),
    );
    let wps = route(&[(-50.0, 0.0, 50.0), (150.0, 0.0, 50.0)], at(10, 0), 60);
    let c = check(vec![z.clone()], &wps, &exact());
    assert_eq!(c.len(), 1, "{c:?}");
    // One metre off the edge with no buffer: clear; with a 5 m buffer: not.
    let off = route(&[(-50.0, -1.0, 50.0), (150.0, -1.0, 50.0)], at(10, 0), 60);
    assert!(check(vec![z.clone()], &off, &exact()).is_empty());
    let buffered = CheckOptions {
        lateral_buffer_m: 5.0,
        ..exact()
    };
    let c = check(vec![z], &off, &buffered);
    assert!(
        matches!(c[0].kind, ConflictKind::Enters { .. }) && (c[0].depth_m() + 1.0).abs() < 1e-6,
        "{c:?}"
    );
    assert!(
        c[0].to_string().contains("passes 1 m from the edge"),
        "{}",
        c[0]
    );
}

#[test]
fn leg_through_a_vertex_meets_the_zone() {
    let z = zone(
        "V",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 100.0, vec![]),
        0.0,
        120.0,
        Applicability::permanent(),
    );
    // x + y = 200 touches the square only at its corner (100, 100).
    let wps = route(&[(50.0, 150.0, 50.0), (150.0, 50.0, 50.0)], at(10, 0), 60);
    assert_eq!(check(vec![z], &wps, &exact()).len(), 1);
}

#[test]
fn leg_inside_a_hole_is_clear_until_it_touches_the_hole_edge() {
    let hole = vec![(30.0, 30.0), (70.0, 30.0), (70.0, 70.0), (30.0, 70.0)];
    let z = zone(
        "H",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 100.0, vec![hole]),
        0.0,
        120.0,
        Applicability::permanent(),
    );
    let inside = route(&[(40.0, 50.0, 50.0), (60.0, 50.0, 50.0)], at(10, 0), 60);
    assert!(check(vec![z.clone()], &inside, &exact()).is_empty());
    let buffered = CheckOptions {
        lateral_buffer_m: 15.0,
        ..exact()
    };
    assert_eq!(check(vec![z.clone()], &inside, &buffered).len(), 1);
    let through = route(&[(-10.0, 50.0, 50.0), (50.0, 50.0, 50.0)], at(10, 0), 60);
    assert_eq!(check(vec![z], &through, &exact()).len(), 1);
}

#[test]
fn climbing_leg_conflicts_only_where_it_is_inside_the_band() {
    // Zone from 100 m up over x in [0, 100]; the leg climbs 50 -> 150 m over
    // x in [-100, 300]: at x = 100 it is at 100 m, just touching the floor.
    let z = zone(
        "B",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 100.0, vec![]),
        100.0,
        500.0,
        Applicability::permanent(),
    );
    let touching = route(&[(-100.0, 50.0, 50.0), (300.0, 50.0, 150.0)], at(10, 0), 60);
    let c = check(vec![z.clone()], &touching, &exact());
    assert_eq!(c.len(), 1, "{c:?}");
    assert!((c[0].alt_agl_m - 100.0).abs() < 1e-6, "{}", c[0]);
    // The same climb shifted 20 m later stays below the floor over the zone.
    let below = route(&[(-80.0, 50.0, 50.0), (320.0, 50.0, 150.0)], at(10, 0), 60);
    assert!(check(vec![z], &below, &exact()).is_empty());
}

#[test]
fn advisory_and_authorised_zones_are_notices_not_refusals() {
    let a = zone(
        "ADV",
        ZoneKind::Advisory,
        square(0.0, 0.0, 100.0, vec![]),
        0.0,
        120.0,
        Applicability::permanent(),
    );
    let r = zone(
        "AUTH",
        ZoneKind::AuthorisationRequired,
        square(200.0, 0.0, 100.0, vec![]),
        0.0,
        120.0,
        Applicability::permanent(),
    );
    let wps = route(&[(-50.0, 50.0, 50.0), (350.0, 50.0, 50.0)], at(10, 0), 60);
    let c = check(vec![a.clone(), r.clone()], &wps, &exact());
    assert_eq!(
        c.iter()
            .filter(|c| c.is_blocking())
            .map(|c| c.zone.id.as_str())
            .collect::<Vec<_>>(),
        vec!["AUTH"]
    );
    let permitted = CheckOptions {
        authorisations: vec!["AUTH".into()],
        ..exact()
    };
    assert!(check(vec![a, r], &wps, &permitted)
        .iter()
        .all(|c| !c.is_blocking()));
}

#[test]
fn leaving_the_operating_area_is_refused() {
    let area = zone(
        "AREA",
        ZoneKind::OperatingArea,
        square(0.0, 0.0, 1000.0, vec![]),
        0.0,
        f64::INFINITY,
        Applicability::permanent(),
    );
    let out = route(
        &[(500.0, 500.0, 50.0), (1200.0, 500.0, 50.0)],
        at(10, 0),
        60,
    );
    let c = check(vec![area.clone()], &out, &exact());
    assert_eq!(c.len(), 1);
    assert!(
        c[0].to_string()
            .contains("leaves the operating area AREA by 200 m"),
        "{}",
        c[0]
    );
    // From where it crosses the edge (x = 1000 m, 500 of the leg's 700 m
    // in 60 s) to the leg's end: the time outside, not one instant.
    assert!(c[0].to_string().contains("10:00:42-10:01:00"), "{}", c[0]);
    let inside = route(&[(500.0, 500.0, 50.0), (900.0, 500.0, 50.0)], at(10, 0), 60);
    assert!(check(vec![area], &inside, &exact()).is_empty());
}

#[test]
fn circle_zone_is_met_within_its_radius_plus_buffer() {
    let c = zone(
        "C",
        ZoneKind::Prohibited,
        ZoneShape::Circle {
            center: (0.0, 0.0),
            radius_m: 50.0,
        },
        0.0,
        120.0,
        Applicability::permanent(),
    );
    let wps = route(&[(-100.0, 55.0, 50.0), (100.0, 55.0, 50.0)], at(10, 0), 60);
    assert!(check(vec![c.clone()], &wps, &exact()).is_empty());
    let buffered = CheckOptions {
        lateral_buffer_m: 10.0,
        ..exact()
    };
    assert_eq!(check(vec![c], &wps, &buffered).len(), 1);
}

#[test]
fn a_temporary_restriction_swaps_in_a_new_index_without_touching_old_snapshots() {
    let airspace = skyshare::airspace::Airspace::new(vec![], AirspaceFrame::planar());
    let before = airspace.snapshot();
    let tfr = zone(
        "TFR-1",
        ZoneKind::Prohibited,
        square(0.0, 0.0, 100.0, vec![]),
        0.0,
        120.0,
        Applicability::between(at(14, 0), at(16, 0)),
    );
    airspace.add(tfr.clone()).unwrap();
    assert!(airspace.add(tfr).is_err(), "duplicate ids are refused");
    let wps = route(&[(-50.0, 50.0, 60.0), (150.0, 50.0, 60.0)], at(15, 0), 60);
    assert!(before.check_route(&wps, &exact()).is_empty());
    assert_eq!(airspace.snapshot().check_route(&wps, &exact()).len(), 1);
    airspace.remove("TFR-1").unwrap();
    assert!(airspace.snapshot().check_route(&wps, &exact()).is_empty());
}

#[test]
fn a_leg_cutting_a_concave_corner_of_the_operating_area_between_samples_leaves_it() {
    // An L-shaped area; its inner corner is at (400, 400). The leg runs along
    // x + y = 801, so it is outside only for x in (400, 401): 1.4 m of an
    // 860 m leg, between any two of 33 evenly spaced points on it.
    let area = zone(
        "AREA",
        ZoneKind::OperatingArea,
        ZoneShape::Polygon {
            exterior: vec![
                (0.0, 0.0),
                (1000.0, 0.0),
                (1000.0, 400.0),
                (400.0, 400.0),
                (400.0, 1000.0),
                (0.0, 1000.0),
            ],
            holes: vec![],
        },
        0.0,
        f64::INFINITY,
        Applicability::permanent(),
    );
    let cut = route(&[(100.0, 701.0, 50.0), (711.0, 90.0, 50.0)], at(10, 0), 60);
    let c = check(vec![area.clone()], &cut, &exact());
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].is_blocking());
    match c[0].kind {
        // The farthest point out is the middle of the cut, (400.5, 400.5):
        // 0.5 m from both edges of the corner.
        ConflictKind::LeavesOperatingArea { outside_m } => {
            assert!((0.45..=0.5 + 1e-9).contains(&outside_m), "{outside_m}")
        }
        ref other => panic!("expected leaving the area, got {other:?}"),
    }
    assert!(
        c[0].to_string()
            .contains("leaves the operating area AREA by"),
        "{}",
        c[0]
    );
    // The same leg 2 m further in (x + y = 797) stays inside, and a 2 m buffer
    // makes it pass too close to the corner.
    let clear = route(&[(100.0, 697.0, 50.0), (707.0, 90.0, 50.0)], at(10, 0), 60);
    assert!(check(vec![area.clone()], &clear, &exact()).is_empty());
    let buffered = CheckOptions {
        lateral_buffer_m: 5.0,
        ..exact()
    };
    let c = check(vec![area], &clear, &buffered);
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(
        c[0].to_string()
            .contains("comes within 2 m of the edge of the operating area AREA"),
        "{}",
        c[0]
    );
}
