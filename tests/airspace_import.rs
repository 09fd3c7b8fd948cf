//! Zone files in every supported format: good files import, bad features are
//! each named with their reason and nothing is imported, export reads back.

use chrono::{TimeZone, Utc, Weekday};
use skyshare::airspace::import::{self, geojson, Format};
use skyshare::airspace::{AltitudeReference, ZoneKind, ZoneShape};

const ED269: &str = include_str!("../maps/ed269-optics-valley.json");

fn feature(id: &str, props: &str, geometry: &str) -> String {
    format!(r#"{{"type":"Feature","properties":{{"id":"{id}"{props}}},"geometry":{geometry}}}"#)
}

fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.50],[114.41,30.51],[114.40,30.51],[114.40,30.50]]]}"#;

#[test]
fn geojson_zone_reads_kind_band_datum_schedule_and_window() {
    let text = collection(&[feature(
        "Z-1",
        r#","kind":"authorisation_required","floor_m":30,"ceiling_m":120,"reference":"AMSL","start":"2026-11-24T14:00:00Z","end":"2026-11-24T16:00:00Z","schedule":{"days":["MON","TUE"],"start":"08:00","end":"12:00"}"#,
        SQUARE,
    )]);
    let (format, zones) = import::import(&text).unwrap();
    assert_eq!(format, Format::GeoJson);
    let z = &zones[0];
    assert_eq!(z.kind, ZoneKind::AuthorisationRequired);
    assert_eq!(
        (z.band.floor_m(), z.band.ceiling_m(), z.band.reference()),
        (30.0, 120.0, AltitudeReference::Amsl)
    );
    assert_eq!(
        z.time.start,
        Some(Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap())
    );
    assert_eq!(z.time.weekly[0].days, vec![Weekday::Mon, Weekday::Tue]);
}

