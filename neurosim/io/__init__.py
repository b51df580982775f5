"""Results files: one HDF5 file per run, a superset of SONATA (spikes and reports readable by
libsonata) plus neurosim's rates, metrics, weights, configuration and provenance.

:class:`ResultsWriter` streams monitor blocks to disk and renames the file into place once
it is complete; :func:`load` reads it back in SI units. :func:`export_nwb` writes a results
file as NWB (pynwb), :func:`to_neo` reads it as a Neo ``Block`` and :func:`spike_statistics`
computes its ISI CV, Fano factors and pairwise correlations with Elephant.
"""

from neurosim.io.neo_block import to_neo
from neurosim.io.nwb import export_nwb
from neurosim.io.reader import Rate, Report, Results, Spikes, Weights, load
from neurosim.io.stats import spike_statistics
from neurosim.io.writer import ResultsSink, ResultsWriter

__all__ = ["ResultsWriter", "ResultsSink", "load", "Results", "Spikes", "Report", "Rate", "Weights", "export_nwb",
           "to_neo", "spike_statistics"]
