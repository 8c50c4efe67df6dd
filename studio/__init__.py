"""The Gradio UI of Character Studio: the only package that imports gradio. Handlers call pipelines/."""

from studio.runtime import configure
from studio.shell import build_studio, launch

__all__ = ["build_studio", "configure", "launch"]
