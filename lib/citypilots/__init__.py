"""citypilots: staggered difference-in-differences for Chinese city pilot programs.

Modules, one idea each:

- ``cities``      the real prefecture-level city table (codes, names, regions, coordinates, types)
- ``pilots``      pilot-program calendars in one schema; ``programs()`` lists them
- ``imputation``  the documented, deterministic rule that completes incomplete calendars
- ``panel``       loading and validating a real city-year panel
- ``simulate``    the calibrated simulated panel with planted truth
- ``paper``       the main paper's printed numbers, as data
- ``datasource``  which panel the chapters run on: the simulation or the reader's real panel
- ``samples``     comparison groups of a two-program study (dual, single, none; adoption order)
- ``estimates``   the one result shape of every estimator, and the shared argument checks
- ``did``         TWFE, event study, pre-trend test; the robust estimators re-exported
- ``staggered``   Callaway-Sant'Anna, Sun-Abraham, imputation, Goodman-Bacon (wrapping diff-diff)
- ``tables``      tables that put the paper, this book's estimate and the truth side by side
- ``plots``       the house figure style and the book's standard figures
"""

__version__ = "0.1.0"
