"""Rebuild this fixture from the official MNIST test set: ``python make_fixture.py FOLDER``.

FOLDER holds ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (``neurosim data
fetch mnist`` puts them in the user cache). The fixture keeps test images 0-1599, 8000-8199 and
9000-9199 in that order, so that its substitute split (80 / 10 / 10 %) starts with the same
images as the full protocol's train, validation and test parts.
"""

import hashlib
import sys
from pathlib import Path

import numpy as np

from neurosim.datasets.mnist import FILES, MD5, load_idx_pair, write_idx

PARTS = ((0, 1600), (8000, 8200), (9000, 9200))


def main(source: str) -> None:
    for name in FILES["t10k"]:
        digest = hashlib.md5((Path(source) / name).read_bytes()).hexdigest()
        if digest != MD5[name]:
            sys.exit(f"{Path(source) / name}: md5 {digest} is not the official {MD5[name]}")
    images, labels = load_idx_pair(source, "t10k")
    keep = np.concatenate([np.arange(a, b) for a, b in PARTS])
    here = Path(__file__).resolve().parent
    for name, data in zip(FILES["t10k"], (images[keep], labels[keep])):
        path = write_idx(here / name, data)
        print(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}")


if __name__ == "__main__":
    main(sys.argv[1])
