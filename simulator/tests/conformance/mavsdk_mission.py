"""MAVSDK-Python, a real ground-station SDK, flies a mission on skyshare-sim.

Usage: python3 mavsdk_mission.py PORT
Connects to the simulated vehicle on 127.0.0.1:PORT, reads its position,
uploads a mission with the mission protocol, arms, starts it, waits for the
end of the mission and the landing, and exits 0. Any step MAVSDK refuses
raises, which exits non-zero with MAVSDK's own message.
"""
import asyncio
import math
import sys

from mavsdk.asyncio import Configuration, ComponentType, Mavsdk
from mavsdk.asyncio.plugins.action import ActionAsync
from mavsdk.asyncio.plugins.mission_raw import MissionRawAsync
from mavsdk.asyncio.plugins.telemetry import TelemetryAsync
from mavsdk.plugins.mission_raw import MissionItem

FRAME_RELATIVE_ALT = 3
FRAME_MISSION = 2


def item(seq, command, frame, lat=0.0, lon=0.0, alt=0.0, p1=0.0):
    return MissionItem(
        seq=seq, frame=frame, command=command, current=1 if seq == 0 else 0,
        autocontinue=1, param1=p1, param2=0.0, param3=0.0, param4=float("nan"),
        x=int(round(lat * 1e7)), y=int(round(lon * 1e7)), z=alt, mission_type=0,
    )


async def until(what, check, timeout_s):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def main(port):
    sdk = Mavsdk(Configuration.create_with_component_type(ComponentType.GROUND_STATION))
    await sdk.add_any_connection(f"udpout://127.0.0.1:{port}")
    vehicle = await sdk.first_autopilot(timeout_s=10)
    telemetry, action, mission = TelemetryAsync(vehicle), ActionAsync(vehicle), MissionRawAsync(vehicle)

    # MAVSDK reports NaN until the first GLOBAL_POSITION_INT has arrived.
    async def has_position():
        return not math.isnan((await telemetry.position()).latitude_deg)

    await until("a position", has_position, 10)
    home = await telemetry.position()
    lat0, lon0 = home.latitude_deg, home.longitude_deg
    print(f"position from GLOBAL_POSITION_INT: {lat0:.6f} {lon0:.6f}")
    north = lat0 + 80.0 / 111_320.0
    east = lon0 + 60.0 / (111_320.0 * math.cos(math.radians(lat0)))
    await mission.upload_mission([
        item(0, 22, FRAME_RELATIVE_ALT, lat0, lon0, 20.0),
        item(1, 16, FRAME_RELATIVE_ALT, north, lon0, 20.0),
        item(2, 16, FRAME_RELATIVE_ALT, north, east, 20.0, p1=1.0),
        item(3, 20, FRAME_MISSION),
    ])
    print("mission uploaded")
    await action.arm()
    print("armed")
    await mission.start_mission()
    print("mission started")
    await until("the mission to finish", mission.is_mission_finished, 120)
    print("mission finished")

    async def landed_and_disarmed():
        return not await telemetry.in_air() and not await telemetry.armed()

    await until("landing and disarm", landed_and_disarmed, 120)
    end = await telemetry.position()
    offset_m = math.hypot((end.latitude_deg - lat0) * 111_320.0,
                          (end.longitude_deg - lon0) * 111_320.0 * math.cos(math.radians(lat0)))
    if offset_m > 10.0:
        raise AssertionError(f"landed {offset_m:.1f} m from home")
    print(f"landed {offset_m:.1f} m from home: MAVSDK flew the mission")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
