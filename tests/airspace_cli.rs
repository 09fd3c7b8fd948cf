//! `skyshare zones import` and `skyshare zones check` as a user runs them.

use std::process::Command;

fn skyshare(args: &[&str]) -> (bool, String) {
    let (code, text) = skyshare_code(args);
    (code == Some(0), text)
}

/// The exit code and everything printed.
fn skyshare_code(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_skyshare"))
        .args(args)
        .output()
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn zones_check_explains_a_leg_through_the_hospital_zone_and_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let route = dir.path().join("route.geojson");
    std::fs::write(
        &route,
        r#"{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[114.3990,30.5040,60],[114.4040,30.5015,60],[114.4120,30.5015,60]]}}"#,
    )
    .unwrap();
    // A database that does not exist: the demo map alone, whatever the
    // working folder holds.
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("none.sqlite").display()
    );
    let (ok, text) = skyshare(&[
        "zones",
        "check",
        route.to_str().unwrap(),
        "--at",
        "2026-11-24T07:00:00Z",
        "--db",
        &db,
    ]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(
            "leg 2 (waypoint 1 -> 2) enters Z-HOSP \"Hospital helipad (illustrative)\" (prohibited"
        ),
        "{text}"
    );
    assert!(
        text.contains("; reason: Helicopter approach path"),
        "{text}"
    );
    assert!(
        text.contains("at 60 m AGL, 15:01:13-15:01:53 (UTC+08:00)"),
        "local time of the demo region, to the second: {text}"
    );
    assert!(
        text.contains("route refused: 1 blocking conflict(s)"),
        "{text}"
    );
}

#[test]
fn zones_import_stores_a_valid_file_once_and_a_bad_one_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("zones.sqlite").display()
    );
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/maps/ed269-optics-valley.json");
    let (ok, text) = skyshare(&["zones", "import", sample, "--db", &db]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ED-269, 3 zone(s), all valid, stored in"),
        "{text}"
    );
    assert!(text.contains("OVSTAD"), "{text}");
    // The same ids again: refused, every one named, nothing stored twice.
    let (ok, text) = skyshare(&["zones", "import", sample, "--db", &db]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("3 problem(s), nothing imported") && text.contains("is already stored"),
        "{text}"
    );

    // One good feature and two bad ones: none stored, both problems listed.
    let bad = dir.path().join("bad.geojson");
    std::fs::write(
        &bad,
        r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"id":"GOOD","kind":"prohibited"},"geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.50],[114.41,30.51],[114.40,30.50]]]}},
{"type":"Feature","properties":{"id":"X","kind":"prohibited","floor_m":100,"ceiling_m":50},"geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.50],[114.41,30.51],[114.40,30.50]]]}},
{"type":"Feature","properties":{"id":"Y","kind":"prohibited"},"geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.50],[114.41,30.51]]]}}]}"#,
    )
    .unwrap();
    let (ok, text) = skyshare(&["zones", "import", bad.to_str().unwrap(), "--db", &db]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("features[1] `X`: band: floor 100 m is above ceiling 50 m"),
        "{text}"
    );
    assert!(text.contains("features[2] `Y`"), "{text}");
    // GOOD was not stored: importing it alone now succeeds.
    let good = dir.path().join("good.geojson");
    std::fs::write(
        &good,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"GOOD","kind":"prohibited"},"geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.50],[114.41,30.51],[114.40,30.50]]]}}]}"#,
    )
    .unwrap();
    let (ok, text) = skyshare(&["zones", "import", good.to_str().unwrap(), "--db", &db]);
    assert!(ok, "nothing of the bad file was stored: {text}");

    // Stored zones are listed, and one is deleted by id, once.
    let (ok, text) = skyshare(&["zones", "list", "--db", &db]);
    assert!(
        ok && text.contains("4 stored zone(s)") && text.contains("OVSTAD"),
        "{text}"
    );
    let (ok, text) = skyshare(&["zones", "delete", "GOOD", "--db", &db]);
    assert!(ok && text.contains("deleted zone `GOOD`"), "{text}");
    let (ok, text) = skyshare(&["zones", "delete", "GOOD", "--db", &db]);
    assert!(
        !ok && text.contains("no stored zone has id `GOOD`"),
        "{text}"
    );
    let (_, text) = skyshare(&["zones", "list", "--db", &db]);
    assert!(
        text.contains("3 stored zone(s)") && !text.contains("GOOD"),
        "{text}"
    );

    // --dry-run validates and stores nothing.
    let (ok, text) = skyshare(&["zones", "import", sample, "--dry-run", "--db", &db]);
    assert!(ok && text.contains("nothing stored"), "{text}");
}

