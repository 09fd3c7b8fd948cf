//! Security end to end against a private Mosquitto process: the example ACL
//! (deploy/mosquitto/aclfile) confines a bridge to its own drone's topics,
//! a wrong password is refused, and the bridge talks MQTT over TLS.
//! Each test skips, saying why, when `mosquitto`, `mosquitto_passwd` or
//! `openssl` is not installed.

use std::path::{Path, PathBuf};

mod common;

use common::*;

use firmware_bridge::mqtt_session::MqttSecurity;
use firmware_bridge::BridgeConfig;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use simulator::{SimConfig, Simulator, VehicleSpec};
use tokio_util::sync::CancellationToken;
use wire::{Availability, Event, EventBody};

fn acl_example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/mosquitto/aclfile")
}

/// A password file with `users` (each user's password is "pw-{user}").
fn password_file(dir: &Path, users: &[&str]) -> Option<PathBuf> {
    let file = dir.join("passwd");
    for (index, user) in users.iter().enumerate() {
        let mut command = std::process::Command::new("mosquitto_passwd");
        if index == 0 {
            command.arg("-c");
        }
        let status = command
            .arg("-b")
            .arg(&file)
            .arg(user)
            .arg(format!("pw-{user}"))
            .status();
        if !matches!(status, Ok(status) if status.success()) {
            eprintln!("SKIPPED: mosquitto_passwd is not available ({status:?})");
            return None;
        }
    }
    Some(file)
}

async fn start_sim(shutdown: &CancellationToken) -> std::net::SocketAddr {
    let sim = Simulator::bind(SimConfig {
        vehicles: vec![VehicleSpec {
            name: DRONE.into(),
            system_id: 1,
            home: HOME,
            port: 0,
        }],
        speedup: 30.0,
        bind_ip: "127.0.0.1".parse().unwrap(),
    })
    .await
    .expect("simulator binds");
    let address = sim.addresses()[0].1;
    tokio::spawn(sim.run(shutdown.clone()));
    address
}

fn event_payload(drone: &str, id: &str) -> Vec<u8> {
    wire::encode(&Event {
        v: wire::VERSION,
        id: id.into(),
        drone: drone.into(),
        ts_ms: 0,
        body: EventBody::AutopilotLinkLost,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_acl_lets_a_bridge_publish_only_under_its_own_drone_id() {
    let dir = temp_dir("acl");
    std::fs::create_dir_all(&dir).unwrap();
    let Some(passwd) = password_file(&dir, &["skyshare-dispatcher", DRONE, "d2"]) else {
        return;
    };
    let config = format!(
        "allow_anonymous false\npassword_file {}\nacl_file {}\nlog_dest file {}/mosquitto.log\nlog_type all\n",
        passwd.display(),
        acl_example().display(),
        dir.display()
    );
    let Some(mosquitto) = Mosquitto::start(&dir, &config) else {
        return;
    };
    let (_dispatcher, mut heard) = test_client_with(
        &mosquitto.url(),
        "acl-dispatcher",
        true,
        Some(("skyshare-dispatcher", "pw-skyshare-dispatcher")),
    )
    .await;

    // The real bridge, logged in as its drone id, works under the ACL.
    let shutdown = CancellationToken::new();
    let vehicle = start_sim(&shutdown).await;
    let config = BridgeConfig {
        mqtt_security: MqttSecurity {
            credentials: Some((DRONE.into(), format!("pw-{DRONE}"))),
            ..MqttSecurity::default()
        },
        ..BridgeConfig::new(DRONE, format!("udpout:{vehicle}"), mosquitto.url())
    };
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Heard::Status(status)) = heard.recv().await {
                if status.state == Availability::Online && status.autopilot_link {
                    return;
                }
            }
        }
    })
    .await
    .expect("the bridge's status gets through the ACL");

    // A client holding d1's credentials tries d2's topics, then its own.
    let (host, port) = ("127.0.0.1", mosquitto.port);
    let mut options = MqttOptions::new("rogue-d1", host, port);
    options.set_credentials(DRONE, format!("pw-{DRONE}"));
    let (rogue, mut rogue_loop) = AsyncClient::new(options, 16);
    tokio::spawn(async move { while rogue_loop.poll().await.is_ok() {} });
    rogue
        .publish(
            "skyshare/v1/drones/d2/events",
            QoS::AtLeastOnce,
            false,
            event_payload("d2", "forged"),
        )
        .await
        .unwrap();
    rogue
        .publish(
            "skyshare/v1/drones/d2/status",
            QoS::AtLeastOnce,
            true,
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    rogue
        .publish(
            format!("skyshare/v1/drones/{DRONE}/events"),
            QoS::AtLeastOnce,
            false,
            event_payload(DRONE, "own-marker"),
        )
        .await
        .unwrap();
    // Publishes from one client arrive in order: anything d2-related the
    // broker let through would be heard before the marker.
    let mut before_marker = Vec::new();
    tokio::time::timeout(WAIT, async {
        loop {
            match heard.recv().await {
                Some(Heard::Event(event)) if event.id == "own-marker" => return,
                Some(other) => before_marker.push(other),
                None => panic!("test client gone"),
            }
        }
    })
    .await
    .expect("the drone's own event is delivered");
    let forged: Vec<_> = before_marker
        .iter()
        .filter(|heard| match heard {
            Heard::Event(event) => event.drone == "d2",
            Heard::Status(status) => status.drone == "d2",
            _ => false,
        })
        .collect();
    assert!(
        forged.is_empty(),
        "publishes under d2 got through: {forged:?}"
    );
    let log = std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default();
    assert!(
        log.contains("Denied PUBLISH from rogue-d1"),
        "the broker logs the refusal: {log}"
    );

    // A wrong password does not get in at all.
    let mut options = MqttOptions::new("wrong-password", host, port);
    options.set_credentials(DRONE, "not-the-password");
    let (_client, mut eventloop) = AsyncClient::new(options, 4);
    let refused = tokio::time::timeout(WAIT, eventloop.poll()).await.unwrap();
    assert!(
        matches!(refused, Err(rumqttc::ConnectionError::ConnectionRefused(_))),
        "{refused:?}"
    );

    shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, bridge).await;
    drop(mosquitto);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CA and a broker certificate for 127.0.0.1, made with the openssl CLI.