#[test]
fn a_file_with_bad_features_imports_none_and_lists_every_problem() {
    let text = collection(&[
        feature("GOOD", r#","kind":"prohibited""#, SQUARE),
        feature(
            "BOWTIE",
            r#","kind":"prohibited""#,
            r#"{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.51],[114.41,30.50],[114.40,30.51],[114.40,30.50]]]}"#,
        ),
        feature(
            "OPEN",
            r#","kind":"prohibited""#,
            r#"{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.50],[114.41,30.51],[114.40,30.51]]]}"#,
        ),
        feature(
            "SWAPPED",
            r#","kind":"prohibited""#,
            r#"{"type":"Polygon","coordinates":[[[30.50,114.40],[30.50,114.41],[30.51,114.41],[30.50,114.40]]]}"#,
        ),
        feature(
            "NAN",
            r#","kind":"prohibited""#,
            r#"{"type":"Polygon","coordinates":[[["NaN",30.50],[114.41,30.50],[114.41,30.51],["NaN",30.50]]]}"#,
        ),
        feature(
            "EMPTY",
            r#","kind":"prohibited""#,
            r#"{"type":"Polygon","coordinates":[]}"#,
        ),
        feature(
            "UPSIDE",
            r#","kind":"prohibited","floor_m":120,"ceiling_m":60"#,
            SQUARE,
        ),
    ]);
    let err = import::import(&text).unwrap_err();
    let all = err.to_string();
    assert!(all.starts_with("6 problem(s), nothing imported"), "{all}");
    for (id, reason) in [
        ("BOWTIE", "intersects itself"),
        ("OPEN", "not closed"),
        ("SWAPPED", "swapped"),
        ("NAN", "NaN"),
        ("EMPTY", "empty geometry"),
        ("UPSIDE", "floor 120 m is above ceiling 60 m"),
    ] {
        assert!(
            err.problems
                .iter()
                .any(|p| p.feature.contains(id) && p.reason.contains(reason)),
            "{id}: {reason} missing from\n{all}"
        );
    }
    assert!(!all.contains("GOOD"), "{all}");
}

#[test]
fn duplicate_ids_are_refused() {
    let text = collection(&[
        feature("A", r#","kind":"prohibited""#, SQUARE),
        feature("A", r#","kind":"advisory""#, SQUARE),
    ]);
    let err = import::import(&text).unwrap_err();
    assert!(err.to_string().contains("already used"), "{err}");
}

#[test]
fn ed269_sample_imports_restrictions_units_and_schedules() {
    let (format, zones) = import::import(ED269).unwrap();
    assert_eq!(format, Format::Ed269);
    assert_eq!(zones.len(), 3);
    assert_eq!(zones[0].kind, ZoneKind::Prohibited);
    let stadium = &zones[1];
    assert_eq!(stadium.kind, ZoneKind::AuthorisationRequired);
    assert!((stadium.band.ceiling_m() - 121.92).abs() < 1e-9, "400 ft");
    assert!(
        matches!(stadium.shape, ZoneShape::Circle { radius_m, .. } if (radius_m - 91.44).abs() < 1e-9)
    );
    // 06:00Z on a Saturday is inside; the schedule is in UTC, not local time.
    let local = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    assert!(stadium
        .time
        .active_at(Utc.with_ymd_and_hms(2026, 11, 28, 6, 30, 0).unwrap(), local));
    assert!(!stadium.time.active_at(
        Utc.with_ymd_and_hms(2026, 11, 28, 10, 30, 0).unwrap(),
        local
    ));
    assert_eq!(zones[2].band.reference(), AltitudeReference::Amsl);
}

#[test]
fn ed269_mixed_vertical_references_and_bad_restriction_are_named() {
    let text = ED269
        .replacen(
            r#""upperVerticalReference": "AGL""#,
            r#""upperVerticalReference": "AMSL""#,
            1,
        )
        .replacen(
            r#""restriction": "CONDITIONAL""#,
            r#""restriction": "MAYBE""#,
            1,
        );
    let err = import::import(&text).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[0].feature.contains("OVHOSP") && err.problems[0].reason.contains("differ"),
        "{err}"
    );
    assert!(
        err.problems[1].feature.contains("OVPARK")
            && err.problems[1].reason.contains("restriction"),
        "{err}"
    );
}

#[test]
fn qgc_plan_fences_read_lat_lon_and_inclusion() {
    let plan = r#"{"fileType":"Plan","version":1,"geoFence":{"version":2,
      "polygons":[{"version":1,"inclusion":true,"polygon":[[30.38,114.35],[30.38,114.65],[30.55,114.65],[30.55,114.35]]}],
      "circles":[{"version":1,"inclusion":false,"circle":{"center":[30.5015,114.408],"radius":150}}]}}"#;
    let (format, zones) = import::import(plan).unwrap();
    assert_eq!(format, Format::QgcPlan);
    assert_eq!(zones[0].kind, ZoneKind::OperatingArea);
    match &zones[0].shape {
        ZoneShape::Polygon { exterior, .. } => assert_eq!(exterior[1], (114.65, 30.38)),
        other => panic!("{other:?}"),
    }
    assert_eq!(zones[1].kind, ZoneKind::Prohibited);
    assert!(matches!(
        zones[1].shape,
        ZoneShape::Circle {
            center: (114.408, 30.5015),
            ..
        }
    ));
    // Ids follow the fence, not its place in the file: another plan
    // listing the circle first gives it the same id, and a moved circle
    // another one.
    assert!(zones[0].id.starts_with("qgc-polygon-"), "{}", zones[0].id);
    assert!(zones[1].id.starts_with("qgc-circle-"), "{}", zones[1].id);
    assert_eq!(zones[1].name, "QGC fence circle-0");
    let alone = r#"{"fileType":"Plan","version":1,"geoFence":{"version":2,"polygons":[],
      "circles":[{"version":1,"inclusion":false,"circle":{"center":[30.5015,114.408],"radius":150}}]}}"#;
    assert_eq!(import::import(alone).unwrap().1[0].id, zones[1].id);
    let moved = alone.replace("114.408", "114.409");
    assert_ne!(import::import(&moved).unwrap().1[0].id, zones[1].id);
    let swapped = plan.replace("[30.5015,114.408]", "[114.408,30.5015]");
    let err = import::import(&swapped).unwrap_err();
    assert!(
        err.problems[0].feature == "geoFence.circles[0]"
            && err.problems[0].reason.contains("swapped"),
        "{err}"
    );
}

