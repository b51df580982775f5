"""PyNN's standard cell, synapse and current-source types, translated to neurosim's models."""
