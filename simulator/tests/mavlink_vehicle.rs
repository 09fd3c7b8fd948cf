//! End-to-end behaviour of simulated vehicles over real UDP sockets.

mod common;

use common::{command_long, home, Fleet, Gcs, GCS_COMPONENT_ID, GCS_SYSTEM_ID};
use mavlink::dialects::ardupilotmega::{
    MavAutopilot, MavCmd, MavFrame, MavLandedState, MavMessage, MavMissionResult, MavMissionType,
    MavModeFlag, MavProtocolCapability, MavResult, MavState, MavType, MISSION_COUNT_DATA,
    MISSION_ITEM_INT_DATA, MISSION_REQUEST_INT_DATA, MISSION_REQUEST_LIST_DATA,
};
use simulator::GeoPoint;

const NAN: f32 = f32::NAN;
/// HEARTBEAT.custom_mode of PX4 AUTO.LOITER (Hold), the boot mode.
const PX4_HOLD: u32 = 0x0304_0000;

fn e7(deg: f64) -> i32 {
    (deg * 1e7).round() as i32
}

fn distance_m(a: &GeoPoint, lat_e7: i32, lon_e7: i32) -> f64 {
    let b = GeoPoint {
        lat_deg: f64::from(lat_e7) / 1e7,
        lon_deg: f64::from(lon_e7) / 1e7,
        alt_msl_m: a.alt_msl_m,
    };
    let local = a.to_local(&b);
    local.east_m.hypot(local.north_m)
}

fn item(
    seq: u16,
    command: MavCmd,
    frame: MavFrame,
    at: Option<GeoPoint>,
    z: f32,
) -> MISSION_ITEM_INT_DATA {
    let (x, y) = at.map_or((0, 0), |point| (e7(point.lat_deg), e7(point.lon_deg)));
    MISSION_ITEM_INT_DATA {
        param1: 0.0,
        param2: 0.0,
        param3: 0.0,
        param4: NAN,
        x,
        y,
        z,
        seq,
        command,
        target_system: 1,
        target_component: 1,
        frame,
        current: u8::from(seq == 0),
        autocontinue: 1,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
    }
}

fn mission_count(count: u16) -> MavMessage {
    MavMessage::MISSION_COUNT(MISSION_COUNT_DATA {
        count,
        target_system: 1,
        target_component: 1,
        mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        opaque_id: 0,
    })
}

/// Upload `items` with the mission protocol; returns the plan id.
async fn upload(gcs: &mut Gcs, items: &[MISSION_ITEM_INT_DATA]) -> u32 {
    gcs.send(&mission_count(items.len() as u16)).await;
    loop {
        let next = gcs
            .wait_for(
                "MISSION_REQUEST_INT or MISSION_ACK",
                |_, message| match message {
                    MavMessage::MISSION_REQUEST_INT(request) => Some(Err(request.seq)),
                    MavMessage::MISSION_ACK(ack) => Some(Ok(ack.clone())),
                    _ => None,
                },
            )
            .await;
        match next {
            Err(seq) => {
                gcs.send(&MavMessage::MISSION_ITEM_INT(
                    items[usize::from(seq)].clone(),
                ))
                .await
            }
            Ok(ack) => {
                assert_eq!(ack.mavtype, MavMissionResult::MAV_MISSION_ACCEPTED);
                assert_eq!(
                    (ack.target_system, ack.target_component),
                    (GCS_SYSTEM_ID, GCS_COMPONENT_ID)
                );
                return ack.opaque_id;
            }
        }
    }
}

