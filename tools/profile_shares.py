"""Per-thread CPU shares of a py-spy recording of pixret_node, split by cause.

Input: `py-spy record --threads --format raw` output (active samples only, no --idle), as
`tools/bench_node.py --profile DIR` writes it. Each line is `thread (TID): NAME;frame;...;leaf
COUNT`. A sample counts for the first cause whose marker appears in its stack (most specific
first), so the shares of one thread add up to its CPU time.

    python tools/profile_shares.py PROFILE.txt --seconds 15 --rate 100

`record` starts such a recording (py-spy from the venv, non-blocking: the sampled process is
never paused, so it runs at its own speed while it is measured).
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

# (cause, markers): a sample whose stack holds any marker belongs to the cause.
CAUSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("engine: gallery sync", ("PixelRetriever.sync", "EngineRun._sync")),
    ("engine: process", ("PixelRetriever.process",)),
    ("frame decode (msg -> rgb)", ("image_to_rgb", "compressed_to_rgb")),
    ("publish results", ("EngineRun._publish", "detection_msgs", "label_image")),
    ("diagnostics", ("publish_diagnostics", "FrameStats.report")),
    ("image callback (slot put)", ("submit_frame", "_on_frame", "LatestSlot.put")),
    ("take + deserialize message", ("_take_subscription", "take_message")),
    ("executor wait-set / dispatch", ("rclpy/executors.py", "concurrent/futures", "rclpy/task.py")),
)
_LINE = re.compile(r"^thread \((?:0x)?[0-9a-fA-F]+\): ([^;]*);?(.*) (\d+)$")


def thread_group(name: str) -> str:
    """Executor pool threads are one group (their numbering is arbitrary)."""
    return re.sub(r"_\d+$", "_*", name) if name.startswith("ThreadPoolExecutor") else name


def shares(path: Path) -> dict[str, Counter[str]]:
    """{thread group: Counter(cause -> samples)} of a raw py-spy file."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        name, stack, count = match.group(1), match.group(2), int(match.group(3))
        cause = next((c for c, marks in CAUSES if any(m in stack for m in marks)), "other")
        out[thread_group(name or "?")][cause] += count
    return dict(out)


def table(found: dict[str, Counter[str]], seconds: float, rate: float) -> str:
    """One line per (thread, cause): % of one core over the recording."""
    total_ticks = seconds * rate
    lines = [f"{'thread':28s} {'cause':32s} {'% of a core':>11s}"]
    for thread, causes in sorted(found.items(), key=lambda kv: -sum(kv[1].values())):
        lines.append(f"{thread:28s} {'(all)':32s} {100 * sum(causes.values()) / total_ticks:11.1f}")
        for cause, count in causes.most_common():
            lines.append(f"{'':28s} {cause:32s} {100 * count / total_ticks:11.1f}")
    return "\n".join(lines)


def record(pid: int, seconds: float, out: Path, rate: float = 100.0) -> subprocess.Popen[bytes]:
    """Start sampling process `pid` for `seconds` into `out` (raw, per thread); wait() on it."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        raise SystemExit(f"profile: {spy} not found (requirements/venv.txt installs py-spy)")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(spy), "record", "--pid", str(pid), "--rate", f"{rate:g}",
        "--duration", str(math.ceil(seconds)), "--format", "raw", "--threads", "--nonblocking",
        "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    """Print the table of one recording."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--seconds", type=float, required=True, help="recording length")
    parser.add_argument("--rate", type=float, default=100.0, help="py-spy samples per second")
    args = parser.parse_args(argv)
    print(table(shares(args.profile), args.seconds, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
