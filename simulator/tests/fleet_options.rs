//! Options for large fleets: the reduced stream set, several frames per
//! datagram, shared system ids, and the profile check.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::home;
use simulator::{
    AutopilotProfile, ClockMode, SimConfig, SimError, SimOptions, Simulator, StreamSet, VehicleSpec,
};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

fn fleet(count: usize, system_id: impl Fn(usize) -> u8) -> SimConfig {
    SimConfig {
        vehicles: (0..count)
            .map(|index| VehicleSpec {
                name: format!("drone-{}", index + 1),
                system_id: system_id(index),
                home: home(index),
                port: 0,
            })
            .collect(),
        speedup: 1.0,
        bind_ip: "127.0.0.1".parse().unwrap(),
    }
}

/// Datagrams a listening station receives while the fleet runs `seconds`.
async fn listen(options: SimOptions, seconds: u32) -> Vec<Vec<u8>> {
    let station = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut simulator = Simulator::bind_with(
        fleet(1, |_| 1),
        SimOptions {
            clock: ClockMode::Lockstep,
            ..options
        },
    )
    .await
    .unwrap();
    simulator.stream_to(station.local_addr().unwrap());
    let clock = simulator.lockstep().unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(simulator.run(shutdown.clone()));
    let mut datagrams = Vec::new();
    let mut buffer = vec![0u8; 4096];
    for _ in 0..seconds {
        clock.advance(1.0).await;
        while let Ok(Ok((length, _))) =
            tokio::time::timeout(Duration::from_millis(30), station.recv_from(&mut buffer)).await
        {
            datagrams.push(buffer[..length].to_vec());
        }
    }
    shutdown.cancel();
    running.await.unwrap().unwrap();
    datagrams
}

/// (message id, frames in its datagram) for every frame.
fn frames(datagrams: &[Vec<u8>]) -> Vec<(u32, usize)> {
    let mut found = Vec::new();
    for datagram in datagrams {
        let mut ids = Vec::new();
        let mut offset = 0;
        while offset + 12 <= datagram.len() && datagram[offset] == 0xFD {
            ids.push(u32::from_le_bytes([
                datagram[offset + 7],
                datagram[offset + 8],
                datagram[offset + 9],
                0,
            ]));
            offset += 12 + usize::from(datagram[offset + 1]);
        }
        assert_eq!(offset, datagram.len(), "datagram holds whole frames only");
        found.extend(ids.iter().map(|id| (*id, ids.len())));
    }
    found
}

#[tokio::test]
async fn the_fleet_stream_set_sends_position_at_4_hz_and_status_at_1_hz_only() {
    let datagrams = listen(
        SimOptions {
            streams: StreamSet::Fleet,
            ..SimOptions::default()
        },
        10,
    )
    .await;
    let frames = frames(&datagrams);
    let count = |id| frames.iter().filter(|(found, _)| *found == id).count();
    assert!((39..=41).contains(&count(33)), "positions: {}", count(33));
    assert!((9..=11).contains(&count(0)), "heartbeats: {}", count(0));
    assert!((9..=11).contains(&count(1)), "SYS_STATUS: {}", count(1));
    let ids: HashSet<u32> = frames.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, HashSet::from([0, 1, 33]));
}

#[tokio::test]
async fn batched_streams_pack_the_frames_due_together_into_one_datagram() {
    let options = SimOptions {
        streams: StreamSet::Fleet,
        ..SimOptions::default()
    };
    let single = listen(options.clone(), 5).await;
    let batched = listen(
        SimOptions {
            batch_streams: true,
            ..options
        },
        5,
    )
    .await;
    assert!(frames(&single).iter().all(|(_, together)| *together == 1));
    assert_eq!(
        frames(&batched).len(),
        frames(&single).len(),
        "same messages"
    );
    assert!(batched.len() < single.len(), "fewer datagrams");
    assert!(frames(&batched).iter().any(|(_, together)| *together == 3));
}

#[tokio::test]
async fn system_ids_may_repeat_across_ports_only_when_asked() {
    let refused = Simulator::bind(fleet(300, |index| (index % 255 + 1) as u8)).await;
    assert!(
        matches!(refused, Err(SimError::InvalidConfig(reason)) if reason.contains("used twice"))
    );
    let shared = Simulator::bind_with(
        fleet(300, |index| (index % 255 + 1) as u8),
        SimOptions {
            shared_system_ids: true,
            ..SimOptions::default()
        },
    )
    .await
    .expect("300 vehicles on 300 ports");
    assert_eq!(shared.addresses().len(), 300);
}

#[tokio::test]
async fn a_profile_for_a_vehicle_that_does_not_exist_is_refused() {
    let refused = Simulator::bind_with(
        fleet(1, |_| 1),
        SimOptions {
            profiles: [("drone-7".to_string(), AutopilotProfile::ArduPilot)].into(),
            ..SimOptions::default()
        },
    )
    .await;
    assert!(matches!(refused, Err(SimError::InvalidConfig(reason)) if reason.contains("drone-7")));
}
