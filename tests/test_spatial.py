"""citypilots.estimators.spatial: weights, the two-way fixed-effects spatial Durbin model, impacts, Moran's I,
the distance-band sweep.

The estimator is checked against spreg (Panel_FE_Lag on two-way demeaned data, which is what R
splm computes; ML_Lag's cross-section impacts) and against slow, obvious versions written here
(a dummy-variable likelihood, impacts from dense inverses); it must recover planted values.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from citypilots.estimators import spatial
from citypilots.data.cities import distance_matrix_km
from citypilots.estimators.estimates import DidArgumentError
from citypilots.data.panel import CONTROLS
from citypilots.simulation.generator import simulate_panel

X = ["Dual_policy", *CONTROLS]


@pytest.fixture(scope="module")
def book():
    return simulate_panel()


@pytest.fixture(scope="module")
def cities(book):
    return book.cities


def simulate_sdm(w: np.ndarray, n_periods: int, rho: float, beta, theta, sigma: float, seed: int) -> pd.DataFrame:
    """A spatial Durbin panel with unit and period effects: y_t = (I - rho W)^-1 (X_t b + W X_t t + mu + l_t + e_t)."""
    rng = np.random.default_rng(seed)
    n, k = w.shape[0], len(beta)
    unit_effect = rng.normal(0, 1, n)
    period_effect = rng.normal(0, 1, n_periods)
    x = rng.normal(0, 1, (n_periods, n, k)) + 0.5 * unit_effect[None, :, None]
    inverse = np.linalg.inv(np.eye(n) - rho * w)
    rows = []
    for t in range(n_periods):
        signal = x[t] @ beta + w @ x[t] @ theta + unit_effect + period_effect[t] + rng.normal(0, sigma, n)
        y = inverse @ signal
        rows.append(pd.DataFrame({"unit": np.arange(n), "time": t, "y": y,
                                  **{f"x{j + 1}": x[t, :, j] for j in range(k)}}))
    return pd.concat(rows, ignore_index=True)


def dense_impacts(rho, beta, theta, w):
    """The slow, obvious LeSage-Pace impacts: S = (I - rho W)^-1 (beta I + theta W), averaged."""
    n = w.shape[0]
    inverse = np.linalg.inv(np.eye(n) - rho * w)
    direct, total = [], []
    for b, t in zip(np.atleast_1d(beta), np.atleast_1d(theta)):
        s = inverse @ (b * np.eye(n) + t * w)
        direct.append(np.trace(s) / n)
        total.append(s.sum() / n)
    direct, total = np.array(direct), np.array(total)
    return direct, total - direct, total


# ----------------------------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda c, e: spatial.inverse_distance_weights(c),
    lambda c, e: spatial.inverse_distance_weights(c, power=2),
    lambda c, e: spatial.distance_band_weights(c, 0, 150),
    lambda c, e: spatial.distance_band_weights(c, 800, 900, power=0),
    lambda c, e: spatial.economic_geographic_weights(c, e),
], ids=["inverse", "inverse_squared", "band_0_150", "band_800_900_binary", "economic_geographic"])
def test_weights_are_symmetric_then_row_standardised_without_self_neighbours(make, cities, book):
    economic = book.data.groupby("city")["lnGDP"].mean()
    w = make(cities, economic)
    w.transform = "O"
    raw = w.full()[0]
    w.transform = "R"
    standardised = w.full()[0]
    assert np.allclose(raw, raw.T, rtol=1e-12, atol=0)
    assert np.all(np.diag(raw) == 0) and np.all(np.diag(standardised) == 0)
    has_neighbours = (raw != 0).any(axis=1)
    assert np.allclose(standardised.sum(axis=1)[has_neighbours], 1.0)
    assert np.all(standardised.sum(axis=1)[~has_neighbours] == 0)
    assert sorted(w.islands) == sorted(np.asarray(w.id_order)[~has_neighbours].tolist())
    summary = spatial.describe_weights(w)
    assert summary["symmetric_raw"] and summary["zero_diagonal"] and summary["rows_sum_to_one"]
    assert summary["islands"] == (~has_neighbours).sum()


def test_band_weights_keep_exactly_the_band_and_report_its_islands(cities):
    distance = distance_matrix_km(cities)
    w = spatial.distance_band_weights(cities, 0, 100, standardise=False)
    raw = w.full()[0]
    inside = (distance < 100) & ~np.eye(len(distance), dtype=bool)
    assert np.array_equal(raw != 0, inside)
    assert np.allclose(raw[inside], 1 / distance[inside])
    lonely = set(cities["adcode"][~inside.any(axis=1)])
    assert lonely and set(w.islands) == lonely


def test_great_circle_distances_agree_with_libpysal_arc_distances(cities):
    from libpysal.weights import DistanceBand

    w = spatial.inverse_distance_weights(cities, standardise=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal divides by the zero self-distance before dropping it
        arc = DistanceBand(cities[["lon", "lat"]].to_numpy(), threshold=6000, binary=False, alpha=-1,
                           distance_metric="arc", radius=6371.0, ids=list(cities["adcode"]), silence_warnings=True)
        arc_weights = arc.full()[0]
    assert np.allclose(w.full()[0], arc_weights, rtol=1e-8)


def test_economic_geographic_weights_follow_the_stated_formula(cities, book):
    economic = book.data.groupby("city")["lnGDP"].mean()
    w = spatial.economic_geographic_weights(cities, economic, standardise=False)
    raw, ids = w.full()
    distance = distance_matrix_km(cities.set_index("adcode").loc[ids].reset_index())
    for i, j in [(0, 1), (3, 100), (50, 217)]:
        expected = 1 / (distance[i, j] * abs(economic[ids[i]] - economic[ids[j]]))
        assert raw[i, j] == pytest.approx(expected, rel=1e-12)


def test_weights_report_every_problem_with_the_inputs(cities):
    broken = cities.copy()
    broken.loc[[2, 5], "lat"] = np.nan
    with pytest.raises(DidArgumentError, match="2 units have no coordinates"):
        spatial.inverse_distance_weights(broken)
    tied = pd.Series(1.0, index=cities["adcode"])
    with pytest.raises(DidArgumentError, match="undefined for units with equal values"):
        spatial.economic_geographic_weights(cities, tied)


# ----------------------------------------------------------------------------------------------
# Impacts
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["row_standardised", "with_islands", "raw_symmetric"])
def test_impacts_from_eigenvalues_equal_the_dense_formulas(kind, cities):
    if kind == "row_standardised":
        w = spatial.inverse_distance_weights(cities, power=2).full()[0]
    elif kind == "with_islands":
        w = spatial.distance_band_weights(cities, 0, 120).full()[0]
    else:
        w = spatial.distance_band_weights(cities, 0, 300, power=0, standardise=False).full()[0] / 20
    spec = spatial.spectrum(w)
    low, high = spec.rho_bounds()
    beta, theta = np.array([-0.5, 1.2]), np.array([0.3, -2.0])
    for rho in (-0.4 * abs(low), 0.0, 0.6 * high):
        fast = spatial.lesage_pace_impacts(rho, beta, theta, spec)
        slow = dense_impacts(rho, beta, theta, w)
        for a, b in zip(fast, slow):
            assert np.allclose(a, b, rtol=1e-8, atol=1e-10)


def test_impacts_vectorised_over_draws_equal_one_call_per_draw(cities):
    w = spatial.inverse_distance_weights(cities).full()[0]
    spec = spatial.spectrum(w)
    rng = np.random.default_rng(3)
    rho, beta, theta = rng.uniform(-0.5, 0.8, 7), rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    together = spatial.lesage_pace_impacts(rho, beta, theta, spec)
    for r in range(7):
        one = spatial.lesage_pace_impacts(rho[r], beta[r], theta[r], spec)
        for a, b in zip(together, one):
            assert np.allclose(a[r], b)


def _spreg_printed_impacts(summary: str, names: list[str]) -> pd.DataFrame:
    block = summary.split("MODEL IMPACTS")[1]
    rows = {}
    for name in names:
        found = re.search(rf"^\s*{name}\s+(\S+)\s+(\S+)\s+(\S+)\s*$", block, flags=re.M)
        rows[name] = [float(v) for v in found.groups()]
    return pd.DataFrame.from_dict(rows, orient="index", columns=["direct", "indirect", "total"])


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # spreg's own pandas calls
@pytest.mark.parametrize("durbin", [False, True], ids=["lag_model", "durbin_model"])
def test_impacts_agree_with_spreg_cross_section_impacts_on_one_year(durbin, book, cities):
    import spreg

    names = ["Dual_policy", "lnGDP", "ER"]
    w = spatial.inverse_distance_weights(cities, power=2)
    matrix, ids = spatial.dense_weights(w)
    one_year = book.data[book.data["year"] == 2020].set_index("city").loc[ids]
    fit = spreg.ML_Lag(one_year[["Safety"]].to_numpy(), one_year[names].to_numpy(), w, slx_lags=int(durbin),
                       spat_impacts="full", name_x=names)
    printed = _spreg_printed_impacts(fit.summary, names)
    coefficients = fit.betas.ravel()
    beta = coefficients[1:4]
    theta = coefficients[4:7] if durbin else np.zeros(3)
    spec = spatial.spectrum(matrix)
    direct, indirect, total = spatial.lesage_pace_impacts(float(fit.rho), beta, theta, spec)
    assert np.allclose(total, printed["total"], atol=6e-5)
    if not durbin:
        assert np.allclose(direct, printed["direct"], atol=6e-5)
        assert np.allclose(indirect, printed["indirect"], atol=6e-5)
    else:
        # spreg counts all of theta W as indirect; LeSage-Pace's direct effect adds theta tr(W A^-1)/n.
        feedback = theta * np.mean(spec.values / (1 - float(fit.rho) * spec.values))
        assert np.allclose(direct, printed["direct"] + feedback, atol=6e-5)
        assert not np.allclose(direct, printed["direct"], atol=1e-3)


# ----------------------------------------------------------------------------------------------
# The panel estimator
# ----------------------------------------------------------------------------------------------

def test_splm_convention_matches_spreg_panel_fe_lag_on_two_way_demeaned_data(book, cities):
    import spreg

    w = spatial.inverse_distance_weights(cities, power=2)
    result = spatial.spatial_durbin(book.data, "Safety", X, w, unit="city", time="year")
    matrix, ids = spatial.dense_weights(w)
    panel = book.data.set_index(["year", "city"]).sort_index()
    years = sorted(book.data["year"].unique())

    def grid(column):
        return panel[column].unstack("city")[ids].to_numpy()

    x = np.stack([grid(name) for name in X], axis=-1)
    wx = np.einsum("ij,tjk->tik", matrix, x)
    design = np.concatenate([np.stack([spatial.two_way_demean(a[..., j]) for j in range(len(X))], axis=-1)
                             for a in (x, wx)], axis=-1).reshape(len(years) * len(ids), -1)
    y = spatial.two_way_demean(grid("Safety")).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = spreg.Panel_FE_Lag(y, design, w)
    assert np.allclose(result.params.to_numpy(), reference.betas.ravel(), rtol=1e-5, atol=1e-7)
    assert np.allclose(result.std_errors.to_numpy(), reference.std_err.ravel(), rtol=1e-5)
    assert result.sigma2 == pytest.approx(float(np.squeeze(reference.sig2)), rel=1e-6)
    # spreg's log-likelihood leaves out the constant (NT/2) log(NT).
    nt = y.size
    assert result.log_likelihood == pytest.approx(float(np.squeeze(reference.logll)) + nt / 2 * np.log(nt), rel=1e-6)
    assert list(result.params.index) == [*X, *(f"W_{name}" for name in X), "rho"]


def test_exact_convention_matches_a_slow_dummy_variable_likelihood(cities):
    subset = cities.iloc[:40]
    w = spatial.inverse_distance_weights(subset)
    matrix = w.full()[0]
    data = simulate_sdm(matrix, 6, rho=0.3, beta=[1.0, -0.5], theta=[0.4, 0.2], sigma=1.0, seed=11)
    data["unit"] = data["unit"].map(dict(enumerate(w.id_order)))
    result = spatial.spatial_durbin(data, "y", ["x1", "x2"], w, unit="unit", time="time", lag_convention="exact")

    # Slow: OLS of (y - rho W y) on x, W x and explicit unit and period dummies, for each rho.
    n, periods = len(w.id_order), sorted(data["time"].unique())
    frame = data.set_index(["time", "unit"]).loc[[(t, u) for t in periods for u in w.id_order]]
    y = frame["y"].to_numpy().reshape(len(periods), n)
    x = frame[["x1", "x2"]].to_numpy().reshape(len(periods), n, 2)
    wy = y @ matrix.T
    wx = np.einsum("ij,tjk->tik", matrix, x)
    dummies = np.hstack([np.kron(np.ones((len(periods), 1)), np.eye(n)),
                         np.kron(np.eye(len(periods))[:, 1:], np.ones((n, 1)))])
    design = np.hstack([x.reshape(-1, 2), wx.reshape(-1, 2), dummies])

    def minus_log_likelihood(rho):
        target = (y - rho * wy).reshape(-1)
        coef = np.linalg.lstsq(design, target, rcond=None)[0]
        ssr = np.sum((target - design @ coef) ** 2)
        return y.size / 2 * np.log(ssr / y.size) - len(periods) * np.linalg.slogdet(np.eye(n) - rho * matrix)[1]

    found = optimize.minimize_scalar(minus_log_likelihood, bounds=(-0.99, 0.99), method="bounded",
                                     options={"xatol": 1e-10})
    coef = np.linalg.lstsq(design, (y - found.x * wy).reshape(-1), rcond=None)[0][:4]
    assert result.params["rho"] == pytest.approx(found.x, abs=1e-6)
    assert np.allclose(result.params[["x1", "x2", "W_x1", "W_x2"]].to_numpy(), coef, atol=1e-6)


def test_rho_zero_is_two_way_fixed_effects_ols_with_wx(book, cities):
    import pyfixest as pf

    w = spatial.distance_band_weights(cities, 0, 500)
    result = spatial.spatial_durbin(book.data, "Safety", X, w, fix_rho=0.0)
    matrix, ids = spatial.dense_weights(w)
    data = book.data.copy()
    for name in ["Dual_policy", "lnGDP"]:
        wide = data.pivot(index="year", columns="city", values=name)[ids]
        lagged = pd.DataFrame(wide.to_numpy() @ matrix.T, index=wide.index, columns=ids)
        data[f"W_{name}"] = data.set_index(["year", "city"]).index.map(lagged.stack().to_dict())
    restricted = spatial.spatial_durbin(book.data, "Safety", X, w, durbin=["Dual_policy", "lnGDP"], fix_rho=0.0)
    fit = pf.feols("Safety ~ " + " + ".join([*X, "W_Dual_policy", "W_lnGDP"]) + " | city + year", data=data)
    assert np.allclose(restricted.params.drop("rho"), fit.coef()[restricted.params.drop("rho").index], atol=1e-9)
    assert result.params["rho"] == 0 and np.isnan(result.std_errors["rho"])


@pytest.fixture(scope="module")
def planted_sdm(cities):
    w = spatial.distance_band_weights(cities, 0, 400)
    matrix, ids = spatial.dense_weights(w)
    data = simulate_sdm(matrix, 16, rho=0.4, beta=[1.0, -0.5], theta=[0.5, 0.3], sigma=1.0, seed=2024)
    data["unit"] = data["unit"].map(dict(enumerate(ids)))
    return w, matrix, data


def test_recovers_planted_rho_coefficients_and_impacts(planted_sdm):
    w, matrix, data = planted_sdm
    result = spatial.spatial_durbin(data, "y", ["x1", "x2"], w, unit="unit", time="time", draws=2000, seed=1)
    planted = pd.Series({"x1": 1.0, "x2": -0.5, "W_x1": 0.5, "W_x2": 0.3, "rho": 0.4})
    z = (result.params - planted) / result.std_errors
    assert np.all(np.abs(z) < 3), z
    assert abs(result.params["rho"] - 0.4) < 0.06
    direct, indirect, total = dense_impacts(0.4, [1.0, -0.5], [0.5, 0.3], matrix)
    impacts = result.impacts
    for kind, truth in [("direct", direct), ("indirect", indirect), ("total", total)]:
        assert np.all(np.abs(impacts[kind].to_numpy() - truth) < 3 * impacts[f"{kind}_se"].to_numpy()), kind
        assert np.all(impacts[f"{kind}_se"] > 0)
    assert np.allclose(impacts["direct"] + impacts["indirect"], impacts["total"])
    assert result.sigma2 == pytest.approx(15 / 16, rel=0.06)  # T-1 of T periods' variance is left after demeaning


def test_lee_yu_correction_removes_the_small_t_bias_of_sigma2(cities):
    w = spatial.inverse_distance_weights(cities, power=2)
    matrix, ids = spatial.dense_weights(w)
    plain, corrected = [], []
    for seed in range(8):
        data = simulate_sdm(matrix, 3, rho=0.3, beta=[1.0], theta=[0.5], sigma=1.0, seed=seed)
        data["unit"] = data["unit"].map(dict(enumerate(ids)))
        plain.append(spatial.spatial_durbin(data, "y", ["x1"], w, unit="unit", time="time", draws=10).sigma2)
        corrected.append(spatial.spatial_durbin(data, "y", ["x1"], w, unit="unit", time="time", draws=10,
                                                lee_yu=True).sigma2)
    assert np.mean(plain) == pytest.approx(2 / 3, abs=0.04)
    assert np.mean(corrected) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(DidArgumentError, match="row-standardised W without islands"):
        spatial.spatial_durbin(data, "y", ["x1"], spatial.distance_band_weights(cities, 0, 100), unit="unit",
                               time="time", lee_yu=True)


def test_arguments_are_checked_and_every_problem_reported(book, cities):
    w = spatial.inverse_distance_weights(cities)
    with pytest.raises(DidArgumentError, match="unknown column 'Safty'"):
        spatial.spatial_durbin(book.data, "Safty", X, w)
    with pytest.raises(DidArgumentError, match=r"2 problems:(.|\n)*not in x(.|\n)*lag_convention"):
        spatial.spatial_durbin(book.data, "Safety", X, w, durbin=["TI"], lag_convention="stata")
    unbalanced = book.data.drop(index=[0, 40])
    with pytest.raises(DidArgumentError, match="must be balanced: 2 units"):
        spatial.spatial_durbin(unbalanced, "Safety", X, w)
    fewer = book.data[book.data["city"] != book.data["city"].iloc[0]]
    with pytest.raises(DidArgumentError, match="1 units of the weights are not in the data"):
        spatial.spatial_durbin(fewer, "Safety", X, w)


# ----------------------------------------------------------------------------------------------
# Moran's I
# ----------------------------------------------------------------------------------------------

def test_moran_by_period_equals_the_formula_and_sees_spatial_structure(cities):
    w = spatial.distance_band_weights(cities, 0, 600)
    matrix, ids = spatial.dense_weights(w)
    rng = np.random.default_rng(5)
    latitude = cities.set_index("adcode").loc[ids, "lat"].to_numpy()
    frame = pd.DataFrame({"city": np.tile(ids, 2), "year": np.repeat([1, 2], len(ids)),
                          "value": np.r_[latitude, rng.normal(size=len(ids))]})
    result = spatial.moran_by_period(frame, "value", w)
    for year, values in [(1, latitude), (2, frame.loc[frame["year"] == 2, "value"].to_numpy())]:
        z = values - values.mean()
        s0 = matrix.sum()
        assert result.loc[year, "I"] == pytest.approx(len(z) / s0 * (z @ matrix @ z) / (z @ z), rel=1e-10)
    assert result.loc[1, "I"] > 0.5 and result.loc[1, "p_value"] < 1e-6
    assert result.loc[2, "p_value"] > 0.01


# ----------------------------------------------------------------------------------------------
# The distance-band sweep
# ----------------------------------------------------------------------------------------------

def test_sweep_rows_equal_one_spatial_durbin_per_band(book, cities):
    bands = [(100, 300), (900, 1000)]
    sweep = spatial.distance_band_sweep(book.data, "Safety", X, cities, of="Dual_policy", bands=bands,
                                        alpha=0.10, draws=300, seed=4, progress=False)
    for row, (low, high) in zip(sweep.itertuples(), bands):
        single = spatial.spatial_durbin(book.data, "Safety", X, spatial.distance_band_weights(cities, low, high),
                                        alpha=0.10, draws=300, seed=4)
        assert row.rho == pytest.approx(single.params["rho"], abs=1e-6)
        assert row.theta == pytest.approx(single.params["W_Dual_policy"], abs=1e-6)
        assert row.indirect == pytest.approx(single.impacts.loc["Dual_policy", "indirect"], abs=1e-6)
        assert row.ci_low == pytest.approx(single.impacts.loc["Dual_policy", "indirect_ci_low"], abs=1e-6)


def test_sweep_recovers_a_planted_band_spillover():
    overrides = {"effects.spillover.bands_km": [[0, 800, -0.06], [800, 1400, 0.04]],
                 "effects.homogeneous": True, "outcome.shock.ar1": 0.0}
    sim = simulate_panel(overrides=overrides)
    data = sim.data.assign(planted_spillover=sim.truth.contrast("spillover").to_numpy())
    sweep = spatial.distance_band_sweep(data, "Safety", X, sim.cities, of="Dual_policy",
                                        target="planted_spillover", progress=False)
    planted = spatial.planted_band_curve(distance_matrix_km(sim.cities), overrides["effects.spillover.bands_km"])
    near, middle = sweep["high_km"] <= 800, (sweep["low_km"] >= 800) & (sweep["high_km"] <= 1400)
    # The projection of the planted spillover keeps its sign in the planted bands...
    assert (sweep.loc[near, "target_indirect"] < 0).all() and (sweep.loc[middle, "target_indirect"] > 0).all()
    assert np.corrcoef(sweep["target_indirect"], planted["planted_indirect"])[0, 1] > 0.8
    # ... and the estimates track it (not exactly: the model also fits a rho the simulation did not plant).
    for band in (near, middle):
        gap = sweep.loc[band, "indirect"].mean() - sweep.loc[band, "target_indirect"].mean()
        assert abs(gap) < 0.15
    assert sweep.loc[near, "indirect"].mean() < -0.15 and sweep.loc[middle, "indirect"].mean() > 0.15
    assert len(sweep) == 25 and sweep["high_km"].max() == 2500


def test_planted_band_curve_is_effect_times_mean_neighbours():
    distance = np.array([[0, 50, 150], [50, 0, 120], [150, 120, 0]], dtype=float)
    curve = spatial.planted_band_curve(distance, [(0, 100, -1.0), (100, 200, 0.5)], bands=[(0, 100), (100, 200)])
    assert curve["mean_neighbours"].tolist() == pytest.approx([2 / 3, 4 / 3])
    assert curve["planted_indirect"].tolist() == pytest.approx([-2 / 3, 2 / 3])


# ----------------------------------------------------------------------------------------------
# The chapter's table and figures
# ----------------------------------------------------------------------------------------------

def test_spatial_durbin_table_sets_the_paper_beside_the_book_and_the_truth(book, cities):
    from citypilots.report import tables

    fit = spatial.spatial_durbin(book.data, "Safety", X, spatial.inverse_distance_weights(cities, power=2), draws=50)
    table = tables.spatial_durbin_table(
        {"(2) inverse distance squared": {"result": fit, "paper_column": 2, "truth": {"rho": 0.0}},
         "no paper column": {"result": fit, "paper_column": None}}, of="Dual_policy", paper_table=7)
    rows = ["Dual_policy", "W × Dual_policy", "direct effect", "indirect effect", "total effect", "rho", "sigma2"]
    block = table.loc["(2) inverse distance squared"]
    assert list(block.index) == rows
    assert block.loc["indirect effect", ("Paper", "estimate")] == "−2.332***"
    assert block.loc["rho", ("Truth", "planted")] == "0.000" and block.loc["sigma2", ("Truth", "planted")] == ""
    assert block.loc["indirect effect", ("This book", "estimate")].startswith(
        f"{fit.impacts.loc['Dual_policy', 'indirect']:.3f}")
    assert (table.loc["no paper column", ("Paper", "estimate")] == "").all()


def test_distance_figures_draw_every_band_and_the_rings(book, cities):
    import matplotlib

    matplotlib.use("Agg")
    from citypilots.report import plots

    sweep = pd.DataFrame({"low_km": [0.0, 100.0, 200.0], "high_km": [100.0, 200.0, 300.0],
                          "indirect": [-0.1, 0.0, 0.1], "ci_low": [-0.2, -0.1, 0.0], "ci_high": [0.0, 0.1, 0.2],
                          "target_indirect": [-0.05, 0.0, 0.05]})
    planted = spatial.planted_band_curve(np.array([[0, 50.0], [50.0, 0]]), [(0, 100, -1.0)],
                                         bands=[(0, 100), (100, 200), (200, 300)])
    figure = plots.distance_band_plot(sweep, planted, boundaries_km=(100,))
    axis = figure.axes[0]
    assert axis.get_xlabel().startswith("distance band (km") and "deaths" in axis.get_ylabel()
    assert len(axis.containers[0].lines[0].get_xdata()) == 3  # one estimate per band
    centre = cities.loc[cities["group"] == "dual", "adcode"].iloc[0]
    rings = plots.distance_rings_map(cities, centre, radii_km=(800, 1400), faint_step_km=500, faint_last_km=1000)
    dashed = [line for line in rings.axes[0].lines if line.get_linestyle() == "--"]
    assert len(dashed) == 2
    lon, lat = dashed[0].get_data()
    from citypilots.data.cities import great_circle_km

    row = cities.set_index("adcode").loc[centre]
    assert np.allclose(great_circle_km(row["lon"], row["lat"], lon, lat), 800, atol=1e-6)
    matplotlib.pyplot.close("all")


# ----------------------------------------------------------------------------------------------
# Eigenvalues by a symmetric solver, fast weights, pre-treatment levels
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda c: spatial.inverse_distance_weights(c, power=2),
    lambda c: spatial.distance_band_weights(c, 0, 100),          # islands and many components
    lambda c: spatial.distance_band_weights(c, 800, 900, power=0),
    lambda c: spatial.inverse_distance_weights(c, standardise=False),  # symmetric as it is
], ids=["inverse_squared", "band_0_100", "band_800_900_binary", "unstandardised"])
def test_symmetric_decomposition_equals_the_general_one(make, cities):
    matrix = make(cities).full()[0]
    assert spatial.symmetrising_scale(matrix) is not None
    fast = spatial.spectrum(matrix)
    values = np.linalg.eigvals(matrix)
    assert np.allclose(np.sort(fast.values), np.sort(values.real), atol=1e-10)
    assert np.allclose(fast.vectors @ np.diag(fast.values) @ fast.inverse_vectors, matrix, atol=1e-10)
    for rho in (-0.4, 0.3):
        direct, indirect, total = spatial.lesage_pace_impacts(rho, np.array([1.0, -0.5]), np.array([0.5, 0.2]), fast)
        expected = dense_impacts(rho, [1.0, -0.5], [0.5, 0.2], matrix)
        assert np.allclose(direct, expected[0]) and np.allclose(total, expected[2])


def test_a_matrix_no_scaling_makes_symmetric_uses_the_general_solver():
    matrix = np.array([[0, 0.5, 0.5], [0.2, 0, 0.8], [0.6, 0.4, 0]])
    assert spatial.symmetrising_scale(matrix) is None
    result = spatial.spectrum(matrix)
    assert np.allclose(np.sort(result.values.real), np.sort(np.linalg.eigvals(matrix).real))


def test_weights_as_frames_equal_the_libpysal_weights(cities, book):
    economic = book.data.groupby("city")["lnGDP"].mean()
    for make in (lambda **k: spatial.inverse_distance_weights(cities, power=2, **k),
                 lambda **k: spatial.distance_band_weights(cities, 0, 300, **k),
                 lambda **k: spatial.economic_geographic_weights(cities, economic, **k)):
        matrix, ids = spatial.dense_weights(make())
        frame = make(as_frame=True)
        assert list(frame.index) == ids and np.allclose(frame.to_numpy(), matrix, rtol=1e-12, atol=0)


def test_pre_treatment_mean_averages_the_periods_before_and_names_what_is_missing(book):
    means = spatial.pre_treatment_mean(book.data, "lnGDP", before=2013)
    by_hand = book.data[book.data["year"] < 2013].groupby("city")["lnGDP"].mean()
    assert np.allclose(means.to_numpy(), by_hand.loc[means.index].to_numpy())
    with pytest.raises(DidArgumentError, match="no value before year 2008"):
        spatial.pre_treatment_mean(book.data, "lnGDP", before=2008)


# ----------------------------------------------------------------------------------------------
# Clustered standard errors
# ----------------------------------------------------------------------------------------------

def _with_lags(data, w, names):
    matrix, ids = spatial.dense_weights(w)
    out = data.copy()
    for name in names:
        wide = out.pivot(index="year", columns="city", values=name)[ids]
        lagged = pd.DataFrame(wide.to_numpy() @ matrix.T, index=wide.index, columns=ids).stack()
        out[f"W_{name}"] = out.set_index(["year", "city"]).index.map(lagged.to_dict())
    return out


def test_clustered_covariance_with_rho_fixed_is_pyfixest_crv1(book, cities):
    import pyfixest as pf

    w = spatial.inverse_distance_weights(cities, power=2, as_frame=True)
    result = spatial.spatial_durbin(book.data, "Safety", X, w, fix_rho=0.0, vcov="cluster", draws=10)
    data = _with_lags(book.data, w, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fit = pf.feols("Safety ~ " + " + ".join([*X, *(f"W_{n}" for n in X)]) + " | city + year", data=data,
                       vcov={"CRV1": "city"}, ssc=pf.ssc(adj=False, cluster_adj=True))
    ours = result.std_errors.drop("rho")
    assert np.allclose(ours.to_numpy(), fit.se()[ours.index].to_numpy(), rtol=1e-8)
    assert "clustered by city (218 clusters" in result.inference


def test_unit_scores_add_up_to_the_score_which_is_zero_at_the_estimates(planted_sdm):
    w, matrix, data = planted_sdm
    panel = spatial._panel_arrays(data, "y", ["x1", "x2"], "unit", "time", sorted(data["unit"].unique()))
    y_demeaned, lag, design = spatial._design(panel, matrix, ["x1", "x2"], "splm")
    fit = spatial._fit_sdm(y_demeaned, lag, design, matrix, spatial.spectrum(matrix))
    scores = spatial.unit_scores(fit, lag, design)
    assert scores.shape == (matrix.shape[0], design.shape[1] + 2)
    scale = np.abs(scores).sum(axis=0)
    assert np.all(np.abs(scores.sum(axis=0)) < 1e-5 * scale)


def test_clustered_standard_errors_match_the_spread_over_panels_with_autocorrelated_shocks(cities):
    """A Monte Carlo: shocks and a regressor AR(1) within each unit. The ML standard errors are far
    below the spread of the estimates over panels; the clustered ones match it."""
    w = spatial.inverse_distance_weights(cities.iloc[:60], power=2, as_frame=True)
    matrix, ids = w.to_numpy(), list(w.index)
    n, periods = len(ids), 10
    inverse = np.linalg.inv(np.eye(n) - 0.3 * matrix)

    def ar1(rng, phi, shape):
        out = np.zeros(shape)
        out[0] = rng.standard_normal(shape[1]) / np.sqrt(1 - phi**2)
        for t in range(1, shape[0]):
            out[t] = phi * out[t - 1] + rng.standard_normal(shape[1])
        return out

    estimates, errors = [], {"ml": [], "cluster": []}
    for replication in range(80):
        rng = np.random.default_rng(replication)
        x, e = ar1(rng, 0.9, (periods, n)), 0.5 * ar1(rng, 0.7, (periods, n))
        y = np.stack([inverse @ (x[t] + 0.5 * matrix @ x[t] + e[t]) for t in range(periods)])
        data = pd.DataFrame({"unit": np.tile(ids, periods), "time": np.repeat(range(periods), n),
                             "y": y.ravel(), "x": x.ravel()})
        fit = spatial.spatial_durbin(data, "y", ["x"], w, unit="unit", time="time", vcov="cluster", draws=2)
        estimates.append(fit.params.to_numpy())
        errors["cluster"].append(fit.std_errors.to_numpy())
        errors["ml"].append(np.sqrt(np.diag(fit.extra["covariances"]["ml"].to_numpy())))
    spread = np.std(estimates, axis=0, ddof=1)
    cluster_ratio = np.mean(errors["cluster"], axis=0) / spread
    ml_ratio = np.mean(errors["ml"], axis=0) / spread
    print("clustered / spread:", cluster_ratio.round(2), "ML / spread:", ml_ratio.round(2))
    assert np.all((cluster_ratio > 0.8) & (cluster_ratio < 1.25)), cluster_ratio
    assert ml_ratio[0] < 0.75 and ml_ratio[1] < 0.85  # beta, theta


def test_impacts_with_switches_covariance_and_keeps_the_point_estimates(book, cities):
    w = spatial.inverse_distance_weights(cities, power=2, as_frame=True)
    fit = spatial.spatial_durbin(book.data, "Safety", X, w, vcov="cluster", draws=300)
    ml = spatial.impacts_with(fit, "ml", draws=300)
    plain = spatial.spatial_durbin(book.data, "Safety", X, w, draws=300)
    assert np.allclose(ml["indirect"], fit.impacts["indirect"])
    assert np.allclose(ml["indirect_se"], plain.impacts["indirect_se"])
    assert fit.impacts.loc["Dual_policy", "direct_se"] > 2 * ml.loc["Dual_policy", "direct_se"]
    with pytest.raises(DidArgumentError, match="vcov='robust' must be one of"):
        spatial.spatial_durbin(book.data, "Safety", X, w, vcov="robust")


def test_spillover_received_equals_the_dense_sum_of_off_diagonal_effects(planted_sdm):
    w, matrix, data = planted_sdm
    fit = spatial.spatial_durbin(data, "y", ["x1", "x2"], w, unit="unit", time="time", draws=200)
    rho, beta, theta = fit.params["rho"], fit.params["x1"], fit.params["W_x1"]
    s = np.linalg.inv(np.eye(len(matrix)) - rho * matrix) @ (beta * np.eye(len(matrix)) + theta * matrix)
    off = s - np.diag(np.diag(s))
    x = data.pivot(index="time", columns="unit", values="x1")[fit.extra["units"]].to_numpy()
    received = spatial.spillover_received(fit, data, "x1")
    assert received["estimate"] == pytest.approx((x @ off.T).mean(), rel=1e-10)
    assert received["std_error"] > 0


def test_total_identity_holds_for_row_standardised_weights(cities):
    w = spatial.inverse_distance_weights(cities, power=2).full()[0]
    for rho, beta, theta in [(0.3, -0.5, 0.2), (-0.2, 1.0, -0.7)]:
        total = dense_impacts(rho, [beta], [theta], w)[2][0]
        check = spatial.sdm_total_identity(beta, theta, rho, total=total)
        assert check["implied_total"] == pytest.approx(total, rel=1e-10) and abs(check["gap"]) < 1e-10
    assert spatial.sdm_total_identity(-0.511, -1.441, 0.654)["implied_total"] == pytest.approx(-5.6416, abs=1e-4)


# ----------------------------------------------------------------------------------------------
# The spatial error model and the specification tests
# ----------------------------------------------------------------------------------------------

def test_spatial_error_matches_spreg_panel_fe_error_on_two_way_demeaned_data(book, cities):
    import spreg

    w = spatial.inverse_distance_weights(cities, power=2)
    result = spatial.spatial_error(book.data, "Safety", X, w)
    matrix, ids = spatial.dense_weights(w)
    panel = book.data.set_index(["year", "city"]).sort_index()
    grid = lambda column: panel[column].unstack("city")[ids].to_numpy()  # noqa: E731
    design = np.stack([spatial.two_way_demean(grid(name)) for name in X], axis=-1).reshape(-1, len(X))
    y = spatial.two_way_demean(grid("Safety")).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = spreg.Panel_FE_Error(y, design, w)
    assert np.allclose(result.params.to_numpy(), reference.betas.ravel(), rtol=1e-5, atol=1e-7)
    assert np.allclose(result.std_errors.to_numpy(), reference.std_err.ravel(), rtol=1e-5)
    assert result.log_likelihood == pytest.approx(float(np.squeeze(reference.logll)) + y.size / 2 * np.log(y.size),
                                                  rel=1e-6)


def test_specification_tests_tell_a_spatial_error_world_from_a_spatial_lag_one(cities):
    """On a panel simulated from a spatial error model, the common-factor restriction (SEM) holds
    and theta = 0 (SAR) does not; the likelihood ratios are twice the log-likelihood gaps."""
    w = spatial.distance_band_weights(cities, 0, 400)
    matrix, ids = spatial.dense_weights(w)
    rng = np.random.default_rng(2)
    n, periods = len(ids), 12
    inverse = np.linalg.inv(np.eye(n) - 0.5 * matrix)
    x = rng.normal(size=(periods, n, 1))
    y = np.stack([x[t, :, 0] + inverse @ rng.normal(size=n) for t in range(periods)])
    data = pd.DataFrame({"unit": np.tile(ids, periods), "time": np.repeat(range(periods), n), "y": y.ravel(),
                         "x1": x[..., 0].ravel()})
    tests = spatial.specification_tests(data, "y", ["x1"], w, unit="unit", time="time")
    fits = tests.attrs["fits"]
    for name in ("SAR", "SLX", "SEM"):
        assert tests.loc[name, "LR"] == pytest.approx(2 * (fits["SDM"].log_likelihood - fits[name].log_likelihood))
        assert tests.loc[name, "LR"] > -1e-6  # each model is nested in the SDM, with the same lags
    assert tests.loc["SEM", "LR p"] > 0.05 and tests.loc["SEM", "Wald (ML) p"] > 0.05
    assert tests.loc["SAR", "LR p"] < 0.01 and tests.loc["SLX", "LR p"] < 0.01
    assert fits["SEM"].params["lambda"] == pytest.approx(0.5, abs=0.1)


def test_common_factor_wald_uses_the_delta_method(book, cities):
    w = spatial.inverse_distance_weights(cities, power=2, as_frame=True)
    fit = spatial.spatial_durbin(book.data, "Safety", ["Dual_policy", "lnGDP"], w, draws=10)
    p = fit.params
    covariance = fit.extra["covariances"]["ml"]
    names = ["Dual_policy", "lnGDP", "W_Dual_policy", "W_lnGDP", "rho"]
    value = np.array([p["W_Dual_policy"] + p["rho"] * p["Dual_policy"], p["W_lnGDP"] + p["rho"] * p["lnGDP"]])
    gradient = np.array([[p["rho"], 0, 1, 0, p["Dual_policy"]], [0, p["rho"], 0, 1, p["lnGDP"]]])
    v = gradient @ covariance.loc[names, names].to_numpy() @ gradient.T
    test = spatial.sdm_wald_test(fit, "SEM")
    assert test["statistic"] == pytest.approx(value @ np.linalg.solve(v, value)) and test["df"] == 2


# ----------------------------------------------------------------------------------------------
# Spillover rings
# ----------------------------------------------------------------------------------------------

def test_ring_exposure_counts_the_other_treated_units_in_each_ring():
    cities = pd.DataFrame({"adcode": [1, 2, 3], "lon": [100.0, 100.0, 100.0], "lat": [30.0, 31.0, 40.0]})
    # 1-2 about 111 km apart, 1-3 and 2-3 about 1,100 and 1,000 km.
    data = pd.DataFrame({"city": [1, 2, 3, 1, 2, 3], "year": [1, 1, 1, 2, 2, 2], "D": [0, 1, 1, 1, 1, 1]})
    exposure = spatial.ring_exposure(data, cities, "D", [(0, 500), (500, 2000)])
    assert list(exposure.columns) == ["exposure_0_500km", "exposure_500_2000km"]
    assert exposure["exposure_0_500km"].tolist() == [1, 0, 0, 1, 1, 0]
    assert exposure["exposure_500_2000km"].tolist() == [1, 1, 1, 1, 1, 2]


def test_ring_did_is_twfe_with_the_ring_counts_as_regressors(book, cities):
    import pyfixest as pf

    rings = [(0, 800), (800, 1400)]
    result = spatial.ring_did(book.data, "Safety", "Dual_policy", cities, rings, controls=CONTROLS)
    data = pd.concat([book.data, spatial.ring_exposure(book.data, cities, "Dual_policy", rings)], axis=1)
    fit = pf.feols("Safety ~ Dual_policy + exposure_0_800km + exposure_800_1400km + " + " + ".join(CONTROLS)
                   + " | city + year", data=data, vcov={"CRV1": "city"})
    terms = ["Dual_policy", *result.extra["rings"]]
    assert np.allclose(result.table.loc[terms, "estimate"], fit.coef()[terms], atol=1e-10)
    assert np.allclose(result.table.loc[terms, "std_error"], fit.se()[terms], rtol=1e-8)


# ----------------------------------------------------------------------------------------------
# Cumulative bands, clustered sweeps and the sweep grid
# ----------------------------------------------------------------------------------------------

def test_cumulative_bands_start_at_zero_and_share_the_annular_thresholds():
    annular, cumulative = spatial.default_bands(), spatial.cumulative_bands()
    assert len(annular) == len(cumulative) == 25
    assert all(low == 0 for low, _ in cumulative)
    assert [high for _, high in cumulative] == [high for _, high in annular]


def test_clustered_sweep_equals_one_clustered_spatial_durbin_per_band(book, cities):
    sweep = spatial.distance_band_sweep(book.data, "Safety", X, cities, of="Dual_policy", bands=[(0, 600)],
                                        alpha=0.10, draws=300, seed=4, progress=False, vcov="cluster")
    single = spatial.spatial_durbin(book.data, "Safety", X, spatial.distance_band_weights(cities, 0, 600),
                                    alpha=0.10, draws=300, seed=4, vcov="cluster")
    assert sweep["theta_se"].iloc[0] == pytest.approx(single.std_errors["W_Dual_policy"], rel=1e-6)
    assert sweep["ci_low"].iloc[0] == pytest.approx(single.impacts.loc["Dual_policy", "indirect_ci_low"], abs=1e-6)


def test_sweep_grid_draws_one_panel_per_reading_and_panel(book):
    import matplotlib

    matplotlib.use("Agg")
    from citypilots.report import plots

    table = pd.DataFrame({"low_km": [0.0, 100.0], "high_km": [100.0, 200.0], "indirect": [0.1, -0.1],
                          "ci_low": [0.0, -0.2], "ci_high": [0.2, 0.0], "target_indirect": [0.05, -0.05]})
    sweeps = {("a", "annular"): table, ("a", "cumulative"): table.assign(low_km=0.0),
              ("b", "annular"): table, ("b", "cumulative"): table.assign(low_km=0.0)}
    figure = plots.distance_sweep_grid(sweeps, boundaries_km=(150,), zones=[(0, 100, -1.0), (100, 200, 1.0)])
    assert len(figure.axes) == 4
    assert figure.axes[0].get_title().startswith("annular") and figure.axes[1].get_title().startswith("cumulative")
    assert figure.axes[1].containers[0].lines[0].get_xdata().tolist() == [100.0, 200.0]  # thresholds
    assert figure.axes[0].containers[0].lines[0].get_xdata().tolist() == [50.0, 150.0]   # midpoints
    matplotlib.pyplot.close("all")
