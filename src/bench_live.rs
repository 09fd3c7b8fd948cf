//! `skyshare bench live`: the live stream under a fleet's load. A
//! dispatcher (without a broker) is fed every drone's telemetry at the
//! given rate, the real sampler and hub publish the fleet, and WebSocket
//! clients over loopback TCP count what reaches them and how old it is.
//! Then slow clients join (one reading a few messages a second, one not
//! reading at all, both with a small TCP window) and the healthy clients
//! are measured again: their rate and latency must not change.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::api::{router_on, Limits};
use crate::auth::{random_token, token_hash};
use crate::dispatcher::{Dispatcher, DispatcherConfig, DroneRecord};
use crate::live::LiveHub;
use crate::planning::Airframe;
use crate::region::Region;
use crate::store::{Store, UserRow};

#[derive(Debug, Clone)]
pub struct LiveBenchOptions {
    pub drones: usize,
    /// Telemetry messages per drone per second.
    pub hz: f64,
    /// Healthy clients (half pilots, half department users).
    pub clients: usize,
    /// Measured seconds of each phase.
    pub seconds: u64,
    /// What the slow client reads per second.
    pub slow_reads_per_s: u64,
}

/// Which phase a message arrived in.
const WARMUP: u8 = 0;
const HEALTHY_ONLY: u8 = 1;
const WITH_SLOW: u8 = 2;
const DONE: u8 = 3;

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    ts_ms: Option<i64>,
    missed: Option<u64>,
}

/// What one client saw in one phase.
#[derive(Debug, Default, Clone)]
struct Seen {
    drone_messages: u64,
    /// Milliseconds from the telemetry's time stamp to arrival.
    ages_ms: Vec<u32>,
    lagged: u64,
    missed: u64,
    /// How the server ended the connection, if it did (a stalled client
    /// misses the write deadline and is disconnected).
    closed: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct ClientLog {
    phases: [Seen; 2],
}

/// A live WebSocket; `small_window` keeps the client's receive buffer to a
/// few kilobytes, as on a poor mobile link, so what it does not read backs
/// up at the server at once instead of in megabytes of loopback buffers.
async fn connect(
    url: &str,
    token: &str,
    small_window: bool,
) -> anyhow::Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    if !small_window {
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .context("opening the live WebSocket")?;
        return Ok(ws);
    }
    let addr = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .context("a ws:// URL")?
        .parse()?;
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(16 * 1024)?;
    let stream = socket.connect(addr).await?;
    let (ws, _) =
        tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .context("opening the live WebSocket")?;
    Ok(ws)
}

async fn client(
    url: String,
    token: String,
    phase: Arc<AtomicU8>,
    pause_per_message: Option<Duration>,
) -> anyhow::Result<ClientLog> {
    let mut ws = connect(&url, &token, pause_per_message.is_some()).await?;
    let mut log = ClientLog::default();
    while let Some(message) = ws.next().await {
        let now = phase.load(Ordering::Relaxed);
        if now == DONE {
            break;
        }
        let Message::Text(text) = message? else {
            continue;
        };
        if let Some(pause) = pause_per_message {
            tokio::time::sleep(pause).await;
        }
        if now != HEALTHY_ONLY && now != WITH_SLOW {
            continue;
        }
        let seen = &mut log.phases[usize::from(now - 1)];
        let frame: Frame = serde_json::from_str(&text)?;
        match frame.kind.as_str() {
            "drone" => {
                seen.drone_messages += 1;
                if let Some(ts) = frame.ts_ms {
                    let age = chrono::Utc::now().timestamp_millis() - ts;
                    seen.ages_ms.push(age.clamp(0, i64::from(u32::MAX)) as u32);
                }
            }
            "lagged" => {
                seen.lagged += 1;
                seen.missed += frame.missed.unwrap_or(0);
            }
            _ => {}
        }
    }
    Ok(log)
}

