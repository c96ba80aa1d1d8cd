"""The robustness chapter's estimators: placebo, 2SLS, PSM, wild bootstrap, pre-trend sensitivity.

What each group of tests shows:

1. placebo (citypilots.estimators.placebo): the Frisch-Waugh-Lovell draws equal pyfixest refits of the
   same draws to 1e-8, on the book's panel and on an unbalanced one clustered by province; the
   draws keep the treated count and the adoption years; the randomization p-values (coefficient and
   t-statistic) are their formulas; a planted effect is found and pure noise is not; with noisier
   treated units the coefficient's placebo over-rejects and the t-statistic's does not;
2. instruments (citypilots.estimators.instruments): 2SLS equals linearmodels' on explicit dummies; the
   Kleibergen-Paap statistics equal a line-by-line port of Stata's ranktest formula and, with
   one instrument, linearmodels' and pyfixest's first-stage statistics; 2SLS recovers a planted
   effect that OLS misses; an instrument absorbed by the fixed effects is refused;
3. matching (citypilots.estimators.matching): the vectorised matching equals a brute-force loop on a small
   panel, with ties; caliper and strata hold; matching improves balance on the book's panel;
4. wild cluster bootstrap (citypilots.estimators.bootstrap): the fast algorithm equals the wildboottest
   package draw for draw; the same seed gives the same numbers, another seed nearly the same; it
   agrees with the t-test where the t-test is reliable;
5. pre-trend sensitivity (citypilots.estimators.pretrends): the smoothness intervals reproduce the published
   HonestDiD example (Medicaid expansions, the Stata package's README) from its data; the
   relative-magnitude intervals are diff-diff's naive ones (documented); Mbar = 0 gives the
   conventional interval; the breakdown value is where the interval first covers zero;
6. every bad call raises DidArgumentError naming the problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from scipy import stats

from citypilots.estimators import did
from citypilots.estimators.bootstrap import wild_cluster_bootstrap, wild_cluster_bootstrap_wildboottest
from citypilots.estimators.estimates import DidArgumentError
from citypilots.estimators.instruments import (absorbed_instruments, identification_tests, iv_2sls, iv_2sls_linearmodels)
from citypilots.estimators.matching import caliper_match, matched_sample, propensity_score, psm_did
from citypilots.data.panel import CONTROLS
from citypilots.estimators.placebo import (TwoWayPartialler, permutation_placebo, placebo_assignments, refit_placebo,
                                unit_cohorts)
from citypilots.estimators.pretrends import pretrend_sensitivity
from citypilots.estimators.robustness import shift_within_unit
from citypilots.simulation.generator import simulate_panel


@pytest.fixture(scope="module")
def panel():
    data = simulate_panel().data
    data["dual_city"] = data["dual_year"].notna().astype(int)
    data["universities_2008"] = data.groupby("city")["universities"].transform("first")
    data["universities_2008_x_trend"] = data["universities_2008"] * (data["year"] - 2008)
    return data


@pytest.fixture(scope="module")
def small_panel(panel):
    """120 cities of the book's panel (all 37 dual-pilot cities among them): quick bootstraps."""
    cities = panel["city"].drop_duplicates()
    dual = panel.loc[panel["dual_city"] == 1, "city"].drop_duplicates()
    keep = pd.concat([dual, cities[~cities.isin(dual)].iloc[:83]])
    return panel[panel["city"].isin(keep)].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# 1. Placebo by permutation
# ----------------------------------------------------------------------------------------------

def test_fast_placebo_equals_pyfixest_refits_of_the_same_draws(panel):
    fast = permutation_placebo(panel, "Safety", "dual_year", CONTROLS, draws=30, seed=7, progress=False)
    slow = refit_placebo(panel, "Safety", "dual_year", CONTROLS, assignments=fast.assignments, progress=False)
    for column in ("estimate", "std_error", "p_value"):
        np.testing.assert_allclose(fast.draws[column], slow.draws[column], rtol=0, atol=1e-8)
    # The real assignment is the paper's treatment: 1 from the dual-pilot year on.
    baseline = did.twfe(panel, "Safety", "Dual_policy", CONTROLS)
    assert fast.real.estimate() == pytest.approx(baseline.estimate(), abs=1e-10)
    assert fast.real.std_error() == pytest.approx(baseline.std_error(), abs=1e-10)


