"""How the page refuses an input: one clear message for the visitor, one line in the log."""

from __future__ import annotations

import functools
import html
import logging

import gradio as gr

log = logging.getLogger("tiedae")


def refused(message: str) -> gr.Error:
    """The error for an input the app refuses on purpose: shown to the visitor, one line in the log (no traceback)."""
    log.info("refused: %s", message)
    return gr.Error(message, print_exception=False)


def in_section(view):
    """A section's view that says in the section what is missing (no drawing yet, an unusable one), not in a pop-up."""

    @functools.wraps(view)
    def shown(*args):
        try:
            return view(*args)
        except gr.Error as e:
            return f'<p class="hint">{html.escape(e.message)}</p>'

    return shown
