//! Mission plans and the MAVLink mission (plan transfer) protocol, vehicle side.
//!
//! The transfer state machine is pure: it takes a message plus the current
//! wall-clock instant and returns the replies to send, so retries and
//! out-of-order handling are unit-testable without sockets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mavlink::dialects::ardupilotmega::{
    MavCmd, MavFrame, MavMessage, MavMissionResult, MavMissionType, MISSION_ACK_DATA,
    MISSION_COUNT_DATA, MISSION_ITEM_INT_DATA, MISSION_REQUEST_INT_DATA,
};

/// How long to wait for the next MISSION_ITEM_INT before asking again
/// (mission protocol default).
pub const ITEM_TIMEOUT: Duration = Duration::from_millis(1500);
/// Re-requests of one item before giving up and keeping the old plan.
pub const MAX_RETRIES: u32 = 5;
/// Refuse plans larger than this with NO_SPACE; keeps memory bounded per vehicle.
pub const MAX_ITEMS: u16 = 2000;

/// One plan item as uploaded; kept verbatim so a download returns exactly
/// what was uploaded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MissionItem {
    pub seq: u16,
    pub frame: MavFrame,
    pub command: MavCmd,
    pub current: u8,
    pub autocontinue: u8,
    pub param1: f32,
    pub param2: f32,
    pub param3: f32,
    pub param4: f32,
    /// Latitude, degE7 (for global frames).
    pub x: i32,
    /// Longitude, degE7 (for global frames).
    pub y: i32,
    /// Altitude, m, meaning set by `frame`.
    pub z: f32,
}

/// How an item's altitude is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AltitudeReference {
    /// Metres above mean sea level (MAV_FRAME_GLOBAL, GLOBAL_INT).
    MeanSeaLevel,
    /// Metres above home (GLOBAL_RELATIVE_ALT[_INT]; terrain frames are
    /// treated the same because the simulated ground is flat at home level).
    AboveHome,
    /// The item has no position (MAV_FRAME_MISSION).
    NoPosition,
}

impl MissionItem {
    pub fn from_mavlink(data: &MISSION_ITEM_INT_DATA) -> Self {
        MissionItem {
            seq: data.seq,
            frame: data.frame,
            command: data.command,
            current: data.current,
            autocontinue: data.autocontinue,
            param1: data.param1,
            param2: data.param2,
            param3: data.param3,
            param4: data.param4,
            x: data.x,
            y: data.y,
            z: data.z,
        }
    }

    pub fn to_mavlink(
        &self,
        target_system: u8,
        target_component: u8,
        mission_type: MavMissionType,
    ) -> MISSION_ITEM_INT_DATA {
        MISSION_ITEM_INT_DATA {
            param1: self.param1,
            param2: self.param2,
            param3: self.param3,
            param4: self.param4,
            x: self.x,
            y: self.y,
            z: self.z,
            seq: self.seq,
            command: self.command,
            target_system,
            target_component,
            frame: self.frame,
            current: self.current,
            autocontinue: self.autocontinue,
            mission_type,
        }
    }

    // The *_INT frames are superseded synonyms, but ground stations still send them.
    #[allow(deprecated)]
    pub fn altitude_reference(&self) -> Option<AltitudeReference> {
        match self.frame {
            MavFrame::MAV_FRAME_GLOBAL | MavFrame::MAV_FRAME_GLOBAL_INT => {
                Some(AltitudeReference::MeanSeaLevel)
            }
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT
            | MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
            | MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT
            | MavFrame::MAV_FRAME_GLOBAL_TERRAIN_ALT_INT => Some(AltitudeReference::AboveHome),
            MavFrame::MAV_FRAME_MISSION => Some(AltitudeReference::NoPosition),
            _ => None,
        }
    }

    /// True when x/y carry no horizontal position (0/0, as QGC sends for
    /// "here"), meaning "at the current position".
    pub fn has_horizontal_position(&self) -> bool {
        self.altitude_reference() != Some(AltitudeReference::NoPosition)
            && !(self.x == 0 && self.y == 0)
    }
}

