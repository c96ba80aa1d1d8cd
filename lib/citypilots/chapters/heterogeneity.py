"""The heterogeneity chapter: the paper's Table 8 rebuilt, its differences tested, the evidence beside each.

Each public function takes the chapter's panel (``book``: anything with ``.data``, ``.cities``
and ``.truth``, which is None on a reader's real panel) or a table built from it, and returns
what the chapter shows:

- :func:`city_splits`: the paper's three splits of the cities (resource type, size, region) and
  the note on how size was classed; :func:`split_sizes`: cities and dual-pilot cities per group.
- :func:`table8` and :func:`table8_differences`: the split-sample TWFE estimates of each group and
  the tests of their differences (every pair, and equality of all groups where a split has more
  than two), with the paper's numbers, the realised truth and the evidence over simulated panels
  (:func:`citypilots.report.evidence.evidence_table`; measure :func:`table8_measure`). The test
  p-values are also given after Holm's adjustment over the family of tests in the table.
- :func:`robust_table`: Callaway and Sant'Anna in each group, without and with covariates
  (doubly robust), against the realised change since the year before the dual-pilot year
  (measure :func:`robust_measure`).
- :func:`composition`: the specification's synergy multipliers against what each group realises.
- :func:`coefficient_figure`: every group's estimates, the paper's and the realised truths.
- :func:`log_scale_table` and :func:`all_traits_interaction`: the exercises' computations.
- ``*_texts`` functions: the numbers the prose quotes, as text to glue (:func:`glue_texts`).

The truths are estimands of :class:`citypilots.simulation.truth.Truth`: the effect of both pilots
against none (``dual_vs_none``) over a group's dual-pilot city-years for a TWFE row, its change
since the year before the dual-pilot year (``change_since``) for a Callaway-Sant'Anna row, and
for a difference the same difference of the two groups' realised truths.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.cities import load_cities
from ..data.panel import CONTROLS
from ..data.paper import printed
from ..data.samples import pilot_groups
from ..estimators import did, heterogeneity
from ..report.evidence import evidence_table, headline
from ..report.glue import NO_TRUTH, glue_text, number_text, p_text

OUTCOME, TREATMENT, COHORT = "Safety", "Dual_policy", "dual_year"
MINIMUM_CITIES = 5
"""Dual-pilot and never-pilot cities a group needs for Callaway-Sant'Anna."""


@dataclass(frozen=True)
class Split:
    """One of the paper's splits: the city attribute (``trait``, as in the specification's
    ``effects.dual``), its groups with the paper's Table 8 column and the attribute value of each,
    the reference group of the differences, and the pairs the chapter tests."""

    trait: str
    groups: dict
    values: dict
    reference: str
    pairs: tuple


SPLITS = {
    "City type": Split("resource_based", {"resource-based": 1, "non-resource-based": 2},
                       {"resource-based": True, "non-resource-based": False}, "non-resource-based",
                       (("resource-based", "non-resource-based"),)),
    "City size": Split("large_city", {"small and medium": 3, "large": 4},
                       {"small and medium": False, "large": True}, "small and medium",
                       (("large", "small and medium"),)),
    "City region": Split("region", {"east": 5, "central": 6, "west": 7},
                         {"east": "east", "central": "central", "west": "west"}, "east",
                         (("central", "east"), ("west", "east"), ("west", "central"))),
}
"""The paper's three splits (Table 8, columns 1-7)."""


def key(text: str) -> str:
    """A glue key fragment for a group or split label."""
    return text.lower().replace(" ", "_").replace("-", "_")


def group_label(name: str, group: str) -> str:
    """The row label of a group in Table 8, with the paper's column: "(1) City type: resource-based"."""
    return f"({SPLITS[name].groups[group]}) {name}: {group}"


def difference_label(name: str, a: str, b: str) -> str:
    return f"{name}: {a} - {b}"


def joint_label(name: str) -> str:
    return f"{name}: all groups equal"


HOLM = " [Holm]"


# ----------------------------------------------------------------------------------------------
# The splits
# ----------------------------------------------------------------------------------------------

@dataclass
class CitySplits:
    """Each split's group of every city (a Series indexed by city code, None where the split
    cannot be made on this panel), the splits that can be estimated (``usable``: every group
    has a dual-pilot city) and a sentence on how city size was classed (``size_note``)."""

    groups: dict
    usable: dict
    size_note: str


def _cities(book) -> pd.DataFrame:
    cities = book.cities
    return cities.set_index("adcode") if "adcode" in cities.columns else cities


def city_splits(book) -> CitySplits:
    """The paper's splits of the cities of ``book``.

    Resource type and region come from the city table. City size follows the State Council's
    2014 criteria (a city is large from one million urban residents): on the simulation, the
    classes of its simulated urban population; on a real panel, the optional column
    ``urban_population`` (urban residents, ten thousand) in 2014, without which the size split is
    skipped and ``size_note`` says why.
    """
    cities, panel = _cities(book), book.data
    groups = {"City type": cities["resource_based"].astype(bool).map(
        {True: "resource-based", False: "non-resource-based"}).rename("resource"),
        "City size": None, "City region": cities["region"].rename("region")}
    if "large_city" in cities.columns:
        groups["City size"] = cities["large_city"].astype(bool).map(
            {True: "large", False: "small and medium"}).rename("size")
        size_note = ("the 2014 criteria applied to the simulated urban resident population in 2014 "
                     "(a city is large from one million urban residents)")
    elif "urban_population" in panel.columns:
        in_2014 = panel.loc[panel["year"] == 2014].set_index("city")["urban_population"].reindex(cities.index)
        if in_2014.notna().all():
            classes = heterogeneity.size_class_2014(in_2014)
            groups["City size"] = classes.isin(["small", "medium"]).map(
                {True: "small and medium", False: "large"}).rename("size")
            size_note = ("the 2014 criteria applied to the panel's column `urban_population` in 2014 "
                         "(urban residents, ten thousand; a city is large from one million)")
        else:
            size_note = (f"skipped: {int(in_2014.isna().sum())} cities have no `urban_population` in 2014, "
                         "so the 2014 criteria cannot be applied")
    else:
        size_note = ("skipped: the panel has no column `urban_population`, so the 2014 criteria (on urban "
                     "residents) cannot be applied")
    usable = {}
    for name, series in groups.items():
        if series is None:
            continue
        sizes = heterogeneity.group_sizes(panel, series, TREATMENT)
        if sizes["treated units"].ge(1).all():
            usable[name] = series
        else:
            size_note += f"; the {name.lower()} split has a group without a dual-pilot city and is not estimated"
    return CitySplits(groups=groups, usable=usable, size_note=size_note)