#[test]
fn geojson_export_reads_back_to_the_same_zones() {
    let (_, zones) = import::import(ED269).unwrap();
    let text = geojson::export(&zones).to_string();
    let (_, again) = import::import(&text).unwrap();
    // Names and reasons survive; ED-269's UTC schedules come back as written.
    assert_eq!(again.len(), zones.len());
    for (a, b) in zones.iter().zip(&again) {
        assert_eq!(
            (&a.id, &a.name, a.kind, a.band, &a.shape),
            (&b.id, &b.name, b.kind, b.band, &b.shape)
        );
        assert_eq!(a.time, b.time, "{}", a.id);
    }
}

#[test]
fn the_features_own_id_names_a_zone_whose_properties_carry_none() {
    // RFC 7946 puts a feature's identifier beside its properties, as a
    // string or a number; properties.id, where given, still wins.
    let text = collection(&[
        format!(
            r#"{{"type":"Feature","id":"FEAT-1","properties":{{"kind":"prohibited"}},"geometry":{SQUARE}}}"#
        ),
        format!(
            r#"{{"type":"Feature","id":42,"properties":{{"kind":"advisory"}},"geometry":{SQUARE}}}"#
        ),
        format!(
            r#"{{"type":"Feature","id":"OUTER","properties":{{"id":"INNER","kind":"advisory"}},"geometry":{SQUARE}}}"#
        ),
    ]);
    let (_, zones) = import::import(&text).unwrap();
    let ids: Vec<&str> = zones.iter().map(|z| z.id.as_str()).collect();
    assert_eq!(ids, ["FEAT-1", "42", "INNER"]);
    // A number in properties is an id as well.
    let numbered = collection(&[format!(
        r#"{{"type":"Feature","properties":{{"id":7,"kind":"advisory"}},"geometry":{SQUARE}}}"#
    )]);
    assert_eq!(import::import(&numbered).unwrap().1[0].id, "7");
    // Exported features carry the id in both places.
    let exported = geojson::export(&zones);
    assert_eq!(exported["features"][0]["id"], "FEAT-1");
    assert_eq!(exported["features"][0]["properties"]["id"], "FEAT-1");
}

#[test]
fn a_feature_with_no_id_anywhere_is_named_by_its_place() {
    let text = collection(&[format!(
        r#"{{"type":"Feature","properties":{{"kind":"prohibited"}},"geometry":{SQUARE}}}"#
    )]);
    let err = import::import(&text).unwrap_err();
    assert_eq!(err.problems[0].feature, "features[0] ``");
    assert!(
        err.problems[0]
            .reason
            .contains("the Feature's `id` or properties.id"),
        "{err}"
    );
}

#[test]
fn not_json_is_a_file_level_problem() {
    let err = import::import("{ nope").unwrap_err();
    assert_eq!(err.problems[0].feature, "file");
    assert!(err.problems[0].reason.starts_with("not JSON"), "{err}");
}

#[test]
fn the_demo_region_file_imports_as_zones_with_its_boundary_as_operating_area() {
    let (format, zones) = import::import(skyshare::region::DEMO_REGION_GEOJSON).unwrap();
    assert_eq!(format, Format::GeoJson);
    assert_eq!(
        zones
            .iter()
            .filter(|z| z.kind == ZoneKind::OperatingArea)
            .count(),
        1
    );
    assert!(zones.iter().any(|z| z.id == "Z-HOSP"));
    assert!(!zones.iter().any(|z| z.id.starts_with("dock-")));
}

