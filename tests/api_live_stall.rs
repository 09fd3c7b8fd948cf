//! A stalled live client never slows a healthy one: one WebSocket client
//! stops reading (its socket buffers kept tiny, so the server's writes to
//! it block at once) while ten thousand drone messages are published in
//! bursts of a thousand, a fleet's worth. The healthy client gets every one,
//! in order, never told it lagged, and stays connected; the stalled one
//! misses its write deadline and is disconnected (its subscription freed),
//! so it costs the server a bounded buffer for a bounded time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use skyshare::api::{router_on, Limits};
use skyshare::auth::{random_token, token_hash};
use skyshare::dispatcher::{Dispatcher, DispatcherConfig, DroneView};
use skyshare::live::{LiveEvent, LiveHub};
use skyshare::planning::Airframe;
use skyshare::region::Region;
use skyshare::store::{Store, UserRow};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const BURSTS: i64 = 10;
/// Short, to keep the test fast; the default is 10 s.
const DEADLINE: Duration = Duration::from_secs(2);
const FLEET: i64 = 1000;

fn drone(seq: i64) -> LiveEvent {
    let mut telemetry = common_telemetry();
    telemetry.ts_ms = seq;
    LiveEvent::Drone {
        view: Arc::new(DroneView {
            id: format!("d{}", seq % FLEET),
            dock_id: "dock".into(),
            sensors: vec!["visible".into()],
            online: true,
            telemetry: Some(telemetry),
            task_id: None,
            task_ids: Vec::new(),
            alerts: Vec::new(),
            seconds_since_telemetry: Some(0.1),
            taken_over: None,
        }),
        owners: Arc::new(HashMap::new()),
    }
}

fn common_telemetry() -> wire::Telemetry {
    wire::Telemetry {
        v: wire::VERSION,
        drone: "d".into(),
        ts_ms: 0,
        lat_deg: 30.5,
        lon_deg: 114.4,
        alt_msl_m: 65.0,
        alt_rel_m: 40.0,
        vel_north_mps: 0.0,
        vel_east_mps: 5.0,
        vel_down_mps: 0.0,
        heading_deg: Some(90.0),
        battery_pct: Some(80.0),
        battery_v: Some(24.0),
        mode: wire::FlightMode::Mission,
        armed: true,
        landed: wire::LandedState::InAir,
        mission_seq: Some(3),
        mission_total: Some(9),
    }
}

