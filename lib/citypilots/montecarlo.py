"""The public name of :mod:`citypilots.simulation.montecarlo`: ``citypilots.montecarlo.replicate``."""

from .simulation.montecarlo import *  # noqa: F401,F403
