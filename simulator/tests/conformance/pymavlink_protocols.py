"""pymavlink, the reference MAVLink implementation in Python, drives a simulated
drone's parameter, mission, fence and rally protocols the way a ground station
does, including a lost request (the vehicle must retry), out-of-order items and
requests, refused input, and a parameter that changes a failsafe.

Usage: pymavlink_protocols.py PORT PROFILE   (PROFILE: px4 or ardupilot)
Prints one line per step; exits non-zero with the reason on the first failure.
Needs MAVLINK20=1 in the environment (set by the Rust test).
"""

import struct
import sys
import time

from pymavlink import mavutil

PORT = int(sys.argv[1])
PROFILE = sys.argv[2]
GCS_SYSTEM, GCS_COMPONENT = 245, 190
HOME_LAT, HOME_LON = 30.505, 114.398

ml = mavutil.mavlink
link = mavutil.mavlink_connection(
    f"udpout:127.0.0.1:{PORT}", source_system=GCS_SYSTEM, source_component=GCS_COMPONENT
)
mav = link.mav


def fail(reason):
    print(f"FAILED: {reason}", flush=True)
    sys.exit(1)


def step(text):
    print(text, flush=True)


def heartbeat():
    mav.heartbeat_send(ml.MAV_TYPE_GCS, ml.MAV_AUTOPILOT_INVALID, 0, 0, 0)


def recv(types, timeout=5.0, condition=None):
    deadline = time.time() + timeout
    next_heartbeat = 0.0
    while time.time() < deadline:
        if time.time() >= next_heartbeat:
            heartbeat()
            next_heartbeat = time.time() + 1.0
        message = link.recv_match(type=types, blocking=True, timeout=0.2)
        if message is None:
            continue
        if condition is None or condition(message):
            return message
    return None


def e7(degrees):
    return int(round(degrees * 1e7))


def offset(east_m, north_m):
    lat = HOME_LAT + north_m / 111_320.0
    lon = HOME_LON + east_m / (111_320.0 * 0.8615)
    return e7(lat), e7(lon)


# ---- connect -----------------------------------------------------------------
heartbeat()
hb = recv("HEARTBEAT", 10, lambda m: m.get_srcSystem() == 1)
if hb is None:
    fail("no HEARTBEAT from the vehicle")
expected_autopilot = ml.MAV_AUTOPILOT_PX4 if PROFILE == "px4" else ml.MAV_AUTOPILOT_ARDUPILOTMEGA
if hb.autopilot != expected_autopilot:
    fail(f"HEARTBEAT autopilot {hb.autopilot}, expected {expected_autopilot}")
link.target_system, link.target_component = 1, 1
step("connected")

# What a ground station asks first: capabilities and home.
mav.command_long_send(1, 1, ml.MAV_CMD_REQUEST_MESSAGE, 0, ml.MAVLINK_MSG_ID_AUTOPILOT_VERSION, 0, 0, 0, 0, 0, 0)
version = recv("AUTOPILOT_VERSION", 3)
if version is None:
    fail("no AUTOPILOT_VERSION on REQUEST_MESSAGE")
for name in ["MISSION_INT", "COMMAND_INT", "MAVLINK2", "MISSION_FENCE", "MISSION_RALLY", "PARAM_FLOAT"]:
    bit = getattr(ml, f"MAV_PROTOCOL_CAPABILITY_{name}")
    if not version.capabilities & bit:
        fail(f"AUTOPILOT_VERSION lacks capability {name}")
mav.command_long_send(1, 1, ml.MAV_CMD_SET_MESSAGE_INTERVAL, 0, ml.MAVLINK_MSG_ID_HOME_POSITION, 200_000, 0, 0, 0, 0, 0)
ack = recv("COMMAND_ACK", 3, lambda m: m.command == ml.MAV_CMD_SET_MESSAGE_INTERVAL)
if ack is None or ack.result != ml.MAV_RESULT_ACCEPTED:
    fail(f"SET_MESSAGE_INTERVAL refused: {ack}")
start = time.time()
homes = 0
while time.time() - start < 1.0:
    if recv("HOME_POSITION", 0.5) is not None:
        homes += 1
if homes < 3:
    fail(f"HOME_POSITION at 5 Hz gave {homes} in a second")
step("capabilities, REQUEST_MESSAGE and SET_MESSAGE_INTERVAL answered")

# ---- parameters ----------------------------------------------------------------
mav.param_request_list_send(1, 1)
params = {}
count = None
deadline = time.time() + 10
while time.time() < deadline and (count is None or len(params) < count):
    message = recv("PARAM_VALUE", 2)
    if message is None:
        break
    count = message.param_count
    params[message.param_index] = message
if count is None or len(params) != count:
    fail(f"PARAM_REQUEST_LIST gave {len(params)} of {count}")
