"""Spatial spillovers: weight matrices, the two-way fixed-effects spatial Durbin and spatial error
models, their impacts and clustered standard errors, tests between them, Moran's I, the
distance-band sweep and a DID with spillover rings.

Weights (:func:`distance_weights` and its named forms) are libpysal ``W`` objects built from
great-circle distances between city seats (:func:`citypilots.data.cities.distance_matrix_km`, the
same distances the simulation uses), symmetric before standardisation and row-standardised
(``w.transform = "R"``: each row sums to 1; a unit without neighbours, an *island*, keeps a row
of zeros and is listed in ``w.islands``).

The model (:func:`spatial_durbin`), for unit *i* in period *t*:

``y_it = rho sum_j w_ij y_jt + x_it' beta + sum_j w_ij x_jt' theta + mu_i + lambda_t + e_it``,

estimated by maximum likelihood after two-way demeaning (Elhorst 2003, 2014; Lee and Yu 2010,
the "direct approach"), with LeSage and Pace (2009) direct, indirect and total impacts whose
standard errors come from draws of the estimates' asymptotic normal distribution.

Why this module has its own estimator: spreg 1.9.0's ``Panel_FE_Lag`` has unit effects only
(no year effects), no ``W x`` terms and no impacts; ``ML_LagFE(slx_lags=1)`` reports impacts
without standard errors and counts all of ``theta`` as indirect, so its direct effect is not
LeSage and Pace's. The estimator here is the concentrated likelihood of ``Panel_FE_Lag``
applied to two-way demeaned data with ``W x`` added by hand, which is what R splm's
``spml(model = "within", effect = "twoways", lag = TRUE)`` computes; the tests check it against
``Panel_FE_Lag`` on the demeaned data, against a slow dummy-variable likelihood, and the
impacts against dense-matrix formulas and against spreg's cross-section impacts. Like splm, it
does not apply the Lee and Yu (2010) bias correction unless asked (``lee_yu=True``, in the form
of Elhorst's 2014 MATLAB code). References: Elhorst (2003), *International Regional Science
Review* 26: 244-268; Elhorst (2014), *Spatial Econometrics: From Cross-Sectional Data to Spatial
Panels*, Springer; Lee and Yu (2010), *Journal of Econometrics* 154: 165-185; LeSage and Pace
(2009), *Introduction to Spatial Econometrics*, CRC.

Clustered standard errors (``vcov="cluster"``): no package computes a cluster-robust sandwich
for these ML estimators (spreg's panel models have none; R splm neither), so
:func:`unit_scores` splits the score by unit, the quadratic form in rho's score as in Kelejian
and Prucha's (2001, *Journal of Econometrics* 104: 219-257) central limit theorem, and the
sandwich clusters by unit. Tested against pyfixest's CRV1 (rho fixed: the SLX model) and by a
Monte Carlo with serially correlated shocks, where it matches the spread of the estimates and
the ML standard errors do not.

The spatial error model (:func:`spatial_error`) is checked against spreg's ``Panel_FE_Error``;
:func:`specification_tests` compares the SDM with SAR, SLX and SEM by likelihood ratio and by
Wald tests (ML and clustered; Elhorst 2014; Burridge 1981 for the common factor).

The distance-band sweep (:func:`distance_band_sweep`) re-estimates the model with one band of
distances at a time (or every pair within a threshold, :func:`cumulative_bands`), reusing the
demeaned data; it is what a "spillover decay" figure plots. :func:`ring_did` is the
difference in differences with the own treatment and the number of treated units in distance
rings (Clarke 2017), fitted with pyfixest through :func:`citypilots.estimators.did.twfe`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..data.cities import distance_matrix_km
from .estimates import (RESULT_COLUMNS, DidArgumentError, DidResult, _examples, _raise_problems, check_alpha,
                        check_columns, check_no_missing, check_numeric, check_unique_unit_time)

LAG_CONVENTIONS = ("splm", "exact")


# ----------------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------------

def distance_matrix(cities: pd.DataFrame, unit: str = "adcode", lon: str = "lon",
                    lat: str = "lat") -> pd.DataFrame:
    """Great-circle distances in km between the units of ``cities`` (haversine, radius 6,371 km).

    Returns a square DataFrame indexed and labelled by ``unit``, in the order of ``cities``.
    Units without coordinates, or listed twice, are an error (all listed at once).
    """
    check_columns(cities, [unit, lon, lat])
    problems = []
    missing = cities[unit][cities[lon].isna() | cities[lat].isna()]
    if len(missing):
        problems.append(f"{len(missing)} units have no coordinates ({lon}, {lat}): {_examples(list(missing))}; "
                        "drop them first (a spatial model needs every unit's location)")
    repeated = cities[unit][cities[unit].duplicated()]
    if len(repeated):
        problems.append(f"units listed more than once in the city table: {_examples(list(repeated))}")
    _raise_problems(problems)
    distance = distance_matrix_km(cities[[lon, lat]].set_axis(["lon", "lat"], axis=1))
    np.fill_diagonal(distance, 0.0)
    ids = pd.Index(cities[unit].to_numpy(), name=unit)
    return pd.DataFrame(distance, index=ids, columns=ids)


def weights_from_matrix(matrix: np.ndarray, ids: Sequence, standardise: bool = True):
    """A libpysal ``W`` from a square array of raw weights (zero = not a neighbour).

    ``standardise``: row-standardise (``transform = "R"``); the raw weights stay available with
    ``w.transform = "O"``. Islands (rows of zeros) are kept and listed in ``w.islands``.
    """
    from libpysal.weights import full2W

    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(ids):
        raise DidArgumentError(f"weights must be a square array with one row per unit: got shape {matrix.shape} "
                               f"for {len(ids)} units")
    w = full2W(matrix, ids=list(ids), silence_warnings=True)
    if standardise:
        w.transform = "R"
    return w


def distance_weights(cities: pd.DataFrame, power: float = 1.0, low_km: float = 0.0, high_km: float = np.inf,
                     economic: pd.Series | None = None, unit: str = "adcode", lon: str = "lon",
                     lat: str = "lat", standardise: bool = True, as_frame: bool = False):
    """Distance-decay weights: ``w_ij = d_ij^(-power)`` for ``low_km <= d_ij < high_km``, else 0.

    ``d_ij`` is the great-circle distance between the seats of units *i* and *j* (km); the
    diagonal is 0 (no unit is its own neighbour). ``power = 1``: inverse distance; ``2``:
    inverse distance squared; ``0``: binary. With ``economic`` (a Series indexed by unit), each
    weight is further divided by ``|economic_i - economic_j|`` (see
    :func:`economic_geographic_weights`). The raw weights are symmetric; the returned libpysal
    ``W`` is row-standardised unless ``standardise=False``. ``as_frame=True`` returns the same
    matrix as a square DataFrame indexed by unit instead (no libpysal object: much faster to
    build, for loops over simulated panels; every estimator here accepts either).
    """
    distance = distance_matrix(cities, unit, lon, lat)
    d = distance.to_numpy()
    off_diagonal = ~np.eye(len(d), dtype=bool)
    inside = off_diagonal & (d >= low_km) & (d < high_km)
    with np.errstate(divide="ignore"):
        raw = np.where(inside, np.where(d > 0, d, np.nan) ** (-float(power)), 0.0)
    if np.isnan(raw).any():
        pairs = [(distance.index[i], distance.index[j]) for i, j in zip(*np.where(np.isnan(raw))) if i < j]
        raise DidArgumentError(f"units at the same coordinates have no distance weight: {_examples(pairs)}")
    if economic is not None:
        raw = raw * economic_similarity(economic, distance.index).to_numpy()
    if as_frame:
        matrix = row_standardise(raw) if standardise else raw
        return pd.DataFrame(matrix, index=distance.index, columns=distance.index)
    return weights_from_matrix(raw, list(distance.index), standardise=standardise)


def row_standardise(raw: np.ndarray) -> np.ndarray:
    """Each row divided by its sum; a row of zeros (an island) stays zero."""
    raw = np.asarray(raw, dtype=float)
    sums = raw.sum(axis=1, keepdims=True)
    return np.divide(raw, sums, out=np.zeros_like(raw), where=sums != 0)


def pre_treatment_mean(data: pd.DataFrame, column: str, before: int, unit: str = "city",
                       time: str = "year") -> pd.Series:
    """Each unit's mean of ``column`` over the periods before ``before`` (a Series indexed by unit).

    For weights that must not respond to the treatment (e.g. the economic level in an
    economic-geographic matrix): built from the periods before the first treated one, a weight
    matrix is fixed before any unit is treated, so W x treatment is not partly an outcome.
    Periods before ``before`` missing for some unit are an error that names them.
    """
    check_columns(data, [column, unit, time])
    check_numeric(data, [column])
    early = data[data[time] < before]
    units = pd.Index(sorted(data[unit].unique()))
    means = early.groupby(unit)[column].mean().reindex(units)
    if means.isna().any():
        raise DidArgumentError(f"{column!r} has no value before {time} {before} for units "
                               f"{_examples(list(means.index[means.isna()]))}")
    return means


def economic_similarity(economic: pd.Series, units: Sequence) -> pd.DataFrame:
    """Economic-distance weights ``1 / |e_i - e_j|`` between ``units`` (diagonal 0).

    ``economic``: one value per unit (e.g. a city's mean log GDP over the panel). Two units with
    the same value have no finite weight: an error that names them.
    """
    values = pd.Series(economic).reindex(units)
    problems = []
    if values.isna().any():
        problems.append(f"no economic value for units {_examples(list(values.index[values.isna()]))}")
    _raise_problems(problems)
    e = values.to_numpy(float)
    gap = np.abs(e[:, None] - e[None, :])
    off_diagonal = ~np.eye(len(e), dtype=bool)
    ties = np.argwhere(off_diagonal & (gap == 0))
    if len(ties):
        pairs = [(units[i], units[j]) for i, j in ties if i < j]
        raise DidArgumentError(f"economic similarity 1/|e_i - e_j| is undefined for units with equal values: "
                               f"{_examples(pairs)}")
    with np.errstate(divide="ignore"):
        similarity = np.where(off_diagonal, 1.0 / np.where(off_diagonal, gap, 1.0), 0.0)
    return pd.DataFrame(similarity, index=units, columns=units)


def inverse_distance_weights(cities: pd.DataFrame, power: float = 1.0, **kwargs):
    """Row-standardised inverse-distance weights ``d_ij^(-power)`` (``power=2``: inverse distance squared)."""
    return distance_weights(cities, power=power, **kwargs)


def distance_band_weights(cities: pd.DataFrame, low_km: float, high_km: float, power: float = 1.0, **kwargs):
    """Row-standardised inverse-distance weights within one band ``low_km <= d_ij < high_km``.

    Units with no other unit in the band are islands (a row of zeros in ``w.full()``).
    """
    return distance_weights(cities, power=power, low_km=low_km, high_km=high_km, **kwargs)


def economic_geographic_weights(cities: pd.DataFrame, economic: pd.Series, power: float = 1.0, **kwargs):
    """Economic-geographic weights: inverse distance scaled by economic similarity, row-standardised.

    ``w_ij = d_ij^(-power) / |e_i - e_j|`` (then each row divided by its sum), where ``e_i`` is a
    unit's economic level (``economic``, a Series indexed by unit; the literature uses the mean
    of GDP per capita over the sample years). This is the product form of the Chinese
    literature's "economic-geographic" matrix, which combines geographic weights ``1/d_ij`` with
    the economic-distance weights ``1/|e_i - e_j|`` (Shao, Li, Cao and Yang 2016,
    *Economic Research Journal* 51(9), nest the two). Cities with nearly
    equal levels get very large weights: see :func:`describe_weights` (largest row share).
    """
    return distance_weights(cities, power=power, economic=economic, **kwargs)


def dense_weights(w, units: Sequence | None = None) -> tuple[np.ndarray, list]:
    """A weights object as ``(matrix, ids)``: a libpysal ``W`` (its current transform), a
    DataFrame (index = ids, columns in the same order) or an array (then ``units`` are its ids)."""
    if hasattr(w, "full") and hasattr(w, "id_order"):
        matrix, ids = w.full()
        return np.asarray(matrix, dtype=float), list(ids)
    if isinstance(w, pd.DataFrame):
        if list(w.index) != list(w.columns):
            raise DidArgumentError("a weights DataFrame must have the same units, in the same order, "
                                   "as index and columns")
        return w.to_numpy(float), list(w.index)
    matrix = np.asarray(w, dtype=float)
    if units is None:
        raise DidArgumentError("a weights array needs its units (their order along the rows)")
    if matrix.ndim != 2 or matrix.shape != (len(units), len(units)):
        raise DidArgumentError(f"a weights array must be square with one row per unit: got shape {matrix.shape} "
                               f"for {len(units)} units")
    return matrix, list(units)


def describe_weights(w, name: str | None = None) -> pd.Series:
    """What a weight matrix looks like: units, islands, neighbours, symmetry, concentration.

    ``symmetric_raw``: the raw weights (before standardisation) are symmetric. ``rows_sum_to_one``:
    after row standardisation every non-island row sums to 1. ``largest_share_median`` and
    ``rows_dominated``: the median over units of the largest single weight in a row, and the
    share of rows where one neighbour holds more than half of the weight.
    """
    transform = w.transform
    try:
        w.transform = "O"
        raw = np.asarray(w.full()[0], dtype=float)
        w.transform = "R"
        standardised = np.asarray(w.full()[0], dtype=float)
    finally:
        w.transform = transform
    rows = standardised.sum(axis=1)
    has_neighbours = (raw != 0).any(axis=1)
    largest = standardised.max(axis=1)[has_neighbours]
    return pd.Series({
        "units": w.n,
        "islands": len(w.islands),
        "mean_neighbours": float((raw != 0).sum(axis=1).mean()),
        "symmetric_raw": bool(np.allclose(raw, raw.T, rtol=1e-10, atol=0)),
        "zero_diagonal": bool(np.all(np.diag(raw) == 0)),
        "rows_sum_to_one": bool(np.allclose(rows[has_neighbours], 1.0)),
        "largest_share_median": float(np.median(largest)) if len(largest) else np.nan,
        "rows_dominated": float(np.mean(largest > 0.5)) if len(largest) else np.nan,
    }, name=name)


# ----------------------------------------------------------------------------------------------
# Eigenvalues and LeSage-Pace impacts
# ----------------------------------------------------------------------------------------------

@dataclass
class Spectrum:
    """The eigen-decomposition ``W = V diag(values) V^-1`` the likelihood and impacts need.

    ``ones_left = V' 1`` and ``ones_right = V^-1 1``, so that ``1' f(W) 1 = sum_k
    ones_left_k f(values_k) ones_right_k`` for any function ``f`` (e.g. ``(I - rho W)^-1``).
    ``vectors`` (V) and ``inverse_vectors`` (V^-1) give any other sum of ``f(W)``.
    """

    values: np.ndarray
    ones_left: np.ndarray
    ones_right: np.ndarray
    vectors: np.ndarray | None = None
    inverse_vectors: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.values)

    def rho_bounds(self) -> tuple[float, float]:
        """The interval of rho on which ``I - rho W`` stays invertible: (1/min, 1/max) real eigenvalue."""
        real = self.values.real
        low = 1.0 / real.min() if real.min() < 0 else -np.inf
        high = 1.0 / real.max() if real.max() > 0 else np.inf
        return max(low, -1e3), min(high, 1e3)

    def log_det(self, rho: float) -> float:
        """``log |det(I - rho W)|`` from the eigenvalues."""
        return float(np.sum(np.log(np.abs(1.0 - rho * self.values))))


def symmetrising_scale(matrix: np.ndarray) -> np.ndarray | None:
    """A vector ``d > 0`` with ``diag(d) W`` symmetric, or None when there is none.

    A row-standardised matrix built from symmetric raw weights, ``W = D^-1 C`` with ``D`` the row
    sums of ``C``, has one (``d`` = the row sums, up to a scale in each connected component):
    then ``D^1/2 W D^-1/2`` is symmetric and its eigenvalues, W's, come from a symmetric
    eigensolver. Found by walking each connected component breadth-first, ``d_j = d_i W_ij /
    W_ji``, and checked on every pair. Units without neighbours get 1.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    matrix = np.asarray(matrix, dtype=float)
    nonzero = matrix != 0
    if not np.array_equal(nonzero, nonzero.T) or np.any(matrix < 0):
        return None
    graph = csr_matrix(nonzero)
    n_components, labels = connected_components(graph, directed=False)
    scale = np.ones(len(matrix))
    for component in range(n_components):
        members = np.flatnonzero(labels == component)
        if len(members) == 1:
            continue
        order, predecessors = breadth_first_order(graph, members[0], directed=False)
        for node in order[1:]:
            parent = predecessors[node]
            scale[node] = scale[parent] * matrix[parent, node] / matrix[node, parent]
    symmetric = scale[:, None] * matrix
    if not np.allclose(symmetric, symmetric.T, rtol=1e-9, atol=1e-12 * max(float(np.abs(symmetric).max(initial=0.0)), 1e-300)):
        return None
    return scale


