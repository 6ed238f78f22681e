"""How many camera frames reach a best-effort subscriber, and how late, per Fast DDS profile.

Why: the README tells users which transport profile to set on the camera's side and the
node's; this measures it. A publisher process sends 854x480 rgb8 frames at 30 Hz (the issue's
camera) for a few seconds; a subscriber process with the node's QoS (best effort, depth 5)
counts what arrives and how long after its header stamp. Each side runs with Fast DDS
defaults (UDP, and Fast DDS's small default shared-memory segment) or with
config/fastdds_shm.xml (FASTRTPS_DEFAULT_PROFILES_FILE), all four combinations; a fifth row
adds Fast DDS data-sharing (zero-copy delivery: `data_sharing` ON for the image topic's
writer and reader, RMW_FASTRTPS_USE_QOS_FROM_XML=1) on both sides, to show what it does for
sensor_msgs/Image.

    PYTHONPATH=. .venv/bin/python tools/bench_transport.py [--seconds 5] [--rate 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
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
    delays: list[float] = []

    def arrived(msg: Image) -> None:
        arrivals.append(time.monotonic())
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        delays.append((node.get_clock().now().nanoseconds - stamp) / 1e6)

    node.create_subscription(Image, TOPIC, arrived, qos_profile_sensor_data)
    deadline = time.monotonic() + seconds + 40.0
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
        if arrivals and time.monotonic() - arrivals[-1] > 2.0:
            break
    p50, p95 = np.percentile(delays, (50, 95)) if delays else (np.nan, np.nan)
    print(len(arrivals), f"{p50:.2f}", f"{p95:.2f}", flush=True)
    node.destroy_node()
    rclpy.shutdown()


_DATA_SHARING = f"""
    <data_writer profile_name="{TOPIC}">
      <qos><data_sharing><kind>ON</kind></data_sharing></qos>
    </data_writer>
    <data_reader profile_name="{TOPIC}">
      <qos><data_sharing><kind>ON</kind></data_sharing></qos>
    </data_reader>
  </profiles>"""


def _env(profile: str, work: Path) -> dict[str, str]:
    """The environment of one side: "default", "fastdds_shm" or "data_sharing"."""
    env = os.environ.copy()
    env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
    env.pop("RMW_FASTRTPS_USE_QOS_FROM_XML", None)
    if profile == "fastdds_shm":
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(PROFILE)
    elif profile == "data_sharing":
        xml = work / "fastdds_data_sharing.xml"
        xml.write_text(PROFILE.read_text().replace("  </profiles>", _DATA_SHARING, 1))
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(xml)
        env["RMW_FASTRTPS_USE_QOS_FROM_XML"] = "1"
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    return env


def measure(camera: str, node: str, seconds: float, rate: float, work: Path) -> str:
    """One table row for a pair of profiles: sent, received, rate, delay p50/p95 (or why not)."""
    me = [sys.executable, __file__, "--seconds", str(seconds), "--rate", str(rate)]
    sub = subprocess.Popen(
        [*me, "--role", "sub"], env=_env(node, work), stdout=subprocess.PIPE, text=True,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    pub = subprocess.run(
        [*me, "--role", "pub"], env=_env(camera, work), capture_output=True, text=True,
        check=False, timeout=seconds + 60,
    )  # fmt: skip
    if pub.returncode:
        sub.kill()
        sub.communicate()
        reason = (pub.stderr.strip().splitlines() or ["no message"])[-1][-110:]
        return f"{camera:<13} {node:<13} camera failed: {reason}"
    received, _ = sub.communicate(timeout=seconds + 60)
    count, p50, p95 = received.split()[-3:]
    sent = int(pub.stdout.split()[-1])
    return (
        f"{camera:<13} {node:<13} {sent:>4}  {int(count):>8}  {int(count) / seconds:>11.1f}"
        f"  {float(p50):>9.2f}  {float(p95):>9.2f}"
    )


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
    print("camera        node          sent  received  received_hz  delay_p50  delay_p95 (ms)")
    pairs = [(c, n) for c in ("default", "fastdds_shm") for n in ("default", "fastdds_shm")]
    with tempfile.TemporaryDirectory(prefix="pixret_transport_") as work:
        for camera, node in [*pairs, ("data_sharing", "data_sharing")]:
            print(measure(camera, node, args.seconds, args.rate, Path(work)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
