"""Simulated panels: specification, generator (draws and potential outcomes), truth, calibration, Monte Carlo."""
