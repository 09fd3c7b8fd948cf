//! One simulated autopilot as its ground stations see it: MAVLink in,
//! MAVLink out. Wires the vehicle, the mission and command protocols and the
//! telemetry streams together without doing any IO itself, so the socket
//! task stays a thin loop.

use std::net::SocketAddr;
use std::time::Instant;

use mavlink::dialects::ardupilotmega::{
    MavBool, MavCmd, MavMessage, MavMissionResult, MavMissionType, MavResult, MavSeverity, MavType,
    CAMERA_IMAGE_CAPTURED_DATA, COMMAND_ACK_DATA, MISSION_COUNT_DATA, MISSION_ITEM_REACHED_DATA,
    STATUSTEXT_DATA,
};

use crate::camera::Capture;
use crate::commands::{self, CommandRequest};
use crate::faults::{Delivery, Fault, FaultSchedule, LinkConditions};
use crate::fence::Geofence;
use crate::geo::deg_to_e7;
use crate::link::{Frame, InputProblems};
use crate::mission::{self, MissionTransfer, Partner, Plan, TransferReply};
use crate::noise::Rng;
use crate::params::Params;
use crate::telemetry::{self, StreamSchedule};
use crate::vehicle::{Vehicle, VehicleEvent};

/// Fixed physics step in simulated seconds; small enough to keep the
/// kinematics stable at any speed-up.
pub const SUBSTEP_S: f64 = 0.02;
/// Catch up at most this much simulated time per call; beyond it the
/// simulation runs slower than asked rather than stalling the task.
const MAX_CATCH_UP_S: f64 = 60.0;

const MAV_COMP_ID_AUTOPILOT1: u8 = 1;
/// The autopilot also answers for its attached camera, as PX4 does.
const MAV_COMP_ID_CAMERA: u8 = 100;
const COMMAND_LONG_ID: u32 = 76;
const COMMAND_INT_ID: u32 = 75;
const MISSION_ITEM_INT_ID: u32 = 73;
const COMMAND_ACK_EXTRA_CRC: u8 = 143;

/// Where an outgoing message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    /// A reply to one ground station.
    Peer(SocketAddr),
    /// Streams and events, to every live ground station.
    AllPeers,
}

// Values are short-lived and almost always the large variant; boxing would
// only add an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum OutMessage {
    Mav(MavMessage),
    /// COMMAND_ACK for a command id the dialect has no enum value for (so
    /// `MavMessage` cannot express it); the link encodes it by hand.
    UnknownCommandAck {
        command_id: u16,
        target_system: u8,
        target_component: u8,
    },
}

#[derive(Debug, Clone)]
pub struct Outbound {
    pub to: Recipient,
    pub message: OutMessage,
}

impl Outbound {
    fn reply(to: SocketAddr, message: MavMessage) -> Self {
        Outbound {
            to: Recipient::Peer(to),
            message: OutMessage::Mav(message),
        }
    }

    fn broadcast(message: MavMessage) -> Self {
        Outbound {
            to: Recipient::AllPeers,
            message: OutMessage::Mav(message),
        }
    }
}

impl From<TransferReply> for Outbound {
    fn from(reply: TransferReply) -> Self {
        Outbound::reply(reply.to, reply.message)
    }
}

/// Counts of input the autopilot ignored, for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IgnoredInput {
    pub malformed: InputProblems,
    /// Valid messages addressed to another system or component.
    pub for_someone_else: u64,
    /// Valid frames whose payload did not decode (unknown enum values).
    pub undecodable: u64,
}

pub struct Autopilot {
    vehicle: Vehicle,
    transfer: MissionTransfer,
    fence: Plan,
    rally: Plan,
    streams: StreamSchedule,
    ignored: IgnoredInput,
    params: Params,
    faults: FaultSchedule,
    link: LinkConditions,
    link_rng: Rng,
}

impl Autopilot {
    pub fn new(vehicle: Vehicle, now: Instant) -> Self {
        Autopilot::with_streams(vehicle, now, telemetry::StreamSet::Full)
    }

