"""The SONATA part of a results file: exact layout, and round trips through libsonata."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from neurosim.io import ResultsWriter
from test_io import recorded_run, small_network

import libsonata


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("sonata") / "run.h5"
    return path, recorded_run(path, block_steps=100)


def _sonata_datasets(f: h5py.File) -> list[h5py.Dataset]:
    found = []
    for group in ("spikes", "report"):
        f[group].visititems(lambda name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def test_root_attributes_and_sorting_enum(run):
    path, _ = run
    with h5py.File(path, "r") as f:
        assert f.attrs["magic"] == 0x0A7A and f.attrs["magic"].dtype == np.uint32
        assert f.attrs["version"].tolist() == [0, 1] and f.attrs["version"].dtype == np.uint32
        for pop in ("exc", "inh"):
            attr_type = f[f"spikes/{pop}"].attrs.get_id("sorting").dtype
            assert h5py.check_enum_dtype(attr_type) == {"none": 0, "by_id": 1, "by_time": 2}
            assert f[f"spikes/{pop}"].attrs["sorting"] == 2
            assert f[f"spikes/{pop}/timestamps"].dtype == np.float64
            assert f[f"spikes/{pop}/timestamps"].attrs["units"] == "ms"
            assert f[f"spikes/{pop}/node_ids"].dtype == np.uint64


def test_sonata_datasets_have_no_filters(run):
    path, _ = run
    with h5py.File(path, "r") as f:
        datasets = _sonata_datasets(f)
        assert len(datasets) == 2 * 2 + 4 * 5  # 2 spike populations, 4 reports (data + 4 mapping)
        for ds in datasets:
            assert ds.id.get_create_plist().get_nfilters() == 0, ds.name
            assert ds.compression is None and not ds.shuffle, ds.name


def test_report_mapping_layout(run):
    path, mem = run
    with h5py.File(path, "r") as f:
        for name, n_nodes, units in (("exc", 4, "mV"), ("exc.i_exc", 4, "nA"), ("exc.i_inh", 4, "nA"),
                                     ("inh", 10, "mV")):
            rep = f[f"report/{name}"]
            assert rep["data"].dtype == np.float32 and rep["data"].attrs["units"] == units
            assert rep["data"].shape[1] == n_nodes and rep["data"].chunks is not None
            mapping = rep["mapping"]
            assert mapping["node_ids"].dtype == np.uint64
            assert mapping["index_pointers"].dtype == np.uint64
            np.testing.assert_array_equal(mapping["index_pointers"][()], np.arange(n_nodes + 1))
            assert mapping["element_ids"].dtype == np.uint32
            np.testing.assert_array_equal(mapping["element_ids"][()], np.zeros(n_nodes))
            assert mapping["time"].dtype == np.float64 and mapping["time"].attrs["units"] == "ms"
        start, stop, dt = f["report/inh/mapping/time"][()]
        assert (start, stop, dt) == pytest.approx((0.0, 100.0, 0.1))


def test_libsonata_reads_spikes(run):
    path, mem = run
    reader = libsonata.SpikeReader(str(path))
    assert sorted(reader.get_population_names()) == ["exc", "inh"]
    for pop in ("exc", "inh"):
        spikes = reader[pop]
        assert spikes.sorting == "by_time"
        d = spikes.get_dict()
        mon = mem[f"spikes_{pop}"]
        np.testing.assert_allclose(d["timestamps"], mon.t * 1e3, rtol=1e-12)
        np.testing.assert_array_equal(d["node_ids"], mon.i)
    window = np.array(reader["exc"].get(node_ids=[2, 3], tstart=20.0, tstop=60.0))
    t, i = mem["spikes_exc"].t * 1e3, mem["spikes_exc"].i
    keep = np.isin(i, [2, 3]) & (t >= 20.0) & (t <= 60.0)
    assert window.shape[0] == keep.sum() > 0
    np.testing.assert_allclose(np.sort(window[:, 1]), np.sort(t[keep]))


@pytest.mark.parametrize("reader_class", ["SomaReportReader", "ElementReportReader"])
def test_libsonata_reads_reports(run, reader_class):
    path, mem = run
    reader = getattr(libsonata, reader_class)(str(path))
    assert sorted(reader.get_population_names()) == ["exc", "exc.i_exc", "exc.i_inh", "inh"]
    state = mem["state_exc"]
    for name, var, scale, units in (("exc", "v", 1e3, "mV"), ("exc.i_exc", "i_exc", 1e9, "nA"),
                                    ("exc.i_inh", "i_inh", 1e9, "nA")):
        pop = reader[name]
        assert pop.data_units == units and pop.time_units == "ms"
        frame = pop.get()
        np.testing.assert_array_equal(np.asarray(frame.data), (state[var] * scale).astype(np.float32))
        np.testing.assert_allclose(np.asarray(frame.times), state.t * 1e3, atol=1e-9)
    inh = reader["inh"].get(node_ids=[3, 7], tstart=10.0, tstop=20.0)
    ids = np.asarray(inh.ids)
    np.testing.assert_array_equal(ids if ids.ndim == 1 else ids[:, 0], [3, 7])
    times = np.asarray(inh.times)
    rows = np.rint(times / 0.1).astype(int)
    assert times[0] == pytest.approx(10.0) and times[-1] == pytest.approx(20.0)
    expected = (mem["state_inh"]["v"][rows][:, [3, 7]] * 1e3).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(inh.data), expected)


def test_libsonata_reads_a_file_with_a_selection_of_nodes_and_sparse_spikes(tmp_path):
    path = tmp_path / "sparse.h5"
    net, exc, inh = small_network(block_steps=37)
    with ResultsWriter(path) as w:
        mem = net.spike_monitor(inh, indices=[9], name="mem")
        net.spike_monitor(inh, indices=[9], sink=w.sink())
        net.state_monitor(exc, ("i_exc",), indices=[7], interval="0.7 ms", sink=w.sink())
        net.run("33.3 ms")
    spikes = libsonata.SpikeReader(str(path))["inh"].get_dict()
    np.testing.assert_array_equal(spikes["node_ids"], mem.i)
    rep = libsonata.SomaReportReader(str(path))
    assert rep.get_population_names() == ["exc"]
    frame = rep["exc"].get()
    assert np.asarray(frame.data).shape == (48, 1) and rep["exc"].data_units == "nA"
