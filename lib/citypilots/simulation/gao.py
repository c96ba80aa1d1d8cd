"""Companion study 3: a simulated panel of the Smart City x Low-Carbon City dual pilots and the
agglomeration of the digital industry (after Gao, Han and Han 2026; 2006-2023).

Real: the cities (``data/cities.csv``: every city of the table, 297, unless ``sample.present_from``
keeps only those that existed from a year on), and the two pilot calendars, the Smart City
calendar (``data/pilots/smart_city.csv``, almost entirely imputed by the completion rule of
``data/pilots/completion.yml``: not facts) and the Low-Carbon City calendar
(``data/pilots/low_carbon_city.csv``, sourced from the NDRC's three batch notices). Simulated:
employment by sector, the controls, the mediators, and so the outcome.

The data-generating process (parameters in ``data/simulation/gao.yml``), for city *i*, year *t*
and treatment state *d* (which of the city's own pilots act):

* total employment without any pilot, ``N_it``: a lognormal city level (larger in larger cities)
  growing at a common rate, times a small AR(1) shock; the non-digital part ``N_it - X0_it`` is
  the same in every state (a pilot adds digital jobs, it moves no other job);
* expected digital employment ``E_it = N~_it x s_t x q_i``, where ``N~_it`` is expected total
  employment, ``s_t`` the national digital share (linear from ``start`` to ``end``) and ``q_i``
  the city's own location-quotient level (lognormal, higher in larger, richer and pilot cities:
  selection on levels, which city effects absorb);
* digital employment ``X_it(d) = E_it x max(floor, exp(u_it) + sum_k beta_k x~_kit
  + sum_M b_M x (M~_it + a_M Dual_it(d)) + h_it(d))``: ``u_it`` a relative AR(1) shock, ``x~``
  the controls' and mediators' within movements (deviations from their city and year means),
  and the pilots' share
  ``h_it(d) = S_it(d) (l_S + g_S k^S_it) + L_it(d) (l_L + g_L k^L_it)
  + Dual_it(d) (l_D + g_D k^D_it) m^econ_i m^env_i``, with ``k`` the years since the city's
  Smart City, Low-Carbon City and dual-pilot years (so every effect grows with years in the
  pilot), ``m`` the synergy's multipliers of the city's economic level and environmental base
  (above or below the median of ``lnpgdp`` and ``green_cover`` in the first year). The mediators
  move by ``a_M`` while both pilots are held, and move digital employment by ``b_M`` per unit.
  Shares add up: with the synergy and the mediators off, the two pilots together add exactly
  the digital jobs the two add apart;
* the outcome, digital-industry agglomeration, is the location quotient
  ``LQ_it = (X_it / T_it) / (sum_j X_jt / sum_j T_jt)`` (``T = N - X0 + X``, total employment
  with the pilots' digital jobs), computed with :func:`citypilots.data.indices.location_quotient`.

Potential outcomes. Every city-year carries its employments and its quotient in each state
(``none``, ``smart_only``, ``low_carbon_only``, ``both``, and ``both`` with one mediator held at
its untreated value), from the same draws. **How the national share enters:** the quotient of
city *i* in year *t* in state *d* divides its own share ``X_it(d) / T_it(d)`` by the national
share of year *t* recomputed with city *i*'s employments in state *d* and every other city's at
their observed values, ``(sum_j X_jt - X_it + X_it(d)) / (sum_j T_jt - T_it + T_it(d))``: the
quotient the city would show had only its own pilots been different. In the observed state this
is the observed quotient exactly. A pilot city's jobs also raise the national share a little,
which lowers every other city's quotient; that spillover through the denominator is part of each
observed quotient and of no estimand (a test measures it).

Every simulated float is rounded (:func:`~citypilots.simulation.generator.round_significant`):
employments to six significant digits, then the quotients computed from the rounded numbers
and rounded the same way. The floor on digital employment is a guard that the default design
never meets (``Truth.bound_share``; tested).

Why a module of its own: the main generator is written for the main paper's pilots, deaths and
covariates; this one reuses its building blocks (AR(1) shocks, marginals, absorbing dummies,
rounding, the main :class:`~citypilots.simulation.truth.Truth`'s event-time machinery).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.cities import cities_present_throughout, load_cities
from ..data.indices import location_quotient
from ..data.pilots import adoption_years
from .generator import _absorbing, _ar1, _standardise, round_significant, to_marginal
from .specification import load_spec
from .truth import Truth, _as_mask

__all__ = ["CONTROLS", "MEDIATORS", "STATES", "ESTIMANDS", "GaoTruth", "GaoPanel", "simulate_panel",
           "null_world", "baseline_group", "potential_lq"]

SPEC = "gao"
CONTROLS = ("lnpgdp", "gov", "fin")
MEDIATORS = ("DTI", "GTI", "HC")
"""Digital technological innovation, green technological innovation, human capital."""
STATES = {"none": (False, False), "smart_only": (True, False), "low_carbon_only": (False, True),
          "both": (True, True)}
"""Treatment states: (Smart City pilot on, Low-Carbon City pilot on), each from the city's own year."""
ESTIMANDS = ("dual_vs_none", "smart_single", "low_carbon_single", "synergy", "duration_slope",
             *[f"mediated_{m}" for m in MEDIATORS], *[f"mediator_shift_{m}" for m in MEDIATORS])