/// A Polygon geometry from rings given without the closing repeat.
fn polygon(rings: &[&[(f64, f64)]]) -> String {
    let rings: Vec<String> = rings
        .iter()
        .map(|r| {
            let mut pts: Vec<String> = r.iter().map(|(x, y)| format!("[{x},{y}]")).collect();
            pts.push(format!("[{},{}]", r[0].0, r[0].1));
            format!("[{}]", pts.join(","))
        })
        .collect();
    format!(
        r#"{{"type":"Polygon","coordinates":[{}]}}"#,
        rings.join(",")
    )
}

const OUTER: &[(f64, f64)] = &[
    (114.40, 30.50),
    (114.41, 30.50),
    (114.41, 30.51),
    (114.40, 30.51),
];

fn reasons_of<'a>(err: &'a import::ImportError, id: &str) -> Vec<&'a str> {
    err.problems
        .iter()
        .filter(|p| p.feature.contains(&format!("`{id}`")))
        .map(|p| p.reason.as_str())
        .collect()
}

#[test]
fn a_hole_strictly_inside_the_exterior_imports() {
    let hole: &[(f64, f64)] = &[
        (114.402, 30.502),
        (114.404, 30.502),
        (114.404, 30.504),
        (114.402, 30.504),
    ];
    let text = collection(&[feature(
        "HOLED",
        r#","kind":"prohibited""#,
        &polygon(&[OUTER, hole]),
    )]);
    let (_, zones) = import::import(&text).unwrap();
    assert!(
        matches!(&zones[0].shape, ZoneShape::Polygon { holes, .. } if holes.len() == 1),
        "{:?}",
        zones[0].shape
    );
}

#[test]
fn a_hole_equal_to_crossing_outside_or_touching_the_exterior_is_refused_naming_the_ring() {
    let reversed: Vec<(f64, f64)> = OUTER.iter().rev().copied().collect();
    let sticks_out: &[(f64, f64)] = &[
        (114.405, 30.505),
        (114.42, 30.505),
        (114.42, 30.507),
        (114.405, 30.507),
    ];
    let outside: &[(f64, f64)] = &[
        (114.42, 30.50),
        (114.43, 30.50),
        (114.43, 30.51),
        (114.42, 30.51),
    ];
    // Shares the exterior's corner: OGC would allow this one-point touch,
    // skyshare refuses any contact.
    let touching: &[(f64, f64)] = &[(114.40, 30.50), (114.405, 30.502), (114.402, 30.505)];
    let text = collection(&[
        feature(
            "HOLLOW",
            r#","kind":"prohibited""#,
            &polygon(&[OUTER, &reversed]),
        ),
        feature(
            "STICKS-OUT",
            r#","kind":"prohibited""#,
            &polygon(&[OUTER, sticks_out]),
        ),
        feature(
            "OUTSIDE",
            r#","kind":"prohibited""#,
            &polygon(&[OUTER, outside]),
        ),
        feature(
            "TOUCHING",
            r#","kind":"prohibited""#,
            &polygon(&[OUTER, touching]),
        ),
    ]);
    let err = import::import(&text).unwrap_err();
    assert_eq!(err.problems.len(), 4, "{err}");
    for (id, reason) in [
        ("HOLLOW", "ring 1: hole repeats the exterior"),
        (
            "STICKS-OUT",
            "ring 1: hole lies partly outside the exterior (its edge 0 crosses the exterior's edge 1)",
        ),
        ("OUTSIDE", "ring 1: hole lies outside the exterior (its vertex 0"),
        ("TOUCHING", "ring 1: hole touches the exterior"),
    ] {
        let got = reasons_of(&err, id);
        assert!(
            got.len() == 1 && got[0].starts_with(reason),
            "{id}: expected {reason:?}, got {got:?}"
        );
    }
}

