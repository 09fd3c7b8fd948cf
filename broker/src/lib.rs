//! The embedded MQTT broker behind `skyshare demo` and the end-to-end tests.
//!
//! Production runs Mosquitto or EMQX; this wraps rumqttd so that a newcomer
//! needs nothing installed and a test can start a private broker on a port
//! the OS picks. It listens on loopback-or-configured addresses only, for
//! MQTT 3.1.1, with retained messages and Last Wills (both of which the
//! skyshare contract relies on).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot listen for MQTT on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("embedded MQTT broker did not start: {0}")]
    Start(String),
    #[error("embedded MQTT broker did not accept connections on {addr} within {waited:?}")]
    NotReady { addr: SocketAddr, waited: Duration },
}

#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Port 0 asks the OS for a free port, so a Mosquitto already on 1883
    /// never stops the demo from starting.
    pub listen: SocketAddr,
    /// Largest accepted payload; a mission of a few hundred items is ~100 kB.
    pub max_payload_bytes: usize,
    pub max_connections: usize,
}

impl BrokerConfig {
    pub fn loopback_any_port() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_payload_bytes: 1 << 20,
            max_connections: 10_000,
        }
    }
}

/// A running broker. rumqttd has no graceful shutdown; its threads end with
/// the process, which is what a demo or a test process wants.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts the broker on its own threads and returns once it accepts TCP
    /// connections.
    pub fn start(config: BrokerConfig) -> Result<EmbeddedBroker, BrokerError> {
        let addr = reserve_port(config.listen)?;
        let mut broker = rumqttd::Broker::new(rumqttd_config(&config, addr));
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                // start() blocks for the life of the broker.
                if let Err(error) = broker.start() {
                    tracing::error!(%error, "embedded MQTT broker stopped");
                }
            })
            .map_err(|e| BrokerError::Start(e.to_string()))?;
        wait_until_listening(addr, Duration::from_secs(10))?;
        tracing::info!(%addr, "embedded MQTT broker listening");
        Ok(EmbeddedBroker { addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://host:port`, the form every skyshare component accepts.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

/// Resolves port 0 to a free port, and refuses a configured port that is
/// taken (rumqttd would only log the bind failure on its own thread, and a
/// readiness probe would then find the *other* server on that port).
fn reserve_port(listen: SocketAddr) -> Result<SocketAddr, BrokerError> {
    let probe = TcpListener::bind(listen).map_err(|source| BrokerError::Listen {
        addr: listen,
        source,
    })?;
    probe.local_addr().map_err(|source| BrokerError::Listen {
        addr: listen,
        source,
    })
    // `probe` closes here; rumqttd binds the same address right after.
}

fn wait_until_listening(addr: SocketAddr, limit: Duration) -> Result<(), BrokerError> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(BrokerError::NotReady {
        addr,
        waited: limit,
    })
}

fn rumqttd_config(config: &BrokerConfig, addr: SocketAddr) -> rumqttd::Config {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: config.max_payload_bytes,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "skyshare-v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: config.max_connections,
            max_outgoing_packet_count: 2_000,
            max_segment_size: 1 << 20,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("v4".to_string(), server)])),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_brokers_start_side_by_side_on_os_chosen_ports() {
        let a = EmbeddedBroker::start(BrokerConfig::loopback_any_port()).unwrap();
        let b = EmbeddedBroker::start(BrokerConfig::loopback_any_port()).unwrap();
        assert_ne!(a.addr().port(), b.addr().port());
        assert!(TcpStream::connect(a.addr()).is_ok());
        assert!(a.url().starts_with("mqtt://127.0.0.1:"));
    }

    #[test]
    fn a_taken_port_is_refused_with_the_address() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut config = BrokerConfig::loopback_any_port();
        config.listen = taken.local_addr().unwrap();
        let err = EmbeddedBroker::start(config).unwrap_err().to_string();
        assert!(
            err.contains(&taken.local_addr().unwrap().to_string()),
            "{err}"
        );
    }
}
