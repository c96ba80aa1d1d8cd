"""Mechanisms of a panel treatment effect: stepwise mediation and moderation, for any panel.

Every function takes the data and the names of its columns (outcome ``y``, ``treatment``,
``mediator`` or ``moderator``, ``controls``, ``unit``, ``time``, ``cluster``), and every regression
is the two-way fixed-effects regression of :func:`citypilots.estimators.did.twfe` (pyfixest; unit and time
effects; CRV1 standard errors clustered by unit unless told otherwise).

- :func:`mediation`: the two-step ("stepwise", Baron and Kenny 1986) design: the mediator on the
  treatment (path ``a``), then the outcome on the treatment and the mediator (direct effect
  ``c'`` and path ``b``), and the total effect ``c`` from the outcome on the treatment alone,
  all on the same rows with the same controls and fixed effects. For least squares the
  identity ``c = c' + a b`` then holds exactly (the omitted-variable formula);
  :meth:`MediationResult.identity` shows it and :func:`mediation_identity` checks printed numbers.
- :func:`bootstrap_mediation`: a pairs cluster bootstrap (resample clusters with replacement,
  refit both equations) of ``a``, ``b``, ``a b``, ``c'`` and ``c``, with percentile intervals.
- :func:`add_mediator_confounder`: a copy of a panel with a planted common cause of the mediator
  and the outcome, to show what stepwise mediation cannot identify (sequential ignorability,
  Imai, Keele and Yamamoto 2010): the causal paths are unchanged, the estimated ``b`` is not.
- :func:`moderation`: the treatment interacted with a centred moderator; :func:`marginal_effects`,
  the effect of the treatment at chosen values of the moderator with delta-method intervals.

Why the bootstrap is written here. A pairs cluster bootstrap refits two fixed-effects regressions
per draw; with pyfixest that is about a tenth of a second a draw (minutes for 999 draws). No
installed package bootstraps a product of coefficients from two equations (``wildboottest``
handles one coefficient of one equation). A resample that draws cluster ``g`` ``w_g`` times is
least squares with frequency weights ``w_g`` (each copy of a unit gets its own fixed effect,
and copies have identical data), so each draw here is a weighted two-way demeaning (alternating
projections, exact in one pass on a balanced panel) and one small cross-product matrix. The tests
check a draw against pyfixest on the explicitly duplicated and relabelled sample, on a balanced
and an unbalanced panel.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats
from tqdm import tqdm

from . import did
from .estimates import (RESULT_COLUMNS, DidArgumentError, DidResult, _raise_problems, as_names, check_alpha,
                        check_columns, check_no_missing, check_numeric, check_unique_unit_time)

PATHS = ("a", "b", "indirect", "direct", "total")
PATH_LABELS = {
    "a": "a: treatment -> mediator",
    "b": "b: mediator -> outcome (given the treatment)",
    "indirect": "indirect effect a x b",
    "direct": "direct effect c'",
    "total": "total effect c",
}


def _check_roles(roles: dict[str, str], controls: Sequence[str], role_word: str) -> None:
    """Each named role (outcome, treatment, mediator, ...) is a different column, not a control."""
    problems = []
    names = list(roles.items())
    for position, (role, name) in enumerate(names):
        for other_role, other_name in names[position + 1:]:
            if name == other_name:
                problems.append(f"the {role} and the {other_role} are the same column {name!r}: "
                                f"a {role_word} must differ from both")
        if name in controls:
            problems.append(f"the {role} {name!r} is also among the controls: remove it from the controls")
    _raise_problems(problems)


def _check_same_sample(data: pd.DataFrame, columns: Sequence[str], unit: str, time: str) -> None:
    """All columns exist, the model columns are numeric and complete, one row per unit-time."""
    check_columns(data, [*columns, unit, time])
    check_numeric(data, columns)
    check_no_missing(data, [*columns, unit, time])
    check_unique_unit_time(data, unit, time)


# ----------------------------------------------------------------------------------------------
# Mediation
# ----------------------------------------------------------------------------------------------

@dataclass
class MediationResult:
    """The three regressions of the stepwise design, fitted on the same rows.

    ``total_model``: outcome on treatment and controls (total effect ``c``). ``mediator_model``:
    mediator on treatment and controls (path ``a``). ``outcome_model``: outcome on treatment,
    mediator and controls (direct effect ``c'``, path ``b``). Each is a
    :class:`citypilots.estimators.estimates.DidResult`.
    """

    outcome: str
    treatment: str
    mediator: str
    total_model: DidResult
    mediator_model: DidResult
    outcome_model: DidResult

    @property
    def a(self) -> float:
        return self.mediator_model.estimate(self.treatment)

    @property
    def b(self) -> float:
        return self.outcome_model.estimate(self.mediator)

    @property
    def direct(self) -> float:
        return self.outcome_model.estimate(self.treatment)

    @property
    def total(self) -> float:
        return self.total_model.estimate(self.treatment)

    @property
    def indirect(self) -> float:
        return self.a * self.b

    def paths(self) -> pd.Series:
        """``a``, ``b``, ``indirect`` (a b), ``direct`` (c') and ``total`` (c)."""
        return pd.Series({"a": self.a, "b": self.b, "indirect": self.indirect, "direct": self.direct,
                          "total": self.total}, name=self.mediator)

    def identity(self) -> pd.Series:
        """The decomposition ``c = c' + a b``: total, direct, indirect, their sum and the gap.

        ``gap`` = total - (direct + indirect) is zero up to rounding (about 1e-12) for least
        squares on the same rows, controls and fixed effects.
        """
        return pd.Series({"total": self.total, "direct": self.direct, "indirect": self.indirect,
                          "direct + indirect": self.direct + self.indirect,
                          "gap": self.total - (self.direct + self.indirect)}, name=self.mediator)


def mediation(data: pd.DataFrame, y: str, treatment: str, mediator: str, controls: str | Iterable[str] = (),
              unit: str = "city", time: str = "year", cluster: str | None = None,
              alpha: float = 0.05) -> MediationResult:
    """Stepwise mediation with two-way fixed effects (Baron and Kenny 1986, in panel form).

    ``M_it = a D_it + x_it'g + m_i + l_t + e_it`` and ``y_it = c' D_it + b M_it + x_it'h + m_i
    + l_t + u_it``, plus the total ``y_it = c D_it + x_it'k + m_i + l_t + v_it``, each by
    :func:`citypilots.estimators.did.twfe` on the same rows (missing values are an error, so no equation can
    drop rows the others keep). ``c = c' + a b`` holds exactly. Reading ``a b`` as the causal
    indirect effect needs sequential ignorability (no unobserved common cause of mediator and
    outcome given treatment, controls and fixed effects; Imai, Keele and Yamamoto 2010), which
    the data cannot test: see :func:`add_mediator_confounder`.
    Returns a :class:`MediationResult`; intervals for ``a b`` come from :func:`bootstrap_mediation`.
    """
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    check_columns(data, [y, treatment, mediator, *controls, unit, time, cluster])
    _check_roles({"outcome": y, "treatment": treatment, "mediator": mediator}, controls, "mediator")
    _check_same_sample(data, [y, treatment, mediator, *controls], unit, time)
    check_no_missing(data, [cluster])
    options = dict(unit=unit, time=time, cluster=cluster, alpha=alpha)
    return MediationResult(
        outcome=y, treatment=treatment, mediator=mediator,
        total_model=did.twfe(data, y, treatment, controls, **options),
        mediator_model=did.twfe(data, mediator, treatment, controls, **options),
        outcome_model=did.twfe(data, y, treatment, (mediator, *controls), **options),
    )


def mediation_identity(total: float, direct: float, a: float, b: float) -> dict:
    """What ``c = c' + a b`` says about four numbers (e.g. a paper's printed ones).

    Returns ``indirect`` (a b), ``implied_direct`` (c - a b: the direct effect the total and the
    paths imply), ``implied_total`` (c' + a b: the total the direct effect and the paths imply)
    and ``gap`` (c - c' - a b), which is zero for least squares on the same rows, controls and
    fixed effects. A gap larger than rounding means the equations were not fitted that way.
    """
    total, direct, a, b = (float(value) for value in (total, direct, a, b))
    indirect = a * b
    return {"indirect": indirect, "implied_direct": total - indirect, "implied_total": direct + indirect,
            "gap": total - direct - indirect}


# ----------------------------------------------------------------------------------------------
# Pairs cluster bootstrap
# ----------------------------------------------------------------------------------------------

def weighted_two_way_demean(values: np.ndarray, unit_codes: np.ndarray, time_codes: np.ndarray,
                            weights: np.ndarray, tol: float = 1e-11, max_iterations: int = 1000) -> np.ndarray:
    """Remove weighted unit and time means from each column of ``values`` (n x k).

    Alternating projections (the method of pyfixest and ``fixest``, without acceleration): subtract
    the weighted unit means, then the weighted time means, until the unit means are below ``tol``
    (relative to the columns' scale). On a balanced panel one pass is exact. Weights must be
    positive; every unit and time code must occur. Returns the demeaned array.
    """
    x = np.array(values, dtype=float, copy=True)
    n = len(x)
    unit_matrix = sparse.csr_matrix((weights, (unit_codes, np.arange(n))))
    time_matrix = sparse.csr_matrix((weights, (time_codes, np.arange(n))))
    unit_weight, time_weight = np.asarray(unit_matrix.sum(axis=1)).ravel(), np.asarray(time_matrix.sum(axis=1)).ravel()
    scale = 1.0 + np.abs(x).max(axis=0)
    for _ in range(max_iterations):
        x -= (unit_matrix @ x / unit_weight[:, None])[unit_codes]
        x -= (time_matrix @ x / time_weight[:, None])[time_codes]
        if np.all(np.abs(unit_matrix @ x / unit_weight[:, None]) <= tol * scale):
            return x
    raise RuntimeError(f"two-way demeaning did not converge in {max_iterations} iterations")


def _solve(cross: np.ndarray, dependent: int, regressors: list[int]) -> np.ndarray:
    return np.linalg.solve(cross[np.ix_(regressors, regressors)], cross[regressors, dependent])


def _mediation_paths_from_cross_products(cross: np.ndarray, n_controls: int) -> np.ndarray:
    """a, b, a b, c', c from the cross-product matrix of demeaned [y, M, D, X...]."""
    controls = list(range(3, 3 + n_controls))
    total = _solve(cross, 0, [2, *controls])[0]
    a = _solve(cross, 1, [2, *controls])[0]
    direct, b = _solve(cross, 0, [2, 1, *controls])[:2]
    return np.array([a, b, a * b, direct, total])


def _recode(codes: np.ndarray) -> np.ndarray:
    """Codes 0..k-1 for the values present in ``codes`` (integer codes, any gaps)."""
    present = np.zeros(codes.max() + 1, dtype=bool)
    present[codes] = True
    return (np.cumsum(present) - 1)[codes]


def _paths_from_arrays(values: np.ndarray, unit_codes: np.ndarray, time_codes: np.ndarray,
                       weights: np.ndarray, n_controls: int) -> np.ndarray:
    keep = weights > 0
    kept_weights = weights[keep]
    demeaned = weighted_two_way_demean(values[keep], _recode(unit_codes[keep]), _recode(time_codes[keep]),
                                       kept_weights)
    cross = (demeaned * kept_weights[:, None]).T @ demeaned
    return _mediation_paths_from_cross_products(cross, n_controls)


def _model_arrays(data: pd.DataFrame, y: str, treatment: str, mediator: str, controls: Sequence[str],
                  unit: str, time: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = data[[y, mediator, treatment, *controls]].to_numpy(dtype=float)
    return values, pd.factorize(data[unit].to_numpy())[0], pd.factorize(data[time].to_numpy())[0]


def mediation_paths_weighted(data: pd.DataFrame, y: str, treatment: str, mediator: str,
                             controls: Sequence[str], unit: str = "city", time: str = "year",
                             weights: np.ndarray | None = None) -> pd.Series:
    """``a``, ``b``, ``indirect``, ``direct``, ``total`` by weighted least squares with unit and time effects.

    ``weights`` (one per row, non-negative; rows with weight 0 are left out) are frequency
    weights: a row of weight w counts as w copies. One bootstrap draw of
    :func:`bootstrap_mediation` is this function with the cluster counts of the draw. No
    argument checks: :func:`mediation` and :func:`bootstrap_mediation` make them.
    """
    values, unit_codes, time_codes = _model_arrays(data, y, treatment, mediator, controls, unit, time)
    weights = np.ones(len(data)) if weights is None else np.asarray(weights, dtype=float)
    paths = _paths_from_arrays(values, unit_codes, time_codes, weights, len(controls))
    return pd.Series(paths, index=list(PATHS))


def bootstrap_mediation(data: pd.DataFrame, y: str, treatment: str, mediator: str,
                        controls: str | Iterable[str] = (), unit: str = "city", time: str = "year",
                        cluster: str | None = None, n_boot: int = 999, seed: int = 0,
                        alpha: float = 0.05, progress: bool = True) -> DidResult:
    """Pairs cluster bootstrap of the stepwise mediation paths, with percentile intervals.

    Each draw resamples the clusters (default: the units) with replacement and refits the total,
    mediator and outcome equations of :func:`mediation` on the resample, so ``a`` and ``b`` keep
    their sampling correlation (which the Sobel formula ignores). A cluster drawn w times enters
    with frequency weight w (each copy has its own unit effect): see the module docstring. Units
    must be nested in clusters. Draws use ``numpy.random.default_rng(seed)``.

    Returns a :class:`DidResult` indexed by path (``a``, ``b``, ``indirect``, ``direct``,
    ``total``): ``estimate`` on the full sample, ``std_error`` the standard deviation of the
    draws, ``ci_low``/``ci_high`` the ``alpha/2`` and ``1 - alpha/2`` percentiles of the draws,
    ``p_value`` twice the smaller share of draws on either side of zero (the smallest level at
    which the percentile interval excludes zero; at least 2/(n_boot+1)). ``extra["draws"]`` holds
    every draw; ``extra["identity_gap"]`` the largest |c - c' - a b| over the draws.
    """
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    check_columns(data, [y, treatment, mediator, *controls, unit, time, cluster])
    _check_roles({"outcome": y, "treatment": treatment, "mediator": mediator}, controls, "mediator")
    _check_same_sample(data, [y, treatment, mediator, *controls], unit, time)
    check_no_missing(data, [cluster])
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise DidArgumentError(f"n_boot={n_boot!r} must be an integer of at least 2 (e.g. 999)")
    clusters_per_unit = data.groupby(unit)[cluster].nunique()
    if (clusters_per_unit > 1).any():
        examples = list(clusters_per_unit.index[clusters_per_unit > 1][:5])
        raise DidArgumentError(f"units must be nested in clusters: {unit} {examples} fall in more than "
                               f"one {cluster}")

    values, unit_codes, time_codes = _model_arrays(data, y, treatment, mediator, controls, unit, time)
    full = _paths_from_arrays(values, unit_codes, time_codes, np.ones(len(data)), len(controls))
    cluster_codes, cluster_labels = pd.factorize(data[cluster].to_numpy())
    n_clusters = len(cluster_labels)
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, len(PATHS)))
    for draw in tqdm(range(n_boot), desc=f"bootstrap of the {mediator} channel", disable=not progress):
        counts = np.bincount(rng.integers(n_clusters, size=n_clusters), minlength=n_clusters)
        draws[draw] = _paths_from_arrays(values, unit_codes, time_codes, counts[cluster_codes], len(controls))
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    below, above = (draws <= 0).mean(axis=0), (draws >= 0).mean(axis=0)
    p_value = np.clip(2 * np.minimum(below, above), 2 / (n_boot + 1), 1.0)
    table = pd.DataFrame({"estimate": full, "std_error": draws.std(axis=0, ddof=1),
                          "ci_low": low, "ci_high": high, "p_value": p_value},
                         index=pd.Index(list(PATHS), name="path"))[list(RESULT_COLUMNS)]
    draws_frame = pd.DataFrame(draws, columns=list(PATHS))
    gap = np.abs(draws_frame["total"] - draws_frame["direct"] - draws_frame["indirect"]).max()
    return DidResult(
        estimator=f"stepwise mediation through {mediator} (TWFE), pairs cluster bootstrap",
        table=table, n_obs=len(data), n_units=int(data[unit].nunique()),
        inference=f"pairs cluster bootstrap by {cluster} ({n_clusters} clusters, {n_boot} draws, seed {seed}), "
                  "percentile intervals",
        main_term="indirect", fitted=None,
        extra={"draws": draws_frame, "identity_gap": float(gap), "n_clusters": n_clusters, "seed": seed,
               "n_boot": int(n_boot), "mediator": mediator},
    )


# ----------------------------------------------------------------------------------------------
# What stepwise mediation cannot identify
# ----------------------------------------------------------------------------------------------

def add_mediator_confounder(data: pd.DataFrame, mediator: str, outcome: str, on_mediator: float,
                            on_outcome: float, mediator_effect: float, seed: int,
                            keep_as: str | None = None) -> pd.DataFrame:
    """A copy of ``data`` with a planted unobserved common cause of ``mediator`` and ``outcome``.

    Draws ``U_it ~ N(0, 1)``, independent across rows and of everything in the data (seeded by
    ``seed``), and adds ``on_mediator * U`` to the mediator and ``(on_outcome + mediator_effect *
    on_mediator) * U`` to the outcome: U raises the mediator, the mediator's extra variation moves
    the outcome by its causal effect ``mediator_effect`` (b: on a simulated panel the planted value,
    on a real one an estimate), and U also moves the outcome directly by ``on_outcome`` (each in
    its column's units per standard deviation of U). U is not caused by the treatment and varies
    within units, so fixed effects do not absorb it, and every causal effect stays what it was
    (``a``, ``b``, ``a b``, the direct and the total effect). The stepwise regression does not: by
    the omitted-variable formula its ``b`` moves by about
    ``on_mediator * on_outcome * v / (s**2 + on_mediator**2 * v)``, with ``s`` the residual
    standard deviation of the mediator and ``v`` that of U given treatment, controls and fixed
    effects (``v`` is close to 1). This breaks sequential ignorability, and no stepwise
    regression can detect it. The outcome is not floored or rounded (it may leave its natural
    range). ``keep_as`` names a column to keep U in (to show that controlling for it removes the
    bias); by default U is not kept.
    """
    check_columns(data, [mediator, outcome])
    check_numeric(data, [mediator, outcome])
    if mediator == outcome:
        raise DidArgumentError(f"the mediator and the outcome are the same column {mediator!r}")
    for name, value in (("on_mediator", on_mediator), ("on_outcome", on_outcome), ("mediator_effect", mediator_effect)):
        if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value)):
            raise DidArgumentError(f"{name}={value!r} must be a finite number")
    if keep_as is not None and keep_as in data.columns:
        raise DidArgumentError(f"keep_as={keep_as!r} is already a column of the data")
    confounder = np.random.default_rng(seed).standard_normal(len(data))
    confounded = data.copy()
    confounded[mediator] = data[mediator].to_numpy(dtype=float) + on_mediator * confounder
    confounded[outcome] = (data[outcome].to_numpy(dtype=float)
                           + (on_outcome + mediator_effect * on_mediator) * confounder)
    if keep_as is not None:
        confounded[keep_as] = confounder
    return confounded