#[tokio::test]
async fn streams_px4_telemetry_to_a_ground_station_that_says_hello() {
    let fleet = Fleet::start(2, 1.0).await;
    let mut gcs = Gcs::connect(fleet.addresses[1]).await;
    gcs.heartbeat().await;

    let (header, heartbeat) = gcs
        .wait_for("HEARTBEAT", |header, message| match message {
            MavMessage::HEARTBEAT(data) => Some((*header, data.clone())),
            _ => None,
        })
        .await;
    assert_eq!((header.system_id, header.component_id), (2, 1));
    assert_eq!(heartbeat.mavtype, MavType::MAV_TYPE_QUADROTOR);
    assert_eq!(heartbeat.autopilot, MavAutopilot::MAV_AUTOPILOT_PX4);
    assert!(heartbeat
        .base_mode
        .contains(MavModeFlag::MAV_MODE_FLAG_CUSTOM_MODE_ENABLED));
    assert!(!heartbeat
        .base_mode
        .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED));
    assert_eq!(heartbeat.custom_mode, PX4_HOLD);
    assert_eq!(heartbeat.system_status, MavState::MAV_STATE_STANDBY);
    assert_eq!(heartbeat.mavlink_version, 3);

    let position = gcs
        .wait_for("GLOBAL_POSITION_INT", |_, message| match message {
            MavMessage::GLOBAL_POSITION_INT(data) => Some(data.clone()),
            _ => None,
        })
        .await;
    let vehicle_home = home(1);
    assert!(distance_m(&vehicle_home, position.lat, position.lon) < 0.05);
    assert_eq!(position.alt, 20_000);
    assert_eq!(position.relative_alt, 0);
    assert_eq!((position.vx, position.vy, position.vz), (0, 0, 0));

    let battery = gcs
        .wait_for("BATTERY_STATUS", |_, message| match message {
            MavMessage::BATTERY_STATUS(data) => Some(data.clone()),
            _ => None,
        })
        .await;
    assert_eq!(battery.battery_remaining, 100);
    assert!(
        (4150..=4200).contains(&battery.voltages[0]),
        "{:?}",
        battery.voltages
    );
    assert_eq!(battery.voltages[6], u16::MAX);

    let landed = gcs
        .wait_for("EXTENDED_SYS_STATE", |_, message| match message {
            MavMessage::EXTENDED_SYS_STATE(data) => Some(data.landed_state),
            _ => None,
        })
        .await;
    assert_eq!(landed, MavLandedState::MAV_LANDED_STATE_ON_GROUND);

    // Discovery requests from protocols.md §1.
    let ack = gcs
        .command(
            2,
            MavCmd::MAV_CMD_REQUEST_MESSAGE,
            [148.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(ack.result, MavResult::MAV_RESULT_ACCEPTED);
    assert_eq!(
        (ack.target_system, ack.target_component),
        (GCS_SYSTEM_ID, GCS_COMPONENT_ID)
    );
    let capabilities = gcs
        .wait_for("AUTOPILOT_VERSION", |_, message| match message {
            MavMessage::AUTOPILOT_VERSION(data) => Some(data.capabilities),
            _ => None,
        })
        .await;
    for needed in [
        MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MISSION_INT,
        MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_COMMAND_INT,
        MavProtocolCapability::MAV_PROTOCOL_CAPABILITY_MAVLINK2,
    ] {
        assert!(capabilities.contains(needed));
    }
    gcs.send(&command_long(
        2,
        MavCmd::MAV_CMD_REQUEST_MESSAGE,
        [242.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ))
    .await;
    let home_position = gcs
        .wait_for("HOME_POSITION", |_, message| match message {
            MavMessage::HOME_POSITION(data) => Some(data.clone()),
            _ => None,
        })
        .await;
    assert!(
        distance_m(
            &vehicle_home,
            home_position.latitude,
            home_position.longitude
        ) < 0.05
    );
    assert_eq!(home_position.altitude, 20_000);

    fleet.stop().await;
}

#[tokio::test]
async fn flies_an_uploaded_survey_mission_and_lands_home() {
    let fleet = Fleet::start(1, 50.0).await;
    let mut gcs = Gcs::connect(fleet.addresses[0]).await;
    gcs.heartbeat().await;
    let battery_at_start = gcs
        .wait_for("BATTERY_STATUS", |_, message| match message {
            MavMessage::BATTERY_STATUS(data) => Some(data.battery_remaining),
            _ => None,
        })
        .await;

    let vehicle_home = home(0);
    let waypoint = vehicle_home.offset_m(60.0, 80.0);
    let mut capture = item(
        2,
        MavCmd::MAV_CMD_IMAGE_START_CAPTURE,
        MavFrame::MAV_FRAME_MISSION,
        None,
        0.0,
    );
    capture.param3 = 1.0;
    let items = [
        item(
            0,
            MavCmd::MAV_CMD_NAV_TAKEOFF,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            None,
            20.0,
        ),
        item(
            1,
            MavCmd::MAV_CMD_NAV_WAYPOINT,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            Some(waypoint),
            20.0,
        ),
        capture,
        item(
            3,
            MavCmd::MAV_CMD_NAV_RETURN_TO_LAUNCH,
            MavFrame::MAV_FRAME_MISSION,
            None,
            0.0,
        ),
    ];
    let plan_id = upload(&mut gcs, &items).await;
    assert_ne!(plan_id, 0);

    let arm = gcs
        .command(
            1,
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(arm.result, MavResult::MAV_RESULT_ACCEPTED);
    let mode = gcs
        .command(
            1,
            MavCmd::MAV_CMD_DO_SET_MODE,
            [1.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(mode.result, MavResult::MAV_RESULT_ACCEPTED);

    let mut reached = Vec::new();
    let mut image = None;
    let mut was_in_air = false;
    let mut landed = false;
    gcs.wait_for("mission flown, landed and disarmed", |_, message| {
        match message {
            MavMessage::MISSION_ITEM_REACHED(data) => reached.push(data.seq),
            MavMessage::CAMERA_IMAGE_CAPTURED(data) => image = Some(data.clone()),
            MavMessage::EXTENDED_SYS_STATE(data) => {
                if data.landed_state == MavLandedState::MAV_LANDED_STATE_IN_AIR {
                    was_in_air = true;
                }
                landed = was_in_air
                    && reached.len() == items.len()
                    && data.landed_state == MavLandedState::MAV_LANDED_STATE_ON_GROUND;
            }
            MavMessage::HEARTBEAT(data) => {
                let armed = data
                    .base_mode
                    .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED);
                if landed && !armed {
                    return Some(());
                }
            }
            _ => {}
        }
        None
    })
    .await;
    assert_eq!(reached, vec![0, 1, 2, 3]);

    let image = image.expect("CAMERA_IMAGE_CAPTURED");
    assert!(
        distance_m(&waypoint, image.lat, image.lon) < 2.0,
        "image away from the waypoint"
    );
    assert!(
        (image.relative_alt - 20_000).abs() < 1_000,
        "relative_alt {}",
        image.relative_alt
    );
    assert_eq!(image.image_index, 0);
    assert_eq!(image.camera_id, 0);
    assert_eq!(image.capture_result.bits(), 1);
    assert!(image.time_utc > 1_600_000_000_000_000);
    assert_eq!(
        image.file_url.to_str().expect("utf-8"),
        "sim://drone-1/IMG_0001.jpg"
    );
    let q_norm: f32 = image.q.iter().map(|c| c * c).sum();
    assert!((q_norm - 1.0).abs() < 1e-4);

    let position = gcs
        .wait_for("GLOBAL_POSITION_INT", |_, message| match message {
            MavMessage::GLOBAL_POSITION_INT(data) => Some(data.clone()),
            _ => None,
        })
        .await;
    assert!(distance_m(&vehicle_home, position.lat, position.lon) < 2.0);
    assert!(position.relative_alt.abs() < 100);
    let battery = gcs
        .wait_for("BATTERY_STATUS", |_, message| match message {
            MavMessage::BATTERY_STATUS(data) => Some(data.clone()),
            _ => None,
        })
        .await;
    assert!(
        battery.battery_remaining < battery_at_start,
        "battery did not drain"
    );
    assert!(
        battery.current_consumed > 50,
        "consumed {} mAh",
        battery.current_consumed
    );

    fleet.stop().await;
}

#[tokio::test]
async fn ignores_garbage_bad_crc_and_mavlink1_and_keeps_answering() {
    let fleet = Fleet::start(2, 1.0).await;
    let mut gcs = Gcs::connect(fleet.addresses[0]).await;

    gcs.send_raw(&[0x00, 0xFD, 0x03, 0xFF, 0x42, 0x13, 0x37])
        .await;
    gcs.send_raw(&[0xFD; 300]).await;
    let mut corrupt = gcs.encode(&command_long(
        1,
        MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ));
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x5A;
    gcs.send_raw(&corrupt).await;
    // A MAVLink 1 heartbeat: magic FE, len 9, seq, sysid, compid, msgid 0.
    let mut mavlink1 = vec![0xFE, 9, 0, GCS_SYSTEM_ID, GCS_COMPONENT_ID, 0];
    mavlink1.extend([0u8; 9]);
    mavlink1.extend([0xAB, 0xCD]);
    gcs.send_raw(&mavlink1).await;
    // A CRC-valid frame with a message id no dialect defines.
    let mut unknown = gcs.encode(&command_long(1, MavCmd::MAV_CMD_REQUEST_MESSAGE, [0.0; 7]));
    unknown[7] = 0x34;
    unknown[8] = 0x12;
    gcs.send_raw(&unknown).await;

    // Still alive: a valid request is answered, and the corrupt arm did nothing.
    let ack = gcs
        .command(
            1,
            MavCmd::MAV_CMD_REQUEST_MESSAGE,
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(ack.result, MavResult::MAV_RESULT_ACCEPTED);
    assert!(!gcs.next_heartbeat_is_armed().await);

    // An unsupported command is refused, not ignored.
    let ack = gcs
        .command(
            1,
            MavCmd::MAV_CMD_DO_FLIGHTTERMINATION,
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(ack.result, MavResult::MAV_RESULT_UNSUPPORTED);

    // A command id outside the dialect gets UNSUPPORTED too (checked on the raw frame,
    // since the typed decoder cannot represent the id).
    let mut unknown_command =
        gcs.encode(&command_long(1, MavCmd::MAV_CMD_REQUEST_MESSAGE, [0.0; 7]));
    // COMMAND_LONG: command at payload bytes 28..30, payload starts at byte 10.
    unknown_command[38] = 0x39;
    unknown_command[39] = 0x30; // 12345
    let payload_end = unknown_command.len() - 2;
    let crc = mavlink::calculate_crc(&unknown_command[1..payload_end], 152);
    unknown_command[payload_end..].copy_from_slice(&crc.to_le_bytes());
    gcs.send_raw(&unknown_command).await;
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let datagram = tokio::time::timeout_at(deadline, gcs.recv_raw())
            .await
            .expect("ACK for the unknown command");
        let (frames, _) = simulator::link::decode_datagram(&datagram);
        let Some(frame) = frames.first() else {
            continue;
        };
        if frame.message_id == 77 && frame.payload[..2] == [0x39, 0x30] {
            assert_eq!(frame.payload[2], MavResult::MAV_RESULT_UNSUPPORTED as u8);
            break;
        }
    }

    // The other vehicle was never disturbed.
    let mut other = Gcs::connect(fleet.addresses[1]).await;
    let ack = other
        .command(
            2,
            MavCmd::MAV_CMD_REQUEST_MESSAGE,
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(ack.result, MavResult::MAV_RESULT_ACCEPTED);

    fleet.stop().await;
}

async fn requested_seq(gcs: &Gcs) -> u16 {
    gcs.wait_for("MISSION_REQUEST_INT", |_, message| match message {
        MavMessage::MISSION_REQUEST_INT(request) => Some(request.seq),
        MavMessage::MISSION_ACK(ack) => panic!("unexpected {ack:?}"),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn out_of_order_mission_item_is_re_requested_and_plan_downloads() {
    let fleet = Fleet::start(1, 1.0).await;
    let mut gcs = Gcs::connect(fleet.addresses[0]).await;
    let vehicle_home = home(0);
    let items = [
        item(
            0,
            MavCmd::MAV_CMD_NAV_TAKEOFF,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            None,
            15.0,
        ),
        item(
            1,
            MavCmd::MAV_CMD_NAV_WAYPOINT,
            MavFrame::MAV_FRAME_GLOBAL_RELATIVE_ALT,
            Some(vehicle_home.offset_m(30.0, 0.0)),
            15.0,
        ),
    ];
    gcs.send(&mission_count(2)).await;
    assert_eq!(requested_seq(&gcs).await, 0);
    gcs.send(&MavMessage::MISSION_ITEM_INT(items[1].clone()))
        .await;
    assert_eq!(
        requested_seq(&gcs).await,
        0,
        "out-of-order item must be re-requested"
    );
    gcs.send(&MavMessage::MISSION_ITEM_INT(items[0].clone()))
        .await;
    assert_eq!(requested_seq(&gcs).await, 1);
    gcs.send(&MavMessage::MISSION_ITEM_INT(items[1].clone()))
        .await;
    let ack = gcs
        .wait_for("MISSION_ACK", |_, message| match message {
            MavMessage::MISSION_ACK(ack) => Some(ack.clone()),
            _ => None,
        })
        .await;
    assert_eq!(ack.mavtype, MavMissionResult::MAV_MISSION_ACCEPTED);

    // Download returns what was uploaded, under the same plan id.
    gcs.send(&MavMessage::MISSION_REQUEST_LIST(
        MISSION_REQUEST_LIST_DATA {
            target_system: 1,
            target_component: 1,
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        },
    ))
    .await;
    let count = gcs
        .wait_for("MISSION_COUNT", |_, message| match message {
            MavMessage::MISSION_COUNT(count) => Some(count.clone()),
            _ => None,
        })
        .await;
    assert_eq!((count.count, count.opaque_id), (2, ack.opaque_id));
    for (seq, uploaded) in items.iter().enumerate() {
        gcs.send(&MavMessage::MISSION_REQUEST_INT(MISSION_REQUEST_INT_DATA {
            seq: seq as u16,
            target_system: 1,
            target_component: 1,
            mission_type: MavMissionType::MAV_MISSION_TYPE_MISSION,
        }))
        .await;
        let downloaded = gcs
            .wait_for("MISSION_ITEM_INT", |_, message| match message {
                MavMessage::MISSION_ITEM_INT(item) => Some(item.clone()),
                _ => None,
            })
            .await;
        assert_eq!(downloaded.seq, uploaded.seq);
        assert_eq!(downloaded.command, uploaded.command);
        assert_eq!(
            (downloaded.x, downloaded.y, downloaded.z),
            (uploaded.x, uploaded.y, uploaded.z)
        );
        assert_eq!(downloaded.target_system, GCS_SYSTEM_ID);
    }

    fleet.stop().await;
}

#[tokio::test]
async fn commands_for_other_systems_are_ignored_and_unsafe_ones_denied() {
    let fleet = Fleet::start(1, 20.0).await;
    let mut gcs = Gcs::connect(fleet.addresses[0]).await;

    // Arm addressed to system 7, then a harmless request to us. UDP on loopback
    // from one socket is ordered and the vehicle handles messages in order, so
    // if the first ACK we see is for the request, the arm was ignored.
    gcs.send(&command_long(
        7,
        MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
        [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ))
    .await;
    gcs.send(&command_long(
        1,
        MavCmd::MAV_CMD_REQUEST_MESSAGE,
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    ))
    .await;
    let first_ack = gcs
        .wait_for("COMMAND_ACK", |_, message| match message {
            MavMessage::COMMAND_ACK(ack) => Some(ack.command),
            _ => None,
        })
        .await;
    assert_eq!(first_ack, MavCmd::MAV_CMD_REQUEST_MESSAGE);
    assert!(!gcs.next_heartbeat_is_armed().await);

    // Modes that cannot be entered.
    let no_mission = gcs
        .command(
            1,
            MavCmd::MAV_CMD_DO_SET_MODE,
            [1.0, 4.0, 4.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(no_mission.result, MavResult::MAV_RESULT_DENIED);
    let no_start = gcs
        .command(1, MavCmd::MAV_CMD_MISSION_START, [0.0; 7])
        .await;
    assert_eq!(no_start.result, MavResult::MAV_RESULT_DENIED);
    let position_mode = gcs
        .command(
            1,
            MavCmd::MAV_CMD_DO_SET_MODE,
            [1.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(position_mode.result, MavResult::MAV_RESULT_DENIED);
    let nonsense = gcs
        .command(
            1,
            MavCmd::MAV_CMD_DO_SET_MODE,
            [1.0, 42.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(nonsense.result, MavResult::MAV_RESULT_UNSUPPORTED);

    // PX4 recipe: takeoff (p7 AMSL), then arm.
    let takeoff = gcs
        .command(
            1,
            MavCmd::MAV_CMD_NAV_TAKEOFF,
            [-1.0, 0.0, 0.0, NAN, NAN, NAN, 20.0 + 12.0],
        )
        .await;
    assert_eq!(takeoff.result, MavResult::MAV_RESULT_ACCEPTED);
    let arm = gcs
        .command(
            1,
            MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
            [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert_eq!(arm.result, MavResult::MAV_RESULT_ACCEPTED);
    gcs.wait_for("in the air", |_, message| match message {
        MavMessage::EXTENDED_SYS_STATE(data)
            if data.landed_state == MavLandedState::MAV_LANDED_STATE_IN_AIR =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    let disarm = gcs
        .command(1, MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, [0.0; 7])
        .await;
    assert_eq!(
        disarm.result,
        MavResult::MAV_RESULT_DENIED,
        "disarm in the air needs force"
    );
    let second_takeoff = gcs
        .command(
            1,
            MavCmd::MAV_CMD_NAV_TAKEOFF,
            [-1.0, 0.0, 0.0, NAN, NAN, NAN, 40.0],
        )
        .await;
    assert_eq!(
        second_takeoff.result,
        MavResult::MAV_RESULT_TEMPORARILY_REJECTED
    );
    let bad_reposition = gcs
        .command(
            1,
            MavCmd::MAV_CMD_DO_REPOSITION,
            [-1.0, 0.0, 0.0, NAN, NAN, NAN, NAN],
        )
        .await;
    assert_eq!(bad_reposition.result, MavResult::MAV_RESULT_UNSUPPORTED);
    let hold = gcs
        .command(
            1,
            MavCmd::MAV_CMD_DO_REPOSITION,
            [-1.0, 1.0, 0.0, NAN, NAN, NAN, NAN],
        )
        .await;
    assert_eq!(hold.result, MavResult::MAV_RESULT_ACCEPTED);

    let land = gcs
        .command(
            1,
            MavCmd::MAV_CMD_NAV_LAND,
            [0.0, 0.0, 0.0, NAN, NAN, NAN, NAN],
        )
        .await;
    assert_eq!(land.result, MavResult::MAV_RESULT_ACCEPTED);
    gcs.wait_for("landed and disarmed", |_, message| match message {
        MavMessage::HEARTBEAT(data)
            if !data
                .base_mode
                .contains(MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED)
                && data.system_status == MavState::MAV_STATE_STANDBY =>
        {
            Some(())
        }
        _ => None,
    })
    .await;

    fleet.stop().await;
}
