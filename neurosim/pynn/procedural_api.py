"""PyNN's procedural API (``create``, ``connect``, ``record``, ``set``) for neurosim."""

from pyNN import common
from pyNN.connectors import FixedProbabilityConnector

from neurosim.pynn import simulator
from neurosim.pynn.populations import Population
from neurosim.pynn.projections import Projection
from neurosim.pynn.standardmodels.synapses import StaticSynapse

create = common.build_create(Population)
connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)
set = common.set
record = common.build_record(simulator)


def record_v(source, filename):
    return record(["v"], source, filename)


def record_gsyn(source, filename):
    return record(["gsyn_exc", "gsyn_inh"], source, filename)