names = {m.param_id: m for m in params.values()}
wanted = (
    ["COM_DL_LOSS_T", "NAV_DLL_ACT", "BAT_LOW_THR", "BAT_CRIT_THR", "GF_ACTION", "GF_MAX_VER_DIST"]
    if PROFILE == "px4"
    else ["FS_GCS_ENABLE", "FS_GCS_TIMEOUT", "BATT_LOW_VOLT", "FENCE_ENABLE", "FENCE_ALT_MAX"]
)
for name in wanted:
    if name not in names:
        fail(f"parameter {name} missing from {sorted(names)}")
step(f"parameter list: {count} parameters")

# Read out of order: the last index, then by name.
mav.param_request_read_send(1, 1, b"", count - 1)
last = recv("PARAM_VALUE", 3, lambda m: m.param_index == count - 1)
if last is None:
    fail("PARAM_REQUEST_READ by index unanswered")
name = wanted[0]
mav.param_request_read_send(1, 1, name.encode(), -1)
by_name = recv("PARAM_VALUE", 3, lambda m: m.param_id == name)
if by_name is None:
    fail(f"PARAM_REQUEST_READ of {name} by name unanswered")
step("parameter read by index and by name")


def int_wire(value):
    """Integer parameters: PX4 sends the bytes, ArduPilot the number."""
    if PROFILE == "px4":
        return struct.unpack("<f", struct.pack("<i", value))[0]
    return float(value)


def int_value(message):
    if PROFILE == "px4":
        return struct.unpack("<i", struct.pack("<f", message.param_value))[0]
    return int(message.param_value)


# Altitude limit at 15 m, action land: set through PARAM_SET and echoed.
REAL, INT = ml.MAV_PARAM_TYPE_REAL32, ml.MAV_PARAM_TYPE_INT32
if PROFILE == "px4":
    settings = [("GF_MAX_VER_DIST", 15.0, REAL), ("GF_ACTION", 5, INT)]
else:
    settings = [("FENCE_ALT_MAX", 15.0, REAL), ("FENCE_TYPE", 1, INT),
                ("FENCE_ACTION", 2, INT), ("FENCE_ENABLE", 1, INT)]
for name, value, kind in settings:
    wire = value if kind == REAL else int_wire(value)
    mav.param_set_send(1, 1, name.encode(), wire, kind)
    echo = recv("PARAM_VALUE", 3, lambda m: m.param_id == name)
    if echo is None:
        fail(f"PARAM_SET {name} not echoed")
    got = echo.param_value if kind == REAL else int_value(echo)
    if abs(got - value) > 1e-6:
        fail(f"PARAM_SET {name}: echoed {got}, sent {value}")
# An out-of-range value is refused: the old value comes back.
limit_name = settings[0][0]
mav.param_set_send(1, 1, limit_name.encode(), -5.0, ml.MAV_PARAM_TYPE_REAL32)
echo = recv("PARAM_VALUE", 3, lambda m: m.param_id == limit_name)
if echo is None or abs(echo.param_value - 15.0) > 1e-6:
    fail(f"out-of-range PARAM_SET changed {limit_name}: {echo}")
step("parameters set, out-of-range value refused")

# ---- mission upload with a lost request and an out-of-order item ---------------
base = 1 if PROFILE == "ardupilot" else 0


def waypoint(seq, east_m, north_m, alt_m, mission_type=ml.MAV_MISSION_TYPE_MISSION,
             command=ml.MAV_CMD_NAV_WAYPOINT, frame=ml.MAV_FRAME_GLOBAL_RELATIVE_ALT, p1=0.0, p2=0.0):
    lat, lon = offset(east_m, north_m)
    return dict(seq=seq, frame=frame, command=command, current=0, autocontinue=1,
                param1=p1, param2=p2, param3=0.0, param4=0.0, x=lat, y=lon, z=alt_m,
                mission_type=mission_type)


def send_item(item):
    mav.mission_item_int_send(
        1, 1, item["seq"], item["frame"], item["command"], item["current"], item["autocontinue"],
        item["param1"], item["param2"], item["param3"], item["param4"], item["x"], item["y"],
        item["z"], item["mission_type"],
    )


def next_request(mission_type, timeout=5.0):
    return recv(["MISSION_REQUEST_INT", "MISSION_REQUEST", "MISSION_ACK"], timeout,
                lambda m: m.mission_type == mission_type)


def upload(items, mission_type, first_seq):
    """Upload; returns the final MISSION_ACK. Answers requests in whatever order they come."""
    mav.mission_count_send(1, 1, len(items) + first_seq, mission_type)
    by_seq = {item["seq"]: item for item in items}
    while True:
        message = next_request(mission_type)
        if message is None:
            fail(f"upload of type {mission_type} stalled")
        if message.get_type() == "MISSION_ACK":
            return message
        if message.seq not in by_seq:
            # ArduPilot's item 0 is home; any position will be replaced.
            send_item(waypoint(message.seq, 0, 0, 0, mission_type))
        else:
            send_item(by_seq[message.seq])