/// The API on a listener with small send buffers (accepted sockets
/// inherit them), its live hub, and a pilot's token.
async fn api() -> (
    axum::Router,
    tokio::net::TcpListener,
    Arc<LiveHub>,
    String,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("live.sqlite").display()
    );
    let store = Store::connect(&url).await.unwrap();
    store
        .upsert_user(&UserRow {
            id: "pilot".into(),
            name: "pilot".into(),
            role: "pilot".into(),
            department_id: None,
            created_at_ms: 0,
        })
        .await
        .unwrap();
    let token = random_token();
    store
        .add_user_token(&token_hash(&token), "pilot", 0)
        .await
        .unwrap();
    let dispatcher = Dispatcher::new(
        DispatcherConfig {
            mqtt_url: "mqtt://127.0.0.1:9".into(),
            region: Region::demo(),
            airframe: Airframe::default(),
            drones: Vec::new(),
            telemetry_stale_after: Duration::from_secs(5),
            command_reply_limit: Duration::from_secs(5),
            mqtt_client_id: None,
        },
        store,
    )
    .unwrap();
    let hub = LiveHub::start(&dispatcher);
    let limits = Limits {
        live_write_deadline: DEADLINE,
        ..Limits::default()
    };
    let app = router_on(dispatcher, limits, hub.clone());
    // Small send buffers on the server's sockets (accepted sockets inherit
    // the listener's), so writing to a client that does not read blocks
    // after a few kilobytes.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(4096).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(64).unwrap();

    (app, listener, hub, token, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_live_client_never_delays_a_healthy_one() {
    let (app, listener, hub, token, _dir) = api().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let request = || {
        let mut r = format!("ws://{addr}/api/v1/live/ws")
            .into_client_request()
            .unwrap();
        r.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    };
    let tiny = tokio::net::TcpSocket::new_v4().unwrap();
    tiny.set_recv_buffer_size(4096).unwrap();
    let stream = tiny.connect(addr).await.unwrap();
    let (mut stalled, _) = tokio_tungstenite::client_async(request(), stream)
        .await
        .unwrap();
    let (mut healthy, _) = tokio_tungstenite::connect_async(request()).await.unwrap();

    let reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < (BURSTS * FLEET) as usize {
            let Message::Text(text) = healthy.next().await.unwrap().unwrap() else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["type"], "drone", "the healthy client was held up: {v}");
            seqs.push(v["ts_ms"].as_i64().unwrap());
        }
        (seqs, tokio::time::Instant::now(), healthy)
    });
    // Both subscribed before the first burst.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hub.subscribers(), 2);
    for burst in 0..BURSTS {
        for i in 0..FLEET {
            hub.publish(drone(burst * FLEET + i));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let published = tokio::time::Instant::now();
    let (seqs, done, mut healthy) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the healthy client did not get every message")
        .unwrap();
    assert_eq!(seqs, (0..BURSTS * FLEET).collect::<Vec<_>>());
    // It kept up while the other client read nothing: everything had
    // arrived by the end of the last pause or soon after (a hub waiting on
    // the stalled client would never have delivered the rest).
    assert!(
        done.saturating_duration_since(published) < Duration::from_secs(10),
        "healthy client finished {:?} after the last burst",
        done.saturating_duration_since(published)
    );

    // The stalled client missed its deadline long ago (the bursts took
    // 2.5 s): the server dropped it, and its subscription with it.
    let deadline = tokio::time::Instant::now() + DEADLINE * 3;
    while hub.subscribers() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled client is still subscribed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The healthy one is still served.
    hub.publish(drone(BURSTS * FLEET));
    let next = loop {
        let Message::Text(text) = tokio::time::timeout(Duration::from_secs(5), healthy.next())
            .await
            .expect("the healthy client was cut off")
            .unwrap()
            .unwrap()
        else {
            continue;
        };
        break serde_json::from_str::<Value>(&text).unwrap();
    };
    assert_eq!(next["ts_ms"], BURSTS * FLEET, "{next}");

    // Reading again, the stalled client finds what its buffers held, then
    // the end of the connection (with the close reason when the close frame
    // got into its buffers before the server gave up on it).
    let mut texts = 0;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled.next().await {
                Some(Ok(Message::Text(_))) => texts += 1,
                Some(Ok(Message::Close(frame))) => break frame.map(|f| f.reason.to_string()),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => break None,
            }
        }
    })
    .await
    .expect("the stalled client's connection was never closed");
    if let Some(reason) = ended {
        assert!(reason.starts_with("too slow"), "{reason}");
    }
    assert!(
        texts < (BURSTS * FLEET) as usize,
        "the stalled client got everything ({texts}): it never stalled"
    );
}

/// Server-Sent Events have no frames to time out: the server pulls the
/// stream only while the socket takes data. The connection's write
/// deadline (`DeadlineListener`) drops a stalled SSE client, and its
/// subscription with it, while a healthy SSE client keeps every message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_event_stream_client_is_dropped_by_the_write_deadline() {
    use tokio::io::AsyncWriteExt;

    let (app, listener, hub, token, _dir) = api().await;
    let addr = listener.local_addr().unwrap();
    let listener = skyshare::api::DeadlineListener::new(listener, DEADLINE);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let tiny = tokio::net::TcpSocket::new_v4().unwrap();
    tiny.set_recv_buffer_size(4096).unwrap();
    let mut stalled = tiny.connect(addr).await.unwrap();
    stalled
        .write_all(
            format!("GET /api/v1/live/sse HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut healthy = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/live/sse"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(healthy.status(), 200);
    let total = (BURSTS * FLEET) as usize;
    let reader = tokio::spawn(async move {
        let (mut text, mut drones, mut lagged) = (String::new(), 0, 0);
        // One more than the bursts: the message sent after the stalled
        // client is gone.
        while drones < total + 1 {
            let chunk = healthy.chunk().await.unwrap().expect("stream ended");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = text.find("\n\n") {
                let event: String = text.drain(..end + 2).collect();
                if event.contains("event: drone") {
                    drones += 1;
                } else if event.contains("event: lagged") {
                    lagged += 1;
                }
            }
        }
        (drones, lagged)
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while hub.subscribers() != 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not both subscribed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for burst in 0..BURSTS {
        for i in 0..FLEET {
            hub.publish(drone(burst * FLEET + i));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let deadline = tokio::time::Instant::now() + DEADLINE * 3;
    while hub.subscribers() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled SSE client is still subscribed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hub.publish(drone(BURSTS * FLEET));
    let (drones, lagged) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the healthy SSE client did not get every message")
        .unwrap();
    assert_eq!((drones, lagged), (total + 1, 0));
    drop(stalled);
}
