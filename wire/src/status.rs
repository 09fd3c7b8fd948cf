//! `…/status`: retained. The bridge publishes `online` after connecting and
//! registers `offline` as its Last Will, so the broker tells the dispatcher
//! within one keep-alive that a bridge has gone.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    Online,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub v: u32,
    pub drone: String,
    pub state: Availability,
    /// Milliseconds since the Unix epoch when the bridge wrote this. For the
    /// Last Will this is the time the bridge connected, not when it died.
    pub ts_ms: i64,
    /// "px4", "ardupilot" or "generic", once the autopilot's HEARTBEAT is seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autopilot: Option<String>,
    /// Whether the bridge currently hears its autopilot.
    #[serde(default)]
    pub autopilot_link: bool,
}
crate::payload!(Status, "status");