#[test]
fn holes_that_cross_or_lie_inside_each_other_are_refused() {
    let a: &[(f64, f64)] = &[
        (114.402, 30.502),
        (114.406, 30.502),
        (114.406, 30.506),
        (114.402, 30.506),
    ];
    let crossing_a: &[(f64, f64)] = &[
        (114.404, 30.504),
        (114.408, 30.504),
        (114.408, 30.508),
        (114.404, 30.508),
    ];
    let inside_a: &[(f64, f64)] = &[
        (114.403, 30.503),
        (114.405, 30.503),
        (114.405, 30.505),
        (114.403, 30.505),
    ];
    let text = collection(&[
        feature(
            "CROSSING",
            r#","kind":"prohibited""#,
            &polygon(&[OUTER, a, crossing_a]),
        ),
        feature(
            "NESTED",
            r#","kind":"prohibited""#,
            &polygon(&[OUTER, a, inside_a]),
        ),
    ]);
    let err = import::import(&text).unwrap_err();
    let crossing = reasons_of(&err, "CROSSING");
    assert!(
        crossing.len() == 1
            && crossing[0].starts_with("ring 2: hole overlaps or touches the hole ring 1"),
        "{err}"
    );
    assert_eq!(
        reasons_of(&err, "NESTED"),
        ["ring 2: hole lies inside the hole ring 1; holes must not overlap"],
        "{err}"
    );
}

#[test]
fn ed269_polygon_holes_are_checked_like_geojson() {
    let text = r#"{"features":[{"identifier":"ED-HOLE","restriction":"PROHIBITED",
      "geometry":[{"uomDimensions":"M","lowerLimit":0,"upperLimit":120,
        "lowerVerticalReference":"AGL","upperVerticalReference":"AGL",
        "horizontalProjection":{"type":"Polygon","coordinates":[
          [[114.40,30.50],[114.41,30.50],[114.41,30.51],[114.40,30.51],[114.40,30.50]],
          [[114.405,30.505],[114.42,30.505],[114.42,30.507],[114.405,30.507],[114.405,30.505]]]}}]}]}"#;
    let err = import::import(text).unwrap_err();
    assert_eq!(
        reasons_of(&err, "ED-HOLE"),
        ["geometry[0]: ring 1: hole lies partly outside the exterior (its edge 0 crosses the exterior's edge 1)"],
        "{err}"
    );
}

#[test]
fn a_schedule_without_days_and_an_empty_schedule_list_are_refused() {
    let text = collection(&[
        feature(
            "NO-DAYS",
            r#","kind":"prohibited","schedule":[{"days":[],"start":"08:00","end":"12:00"}]"#,
            SQUARE,
        ),
        feature(
            "EMPTY-LIST",
            r#","kind":"prohibited","schedule":[]"#,
            SQUARE,
        ),
        feature(
            "NO-LENGTH",
            r#","kind":"prohibited","schedule":{"days":["FRI"],"start":"06:00","end":"06:00"}"#,
            SQUARE,
        ),
    ]);
    let err = import::import(&text).unwrap_err();
    let no_length = reasons_of(&err, "NO-LENGTH");
    assert!(
        no_length.len() == 1 && no_length[0].contains("start and end must differ"),
        "{err}"
    );
    let no_days = reasons_of(&err, "NO-DAYS");
    assert!(
        no_days.len() == 1 && no_days[0].starts_with("schedule 0: no days given"),
        "{err}"
    );
    let empty = reasons_of(&err, "EMPTY-LIST");
    assert!(
        empty.len() == 1 && empty[0].contains("omit `schedule` for a zone that always applies"),
        "{err}"
    );
}

