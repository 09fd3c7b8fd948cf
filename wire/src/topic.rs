//! Topic names. One subtree per drone, so a broker ACL can confine a bridge
//! to `skyshare/v1/drones/{its id}/#`.

use crate::WireError;

/// Every skyshare topic starts here; the version is part of the path so a v2
/// contract can run beside v1 on the same broker.
pub const TOPIC_ROOT: &str = "skyshare/v1/drones";

/// What flows on a topic, and in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// bridge -> dispatcher, retained, QoS 1; also the bridge's Last Will.
    Status,
    /// bridge -> dispatcher, QoS 0, rate-limited.
    Telemetry,
    /// bridge -> dispatcher, QoS 1, de-duplicated by envelope id.
    Events,
    /// dispatcher -> bridge, QoS 1.
    Commands,
    /// bridge -> dispatcher, QoS 1, one or more per command.
    Replies,
    /// bridge -> ground station, QoS 0: raw MAVLink frames from the
    /// autopilot (the ground-station tunnel). Payload is binary, not JSON.
    MavlinkUp,
    /// ground station -> bridge, QoS 0: raw MAVLink frames for the autopilot.
    MavlinkDown,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Status,
        Channel::Telemetry,
        Channel::Events,
        Channel::Commands,
        Channel::Replies,
        Channel::MavlinkUp,
        Channel::MavlinkDown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Status => "status",
            Channel::Telemetry => "telemetry",
            Channel::Events => "events",
            Channel::Commands => "commands",
            Channel::Replies => "replies",
            Channel::MavlinkUp => "mavlink/up",
            Channel::MavlinkDown => "mavlink/down",
        }
    }
}

/// A parsed drone topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub drone: String,
    pub channel: Channel,
}

impl Topic {
    pub fn new(drone: impl Into<String>, channel: Channel) -> Self {
        Topic {
            drone: drone.into(),
            channel,
        }
    }

    pub fn name(&self) -> String {
        format!("{TOPIC_ROOT}/{}/{}", self.drone, self.channel.as_str())
    }

    /// The filter that matches one channel of every drone, for the dispatcher.
    pub fn filter_all_drones(channel: Channel) -> String {
        format!("{TOPIC_ROOT}/+/{}", channel.as_str())
    }

    pub fn parse(topic: &str) -> Result<Topic, WireError> {
        let bad = |reason| WireError::Topic {
            topic: topic.to_owned(),
            reason,
        };
        let rest = topic
            .strip_prefix(TOPIC_ROOT)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| bad("it does not start with skyshare/v1/drones/"))?;
        let (drone, channel) = rest
            .split_once('/')
            .ok_or_else(|| bad("it has no channel after the drone id"))?;
        validate_drone_id(drone).map_err(bad)?;
        let channel = Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == channel)
            .ok_or_else(|| bad("unknown channel"))?;
        Ok(Topic {
            drone: drone.to_owned(),
            channel,
        })
    }
}

/// Drone ids become topic levels, so they may not contain MQTT's separators
/// or wildcards. Kept to a conservative alphabet that is also safe in URLs.
pub fn validate_drone_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > 64 {
        return Err("drone id must be 1 to 64 characters");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err("drone id may hold only letters, digits, '-', '_' and '.'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_parse() {
        for channel in Channel::ALL {
            let t = Topic::new("ov-dock1-a", channel);
            assert_eq!(Topic::parse(&t.name()).unwrap(), t);
        }
    }

    #[test]
    fn parse_refuses_wildcards_and_foreign_topics() {
        assert!(Topic::parse("skyshare/v1/drones/+/status").is_err());
        assert!(Topic::parse("skyshare/v1/drones/d1/unknown").is_err());
        assert!(Topic::parse("other/v1/drones/d1/status").is_err());
        assert!(Topic::parse("skyshare/v1/drones/d1").is_err());
    }
}