# ----------------------------------------------------------------------------------------------
# Truth
# ----------------------------------------------------------------------------------------------

class GaoTruth(Truth):
    """Potential outcomes of every city-year of the companion panel, and its estimands.

    ``potential_outcomes`` columns: ``LQ_<state>`` and ``digital_<state>`` / ``employment_<state>``
    for the four states of :data:`STATES`, ``LQ_both_<M>_untreated`` (both pilots, mediator M at
    its untreated value), ``<M>_none`` and ``<M>_both``. ``status``: ``city``, ``year``,
    ``Dual_policy``, ``Smart_policy``, ``Low_carbon_policy``, ``event_time`` (years since the
    dual-pilot year), ``economic_level``, ``environmental_base``. Inherits
    :meth:`event_time_path`, :meth:`change_since` and :meth:`bound_share`.
    """

    @property
    def names(self) -> tuple[str, ...]:
        return ESTIMANDS

    def contrast(self, name: str) -> pd.Series:
        """The city-year contrast of potential quotients behind estimand ``name``."""
        po = self.potential_outcomes
        if name == "dual_vs_none":
            values = po["LQ_both"] - po["LQ_none"]
        elif name == "smart_single":
            values = po["LQ_smart_only"] - po["LQ_none"]
        elif name == "low_carbon_single":
            values = po["LQ_low_carbon_only"] - po["LQ_none"]
        elif name == "synergy":
            values = po["LQ_both"] - po["LQ_smart_only"] - po["LQ_low_carbon_only"] + po["LQ_none"]
        elif name == "duration_slope":
            values = po["LQ_both"] - po["LQ_none"]
        elif name.startswith("mediated_") and name[9:] in MEDIATORS:
            values = po["LQ_both"] - po[f"LQ_both_{name[9:]}_untreated"]
        elif name.startswith("mediator_shift_") and name[15:] in MEDIATORS:
            values = po[f"{name[15:]}_both"] - po[f"{name[15:]}_none"]
        else:
            raise KeyError(f"unknown estimand {name!r}; known: {', '.join(self.names)}")
        return values.rename(name)

    def default_rows(self, name: str) -> np.ndarray:
        status = self.status
        smart = status["Smart_policy"].to_numpy() == 1
        low_carbon = status["Low_carbon_policy"].to_numpy() == 1
        if name == "smart_single":
            return smart & ~low_carbon
        if name == "low_carbon_single":
            return low_carbon & ~smart
        if name in self.names:
            return smart & low_carbon
        raise KeyError(f"unknown estimand {name!r}; known: {', '.join(self.names)}")

    def estimand(self, name: str, rows=None, per=None) -> float:
        """The realised average of ``name``'s contrast over ``rows`` (default: its own rows); for
        ``duration_slope``, the least-squares slope of the contrast on years since the dual-pilot
        year over those rows."""
        if name != "duration_slope":
            return super().estimand(name, rows, per)
        mask = self.default_rows(name) if rows is None else _as_mask(rows, len(self.status))
        values = self.contrast(name).to_numpy(dtype=float)[mask]
        years = self.status["event_time"].to_numpy(dtype=float)[mask]
        if len(values) < 2 or np.ptp(years) == 0:
            return float("nan")
        centred = years - years.mean()
        return float((values * centred).sum() / (centred ** 2).sum())

    # one method per estimand, each stating its contrast

    def dual_vs_none(self, rows=None) -> float:
        """Both pilots against neither: mean of ``LQ_both - LQ_none`` over the dual-pilot city-years."""
        return self.estimand("dual_vs_none", rows)

    def smart_single(self, rows=None) -> float:
        """The Smart City pilot alone: mean of ``LQ_smart_only - LQ_none`` over the city-years holding
        the Smart City pilot but not the Low-Carbon City pilot (pass ``rows`` for other city-years)."""
        return self.estimand("smart_single", rows)

    def low_carbon_single(self, rows=None) -> float:
        """The Low-Carbon City pilot alone: mean of ``LQ_low_carbon_only - LQ_none`` over the city-years
        holding it but not the Smart City pilot."""
        return self.estimand("low_carbon_single", rows)

    def synergy(self, rows=None) -> float:
        """"One plus one exceeds two": mean of ``LQ_both - LQ_smart_only - LQ_low_carbon_only +
        LQ_none`` over the dual-pilot city-years. Positive: together the pilots raise the quotient
        by more than the sum of what each raises it alone."""
        return self.estimand("synergy", rows)

    def duration_slope(self, rows=None) -> float:
        """How the dual effect grows with years in the dual pilot: the least-squares slope of
        ``LQ_both - LQ_none`` on years since the dual-pilot year over the dual-pilot city-years."""
        return self.estimand("duration_slope", rows)

    def mediated(self, mediator: str, rows=None) -> float:
        """The part of the dual effect that runs through ``mediator``: mean of ``LQ_both -
        LQ_both_<mediator>_untreated`` over the dual-pilot city-years."""
        return self.estimand(f"mediated_{mediator}", rows)

    def mediator_shift(self, mediator: str, rows=None) -> float:
        """How far both pilots move ``mediator``: mean of ``<mediator>_both - <mediator>_none`` over
        the dual-pilot city-years (the realised path a)."""
        return self.estimand(f"mediator_shift_{mediator}", rows)


