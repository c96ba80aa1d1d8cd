"""Stacked difference in differences (Wing, Freedman and Hollingsworth 2024), for any unit-time panel.

A stacked DID builds one sub-experiment per adoption cohort ``a``: the cohort's units and clean
controls, over the event window ``a - kappa_pre .. a + kappa_post``, and stacks them. Cohorts
whose window does not fit into the data are trimmed. A regression on the stack of the outcome on
a treated dummy, event-time dummies and their interactions (reference: event time -1), weighted
so that every sub-experiment's controls count as much as its treated units (the corrective
"Q-weights" of Wing, Freedman and Hollingsworth, NBER WP 32054, weighting ``"aggregate"``),
estimates the *trimmed aggregate ATT* at each event time; the overall row is their average over
event times ``0 .. kappa_post``. Standard errors are clustered by the original unit, since a
control unit appears in several sub-experiments (CR1 with the factor G/(G-1) (n-1)/(n-p)), with
Student's t on the residual degrees of freedom.

What is wrapped: ``diff_diff.StackedDiD`` (pinned ``diff-diff==3.13.0``), which follows the
authors' R reference code; this module checks the arguments, translates the cohort convention
(missing = never treated) and returns the numbers in a
:class:`citypilots.estimators.estimates.DidResult`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .estimates import (RESULT_COLUMNS, DidArgumentError, DidResult, check_alpha, check_cohort, check_columns,
                        check_no_missing, check_numeric, check_unique_unit_time)

CONTROL_GROUPS = {"never": "never_treated", "notyet": "not_yet_treated"}
OVERALL = "ATT"


def _first_treat_frame(data: pd.DataFrame, y: str, unit: str, time: str, cohort: str) -> pd.DataFrame:
    """The frame ``diff_diff`` gets: unit, time, y and ``_first_treat`` (infinite = never treated)."""
    check_columns(data, [y, unit, time, cohort])
    check_numeric(data, [y, time])
    check_no_missing(data, [y, unit, time])
    check_unique_unit_time(data, unit, time)
    check_cohort(data, unit, time, cohort)
    frame = data[[unit, time, y]].copy()
    values = data[cohort].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    frame["_first_treat"] = np.where(np.isfinite(values), values, np.inf)
    if not np.isfinite(frame["_first_treat"]).any():
        raise DidArgumentError(f"no unit is ever treated: column {cohort!r} is NA (never treated) everywhere")
    return frame.reset_index(drop=True)


def stacked_did(data: pd.DataFrame, y: str, unit: str, time: str, cohort: str, kappa_pre: int = 3,
                kappa_post: int = 5, control_group: str = "never", alpha: float = 0.05) -> DidResult:
    """Stacked DID of Wing, Freedman and Hollingsworth (2024), via ``diff_diff.StackedDiD``.

    ``kappa_pre`` / ``kappa_post``: the event window; cohorts whose window does not fit into the
    data are trimmed (listed in ``extra["trimmed"]``). ``control_group``: ``"never"`` (never-treated
    units) or ``"notyet"`` (units first treated after ``a + kappa_post``). Weighting: the trimmed
    aggregate ATT (each event time's effect is the average over the kept cohorts, weighted by
    their numbers of treated units). Table indexed by event time (the reference -1 a row of 0
    with missing standard error) and a last row ``"ATT"`` (the ``main_term``): the average of the
    effects at event times 0..kappa_post.
    """
    check_alpha(alpha)
    if control_group not in CONTROL_GROUPS:
        raise DidArgumentError(f"control_group={control_group!r} is not allowed; use 'never' or 'notyet'")
    if int(kappa_pre) < 1 or int(kappa_post) < 0:
        raise DidArgumentError(f"kappa_pre={kappa_pre!r} must be at least 1 (the reference period -1) and "
                               f"kappa_post={kappa_post!r} at least 0")
    frame = _first_treat_frame(data, y, unit, time, cohort)
    from diff_diff import StackedDiD

    model = StackedDiD(kappa_pre=int(kappa_pre), kappa_post=int(kappa_post), weighting="aggregate",
                       control_group=CONTROL_GROUPS[control_group], cluster="unit", alpha=alpha)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Trimmed .* adoption event", category=UserWarning)
        fitted = model.fit(frame, outcome=y, unit=unit, time=time, first_treat="_first_treat")
    records, index = [], []
    for e in sorted(fitted.event_study_effects):
        effect = fitted.event_study_effects[e]
        if e == -1:
            records.append((0.0, np.nan, np.nan, np.nan, np.nan))
        else:
            low, high = effect["conf_int"]
            records.append((effect["effect"], effect["se"], low, high, effect["p_value"]))
        index.append(int(e))
    low, high = fitted.overall_conf_int
    records.append((fitted.overall_att, fitted.overall_se, low, high, fitted.overall_p_value))
    index.append(OVERALL)
    table = pd.DataFrame(records, columns=list(RESULT_COLUMNS),
                         index=pd.Index(index, dtype=object, name="event_time")).astype(float)
    label = {"never": "never treated", "notyet": "not yet treated"}[control_group]
    return DidResult(
        estimator=f"stacked DID (Wing-Freedman-Hollingsworth, {label} controls, window "
                  f"[-{int(kappa_pre)}, {int(kappa_post)}])",
        table=table, n_obs=int(fitted.n_stacked_obs), n_units=int(frame[unit].nunique()),
        inference=f"clustered by {unit} (CR1), t({fitted.inference_df:g})" if fitted.inference_df else
                  f"clustered by {unit} (CR1)",
        main_term=OVERALL, fitted=fitted,
        extra={"cohorts": [int(a) for a in fitted.groups], "trimmed": [int(a) for a in fitted.trimmed_groups],
               "kappa_pre": int(kappa_pre), "kappa_post": int(kappa_post), "control_group": control_group},
    )
