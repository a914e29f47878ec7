"""``scinas serve``: a live web dashboard over a results folder that also starts, stops and resumes runs.

It reads the run stores read-only beside running searches (:mod:`scinas.serve.runs`), draws
them in the browser from compact JSON (:mod:`scinas.serve.api`, ``static/``), and controls runs
through a queue of separate processes that outlive the server (:mod:`scinas.serve.control`,
:mod:`scinas.serve.keeper`).  It needs the ``serve`` extra (starlette, uvicorn, jinja2)::

    pip install 'scinas[serve]'
    scinas serve --results results          # http://127.0.0.1:8765

See docs/dashboard.md.
"""

from __future__ import annotations

__all__ = ["SERVE_HINT"]

#: What to install when the web libraries are missing.
SERVE_HINT = "the dashboard needs the serve extra: pip install 'scinas[serve]' (starlette, uvicorn, jinja2)"