mission = [
    waypoint(base + 0, 0, 0, 20, command=ml.MAV_CMD_NAV_TAKEOFF),
    waypoint(base + 1, 60, 40, 20),
    waypoint(base + 2, 0, 0, 20, command=ml.MAV_CMD_NAV_RETURN_TO_LAUNCH, frame=ml.MAV_FRAME_MISSION),
]
mav.mission_count_send(1, 1, len(mission) + base, ml.MAV_MISSION_TYPE_MISSION)
first = next_request(ml.MAV_MISSION_TYPE_MISSION)
if first is None or first.get_type() == "MISSION_ACK" or first.seq != 0:
    fail(f"upload did not start with a request for item 0: {first}")
# Lose that request: the vehicle must ask again after its timeout.
again = next_request(ml.MAV_MISSION_TYPE_MISSION, timeout=6)
if again is None or again.get_type() == "MISSION_ACK" or again.seq != 0:
    fail(f"no retry of the lost request: {again}")
step("lost item request retried")
# Send item 1 before item 0: the vehicle re-requests 0.
send_item(waypoint(1, 0, 0, 20) if base else mission[1])
again = next_request(ml.MAV_MISSION_TYPE_MISSION)
if again is None or again.get_type() == "MISSION_ACK" or again.seq != 0:
    fail(f"out-of-order item not answered by a request for 0: {again}")
send_item(waypoint(0, 0, 0, 0) if base else mission[0])
by_seq = {item["seq"]: item for item in mission}
while True:
    message = next_request(ml.MAV_MISSION_TYPE_MISSION)
    if message is None:
        fail("mission upload stalled")
    if message.get_type() == "MISSION_ACK":
        ack = message
        break
    send_item(by_seq[message.seq])
if ack.type != ml.MAV_MISSION_ACCEPTED:
    fail(f"mission refused: {ack.type}")
step("mission uploaded despite a lost request and an out-of-order item")

# Download, asking for items out of order.
mav.mission_request_list_send(1, 1, ml.MAV_MISSION_TYPE_MISSION)
count_msg = recv("MISSION_COUNT", 3, lambda m: m.mission_type == ml.MAV_MISSION_TYPE_MISSION)
if count_msg is None or count_msg.count != len(mission) + base:
    fail(f"MISSION_COUNT {count_msg}")
downloaded = {}
for seq in reversed(range(count_msg.count)):
    mav.mission_request_int_send(1, 1, seq, ml.MAV_MISSION_TYPE_MISSION)
    item = recv("MISSION_ITEM_INT", 3, lambda m, s=seq: m.seq == s)
    if item is None:
        fail(f"item {seq} not sent on request")
    downloaded[seq] = item
mav.mission_ack_send(1, 1, ml.MAV_MISSION_ACCEPTED, ml.MAV_MISSION_TYPE_MISSION)
for item in mission:
    got = downloaded[item["seq"]]
    if got.command != item["command"] or (item["frame"] != ml.MAV_FRAME_MISSION and (got.x, got.y) != (item["x"], item["y"])):
        fail(f"downloaded item {item['seq']} differs: {got}")
if base:
    home = downloaded[0]
    if abs(home.x - e7(HOME_LAT)) > 20 or abs(home.y - e7(HOME_LON)) > 20:
        fail(f"ArduPilot item 0 is not home: {home}")
mav.mission_request_int_send(1, 1, count_msg.count + 5, ml.MAV_MISSION_TYPE_MISSION)
refusal = recv("MISSION_ACK", 3, lambda m: m.mission_type == ml.MAV_MISSION_TYPE_MISSION)
if refusal is None or refusal.type != ml.MAV_MISSION_INVALID_SEQUENCE:
    fail(f"request beyond the end not refused: {refusal}")
step("mission downloaded out of order, request past the end refused")

# ---- fence and rally ------------------------------------------------------------
square = [(-150, -150), (150, -150), (150, 150), (-150, 150)]
fence = [
    waypoint(i, e, n, 0, ml.MAV_MISSION_TYPE_FENCE, ml.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
             ml.MAV_FRAME_GLOBAL, p1=4.0)
    for i, (e, n) in enumerate(square)
]
fence.append(waypoint(4, 80, 80, 0, ml.MAV_MISSION_TYPE_FENCE, ml.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION,
                      ml.MAV_FRAME_GLOBAL, p1=20.0))
ack = upload(fence, ml.MAV_MISSION_TYPE_FENCE, 0)
if ack.type != ml.MAV_MISSION_ACCEPTED:
    fail(f"fence refused: {ack.type}")
