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

    def sobel(self, alpha: float = 0.05) -> dict:
        """The indirect effect ``a b`` with the first-order delta-method standard error of Sobel
        (1982, Sociological Methodology 13), ``sqrt(b^2 se_a^2 + a^2 se_b^2)``, which treats the two
        paths' estimates as independent, and its normal interval and p-value: ``estimate``,
        ``std_error``, ``ci_low``, ``ci_high``, ``p_value``. Cheap enough for every simulated panel;
        :func:`bootstrap_mediation` also carries the paths' sampling correlation."""
        check_alpha(alpha)
        a, b = self.a, self.b
        se_a = float(self.mediator_model.table.loc[self.treatment, "std_error"])
        se_b = float(self.outcome_model.table.loc[self.mediator, "std_error"])
        estimate, std_error = a * b, float(np.sqrt(b**2 * se_a**2 + a**2 * se_b**2))
        z = float(stats.norm.ppf(1 - alpha / 2))
        p_value = float(2 * stats.norm.sf(abs(estimate / std_error))) if std_error > 0 else float("nan")
        return {"estimate": estimate, "std_error": std_error, "ci_low": estimate - z * std_error,
                "ci_high": estimate + z * std_error, "p_value": p_value}


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


# ----------------------------------------------------------------------------------------------
# Several channels fitted jointly
# ----------------------------------------------------------------------------------------------

def _joint_labels(mediators: Sequence[str]) -> list[str]:
    """Row labels of a joint mediation: a_M, b_M, indirect_M for each mediator, then the sums."""
    return ([f"a_{m}" for m in mediators] + [f"b_{m}" for m in mediators]
            + [f"indirect_{m}" for m in mediators] + ["indirect", "direct", "total"])


@dataclass
class JointMediationResult:
    """The mediators' equations and one outcome equation holding every mediator at once.

    ``mediator_models``: mediator -> its equation on the treatment and controls (path ``a``).
    ``outcome_model``: the outcome on the treatment, every mediator and the controls (direct
    effect ``c'`` and one ``b`` per mediator). ``total_model``: the outcome on the treatment and
    controls (``c``). Each is a :class:`DidResult`.
    """

    outcome: str
    treatment: str
    mediators: tuple[str, ...]
    total_model: DidResult
    mediator_models: dict
    outcome_model: DidResult

    def a(self, mediator: str) -> float:
        return self.mediator_models[mediator].estimate(self.treatment)

    def b(self, mediator: str) -> float:
        return self.outcome_model.estimate(mediator)

    @property
    def direct(self) -> float:
        return self.outcome_model.estimate(self.treatment)

    @property
    def total(self) -> float:
        return self.total_model.estimate(self.treatment)

    def paths(self) -> pd.Series:
        """``a_M``, ``b_M``, ``indirect_M`` (a_M b_M) per mediator, ``indirect`` (their sum),
        ``direct`` (c') and ``total`` (c); ``total = direct + indirect`` exactly."""
        values = ([self.a(m) for m in self.mediators] + [self.b(m) for m in self.mediators]
                  + [self.a(m) * self.b(m) for m in self.mediators])
        indirect = sum(self.a(m) * self.b(m) for m in self.mediators)
        return pd.Series([*values, indirect, self.direct, self.total], index=_joint_labels(self.mediators))


def _check_joint_arguments(data, y, treatment, mediators, controls, unit, time, cluster, alpha):
    """The checks of :func:`joint_mediation` and its bootstrap; returns the mediators, the controls
    (as tuples) and the cluster column."""
    mediators = as_names(mediators)
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    if len(mediators) < 1 or len(set(mediators)) != len(mediators):
        raise DidArgumentError(f"mediators={mediators!r} must name one or more different columns")
    check_columns(data, [y, treatment, *mediators, *controls, unit, time, cluster])
    roles = {"outcome": y, "treatment": treatment, **{f"mediator {m!r}": m for m in mediators}}
    _check_roles(roles, controls, "mediator")
    _check_same_sample(data, [y, treatment, *mediators, *controls], unit, time)
    check_no_missing(data, [cluster])
    return mediators, controls, cluster