/// ArduPilot's mission item 0: home, as an AMSL waypoint.
pub fn home_item(home: &crate::geo::GeoPoint) -> MissionItem {
    MissionItem {
        seq: 0,
        frame: MavFrame::MAV_FRAME_GLOBAL,
        command: MavCmd::MAV_CMD_NAV_WAYPOINT,
        current: 0,
        autocontinue: 1,
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: 0.0,
        x: crate::geo::deg_to_e7(home.lat_deg),
        y: crate::geo::deg_to_e7(home.lon_deg),
        z: home.alt_msl_m as f32,
    }
}

/// Check that the simulator can fly an item of a MISSION plan.
pub fn validate_mission_item(item: &MissionItem) -> Result<(), MavMissionResult> {
    use MavCmd::*;
    let needs_position = matches!(
        item.command,
        MAV_CMD_NAV_WAYPOINT | MAV_CMD_NAV_LOITER_TIME | MAV_CMD_DO_SET_ROI_LOCATION
    );
    let position_optional = matches!(item.command, MAV_CMD_NAV_TAKEOFF | MAV_CMD_NAV_LAND);
    let supported = needs_position
        || position_optional
        || matches!(
            item.command,
            MAV_CMD_NAV_RETURN_TO_LAUNCH
                | MAV_CMD_DO_CHANGE_SPEED
                | MAV_CMD_DO_SET_ROI_NONE
                | MAV_CMD_IMAGE_START_CAPTURE
                | MAV_CMD_IMAGE_STOP_CAPTURE
                | MAV_CMD_DO_SET_CAM_TRIGG_DIST
        );
    if !supported {
        return Err(MavMissionResult::MAV_MISSION_UNSUPPORTED);
    }
    match item.altitude_reference() {
        None => Err(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME),
        Some(AltitudeReference::NoPosition) if needs_position => {
            Err(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME)
        }
        Some(_) => {
            if needs_position && !(item.z.is_finite()) {
                Err(MavMissionResult::MAV_MISSION_INVALID_PARAM7)
            } else {
                Ok(())
            }
        }
    }
}

/// A stored plan of one mission type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub items: Vec<MissionItem>,
    /// Opaque id reported in MISSION_ACK / MISSION_COUNT / MISSION_CURRENT;
    /// 0 for an empty plan. Derived from the content, so re-uploading the same
    /// plan yields the same id (PX4 uses a CRC the same way).
    pub plan_id: u32,
}

impl Plan {
    pub fn new(items: Vec<MissionItem>) -> Self {
        let plan_id = plan_id(&items);
        Plan { items, plan_id }
    }
}

fn plan_id(items: &[MissionItem]) -> u32 {
    if items.is_empty() {
        return 0;
    }
    // FNV-1a over every field that changes what is flown.
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    for item in items {
        feed(&item.seq.to_le_bytes());
        feed(&[item.frame as u8, item.current, item.autocontinue]);
        feed(&(item.command as u16).to_le_bytes());
        for param in [item.param1, item.param2, item.param3, item.param4, item.z] {
            feed(&param.to_bits().to_le_bytes());
        }
        feed(&item.x.to_le_bytes());
        feed(&item.y.to_le_bytes());
    }
    hash.max(1)
}

/// The ground station at the other end of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partner {
    pub address: SocketAddr,
    pub system_id: u8,
    pub component_id: u8,
}

/// A message the transfer wants sent to its partner.
#[derive(Debug, Clone)]
pub struct TransferReply {
    pub to: SocketAddr,
    pub message: MavMessage,
}

/// A completed upload, to be stored by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedUpload {
    pub mission_type: MavMissionType,
    pub plan: Plan,
}

#[derive(Debug, Clone)]
struct Upload {
    partner: Partner,
    mission_type: MavMissionType,
    count: u16,
    items: Vec<MissionItem>,
    last_request_at: Instant,
    retries: u32,
}

