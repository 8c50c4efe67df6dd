"""Handlers turn a user's mistake into a readable `gr.Error` pop-up, and a bug into a logged traceback.

Only errors a visitor can act on are shown as they are: bad input (`InputError`), missing model files, and a
chat backend that is down. Anything else is a bug in our code (a NumPy shape, an OpenCV assertion): it is logged
with its traceback under a short id, and the visitor sees that id instead of a message that looks like their fault.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid

import gradio as gr

from pipelines.chat.backends import BackendError
from pipelines.errors import InputError
from pipelines.weights import WeightsNotFoundError

LOG = logging.getLogger("character_studio")
USER_ERRORS = (InputError, WeightsNotFoundError, BackendError)
INTERNAL_ERROR = "Something went wrong on our side (internal error {id}, logged). Please try again or report it."


def _as_popup(err: Exception) -> gr.Error:
    if isinstance(err, USER_ERRORS):
        return gr.Error(str(err))
    incident = uuid.uuid4().hex[:8]
    LOG.error("internal error %s", incident, exc_info=err)
    return gr.Error(INTERNAL_ERROR.format(id=incident))


def user_errors(fn):
    """Decorate a Gradio handler (plain or generator): user errors pop up as they are, bugs as a logged id."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as err:  # noqa: BLE001 - every failure reaches the visitor as a pop-up, bugs logged
                raise _as_popup(err) from err

        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as err:  # noqa: BLE001
            raise _as_popup(err) from err

    return call