    pub fn with_streams(vehicle: Vehicle, now: Instant, streams: telemetry::StreamSet) -> Self {
        let vehicle_profile = vehicle.profile();
        let link_seed = vehicle.seed() ^ u64::from(vehicle.system_id());
        Autopilot {
            vehicle,
            transfer: MissionTransfer::default(),
            fence: Plan::default(),
            rally: Plan::default(),
            streams: StreamSchedule::with_set(now, streams),
            ignored: IgnoredInput::default(),
            params: Params::new(vehicle_profile),
            faults: FaultSchedule::default(),
            link: LinkConditions::default(),
            link_rng: Rng::derive(link_seed, 0x4C49_4E4B),
        }
    }

    pub fn vehicle(&self) -> &Vehicle {
        &self.vehicle
    }

    pub fn vehicle_mut(&mut self) -> &mut Vehicle {
        &mut self.vehicle
    }

    /// Faults to inject at simulated times (from a scenario).
    pub fn schedule_faults(&mut self, faults: Vec<(f64, Fault)>) {
        self.faults = FaultSchedule::new(faults);
    }

    /// Inject a fault now.
    pub fn inject(&mut self, fault: &Fault) -> Vec<Outbound> {
        tracing::info!(vehicle = %self.vehicle.name(), ?fault, "fault injected");
        if fault.is_link_fault() {
            self.link.apply(fault, self.vehicle.sim_time_s());
        } else {
            self.vehicle.apply_fault(fault);
        }
        self.events_to_outbound()
    }

    /// The fate of one datagram on the radio link, either way.
    pub fn link_admit(&mut self) -> Delivery {
        let now_s = self.vehicle.sim_time_s();
        if self.link.is_perfect(now_s) {
            return Delivery::Deliver;
        }
        self.link.admit(now_s, &mut self.link_rng)
    }

    /// Whether the socket loop must tick at full rate (something moves or a
    /// transfer is waiting for a retry), or may sleep until the next stream.
    pub fn is_active(&self) -> bool {
        !self.vehicle.is_idle() || self.transfer.is_uploading()
    }

    /// Spread this vehicle's streams over their intervals (see [`StreamSchedule::stagger`]).
    pub fn stagger_streams(&mut self, phase: f64, now: Instant) {
        self.streams.stagger(phase, now);
    }

    /// When the next telemetry stream is due.
    pub fn next_stream_due(&self) -> Option<Instant> {
        self.streams.next_due()
    }

