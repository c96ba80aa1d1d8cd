"""The public name of the simulation: ``citypilots.simulate.simulate_panel``, with the names of
:mod:`citypilots.simulation.generator`, :mod:`~citypilots.simulation.specification` and
:mod:`~citypilots.simulation.calibration`."""

from .simulation.calibration import *  # noqa: F401,F403
from .simulation.generator import *  # noqa: F401,F403
from .simulation.specification import *  # noqa: F401,F403
