"""Handlers turn pipeline errors into readable `gr.Error` pop-ups instead of stack traces."""

from __future__ import annotations

import functools
import inspect

import gradio as gr

from pipelines.weights import WeightsNotFoundError

# What a user can fix (bad input) or we can explain (missing weights); anything else is a bug and is left to surface.
USER_ERRORS = (ValueError, WeightsNotFoundError)


def user_errors(fn):
    """Decorate a Gradio handler (plain or generator) so `ValueError` reaches the user as `gr.Error`."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except USER_ERRORS as err:
                raise gr.Error(str(err)) from err

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except USER_ERRORS as err:
            raise gr.Error(str(err)) from err

    return call
