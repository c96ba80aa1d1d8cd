"""The companion panel of Zhang and Sun (2026): the Smart City pilot and urban innovation resilience.

Real: a sample of cities (``data/cities.csv``) and the Smart City calendar
(``data/pilots/smart_city.csv``, almost entirely imputed). Simulated, from
``data/simulation/zhang_sun.yml``: innovation output, the three channels, sector employment and
the city traits. For city *i* in year *t* (parameters in the specification file):

``dlog Y_it(d) = n_t + c_i + e_it + sum_k b_k M_k,it(d) + d_it x growth x ramp(e) x mult_i x
(1 + sum_m s_m (LQ_m,it - 1))``

where ``n_t`` is a national path of log growth with three years in which output falls, ``c_i`` a
city growth premium, ``e_it`` an AR(1) shock, ``M_k`` the channel scores (knowledge diffusion,
information penetration, government attention to science), moved by the pilot by
``a_k x ramp(e)``, ``mult_i`` the product of the city's multipliers (innovation environment,
region, human and physical capital), and ``LQ_m`` the location quotients of manufacturing and
finance employment (:func:`citypilots.data.indices.location_quotient`) that moderate the pilot's
own effect. ``Y_i,first`` is lognormal. Nothing here is selected on the pilot: treated and
untreated cities share every distribution but the region's (the calendar's own).

The outcome is the innovation-resilience index of :func:`citypilots.data.indices.resilience_index`
(Martin, Sunley, Gardiner and Tyler 2016): ``R_it = (dY_it - Y_i,t-1 g_t) / |Y_i,t-1 g_t|``, with
``g_t`` the growth of the panel's total output. The index of a city depends on every city through
``g_t``, so a counterfactual index needs a national path. Two are kept (see :class:`ZhangSunTruth`):

* *at the observed national path* (``g_t`` of the observed panel): the index of the city's own
  potential output, e.g. ``resilience_untreated``. The contrast of observed and untreated is the
  pilot's effect on the city's standing against the nation as it was (estimand ``att``): what a
  comparison with untreated cities, who face the same ``g_t``, can recover.
* *in the no-pilot world*: the index recomputed on the panel in which no city is a pilot (its own
  ``g_t``), ``resilience_no_pilot_world`` (estimand ``att_vs_no_pilot_world``). Pilots raise the
  national path, so they lower every untreated city's index (estimand ``national_path``): the
  index breaks the no-interference assumption of DID by construction.

Every potential outcome comes from the same draws; outputs and indices are rounded with
:func:`citypilots.simulation.generator.round_significant` before any index is computed from them.
No floor or cap is needed (output is a log path, the national growth stays away from zero): the
truth's ``summary`` records the smallest |g_t| and the share of treated city-years where the
moderation factor would be negative (zero in the book's specification).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.calendar_completion import hash_order
from ..data.cities import cities_present_throughout
from ..data.indices import location_quotient, resilience_index
from ..data.pilots import adoption_years
from .generator import _absorbing, _ar1, _standardise, round_significant
from .specification import load_spec

__all__ = ["CHANNELS", "MODERATORS", "TRAITS", "ZhangSunPanel", "ZhangSunTruth", "sample_cities",
           "resilience_at_path", "null_world", "simulate_panel"]

SPEC = "zhang_sun"
CHANNELS = ("knowledge_diffusion", "information_penetration", "government_attention")
MODERATORS = ("LQ_manufacturing", "LQ_finance")
TRAITS = ("innovation_environment", "region", "human_capital", "physical_capital")
TRAIT_LEVELS = {"innovation_environment": ("better", "weaker"), "human_capital": ("high", "low"),
                "physical_capital": ("high", "low")}


@dataclass
class ZhangSunPanel:
    """A simulated panel: ``data`` (one row per city-year), ``cities``, ``truth``, ``spec``, ``seed``."""

    data: pd.DataFrame
    cities: pd.DataFrame
    truth: "ZhangSunTruth"
    spec: dict
    seed: int


def sample_cities(spec: dict) -> pd.DataFrame:
    """The spec's sample: ``sample.cities`` cities taken in hash order (rule ``sample.rule``) from
    those that were prefecture-level cities under their present code throughout the window, with
    their Smart City adoption year (``smart_year``, NaN = never; a city where only a district is a
    pilot is not a pilot city) and whether that year is imputed. Sorted by code."""
    candidates = cities_present_throughout(spec["window"]["first_year"])
    order = hash_order(candidates["adcode"], spec["sample"]["rule"])[: spec["sample"]["cities"]]
    cities = candidates.set_index("adcode").loc[sorted(order)].reset_index()
    first = adoption_years(spec["calendar"])
    cities["smart_year"] = cities["adcode"].map(first["year"]).astype(float)
    cities.loc[cities["smart_year"] > spec["window"]["last_year"], "smart_year"] = np.nan
    cities["smart_year_imputed"] = cities["adcode"].map(first["imputed"]).astype("boolean")
    return cities


def resilience_at_path(output: np.ndarray, national_growth: np.ndarray) -> np.ndarray:
    """The resilience index of an output matrix (cities x years) against a given national growth
    path (one rate per year, the first unused): the formula of
    :func:`citypilots.data.indices.resilience_index` with ``g_t`` fixed instead of read off the
    panel. NaN in the first year."""
    previous = output[:, :-1]
    expected = previous * national_growth[None, 1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (output[:, 1:] - previous - expected) / np.abs(expected)
    return np.column_stack([np.full(len(output), np.nan), np.where(np.abs(expected) > 0, values, np.nan)])


def _national_growth(output: np.ndarray) -> np.ndarray:
    total = output.sum(axis=0)
    return np.concatenate([[np.nan], total[1:] / total[:-1] - 1])


def null_world(name: str, spec=None) -> dict:
    """The overrides that switch off the effect behind estimand ``name``.

    ``att``, ``att_vs_no_pilot_world``, ``national_path``: every effect of the pilot (its own
    growth and the three channels' shifts). ``mediated_<k>`` / ``mediator_shift_<k>``: channel
    ``k``'s shift. ``moderation_<m>``: the moderation by ``m``. ``no_heterogeneity_<trait>``: the
    trait's multipliers all 1 (not a world without an effect).
    """
    loaded = load_spec(SPEC if spec is None else spec)
    all_off = {"effects.growth": 0.0, **{f"channels.{k}.a": 0.0 for k in CHANNELS}}
    worlds = {"att": all_off, "att_vs_no_pilot_world": all_off, "national_path": all_off}
    for k in CHANNELS:
        worlds[f"mediated_{k}"] = worlds[f"mediator_shift_{k}"] = {f"channels.{k}.a": 0.0}
    for m in MODERATORS:
        worlds[f"moderation_{m}"] = {f"effects.moderation.{m}": 0.0}
    for trait in TRAITS:
        levels = loaded["effects"]["multipliers"][trait]
        worlds[f"no_heterogeneity_{trait}"] = {f"effects.multipliers.{trait}": {level: 1.0 for level in levels}}
    if name not in worlds:
        raise KeyError(f"no null world for {name!r}; known: {', '.join(worlds)}")
    return worlds[name]


ESTIMANDS = ("att", "att_vs_no_pilot_world", "national_path",
             *(f"mediator_shift_{k}" for k in CHANNELS), *(f"mediated_{k}" for k in CHANNELS),
             *(f"moderation_{m}" for m in MODERATORS))


@dataclass
class ZhangSunTruth:
    """Potential outcomes of every city-year of the companion panel, and estimands read off them.

    ``potential_outcomes`` (aligned row by row with the panel): ``resilience`` (observed),
    ``resilience_untreated`` (the city's output had it never been a pilot, against the observed
    national path), ``resilience_no_pilot_world`` (the index recomputed on the panel in which no
    city is a pilot), ``resilience_no_<channel>`` (the pilot acts but that channel's score stays
    untreated; observed national path), ``resilience_no_moderation_<LQ>`` (the pilot's own effect
    not moderated by that quotient; observed national path), ``output`` / ``output_untreated``,
    and ``<channel>`` / ``<channel>_untreated``. ``status``: ``city``, ``year``, ``Smart_policy``,
    ``event_time`` and the moderators. ``summary``: diagnostics of the design.
    """

    parameters: dict
    potential_outcomes: pd.DataFrame
    status: pd.DataFrame
    summary: dict = field(default_factory=dict)

    names = ESTIMANDS

    def contrast(self, name: str) -> pd.Series:
        """The city-year contrast behind estimand ``name`` (NaN where the index is undefined)."""
        po = self.potential_outcomes
        if name == "att":
            values = po["resilience"] - po["resilience_untreated"]
        elif name in ("att_vs_no_pilot_world", "national_path"):
            values = po["resilience"] - po["resilience_no_pilot_world"]
        elif name.startswith("mediator_shift_") and name[15:] in CHANNELS:
            values = po[name[15:]] - po[f"{name[15:]}_untreated"]
        elif name.startswith("mediated_") and name[9:] in CHANNELS:
            values = po["resilience"] - po[f"resilience_no_{name[9:]}"]
        elif name.startswith("moderation_") and name[11:] in MODERATORS:
            values = po["resilience"] - po[f"resilience_no_moderation_{name[11:]}"]
        else:
            raise KeyError(f"unknown estimand {name!r}; known: {', '.join(self.names)}")
        return values.rename(name)

    def default_rows(self, name: str) -> np.ndarray:
        """Treated city-years (``Smart_policy == 1``); for ``national_path``, the untreated ones."""
        treated = self.status["Smart_policy"].to_numpy() == 1
        if name not in self.names:
            raise KeyError(f"unknown estimand {name!r}; known: {', '.join(self.names)}")
        return ~treated if name == "national_path" else treated

    def estimand(self, name: str, rows=None) -> float:
        """The realised average of estimand ``name`` over ``rows`` (a boolean mask on the panel;
        default :meth:`default_rows`); for ``moderation_<m>``, the least-squares slope of its
        contrast on ``m`` over those rows. City-years where the index is undefined (the first
        year) are left out. NaN when no row is left."""
        mask = self.default_rows(name) if rows is None else np.asarray(rows, dtype=bool)
        if mask.shape != (len(self.status),):
            raise ValueError(f"rows must be a boolean mask with one entry per panel row ({len(self.status)})")
        values = self.contrast(name).to_numpy(dtype=float)
        keep = mask & ~np.isnan(values)
        if not keep.any():
            return float("nan")
        if name.startswith("moderation_"):
            moderator = self.status[name[11:]].to_numpy(dtype=float)[keep]
            centred = moderator - moderator.mean()
            return float((values[keep] * centred).sum() / (centred**2).sum())
        return float(values[keep].mean())

    def event_time_path(self, name: str = "att", rows=None) -> pd.Series:
        """The realised contrast ``name`` averaged by event time (years since the city's Smart
        City year), over the pilot cities' city-years where the index is defined (and ``rows``)."""
        frame = pd.DataFrame({"event_time": self.status["event_time"], "value": self.contrast(name)})
        if rows is not None:
            frame = frame[np.asarray(rows, dtype=bool)]
        frame = frame[frame["event_time"].notna() & frame["value"].notna()]
        return frame.groupby(frame["event_time"].astype(int))["value"].mean().rename(name)

    # -- one method per estimand, each stating its contrast --------------------------------------

    def att(self, rows=None) -> float:
        """The pilot's effect on the index of pilot cities: mean of ``resilience -
        resilience_untreated`` over the pilot city-years, both indices against the observed
        national path (the city's observed output minus its output had it never been a pilot)."""
        return self.estimand("att", rows)

    def att_vs_no_pilot_world(self, rows=None) -> float:
        """Mean of ``resilience - resilience_no_pilot_world`` over the pilot city-years: the observed
        index against the index of the panel in which no city is a pilot (its own national path)."""
        return self.estimand("att_vs_no_pilot_world", rows)

    def national_path(self, rows=None) -> float:
        """What the pilots do to the index of city-years not in the pilot, through the national
        path alone: mean of ``resilience - resilience_no_pilot_world`` over the untreated city-years."""
        return self.estimand("national_path", rows)

    def mediator_shift(self, channel: str, rows=None) -> float:
        """How far the pilot moves a channel's score: mean of ``<channel> - <channel>_untreated``
        over the pilot city-years."""
        return self.estimand(f"mediator_shift_{channel}", rows)

    def mediated(self, channel: str, rows=None) -> float:
        """The part of ``att`` that runs through a channel: mean of ``resilience -
        resilience_no_<channel>`` over the pilot city-years."""
        return self.estimand(f"mediated_{channel}", rows)

    def moderation(self, moderator: str, rows=None) -> float:
        """The moderation of the pilot's effect by a location quotient: the least-squares slope of
        ``resilience - resilience_no_moderation_<moderator>`` on the quotient over the pilot
        city-years, the realised counterpart of a ``Smart_policy x LQ`` coefficient."""
        return self.estimand(f"moderation_{moderator}", rows)


def _ramp(years: np.ndarray, adoption: np.ndarray, ramp_years: int) -> np.ndarray:
    """0 before adoption, then min(1, (e + 1) / ramp_years) in event year e."""
    with np.errstate(invalid="ignore"):
        event = years[None, :] - adoption[:, None]
        return np.where(event >= 0, np.minimum(1.0, (event + 1) / ramp_years), 0.0)


def simulate_panel(spec=None, seed: int | None = None, overrides: dict | None = None) -> ZhangSunPanel:
    """Simulate the companion panel from its specification (default ``data/simulation/zhang_sun.yml``).

    ``seed`` defaults to the specification's; ``overrides``: dotted keys, e.g.
    ``{"effects.growth": 0.0}``. Returns a :class:`ZhangSunPanel` whose ``truth`` holds every
    city-year's potential outcomes (:class:`ZhangSunTruth`).
    """
    spec = load_spec(SPEC if spec is None else spec, overrides)
    seed = spec["seed"] if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    first, last = spec["window"]["first_year"], spec["window"]["last_year"]
    years = np.arange(first, last + 1)
    n_years = len(years)
    cities = sample_cities(spec)
    n = len(cities)
    adoption = cities["smart_year"].to_numpy(dtype=float)
    treated = _absorbing(years, adoption)
    ramp = _ramp(years, adoption, spec["effects"]["ramp_years"])

    # City traits (scores, then groups split at the sample median) and the city's multiplier.
    groups = {"region": cities["region"].to_numpy()}
    for trait, (above, below) in TRAIT_LEVELS.items():
        score = rng.standard_normal(n)
        groups[trait] = np.where(score > np.median(score), above, below)
    multipliers = spec["effects"]["multipliers"]
    multiplier = np.ones(n)
    for trait in TRAITS:
        multiplier *= np.array([multipliers[trait][level] for level in groups[trait]], dtype=float)

    # Sector employment and the location quotients (moderators).
    out, agg = spec["output"], spec["agglomeration"]
    level = rng.standard_normal(n)
    total = np.exp(np.log(agg["total_median"]) + agg["total_sd_log"] * (0.6 * level + 0.8 * rng.standard_normal(n)))
    total = round_significant(total[:, None] * np.exp(0.03 * np.arange(n_years))[None, :])
    long = pd.DataFrame({"city": np.repeat(cities["adcode"].to_numpy(), n_years), "year": np.tile(years, n),
                         "total_employment": total.ravel()})
    lq = {}
    for sector, moderator in (("manufacturing", "LQ_manufacturing"), ("finance", "LQ_finance")):
        part = agg[sector]
        share = part["share"] * np.exp(part["sd_log"] * rng.standard_normal(n) - part["sd_log"] ** 2 / 2)
        wobble = np.exp(part["wobble_sd"] * _ar1(rng, n, n_years, 0.8))
        long[f"{sector}_employment"] = round_significant(np.minimum(total * share[:, None] * wobble, 0.9 * total)).ravel()
        lq[moderator] = round_significant(location_quotient(long, f"{sector}_employment", "total_employment")
                                          .to_numpy().reshape(n, n_years))
        long[moderator] = lq[moderator].ravel()

    # Channel scores without the pilot, and their shifts.
    scores, shift = {}, {}
    for k in CHANNELS:
        part = spec["channels"][k]
        latent = (np.sqrt(part["level"]) * rng.standard_normal(n)[:, None]
                  + np.sqrt(1 - part["level"]) * _ar1(rng, n, n_years, part["ar1"]))
        scores[k] = round_significant(_standardise(latent))
        shift[k] = part["a"] * ramp

    # Output without the pilot's own effect: a lognormal first year and log growth.
    log_first = np.log(out["median_first_year"]) + out["sd_log"] * rng.standard_normal(n)
    national = np.array([0.0] + [out["national_log_growth"][int(y)] for y in years[1:]])
    base_growth = (national[None, :] + out["city_growth_sd"] * rng.standard_normal(n)[:, None]
                   + out["shock_sd"] * _ar1(rng, n, n_years, out["shock_ar1"]))
    moderation = spec["effects"]["moderation"]
    factor = {m: moderation[m] * (lq[m] - 1) for m in MODERATORS}
    own = spec["effects"]["growth"] * ramp * multiplier[:, None]

    def output(pilot: bool, channels=CHANNELS, moderators=MODERATORS):
        """Output and channel scores with the pilot on (from the city's year) or off everywhere."""
        mediators = {k: round_significant(scores[k] + shift[k]) if pilot and k in channels else scores[k]
                     for k in CHANNELS}
        growth = base_growth + sum(spec["channels"][k]["b"] * mediators[k] for k in CHANNELS)
        if pilot:
            growth = growth + own * (1 + sum(factor[m] for m in moderators))
        growth[:, 0] = 0.0
        return round_significant(np.exp(log_first[:, None] + np.cumsum(growth, axis=1))), mediators

    observed, mediators = output(True)
    untreated, mediators_untreated = output(False)
    national_growth = _national_growth(observed)
    long["innovation_output"] = observed.ravel()
    resilience = round_significant(resilience_index(long, "innovation_output").to_numpy())
    po = pd.DataFrame({"city": long["city"], "year": long["year"], "resilience": resilience,
                       "output": observed.ravel(), "output_untreated": untreated.ravel()})
    po["resilience_untreated"] = round_significant(resilience_at_path(untreated, national_growth)).ravel()
    po["resilience_no_pilot_world"] = round_significant(
        resilience_at_path(untreated, _national_growth(untreated))).ravel()
    for k in CHANNELS:
        without, _ = output(True, channels=tuple(c for c in CHANNELS if c != k))
        po[f"resilience_no_{k}"] = round_significant(resilience_at_path(without, national_growth)).ravel()
        po[k], po[f"{k}_untreated"] = mediators[k].ravel(), mediators_untreated[k].ravel()
    for m in MODERATORS:
        without, _ = output(True, moderators=tuple(x for x in MODERATORS if x != m))
        po[f"resilience_no_moderation_{m}"] = round_significant(resilience_at_path(without, national_growth)).ravel()

    data = long.assign(smart_year=np.repeat(adoption, n_years), Smart_policy=treated.ravel(),
                       resilience=resilience, **{k: mediators[k].ravel() for k in CHANNELS},
                       **{trait: np.repeat(groups[trait], n_years) for trait in TRAITS})
    data = data[["city", "year", "smart_year", "Smart_policy", "resilience", "innovation_output", *CHANNELS,
                 "total_employment", "manufacturing_employment", "finance_employment", *MODERATORS, *TRAITS]]
    event_time = np.repeat(years[None, :], n, axis=0) - adoption[:, None]
    status = data[["city", "year", "Smart_policy", *MODERATORS]].assign(event_time=event_time.ravel())
    moderation_factor = 1 + sum(factor.values())
    summary = {"smallest_abs_national_growth": float(np.nanmin(np.abs(national_growth))),
               "share_negative_moderation_factor": float((moderation_factor[treated == 1] < 0).mean())}
    truth = ZhangSunTruth(parameters=spec, potential_outcomes=po, status=status, summary=summary)
    cities = cities.assign(**{trait: groups[trait] for trait in TRAITS})
    return ZhangSunPanel(data=data.reset_index(drop=True), cities=cities, truth=truth, spec=spec, seed=seed)
