"""The model library (imported as ``neurosim.models``)."""
