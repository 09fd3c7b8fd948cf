//! The `skyshare` command: parses arguments and hands over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use skyshare::demo::{self, DemoConfig};
use skyshare::dispatcher::{Dispatcher, DispatcherConfig, DroneRecord};
use skyshare::planning::Airframe;
use skyshare::region::Region;
use skyshare::routing::benchmark::{DispatchBench, Peer};
use skyshare::store::Store;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "skyshare",
    version,
    about = "Shared-drone dispatch for a city district"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Everything in one process: embedded broker, SQLite, simulated fleet, API.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value_t = 6)]
        drones: usize,
        /// Simulated time runs this many times faster than real time.
        #[arg(long, default_value_t = 1.0)]
        speedup: f64,
        #[arg(long, default_value = "skyshare-data")]
        data_dir: PathBuf,
        /// Region GeoJSON; default: the bundled Optics Valley demo region.
        #[arg(long)]
        region: Option<PathBuf>,
        /// Do not submit the sample tasks.
        #[arg(long)]
        no_samples: bool,
    },
    /// The dispatcher alone, against a real broker and database; the drones'
    /// bridges run on their companion computers.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
        mqtt: String,
        #[arg(long, default_value = "sqlite://skyshare.sqlite?mode=rwc")]
        database: String,
        #[arg(long)]
        region: Option<PathBuf>,
        /// A drone as ID:DOCK:SENSOR[+SENSOR...], e.g. square-1:dock-square:visible+thermal. Repeatable.
        #[arg(long = "drone", required = true)]
        drones: Vec<String>,
        /// The dispatcher's MQTT client id. Its session is persistent: the
        /// broker queues events while the dispatcher restarts.
        #[arg(long, default_value = "skyshare-dispatcher")]
        mqtt_client_id: String,
        /// The design wind every flight is planned for, m/s (energy per leg
        /// from head- and crosswind; survey legs shortened for it).
        #[arg(long, default_value_t = 0.0)]
        wind_mps: f64,
        /// Where that wind blows from, degrees true.
        #[arg(long, default_value_t = 0.0)]
        wind_from_deg: f64,
        /// A drone out on a flight unheard of for this long is declared
        /// lost and its remaining work re-queued, seconds.
        #[arg(long, default_value_t = 60)]
        lost_after_s: u64,
    },
    /// Expose a remote drone to a local ground station (QGroundControl,
    /// MAVProxy) through the MQTT tunnel its bridge opens with --gcs-tunnel.
    GcsTunnel {
        #[arg(long)]
        drone: String,
        /// The ground station's MAVLink UDP address.
        #[arg(long, default_value = "127.0.0.1:14550")]
        udp: SocketAddr,
        #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
        mqtt: String,
        #[arg(long)]
        mqtt_username: Option<String>,
        /// File holding the MQTT password (not on the command line, where
        /// other users could read it).
        #[arg(long)]
        mqtt_password_file: Option<PathBuf>,
        /// CA certificate (PEM) for mqtts:// brokers.
        #[arg(long)]
        mqtt_ca: Option<PathBuf>,
    },
    /// Zone files: import into the store, check a route against zones.
    Zones {
        #[command(subcommand)]
        command: skyshare::zones_cli::ZonesCommand,
    },
    /// Benchmarks that print figures beside the named peer's (../shared/bench).
    Bench {
        #[command(subcommand)]
        command: BenchCmd,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Plan the shared dispatch instance (../shared/bench/dispatch_instance.py)
    /// and, with --peer-script, run OR-Tools' routing solver on it first.
    Dispatch {
        /// The instance file, vrp_instance.json.
        instance: PathBuf,
        /// skyshare's time budgets, in milliseconds. Repeatable.
        #[arg(long = "budget-ms", default_values_t = [100u64, 6000])]
        budgets_ms: Vec<u64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// peer_ortools.py, to run the peer in the same session.
        #[arg(long)]
        peer_script: Option<PathBuf>,
        /// A Python with `ortools` installed.
        #[arg(long, default_value = "python3")]
        peer_python: PathBuf,
        /// Guided-local-search budgets for the peer, in seconds.
        #[arg(long = "peer-gls-s", default_values_t = [60u64])]
        peer_gls_s: Vec<u64>,
        /// Also plan generated instances up to 2,000 tasks and 200 drones.
        #[arg(long)]
        scaling: bool,
        /// Annealing temperatures (metres of objective) at the start and the end.
        #[arg(long, num_args = 2, value_names = ["START", "END"])]
        temperature: Option<Vec<f64>>,
    },
    /// The live stream under a fleet's telemetry: delivered rate and
    /// latency per client, alone and beside a slow and a stalled client.
    Live {
        #[arg(long, default_value_t = 1000)]
        drones: usize,
        /// Telemetry messages per drone per second.
        #[arg(long, default_value_t = 2.0)]
        hz: f64,
        /// Healthy WebSocket clients (half pilots, half department users).
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Measured seconds of each phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Messages the slow client reads per second.
        #[arg(long = "slow-reads-per-s", default_value_t = 20)]
        slow_reads_per_s: u64,
    },
    /// Zones vs routes, segments and points on the geofence instance.
    Airspace {
        polys: PathBuf,
        routes: PathBuf,
        /// 1M points as little-endian f64 pairs (the peer's, for equal hits).
        #[arg(long)]
        points: Option<PathBuf>,
        /// Python with shapely, to run the peer in the same run.
        #[arg(long)]
        peer_python: Option<PathBuf>,
        /// Path to peer_shapely.py.
        #[arg(long)]
        peer_script: Option<PathBuf>,
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Passes over the routes for the one-route figures. Their p99 is
        /// over every sample of every pass: at 20 passes (20,000 samples on
        /// the shared instance, about 0.3 s of checks) one interruption of
        /// the machine moves it far less than at 5, where a few
        /// milliseconds lost to the host are a whole percent of samples.
        #[arg(long, default_value_t = 20)]
        route_reps: usize,
        /// Only the one-route checks (for profiling them).
        #[arg(long)]
        route_only: bool,
    },
}

