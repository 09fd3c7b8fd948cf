//! pymavlink, the reference MAVLink implementation, drives the parameter,
//! mission, fence and rally protocols of a simulated drone as a ground station
//! would, including a lost request that the vehicle must retry, out-of-order
//! items and requests, refused input, and a parameter that arms the altitude
//! limit, which then lands the drone. Once per autopilot profile. The script
//! is tests/conformance/pymavlink_protocols.py; scripts/test installs
//! pymavlink. Outside CI a machine without it skips with a printed reason.

use std::process::Command;
use std::time::Duration;

use simulator::{AutopilotProfile, GeoPoint, SimConfig, SimOptions, Simulator, VehicleSpec};
use tokio_util::sync::CancellationToken;

fn pymavlink_available() -> Result<(), String> {
    let probe = Command::new("python3")
        .args(["-c", "import pymavlink"])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if probe.status.success() {
        Ok(())
    } else {
        Err("python package `pymavlink` is not installed (scripts/test installs it)".into())
    }
}

async fn drive_protocols(profile: AutopilotProfile) {
    if let Err(reason) = pymavlink_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the pymavlink test: {reason}"
        );
        println!("SKIPPED: {reason}");
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

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/pymavlink_protocols.py"
    );
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(profile.name())
            .env("MAVLINK20", "1")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("pymavlink script finished within 60 s")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pymavlink found a protocol fault ({profile}):\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for step in [
        "capabilities, REQUEST_MESSAGE and SET_MESSAGE_INTERVAL answered",
        "parameter list",
        "lost item request retried",
        "mission downloaded out of order",
        "malformed fence refused",
        "rally uploaded and cleared",
        "altitude limit from parameters",
        "pymavlink drove every protocol",
    ] {
        assert!(stdout.contains(step), "missing step `{step}`:\n{stdout}");
    }
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
