"""The public name of :mod:`citypilots.estimators.threshold`: ``citypilots.threshold.panel_threshold``."""

from .estimators.threshold import ThresholdResult, critical_value, panel_threshold  # noqa: F401

__all__ = ["ThresholdResult", "critical_value", "panel_threshold"]