    pub fn link(&self) -> &LinkConditions {
        &self.link
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Set a parameter from inside the simulator (scenarios, tests), with the
    /// same checks and effects as PARAM_SET; the change is announced.
    pub fn set_param(
        &mut self,
        name: &str,
        value: f32,
    ) -> Result<Vec<Outbound>, crate::params::ParamError> {
        let index = self.params.set(name, value)?;
        self.vehicle.apply_settings(self.params.settings());
        Ok(self
            .params
            .value_message(index)
            .map(|data| Outbound::broadcast(MavMessage::PARAM_VALUE(data)))
            .into_iter()
            .collect())
    }

    pub fn ignored(&self) -> IgnoredInput {
        IgnoredInput {
            malformed: self.ignored.malformed,
            for_someone_else: self.ignored.for_someone_else,
            undecodable: self.ignored.undecodable + self.transfer.anomalies,
        }
    }

    pub fn record_malformed(&mut self, problems: &InputProblems) {
        self.ignored.malformed.add(problems);
    }

    /// A new ground station: send it everything right away instead of making
    /// it wait up to a full stream interval.
    pub fn peer_joined(&mut self, now: Instant) {
        self.streams.make_all_due(now);
    }

    /// React to one valid frame received from `from`.
    // MISSION_REQUEST and MISSION_SET_CURRENT are deprecated but still sent by
    // older ground stations; answering them is cheaper than a stalled transfer.
    #[allow(deprecated)]
    pub fn handle_frame(&mut self, from: SocketAddr, frame: &Frame, now: Instant) -> Vec<Outbound> {
        let sender = Partner {
            address: from,
            system_id: frame.header.system_id as u8,
            component_id: frame.header.component_id,
        };
        let Some(message) = &frame.message else {
            return self.handle_undecodable(sender, frame);
        };
        match message {
            MavMessage::COMMAND_LONG(data) => {
                self.handle_command(sender, &CommandRequest::from_long(data), now)
            }
            MavMessage::COMMAND_INT(data) => {
                self.handle_command(sender, &CommandRequest::from_int(data), now)
            }
            MavMessage::MISSION_COUNT(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                if data.mission_type == MavMissionType::MAV_MISSION_TYPE_ALL {
                    let reply = mission::ack(
                        &sender,
                        data.mission_type,
                        MavMissionResult::MAV_MISSION_ERROR,
                        0,
                    );
                    return vec![reply.into()];
                }
                let (replies, completed) =
                    self.transfer
                        .on_count(sender, data, self.vehicle.system_id(), now);
                if let Some(completed) = completed {
                    self.store_plan(completed.mission_type, completed.plan);
                }
                replies.into_iter().map(Outbound::from).collect()
            }
            MavMessage::MISSION_ITEM_INT(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                let (replies, completed) = self.transfer.on_item(sender, data, now);
                if let Some(completed) = completed {
                    tracing::info!(
                        vehicle = %self.vehicle.name(),
                        mission_type = ?completed.mission_type,
                        items = completed.plan.items.len(),
                        plan_id = completed.plan.plan_id,
                        "plan uploaded"
                    );
                    self.store_plan(completed.mission_type, completed.plan);
                }
                replies.into_iter().map(Outbound::from).collect()
            }
            MavMessage::MISSION_REQUEST_LIST(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                let Some(plan) = self.plan(data.mission_type) else {
                    let reply = mission::ack(
                        &sender,
                        data.mission_type,
                        MavMissionResult::MAV_MISSION_ERROR,
                        0,
                    );
                    return vec![reply.into()];
                };
                vec![Outbound::reply(
                    from,
                    MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
                        count: plan.items.len() as u16,
                        target_system: sender.system_id,
                        target_component: sender.component_id,
                        mission_type: data.mission_type,
                        opaque_id: plan.plan_id,
                    }),
                )]
            }
            MavMessage::MISSION_REQUEST_INT(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                self.send_plan_item(sender, data.mission_type, data.seq)
            }
            // Deprecated, but still sent by old ground stations: answer with the INT form.
            MavMessage::MISSION_REQUEST(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                self.send_plan_item(sender, data.mission_type, data.seq)
            }
            MavMessage::MISSION_CLEAR_ALL(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                let types: &[MavMissionType] = match data.mission_type {
                    MavMissionType::MAV_MISSION_TYPE_ALL => &[
                        MavMissionType::MAV_MISSION_TYPE_MISSION,
                        MavMissionType::MAV_MISSION_TYPE_FENCE,
                        MavMissionType::MAV_MISSION_TYPE_RALLY,
                    ],
                    ref one => std::slice::from_ref(one),
                };
                for mission_type in types {
                    self.store_plan(*mission_type, Plan::default());
                }
                let reply = mission::ack(
                    &sender,
                    data.mission_type,
                    MavMissionResult::MAV_MISSION_ACCEPTED,
                    0,
                );
                vec![reply.into()]
            }
            MavMessage::MISSION_ACK(data) => {
                if self.is_for_autopilot(data.target_system, data.target_component) {
                    self.transfer.on_partner_ack(sender);
                }
                Vec::new()
            }
            MavMessage::MISSION_SET_CURRENT(data) => {
                if self.is_for_autopilot(data.target_system, data.target_component) {
                    if let Err(refusal) = self.vehicle.set_current_item(data.seq) {
                        tracing::debug!(?refusal, "MISSION_SET_CURRENT refused");
                    }
                }
                self.events_to_outbound()
            }
            MavMessage::PARAM_REQUEST_LIST(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                (0..usize::from(self.params.count()))
                    .filter_map(|index| self.params.value_message(index))
                    .map(|data| Outbound::reply(from, MavMessage::PARAM_VALUE(data)))
                    .collect()
            }
            MavMessage::PARAM_REQUEST_READ(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                // index -1 means "by name"; otherwise the index wins.
                let index = if data.param_index >= 0 {
                    Some(data.param_index as usize)
                } else {
                    param_name(&data.param_id).and_then(|name| self.params.index_of(name))
                };
                match index.and_then(|index| self.params.value_message(index)) {
                    Some(value) => vec![Outbound::reply(from, MavMessage::PARAM_VALUE(value))],
                    None => {
                        // Autopilots stay silent; the ground station times out.
                        tracing::debug!(vehicle = %self.vehicle.name(), index = data.param_index, "no such parameter");
                        Vec::new()
                    }
                }
            }
            MavMessage::PARAM_SET(data) => {
                if !self.is_for_autopilot(data.target_system, data.target_component) {
                    return Vec::new();
                }
                let Some(name) = param_name(&data.param_id) else {
                    return Vec::new();
                };
                match self
                    .params
                    .set_from_wire(name, data.param_value, data.param_type)
                {
                    Ok(index) => {
                        tracing::info!(vehicle = %self.vehicle.name(), name, value = data.param_value, "parameter set");
                        self.vehicle.apply_settings(self.params.settings());
                        // Broadcast so every ground station's cache stays right.
                        self.params
                            .value_message(index)
                            .map(|value| Outbound::broadcast(MavMessage::PARAM_VALUE(value)))
                            .into_iter()
                            .collect()
                    }
                    Err(error) => {
                        tracing::debug!(vehicle = %self.vehicle.name(), %error, "PARAM_SET refused");
                        // PX4 and ArduPilot answer a refused set with the unchanged value.
                        let mut outbound: Vec<Outbound> = self
                            .params
                            .index_of(name)
                            .and_then(|index| self.params.value_message(index))
                            .map(|value| Outbound::reply(from, MavMessage::PARAM_VALUE(value)))
                            .into_iter()
                            .collect();
                        outbound.push(Outbound::reply(
                            from,
                            statustext(MavSeverity::MAV_SEVERITY_WARNING, &error.to_string()),
                        ));
                        outbound
                    }
                }
            }
            MavMessage::HEARTBEAT(data) => {
                // Peers are kept alive by the link; the link-loss failsafe
                // listens to ground stations only.
                if data.mavtype == MavType::MAV_TYPE_GCS {
                    self.vehicle.gcs_heartbeat();
                }
                self.events_to_outbound()
            }
            other => {
                tracing::trace!(message = other_name(other), "ignoring message");
                Vec::new()
            }
        }
    }

    /// Advance simulated time to `sim_time_s` and report what happened.
    pub fn advance_to(&mut self, sim_time_s: f64) -> Vec<Outbound> {
        let behind_s = sim_time_s - self.vehicle.sim_time_s();
        if behind_s > MAX_CATCH_UP_S {
            tracing::debug!(vehicle = %self.vehicle.name(), behind_s, "simulation lagging, dropping time");
        }
        let mut steps = (behind_s.min(MAX_CATCH_UP_S) / SUBSTEP_S).floor() as u64;
        // A parked vehicle is cheap: one step for the whole span, so a fleet
        // of thousands mostly sitting on docks costs little.
        if steps > 1 && self.vehicle.is_idle() && self.faults.is_empty() {
            self.vehicle.step(steps as f64 * SUBSTEP_S);
            steps = 0;
        }
        while steps > 0 {
            for fault in self.faults.due(self.vehicle.sim_time_s()) {
                if fault.is_link_fault() {
                    self.link.apply(&fault, self.vehicle.sim_time_s());
                } else {
                    tracing::info!(vehicle = %self.vehicle.name(), ?fault, "scheduled fault");
                    self.vehicle.apply_fault(&fault);
                }
            }
            self.vehicle.step(SUBSTEP_S);
            steps -= 1;
        }
        self.events_to_outbound()
    }

    /// Streams due now and mission-transfer retries.
    pub fn poll(&mut self, now: Instant) -> Vec<Outbound> {
        let mut outbound: Vec<Outbound> = self
            .transfer
            .poll(now)
            .into_iter()
            .map(Outbound::from)
            .collect();
        for message_id in self.streams.due(now) {
            if let Some(message) = self.build(message_id) {
                outbound.push(Outbound::broadcast(message));
            }
        }
        outbound
    }

    fn handle_command(
        &mut self,
        sender: Partner,
        request: &CommandRequest,
        now: Instant,
    ) -> Vec<Outbound> {
        let for_us = request.target_component == 0
            || request.target_component == MAV_COMP_ID_AUTOPILOT1
            || (request.target_component == MAV_COMP_ID_CAMERA
                && is_camera_command(request.command));
        if !(self.is_for_system(request.target_system) && for_us) {
            self.ignored.for_someone_else += 1;
            tracing::debug!(
                vehicle = %self.vehicle.name(),
                target_system = request.target_system,
                target_component = request.target_component,
                command = ?request.command,
                "command for someone else"
            );
            return Vec::new();
        }
        let outcome = commands::execute(&mut self.vehicle, &mut self.streams, request, now);
        tracing::debug!(
            vehicle = %self.vehicle.name(),
            command = ?request.command,
            result = ?outcome.result,
            "command"
        );
        let mut outbound = vec![Outbound::reply(
            sender.address,
            MavMessage::COMMAND_ACK(COMMAND_ACK_DATA {
                command: request.command,
                result: outcome.result,
                progress: if outcome.result == MavResult::MAV_RESULT_ACCEPTED {
                    100
                } else {
                    0
                },
                result_param2: 0,
                target_system: sender.system_id,
                target_component: sender.component_id,
            }),
        )];
        if let Some(message) = outcome
            .requested_message_id
            .and_then(|message_id| self.build(message_id))
        {
            outbound.push(Outbound::reply(sender.address, message));
        }
        outbound.extend(self.events_to_outbound());
        outbound
    }

    /// CRC-valid frames whose payload does not decode: answer unknown commands
    /// with UNSUPPORTED (a silent drop would make the sender retry and time
    /// out), refuse unknown mission items, ignore the rest.
    fn handle_undecodable(&mut self, sender: Partner, frame: &Frame) -> Vec<Outbound> {
        self.ignored.undecodable += 1;
        let payload = zero_extended(&frame.payload);
        match frame.message_id {
            // COMMAND_LONG and COMMAND_INT both carry command (u16) at byte 28,
            // then target_system and target_component.
            COMMAND_LONG_ID | COMMAND_INT_ID => {
                let command_id = u16::from_le_bytes([payload[28], payload[29]]);
                let (target_system, target_component) = (payload[30], payload[31]);
                if !self.is_for_system(target_system)
                    || !matches!(target_component, 0 | MAV_COMP_ID_AUTOPILOT1)
                {
                    self.ignored.for_someone_else += 1;
                    return Vec::new();
                }
                tracing::debug!(vehicle = %self.vehicle.name(), command_id, "unknown command");
                vec![Outbound {
                    to: Recipient::Peer(sender.address),
                    message: OutMessage::UnknownCommandAck {
                        command_id,
                        target_system: sender.system_id,
                        target_component: sender.component_id,
                    },
                }]
            }
            // MISSION_ITEM_INT: target_system at byte 32.
            MISSION_ITEM_INT_ID if self.is_for_system(payload[32]) => self
                .transfer
                .on_undecodable_item(sender)
                .into_iter()
                .map(Outbound::from)
                .collect(),
            message_id => {
                tracing::debug!(vehicle = %self.vehicle.name(), message_id, "undecodable message");
                Vec::new()
            }
        }
    }

    fn send_plan_item(
        &mut self,
        sender: Partner,
        mission_type: MavMissionType,
        seq: u16,
    ) -> Vec<Outbound> {
        let item = self
            .plan(mission_type)
            .and_then(|plan| plan.items.get(usize::from(seq)).copied());
        match item {
            Some(item) => vec![Outbound::reply(
                sender.address,
                MavMessage::MISSION_ITEM_INT(item.to_mavlink(
                    sender.system_id,
                    sender.component_id,
                    mission_type,
                )),
            )],
            None => {
                let reply = mission::ack(
                    &sender,
                    mission_type,
                    MavMissionResult::MAV_MISSION_INVALID_SEQUENCE,
                    0,
                );
                vec![reply.into()]
            }
        }
    }

    fn plan(&self, mission_type: MavMissionType) -> Option<&Plan> {
        match mission_type {
            MavMissionType::MAV_MISSION_TYPE_MISSION => Some(self.vehicle.mission()),
            MavMissionType::MAV_MISSION_TYPE_FENCE => Some(&self.fence),
            MavMissionType::MAV_MISSION_TYPE_RALLY => Some(&self.rally),
            MavMissionType::MAV_MISSION_TYPE_ALL => None,
        }
    }

    fn store_plan(&mut self, mission_type: MavMissionType, plan: Plan) {
        match mission_type {
            MavMissionType::MAV_MISSION_TYPE_MISSION => self.vehicle.replace_mission(plan),
            MavMissionType::MAV_MISSION_TYPE_FENCE => {
                self.vehicle
                    .set_geofence(Geofence::from_items(&self.vehicle.home(), &plan.items));
                self.fence = plan;
            }
            MavMissionType::MAV_MISSION_TYPE_RALLY => self.rally = plan,
            MavMissionType::MAV_MISSION_TYPE_ALL => {}
        }
    }

    fn build(&self, message_id: u32) -> Option<MavMessage> {
        let mut message = telemetry::message_for(&self.vehicle, message_id)?;
        if let MavMessage::MISSION_CURRENT(data) = &mut message {
            data.fence_id = self.fence.plan_id;
            data.rally_points_id = self.rally.plan_id;
        }
        Some(message)
    }

    fn events_to_outbound(&mut self) -> Vec<Outbound> {
        let mut outbound = Vec::new();
        let mut heartbeat_due = false;
        let mut landed_state_due = false;
        let mut mission_current_due = false;
        for event in self.vehicle.take_events() {
            match event {
                VehicleEvent::MissionItemReached(seq) => {
                    tracing::info!(vehicle = %self.vehicle.name(), seq, "mission item reached");
                    outbound.push(Outbound::broadcast(MavMessage::MISSION_ITEM_REACHED(
                        MISSION_ITEM_REACHED_DATA { seq },
                    )));
                }
                VehicleEvent::ImageCaptured(capture) => {
                    tracing::info!(
                        vehicle = %self.vehicle.name(),
                        image_index = capture.image_index,
                        lat_deg = capture.position.lat_deg,
                        lon_deg = capture.position.lon_deg,
                        "image captured"
                    );
                    outbound.push(Outbound::broadcast(camera_image_captured(&capture)));
                }
                VehicleEvent::MissionCurrentChanged => mission_current_due = true,
                VehicleEvent::ModeChanged(mode) => {
                    tracing::info!(vehicle = %self.vehicle.name(), mode = mode.name(), "mode changed");
                    heartbeat_due = true;
                }
                VehicleEvent::ArmedChanged(armed) => {
                    tracing::info!(vehicle = %self.vehicle.name(), armed, "arming changed");
                    heartbeat_due = true;
                }
                VehicleEvent::StatusText(severity, text) => {
                    outbound.push(Outbound::broadcast(statustext(severity, &text)));
                }
                VehicleEvent::FenceStatusChanged => {
                    outbound.extend(
                        self.build(telemetry::FENCE_STATUS_ID)
                            .map(Outbound::broadcast),
                    );
                }
                VehicleEvent::LandedStateChanged(state) => {
                    tracing::debug!(vehicle = %self.vehicle.name(), ?state, "landed state changed");
                    landed_state_due = true;
                    // STANDBY/ACTIVE in the heartbeat follows the landed state.
                    heartbeat_due = true;
                }
            }
        }
        // Changes go out at once rather than waiting for the next stream slot,
        // so a bridge sees state transitions in order and without delay.
        if mission_current_due {
            outbound.extend(
                self.build(telemetry::MISSION_CURRENT_ID)
                    .map(Outbound::broadcast),
            );
        }
        if landed_state_due {
            outbound.extend(
                self.build(telemetry::EXTENDED_SYS_STATE_ID)
                    .map(Outbound::broadcast),
            );
        }
        if heartbeat_due {
            outbound.extend(self.build(telemetry::HEARTBEAT_ID).map(Outbound::broadcast));
        }
        outbound
    }

    fn is_for_system(&self, target_system: u8) -> bool {
        target_system == 0 || target_system == self.vehicle.system_id()
    }

    fn is_for_autopilot(&mut self, target_system: u8, target_component: u8) -> bool {
        let for_us = self.is_for_system(target_system)
            && matches!(target_component, 0 | MAV_COMP_ID_AUTOPILOT1);
        if !for_us {
            self.ignored.for_someone_else += 1;
        }
        for_us
    }
}

