"""Contamination bias of a regression on several treatment dummies (Goldsmith-Pinkham, Hull and
Kolesar 2024, "Contamination bias in linear regressions", American Economic Review 114(12)).

In ``y = sum_k beta_k D_k + X'gamma + unit and time effects + e`` with several treatments, each
``beta_k`` is, by the Frisch-Waugh-Lovell theorem, ``sum_i Dtilde_ki y_i / sum_i Dtilde_ki^2``,
where ``Dtilde_k`` is ``D_k`` residualised on the other treatments, the controls and the fixed
effects. Writing the outcome through its potential outcomes, ``y_i = y_i(0) + sum_l D_li tau_li``,
gives the exact decomposition

    beta_k = sum_i lambda_kk,i tau_ki  +  sum_{l != k} sum_i lambda_kl,i tau_li  +  sum_i w_k,i y_i(0),

with ``lambda_kl,i = Dtilde_ki D_li / sum_j Dtilde_kj^2`` and ``w_k,i = Dtilde_ki / sum_j Dtilde_kj^2``.
The own weights ``lambda_kk`` sum to one but may be negative (the negative weights of
de Chaisemartin and D'Haultfoeuille 2020 are their single-treatment case); the contamination
weights ``lambda_kl`` sum to zero, so they vanish when ``tau_l`` is constant, but not when the
other treatments' effects vary across the city-years, and then ``beta_k`` mixes in the other
treatments' effects. The last term is zero under parallel trends in expectation. A treatment left
out of the regression altogether (a one-pilot regression that keeps the other pilot's cities among
its controls) enters the same way, with weights ``Dtilde_k D_l / sum_j Dtilde_kj^2`` that need not
sum to zero: it contaminates even when its effect is constant.

:func:`contamination_weights` computes the weights for any panel; with the realised effects of
a simulated panel (``effects``: one column per treatment) it also returns the decomposition,
whose parts add up to the regression coefficient exactly; in the one-treatment case the own
weights are the de Chaisemartin and D'Haultfoeuille weights of
:func:`citypilots.estimators.staggered.twfe_weights` (a test checks that they agree). Why written
here: no Python package
computes these weights (the authors' ``multe`` is in Stata and R, and covers a single
multi-valued treatment with a saturated control, not a panel with fixed effects); the tests
check the weights against an explicit dummy-variable regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .estimates import DidArgumentError, as_names, check_columns, check_no_missing, check_numeric


@dataclass
class ContaminationResult:
    """Weights behind each treatment's coefficient.

    ``weights``: one row per observation (aligned with the data), columns ``(k, l)`` = the weight
    ``lambda_kl`` of treatment ``l``'s effect in treatment ``k``'s coefficient. ``summary``: one
    row per treatment ``k`` with its coefficient, the sum and the share (of observations with a
    nonzero own weight) of negative own weights, and the sum of absolute contamination weights
    of each other treatment. ``decomposition`` (when effects were given): one row per treatment
    with its coefficient, its own-effect part, one contamination part per other treatment and
    the untreated-outcome part; they add up to the coefficient.
    """

    weights: pd.DataFrame
    summary: pd.DataFrame
    decomposition: pd.DataFrame | None = None


def _residualise(frame: pd.DataFrame, target: str, regressors: list[str], unit: str, time: str) -> np.ndarray:
    """``target`` residualised on ``regressors`` with unit and time fixed effects (pyfixest)."""
    import pyfixest as pf

    right = " + ".join(regressors) if regressors else "1"
    fit = pf.feols(f"{target} ~ {right} | {unit} + {time}", data=frame, fixef_rm="none")
    return np.asarray(fit.resid(), dtype=float)


def contamination_weights(data: pd.DataFrame, y: str, treatments, unit: str = "city", time: str = "year",
                          controls=(), effects: pd.DataFrame | None = None, omitted=()) -> ContaminationResult:
    """The own and contamination weights of each treatment's two-way fixed-effects coefficient.

    ``treatments``: the treatment dummies of the regression. ``controls``: the other regressors.
    ``omitted``: treatment dummies that are *not* regressors but whose effects are in the outcome
    (a regression on one pilot that keeps the other pilot's cities among its controls); their
    weights ``Dtilde_k D_l / sum Dtilde_k^2`` are computed alike and need not sum to zero, so an
    omitted treatment contaminates even with a constant effect. Together there must be at least
    two. ``effects`` (optional): a frame aligned with ``data`` with one column per treatment,
    omitted ones included, each row's effect of that treatment (for a simulated panel, from its
    potential outcomes); then the outcome's untreated part is ``y - sum_l D_l effect_l`` and the
    decomposition is returned.
    """
    treatments, controls = list(as_names(treatments)), list(as_names(controls))
    omitted = list(as_names(omitted))
    every = treatments + omitted
    if not treatments or len(every) < 2:
        raise DidArgumentError("contamination needs at least two treatments, regressed or omitted; "
                               "with one, use its own weights (staggered.twfe_weights)")
    check_columns(data, [y, unit, time, *every, *controls])
    check_numeric(data, [y, *every, *controls])
    check_no_missing(data, [y, unit, time, *every, *controls])
    if effects is not None:
        missing = [t for t in every if t not in effects.columns]
        if missing or len(effects) != len(data):
            raise DidArgumentError(f"effects must be aligned with the data ({len(data)} rows) and have a column per "
                                   f"treatment; missing: {missing}")
    frame = data[[y, unit, time, *every, *controls]].reset_index(drop=True)
    dummies = frame[every].to_numpy(dtype=float)
    columns, summary, parts = {}, [], []
    coefficients = {}
    for k, name in enumerate(treatments):
        others = [t for t in every if t != name]
        residual = _residualise(frame, name, [t for t in treatments if t != name] + controls, unit, time)
        scale = float(residual @ residual)
        coefficients[name] = float(residual @ frame[y].to_numpy(dtype=float)) / scale
        for l, other in enumerate(every):
            columns[(name, other)] = residual * dummies[:, l] / scale
        own = columns[(name, name)]
        nonzero = own != 0
        row = {"treatment": name, "coefficient": coefficients[name],
               "own weights, sum of negative": float(own[own < 0].sum()),
               "own weights, share negative": float((own[nonzero] < 0).mean()) if nonzero.any() else np.nan}
        row.update({f"contamination by {other}, sum of |weights|": float(np.abs(columns[(name, other)]).sum())
                    for other in others})
        summary.append(row)
        if effects is not None:
            effect = effects[every].to_numpy(dtype=float)
            untreated = frame[y].to_numpy(dtype=float) - (dummies * effect).sum(axis=1)
            part = {"treatment": name, "coefficient": coefficients[name],
                    "own effect": float(columns[(name, name)] @ effect[:, k])}
            part.update({f"contamination by {other}": float(columns[(name, other)] @ effect[:, l])
                         for l, other in enumerate(every) if other != name})
            part["untreated outcome"] = float(residual @ untreated / scale)
            parts.append(part)
    weights = pd.DataFrame(columns, index=data.index)
    weights.columns = pd.MultiIndex.from_tuples(weights.columns, names=["coefficient of", "effect of"])
    return ContaminationResult(weights=weights, summary=pd.DataFrame(summary).set_index("treatment"),
                               decomposition=pd.DataFrame(parts).set_index("treatment") if parts else None)
