"""The real inputs: cities, pilot calendars and their completion, panel loading, the paper's numbers, comparison groups."""
