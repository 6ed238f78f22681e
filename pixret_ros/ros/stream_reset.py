"""When pixret_node forgets its stream state (the engine's tracks): a time jump or a new size.

Why: stream mode (engine `temporal`) carries what it found from one frame to the next, which
is right only while the frames are one continuous shot of one camera. A header stamp going
backwards (a bag played in a loop, a restarted driver), a gap longer than `stream_gap_reset`
seconds (a paused bag, a camera that was off) or a new frame size (another camera mode or
source on the same topic) starts a new stream, so the node resets before processing it.
"""

from __future__ import annotations


class StreamResetRule:
    """Remembers the last frame's stamp and size; says why a frame starts a new stream."""

    def __init__(self) -> None:
        self._last_stamp_ns: int | None = None
        self._last_size: tuple[int, int] | None = None

    def check(self, stamp_ns: int, size: tuple[int, int], gap_s: float) -> str | None:
        """Why the frame (header stamp in ns, (width, height)) starts a new stream, or None.

        `gap_s` <= 0 turns the gap rule off (stamps going backwards and new sizes still
        reset). Equal stamps are not a jump: some drivers stamp every frame 0.
        """
        last_stamp, last_size = self._last_stamp_ns, self._last_size
        self._last_stamp_ns, self._last_size = stamp_ns, size
        if last_stamp is None or last_size is None:
            return None
        if size != last_size:
            return f"frame size changed from {last_size[0]}x{last_size[1]} to {size[0]}x{size[1]}"
        if stamp_ns < last_stamp:
            return f"header stamp went back {(last_stamp - stamp_ns) / 1e9:.3f} s"
        if gap_s > 0 and stamp_ns - last_stamp > gap_s * 1e9:
            return (
                f"{(stamp_ns - last_stamp) / 1e9:.3f} s between two frames' stamps, more than "
                f"stream_gap_reset={gap_s:g}"
            )
        return None