fn load_region(path: Option<&PathBuf>) -> anyhow::Result<Region> {
    match path {
        None => Ok(Region::demo()),
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Region::from_geojson(&text).with_context(|| format!("in {}", p.display()))
        }
    }
}

fn parse_drone(spec: &str) -> anyhow::Result<DroneRecord> {
    let mut parts = spec.split(':');
    let (Some(id), Some(dock), Some(sensors), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!("--drone `{spec}` must be ID:DOCK:SENSOR[+SENSOR...]");
    };
    Ok(DroneRecord {
        id: id.into(),
        dock_id: dock.into(),
        sensors: sensors.split('+').map(str::to_owned).collect(),
    })
}

async fn ctrl_c(shutdown: CancellationToken) {
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Cmd::Demo {
            listen,
            drones,
            speedup,
            data_dir,
            region,
            no_samples,
        } => {
            let running = demo::start(DemoConfig {
                listen,
                drones,
                speedup,
                data_dir,
                mqtt_url: None,
                database_url: None,
                region: load_region(region.as_ref())?,
                submit_sample_tasks: !no_samples,
            })
            .await?;
            println!(
                "skyshare demo: {} drones over {}",
                running.drones.len(),
                running.mqtt_url
            );
            println!("  console http://{}/", running.http_addr);
            println!("  API     http://{}/api/v1/fleet", running.http_addr);
            for (department, token) in &running.tokens {
                println!("  token   {department:<20} {token}");
            }
            println!("  token   {:<20} {}", "pilot", running.pilot_token);
            println!("  token   {:<20} {}", "admin", running.admin_token);
            println!("  docs    http://{}/api/v1/docs", running.http_addr);
            println!(
                "Try:\n  curl -H 'Authorization: Bearer {}' http://{}/api/v1/tasks",
                running.tokens[0].1, running.http_addr
            );
            tokio::signal::ctrl_c().await.ok();
            running.stop().await;
            Ok(())
        }
        Cmd::Serve {
            listen,
            mqtt,
            database,
            region,
            drones,
            mqtt_client_id,
            wind_mps,
            wind_from_deg,
            lost_after_s,
        } => {
            anyhow::ensure!(
                wind_mps.is_finite() && (0.0..=30.0).contains(&wind_mps),
                "--wind-mps must be 0..30, got {wind_mps}"
            );
            anyhow::ensure!(
                wind_from_deg.is_finite(),
                "--wind-from-deg must be a number of degrees"
            );
            anyhow::ensure!(lost_after_s >= 5, "--lost-after-s must be at least 5");
            let drones = drones
                .iter()
                .map(|d| parse_drone(d))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let store = Store::connect(&database)
                .await
                .with_context(|| format!("opening {database}"))?;
            let region = load_region(region.as_ref())?;
            let dispatcher = Dispatcher::new(
                DispatcherConfig {
                    mqtt_url: mqtt,
                    region: region.clone(),
                    airframe: Airframe::default(),
                    drones,
                    telemetry_stale_after: Duration::from_secs(5),
                    command_reply_limit: Duration::from_secs(60),
                    mqtt_client_id: Some(mqtt_client_id),
                },
                store,
            )?;
            dispatcher.set_policy(skyshare::dispatcher::DispatchPolicy {
                wind: skyshare::planning::Wind {
                    from_deg: wind_from_deg.rem_euclid(360.0),
                    speed_mps: wind_mps,
                },
                lost_after: Duration::from_secs(lost_after_s),
            });
            // Stored zones and restrictions are in force before the API answers.
            dispatcher.restore().await?;
            let shutdown = CancellationToken::new();
            tokio::spawn(ctrl_c(shutdown.clone()));
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            println!("skyshare serve: API on http://{}", listener.local_addr()?);
            let live_region = Arc::clone(&dispatcher);
            let app = skyshare::api::router(Arc::clone(&dispatcher)).merge(
                skyshare::console::router_with_source(move || live_region.region_now()),
            );
            let stop = shutdown.clone();
            // A peer that reads nothing for the deadline is dropped (stalled
            // live streams included).
            let listener = skyshare::api::DeadlineListener::new(
                listener,
                skyshare::api::Limits::default().live_write_deadline,
            );
            let http = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await
            });
            dispatcher.run(shutdown).await?;
            http.await??;
            Ok(())
        }
        Cmd::Zones { command } => skyshare::zones_cli::run(command).await,
        Cmd::GcsTunnel {
            drone,
            udp,
            mqtt,
            mqtt_username,
            mqtt_password_file,
            mqtt_ca,
        } => {
            let credentials = match (mqtt_username, mqtt_password_file) {
                (Some(user), Some(file)) => {
                    let password = std::fs::read_to_string(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    Some((user, password.trim_end().to_owned()))
                }
                (None, None) => None,
                _ => anyhow::bail!("--mqtt-username and --mqtt-password-file go together"),
            };
            let shutdown = CancellationToken::new();
            tokio::spawn(ctrl_c(shutdown.clone()));
            println!("skyshare gcs-tunnel: drone {drone} <-> udp {udp} via {mqtt}");
            firmware_bridge::tunnel::run_ground_side(
                firmware_bridge::tunnel::GroundSideConfig {
                    mqtt_url: mqtt,
                    drone,
                    ground_station: udp,
                    security: firmware_bridge::mqtt_session::MqttSecurity {
                        credentials,
                        ca_file: mqtt_ca,
                        client_cert: None,
                    },
                },
                shutdown,
            )
            .await?;
            Ok(())
        }
        Cmd::Bench { command } => run_bench(command).await,
    }
}

