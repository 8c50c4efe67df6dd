"""The Gradio UI of Character Studio: the only package that imports gradio. Handlers call pipelines/.

`studio.shell` builds and launches the page, `studio.cli` is the `character-studio` command. Gradio is not
imported here, so `character-studio face ...` runs a pipeline without loading it.
"""

import os

from studio.ffmpeg import put_ffmpeg_on_path

# Gradio runs handlers in parallel threads; OpenBLAS's own thread pool can then hang (seen: scipy's interpolation
# spinning forever in exec_blas_async_wait under concurrent requests). Its matrices here are tiny, so one thread.
# Set before anything imports numpy: every entry point (app.py, studio.cli) imports this package first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Before any tab looks for ffmpeg (the Chat tab streams speech only when Gradio can run it).
put_ffmpeg_on_path()
