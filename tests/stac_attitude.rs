//! A photo's attitude reaches the catalogue, against SQLite and (when it
//! answers) PostgreSQL: an oblique photo (camera 45 degrees down, looking
//! east) is stored with its quaternion, Euler and gimbal angles, and its
//! footprint lies east of the drone, stretched along the view, where a
//! nadir photo's is centred under it.

mod common;

use std::time::Duration;

use common::served::{self, Served};
use common::talking_bridge::TalkingBridge;
use geo::{Destination, Haversine};
use serde_json::Value;
use skyshare::region::Region;
use wire::event::ImageCaptured;
use wire::EventBody;

/// Camera quaternion for yaw then pitch (as the simulator sends it).
fn yaw_pitch(yaw_deg: f64, pitch_deg: f64) -> [f32; 4] {
    let (sy, cy) = (yaw_deg.to_radians() / 2.0).sin_cos();
    let (sp, cp) = (pitch_deg.to_radians() / 2.0).sin_cos();
    [cy * cp, -sy * sp, cy * sp, sy * cp].map(|c| c as f32)
}

/// Metres east and north of `from` to `to`.
fn offset(from: [f64; 2], to: [f64; 2]) -> (f64, f64) {
    let r = 6_378_137.0;
    (
        (to[0] - from[0]).to_radians() * r * from[1].to_radians().cos(),
        (to[1] - from[1]).to_radians() * r,
    )
}

async fn scenario(served: Served) {
    let dock = Region::demo().docks[0].position;
    let mut bridge = TalkingBridge::start(served.broker.addr().port(), "cam-1", dock).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, fleet) = served
            .call("GET", Some(&served.pilot), "/api/v1/fleet", None)
            .await;
        if fleet["drones"][0]["telemetry"].is_object() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{fleet}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bridge.telemetry.lock().unwrap().heading_deg = Some(80.0);
    // The dispatcher knows the heading before the photos come.
    loop {
        let (_, fleet) = served
            .call("GET", Some(&served.pilot), "/api/v1/fleet", None)
            .await;
        if fleet["drones"][0]["telemetry"]["heading_deg"] == 80.0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{fleet}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let target = Haversine.destination(dock, 90.0, 150.0);
    served.submit_point_inspection(target, 20.0, 2).await;
    bridge.expect_mission_started().await;

    let at = [target.x(), target.y()];
    for (index, q) in [(0, yaw_pitch(0.0, -90.0)), (1, yaw_pitch(90.0, -45.0))] {
        bridge
            .event(EventBody::ImageCaptured(ImageCaptured {
                index,
                time_utc_us: None,
                lat_deg: at[1],
                lon_deg: at[0],
                alt_msl_m: 65.0,
                alt_rel_m: 40.0,
                q,
                file_url: Some(format!("sim://cam-1/{index}.jpg")),
            }))
            .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let items = loop {
        let (status, found) = served
            .call("GET", Some(&served.department), "/api/v1/stac/search", None)
            .await;
        assert_eq!(status, 200, "{found}");
        let items = found["features"].as_array().unwrap().clone();
        if items.len() == 2 {
            break items;
        }
        assert!(tokio::time::Instant::now() < deadline, "{found}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let by_index = |i: usize| -> &Value {
        items
            .iter()
            .find(|f| f["assets"]["image"]["href"] == format!("sim://cam-1/{i}.jpg"))
            .unwrap()
    };
    let centre = |item: &Value| -> (f64, f64) {
        let ring = item["geometry"]["coordinates"][0].as_array().unwrap();
        let (mut lon, mut lat) = (0.0, 0.0);
        for c in &ring[..4] {
            lon += c[0].as_f64().unwrap() / 4.0;
            lat += c[1].as_f64().unwrap() / 4.0;
        }
        offset(at, [lon, lat])
    };

    let nadir = by_index(0);
    let p = &nadir["properties"];
    assert!(p["view:off_nadir"].as_f64().unwrap() < 0.01, "{p}");
    assert!(p.get("view:azimuth").is_none(), "{p}");
    let (east, north) = centre(nadir);
    assert!(
        east.abs() < 0.5 && north.abs() < 0.5,
        "nadir centre {east} {north}"
    );

    let oblique = by_index(1);
    let p = &oblique["properties"];
    assert!(
        (p["view:off_nadir"].as_f64().unwrap() - 45.0).abs() < 0.01,
        "{p}"
    );
    assert!(
        (p["view:azimuth"].as_f64().unwrap() - 90.0).abs() < 0.01,
        "{p}"
    );
    assert!(
        (p["skyshare:camera_pitch_deg"].as_f64().unwrap() + 45.0).abs() < 0.01,
        "{p}"
    );
    assert!(
        (p["skyshare:camera_yaw_deg"].as_f64().unwrap() - 90.0).abs() < 0.01,
        "{p}"
    );
    assert!(
        p["skyshare:camera_roll_deg"].as_f64().unwrap().abs() < 0.01,
        "{p}"
    );
    assert!(
        (p["skyshare:gimbal_pitch_deg"].as_f64().unwrap() + 45.0).abs() < 0.01,
        "{p}"
    );
    // Camera at 90, drone heading 80: the gimbal looks 10 degrees right.
    assert!(
        (p["skyshare:gimbal_yaw_deg"].as_f64().unwrap() - 10.0).abs() < 0.01,
        "{p}"
    );
    assert_eq!(p["skyshare:camera_quaternion"].as_array().unwrap().len(), 4);
    // Displaced east (40 m up, 45 degrees down: the view's centre ray meets
    // the ground 40 m east; the far edge is further than the near one is
    // close), not north or south.
    let (east, north) = centre(oblique);
    assert!(east > 35.0, "oblique centre {east} m east");
    assert!(north.abs() < 0.5, "oblique centre {north} m north");
    let bbox: Vec<f64> = oblique["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (near, _) = offset(at, [bbox[0], at[1]]);
    let (far, _) = offset(at, [bbox[2], at[1]]);
    assert!(
        near > 0.0,
        "the drone is outside an oblique footprint: near edge {near}"
    );
    let nadir_bbox: Vec<f64> = nadir["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (nadir_west, _) = offset(at, [nadir_bbox[0], at[1]]);
    let (nadir_east, _) = offset(at, [nadir_bbox[2], at[1]]);
    assert!(
        far - near > 1.5 * (nadir_east - nadir_west),
        "along the view {} vs nadir {}",
        far - near,
        nadir_east - nadir_west
    );

    // A search east of the drone finds the oblique photo only.
    // 60 m east of the drone.
    let lon_e = at[0] + (60.0 / (6_378_137.0 * at[1].to_radians().cos())).to_degrees();
    let path = format!(
        "/api/v1/stac/search?bbox={},{},{},{}",
        lon_e,
        at[1] - 0.0001,
        lon_e + 0.0001,
        at[1] + 0.0001
    );
    let (status, found) = served
        .call("GET", Some(&served.department), &path, None)
        .await;
    assert_eq!(status, 200, "{found}");
    let hits: Vec<&Value> = found["features"].as_array().unwrap().iter().collect();
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["id"], oblique["id"]);
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oblique_photos_footprint_uses_its_attitude_with_sqlite() {
    scenario(served::start(None, &["cam-1"]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oblique_photos_footprint_uses_its_attitude_with_postgresql() {
    let Some(pg) = common::pg::schema("attitude").await else {
        return;
    };
    scenario(served::start(Some(pg.url.clone()), &["cam-1"]).await).await;
    pg.drop().await;
}