broken = [dict(item) for item in fence[:3]]
ack = upload(broken[:2] + [dict(broken[2], param1=4.0)], ml.MAV_MISSION_TYPE_FENCE, 0)
if ack.type == ml.MAV_MISSION_ACCEPTED:
    fail("a polygon with fewer vertices than it claims was accepted")
mav.mission_request_list_send(1, 1, ml.MAV_MISSION_TYPE_FENCE)
count_msg = recv("MISSION_COUNT", 3, lambda m: m.mission_type == ml.MAV_MISSION_TYPE_FENCE)
if count_msg is None or count_msg.count != len(fence):
    fail(f"refused fence replaced the stored one: {count_msg}")
for seq in [4, 0, 2, 1, 3]:
    mav.mission_request_int_send(1, 1, seq, ml.MAV_MISSION_TYPE_FENCE)
    item = recv("MISSION_ITEM_INT", 3, lambda m, s=seq: m.seq == s and m.mission_type == ml.MAV_MISSION_TYPE_FENCE)
    if item is None or item.command != fence[seq]["command"] or item.param1 != fence[seq]["param1"]:
        fail(f"fence item {seq} differs: {item}")
mav.mission_ack_send(1, 1, ml.MAV_MISSION_ACCEPTED, ml.MAV_MISSION_TYPE_FENCE)
step("fence uploaded, malformed fence refused, fence downloaded")

rally = [waypoint(0, 30, 30, 15, ml.MAV_MISSION_TYPE_RALLY, ml.MAV_CMD_NAV_RALLY_POINT)]
ack = upload(rally, ml.MAV_MISSION_TYPE_RALLY, 0)
if ack.type != ml.MAV_MISSION_ACCEPTED:
    fail(f"rally refused: {ack.type}")
mav.mission_clear_all_send(1, 1, ml.MAV_MISSION_TYPE_RALLY)
cleared = recv("MISSION_ACK", 3, lambda m: m.mission_type == ml.MAV_MISSION_TYPE_RALLY)
if cleared is None or cleared.type != ml.MAV_MISSION_ACCEPTED:
    fail(f"rally clear not acknowledged: {cleared}")
mav.mission_request_list_send(1, 1, ml.MAV_MISSION_TYPE_RALLY)
count_msg = recv("MISSION_COUNT", 3, lambda m: m.mission_type == ml.MAV_MISSION_TYPE_RALLY)
if count_msg is None or count_msg.count != 0:
    fail(f"rally not cleared: {count_msg}")
step("rally uploaded and cleared")

# ---- the altitude limit set above acts in flight --------------------------------
if PROFILE == "px4":
    mav.command_long_send(1, 1, ml.MAV_CMD_NAV_TAKEOFF, 0, -1, 0, 0, float("nan"),
                          float("nan"), float("nan"), 20.0 + 30.0)
else:
    mav.command_long_send(1, 1, ml.MAV_CMD_DO_SET_MODE, 0, 1, 4, 0, 0, 0, 0, 0)
    ack = recv("COMMAND_ACK", 3, lambda m: m.command == ml.MAV_CMD_DO_SET_MODE)
    if ack is None or ack.result != ml.MAV_RESULT_ACCEPTED:
        fail(f"GUIDED refused: {ack}")
mav.command_long_send(1, 1, ml.MAV_CMD_COMPONENT_ARM_DISARM, 0, 1, 0, 0, 0, 0, 0, 0)
ack = recv("COMMAND_ACK", 3, lambda m: m.command == ml.MAV_CMD_COMPONENT_ARM_DISARM)
if ack is None or ack.result != ml.MAV_RESULT_ACCEPTED:
    fail(f"arming refused: {ack}")
if PROFILE == "ardupilot":
    mav.command_long_send(1, 1, ml.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 0, 30.0)
# FENCE_STATUS goes out the moment the breach starts, just before the STATUSTEXT.
breach = status = None
deadline = time.time() + 30
while time.time() < deadline and (breach is None or status is None):
    message = recv(["STATUSTEXT", "FENCE_STATUS"], 1)
    if message is None:
        continue
    if message.get_type() == "STATUSTEXT" and "Altitude limit" in message.text:
        breach = message
    if message.get_type() == "FENCE_STATUS" and message.breach_status == 1:
        status = message
if breach is None:
    fail("no STATUSTEXT for the altitude limit")
if status is None or status.breach_type != ml.FENCE_BREACH_MAXALT or status.breach_count != 1:
    fail(f"FENCE_STATUS does not report the altitude breach: {status}")
landed = recv("EXTENDED_SYS_STATE", 60, lambda m: m.landed_state == ml.MAV_LANDED_STATE_ON_GROUND)
if landed is None:
    fail("the altitude-limit action (land) did not land the vehicle")
step(f"altitude limit from parameters: '{breach.text}', landed")
step("pymavlink drove every protocol")