# ----------------------------------------------------------------------------------------------
# Moderation
# ----------------------------------------------------------------------------------------------

def _interaction_label(treatment: str, moderator: str) -> str:
    return f"{treatment} x {moderator}"


def moderation(data: pd.DataFrame, y: str, treatment: str, moderator: str, controls: str | Iterable[str] = (),
               unit: str = "city", time: str = "year", cluster: str | None = None,
               center: str | float | None = "mean", alpha: float = 0.05) -> DidResult:
    """TWFE with the treatment interacted with a centred moderator.

    ``y_it = beta D_it + theta (Z_it - z0) + phi D_it (Z_it - z0) + x_it'g + m_i + l_t + e_it``,
    ``z0`` the ``center`` (``"mean"``: the moderator's mean over the data; a number; or ``None``
    for no centring, z0 = 0). ``beta`` is the effect of the treatment at ``Z = z0``; ``phi``, the
    change in that effect per unit of Z, does not depend on the centre (Brambor, Clark and Golder
    2006 on reading interaction models; Balli and Sorensen 2013 on centring in fixed-effects
    models). A moderator constant within every unit has no main effect apart from the unit
    effects, so ``theta`` is left out. Fitted by :func:`citypilots.estimators.did.twfe` (CRV1 by ``cluster``).

    ``table`` rows: the treatment, the moderator (if it varies within units) and
    ``"<treatment> x <moderator>"``. ``extra``: ``center``, ``moderator``, ``interaction``,
    ``terms`` (row label -> regressor name in the fit; :func:`citypilots.estimators.did.wald_test` reads it)
    and ``n_clusters``. Use :func:`marginal_effects` for the effect at chosen values of Z.
    """
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    check_columns(data, [y, treatment, moderator, *controls, unit, time, cluster])
    _check_roles({"outcome": y, "treatment": treatment, "moderator": moderator}, controls, "moderator")
    _check_same_sample(data, [y, treatment, moderator, *controls], unit, time)
    check_no_missing(data, [cluster])
    values = data[moderator].to_numpy(dtype=float)
    if isinstance(center, str):
        if center != "mean":
            raise DidArgumentError(f"center={center!r} must be 'mean', a number or None")
        z0 = float(values.mean())
    elif center is None:
        z0 = 0.0
    elif isinstance(center, (int, float, np.floating)) and np.isfinite(center):
        z0 = float(center)
    else:
        raise DidArgumentError(f"center={center!r} must be 'mean', a number or None")

    moderator_term, interaction_term = "_moderator_centred", "_treatment_x_moderator"
    frame = data[list(dict.fromkeys([y, treatment, *controls, unit, time, cluster]))].reset_index(drop=True)
    frame[moderator_term] = values - z0
    frame[interaction_term] = data[treatment].to_numpy(dtype=float) * (values - z0)
    varies_within = bool((data.groupby(unit)[moderator].nunique() > 1).any())
    terms = [moderator_term] if varies_within else []
    fit = did.twfe(frame, y, treatment, (*terms, interaction_term, *controls), unit=unit, time=time,
                   cluster=cluster, alpha=alpha)
    interaction = _interaction_label(treatment, moderator)
    labels = {treatment: treatment, moderator_term: moderator, interaction_term: interaction}
    fitted_terms = [treatment, *terms, interaction_term]
    table = fit.table.loc[fitted_terms].rename(index=labels)
    table.index.name = "term"
    return DidResult(
        estimator=f"TWFE with {treatment} x {moderator} ({moderator} centred at {z0:.6g})",
        table=table, n_obs=fit.n_obs, n_units=fit.n_units, inference=fit.inference,
        main_term=interaction, fitted=fit.fitted,
        extra={"center": z0, "moderator": moderator, "treatment": treatment, "interaction": interaction,
               "terms": {labels[name]: name for name in fitted_terms},
               "n_clusters": fit.extra["n_clusters"], "moderator_main_effect": varies_within},
    )


