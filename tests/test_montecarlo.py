"""Monte Carlo over seeds (citypilots.montecarlo): the same numbers on every route, a cache that
is read back, clear errors, and the summary statistics by hand."""

from __future__ import annotations

import sys

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from citypilots.simulation import montecarlo
from citypilots.estimators.did import twfe
from citypilots.data.panel import CONTROLS
from citypilots.simulation.specification import null_world

# Workers (joblib's, Dask's) import what they run; this test module is not importable there, so
# its functions travel by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SEEDS = [3, 1, 2]


def baseline_twfe(simulated) -> dict:
    """The paper's specification on one simulated panel."""
    result = twfe(simulated.data, "Safety", "Dual_policy", controls=CONTROLS)
    low, high = result.conf_int()
    return {"estimate": result.estimate(), "ci_low": low, "ci_high": high,
            "p_value": float(result.table.loc["Dual_policy", "p_value"]),
            "mean_safety": float(simulated.data["Safety"].mean())}


def not_numbers(simulated) -> dict:
    return {"label": "a string"}


@pytest.fixture
def cache_in(tmp_path, monkeypatch):
    monkeypatch.setenv(montecarlo.CACHE_VARIABLE, str(tmp_path))
    return tmp_path


def test_one_row_per_seed_in_order_with_the_truths_asked_for(cache_in):
    rows = montecarlo.replicate(baseline_twfe, seeds=SEEDS, truths=("dual_vs_none", "synergy"), progress=False)
    assert list(rows["seed"]) == SEEDS
    assert {"estimate", "ci_low", "ci_high", "p_value", "truth_dual_vs_none", "truth_synergy"} <= set(rows.columns)
    from citypilots.simulation.generator import simulate_panel
    assert rows.loc[1, "truth_synergy"] == simulate_panel(seed=1).truth.synergy()
    assert rows["mean_safety"].nunique() == len(SEEDS)  # each seed its own panel


def test_local_processes_and_a_dask_cluster_give_the_same_numbers(cache_in):
    from dask.distributed import Client, LocalCluster

    kwargs = dict(seeds=SEEDS, truths=("dual_vs_none",), cache=False, progress=False)
    here = montecarlo.replicate(baseline_twfe, n_jobs=1, **kwargs)
    two_processes = montecarlo.replicate(baseline_twfe, n_jobs=2, **kwargs)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        on_dask = montecarlo.replicate(baseline_twfe, scheduler=client, **kwargs)
        by_address = montecarlo.replicate(baseline_twfe, scheduler=cluster.scheduler_address, **kwargs)
    for other in (two_processes, on_dask, by_address):
        pd.testing.assert_frame_equal(here, other, check_exact=False, rtol=1e-12)
        assert (here["truth_dual_vs_none"] == other["truth_dual_vs_none"]).all()


def test_a_second_call_reads_the_cache(cache_in, monkeypatch):
    first = montecarlo.replicate(baseline_twfe, seeds=SEEDS, progress=False)

    def must_not_run(*args, **kwargs):
        raise AssertionError("recomputed a cached seed")

    monkeypatch.setattr(montecarlo, "run_one_seed", must_not_run)
    again = montecarlo.replicate(baseline_twfe, seeds=SEEDS, progress=False)
    pd.testing.assert_frame_equal(first, again)
    # Another world is another key: it must compute.
    with pytest.raises(AssertionError, match="recomputed"):
        montecarlo.replicate(baseline_twfe, seeds=SEEDS, overrides=null_world("synergy"), progress=False)


def test_the_cache_key_follows_the_specification_and_the_function():
    spec = montecarlo.load_spec()
    nulled = montecarlo.load_spec(overrides=null_world("synergy"))
    assert montecarlo._run_key(spec, baseline_twfe, ()) != montecarlo._run_key(nulled, baseline_twfe, ())
    assert montecarlo._run_key(spec, baseline_twfe, ()) != montecarlo._run_key(spec, not_numbers, ())
    assert montecarlo._run_key(spec, baseline_twfe, ()) != montecarlo._run_key(spec, baseline_twfe, ("synergy",))
    assert montecarlo._run_key(spec, baseline_twfe, ()) == montecarlo._run_key(montecarlo.load_spec(), baseline_twfe, ())


def test_a_function_that_returns_no_numbers_is_an_error_naming_the_seed(cache_in):
    with pytest.raises(TypeError, match="seed 3: fn returned values that are not numbers: {'label': 'str'}"):
        montecarlo.replicate(not_numbers, seeds=[3], progress=False)
    with pytest.raises(ValueError, match="repeat"):
        montecarlo.replicate(baseline_twfe, seeds=[1, 1])
    with pytest.raises(ValueError, match="n_jobs"):
        montecarlo.replicate(baseline_twfe, seeds=[1], n_jobs=0)


def test_summarise_by_hand():
    rows = pd.DataFrame({"estimate": [-1.0, -0.5, 0.0, -0.5], "truth": [-0.5, -0.5, -0.5, -0.5],
                         "low": [-1.5, -0.9, -0.4, -1.0], "high": [-0.6, -0.1, 0.4, 0.0],
                         "p": [0.01, 0.02, 0.9, 0.04]})
    summary = montecarlo.summarise(rows, "estimate", truth="truth", ci_low="low", ci_high="high", p_value="p")
    assert summary["mean"] == pytest.approx(-0.5)
    assert summary["sd"] == pytest.approx(np.std([-1.0, -0.5, 0.0, -0.5], ddof=1))
    assert summary["bias"] == pytest.approx(0.0)
    assert summary["rmse"] == pytest.approx(np.sqrt((0.25 + 0 + 0.25 + 0) / 4))
    assert summary["coverage"] == pytest.approx(0.5)  # the first and third intervals miss -0.5
    assert summary["rejection_rate"] == pytest.approx(0.75)
    assert montecarlo.summarise(rows, "estimate", truth=-0.5)["bias"] == pytest.approx(0.0)


def test_summarise_leaves_out_seeds_without_a_truth():
    rows = pd.DataFrame({"estimate": [-1.0, -0.5], "truth": [np.nan, -0.5], "low": [-2.0, -1.0], "high": [0.0, 0.0]})
    summary = montecarlo.summarise(rows, "estimate", truth="truth", ci_low="low", ci_high="high")
    assert summary["coverage"] == 1.0 and summary["bias"] == 0.0
    nothing = montecarlo.summarise(rows.assign(truth=np.nan), "estimate", truth="truth", ci_low="low", ci_high="high")
    assert np.isnan(nothing["coverage"]) and np.isnan(nothing["truth"])


def test_a_specification_names_its_own_generator():
    from citypilots.simulation.generator import simulate_panel
    spec = montecarlo.load_spec()
    assert montecarlo.simulator_of(spec) is simulate_panel
    assert montecarlo.simulator_of({**spec, "generator": "citypilots.simulation.generator"}) is simulate_panel
    with pytest.raises(ValueError, match="name a module of citypilots.simulation"):
        montecarlo.simulator_of({**spec, "generator": "os"})