/// Vehicle side of plan upload. Downloads are stateless (each request is
/// answered from the stored plan) and live with the caller.
#[derive(Debug, Default)]
pub struct MissionTransfer {
    upload: Option<Upload>,
    /// Out-of-order items, stray items and timeouts seen; for diagnostics.
    pub anomalies: u64,
}

impl MissionTransfer {
    pub fn is_uploading(&self) -> bool {
        self.upload.is_some()
    }

    /// MISSION_COUNT: start (or restart) an upload. A count of 0 clears the plan.
    pub fn on_count(
        &mut self,
        partner: Partner,
        data: &MISSION_COUNT_DATA,
        own_system_id: u8,
        now: Instant,
    ) -> (Vec<TransferReply>, Option<CompletedUpload>) {
        if self.upload.take().is_some() {
            tracing::debug!(
                system_id = own_system_id,
                "new MISSION_COUNT restarts the upload"
            );
        }
        if data.count > MAX_ITEMS {
            let ack = ack(
                &partner,
                data.mission_type,
                MavMissionResult::MAV_MISSION_NO_SPACE,
                0,
            );
            return (vec![ack], None);
        }
        if data.count == 0 {
            let plan = Plan::default();
            let ack = ack(
                &partner,
                data.mission_type,
                MavMissionResult::MAV_MISSION_ACCEPTED,
                0,
            );
            let completed = CompletedUpload {
                mission_type: data.mission_type,
                plan,
            };
            return (vec![ack], Some(completed));
        }
        let upload = Upload {
            partner,
            mission_type: data.mission_type,
            count: data.count,
            items: Vec::with_capacity(usize::from(data.count)),
            last_request_at: now,
            retries: 0,
        };
        let request = request_item(&upload);
        self.upload = Some(upload);
        (vec![request], None)
    }

    /// MISSION_ITEM_INT during an upload.
    pub fn on_item(
        &mut self,
        sender: Partner,
        data: &MISSION_ITEM_INT_DATA,
        now: Instant,
    ) -> (Vec<TransferReply>, Option<CompletedUpload>) {
        let Some(upload) = &mut self.upload else {
            // A late duplicate after we finished, or a confused peer; harmless.
            self.anomalies += 1;
            tracing::debug!(
                seq = data.seq,
                "MISSION_ITEM_INT without an upload in progress"
            );
            return (Vec::new(), None);
        };
        if sender != upload.partner || data.mission_type != upload.mission_type {
            self.anomalies += 1;
            tracing::debug!(
                seq = data.seq,
                "MISSION_ITEM_INT from outside the current upload"
            );
            return (Vec::new(), None);
        }
        let expected_seq = upload.items.len() as u16;
        if data.seq != expected_seq {
            // The protocol says: re-request, this is not an error.
            self.anomalies += 1;
            tracing::debug!(
                seq = data.seq,
                expected_seq,
                "out-of-order mission item, re-requesting"
            );
            upload.last_request_at = now;
            return (vec![request_item(upload)], None);
        }
        let item = MissionItem::from_mavlink(data);
        if upload.mission_type == MavMissionType::MAV_MISSION_TYPE_MISSION {
            if let Err(result) = validate_mission_item(&item) {
                tracing::debug!(seq = data.seq, command = ?data.command, ?result, "mission item refused");
                let reply = ack(&upload.partner, upload.mission_type, result, 0);
                // An error ACK ends the transfer; the old plan stays.
                self.upload = None;
                return (vec![reply], None);
            }
        }
        upload.items.push(item);
        upload.retries = 0;
        upload.last_request_at = now;
        if upload.items.len() < usize::from(upload.count) {
            return (vec![request_item(upload)], None);
        }
        let Some(upload) = self.upload.take() else {
            return (Vec::new(), None);
        };
        let whole_plan_check = match upload.mission_type {
            MavMissionType::MAV_MISSION_TYPE_FENCE => crate::fence::validate_fence(&upload.items),
            MavMissionType::MAV_MISSION_TYPE_RALLY => crate::fence::validate_rally(&upload.items),
            _ => Ok(()),
        };
        if let Err((seq, result)) = whole_plan_check {
            tracing::debug!(seq, ?result, mission_type = ?upload.mission_type, "plan refused");
            let reply = ack(&upload.partner, upload.mission_type, result, 0);
            return (vec![reply], None);
        }
        let plan = Plan::new(upload.items);
        let reply = ack(
            &upload.partner,
            upload.mission_type,
            MavMissionResult::MAV_MISSION_ACCEPTED,
            plan.plan_id,
        );
        let completed = CompletedUpload {
            mission_type: upload.mission_type,
            plan,
        };
        (vec![reply], Some(completed))
    }

