"""Simulation specifications: the data-generating process of a study, as a YAML file.

A specification (``data/simulation/<name>.yml``) holds every parameter of a simulated panel:
the sample of cities, the covariates' targets, the outcome equation, the planted effects, the
calibration target. :func:`load_spec` reads one and applies overrides (dotted keys, a typo is an
error); :func:`null_world` gives the overrides that switch one effect off.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from .._paths import data_dir

__all__ = ["spec_path", "load_spec", "planted_sizes", "null_world", "no_heterogeneity", "SYNERGY_TRAITS"]


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


def planted_sizes(spec: dict) -> dict:
    """The specification's sizes of the single-pilot effects and of the dual-pilot synergy.

    Heterogeneous mode: shares of a city's deaths (``innovation_single``, ``smart_single`` and
    the synergy's full ``dual.level``, before its multipliers). Homogeneous mode: the constant
    sizes of ``effects.homogeneous_sizes``, in hundreds of deaths. The mediated parts (a x b of
    TI and IU) come on top of ``dual``. A design description: the truth a chapter shows is an
    estimand of :class:`citypilots.simulation.truth.Truth`.
    """
    effects = spec["effects"]
    if effects["homogeneous"]:
        return dict(effects["homogeneous_sizes"])
    return {"innovation_single": effects["innovation_single"], "smart_single": effects["smart_single"],
            "dual": effects["dual"]["level"]}


_DUAL_ONLY_EFFECTS = {"effects.dual.level": 0.0, "effects.dual.moderation_SR": 0.0,
                      "effects.mediators.TI.a": 0.0, "effects.mediators.IU.a": 0.0}
_SINGLE_EFFECTS = {"effects.innovation_single": 0.0, "effects.smart_single": 0.0}


SYNERGY_TRAITS = ("sequence", "resource_based", "large_city", "region")
"""The traits whose multipliers scale the dual-pilot synergy (``effects.dual.<trait>``)."""


def no_heterogeneity(trait: str, spec: str | Path | dict | None = None) -> dict:
    """The overrides that make the synergy's multipliers of ``trait`` (one of
    :data:`SYNERGY_TRAITS`) all 1.0: the default specification in which the synergy's share no
    longer depends on that trait. The other traits' multipliers, the single-pilot shares and the
    cities' deaths are unchanged, so effects counted in deaths can still differ by the trait.
    Also available as ``null_world("no_heterogeneity_<trait>")``."""
    if trait not in SYNERGY_TRAITS:
        raise KeyError(f"no synergy multiplier for {trait!r}; known: {', '.join(SYNERGY_TRAITS)}")
    multipliers = load_spec(spec)["effects"]["dual"][trait]
    return {f"effects.dual.{trait}": {value: 1.0 for value in multipliers}}


def null_world(name: str, spec: str | Path | dict | None = None) -> dict:
    """The overrides that switch off the effect behind estimand ``name``: the default
    specification with that one effect off (its "null world").

    ``synergy``: every part that acts only when a city holds both pilots (the synergy, its
    moderation by SR, and the mediators, which respond to the dual pilot). ``dual_vs_none`` and
    ``second_given_first``: every own-pilot effect. ``innovation_single``, ``smart_single``,
    ``mediated_TI``, ``mediated_IU``, ``moderation_SR``, ``spillover``: that one part. Another
    policy's name: that policy's effect. In the homogeneous mode the sizes of
    ``homogeneous_sizes`` are switched off as well. ``no_heterogeneity_<trait>``: the synergy's
    multipliers of that trait all 1.0 (:func:`no_heterogeneity`; not a world without an effect).
    """
    loaded = load_spec(spec)
    homogeneous_single = {f"effects.homogeneous_sizes.{k}": 0.0 for k in ("innovation_single", "smart_single")}
    homogeneous_dual = {"effects.homogeneous_sizes.dual": 0.0}
    worlds = {
        "dual_vs_none": {**_SINGLE_EFFECTS, **_DUAL_ONLY_EFFECTS, **homogeneous_single, **homogeneous_dual},
        "second_given_first": {**_SINGLE_EFFECTS, **_DUAL_ONLY_EFFECTS, **homogeneous_single, **homogeneous_dual},
        "synergy": {**_DUAL_ONLY_EFFECTS, **homogeneous_dual},
        "innovation_single": {"effects.innovation_single": 0.0, "effects.homogeneous_sizes.innovation_single": 0.0},
        "smart_single": {"effects.smart_single": 0.0, "effects.homogeneous_sizes.smart_single": 0.0},
        "mediated_TI": {"effects.mediators.TI.a": 0.0},
        "mediated_IU": {"effects.mediators.IU.a": 0.0},
        "mediator_shift_TI": {"effects.mediators.TI.a": 0.0},
        "mediator_shift_IU": {"effects.mediators.IU.a": 0.0},
        "moderation_SR": {"effects.dual.moderation_SR": 0.0},
        "spillover": {"effects.spillover.bands_km": []},
    }
    worlds.update({policy: {f"effects.other_policies.{policy}": 0.0} for policy in loaded["other_policies"]})
    worlds.update({f"no_heterogeneity_{trait}": no_heterogeneity(trait, loaded) for trait in SYNERGY_TRAITS})
    if name not in worlds:
        raise KeyError(f"no null world for {name!r}; known: {', '.join(worlds)}")
    return worlds[name]