/// A zone file and a route through its square SQ (114.400-114.410 E,
/// 30.500-30.510 N, 0-100 m AGL), in a fresh folder.
fn square_and_route(route_coords: &str) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("sq.geojson");
    std::fs::write(
        &zones,
        r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"SQ","kind":"prohibited","ceiling_m":100},"geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.50],[114.41,30.51],[114.40,30.51],[114.40,30.50]]]}}]}"#,
    )
    .unwrap();
    let route = dir.path().join("route.geojson");
    std::fs::write(
        &route,
        format!(r#"{{"type":"Feature","properties":{{}},"geometry":{{"type":"LineString","coordinates":{route_coords}}}}}"#),
    )
    .unwrap();
    let (z, r) = (zones.display().to_string(), route.display().to_string());
    (dir, z, r)
}

#[test]
fn zones_check_refuses_a_buffer_speed_or_offset_that_would_bend_the_answer() {
    let (_dir, zones, route) = square_and_route("[[114.395,30.505,60],[114.415,30.505,60]]");
    let at = "--at=2026-12-01T03:00:00Z";
    // The route crosses SQ: with sane options it is refused.
    let (ok, text) = skyshare(&["zones", "check", &route, "--zones", &zones, at]);
    assert!(!ok && text.contains("enters SQ"), "{text}");
    // A NaN or negative buffer would switch the check off: refused, not run.
    for bad in [
        "--buffer-m=NaN",
        "--buffer-m=-500",
        "--speed-m-s=0",
        "--speed-m-s=NaN",
        "--utc-offset-hours=99",
    ] {
        let (ok, text) = skyshare(&["zones", "check", &route, "--zones", &zones, at, bad]);
        assert!(!ok, "{bad}: {text}");
        assert!(!text.contains("route clear"), "{bad}: {text}");
        assert!(text.contains("invalid value"), "{bad}: {text}");
    }
}

#[test]
fn zones_check_exits_0_clear_1_refused_2_bad_input() {
    let at = "--at=2026-12-01T03:00:00Z";
    let (_dir, zones, through) = square_and_route("[[114.395,30.505,60],[114.415,30.505,60]]");
    let (code, text) = skyshare_code(&["zones", "check", &through, "--zones", &zones, at]);
    assert_eq!(code, Some(1), "{text}");
    let (_dir2, _, above) = square_and_route("[[114.395,30.505,150],[114.415,30.505,150]]");
    let (code, text) = skyshare_code(&["zones", "check", &above, "--zones", &zones, at]);
    assert_eq!(code, Some(0), "{text}");
    let (_dir3, _, bad) = square_and_route("[[114.395,30.505,60]]");
    let (code, text) = skyshare_code(&["zones", "check", &bad, "--zones", &zones, at]);
    assert_eq!(code, Some(2), "{text}");
}

#[test]
fn zones_check_refuses_route_altitudes_it_cannot_read() {
    let at = "--at=2026-12-01T03:00:00Z";
    for (coords, why) in [
        (
            r#"[[114.395,30.505,"high"],[114.415,30.505,60]]"#,
            "position 0: altitude \"high\" is not a number",
        ),
        (
            "[[114.395,30.505],[114.415,30.505,150]]",
            "position 0 has no altitude while 1 other(s) have one",
        ),
    ] {
        let (_dir, zones, route) = square_and_route(coords);
        let (ok, text) = skyshare(&["zones", "check", &route, "--zones", &zones, at]);
        assert!(!ok, "{coords}: {text}");
        assert!(text.contains(why), "{coords}: {text}");
        assert!(
            !text.contains("enters SQ"),
            "refused before checking: {text}"
        );
    }
}

