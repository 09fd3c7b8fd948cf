//! MAVLink links other than the simulator's udpout: the bridge listening on
//! UDP (`udpin:`), and connecting over TCP (`tcpout:`) to an autopilot that
//! goes away and comes back, which the bridge must notice and reconnect to.
//! The autopilot here is a stand-in that only sends PX4 HEARTBEATs.

mod common;

use common::*;

use std::time::Duration;

use firmware_bridge::BridgeConfig;
use mavlink::dialects::ardupilotmega::*;
use mavlink::MavHeader;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

fn heartbeat_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    let header = MavHeader {
        system_id: 1,
        component_id: 1,
        sequence: 0,
    };
    let heartbeat = MavMessage::HEARTBEAT(HEARTBEAT_DATA {
        custom_mode: 0x0304_0000,
        mavtype: MavType::MAV_TYPE_QUADROTOR,
        autopilot: MavAutopilot::MAV_AUTOPILOT_PX4,
        base_mode: MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
        system_status: MavState::MAV_STATE_STANDBY,
        mavlink_version: 3,
    });
    mavlink::write_v2_msg(&mut bytes, header, &heartbeat).unwrap();
    bytes
}

async fn link_reported(
    heard: &mut tokio::sync::mpsc::UnboundedReceiver<Heard>,
    up: bool,
    what: &str,
) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Heard::Status(status)) = heard.recv().await {
                if status.autopilot_link == up && status.autopilot.as_deref() == Some("px4") {
                    return;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// A TCP autopilot on `port` that sends a HEARTBEAT every 200 ms to each
/// client until `stop`.
fn serve_heartbeats(listener: tokio::net::TcpListener, stop: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => accepted.unwrap(),
            };
            let stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return, // drops the stream: link cut
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                    if stream.write_all(&heartbeat_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tcp_autopilot_that_goes_away_and_returns_is_reconnected() {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
        .expect("broker starts");
    let (_client, mut heard) = test_client(&broker.url()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let autopilot = CancellationToken::new();
    serve_heartbeats(listener, autopilot.clone());

    let shutdown = CancellationToken::new();
    let config = BridgeConfig::new(DRONE, format!("tcpout:{address}"), broker.url());
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
    link_reported(&mut heard, true, "link up over TCP").await;

    // The autopilot's end closes (it rebooted, the cable came out).
    autopilot.cancel();
    link_reported(&mut heard, false, "link lost").await;

    // It comes back on the same port; the bridge keeps retrying and finds it.
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    serve_heartbeats(listener, shutdown.clone());
    link_reported(&mut heard, true, "link regained over TCP").await;

    shutdown.cancel();
    tokio::time::timeout(WAIT, bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_listens_for_an_autopilot_on_udp() {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
        .expect("broker starts");
    let (_client, mut heard) = test_client(&broker.url()).await;
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shutdown = CancellationToken::new();
    let config = BridgeConfig::new(DRONE, format!("udpin:127.0.0.1:{port}"), broker.url());
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));

    let autopilot = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sender = shutdown.clone();
    tokio::spawn(async move {
        while !sender.is_cancelled() {
            let _ = autopilot
                .send_to(&heartbeat_bytes(), ("127.0.0.1", port))
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    link_reported(&mut heard, true, "link up over udpin").await;

    shutdown.cancel();
    tokio::time::timeout(WAIT, bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
}

#[cfg(feature = "signing")]
fn signed_heartbeat(signing: &mavlink::SigningData) -> Vec<u8> {
    let MavMessage::HEARTBEAT(data) = ({
        let bytes = heartbeat_bytes();
        let mut tally = firmware_bridge::mavlink_input::InputTally::default();
        firmware_bridge::mavlink_input::read_frames(&bytes, &mut tally)
            .remove(0)
            .1
    }) else {
        unreachable!()
    };
    let mut bytes = Vec::new();
    let header = MavHeader {
        system_id: 1,
        component_id: 1,
        sequence: 0,
    };
    mavlink::write_v2_msg_signed(
        &mut bytes,
        header,
        &MavMessage::HEARTBEAT(data),
        Some(signing),
    )
    .unwrap();
    bytes
}

#[cfg(feature = "signing")]
/// Runs a bridge with `bridge_key` on udpin against an autopilot signing
/// with `autopilot_key`; returns whether the link came up within `wait`,
/// and the first datagram the bridge sent to the autopilot, if any.
async fn signed_link(
    bridge_key: [u8; 32],
    autopilot_key: [u8; 32],
    wait: Duration,
) -> (bool, Option<Vec<u8>>) {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
        .expect("broker starts");
    let (_client, mut heard) = test_client(&broker.url()).await;
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shutdown = CancellationToken::new();
    let config = BridgeConfig {
        mavlink_signing: Some(firmware_bridge::link::LinkSigning {
            secret_key: bridge_key,
            accept_unsigned: false,
        }),
        ..BridgeConfig::new(DRONE, format!("udpin:127.0.0.1:{port}"), broker.url())
    };
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
    let autopilot = std::sync::Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let sender = autopilot.clone();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let signing = mavlink::SigningData::from_config(mavlink::SigningConfig::new(
            autopilot_key,
            0,
            true,
            false,
        ));
        while !stop.is_cancelled() {
            let _ = sender
                .send_to(&signed_heartbeat(&signing), ("127.0.0.1", port))
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let link_up = tokio::time::timeout(wait, async {
        loop {
            if let Some(Heard::Status(status)) = heard.recv().await {
                if status.autopilot_link {
                    return;
                }
            }
        }
    })
    .await
    .is_ok();
    // The bridge heartbeats at 1 Hz to whoever last sent it an accepted frame.
    let mut buffer = vec![0u8; 512];
    let received =
        tokio::time::timeout(Duration::from_millis(2500), autopilot.recv(&mut buffer)).await;
    let datagram = match received {
        Ok(Ok(len)) => Some(buffer[..len].to_vec()),
        _ => None,
    };
    shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, bridge).await;
    (link_up, datagram)
}

#[cfg(feature = "signing")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_link_accepts_only_frames_signed_with_the_shared_key() {
    let key = [7u8; 32];
    let (link_up, sent) = signed_link(key, key, WAIT).await;
    assert!(link_up, "frames signed with the shared key are accepted");
    let sent = sent.expect("the bridge's HEARTBEAT reaches the autopilot");
    assert_eq!(sent[0], 0xFD, "MAVLink 2");
    assert_eq!(
        sent[2] & 0x01,
        0x01,
        "the bridge signs what it sends: {sent:02x?}"
    );

    // An impostor signing with another key is never heard as the autopilot
    // (five of its HEARTBEATs go by within the wait).
    let (link_up, sent) = signed_link(key, [9u8; 32], Duration::from_millis(1500)).await;
    assert!(!link_up, "frames signed with another key must be dropped");
    assert_eq!(
        sent, None,
        "nor does the bridge start talking to the impostor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noise_on_a_udp_link_is_counted_and_the_frames_around_it_still_arrive() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let link = firmware_bridge::link::MavlinkLink::open(&format!("udpin:127.0.0.1:{port}"), None)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(link.clone().receive(frames_tx, stop.clone()));

    let mut datagram = b"\xfd\x09noise".to_vec(); // 7 bytes, a false start
    datagram.extend_from_slice(&heartbeat_bytes());
    datagram.extend_from_slice(&[0xfe, 0x00, 0x01]); // 3 bytes, a torn MAVLink 1 frame
    let sender = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sender
        .send_to(&datagram, ("127.0.0.1", port))
        .await
        .unwrap();
    sender
        .send_to(b"only noise", ("127.0.0.1", port))
        .await
        .unwrap();
    sender
        .send_to(&heartbeat_bytes(), ("127.0.0.1", port))
        .await
        .unwrap();

    for _ in 0..2 {
        let (header, message) = tokio::time::timeout(WAIT, frames_rx.recv())
            .await
            .expect("frame arrives")
            .unwrap();
        assert_eq!(header.system_id, 1);
        assert!(matches!(message, MavMessage::HEARTBEAT(_)));
    }
    let tally = link.input_tally();
    assert_eq!(tally.frames, 2);
    assert_eq!(tally.skipped_bytes, 7 + 3 + 10, "{tally:?}");
    stop.cancel();
}

/// What a noisy byte-stream link carries in this test: line noise, a
/// HEARTBEAT, a false MAVLink 2 start, a HEARTBEAT with a broken CRC, a
/// HEARTBEAT, a torn MAVLink 1 start and a last HEARTBEAT; with the number of
/// bytes that belong to no valid frame.
fn noisy_stream() -> (Vec<u8>, u64) {
    let heartbeat = heartbeat_bytes();
    let mut corrupted = heartbeat.clone();
    let crc_at = corrupted.len() - 2;
    corrupted[crc_at] ^= 0xff;
    let mut bytes = b"AT+noise\r\n".to_vec();
    bytes.extend_from_slice(&heartbeat);
    bytes.extend_from_slice(&[0xfd, 0x30, 0x00, 0x17]);
    bytes.extend_from_slice(&corrupted);
    bytes.extend_from_slice(&heartbeat);
    bytes.extend_from_slice(&[0xfe, 0x09, 0x00]);
    bytes.extend_from_slice(&heartbeat);
    let refused = (bytes.len() - 3 * heartbeat.len()) as u64;
    (bytes, refused)
}

/// Writes `bytes` in uneven pieces with pauses, so frames and noise are
/// split across the reader's reads as on a real serial line.
async fn trickle(writer: &mut (impl tokio::io::AsyncWrite + Unpin), bytes: &[u8]) {
    for piece in bytes.chunks(13) {
        writer.write_all(piece).await.unwrap();
        writer.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Receives on `link` until three HEARTBEATs came, then checks the count of
/// refused bytes.
async fn three_heartbeats_and_the_noise_counted(
    link: std::sync::Arc<firmware_bridge::link::MavlinkLink>,
    frames_rx: &mut tokio::sync::mpsc::Receiver<(MavHeader, MavMessage)>,
    refused: u64,
) {
    for _ in 0..3 {
        let (header, message) = tokio::time::timeout(WAIT, frames_rx.recv())
            .await
            .expect("every valid frame arrives despite the noise around it")
            .expect("the link keeps running");
        assert_eq!(header.system_id, 1);
        assert!(matches!(message, MavMessage::HEARTBEAT(_)));
    }
    let tally = link.input_tally();
    assert_eq!(tally.frames, 3, "{tally:?}");
    assert_eq!(tally.skipped_bytes, refused, "{tally:?}");
    assert_eq!(tally.unparsable_frames, 0, "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_bad_crc_frames_on_a_tcp_link_are_counted_and_good_frames_still_arrive() {
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
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::channel(16);
    let receiver = tokio::spawn(link.clone().receive(frames_tx, stop.clone()));

    let (bytes, refused) = noisy_stream();
    trickle(&mut autopilot, &bytes).await;
    three_heartbeats_and_the_noise_counted(link.clone(), &mut frames_rx, refused).await;

    // A frame torn by the connection closing is counted too, and the link
    // keeps going (it reconnects) rather than failing.
    autopilot.write_all(&heartbeat_bytes()[..6]).await.unwrap();
    drop(autopilot);
    tokio::time::timeout(WAIT, async {
        while link.input_tally().skipped_bytes < refused + 6 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the torn frame is counted when the stream ends");
    assert!(!receiver.is_finished(), "the receiver survives the break");
    stop.cancel();
    tokio::time::timeout(WAIT, receiver)
        .await
        .expect("receiver stops")
        .unwrap();
}

#[cfg(feature = "serial")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_bad_crc_frames_on_a_serial_link_are_counted_and_good_frames_still_arrive() {
    use tokio_serial::SerialPort;
    // A pseudo-terminal pair stands in for the UART: the test writes on the
    // master side, the bridge opens the other end by its path.
    let (mut autopilot, port) = match tokio_serial::SerialStream::pair() {
        Ok(pair) => pair,
        Err(error) => {
            eprintln!("skipping: no pseudo-terminal on this machine ({error})");
            return;
        }
    };
    let path = port.name().expect("a pty has a path");
    let link = firmware_bridge::link::MavlinkLink::open(&format!("serial:{path}:57600"), None)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(link.clone().receive(frames_tx, stop.clone()));

    let (bytes, refused) = noisy_stream();
    trickle(&mut autopilot, &bytes).await;
    three_heartbeats_and_the_noise_counted(link, &mut frames_rx, refused).await;
    stop.cancel();
    drop(port);
}

/// Connects to the bridge's `tcpin` port once it listens, and sends PX4
/// HEARTBEATs every 200 ms until `stop` (which closes the connection).
async fn connect_and_send_heartbeats(port: u16, stop: CancellationToken) {
    let mut stream = tokio::time::timeout(WAIT, async {
        loop {
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(stream) => return stream,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("the bridge listens on its tcpin port");
    tokio::spawn(async move {
        loop {
            if stream.write_all(&heartbeat_bytes()).await.is_err() {
                return;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_listens_on_tcp_and_takes_the_autopilot_back_after_a_break() {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
        .expect("broker starts");
    let (_client, mut heard) = test_client(&broker.url()).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shutdown = CancellationToken::new();
    let config = BridgeConfig::new(DRONE, format!("tcpin:127.0.0.1:{port}"), broker.url());
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));

    let first = CancellationToken::new();
    connect_and_send_heartbeats(port, first.clone()).await;
    link_reported(&mut heard, true, "link up over tcpin").await;
    first.cancel();
    link_reported(&mut heard, false, "link lost when the autopilot hangs up").await;
    // The bridge kept its listener: the autopilot connects again.
    connect_and_send_heartbeats(port, shutdown.clone()).await;
    link_reported(&mut heard, true, "link regained over tcpin").await;

    shutdown.cancel();
    tokio::time::timeout(WAIT, bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_started_before_its_tcp_autopilot_goes_online_and_finds_it_later() {
    let broker = broker::EmbeddedBroker::start(broker::BrokerConfig::loopback_any_port())
        .expect("broker starts");
    let (_client, mut heard) = test_client(&broker.url()).await;
    // A port nobody listens on yet: the autopilot is still booting.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let shutdown = CancellationToken::new();
    let config = BridgeConfig::new(DRONE, format!("tcpout:{address}"), broker.url());
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Heard::Status(status)) = heard.recv().await {
                if status.state == wire::Availability::Online && !status.autopilot_link {
                    return;
                }
            }
        }
    })
    .await
    .expect("the bridge is online, saying its autopilot link is down");
    assert!(!bridge.is_finished(), "an absent autopilot is not fatal");

    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    serve_heartbeats(listener, shutdown.clone());
    link_reported(&mut heard, true, "link up once the autopilot listens").await;

    shutdown.cancel();
    tokio::time::timeout(WAIT, bridge)
        .await
        .expect("bridge stops")
        .unwrap()
        .unwrap();
}

#[cfg(feature = "signing")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_tcp_link_refuses_and_counts_frames_signed_with_another_key() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let link_address = format!("tcpout:{address}");
    let key = [7u8; 32];
    let (link, accepted) = tokio::join!(
        firmware_bridge::link::MavlinkLink::open(
            &link_address,
            Some(firmware_bridge::link::LinkSigning {
                secret_key: key,
                accept_unsigned: false,
            })
        ),
        listener.accept()
    );
    let link = link.unwrap();
    let (mut autopilot, _) = accepted.unwrap();
    let stop = CancellationToken::new();
    let (frames_tx, mut frames_rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(link.clone().receive(frames_tx, stop.clone()));

    let signer =
        |key| mavlink::SigningData::from_config(mavlink::SigningConfig::new(key, 0, true, false));
    let impostor = signer([9u8; 32]);
    let genuine = signer(key);
    let mut bytes = signed_heartbeat(&impostor);
    bytes.extend_from_slice(&heartbeat_bytes()); // unsigned
    bytes.extend_from_slice(&signed_heartbeat(&genuine));
    trickle(&mut autopilot, &bytes).await;

    let (header, _) = tokio::time::timeout(WAIT, frames_rx.recv())
        .await
        .expect("the genuinely signed frame arrives")
        .unwrap();
    assert_eq!(header.system_id, 1);
    let tally = link.input_tally();
    assert_eq!(
        (tally.frames, tally.rejected_frames, tally.skipped_bytes),
        (1, 2, 0),
        "{tally:?}"
    );
    assert!(frames_rx.try_recv().is_err(), "nothing else got through");

    // What the bridge sends on the stream is signed too.
    link.send(&firmware_bridge::link::bridge_heartbeat())
        .await
        .unwrap();
    let mut sent = [0u8; 64];
    use tokio::io::AsyncReadExt;
    let len = tokio::time::timeout(WAIT, autopilot.read(&mut sent))
        .await
        .unwrap()
        .unwrap();
    assert!(
        len > 3 && sent[0] == 0xFD && sent[2] & 0x01 == 0x01,
        "{:02x?}",
        &sent[..len]
    );
    stop.cancel();
}
