//! `skyshare-bridge`: one bridge for one autopilot. Parses flags, sets up
//! logging and runs the library until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use firmware_bridge::link::LinkSigning;
use firmware_bridge::mqtt_session::MqttSecurity;
use firmware_bridge::{BridgeConfig, DEFAULT_MQTT_KEEP_ALIVE, DEFAULT_TELEMETRY_HZ};
use tokio_util::sync::CancellationToken;

/// Connects one MAVLink autopilot to skyshare over MQTT.
#[derive(Debug, Parser)]
#[command(name = "skyshare-bridge", version)]
struct Args {
    /// MAVLink address: udpout:HOST:PORT, udpin:IP:PORT, tcpout:HOST:PORT,
    /// tcpin:IP:PORT or (built with `--features serial`) serial:DEVICE:BAUD.
    #[arg(long)]
    mavlink: String,
    /// MQTT broker, mqtt://HOST:PORT or mqtts://HOST:PORT (TLS).
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
    /// MQTT username (the drone id, under the example Mosquitto ACL).
    #[arg(long, requires = "mqtt_password_file")]
    mqtt_username: Option<String>,
    /// File holding the MQTT password (kept off the command line, where
    /// any local user could read it in the process list).
    #[arg(long, requires = "mqtt_username")]
    mqtt_password_file: Option<PathBuf>,
    /// CA certificate (PEM) that signed the broker's certificate; required
    /// with mqtts://.
    #[arg(long)]
    mqtt_ca: Option<PathBuf>,
    /// Client certificate (PEM), for brokers that authenticate by certificate.
    #[arg(long, requires = "mqtt_client_key")]
    mqtt_client_cert: Option<PathBuf>,
    /// Private key (PEM) of the client certificate.
    #[arg(long, requires = "mqtt_client_cert")]
    mqtt_client_key: Option<PathBuf>,
    /// Carry raw MAVLink over MQTT (…/mavlink/up and …/mavlink/down) so a
    /// remote ground station can reach the autopilot via `skyshare gcs-tunnel`.
    #[arg(long)]
    gcs_tunnel: bool,
    /// File holding the MAVLink 2 signing key shared with the autopilot
    /// (64 hex digits); frames to the autopilot are then signed, and
    /// unsigned or wrongly signed frames from it dropped.
    #[arg(long)]
    mavlink_signing_key_file: Option<PathBuf>,
    /// With signing on, still accept unsigned frames (while rolling out keys).
    #[arg(long, requires = "mavlink_signing_key_file")]
    mavlink_accept_unsigned: bool,
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
    let credentials = match (args.mqtt_username, &args.mqtt_password_file) {
        (Some(user), Some(file)) => {
            let password = std::fs::read_to_string(file).with_context(|| {
                format!("cannot read the MQTT password file {}", file.display())
            })?;
            Some((user, password.trim_end_matches(['\r', '\n']).to_owned()))
        }
        _ => None,
    };
    let mavlink_signing = match &args.mavlink_signing_key_file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the signing key file {}", file.display()))?;
            let secret_key = LinkSigning::key_from_hex(&text)
                .map_err(|reason| anyhow::anyhow!("{}: {reason}", file.display()))?;
            Some(LinkSigning {
                secret_key,
                accept_unsigned: args.mavlink_accept_unsigned,
            })
        }
        None => None,
    };
    let config = BridgeConfig {
        drone_id: args.drone,
        mavlink: args.mavlink,
        mqtt_url: args.mqtt,
        telemetry_hz: args.telemetry_hz,
        mqtt_keep_alive: Duration::from_secs(args.keep_alive_s),
        spool_dir: Some(args.spool_dir),
        mqtt_security: MqttSecurity {
            credentials,
            ca_file: args.mqtt_ca,
            client_cert: args.mqtt_client_cert.zip(args.mqtt_client_key),
        },
        gcs_tunnel: args.gcs_tunnel,
        mavlink_signing,
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