def spectrum(matrix: np.ndarray) -> Spectrum:
    """Eigenvalues of a weight matrix and the two vectors the total impact needs.

    The last few decompositions are kept (keyed by the matrix's bytes), so that fitting several
    models with one W decomposes it once.

    A matrix that a positive diagonal scaling makes symmetric (a row-standardised matrix of
    symmetric raw weights, :func:`symmetrising_scale`) is decomposed by a symmetric eigensolver,
    ``W = D^-1/2 Q diag(values) Q' D^1/2`` (real eigenvalues, and several times faster); any
    other by a general one, whose small imaginary parts from rounding are dropped. A matrix the
    decomposition does not reproduce (not diagonalisable) is an error.
    """
    matrix = np.ascontiguousarray(matrix, dtype=float)
    key = (matrix.shape, hashlib.sha1(matrix.tobytes()).hexdigest())
    if key not in _SPECTRA:
        if len(_SPECTRA) >= 8:
            _SPECTRA.pop(next(iter(_SPECTRA)))
        _SPECTRA[key] = _decompose(matrix)
    return _SPECTRA[key]


_SPECTRA: dict = {}


def _decompose(matrix: np.ndarray) -> Spectrum:
    ones = np.ones(len(matrix))
    scale = symmetrising_scale(matrix)
    if scale is not None:
        root = np.sqrt(scale)
        values, q = np.linalg.eigh(root[:, None] * matrix / root[None, :])
        ones_left = q.T @ (ones / root)
        ones_right = q.T @ (ones * root)
        return Spectrum(values=values, ones_left=ones_left, ones_right=ones_right, vectors=q / root[:, None],
                        inverse_vectors=q.T * root[None, :])
    values, vectors = np.linalg.eig(matrix)
    inverse_vectors = np.linalg.inv(vectors)
    scale_max = max(float(np.max(np.abs(matrix), initial=0.0)), 1e-300)
    if not np.allclose((vectors * values) @ inverse_vectors, matrix, rtol=0, atol=1e-8 * scale_max):
        raise DidArgumentError("the weight matrix is not (numerically) diagonalisable; build it from symmetric "
                               "raw weights (row-standardised or not)")
    ones_left = vectors.T @ ones
    ones_right = inverse_vectors @ ones
    if np.max(np.abs(values.imag), initial=0.0) < 1e-9 * max(1.0, np.max(np.abs(values.real), initial=0.0)):
        values, ones_left, ones_right = values.real, ones_left.real, ones_right.real
        vectors, inverse_vectors = vectors.real, inverse_vectors.real
    return Spectrum(values=values, ones_left=ones_left, ones_right=ones_right, vectors=vectors,
                    inverse_vectors=inverse_vectors)