def test_fast_placebo_equals_refits_on_an_unbalanced_panel_clustered_by_province(panel):
    rng = np.random.default_rng(3)
    unbalanced = panel.drop(index=rng.choice(panel.index, 200, replace=False)).assign(
        province=lambda frame: frame["city"] // 10000)
    fast = permutation_placebo(unbalanced, "Safety", "dual_year", ["lnGDP"], draws=15, seed=4, cluster="province",
                               progress=False)
    slow = refit_placebo(unbalanced, "Safety", "dual_year", ["lnGDP"], assignments=fast.assignments,
                         cluster="province", progress=False)
    np.testing.assert_allclose(fast.draws["estimate"], slow.draws["estimate"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(fast.draws["std_error"], slow.draws["std_error"], rtol=0, atol=1e-8)
    assert fast.extra["n_clusters"] == unbalanced["province"].nunique()


def test_draws_keep_the_treated_count_and_adoption_years(panel):
    cohorts = unit_cohorts(panel, "dual_year")
    draws = placebo_assignments(cohorts, 200, seed=11)
    real = np.sort(cohorts.to_numpy())
    for row in draws:
        np.testing.assert_array_equal(np.sort(row), real)  # NaN sorts last in both
    assert (~np.isnan(draws)).sum(axis=1).tolist() == [37] * 200
    np.testing.assert_array_equal(draws, placebo_assignments(cohorts, 200, seed=11))
    assert not np.array_equal(draws, placebo_assignments(cohorts, 200, seed=12))
    assert len({tuple(np.nan_to_num(row)) for row in draws}) == 200  # no two draws alike


def test_randomization_p_value_is_its_formula(panel):
    result = permutation_placebo(panel, "Safety", "dual_year", CONTROLS, draws=400, seed=5, progress=False)
    placebo = result.draws["estimate"].to_numpy()
    real = result.real.estimate()
    assert result.p_value == pytest.approx((1 + np.sum(np.abs(placebo) >= abs(real))) / 401)
    assert result.p_value_lower == pytest.approx((1 + np.sum(placebo <= real)) / 401)
    assert result.share_significant(0.1) == pytest.approx(np.mean(result.draws["p_value"] < 0.1))
    t = result.draws["estimate"] / result.draws["std_error"]
    np.testing.assert_allclose(result.draws["p_value"], 2 * stats.t.sf(np.abs(t), 217))
    # The studentised version ranks the clustered t-statistics.
    t_real = real / result.real.std_error()
    assert result.p_value_t == pytest.approx((1 + np.sum(np.abs(t) >= abs(t_real))) / 401)


def test_the_studentised_placebo_keeps_its_size_when_treated_units_are_noisier():
    """MacKinnon and Webb (2020): when the treated units' outcomes are noisier than the others',
    the placebo on the coefficient over-rejects a true null; the one on the t-statistic does not."""
    rejections = {"coefficient": 0, "t": 0}
    for replication in range(60):
        rng = np.random.default_rng(100 + replication)
        units, years = np.arange(60), np.arange(2000, 2010)
        treated_unit = units < 10
        cohort = np.where(treated_unit, rng.integers(2003, 2008, 60), np.nan)
        scale = np.where(treated_unit, 4.0, 1.0)
        frame = pd.DataFrame({"unit": np.repeat(units, 10), "year": np.tile(years, 60),
                              "cohort": np.repeat(cohort, 10)})
        frame["y"] = rng.normal(size=len(frame)) * np.repeat(scale, 10)
        result = permutation_placebo(frame, "y", "cohort", unit="unit", draws=99, seed=replication, progress=False)
        rejections["coefficient"] += result.p_value <= 0.05
        rejections["t"] += result.p_value_t <= 0.05
    assert rejections["coefficient"] >= 15  # a quarter or more of 60 true nulls (17 measured)
    assert rejections["t"] <= 7  # about the nominal 5% (5 measured)


def test_a_planted_effect_is_an_outlier_and_noise_is_not():
    rng = np.random.default_rng(8)
    units, years = np.arange(60), np.arange(2000, 2010)
    cohort = np.where(units < 15, rng.integers(2003, 2008, 60), np.nan)
    frame = pd.DataFrame({"unit": np.repeat(units, 10), "year": np.tile(years, 60),
                          "cohort": np.repeat(cohort, 10)})
    treated = (frame["year"] >= frame["cohort"]).to_numpy(dtype=float)
    frame["noise"] = rng.normal(size=len(frame)) + np.repeat(rng.normal(size=60), 10)
    frame["with_effect"] = frame["noise"] - 3.0 * treated
    found = permutation_placebo(frame, "with_effect", "cohort", unit="unit", draws=199, seed=1, progress=False)
    assert found.p_value == pytest.approx(1 / 200)
    null = permutation_placebo(frame, "noise", "cohort", unit="unit", draws=199, seed=1, progress=False)
    assert null.p_value > 0.1


def test_placebo_arguments_are_checked(panel):
    with pytest.raises(DidArgumentError, match="draws=0"):
        permutation_placebo(panel, "Safety", "dual_year", draws=0)
    with pytest.raises(DidArgumentError, match="unknown column 'Safty'.*did you mean 'Safety'"):
        permutation_placebo(panel, "Safty", "dual_year", draws=5)
    with pytest.raises(DidArgumentError, match="no treated unit"):
        permutation_placebo(panel.assign(never=np.nan), "Safety", "never", draws=5)
    with pytest.raises(DidArgumentError, match="one column per unit"):
        permutation_placebo(panel, "Safety", "dual_year", assignments=np.zeros((3, 5)))


# ----------------------------------------------------------------------------------------------
# 2. Instrumental variables
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paper_iv(panel):
    return iv_2sls(panel, "Safety", "Dual_policy", "universities", CONTROLS)


def test_2sls_equals_linearmodels_on_explicit_dummies(panel, paper_iv):
    other = iv_2sls_linearmodels(panel, "Safety", "Dual_policy", "universities", CONTROLS)
    np.testing.assert_allclose(paper_iv.params, other.params[paper_iv.params.index], rtol=1e-8, atol=1e-10)
    # pyfixest's CRV1 variance = linearmodels' clustered variance x pyfixest's small-sample factor.
    factor = float(np.asarray(paper_iv.fitted._ssc).squeeze())
    np.testing.assert_allclose(paper_iv.std_errors ** 2, factor * other.std_errors[paper_iv.params.index] ** 2,
                               rtol=1e-8)


def _ranktest(x: np.ndarray, z: np.ndarray, v: np.ndarray, clusters: np.ndarray) -> float:
    """Kleibergen-Paap rk statistic, a line-by-line port of Stata's ranktest (K1 = 1 case)."""
    n, l1 = z.shape
    qzz, qzy, qyy = z.T @ z / n, z.T @ x[:, None] / n, np.array([[x @ x / n]])
    r_zz, r_yy = np.linalg.cholesky(qzz).T, np.linalg.cholesky(qyy).T  # upper factors, A = R'R
    ir_zz, ir_yy = np.linalg.inv(r_zz), np.linalg.inv(r_yy)
    pihat = np.linalg.solve(qzz, qzy)
    theta = r_zz @ pihat @ ir_yy
    u, _, vt = np.linalg.svd(theta, full_matrices=True)
    v_svd = vt.T
    scores = np.zeros((clusters.max() + 1, l1))
    np.add.at(scores, clusters, v[:, None] * z)
    shat0 = scores.T @ scores / n
    kron = np.kron(ir_yy.T, ir_zz.T)
    kpvar = kron @ shat0 @ kron.T
    u22, v22 = u, v_svd  # rank kk = K1 - 1 = 0: the whole matrices

    def symmetric_sqrt(matrix):
        values, vectors = np.linalg.eigh(matrix)
        return vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T

    aq = u22 @ np.linalg.inv(u22) @ symmetric_sqrt(u22 @ u22.T)
    bq = symmetric_sqrt(v22 @ v22.T) @ np.linalg.inv(v22.T) @ v22.T
    lab = np.kron(bq, aq.T) @ theta.reshape(-1, order="F")
    vlab = np.kron(bq, aq.T) @ kpvar @ np.kron(bq, aq.T).T
    return float(n * lab @ np.linalg.solve(vlab, lab))


def test_kleibergen_paap_equals_the_general_ranktest_formula(panel):
    instruments = ["universities", "universities_2008_x_trend"]
    tests = identification_tests(panel, "Dual_policy", instruments, CONTROLS)
    partial = TwoWayPartialler(panel.reset_index(drop=True), tuple(CONTROLS), "city", "year")
    x = partial(panel[["Dual_policy"]].to_numpy(dtype=float))[:, 0]
    z = partial(panel[instruments].to_numpy(dtype=float))
    clusters = pd.factorize(panel["city"])[0]
    residual = x - z @ np.linalg.lstsq(z, x, rcond=None)[0]
    assert tests["kp_rk_lm"]["statistic"] == pytest.approx(_ranktest(x, z, x, clusters), rel=1e-8)
    assert tests["kp_rk_wald"] == pytest.approx(_ranktest(x, z, residual, clusters), rel=1e-8)
    assert tests["kp_rk_lm"]["df"] == 2


def test_one_instrument_statistics_equal_the_first_stage_of_two_packages(panel, paper_iv):
    from linearmodels.iv import IV2SLS

    fs_robust = pf.feols(f"Dual_policy ~ universities + {' + '.join(CONTROLS)} | city + year", data=panel,
                         vcov={"CRV1": "city"}, fixef_rm="none")
    fs_iid = pf.feols(f"Dual_policy ~ universities + {' + '.join(CONTROLS)} | city + year", data=panel,
                      vcov="iid", fixef_rm="none")
    # KP rk Wald F = cluster-robust first-stage F = t^2 (CRV1); first-stage F (iid) = iid t^2.
    assert paper_iv.extra["kp_rk_wald_F"] == pytest.approx(fs_robust.tstat()["universities"] ** 2, rel=1e-8)
    assert paper_iv.extra["first_stage_F"] == pytest.approx(fs_iid.tstat()["universities"] ** 2, rel=1e-8)
    # KP rk Wald chi2 = the clustered Wald statistic of linearmodels' first stage on explicit
    # dummies, without small-sample factor (what linearmodels' first-stage partial F reports).
    exogenous = pd.concat([pd.Series(1.0, index=panel.index, name="const"), panel[["universities", *CONTROLS]],
                           pd.get_dummies(panel["city"], prefix="c", drop_first=True, dtype=float),
                           pd.get_dummies(panel["year"], prefix="y", drop_first=True, dtype=float)], axis=1)
    first_stage = IV2SLS(panel["Dual_policy"].astype(float), exogenous, None, None).fit(
        cov_type="clustered", clusters=panel["city"], debiased=False)
    assert paper_iv.extra["kp_rk_wald"] == pytest.approx(first_stage.tstats["universities"] ** 2, rel=1e-7)
    assert paper_iv.extra["first_stage"].estimate("universities") == pytest.approx(fs_robust.coef()["universities"])


def test_2sls_recovers_a_planted_effect_that_ols_misses():
    rng = np.random.default_rng(21)
    n_units, n_years = 400, 8
    unit, year = np.repeat(np.arange(n_units), n_years), np.tile(np.arange(n_years), n_units)
    start = np.repeat(rng.integers(2, 7, n_units), n_years)
    encouraged = np.repeat(rng.random(n_units) < 0.5, n_years) & (year >= start)
    confounder = rng.normal(size=n_units * n_years)
    treated = (0.9 * encouraged + confounder + rng.normal(size=n_units * n_years) > 0.8).astype(float)
    outcome = (2.0 * treated + np.repeat(rng.normal(size=n_units), n_years) + 0.1 * year + 1.5 * confounder
               + rng.normal(size=n_units * n_years))
    frame = pd.DataFrame({"unit": unit, "year": year, "y": outcome, "d": treated, "z": encouraged.astype(float)})
    iv = iv_2sls(frame, "y", "d", "z", unit="unit")
    ols = did.twfe(frame, "y", "d", unit="unit")
    assert abs(iv.estimate() - 2.0) < 3 * iv.std_error()
    assert abs(ols.estimate() - 2.0) > 10 * ols.std_error()
    assert iv.extra["kp_rk_wald_F"] > 10


def test_an_instrument_absorbed_by_the_fixed_effects_is_refused(panel):
    assert absorbed_instruments(panel, ["universities", "universities_2008"]) == ["universities_2008"]
    with pytest.raises(DidArgumentError, match="'universities_2008' does not vary within city and year.*absorb"):
        iv_2sls(panel, "Safety", "Dual_policy", "universities_2008", CONTROLS)
    with pytest.raises(DidArgumentError, match="instruments \\['lnGDP'\\] are also"):
        iv_2sls(panel, "Safety", "Dual_policy", "lnGDP", CONTROLS)
    with pytest.raises(DidArgumentError, match="at least one instrument"):
        iv_2sls(panel, "Safety", "Dual_policy", [], CONTROLS)


# ----------------------------------------------------------------------------------------------
# 3. Propensity-score matching
# ----------------------------------------------------------------------------------------------

def _brute_force_match(score: pd.Series, treated: pd.Series, caliper: float, neighbours: int,
                       strata: pd.Series) -> pd.DataFrame:
    """For every treated row in data order, scan every control row of its stratum."""
    position = {label: i for i, label in enumerate(score.index)}
    rows = []
    for t in score.index[treated == 1]:
        candidates = [c for c in score.index if treated[c] == 0 and strata[c] == strata[t]]
        ranked = sorted(candidates, key=lambda c: (abs(score[t] - score[c]), position[c]))
        for rank, c in enumerate(ranked[:neighbours], start=1):
            if abs(score[t] - score[c]) <= caliper:
                rows.append((t, c, abs(score[t] - score[c]), rank, strata[t]))
    return pd.DataFrame(rows, columns=["treated_row", "control_row", "distance", "rank", "stratum"])


@pytest.mark.parametrize("neighbours", [1, 3])
def test_vectorised_matching_equals_brute_force(neighbours):
    rng = np.random.default_rng(2)
    n = 240
    frame = pd.DataFrame({"year": rng.integers(2010, 2014, n), "treated": (rng.random(n) < 0.3).astype(int),
                          "score": np.round(rng.random(n), 2)},  # rounded: ties to break
                         index=rng.permutation(np.arange(1000, 1000 + n)))
    fast = caliper_match(frame["score"], frame["treated"], 0.03, neighbours, frame["year"])
    slow = _brute_force_match(frame["score"], frame["treated"], 0.03, neighbours, frame["year"])
    order = {label: i for i, label in enumerate(frame.index)}

    def sort(matches):
        return matches.assign(position=matches["treated_row"].map(order)).sort_values(
            ["position", "rank"]).drop(columns="position").reset_index(drop=True)

    assert len(slow) > 50 and (slow["rank"] > 1).any() == (neighbours > 1)
    pd.testing.assert_frame_equal(sort(fast), sort(slow), check_dtype=False)


def test_matches_respect_caliper_and_strata_and_reuse_controls(panel):
    score = propensity_score(panel, "dual_city", CONTROLS).scores
    matches = caliper_match(score, panel["dual_city"], 0.01, 1, panel["year"])
    assert (matches["distance"] <= 0.01).all()
    treated_year = panel.loc[matches["treated_row"], "year"].to_numpy()
    assert (treated_year == panel.loc[matches["control_row"], "year"].to_numpy()).all()
    assert (panel.loc[matches["control_row"], "dual_city"] == 0).all()
    assert matches["control_row"].duplicated().any()  # with replacement
    sample = matched_sample(panel, matches)
    assert set(sample.index) == set(matches["treated_row"]) | set(matches["control_row"])
    assert sample.loc[sample["dual_city"] == 1, "match_weight"].eq(1).all()
    assert sample.loc[sample["dual_city"] == 0, "match_weight"].sum() == pytest.approx(len(matches))


def test_psm_did_improves_balance_and_runs_twfe_on_the_matched_rows(panel):
    psm = psm_did(panel, "Safety", "Dual_policy", "dual_city", CONTROLS, caliper=0.01, strata="year")
    before = psm.balance[("Before matching", "std. diff. (%)")].abs()
    after = psm.balance[("After matching", "std. diff. (%)")].abs()
    assert after["propensity"] < before["propensity"] / 5
    assert after.mean() < before.mean()
    direct = did.twfe(panel.loc[psm.sample.index], "Safety", "Dual_policy", CONTROLS)
    assert psm.result.estimate() == pytest.approx(direct.estimate())
    assert psm.result.n_obs == len(psm.sample) < len(panel)


def test_matching_arguments_are_checked(panel):
    score = pd.Series(0.5, index=panel.index)
    with pytest.raises(DidArgumentError, match="caliper=0 must be a positive number"):
        caliper_match(score, panel["dual_city"], 0)
    with pytest.raises(DidArgumentError, match="2 problems"):
        caliper_match(score, panel["dual_city"], -1, neighbours=0)
    with pytest.raises(DidArgumentError, match="must be a 0/1 dummy"):
        propensity_score(panel, "year", CONTROLS)
    with pytest.raises(DidArgumentError, match="no treated row has a control within the caliper"):
        psm_did(panel, "Safety", "Dual_policy", "dual_city", CONTROLS, caliper=1e-12, strata="city")


# ----------------------------------------------------------------------------------------------
# 4. Wild cluster bootstrap
# ----------------------------------------------------------------------------------------------

def test_wild_bootstrap_is_reproducible_for_a_seed(small_panel):
    fit = did.twfe(small_panel, "Safety", "Dual_policy", CONTROLS)
    first = wild_cluster_bootstrap(fit, term="lnGDP", reps=999, seed=3)
    again = wild_cluster_bootstrap(fit, term="lnGDP", reps=999, seed=3)
    other = wild_cluster_bootstrap(fit, term="lnGDP", reps=999, seed=4)
    pd.testing.assert_frame_equal(first.table, again.table)
    np.testing.assert_array_equal(first.extra["t_boot"], again.extra["t_boot"])
    assert not np.array_equal(first.extra["t_boot"], other.extra["t_boot"])
    # Another seed: the same answer up to simulation error.
    assert abs(first.table["p_value"].iloc[0] - other.table["p_value"].iloc[0]) < 0.06
    assert first.conf_int() == pytest.approx(other.conf_int(), rel=0.15)
    # A continuous regressor that moves in every cluster: the bootstrap agrees with the t-test.
    assert first.table["p_value"].iloc[0] == pytest.approx(fit.table.loc["lnGDP", "p_value"], abs=0.06)
    assert first.estimate() == fit.estimate("lnGDP")
    low, high = first.conf_int()
    assert low < fit.estimate("lnGDP") < high


@pytest.mark.parametrize("term", ["Dual_policy", "lnGDP"])
def test_fast_wild_bootstrap_equals_the_wildboottest_package_draw_for_draw(small_panel, term):
    """The fast algorithm (FWL, G x G matrices) against pyfixest's wildboottest on the same draws:
    the same bootstrap t-statistics (up to the small-sample factor both share with the real t),
    the same p-value and the same interval."""
    fit = did.twfe(small_panel, "Safety", "Dual_policy", CONTROLS)
    fast = wild_cluster_bootstrap(fit, term=term, reps=499, seed=9)
    slow = wild_cluster_bootstrap_wildboottest(fit, term=term, reps=499, seed=9)
    np.testing.assert_allclose(fast.extra["t_boot"] / fast.extra["t_stat"],
                               slow.extra["t_boot"] / slow.extra["t_stat"], rtol=0, atol=1e-9)
    assert fast.table["p_value"].iloc[0] == slow.table["p_value"].iloc[0]
    np.testing.assert_allclose(fast.conf_int(), slow.conf_int(), rtol=0, atol=1e-9)
    # The restricted (WCR) draws too: wildboottest's own restricted t-statistics.
    _, restricted = fit.fitted.wildboottest(reps=499, param=term, seed=9, impose_null=True,
                                            return_bootstrapped_t_stats=True)
    np.testing.assert_allclose(fast.extra["t_boot_restricted"] / fast.extra["t_stat"],
                               np.asarray(restricted, dtype=float).ravel() / slow.extra["t_stat"], rtol=0, atol=1e-9)
    # Its standard error is the fit's clustered (CRV1) one.
    assert fast.std_error() == pytest.approx(fit.std_error(term), rel=1e-10)


def test_wild_bootstrap_arguments_are_checked(small_panel):
    fit = did.twfe(small_panel, "Safety", "Dual_policy", CONTROLS)
    with pytest.raises(DidArgumentError, match="reps=10"):
        wild_cluster_bootstrap(fit, reps=10)
    with pytest.raises(DidArgumentError, match="weights='gauss'"):
        wild_cluster_bootstrap(fit, weights="gauss")
    with pytest.raises(DidArgumentError, match="term 'TI' is not a coefficient"):
        wild_cluster_bootstrap(fit, term="TI")
    iv = iv_2sls(small_panel, "Safety", "Dual_policy", "universities", CONTROLS)
    with pytest.raises(DidArgumentError, match="no pyfixest OLS fit"):
        wild_cluster_bootstrap(iv)


# ----------------------------------------------------------------------------------------------
# 5. Sensitivity to pre-trends (Rambachan and Roth)
# ----------------------------------------------------------------------------------------------

# The published example of the HonestDiD packages (README of mcaceresb/stata-honestdid, version
# 0.5.3): share of low-income childless adults with health insurance (dins) by US state, 2008-2015,
# from Mixtape-Sessions/Advanced-DID, Exercises/Data/ehec_data.csv, restricted as the README does
# (years before 2016, the 2015 cohort dropped). Cohort 2014 = treated; None = the comparison states.
MEDICAID = {
    "alabama": (None, [.6814122, .6580621, .6313651, .6563886, .6708115, .6521544, .6886147, .7049411]),
    "alaska": (None, [.4902744, .471383, .5238693, .5513518, .4731023, .5791751, .531309, .6222646]),
    "arizona": (2014, [.6098763, .6038413, .6221575, .6218184, .6052098, .6145284, .6884941, .7540561]),
    "arkansas": (2014, [.6238649, .6166095, .6019469, .6186749, .6472555, .660113, .7246239, .7809256]),
    "california": (2014, [.5766346, .5566983, .5607858, .5652276, .567108, .5869472, .6892559, .777474]),
    "colorado": (2014, [.60423, .6223597, .624326, .6217457, .6310782, .6531152, .7511546, .7928613]),
    "connecticut": (2014, [.7036601, .6937909, .6889572, .6788563, .7099507, .6968524, .7945667, .8186108]),
    "florida": (None, [.5487086, .5348367, .5241162, .5269637, .5479365, .5492317, .6122136, .6683298]),
    "georgia": (None, [.5599459, .5485352, .5415807, .5388681, .5546577, .5550773, .6043968, .6495978]),
    "hawaii": (2014, [.7850013, .7717041, .7831579, .7637015, .7981848, .7820048, .8518662, .8678843]),
    "idaho": (None, [.6452607, .6291881, .6025975, .6333872, .5993702, .6144987, .709904, .6967976]),
    "illinois": (2014, [.6247448, .6003809, .5835595, .603168, .5948178, .6229177, .7212194, .7944734]),
    "iowa": (2014, [.7329469, .7414502, .7321184, .7500499, .768099, .7527962, .8207864, .8613235]),
    "kansas": (None, [.6715692, .6544818, .6235881, .6649476, .6647856, .6508836, .7216428, .7433004]),
    "kentucky": (2014, [.6756547, .6495453, .6350862, .6417465, .6533939, .6423131, .7945616, .8475562]),
    "louisiana": (None, [.5845971, .5809779, .5589961, .5628628, .5868679, .5929636, .6315237, .6665046]),
    "maine": (None, [.7352178, .7457104, .7033234, .6828818, .714273, .7232717, .7623242, .7918917]),
    "maryland": (2014, [.6505839, .6346201, .6410042, .6576794, .6776429, .685596, .7492712, .789168]),
    "michigan": (2014, [.69056, .6654921, .6522786, .6606765, .6703054, .6913394, .7613778, .8353194]),
    "minnesota": (2014, [.7507716, .7512081, .7449474, .762849, .7460545, .7600102, .8067074, .8682727]),
    "mississippi": (None, [.647132, .6169437, .6121933, .6227806, .6258935, .6085388, .6410151, .6603822]),
    "missouri": (None, [.6852904, .6631287, .6664188, .6652361, .6511026, .6768019, .7149377, .7405193]),
    "montana": (None, [.6214401, .6172815, .6501032, .5766492, .6155358, .6034593, .6815277, .7276235]),
    "nebraska": (None, [.7023595, .7299535, .6861361, .7056484, .6997835, .6691276, .7291557, .7790463]),
    "nevada": (2014, [.5710957, .5450087, .5582165, .53939, .5418556, .5640745, .6748341, .7341996]),
    "new jersey": (2014, [.6327685, .592813, .5843231, .5700157, .588118, .569653, .6353181, .716136]),
    "new mexico": (2014, [.5920063, .5824076, .5877423, .5696653, .5874929, .618993, .6925197, .7636594]),
    "north carolina": (None, [.6355257, .60763, .6184343, .6052898, .611424, .6176155, .6778689, .7198848]),
    "north dakota": (2014, [.7428152, .6957213, .7095507, .7106752, .7081445, .7111444, .7875783, .7891071]),
    "ohio": (2014, [.6651711, .6557886, .6462941, .6470984, .6564615, .6631119, .7412719, .8071672]),
    "oklahoma": (None, [.5833684, .5772998, .5767068, .5771133, .6023735, .6055935, .6399955, .6606329]),
    "oregon": (2014, [.6186642, .5876785, .5906724, .6176501, .6336687, .6326413, .7539015, .8279694]),
    "rhode island": (2014, [.6912599, .6841791, .6689332, .6770897, .6820772, .6444103, .8189201, .8543635]),
    "south carolina": (None, [.6236674, .6040146, .6026508, .5998988, .5897961, .614867, .6554503, .6921155]),
    "south dakota": (None, [.6913503, .6611788, .6908593, .6949736, .6963041, .6636507, .7257309, .6762812]),
    "tennessee": (None, [.6455016, .6204717, .6237048, .6090915, .6361499, .6437094, .6772474, .7114374]),
    "texas": (None, [.5282508, .5119539, .5184326, .5206313, .5278595, .5408732, .5891563, .6137073]),
    "utah": (None, [.6457777, .6251684, .614554, .6063017, .6392333, .6341162, .6712528, .717406]),
    "virginia": (None, [.6808553, .6792349, .6578167, .635681, .62221, .6477494, .6984549, .7123922]),
    "washington": (2014, [.6708972, .6472104, .6391173, .6344942, .6455252, .6370318, .7722495, .8293942]),
    "west virginia": (2014, [.6937376, .6584075, .6712545, .668988, .6470681, .6692245, .7669487, .852476]),
    "wisconsin": (2014, [.7028762, .6782655, .700281, .7078812, .6953536, .7144675, .7842925, .8139718]),
    "wyoming": (None, [.6160446, .6547553, .5756097, .599313, .628042, .6343244, .6557182, .726786]),
}
# The README's printed intervals for the first post-treatment year (2014), alpha = 0.05.
PUBLISHED_ORIGINAL = (0.029, 0.064)
PUBLISHED_SMOOTHNESS = {0.00: (0.026, 0.061), 0.01: (0.013, 0.079), 0.02: (0.003, 0.091),
                        0.03: (-0.007, 0.101), 0.04: (-0.017, 0.111), 0.05: (-0.027, 0.121)}
PUBLISHED_RELATIVE_MAGNITUDES_2 = (-0.001, 0.088)  # C-LF, Mbar = 2


@pytest.fixture(scope="module")
def medicaid_event_study():
    frame = pd.DataFrame([(state, year, value, cohort) for state, (cohort, values) in MEDICAID.items()
                          for year, value in zip(range(2008, 2016), values)],
                         columns=["state", "year", "dins", "cohort"])
    frame["state"] = pd.factorize(frame["state"])[0]
    frame["cohort"] = frame["cohort"].astype("Float64")
    # reghdfe dins b2013.Dyear, absorb(stfips year) cluster(stfips): leads -6..-2, reference -1.
    return did.event_study(frame, "dins", "cohort", unit="state", window=(-6, 1), reference=-1)


def test_smoothness_intervals_reproduce_the_published_honestdid_example(medicaid_event_study):
    sensitivity = pretrend_sensitivity(medicaid_event_study, "smoothness", M_grid=list(PUBLISHED_SMOOTHNESS),
                                       target=0)
    original = sensitivity.original
    assert (original["ci_low"], original["ci_high"]) == pytest.approx(PUBLISHED_ORIGINAL, abs=5e-4)
    for M, (low, high) in PUBLISHED_SMOOTHNESS.items():
        row = sensitivity.table.loc[M]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), abs=5e-4), M
    assert sensitivity.breakdown == pytest.approx(0.025, abs=0.005)  # the README: "M approx 0.03"


def test_relative_magnitude_intervals_are_diff_diffs_naive_ones(medicaid_event_study):
    sensitivity = pretrend_sensitivity(medicaid_event_study, "relative_magnitude", M_grid=[0.0, 2.0], target=0)
    z = stats.norm.ppf(0.975)
    se = sensitivity.original["std_error"]
    for M, row in sensitivity.table.iterrows():
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((row["lb"] - z * se, row["ub"] + z * se))
    # Mbar = 0: the identified set is the estimate, the interval the conventional one.
    at_zero = sensitivity.table.loc[0.0]
    assert at_zero["lb"] == pytest.approx(sensitivity.original["estimate"]) == pytest.approx(at_zero["ub"])
    assert at_zero["ci_low"] == pytest.approx(sensitivity.original["ci_low"])
    # Not the packages' C-LF interval: at Mbar = 2 the published one contains zero, diff-diff's does not.
    assert PUBLISHED_RELATIVE_MAGNITUDES_2[0] < 0 < sensitivity.table.loc[2.0, "ci_low"]


def test_breakdown_is_where_the_robust_interval_first_covers_zero(panel):
    event_study = did.event_study(panel, "Safety", "dual_year", controls=CONTROLS, window=(-4, 4))
    sensitivity = pretrend_sensitivity(event_study, "relative_magnitude", M_grid=np.linspace(0, 3, 7), target=2,
                                       breakdown_tolerance=0.01)
    assert sensitivity.breakdown is not None
    below = pretrend_sensitivity(event_study, "relative_magnitude", M_grid=[sensitivity.breakdown - 0.02], target=2)
    above = pretrend_sensitivity(event_study, "relative_magnitude", M_grid=[sensitivity.breakdown + 0.001], target=2)
    assert not below.table["ci_low"].iloc[0] <= 0 <= below.table["ci_high"].iloc[0]
    assert above.table["ci_low"].iloc[0] <= 0 <= above.table["ci_high"].iloc[0]


def test_sensitivity_arguments_are_checked(panel, medicaid_event_study):
    with pytest.raises(DidArgumentError, match="needs an event_study result"):
        pretrend_sensitivity(did.twfe(panel, "Safety", "Dual_policy"))
    with pytest.raises(DidArgumentError, match="method='linear'"):
        pretrend_sensitivity(medicaid_event_study, "linear")
    with pytest.raises(DidArgumentError, match="target=5 must be"):
        pretrend_sensitivity(medicaid_event_study, target=5)
    shifted = did.event_study(panel, "Safety", "dual_year", window=(-4, 2), reference=-3)
    with pytest.raises(DidArgumentError, match="must be the last one before treatment"):
        pretrend_sensitivity(shifted)


# ----------------------------------------------------------------------------------------------
# 6. Shifted outcomes
# ----------------------------------------------------------------------------------------------

def test_shift_within_unit_follows_the_years_not_the_rows(panel):
    lead = shift_within_unit(panel, "Safety", 2)
    assert lead.name == "Safety_lead2"
    np.testing.assert_array_equal(lead.to_numpy(), panel.groupby("city")["Safety"].shift(-2).to_numpy())
    gappy = panel[panel["year"] != 2012].sample(frac=1.0, random_state=1)  # a gap and shuffled rows
    lagged = shift_within_unit(gappy, "Safety", -1)
    assert lagged[gappy["year"] == 2013].isna().all()
    row = gappy[(gappy["year"] == 2015)].iloc[0]
    expected = panel.loc[(panel["city"] == row["city"]) & (panel["year"] == 2014), "Safety"].item()
    assert lagged[row.name] == expected
    with pytest.raises(DidArgumentError, match="periods=1.5"):
        shift_within_unit(panel, "Safety", 1.5)
