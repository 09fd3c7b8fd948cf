//! Bridge benchmark, rerunnable with
//!     cargo bench -p firmware-bridge --bench bridge -- [--seconds S] [--drones N] [--telemetry-hz HZ]
//!
//! Prints:
//! 1. MAVLink ingest: frames per second through the bridge's whole input path
//!    (framing + CRC, parsing, folding into vehicle state, event detection) on
//!    one core, with the same bytes parsed by the peers in the same run: the
//!    `mavlink` crate's reader alone (parse only), and pymavlink (if
//!    installed).
//!    This is the input path alone, in process. Then the same over a real
//!    UDP socket and a real TCP stream through the bridge's link receiver.
//! 2. CPU per drone: N real bridges (each its own MAVLink link, MQTT session
//!    and outbox) against N simulated vehicles at real time, publishing
//!    telemetry at HZ through the embedded broker. The bridges run on their
//!    own runtime threads, whose CPU time is read from /proc, so the
//!    simulator's and broker's CPU is not counted.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use firmware_bridge::events::{EventDetector, Hints};
use firmware_bridge::mavlink_input::{ingest, InputTally};
use firmware_bridge::vehicle_state::VehicleState;
use firmware_bridge::BridgeConfig;
use mavlink::dialects::ardupilotmega::*;
use mavlink::{MavHeader, MavlinkReader};
use simulator::{GeoPoint, SimConfig, Simulator, VehicleSpec};
use tokio_util::sync::CancellationToken;

const BRIDGE_THREAD: &str = "bridge-bench";

struct Options {
    seconds: f64,
    drones: usize,
    telemetry_hz: f64,
}

fn options() -> Options {
    let mut options = Options {
        seconds: 20.0,
        drones: 10,
        telemetry_hz: 10.0,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut at = 1;
    while at < args.len() {
        let value = args.get(at + 1).and_then(|v| v.parse::<f64>().ok());
        match (args[at].as_str(), value) {
            ("--seconds", Some(v)) => options.seconds = v,
            ("--drones", Some(v)) => options.drones = v as usize,
            ("--telemetry-hz", Some(v)) => options.telemetry_hz = v,
            ("--bench", _) => {
                at += 1;
                continue;
            }
            (other, _) => {
                eprintln!("unknown or incomplete option {other}; using defaults for the rest");
                at += 1;
                continue;
            }
        }
        at += 2;
    }
    options
}

/// A second of a PX4 vehicle's stream as the bridge sees it: HEARTBEAT and
/// SYS_STATUS at 1 Hz, GLOBAL_POSITION_INT and ATTITUDE at 10 Hz,
/// MISSION_CURRENT and EXTENDED_SYS_STATE at 2 Hz.
fn telemetry_second() -> Vec<u8> {
    let header = MavHeader {
        system_id: 1,
        component_id: 1,
        sequence: 0,
    };
    let mut bytes = Vec::new();
    let mut write = |message: MavMessage| {
        mavlink::write_v2_msg(&mut bytes, header, &message).unwrap();
    };
    write(MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        custom_mode: 0x0404_0000,
        mavtype: MavType::MAV_TYPE_QUADROTOR,
        autopilot: MavAutopilot::MAV_AUTOPILOT_PX4,
        base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
            | MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED,
        system_status: MavState::MAV_STATE_ACTIVE,
        mavlink_version: 3,
    }));
    write(MavMessage::SYS_STATUS(SYS_STATUS_DATA {
        voltage_battery: 16_100,
        battery_remaining: 87,
        ..Default::default()
    }));
    for tick in 0..10 {
        write(MavMessage::GLOBAL_POSITION_INT(GLOBAL_POSITION_INT_DATA {
            time_boot_ms: tick * 100,
            lat: 305_050_000 + tick as i32 * 10,
            lon: 1_143_980_000,
            alt: 50_000,
            relative_alt: 30_000,
            vx: 400,
            vy: 300,
            vz: 0,
            hdg: 3500,
        }));
        write(MavMessage::ATTITUDE(ATTITUDE_DATA {
            time_boot_ms: tick * 100,
            roll: 0.01,
            pitch: -0.02,
            yaw: 0.6,
            ..Default::default()
        }));
        if tick % 5 == 0 {
            write(MavMessage::MISSION_CURRENT(MISSION_CURRENT_DATA {
                seq: 1,
                total: 4,
                ..Default::default()
            }));
            write(MavMessage::EXTENDED_SYS_STATE(EXTENDED_SYS_STATE_DATA {
                vtol_state: MavVtolState::MAV_VTOL_STATE_UNDEFINED,
                landed_state: MavLandedState::MAV_LANDED_STATE_IN_AIR,
            }));
        }
    }
    bytes
}

