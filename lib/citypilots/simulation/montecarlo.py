"""Many simulated panels: run a computation over seeds, on one machine or a Dask cluster, cached.

One draw proves nothing: a claim that an estimator recovers the truth, or that an effect is
significant, rests on the spread of the estimate over many simulated panels and on its value in
the null world (the specification with that one effect switched off,
:func:`citypilots.simulation.specification.null_world`). :func:`replicate` runs ``fn(simulated_panel) -> dict of
numbers`` for each seed and returns one row per seed; :func:`summarise` turns the rows into the
mean, SD, coverage of the 95% interval and rejection rate the chapters print.

Execution: in this process (``n_jobs=1``), in ``n_jobs`` local processes (joblib), or on a Dask
cluster (``scheduler="tcp://host:8786"``, or a ``dask.distributed.Client``). Each seed is
independent and seeded, so every route gives the same numbers. Results are cached on disk, one
file per seed, keyed by the specification (after overrides), the seed, the function (its name and
its module's source) and a digest of the code and data the numbers depend on
(:func:`code_and_data_digest`), so a book rebuild reads them
back instead of recomputing; a change to any of these computes afresh. The cache folder is
``$CITYPILOTS_CACHE/montecarlo`` (default ``~/.cache/citypilots/montecarlo``).

No library runs "simulate, estimate, tabulate over seeds with a cache" for a panel simulator; the
parallel back ends are joblib's and Dask's.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import json
import math
import os
from collections.abc import Callable, Iterable
from numbers import Number
from pathlib import Path

import numpy as np
import pandas as pd

from .._paths import data_dir
from ..digest import tree_digest
from .generator import simulate_panel
from .specification import load_spec

__all__ = ["CACHE_VARIABLE", "cache_folder", "code_and_data_digest", "function_key",
           "simulator_of", "run_one_seed", "replicate", "summarise"]

CACHE_VARIABLE = "CITYPILOTS_CACHE"


def cache_folder() -> Path:
    """Where :func:`replicate` keeps its results: ``$CITYPILOTS_CACHE/montecarlo``."""
    root = os.environ.get(CACHE_VARIABLE, "").strip()
    return (Path(root) if root else Path.home() / ".cache" / "citypilots") / "montecarlo"


@functools.lru_cache(maxsize=1)
def code_and_data_digest() -> str:
    """SHA-256 of the code every simulated result depends on, and of the ``data/`` folder: the
    ``data``, ``simulation`` and ``estimators`` layers, the shared modules beside them and
    :mod:`citypilots.report.evidence` (which shapes the numbers of evidence tables). The module
    that defines the function run is keyed by :func:`function_key`; figures, tables and glue
    (the rest of ``report``) do not change a computed number and are left out, so editing them
    recomputes nothing."""
    package = Path(__file__).resolve().parents[1]
    parts = [package / name for name in ("data", "simulation", "estimators", "_paths.py", "errors.py", "digest.py")]
    return tree_digest([*parts, package / "report" / "evidence.py", data_dir()])


def function_key(fn: Callable) -> str:
    """A name for ``fn`` that changes when its code does: module, qualified name and the source of
    the module that defines it (of ``fn`` alone where that module has no file, e.g. a notebook;
    its compiled code where no source can be read); for a ``functools.partial``, also the keys of
    its arguments (a callable argument by its own key, anything else by its repr)."""
    if isinstance(fn, functools.partial):
        arguments = [_argument_key(value) for value in fn.args]
        arguments += [f"{name}={_argument_key(value)}" for name, value in sorted(fn.keywords.items())]
        return f"partial({function_key(fn.func)}, {', '.join(arguments)})"
    try:
        source = inspect.getsource(fn)
        module = inspect.getmodule(fn)
        if module is not None and getattr(module, "__file__", None):
            source = inspect.getsource(module)  # the helpers fn calls in its own module count too
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        source = repr(fn) if code is None else f"{code.co_code.hex()}{code.co_consts!r}"
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}:{source}"


def _argument_key(value) -> str:
    return function_key(value) if callable(value) else repr(value)


def _run_key(spec: dict, fn: Callable, truths: tuple[str, ...]) -> str:
    payload = json.dumps({"spec": spec, "fn": function_key(fn), "truths": list(truths),
                          "code": code_and_data_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def _numbers(values: dict, seed: int) -> dict:
    """Check that ``fn`` returned a dict of numbers (NaN allowed) and make them plain floats."""
    if not isinstance(values, dict):
        raise TypeError(f"seed {seed}: fn must return a dict of numbers, got {type(values).__name__}")
    bad = {key: type(value).__name__ for key, value in values.items()
           if not isinstance(value, (Number, np.number)) or isinstance(value, complex)}
    if bad:
        raise TypeError(f"seed {seed}: fn returned values that are not numbers: {bad}")
    return {str(key): float(value) for key, value in values.items()}


def simulator_of(spec: dict) -> Callable:
    """The ``simulate_panel(spec, seed=...)`` function of the module a specification names in its
    ``generator`` key (a companion study's own simulator, e.g. ``citypilots.simulation.zhu_chen``);
    without that key, the main paper's :func:`~citypilots.simulation.generator.simulate_panel`."""
    module = spec.get("generator")
    if module is None:
        return simulate_panel
    if not isinstance(module, str) or not module.startswith("citypilots.simulation."):
        raise ValueError(f"generator {module!r}: name a module of citypilots.simulation")
    return importlib.import_module(module).simulate_panel


def run_one_seed(fn: Callable, spec: dict, seed: int, truths: tuple[str, ...] = ()) -> dict:
    """Simulate the panel of ``spec`` with ``seed`` (by the generator the spec names, see
    :func:`simulator_of`), apply ``fn``, add the truths asked for."""
    simulated = simulator_of(spec)(spec, seed=seed)
    row = _numbers(fn(simulated), seed)
    for name in truths:
        row[f"truth_{name}"] = simulated.truth.estimand(name)
    return {"seed": int(seed), **row}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    temporary.write_text(json.dumps(row, allow_nan=True), encoding="utf-8")
    temporary.replace(path)


def replicate(fn: Callable, spec: str | Path | dict | None = None, seeds: Iterable[int] = range(20),
              overrides: dict | None = None, n_jobs: int = 1, scheduler=None, truths: Iterable[str] = (),
              cache: bool = True, progress: bool = True) -> pd.DataFrame:
    """Run ``fn(simulated_panel) -> dict of numbers`` on the panel simulated with each seed.

    ``spec`` and ``overrides`` as in :func:`citypilots.simulation.generator.simulate_panel` (a null world is
    ``overrides=null_world(name)``). ``truths``: estimand names whose realised values are added
    as columns ``truth_<name>``. ``n_jobs``: local processes (joblib; 1 runs here). ``scheduler``:
    a Dask scheduler address or ``dask.distributed.Client`` (then ``n_jobs`` is ignored).
    ``cache``: read and write the on-disk cache (see the module docstring). A tqdm bar shows
    progress (``progress=False`` hides it, e.g. in a built book).

    Returns one row per seed, in the order of ``seeds``: ``seed``, then ``fn``'s numbers and the
    truths.
    """
    from tqdm import tqdm

    seeds = [int(seed) for seed in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds must not repeat")
    if not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs={n_jobs!r} must be a positive integer")
    resolved = load_spec(spec, overrides)
    truths = tuple(truths)
    folder = cache_folder() / _run_key(resolved, fn, truths)
    rows = {seed: _read(folder / f"{seed}.json") for seed in seeds} if cache else {}
    missing = [seed for seed in seeds if rows.get(seed) is None]
    bar = tqdm(total=len(missing), desc="simulated panels", disable=not progress or not missing, delay=1)

    def keep(row: dict) -> None:
        rows[row["seed"]] = row
        if cache:
            _write(folder / f"{row['seed']}.json", row)
        bar.update()

    if scheduler is not None:
        from dask.distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = client.map(run_one_seed, [fn] * len(missing), [resolved] * len(missing), missing,
                                 [truths] * len(missing), pure=False)
            for future in as_completed(futures):
                keep(future.result())
        finally:
            if client is not scheduler:
                client.close()
    elif n_jobs > 1 and len(missing) > 1:
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for row in parallel(delayed(run_one_seed)(fn, resolved, seed, truths) for seed in missing):
            keep(row)
    else:
        for seed in missing:
            keep(run_one_seed(fn, resolved, seed, truths))
    bar.close()
    return pd.DataFrame([rows[seed] for seed in seeds])


def summarise(replications: pd.DataFrame, estimate: str, truth: str | float | None = None,
              ci_low: str | None = None, ci_high: str | None = None, p_value: str | None = None,
              alpha: float = 0.05) -> dict:
    """Mean, SD and (where the columns exist) bias, RMSE, coverage and rejection rate over seeds.

    ``estimate``: the column of estimates. ``truth``: a column of realised truths (one per seed)
    or a number. ``ci_low``/``ci_high``: the interval columns (coverage = share of seeds whose
    interval contains that seed's truth). ``p_value``: rejection rate = share of seeds with
    p below ``alpha``. Returns a dict with ``seeds``, ``mean``, ``sd``, and ``truth``, ``bias``,
    ``rmse``, ``coverage``, ``rejection_rate`` where they can be computed (NaN otherwise; seeds
    whose truth is NaN are left out of the truth, bias, RMSE and coverage).
    """
    values = replications[estimate].to_numpy(dtype=float)
    target = (np.full(len(values), float(truth)) if isinstance(truth, Number)
              else replications[truth].to_numpy(dtype=float) if truth is not None else None)
    out = {"seeds": len(values), "mean": float(np.mean(values)),
           "sd": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
           "truth": math.nan, "bias": math.nan, "rmse": math.nan, "coverage": math.nan, "rejection_rate": math.nan}
    if target is not None and not np.isnan(target).all():
        known = ~np.isnan(target)  # a seed without a truth (e.g. a real panel's row) is left out
        out.update(truth=float(np.mean(target[known])), bias=float(np.mean(values[known] - target[known])),
                   rmse=float(np.sqrt(np.mean((values[known] - target[known]) ** 2))))
        if ci_low is not None and ci_high is not None:
            low, high = (replications[c].to_numpy(dtype=float)[known] for c in (ci_low, ci_high))
            out["coverage"] = float(np.mean((low <= target[known]) & (target[known] <= high)))
    if p_value is not None:
        out["rejection_rate"] = float(np.mean(replications[p_value].to_numpy(dtype=float) < alpha))
    return out
