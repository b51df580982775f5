"""Scenarios: TOML in, validated completely, run by a registered task kind, HDF5 out."""
