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
    let (ok, text) = skyshare(&[
        "zones",
        "check",
        route.to_str().unwrap(),
        "--at",
        "2026-11-24T07:00:00Z",
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
