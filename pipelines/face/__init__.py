"""Face expression synthesis: find the face, move its landmarks, mask what must change, repaint it with SimMIM.

`FaceExpressionPipeline` (pipeline.py) composes the steps: detector.py (MediaPipe), landmarks.py (named
landmark groups), align.py (the canonical crop), action_units.py (expressions as FACS moves), warp.py,
simmim/ (the masked-image model) and refine.py (optional diffusion polish).
"""

from pipelines.face.pipeline import ExpressionSheet, FaceExpressionConfig, FaceExpressionOutput, FaceExpressionPipeline

__all__ = ["ExpressionSheet", "FaceExpressionConfig", "FaceExpressionOutput", "FaceExpressionPipeline"]
