//! Live conformance: a drone on a sortie that strays off its planned route,
//! then into a prohibited zone, raises alerts a pilot can read in the fleet
//! view, within one telemetry period; back on route, they clear.

mod common;

use std::time::Duration;

use common::mute_bridge::MuteBridge;
use common::standalone;
use geo::{Destination, Haversine, Point};
use skyshare::dispatcher::Dispatcher;
use tokio_util::sync::CancellationToken;
use wire::{FlightMode, LandedState};

async fn alerts_become(dispatcher: &Dispatcher, want: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let alerts = dispatcher.fleet_view()[0].alerts.clone();
        if want(&alerts) {
            return alerts;
        }
        assert!(tokio::time::Instant::now() < deadline, "alerts: {alerts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drone_off_its_route_or_in_a_prohibited_zone_raises_alerts_that_clear_when_back() {
    let parts = standalone::start().await;
    let broker = &parts.broker;
    let dock = parts.region.docks[0].clone();
    let dispatcher = parts.dispatcher("stray-1", Duration::from_secs(60), None);
    let shutdown = CancellationToken::new();
    tokio::spawn(dispatcher.clone().run(shutdown.clone()));
    let mut bridge = MuteBridge::start(broker.addr().port(), "stray-1", dock.position).await;

    let target = Haversine.destination(dock.position, 90.0, 200.0);
    dispatcher
        .submit("water", standalone::inspection(target, 0.0, 1))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(15), bridge.commands.recv())
        .await
        .expect("the sortie was sent")
        .unwrap();

    let fly_to = |at: Point| {
        let mut t = bridge.telemetry.lock().unwrap();
        t.lat_deg = at.y();
        t.lon_deg = at.x();
        t.alt_rel_m = 40.0;
        t.armed = true;
        t.landed = LandedState::InAir;
        t.mode = FlightMode::Mission;
    };

    // On its route, halfway out: nothing to say.
    fly_to(Haversine.destination(dock.position, 90.0, 100.0));
    alerts_become(&dispatcher, |a| a.is_empty()).await;

    // 300 m north of its route.
    fly_to(Haversine.destination(
        Haversine.destination(dock.position, 90.0, 100.0),
        0.0,
        300.0,
    ));
    let off = alerts_become(&dispatcher, |a| {
        a.iter().any(|x| x.contains("off its planned route"))
    })
    .await;
    assert!(
        off.iter().any(|x| x.contains("by 2") || x.contains("by 3")),
        "{off:?}"
    );

    // Over the hospital (Z-HOSP, prohibited).
    fly_to(Point::new(114.408, 30.5015));
    alerts_become(&dispatcher, |a| {
        a.iter().any(|x| x.contains("inside zone Z-HOSP"))
    })
    .await;

    // Back on route: the alerts clear.
    fly_to(target);
    alerts_become(&dispatcher, |a| a.is_empty()).await;
    shutdown.cancel();
}
