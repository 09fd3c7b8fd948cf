//! Drones out of service: in maintenance or lost, a drone is never
//! assigned; a drone declared lost in flight has its remaining work sent
//! back to the queue, flown later by a drone in service, with no task lost
//! and none done twice. The dispatcher also finds a lost drone itself when
//! its link stays gone while it flies.

mod common;

use std::time::Duration;

use common::{config, point_task, standalone, wait_for_fleet, wait_for_state, Api};
use firmware_bridge::BridgeConfig;
use geo::{Destination, Haversine};
use serde_json::json;
use simulator::{GeoPoint, SimConfig, Simulator, VehicleSpec};
use skyshare::demo;
use skyshare::dispatcher::DispatchPolicy;
use skyshare::region::Region;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maintenance_and_lost_drones_get_no_work_and_a_lost_drones_task_is_flown_again_once() {
    let dir = tempfile::tempdir().unwrap();
    let running = demo::start(config(dir.path(), 1, None, None))
        .await
        .unwrap();
    let api = Api::new(&running);
    let urban = running.token("urban-management").to_owned();
    let (pilot, admin) = (running.pilot_token.clone(), running.admin_token.clone());
    wait_for_fleet(&api, &urban).await;

    let (status, body) = api.get(&pilot, "/api/v1/drones").await;
    assert_eq!(status, 200, "{body}");
    let drone = body["drones"][0].clone();
    let id = drone["id"].as_str().unwrap().to_owned();
    assert_eq!(drone["service"], "in_service");
    assert!(drone["service_reason"].is_null());
    assert!(drone["payloads"]
        .as_array()
        .unwrap()
        .contains(&json!("visible")));
    let (status, docks) = api.get(&urban, "/api/v1/docks").await;
    assert_eq!(status, 200, "{docks}");
    let home = docks["docks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == drone["dock_id"])
        .unwrap_or_else(|| panic!("the drone's dock is listed: {docks}"));
    assert_eq!(home["drones"], json!([id]));
    assert!(home["lat"].is_number() && home["lon"].is_number());

    let service = format!("http://{}/api/v1/drones/{id}/service", running.http_addr);
    let put = |token: &str, body: serde_json::Value| {
        let (token, service) = (token.to_owned(), service.clone());
        async move {
            let r = reqwest::Client::new()
                .put(service)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    // Departments may not (refused before the audit, like every role
    // check); pilots take drones out; only admins put them back.
    assert_eq!(put(&urban, json!({"state": "maintenance"})).await.0, 403);
    let (status, body) = put(
        &pilot,
        json!({"state": "maintenance", "reason": "propeller check"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["drone"]["service"], "maintenance");
    assert_eq!(body["drone"]["service_reason"], "propeller check");
    assert_eq!(put(&pilot, json!({"state": "in_service"})).await.0, 403);
    assert_eq!(put(&admin, json!({"state": "broken"})).await.0, 422);
    let (status, _) = api.get(&pilot, "/api/v1/drones/nope/service").await;
    assert_eq!(status, 405, "only PUT there");

    // With its only visible camera in maintenance, the fleet refuses work.
    let region = Region::demo();
    let dock = region
        .docks
        .iter()
        .find(|d| d.id == drone["dock_id"])
        .unwrap()
        .position;
    // Far enough that it is declared lost before it gets there.
    let target = Haversine.destination(dock, 45.0, 1500.0);
    let task = point_task(target.x(), target.y(), "visible");
    let (status, body) = api.post(&urban, "/api/v1/tasks", &task).await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("out of service") && message.contains("propeller check"),
        "{message}"
    );

    let (status, body) = put(&admin, json!({"state": "in_service"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.post(&urban, "/api/v1/tasks", &task).await;
    assert_eq!(status, 201, "{body}");
    let task_id = body["id"].as_str().unwrap().to_owned();
    wait_for_state(&api, &urban, &task_id, "in_flight", Duration::from_secs(30)).await;

    // Lost in flight: the task goes back to the queue, and waits saying why.
    let (status, body) = put(
        &pilot,
        json!({"state": "lost", "reason": "no video, no telemetry"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["requeued"], json!([task_id]));
    let (_, t) = api.get(&urban, &format!("/api/v1/tasks/{task_id}")).await;
    assert_eq!(t["state"], "queued", "{t}");
    assert!(t["reason"].as_str().unwrap().contains("was lost"), "{t}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, t) = api.get(&urban, &format!("/api/v1/tasks/{task_id}")).await;
        if t["reason"]
            .as_str()
            .is_some_and(|r| r.contains("out of service"))
        {
            break;
        }
        assert_eq!(t["state"], "queued", "a lost drone got work: {t}");
        assert!(tokio::time::Instant::now() < deadline, "{t}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Found again: once it is back on its dock it flies the task anew, and
    // only that flight's photos are the task's.
    let (status, _) = put(
        &admin,
        json!({"state": "in_service", "reason": "found in the park"}),
    )
    .await;
    assert_eq!(status, 200);
    wait_for_state(
        &api,
        &urban,
        &task_id,
        "completed",
        Duration::from_secs(120),
    )
    .await;
    let (_, images) = api
        .get(&urban, &format!("/api/v1/images?task={task_id}"))
        .await;
    assert_eq!(images["images"].as_array().unwrap().len(), 3, "{images}");

    let (_, audit) = api.get(&admin, "/api/v1/audit?limit=1000").await;
    let changes: Vec<&serde_json::Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "drone_service")
        .collect();
    let results: Vec<(&str, &str)> = changes
        .iter()
        .map(|e| (e["role"].as_str().unwrap(), e["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        results,
        vec![
            ("pilot", "ok"),
            ("pilot", "refused (403)"),
            ("admin", "refused (422)"),
            ("admin", "ok"),
            ("pilot", "ok"),
            ("admin", "ok"),
        ],
        "{changes:?}"
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drone_whose_link_stays_gone_in_flight_is_declared_lost_and_its_task_requeued() {
    let parts = standalone::start().await;
    let (broker, store) = (&parts.broker, &parts.store);
    let dock = parts.region.docks[0].clone();
    let everything = CancellationToken::new();
    let sim = Simulator::bind(SimConfig {
        vehicles: vec![VehicleSpec {
            name: "gone-1".into(),
            system_id: 1,
            home: GeoPoint {
                lat_deg: dock.position.y(),
                lon_deg: dock.position.x(),
                alt_msl_m: dock.alt_msl_m,
            },
            port: 0,
        }],
        speedup: 2.0,
        bind_ip: "127.0.0.1".parse().unwrap(),
    })
    .await
    .unwrap();
    let vehicle = sim.addresses()[0].1;
    tokio::spawn(sim.run(everything.clone()));
    let bridge_stop = CancellationToken::new();
    let spool = tempfile::tempdir().unwrap();
    tokio::spawn(firmware_bridge::run(
        BridgeConfig {
            spool_dir: Some(spool.path().to_path_buf()),
            ..BridgeConfig::new("gone-1", format!("udpout:{vehicle}"), broker.url())
        },
        bridge_stop.clone(),
    ));

    let dispatcher = parts.dispatcher("gone-1", Duration::from_secs(60), None);
    dispatcher.set_policy(DispatchPolicy {
        lost_after: Duration::from_secs(3),
        ..DispatchPolicy::default()
    });
    let shutdown = CancellationToken::new();
    tokio::spawn(dispatcher.clone().run(shutdown.clone()));
    let target = Haversine.destination(dock.position, 30.0, 900.0);
    let task = dispatcher
        .submit("water", standalone::inspection(target, 20.0, 3))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let t = store.task(&task.id).await.unwrap().unwrap();
        if t.state == "in_flight" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never flew: {t:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The companion computer dies mid-flight: no telemetry, no status.
    bridge_stop.cancel();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let requeued = loop {
        let t = store.task(&task.id).await.unwrap().unwrap();
        if t.state == "queued" {
            break t;
        }
        assert_eq!(t.state, "in_flight", "{t:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the silent drone was never declared lost: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Re-queued saying the drone was lost, then held saying nothing in
    // service can fly it; either way it names the drone and why.
    let reason = requeued.reason.unwrap_or_default();
    assert!(
        reason.contains("gone-1") && reason.contains("lost") && reason.contains("no link"),
        "{reason}"
    );
    let view = &dispatcher.drone_admin_views()[0];
    assert_eq!(view.service, "lost");
    assert!(!view.flying && view.task_ids.is_empty(), "{view:?}");
    let flights = store.flights_of_drone("gone-1").await.unwrap();
    assert_eq!(flights[0].state, "lost");
    let services = store.drone_services().await.unwrap();
    assert_eq!(
        (services[0].state.as_str(), services[0].changed_by.as_str()),
        ("lost", "dispatcher")
    );
    let audit = store.audit(0, 100).await.unwrap();
    assert!(
        audit.iter().any(|e| e.action == "drone_service"
            && e.actor == "dispatcher"
            && e.target == "gone-1"),
        "{audit:?}"
    );
    shutdown.cancel();
    everything.cancel();
}