def joint_mediation(data: pd.DataFrame, y: str, treatment: str, mediators: Iterable[str],
                    controls: str | Iterable[str] = (), unit: str = "city", time: str = "year",
                    cluster: str | None = None, alpha: float = 0.05) -> JointMediationResult:
    """Mediation through several channels fitted jointly (parallel mediators).

    ``M_k,it = a_k D_it + x_it'g_k + m_i + l_t + e_k,it`` for each mediator and one outcome
    equation with all of them, ``y_it = c' D_it + sum_k b_k M_k,it + x_it'h + m_i + l_t + u_it``,
    plus the total ``y_it = c D_it + ...``; all by :func:`citypilots.estimators.did.twfe` on the
    same rows. ``c = c' + sum_k a_k b_k`` holds exactly. Fitting one mediator at a time leaves
    the others in the error of the outcome equation: when the mediators move together within
    cities and both move the outcome, each ``b`` then carries part of the other's effect (the
    omitted-variable formula), which a joint fit removes (VanderWeele and Vansteelandt 2014 on
    several mediators). Returns a :class:`JointMediationResult`.
    """
    mediators, controls, cluster = _check_joint_arguments(data, y, treatment, mediators, controls, unit, time,
                                                          cluster, alpha)
    options = dict(unit=unit, time=time, cluster=cluster, alpha=alpha)
    return JointMediationResult(
        outcome=y, treatment=treatment, mediators=mediators,
        total_model=did.twfe(data, y, treatment, controls, **options),
        mediator_models={m: did.twfe(data, m, treatment, controls, **options) for m in mediators},
        outcome_model=did.twfe(data, y, treatment, (*mediators, *controls), **options),
    )


def _joint_paths_from_cross_products(cross: np.ndarray, n_mediators: int, n_controls: int) -> np.ndarray:
    """The rows of :func:`_joint_labels` from the cross products of demeaned [y, M_1..M_k, D, X...]."""
    k = n_mediators
    treatment = k + 1
    controls = list(range(k + 2, k + 2 + n_controls))
    total = _solve(cross, 0, [treatment, *controls])[0]
    a = np.array([_solve(cross, 1 + j, [treatment, *controls])[0] for j in range(k)])
    coefficients = _solve(cross, 0, [treatment, *range(1, k + 1), *controls])
    direct, b = coefficients[0], coefficients[1:k + 1]
    return np.concatenate([a, b, a * b, [np.sum(a * b), direct, total]])


def _demeaned_cross_products(values: np.ndarray, unit_codes: np.ndarray, time_codes: np.ndarray,
                             weights: np.ndarray) -> np.ndarray:
    """Weighted cross products of the two-way demeaned columns (rows of weight 0 left out)."""
    keep = weights > 0
    kept_weights = weights[keep]
    demeaned = weighted_two_way_demean(values[keep], _recode(unit_codes[keep]), _recode(time_codes[keep]),
                                       kept_weights)
    return (demeaned * kept_weights[:, None]).T @ demeaned


