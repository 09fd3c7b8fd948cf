//! `skyshare-sim-bench`: how many simulated drones one core holds at real
//! time on real UDP sockets. Every drone binds its own port and streams to a
//! listening peer (a plain UDP socket on its own thread, standing in for a
//! fleet bridge) that counts what arrives. A drone count is held when the
//! peer receives at least `--tolerance` of the position and status messages
//! the drones should send in the measured window. The simulator runs on a
//! current-thread runtime, i.e. one core.
//!
//! Run: `cargo run --release -p simulator --bin skyshare-sim-bench`
//! (or `--drones N` for one size).

use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use simulator::{GeoPoint, SimConfig, SimOptions, Simulator, StreamSet, VehicleSpec};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(name = "skyshare-sim-bench", version)]
struct Args {
    /// Measure this many drones only (otherwise: double from --start up to --max).
    #[arg(long)]
    drones: Option<u32>,
    #[arg(long, default_value_t = 1000)]
    start: u32,
    #[arg(long, default_value_t = 32_000)]
    max: u32,
    /// Measured seconds per size (after a warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Fraction of the expected messages that must arrive to count as held.
    #[arg(long, default_value_t = 0.98)]
    tolerance: f64,
    /// `fleet` (4 Hz position, 1 Hz HEARTBEAT and SYS_STATUS) or `full` (PX4's set).
    #[arg(long, default_value = "fleet")]
    streams: StreamSet,
    /// Pack each drone's due stream messages into one datagram.
    #[arg(long)]
    batch: bool,
}

const GLOBAL_POSITION_INT_ID: u32 = 33;
const HEARTBEAT_ID: u32 = 0;
const SYS_STATUS_ID: u32 = 1;

/// What the listening peer counted.
#[derive(Default)]
struct Counts {
    position: AtomicU64,
    heartbeat: AtomicU64,
    sys_status: AtomicU64,
    datagrams: AtomicU64,
}

impl Counts {
    fn reset(&self) {
        for counter in [
            &self.position,
            &self.heartbeat,
            &self.sys_status,
            &self.datagrams,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// The listening peer: counts MAVLink 2 frames by message id, reading only
/// the header (a bridge would decode; counting keeps the peer from being the
/// bottleneck being measured).
fn listen(socket: StdUdpSocket, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let mut buffer = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok(length) = socket.recv(&mut buffer) else {
            continue;
        };
        counts.datagrams.fetch_add(1, Ordering::Relaxed);
        let mut offset = 0;
        while offset + 12 <= length && buffer[offset] == 0xFD {
            let payload = usize::from(buffer[offset + 1]);
            let id = u32::from_le_bytes([
                buffer[offset + 7],
                buffer[offset + 8],
                buffer[offset + 9],
                0,
            ]);
            match id {
                GLOBAL_POSITION_INT_ID => counts.position.fetch_add(1, Ordering::Relaxed),
                HEARTBEAT_ID => counts.heartbeat.fetch_add(1, Ordering::Relaxed),
                SYS_STATUS_ID => counts.sys_status.fetch_add(1, Ordering::Relaxed),
                _ => 0,
            };
            offset += 12 + payload;
        }
    }
}

struct Outcome {
    drones: u32,
    position_ratio: f64,
    heartbeat_ratio: f64,
    sys_status_ratio: f64,
    datagrams_per_s: f64,
    bind_s: f64,
    rss_mb: Option<f64>,
}

impl Outcome {
    fn held(&self, tolerance: f64) -> bool {
        self.position_ratio >= tolerance
            && self.heartbeat_ratio >= tolerance
            && self.sys_status_ratio >= tolerance
    }
}

fn measure(args: &Args, drones: u32) -> anyhow::Result<Outcome> {
    let peer = listening_socket().context("binding the listening peer")?;
    peer.set_read_timeout(Some(Duration::from_millis(100)))?;
    let peer_address: SocketAddr = peer.local_addr()?;
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let listener = {
        let (counts, stop) = (counts.clone(), stop.clone());
        std::thread::spawn(move || listen(peer, counts, stop))
    };
    // One core for the whole fleet.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let centre = GeoPoint {
        lat_deg: 30.505,
        lon_deg: 114.398,
        alt_msl_m: 20.0,
    };
    let columns = f64::from(drones).sqrt().ceil() as u32;
    let config = SimConfig {
        vehicles: (0..drones)
            .map(|index| VehicleSpec {
                name: format!("drone-{}", index + 1),
                system_id: (index % 255 + 1) as u8,
                home: centre.offset_m(
                    f64::from(index % columns) * 4.0,
                    f64::from(index / columns) * 4.0,
                ),
                port: 0,
            })
            .collect(),
        speedup: 1.0,
        bind_ip: "127.0.0.1".parse()?,
    };
    let options = SimOptions {
        shared_system_ids: true,
        streams: args.streams,
        batch_streams: args.batch,
        ..SimOptions::default()
    };
    let (warmup, seconds) = (args.warmup, args.seconds);
    let outcome = runtime.block_on(async {
        let bind_started = Instant::now();
        let mut simulator = Simulator::bind_with(config, options).await?;
        let bind_s = bind_started.elapsed().as_secs_f64();
        simulator.stream_to(peer_address);
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(simulator.run(shutdown.clone()));
        tokio::time::sleep(Duration::from_secs(warmup)).await;
        counts.reset();
        let window_started = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let window_s = window_started.elapsed().as_secs_f64();
        let snapshot = [
            counts.position.load(Ordering::Relaxed),
            counts.heartbeat.load(Ordering::Relaxed),
            counts.sys_status.load(Ordering::Relaxed),
            counts.datagrams.load(Ordering::Relaxed),
        ];
        let rss_mb = resident_mb();
        shutdown.cancel();
        running.await.context("simulator task")??;
        let expected_1hz = f64::from(drones) * window_s;
        anyhow::Ok(Outcome {
            drones,
            position_ratio: snapshot[0] as f64 / (4.0 * expected_1hz),
            heartbeat_ratio: snapshot[1] as f64 / expected_1hz,
            sys_status_ratio: snapshot[2] as f64 / expected_1hz,
            datagrams_per_s: snapshot[3] as f64 / window_s,
            bind_s,
            rss_mb,
        })
    });
    stop.store(true, Ordering::Relaxed);
    listener.join().ok();
    outcome
}

/// A UDP socket with a receive buffer deep enough (4 MiB, the usual Linux
/// rmem_max) that a briefly descheduled peer does not drop what the fleet sent.
fn listening_socket() -> std::io::Result<StdUdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_recv_buffer_size(4 << 20)?;
    let address: SocketAddr = "127.0.0.1:0".parse().expect("literal address");
    socket.bind(&address.into())?;
    Ok(socket.into())
}

