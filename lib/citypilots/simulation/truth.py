"""The truth behind a simulated panel: potential outcomes, and the estimands read off them.

Every simulated city-year carries its outcome under each treatment state a chapter talks about,
computed by :func:`citypilots.simulation.generator.simulate_panel` from the *same draws* (the same city
levels, covariates and shocks) and passed through the same floor at zero and the same rounding
to whole deaths as the observed outcome. An estimand is a realised average of a contrast of
these potential outcomes over a set of city-years: never a parameter of the specification, never
a latent part before the floor or a cap.

Potential outcomes (columns of :attr:`Truth.potential_outcomes`, aligned row by row with the
panel). A pilot is switched on from the city's own adoption year; a pilot the city never joined
stays off in every state, so for a city with one pilot ``Safety_both`` is its one-pilot outcome
and for a city with none all four are equal:

``Safety_none``               neither pilot
``Safety_innovation_only``    the Innovative City pilot only
``Safety_smart_only``         the Smart City pilot only
``Safety_both``               both pilots (the observed outcome)
``Safety_first_only``         the pilot the city joined first, only (missing where a city joined
                              both in the same year or not both)
``Safety_both_TI_untreated``  both pilots, with the mediator TI held at its value without them
``Safety_both_IU_untreated``  the same for IU
``Safety_both_no_moderation`` both pilots, with the moderation by SR switched off
``Safety_no_spillover``       observed, but no other city's dual pilot reaches this city
``Safety_without_<policy>``   observed, but without the effect of another policy on this city
``Safety_none_without_<policy>`` neither pilot, and without that other policy's effect (the outcome
                              untreated by the pilots and by that policy)
``TI_none``, ``TI_both``      the mediator TI without and with both pilots (also ``IU_*``)

Estimands: :meth:`Truth.estimand` dispatches on the names of :data:`ESTIMANDS`, one method each,
whose docstring states the contrast and the rows it is averaged over by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ESTIMANDS = ("dual_vs_none", "second_given_first", "synergy", "innovation_single", "smart_single",
             "mediated_TI", "mediated_IU", "mediator_shift_TI", "mediator_shift_IU", "moderation_SR", "spillover")
"""The estimands every simulated panel has; each other policy of the specification adds one, by its name."""


def _as_mask(rows, n_rows: int) -> np.ndarray:
    """A boolean row mask from a boolean array or Series of the panel's length."""
    mask = np.asarray(rows)
    if mask.dtype != bool or mask.shape != (n_rows,):
        raise ValueError(f"rows must be a boolean mask with one entry per panel row ({n_rows}); "
                         f"got dtype {mask.dtype} and shape {mask.shape}")
    return mask


