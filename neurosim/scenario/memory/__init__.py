"""The ``memory`` task: associative-memory experiments run from scenarios (one module per
experiment, registered by :mod:`neurosim.scenario.memory.task`)."""
