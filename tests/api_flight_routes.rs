//! A flight's planned route is stored with the flight: after a dispatcher
//! restart, GET /api/v1/flights still gives the route it gave before,
//! against SQLite and (when it answers) PostgreSQL. Real parts: embedded
//! broker, a stand-in bridge that answers commands, the HTTP API.

mod common;

use std::time::Duration;

use common::served::{self, Served};
use common::talking_bridge::TalkingBridge;
use geo::{Destination, Haversine};
use serde_json::Value;
use skyshare::region::Region;

/// The route /api/v1/flights gives for the one flight, once it gives one.
async fn route_served(served: &Served) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = served
            .call("GET", Some(&served.pilot), "/api/v1/flights", None)
            .await;
        assert_eq!(status, 200, "{body}");
        let route = &body["flights"][0]["route"];
        if route.is_object() {
            return route.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no route: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn the_route_survives_a_restart(mut served: Served) {
    let dock = Region::demo().docks[0].position;
    let mut bridge = TalkingBridge::start(served.broker.addr().port(), "rt-1", dock).await;
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
    let target = Haversine.destination(dock, 45.0, 180.0);
    served.submit_point_inspection(target, 0.0, 1).await;
    bridge.expect_mission_started().await;
    // Only a flight known to have started is followed again after a restart.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while served
        .store
        .open_flights()
        .await
        .unwrap()
        .first()
        .is_none_or(|f| f.state != skyshare::store::FLIGHT_FLYING)
    {
        assert!(tokio::time::Instant::now() < deadline, "never flying");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = route_served(&served).await;
    assert_eq!(before["type"], "LineString");
    let coordinates = before["coordinates"].as_array().unwrap();
    assert!(coordinates.len() >= 2, "{before}");
    // It goes out to the target and back to the dock.
    let near = |c: &Value, lon: f64, lat: f64| {
        (c[0].as_f64().unwrap() - lon).abs() < 1e-3 && (c[1].as_f64().unwrap() - lat).abs() < 1e-3
    };
    assert!(
        coordinates.iter().any(|c| near(c, target.x(), target.y())),
        "{before}"
    );

    served.restart().await;
    let after = route_served(&served).await;
    assert_eq!(after, before);
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flights_route_is_served_again_after_a_restart_with_sqlite() {
    the_route_survives_a_restart(served::start(None, &["rt-1"]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flights_route_is_served_again_after_a_restart_with_postgresql() {
    let Some(pg) = common::pg::schema("routes").await else {
        return;
    };
    the_route_survives_a_restart(served::start(Some(pg.url.clone()), &["rt-1"]).await).await;
    pg.drop().await;
}
