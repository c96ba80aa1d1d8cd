"""The book's main data set: a simulated city-year panel with planted, known effects.

The paper's city data are not public, so the book runs on a panel that is real where it can be
and simulated where it must be:

* real: the cities, their coordinates, three-belt regions and 2013 resource-based types
  (``data/cities.csv``), and the pilot calendars (``data/pilots/``; where a calendar had to be
  completed, the imputed rows are flagged and a simulated panel is all that ever uses them);
* simulated: every covariate and the outcome, from the data-generating process (DGP) written in
  a specification file (``data/simulation/li_han_xu.yml``), calibrated to the paper's Table 1.

The DGP, for city *i* in year *t* (all parameters in the specification file):

``Safety_it = max(0, alpha_i + gamma_t + sum_k beta_k x_kit + b_TI TI_it + b_IU IU_it + b_SR SR_it
+ spillover_it + other policies_it + tau_it + u_it)``, rounded to whole deaths, where
``alpha_i`` is a lognormal city level (larger and resource-based cities have more deaths),
``gamma_t`` a national decline, ``u_it`` an AR(1) shock, the mediators TI and IU move with
``Dual_policy`` (``a_TI``, ``a_IU``) and ``tau_it`` is the city's own pilot effect: the single
Innovative City and Smart City effects from each adoption year, plus a dual-pilot synergy that
starts ``delay`` years after the second pilot and grows each year, scaled by the adoption order
and the city's type, plus moderation by SR. Covariates are built from latent Gaussian parts (city
level, common trend, city-specific trend, AR(1) shock) mapped to the printed mean, SD, min and
max; pilot cities are larger and on steeper trends (selection on observables and on trends).

Every simulated city-year carries its potential outcomes, so the truth that a chapter compares an
estimate with is the realised average effect, not only a parameter: see :class:`Truth`.

The generator is pure NumPy (``numpy.random.default_rng(seed)``, draws in a fixed order), so the
same specification and seed give a byte-identical panel on any machine with the pinned versions.
Simulating from a DGP that must match the paper's tables has no library; the calibration uses
pyfixest for the TWFE fit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ._paths import data_dir
from .cities import distance_matrix_km, load_cities
from .imputation import completion_candidates, hash_order
from .panel import CONTROLS, MEDIATORS_AND_MODERATOR
from .pilots import adoption_years, load_calendar

COVARIATES = CONTROLS + MEDIATORS_AND_MODERATOR


# ----------------------------------------------------------------------------------------------
# The specification
# ----------------------------------------------------------------------------------------------

def spec_path(name: str = "li_han_xu") -> Path:
    """Path of a named specification file in ``data/simulation/``."""
    return data_dir() / "simulation" / f"{name}.yml"


def load_spec(spec: str | Path | dict | None = None, overrides: dict | None = None) -> dict:
    """A specification as a dict: a name in ``data/simulation``, a path, or a dict (copied).

    ``overrides`` maps dotted keys to values, e.g. ``{"effects.homogeneous": True}``; a key that
    is not in the specification is an error (a typo must not pass silently).
    """
    if spec is None:
        spec = "li_han_xu"
    if isinstance(spec, dict):
        loaded = copy.deepcopy(spec)
    else:
        path = Path(spec) if Path(str(spec)).suffix in (".yml", ".yaml") else spec_path(str(spec))
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for dotted, value in (overrides or {}).items():
        node = loaded
        *parents, leaf = dotted.split(".")
        for key in parents:
            if not isinstance(node, dict) or key not in node:
                raise KeyError(f"override {dotted!r}: {key!r} is not in the specification")
            node = node[key]
        if leaf not in node:
            raise KeyError(f"override {dotted!r}: {leaf!r} is not in the specification")
        node[leaf] = value
    return loaded


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------

@dataclass
class Truth:
    """What the simulation planted, and what it realised.

    ``effects`` has one row per city-year (aligned with the panel) with the potential outcomes
    ``Safety_no_pilot`` (neither pilot) and ``Safety_first_pilot_only`` (the first pilot but not
    the second; missing where both came in the same year or the city is not a dual pilot), and the
    realised effects ``effect_total`` (observed minus no pilot), ``effect_second_pilot``
    (observed minus first pilot only), and the latent parts ``synergy``, ``mediated_TI``,
    ``mediated_IU``, ``moderation`` and ``spillover`` (the effect of other cities' dual pilots).
    """

    parameters: dict
    effects: pd.DataFrame
    summary: dict = field(default_factory=dict)

    def att(self, rows: pd.Series | np.ndarray | None = None, effect: str = "effect_total") -> float:
        """Average of a realised effect over ``rows`` (a boolean mask on the panel)."""
        values = self.effects[effect]
        return float(values[rows].mean() if rows is not None else values.mean())

    def event_time_path(self, effect: str = "effect_total", reference: int | None = -1,
                        rows: pd.Series | np.ndarray | None = None) -> pd.Series:
        """The realised effect averaged by event time (years since the dual-pilot year).

        With ``reference`` (default -1), each city's effect in its reference year is subtracted
        first: what an event study normalised to that year can at best recover, since a dual
        city's pre-period already carries its first pilot's effect. ``rows`` restricts the cities
        or years (a boolean mask on the panel). Cities without a dual-pilot year are left out.
        """
        effects = self.effects if rows is None else self.effects[np.asarray(rows)]
        effects = effects[effects["event_time"].notna()]
        values = effects[effect]
        if reference is not None:
            at_reference = effects.loc[effects["event_time"] == reference].set_index("city")[effect]
            values = values - effects["city"].map(at_reference)
        return values.groupby(effects["event_time"].astype(int)).mean().rename(effect)


@dataclass
class SimulatedPanel:
    """A simulated panel: ``data`` (one row per city-year), ``truth``, the ``cities`` drawn."""

    data: pd.DataFrame
    truth: Truth
    cities: pd.DataFrame
    spec: dict
    seed: int


# ----------------------------------------------------------------------------------------------
# The sample of cities
# ----------------------------------------------------------------------------------------------

def pilot_group(innovation_year: pd.Series, smart_year: pd.Series) -> pd.Series:
    """'dual', 'single' or 'none' for each city from its two adoption years (NaN = never)."""
    both = innovation_year.notna() & smart_year.notna()
    one = innovation_year.notna() ^ smart_year.notna()
    return pd.Series(np.where(both, "dual", np.where(one, "single", "none")), index=innovation_year.index)


def select_sample(candidates: pd.DataFrame, groups: dict, margins: dict, rule: str) -> tuple[pd.DataFrame, dict]:
    """Draw the sample of cities: group quotas met, margin quotas met as far as possible.

    ``candidates`` has ``adcode``, ``group`` and one column per margin. Cities are taken in hash
    order (:func:`citypilots.imputation.hash_order`), so the draw uses nothing about a city but
    its group and margins. Dual-pilot cities are taken first (they are the treated group). A
    city is accepted while its group and each of its margin categories still have room; groups
    still short after that pass are filled ignoring the margins. Returns the sample and a report
    of each margin's target and achieved counts.
    """
    indexed = candidates.set_index("adcode")
    group_left = dict(groups)
    margin_left = {name: {str(k).lower(): v for k, v in quota.items()} for name, quota in margins.items()}
    chosen: list[int] = []

    def fits(code: int) -> bool:
        return all(margin_left[name][str(indexed.at[code, name]).lower()] > 0 for name in margins)

    def take(code: int) -> None:
        chosen.append(code)
        group_left[indexed.at[code, "group"]] -= 1
        for name in margins:
            margin_left[name][str(indexed.at[code, name]).lower()] -= 1

    ordered = hash_order(indexed.index, rule)
    for group in ("dual", "single", "none"):
        for strict in (True, False):
            for code in ordered:
                if group_left[group] == 0:
                    break
                if indexed.at[code, "group"] == group and code not in chosen and (fits(code) or not strict):
                    take(code)
    report = {name: {category: (quota, quota - margin_left[name][str(category).lower()])
                     for category, quota in margins[name].items()} for name in margins}
    report["groups"] = {group: (quota, quota - group_left[group]) for group, quota in groups.items()}
    sample = indexed.loc[sorted(chosen)].reset_index()
    return sample, report


def sample_cities(spec: dict) -> tuple[pd.DataFrame, dict]:
    """The spec's sample of real cities with their adoption years and attributes."""
    first_year = spec["window"]["first_year"]
    innovation, smart = spec["calendars"]["innovation"], spec["calendars"]["smart"]
    cities = load_cities()
    calendars = {program: load_calendar(program) for program in (innovation, smart)}
    candidates = completion_candidates(cities, calendars, first_year, [innovation, smart])
    candidates = candidates[["adcode"]].merge(cities, on="adcode")
    innovation_years = adoption_years(calendars[innovation])
    smart_years = adoption_years(calendars[smart])
    codes = candidates["adcode"]
    candidates["innovation_year"] = codes.map(innovation_years["year"]).astype("Int64")
    candidates["smart_year"] = codes.map(smart_years["year"]).astype("Int64")
    candidates["innovation_year_imputed"] = codes.map(innovation_years["imputed"]).astype("boolean")
    candidates["smart_year_imputed"] = codes.map(smart_years["imputed"]).astype("boolean")
    candidates["group"] = pilot_group(candidates["innovation_year"], candidates["smart_year"])
    return select_sample(candidates, spec["sample"]["groups"], spec["sample"]["margins"], spec["sample"]["rule"])


# ----------------------------------------------------------------------------------------------
# Building blocks of the DGP
# ----------------------------------------------------------------------------------------------

def _standardise(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / values.std()


def _ar1(rng: np.random.Generator, n_units: int, n_years: int, rho: float) -> np.ndarray:
    """Stationary AR(1) shocks with unit variance, shape (units, years)."""
    shocks = rng.standard_normal((n_units, n_years))
    out = np.empty_like(shocks)
    out[:, 0] = shocks[:, 0]
    for t in range(1, n_years):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * shocks[:, t]
    return out


def to_marginal(latent: np.ndarray, target: dict) -> np.ndarray:
    """Map a standardised latent variable to the target mean and SD, within [min, max].

    ``normal``: mean + sd * z, clipped. ``lognormal``: min + exp(m + s z) with (m, s) chosen so
    that the mean and SD above ``min`` are the targets (moments of the lognormal), clipped at max.
    """
    z = _standardise(latent)
    if target["family"] == "normal":
        values = target["mean"] + target["sd"] * z
    elif target["family"] == "lognormal":
        excess_mean = target["mean"] - target["min"]
        s2 = np.log1p((target["sd"] / excess_mean) ** 2)
        values = target["min"] + np.exp(np.log(excess_mean) - s2 / 2 + np.sqrt(s2) * z)
    else:
        raise ValueError(f"unknown family {target['family']!r}")
    return np.clip(values, target["min"], target["max"])


def _band_exposure(distance_km: np.ndarray, dual: np.ndarray, bands: list) -> np.ndarray:
    """Spillover: sum over bands of effect x number of other dual-pilot cities in the band."""
    exposure = np.zeros_like(dual, dtype=float)
    for low, high, effect in bands:
        neighbours = ((distance_km >= low) & (distance_km < high)).astype(float)
        np.fill_diagonal(neighbours, 0.0)
        exposure += effect * neighbours @ dual
    return exposure


def _weighted_choice(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """k indices drawn without replacement with probability proportional to weights (Gumbel top-k)."""
    keys = np.log(weights) + rng.gumbel(size=len(weights))
    return np.sort(np.argsort(-keys)[:k])


def _absorbing(years: np.ndarray, adoption: np.ndarray) -> np.ndarray:
    """0/1 matrix (units, years): 1 from the adoption year on (NaN adoption = never)."""
    with np.errstate(invalid="ignore"):
        return (years[None, :] >= adoption[:, None]).astype(np.int64)


def planted_sizes(spec: dict) -> dict:
    """The planted sizes of the single-pilot effects and of the dual-pilot synergy.

    Heterogeneous mode: ``innovation_single``, ``smart_single`` and ``dual.level`` (for a pilot
    city of average death level; the synergy then grows). Homogeneous mode: the constant sizes of
    ``effects.homogeneous_sizes``. The mediated parts (a x b of TI and IU) come on top of ``dual``.
    """
    effects = spec["effects"]
    if effects["homogeneous"]:
        return dict(effects["homogeneous_sizes"])
    return {"innovation_single": effects["innovation_single"], "smart_single": effects["smart_single"],
            "dual": effects["dual"]["level"]}


# ----------------------------------------------------------------------------------------------
# The simulation
# ----------------------------------------------------------------------------------------------

def simulate_panel(spec: str | Path | dict | None = None, seed: int | None = None,
                   overrides: dict | None = None) -> SimulatedPanel:
    """Simulate the city-year panel of a study from its specification.

    ``spec``: a name in ``data/simulation`` (default: the main paper), a path or a dict.
    ``seed``: defaults to the specification's. ``overrides``: dotted keys, e.g.
    ``simulate_panel(overrides={"effects.homogeneous": True})`` for constant, immediate effects.
    Returns a :class:`SimulatedPanel` with ``.data`` and ``.truth``.
    """
    spec = load_spec(spec, overrides)
    seed = spec["seed"] if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    first, last = spec["window"]["first_year"], spec["window"]["last_year"]
    years = np.arange(first, last + 1)
    n_years = len(years)

    cities, sample_report = sample_cities(spec)
    n = len(cities)
    innovation_year = cities["innovation_year"].to_numpy(dtype=float, na_value=np.nan)
    smart_year = cities["smart_year"].to_numpy(dtype=float, na_value=np.nan)
    dual_year = np.fmax(innovation_year, smart_year)
    dual_year[np.isnan(innovation_year) | np.isnan(smart_year)] = np.nan
    is_pilot = cities["group"].ne("none").to_numpy()
    is_dual = cities["group"].eq("dual").to_numpy()
    resource_based = cities["resource_based"].to_numpy()

    # City traits: size and growth type (pilot cities larger and on steeper trends).
    cov = spec["covariates"]
    size = rng.standard_normal(n) + cov["size_pilot_shift"] * is_pilot
    growth_type = rng.standard_normal(n) + cov["growth_type_pilot_shift"] * is_pilot
    size, growth_type = _standardise(size), _standardise(growth_type)
    year_position = _standardise(years.astype(float))

    # Policy dummies.
    innovation_policy = _absorbing(years, innovation_year)
    smart_policy = _absorbing(years, smart_year)
    dual_policy = innovation_policy * smart_policy

    # Covariates.
    covariates: dict[str, np.ndarray] = {}
    for name in COVARIATES:
        target = cov[name]
        w_city, w_trend, w_city_trend, w_shock = np.sqrt(target["weights"])
        city_part = target["size"] * size + np.sqrt(1 - target["size"] ** 2) * rng.standard_normal(n)
        latent = (w_city * city_part[:, None]
                  + w_trend * target["trend"] * year_position[None, :]
                  + w_city_trend * growth_type[:, None] * year_position[None, :]
                  + w_shock * _ar1(rng, n, n_years, cov["ar1"]))
        covariates[name] = to_marginal(latent, target)

    effects = spec["effects"]
    homogeneous = bool(effects["homogeneous"])
    mediators = effects["mediators"]
    # Mediators respond to the dual pilot; the untreated values are kept for the counterfactuals.
    mediator_shift = {name: mediators[name]["a"] * dual_policy for name in ("TI", "IU")}
    observed = dict(covariates)
    for name in ("TI", "IU"):
        observed[name] = covariates[name] + mediator_shift[name]

    # Size classes (2014 criteria) on a simulated urban population.
    size_spec = spec["size_classes"]
    urban_share = np.clip(size_spec["urban_share"]["mean"] + size_spec["urban_share"]["size"] * size
                          + size_spec["urban_share"]["sd"] * rng.standard_normal(n), 0.05, 0.95)
    urban_population = covariates["UL"] * urban_share[:, None]
    base_year = list(years).index(size_spec["year"])
    large_target = size_spec["large_cities"]
    # Scale so that exactly `large_target` cities have >= 1 million urban residents in the base year.
    cutoff = np.sort(urban_population[:, base_year])[::-1][large_target - 1: large_target + 1].mean()
    urban_population *= 100.0 / cutoff
    size_class = pd.cut(urban_population[:, base_year], [0, 50, 100, 500, 1000, np.inf], right=False,
                        labels=["small", "medium", "large", "very large", "megacity"]).astype(str)
    large_city = urban_population[:, base_year] >= 100

    # City death level: a floor plus a lognormal part, higher in larger and resource-based cities.
    out = spec["outcome"]
    city_latent = _standardise(out["city_level"]["size"] * size
                               + out["city_level"]["resource_based"] * _standardise(resource_based.astype(float))
                               + rng.standard_normal(n))
    s2 = np.log1p((out["city_level"]["sd"] / out["city_level"]["mean"]) ** 2)
    city_level = out["city_level"]["floor"] + np.exp(np.log(out["city_level"]["mean"]) - s2 / 2 + np.sqrt(s2) * city_latent)

    # Other policies: real calendars, or simulated ones where no list exists (Made in China 2025
    # pilots weighted to larger cities; supervised listing weighted to cities with more deaths).
    other = {}
    for name, policy in spec["other_policies"].items():
        if policy.get("calendar"):
            first_years = adoption_years(policy["calendar"])["year"]
            adoption = cities["adcode"].map(first_years).to_numpy(dtype=float, na_value=np.nan)
        else:
            weight = np.exp(policy["size_weight"] * size if "size_weight" in policy
                            else policy["hazard_weight"] * city_latent)
            chosen = _weighted_choice(rng, weight, policy["cities"])
            adoption = np.full(n, np.nan)
            low, high = min(policy["years"]), max(policy["years"])
            adoption[chosen] = rng.integers(low, high + 1, size=len(chosen))
        other[name] = _absorbing(years, adoption)

    # Outcome: city level, national decline, covariates, mediators, moderator, AR(1) shock.
    year_level = np.linspace(out["year_level"]["start"], out["year_level"]["end"], n_years)
    shock = out["shock"]["sd"] * _ar1(rng, n, n_years, out["shock"]["ar1"])

    # Covariates act on Safety through their own movements: deviations from their city means
    # (part of the city level) and year means (part of the year level), so the city and year
    # levels alone set how deaths differ across cities and decline over time.
    within = {name: x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()
              for name, x in covariates.items()}
    baseline = (city_level[:, None] + year_level[None, :] + shock
                + sum(out["beta"][name] * within[name] for name in CONTROLS)
                + mediators["TI"]["b"] * within["TI"] + mediators["IU"]["b"] * within["IU"]
                + effects["SR_direct"] * within["SR"]
                + sum(effects["other_policies"][name] * other[name] for name in other))
    distance = distance_matrix_km(cities)
    spillover = _band_exposure(distance, dual_policy.astype(float), effects["spillover"]["bands_km"])
    baseline = baseline + spillover

    # Own pilot effects. Heterogeneous (the default): effects are stated for a pilot city of average
    # death level and scale with the city's mean level without pilots (pilots cut deaths in
    # proportion to how many a city has), and no pilot removes more than `max_share` of a city's
    # deaths in a year; the synergy waits `delay` years, then grows, and is scaled by adoption order and city
    # type; SR moderates it. Homogeneous: every effect constant from adoption on, the same everywhere,
    # with the sizes of `homogeneous_sizes` (small enough for the zero floor to bind rarely: a constant
    # effect larger than a city's deaths cannot be realised).
    event_time = years[None, :] - dual_year[:, None]
    dual_spec = effects["dual"]
    level_without_pilots = np.maximum(baseline, 0.0)
    city_mean_level = level_without_pilots.mean(axis=1, keepdims=True)
    sizes = planted_sizes(spec)
    scale = np.ones((n, 1)) if homogeneous else city_mean_level / city_mean_level[is_pilot].mean()
    innovation_single = sizes["innovation_single"] * innovation_policy * scale
    smart_single = sizes["smart_single"] * smart_policy * scale
    if homogeneous:
        synergy = sizes["dual"] * dual_policy.astype(float)
        moderation = np.zeros_like(synergy)
    else:
        order = np.where(innovation_year < smart_year, "innovation_first",
                         np.where(smart_year < innovation_year, "smart_first", "same_year"))
        multiplier = (np.array([dual_spec["sequence"][o] for o in order])
                      * np.where(resource_based, dual_spec["resource_based"][True], dual_spec["resource_based"][False])
                      * np.where(large_city, dual_spec["large_city"][True], dual_spec["large_city"][False])
                      * cities["region"].map(dual_spec["region"]).to_numpy())
        with np.errstate(invalid="ignore"):
            active = np.nan_to_num(event_time, nan=-99) >= dual_spec["delay"]
            path = dual_spec["level"] + dual_spec["growth"] * (event_time - dual_spec["delay"])
        synergy = np.where(active, path, 0.0) * multiplier[:, None] * scale
        moderation = dual_spec["moderation_SR"] * (covariates["SR"] - covariates["SR"].mean()) * dual_policy * scale
    mediated_ti = mediators["TI"]["b"] * mediator_shift["TI"]
    mediated_iu = mediators["IU"]["b"] * mediator_shift["IU"]
    if not homogeneous:
        cap = -effects["max_share"] * level_without_pilots
        combined = innovation_single + smart_single + synergy + moderation
        share_kept = np.ones_like(combined)
        capped = combined < cap
        share_kept[capped] = cap[capped] / combined[capped]
        innovation_single, smart_single = innovation_single * share_kept, smart_single * share_kept
        synergy, moderation = synergy * share_kept, moderation * share_kept
    single = innovation_single + smart_single
    own_effect = single + synergy + moderation + mediated_ti + mediated_iu

    def realise(latent: np.ndarray) -> np.ndarray:
        return np.round(100 * np.maximum(latent, 0.0)) / 100

    safety = realise(baseline + own_effect)
    safety_no_pilot = realise(baseline)
    # The first pilot alone: innovation first -> innovation single effect only, and vice versa.
    first_only = np.where((innovation_year < smart_year)[:, None], innovation_single, smart_single)
    safety_first_only = realise(baseline + first_only)
    unordered = ~(is_dual & (innovation_year != smart_year))
    safety_first_only[unordered, :] = np.nan

    # Instrument: number of universities.
    inst = spec["instrument"]
    base_count = rng.poisson(np.exp(inst["base"]["mean_log"] + inst["base"]["size"] * size
                                    + inst["base"]["dual_pilot"] * is_dual))
    universities = np.round(base_count[:, None] * (1 + inst["growth_per_year"]) ** (years - first)[None, :]).astype(np.int64)

    def flat(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(matrix).reshape(-1)

    index = pd.MultiIndex.from_product([cities["adcode"].to_numpy(), years], names=["city", "year"])
    data = pd.DataFrame(index=index).reset_index()
    data["city"] = data["city"].astype(np.int64)
    data["year"] = data["year"].astype(np.int64)
    data["Safety"] = flat(safety)
    data["Dual_policy"] = flat(dual_policy)
    data["Innova_policy"] = flat(innovation_policy)
    data["Smart_policy"] = flat(smart_policy)
    for name in COVARIATES:
        data[name] = flat(np.broadcast_to(observed[name], (n, n_years)))
    repeat = np.repeat
    data["innovative_year"] = pd.array(repeat(innovation_year, n_years), dtype="Float64").astype("Int64")
    data["smart_year"] = pd.array(repeat(smart_year, n_years), dtype="Float64").astype("Int64")
    data["dual_year"] = pd.array(repeat(dual_year, n_years), dtype="Float64").astype("Int64")
    for name in other:
        data[name] = flat(other[name])
    data["universities"] = flat(universities)
    data["death_rate"] = 100 * data["Safety"] / 10 ** data["lnGDP"]
    data["population"] = data["UL"]
    data["urban_population"] = flat(urban_population)

    truth_effects = pd.DataFrame({
        "city": data["city"], "year": data["year"],
        "Safety_no_pilot": flat(safety_no_pilot),
        "Safety_first_pilot_only": flat(safety_first_only),
        "effect_total": flat(safety - safety_no_pilot),
        "effect_second_pilot": flat(safety - safety_first_only),
        "single": flat(single), "synergy": flat(synergy), "moderation": flat(moderation),
        "mediated_TI": flat(mediated_ti), "mediated_IU": flat(mediated_iu),
        "spillover": flat(spillover),
        "event_time": flat(np.broadcast_to(event_time, (n, n_years))),
    })

    city_table = cities.assign(
        dual_year=pd.array(dual_year, dtype="Float64").astype("Int64"),
        size_class_2014=size_class, large_city=large_city,
        urban_population_2014=urban_population[:, base_year],
    )
    truth = Truth(parameters=spec, effects=truth_effects)
    truth.summary = _summarise(data, truth_effects, city_table, spec, sample_report)
    return SimulatedPanel(data=data, truth=truth, cities=city_table, spec=spec, seed=seed)


def _summarise(data: pd.DataFrame, effects: pd.DataFrame, cities: pd.DataFrame, spec: dict, sample_report: dict) -> dict:
    """The headline true values a chapter compares estimates with."""
    dual = data["Dual_policy"] == 1
    mediators = spec["effects"]["mediators"]
    by_event_time = effects.loc[effects["event_time"].notna()].groupby("event_time")["effect_total"].mean()
    return {
        "att_dual_vs_no_pilot": float(effects.loc[dual, "effect_total"].mean()),
        "att_second_pilot": float(effects.loc[dual, "effect_second_pilot"].mean()),
        "att_dual_event_time": by_event_time,
        "indirect_TI": mediators["TI"]["a"] * mediators["TI"]["b"],
        "indirect_IU": mediators["IU"]["a"] * mediators["IU"]["b"],
        "sample": sample_report,
        "dual_city_years": int(dual.sum()),
    }


# ----------------------------------------------------------------------------------------------
# Calibration
# ----------------------------------------------------------------------------------------------

def twfe_dual_estimate(data: pd.DataFrame, controls: tuple[str, ...] = CONTROLS) -> float:
    """The paper's specification: Safety on Dual_policy and controls, city and year fixed effects."""
    import pyfixest as pf

    formula = "Safety ~ Dual_policy" + "".join(f" + {c}" for c in controls) + " | city + year"
    return float(pf.feols(formula, data=data, vcov={"CRV1": "city"}).coef()["Dual_policy"])


def calibrate(spec: str | Path | dict | None = None, seed: int | None = None) -> float:
    """The value of the spec's calibration parameter that puts the TWFE estimate on its target.

    The TWFE estimate is close to linear in the synergy level, so two simulations and a secant
    step, then one more to polish, suffice. Returns the parameter value (write it to the spec).
    """
    base = load_spec(spec)
    parameter, target = base["calibration"]["parameter"], base["calibration"]["target"]["estimate"]

    def estimate(value: float) -> float:
        return twfe_dual_estimate(simulate_panel(base, seed, overrides={parameter: value}).data)

    x0, x1 = 0.0, -0.5
    y0, y1 = estimate(x0), estimate(x1)
    for _ in range(3):
        x0, y0, x1 = x1, y1, x1 + (target - y1) * (x1 - x0) / (y1 - y0)
        y1 = estimate(x1)
    return round(float(x1), 3)
