"""The simulated panel of the companion study Zhu and Chen (2025): the Smart City pilot and "new
quality productive forces" (NQP), 287 cities, 2011-2022.

Real: the cities (every city of ``data/cities.csv`` that was a prefecture-level city or a
municipality under its present code from 2011 on: 287 cities, the study's count), their
three-belt regions, and the Smart City calendar (``data/pilots/smart_city.csv``, almost entirely
imputed rows). Simulated: everything else, from ``data/simulation/zhu_chen.yml``.

The data-generating process, for city *i* in year *t* and pilot state ``d`` (1 from the city's
own adoption year in the observed world, 0 in every year in the untreated world):

* covariates ``lnPGDP`` (log GDP per person), ``GOV`` (government spending / GDP), ``OPEN`` (FDI
  / GDP, %), the mediators' untreated values ``HC0`` (human capital, mean years of schooling) and
  ``ST0`` (science and technology, S&T share of the budget, %), and the threshold variable
  ``ISU`` (industrial-structure upgrading, tertiary / secondary value added): a city level tied
  to the city's latent size, a common trend, a city trend (``lnPGDP`` only: pilot cities grow
  faster, an observed confounder), an AR(1) shock, mapped to the spec's mean and SD. The pilot
  does not move ``ISU`` (a threshold variable outside the treatment's reach).
* mediators ``HC(d) = HC0 + a_HC d`` and ``ST(d) = ST0 + a_ST d``.
* five indicators ``X_k(d) = mean_k + sd_k (z_k + sum_m l_km (M_m(d) - mean_m) / sd_m
  + beta_k d g(ISU) r(region) s(size))``, floored at zero, where ``z_k`` is a standardised draw
  (city level, common trend, AR(1) shock), ``M`` runs over HC, ST and lnPGDP, ``beta_k`` the
  direct effect in SDs of the indicator, ``g`` the planted threshold (``below`` at ``ISU <=
  value``, ``above`` beyond), ``r`` and ``s`` the multipliers by region and by city size (large:
  at least 1 million urban residents in 2011, the 2014 criteria).
* the outcome ``NQP``: the entropy-weight index of the five indicators
  (:func:`citypilots.data.indices.entropy_index`; ``energy`` is a negative indicator).

**How the index is fixed for the truth.** The entropy weights and the min-max normalisation are
those of the *observed* panel (what a researcher computes); the same weights, minima and maxima
are applied to the indicators of every potential world, so ``NQP_none`` and ``NQP_smart`` are on
one scale and their difference is the pilot's realised effect on the index as measured. (The
index is then linear in the indicators, so the realised effects add up: ``smart_city = direct +
mediated_HC + mediated_ST`` up to rounding.)

Every potential outcome is computed from the same draws (:class:`ZhuChenTruth` lists them);
every simulated float is rounded (:func:`~citypilots.simulation.generator.round_significant`).
The floor at zero binds in a share of city-years the truth reports (``at_bound``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.cities import cities_present_throughout, load_cities
from ..data.indices import entropy_index, entropy_weights
from ..data.pilots import adoption_years
from ..estimators.heterogeneity import size_class_2014
from .generator import _absorbing, _ar1, _standardise, round_significant, to_marginal
from .specification import load_spec

__all__ = ["SPEC", "COVARIATES", "CONTROLS", "MEDIATORS", "ESTIMANDS", "WORLDS", "ZhuChenTruth", "ZhuChenPanel",
           "null_world", "add_city_groups", "indicator_names", "negative_indicators", "simulate_panel"]

SPEC = "zhu_chen"
CONTROLS = ("lnPGDP", "GOV", "OPEN")
MEDIATORS = ("HC", "ST")
COVARIATES = (*CONTROLS, *MEDIATORS, "ISU")
REGIONS = ("east", "central", "west")
SIZES = ("large", "medium_small")

ESTIMANDS = ("smart_city", "direct", "mediated_HC", "mediated_ST", "mediator_shift_HC", "mediator_shift_ST",
             "regime_below", "regime_above", *(f"region_{r}" for r in REGIONS), *(f"size_{s}" for s in SIZES))
"""The estimands of the panel; each method of :class:`ZhuChenTruth` of that name states its contrast."""

WORLDS = {
    "none": dict(pilot=False, mediators=()),
    "smart": dict(pilot=True, mediators=MEDIATORS),
    "smart_HC_untreated": dict(pilot=True, mediators=("ST",)),
    "smart_ST_untreated": dict(pilot=True, mediators=("HC",)),
    "smart_no_mediators": dict(pilot=True, mediators=()),
}
"""Potential worlds: whether the pilot acts directly (from the adoption year) and which mediators
respond to it (the others keep their untreated values)."""


def null_world(name: str) -> dict:
    """The overrides of ``zhu_chen.yml`` that switch off the effect behind estimand ``name``.

    ``smart_city`` (and ``direct``, the region and size rows): the pilot does nothing (no direct
    effect, mediators unmoved). ``mediated_HC`` / ``mediated_ST`` (and the mediator shifts): that
    mediator does not respond. ``threshold``: the same direct effect on both sides of the
    threshold (``below = above = 1``). ``region`` / ``size``: the multipliers all 1."""
    spec = load_spec(SPEC)
    no_effect = {f"effects.direct.{k}": 0.0 for k in spec["effects"]["direct"]}
    no_effect.update({f"effects.mediators.{m}.a": 0.0 for m in MEDIATORS})
    worlds = {"smart_city": no_effect, "direct": {f"effects.direct.{k}": 0.0 for k in spec["effects"]["direct"]},
              "threshold": {"effects.threshold.below": 1.0, "effects.threshold.above": 1.0},
              "region": {"effects.region": {r: 1.0 for r in REGIONS}},
              "size": {"effects.size": {s: 1.0 for s in SIZES}}}
    for m in MEDIATORS:
        worlds[f"mediated_{m}"] = worlds[f"mediator_shift_{m}"] = {f"effects.mediators.{m}.a": 0.0}
    for name_ in ("regime_below", "regime_above"):
        worlds[name_] = no_effect
    for group in (*(f"region_{r}" for r in REGIONS), *(f"size_{s}" for s in SIZES)):
        worlds[group] = no_effect
    if name not in worlds:
        raise KeyError(f"no null world for {name!r}; known: {', '.join(worlds)}")
    return worlds[name]


def indicator_names(spec: dict) -> list[str]:
    """The NQP index's indicators, in the specification's order."""
    return [k for k, v in spec["indicators"].items() if isinstance(v, dict)]


def negative_indicators(spec: dict) -> list[str]:
    """The indicators where less is better (reversed in the entropy method)."""
    return [k for k in indicator_names(spec) if spec["indicators"][k]["negative"]]


@dataclass
class ZhuChenTruth:
    """Potential outcomes of every city-year of the simulated panel, and the estimands read off them.

    ``potential_outcomes`` (aligned row by row with the panel): ``NQP_<world>`` for each world of
    :data:`WORLDS` (``NQP_smart`` is the observed index; ``NQP_none`` the index had the city never
    been a pilot; ``NQP_smart_HC_untreated`` with the pilot but human capital held at its value
    without it; likewise ``ST``; ``NQP_smart_no_mediators`` with both held), ``HC_none``,
    ``HC_smart``, ``ST_none``, ``ST_smart``. Every index is computed with the observed panel's
    entropy weights and min-max scale (``index_weights``, see the module docstring).
    ``status``: ``Smart_policy``, ``ISU``, ``region``, ``large_city`` of each row.
    ``threshold_value``: the design's threshold (it only sorts rows into the regimes of
    ``regime_below`` / ``regime_above``; no truth is a parameter). ``at_bound``: city-years where
    an indicator of some world sits at the floor.
    """

    parameters: dict
    potential_outcomes: pd.DataFrame
    status: pd.DataFrame
    threshold_value: float
    index_weights: pd.Series
    at_bound: np.ndarray
    summary: dict = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return ESTIMANDS

    def contrast(self, name: str) -> pd.Series:
        """The city-year contrast behind estimand ``name``."""
        po = self.potential_outcomes
        if name == "smart_city" or name.startswith(("regime_", "region_", "size_")):
            values = po["NQP_smart"] - po["NQP_none"]
        elif name == "direct":
            values = po["NQP_smart_no_mediators"] - po["NQP_none"]
        elif name in ("mediated_HC", "mediated_ST"):
            values = po["NQP_smart"] - po[f"NQP_smart_{name[-2:]}_untreated"]
        elif name in ("mediator_shift_HC", "mediator_shift_ST"):
            values = po[f"{name[-2:]}_smart"] - po[f"{name[-2:]}_none"]
        else:
            raise KeyError(f"unknown estimand {name!r}; known: {', '.join(ESTIMANDS)}")
        return values.rename(name)

    def default_rows(self, name: str) -> np.ndarray:
        """The pilot city-years (``Smart_policy == 1``), restricted to the regime, region or size
        group the name gives."""
        if name not in ESTIMANDS:
            raise KeyError(f"unknown estimand {name!r}; known: {', '.join(ESTIMANDS)}")
        status = self.status
        rows = status["Smart_policy"].to_numpy() == 1
        isu = status["ISU"].to_numpy(dtype=float)
        if name == "regime_below":
            rows &= isu <= self.threshold_value
        elif name == "regime_above":
            rows &= isu > self.threshold_value
        elif name.startswith("region_"):
            rows &= status["region"].to_numpy() == name.split("_", 1)[1]
        elif name.startswith("size_"):
            rows &= status["large_city"].to_numpy() == (name == "size_large")
        return rows

    def estimand(self, name: str, rows=None) -> float:
        """The realised mean of the contrast of ``name`` over ``rows`` (a boolean mask; default
        :meth:`default_rows`). NaN when no row is left.

        ``smart_city``: NQP_smart - NQP_none over pilot city-years (the ATT on the index).
        ``direct``: NQP_smart_no_mediators - NQP_none (the pilot with both mediators held).
        ``mediated_M``: NQP_smart - NQP_smart_M_untreated (the part through mediator M).
        ``mediator_shift_M``: M_smart - M_none (the pilot's effect on the mediator, path a).
        ``regime_below`` / ``regime_above``: the ATT over pilot city-years with ISU at most / above
        the design's threshold (pass ``rows`` to split at an estimated threshold instead).
        ``region_<r>``, ``size_<s>``: the ATT over the pilot city-years of that group."""
        mask = self.default_rows(name) if rows is None else np.asarray(rows, dtype=bool)
        if mask.shape != (len(self.status),):
            raise ValueError(f"rows must be a boolean mask with one entry per panel row ({len(self.status)})")
        values = self.contrast(name).to_numpy(dtype=float)[mask]
        return float(values.mean()) if len(values) else float("nan")

    def bound_share(self) -> float:
        """Share of pilot city-years where some indicator of some world is at the floor."""
        treated = self.status["Smart_policy"].to_numpy() == 1
        return float(self.at_bound[treated].mean()) if treated.any() else float("nan")


@dataclass
class ZhuChenPanel:
    """A simulated panel: ``data`` (one row per city-year), ``truth``, ``cities``, ``spec``, ``seed``."""

    data: pd.DataFrame
    truth: ZhuChenTruth
    cities: pd.DataFrame
    spec: dict
    seed: int


def add_city_groups(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with ``region`` (east / central / west, from ``data/cities.csv``), ``size_class``
    (2014 criteria, from ``urban_population`` in the panel's first year) and ``large_city`` (at
    least 1 million urban residents then): the groups of the heterogeneity analysis."""
    region = data["city"].map(load_cities().set_index("adcode")["region"])
    first = data.loc[data["year"] == data["year"].min()].set_index("city")["urban_population"]
    size_class = size_class_2014(first)
    size_of_row = data["city"].map(size_class)
    return data.assign(region=region.to_numpy(), size_class=size_of_row.to_numpy(),
                       large_city=size_of_row.isin(["large", "very large", "megacity"]).to_numpy())


def _latent(rng, target: dict, size: np.ndarray, growth: np.ndarray, year_position: np.ndarray, rho: float):
    n, n_years = len(size), len(year_position)
    w_city, w_trend, w_city_trend, w_shock = np.sqrt(target["weights"])
    city = target["size"] * size + np.sqrt(1 - target["size"] ** 2) * rng.standard_normal(n)
    return (w_city * city[:, None] + w_trend * target["trend"] * year_position[None, :]
            + w_city_trend * growth[:, None] * year_position[None, :] + w_shock * _ar1(rng, n, n_years, rho))


def simulate_panel(spec: str | Path | dict | None = None, seed: int | None = None,
                   overrides: dict | None = None) -> ZhuChenPanel:
    """Simulate the study's panel (see the module docstring). ``spec``: default ``zhu_chen``;
    ``overrides``: dotted keys (e.g. ``null_world("mediated_HC")``)."""
    spec = load_spec(SPEC if spec is None else spec, overrides)
    seed = spec["seed"] if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    first, last = spec["window"]["first_year"], spec["window"]["last_year"]
    years = np.arange(first, last + 1)
    n_years = len(years)

    cities = cities_present_throughout(first)
    if len(cities) != spec["sample"]["cities"]:
        raise ValueError(f"{len(cities)} cities are present from {first}, the specification expects "
                         f"{spec['sample']['cities']}")
    smart_first = adoption_years(spec["sample"]["calendar"])
    cities["smart_year"] = cities["adcode"].map(smart_first["year"]).astype("Int64")
    cities["smart_year_imputed"] = cities["adcode"].map(smart_first["imputed"]).astype("boolean")
    n = len(cities)
    smart_year = cities["smart_year"].to_numpy(dtype=float, na_value=np.nan)
    is_pilot = ~np.isnan(smart_year)
    pilot = _absorbing(years, smart_year)

    cov = spec["covariates"]
    size = _standardise(rng.standard_normal(n) + cov["size_pilot_shift"] * is_pilot)
    growth = _standardise(rng.standard_normal(n) + cov["growth_pilot_shift"] * is_pilot)
    year_position = _standardise(years.astype(float))
    untreated = {}
    for name in COVARIATES:
        target = {"family": "normal", **cov[name]}
        trend_growth = growth if name == "lnPGDP" else np.zeros(n)
        untreated[name] = round_significant(to_marginal(_latent(rng, target, size, trend_growth, year_position,
                                                                cov["ar1"]), target))

    # Urban population and size classes (2014 criteria) in the first year.
    pop = spec["urban_population"]
    pop_latent = pop["size"] * size + np.sqrt(1 - pop["size"] ** 2) * rng.standard_normal(n)
    pop_first = to_marginal(pop_latent, {"family": "lognormal", "mean": pop["mean"], "sd": pop["sd"],
                                         "min": pop["min"], "max": np.inf})
    urban_population = round_significant(pop_first[:, None] * (1 + pop["growth_per_year"]) ** (years - first)[None, :])

    # Multipliers of the direct effect.
    effects = spec["effects"]
    region = cities["region"].to_numpy()
    large = np.isin(size_class_2014(urban_population[:, 0]).to_numpy(), ["large", "very large", "megacity"])
    threshold = effects["threshold"]
    regime = np.where(untreated["ISU"] <= threshold["value"], threshold["below"], threshold["above"])
    multiplier = (regime * np.array([effects["region"][r] for r in region])[:, None]
                  * np.where(large, effects["size"]["large"], effects["size"]["medium_small"])[:, None])

    # The indicators' own parts (the same in every world).
    ind = spec["indicators"]
    names = indicator_names(spec)
    w_city, w_trend, w_shock = np.sqrt(ind["weights"])
    own = {}
    for name in names:
        city = ind[name]["size"] * size + np.sqrt(1 - ind[name]["size"] ** 2) * rng.standard_normal(n)
        own[name] = _standardise(w_city * city[:, None] + w_trend * year_position[None, :]
                                 + w_shock * _ar1(rng, n, n_years, ind["ar1"]))

    def mediator(name: str, on: bool) -> np.ndarray:
        return round_significant(untreated[name] + effects["mediators"][name]["a"] * pilot) if on else untreated[name]

    def indicators(world: dict) -> tuple[dict, np.ndarray]:
        d = pilot if world["pilot"] else np.zeros_like(pilot)
        drivers = {"HC": mediator("HC", "HC" in world["mediators"]), "ST": mediator("ST", "ST" in world["mediators"]),
                   "lnPGDP": untreated["lnPGDP"]}
        values, bound = {}, np.zeros((n, n_years), dtype=bool)
        for k in names:
            z = own[k] + sum(ind[k]["loading"][m] * (drivers[m] - cov[m]["mean"]) / cov[m]["sd"] for m in drivers)
            latent = ind[k]["mean"] + ind[k]["sd"] * (z + effects["direct"][k] * d * multiplier)
            bound |= latent < ind["floor"]
            values[k] = round_significant(np.maximum(latent, ind["floor"]))
        return values, bound

    worlds, at_bound = {}, np.zeros((n, n_years), dtype=bool)
    for world_name, world in WORLDS.items():
        worlds[world_name], bound = indicators(world)
        at_bound |= bound

    def long(values: dict) -> pd.DataFrame:
        return pd.DataFrame({k: v.reshape(-1) for k, v in values.items()})

    observed = long(worlds["smart"])
    negative = negative_indicators(spec)
    weights = entropy_weights(observed, negative)
    index = {w: round_significant(entropy_index(long(v), negative, weights=weights, reference=observed).to_numpy())
             for w, v in worlds.items()}

    data = pd.DataFrame({"city": np.repeat(cities["adcode"].to_numpy(np.int64), n_years),
                         "year": np.tile(years.astype(np.int64), n)})
    data["NQP"] = index["smart"]
    data["Smart_policy"] = pilot.reshape(-1).astype(np.int64)
    data["smart_year"] = pd.array(np.repeat(smart_year, n_years), dtype="Float64").astype("Int64")
    for k in names:
        data[k] = observed[k].to_numpy()
    for name in (*CONTROLS, "ISU"):
        data[name] = untreated[name].reshape(-1)
    for name in MEDIATORS:
        data[name] = mediator(name, True).reshape(-1)
    data["urban_population"] = urban_population.reshape(-1)
    data = add_city_groups(data)

    po = pd.DataFrame({"city": data["city"], "year": data["year"], **{f"NQP_{w}": v for w, v in index.items()}})
    for name in MEDIATORS:
        po[f"{name}_none"] = untreated[name].reshape(-1)
        po[f"{name}_smart"] = data[name].to_numpy()
    status = data[["city", "year", "Smart_policy", "ISU", "region", "large_city"]].copy()
    truth = ZhuChenTruth(parameters=spec, potential_outcomes=po, status=status,
                         threshold_value=float(threshold["value"]), index_weights=weights,
                         at_bound=at_bound.reshape(-1),
                         summary={"pilot_cities": int(is_pilot.sum()), "pilot_city_years": int(pilot.sum())})
    city_table = cities.assign(large_city=large, urban_population_first=urban_population[:, 0])
    return ZhuChenPanel(data=data, truth=truth, cities=city_table, spec=spec, seed=seed)
