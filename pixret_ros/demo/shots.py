"""The demo's five shots: hand-placed keyframes of the camera and of every object.

Why apart from scenes.py: that module is the machinery (poses, interpolation, composing a
frame); this one is the data, the script of the demo, edited on its own when a shot changes.
"""

from __future__ import annotations

from pixret_ros.demo.scenes import Keyframes, ObjectPath, Pose, Shot


def _whole(n: int, first: Pose, last: Pose | None = None) -> Keyframes:
    """Keys over a whole shot of `n` frames: `first` at its first frame, `last` at its last.

    Why: most poses are given only at a shot's two ends; `last=None` holds `first` still
    (an object lying on the background, which then moves only with the camera).
    """
    return [(0, first), (n - 1, first if last is None else last)]


def _wall() -> Shot:
    """Camera walks past a brick wall with two prints and a poster that is not registered."""
    n = 70
    return Shot(
        name="wall",
        length=n,
        background="brick_wall",
        camera=[
            (0, Pose(320, 240, 1.6, yaw=-20, pitch=4, u=190, v=256)),
            (25, Pose(320, 240, 1.75, angle=1, yaw=-8, pitch=2, u=250, v=252)),
            (45, Pose(320, 240, 1.9, angle=-1, yaw=8, pitch=-2, u=300, v=248)),
            (n - 1, Pose(320, 240, 1.7, yaw=20, pitch=3, u=330, v=252)),
        ],
        paths=[
            ObjectPath("cameraman_print", _whole(n, Pose(150, 240, 0.42)), on_background=True),
            ObjectPath("ihc_slide", _whole(n, Pose(365, 205, 0.42, angle=2)), on_background=True),
            ObjectPath("coins", _whole(n, Pose(330, 420, 0.35)), on_background=True),
        ],
        lighting=[(0, 1.0), (28, 1.0), (38, 0.55), (48, 0.6), (58, 1.15), (n - 1, 1.1)],
        motion_blur=[(0, 0.0), (14, 0.0), (20, 9.0), (26, 0.0)],
    )


def _desk() -> Shot:
    """A page lies on a table seen at a slant; the coffee cup slides over it and stops."""
    n = 70
    return Shot(
        name="desk",
        length=n,
        background="gravel",
        camera=_whole(n, Pose(320, 240, 1.4, pitch=25), Pose(330, 250, 1.5, angle=6, pitch=30)),
        paths=[
            ObjectPath(
                "text",
                _whole(
                    n,
                    Pose(520, 380, 0.9, angle=-20, pitch=30),
                    Pose(500, 395, 0.9, angle=-14, pitch=32),
                ),
            ),
            ObjectPath(
                "page",
                [
                    (0, Pose(250, 190, 1.1, angle=8, pitch=38)),
                    (35, Pose(280, 200, 1.25, angle=-6, pitch=35)),
                    (n - 1, Pose(300, 215, 1.3, angle=-18, pitch=30)),
                ],
            ),
            ObjectPath(
                "coffee_cup",
                [
                    (6, Pose(820, 160, 0.5, angle=-15, pitch=20)),
                    (30, Pose(430, 230, 0.52, angle=5, pitch=22)),
                    (50, Pose(330, 250, 0.55, angle=25, pitch=25)),
                    (n - 1, Pose(320, 255, 0.56, angle=30, pitch=25)),
                ],
            ),
        ],
        lighting=[(0, 1.05), (40, 0.85), (n - 1, 0.75)],
        defocus=[(0, 0.0), (52, 0.0), (62, 2.2), (n - 1, 1.2)],
    )


def _sky() -> Shot:
    """Night sky: the rocket climbs and shrinks, the logo tumbles past; first frames empty."""
    n = 60
    return Shot(
        name="sky",
        length=n,
        background="hubble",
        camera=_whole(
            n, Pose(320, 240, 0.85, u=500, v=420), Pose(320, 240, 0.95, angle=-5, u=560, v=380)
        ),
        paths=[
            ObjectPath(
                "rocket",
                [
                    (6, Pose(300, 640, 1.1, angle=4)),
                    (20, Pose(310, 330, 1.0, angle=8)),
                    (40, Pose(340, 180, 0.7, angle=20, yaw=15)),
                    (n - 1, Pose(380, -40, 0.45, angle=35, yaw=25)),
                ],
                gain=[1.3, 1.2, 1.0, 0.9],
            ),
            ObjectPath(
                "skimage_logo",
                [
                    (12, Pose(-140, 120, 0.35, angle=0, yaw=50)),
                    (30, Pose(170, 260, 0.45, angle=90, yaw=10)),
                    (50, Pose(470, 330, 0.5, angle=200, yaw=-35, pitch=20)),
                    (n - 1, Pose(560, 380, 0.5, angle=240, yaw=-45, pitch=25)),
                ],
            ),
        ],
        lighting=[(0, 1.0), (n - 1, 1.0)],
        defocus=[(0, 0.0), (40, 0.0), (48, 1.6), (56, 0.0)],
    )


def _garage() -> Shot:
    """The motorcycle from the other stereo camera (3-D): zoom and pan, a sheet passes in front."""
    n = 60
    return Shot(
        name="garage",
        length=n,
        background="motorcycle_right",
        camera=[
            (0, Pose(320, 240, 0.95, u=370, v=250)),
            (20, Pose(320, 240, 1.1, angle=-2, u=330, v=260)),
            (40, Pose(320, 240, 1.35, angle=2, u=420, v=270)),
            (n - 1, Pose(320, 240, 1.05, angle=0, u=360, v=255)),
        ],
        paths=[
            ObjectPath(
                "text",
                [
                    (24, Pose(-260, 300, 0.9, angle=12)),
                    (38, Pose(250, 320, 0.95, angle=5)),
                    (52, Pose(900, 290, 0.9, angle=-8)),
                ],
            ),
        ],
        lighting=[(0, 1.0), (15, 0.7), (30, 1.1), (45, 0.65), (n - 1, 1.0)],
        motion_blur=[(0, 0.0), (30, 0.0), (36, 7.0), (42, 0.0)],
    )


def _portraits() -> Shot:
    """No registered object for the first half (a face and a colour wheel), then the cat."""
    n = 40
    return Shot(
        name="portraits",
        length=n,
        background="astronaut",
        camera=_whole(
            n, Pose(320, 240, 1.3, u=256, v=230), Pose(320, 240, 1.45, angle=-4, u=300, v=250)
        ),
        paths=[
            ObjectPath(
                "colorwheel",
                _whole(n, Pose(120, 380, 0.35, yaw=40), Pose(200, 350, 0.4, yaw=-20)),
            ),
            ObjectPath(
                "chelsea_face",
                [
                    (18, Pose(820, 200, 0.6, angle=-10, yaw=45)),
                    (30, Pose(470, 230, 0.75, angle=0, yaw=20)),
                    (n - 1, Pose(430, 240, 0.85, angle=5, yaw=0)),
                ],
            ),
        ],
        lighting=[(0, 0.9), (n - 1, 1.05)],
    )


def sequences() -> list[Shot]:
    """The demo's sequences, in recording order (about 300 frames at 15 Hz: 20 s)."""
    return [_wall(), _desk(), _sky(), _garage(), _portraits()]