#[test]
fn every_independent_problem_of_a_geojson_feature_is_reported() {
    let text = collection(&[feature(
        "MANY",
        r#","kind":"prohibited","reference":"ASL","floor_m":"low","schedule":[{"days":[],"start":"08:00","end":"25:00"}],"start":"soon""#,
        r#"{"type":"Point","coordinates":[30.5,114.4]}"#,
    )]);
    let err = import::import(&text).unwrap_err();
    let got = reasons_of(&err, "MANY");
    for part in [
        "properties.reference must be AGL, AMSL or WGS84",
        "properties.floor_m must be a number of metres, found \"low\"",
        "properties.start `soon` is not an RFC 3339 time",
        "schedule 0: no days given",
        "schedule 0: end must be a time like \"14:00\", found \"25:00\"",
        "swapped",
        "needs a positive properties.radius_m",
    ] {
        assert!(
            got.iter().any(|r| r.contains(part)),
            "{part} missing from {got:#?}"
        );
    }
    assert_eq!(got.len(), 7, "{got:#?}");
}

#[test]
fn a_swapped_circle_centre_does_not_hide_a_bad_radius_in_ed269_or_qgc() {
    let ed269 = ED269.replacen(
        r#""center": [114.4330, 30.4975], "radius": 300"#,
        r#""center": [30.4975, 114.4330], "radius": -300"#,
        1,
    );
    assert_ne!(ed269, ED269, "the sample has this circle");
    let err = import::import(&ed269).unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
    assert!(
        err.problems[0].reason.contains("circle center")
            && err.problems[0].reason.contains("swapped"),
        "{err}"
    );
    assert!(
        err.problems[1]
            .reason
            .contains("a Circle needs a positive radius, found -300"),
        "{err}"
    );

    let plan = r#"{"fileType":"Plan","geoFence":{"circles":[{"inclusion":false,"circle":{"center":[114.408,30.5015],"radius":0}}]}}"#;
    let err = import::import(plan).unwrap_err();
    let reasons: Vec<&str> = err.problems.iter().map(|p| p.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{err}");
    assert!(reasons[0].contains("swapped"), "{err}");
    assert!(
        reasons[1].contains("circle.radius must be a positive number of metres, found 0"),
        "{err}"
    );
}

#[test]
fn a_huge_coordinate_is_printed_compactly() {
    let text = collection(&[feature(
        "HUGE",
        r#","kind":"prohibited","radius_m":50"#,
        r#"{"type":"Point","coordinates":[1e300,30.5]}"#,
    )]);
    let err = import::import(&text).unwrap_err();
    let reason = &err.problems[0].reason;
    assert!(
        reason.contains("lon 1e300, lat 30.5 is out of range"),
        "{reason}"
    );
    assert!(reason.len() < 120, "{reason}");
}

#[test]
fn features_that_is_not_an_array_is_named_as_such() {
    let err = import::import(r#"{"type":"FeatureCollection","features":{}}"#).unwrap_err();
    assert_eq!(err.problems[0].feature, "file");
    assert_eq!(
        err.problems[0].reason,
        "`features` must be an array of features, found {}"
    );
}

#[test]
fn a_bare_feature_imports_as_a_one_zone_file() {
    let (format, zones) =
        import::import(&feature("SOLO", r#","kind":"advisory""#, SQUARE)).unwrap();
    assert_eq!(format, Format::GeoJson);
    assert_eq!(zones.len(), 1);
    assert_eq!(
        (zones[0].id.as_str(), zones[0].kind),
        ("SOLO", ZoneKind::Advisory)
    );
    // Its problems are named after the feature, not an index.
    let err = import::import(&feature("SOLO", r#","kind":"nope""#, SQUARE)).unwrap_err();
    assert_eq!(err.problems[0].feature, "feature `SOLO`");
}

#[test]
fn a_feature_or_its_properties_that_is_not_an_object_is_named_as_such() {
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[5,null,{{"type":"Feature","id":"P","properties":"oops","geometry":{SQUARE}}}]}}"#
    );
    let err = import::import(&text).unwrap_err();
    let got: Vec<(&str, &str)> = err
        .problems
        .iter()
        .map(|p| (p.feature.as_str(), p.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "features[0] ``",
                "a feature must be a GeoJSON Feature object, found 5"
            ),
            (
                "features[1] ``",
                "a feature must be a GeoJSON Feature object, found null"
            ),
            (
                "features[2] `P`",
                "properties must be an object, found \"oops\""
            ),
        ]
    );
}

#[test]
fn kinds_are_read_in_any_case_as_references_are() {
    let text = collection(&[
        feature("UP", r#","kind":"PROHIBITED","reference":"amsl""#, SQUARE),
        feature("MIXED", r#","kind":"Authorisation_Required""#, SQUARE),
        feature(
            "LEGACY",
            r#","kind":"Altitude_Limit","ceiling_m":120"#,
            SQUARE,
        ),
    ]);
    let (_, zones) = import::import(&text).unwrap();
    let kinds: Vec<ZoneKind> = zones.iter().map(|z| z.kind).collect();
    assert_eq!(
        kinds,
        [
            ZoneKind::Prohibited,
            ZoneKind::AuthorisationRequired,
            ZoneKind::Prohibited
        ]
    );
    assert_eq!(zones[2].band.floor_m(), 120.0);
}

#[test]
fn a_band_with_floor_equal_to_ceiling_is_refused_in_geojson_and_ed269() {
    let text = collection(&[feature(
        "FLAT",
        r#","kind":"prohibited","floor_m":60,"ceiling_m":60"#,
        SQUARE,
    )]);
    let err = import::import(&text).unwrap_err();
    assert_eq!(
        reasons_of(&err, "FLAT"),
        ["band: floor equals ceiling (60 m): a band must have thickness"]
    );
    let flat = ED269.replacen(r#""upperLimit": 400"#, r#""upperLimit": 0"#, 1);
    assert_ne!(flat, ED269, "the sample has a 400 ft ceiling");
    let err = import::import(&flat).unwrap_err();
    assert!(
        err.problems[0].reason.contains("floor equals ceiling"),
        "{err}"
    );
}

#[test]
fn a_circle_radius_beyond_1000_km_is_refused_in_geojson_ed269_and_qgc() {
    // GeoJSON: 1e300 m would close every route in the world; 1,000 km is
    // the bound, and a radius of exactly that still reads.
    let text = collection(&[
        feature(
            "HUGE",
            r#","kind":"prohibited","radius_m":1e300"#,
            r#"{"type":"Point","coordinates":[114.41,30.50]}"#,
        ),
        feature(
            "BIG",
            r#","kind":"prohibited","radius_m":1000001"#,
            r#"{"type":"Point","coordinates":[114.41,30.50]}"#,
        ),
    ]);
    let err = import::import(&text).unwrap_err();
    assert_eq!(
        reasons_of(&err, "HUGE"),
        ["properties.radius_m 1e300 m is more than the 1000 km a zone's circle may have (a slip of unit or exponent?); draw a larger area as a polygon"]
    );
    assert_eq!(reasons_of(&err, "BIG").len(), 1, "{err}");
    let at_bound = collection(&[feature(
        "WIDE",
        r#","kind":"advisory","radius_m":1000000"#,
        r#"{"type":"Point","coordinates":[114.41,30.50]}"#,
    )]);
    assert!(import::import(&at_bound).is_ok());

    // ED-269: the bound applies after the unit, and the radius is named as
    // written (4,000,000 ft is 1,219 km).
    let ed269 = ED269.replacen(r#""radius": 300"#, r#""radius": 4000000"#, 1);
    assert_ne!(ed269, ED269, "the sample has this circle");
    let err = import::import(&ed269).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    assert!(
        err.problems[0].feature.contains("OVSTAD")
            && err.problems[0]
                .reason
                .contains("radius 4000000 FT is more than the 1000 km"),
        "{err}"
    );

    // QGroundControl.
    let plan = r#"{"fileType":"Plan","geoFence":{"circles":[{"inclusion":false,"circle":{"center":[30.5015,114.408],"radius":1e300}}]}}"#;
    let err = import::import(plan).unwrap_err();
    assert_eq!(err.problems[0].feature, "geoFence.circles[0]");
    assert!(
        err.problems[0]
            .reason
            .contains("circle.radius 1e300 m is more than the 1000 km"),
        "{err}"
    );
}

#[test]
fn a_band_beyond_100_km_is_refused_but_an_unlimited_ceiling_is_not() {
    let text = collection(&[
        feature("SKY", r#","kind":"prohibited","ceiling_m":1e300"#, SQUARE),
        feature(
            "DEEP",
            r#","kind":"prohibited","floor_m":-200000,"ceiling_m":50,"reference":"AMSL""#,
            SQUARE,
        ),
        feature(
            "HIGH",
            r#","kind":"altitude_limit","ceiling_m":1e300"#,
            SQUARE,
        ),
    ]);
    let err = import::import(&text).unwrap_err();
    assert_eq!(
        reasons_of(&err, "SKY"),
        ["band: ceiling 1e300 m is more than 100 km from the datum (AGL): no airspace zone reaches there; check the unit, or, in GeoJSON, leave ceiling_m out for a zone with no upper limit"]
    );
    assert_eq!(
        reasons_of(&err, "DEEP"),
        ["band: floor -200000 m is more than 100 km from the datum (AMSL): no airspace zone reaches there; check the unit"]
    );
    // The legacy kind's ceiling_m is the floor of what it forbids.
    assert!(
        reasons_of(&err, "HIGH")[0].starts_with("band: floor 1e300 m is more than 100 km"),
        "{err}"
    );

    // No ceiling at all is unlimited, and 100 km itself still reads.
    let fine = collection(&[
        feature("OPEN", r#","kind":"prohibited","floor_m":120"#, SQUARE),
        feature(
            "EDGE",
            r#","kind":"prohibited","floor_m":-100000,"ceiling_m":100000"#,
            SQUARE,
        ),
    ]);
    let (_, zones) = import::import(&fine).unwrap();
    assert!(zones[0].band.ceiling_m().is_infinite());

    // ED-269, in feet: 400,000 ft is 122 km.
    let ed269 = ED269.replacen(r#""upperLimit": 400"#, r#""upperLimit": 400000"#, 1);
    assert_ne!(ed269, ED269, "the sample has a 400 ft ceiling");
    let err = import::import(&ed269).unwrap_err();
    assert!(
        err.problems[0].feature.contains("OVSTAD")
            && err.problems[0]
                .reason
                .contains("band: ceiling 121920 m is more than 100 km from the datum"),
        "{err}"
    );
}

#[test]
fn ed269_reason_codes_read_as_words_and_other_as_its_other_reason_info() {
    let with = |reason: &str| {
        let text = ED269.replacen(r#""reason": ["POPULATION"],"#, reason, 1);
        assert_ne!(text, ED269, "the sample has this reason");
        let (_, zones) = import::import(&text).unwrap();
        zones.into_iter().find(|z| z.id == "OVSTAD").unwrap().reason
    };
    assert_eq!(
        with(r#""reason": ["OTHER"], "otherReasonInfo": "Film shoot, permit 7","#),
        "Film shoot, permit 7; Events at weekends"
    );
    assert_eq!(
        with(r#""reason": ["AIR_TRAFFIC", "OTHER"],"#),
        "air traffic; other; Events at weekends"
    );
    // The explanation is kept even where the OTHER code was left out.
    assert_eq!(
        with(r#""reason": ["NOISE"], "otherReasonInfo": "Night works","#),
        "noise; Night works; Events at weekends"
    );
    assert_eq!(with(""), "Events at weekends");
    let (_, zones) = import::import(ED269).unwrap();
    assert_eq!(zones[0].reason, "air traffic");
}
