//! Departments' shares of flight time are accounted over a rolling week
//! from the stored flights: a department that flew a lot this week waits
//! behind one that did not, and its task says why. The drone is a stand-in
//! bridge whose battery allows one of the two sorties, not both.

use std::time::Duration;

mod common;

use common::mute_bridge::MuteBridge;
use common::standalone;
use geo::Destination;
use skyshare::store::{FlightRow, FlightTaskRow};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_over_its_quota_this_week_waits_behind_one_that_is_not_and_is_told_why() {
    let parts = standalone::start().await;
    let (broker, store) = (&parts.broker, &parts.store);
    store
        .upsert_department("urban", "Urban Management")
        .await
        .unwrap();
    let dock = parts.region.docks[0].clone();

    // Water flew three hours two days ago, and a flight eight days ago
    // that is outside the week; urban flew nothing.
    let now = chrono::Utc::now().timestamp_millis();
    let day = 24 * 3600 * 1000;
    for (id, started, hours) in [("old", now - 8 * day, 5), ("recent", now - 2 * day, 3)] {
        store
            .insert_flight(&FlightRow {
                id: id.into(),
                drone_id: "quota-1".into(),
                state: "landed".into(),
                assigned_at_ms: started,
                started_at_ms: Some(started),
                ended_at_ms: Some(started + hours * 3600 * 1000),
                last_reached: None,
                mission_completed: true,
                recalled_for: None,
                route: Vec::new(),
                tasks: vec![FlightTaskRow {
                    task_id: format!("earlier-{id}"),
                    department_id: "water".into(),
                    items: None,
                    leg: None,
                    finished: true,
                }],
            })
            .await
            .unwrap();
    }

    let dispatcher = parts.dispatcher("quota-1", Duration::from_secs(60), None);
    let shares = dispatcher.weekly_shares().await.unwrap();
    assert_eq!(
        shares["water"].used_s,
        3.0 * 3600.0,
        "only this week's flight counts"
    );

    // Water asks first (so it has waited longer); the two sites are on
    // opposite sides of the dock, too far apart for one sortie on what is
    // left of the battery.
    let east = geo::Haversine.destination(dock.position, 90.0, 800.0);
    let west = geo::Haversine.destination(dock.position, 270.0, 800.0);
    let water = dispatcher
        .submit("water", standalone::inspection(east, 0.0, 1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let urban = dispatcher
        .submit("urban", standalone::inspection(west, 0.0, 1))
        .await
        .unwrap();

    let bridge = MuteBridge::start(broker.addr().port(), "quota-1", dock.position).await;
    bridge.telemetry.lock().unwrap().battery_pct = Some(45.0);
    let shutdown = CancellationToken::new();
    tokio::spawn(dispatcher.clone().run(shutdown.clone()));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (urban_now, water_now) = loop {
        let u = store.task(&urban.id).await.unwrap().unwrap();
        let w = store.task(&water.id).await.unwrap().unwrap();
        if u.state == "assigned"
            && w.reason
                .as_deref()
                .is_some_and(|r| r.contains("over its quota this week"))
        {
            break (u, w);
        }
        assert_ne!(
            w.state, "assigned",
            "water flew first despite its week: {w:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "urban: {u:?}\nwater: {w:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(urban_now.drone_id.as_deref(), Some("quota-1"));
    assert_eq!(water_now.state, "queued");
    shutdown.cancel();
}