def split_sizes(book) -> pd.DataFrame:
    """Cities, dual-pilot cities and never-dual cities in each group, beside the number of cities
    the paper's sample sizes imply (its N divided by the 16 years)."""
    splits = city_splits(book)
    frames = {}
    for name, series in splits.groups.items():
        if series is None:
            continue
        table = heterogeneity.group_sizes(book.data, series, TREATMENT)
        paper = pd.Series({group: int(printed(8, column, "N_obs")["estimate"]) // 16
                           for group, column in SPLITS[name].groups.items()})
        table.insert(0, "paper (N / 16)", paper.reindex(table.index))
        frames[name] = table.reindex(list(SPLITS[name].groups))
    table = pd.concat(frames, names=["split", "group"])
    return table.rename(columns={"treated units": "dual-pilot cities",
                                 "never-treated units": "other cities"})


def split_texts(book) -> dict:
    """The section on the splits: the size note, the provinces of each belt, the paper's regional
    counts, the number of cities and the smallest and largest number of dual-pilot cities a group has."""
    splits = city_splits(book)
    sizes = split_sizes(book)
    provinces = load_cities().groupby("region")["province_en"].unique()
    texts = {"size_note": splits.size_note, "n_cities": f"{book.data['city'].nunique():,}",
             "paper_region_counts": ", ".join(str(int(printed(8, column, "N_obs")["estimate"]) // 16)
                                              for column in SPLITS["City region"].groups.values())}
    texts.update({f"provinces_{belt}": ", ".join(sorted(provinces[belt])) for belt in ("east", "central", "west")})
    dual = sizes["dual-pilot cities"]
    texts["dual_cities_min"], texts["dual_cities_max"] = str(int(dual.min())), str(int(dual.max()))
    texts["n_dual_cities"] = str(int((book.data.groupby("city")[TREATMENT].max() > 0).sum()))
    return texts


# ----------------------------------------------------------------------------------------------
# Table 8 and its differences
# ----------------------------------------------------------------------------------------------

def _rows_of(book, series: pd.Series, group: str) -> np.ndarray:
    """The dual-pilot city-years of a group (a boolean mask on the panel)."""
    data = book.data
    return data["city"].map(series).eq(group).to_numpy() & (data[TREATMENT].to_numpy() == 1)


def _truth(book, rows: np.ndarray, estimand: str = "dual_vs_none"):
    if book.truth is None:
        return None
    if estimand == "change_since":
        return book.truth.change_since("dual_vs_none", reference=-1, rows=rows)
    return book.truth.estimand(estimand, rows)


def _difference(a, b):
    return None if a is None or b is None else a - b


def _with_holm(out: dict, tests: list[str]) -> dict:
    """Add a ``<label> [Holm]`` headline for each test, its p-value adjusted over ``tests``."""
    adjusted = heterogeneity.holm(pd.Series({label: out[label]["p_value"] for label in tests}))
    for label in tests:
        out[label + HOLM] = {**out[label], "p_value": float(adjusted[label])}
    return out


def table8_measure(book) -> dict:
    """Table 8 on one panel: each group's TWFE coefficient (from the fully interacted regression,
    equal to the separate regression's), each tested pair's difference, the Wald F test that all
    groups of a split are equal (three-group splits), and each test again after Holm's adjustment
    over all the tests of the panel (labels ending in ``[Holm]``).

    Truths: the realised effect of both pilots against none over the group's dual-pilot
    city-years; for a difference, the difference of the two groups' truths; none for the F test.
    """
    splits = city_splits(book)
    out, tests = {}, []
    for name, series in splits.usable.items():
        split = SPLITS[name]
        result = heterogeneity.fully_interacted_twfe(book.data, OUTCOME, TREATMENT, series, controls=CONTROLS,
                                                     reference=split.reference)
        truths = {group: _truth(book, _rows_of(book, series, group)) for group in split.groups}
        for group in split.groups:
            out[group_label(name, group)] = headline(result, term=group, truth=truths[group])
        pairs = heterogeneity.pairwise_differences(result, split.pairs)
        for a, b in split.pairs:
            label = difference_label(name, a, b)
            out[label] = headline(pairs.loc[f"{a} - {b}"].to_dict(), truth=_difference(truths[a], truths[b]))
            tests.append(label)
        if len(split.groups) > 2:
            test = result.extra["equality_test"]
            out[joint_label(name)] = headline({"estimate": test["statistic"], "p_value": test["p_value"]})
            tests.append(joint_label(name))
    return _with_holm(out, tests)


def _null_worlds(labels) -> tuple[dict, dict]:
    """The two null worlds of Table 8: no own-pilot effect at all for every row (a difference is
    then zero: its rejection rate is the test's size), and, for the tests of a split, the
    specification with that split's synergy multipliers equal."""
    no_effect = {label: "dual_vs_none" for label in labels}
    equal = {}
    for label in labels:
        for name, split in SPLITS.items():
            if label.startswith(f"{name}: "):
                equal[label] = f"no_heterogeneity_{split.trait}"
    return no_effect, equal


def _table8_runs(book, seeds, n_jobs: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The evidence of Table 8 in the two null worlds (the runs over seeds are cached on disk)."""
    labels = tuple(table8_measure(book))
    no_effect, equal = _null_worlds(labels)
    first = evidence_table(table8_measure, book, no_effect, seeds=seeds, n_jobs=n_jobs)
    second = evidence_table(table8_measure, book, equal, seeds=seeds, n_jobs=n_jobs)
    return first, second


def table8(book, seeds=range(20), n_jobs: int = 1) -> pd.DataFrame:
    """Table 8: each group's split-sample TWFE coefficient, with the paper's, the realised truth, the
    estimate in the world without any own-pilot effect, and the spread over ``seeds`` (mean, SD,
    coverage of the realised truth, rate of rejecting zero; and that rate without any effect)."""
    seeds = list(seeds)
    first, _ = _table8_runs(book, seeds, n_jobs)
    labels = [label for label in first.index if label.startswith("(")]
    table = first.loc[labels].copy()
    table.attrs["numbers"] = {label: first.attrs["numbers"][label] for label in labels}
    paper = {}
    for label in labels:
        name, group = label.split(") ", 1)[1].split(": ", 1)
        paper[label] = printed(8, SPLITS[name].groups[group], TREATMENT)
    front = pd.DataFrame({("Paper", "estimate"): [paper[label]["raw_estimate"] for label in labels],
                          ("Paper", "s.e."): [paper[label]["raw_se"] for label in labels]}, index=labels)
    front.columns = pd.MultiIndex.from_tuples(front.columns)
    combined = pd.concat([front, table], axis=1)
    combined.attrs = dict(table.attrs)
    renamed = {"Null world": "No pilot effect", f"Null world over {len(seeds)} seeds": f"No pilot effect, {len(seeds)} seeds"}
    combined.columns = pd.MultiIndex.from_tuples([(renamed.get(top, top), sub) for top, sub in combined.columns])
    return combined


def paper_tests() -> dict:
    """The paper's tests, from its printed estimates and standard errors (its groups share no city,
    so their estimates are independent): each tested pair's difference (normal test) and the
    chi-squared test of equal regions, with Holm's adjustment over all of them."""
    cells = {(name, group): printed(8, column, TREATMENT) for name, split in SPLITS.items()
             for group, column in split.groups.items()}
    value = {k: (float(c["estimate"]), float(c["se"])) for k, c in cells.items()}
    tests = {}
    for name, split in SPLITS.items():
        for a, b in split.pairs:
            tests[difference_label(name, a, b)] = heterogeneity.independent_difference(*value[(name, a)],
                                                                                       *value[(name, b)])
        if len(split.groups) > 2:
            estimates, errors = zip(*(value[(name, group)] for group in split.groups))
            test = heterogeneity.independent_equality_test(estimates, errors)
            tests[joint_label(name)] = {**test, "difference": test["statistic"], "std_error": math.nan}
    adjusted = heterogeneity.holm(pd.Series({label: test["p_value"] for label, test in tests.items()}))
    for label in tests:
        tests[label]["p_holm"] = float(adjusted[label])
    return tests


def _p(value: float) -> str:
    return "" if value is None or math.isnan(value) else ("<0.001" if value < 0.001 else f"{value:.3f}")


def table8_differences(book, seeds=range(20), n_jobs: int = 1) -> pd.DataFrame:
    """The tests of Table 8: each tested pair's difference and the equality of the three regions,
    from the paper's printed numbers and from the interacted regression on ``book``, with raw and
    Holm-adjusted p-values (Holm over every test of the table), the realised difference, the two
    null worlds (no own-pilot effect: the difference is zero, so the rejection rate is the size;
    the split's synergy multipliers equal: the realised difference is shown, since deaths still
    differ by group) and the spread over ``seeds``. An F statistic stands in the estimate column
    of the equality test."""
    seeds = list(seeds)
    first, second = _table8_runs(book, seeds, n_jobs)
    labels = [label for label in first.index if not label.startswith("(") and not label.endswith(HOLM)]
    n = len(seeds)
    paper = paper_tests()
    numbers = {}
    records = {}
    for label in labels:
        here, equal = first.attrs["numbers"][label], second.attrs["numbers"][label]
        holm_here = first.attrs["numbers"][label + HOLM]
        holm_equal = second.attrs["numbers"][label + HOLM]
        test = paper.get(label)
        joint = label.endswith("all groups equal")
        records[label] = {
            ("Paper", "difference"): "" if test is None else (f"chi2 = {test['difference']:.2f}" if joint
                                                              else f"{test['difference']:.3f}"),
            ("Paper", "p"): "" if test is None else _p(test["p_value"]),
            ("Paper", "p, Holm"): "" if test is None else _p(test["p_holm"]),
            ("This book", "difference"): f"F = {here['estimate']:.2f}" if joint else f"{here['estimate']:.3f}",
            ("This book", "95% interval"): "" if joint else f"[{here['ci_low']:.3f}, {here['ci_high']:.3f}]",
            ("This book", "p"): _p(here["p_value"]),
            ("This book", "p, Holm"): _p(holm_here["p_value"]),
            ("Truth", "realised"): number_text(here["truth"], missing=""),
            (f"Over {n} seeds", "realised"): "" if joint else number_text(here["seed_truth"], missing=""),
            (f"Over {n} seeds", "coverage"): "" if joint else number_text(here["coverage"], "{:.0%}", ""),
            (f"Over {n} seeds", "rejects"): f"{here['rejection_rate']:.0%}",
            (f"Over {n} seeds", "rejects, Holm"): f"{holm_here['rejection_rate']:.0%}",
            (f"No pilot effect, {n} seeds", "rejects"): f"{here['null_rejection_rate']:.0%}",
            (f"Equal multipliers, {n} seeds", "realised"): "" if joint else f"{equal['null_seed_truth']:.3f}",
            (f"Equal multipliers, {n} seeds", "rejects"): f"{equal['null_rejection_rate']:.0%}",
        }
        numbers[label] = {**here, "p_holm": holm_here["p_value"], "rejection_rate_holm": holm_here["rejection_rate"],
                          "equal_truth": equal["null_truth"], "equal_estimate": equal["null_estimate"],
                          "equal_seed_truth": equal["null_seed_truth"],
                          "equal_rejection_rate": equal["null_rejection_rate"],
                          "equal_rejection_rate_holm": holm_equal["null_rejection_rate"],
                          "paper": test}
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.attrs["numbers"] = numbers
    table.attrs["n_tests"] = len(labels)
    return table


def _p_text(value) -> str:
    return number_text(value, "{}") if value is None or math.isnan(value) else p_text(value)


def _share(value) -> str:
    return number_text(value, "{:.0%}")


def table8_texts(table8: pd.DataFrame, differences: pd.DataFrame) -> dict:
    """The numbers the Table 8 sections quote, as text (a note where the panel has no truth or a
    split could not be estimated)."""
    texts = {}
    numbers = table8.attrs["numbers"]
    for name, split in SPLITS.items():
        for group in split.groups:
            n = numbers.get(group_label(name, group))
            stem = f"t8_{key(group)}"
            texts[f"{stem}_book"] = number_text(None if n is None else n["estimate"])
            texts[f"{stem}_truth"] = number_text(None if n is None else n["truth"], missing=NO_TRUTH)
            texts[f"{stem}_coverage"] = _share(None if n is None else n["coverage"])
            texts[f"{stem}_null"] = number_text(None if n is None else n["null_estimate"])
    covered = [n["coverage"] for n in numbers.values()]
    texts["t8_coverage_min"], texts["t8_coverage_max"] = _share(min(covered)), _share(max(covered))
    texts["t8_null_rejection_max"] = _share(max(n["null_rejection_rate"] for n in numbers.values()))
    texts["t8_null_abs_max"] = number_text(max(abs(n["null_estimate"]) for n in numbers.values()))
    texts["n_seeds"] = str(next(iter(numbers.values()))["seeds"])
    # The tests
    dn = differences.attrs["numbers"]
    paper = paper_tests()
    texts["n_tests"] = str(differences.attrs["n_tests"])
    texts["familywise_independent"] = f"{1 - 0.95 ** differences.attrs['n_tests']:.0%}"
    texts["n_paper_tests"] = str(len(paper))
    for name, split in SPLITS.items():
        for a, b in split.pairs:
            label, stem = difference_label(name, a, b), f"d_{key(a)}_{key(b)}"
            test = paper[label]
            texts[f"paper_{stem}"] = f"{test['difference']:.3f}"
            texts[f"paper_{stem}_p"] = p_text(test["p_value"])
            texts[f"paper_{stem}_holm"] = p_text(test["p_holm"])
            n = dn.get(label)
            texts[f"{stem}_book"] = number_text(None if n is None else n["estimate"])
            texts[f"{stem}_p"] = _p_text(None if n is None else n["p_value"])
            texts[f"{stem}_holm"] = _p_text(None if n is None else n["p_holm"])
            texts[f"{stem}_truth"] = number_text(None if n is None else n["truth"], missing=NO_TRUTH)
            texts[f"{stem}_covers"] = ("(not estimated on this panel)" if n is None else
                                       "(no realised difference to compare: real data)" if math.isnan(n["truth"]) else
                                       "contains" if n["ci_low"] <= n["truth"] <= n["ci_high"] else "does not contain")
            texts[f"{stem}_power"] = _share(None if n is None else n["rejection_rate"])
            texts[f"{stem}_power_holm"] = _share(None if n is None else n["rejection_rate_holm"])
            texts[f"{stem}_size"] = _share(None if n is None else n["null_rejection_rate"])
            texts[f"{stem}_seed_truth"] = number_text(None if n is None else n["seed_truth"])
            texts[f"{stem}_equal_truth"] = number_text(None if n is None else n["equal_seed_truth"])
            texts[f"{stem}_equal_rejects"] = _share(None if n is None else n["equal_rejection_rate"])
    joint = paper[joint_label("City region")]
    texts["paper_equal_region_chi2"] = f"{joint['statistic']:.1f}"
    texts["paper_equal_region_p"] = p_text(joint["p_value"])
    texts["paper_equal_region_holm"] = p_text(joint["p_holm"])
    n = dn.get(joint_label("City region"))
    texts["equal_region_p"] = _p_text(None if n is None else n["p_value"])
    texts["equal_region_holm"] = _p_text(None if n is None else n["p_holm"])
    texts["equal_region_power"] = _share(None if n is None else n["rejection_rate"])
    texts["equal_region_size"] = _share(None if n is None else n["null_rejection_rate"])
    texts["equal_region_equal_rejects"] = _share(None if n is None else n["equal_rejection_rate"])
    texts["book_rejections"] = str(sum(n["p_value"] < 0.05 for n in dn.values()))
    texts["book_rejections_holm"] = str(sum(n["p_holm"] < 0.05 for n in dn.values()))
    texts["paper_rejections"] = str(sum(t["p_value"] < 0.05 for t in paper.values()))
    texts["paper_rejections_holm"] = str(sum(t["p_holm"] < 0.05 for t in paper.values()))
    for label, column in (("paper_resource", 1), ("paper_nonresource", 2), ("paper_small", 3), ("paper_large", 4),
                          ("paper_east", 5), ("paper_central", 6), ("paper_west", 7)):
        texts[label] = printed(8, column, TREATMENT)["raw_estimate"]
    return texts


# ----------------------------------------------------------------------------------------------
# Callaway and Sant'Anna by group
# ----------------------------------------------------------------------------------------------

ROBUST_ESTIMATORS = {"CS": (), "CS with covariates": tuple(CONTROLS)}
"""Callaway-Sant'Anna without covariates, and doubly robust with the paper's six controls (their
values in the base period), both with never-pilot controls and the simple aggregation."""


def callaway_santanna(sample: pd.DataFrame, covariates: tuple = ()) -> did.DidResult:
    """Callaway and Sant'Anna on ``sample`` (dual-pilot and never-pilot cities): never-pilot
    controls, simple aggregation; doubly robust on ``covariates`` when given. diff-diff's warnings
    about its propensity-score models (separation, convergence, few events per variable) are
    counted in ``extra["propensity_warnings"]`` instead of printed."""
    group_time = did.att_gt(sample, OUTCOME, "city", "year", COHORT, control_group="never",
                            covariates=list(covariates) or None)
    result = group_time.aggregate("simple")
    result.extra["propensity_warnings"] = sum("propensity" in message.lower() or "logistic" in message.lower()
                                              for message in group_time.warnings)
    return result


def _dual_or_never(book) -> pd.DataFrame:
    cities = _cities(book)
    group = pilot_groups(cities["innovation_year"], cities["smart_year"])
    return book.data[book.data["city"].map(group).isin(["dual", "none"]).to_numpy()].reset_index(drop=True)


def robust_measure(book) -> dict:
    """Callaway-Sant'Anna in each group of each split, without and with covariates (labels
    ``"<estimator>: <split>: <group>"``), the differences of the tested pairs (independent: the
    groups share no city) and Holm's adjustment over each estimator's tests. Truth: the realised
    change of the effect of both pilots against none since the year before the dual-pilot year,
    over the group's dual-pilot city-years. A group with fewer than :data:`MINIMUM_CITIES`
    dual-pilot or never-pilot cities is not estimated (NaN)."""
    splits = city_splits(book)
    sample = _dual_or_never(book)
    out = {}
    for estimator, covariates in ROBUST_ESTIMATORS.items():
        tests = []
        for name, series in splits.usable.items():
            split = SPLITS[name]
            result = heterogeneity.by_group(sample, series, functools.partial(callaway_santanna, covariates=covariates),
                                            treatment=TREATMENT, min_treated_units=MINIMUM_CITIES,
                                            min_untreated_units=MINIMUM_CITIES)
            truths = {group: _truth(book, _rows_of(book, series, group), "change_since") for group in split.groups}
            for group in split.groups:
                row = result.table.loc[group] if group in result.table.index else None
                values = {k: math.nan for k in ("estimate", "std_error", "ci_low", "ci_high", "p_value")}
                if row is not None:
                    values = row[list(values)].to_dict()
                fit = result.extra["results"].get(group)
                out[f"{estimator}: {name}: {group}"] = {
                    **headline(values, truth=truths[group]),
                    "cities": float(row["n_units"]) if row is not None else math.nan,
                    "propensity_warnings": float(fit.extra["propensity_warnings"]) if fit is not None else math.nan}
            for a, b in split.pairs:
                ea, eb = (out[f"{estimator}: {name}: {g}"] for g in (a, b))
                label = f"{estimator}: {difference_label(name, a, b)}"
                if math.isnan(ea["estimate"]) or math.isnan(eb["estimate"]):
                    out[label] = headline({}, truth=_difference(truths[a], truths[b]))
                else:
                    test = heterogeneity.independent_difference(ea["estimate"], ea["std_error"],
                                                                eb["estimate"], eb["std_error"])
                    out[label] = headline({**test, "estimate": test["difference"]},
                                          truth=_difference(truths[a], truths[b]))
                tests.append(label)
        out = _with_holm(out, tests)
    return out


def _robust_labels(book) -> list[str]:
    """The labels :func:`robust_measure` returns on ``book`` (without estimating anything)."""
    usable = city_splits(book).usable
    labels = []
    for estimator in ROBUST_ESTIMATORS:
        groups = [f"{estimator}: {name}: {group}" for name in usable for group in SPLITS[name].groups]
        tests = [f"{estimator}: {difference_label(name, a, b)}" for name in usable for a, b in SPLITS[name].pairs]
        labels += groups + tests + [label + HOLM for label in tests]
    return labels


def robust_table(book, seeds=range(20), n_jobs: int = 1) -> pd.DataFrame:
    """Callaway-Sant'Anna by group, without and with covariates, and the differences of the tested
    pairs: estimate, s.e., p (raw and Holm over each estimator's tests), the realised change since
    the year before the dual-pilot year, the spread over ``seeds`` (coverage, rate of rejecting
    zero) and that rate in the world without any own-pilot effect."""
    seeds = list(seeds)
    null_worlds = {label: "dual_vs_none" for label in _robust_labels(book)}
    evidence = evidence_table(robust_measure, book, null_worlds, seeds=seeds, n_jobs=n_jobs)
    ev = on_book = evidence.attrs["numbers"]
    labels = [label for label in ev if not label.endswith(HOLM)]
    records, numbers = {}, {}
    for label in labels:
        estimator, rest = label.split(": ", 1)
        name, what = rest.split(": ", 1)
        n, holm_n = ev[label], ev.get(label + HOLM)
        is_difference = " - " in what
        records[(estimator, name, what)] = {
            ("This book", "estimate"): number_text(n["estimate"], missing=""),
            ("This book", "s.e."): "" if math.isnan(n["std_error"]) else f"({n['std_error']:.3f})",
            ("This book", "p"): _p(n["p_value"]),
            ("This book", "p, Holm"): "" if holm_n is None else _p(holm_n["p_value"]),
            ("This book", "cities"): "" if is_difference or math.isnan(on_book[label]["cities"])
            else f"{int(on_book[label]['cities'])}",
            ("Truth", "change since t-1"): number_text(n["truth"], missing=""),
            (f"Over {len(seeds)} seeds", "mean"): number_text(n["seed_mean"], missing=""),
            (f"Over {len(seeds)} seeds", "SD"): number_text(n["seed_sd"], missing=""),
            (f"Over {len(seeds)} seeds", "coverage"): number_text(n["coverage"], "{:.0%}", ""),
            (f"Over {len(seeds)} seeds", "rejects"): number_text(n["rejection_rate"], "{:.0%}", ""),
            (f"No pilot effect, {len(seeds)} seeds", "rejects"): number_text(n["null_rejection_rate"], "{:.0%}", ""),
        }
        numbers[label] = {**n, **{k: on_book[label][k] for k in ("cities", "propensity_warnings")
                                  if k in on_book[label]},
                          "p_holm": math.nan if holm_n is None else holm_n["p_value"],
                          "rejection_rate_holm": math.nan if holm_n is None else holm_n["rejection_rate"]}
    table = pd.DataFrame.from_dict(records, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index = pd.MultiIndex.from_tuples(table.index, names=["estimator", "split", "group"])
    table.attrs["numbers"] = numbers
    table.attrs["cohorts"] = cohort_cells(book)
    return table


def cohort_cells(book) -> pd.DataFrame:
    """The dual-pilot cities of each group and dual-pilot year (the cohorts whose propensity score
    Callaway-Sant'Anna with covariates fits), one row per split, group and year."""
    splits = city_splits(book)
    first = book.data.groupby("city")[COHORT].first()
    frames = {}
    for name, series in splits.usable.items():
        cohorts = pd.DataFrame({"group": series.reindex(first.index), "cohort": first}).dropna()
        frames[name] = cohorts.groupby(["group", "cohort"]).size().rename("cities")
    return pd.concat(frames, names=["split"]).to_frame() if frames else pd.DataFrame(columns=["cities"])


def robust_texts(book, robust: pd.DataFrame) -> dict:
    """The numbers the section on Callaway-Sant'Anna quotes."""
    numbers = robust.attrs["numbers"]
    texts = {}
    skipped = [label.split(": ", 1)[1] for label, n in numbers.items()
               if label.startswith("CS: ") and " - " not in label and math.isnan(n["estimate"])]
    texts["robust_skipped"] = "; ".join(skipped) if skipped else "none"
    texts["robust_minimum"] = str(MINIMUM_CITIES)
    cells = robust.attrs["cohorts"]["cities"]
    texts["cohort_cells"] = str(len(cells))
    texts["cohort_cells_small"] = str(int((cells <= len(CONTROLS)).sum()))
    texts["cohort_median"] = f"{cells.median():g}"
    texts["n_covariates"] = str(len(CONTROLS))
    texts["n_tests_robust"] = str(sum(1 for label in numbers if label.startswith("CS: ") and " - " in label))
    warned = [n.get("propensity_warnings", 0) for label, n in numbers.items()
              if label.startswith("CS with covariates: ") and " - " not in label]
    texts["dr_groups_warned"] = str(sum(1 for w in warned if w and not math.isnan(w) and w > 0))
    texts["dr_groups"] = str(sum(1 for w in warned if not math.isnan(w)))
    for estimator, stem in (("CS", "cs"), ("CS with covariates", "dr")):
        for name, split in SPLITS.items():
            for a, b in split.pairs:
                n = numbers.get(f"{estimator}: {difference_label(name, a, b)}")
                s = f"{stem}_{key(a)}_{key(b)}"
                texts[f"{s}"] = number_text(None if n is None else n["estimate"])
                texts[f"{s}_p"] = _p_text(None if n is None else n["p_value"])
                texts[f"{s}_holm"] = _p_text(None if n is None else n["p_holm"])
                texts[f"{s}_truth"] = number_text(None if n is None else n["truth"], missing=NO_TRUTH)
        groups = [n for label, n in numbers.items() if label.startswith(f"{estimator}: ") and " - " not in label]
        coverage = [n["coverage"] for n in groups if not math.isnan(n["coverage"])]
        texts[f"{stem}_coverage_min"] = _share(min(coverage) if coverage else None)
        texts[f"{stem}_coverage_max"] = _share(max(coverage) if coverage else None)
        sds = [n["seed_sd"] for n in groups if not math.isnan(n["seed_sd"])]
        texts[f"{stem}_sd_min"] = number_text(min(sds) if sds else None)
        texts[f"{stem}_sd_max"] = number_text(max(sds) if sds else None)
        differences = [n for label, n in numbers.items() if label.startswith(f"{estimator}: ") and " - " in label]
        texts[f"{stem}_power_max"] = _share(max((n["rejection_rate"] for n in differences), default=None))
        texts[f"{stem}_size_max"] = _share(max((n["null_rejection_rate"] for n in differences), default=None))
    return texts


# ----------------------------------------------------------------------------------------------
# What was planted, and what was realised
# ----------------------------------------------------------------------------------------------

def _combined_multipliers(book) -> pd.Series:
    """Each dual-pilot city's synergy multiplier in the specification: the product of its adoption
    order's, resource type's, size's and region's multipliers (a description of the design)."""
    cities = _cities(book)
    dual_spec = book.truth.parameters["effects"]["dual"]
    dual = cities[cities["innovation_year"].notna() & cities["smart_year"].notna()]
    order = np.where(dual["innovation_year"] < dual["smart_year"], "innovation_first",
                     np.where(dual["smart_year"] < dual["innovation_year"], "smart_first", "same_year"))
    return (pd.Series(order, index=dual.index).map(dual_spec["sequence"])
            * dual["resource_based"].astype(bool).map(dual_spec["resource_based"])
            * dual["large_city"].astype(bool).map(dual_spec["large_city"])
            * dual["region"].map(dual_spec["region"])).rename("multiplier")


def composition(book) -> pd.DataFrame | None:
    """For each group: the synergy multiplier the specification gives its trait, the mean of the
    combined multipliers of its dual-pilot cities (both from the specification), and what its
    dual-pilot city-years realise: deaths without pilots, the synergy (both - innovation only -
    smart only + none), the part of it that runs through the mediators TI and IU, the synergy per
    death without pilots, and the effect of both pilots against none. None on a real panel."""
    if book.truth is None:
        return None
    truth, data = book.truth, book.data
    splits = city_splits(book)
    multipliers = _combined_multipliers(book)
    dual_spec = truth.parameters["effects"]["dual"]
    none = truth.potential_outcomes["Safety_none"].to_numpy()
    records = {}
    for name, series in splits.usable.items():
        split = SPLITS[name]
        for group, value in split.values.items():
            rows = _rows_of(book, series, group)
            members = multipliers[series.reindex(multipliers.index) == group]
            deaths = float(none[rows].mean())
            synergy = truth.synergy(rows)
            records[(name, group)] = {
                "multiplier of the trait (specification)": dual_spec[split.trait][value],
                "mean combined multiplier (specification)": float(members.mean()),
                "dual-pilot cities": len(members),
                "deaths without pilots": deaths,
                "realised synergy": synergy,
                "of which through TI and IU": truth.mediated_TI(rows) + truth.mediated_IU(rows),
                "realised synergy per death without pilots": synergy / deaths,
                "realised effect, both vs none": truth.dual_vs_none(rows),
            }
    table = pd.DataFrame.from_dict(records, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["split", "group"])
    return table


def _ranked_alike(a: pd.Series, b: pd.Series) -> bool:
    return list(a.sort_values().index) == list(b.sort_values().index)


COMPOSITION_KEYS = (
    "central_multiplier", "west_multiplier", "east_multiplier", "rb_multiplier", "large_multiplier",
    "small_multiplier", "central_mean_multiplier", "west_mean_multiplier", "bound_share", "ranked_alike",
    "mediated_from", "mediated_to", "east_synergy_share", "central_synergy_share", "west_synergy_share",
    "large_synergy_share", "small_synergy_share", "large_synergy", "small_synergy", "large_deaths", "small_deaths",
    "large_dual_vs_none", "small_dual_vs_none", "west_dual_vs_none", "east_dual_vs_none", "west_deaths",
    "east_deaths")
"""The keys :func:`composition_texts` glues (each a note on a real panel)."""


def composition_texts(book) -> dict:
    """The numbers and the few words that depend on them in the section on what was realised."""
    texts = {name: NO_TRUTH for name in COMPOSITION_KEYS}
    table = composition(book)
    if table is None:
        return texts
    texts.update({name: "(not estimated on this panel)" for name in COMPOSITION_KEYS})
    mean = "mean combined multiplier (specification)"
    per_death = "realised synergy per death without pilots"
    trait = "multiplier of the trait (specification)"
    ranked = all(_ranked_alike(-table.loc[name, per_death], table.loc[name, mean])
                 for name in table.index.get_level_values(0).unique())
    texts.update({
        "bound_share": f"{book.truth.bound_share():.1%}",
        "ranked_alike": ("ranks the groups of every split as their mean combined multipliers do" if ranked else
                         "does not rank the groups of every split as their mean combined multipliers do"),
        "mediated_from": f"{table['of which through TI and IU'].min():.3f}",
        "mediated_to": f"{table['of which through TI and IU'].max():.3f}",
    })
    stems = {("City type", "resource-based"): "rb", ("City size", "large"): "large",
             ("City size", "small and medium"): "small", ("City region", "east"): "east",
             ("City region", "central"): "central", ("City region", "west"): "west"}
    columns = {"multiplier": (trait, "{:.2f}"), "mean_multiplier": (mean, "{:.2f}"),
               "synergy": ("realised synergy", "{:.3f}"), "deaths": ("deaths without pilots", "{:.2f}"),
               "dual_vs_none": ("realised effect, both vs none", "{:.3f}")}
    for (split, group), stem in stems.items():
        if (split, group) not in table.index:
            continue
        row = table.loc[(split, group)]
        for suffix, (column, fmt) in columns.items():
            if f"{stem}_{suffix}" in COMPOSITION_KEYS:
                texts[f"{stem}_{suffix}"] = fmt.format(row[column])
        if f"{stem}_synergy_share" in COMPOSITION_KEYS:
            texts[f"{stem}_synergy_share"] = f"{-row[per_death]:.1%}"  # the share of deaths it prevents
    return texts


# ----------------------------------------------------------------------------------------------
# The figure
# ----------------------------------------------------------------------------------------------

def _by_split(numbers: dict, prefix: str = "") -> pd.DataFrame:
    rows = {}
    for name, split in SPLITS.items():
        for group in split.groups:
            label = f"{prefix}{name}: {group}" if prefix else group_label(name, group)
            if label in numbers:
                n = numbers[label]
                rows[(name, group)] = {k: n[k] for k in ("estimate", "ci_low", "ci_high", "truth")}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high", "truth"])


FIGURE_LABELS = {
    "twfe": "this book: TWFE in the group (the paper's design)",
    "cs": "this book: Callaway-Sant'Anna",
    "dr": "this book: Callaway-Sant'Anna, covariates (DR)",
    "paper": "paper (printed)",
    "twfe_truth": "realised: both pilots vs none (TWFE's target)",
    "cs_truth": "realised: change since t-1 (C-S target)",
}


def coefficient_figure(table8: pd.DataFrame, robust: pd.DataFrame):
    """Every group's TWFE and Callaway-Sant'Anna estimates (without and with covariates) with their
    95% intervals, the paper's printed coefficients and, on a simulated panel, each estimator's
    realised target."""
    from ..report import plots

    twfe = _by_split(table8.attrs["numbers"])
    cs = _by_split(robust.attrs["numbers"], "CS: ")
    dr = _by_split(robust.attrs["numbers"], "CS with covariates: ")
    estimates = {FIGURE_LABELS["twfe"]: twfe, FIGURE_LABELS["cs"]: cs, FIGURE_LABELS["dr"]: dr}
    paper = pd.Series({(name, group): float(printed(8, column, TREATMENT)["estimate"])
                       for name, split in SPLITS.items() for group, column in split.groups.items()})
    points = {FIGURE_LABELS["paper"]: paper}
    aligned = {}
    if twfe["truth"].notna().any():
        points[FIGURE_LABELS["twfe_truth"]] = twfe["truth"]
        aligned[FIGURE_LABELS["twfe_truth"]] = FIGURE_LABELS["twfe"]
    if cs["truth"].notna().any():
        points[FIGURE_LABELS["cs_truth"]] = cs["truth"]
        aligned[FIGURE_LABELS["cs_truth"]] = (FIGURE_LABELS["cs"], FIGURE_LABELS["dr"])
    return plots.group_coefficient_plot(estimates, points, xlabel="effect on Safety (hundreds of deaths)",
                                        aligned=aligned)


def figure_texts(book) -> dict:
    """The figure caption's description of the data and of the truth markers."""
    if book.truth is None:
        return {"figure_data": "The reader's real panel; there is no realised truth to mark."}
    return {"figure_data": ("The crosses and plus signs are the realised targets in the simulated panel "
                            "(each on its estimator's line): the effect of both pilots against none for TWFE, "
                            "its change since the year before the dual-pilot year for Callaway-Sant'Anna. "
                            "Simulated panel.")}


# ----------------------------------------------------------------------------------------------
# The exercises
# ----------------------------------------------------------------------------------------------

def equal_regions(seed: int | None = None) -> dict:
    """Exercise: the interacted regression by region on the book's panel and on the same seed with
    the regions' synergy multipliers equal. For each world: the estimated and realised west - east
    and central - east differences, the p-value of equal regions, and the deaths without pilots of
    the western and eastern dual-pilot city-years."""
    from ..simulation.generator import simulate_panel
    from ..simulation.specification import no_heterogeneity

    out = {}
    for world, overrides in (("book", None), ("equal", no_heterogeneity("region"))):
        sim = simulate_panel(seed=seed, overrides=overrides)
        region = _cities(sim)["region"]
        result = heterogeneity.fully_interacted_twfe(sim.data, OUTCOME, TREATMENT, region, controls=CONTROLS,
                                                     reference="east")
        rows = {g: _rows_of(sim, region, g) for g in ("east", "central", "west")}
        none = sim.truth.potential_outcomes["Safety_none"].to_numpy()
        out[world] = {
            "west_east": float(result.table.loc["west - east", "estimate"]),
            "central_east": float(result.table.loc["central - east", "estimate"]),
            "west_east_truth": sim.truth.dual_vs_none(rows["west"]) - sim.truth.dual_vs_none(rows["east"]),
            "central_east_truth": sim.truth.dual_vs_none(rows["central"]) - sim.truth.dual_vs_none(rows["east"]),
            "equal_p": result.extra["equality_test"]["p_value"],
            "west_deaths": float(none[rows["west"]].mean()), "east_deaths": float(none[rows["east"]].mean()),
        }
    return out


def log_scale_table(book) -> pd.DataFrame:
    """Exercise: Table 8 on the log of deaths beside Table 8 in deaths, by group.

    Columns: the TWFE coefficient of each group with ``log(Safety)`` as the outcome (a city-year
    without deaths counted as one death, 0.01 hundred) and, on a simulated panel, the realised mean
    of ``log(Safety_both) - log(Safety_none)`` over the group's dual-pilot city-years (the
    proportional effect, which the synergy's multipliers scale); then the TWFE coefficient in
    hundreds of deaths and its realised truth, and the group's mean combined multiplier."""
    data = book.data.copy()
    data["log_Safety"] = np.log(data[OUTCOME].clip(lower=0.01))
    splits = city_splits(book)
    multipliers = _combined_multipliers(book) if book.truth is not None else None
    if book.truth is not None:
        po = book.truth.potential_outcomes
        log_effect = (np.log(po["Safety_both"].clip(lower=0.01)) - np.log(po["Safety_none"].clip(lower=0.01))).to_numpy()
    records = {}
    for name, series in splits.usable.items():
        split = SPLITS[name]
        on_log = heterogeneity.fully_interacted_twfe(data, "log_Safety", TREATMENT, series, controls=CONTROLS,
                                                     reference=split.reference)
        in_deaths = heterogeneity.fully_interacted_twfe(data, OUTCOME, TREATMENT, series, controls=CONTROLS,
                                                        reference=split.reference)
        for group in split.groups:
            rows = _rows_of(book, series, group)
            records[(name, group)] = {
                "TWFE, log deaths": float(on_log.table.loc[group, "estimate"]),
                "realised, log deaths": math.nan if book.truth is None else float(log_effect[rows].mean()),
                "TWFE, deaths": float(in_deaths.table.loc[group, "estimate"]),
                "realised, deaths": math.nan if book.truth is None else book.truth.dual_vs_none(rows),
                "mean combined multiplier": math.nan if multipliers is None else
                float(multipliers[series.reindex(multipliers.index) == group].mean()),
            }
    table = pd.DataFrame.from_dict(records, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["split", "group"])
    return table


def all_traits_interaction(book) -> dict:
    """Exercise: one TWFE regression with ``Dual_policy`` and its interactions with resource-based,
    large and the central and western belts (the paper's controls, city and year effects). Returns
    the resource-based interaction (estimate, s.e.) beside the split-sample difference
    resource-based - non-resource-based."""
    data = book.data.copy()
    cities = _cities(book)
    splits = city_splits(book)
    traits = {"resource_based": data["city"].map(cities["resource_based"].astype(bool)).astype(float)}
    if splits.groups["City size"] is not None:
        traits["large"] = data["city"].map(splits.groups["City size"]).eq("large").astype(float)
    for belt in ("central", "west"):
        traits[belt] = data["city"].map(cities["region"]).eq(belt).astype(float)
    names = []
    for trait, values in traits.items():
        data[f"Dual_x_{trait}"] = data[TREATMENT] * values
        names.append(f"Dual_x_{trait}")
    result = did.twfe(data, OUTCOME, TREATMENT, controls=(*names, *CONTROLS))
    split = heterogeneity.fully_interacted_twfe(book.data, OUTCOME, TREATMENT, splits.groups["City type"],
                                                controls=CONTROLS, reference="non-resource-based")
    return {"interaction": float(result.table.loc["Dual_x_resource_based", "estimate"]),
            "interaction_se": float(result.table.loc["Dual_x_resource_based", "std_error"]),
            "split_difference": float(split.table.loc["resource-based - non-resource-based", "estimate"]),
            "result": result}


def glue_texts(texts: dict) -> None:
    """Glue every text of ``texts`` under its key (:func:`citypilots.report.glue.glue_text`)."""
    for name, text in texts.items():
        glue_text(name, text)


def exercise_texts(book) -> dict:
    """The numbers the exercises' solutions quote (the exercise on equal regions always runs on the
    simulation, whichever panel the chapter ran on)."""
    equal = equal_regions()
    texts = {f"ex_{world}_{k}": (p_text(v) if k == "equal_p" else f"{v:.2f}" if k.endswith("deaths") else f"{v:.3f}")
             for world, values in equal.items() for k, v in values.items()}
    texts["ex_equal_region_multipliers"] = ", ".join(f"{k} {v:.2f}" for k, v in
                                                    book_spec_multipliers("region").items())
    interaction = all_traits_interaction(book)
    texts["ex_interaction"] = f"{interaction['interaction']:.3f}"
    texts["ex_interaction_se"] = f"{interaction['interaction_se']:.3f}"
    texts["ex_split_difference"] = f"{interaction['split_difference']:.3f}"
    logs = log_scale_table(book)
    for split in SPLITS.values():
        for group in split.groups:
            for stem in ("log", "deaths", "log_truth"):
                texts[f"ex_{stem}_{key(group)}"] = "(not estimated on this panel)"
    for (name, group), row in logs.iterrows():
        for column, stem in (("TWFE, log deaths", "log"), ("TWFE, deaths", "deaths")):
            texts[f"ex_{stem}_{key(group)}"] = f"{row[column]:.3f}"
        texts[f"ex_log_truth_{key(group)}"] = number_text(row["realised, log deaths"], missing=NO_TRUTH)
    if book.truth is None:
        texts["ex_log_ranked"] = NO_TRUTH
    else:
        ranked = all(_ranked_alike(-logs.loc[name, "realised, log deaths"], logs.loc[name, "mean combined multiplier"])
                     for name in logs.index.get_level_values(0).unique())
        texts["ex_log_ranked"] = "rank" if ranked else "do not rank"
    return texts


def book_spec_multipliers(trait: str) -> dict:
    """The synergy multipliers of ``trait`` in the book's specification (a design description)."""
    from ..simulation.specification import load_spec

    return dict(load_spec()["effects"]["dual"][trait])
