"""Dataset loaders (NumPy only; nothing is downloaded unless asked)."""