/// Resident memory of this process, from /proc (Linux only).
fn resident_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn run(args: Args) -> anyhow::Result<()> {
    let sizes: Vec<u32> = match args.drones {
        Some(drones) => vec![drones],
        None => {
            let mut sizes = Vec::new();
            let mut drones = args.start.max(1);
            while drones <= args.max {
                sizes.push(drones);
                drones = drones.saturating_mul(2);
            }
            sizes
        }
    };
    println!(
        "skyshare-sim-bench: one core (current-thread runtime), real UDP sockets, streams={:?}, batched={}, {} s measured after {} s warm-up, held = at least {:.0}% of expected messages",
        args.streams,
        args.batch,
        args.seconds,
        args.warmup,
        args.tolerance * 100.0
    );
    println!(
        "{:>7} {:>10} {:>10} {:>10} {:>13} {:>8} {:>8} {:>5}",
        "drones", "position", "heartbeat", "sys_status", "datagrams/s", "bind_s", "rss_MB", "held"
    );
    let mut largest_held = None;
    for drones in sizes {
        let outcome = match measure(&args, drones) {
            Ok(outcome) => outcome,
            Err(error) => {
                // Usually the open-file limit (one socket per drone): say so
                // and keep the sizes measured so far.
                println!("{drones:>7} cannot run: {error:#} (raise `ulimit -n`?)");
                break;
            }
        };
        let held = outcome.held(args.tolerance);
        println!(
            "{:>7} {:>9.1}% {:>9.1}% {:>9.1}% {:>13.0} {:>8.2} {:>8} {:>5}",
            outcome.drones,
            outcome.position_ratio * 100.0,
            outcome.heartbeat_ratio * 100.0,
            outcome.sys_status_ratio * 100.0,
            outcome.datagrams_per_s,
            outcome.bind_s,
            outcome
                .rss_mb
                .map_or_else(|| "?".to_string(), |mb| format!("{mb:.0}")),
            if held { "yes" } else { "no" }
        );
        if held {
            largest_held = Some(drones);
        } else if args.drones.is_none() {
            break;
        }
    }
    match largest_held {
        Some(drones) => println!("largest fleet held at real time on one core: {drones} drones"),
        None => println!("no measured fleet size was held at real time"),
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("skyshare-sim-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