    /// An item that failed to decode (e.g. an unknown MAV_CMD) during an upload:
    /// refuse it the way an unsupported command would be refused.
    pub fn on_undecodable_item(&mut self, sender: Partner) -> Vec<TransferReply> {
        match &self.upload {
            Some(upload) if upload.partner == sender => {
                let reply = ack(
                    &upload.partner,
                    upload.mission_type,
                    MavMissionResult::MAV_MISSION_UNSUPPORTED,
                    0,
                );
                self.upload = None;
                vec![reply]
            }
            _ => Vec::new(),
        }
    }

    /// MISSION_ACK from the partner during an upload means it gave up.
    pub fn on_partner_ack(&mut self, sender: Partner) {
        if self
            .upload
            .as_ref()
            .is_some_and(|upload| upload.partner == sender)
        {
            tracing::debug!("ground station cancelled the upload");
            self.upload = None;
        }
    }

    /// Re-request the awaited item after a timeout; give up after
    /// [`MAX_RETRIES`], keeping the old plan.
    pub fn poll(&mut self, now: Instant) -> Vec<TransferReply> {
        let Some(upload) = &mut self.upload else {
            return Vec::new();
        };
        if now.duration_since(upload.last_request_at) < ITEM_TIMEOUT {
            return Vec::new();
        }
        self.anomalies += 1;
        if upload.retries >= MAX_RETRIES {
            tracing::debug!(
                seq = upload.items.len(),
                "mission upload timed out, keeping the old plan"
            );
            self.upload = None;
            return Vec::new();
        }
        upload.retries += 1;
        upload.last_request_at = now;
        vec![request_item(upload)]
    }
}

fn request_item(upload: &Upload) -> TransferReply {
    TransferReply {
        to: upload.partner.address,
        message: MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
            seq: upload.items.len() as u16,
            target_system: upload.partner.system_id,
            target_component: upload.partner.component_id,
            mission_type: upload.mission_type,
        }),
    }
}