fn is_camera_command(command: MavCmd) -> bool {
    matches!(
        command,
        MavCmd::MAV_CMD_IMAGE_START_CAPTURE
            | MavCmd::MAV_CMD_IMAGE_STOP_CAPTURE
            | MavCmd::MAV_CMD_DO_SET_CAM_TRIGG_DIST
            | MavCmd::MAV_CMD_REQUEST_MESSAGE
    )
}

fn other_name(message: &MavMessage) -> &'static str {
    use mavlink::Message;
    message.message_name()
}

/// A parameter name from its NUL-padded wire form.
fn param_name(id: &[u8; 16]) -> Option<&str> {
    let length = id.iter().position(|byte| *byte == 0).unwrap_or(id.len());
    std::str::from_utf8(&id[..length]).ok()
}

/// STATUSTEXT, cut to 50 bytes at a character boundary.
pub fn statustext(severity: MavSeverity, text: &str) -> MavMessage {
    let mut length = text.len().min(50);
    while !text.is_char_boundary(length) {
        length -= 1;
    }
    MavMessage::STATUSTEXT(STATUSTEXT_DATA {
        severity,
        text: text[..length].into(),
        id: 0,
        chunk_seq: 0,
    })
}

fn zero_extended(payload: &[u8]) -> [u8; 255] {
    let mut full = [0u8; 255];
    full[..payload.len()].copy_from_slice(payload);
    full
}

