"""The clip edits a user can ask for, and the one order they are applied in (studio and CLI alike).

Order matters: amplitude and mirroring act on poses; the loop cross-fades the edited poses; speed
comes last so the loop blend is measured in the captured clip's seconds, not the replayed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.motion.clip import MotionClip

DEFAULT_LOOP_BLEND = 0.3  # seconds of cross-fade when a loop is asked for without a length (studio and CLI)


@dataclass(frozen=True)
class ClipEdits:
    """Remixes of a captured clip; the defaults change nothing."""

    speed: float = 1.0  # play X times faster (0.5 = slow motion); changes the frame count
    stride: float = 1.0  # scale every joint's swing around the average pose (and the root's travel)
    mirror: bool = False  # swap left and right
    loop_blend: float | None = None  # seconds cross-faded from the end into the start; None = no loop

    def apply(self, clip: MotionClip) -> tuple[MotionClip, list[str]]:
        """The edited clip and a short phrase per edit done (for notes), in the order applied."""
        edited, done = clip, []
        if self.stride != 1.0:
            edited = edited.scale_amplitude(self.stride)
            done.append(f"stride x{self.stride:g}")
        if self.mirror:
            edited = edited.mirror()
            done.append("mirrored")
        if self.loop_blend is not None:
            edited = edited.loop(self.loop_blend)
            done.append(f"looped with a {self.loop_blend:g} s blend")
        if self.speed != 1.0:
            edited = edited.retime(self.speed)
            done.append(f"speed x{self.speed:g}")
        return edited, done
