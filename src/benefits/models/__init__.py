"""Domain models: claim, accumulators, settlement, case file."""
