"""How many camera frames reach a best-effort subscriber, per Fast DDS profile on each side.

Why: the README tells users which transport profile to set on the camera's side and the
node's; this measures it. A publisher process sends 854x480 rgb8 frames at 30 Hz (the issue's
camera) for a few seconds; a subscriber process with the node's QoS (best effort, depth 5)
counts what arrives. Each side runs either with Fast DDS defaults or with
config/fastdds_shm.xml (FASTRTPS_DEFAULT_PROFILES_FILE), all four combinations.

    PYTHONPATH=. .venv/bin/python tools/bench_transport.py [--seconds 5] [--rate 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "config" / "fastdds_shm.xml"
TOPIC = "/bench_transport/image"
WIDTH, HEIGHT = 854, 480


def _publish(seconds: float, rate: float) -> None:
    rclpy.init()
    node = rclpy.create_node("bench_transport_camera")
    publisher = node.create_publisher(Image, TOPIC, qos_profile_sensor_data)
    deadline = time.monotonic() + 30.0
    while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # let discovery settle on both sides
    pixels = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), np.uint8).tobytes()
    msg = Image(height=HEIGHT, width=WIDTH, encoding="rgb8", step=WIDTH * 3, data=pixels)
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        msg.header.stamp = node.get_clock().now().to_msg()
        publisher.publish(msg)
        sent += 1
        time.sleep(max(0.0, start + sent / rate - time.monotonic()))
    print(sent, flush=True)
    node.destroy_node()
    rclpy.shutdown()


def _subscribe(seconds: float) -> None:
    rclpy.init()
    node = rclpy.create_node("bench_transport_node")
    arrivals: list[float] = []
    node.create_subscription(
        Image, TOPIC, lambda _: arrivals.append(time.monotonic()), qos_profile_sensor_data
    )
    deadline = time.monotonic() + seconds + 40.0
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
        if arrivals and time.monotonic() - arrivals[-1] > 2.0:
            break
    print(len(arrivals), flush=True)
    node.destroy_node()
    rclpy.shutdown()


def _env(shm: bool) -> dict[str, str]:
    env = os.environ.copy()
    env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
    if shm:
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(PROFILE)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return env


def measure(camera_shm: bool, node_shm: bool, seconds: float, rate: float) -> tuple[int, int]:
    """(frames sent, frames received) for one combination of profiles."""
    me = [sys.executable, __file__, "--seconds", str(seconds), "--rate", str(rate)]
    sub = subprocess.Popen(
        [*me, "--role", "sub"], env=_env(node_shm), stdout=subprocess.PIPE, text=True
    )
    pub = subprocess.run(
        [*me, "--role", "pub"],
        env=_env(camera_shm),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    received, _ = sub.communicate(timeout=seconds + 60)
    return int(pub.stdout.split()[-1]), int(received.split()[-1])


def main() -> int:
    """Print one line per combination: sides' profiles, frames sent, received, received rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--role", choices=("pub", "sub"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "pub":
        _publish(args.seconds, args.rate)
        return 0
    if args.role == "sub":
        _subscribe(args.seconds)
        return 0
    print(f"{WIDTH}x{HEIGHT} rgb8 at {args.rate:g} Hz for {args.seconds:g} s, best effort depth 5")
    print("camera_profile  node_profile  sent  received  received_hz")
    for camera_shm in (False, True):
        for node_shm in (False, True):
            sent, received = measure(camera_shm, node_shm, args.seconds, args.rate)
            names = ["default", "fastdds_shm"]
            print(
                f"{names[camera_shm]:<15} {names[node_shm]:<13} {sent:>4}  {received:>8}  "
                f"{received / args.seconds:>11.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