fn camera_image_captured(capture: &Capture) -> MavMessage {
    // file_url is a fixed char[205]; longer names are cut at a character boundary.
    let mut url_len = capture.file_url.len().min(205);
    while !capture.file_url.is_char_boundary(url_len) {
        url_len -= 1;
    }
    MavMessage::CAMERA_IMAGE_CAPTURED(CAMERA_IMAGE_CAPTURED_DATA {
        time_utc: capture.time_utc_us,
        time_boot_ms: capture.time_boot_ms,
        lat: deg_to_e7(capture.position.lat_deg),
        lon: deg_to_e7(capture.position.lon_deg),
        alt: (capture.position.alt_msl_m * 1000.0).round() as i32,
        relative_alt: (capture.relative_alt_m * 1000.0).round() as i32,
        q: capture.orientation_wxyz,
        image_index: capture.image_index,
        camera_id: 0,
        capture_result: MavBool::MAV_BOOL_TRUE,
        file_url: capture.file_url[..url_len].into(),
    })
}

/// Hand-encoded COMMAND_ACK for a command id outside the dialect's MavCmd enum.
pub fn encode_unknown_command_ack(
    header: mavlink::MavHeader,
    command_id: u16,
    target_system: u8,
    target_component: u8,
) -> Vec<u8> {
    let [command_lo, command_hi] = command_id.to_le_bytes();
    // Wire order: command u16, result u8, then extensions progress u8,
    // result_param2 i32, target_system u8, target_component u8.
    let mut payload = vec![
        command_lo,
        command_hi,
        MavResult::MAV_RESULT_UNSUPPORTED as u8,
        0,
        0,
        0,
        0,
        0,
        target_system,
        target_component,
    ];
    // MAVLink 2 truncates trailing zeros but always keeps the first byte.
    while payload.len() > 1 && payload.last() == Some(&0) {
        payload.pop();
    }
    let mut frame = vec![
        0xFD,
        payload.len() as u8,
        0,
        0,
        header.sequence,
        header.system_id as u8,
        header.component_id,
        77,
        0,
        0,
    ];
    frame.extend(&payload);
    let crc = mavlink::calculate_crc(&frame[1..], COMMAND_ACK_EXTRA_CRC);
    frame.extend(crc.to_le_bytes());
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_encoded_ack_decodes_with_the_mavlink_crate() {
        let header = mavlink::MavHeader {
            system_id: 3,
            component_id: 1,
            sequence: 9,
        };
        // 42 is not a MAV_CMD, so the typed decoder refuses it, but the frame
        // must still be CRC-valid: patch it to a known id and decode.
        let mut bytes = encode_unknown_command_ack(header, 400, 245, 190);
        let (frames, problems) = crate::link::decode_datagram(&bytes);
        assert_eq!(problems.total(), 0);
        match &frames[0].message {
            Some(MavMessage::COMMAND_ACK(data)) => {
                assert_eq!(data.command, MavCmd::MAV_CMD_COMPONENT_ARM_DISARM);
                assert_eq!(data.result, MavResult::MAV_RESULT_UNSUPPORTED);
                assert_eq!((data.target_system, data.target_component), (245, 190));
            }
            other => panic!("unexpected {other:?}"),
        }
        bytes = encode_unknown_command_ack(header, 42, 245, 190);
        let (frames, problems) = crate::link::decode_datagram(&bytes);
        assert_eq!(problems.total(), 0);
        assert_eq!(frames[0].message_id, 77);
        assert_eq!(
            u16::from_le_bytes([frames[0].payload[0], frames[0].payload[1]]),
            42
        );
    }
}
