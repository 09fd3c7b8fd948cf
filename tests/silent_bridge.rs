//! A drone whose bridge reports in but never answers commands (a hung
//! companion computer): its task must fail with a reason, not wait forever,
//! and the drone must be freed. The "bridge" here is a plain MQTT client
//! speaking the v1 contract through a real broker.

use std::time::Duration;

mod common;

use common::mute_bridge::MuteBridge;
use common::standalone;
use tokio_util::sync::CancellationToken;
use wire::{Channel, Topic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_without_reply_fails_the_task_with_a_reason() {
    let parts = standalone::start().await;
    let (broker, store) = (&parts.broker, &parts.store);
    let dock = parts.region.docks[0].clone();
    let dispatcher = parts.dispatcher("mute-1", Duration::from_secs(1), None);
    let shutdown = CancellationToken::new();
    tokio::spawn(dispatcher.clone().run(shutdown.clone()));

    // The mute bridge: reports online and on its dock, hears commands, never replies.
    let mut bridge = MuteBridge::start(broker.addr().port(), "mute-1", dock.position).await;

    let target = geo::Point::new(dock.position.x() + 0.001, dock.position.y() + 0.001);
    let task = dispatcher
        .submit("water", standalone::inspection(target, 0.0, 1))
        .await
        .unwrap();

    // The upload really went out to the drone's command topic...
    let topic = tokio::time::timeout(Duration::from_secs(15), bridge.commands.recv())
        .await
        .expect("the dispatcher sent the drone a command")
        .unwrap();
    assert_eq!(topic, Topic::new("mute-1", Channel::Commands).name());

    // ...and with no reply the task fails, saying why, and the drone is free.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let failed = loop {
        let t = store.task(&task.id).await.unwrap().unwrap();
        if t.state == "failed" {
            break t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "task never failed: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason = failed.reason.unwrap();
    assert!(
        reason.contains("did not answer") && reason.contains("mute-1"),
        "{reason}"
    );
    assert_eq!(failed.drone_id.as_deref(), Some("mute-1"));
    assert!(dispatcher.fleet_view()[0].task_id.is_none());
    shutdown.cancel();
}
