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