@dataclass
class GaoPanel:
    """The simulated companion panel: ``data`` (one row per city-year), ``truth``, ``cities``."""

    data: pd.DataFrame
    truth: GaoTruth
    cities: pd.DataFrame
    spec: dict
    seed: int


# ----------------------------------------------------------------------------------------------
# Pieces
# ----------------------------------------------------------------------------------------------

def null_world(name: str, spec=None) -> dict:
    """The overrides that switch off the effect behind estimand ``name`` (its null world).

    ``dual_vs_none``: every own-pilot effect. ``synergy`` (also ``no_synergy``): every part that
    acts only while both pilots are held (the synergy and the mediators' shifts); the single
    pilots act as in the book's world. ``smart_single`` / ``low_carbon_single``: that pilot's
    effect. ``duration_slope`` (also ``no_growth``): every effect constant in years in the pilot.
    ``mediated_<M>`` / ``mediator_shift_<M>``: that mediator's shift. ``no_heterogeneity``: the
    synergy's multipliers all 1.0 (not a world without an effect).
    """
    loaded = load_spec(SPEC if spec is None else spec)
    effects = loaded["effects"]
    off = lambda part: {f"effects.{part}.level": 0.0, f"effects.{part}.per_year": 0.0}  # noqa: E731
    mediators_off = {f"effects.mediators.{m}.a": 0.0 for m in effects["mediators"]}
    synergy_off = {**off("synergy"), **mediators_off}
    worlds = {
        "dual_vs_none": {**off("smart"), **off("low_carbon"), **synergy_off},
        "synergy": synergy_off, "no_synergy": synergy_off,
        "smart_single": off("smart"), "low_carbon_single": off("low_carbon"),
        "duration_slope": {f"effects.{part}.per_year": 0.0 for part in ("smart", "low_carbon", "synergy")},
        "no_heterogeneity": {f"effects.synergy.{trait}": {k: 1.0 for k in effects["synergy"][trait]}
                             for trait in ("economic_level", "environmental_base")},
    }
    worlds["no_growth"] = worlds["duration_slope"]
    for m in effects["mediators"]:
        worlds[f"mediated_{m}"] = worlds[f"mediator_shift_{m}"] = {f"effects.mediators.{m}.a": 0.0}
    if name not in worlds:
        raise KeyError(f"no null world for {name!r}; known: {', '.join(worlds)}")
    return worlds[name]


