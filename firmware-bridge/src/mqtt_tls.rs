//! The TLS transport for `mqtts://` brokers: the broker is checked against
//! the CA given with `--mqtt-ca` (no system roots: a companion computer
//! should trust exactly the fleet's broker), and the bridge can present a
//! client certificate.

use rumqttc::Transport;

use crate::mqtt_session::MqttSecurity;
use crate::BridgeError;

#[cfg(feature = "tls")]
pub fn transport(security: &MqttSecurity) -> Result<Transport, BridgeError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|error| {
            BridgeError::InvalidConfig(format!("cannot read TLS file {}: {error}", path.display()))
        })
    };
    let ca_file = security.ca_file.as_deref().ok_or_else(|| {
        BridgeError::InvalidConfig("mqtts:// needs the broker's CA certificate (--mqtt-ca)".into())
    })?;
    let ca = read(ca_file)?;
    let client_auth = match &security.client_cert {
        Some((cert, key)) => Some((read(cert)?, read(key)?)),
        None => None,
    };
    Ok(Transport::tls_with_config(
        rumqttc::TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        },
    ))
}

#[cfg(not(feature = "tls"))]
pub fn transport(_security: &MqttSecurity) -> Result<Transport, BridgeError> {
    Err(BridgeError::InvalidConfig(
        "this bridge was built without the `tls` feature; mqtts:// is unavailable".into(),
    ))
}
