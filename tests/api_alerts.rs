//! Alerts and take-over over HTTP, against SQLite and (when it answers)
//! PostgreSQL: a failsafe, a lost autopilot link and a fence breach from a
//! bridge become alerts with ids that clear when their condition ends;
//! pilots and administrators list and acknowledge them (departments are
//! refused), acknowledgements are audited and survive a restart, and the
//! live stream announces each change. A pilot takes a drone over (the
//! dispatcher then assigns it nothing, and in the air tells it to hold) and
//! releases it; both audited, with the hold command's outcome. A drone
//! flying into a prohibited zone raises one alert, cleared when it is back.

mod common;

use std::time::Duration;

use common::served::{self, Served};
use common::talking_bridge::TalkingBridge;
use futures_util::StreamExt;
use geo::{Destination, Haversine};
use serde_json::Value;
use skyshare::region::Region;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use wire::{EventBody, FlightMode, LandedState};

async fn alerts(served: &Served, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = served
        .call("GET", Some(token), &format!("/api/v1/alerts{query}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["alerts"].as_array().unwrap().clone()
}

/// Waits until the open alerts satisfy `want`.
async fn open_alerts_become(served: &Served, want: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let open = alerts(served, &served.pilot, "").await;
        if want(&open) {
            return open;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "open alerts: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the dispatcher hears the drone (it is subscribed then, so
/// the bridge's events reach it).
async fn wait_online(served: &Served) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, fleet) = served
            .call("GET", Some(&served.pilot), "/api/v1/fleet", None)
            .await;
        if fleet["drones"][0]["online"] == true && fleet["drones"][0]["telemetry"].is_object() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{fleet}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn of_kind<'a>(alerts: &'a [Value], kind: &str) -> Option<&'a Value> {
    alerts.iter().find(|a| a["kind"] == kind)
}

async fn audit(served: &Served) -> Vec<Value> {
    let (status, body) = served
        .call("GET", Some(&served.admin), "/api/v1/audit?limit=1000", None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

async fn alerts_scenario(mut served: Served) {
    let dock = Region::demo().docks[0].position;
    let bridge = TalkingBridge::start(served.broker.addr().port(), "al-1", dock).await;

    let url = format!("{}/api/v1/live/ws", served.base.replace("http", "ws"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", served.pilot).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    wait_online(&served).await;

    bridge
        .event(EventBody::Failsafe {
            reason: "battery critical".into(),
            mode: Some(FlightMode::Return),
        })
        .await;
    bridge.event(EventBody::AutopilotLinkLost).await;
    bridge
        .event(EventBody::FenceBreached {
            breach: "max_altitude".into(),
            breach_count: 1,
            lat_deg: None,
            lon_deg: None,
        })
        .await;
    let open = open_alerts_become(&served, |a| a.len() == 3).await;
    let failsafe = of_kind(&open, "failsafe").unwrap().clone();
    assert_eq!(failsafe["drone_id"], "al-1");
    assert!(
        failsafe["message"]
            .as_str()
            .unwrap()
            .contains("battery critical"),
        "{failsafe}"
    );
    // RFC 3339, in UTC.
    let raised = failsafe["raised_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(raised).is_ok() && raised.ends_with('Z'),
        "{raised}"
    );
    assert_eq!(failsafe["cleared_at"], Value::Null);
    assert_eq!(failsafe["acknowledged_by"], Value::Null);
    // The same announcement again is the same alert, not a new one.
    bridge.event(EventBody::AutopilotLinkLost).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(alerts(&served, &served.pilot, "").await.len(), 3);

    // The pilot's live stream announced the raise.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let announced = loop {
        let message = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("no alert on the live stream")
            .unwrap()
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["type"] == "alert" && v["alert"]["id"] == failsafe["id"] {
            break v;
        }
    };
    assert_eq!(announced["alert"]["kind"], "failsafe");

    // Departments may neither read nor acknowledge alerts.
    let path = format!(
        "/api/v1/alerts/{}/acknowledge",
        failsafe["id"].as_str().unwrap()
    );
    let (status, body) = served
        .call("GET", Some(&served.department), "/api/v1/alerts", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, _) = served
        .call("POST", Some(&served.department), &path, None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = served.call("POST", None, &path, None).await;
    assert_eq!(status, 401);
    let (status, body) = served
        .call(
            "GET",
            Some(&served.pilot),
            "/api/v1/alerts?state=some",
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["where"].as_str()),
        (400, Some("query")),
        "{body}"
    );

    // A pilot acknowledges; again, and an administrator after, keep the
    // first acknowledgement.
    let (status, acked) = served.call("POST", Some(&served.pilot), &path, None).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["acknowledged_by"], "pilot-a");
    let at = acked["acknowledged_at"].as_str().unwrap().to_owned();
    for token in [&served.pilot, &served.admin] {
        let (status, again) = served.call("POST", Some(token), &path, None).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(
            (
                again["acknowledged_by"].as_str(),
                again["acknowledged_at"].as_str()
            ),
            (Some("pilot-a"), Some(at.as_str()))
        );
    }
    let (status, body) = served
        .call(
            "POST",
            Some(&served.pilot),
            "/api/v1/alerts/no-such/acknowledge",
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );

    // Conditions ending clear their alerts; the others stay open.
    bridge.event(EventBody::AutopilotLinkRegained).await;
    bridge.event(EventBody::FenceCleared).await;
    let open = open_alerts_become(&served, |a| a.len() == 1).await;
    assert_eq!(open[0]["id"], failsafe["id"]);
    let all = alerts(&served, &served.admin, "?state=all").await;
    assert_eq!(all.len(), 3, "{all:?}");
    let link = of_kind(&all, "link_lost").unwrap();
    assert!(link["cleared_at"].is_string(), "{link}");
    // A cleared alert can still be acknowledged.
    let (status, acked) = served
        .call(
            "POST",
            Some(&served.admin),
            &format!(
                "/api/v1/alerts/{}/acknowledge",
                link["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, acked["acknowledged_by"].as_str()),
        (200, Some("admin-a")),
        "{acked}"
    );

    // Every acknowledgement, refused ones included, is in the audit log.
    let results: Vec<(String, String)> = audit(&served)
        .await
        .iter()
        .filter(|e| e["action"] == "alert_acknowledge")
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("parks-a", "refused (403)"),
            ("pilot-a", "ok"),
            ("pilot-a", "ok"),
            ("admin-a", "ok"),
            ("pilot-a", "refused (404)"),
            ("admin-a", "ok"),
        ]
        .map(|(a, r)| (a.to_owned(), r.to_owned())),
    );

    // After a restart the open alert is still open, acknowledged, and
    // clears when its condition ends (the drone lands).
    drop(ws);
    served.restart().await;
    let open = open_alerts_become(&served, |a| a.len() == 1).await;
    assert_eq!(open[0]["id"], failsafe["id"]);
    assert_eq!(open[0]["acknowledged_by"], "pilot-a");
    wait_online(&served).await;
    bridge
        .event(EventBody::Landed {
            lat_deg: dock.y(),
            lon_deg: dock.x(),
        })
        .await;
    open_alerts_become(&served, |a| a.is_empty()).await;

    // The bridge dropping off the broker (its Last Will) is an alert too,
    // cleared when it is back.
    bridge.status(false).await;
    let open = open_alerts_become(&served, |a| a.len() == 1).await;
    assert_eq!(open[0]["kind"], "bridge_offline", "{open:?}");
    bridge.status(true).await;
    open_alerts_become(&served, |a| a.is_empty()).await;
    served.stop();
}

async fn takeover_scenario(served: Served) {
    let dock = Region::demo().docks[0].position;
    let mut bridge = TalkingBridge::start(served.broker.addr().port(), "to-1", dock).await;
    let fleet_entry = |fleet: &Value| fleet["drones"][0]["taken_over"].clone();
    wait_online(&served).await;

    // Only pilots take over, a known drone, one pilot at a time.
    for token in [&served.department, &served.admin] {
        let (status, body) = served
            .call("POST", Some(token), "/api/v1/drones/to-1/takeover", None)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{body}"
        );
    }
    let (status, _) = served
        .call(
            "POST",
            Some(&served.pilot),
            "/api/v1/drones/nope/takeover",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = served
        .call(
            "POST",
            Some(&served.pilot),
            "/api/v1/drones/to-1/release",
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );
    let (status, taken) = served
        .call(
            "POST",
            Some(&served.pilot),
            "/api/v1/drones/to-1/takeover",
            None,
        )
        .await;
    assert_eq!(status, 200, "{taken}");
    assert_eq!(
        (taken["state"].as_str(), taken["taken_over_by"].as_str()),
        (Some("taken_over"), Some("pilot-a"))
    );
    // On the ground there is nothing to hold.
    assert_eq!(taken["command_id"], Value::Null);
    let (status, body) = served
        .call(
            "POST",
            Some(&served.other_pilot),
            "/api/v1/drones/to-1/takeover",
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pilot-a"),
        "{body}"
    );
    let (_, fleet) = served
        .call("GET", Some(&served.pilot), "/api/v1/fleet", None)
        .await;
    assert_eq!(fleet_entry(&fleet)["pilot"], "pilot-a", "{fleet}");

    // Work queued while it is held is not given to it.
    let target = Haversine.destination(dock, 90.0, 150.0);
    let task = served.submit_point_inspection(target, 20.0, 2).await;
    let heard = bridge.next_command(Duration::from_secs(3)).await;
    assert_eq!(
        heard, None,
        "the dispatcher commanded a drone a pilot holds"
    );
    let (_, row) = served
        .call(
            "GET",
            Some(&served.department),
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(row["state"], "queued", "{row}");

    // Released, the dispatcher gives it the task.
    let (status, released) = served
        .call(
            "POST",
            Some(&served.other_pilot),
            "/api/v1/drones/to-1/release",
            None,
        )
        .await;
    assert_eq!(
        (status, released["state"].as_str()),
        (200, Some("released")),
        "{released}"
    );
    let (_, fleet) = served
        .call("GET", Some(&served.pilot), "/api/v1/fleet", None)
        .await;
    assert_eq!(fleet_entry(&fleet), Value::Null, "{fleet}");
    bridge.expect_mission_started().await;

    // In the air, taking over tells it to hold, and the bridge's answer is
    // recorded.
    {
        let mut t = bridge.telemetry.lock().unwrap();
        t.armed = true;
        t.landed = LandedState::InAir;
        t.alt_rel_m = 40.0;
        t.mode = FlightMode::Mission;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, taken) = served
        .call(
            "POST",
            Some(&served.pilot),
            "/api/v1/drones/to-1/takeover",
            None,
        )
        .await;
    assert_eq!(status, 200, "{taken}");
    let hold_id = taken["command_id"]
        .as_str()
        .expect("a hold command")
        .to_owned();
    assert_eq!(
        bridge
            .next_command(Duration::from_secs(10))
            .await
            .as_deref(),
        Some("pause")
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let entries = loop {
        let entries = audit(&served).await;
        if entries
            .iter()
            .any(|e| e["action"] == "drone_command_outcome" && e["detail"]["command_id"] == hold_id)
        {
            break entries;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no outcome: {entries:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let outcome = entries
        .iter()
        .find(|e| e["action"] == "drone_command_outcome" && e["detail"]["command_id"] == hold_id)
        .unwrap();
    assert_eq!(
        (outcome["result"].as_str(), outcome["actor"].as_str()),
        (Some("succeeded"), Some("pilot-a"))
    );
    let trail: Vec<(String, String, String)> = entries
        .iter()
        .filter(|e| e["action"] == "drone_takeover" || e["action"] == "drone_release")
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
                e["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("drone_takeover", "parks-a", "refused (403)"),
        ("drone_takeover", "admin-a", "refused (403)"),
        ("drone_takeover", "pilot-a", "refused (404)"),
        ("drone_release", "pilot-a", "refused (409)"),
        ("drone_takeover", "pilot-a", "ok"),
        ("drone_takeover", "pilot-b", "refused (409)"),
        ("drone_release", "pilot-b", "ok"),
        ("drone_takeover", "pilot-a", "ok"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(trail, expected);
    served.stop();
}

/// A drone on a sortie flying over the hospital (Z-HOSP, prohibited)
/// raises an `in_zone` alert once, however many positions show it, and it
/// clears when the drone is back on its route.
async fn conformance_scenario(served: Served) {
    let dock = Region::demo().docks[0].position;
    let mut bridge = TalkingBridge::start(served.broker.addr().port(), "cf-1", dock).await;
    wait_online(&served).await;
    let target = Haversine.destination(dock, 90.0, 200.0);
    served.submit_point_inspection(target, 0.0, 1).await;
    bridge.expect_mission_started().await;
    let fly_to = |lon: f64, lat: f64| {
        let mut t = bridge.telemetry.lock().unwrap();
        t.lon_deg = lon;
        t.lat_deg = lat;
        t.alt_rel_m = 40.0;
        t.armed = true;
        t.landed = LandedState::InAir;
        t.mode = FlightMode::Mission;
    };
    fly_to(114.408, 30.5015);
    let open = open_alerts_become(&served, |a| a.iter().any(|x| x["kind"] == "in_zone")).await;
    let in_zone = of_kind(&open, "in_zone").unwrap().clone();
    assert!(
        in_zone["message"].as_str().unwrap().contains("Z-HOSP"),
        "{in_zone}"
    );
    // Many positions later, still the one alert.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let all = alerts(&served, &served.pilot, "?state=all").await;
    assert_eq!(
        all.iter().filter(|a| a["kind"] == "in_zone").count(),
        1,
        "{all:?}"
    );
    fly_to(target.x(), target.y());
    open_alerts_become(&served, |a| a.iter().all(|x| x["id"] != in_zone["id"])).await;
    let all = alerts(&served, &served.pilot, "?state=all").await;
    let cleared = all.iter().find(|a| a["id"] == in_zone["id"]).unwrap();
    assert!(cleared["cleared_at"].is_string(), "{cleared}");
    served.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_raised_acknowledged_cleared_and_kept_with_sqlite() {
    alerts_scenario(served::start(None, &["al-1"]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_raised_acknowledged_cleared_and_kept_with_postgresql() {
    let Some(pg) = common::pg::schema("alerts").await else {
        return;
    };
    alerts_scenario(served::start(Some(pg.url.clone()), &["al-1"]).await).await;
    pg.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pilot_takes_a_drone_over_and_releases_it_with_sqlite() {
    takeover_scenario(served::start(None, &["to-1"]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pilot_takes_a_drone_over_and_releases_it_with_postgresql() {
    let Some(pg) = common::pg::schema("takeover").await else {
        return;
    };
    takeover_scenario(served::start(Some(pg.url.clone()), &["to-1"]).await).await;
    pg.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drone_in_a_prohibited_zone_raises_one_alert_that_clears_with_sqlite() {
    conformance_scenario(served::start(None, &["cf-1"]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drone_in_a_prohibited_zone_raises_one_alert_that_clears_with_postgresql() {
    let Some(pg) = common::pg::schema("conformance").await else {
        return;
    };
    conformance_scenario(served::start(Some(pg.url.clone()), &["cf-1"]).await).await;
    pg.drop().await;
}