def baseline_group(data: pd.DataFrame, column: str, above: str, below: str, unit: str = "city",
                   time: str = "year") -> pd.Series:
    """Each row's group from its city's value of ``column`` in the panel's first year: ``above``
    at or above the median over cities, ``below`` under it (fixed before any pilot, so the
    groups cannot move with the treatment)."""
    first = data[data[time] == data[time].min()].set_index(unit)[column]
    labels = pd.Series(np.where(first >= first.median(), above, below), index=first.index)
    return data[unit].map(labels).rename(column + "_group")


def potential_lq(frame: pd.DataFrame, state: str) -> pd.Series:
    """The quotient of every city-year in ``state`` (see the module docstring): its own share in
    that state over the national share recomputed with its own employments in that state and
    every other city's observed ones. ``frame`` holds ``year``, the observed ``digital_employment``
    and ``employment``, and ``digital_<state>`` / ``employment_<state>``."""
    sums = frame.groupby("year")[["digital_employment", "employment"]].transform("sum")
    national = pd.DataFrame({
        "sector": frame[f"digital_{state}"], "total": frame[f"employment_{state}"],
        "national_sector": sums["digital_employment"] - frame["digital_employment"] + frame[f"digital_{state}"],
        "national_total": sums["employment"] - frame["employment"] + frame[f"employment_{state}"],
        "year": frame["year"]})
    quotient = location_quotient(national, "sector", "total", national_sector="national_sector",
                                 national_total="national_total")
    return pd.Series(round_significant(quotient.to_numpy()), index=frame.index, name=f"LQ_{state}")


def _covariate(rng, target: dict, size, growth_type, year_position, n, n_years, rho) -> np.ndarray:
    """One covariate: city level (partly size), common trend, city trend, AR(1) shock, mapped to
    its marginal and rounded."""
    w_city, w_trend, w_city_trend, w_shock = np.sqrt(target["weights"])
    city_part = target["size"] * size + np.sqrt(1 - target["size"] ** 2) * rng.standard_normal(n)
    latent = (w_city * city_part[:, None] + w_trend * target["trend"] * year_position[None, :]
              + w_city_trend * growth_type[:, None] * year_position[None, :] + w_shock * _ar1(rng, n, n_years, rho))
    return round_significant(to_marginal(latent, target))


