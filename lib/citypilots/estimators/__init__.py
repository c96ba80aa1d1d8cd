"""Estimators, each returning the one result shape of :mod:`citypilots.estimators.estimates`."""
