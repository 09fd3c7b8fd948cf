//! The autopilot as the command and mission protocols see it: a way to send,
//! a feed of everything it says, and its latest folded state.

use std::sync::Arc;

use mavlink::dialects::ardupilotmega::MavMessage;
use mavlink::MavHeader;
use tokio::sync::{broadcast, watch};

use crate::link::{LinkError, MavlinkLink};
use crate::vehicle_state::{AutopilotTarget, VehicleState};

pub type Frame = Arc<(MavHeader, MavMessage)>;

#[derive(Clone)]
pub struct Autopilot {
    link: Arc<MavlinkLink>,
    frames: broadcast::Sender<Frame>,
    state: watch::Receiver<VehicleState>,
}

impl Autopilot {
    pub fn new(
        link: Arc<MavlinkLink>,
        frames: broadcast::Sender<Frame>,
        state: watch::Receiver<VehicleState>,
    ) -> Self {
        Autopilot {
            link,
            frames,
            state,
        }
    }

    pub async fn send(&self, message: &MavMessage) -> Result<(), LinkError> {
        self.link.send(message).await
    }

    /// Subscribe before sending a request, so the answer cannot slip past.
    pub fn frames(&self) -> broadcast::Receiver<Frame> {
        self.frames.subscribe()
    }

    pub fn state(&self) -> VehicleState {
        self.state.borrow().clone()
    }

    pub fn state_watch(&self) -> watch::Receiver<VehicleState> {
        self.state.clone()
    }

    /// The autopilot, once its HEARTBEAT has been heard.
    pub fn target(&self) -> Option<AutopilotTarget> {
        self.state.borrow().autopilot
    }
}

/// Next frame from the autopilot `target`; a lagging receiver skips what it
/// missed (the protocols retry) instead of failing.
pub async fn next_from(
    frames: &mut broadcast::Receiver<Frame>,
    target: &AutopilotTarget,
) -> Option<Frame> {
    loop {
        match frames.recv().await {
            Ok(frame) if frame.0.system_id == u32::from(target.system_id) => return Some(frame),
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                tracing::debug!(skipped, "protocol fell behind the MAVLink feed");
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}
