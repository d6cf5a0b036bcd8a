"""Test-session settings shared by tests/ and the notebooks (their kernels inherit this environment)."""

import os

# plotly's renderer otherwise depends on where it runs; figures become plotly JSON outputs
os.environ.setdefault("PLOTLY_RENDERER", "plotly_mimetype")
# notebooks read this switch and shrink their sizes so each runs in seconds
os.environ.setdefault("CT_NOTEBOOK_SIZE", "small")