/// Runs `pass` over the buffer until `seconds` have passed; frames per second.
fn rate(seconds: f64, frames_per_pass: u64, mut pass: impl FnMut()) -> f64 {
    let started = Instant::now();
    let mut passes = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        pass();
        passes += 1;
    }
    (passes * frames_per_pass) as f64 / started.elapsed().as_secs_f64()
}

fn pymavlink_rate(bytes: &[u8], seconds: f64) -> Result<f64, String> {
    let path = std::env::temp_dir().join(format!("skyshare-bench-{}.bin", std::process::id()));
    std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
    let script = r#"
import os, sys, time
os.environ["MAVLINK20"] = "1"
from pymavlink.dialects.v20 import ardupilotmega as m
data = open(sys.argv[1], "rb").read()
seconds = float(sys.argv[2])
count = 0
start = time.perf_counter()
while time.perf_counter() - start < seconds:
    parser = m.MAVLink(None)
    parser.robust_parsing = True
    count += len(parser.parse_buffer(data) or [])
print(count / (time.perf_counter() - start))
"#;
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&path)
        .arg(seconds.to_string())
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    let _ = std::fs::remove_file(&path);
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .unwrap_or("")
            .to_owned());
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("unreadable pymavlink output: {e}"))
}

/// CPU seconds (user + system) of this process's threads named `name`.
fn thread_cpu_seconds(name: &str) -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with(name) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of stat; 12 and 13 after ')'.
        let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        total += (utime + stime) / ticks_per_second;
    }
    total
}

fn ingest_figures(options: &Options) {
    let second = telemetry_second();
    let mut tally = InputTally::default();
    firmware_bridge::mavlink_input::read_frames(&second, &mut tally);
    let mut stream = Vec::new();
    for _ in 0..100 {
        stream.extend_from_slice(&second);
    }
    let frames = tally.frames * 100;
    let seconds = (options.seconds / 10.0).clamp(0.5, 3.0);

    let hints = Hints::default();
    let mut state = VehicleState::default();
    let mut detector = EventDetector::new();
    let now = Instant::now();
    let bridge = rate(seconds, frames, || {
        let mut tally = InputTally::default();
        ingest(&stream, &mut state, &mut detector, &hints, now, &mut tally);
        assert_eq!(tally.frames, frames);
    });
    let crate_parse = rate(seconds, frames, || {
        let mut reader = MavlinkReader::new(&stream[..]);
        let mut count = 0;
        while reader.read_any_message::<MavMessage>().is_ok() {
            count += 1;
        }
        assert_eq!(count, frames);
    });
    println!(
        "MAVLink ingest ({} frames per pass, {} bytes; one core)",
        frames,
        stream.len()
    );
    println!(
        "  bridge input path (frame+CRC, parse, state, events): {:>12.0} frames/s",
        bridge
    );
    println!(
        "  peer: mavlink crate reader, parse only:              {:>12.0} frames/s  (bridge = {:.2}x)",
        crate_parse,
        bridge / crate_parse
    );
    match pymavlink_rate(&stream, seconds) {
        Ok(py) => println!(
            "  peer: pymavlink parse_buffer, parse only:            {:>12.0} frames/s  (bridge = {:.1}x)",
            py,
            bridge / py
        ),
        Err(reason) => println!("  peer: pymavlink skipped: {reason}"),
    }
    let per_vehicle_second = frames as f64 / 100.0;
    println!(
        "  one second of one vehicle's stream ({per_vehicle_second:.0} frames) costs the input path {:.1} us of one core",
        per_vehicle_second / bridge * 1e6
    );
}

