"""Oxford RobotCar (Maddern et al. 2017) as two traverses for place recognition.

The dataset needs an account (https://robotcar-dataset.robots.ox.ac.uk). :func:`download`
(``neurosim data fetch robotcar``, with ``NEUROSIM_ROBOTCAR_USER`` and
``NEUROSIM_ROBOTCAR_PASSWORD`` set) logs in to its download server, fetches the first chunk of
the centre stereo camera of a reference run and a query run (by default the day and night runs
Hussaini et al. use), turns each raw Bayer (GBRG) frame into a grey image by summing every 2 x 2
cell, and writes the ``reference/`` and ``query/`` layout that :func:`load` reads, frames matched
by order. RobotCar: CC BY-NC-SA 4.0.
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
    opener.open(request, timeout=60)
    return opener


def _grey_from_bayer(raw: np.ndarray) -> np.ndarray:
    """Sum of each 2 x 2 Bayer cell (one red, two green, one blue), scaled to 0-255."""
    h, w = raw.shape[0] // 2 * 2, raw.shape[1] // 2 * 2
    cells = raw[:h, :w].astype(np.float64).reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3))
    return np.clip(cells / 4.0, 0, 255).astype(np.uint8)


def download(folder: str | Path | None = None, runs: dict[str, str] = RUNS) -> Path:
    """Fetch the reference and query runs' first centre-camera chunk (see the module docstring)."""
    from PIL import Image

    target = store.folder(NAME, folder)
    if (target / "query").is_dir():
        return target
    opener = _session()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{NAME}-") as scratch:
        staged = Path(scratch) / "staged"
        for side, run in runs.items():
            url = f"{SERVER}/download/?filename=datasets/{run}/{run}_stereo_centre_01.tar"
            archive = Path(scratch) / f"{side}.tar"
            with opener.open(url, timeout=600) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out, length=1 << 20)
            (staged / side).mkdir(parents=True)
            with tarfile.open(archive) as tar:
                for member in sorted((m for m in tar.getmembers() if m.name.endswith(".png")), key=lambda m: m.name):
                    raw = np.asarray(Image.open(tar.extractfile(member)))
                    Image.fromarray(_grey_from_bayer(raw)).save(staged / side / Path(member.name).name)
        staged.rename(target)
    return target


def load(folder: str | Path | None = None, every: int = 1, size: tuple[int, int] | None = (56, 56)) -> Traverses:
    return stored(NAME, "Oxford RobotCar", folder, every, size)