def _cluster_bootstrap(data: pd.DataFrame, columns: Sequence[str], statistic, n_boot: int, seed: int,
                       unit: str, time: str, cluster: str, progress: bool, label: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``statistic(cross_products)`` on the full sample and on ``n_boot`` pairs cluster resamples."""
    values = data[list(columns)].to_numpy(dtype=float)
    unit_codes, time_codes = pd.factorize(data[unit].to_numpy())[0], pd.factorize(data[time].to_numpy())[0]
    full = statistic(_demeaned_cross_products(values, unit_codes, time_codes, np.ones(len(data))))
    cluster_codes, cluster_labels = pd.factorize(data[cluster].to_numpy())
    n_clusters = len(cluster_labels)
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, len(full)))
    for draw in tqdm(range(n_boot), desc=label, disable=not progress):
        counts = np.bincount(rng.integers(n_clusters, size=n_clusters), minlength=n_clusters)
        draws[draw] = statistic(_demeaned_cross_products(values, unit_codes, time_codes, counts[cluster_codes]))
    return full, draws, n_clusters


def _check_bootstrap_options(data: pd.DataFrame, n_boot, unit: str, cluster: str) -> None:
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 2):
        raise DidArgumentError(f"n_boot={n_boot!r} must be an integer of at least 2 (e.g. 999)")
    clusters_per_unit = data.groupby(unit)[cluster].nunique()
    if (clusters_per_unit > 1).any():
        examples = list(clusters_per_unit.index[clusters_per_unit > 1][:5])
        raise DidArgumentError(f"units must be nested in clusters: {unit} {examples} fall in more than "
                               f"one {cluster}")


def _percentile_table(full: np.ndarray, draws: np.ndarray, labels: Sequence[str], alpha: float,
                      n_boot: int) -> pd.DataFrame:
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
    below, above = (draws <= 0).mean(axis=0), (draws >= 0).mean(axis=0)
    p_value = np.clip(2 * np.minimum(below, above), 2 / (n_boot + 1), 1.0)
    return pd.DataFrame({"estimate": full, "std_error": draws.std(axis=0, ddof=1), "ci_low": low,
                         "ci_high": high, "p_value": p_value},
                        index=pd.Index(list(labels), name="path"))[list(RESULT_COLUMNS)]


def bootstrap_joint_mediation(data: pd.DataFrame, y: str, treatment: str, mediators: Iterable[str],
                              controls: str | Iterable[str] = (), unit: str = "city", time: str = "year",
                              cluster: str | None = None, n_boot: int = 999, seed: int = 0,
                              alpha: float = 0.05, progress: bool = True) -> DidResult:
    """Pairs cluster bootstrap of :func:`joint_mediation`, with percentile intervals.

    The same resampling as :func:`bootstrap_mediation` (clusters drawn with replacement, every
    equation refitted on the resample as weighted least squares with frequency weights), for the
    rows ``a_M``, ``b_M``, ``indirect_M`` of each mediator, ``indirect`` (their sum), ``direct``
    and ``total``. ``p_value``: twice the smaller share of draws on either side of zero, at least
    2/(n_boot+1) (print it with :func:`citypilots.report.glue.p_text`, which shows the floor as a
    bound). ``extra["draws"]``: every draw; ``extra["identity_gap"]``: the largest
    |total - direct - indirect| over the draws.
    """
    mediators, controls, cluster = _check_joint_arguments(data, y, treatment, mediators, controls, unit, time,
                                                          cluster, alpha)
    _check_bootstrap_options(data, n_boot, unit, cluster)

    def statistic(cross: np.ndarray) -> np.ndarray:
        return _joint_paths_from_cross_products(cross, len(mediators), len(controls))

    full, draws, n_clusters = _cluster_bootstrap(data, [y, *mediators, treatment, *controls], statistic, n_boot,
                                                 seed, unit, time, cluster, progress,
                                                 f"bootstrap of the channels {', '.join(mediators)}")
    labels = _joint_labels(mediators)
    draws_frame = pd.DataFrame(draws, columns=labels)
    gap = np.abs(draws_frame["total"] - draws_frame["direct"] - draws_frame["indirect"]).max()
    return DidResult(
        estimator=f"mediation through {', '.join(mediators)} jointly (TWFE), pairs cluster bootstrap",
        table=_percentile_table(full, draws, labels, alpha, n_boot), n_obs=len(data),
        n_units=int(data[unit].nunique()),
        inference=f"pairs cluster bootstrap by {cluster} ({n_clusters} clusters, {n_boot} draws, seed {seed}), "
                  "percentile intervals",
        main_term="indirect", fitted=None,
        extra={"draws": draws_frame, "identity_gap": float(gap), "n_clusters": n_clusters, "seed": seed,
               "n_boot": int(n_boot), "mediators": mediators},
    )


# ----------------------------------------------------------------------------------------------
# Sensitivity to a mediator-outcome confounder (Imai, Keele and Yamamoto 2010)
# ----------------------------------------------------------------------------------------------

def _residual_moments(cross: np.ndarray, n_controls: int) -> np.ndarray:
    """a, var(e1), var(e2), cov(e1, e2) from the cross products of demeaned [y, M, D, X...].

    e1: the residual of the outcome on the treatment and controls (the total-effect equation);
    e2: the residual of the mediator on the same (the mediator equation); a: the treatment's
    coefficient in the mediator equation. Variances are sums of squares (their ratios are what
    matter, so no degrees-of-freedom correction is needed).
    """
    regressors = [2, *range(3, 3 + n_controls)]
    block = cross[np.ix_(regressors, regressors)]
    coefficient_y = np.linalg.solve(block, cross[regressors, 0])
    coefficient_m = np.linalg.solve(block, cross[regressors, 1])
    var_y = cross[0, 0] - cross[0, regressors] @ coefficient_y
    var_m = cross[1, 1] - cross[1, regressors] @ coefficient_m
    cov_ym = cross[0, 1] - cross[0, regressors] @ coefficient_m
    return np.array([coefficient_m[0], var_y, var_m, cov_ym])


def _indirect_at_rho(moments: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """ACME(rho) = a (s1/s2) [rho~ - rho sqrt((1 - rho~^2)/(1 - rho^2))] (Imai, Keele and Yamamoto 2010)."""
    a, var_y, var_m, cov_ym = moments
    rho_tilde = cov_ym / np.sqrt(var_y * var_m)
    rho = np.asarray(rho, dtype=float)
    return a * np.sqrt(var_y / var_m) * (rho_tilde - rho * np.sqrt((1 - rho_tilde**2) / (1 - rho**2)))


@dataclass
class MediationSensitivity:
    """How the indirect effect ``a b`` moves with the correlation rho of the errors of the
    mediator and outcome equations (sequential ignorability is rho = 0).

    ``table``: indexed by ``rho``, columns ``indirect`` (the indirect effect that rho implies),
    ``direct`` (total minus indirect) and, with a bootstrap, ``ci_low``/``ci_high`` (pointwise
    percentile band of the indirect effect). ``breakdown_rho``: the rho at which the indirect
    effect is zero (the correlation of the residuals of the total and mediator equations), with
    its bootstrap interval ``breakdown_interval``. ``a``, ``b`` (at rho = 0), ``total``.
    """

    mediator: str
    table: pd.DataFrame
    breakdown_rho: float
    breakdown_interval: tuple[float, float] | None
    a: float
    b: float
    total: float
    moments: np.ndarray
    extra: dict

    def indirect_at(self, rho) -> np.ndarray | float:
        """The indirect effect if the errors of the mediator and outcome equations correlate by ``rho``."""
        value = _indirect_at_rho(self.moments, rho)
        return float(value) if np.ndim(value) == 0 else value

    def rho_for_b(self, b: float) -> float:
        """The error correlation at which the outcome equation's path is ``b`` (e.g. a known true
        b): corr(e2, e1 - b e2). ``indirect_at(rho_for_b(b))`` is ``a * b``."""
        _, var_y, var_m, cov_ym = self.moments
        return float((cov_ym - b * var_m) / np.sqrt(var_m * (var_y - 2 * b * cov_ym + b**2 * var_m)))

    @property
    def breakdown_r2(self) -> float:
        """|rho| at the breakdown: a confounder explaining this share of the residual variance of
        both the mediator and the outcome (R*^2_M = R*^2_Y, whose product is rho^2) erases the
        indirect effect."""
        return abs(self.breakdown_rho)


def mediation_sensitivity(data: pd.DataFrame, y: str, treatment: str, mediator: str,
                          controls: str | Iterable[str] = (), unit: str = "city", time: str = "year",
                          cluster: str | None = None, rho: Iterable[float] | None = None, n_boot: int = 0,
                          seed: int = 0, alpha: float = 0.05, progress: bool = False) -> MediationSensitivity:
    """Sensitivity of the stepwise indirect effect to a mediator-outcome confounder.

    The linear structural equation model of :func:`mediation` (two-way fixed effects; all
    quantities after the within transformation) identifies ``a b`` only if the errors of the
    mediator and outcome equations are uncorrelated (sequential ignorability). Imai, Keele and
    Yamamoto (2010, Theorem 2; the ``medsens`` function of the R package ``mediation``) give the
    indirect effect for any error correlation rho:

    ``ACME(rho) = a (s1 / s2) [rho~ - rho sqrt((1 - rho~^2) / (1 - rho^2))]``,

    with ``s1``, ``s2`` the residual standard deviations of the total-effect equation (outcome
    on treatment and controls) and the mediator equation, and ``rho~`` the correlation of their
    residuals. At rho = 0 it is the stepwise ``a b``; it is zero at ``rho = rho~`` (the breakdown
    point). rho^2 is the product of the shares of the residual variances of mediator and outcome
    an omitted confounder would explain. ``rho``: the grid (default -0.9 to 0.9 by 0.01).
    ``n_boot``: pairs cluster bootstrap draws for a pointwise band and an interval for the
    breakdown point (0: none). Why written here: ``medsens`` has no Python port, and the panel
    needs the cluster bootstrap; the tests check it against ``medsens``'s own algorithm (iterated
    seemingly unrelated regressions with the error correlation fixed) and against root-finding
    for the b that each rho implies.
    """
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    check_columns(data, [y, treatment, mediator, *controls, unit, time, cluster])
    _check_roles({"outcome": y, "treatment": treatment, "mediator": mediator}, controls, "mediator")
    _check_same_sample(data, [y, treatment, mediator, *controls], unit, time)
    check_no_missing(data, [cluster])
    grid = np.round(np.arange(-0.9, 0.9001, 0.01), 10) if rho is None else np.asarray(list(rho), dtype=float)
    if grid.size == 0 or not np.all(np.abs(grid) < 1):
        raise DidArgumentError("rho must hold at least one correlation strictly between -1 and 1")
    if n_boot:
        _check_bootstrap_options(data, n_boot, unit, cluster)

    def statistic(cross: np.ndarray) -> np.ndarray:
        moments = _residual_moments(cross, len(controls))
        total = _solve(cross, 0, [2, *range(3, 3 + len(controls))])[0]
        breakdown = moments[3] / np.sqrt(moments[1] * moments[2])
        return np.concatenate([moments, [total, breakdown], _indirect_at_rho(moments, grid)])

    columns = [y, mediator, treatment, *controls]
    if n_boot:
        full, draws, n_clusters = _cluster_bootstrap(data, columns, statistic, int(n_boot), seed, unit, time,
                                                     cluster, progress, f"sensitivity of the {mediator} channel")
    else:
        values = data[columns].to_numpy(dtype=float)
        codes = pd.factorize(data[unit].to_numpy())[0], pd.factorize(data[time].to_numpy())[0]
        full = statistic(_demeaned_cross_products(values, *codes, np.ones(len(data))))
        draws, n_clusters = None, int(data[cluster].nunique())
    moments, total, breakdown = full[:4], full[4], full[5]
    indirect = full[6:]
    table = pd.DataFrame({"indirect": indirect, "direct": total - indirect}, index=pd.Index(grid, name="rho"))
    interval = None
    if draws is not None:
        low, high = np.quantile(draws[:, 6:], [alpha / 2, 1 - alpha / 2], axis=0)
        table["ci_low"], table["ci_high"] = low, high
        interval = tuple(float(q) for q in np.quantile(draws[:, 5], [alpha / 2, 1 - alpha / 2]))
    a = float(moments[0])
    b = float(moments[3] / moments[2])
    return MediationSensitivity(mediator=mediator, table=table, breakdown_rho=float(breakdown),
                                breakdown_interval=interval, a=a, b=b, total=float(total), moments=moments,
                                extra={"n_boot": int(n_boot), "seed": seed, "n_clusters": n_clusters,
                                       "alpha": alpha})


# ----------------------------------------------------------------------------------------------
# Common support of a moderator: the binning estimator (Hainmueller, Mummolo and Xu 2019)
# ----------------------------------------------------------------------------------------------

def binned_marginal_effects(data: pd.DataFrame, y: str, treatment: str, moderator: str,
                            controls: str | Iterable[str] = (), bins: int = 3, unit: str = "city",
                            time: str = "year", cluster: str | None = None, bin_on: str = "treated",
                            alpha: float = 0.05) -> pd.DataFrame:
    """The effect of the treatment in bins of the moderator, without assuming it is linear.

    The binning estimator of Hainmueller, Mummolo and Xu (2019), with two-way fixed effects:
    bins ``G_j`` cut at quantiles of the moderator (``bin_on="treated"``: among the treated
    rows, so each bin holds as many treated city-years, the rows that identify an effect;
    ``"all"``: among all rows), ``z_j`` the median of the treated rows' moderator in bin j, and

    ``y_it = sum_j G_j [alpha_j D_it + eta_j (Z_it - z_j) + beta_j D_it (Z_it - z_j)] + sum_{j>1} mu_j G_j
    + x_it'g + m_i + l_t + e_it``,

    so ``alpha_j`` is the effect of the treatment at ``z_j``, estimated from bin j alone. Set
    beside the linear interaction's line (:func:`marginal_effects`), the bins show whether the
    line holds where the data are. CRV1 standard errors by ``cluster`` and t(G-1) intervals, as
    :func:`citypilots.estimators.did.twfe`.

    Returns one row per bin: ``low``, ``high`` (the bin's range of the moderator), ``at`` (z_j),
    ``n_treated``, ``n_obs``, ``estimate``, ``std_error``, ``ci_low``, ``ci_high``, ``p_value``.
    """
    controls = as_names(controls)
    cluster = cluster or unit
    check_alpha(alpha)
    check_columns(data, [y, treatment, moderator, *controls, unit, time, cluster])
    _check_roles({"outcome": y, "treatment": treatment, "moderator": moderator}, controls, "moderator")
    _check_same_sample(data, [y, treatment, moderator, *controls], unit, time)
    check_no_missing(data, [cluster])
    if not (isinstance(bins, (int, np.integer)) and bins >= 1):
        raise DidArgumentError(f"bins={bins!r} must be a positive integer (e.g. 3)")
    if bin_on not in ("treated", "all"):
        raise DidArgumentError(f"bin_on={bin_on!r} must be 'treated' or 'all'")
    z = data[moderator].to_numpy(dtype=float)
    treated = data[treatment].to_numpy(dtype=float) == 1
    reference = z[treated] if bin_on == "treated" else z
    cuts = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    bin_of_row = np.searchsorted(cuts, z, side="right")
    frame = data[list(dict.fromkeys([y, treatment, *controls, unit, time, cluster]))].reset_index(drop=True)
    terms, at = [], []
    for j in range(bins):
        in_bin = (bin_of_row == j).astype(float)
        centre_rows = treated & (bin_of_row == j)
        if not centre_rows.any():
            raise DidArgumentError(f"bin {j + 1} of {moderator!r} holds no treated rows: use fewer bins")
        z_j = float(np.median(z[centre_rows]))
        at.append(z_j)
        frame[f"_effect_{j}"] = frame[treatment].to_numpy(dtype=float) * in_bin
        frame[f"_slope_{j}"] = (z - z_j) * in_bin
        frame[f"_effect_slope_{j}"] = frame[f"_effect_{j}"] * (z - z_j)
        if j > 0:
            frame[f"_bin_{j}"] = in_bin
        terms.append(f"_effect_{j}")
    others = [name for name in frame.columns if name.startswith(("_slope_", "_effect_slope_", "_bin_"))]
    fit = did.twfe(frame, y, terms[0], (*terms[1:], *others, *controls), unit=unit, time=time, cluster=cluster,
                   alpha=alpha)
    edges = np.concatenate([[z.min()], cuts, [z.max()]])
    table = fit.table.loc[terms].reset_index(drop=True)
    table.insert(0, "n_obs", [int((bin_of_row == j).sum()) for j in range(bins)])
    table.insert(0, "n_treated", [int((treated & (bin_of_row == j)).sum()) for j in range(bins)])
    table.insert(0, "at", at)
    table.insert(0, "high", edges[1:])
    table.insert(0, "low", edges[:-1])
    table.index = pd.Index([f"bin {j + 1}" for j in range(bins)], name="bin")
    return table