#[cfg(feature = "tls")]
fn make_certificates(dir: &Path) -> Option<()> {
    let run = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    std::fs::write(dir.join("san.cnf"), "subjectAltName=IP:127.0.0.1\n").ok()?;
    let made = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
        "-out",
        "broker.crt",
    ]);
    if !made {
        eprintln!("SKIPPED: openssl is not available to make test certificates");
        return None;
    }
    // Mosquitto may run as its own user: let it read the key.
    use std::os::unix::fs::PermissionsExt;
    for file in ["broker.key", "broker.crt", "ca.pem"] {
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644)).ok()?;
    }
    Some(())
}

#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_talks_mqtt_over_tls_and_refuses_an_unknown_broker() {
    let dir = temp_dir("tls");
    std::fs::create_dir_all(&dir).unwrap();
    if make_certificates(&dir).is_none() {
        return;
    }
    let Some(passwd) = password_file(&dir, &[DRONE]) else {
        return;
    };
    // A plain listener for the test's own client, a TLS one for the bridge.
    let plain_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "allow_anonymous true\nper_listener_settings true\ncertfile {dir}/broker.crt\nkeyfile {dir}/broker.key\n\
         password_file {passwd}\nlistener {plain_port} 127.0.0.1\nallow_anonymous true\n",
        dir = dir.display(),
        passwd = passwd.display()
    );
    let Some(mosquitto) = Mosquitto::start(&dir, &config) else {
        return;
    };
    let (_dispatcher, mut heard) = test_client(&format!("mqtt://127.0.0.1:{plain_port}")).await;

    let shutdown = CancellationToken::new();
    let vehicle = start_sim(&shutdown).await;
    let tls_url = format!("mqtts://127.0.0.1:{}", mosquitto.port);
    let config = BridgeConfig {
        mqtt_security: MqttSecurity {
            credentials: Some((DRONE.into(), format!("pw-{DRONE}"))),
            ca_file: Some(dir.join("ca.pem")),
            client_cert: None,
        },
        ..BridgeConfig::new(DRONE, format!("udpout:{vehicle}"), tls_url.clone())
    };
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Heard::Status(status)) = heard.recv().await {
                if status.state == Availability::Online && status.autopilot_link {
                    return;
                }
            }
        }
    })
    .await
    .expect("the bridge connects over TLS");
    shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, bridge).await;

    // Trusting another CA, the bridge must not accept this broker.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    make_certificates(&other).expect("openssl worked a moment ago");
    let mut options = MqttOptions::new("tls-distrust", "127.0.0.1", mosquitto.port);
    options.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Simple {
            ca: std::fs::read(other.join("ca.pem")).unwrap(),
            alpn: None,
            client_auth: None,
        },
    ));
    let (_client, mut eventloop) = AsyncClient::new(options, 4);
    let refused = tokio::time::timeout(WAIT, eventloop.poll()).await.unwrap();
    assert!(
        matches!(refused, Err(rumqttc::ConnectionError::Tls(_))),
        "{refused:?}"
    );
    drop(mosquitto);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client certificate for `common_name`, signed by the test CA that