#[test]
fn zones_check_measures_about_the_route_not_the_files_first_zone() {
    // The file's first zone is at 0 E 0 N, half a world away: the route,
    // 5 m south of SQ's edge, is measured about itself, so the 10 m
    // buffer finds it and the time to reach SQ is the route's own.
    let (dir, _, _) = square_and_route("[]");
    let zones = dir.path().join("far.geojson");
    std::fs::write(
        &zones,
        r#"{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"id":"FAR","kind":"prohibited"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[0.01,0],[0.01,0.01],[0,0]]]}},
{"type":"Feature","properties":{"id":"SQ","kind":"prohibited","ceiling_m":100},"geometry":{"type":"Polygon","coordinates":[[[114.40,30.50],[114.41,30.50],[114.41,30.51],[114.40,30.51],[114.40,30.50]]]}}]}"#,
    )
    .unwrap();
    let route = dir.path().join("south.geojson");
    // 30.49995 N is about 5.5 m south of the edge at 30.5 N.
    std::fs::write(
        &route,
        r#"{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[114.401,30.49995,60],[114.409,30.49995,60]]}}"#,
    )
    .unwrap();
    let (ok, text) = skyshare(&[
        "zones",
        "check",
        route.to_str().unwrap(),
        "--zones",
        zones.to_str().unwrap(),
        "--at=2026-12-01T03:00:00Z",
    ]);
    assert!(!ok, "{text}");
    assert!(text.contains("passes 6 m from the edge of SQ"), "{text}");
}

/// A square zone `id` around (lon, lat), 0.0006 degrees a side (about
/// 60 m), as GeoJSON properties plus geometry.
fn square_zone(id: &str, lon: f64, lat: f64, extra: &str) -> String {
    let (w, e, s, n) = (lon - 0.0003, lon + 0.0003, lat - 0.0003, lat + 0.0003);
    format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"id":"{id}","kind":"prohibited"{extra}}},"geometry":{{"type":"Polygon","coordinates":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}}}]}}"#
    )
}

#[test]
fn zones_check_includes_the_zones_and_restrictions_stored_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dispatcher.sqlite");
    let db = format!("sqlite://{}?mode=rwc", file.display());
    let at = "--at=2026-12-01T03:00:00Z";
    // Two legs in the demo region, clear of its map zones: the first
    // crosses a zone stored by `zones import`, the second a restriction.
    let route = dir.path().join("route.geojson");
    std::fs::write(
        &route,
        r#"{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[114.399,30.504,60],[114.401,30.506,60],[114.403,30.508,60]]}}"#,
    )
    .unwrap();
    let route = route.to_str().unwrap();

    // No database yet: the check says so, creates none, and is clear.
    let (ok, text) = skyshare(&["zones", "check", route, at, "--db", &db]);
    assert!(ok, "{text}");
    assert!(
        text.contains("no database at") && text.contains("map zone(s) only"),
        "{text}"
    );
    assert!(!file.exists(), "a check must not create the database");

    let stored = dir.path().join("stored.geojson");
    std::fs::write(&stored, square_zone("STORED", 114.400, 30.505, "")).unwrap();
    let (ok, text) = skyshare(&["zones", "import", stored.to_str().unwrap(), "--db", &db]);
    assert!(ok, "{text}");
    // A restriction in force at take-off, and one that ended before it.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = skyshare::store::Store::connect(&db).await.unwrap();
        for (id, lon, lat, window) in [
            (
                "R-FIRE",
                114.402,
                30.507,
                r#","start":"2026-12-01T00:00:00Z","end":"2026-12-02T00:00:00Z""#,
            ),
            (
                "R-OLD",
                114.4015,
                30.5065,
                r#","start":"2026-11-01T00:00:00Z","end":"2026-11-02T00:00:00Z""#,
            ),
        ] {
            store
                .insert_restriction(id, &square_zone(id, lon, lat, window), 0)
                .await
                .unwrap();
        }
    });

    let (code, text) = skyshare_code(&["zones", "check", route, at, "--db", &db]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "checking against 6 map zone(s), 1 stored zone(s), 1 restriction(s) in force"
        ),
        "{text}"
    );
    assert!(
        text.contains("leg 1 (waypoint 0 -> 1) enters STORED"),
        "{text}"
    );
    assert!(
        text.contains("leg 2 (waypoint 1 -> 2) enters R-FIRE"),
        "{text}"
    );
    assert!(
        text.contains("restriction(s) R-OLD ended before take-off; not included")
            && !text.contains("enters R-OLD"),
        "{text}"
    );
    assert!(
        text.contains("route refused: 2 blocking conflict(s)"),
        "{text}"
    );

    // --zones checks that file alone, and says so; naming a database
    // beside it is refused rather than silently ignored.
    let (_dir2, zones, _) = square_and_route("[]");
    let (_, text) = skyshare(&["zones", "check", route, at, "--zones", &zones]);
    assert!(
        text.contains("checking against 1 zone(s) of")
            && text.contains("enters SQ")
            && !text.contains("STORED")
            && !text.contains("R-FIRE"),
        "{text}"
    );
    let (code, text) =
        skyshare_code(&["zones", "check", route, at, "--zones", &zones, "--db", &db]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("cannot be used with"), "{text}");
}