async fn run_bench(bench: BenchCmd) -> anyhow::Result<()> {
    match bench {
        BenchCmd::Dispatch {
            instance,
            budgets_ms,
            seed,
            peer_script,
            peer_python,
            peer_gls_s,
            scaling,
            temperature,
        } => {
            let report = skyshare::routing::benchmark::run(&DispatchBench {
                instance,
                budgets: budgets_ms.into_iter().map(Duration::from_millis).collect(),
                seed,
                peer: peer_script.map(|script| Peer {
                    python: peer_python,
                    script,
                    guided_seconds: peer_gls_s,
                }),
                scaling,
                temperature: temperature.map(|t| (t[0], t[1])),
            })?;
            print!("{report}");
            Ok(())
        }
        BenchCmd::Airspace {
            polys,
            routes,
            points,
            peer_python,
            peer_script,
            reps,
            route_reps,
            route_only,
        } => skyshare::bench_airspace::run(skyshare::bench_airspace::BenchOptions {
            polys: &polys,
            routes: &routes,
            points: points.as_deref(),
            peer_python: peer_python.as_deref(),
            peer_script: peer_script.as_deref(),
            reps,
            route_reps,
            route_only,
        }),
        BenchCmd::Live {
            drones,
            hz,
            clients,
            seconds,
            slow_reads_per_s,
        } => {
            skyshare::bench_live::run(skyshare::bench_live::LiveBenchOptions {
                drones,
                hz,
                clients,
                seconds,
                slow_reads_per_s,
            })
            .await
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rumqttd=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(Cli::parse())) {
        Ok(()) => ExitCode::SUCCESS,
        // A refused route is an answer, not a failure to give one: 1, so
        // that scripts tell it from bad input or a broken run (2).
        Err(error) if error.is::<skyshare::zones_cli::RouteRefused>() => {
            eprintln!("skyshare: {error:#}");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("skyshare: {error:#}");
            ExitCode::from(2)
        }
    }
}