@dataclass
class Truth:
    """Potential outcomes of every city-year of a simulated panel, and estimands computed from them.

    ``potential_outcomes``: one row per city-year, aligned with the panel, with ``city``, ``year``
    and the ``Safety_*`` columns listed in the module docstring. ``status``: the treatment status
    and attributes that define an estimand's default rows (``Dual_policy``, ``Innova_policy``,
    ``Smart_policy``, ``event_time`` (years since the dual-pilot year), ``SR`` and each other
    policy's dummy). ``at_bound``: True where any of the four pilot potential outcomes sits at the
    zero floor or at the cap of the specification (the share is a diagnostic of the design).
    ``parameters``: the specification the panel was simulated from (for describing the design,
    never as a truth).
    """

    parameters: dict
    potential_outcomes: pd.DataFrame
    status: pd.DataFrame
    at_bound: np.ndarray
    other_policies: tuple[str, ...] = ()
    summary: dict = field(default_factory=dict)

    # -- generic -------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Every estimand this panel has."""
        return ESTIMANDS + self.other_policies

    def contrast(self, name: str) -> pd.Series:
        """The city-year contrast of potential outcomes behind estimand ``name`` (NaN where undefined)."""
        po = self.potential_outcomes
        if name == "dual_vs_none":
            values = po["Safety_both"] - po["Safety_none"]
        elif name == "second_given_first":
            values = po["Safety_both"] - po["Safety_first_only"]
        elif name == "synergy":
            values = (po["Safety_both"] - po["Safety_innovation_only"] - po["Safety_smart_only"]
                      + po["Safety_none"])
        elif name == "innovation_single":
            values = po["Safety_innovation_only"] - po["Safety_none"]
        elif name == "smart_single":
            values = po["Safety_smart_only"] - po["Safety_none"]
        elif name in ("mediated_TI", "mediated_IU"):
            values = po["Safety_both"] - po[f"Safety_both_{name.split('_')[1]}_untreated"]
        elif name in ("mediator_shift_TI", "mediator_shift_IU"):
            mediator = name.rsplit("_", 1)[1]
            values = po[f"{mediator}_both"] - po[f"{mediator}_none"]
        elif name == "moderation_SR":
            values = po["Safety_both"] - po["Safety_both_no_moderation"]
        elif name == "spillover":
            values = po["Safety_both"] - po["Safety_no_spillover"]
        elif name in self.other_policies:
            values = po["Safety_both"] - po[f"Safety_without_{name}"]
        else:
            raise KeyError(f"unknown estimand {name!r}; known: {', '.join(self.names)}")
        return values.rename(name)

    def default_rows(self, name: str) -> np.ndarray:
        """The city-years estimand ``name`` is defined on (see each estimand's docstring)."""
        status = self.status
        dual = status["Dual_policy"].to_numpy() == 1
        if name in ("dual_vs_none", "synergy", "mediated_TI", "mediated_IU", "mediator_shift_TI",
                    "mediator_shift_IU", "moderation_SR"):
            return dual
        if name == "second_given_first":
            return dual & self.potential_outcomes["Safety_first_only"].notna().to_numpy()
        if name == "innovation_single":
            return (status["Innova_policy"].to_numpy() == 1) & (status["Smart_policy"].to_numpy() == 0)
        if name == "smart_single":
            return (status["Smart_policy"].to_numpy() == 1) & (status["Innova_policy"].to_numpy() == 0)
        if name == "spillover":
            return np.ones(len(status), dtype=bool)
        if name in self.other_policies:
            return status[name].to_numpy() == 1
        raise KeyError(f"unknown estimand {name!r}; known: {', '.join(self.names)}")

    def estimand(self, name: str, rows=None, per=None) -> float:
        """The realised average of estimand ``name`` over ``rows`` (default: its own rows).

        ``rows``: a boolean mask on the panel. Rows where the contrast is undefined (the
        second pilot of a city that joined both in the same year) are left out of the average.
        ``per``: an array of positive numbers, one per row, that each city-year's contrast is
        divided by first (the effect on a rate whose denominator no pilot changes, e.g. deaths
        per 100 million yuan of GDP). NaN when no row is left.
        """
        mask = self.default_rows(name) if rows is None else _as_mask(rows, len(self.status))
        values = self.contrast(name).to_numpy(dtype=float)
        if per is not None:
            values = values / np.asarray(per, dtype=float)
        if name == "moderation_SR":
            return self._slope_on_SR(values, mask)
        chosen = values[mask & ~np.isnan(values)]
        return float(chosen.mean()) if len(chosen) else float("nan")

    def _slope_on_SR(self, values: np.ndarray, mask: np.ndarray) -> float:
        sr = self.status["SR"].to_numpy(dtype=float)[mask]
        centred = sr - sr.mean()
        return float((values[mask] * centred).sum() / (centred ** 2).sum())

    def relative_to_event_time(self, name: str = "dual_vs_none", reference: int = -1) -> pd.Series:
        """Each city-year's contrast ``name`` minus the same city's contrast at event time
        ``reference`` (years since the dual-pilot year); NaN for cities without that year."""
        values = self.contrast(name)
        status = self.status
        at_reference = values[status["event_time"] == reference].groupby(status["city"]).first()
        return (values - status["city"].map(at_reference)).rename(name)

    def change_since(self, name: str = "dual_vs_none", reference: int = -1, rows=None) -> float:
        """The realised change of contrast ``name`` since event time ``reference``, averaged over
        ``rows`` (default: the dual-pilot city-years of cities observed at ``reference``): what an
        estimator that compares a treated city with its own year ``reference`` (Callaway-Sant'Anna,
        Sun-Abraham with never-treated controls) can at best recover."""
        mask = self.default_rows("dual_vs_none") if rows is None else _as_mask(rows, len(self.status))
        values = self.relative_to_event_time(name, reference).to_numpy(dtype=float)[mask]
        values = values[~np.isnan(values)]
        return float(values.mean()) if len(values) else float("nan")

    def event_time_path(self, name: str = "dual_vs_none", reference: int | None = -1, rows=None) -> pd.Series:
        """The realised contrast ``name`` averaged by event time (years since the dual-pilot year).

        With ``reference`` (default -1), each city's contrast in its reference year is subtracted
        first: what an event study normalised to that year can at best recover, since a dual city's
        pre-period already carries its first pilot's effect. ``rows`` restricts the city-years (a
        boolean mask on the panel). Cities without a dual-pilot year are left out.
        """
        values = self.contrast(name) if reference is None else self.relative_to_event_time(name, reference)
        frame = pd.DataFrame({"event_time": self.status["event_time"], "value": values})
        if rows is not None:
            frame = frame[_as_mask(rows, len(frame))]
        frame = frame[frame["event_time"].notna() & frame["value"].notna()]
        return frame.groupby(frame["event_time"].astype(int))["value"].mean().rename(name)

    def bound_share(self, rows=None) -> float:
        """Share of city-years (default: the dual-pilot ones) where a pilot potential outcome is at
        the zero floor or a cap: where that happens, a planted effect is not fully realised."""
        mask = self.default_rows("dual_vs_none") if rows is None else _as_mask(rows, len(self.status))
        return float(self.at_bound[mask].mean())

    # -- one method per estimand, each stating its contrast --------------------------------------

    def dual_vs_none(self, rows=None) -> float:
        """Both pilots against neither: mean of ``Safety_both - Safety_none`` over the dual-pilot
        city-years (``Dual_policy == 1``)."""
        return self.estimand("dual_vs_none", rows)

    def second_given_first(self, rows=None) -> float:
        """The second pilot given the first: mean of ``Safety_both - Safety_first_only`` over the
        dual-pilot city-years of cities that joined the two pilots in different years. It contains
        the second pilot's own effect, so it is not the synergy."""
        return self.estimand("second_given_first", rows)

    def synergy(self, rows=None) -> float:
        """The interaction, "one plus one exceeds two": mean of ``Safety_both -
        Safety_innovation_only - Safety_smart_only + Safety_none`` over the dual-pilot city-years.
        Negative: the two pilots together cut deaths by more than the sum of their separate cuts."""
        return self.estimand("synergy", rows)

    def innovation_single(self, rows=None) -> float:
        """The Innovative City pilot alone: mean of ``Safety_innovation_only - Safety_none`` over the
        city-years holding the Innovative City pilot but not the Smart City pilot."""
        return self.estimand("innovation_single", rows)

    def smart_single(self, rows=None) -> float:
        """The Smart City pilot alone: mean of ``Safety_smart_only - Safety_none`` over the
        city-years holding the Smart City pilot but not the Innovative City pilot."""
        return self.estimand("smart_single", rows)

    def mediated_TI(self, rows=None) -> float:
        """The part of the dual-pilot effect that runs through TI (natural indirect effect): mean of
        ``Safety_both - Safety_both_TI_untreated`` over the dual-pilot city-years."""
        return self.estimand("mediated_TI", rows)

    def mediated_IU(self, rows=None) -> float:
        """The part that runs through IU: mean of ``Safety_both - Safety_both_IU_untreated`` over the
        dual-pilot city-years."""
        return self.estimand("mediated_IU", rows)

    def mediator_shift_TI(self, rows=None) -> float:
        """How far both pilots move the mediator TI (the realised path a): mean of ``TI_both -
        TI_none`` over the dual-pilot city-years. ``mediated_TI / mediator_shift_TI`` is the
        realised effect on Safety per unit of TI moved by the pilots (the path b)."""
        return self.estimand("mediator_shift_TI", rows)

    def mediator_shift_IU(self, rows=None) -> float:
        """How far both pilots move IU: mean of ``IU_both - IU_none`` over the dual-pilot city-years."""
        return self.estimand("mediator_shift_IU", rows)

    def moderation_SR(self, rows=None) -> float:
        """The moderation of the dual-pilot effect by safety regulation: the least-squares slope of
        ``Safety_both - Safety_both_no_moderation`` on SR over the dual-pilot city-years (hundreds
        of deaths per unit of SR), the realised counterpart of a ``Dual_policy x SR`` coefficient."""
        return self.estimand("moderation_SR", rows)

    def spillover(self, rows=None) -> float:
        """What other cities' dual pilots do to a city: mean of ``Safety_both - Safety_no_spillover``
        over all city-years."""
        return self.estimand("spillover", rows)

    def other_policy(self, name: str, rows=None) -> float:
        """Another policy's effect: mean of ``Safety_both - Safety_without_<name>`` over the
        city-years the policy is in force (its dummy is 1)."""
        if name not in self.other_policies:
            raise KeyError(f"{name!r} is not another policy of this panel: {', '.join(self.other_policies)}")
        return self.estimand(name, rows)