pub fn ack(
    partner: &Partner,
    mission_type: MavMissionType,
    result: MavMissionResult,
    opaque_id: u32,
) -> TransferReply {
    TransferReply {
        to: partner.address,
        message: MavMessage::MISSION_ACK(MISSION_ACK_DATA {
            target_system: partner.system_id,
            target_component: partner.component_id,
            mavtype: result,
            mission_type,
            opaque_id,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner() -> Partner {
        Partner {
            address: "127.0.0.1:14550".parse().expect("address"),
            system_id: 245,
            component_id: 190,
        }
    }

    fn count(count: u16) -> MISSION_COUNT_DATA {
        MISSION_COUNT_DATA {
            count,
            target_system: 1,
            target_component: 1,
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
            opaque_id: 0,
        }
    }

    fn waypoint(seq: u16) -> MISSION_ITEM_INT_DATA {
        MISSION_ITEM_INT_DATA {
            param1: 0.0,
            param2: 0.0,
            param3: 0.0,
            param4: f32::NAN,
            x: 305_050_000,
            y: 1_143_980_000 + i32::from(seq) * 1000,
            z: 20.0,
            seq,
            command: MavCmd::MAV_CMD_NAV_WAYPOINT,
            target_system: 1,
            target_component: 1,
            frame: MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            current: 0,
            autocontinue: 1,
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        }
    }

    fn requested_seq(replies: &[TransferReply]) -> Option<u16> {
        match replies {
            [TransferReply {
                message: MavMessage::MISSION_REQUEST_INT(data),
                ..
            }] => Some(data.seq),
            _ => None,
        }
    }

    fn ack_result(replies: &[TransferReply]) -> Option<(MavMissionResult, u32)> {
        match replies {
            [TransferReply {
                message: MavMessage::MISSION_ACK(data),
                ..
            }] => Some((data.mavtype, data.opaque_id)),
            _ => None,
        }
    }

    #[test]
    fn upload_requests_each_item_then_acks_with_a_plan_id() {
        let now = Instant::now();
        let mut transfer = MissionTransfer::default();
        let (replies, done) = transfer.on_count(partner(), &count(2), 1, now);
        assert_eq!(requested_seq(&replies), Some(0));
        assert!(done.is_none());
        let (replies, _) = transfer.on_item(partner(), &waypoint(0), now);
        assert_eq!(requested_seq(&replies), Some(1));
        let (replies, done) = transfer.on_item(partner(), &waypoint(1), now);
        let (result, plan_id) = ack_result(&replies).expect("ack");
        assert_eq!(result, MavMissionResult::MAV_MISSION_ACCEPTED);
        let done = done.expect("completed");
        assert_eq!(done.plan.items.len(), 2);
        assert_eq!(done.plan.plan_id, plan_id);
        assert_ne!(plan_id, 0);
        assert!(!transfer.is_uploading());
    }

    #[test]
    fn out_of_order_item_is_re_requested() {
        let now = Instant::now();
        let mut transfer = MissionTransfer::default();
        transfer.on_count(partner(), &count(3), 1, now);
        let (replies, _) = transfer.on_item(partner(), &waypoint(1), now);
        assert_eq!(requested_seq(&replies), Some(0));
        assert!(transfer.is_uploading());
    }

    #[test]
    fn timeouts_retry_five_times_then_give_up() {
        let start = Instant::now();
        let mut transfer = MissionTransfer::default();
        transfer.on_count(partner(), &count(2), 1, start);
        assert!(transfer.poll(start + Duration::from_millis(100)).is_empty());
        let mut now = start;
        for _ in 0..MAX_RETRIES {
            now += ITEM_TIMEOUT;
            assert_eq!(requested_seq(&transfer.poll(now)), Some(0));
        }
        now += ITEM_TIMEOUT;
        assert!(transfer.poll(now).is_empty());
        assert!(!transfer.is_uploading());
    }

    #[test]
    fn unsupported_frame_ends_the_upload_with_an_error() {
        let now = Instant::now();
        let mut transfer = MissionTransfer::default();
        transfer.on_count(partner(), &count(1), 1, now);
        let mut item = waypoint(0);
        item.frame = MavFrame::MAV_FRAME_LOCAL_NED;
        let (replies, done) = transfer.on_item(partner(), &item, now);
        assert_eq!(
            ack_result(&replies).map(|(result, _)| result),
            Some(MavMissionResult::MAV_MISSION_UNSUPPORTED_FRAME)
        );
        assert!(done.is_none());
        assert!(!transfer.is_uploading());
    }

    #[test]
    fn zero_count_clears() {
        let mut transfer = MissionTransfer::default();
        let (replies, done) = transfer.on_count(partner(), &count(0), 1, Instant::now());
        assert_eq!(
            ack_result(&replies),
            Some((MavMissionResult::MAV_MISSION_ACCEPTED, 0))
        );
        assert_eq!(done.expect("cleared").plan, Plan::default());
    }

    #[test]
    fn same_plan_same_id() {
        let items: Vec<_> = (0..3)
            .map(|seq| MissionItem::from_mavlink(&waypoint(seq)))
            .collect();
        assert_eq!(
            Plan::new(items.clone()).plan_id,
            Plan::new(items.clone()).plan_id
        );
        let mut changed = items;
        changed[2].z = 30.0;
        assert_ne!(
            Plan::new(changed).plan_id,
            Plan::new(
                (0..3)
                    .map(|seq| MissionItem::from_mavlink(&waypoint(seq)))
                    .collect()
            )
            .plan_id
        );
    }
}
