"""Nordland (NRK's four-season train ride) as two traverses for place recognition.

:func:`download` (``neurosim data fetch nordland``) fetches VPR-Bench's copy of the dataset
(Zaffar et al. 2021: the ``ref/`` and ``query/`` folders of matched frames) and unpacks it into
the store (:mod:`neurosim.datasets.store`); :func:`load` reads it with
:func:`neurosim.datasets.traverses.from_folder`. Hussaini et al. use spring and fall as
reference traverses and summer as the query; any pair laid out as ``reference/`` (or ``ref/``)
and ``query/`` loads the same way. Nordland: NRK, CC BY 4.0.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from neurosim.datasets import store
from neurosim.datasets.traverses import Traverses, stored

NAME = "nordland"
URL = "https://surfdrive.surf.nl/files/index.php/s/sbZRXzYe3l0v67W/download"


def download(folder: str | Path | None = None, url: str = URL) -> Path:
    """Fetch and unpack the dataset into ``folder`` (default: the store's); needs a network connection.
    The archive is unpacked in a temporary folder beside the target and moved into place whole."""
    target = store.folder(NAME, folder)
    if (target / "query").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{NAME}-") as scratch:
        archive = Path(scratch) / "nordland.zip"
        with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
        try:
            with zipfile.ZipFile(archive) as z:
                z.extractall(Path(scratch) / "unpacked")
        except zipfile.BadZipFile:
            raise ValueError(f"{url}: the download is not a zip archive") from None
        found = next((p.parent for p in (Path(scratch) / "unpacked").rglob("query") if p.is_dir()), None)
        if found is None:
            raise ValueError(f"{url}: the archive holds no query/ folder")
        found.rename(target)
    return target


def load(folder: str | Path | None = None, every: int = 8, size: tuple[int, int] | None = (56, 56)) -> Traverses:
    """Every ``every``-th place (8: about 100 m apart, as Hussaini et al.), resized to ``size``."""
    return stored(NAME, "Nordland", folder, every, size)
