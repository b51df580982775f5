"""Oxford RobotCar (Maddern et al. 2017) as two traverses for place recognition.

The dataset needs an account (https://robotcar-dataset.robots.ox.ac.uk). :func:`download`
(``neurosim data fetch robotcar``, with ``NEUROSIM_ROBOTCAR_USER`` and
``NEUROSIM_ROBOTCAR_PASSWORD`` set) logs in to its download server and fetches, for a reference
run and a query run (by default a day and a night run), the first chunk of the centre stereo
camera and the INS track (``gps/ins.csv``). Places are reference frames every ``spacing``
metres along the reference run; each is paired with the query frame nearest to it in position
(UTM northing and easting interpolated at the frames' time stamps), if within ``max_gap``
metres (:func:`pair_by_position`). Raw Bayer (GBRG) frames become grey images by summing every
2 x 2 cell; the pairs are written as the ``reference/`` and ``query/`` layout :func:`load` reads.
RobotCar: CC BY-NC-SA 4.0.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from neurosim.datasets import store
from neurosim.datasets.traverses import Traverses, stored

NAME = "robotcar"
SERVER = "https://mrgdatashare.robots.ox.ac.uk"
RUNS = {"reference": "2014-12-09-13-21-02", "query": "2014-12-16-18-44-24"}


def _session() -> urllib.request.OpenerDirector:
    user, password = os.environ.get("NEUROSIM_ROBOTCAR_USER"), os.environ.get("NEUROSIM_ROBOTCAR_PASSWORD")
    if not user or not password:
        raise store.DataMissing("Oxford RobotCar needs an account: register at https://robotcar-dataset.robots.ox.ac.uk "
                                "and set NEUROSIM_ROBOTCAR_USER and NEUROSIM_ROBOTCAR_PASSWORD")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{SERVER}/accounts/login/", timeout=60).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    form = {"username": user, "password": password, "csrfmiddlewaretoken": token.group(1) if token else ""}
    request = urllib.request.Request(f"{SERVER}/accounts/login/", urllib.parse.urlencode(form).encode(),
                                     headers={"Referer": f"{SERVER}/accounts/login/"})
    answer = opener.open(request, timeout=60).read().decode(errors="replace")
    if 'name="password"' in answer:  # the login form again: refused
        raise store.DataMissing("Oxford RobotCar refused the login of NEUROSIM_ROBOTCAR_USER; check the account")
    return opener


def _fetch(opener: urllib.request.OpenerDirector, filename: str, target: Path) -> tarfile.TarFile:
    with opener.open(f"{SERVER}/download/?filename=datasets/{filename}", timeout=600) as response, \
            open(target, "wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)
    try:
        return tarfile.open(target)
    except tarfile.ReadError:
        raise ValueError(f"RobotCar {filename}: the download is not a tar archive") from None


def track(ins_csv: str) -> tuple[np.ndarray, np.ndarray]:
    """Time stamps (µs) and (northing, easting) in metres of an INS file (``gps/ins.csv``)."""
    lines = ins_csv.strip().splitlines()
    names = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    col = {n: names.index(n) for n in ("timestamp", "northing", "easting")}
    t = np.array([int(r[col["timestamp"]]) for r in rows], np.int64)
    xy = np.array([[float(r[col["northing"]]), float(r[col["easting"]])] for r in rows])
    return t, xy


def pair_by_position(ref_times: np.ndarray, ref_track: tuple[np.ndarray, np.ndarray], query_times: np.ndarray,
                     query_track: tuple[np.ndarray, np.ndarray], spacing: float = 10.0,
                     max_gap: float = 5.0) -> list[tuple[int, int]]:
    """(reference frame, query frame) pairs: reference frames every ``spacing`` m along the
    reference run, each with the query frame nearest in position when within ``max_gap`` m."""
    def where(times, tr):
        t, xy = tr
        return np.stack([np.interp(times, t, xy[:, 0]), np.interp(times, t, xy[:, 1])], axis=1)
    ref, query = where(ref_times, ref_track), where(query_times, query_track)
    walked = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(ref, axis=0), axis=1))])
    picks = np.unique(np.searchsorted(walked, np.arange(0.0, walked[-1] + 1e-9, spacing)))
    pairs = []
    for i in picks[picks < len(ref)]:
        gap = np.linalg.norm(query - ref[i], axis=1)
        j = int(np.argmin(gap))
        if gap[j] <= max_gap:
            pairs.append((int(i), j))
    return pairs


def _grey_from_bayer(raw: np.ndarray) -> np.ndarray:
    """Sum of each 2 x 2 Bayer cell (one red, two green, one blue), scaled to 0-255."""
    h, w = raw.shape[0] // 2 * 2, raw.shape[1] // 2 * 2
    cells = raw[:h, :w].astype(np.float64).reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
    return np.clip(cells / 4.0, 0, 255).astype(np.uint8)


def download(folder: str | Path | None = None, runs: dict[str, str] = RUNS, spacing: float = 10.0,
             max_gap: float = 5.0) -> Path:
    """Fetch the runs' first centre-camera chunk and INS track and write the paired places (see the
    module docstring)."""
    from PIL import Image

    target = store.folder(NAME, folder)
    if (target / "query").is_dir():
        return target
    opener = _session()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{NAME}-") as scratch:
        frames, tracks, tars = {}, {}, {}
        for side, run in runs.items():
            tars[side] = _fetch(opener, f"{run}/{run}_stereo_centre_01.tar", Path(scratch) / f"{side}.tar")
            frames[side] = sorted((m for m in tars[side].getmembers() if m.name.endswith(".png")),
                                  key=lambda m: int(Path(m.name).stem))
            with _fetch(opener, f"{run}/{run}_gps.tar", Path(scratch) / f"{side}_gps.tar") as gps:
                ins = next(m for m in gps.getmembers() if m.name.endswith("ins.csv"))
                tracks[side] = track(gps.extractfile(ins).read().decode())
        stamps = {side: np.array([int(Path(m.name).stem) for m in frames[side]], np.int64) for side in runs}
        pairs = pair_by_position(stamps["reference"], tracks["reference"], stamps["query"], tracks["query"],
                                 spacing, max_gap)
        staged = Path(scratch) / "staged"
        for side in runs:
            (staged / side).mkdir(parents=True)
        for k, pair in enumerate(pairs):
            for side, index in zip(("reference", "query"), pair):
                raw = np.asarray(Image.open(tars[side].extractfile(frames[side][index])))
                Image.fromarray(_grey_from_bayer(raw)).save(staged / side / f"{k:05d}.png")
        for tar in tars.values():
            tar.close()
        staged.rename(target)
    return target


def load(folder: str | Path | None = None, every: int = 1, size: tuple[int, int] | None = (56, 56)) -> Traverses:
    return stored(NAME, "Oxford RobotCar", folder, every, size)
