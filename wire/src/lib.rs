//! skyshare's MQTT contract, version 1: the topics and payloads that
//! `firmware-bridge` and the dispatcher exchange through the broker.
//!
//! This crate holds types only and does no IO, so a third party writing a
//! bridge for another autopilot can depend on it (or read docs/mqtt.md) and
//! nothing else. Every payload is JSON. Everything a bridge publishes carries
//! the contract version `v` so a dispatcher can refuse what it does not
//! understand instead of misreading it.
//!
//! The contract speaks in domain terms (take off, fly to, capture an image),
//! never in MAVLink numbers: the MAVLink mapping lives in `firmware-bridge`.

pub mod command;
pub mod event;
pub mod status;
pub mod telemetry;
pub mod topic;

pub use command::{
    Command, CommandBody, CommandReply, CommandState, FencePlan, FenceZone, LatLon, Mission,
    MissionItem, RallyPlan, RallyPoint, Reposition,
};
pub use event::{Event, EventBody};
pub use status::{Availability, Status};
pub use telemetry::{FlightMode, LandedState, Telemetry};
pub use topic::{Channel, Topic, TOPIC_ROOT};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The contract version every payload carries in its `v` field.
pub const VERSION: u32 = 1;

/// Why a payload could not be read. The message says what was wrong and
/// where (serde_json reports line and column), so a refusal can be logged and
/// counted without guessing.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("payload is not valid {what} JSON: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what} has contract version {found}, this build speaks version {expected}")]
    Version {
        what: &'static str,
        found: u32,
        expected: u32,
    },
    #[error("topic `{topic}` is not a skyshare v1 drone topic: {reason}")]
    Topic { topic: String, reason: &'static str },
}

/// A payload type of the contract: it names itself for error messages and
/// exposes its version field so decoding can check it.
pub trait Payload: Serialize + DeserializeOwned {
    const WHAT: &'static str;
    fn version(&self) -> u32;
}

/// Decodes a payload and checks its contract version.
pub fn decode<T: Payload>(bytes: &[u8]) -> Result<T, WireError> {
    let value: T = serde_json::from_slice(bytes).map_err(|source| WireError::Json {
        what: T::WHAT,
        source,
    })?;
    if value.version() != VERSION {
        return Err(WireError::Version {
            what: T::WHAT,
            found: value.version(),
            expected: VERSION,
        });
    }
    Ok(value)
}

/// Encodes a payload as JSON. Serialising these plain structs cannot fail.
pub fn encode<T: Payload>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("wire payloads are plain data and always serialise")
}

macro_rules! payload {
    ($t:ty, $what:literal) => {
        impl $crate::Payload for $t {
            const WHAT: &'static str = $what;
            fn version(&self) -> u32 {
                self.v
            }
        }
    };
}
pub(crate) use payload;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_refuses_a_future_contract_version() {
        let json = br#"{"v":2,"drone":"d1","state":"online","ts_ms":1}"#;
        let err = decode::<Status>(json).unwrap_err();
        assert!(matches!(err, WireError::Version { found: 2, .. }), "{err}");
    }

    #[test]
    fn decode_error_names_the_payload_and_position() {
        let err = decode::<Telemetry>(b"{\"v\":1,").unwrap_err().to_string();
        assert!(err.contains("telemetry"), "{err}");
        assert!(err.contains("line 1"), "{err}");
    }
}
