"""``python -m fluxforge.config``: print the sample configuration (every option, its default)."""

from fluxforge.config.sample import render_sample

print(render_sample(), end="")