#[test]
fn zones_check_reports_swapped_coordinates_even_when_the_altitude_is_missing_too() {
    let at = "--at=2026-12-01T03:00:00Z";
    let (_dir, zones, route) = square_and_route("[[30.505,114.395],[114.415,30.505,60]]");
    let (code, text) = skyshare_code(&["zones", "check", &route, "--zones", &zones, at]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("2 problems in the route")
            && text.contains(
                "position 0: position lon 30.505, lat 114.395 is out of range; latitude and longitude look swapped"
            )
            && text.contains("position 0 has no altitude while 1 other(s) have one"),
        "{text}"
    );
    // The swap comes first: it is the bigger slip.
    assert!(
        text.find("look swapped").unwrap() < text.find("has no altitude").unwrap(),
        "{text}"
    );
    // A whole swapped route names its first position and counts the rest.
    let (_dir, zones, route) =
        square_and_route("[[30.505,114.395,60],[30.505,114.415,60],[30.505,114.42,60]]");
    let (_, text) = skyshare(&["zones", "check", &route, "--zones", &zones, at]);
    assert!(
        text.contains("position 0: position lon 30.505, lat 114.395 is out of range")
            && text.contains("(and 2 more bad positions)"),
        "{text}"
    );
}

#[test]
fn zones_check_reads_the_region_file_the_dispatcher_serves() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("none.sqlite").display()
    );
    // The demo region without its hospital zone, as `serve --region` would
    // be given it.
    let mut region: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/maps/optics-valley.geojson"
    )))
    .unwrap();
    region["features"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["properties"]["id"] != "Z-HOSP");
    let region_file = dir.path().join("region.geojson");
    std::fs::write(&region_file, region.to_string()).unwrap();
    let route = dir.path().join("route.geojson");
    std::fs::write(
        &route,
        r#"{"type":"Feature","properties":{},"geometry":{"type":"LineString","coordinates":[[114.404,30.5015,50],[114.412,30.5015,50]]}}"#,
    )
    .unwrap();
    let route = route.to_str().unwrap();
    let at = "--at=2026-11-24T07:00:00Z";
    let (ok, text) = skyshare(&["zones", "check", route, at, "--db", &db]);
    assert!(!ok && text.contains("enters Z-HOSP"), "{text}");
    let region_arg = region_file.to_str().unwrap();
    let (ok, text) = skyshare(&[
        "zones", "check", route, at, "--db", &db, "--region", region_arg,
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("route clear: 1 legs checked against 5 map zone(s) only"),
        "{text}"
    );
}
