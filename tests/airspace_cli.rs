//! `skyshare zones import` and `skyshare zones check` as a user runs them.

use std::process::Command;

fn skyshare(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_skyshare"))
        .args(args)
        .output()
        .expect("runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
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
        text.contains("leg 2 (waypoint 1 -> 2) enters Z-HOSP (prohibited"),
        "{text}"
    );
    assert!(
        text.contains("at 60 m AGL, 15:0"),
        "local time of the demo region: {text}"
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

    // --dry-run validates and stores nothing.
    let (ok, text) = skyshare(&["zones", "import", sample, "--dry-run", "--db", &db]);
    assert!(ok && text.contains("nothing stored"), "{text}");
}
