"""Test scaffolding shipped with ranvier: seeded random netx networks and inputs (the
equivalence sweeps, the benchmarks and the shipped example use them)."""
