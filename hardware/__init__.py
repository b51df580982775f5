"""Hardware adapters (imported as ``neurosim.hardware``)."""
