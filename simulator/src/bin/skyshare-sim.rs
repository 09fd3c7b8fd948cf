//! `skyshare-sim`: run a fleet of simulated multirotors (PX4 or ArduCopter
//! flavour) until Ctrl-C.

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use simulator::{
    AutopilotProfile, GeoPoint, Scenario, SimConfig, SimOptions, Simulator, StreamSet, VehicleSpec,
};
use tokio_util::sync::CancellationToken;

/// Software-in-the-loop fleet of MAVLink 2 multirotors (PX4 or ArduCopter), one UDP port each.
#[derive(Debug, Parser)]
#[command(name = "skyshare-sim", version)]
struct Args {
    /// Number of vehicles (more than 255 needs --shared-system-ids).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    drones: u16,
    /// Let system ids repeat (drone n gets (n - 1) % 255 + 1): each drone
    /// still has its own port, so tools that connect per port tell them apart.
    #[arg(long)]
    shared_system_ids: bool,
    /// Streams sent unasked: `full` (PX4's set) or `fleet` (4 Hz position,
    /// 1 Hz HEARTBEAT and SYS_STATUS).
    #[arg(long, default_value = "full")]
    streams: StreamSet,
    /// Pack the stream messages due together into one datagram.
    #[arg(long)]
    batch_streams: bool,
    /// UDP port of the first vehicle; vehicle i listens on base-port + i - 1.
    #[arg(long, default_value_t = 14_540)]
    base_port: u16,
    /// Simulated seconds per wall-clock second.
    #[arg(long, default_value_t = 1.0)]
    speedup: f64,
    /// Latitude of the fleet's home area, degrees north.
    #[arg(long, default_value_t = 30.505, allow_negative_numbers = true)]
    lat: f64,
    /// Longitude of the fleet's home area, degrees east.
    #[arg(long, default_value_t = 114.398, allow_negative_numbers = true)]
    lon: f64,
    /// Ground altitude of the home area, metres above mean sea level.
    #[arg(long, default_value_t = 20.0, allow_negative_numbers = true)]
    alt: f64,
    /// Also stream every vehicle to this ground station from the start
    /// (e.g. 127.0.0.1:14550 for QGroundControl). Repeatable.
    #[arg(long = "gcs")]
    gcs: Vec<std::net::SocketAddr>,
    /// Autopilot to behave as: `px4` or `ardupilot` (ArduCopter).
    #[arg(long, default_value = "px4")]
    autopilot: AutopilotProfile,
    /// Seed of all randomness (gusts, GPS noise, lossy links); same seed,
    /// same run. A scenario's own non-zero seed wins.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Standard deviation of the reported GPS position error, metres.
    #[arg(long, default_value_t = 0.5)]
    gps_noise_m: f64,
    /// JSON file of timed faults per vehicle (see docs/simulator.md).
    #[arg(long)]
    scenario: Option<std::path::PathBuf>,
    /// Address to bind the vehicles' sockets to.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
}

/// Docks sit on a grid this far apart, so vehicles never share a home.
const DOCK_SPACING_M: f64 = 4.0;

fn config_from(args: &Args) -> anyhow::Result<SimConfig> {
    let centre = GeoPoint {
        lat_deg: args.lat,
        lon_deg: args.lon,
        alt_msl_m: args.alt,
    };
    let columns = (f64::from(args.drones).sqrt().ceil() as u16).max(1);
    let vehicles = (1..=args.drones)
        .map(|number| {
            let index = number - 1;
            let column = f64::from(index % columns) - f64::from(columns - 1) / 2.0;
            let row = f64::from(index / columns) - f64::from(columns - 1) / 2.0;
            let port = args
                .base_port
                .checked_add(index)
                .context("base port + drones exceeds 65535")?;
            Ok(VehicleSpec {
                name: format!("drone-{number}"),
                system_id: if args.shared_system_ids {
                    ((number - 1) % 255 + 1) as u8
                } else {
                    u8::try_from(number).context("more than 255 drones need --shared-system-ids")?
                },
                home: centre.offset_m(column * DOCK_SPACING_M, row * DOCK_SPACING_M),
                port,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(SimConfig {
        vehicles,
        speedup: args.speedup,
        bind_ip: args.bind,
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::from_file(path)?,
        None => Scenario::default(),
    };
    let options = SimOptions {
        autopilot: args.autopilot,
        seed: args.seed,
        gps_noise_m: args.gps_noise_m,
        scenario,
        shared_system_ids: args.shared_system_ids,
        streams: args.streams,
        batch_streams: args.batch_streams,
        ..SimOptions::default()
    };
    let mut simulator = Simulator::bind_with(config_from(&args)?, options)
        .await
        .context("starting the simulator")?;
    for ground_station in &args.gcs {
        simulator.stream_to(*ground_station);
    }
    for (name, address) in simulator.addresses() {
        println!("{name} udp://{address}");
    }
    let shutdown = CancellationToken::new();
    let on_ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
        }
        on_ctrl_c.cancel();
    });
    simulator.run(shutdown).await.context("simulator failed")
}

fn main() -> ExitCode {
    // Logs go to stderr so stdout carries only the vehicle addresses.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("skyshare-sim: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("skyshare-sim: {error:#}");
            ExitCode::FAILURE
        }
    }
}
