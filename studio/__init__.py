"""The Gradio UI of Character Studio: the only package that imports gradio. Handlers call pipelines/.

`studio.shell` builds and launches the page, `studio.cli` is the `character-studio` command. Nothing is
imported here, so `character-studio face ...` runs a pipeline without loading gradio.
"""

import os

# Gradio runs handlers in parallel threads; OpenBLAS's own thread pool can then hang (seen: scipy's interpolation
# spinning forever in exec_blas_async_wait under concurrent requests). Its matrices here are tiny, so one thread.
# Set before anything imports numpy: every entry point (app.py, studio.cli) imports this package first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
