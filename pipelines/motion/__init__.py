"""Building blocks of motion capture from video: reading, pose tracking, cleaning, retargeting, clips and files.

Each module does one thing and none imports a UI; `pipelines/motion/pipeline.py` composes them.
"""

from pipelines.motion.edits import DEFAULT_LOOP_BLEND, ClipEdits
from pipelines.motion.pipeline import MotionCaptureConfig, MotionCaptureOutput, MotionCapturePipeline

__all__ = ["DEFAULT_LOOP_BLEND", "ClipEdits", "MotionCaptureConfig", "MotionCaptureOutput", "MotionCapturePipeline"]