def lesage_pace_impacts(rho, beta, theta, spec: Spectrum) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average direct, indirect and total impacts of a spatial Durbin model (LeSage and Pace 2009, 2.7).

    For regressor *k*, ``S_k = (I - rho W)^-1 (beta_k I + theta_k W)``; the direct impact is the
    mean of its diagonal, ``beta_k mean(1/(1 - rho l)) + theta_k mean(l/(1 - rho l))`` over the
    eigenvalues ``l``; the total impact is the mean row sum ``1' S_k 1 / n`` (``(beta_k +
    theta_k)/(1 - rho)`` when every row of W sums to 1); indirect = total - direct. ``rho``: a
    number or an array of draws (R,); ``beta``, ``theta``: (k,) or (R, k). Returns three arrays
    shaped like ``beta`` (broadcast against the draws).
    """
    rho = np.asarray(rho, dtype=float)
    beta, theta = np.asarray(beta, dtype=float), np.asarray(theta, dtype=float)
    values = spec.values
    inverse = 1.0 / (1.0 - rho[..., None] * values)                # (..., n)
    mean_inverse = np.real(inverse.mean(axis=-1))[..., None]
    mean_w_inverse = np.real((values * inverse).mean(axis=-1))[..., None]
    weight = spec.ones_left * spec.ones_right / spec.n
    total_one = np.real((inverse * weight).sum(axis=-1))[..., None]
    total_w = np.real((inverse * weight * values).sum(axis=-1))[..., None]
    direct = beta * mean_inverse + theta * mean_w_inverse
    total = beta * total_one + theta * total_w
    if rho.ndim == 0:
        direct, total = direct.reshape(beta.shape), total.reshape(beta.shape)
    return direct, total - direct, total


def sdm_total_identity(beta: float, theta: float, rho: float, total: float | None = None) -> dict:
    """What a row-standardised W says about a spatial Durbin model's printed numbers.

    Every row of W summing to 1 makes ``W 1 = 1``, so the mean row sum of ``(I - rho W)^-1 (beta I +
    theta W)`` is exactly ``(beta + theta) / (1 - rho)``: the LeSage-Pace total effect follows from
    three coefficients, whatever W is (LeSage and Pace 2009, 2.7). Returns ``implied_total`` and,
    given the ``total`` reported, ``gap`` (reported - implied; zero up to rounding and the
    simulation noise of draw-based impacts when the numbers come from one model).
    """
    implied = (float(beta) + float(theta)) / (1.0 - float(rho))
    return {"implied_total": implied, "gap": np.nan if total is None else float(total) - implied}


# ----------------------------------------------------------------------------------------------
# The panel and its demeaning
# ----------------------------------------------------------------------------------------------

def two_way_demean(matrix: np.ndarray) -> np.ndarray:
    """Deviations from unit and period means (a balanced panel as a periods x units array)."""
    return matrix - matrix.mean(axis=0, keepdims=True) - matrix.mean(axis=1, keepdims=True) + matrix.mean()


@dataclass
class _Panel:
    """A balanced panel as arrays: ``y`` (T, n) and ``x`` (T, n, k), units in weights order."""

    units: list
    periods: list
    y: np.ndarray
    x: np.ndarray
    names: list


def _panel_arrays(data: pd.DataFrame, y: str, x: Sequence[str], unit: str, time: str, units: Sequence) -> _Panel:
    """Pivot long data to (periods, units) arrays ordered like the weights; every unit-period present."""
    units = list(units)
    in_data = pd.Index(data[unit].unique())
    problems = []
    not_in_w = in_data.difference(pd.Index(units))
    if len(not_in_w):
        problems.append(f"{len(not_in_w)} units of the data are not in the weights: {_examples(list(not_in_w))}")
    not_in_data = pd.Index(units).difference(in_data)
    if len(not_in_data):
        problems.append(f"{len(not_in_data)} units of the weights are not in the data: {_examples(list(not_in_data))} "
                        "(build the weights from the panel's units)")
    _raise_problems(problems)
    periods = sorted(data[time].unique())
    counts = data.groupby(unit)[time].nunique()
    short = counts[counts < len(periods)]
    if len(short):
        raise DidArgumentError(f"the panel must be balanced: {len(short)} units miss some of the {len(periods)} "
                               f"periods ({_examples([f'{u} ({c} periods)' for u, c in short.items()])})")
    indexed = data.set_index([time, unit])
    full = pd.MultiIndex.from_product([periods, units], names=[time, unit])

    def grid(column: str) -> np.ndarray:
        return indexed[column].reindex(full).to_numpy(float).reshape(len(periods), len(units))

    x_arrays = np.stack([grid(name) for name in x], axis=-1) if len(x) else np.zeros((len(periods), len(units), 0))
    return _Panel(units=units, periods=periods, y=grid(y), x=x_arrays, names=list(x))


def _lag(matrix: np.ndarray, w: np.ndarray) -> np.ndarray:
    """W applied to each period of a (T, n) or (T, n, k) array."""
    if matrix.ndim == 2:
        return matrix @ w.T
    return np.einsum("ij,tjk->tik", w, matrix)


# ----------------------------------------------------------------------------------------------
# The estimator
# ----------------------------------------------------------------------------------------------

@dataclass
class SpatialDurbinResult(DidResult):
    """A spatial Durbin fit: the :class:`~citypilots.estimators.estimates.DidResult` table (``rho``, each
    ``x`` and each ``W_x``) plus ``impacts`` (indexed by ``x``: ``direct``, ``indirect``,
    ``total``, their ``*_se``, ``*_p`` and intervals), ``sigma2`` and ``sigma2_se``, ``log_likelihood``, ``vcov`` (of
    ``params``), ``residuals`` (unit, time, residual) and the ``spectrum`` of W."""

    impacts: pd.DataFrame | None = None
    sigma2: float = np.nan
    sigma2_se: float = np.nan
    log_likelihood: float = np.nan
    vcov: pd.DataFrame | None = None
    residuals: pd.DataFrame | None = None
    spectrum: Spectrum | None = None


@dataclass
class _Fit:
    rho: float
    coef: np.ndarray
    sigma2: float
    log_likelihood: float
    vcov: np.ndarray        # of (coef..., rho)
    residuals: np.ndarray   # (T, n)
    sigma2_se: float = np.nan
    information: np.ndarray | None = None  # of (coef..., rho, sigma2); None when rho is fixed
    g: np.ndarray | None = None            # W (I - rho W)^-1


def _information(design: np.ndarray, coef: np.ndarray, rho: float, sigma2: float, w: np.ndarray,
                 n_periods: int, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """The ML information matrix of (coef, rho, sigma2) (Elhorst 2014, as in spreg's Panel_FE_Lag),
    and ``G = W (I - rho W)^-1``."""
    k = design.shape[1]
    g = w @ np.linalg.inv(np.eye(n_units) - rho * w)
    fitted = (design @ coef).reshape(n_periods, n_units)
    g_fitted = (fitted @ g.T).reshape(-1)
    info = np.zeros((k + 2, k + 2))
    info[:k, :k] = design.T @ design / sigma2
    info[:k, k] = info[k, :k] = design.T @ g_fitted / sigma2
    info[k, k] = n_periods * (np.trace(g @ g) + np.sum(g * g)) + g_fitted @ g_fitted / sigma2
    info[k, k + 1] = info[k + 1, k] = n_periods * np.trace(g) / sigma2
    info[k + 1, k + 1] = n_periods * n_units / (2 * sigma2**2)
    return info, g


def _fit_sdm(y_demeaned: np.ndarray, lag: np.ndarray, design: np.ndarray, w: np.ndarray, spec: Spectrum,
             fix_rho: float | None = None, lee_yu: bool = False) -> _Fit:
    """Concentrated-likelihood ML of ``y = rho lag + design coef + e`` on demeaned data.

    ``y_demeaned``, ``lag``: (T, n); ``design``: (T n, k), rows time-major. The log-likelihood
    concentrated in rho is ``-(NT/2) log(SSR(rho)/NT) + T log|I - rho W|`` (+ constants), with
    SSR from the two OLS residuals of y and of the lag on the design (Anselin 1988; Elhorst 2014).
    """
    n_periods, n_units = y_demeaned.shape
    nt = n_periods * n_units
    yv, lv = y_demeaned.reshape(-1), lag.reshape(-1)
    xtx = design.T @ design
    b0 = np.linalg.solve(xtx, design.T @ yv)
    b1 = np.linalg.solve(xtx, design.T @ lv)
    e0, e1 = yv - design @ b0, lv - design @ b1
    e00, e01, e11 = e0 @ e0, e0 @ e1, e1 @ e1
    constant = -nt / 2 * (np.log(2 * np.pi) + 1)

    def log_likelihood(rho: float) -> float:
        ssr = e00 - 2 * rho * e01 + rho * rho * e11
        return -nt / 2 * np.log(ssr / nt) + n_periods * spec.log_det(rho) + constant

    if fix_rho is None:
        low, high = spec.rho_bounds()
        margin = 1e-6 * (high - low)
        grid = np.linspace(low + margin, high - margin, 201)
        values = np.array([log_likelihood(r) for r in grid])
        best = int(np.argmax(values))
        bracket = (grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)])
        found = optimize.minimize_scalar(lambda r: -log_likelihood(r), bounds=bracket, method="bounded",
                                         options={"xatol": 1e-12})
        rho = float(found.x)
    else:
        rho = float(fix_rho)
    coef = b0 - rho * b1
    residuals = e0 - rho * e1
    sigma2 = float(residuals @ residuals / nt)
    k = design.shape[1]
    if fix_rho is None:
        info, g = _information(design, coef, rho, sigma2, w, n_periods, n_units)
        if lee_yu:
            # Lee and Yu (2010) correction for two-way effects, as Elhorst's (2014) MATLAB code applies
            # it: theta_c = theta + T info^-1 (0, 1/(1 - rho), 1/(2 sigma2)), then sigma2 * T/(T - 1).
            shift = n_periods * np.linalg.solve(info, np.r_[np.zeros(k), 1 / (1 - rho), 1 / (2 * sigma2)])
            coef, rho = coef + shift[:k], rho + shift[k]
            sigma2 = n_periods / (n_periods - 1) * (sigma2 + shift[k + 1])
            info, g = _information(design, coef, rho, sigma2, w, n_periods, n_units)
        inverse = np.linalg.inv(info)
        vcov, sigma2_se = inverse[: k + 1, : k + 1], float(np.sqrt(inverse[k + 1, k + 1]))
    else:
        info, g = None, None
        vcov = np.zeros((k + 1, k + 1))
        vcov[:k, :k] = sigma2 * np.linalg.inv(xtx)
        sigma2_se = float(np.sqrt(2 * sigma2**2 / nt))
    return _Fit(rho=rho, coef=coef, sigma2=sigma2, log_likelihood=log_likelihood(rho), vcov=vcov,
                residuals=(yv - rho * lv - design @ coef).reshape(n_periods, n_units), sigma2_se=sigma2_se,
                information=info, g=g)


def unit_scores(fit: _Fit, lag: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Each unit's contribution to the score of (coef, rho, sigma2), summed over its periods.

    The scores of the concentrated likelihood (Elhorst 2014) are ``x_it e_it / sigma2`` for the
    coefficients, ``(e_it^2 - sigma2) / (2 sigma2^2)`` for sigma2 and, for rho,
    ``[sum_t (W y_t)' e_t] / sigma2 - T tr(G)`` with ``G = W (I - rho W)^-1``. Since
    ``W y_t = m_t + G e_t`` (``m_t = lag_t - G e_t``, which depends on the regressors only), the
    rho score is a linear part ``m_t' e_t`` plus a quadratic form ``e_t' A e_t - sigma2 tr(A)``
    (``A = (G + G')/2``), split across units as Kelejian and Prucha's (2001) central limit
    theorem splits it: unit *i* gets ``A_ii (e_it^2 - sigma2) + 2 e_it sum_{j<i} A_ij e_jt``. The
    pieces of different units are uncorrelated when units are independent, however a unit's
    shocks are correlated over time, so their outer products estimate the score's variance.
    The rows add up to the full score (zero at the ML estimates). Returns an (n, k + 2) array
    (only the k coefficient columns when rho was fixed).
    """
    e = fit.residuals
    n_periods, n_units = e.shape
    k = design.shape[1]
    x = design.reshape(n_periods, n_units, k)
    coefficient_scores = np.einsum("tik,ti->ik", x, e) / fit.sigma2
    if fit.g is None:
        return coefficient_scores
    a = (fit.g + fit.g.T) / 2
    linear = (lag - e @ fit.g.T) * e
    quadratic = np.diag(a)[None, :] * (e**2 - fit.sigma2) + 2 * e * (e @ np.tril(a, -1).T)
    rho_scores = (linear + quadratic).sum(axis=0) / fit.sigma2
    sigma2_scores = (e**2 - fit.sigma2).sum(axis=0) / (2 * fit.sigma2**2)
    return np.column_stack([coefficient_scores, rho_scores, sigma2_scores])


def _cluster_covariance(fit: _Fit, lag: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, float]:
    """Cluster-robust (by unit) sandwich ``H^-1 (sum_i s_i s_i') H^-1 x n/(n-1)`` of (coef, rho),
    and the standard error of sigma2; ``H`` the information matrix, ``s_i`` :func:`unit_scores`.
    With rho fixed, the OLS sandwich of the coefficients (CRV1 without the (N-1)/(N-K) factor)."""
    scores = unit_scores(fit, lag, design)
    n_units = scores.shape[0]
    k = design.shape[1]
    factor = n_units / (n_units - 1)
    meat = scores.T @ scores
    if fit.information is None:
        bread = np.linalg.inv(design.T @ design / fit.sigma2)
        vcov = np.zeros((k + 1, k + 1))
        vcov[:k, :k] = factor * bread @ meat @ bread
        return vcov, np.nan
    bread = np.linalg.inv(fit.information)
    full = factor * bread @ meat @ bread
    return full[: k + 1, : k + 1], float(np.sqrt(max(full[k + 1, k + 1], 0.0)))


def _design(panel: _Panel, w: np.ndarray, durbin: Sequence[str], lag_convention: str,
            y_demeaned: np.ndarray | None = None, x_demeaned: np.ndarray | None = None):
    """The demeaned outcome, its spatial lag and the design [x, W x] for one weight matrix."""
    y_demeaned = two_way_demean(panel.y) if y_demeaned is None else y_demeaned
    if x_demeaned is None:
        x_demeaned = np.stack([two_way_demean(panel.x[..., j]) for j in range(panel.x.shape[-1])], axis=-1)
    positions = [panel.names.index(name) for name in durbin]
    lagged_x = _lag(panel.x[..., positions], w)
    wx_demeaned = np.stack([two_way_demean(lagged_x[..., j]) for j in range(len(positions))], axis=-1) \
        if positions else np.zeros(panel.y.shape + (0,))
    if lag_convention == "splm":
        lag = _lag(y_demeaned, w)
    else:
        lag = two_way_demean(_lag(panel.y, w))
    design = np.concatenate([x_demeaned, wx_demeaned], axis=-1).reshape(-1, len(panel.names) + len(positions))
    return y_demeaned, lag, design


def _impact_table(fit: _Fit, names: list, durbin: list, spec: Spectrum, draws: int, seed: int,
                  alpha: float) -> pd.DataFrame:
    """Impacts at the estimates, with standard errors from ``draws`` draws of N(estimates, vcov)."""
    k = len(names)
    theta_of = np.zeros((k, fit.coef.size))
    for position, name in enumerate(durbin):
        theta_of[names.index(name), k + position] = 1.0
    beta = fit.coef[:k]
    theta = theta_of @ fit.coef
    point = lesage_pace_impacts(fit.rho, beta, theta, spec)
    table = pd.DataFrame({"direct": point[0], "indirect": point[1], "total": point[2]}, index=pd.Index(names))
    params = np.r_[fit.coef, fit.rho]
    covariance = np.nan_to_num(fit.vcov)
    # Draws through the symmetric square root of the covariance: unlike a Cholesky factor or the
    # eigenvectors themselves (whose signs and order may flip with the last bits of the matrix),
    # it is a continuous function of the matrix, so the draws do not depend on rounding noise.
    eigenvalues, eigenvectors = np.linalg.eigh((covariance + covariance.T) / 2)
    root = eigenvectors @ np.diag(np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    rng = np.random.default_rng(seed)
    sample = params + rng.standard_normal((draws, params.size)) @ root
    low, high = spec.rho_bounds()
    sample[:, -1] = np.clip(sample[:, -1], low + 1e-9, high - 1e-9)
    drawn = lesage_pace_impacts(sample[:, -1], sample[:, :k], sample[:, :-1] @ theta_of.T, spec)
    z = stats.norm.ppf(1 - alpha / 2)
    for kind, values in zip(("direct", "indirect", "total"), drawn):
        se = values.std(axis=0, ddof=1)
        table[f"{kind}_se"] = se
        with np.errstate(divide="ignore", invalid="ignore"):
            table[f"{kind}_p"] = 2 * stats.norm.sf(np.abs(table[kind].to_numpy() / se))
        table[f"{kind}_ci_low"] = table[kind] - z * se
        table[f"{kind}_ci_high"] = table[kind] + z * se
    table.index.name = "variable"
    return table


VCOV_TYPES = ("ml", "cluster")


def _check_vcov(vcov: str) -> None:
    if vcov not in VCOV_TYPES:
        raise DidArgumentError(f"vcov={vcov!r} must be one of {VCOV_TYPES}: 'ml' (the information matrix) or "
                               "'cluster' (clustered by unit)")


def _check_sdm_arguments(data: pd.DataFrame, y: str, x: Sequence[str], unit: str, time: str,
                         durbin: Sequence[str], lag_convention: str) -> None:
    check_columns(data, [y, *x, unit, time])
    problems = []
    if not len(x):
        problems.append("x must name at least one regressor")
    outside = [name for name in durbin if name not in x]
    if outside:
        problems.append(f"durbin names {outside} that are not in x")
    if lag_convention not in LAG_CONVENTIONS:
        problems.append(f"lag_convention={lag_convention!r} must be one of {LAG_CONVENTIONS}")
    _raise_problems(problems)
    check_numeric(data, [y, *x])
    check_no_missing(data, [y, *x, unit, time])
    check_unique_unit_time(data, unit, time)


def spatial_durbin(data: pd.DataFrame, y: str, x: Sequence[str], w, unit: str = "city", time: str = "year",
                   durbin: Sequence[str] | None = None, lag_convention: str = "splm", lee_yu: bool = False,
                   fix_rho: float | None = None, draws: int = 1000, seed: int = 0,
                   alpha: float = 0.05, vcov: str = "ml") -> SpatialDurbinResult:
    """Spatial Durbin panel model with unit and period fixed effects, by maximum likelihood.

    ``y_t = rho W y_t + X_t beta + W X_t theta + mu + lambda_t 1 + e_t`` on a balanced panel
    (long ``data``, one row per ``unit`` and ``time``), with ``W`` a libpysal ``W`` (used in its
    current transform, normally row-standardised), a square DataFrame or an array whose rows follow
    the sorted units. ``durbin``: the regressors that get a ``W x`` term (default: all of ``x``).

    Estimation: y and X are two-way demeaned; ``W x`` is computed on the raw data and then
    demeaned, as adding ``W*X`` by hand to R splm's ``spml(..., model="within",
    effect="twoways", lag=TRUE)`` does. ``lag_convention="splm"`` (default) takes the spatial lag
    of the demeaned outcome, ``W (y - means)``, as splm and spreg's ``Panel_FE_Lag`` on demeaned
    data do; ``"exact"`` demeans ``W y`` itself, the exact likelihood with the period effects
    as parameters (the dummy-variable likelihood). The Lee and Yu (2010) bias correction is not
    applied (splm does not apply it either) unless ``lee_yu=True``, which uses Elhorst's (2014)
    form for two-way effects (sigma2 scaled by T/(T-1), rho and the coefficients shifted by a
    term of order 1/n); it assumes every row of W sums to 1. ``fix_rho`` fixes rho (0: the SLX
    model by OLS) instead of estimating it.

    Standard errors: ``vcov="ml"`` (default), the inverse ML information matrix (Elhorst 2014),
    which assumes shocks independent across units and periods; ``vcov="cluster"``, a sandwich
    clustered by unit that allows any correlation of a unit's shocks over time
    (:func:`unit_scores`; with ``fix_rho``, the OLS cluster-robust covariance). Impacts (LeSage
    and Pace 2009): direct, indirect and total averages of ``(I - rho W)^-1 (beta_k I + theta_k
    W)``, with standard errors, p-values and ``1 - alpha`` intervals from ``draws`` draws of the
    estimates' asymptotic normal distribution under the chosen covariance (``seed`` fixes them).

    Returns a :class:`SpatialDurbinResult`: ``.params`` (``x``, ``W_x``, ``rho``), ``.impacts``,
    ``.sigma2`` (SSR / NT, no degrees-of-freedom correction), ``.residuals``.
    """
    x = list(x)
    durbin = list(x if durbin is None else durbin)
    _check_sdm_arguments(data, y, x, unit, time, durbin, lag_convention)
    check_alpha(alpha)
    if not isinstance(draws, int) or draws < 2:
        raise DidArgumentError(f"draws={draws!r} must be an integer of at least 2")
    _check_vcov(vcov)
    matrix, ids = dense_weights(w, sorted(data[unit].unique()))
    panel = _panel_arrays(data, y, x, unit, time, ids)
    if lee_yu:
        rows = matrix.sum(axis=1)
        if not np.allclose(rows, 1.0):
            raise DidArgumentError("lee_yu=True needs a row-standardised W without islands (every row sums to 1)")
    spec = spectrum(matrix)
    y_demeaned, lag, design = _design(panel, matrix, durbin, lag_convention)
    fit = _fit_sdm(y_demeaned, lag, design, matrix, spec, fix_rho=fix_rho, lee_yu=lee_yu)
    names = [*x, *(f"W_{name}" for name in durbin), "rho"]
    covariances = {"ml": (fit.vcov, fit.sigma2_se), "cluster": _cluster_covariance(fit, lag, design)}
    fit.vcov, fit.sigma2_se = covariances[vcov]
    params = np.r_[fit.coef, fit.rho]
    std_errors = np.sqrt(np.clip(np.diag(fit.vcov), 0, None))
    if fix_rho is not None:
        std_errors[-1] = np.nan
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_values = 2 * stats.norm.sf(np.abs(params / std_errors))
    table = pd.DataFrame({"estimate": params, "std_error": std_errors, "ci_low": params - z * std_errors,
                          "ci_high": params + z * std_errors, "p_value": p_values}, index=pd.Index(names, name="term"))
    table = table[list(RESULT_COLUMNS)]
    impacts = _impact_table(fit, x, durbin, spec, draws, seed, alpha)
    residuals = pd.DataFrame({unit: np.tile(panel.units, len(panel.periods)),
                              time: np.repeat(panel.periods, len(panel.units)),
                              "residual": fit.residuals.reshape(-1)})
    correction = "Lee-Yu corrected" if lee_yu else "no Lee-Yu correction"
    rho_text = f"rho fixed at {fix_rho}" if fix_rho is not None else "rho by ML"
    return SpatialDurbinResult(
        estimator=f"spatial Durbin, {unit} and {time} fixed effects ({rho_text}; {lag_convention} lag; {correction})",
        table=table, n_obs=y_demeaned.size, n_units=len(panel.units),
        inference=(("ML information matrix" if vcov == "ml" else
                    f"clustered by {unit} ({len(panel.units)} clusters; sandwich of the ML scores)")
                   + f"; impacts: {draws:,} draws from the asymptotic normal distribution of the estimates "
                   "(LeSage and Pace 2009)"),
        main_term=x[0], impacts=impacts, sigma2=fit.sigma2, sigma2_se=fit.sigma2_se, log_likelihood=fit.log_likelihood,
        vcov=pd.DataFrame(fit.vcov, index=names, columns=names), residuals=residuals, spectrum=spec,
        extra={"lag_convention": lag_convention, "lee_yu": lee_yu, "durbin": durbin, "alpha": alpha,
               "vcov": vcov, "weights": matrix, "units": list(panel.units), "periods": list(panel.periods),
               "fix_rho": fix_rho, "x": x, "draws": draws,
               "covariances": {kind: pd.DataFrame(matrix_, index=names, columns=names)
                               for kind, (matrix_, _) in covariances.items()},
               "sigma2_se": {kind: se for kind, (_, se) in covariances.items()}})


def _refit(result: SpatialDurbinResult, vcov: str) -> _Fit:
    """The fit behind ``result`` with the covariance ``vcov`` ("ml" or "cluster")."""
    _check_vcov(vcov)
    params = result.params.to_numpy()
    return _Fit(rho=float(params[-1]), coef=params[:-1], sigma2=result.sigma2, log_likelihood=result.log_likelihood,
                vcov=result.extra["covariances"][vcov].to_numpy(), residuals=None)


def impacts_with(result: SpatialDurbinResult, vcov: str = "ml", draws: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> pd.DataFrame:
    """The LeSage-Pace impacts of a :func:`spatial_durbin` fit under its ML (``"ml"``) or clustered
    (``"cluster"``) covariance: the same point estimates, standard errors from ``draws`` draws."""
    return _impact_table(_refit(result, vcov), result.extra["x"], result.extra["durbin"], result.spectrum, draws,
                         seed, alpha)


def spillover_received(result: SpatialDurbinResult, data: pd.DataFrame, of: str, vcov: str | None = None,
                       draws: int = 1000, seed: int = 0, alpha: float = 0.05) -> dict:
    """The spillover the model says each unit received from the other units' ``of``, averaged over
    the panel's unit-periods: ``mean_it sum_{j != i} S_ij x_jt`` with ``S = (I - rho W)^-1 (beta I +
    theta W)`` for regressor ``of``.

    Unlike the LeSage-Pace indirect effect (the change in a unit's outcome if ``of`` moved by one
    in *every* other unit), this is the spillover at the values ``of`` actually takes, so it can
    be set beside a realised contrast (e.g. what the other cities' pilots did to each city). With
    rho = 0 and row-standardised W it is ``theta x mean(W x)``. Returns ``estimate``,
    ``std_error``, ``ci_low``, ``ci_high``, ``p_value`` (draws of the estimates under ``vcov``,
    default: the fit's own).
    """
    x, durbin = result.extra["x"], result.extra["durbin"]
    if of not in x:
        raise DidArgumentError(f"of={of!r} is not a regressor of the fit: {x}")
    unit, time = result.residuals.columns[:2]
    units, periods = result.extra["units"], result.extra["periods"]
    wide = data.pivot(index=time, columns=unit, values=of).reindex(index=periods, columns=units)
    if wide.isna().any().any():
        raise DidArgumentError(f"{of!r} is missing for some unit-periods of the fit")
    total_x = wide.to_numpy(float).sum(axis=0)                      # sum over periods, by unit
    spec = result.spectrum
    fit = _refit(result, vcov or result.extra["vcov"])
    k = len(x)
    position = x.index(of)
    theta_position = k + durbin.index(of) if of in durbin else None
    right = spec.inverse_vectors @ total_x                          # V^-1 x
    diagonal = (spec.vectors * spec.inverse_vectors.T)               # diag f(W) = this @ f
    n_cells = len(units) * len(periods)

    def received(rho, beta, theta):
        rho, beta, theta = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (rho, beta, theta))
        f = (beta[:, None] + theta[:, None] * spec.values[None, :]) / (1 - rho[:, None] * spec.values[None, :])
        total = np.real((f * spec.ones_left[None, :] * right[None, :]).sum(axis=1))
        own = np.real(f @ diagonal.T @ total_x)
        return (total - own) / n_cells

    params = np.r_[fit.coef, fit.rho]
    theta_of = (lambda p: p[..., theta_position]) if theta_position is not None else (lambda p: np.zeros(p.shape[:-1]))
    estimate = float(received(params[-1], params[position], theta_of(params))[0])
    covariance = np.nan_to_num(fit.vcov)
    eigenvalues, eigenvectors = np.linalg.eigh((covariance + covariance.T) / 2)
    root = eigenvectors @ np.diag(np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T
    sample = params + np.random.default_rng(seed).standard_normal((draws, params.size)) @ root
    low, high = spec.rho_bounds()
    sample[:, -1] = np.clip(sample[:, -1], low + 1e-9, high - 1e-9)
    drawn = received(sample[:, -1], sample[:, position], theta_of(sample))
    se = float(drawn.std(ddof=1))
    z = stats.norm.ppf(1 - alpha / 2)
    return {"estimate": estimate, "std_error": se, "ci_low": estimate - z * se, "ci_high": estimate + z * se,
            "p_value": float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else np.nan}


# ----------------------------------------------------------------------------------------------
# The spatial error model and tests of the spatial Durbin model against its restrictions
# ----------------------------------------------------------------------------------------------

@dataclass
class SpatialErrorResult(DidResult):
    """A spatial error fit: the :class:`~citypilots.estimators.estimates.DidResult` table (each ``x``
    and ``lambda``), ``sigma2``, ``log_likelihood`` and ``vcov``."""

    sigma2: float = np.nan
    log_likelihood: float = np.nan
    vcov: pd.DataFrame | None = None


def spatial_error(data: pd.DataFrame, y: str, x: Sequence[str], w, unit: str = "city", time: str = "year",
                  vcov: str = "ml", alpha: float = 0.05, nested: bool = False) -> SpatialErrorResult:
    """Spatial error panel model with unit and period fixed effects, by maximum likelihood.

    ``y_t = X_t beta + mu + lambda_t 1 + u_t``, ``u_t = lambda W u_t + e_t`` (Elhorst 2014, the
    SEM), on two-way demeaned data: for each lambda, OLS of ``(I - lambda W) y`` on ``(I - lambda
    W) X``; the log-likelihood concentrated in lambda, ``-(NT/2) log(SSR/NT) + T log|I - lambda
    W|`` (+ constants, the same as :func:`spatial_durbin`'s, so the two can be compared by a
    likelihood ratio), is maximised over lambda. Standard errors: the ML information matrix, or
    ``vcov="cluster"`` (by unit, as in :func:`spatial_durbin`). Checked against spreg's
    ``Panel_FE_Error`` on two-way demeaned data, which applies W to the demeaned regressors.
    ``nested=True`` lags the regressors as :func:`spatial_durbin` does (W applied to the raw
    regressors, then demeaned; the outcome's lag is W times the demeaned outcome), so that the
    model is exactly the spatial Durbin model with ``theta = -lambda beta`` and the two
    log-likelihoods can be compared by a likelihood ratio (the two conventions differ by how W
    meets the period means; the standard errors then still use the usual SEM information matrix,
    which leaves out a cross term of that order).
    """
    x = list(x)
    _check_sdm_arguments(data, y, x, unit, time, [], "splm")
    check_alpha(alpha)
    _check_vcov(vcov)
    matrix, ids = dense_weights(w, sorted(data[unit].unique()))
    panel = _panel_arrays(data, y, x, unit, time, ids)
    spec = spectrum(matrix)
    n_periods, n_units = panel.y.shape
    nt = n_periods * n_units
    yd = two_way_demean(panel.y)
    xd = np.stack([two_way_demean(panel.x[..., j]) for j in range(len(x))], axis=-1)
    wy = _lag(yd, matrix)
    if nested:
        lagged_x = _lag(panel.x, matrix)
        wx = np.stack([two_way_demean(lagged_x[..., j]) for j in range(len(x))], axis=-1)
    else:
        wx = _lag(xd, matrix)

    # Cross-products of [y, X] and [W y, W X], so that each lambda costs a (k x k) solve.
    stacked = np.concatenate([yd[..., None], xd], axis=-1).reshape(nt, -1)
    lagged = np.concatenate([wy[..., None], wx], axis=-1).reshape(nt, -1)
    a0, a1, a2 = stacked.T @ stacked, stacked.T @ lagged + lagged.T @ stacked, lagged.T @ lagged

    def solve(lam: float):
        moments = a0 - lam * a1 + lam * lam * a2
        coef = np.linalg.solve(moments[1:, 1:], moments[1:, 0])
        ssr = float(moments[0, 0] - moments[1:, 0] @ coef)
        return coef, ssr

    constant = -nt / 2 * (np.log(2 * np.pi) + 1)

    def log_likelihood(lam: float) -> float:
        return -nt / 2 * np.log(solve(lam)[1] / nt) + n_periods * spec.log_det(lam) + constant

    low, high = spec.rho_bounds()
    margin = 1e-6 * (high - low)
    grid = np.linspace(low + margin, high - margin, 101)
    values = np.array([log_likelihood(v) for v in grid])
    best = int(np.argmax(values))
    found = optimize.minimize_scalar(lambda v: -log_likelihood(v), method="bounded", options={"xatol": 1e-12},
                                     bounds=(grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]))
    lam = float(found.x)
    coef, _ = solve(lam)
    xs = (xd - lam * wx).reshape(nt, -1)
    residual = (yd - lam * wy).reshape(-1) - xs @ coef
    sigma2 = float(residual @ residual / nt)
    k = len(x)
    b = matrix @ np.linalg.inv(np.eye(n_units) - lam * matrix)
    info = np.zeros((k + 2, k + 2))
    info[:k, :k] = xs.T @ xs / sigma2
    info[k, k] = n_periods * (np.trace(b @ b) + np.sum(b * b))
    info[k, k + 1] = info[k + 1, k] = n_periods * np.trace(b) / sigma2
    info[k + 1, k + 1] = nt / (2 * sigma2**2)
    if vcov == "ml":
        covariance = np.linalg.inv(info)
    else:
        # The same decomposition as the spatial Durbin model's: the lambda score is
        # sum_t (W u_t)' e_t / sigma2 - T tr(B) with W u_t = B e_t (B = W (I - lambda W)^-1).
        e = residual.reshape(n_periods, n_units)
        # lambda's score: sum_t (W y_t - W X_t beta)' e_t / sigma2 - T tr(B), and W y_t - W X_t beta = B e_t.
        lag_part = wy - (wx.reshape(nt, -1) @ coef).reshape(n_periods, n_units)
        pseudo = _Fit(rho=lam, coef=coef, sigma2=sigma2, log_likelihood=np.nan, vcov=None, residuals=e,
                      information=info, g=b)
        scores = unit_scores(pseudo, lag_part, xs)
        bread = np.linalg.inv(info)
        covariance = n_units / (n_units - 1) * bread @ (scores.T @ scores) @ bread
    names = [*x, "lambda"]
    params = np.r_[coef, lam]
    std_errors = np.sqrt(np.clip(np.diag(covariance)[: k + 1], 0, None))
    z = stats.norm.ppf(1 - alpha / 2)
    p_values = 2 * stats.norm.sf(np.abs(params / std_errors))
    table = pd.DataFrame({"estimate": params, "std_error": std_errors, "ci_low": params - z * std_errors,
                          "ci_high": params + z * std_errors, "p_value": p_values}, index=pd.Index(names, name="term"))
    return SpatialErrorResult(
        estimator=f"spatial error, {unit} and {time} fixed effects (ML)", table=table[list(RESULT_COLUMNS)],
        n_obs=nt, n_units=n_units,
        inference="ML information matrix" if vcov == "ml" else f"clustered by {unit} ({n_units} clusters)",
        main_term=x[0], sigma2=sigma2, log_likelihood=log_likelihood(lam),
        vcov=pd.DataFrame(covariance[: k + 1, : k + 1], index=names, columns=names))


def sdm_wald_test(result: SpatialDurbinResult, restriction: str, vcov: str = "ml") -> dict:
    """Wald test of a restriction of a :func:`spatial_durbin` fit, under its ML or clustered covariance.

    ``restriction``: ``"SAR"`` (every theta = 0), ``"SLX"`` (rho = 0) or ``"SEM"`` (the common
    factor restriction theta_k = -rho beta_k for every regressor with a W term, tested by the
    delta method; Burridge 1981, Elhorst 2014). Returns ``statistic``, ``df``, ``p_value``.
    """
    x, durbin = result.extra["x"], result.extra["durbin"]
    params = result.params.to_numpy()
    covariance = result.extra["covariances"][vcov].to_numpy()
    k, m = len(x), len(durbin)
    rho = params[-1]
    if restriction == "SAR":
        value = params[k:k + m]
        gradient = np.zeros((m, params.size))
        gradient[:, k:k + m] = np.eye(m)
    elif restriction == "SLX":
        value = params[-1:]
        gradient = np.zeros((1, params.size))
        gradient[0, -1] = 1.0
    elif restriction == "SEM":
        beta = params[[x.index(name) for name in durbin]]
        value = params[k:k + m] + rho * beta
        gradient = np.zeros((m, params.size))
        for row, name in enumerate(durbin):
            gradient[row, x.index(name)] = rho
            gradient[row, k + row] = 1.0
            gradient[row, -1] = beta[row]
    else:
        raise DidArgumentError(f"restriction={restriction!r} must be 'SAR', 'SLX' or 'SEM'")
    middle = gradient @ covariance @ gradient.T
    statistic = float(value @ np.linalg.solve(middle, value))
    return {"statistic": statistic, "df": int(len(value)), "p_value": float(stats.chi2.sf(statistic, len(value)))}


def specification_tests(data: pd.DataFrame, y: str, x: Sequence[str], w, unit: str = "city", time: str = "year",
                        durbin: Sequence[str] | None = None) -> pd.DataFrame:
    """The spatial Durbin model tested against the three models it nests (Elhorst 2014, ch. 2).

    SAR (spatial lag, theta = 0), SLX (no spatial lag of y, rho = 0) and SEM (spatial error:
    the common factor restriction theta = -rho beta). For each: the likelihood ratio
    ``2 (logL_SDM - logL_restricted)``, valid when the ML model is right (shocks independent over
    time), and Wald statistics under the ML and the clustered covariance, the latter robust to a
    unit's shocks being correlated over time. Returns one row per restricted model with ``df``,
    ``LR``, ``LR p``, ``Wald (ML)``, ``Wald (ML) p``, ``Wald (clustered)``, ``Wald (clustered) p``;
    the fits are in ``table.attrs["fits"]``.
    """
    x = list(x)
    durbin = list(x if durbin is None else durbin)
    sdm = spatial_durbin(data, y, x, w, unit=unit, time=time, durbin=durbin, draws=2)
    restricted = {
        "SAR": spatial_durbin(data, y, x, w, unit=unit, time=time, durbin=[], draws=2),
        "SLX": spatial_durbin(data, y, x, w, unit=unit, time=time, durbin=durbin, fix_rho=0.0, draws=2),
        "SEM": spatial_error(data, y, x, w, unit=unit, time=time, nested=True),
    }
    hypotheses = {"SAR": "theta = 0", "SLX": "rho = 0", "SEM": "theta = -rho beta"}
    rows = {}
    for name, fit in restricted.items():
        ml, clustered = sdm_wald_test(sdm, name, "ml"), sdm_wald_test(sdm, name, "cluster")
        lr = float(2 * (sdm.log_likelihood - fit.log_likelihood))
        rows[name] = {"restriction": hypotheses[name], "df": ml["df"], "LR": lr,
                      "LR p": float(stats.chi2.sf(max(lr, 0.0), ml["df"])),
                      "Wald (ML)": ml["statistic"], "Wald (ML) p": ml["p_value"],
                      "Wald (clustered)": clustered["statistic"], "Wald (clustered) p": clustered["p_value"]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "SDM against"
    table.attrs["fits"] = {"SDM": sdm, **restricted}
    return table


# ----------------------------------------------------------------------------------------------
# Moran's I
# ----------------------------------------------------------------------------------------------

def moran_by_period(data: pd.DataFrame, column: str, w, unit: str = "city", time: str = "year") -> pd.DataFrame:
    """Moran's I of ``column`` across units, one cross-section per period (esda).

    ``I = (n / S0) (z' W z) / (z' z)`` with ``z`` the deviations from the period mean and W
    row-standardised. Inference under normality (``z_norm``, ``p_norm`` of esda.Moran), so the
    result is deterministic. Returns one row per period: ``I``, ``expected``, ``z``, ``p_value``.
    """
    import warnings

    with warnings.catch_warnings():
        # esda imports tqdm.auto, which warns inside a notebook kernel without ipywidgets.
        warnings.filterwarnings("ignore", message="IProgress not found")
        import esda

    check_columns(data, [column, unit, time])
    check_numeric(data, [column])
    check_no_missing(data, [column])
    if not (hasattr(w, "full") and hasattr(w, "id_order")):
        matrix, ids = dense_weights(w, sorted(data[unit].unique()))
        w = weights_from_matrix(matrix, ids, standardise=False)
    ids = list(w.id_order)
    rows = []
    for period, frame in data.groupby(time, sort=True):
        values = frame.set_index(unit)[column].reindex(ids)
        if values.isna().any():
            raise DidArgumentError(f"{time} {period}: units {_examples(list(values.index[values.isna()]))} "
                                   f"of the weights have no {column!r}")
        result = esda.Moran(values.to_numpy(float), w, transformation="r", permutations=0)
        rows.append({time: period, "I": float(result.I), "expected": float(result.EI),
                     "z": float(result.z_norm), "p_value": float(result.p_norm)})
    return pd.DataFrame(rows).set_index(time)


# ----------------------------------------------------------------------------------------------
# The distance-band sweep
# ----------------------------------------------------------------------------------------------

def default_bands(width_km: float = 100.0, last_km: float = 2500.0) -> list[tuple[float, float]]:
    """Successive annular bands ``[0, width), [width, 2 width), ...`` up to ``last_km``."""
    edges = np.arange(0.0, last_km + width_km / 2, width_km)
    return [(float(low), float(high)) for low, high in zip(edges[:-1], edges[1:])]


def cumulative_bands(width_km: float = 100.0, last_km: float = 2500.0) -> list[tuple[float, float]]:
    """Cumulative distance thresholds ``[0, width), [0, 2 width), ...`` up to ``last_km``: the
    "threshold distance" reading of a decay figure, where each W keeps every pair closer than
    the threshold."""
    return [(0.0, high) for _, high in default_bands(width_km, last_km)]


def distance_band_sweep(data: pd.DataFrame, y: str, x: Sequence[str], cities: pd.DataFrame, of: str,
                        unit: str = "city", time: str = "year", bands: Iterable[tuple[float, float]] | None = None,
                        power: float = 1.0, durbin: Sequence[str] | None = None, lag_convention: str = "splm",
                        alpha: float = 0.10, draws: int = 500, seed: int = 0, target: str | None = None,
                        city_unit: str = "adcode", lon: str = "lon", lat: str = "lat",
                        progress: bool = True, vcov: str = "ml") -> pd.DataFrame:
    """The spillover of ``of`` estimated one distance band at a time (a "decay boundary" sweep).

    For each band ``[low, high)`` km, a spatial Durbin model (:func:`spatial_durbin`, city and
    year effects) with row-standardised inverse-distance weights (``d^-power``) inside the band
    only. The demeaned data are computed once and reused; each band needs only its own weights,
    their eigenvalues and one one-dimensional likelihood search. ``cities``: one row per unit with
    coordinates (``city_unit``, ``lon``, ``lat``). ``target`` (optional): a column whose OLS
    projection on each band's design (rho fixed at 0) is reported as ``target_indirect``, e.g. a
    known, planted spillover, to show what the band regression can recover from it.
    ``bands``: default :func:`default_bands` (annular, 100 km wide, to 2,500 km);
    :func:`cumulative_bands` gives the cumulative-threshold reading. ``vcov``: ``"ml"`` or
    ``"cluster"`` (by unit), as in :func:`spatial_durbin`.

    Returns one row per band: ``low_km``, ``high_km``, ``mean_neighbours`` (units in the band per
    unit), ``islands``, ``rho``, ``theta`` (coefficient on ``W of``) and its ``theta_se``, the
    indirect impact of ``of`` (``indirect``, ``indirect_se``, ``ci_low``, ``ci_high`` at level
    ``1 - alpha``), and ``target_indirect`` when ``target`` is given. A tqdm progress bar shows
    when the sweep takes more than 2 s (``progress=False`` hides it, e.g. in a built book).
    """
    from tqdm import tqdm

    x = list(x)
    durbin = list(x if durbin is None else durbin)
    _check_sdm_arguments(data, y, x, unit, time, durbin, lag_convention)
    check_alpha(alpha)
    _check_vcov(vcov)
    problems = []
    if of not in x:
        problems.append(f"of={of!r} must be one of x")
    elif of not in durbin:
        problems.append(f"of={of!r} must have a W term (be in durbin)")
    _raise_problems(problems)
    if target is not None:
        check_columns(data, [target])
        check_no_missing(data, [target])
    panel_units = sorted(data[unit].unique())
    located = cities.set_index(city_unit).reindex(panel_units).rename_axis(city_unit).reset_index()
    distance = distance_matrix(located, city_unit, lon, lat).to_numpy()
    same_place = np.argwhere((distance == 0) & ~np.eye(len(distance), dtype=bool))
    if len(same_place):
        pairs = [(panel_units[i], panel_units[j]) for i, j in same_place if i < j]
        raise DidArgumentError(f"units at the same coordinates have no distance weight: {_examples(pairs)}")
    panel = _panel_arrays(data, y, x, unit, time, panel_units)
    y_demeaned = two_way_demean(panel.y)
    x_demeaned = np.stack([two_way_demean(panel.x[..., j]) for j in range(len(x))], axis=-1)
    target_panel = _panel_arrays(data, target, x, unit, time, panel_units) if target is not None else None
    target_demeaned = two_way_demean(target_panel.y) if target is not None else None
    theta_position = len(x) + durbin.index(of)
    bands = default_bands() if bands is None else [(float(low), float(high)) for low, high in bands]
    z = stats.norm.ppf(1 - alpha / 2)
    off_diagonal = ~np.eye(len(distance), dtype=bool)
    rows = []
    for low, high in tqdm(bands, desc="distance bands", disable=not progress, delay=2):
        inside = off_diagonal & (distance >= low) & (distance < high)
        raw = np.where(inside, np.where(inside, distance, 1.0) ** (-float(power)), 0.0)
        sums = raw.sum(axis=1, keepdims=True)
        w = np.divide(raw, sums, out=np.zeros_like(raw), where=sums > 0)
        spec = spectrum(w)
        yd, lag, design = _design(panel, w, durbin, lag_convention, y_demeaned, x_demeaned)
        row = {"low_km": low, "high_km": high, "mean_neighbours": float(inside.sum(axis=1).mean()),
               "islands": int((sums[:, 0] == 0).sum())}
        if np.linalg.matrix_rank(design) < design.shape[1]:
            row.update(rho=np.nan, theta=np.nan, theta_se=np.nan, indirect=np.nan, indirect_se=np.nan,
                       ci_low=np.nan, ci_high=np.nan)
        else:
            fit = _fit_sdm(yd, lag, design, w, spec)
            if vcov == "cluster":
                fit.vcov, fit.sigma2_se = _cluster_covariance(fit, lag, design)
            impacts = _impact_table(fit, x, durbin, spec, draws, seed, alpha).loc[of]
            row.update(rho=fit.rho, theta=float(fit.coef[theta_position]),
                       theta_se=float(np.sqrt(fit.vcov[theta_position, theta_position])),
                       indirect=float(impacts["indirect"]), indirect_se=float(impacts["indirect_se"]),
                       ci_low=float(impacts["indirect"] - z * impacts["indirect_se"]),
                       ci_high=float(impacts["indirect"] + z * impacts["indirect_se"]))
            if target is not None:
                projected = _fit_sdm(target_demeaned, _lag(target_demeaned, w), design, w, spec, fix_rho=0.0)
                k = len(x)
                theta = np.zeros(k)
                for position, name in enumerate(durbin):
                    theta[x.index(name)] = projected.coef[k + position]
                target_impacts = lesage_pace_impacts(0.0, projected.coef[:k], theta, spec)
                row["target_indirect"] = float(target_impacts[1][x.index(of)])
        rows.append(row)
    return pd.DataFrame(rows)


def planted_band_curve(distance_km: np.ndarray, planted: Sequence[Sequence[float]],
                       bands: Iterable[tuple[float, float]] | None = None) -> pd.DataFrame:
    """A per-neighbour band spillover in the units of a band regression's indirect impact.

    ``planted``: ``[(low, high, effect), ...]``: each *other* treated unit at a distance in
    ``[low, high)`` adds ``effect`` to a unit's outcome. A regression on the row-standardised
    band weights measures the effect of the *share* of treated units in the band, so its indirect
    impact (rho = 0) is about ``effect x`` the mean number of units in the band (islands count 0):
    a band estimate mixes the spillover with how many units happen to sit in the band. Returns
    ``low_km``, ``high_km``, ``effect_per_unit``, ``mean_neighbours`` and ``planted_indirect``.
    """
    distance_km = np.asarray(distance_km, dtype=float)
    off_diagonal = ~np.eye(len(distance_km), dtype=bool)
    rows = []
    for low, high in (default_bands() if bands is None else bands):
        middle = (low + high) / 2
        effect = sum(e for lo, hi, e in planted if lo <= middle < hi)
        neighbours = (off_diagonal & (distance_km >= low) & (distance_km < high)).sum(axis=1).mean()
        rows.append({"low_km": float(low), "high_km": float(high), "effect_per_unit": float(effect),
                     "mean_neighbours": float(neighbours), "planted_indirect": float(effect * neighbours)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Difference in differences with spillover rings
# ----------------------------------------------------------------------------------------------

def ring_name(low_km: float, high_km: float, prefix: str = "exposure") -> str:
    """The column name of one ring's exposure, e.g. ``exposure_0_800km``."""
    return f"{prefix}_{low_km:g}_{high_km:g}km".replace(".", "p")


def ring_exposure(data: pd.DataFrame, cities: pd.DataFrame, treatment: str,
                  rings_km: Sequence[tuple[float, float]], unit: str = "city", time: str = "year",
                  city_unit: str = "adcode", lon: str = "lon", lat: str = "lat") -> pd.DataFrame:
    """Each unit-period's exposure to the other units' treatment, ring by ring.

    For ring ``[low, high)`` km, the number of *other* units at a great-circle distance in the
    ring that are treated (``treatment == 1``) in the same period. Returns a DataFrame aligned
    with ``data`` (same index), one column per ring (:func:`ring_name`).
    """
    check_columns(data, [treatment, unit, time])
    check_numeric(data, [treatment])
    panel_units = sorted(data[unit].unique())
    located = cities.set_index(city_unit).reindex(panel_units).rename_axis(city_unit).reset_index()
    distance = distance_matrix(located, city_unit, lon, lat).to_numpy()
    wide = data.pivot_table(index=time, columns=unit, values=treatment, aggfunc="first").reindex(columns=panel_units)
    treated = wide.fillna(0.0).to_numpy(float)                          # (T, n)
    off_diagonal = ~np.eye(len(panel_units), dtype=bool)
    columns = {}
    keys = pd.MultiIndex.from_arrays([data[time].to_numpy(), data[unit].to_numpy()])
    for low, high in rings_km:
        inside = (off_diagonal & (distance >= low) & (distance < high)).astype(float)
        counts = pd.DataFrame(treated @ inside.T, index=wide.index, columns=panel_units).stack()
        columns[ring_name(low, high)] = counts.reindex(keys).to_numpy()
    return pd.DataFrame(columns, index=data.index)


def ring_did(data: pd.DataFrame, y: str, treatment: str, cities: pd.DataFrame,
             rings_km: Sequence[tuple[float, float]] = ((0, 800), (800, 1400), (1400, 2000)),
             controls: Sequence[str] = (), unit: str = "city", time: str = "year", cluster: str | None = None,
             alpha: float = 0.05, **city_columns) -> DidResult:
    """Two-way fixed-effects DID with the own treatment and exposure rings, estimated jointly.

    OLS of ``y_it = beta D_it + sum_r delta_r N_r,it + x_it' gamma + a_i + l_t + e_it``, where
    ``N_r,it`` counts the other units treated in period *t* at a distance in ring *r*
    (:func:`ring_exposure`): ``delta_r`` is the change in a unit's outcome per treated unit in
    the ring, and ``beta`` the own effect net of the spillover the unit receives (Clarke 2017;
    with counts rather than Butts's 2023 nearest-treated-unit ring indicators, which need units
    far from every treated unit). Fitted with :func:`citypilots.estimators.did.twfe` (pyfixest),
    standard errors clustered by ``cluster`` (default: the unit). The rings' terms are in
    ``result.extra["rings"]``.
    """
    from . import did

    exposure = ring_exposure(data, cities, treatment, rings_km, unit=unit, time=time, **city_columns)
    augmented = pd.concat([data, exposure], axis=1)
    rings = list(exposure.columns)
    result = did.twfe(augmented, y, treatment, controls=(*rings, *controls), unit=unit, time=time,
                      cluster=cluster, alpha=alpha)
    result.estimator = "TWFE with spillover rings (exposure counts)"
    result.extra["rings"] = rings
    result.extra["rings_km"] = [tuple(map(float, ring)) for ring in rings_km]
    return result
