"""A PyNN backend on neurosim: ``import neurosim.pynn as sim``.

Built as PyNN's own backends are (``simulator``, ``populations``, ``projections``,
``recording``, ``standardmodels``, ``control``): PyNN's objects describe the model, PyNN's
connectors choose the synapses, and the first ``run`` builds one native
:class:`~neurosim.network.Network` from them (see :mod:`neurosim.pynn.simulator`). Recorded
data come back as Neo blocks. Needs the optional dependency PyNN (``pip install
neurosim[pynn]``). See docs/pynn.md.
"""

from pyNN import errors, random, space  # noqa: F401
from pyNN.connectors import *  # noqa: F401, F403
from pyNN.network import Network  # noqa: F401
from pyNN.random import GSLRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import *  # noqa: F401, F403
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType

from neurosim.pynn.control import (  # noqa: F401
    end, get_current_time, get_max_delay, get_min_delay, get_time_step, initialize, num_processes, rank, reset, run,
    run_for, run_until, setup,
)
from neurosim.pynn.populations import Assembly, Population, PopulationView  # noqa: F401
from neurosim.pynn.procedural_api import connect, create, record, record_gsyn, record_v, set  # noqa: F401
from neurosim.pynn.projections import Projection  # noqa: F401
from neurosim.pynn.standardmodels.cells import *  # noqa: F401, F403
from neurosim.pynn.standardmodels.electrodes import (  # noqa: F401
    ACSource, DCSource, NoisyCurrentSource, StepCurrentSource,
)
from neurosim.pynn.standardmodels.synapses import (  # noqa: F401
    AdditiveWeightDependence, MultiplicativeWeightDependence, SpikePairRule, STDPMechanism, StaticSynapse,
)


def list_standard_models():
    """The names of the standard cell types neurosim has models for."""
    return [name for name, obj in globals().items() if isinstance(obj, type) and issubclass(obj, StandardCellType)
            and (getattr(obj, "native_model", None) is not None or name in ("SpikeSourcePoisson", "SpikeSourceArray"))]


class NativeRNG(NumpyRNG):
    """The simulator's own generator: neurosim builds connectivity with PyNN's connectors in NumPy,
    so this is :class:`~pyNN.random.NumpyRNG`."""