def _within(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + x.mean()


def _sample(spec: dict) -> pd.DataFrame:
    """The real cities with their two adoption years (NaN: never) and whether the Smart City year
    is imputed."""
    present = spec["sample"]["present_from"]
    cities = load_cities() if present is None else cities_present_throughout(int(present))
    cities = cities.sort_values("adcode").reset_index(drop=True)
    for key, column in (("smart", "smart_year"), ("low_carbon", "low_carbon_year")):
        years = adoption_years(spec["calendars"][key])
        cities[column] = cities["adcode"].map(years["year"]).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        cities[f"{column}_imputed"] = cities["adcode"].map(years["imputed"]).fillna(False).astype(bool)
    return cities


# ----------------------------------------------------------------------------------------------
# The simulation
# ----------------------------------------------------------------------------------------------

def simulate_panel(spec=None, seed: int | None = None, overrides: dict | None = None) -> GaoPanel:
    """Simulate the companion panel (see the module docstring). ``spec``: ``"gao"`` (default), a
    path or a dict; ``seed``: default the specification's; ``overrides``: dotted keys (a null
    world is ``overrides=null_world(name)``)."""
    spec = load_spec(SPEC if spec is None else spec, overrides)
    seed = spec["seed"] if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    years = np.arange(spec["window"]["first_year"], spec["window"]["last_year"] + 1)
    n_years = len(years)
    cities = _sample(spec)
    n = len(cities)
    smart_year, low_carbon_year = cities["smart_year"].to_numpy(), cities["low_carbon_year"].to_numpy()
    dual_year = np.fmax(smart_year, low_carbon_year)
    dual_year[np.isnan(smart_year) | np.isnan(low_carbon_year)] = np.nan
    is_pilot = ~(np.isnan(smart_year) & np.isnan(low_carbon_year))
    smart_on, low_carbon_on = _absorbing(years, smart_year), _absorbing(years, low_carbon_year)

    # City traits and covariates.
    size = _standardise(rng.standard_normal(n) + 0.5 * is_pilot)
    growth_type = _standardise(rng.standard_normal(n))
    year_position = _standardise(years.astype(float))
    cov = spec["covariates"]
    covariates = {name: _covariate(rng, cov[name], size, growth_type, year_position, n, n_years, cov["ar1"])
                  for name in (*CONTROLS, "green_cover", *MEDIATORS)}

    # Heterogeneity groups from the first year (the same rule as the chapter's, on the panel).
    groups = {}
    for trait, rule in spec["groups"].items():
        first = covariates[rule["column"]][:, 0]
        groups[trait] = np.where(first >= np.median(first), rule["above"], rule["below"])

    # Employment without any pilot.
    emp = spec["employment"]
    total_spec = emp["total"]
    level = np.exp(total_spec["mean_log"] + total_spec["sd_log"] * (total_spec["size"] * size + np.sqrt(
        1 - total_spec["size"] ** 2) * rng.standard_normal(n)))
    expected_total = level[:, None] * np.exp(total_spec["growth_per_year"] * (years - years[0]))[None, :]
    total = round_significant(expected_total * np.exp(total_spec["shock_sd"] * _ar1(rng, n, n_years,
                                                                                   total_spec["ar1"])))
    national_share = np.linspace(emp["digital_share"]["start"], emp["digital_share"]["end"], n_years)
    q = emp["lq_level"]
    lq_latent = _standardise(q["size"] * size + q["income"] * _standardise(covariates["lnpgdp"][:, 0])
                             + q["pilot_shift"] * is_pilot + rng.standard_normal(n))
    lq_level = np.exp(q["sd_log"] * lq_latent - q["sd_log"] ** 2 / 2)
    expected_digital = expected_total * national_share[None, :] * lq_level[:, None]
    shock = np.exp(emp["shock"]["sd"] * _ar1(rng, n, n_years, emp["shock"]["ar1"]))

    effects = spec["effects"]
    within = {name: _within(covariates[name]) for name in (*CONTROLS, *MEDIATORS)}
    base_share = (shock + sum(spec["outcome"]["beta"][k] * within[k] for k in CONTROLS)
                  + sum(effects["mediators"][m]["b"] * within[m] for m in MEDIATORS))
    k_smart, k_low_carbon, k_dual = (np.maximum(years[None, :] - y[:, None], 0) for y in
                                     (np.nan_to_num(smart_year, nan=9999), np.nan_to_num(low_carbon_year, nan=9999),
                                      np.nan_to_num(dual_year, nan=9999)))
    syn = effects["synergy"]
    multiplier = (pd.Series(groups["economic_level"]).map(syn["economic_level"]).to_numpy()
                  * pd.Series(groups["environmental_base"]).map(syn["environmental_base"]).to_numpy())

    def digital(smart: bool, low_carbon: bool, mediators=MEDIATORS) -> tuple[np.ndarray, np.ndarray]:
        s = smart_on * smart
        c = low_carbon_on * low_carbon
        dual = s * c
        share = (base_share
                 + s * (effects["smart"]["level"] + effects["smart"]["per_year"] * k_smart)
                 + c * (effects["low_carbon"]["level"] + effects["low_carbon"]["per_year"] * k_low_carbon)
                 + dual * (syn["level"] + syn["per_year"] * k_dual) * multiplier[:, None]
                 + dual * sum(effects["mediators"][m]["a"] * effects["mediators"][m]["b"] for m in mediators))
        at_floor = share < emp["floor"]
        return round_significant(expected_digital * np.maximum(share, emp["floor"])), at_floor

    potentials, floors = {}, {}
    for state, (smart, low_carbon) in STATES.items():
        potentials[state], floors[state] = digital(smart, low_carbon)
    for m in MEDIATORS:
        potentials[f"both_{m}_untreated"], _ = digital(True, True, tuple(x for x in MEDIATORS if x != m))
    other = total - potentials["none"]  # non-digital employment: the same in every state

    flat = lambda matrix: np.asarray(matrix).reshape(-1)  # noqa: E731
    dual_on = smart_on * low_carbon_on
    mediators_observed = {m: round_significant(covariates[m] + effects["mediators"][m]["a"] * dual_on)
                          for m in MEDIATORS}
    index = pd.MultiIndex.from_product([cities["adcode"].to_numpy(), years], names=["city", "year"])
    data = pd.DataFrame(index=index).reset_index().astype({"city": "int64", "year": "int64"})
    data["digital_employment"] = flat(potentials["both"])
    data["employment"] = flat(round_significant(other + potentials["both"]))
    data["Smart_policy"], data["Low_carbon_policy"] = flat(smart_on), flat(low_carbon_on)
    data["Dual_policy"] = flat(dual_on)
    data["Smart_only"] = flat(smart_on * (1 - low_carbon_on))
    data["Low_carbon_only"] = flat(low_carbon_on * (1 - smart_on))
    for name in (*CONTROLS, "green_cover"):
        data[name] = flat(covariates[name])
    for m in MEDIATORS:
        data[m] = flat(mediators_observed[m])
    for column, values in (("smart_year", smart_year), ("low_carbon_year", low_carbon_year), ("dual_year", dual_year)):
        data[column] = pd.array(np.repeat(values, n_years), dtype="Float64").astype("Int64")

    frame = data[["year", "digital_employment", "employment"]].copy()
    for state, values in potentials.items():
        frame[f"digital_{state}"] = flat(values)
        frame[f"employment_{state}"] = flat(round_significant(other + values))
    po = pd.DataFrame({"city": data["city"], "year": data["year"]})
    for state in potentials:
        po[f"LQ_{state}"] = potential_lq(frame, state)
    data.insert(2, "digital_lq", po["LQ_both"].to_numpy())
    for state in STATES:
        po[f"digital_{state}"], po[f"employment_{state}"] = frame[f"digital_{state}"], frame[f"employment_{state}"]
    for m in MEDIATORS:
        po[f"{m}_none"], po[f"{m}_both"] = flat(covariates[m]), data[m].to_numpy()

    status = pd.DataFrame({"city": data["city"], "year": data["year"], "Dual_policy": data["Dual_policy"],
                           "Smart_policy": data["Smart_policy"], "Low_carbon_policy": data["Low_carbon_policy"],
                           "event_time": flat(years[None, :] - dual_year[:, None]),
                           **{trait: np.repeat(values, n_years) for trait, values in groups.items()}})
    at_bound = flat(floors["none"] | floors["smart_only"] | floors["low_carbon_only"] | floors["both"])
    city_table = cities.assign(dual_year=dual_year, **groups)
    truth = GaoTruth(parameters=spec, potential_outcomes=po, status=status, at_bound=at_bound,
                     summary={"cities": n, "dual_city_years": int(dual_on.sum())})
    return GaoPanel(data=data, truth=truth, cities=city_table, spec=spec, seed=seed)
