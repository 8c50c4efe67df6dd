"""Gradio components adjusted for the studio."""

from __future__ import annotations

import gradio as gr


class PhotoUpload(gr.Image):
    """An image input that passes the uploaded file's path through undecoded.

    Gradio's own Image preprocessing decodes every upload with Pillow first: a broken, empty or
    decompression-bomb file then fails inside Gradio with a generic error, and a 16-bit photo is
    clipped to white before we see it. With this input, `pipelines.image_io.load_image` is the one
    place that judges photos, so users get its clear messages and odd formats keep their pixels.
    """

    is_template = True  # render with Gradio's ordinary Image front end

    def preprocess(self, payload):
        return None if payload is None else payload.path
