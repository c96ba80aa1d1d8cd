"""citypilots: staggered difference-in-differences for Chinese city pilot programs.

The package is layered; arrows point one way (report -> estimators -> data, and simulation ->
data):

- ``data``        the real inputs: ``cities`` (the prefecture-level city table), ``pilots`` (pilot
                  calendars in one schema), ``calendar_completion`` (the documented rule that
                  completes incomplete calendars), ``panel`` (loading and validating a city-year
                  panel), ``paper`` (the main paper's printed numbers), ``samples`` (comparison
                  groups of a two-program study), ``indices`` (entropy-weight composite
                  indices, location quotients, resilience)
- ``simulation``  ``specification`` (a study's data-generating process as YAML, overrides, null
                  worlds), ``generator`` (the simulated panel: draws, potential outcomes),
                  ``truth`` (the estimands read off the potential outcomes), ``calibration``,
                  ``montecarlo`` (a computation over many simulated panels, cached)
- ``estimators``  ``estimates`` (the one result shape and argument checks), ``did`` (TWFE, event
                  study), ``staggered`` (Callaway-Sant'Anna, Sun-Abraham, imputation,
                  Goodman-Bacon), ``placebo``, ``instruments``, ``matching``, ``bootstrap``,
                  ``pretrends``, ``robustness``, ``mechanism``, ``heterogeneity``, ``spatial``,
                  ``synergy`` (the interaction of two staggered treatments), ``contamination``
                  (contamination and TWFE weights of regressions on treatment dummies),
                  ``threshold`` (Hansen's panel threshold regression)
- ``report``      ``datasource`` (which panel a chapter runs on), ``tables``, ``plots``, ``glue``
                  (numbers into the book's text), ``bookcache``

Stable public names: ``citypilots.simulate_panel``, ``citypilots.simulate``,
``citypilots.montecarlo`` and ``citypilots.threshold`` (the modules ``simulation.generator``,
``simulation.montecarlo`` and ``estimators.threshold``).
"""

from .simulation.generator import simulate_panel

__version__ = "0.1.0"
__all__ = ["simulate_panel"]
