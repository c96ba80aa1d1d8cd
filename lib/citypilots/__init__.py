"""citypilots: staggered difference-in-differences for Chinese city pilot programs.

Modules, one idea each:

- ``cities``      the real prefecture-level city table (codes, names, regions, coordinates, types)
- ``pilots``      pilot-program calendars in one schema; ``programs()`` lists them
- ``imputation``  the documented, deterministic rule that completes incomplete calendars
- ``panel``       loading and validating a real city-year panel
- ``simulate``    the calibrated simulated panel: draws, potential outcomes, null worlds
- ``truth``       potential outcomes of every city-year and the estimands read off them
- ``montecarlo``  a computation over many simulated panels (joblib or Dask), cached; summaries
- ``paper``       the main paper's printed numbers, as data
- ``datasource``  which panel the chapters run on: the simulation or the reader's real panel
- ``samples``     comparison groups of a two-program study (dual, single, none; adoption order)
- ``estimates``   the one result shape of every estimator, and the shared argument checks
- ``did``         TWFE, event study, pre-trend test; the robust estimators re-exported
- ``staggered``   Callaway-Sant'Anna, Sun-Abraham, imputation, Goodman-Bacon (wrapping diff-diff)
- ``placebo``     randomization inference: permuted adoption, the fast Frisch-Waugh-Lovell version
- ``instruments`` 2SLS with fixed effects, first-stage and Kleibergen-Paap statistics
- ``matching``    propensity scores, caliper matching, balance, PSM-DID
- ``bootstrap``   the wild cluster bootstrap of a TWFE coefficient
- ``pretrends``   sensitivity to violations of parallel trends (Rambachan-Roth, via diff-diff)
- ``robustness``  small helpers of the robustness checks (lags within a unit)
- ``mechanism``   mediation (paths, identity, cluster bootstrap), a planted confounder, moderation
- ``heterogeneity`` effects by group: split and fully interacted TWFE, tests of differences, size classes
- ``spatial``     weight matrices, the spatial Durbin panel model, LeSage-Pace impacts, distance bands
- ``tables``      tables that put the paper, this book's estimate and the truth side by side
- ``plots``       the house figure style and the book's standard figures
"""

__version__ = "0.1.0"
