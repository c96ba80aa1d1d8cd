"""The book's main data set: a simulated city-year panel with planted, known effects.

The paper's city data are not public, so the book runs on a panel that is real where it can be
and simulated where it must be:

* real: the cities, their coordinates, three-belt regions and 2013 resource-based types
  (``data/cities.csv``), and the pilot calendars (``data/pilots/``; where a calendar had to be
  completed, the imputed rows are flagged and a simulated panel is all that ever uses them);
* simulated: every covariate and the outcome, from the data-generating process (DGP) written in
  a specification file (``data/simulation/li_han_xu.yml``), calibrated to the paper's Table 1.

The DGP, for city *i* in year *t* (all parameters in the specification file):

``Safety_it(d) = max(0, Y0_it) x (1 + s_it(d)) x (1 + o_it) x (1 + w_it) + m_it(d)``, rounded to
whole deaths, where ``Y0_it = (alpha_i + gamma_t)(1 + u_it) + sum_k beta_k x~_kit + b_TI TI~_it +
b_IU IU~_it + b_SR SR~_it`` are the deaths without any policy (``alpha_i`` a lognormal city level,
higher in larger, dual-pilot and resource-based cities; ``gamma_t`` a national decline, the same
in every city; ``u_it`` a relative AR(1) shock; ``x~`` the covariates' within movements);
``s_it(d)`` is the share of deaths the city's own pilots prevent in treatment state ``d``: the
single Innovative City and Smart City shares from each adoption year, plus, while both are held,
a synergy share that starts ``delay`` years after the second pilot and ramps up over
``ramp_years``, times multipliers for the adoption order and the city's type (and, in Monte Carlo
worlds, its dual-pilot year: ``effects.dual_by_cohort``), plus moderation by
SR; ``o_it`` and ``w_it`` are the shares of the other policies and of other cities' dual pilots
(distance bands); ``m_it(d)`` the effects mediated by TI and IU (``a x b`` while both pilots are
held). The pilots' shares add up, so with the synergy switched off the two pilots together do
exactly what each does apart, in deaths as in shares. Deaths are counts, and a share keeps every
potential outcome above zero: the floor and the guard on shares (``max_share``) bind in under 1%
of dual-pilot city-years (``tests/test_truth.py``). Covariates are built from latent Gaussian
parts (city level, common trend, city-specific trend, AR(1) shock) mapped to the printed mean,
SD, min and max; pilot cities are larger and on steeper trends (selection on observables and on
trends).

Every simulated city-year carries its potential outcomes (neither pilot, one, the other, both;
the mediators untreated; no spillover; without each other policy), computed by
:func:`scenario_outcome` from the same draws (:class:`Draws`) and passed through the same floor
and rounding as the observed outcome, so the truth that a chapter compares an estimate with is a
realised contrast (:class:`citypilots.simulation.truth.Truth`). :func:`null_world` switches one effect off.

The generator is pure NumPy (``numpy.random.default_rng(seed)``, draws in a fixed order), and
every simulated float is rounded to :data:`SIGNIFICANT_DIGITS` significant digits, so the same
specification and seed give a byte-identical panel on any machine with the pinned versions,
whatever the last bit of its exp, log or power.
Simulating from a DGP that must match the paper's tables has no library; the calibration uses
pyfixest for the TWFE fit.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._paths import data_dir
from ..data.cities import distance_matrix_km, load_cities
from ..data.calendar_completion import completion_candidates, hash_order
from ..data.panel import CONTROLS, MEDIATORS_AND_MODERATOR
from ..data.pilots import adoption_years, load_calendar
from .specification import load_spec, planted_sizes
from .truth import Truth

__all__ = ["COVARIATES", "SIGNIFICANT_DIGITS", "SimulatedPanel", "Scenario", "Draws",
           "pilot_group", "select_sample", "sample_cities", "to_marginal", "round_significant",
           "potential_outcome_scenarios", "realise", "synergy_path", "pilot_shares",
           "scenario_outcome", "planted_parts", "simulate_panel"]

COVARIATES = CONTROLS + MEDIATORS_AND_MODERATOR


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------

@dataclass
class SimulatedPanel:
    """A simulated panel: ``data`` (one row per city-year), ``truth``, the ``cities`` drawn, and
    the ``draws`` every potential outcome was computed from (for diagnostics of the design)."""

    data: pd.DataFrame
    truth: Truth
    cities: pd.DataFrame
    spec: dict
    seed: int
    draws: "Draws | None" = None


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
    order (:func:`citypilots.data.calendar_completion.hash_order`), so the draw uses nothing about a city but
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
    """The spec's sample of real cities with their adoption years and attributes.

    The sample depends only on the calendars, the window and the sample rule, not on the seed:
    it is drawn once per process for each such setting (the files read are part of the key, by
    modification time) and copied out.
    """
    key = json.dumps({part: spec[part] for part in ("window", "calendars", "sample")}, sort_keys=True)
    sample, report = _sample_cities_cached(key, _data_stamp())
    return sample.copy(), copy.deepcopy(report)


def _data_stamp() -> tuple:
    """Modification times of the data files a sample is drawn from (a change redraws it)."""
    folder = data_dir()
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in [folder / "cities.csv", *sorted((folder / "pilots").iterdir())]))


@functools.lru_cache(maxsize=8)
def _sample_cities_cached(key: str, stamp: tuple) -> tuple[pd.DataFrame, dict]:
    spec = json.loads(key)
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


@functools.lru_cache(maxsize=16)
def _first_years(calendar: str, stamp: tuple) -> pd.Series:
    """First pilot year of each city in a real calendar (read once per process and data state)."""
    return adoption_years(calendar)["year"]


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


# ----------------------------------------------------------------------------------------------
# The simulation
# ----------------------------------------------------------------------------------------------

SIGNIFICANT_DIGITS = 6
"""Every simulated float is rounded to this many significant digits (see :func:`round_significant`)."""


_POWERS_OF_TEN = np.array([float(f"1e{k}") for k in range(-30, 31)])
"""10**k for k = -30..30, each the double nearest the decimal (Python's parser rounds correctly)."""


def round_significant(values, digits: int = SIGNIFICANT_DIGITS) -> np.ndarray:
    """Each value rounded to ``digits`` significant digits, the same on every machine.

    NumPy's exp, log and power differ in the last bit between machines (AVX-512 or not); rounding
    every simulated float makes the written panel the same everywhere. The rounding uses only
    operations IEEE 754 rounds exactly (comparison, multiplication, division, rint) and a table
    of powers of ten: the decimal exponent of each value is found by comparing it with the
    table, never by a logarithm.
    """
    array = np.asarray(values, dtype=float)
    magnitude = np.abs(array)
    exponent = np.searchsorted(_POWERS_OF_TEN, magnitude, side="right") - 1 - 30  # 10**e <= |x| < 10**(e+1)
    shift = np.clip(digits - 1 - exponent, -30, 30) + 30
    scale = _POWERS_OF_TEN[shift]
    rounded = np.where(magnitude > 0, np.round(array * scale) / scale, array)
    return np.where(np.isfinite(array), rounded, array)


@dataclass(frozen=True)
class Scenario:
    """Which parts of the data-generating process act when an outcome is computed.

    ``innovation`` / ``smart``: the city's own pilot from its adoption year (False: never).
    ``mediators``: the mediators that respond to the dual pilot (the others keep their untreated
    values). ``moderation``: SR moderates the dual-pilot effect. ``spillover``: other cities'
    dual pilots reach this city. ``other_policies``: the other policies that act (None: all).
    """

    innovation: bool = True
    smart: bool = True
    mediators: tuple[str, ...] = ("TI", "IU")
    moderation: bool = True
    spillover: bool = True
    other_policies: tuple[str, ...] | None = None


def potential_outcome_scenarios(other_policies: tuple[str, ...]) -> dict[str, Scenario]:
    """The potential outcomes every simulated panel carries, by column name (see :mod:`citypilots.simulation.truth`)."""
    scenarios = {
        "Safety_none": Scenario(innovation=False, smart=False),
        "Safety_innovation_only": Scenario(smart=False),
        "Safety_smart_only": Scenario(innovation=False),
        "Safety_both": Scenario(),
        "Safety_both_TI_untreated": Scenario(mediators=("IU",)),
        "Safety_both_IU_untreated": Scenario(mediators=("TI",)),
        "Safety_both_no_moderation": Scenario(moderation=False),
        "Safety_no_spillover": Scenario(spillover=False),
    }
    for name in other_policies:
        scenarios[f"Safety_without_{name}"] = Scenario(other_policies=tuple(p for p in other_policies if p != name))
    for name in other_policies:  # neither pilot, nor that policy: the untreated outcome of its own DID
        scenarios[f"Safety_none_without_{name}"] = Scenario(
            innovation=False, smart=False, other_policies=tuple(p for p in other_policies if p != name))
    return scenarios


@dataclass
class Draws:
    """Everything random in one simulated panel, drawn once and shared by every potential outcome.

    Matrices are (cities, years). ``expected`` is each city-year's expected deaths without any
    pilot or other policy (the city's level plus the national decline); ``base`` the outcome
    without them: ``expected`` times (1 + a relative AR(1) shock), plus the covariates' within
    movements (the mediators at their untreated values). ``innovation_policy`` and
    ``smart_policy`` are the observed dummies; ``other`` the other policies' dummies;
    ``spillover_share`` the observed spillover each city receives, as a share of its expected
    deaths; ``synergy_multiplier`` each city's multiplier of the synergy (adoption order, type,
    dual-pilot year); ``cohort_multiplier`` each city's multiplier by dual-pilot year alone
    (``effects.dual_by_cohort``; None or 1 = none), which also scales the homogeneous dual size.
    """

    spec: dict
    years: np.ndarray
    cities: pd.DataFrame
    dual_year: np.ndarray
    innovation_policy: np.ndarray
    smart_policy: np.ndarray
    expected: np.ndarray
    base: np.ndarray
    other: dict
    spillover_share: np.ndarray
    synergy_multiplier: np.ndarray
    sr_deviation: np.ndarray
    cohort_multiplier: np.ndarray | None = None


def realise(latent: np.ndarray) -> np.ndarray:
    """The observed outcome from its latent value: at least zero, rounded to whole deaths (0.01)."""
    return np.round(100 * np.maximum(latent, 0.0)) / 100


def synergy_path(event_time: np.ndarray, dual_spec: dict) -> np.ndarray:
    """The synergy's share by years since the dual-pilot year: zero for ``delay`` years, then
    rising in equal steps to ``level`` over ``ramp_years`` years, and staying there."""
    with np.errstate(invalid="ignore"):
        steps = np.clip((np.nan_to_num(event_time, nan=-99) - dual_spec["delay"] + 1) / dual_spec["ramp_years"], 0.0, 1.0)
    return dual_spec["level"] * steps


def pilot_shares(draws: Draws, innovation_on: np.ndarray, smart_on: np.ndarray, moderation: bool) -> np.ndarray:
    """The own pilots' effect on each city-year as a share of its expected deaths (heterogeneous mode).

    The single shares from each adoption year; while both pilots are held, the synergy (its path
    by event time times the city's multiplier) and the moderation by SR (``moderation_SR`` per
    unit of SR above its mean). Shares add up: without a synergy, both pilots together do exactly
    what the two do apart, in deaths as in shares.
    """
    effects = draws.spec["effects"]
    dual_on = innovation_on * smart_on
    event_time = draws.years[None, :] - draws.dual_year[:, None]
    synergy = synergy_path(event_time, effects["dual"]) * draws.synergy_multiplier[:, None]
    moderation_part = effects["dual"]["moderation_SR"] * draws.sr_deviation if moderation else 0.0
    return (effects["innovation_single"] * innovation_on + effects["smart_single"] * smart_on
            + (synergy + moderation_part) * dual_on)


def scenario_outcome(draws: Draws, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """The realised outcome of every city-year in ``scenario``, from the shared draws.

    Deaths = deaths without any policy x (1 + own pilots' share) x (1 + other policies' shares)
    x (1 + spillover share) + the mediated effects (a x b while both pilots are held): the two
    pilots prevent a share of the deaths the city would otherwise have had that year (their
    shares add up, so without a synergy the two together do exactly what each does apart), and
    other policies and other cities' pilots a share of what is left. In the homogeneous mode the
    own pilots instead add constant numbers of deaths (``homogeneous_sizes``). Each share is kept
    above ``-max_share`` (a guard that the default design rarely meets). Returns
    (Safety, at_bound), where at_bound marks a city-year whose latent outcome is at or below
    zero or whose share is capped.
    """
    effects = draws.spec["effects"]
    innovation_on = draws.innovation_policy if scenario.innovation else np.zeros_like(draws.innovation_policy)
    smart_on = draws.smart_policy if scenario.smart else np.zeros_like(draws.smart_policy)
    dual_on = innovation_on * smart_on
    acting = tuple(draws.other) if scenario.other_policies is None else scenario.other_policies
    other_share = sum(effects["other_policies"][name] * draws.other[name] for name in acting) + np.zeros_like(draws.base)
    spillover_share = draws.spillover_share if scenario.spillover else np.zeros_like(draws.base)
    level_effect = np.zeros_like(draws.base)
    own_share = np.zeros_like(draws.base)
    if effects["homogeneous"]:
        sizes = effects["homogeneous_sizes"]
        dual_size = sizes["dual"] if draws.cohort_multiplier is None else sizes["dual"] * draws.cohort_multiplier[:, None]
        level_effect = (sizes["innovation_single"] * innovation_on + sizes["smart_single"] * smart_on
                        + dual_size * dual_on)
    else:
        own_share = pilot_shares(draws, innovation_on, smart_on, scenario.moderation)
    guard = -effects["max_share"]
    capped = (own_share < guard) | (other_share < guard) | (spillover_share < guard)
    kept = [(1 + np.maximum(share, guard)) for share in (own_share, other_share, spillover_share)]
    mediators = effects["mediators"]
    mediated = sum(mediators[name]["a"] * mediators[name]["b"] * dual_on for name in scenario.mediators)
    no_policy = np.maximum(draws.base, 0.0)
    latent = no_policy * kept[0] * kept[1] * kept[2] + level_effect + mediated
    return realise(latent), capped | (latent <= 0)


def planted_parts(draws: Draws) -> dict[str, np.ndarray]:
    """What the specification plants in each city-year before the floor, the cap and the
    rounding, in hundreds of deaths (heterogeneous mode), while both pilots are held: the
    ``synergy``, the ``moderation`` by SR, the ``mediated`` effects, and their sum, the
    ``interaction`` (what the four-cell synergy estimand realises). For checking that the floor
    and the cap rarely bite; never a truth."""
    effects = draws.spec["effects"]
    dual_on = draws.innovation_policy * draws.smart_policy
    event_time = draws.years[None, :] - draws.dual_year[:, None]
    other_share = sum(effects["other_policies"][name] * draws.other[name] for name in draws.other)
    no_pilot = np.maximum(draws.base, 0.0) * (1 + other_share) * (1 + draws.spillover_share)
    synergy = no_pilot * synergy_path(event_time, effects["dual"]) * draws.synergy_multiplier[:, None] * dual_on
    moderation = no_pilot * effects["dual"]["moderation_SR"] * draws.sr_deviation * dual_on
    mediated = sum(m["a"] * m["b"] for m in effects["mediators"].values()) * dual_on
    return {"synergy": synergy, "moderation": moderation, "mediated": mediated,
            "interaction": synergy + moderation + mediated}


def simulate_panel(spec: str | Path | dict | None = None, seed: int | None = None,
                   overrides: dict | None = None) -> SimulatedPanel:
    """Simulate the city-year panel of a study from its specification.

    ``spec``: a name in ``data/simulation`` (default: the main paper), a path or a dict.
    ``seed``: defaults to the specification's. ``overrides``: dotted keys, e.g.
    ``simulate_panel(overrides={"effects.homogeneous": True})`` for constant, immediate effects.
    Returns a :class:`SimulatedPanel` with ``.data`` and ``.truth`` (potential outcomes of every
    city-year and the estimands: :class:`citypilots.simulation.truth.Truth`).
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
    size = rng.standard_normal(n) + cov["size_pilot_shift"] * is_pilot + cov["size_dual_shift"] * is_dual
    growth_type = rng.standard_normal(n) + cov["growth_type_pilot_shift"] * is_pilot
    size, growth_type = _standardise(size), _standardise(growth_type)
    year_position = _standardise(years.astype(float))

    # Policy dummies.
    innovation_policy = _absorbing(years, innovation_year)
    smart_policy = _absorbing(years, smart_year)
    dual_policy = innovation_policy * smart_policy

    # Covariates, rounded as soon as they are drawn: the outcome is built from the values the
    # panel shows.
    covariates: dict[str, np.ndarray] = {}
    for name in COVARIATES:
        target = cov[name]
        w_city, w_trend, w_city_trend, w_shock = np.sqrt(target["weights"])
        city_part = target["size"] * size + np.sqrt(1 - target["size"] ** 2) * rng.standard_normal(n)
        latent = (w_city * city_part[:, None]
                  + w_trend * target["trend"] * year_position[None, :]
                  + w_city_trend * growth_type[:, None] * year_position[None, :]
                  + w_shock * _ar1(rng, n, n_years, cov["ar1"]))
        covariates[name] = round_significant(to_marginal(latent, target))

    effects = spec["effects"]
    mediators = effects["mediators"]
    # Observed mediators: their untreated values moved by the dual pilot (a x Dual_policy).
    observed = dict(covariates)
    for name in ("TI", "IU"):
        observed[name] = covariates[name] + mediators[name]["a"] * dual_policy

    # Size classes (2014 criteria) on a simulated urban population.
    size_spec = spec["size_classes"]
    urban_share = np.clip(size_spec["urban_share"]["mean"] + size_spec["urban_share"]["size"] * size
                          + size_spec["urban_share"]["sd"] * rng.standard_normal(n), 0.05, 0.95)
    urban_population = covariates["UL"] * urban_share[:, None]
    base_year = list(years).index(size_spec["year"])
    large_target = size_spec["large_cities"]
    # Scale so that exactly `large_target` cities have >= 1 million urban residents in the base year.
    cutoff = np.sort(urban_population[:, base_year])[::-1][large_target - 1: large_target + 1].mean()
    urban_population = round_significant(urban_population * (100.0 / cutoff))
    size_class = pd.cut(urban_population[:, base_year], [0, 50, 100, 500, 1000, np.inf], right=False,
                        labels=["small", "medium", "large", "very large", "megacity"]).astype(str)
    large_city = urban_population[:, base_year] >= 100

    # City death level: a floor plus a lognormal part, higher in larger and resource-based cities.
    out = spec["outcome"]
    city_latent = _standardise(out["city_level"]["size"] * size
                               + out["city_level"]["resource_based"] * _standardise(resource_based.astype(float))
                               + rng.standard_normal(n))
    s2 = np.log1p((out["city_level"]["sd"] / out["city_level"]["mean"]) ** 2)
    city_level = round_significant(out["city_level"]["floor"] + np.exp(
        np.log(out["city_level"]["mean"]) - s2 / 2 + np.sqrt(s2) * city_latent))

    # Other policies: real calendars, or simulated ones where no list exists (Made in China 2025
    # pilots weighted to larger cities; supervised listing weighted to cities with more deaths).
    other = {}
    for name, policy in spec["other_policies"].items():
        if policy.get("calendar"):
            first_years = _first_years(policy["calendar"], _data_stamp())
            adoption = cities["adcode"].map(first_years).to_numpy(dtype=float, na_value=np.nan)
        else:
            weight = np.exp(policy["size_weight"] * size if "size_weight" in policy
                            else policy["hazard_weight"] * city_latent)
            chosen = _weighted_choice(rng, weight, policy["cities"])
            adoption = np.full(n, np.nan)
            low, high = min(policy["years"]), max(policy["years"])
            adoption[chosen] = rng.integers(low, high + 1, size=len(chosen))
        other[name] = _absorbing(years, adoption)

    # Outcome without any pilot or other policy. Expected deaths: the city's level plus a national
    # decline, the same number of deaths in every city (so that trends without pilots are parallel
    # in deaths, apart from the covariates); realised: times (1 + a relative AR(1) shock, as
    # the noise of counts grows with their level), plus the covariates' own movements (deviations
    # from their city and year means, so the city and year levels alone set how deaths differ
    # across cities and decline over time), the untreated mediators and the moderator.
    year_level = np.linspace(out["year_level"]["start"], out["year_level"]["end"], n_years)
    expected = city_level[:, None] + year_level[None, :]
    relative_shock = out["shock"]["relative_sd"] * _ar1(rng, n, n_years, out["shock"]["ar1"])
    within = {name: x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()
              for name, x in covariates.items()}
    base = (expected * (1 + relative_shock)
            + sum(out["beta"][name] * within[name] for name in CONTROLS)
            + mediators["TI"]["b"] * within["TI"] + mediators["IU"]["b"] * within["IU"]
            + effects["SR_direct"] * within["SR"])
    distance = distance_matrix_km(cities)
    spillover_share = _band_exposure(distance, dual_policy.astype(float), effects["spillover"]["bands_km"])

    # The synergy's multiplier: adoption order and city type (heterogeneity, Table 8).
    dual_spec = effects["dual"]
    order = np.where(innovation_year < smart_year, "innovation_first",
                     np.where(smart_year < innovation_year, "smart_first", "same_year"))
    synergy_multiplier = (np.array([dual_spec["sequence"][o] for o in order])
                          * np.where(resource_based, dual_spec["resource_based"][True], dual_spec["resource_based"][False])
                          * np.where(large_city, dual_spec["large_city"][True], dual_spec["large_city"][False])
                          * cities["region"].map(dual_spec["region"]).to_numpy())
    # Effects that differ by dual-pilot year (default: no multiplier, the book's world).
    by_cohort = {int(year): float(value) for year, value in (effects.get("dual_by_cohort") or {}).items()}
    cohort_multiplier = None
    if by_cohort:
        cohort_multiplier = np.array([by_cohort.get(int(year), 1.0) if np.isfinite(year) else 1.0
                                      for year in dual_year])
        synergy_multiplier = synergy_multiplier * cohort_multiplier
    draws = Draws(spec=spec, years=years, cities=cities, dual_year=dual_year, innovation_policy=innovation_policy,
                  smart_policy=smart_policy, expected=expected, base=base, other=other,
                  spillover_share=spillover_share, synergy_multiplier=synergy_multiplier,
                  sr_deviation=covariates["SR"] - covariates["SR"].mean(), cohort_multiplier=cohort_multiplier)

    # Every potential outcome from the same draws; the observed outcome is "both" (each pilot
    # from the city's own adoption year).
    other_names = tuple(other)
    potential, bound = {}, {}
    for column, scenario in potential_outcome_scenarios(other_names).items():
        potential[column], bound[column] = scenario_outcome(draws, scenario)
    safety = potential["Safety_both"]
    innovation_first = (innovation_year < smart_year)[:, None]
    ordered = (is_dual & (innovation_year != smart_year))[:, None]
    first_only = np.where(innovation_first, potential["Safety_innovation_only"], potential["Safety_smart_only"])
    potential["Safety_first_only"] = np.where(ordered, first_only, np.nan)
    at_bound = (bound["Safety_none"] | bound["Safety_innovation_only"] | bound["Safety_smart_only"]
                | bound["Safety_both"])

    # Instrument: number of universities.
    inst = spec["instrument"]
    base_count = rng.poisson(np.exp(inst["base"]["mean_log"] + inst["base"]["size"] * size
                                    + inst["base"]["dual_pilot"] * is_dual))
    growth = round_significant(np.power(1 + inst["growth_per_year"], (years - first).astype(float)))
    universities = np.round(base_count[:, None] * growth[None, :]).astype(np.int64)

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
        data[name] = round_significant(flat(np.broadcast_to(observed[name], (n, n_years))))
    repeat = np.repeat
    data["innovative_year"] = pd.array(repeat(innovation_year, n_years), dtype="Float64").astype("Int64")
    data["smart_year"] = pd.array(repeat(smart_year, n_years), dtype="Float64").astype("Int64")
    data["dual_year"] = pd.array(repeat(dual_year, n_years), dtype="Float64").astype("Int64")
    for name in other:
        data[name] = flat(other[name])
    data["universities"] = flat(universities)
    data["death_rate"] = round_significant(100 * data["Safety"].to_numpy() / np.power(10.0, data["lnGDP"].to_numpy()))
    data["population"] = data["UL"]
    data["urban_population"] = flat(urban_population)

    event_time = years[None, :] - dual_year[:, None]
    status = pd.DataFrame({
        "city": data["city"], "year": data["year"],
        "Dual_policy": data["Dual_policy"], "Innova_policy": data["Innova_policy"],
        "Smart_policy": data["Smart_policy"], "event_time": flat(np.broadcast_to(event_time, (n, n_years))),
        "SR": data["SR"], **{name: data[name] for name in other},
    })
    potential_outcomes = pd.DataFrame({"city": data["city"], "year": data["year"],
                                       **{column: flat(values) for column, values in potential.items()}})
    for name in ("TI", "IU"):  # the mediators with and without both pilots
        potential_outcomes[f"{name}_none"] = round_significant(flat(covariates[name]))
        potential_outcomes[f"{name}_both"] = data[name]
    city_table = cities.assign(
        dual_year=pd.array(dual_year, dtype="Float64").astype("Int64"),
        size_class_2014=size_class, large_city=large_city,
        urban_population_2014=urban_population[:, base_year],
    )
    truth = Truth(parameters=spec, potential_outcomes=potential_outcomes, status=status,
                  at_bound=flat(at_bound), other_policies=other_names,
                  summary={"sample": sample_report, "dual_city_years": int(data["Dual_policy"].sum())})
    return SimulatedPanel(data=data, truth=truth, cities=city_table, spec=spec, seed=seed, draws=draws)