/// The live receive path over a real UDP socket: a stand-in autopilot sends
/// the telemetry mix as fast as it can to a `udpin:` link; the bridge's
/// receiver (socket read, framing, parsing) feeds the same fold as the
/// bridge (state + events). Frames sent and frames ingested are both
/// counted; UDP drops what the receiver cannot keep up with.
fn live_udp_ingest(options: &Options) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seconds = (options.seconds / 4.0).clamp(1.0, 5.0);
    runtime.block_on(async {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let link = firmware_bridge::link::MavlinkLink::open(&format!("udpin:127.0.0.1:{port}"), None)
            .await
            .unwrap();
        let stop = CancellationToken::new();
        let (frames_tx, frames_rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(link.clone().receive(frames_tx, stop.clone()));
        let ingested = fold_and_count(frames_rx);
        // One datagram per frame, as autopilots send.
        let mut tally = InputTally::default();
        let frames: Vec<Vec<u8>> =
            firmware_bridge::mavlink_input::read_frames(&telemetry_second(), &mut tally)
                .into_iter()
                .map(|(header, message)| firmware_bridge::tunnel::frame_bytes(header, &message))
                .collect();
        let sender = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed().as_secs_f64() < seconds {
            for frame in &frames {
                if sender.send_to(frame, ("127.0.0.1", port)).await.is_ok() {
                    sent += 1;
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(200)).await; // drain
        let ingested = ingested.load(std::sync::atomic::Ordering::Relaxed);
        stop.cancel();
        println!(
            "Live UDP ingest, one link ({elapsed:.1} s, one datagram per frame, sender and bridge on 2 threads)"
        );
        println!(
            "  sent {:.0} frames/s, ingested {:.0} frames/s ({:.1}% of what was sent)",
            sent as f64 / elapsed,
            ingested as f64 / elapsed,
            ingested as f64 / sent.max(1) as f64 * 100.0
        );
    });
}

/// Folds received frames into vehicle state and events as the bridge does,
/// counting them.
fn fold_and_count(
    mut frames_rx: tokio::sync::mpsc::Receiver<(MavHeader, MavMessage)>,
) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
    let ingested = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = ingested.clone();
    tokio::spawn(async move {
        let mut state = VehicleState::default();
        let mut detector = EventDetector::new();
        let hints = Hints::default();
        while let Some((header, message)) = frames_rx.recv().await {
            let before = state.clone();
            state.apply(&header, &message, Instant::now());
            std::hint::black_box(detector.observe(
                &before,
                &state,
                Some(&message),
                &hints,
                Instant::now(),
            ));
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    ingested
}

/// The live receive path over TCP (as serial links are read too): a
/// stand-in autopilot writes the telemetry mix into a `tcpout:` link's
/// stream as fast as TCP lets it; the bridge reads it in pieces through the
/// stream scanner and folds it. TCP pushes back instead of dropping, so
/// every frame sent is ingested and the rate is the receiver's.
fn live_tcp_ingest(options: &Options) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seconds = (options.seconds / 4.0).clamp(1.0, 5.0);
    runtime.block_on(async {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let link_address = format!("tcpout:{address}");
        let (link, accepted) = tokio::join!(
            firmware_bridge::link::MavlinkLink::open(&link_address, None),
            listener.accept()
        );
        let link = link.unwrap();
        let (mut autopilot, _) = accepted.unwrap();
        let stop = CancellationToken::new();
        let (frames_tx, frames_rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(link.clone().receive(frames_tx, stop.clone()));
        let ingested = fold_and_count(frames_rx);
        let second = telemetry_second();
        let mut tally = InputTally::default();
        let per_second =
            firmware_bridge::mavlink_input::read_frames(&second, &mut tally).len() as u64;
        let block: Vec<u8> = std::iter::repeat_n(second.as_slice(), 64)
            .flatten()
            .copied()
            .collect();
        let started = Instant::now();
        let mut sent = 0u64;
        while started.elapsed().as_secs_f64() < seconds {
            autopilot.write_all(&block).await.unwrap();
            sent += 64 * per_second;
        }
        // Wait for the receiver to catch up with what TCP has accepted.
        while ingested.load(std::sync::atomic::Ordering::Relaxed) < sent
            && started.elapsed().as_secs_f64() < seconds * 3.0
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let ingested = ingested.load(std::sync::atomic::Ordering::Relaxed);
        stop.cancel();
        println!(
            "Live TCP ingest, one link ({elapsed:.1} s, a byte stream read in pieces, sender and bridge on 2 threads)"
        );
        println!(
            "  ingested {:.0} frames/s ({ingested} of {sent} sent; refused bytes {})",
            ingested as f64 / elapsed,
            link.input_tally().skipped_bytes
        );
    });
}

fn cpu_per_drone(options: &Options) {
    let drones = options.drones.clamp(1, 250);
    let control = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-control")
        .enable_all()
        .build()
        .unwrap();
    let bridges = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(BRIDGE_THREAD)
        .enable_all()
        .build()
        .unwrap();
    let shutdown = CancellationToken::new();
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port()).unwrap();
    let names: Vec<String> = (0..drones).map(|i| format!("bench-{i}")).collect();
    let addresses = control.block_on(async {
        let sim = Simulator::bind(SimConfig {
            vehicles: names
                .iter()
                .enumerate()
                .map(|(i, name)| VehicleSpec {
                    name: name.clone(),
                    // One simulated fleet: each vehicle its own system id.
                    system_id: u8::try_from(i + 1).expect("at most 250 drones"),
                    home: GeoPoint {
                        lat_deg: 30.505 + i as f64 * 0.001,
                        lon_deg: 114.398,
                        alt_msl_m: 20.0,
                    },
                    port: 0,
                })
                .collect(),
            speedup: 1.0,
            bind_ip: "127.0.0.1".parse().unwrap(),
        })
        .await
        .unwrap();
        let addresses = sim.addresses();
        tokio::spawn(sim.run(shutdown.clone()));
        addresses
    });
    // Count the telemetry that arrives, to show the rate was delivered.
    let received: std::sync::Arc<std::sync::Mutex<HashMap<String, u64>>> = Default::default();
    let counter = received.clone();
    let url = broker.url();
    control.spawn(async move {
        let (host, port) = url
            .strip_prefix("mqtt://")
            .unwrap()
            .rsplit_once(':')
            .unwrap();
        let mut options = rumqttc::MqttOptions::new("bench-counter", host, port.parse().unwrap());
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = rumqttc::AsyncClient::new(options, 64);
        client
            .subscribe("skyshare/v1/drones/+/telemetry", rumqttc::QoS::AtMostOnce)
            .await
            .unwrap();
        while let Ok(event) = eventloop.poll().await {
            if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish)) = event {
                *counter.lock().unwrap().entry(publish.topic).or_default() += 1;
            }
        }
    });
    for (name, address) in &addresses {
        let config = BridgeConfig {
            telemetry_hz: options.telemetry_hz,
            ..BridgeConfig::new(name.clone(), format!("udpout:{address}"), broker.url())
        };
        bridges.spawn(firmware_bridge::run(config, shutdown.clone()));
    }
    // Let every bridge find its vehicle and settle before measuring.
    std::thread::sleep(Duration::from_secs(3));
    received.lock().unwrap().clear();
    let cpu_before = thread_cpu_seconds(BRIDGE_THREAD);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(options.seconds));
    let cpu = thread_cpu_seconds(BRIDGE_THREAD) - cpu_before;
    let wall = started.elapsed().as_secs_f64();
    let delivered: u64 = received.lock().unwrap().values().sum();
    println!(
        "CPU per drone: {drones} bridges, telemetry {} Hz, simulated vehicles at real time, {wall:.1} s",
        options.telemetry_hz
    );
    println!(
        "  bridge threads used {:.2} CPU-s (10 ms resolution): {:.3}% of one core per drone ({:.2}% for all {drones})",
        cpu,
        cpu / wall / drones as f64 * 100.0,
        cpu / wall * 100.0
    );
    println!(
        "  telemetry delivered: {:.1} samples/s per drone (asked {} Hz)",
        delivered as f64 / wall / drones as f64,
        options.telemetry_hz
    );
    shutdown.cancel();
    // Give the bridges a moment to say goodbye; the runtimes end with main.
    std::thread::sleep(Duration::from_millis(500));
    bridges.shutdown_timeout(Duration::from_secs(2));
    control.shutdown_timeout(Duration::from_secs(1));
}

fn main() {
    let options = options();
    ingest_figures(&options);
    live_udp_ingest(&options);
    live_tcp_ingest(&options);
    cpu_per_drone(&options);
}
