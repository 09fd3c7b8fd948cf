//! What the console relies on from the API, over real sockets against the
//! demo: the pre-submit airspace check (`POST /api/v1/airspace/check`)
//! names the leg and zone a route crosses and stores nothing; and the live
//! WebSocket accepts a browser's token as a subprotocol.

mod common;

use common::{config, wait_for_fleet, Api};
use futures_util::StreamExt;
use serde_json::{json, Value};
use skyshare::demo;
use skyshare::region::Region;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_airspace_check_shows_the_leg_and_zone_a_route_crosses_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let api = Api::new(&demo);
    let urban = demo.token("urban-management").to_owned();
    wait_for_fleet(&api, &urban).await;
    let point = |lon: f64, lat: f64| {
        json!({"kind": "point_inspection", "geometry": {"type": "Point", "coordinates": [lon, lat]},
               "alt_m": 40, "sensor": "visible"})
        .to_string()
    };

    // South-east of the hospital, in no zone itself: the straight route
    // from the square's dock crosses the hospital's prohibited zone.
    let (status, answer) = api
        .post(&urban, "/api/v1/airspace/check", &point(114.4115, 30.4985))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ok"], false, "{answer}");
    let conflict = answer["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["zone_id"] == "Z-HOSP")
        .unwrap_or_else(|| panic!("no conflict with Z-HOSP: {answer}"));
    assert_eq!(conflict["zone_kind"], "prohibited");
    assert_eq!(conflict["blocking"], true);
    let leg = conflict["leg"].as_u64().unwrap() as usize;
    let route = answer["route"]["coordinates"].as_array().unwrap();
    assert_eq!(
        conflict["leg_geometry"]["coordinates"],
        json!([route[leg - 1], route[leg]]),
        "the leg's geometry is that leg of the route: {answer}"
    );
    let dock = Region::demo().dock("dock-square").unwrap().position;
    assert_eq!(route[0], json!([dock.x(), dock.y()]), "{answer}");
    assert!(
        answer["explanation"].as_str().unwrap().contains("Z-HOSP"),
        "{answer}"
    );

    // Beside the dock: clear.
    let (status, clear) = api
        .post(&urban, "/api/v1/airspace/check", &point(114.3995, 30.5035))
        .await;
    assert_eq!(status, 200, "{clear}");
    assert_eq!(clear["ok"], true, "{clear}");

    // A request that is not one: refused with where.
    let (status, bad) = api
        .post(
            &urban,
            "/api/v1/airspace/check",
            &json!({"kind": "point_inspection", "geometry": {"type": "Polygon", "coordinates": []},
                    "alt_m": 40, "sensor": "visible"})
            .to_string(),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    assert!(bad["error"]["where"].is_string(), "{bad}");

    // Nothing was stored.
    let (_, tasks) = api.get(&urban, "/api/v1/tasks").await;
    assert_eq!(tasks["tasks"], json!([]), "{tasks}");
    demo.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_live_websocket_takes_a_browsers_token_as_a_subprotocol() {
    let dir = tempfile::tempdir().unwrap();
    let demo = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let api = Api::new(&demo);
    wait_for_fleet(&api, &demo.pilot_token).await;
    let url = format!("ws://{}/api/v1/live/ws", demo.http_addr);
    let offer = |token: &str| {
        let mut request = url.clone().into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            format!("skyshare.v1, bearer.{token}").parse().unwrap(),
        );
        request
    };
    assert!(
        tokio_tungstenite::connect_async(offer("sky_not_a_token"))
            .await
            .is_err(),
        "an unknown token opened a stream"
    );
    let (mut ws, response) = tokio_tungstenite::connect_async(offer(&demo.pilot_token))
        .await
        .unwrap();
    // The server selects the console's protocol and never echoes the token.
    assert_eq!(response.headers()["sec-websocket-protocol"], "skyshare.v1");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let drone = loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no drone message in 5 s")
            .unwrap()
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["type"] == "drone" && v["lat_deg"].is_number() {
            break v;
        }
    };
    // The whole sample: what the pilot's panel shows without a poll.
    for key in ["mode", "armed", "landed", "battery_v", "vel_north_mps"] {
        assert!(
            drone.get(key).is_some_and(|v| !v.is_null()),
            "{key} missing: {drone}"
        );
    }
    drop(ws);
    demo.stop().await;
}
