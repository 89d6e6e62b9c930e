"""``python -m strangler.cli``: the same as the ``strangler`` command."""

from strangler.cli import app

app()