/// [`make_certificates`] left in `dir`.
#[cfg(feature = "tls")]
fn make_client_certificate(dir: &Path, common_name: &str) -> Option<()> {
    let run = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let subject = format!("/CN={common_name}");
    // Extensions make it an X.509 v3 certificate, which rustls requires.
    std::fs::write(
        dir.join("client.cnf"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .ok()?;
    (run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        &subject,
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "client.cnf",
        "-out",
        "client.crt",
    ]))
    .then_some(())
}

#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_can_log_in_with_a_client_certificate_instead_of_a_password() {
    let dir = temp_dir("tls-client-cert");
    std::fs::create_dir_all(&dir).unwrap();
    if make_certificates(&dir).is_none() {
        return;
    }
    make_client_certificate(&dir, DRONE).expect("openssl made the CA a moment ago");
    // The TLS listener admits only clients with a certificate from the CA
    // and takes the certificate's name as the MQTT username (so an ACL keyed
    // on the drone id applies as with passwords); a plain one serves the
    // test's own client.
    let plain_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "per_listener_settings true\nallow_anonymous false\ncafile {dir}/ca.pem\n\
         certfile {dir}/broker.crt\nkeyfile {dir}/broker.key\nrequire_certificate true\n\
         use_identity_as_username true\nlog_dest file {dir}/mosquitto.log\nlog_type all\n\
         listener {plain_port} 127.0.0.1\nallow_anonymous true\n",
        dir = dir.display(),
    );
    let Some(mosquitto) = Mosquitto::start(&dir, &config) else {
        return;
    };
    let (_dispatcher, mut heard) = test_client(&format!("mqtt://127.0.0.1:{plain_port}")).await;

    let shutdown = CancellationToken::new();
    let vehicle = start_sim(&shutdown).await;
    let tls_url = format!("mqtts://127.0.0.1:{}", mosquitto.port);
    let config = BridgeConfig {
        mqtt_security: MqttSecurity {
            credentials: None,
            ca_file: Some(dir.join("ca.pem")),
            client_cert: Some((dir.join("client.crt"), dir.join("client.key"))),
        },
        ..BridgeConfig::new(DRONE, format!("udpout:{vehicle}"), tls_url)
    };
    let bridge = tokio::spawn(firmware_bridge::run(config, shutdown.clone()));
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Heard::Status(status)) = heard.recv().await {
                if status.state == Availability::Online && status.autopilot_link {
                    return;
                }
            }
        }
    })
    .await
    .expect("the bridge connects with its client certificate");
    shutdown.cancel();
    let _ = tokio::time::timeout(WAIT, bridge).await;

    // Without a certificate the same listener turns a client away.
    let mut options = MqttOptions::new("no-certificate", "127.0.0.1", mosquitto.port);
    options.set_transport(rumqttc::Transport::tls_with_config(
        rumqttc::TlsConfiguration::Simple {
            ca: std::fs::read(dir.join("ca.pem")).unwrap(),
            alpn: None,
            client_auth: None,
        },
    ));
    let (_client, mut eventloop) = AsyncClient::new(options, 4);
    let refused = tokio::time::timeout(WAIT, eventloop.poll()).await.unwrap();
    assert!(refused.is_err(), "{refused:?}");
    drop(mosquitto);
    let _ = std::fs::remove_dir_all(&dir);
}
