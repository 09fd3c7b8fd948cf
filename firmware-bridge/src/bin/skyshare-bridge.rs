//! `skyshare-bridge`: one bridge for one autopilot. Parses flags, sets up
//! logging and runs the library until Ctrl-C.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use firmware_bridge::{BridgeConfig, DEFAULT_MQTT_KEEP_ALIVE, DEFAULT_TELEMETRY_HZ};
use tokio_util::sync::CancellationToken;

/// Connects one MAVLink autopilot to skyshare over MQTT.
#[derive(Debug, Parser)]
#[command(name = "skyshare-bridge", version)]
struct Args {
    /// MAVLink address: udpout:HOST:PORT, udpin:IP:PORT or tcpout:HOST:PORT.
    #[arg(long)]
    mavlink: String,
    /// MQTT broker, mqtt://HOST:PORT.
    #[arg(long)]
    mqtt: String,
    /// Drone id used in topics (letters, digits, '-', '_', '.').
    #[arg(long)]
    drone: String,
    /// Telemetry publish rate in Hz.
    #[arg(long, default_value_t = DEFAULT_TELEMETRY_HZ)]
    telemetry_hz: f64,
    /// MQTT keep-alive in seconds; the Last Will fires ~1.5x after this.
    #[arg(long, default_value_t = DEFAULT_MQTT_KEEP_ALIVE.as_secs())]
    keep_alive_s: u64,
    /// Directory where undelivered events and replies are kept, so that a
    /// restart during a broker outage loses none.
    #[arg(long, default_value = "skyshare-bridge-spool")]
    spool_dir: std::path::PathBuf,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let config = BridgeConfig {
        drone_id: args.drone,
        mavlink: args.mavlink,
        mqtt_url: args.mqtt,
        telemetry_hz: args.telemetry_hz,
        mqtt_keep_alive: Duration::from_secs(args.keep_alive_s),
        spool_dir: Some(args.spool_dir),
    };
    config.validate()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let on_ctrl_c = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("Ctrl-C: shutting down");
            }
            on_ctrl_c.cancel();
        });
        firmware_bridge::run(config, shutdown).await
    })?;
    Ok(())
}