def marginal_effects(result: DidResult, at: Iterable[float], alpha: float = 0.05) -> pd.DataFrame:
    """The effect of the treatment at moderator values ``at``, from a :func:`moderation` result.

    ``beta + phi (z - z0)``, with variance ``V_bb + (z - z0)^2 V_pp + 2 (z - z0) V_bp`` from the
    clustered (CRV1) covariance of the fit (delta method; exact, the effect is linear in the
    coefficients) and Student's t with G-1 degrees of freedom, as in :func:`citypilots.estimators.did.twfe`.
    Returns a frame indexed by the moderator value with the columns ``estimate``, ``std_error``,
    ``ci_low``, ``ci_high`` and ``p_value``.
    """
    if "interaction" not in result.extra or "center" not in result.extra:
        raise DidArgumentError(f"marginal_effects needs a moderation() result, not {result.estimator!r}")
    check_alpha(alpha)
    z = np.asarray(list(at), dtype=float)
    if z.size == 0 or not np.all(np.isfinite(z)):
        raise DidArgumentError("at must hold at least one finite moderator value")
    terms = result.extra["terms"]
    treatment, interaction = terms[result.extra["treatment"]], terms[result.extra["interaction"]]
    fit = result.fitted
    covariance = pd.DataFrame(fit._vcov, index=fit._coefnames, columns=fit._coefnames)
    beta, phi = fit.coef()[treatment], fit.coef()[interaction]
    distance = z - result.extra["center"]
    estimate = beta + phi * distance
    variance = (covariance.loc[treatment, treatment] + distance**2 * covariance.loc[interaction, interaction]
                + 2 * distance * covariance.loc[treatment, interaction])
    std_error = np.sqrt(variance)
    df = result.extra["n_clusters"] - 1
    critical = stats.t.ppf(1 - alpha / 2, df)
    return pd.DataFrame({"estimate": estimate, "std_error": std_error, "ci_low": estimate - critical * std_error,
                         "ci_high": estimate + critical * std_error,
                         "p_value": 2 * stats.t.sf(np.abs(estimate / std_error), df)},
                        index=pd.Index(z, name=result.extra["moderator"]))
