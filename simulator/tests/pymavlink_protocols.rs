//! pymavlink, the reference MAVLink implementation, drives the parameter,
//! mission, fence and rally protocols of a simulated drone as a ground station
//! would, including a lost request that the vehicle must retry, out-of-order
//! items and requests, refused input, and a parameter that arms the altitude
//! limit, which then lands the drone. Once per autopilot profile. The script
//! is tests/conformance/pymavlink_protocols.py; scripts/test installs
//! pymavlink. Outside CI a machine without it skips with a printed reason.

mod python_judge;

use std::time::Duration;

use simulator::{AutopilotProfile, GeoPoint, SimConfig, SimOptions, Simulator, VehicleSpec};
use tokio_util::sync::CancellationToken;

async fn drive_protocols(profile: AutopilotProfile) {
    if !python_judge::available("pymavlink") {
        return;
    }
    let sim = Simulator::bind_with(
        SimConfig {
            vehicles: vec![VehicleSpec {
                name: "pymavlink-1".into(),
                system_id: 1,
                home: GeoPoint {
                    lat_deg: 30.505,
                    lon_deg: 114.398,
                    alt_msl_m: 20.0,
                },
                port: 0,
            }],
            speedup: 10.0,
            bind_ip: "127.0.0.1".parse().unwrap(),
        },
        SimOptions {
            autopilot: profile,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap();
    let port = sim.addresses()[0].1.port();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(sim.run(shutdown.clone()));

    python_judge::run(
        &format!("pymavlink ({profile})"),
        "pymavlink_protocols.py",
        &[port.to_string(), profile.name().to_string()],
        &[("MAVLINK20", "1")],
        Duration::from_secs(60),
        &[
            "capabilities, REQUEST_MESSAGE and SET_MESSAGE_INTERVAL answered",
            "parameter list",
            "lost item request retried",
            "mission downloaded out of order",
            "malformed fence refused",
            "rally uploaded and cleared",
            "altitude limit from parameters",
            "pymavlink drove every protocol",
        ],
    )
    .await;
    shutdown.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymavlink_drives_parameters_mission_fence_and_rally_on_a_px4_drone() {
    drive_protocols(AutopilotProfile::Px4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymavlink_drives_parameters_mission_fence_and_rally_on_an_arducopter_drone() {
    drive_protocols(AutopilotProfile::ArduPilot).await;
}
