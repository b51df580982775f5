"""Results files: one HDF5 file per run, a superset of SONATA (spikes and reports readable by
libsonata) plus neurosim's rates, metrics, weights, configuration and provenance.

:class:`ResultsWriter` streams monitor blocks to disk and renames the file into place once
it is complete; :func:`load` reads it back in SI units.
"""

from neurosim.io.reader import Rate, Report, Results, Spikes, Weights, load
from neurosim.io.writer import ResultsSink, ResultsWriter

__all__ = ["ResultsWriter", "ResultsSink", "load", "Results", "Spikes", "Report", "Rate", "Weights"]
