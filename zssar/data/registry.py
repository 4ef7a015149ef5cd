"""Dataset names -> loaders. ``load_dataset("synthetic")`` always works; real datasets need a root.

Real datasets live in folders under the data root (``$ZSSAR_DATA`` or ``root=``): ``kard/``,
``utkinect/``, ``nw-ucla/``, ``ntu60/``, ``ntu120/``, ``pku-mmd/`` (see each reader for what goes
inside). ``npz:PATH`` loads a bring-your-own interchange file (:mod:`zssar.data.interchange`),
``pyskl:PATH`` a pyskl / mmaction2 annotation pickle (:mod:`zssar.data.readers.pyskl`).
"""
from __future__ import annotations

import os
from typing import Callable

from ..config import data_root
from ..errors import DatasetNotFound
from ..registry import Registry
from .skeleton import SkeletonSet


def _import_readers() -> None:
    # The readers register themselves on import; importing them here keeps this module import-light.
    from . import readers  # noqa: F401


# name -> (loader(root) -> SkeletonSet, folder name under the data root or None when embedded)
DATASETS = Registry("dataset", load=_import_readers, error=DatasetNotFound,
                    hint="or npz:PATH (your own file) or pyskl:PATH (a pyskl annotation pickle)")


def register_dataset(name: str, folder: str | None = None):
    """Decorator registering a loader. ``folder`` is where its files live under the data root."""

    def wrap(fn: Callable[..., SkeletonSet]):
        DATASETS.register(name, (fn, folder))
        return fn

    return wrap


def dataset_names() -> list[str]:
    return DATASETS.names()


def dataset_folder(name: str) -> str | None:
    """The folder of a registered dataset under the data root (None for embedded datasets)."""
    return DATASETS.get(name)[1]


def load_dataset(name: str, root: str | os.PathLike | None = None, **options) -> SkeletonSet:
    """Load a dataset by name.

    ``synthetic`` is generated in memory (``options`` go to its config). Real datasets are read from
    ``root`` or ``$ZSSAR_DATA``: e.g. ``$ZSSAR_DATA/kard``. ``npz:PATH`` reads an interchange file,
    ``pyskl:PATH[:layout=NAME][:classes=NAME]`` a pyskl annotation pickle.
    """
    if name.startswith("npz:"):
        from .interchange import load_npz

        return load_npz(name[len("npz:"):], **options)
    if name.startswith("pyskl:"):
        from .readers.pyskl import load_pyskl, parse_spec

        path, spec_options = parse_spec(name[len("pyskl:"):])
        return load_pyskl(path, **{**spec_options, **options})
    loader, folder = DATASETS.get(name)
    if folder is None:
        return loader(**options)
    base = data_root(root)
    if base is None:
        raise DatasetNotFound(
            f"dataset {name!r} needs its files: set ZSSAR_DATA to the folder that holds '{folder}/' "
            f"or pass root=... (--root on the command line)."
        )
    path = base / folder
    if not path.is_dir():
        raise DatasetNotFound(f"no {name} files under {path}; set ZSSAR_DATA or pass root= to the folder "
                              f"that contains '{folder}/'.")
    return loader(path, **options)


@register_dataset("synthetic")
def _load_synthetic(**options) -> SkeletonSet:
    from ..errors import InvalidConfig
    from .synthetic import SyntheticConfig, generate

    try:
        config = SyntheticConfig(**options)
    except TypeError as exc:
        raise InvalidConfig(f"synthetic dataset: {exc}; see zssar.data.synthetic.SyntheticConfig") from None
    return generate(config)