/// A client that connects and then reads nothing until the end.
async fn stalled(url: String, token: String, phase: Arc<AtomicU8>) -> anyhow::Result<Seen> {
    let mut ws = connect(&url, &token, true).await?;
    while phase.load(Ordering::Relaxed) != DONE {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What was waiting for it: how much it was told it missed.
    let mut seen = Seen::default();
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(next) = tokio::time::timeout_at(until, ws.next()).await {
        let text = match next {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                seen.closed = Some(frame.map_or_else(|| "closed".into(), |f| f.reason.to_string()));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(error)) => {
                seen.closed = Some(format!("connection dropped ({error})"));
                break;
            }
            None => {
                seen.closed = Some("connection dropped".into());
                break;
            }
        };
        let frame: Frame = serde_json::from_str(&text)?;
        match frame.kind.as_str() {
            "drone" => seen.drone_messages += 1,
            "lagged" => {
                seen.lagged += 1;
                seen.missed += frame.missed.unwrap_or(0);
            }
            _ => {}
        }
    }
    Ok(seen)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Feeds every drone's telemetry at `hz`, spread over each period, with the
/// time stamp of its sending.
async fn feed(dispatcher: Arc<Dispatcher>, drones: Vec<String>, hz: f64, phase: Arc<AtomicU8>) {
    let region = Region::demo();
    let dock = region.docks[0].position;
    let period = Duration::from_secs_f64(1.0 / hz);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n: u64 = 0;
    while phase.load(Ordering::Relaxed) != DONE {
        tick.tick().await;
        n += 1;
        for (i, drone) in drones.iter().enumerate() {
            let t = wire::Telemetry {
                v: wire::VERSION,
                drone: drone.clone(),
                ts_ms: chrono::Utc::now().timestamp_millis(),
                lat_deg: dock.y() + (i % 100) as f64 * 1e-4,
                lon_deg: dock.x() + (i / 100) as f64 * 1e-4 + (n % 10) as f64 * 1e-6,
                alt_msl_m: 25.0,
                alt_rel_m: 0.0,
                vel_north_mps: 0.0,
                vel_east_mps: 0.0,
                vel_down_mps: 0.0,
                heading_deg: Some(0.0),
                battery_pct: Some(90.0),
                battery_v: Some(24.0),
                mode: wire::FlightMode::Hold,
                armed: false,
                landed: wire::LandedState::OnGround,
                mission_seq: None,
                mission_total: None,
            };
            let topic = wire::Topic::new(drone, wire::Channel::Telemetry).name();
            dispatcher.ingest(&topic, &wire::encode(&t)).await;
        }
    }
}

async fn user(
    store: &Store,
    id: &str,
    role: &str,
    department: Option<&str>,
) -> anyhow::Result<String> {
    store
        .upsert_user(&UserRow {
            id: id.into(),
            name: id.into(),
            role: role.into(),
            department_id: department.map(str::to_owned),
            created_at_ms: 0,
        })
        .await?;
    let token = random_token();
    store.add_user_token(&token_hash(&token), id, 0).await?;
    Ok(token)
}

struct Summary {
    per_client_rate: Vec<f64>,
    ages: Vec<u32>,
    lagged: u64,
    missed: u64,
}

fn summarise(logs: &[ClientLog], phase: usize, seconds: f64) -> Summary {
    let mut ages: Vec<u32> = logs
        .iter()
        .flat_map(|l| l.phases[phase].ages_ms.iter().copied())
        .collect();
    ages.sort_unstable();
    Summary {
        per_client_rate: logs
            .iter()
            .map(|l| l.phases[phase].drone_messages as f64 / seconds)
            .collect(),
        ages,
        lagged: logs.iter().map(|l| l.phases[phase].lagged).sum(),
        missed: logs.iter().map(|l| l.phases[phase].missed).sum(),
    }
}

fn print_row(name: &str, s: &Summary) {
    let min = s
        .per_client_rate
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let mean = s.per_client_rate.iter().sum::<f64>() / s.per_client_rate.len().max(1) as f64;
    println!(
        "{name:<26} {min:>8.0} {mean:>8.0}   {:>5} {:>5} {:>5} {:>5}   {:>6} {:>8}",
        percentile(&s.ages, 50.0),
        percentile(&s.ages, 95.0),
        percentile(&s.ages, 99.0),
        s.ages.last().copied().unwrap_or(0),
        s.lagged,
        s.missed,
    );
}

pub async fn run(o: LiveBenchOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        o.drones > 0 && o.clients > 0,
        "need at least one drone and one client"
    );
    anyhow::ensure!(
        o.hz > 0.0 && o.hz.is_finite(),
        "--hz must be a positive number"
    );
    let store = Store::connect("sqlite::memory:").await?;
    store.upsert_department("parks", "Parks").await?;
    let pilot = user(&store, "bench-pilot", "pilot", None).await?;
    let department = user(&store, "bench-parks", "department", Some("parks")).await?;
    let region = Region::demo();
    let drones: Vec<String> = (0..o.drones).map(|i| format!("bench-{i:04}")).collect();
    let dispatcher = Dispatcher::new(
        DispatcherConfig {
            // Never connected: telemetry is fed in directly.
            mqtt_url: "mqtt://127.0.0.1:9".into(),
            drones: drones
                .iter()
                .map(|id| DroneRecord {
                    id: id.clone(),
                    dock_id: region.docks[0].id.clone(),
                    sensors: vec!["visible".into()],
                })
                .collect(),
            region,
            airframe: Airframe::default(),
            telemetry_stale_after: Duration::from_secs(5),
            command_reply_limit: Duration::from_secs(5),
            mqtt_client_id: None,
        },
        store,
    )?;
    let hub = LiveHub::start(&dispatcher);
    let limits = Limits {
        // The clients are this benchmark; requests are not what is measured.
        burst: 1e6,
        per_second: 1e6,
        ..Limits::default()
    };
    let app = router_on(dispatcher.clone(), limits, hub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/api/v1/live/ws", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let phase = Arc::new(AtomicU8::new(WARMUP));
    let feeder = tokio::spawn(feed(dispatcher.clone(), drones, o.hz, phase.clone()));
    let mut healthy = Vec::new();
    for i in 0..o.clients {
        let token = if i % 2 == 0 { &pilot } else { &department };
        healthy.push(tokio::spawn(client(
            url.clone(),
            token.clone(),
            phase.clone(),
            None,
        )));
    }
    let expected = o.drones as f64 / crate::live::PERIOD.as_secs_f64();
    println!(
        "live stream: {} drones, telemetry at {} Hz, sampled every {} ms: {expected:.0} drone messages/s to each client; {} healthy clients ({} pilots, {} department users), {} s per phase (release build: {})",
        o.drones,
        o.hz,
        crate::live::PERIOD.as_millis(),
        o.clients,
        o.clients.div_ceil(2),
        o.clients / 2,
        o.seconds,
        !cfg!(debug_assertions)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    phase.store(HEALTHY_ONLY, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    let healthy_s = started.elapsed().as_secs_f64();

    // The slow ones join.
    phase.store(WARMUP, Ordering::Relaxed);
    let pause = Duration::from_secs_f64(1.0 / o.slow_reads_per_s.max(1) as f64);
    let slow = tokio::spawn(client(
        url.clone(),
        pilot.clone(),
        phase.clone(),
        Some(pause),
    ));
    let stuck = tokio::spawn(stalled(url.clone(), pilot.clone(), phase.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    phase.store(WITH_SLOW, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(o.seconds)).await;
    let slow_s = started.elapsed().as_secs_f64();
    phase.store(DONE, Ordering::Relaxed);
    let fed = dispatcher.instruments().telemetry_rate(Instant::now());

    let mut logs = Vec::new();
    for h in healthy {
        logs.push(h.await??);
    }
    let slow = slow.await??;
    let stuck = stuck.await??;
    feeder.abort();
    server.abort();

    println!(
        "telemetry fed to the dispatcher: {fed:.0} messages/s (asked {:.0})",
        o.drones as f64 * o.hz
    );
    println!(
        "{:<26} {:>8} {:>8}   {:>5} {:>5} {:>5} {:>5}   {:>6} {:>8}",
        "healthy clients", "min/s", "mean/s", "p50", "p95", "p99", "max", "lagged", "missed"
    );
    println!(
        "{:<26} {:>17}   {:>23}",
        "", "(drone messages)", "(age in ms, telemetry to client)"
    );
    print_row("alone", &summarise(&logs, 0, healthy_s));
    print_row("beside a slow and a stalled", &summarise(&logs, 1, slow_s));
    let s = &slow.phases[1];
    println!(
        "slow client (reads {}/s): {:.0} drone messages/s, told {} times it lagged, {} messages skipped",
        o.slow_reads_per_s,
        s.drone_messages as f64 / slow_s,
        s.lagged,
        s.missed
    );
    println!(
        "stalled client (read nothing for {:.0} s): then {} drone messages and {} lagged notices for {} skipped; {}",
        slow_s + 2.0,
        stuck.drone_messages,
        stuck.lagged,
        stuck.missed,
        stuck
            .closed
            .as_deref()
            .map_or_else(|| "still connected".to_owned(), |how| format!("disconnected by the server: {how}"))
    );
    Ok(())
}
