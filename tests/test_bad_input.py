"""Malformed scenario values: every one is refused by ``validate`` and by ``run`` alike, before
anything is simulated, with exit 2, a one-line message naming the field, and no file left."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from neurosim.cli import main

SCENARIO = textwrap.dedent("""\
    schema_version = 1
    name = "tiny"

    [simulation]
    duration = "5 ms"
    dt = "0.1 ms"
    seed = 1

    [[model.populations]]
    name = "exc"
    size = 20
    neuron = { model = "CubaLIF", tau_m = "20 ms", v_th = "-50 mV", v_reset = "-60 mV", v_rest = "-60 mV" }
    v_init = { dist = "uniform", low = "-60 mV", high = "-50 mV" }

    [[model.populations]]
    name = "out"
    size = 5
    neuron = { model = "LIF", tau_m = "10 ms" }

    [[model.sources]]
    name = "noise"
    type = "poisson"
    size = 10
    rate = "20 Hz"

    [[model.sources]]
    name = "times"
    type = "spikes"
    size = 2
    times = ["1 ms", "2 ms"]
    indices = [0, 1]

    [[model.connections]]
    pre = "noise"
    post = "exc"
    connector = { type = "fixed_probability", p = 0.5 }
    weight = "20 pA"
    delay = "1 ms"

    [[model.connections]]
    pre = "exc"
    post = "out"
    connector = { type = "all_to_all" }
    weight = { dist = "normal", mean = "0.5 mV", std = "0.1 mV" }
    delay = { dist = "uniform", low = "0.1 ms", high = "2 ms" }

    [[model.currents]]
    target = "exc"
    amplitudes = ["0 pA", "100 pA"]
    times = ["0 ms", "1 ms"]

    [[record]]
    type = "spikes"

    [[record]]
    type = "state"
    populations = ["exc"]
    variables = ["v"]
    indices = [0, 1]

    [output]
    path = "results/tiny.h5"
    """)

#: (override, text the message must contain: the field's dotted path, and what is wrong)
CASES = [
    # non-finite numbers wherever a number is accepted
    ('simulation.duration=nan', "simulation.duration: must be a finite number"),
    ('simulation.duration=inf', "simulation.duration: must be a finite number"),
    ('simulation.dt=nan', "simulation.dt: must be a finite number"),
    ('simulation.dt=-inf', "simulation.dt: must be a finite number"),
    ('model.connections.0.delay=nan', "model.connections.0.delay: must be a finite number"),
    ('model.connections.0.delay=inf', "model.connections.0.delay: must be a finite number"),
    ('model.connections.0.weight=nan', "model.connections.0.weight: must be a finite number"),
    ('model.connections.0.weight=inf', "model.connections.0.weight: must be a finite number"),
    ('model.connections.0.weight=-inf', "model.connections.0.weight: must be a finite number"),
    ('model.connections.1.weight.mean=nan', "model.connections.1.weight.mean: must be a finite number"),
    ('model.connections.1.weight.std=inf', "model.connections.1.weight.std: must be a finite number"),
    ('model.connections.1.delay.high=inf', "model.connections.1.delay.high: must be a finite number"),
    ('model.connections.1.delay.low=nan', "model.connections.1.delay.low: must be a finite number"),
    ('model.connections.0.connector.p=nan', "model.connections.0.connector.p: must be a finite number"),
    ('model.connections.0.connector.p=inf', "model.connections.0.connector.p: must be a finite number"),
    ('model.connections.0.connector={type="distance", c=0.1, lam=inf}',
     "model.connections.0.connector.lam: must be a finite number"),
    ('model.connections.0.connector={type="distance", c=nan, lam=2.0}',
     "model.connections.0.connector.c: must be a finite number"),
    ('model.sources.0.rate=inf', "model.sources.0.rate: must be a finite number"),
    ('model.sources.0.rate=nan', "model.sources.0.rate: must be a finite number"),
    ('model.sources.0.rate=[1.0, nan]', "model.sources.0.rate.1: must be a finite number"),
    ('model.sources.0.start=nan', "model.sources.0.start: must be a finite number"),
    ('model.sources.0.stop=nan', "model.sources.0.stop: must be a finite number"),
    ('model.sources.1.times=["1 ms", nan]', "model.sources.1.times.1: must be a finite number"),
    ('model.populations.0.neuron.tau_m=inf', "CubaLIF.tau_m: must be a finite number"),
    ('model.populations.0.neuron.tau_m=nan', "CubaLIF.tau_m: must be a finite number"),
    ('model.populations.0.neuron.v_th=nan', "CubaLIF.v_th: must be a finite number"),
    ('model.populations.0.neuron.c_m=-inf', "CubaLIF.c_m: must be a finite number"),
    ('model.populations.0.neuron.tau_syn_exc=inf', "CubaLIF.tau_syn_exc: must be a finite number"),
    ('model.populations.0.neuron.t_ref=nan', "CubaLIF.t_ref: must be a finite number"),
    ('model.populations.0.neuron.timing="exact"', "CubaLIF.timing: must be 'grid' or 'continuous'"),
    ('model.populations.1.neuron.v_reset=-inf', "LIF.v_reset: must be a finite number"),
    ('model.populations.0.v_init.low=nan', "model.populations.0.v_init.low: must be a finite number"),
    ('model.populations.0.v_init=nan', "model.populations.0.v_init: must be a finite number"),
    ('model.currents.0.amplitudes=nan', "model.currents.0.amplitudes: must be a finite number"),
    ('model.currents.0.amplitudes=["0 pA", inf]', "model.currents.0.amplitudes.1: must be a finite number"),
    ('model.currents.0.times=[0.0, nan]', "model.currents.0.times.1: must be a finite number"),
    ('record.1.interval=nan', "record.1.interval: must be a finite number"),
    ('record.1.interval=inf', "record.1.interval: must be a finite number"),
    ('model.connections.0.connector={type="arrays", pre=[0], post=[0], weight=[nan]}',
     "connector.weight[0]: must be a finite number"),
    ('model.connections.0.connector={type="arrays", pre=[0, 1], post=[0, 1], delay=[0.001, inf]}',
     "model.connections.0.connector.delay.1: must be a finite number"),
    ('simulation.max_memory_gib=nan', "simulation.max_memory_gib: must be a finite number"),
    # values that run used to refuse only at run time (validate checks what run checks)
    ('model.populations.0.v_init.low="-40 mV"', "v_init.high: '-50 mV' is below low '-40 mV'"),
    ('model.populations.0.v_init.low="-60 pA"', "v_init.low: '-60 pA' is a current but a voltage is expected"),
    ('model.populations.0.v_init={dist="normal", mean="-55 mV", std="-1 mV"}', "v_init.std: must be >= 0"),
    ('model.connections.1.weight={dist="uniform", low="2 mV", high="1 mV"}', "weight.high: '1 mV' is below low '2 mV'"),
    ('model.connections.1.weight="1 ms"', "weight: '1 ms' is a time but a voltage is expected"),
    ('model.connections.0.delay="0.15 ms"', "delay 0.00015 s is not a multiple of dt = 0.0001 s"),
    ('model.sources.1.times=["1 ms", "2.05 ms"]', "times: 0.00205 s is not a multiple of dt = 0.0001 s"),
    ('model.currents.0.times=["0 ms", "1.05 ms"]', "times: 0.00105 s is not a multiple of dt = 0.0001 s"),
    ('record.1.interval="0.25 ms"', "record.state_exc_1.interval: 0.00025 s is not a multiple of dt"),
    ('record.2={type="spikes", populations=["exc"]}', "record.2: record.0 already writes /spikes/exc"),
    ('record.2={type="state", populations=["exc"], variables=["v"]}', "record.2: record.1 already writes /report/exc"),
    ('record=[{type="weights"}, {type="weights", connections=["exc_to_out"]}]',
     "record.1.connections: record.0.connections already writes /weights/exc_to_out"),
    # Poisson sources spike at most once per step
    ('model.sources.0.rate="20 kHz"', "population.noise.rate: 20000 Hz asks for 2 spikes per step"),
    ('model.sources.0.rate=["1 Hz", "10.5 kHz", "1 Hz", "1 Hz", "1 Hz", "1 Hz", "1 Hz", "1 Hz", "1 Hz", "1 Hz"]',
     "population.noise.rate: 10500 Hz asks for 1.05 spikes per step"),
    # per-target Poisson inputs
    ('model.inputs=[{target="exc", n=0, rate="10 Hz", weight="5 pA"}]', "model.inputs.0.n: must be >= 1"),
    ('model.inputs=[{target="exc", n=10, rate=nan, weight="5 pA"}]', "model.inputs.0.rate: must be a finite number"),
    ('model.inputs=[{target="exc", n=10, rate="20 kHz", weight="5 pA"}]',
     "model.inputs.0.rate: 20000 Hz asks for 2 spikes per step"),
    ('model.inputs=[{target="exc", n=10, rate="10 Hz", weight=inf}]', "model.inputs.0.weight: must be a finite number"),
    ('model.inputs=[{target="exc", n=10, rate="10 Hz", weight="5 mV"}]',
     "model.inputs.0.weight: '5 mV' is a voltage but a current is expected"),
    ('model.inputs=[{target="exx", n=10, rate="10 Hz", weight="5 pA"}]',
     "model.inputs.0.target: unknown population 'exx'; did you mean 'exc'?"),
    ('model.inputs=[{target="noise", n=10, rate="10 Hz", weight="5 pA"}]',
     "model.inputs.0.target: 'noise' is not a neuron population"),
    ('model.inputs=[{target="exc", n=10, rate="10 Hz", weight="5 pA", start="3 ms", stop="1 ms"}]',
     "model.inputs.0.stop: active in [start, stop)"),
    # noise inputs
    ('model.noise=[{target="exc", sigma="5 mV/ms**0.5"}]',
     "model.noise.0.sigma: '5 mV/ms**0.5' is in"),
    ('model.noise=[{target="exc", sigma="5 pA/ms**0.5", variable="w"}]',
     "model.noise.0.variable: 'w' is not a state variable"),
    ('model.noise=[{target="exc", sigma=nan}]', "model.noise.0.sigma: must be a finite number"),
    ('model.noise=[{target="exc[0:99]", sigma="5 pA/ms**0.5"}]', "model.noise.0.target: exc[0:99] is out of range"),
    # sizes the machine cannot hold
    ('model.populations.0.size=100000000', "model: the network needs about"),
    ('model.populations.1.size=20000000', "set simulation.max_memory_gib to run it anyway"),
    ('simulation.max_memory_gib=1e-6', "model: the network needs about"),
    # other malformed values
    ('simulation.duration="-1 ms"', "simulation.duration: must be > 0"),
    ('simulation.duration="1 mV"', "simulation.duration: '1 mV' is a voltage but a time is expected"),
    ('model.connections.0.connector.p=1.5', "model.connections.0.connector.p: must be <= 1"),
    ('model.sources.0.rate="-5 Hz"', "model.sources.0.rate: must be >= 0"),
    ('model.connections.0.weight=true', "model.connections.0.weight: true is not valid here"),
    ('model.populations.0.neuron.tau_m="0 ms"', "CubaLIF.tau_m: must be > 0"),
    ('record.1.populations=["noise"]', "record.1.populations: 'noise' is a spike source"),
    # slices of populations ("P[a:b]") wherever a population is named
    ('model.connections.0.post="exx[0:5]"', "model.connections.0.post: unknown population 'exx'; did you mean 'exc'?"),
    ('model.connections.0.post="exc[0:99]"', "model.connections.0.post: exc[0:99] is out of range: exc has 20 neurons"),
    ('model.connections.1.pre="exc[10:5]"', "model.connections.1.pre: exc[10:5] is empty: start must be less than stop"),
    ('model.connections.1.pre="exc[5:5]"', "model.connections.1.pre: exc[5:5] is empty"),
    ('model.connections.1.pre="exc[0:10:2]"', "model.connections.1.pre: exc[0:10:2] has step 2: only contiguous slices"),
    ('model.connections.1.pre="exc[0:x]"', "model.connections.1.pre: expected a population name or a slice such as "
                                           "P[0:100], got 'exc[0:x]'"),
    ('model.connections.0.pre="noise[-1:]"', "model.connections.0.pre: noise[-1:] is out of range: noise has 10 neurons"),
    ('model.currents.0.target="exc[15:25]"', "model.currents.0.target: exc[15:25] is out of range: exc has 20 neurons"),
    ('model.currents.0.target="times[0:1]"', "model.currents.0: current.target: 'times[0:1]' is a spike source"),
    ('record.1.populations=["exc[20:]"]', "record.1.populations: exc[20:] is empty"),
    ('record.1.populations=["exc]["]', "record.1.populations: expected a population name or a slice"),
    ('record.1.merge=true', "record.1.merge: only a spikes record can be merged"),
    # a model written as equations: names and units are checked before anything runs
    ('model.populations.1.neuron={model="equations", equations="dv/dt = -v/tau + i_ext : volt", threshold="v > v_th", '
     'parameters={tau="10 ms", v_th="1 mV", v_rest="0 mV"}}',
     "out.equations: dv/dt: inconsistent units: i_ext is in A but -v/tau is in V/s"),
    ('model.populations.1.neuron={model="equations", equations="dv/dt = -v/tau_x : volt", threshold="v > v_th", '
     'parameters={tau="10 ms", v_th="1 mV", v_rest="0 mV"}}', "out.equations: dv/dt: unknown symbol 'tau_x'"),
    ('model.populations.1.neuron={model="equations", equations="dv/dt = -v/tau : volt", threshold="v > 1*ms", '
     'parameters={tau="10 ms", v_rest="0 mV"}}', "out.threshold: inconsistent units: v is in V but ms is in s"),
    ('model.populations.1.neuron={model="equations", equations="dv/dt = -v/tau : volt", threshold="v > v_th", '
     'reset="w = 0*mV", parameters={tau="10 ms", v_th="1 mV", v_rest="0 mV"}}', "out.reset: 'w' is not a state variable"),
    ('model.populations.1.neuron={model="equations", equations="dv/dt = -v/tau : volt", '
     'parameters={tau="10 ms", v_rest="0 mV"}}', "model.populations.1.neuron: threshold: required for model = 'equations'"),
    ('model.populations.1.neuron={model="equations", equations="dv/dt = -v/tau : volt", threshold="v > v_th", '
     'parameters={tau="10 ms", v_th="1 mV", v_rest="0 mV"}, tresh="x"}',
     "model.populations.1.neuron: tresh: unknown key of a model written as equations; did you mean 'threshold'?"),
    ('model.populations.1.neuron={model="equations", equations="dv/dt = -v/tau : volt", threshold="v > v_th", '
     'parameters={tau="10 ms", v_th="1 mV", v_rest="0 mV"}, method="rk5"}', "out.method: unknown integration method"),
    ('model.populations.1.neuron={model="equations", equations="dv/dt = v**2/(tau*v_th) : volt", threshold="v > v_th", '
     'parameters={tau="10 ms", v_th="1 mV", v_rest="0 mV"}}', "out.method: dv/dt is not linear"),
    ('model.populations.1.neuron={model="AdEx", tau_w="0 ms"}', "AdEx.tau_w: must be > 0"),
]


def _write(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(SCENARIO)
    return path


@pytest.mark.parametrize("override, message", CASES, ids=[c[0][:60] for c in CASES])
def test_validate_and_run_refuse_naming_the_field(tmp_path, monkeypatch, capsys, override, message):
    scenario = _write(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("neurosim.engine.footprint.available_memory", lambda: 4.0 * (1 << 30))  # any machine
    for command in ("validate", "run"):
        assert main([command, str(scenario), "--set", override, "--quiet"] if command == "run"
                    else [command, str(scenario), "--set", override]) == 2, command
        err = capsys.readouterr().err
        assert message in err, (command, err)
        assert err.count("\n") == 1 and "Traceback" not in err and "np.float" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["tiny.toml"]  # nothing written, not even a log


def test_there_are_at_least_sixty_cases():
    assert len(CASES) >= 60


def test_the_scenario_itself_is_valid_and_runs(tmp_path, monkeypatch, capsys):
    """The base of every case runs: each refusal above is due to its override alone."""
    scenario = _write(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(scenario), "--quiet"]) == 0
    assert (tmp_path / "results" / "tiny.h5").is_file()


def test_recordings_larger_than_the_free_disk_are_refused(tmp_path, monkeypatch, capsys):
    scenario = _write(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("shutil.disk_usage", lambda path: shutil._ntuple_diskusage(100 << 30, 99 << 30, 1 << 30))
    # 2 traced neurons at every step of 10^4 s: 1e8 samples × 2 × 4 B = 0.75 GiB, 1 GiB free: runs
    assert main(["validate", str(scenario), "--set", "simulation.duration=10000"]) == 0
    # 20 neurons: 7.45 GiB
    for command in ("validate", "run"):
        assert main([command, str(scenario), "--set", "simulation.duration=10000", "--set",
                     f"record.1.indices={list(range(20))}"]) == 2
        err = capsys.readouterr().err
        assert "record: the state and rate recordings need 7.45 GiB but 1 GiB are free" in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["tiny.toml"]


def test_large_recordings_are_announced(tmp_path, monkeypatch, capsys):
    scenario = _write(tmp_path)
    monkeypatch.chdir(tmp_path)
    # 2 traced neurons at every step of 3000 s: 3e7 samples × 2 × 4 B = 0.22 GiB; 100 neurons: 11 GiB
    assert main(["validate", str(scenario), "--set", "simulation.duration=3000", "--set",
                 f"record.1.indices={list(range(20))}"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("neurosim: warning: the state and rate recordings will take 2.24 GiB"), err
    assert main(["validate", str(scenario), "--set", "simulation.duration=30"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_brian2_spellings_of_units_are_read(tmp_path, monkeypatch, capsys):
    from neurosim.units import parse_quantity

    assert parse_quantity("20*ms", "time") == parse_quantity("20 msecond", "time") == 0.02
    assert parse_quantity("5 * nS", "conductance") == 5e-9 and parse_quantity("-65*mvolt", "voltage") == -0.065
    for bad in ("20**ms", "*ms", "20 * 3 ms"):
        with pytest.raises(ValueError, match="cannot read"):
            parse_quantity(bad, "time")


def test_a_byte_order_mark_and_a_folder_as_the_scenario(tmp_path, capsys):
    scenario = _write(tmp_path)
    scenario.write_bytes(b"\xef\xbb\xbf" + scenario.read_bytes())  # saved by an editor that writes a BOM
    assert main(["validate", str(scenario)]) == 0
    assert main(["validate", str(tmp_path)]) == 2
    assert f"{tmp_path}: is a folder; give a scenario file (.toml)" in capsys.readouterr().err
