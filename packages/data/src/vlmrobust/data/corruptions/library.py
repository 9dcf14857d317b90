"""Loading ``imagecorruptions`` (bethgelab, 1.1.2) on current numpy / scipy / scikit-image / setuptools.

The package (last released 2020) breaks on today's versions in five places; each is bridged here without
copying its code, and every bridge touches only names the package itself looks up:

* ``from pkg_resources import resource_filename`` (frost's assets): setuptools >= 82 ships no
  ``pkg_resources``. Where it is missing, a stand-in module offering ``resource_filename`` (a file beside
  the named module, as ``pkg_resources`` resolves it) is in ``sys.modules`` only while the package is
  imported.
* ``from scipy.ndimage.interpolation import map_coordinates``: a deprecated alias of ``scipy.ndimage``
  (a ``DeprecationWarning``, silenced while importing); where a SciPy no longer has it, ``scipy.ndimage``
  stands in during the import.
* ``np.float_`` (fog's plasma fractal): removed in numpy 2. The package's module sees numpy through a
  view that adds ``float_ = float64``.
* ``gaussian(..., multichannel=True)`` (glass blur): scikit-image >= 0.21 spells it ``channel_axis=-1``;
  the package's ``gaussian`` is replaced by a wrapper translating the keyword.
* ``sk.util.random_noise`` (impulse noise): scikit-image >= 0.19 draws from a fresh unseeded Generator,
  not numpy's global RNG; the package's view of ``skimage.util`` passes a seed drawn from the package's RNG.

Randomness: the package draws from ``np.random`` (the legacy global RNG). Its view of numpy routes
``np.random`` to the calling thread's :class:`numpy.random.RandomState` while :func:`seeded` is active (and
to the global RNG otherwise, so direct calls of the package behave as before). Corruptions run through
:func:`seeded` therefore never read or advance numpy's global RNG, and threads never share a stream.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from vlmrobust.core.optional import require

#: The extra of vlmrobust-data that installs the package (with headless OpenCV and scikit-image).
EXTRA = "corruptions"
DISTRIBUTION = "vlmrobust-data"

_LOCK = threading.Lock()  # guards the one-time import and patching
_PACKAGE: ModuleType | None = None  # the imported, patched package
_LOCAL = threading.local()  # .state: the RandomState of the current seeded call of this thread


class _View(ModuleType):
    """``module`` with some attributes replaced, for the package's eyes only (other lookups fall through)."""

    def __init__(self, module: ModuleType, **replaced: Any) -> None:
        super().__init__(module.__name__)
        self.__dict__.update(replaced)
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


class _ThreadRandom:
    """``np.random`` as the package sees it: the current seeded call's RandomState, else the global RNG."""

    def __getattr__(self, name: str) -> Any:
        return getattr(getattr(_LOCAL, "state", None) or np.random, name)


_RANDOM = _ThreadRandom()


@contextmanager
def seeded(state: np.random.RandomState) -> Iterator[None]:
    """Within this block, the package draws (in this thread only) from ``state``."""
    previous = getattr(_LOCAL, "state", None)
    _LOCAL.state = state
    try:
        yield
    finally:
        _LOCAL.state = previous


def _resource_filename(module: str, resource: str) -> str:
    """``pkg_resources.resource_filename`` for an imported module: ``resource`` beside its file."""
    return os.path.normpath(os.path.join(os.path.dirname(sys.modules[module].__file__), resource))


@contextmanager
def _import_stand_ins() -> Iterator[None]:
    """Provide the modules the package imports but current setuptools / SciPy lack, during its import."""
    added: dict[str, ModuleType] = {}
    if importlib.util.find_spec("pkg_resources") is None:
        shim = added["pkg_resources"] = ModuleType("pkg_resources")
        shim.resource_filename = _resource_filename  # type: ignore[attr-defined]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            importlib.import_module("scipy.ndimage.interpolation")
    except ImportError:
        added["scipy.ndimage.interpolation"] = importlib.import_module("scipy.ndimage")
    sys.modules.update(added)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def _gaussian(gaussian: Any) -> Any:
    """``skimage.filters.gaussian`` accepting the removed ``multichannel=True`` (as ``channel_axis=-1``)."""

    def wrapped(image: np.ndarray, *args: Any, multichannel: bool = False, **kwargs: Any) -> np.ndarray:
        if multichannel:
            kwargs.setdefault("channel_axis", -1)
        return gaussian(image, *args, **kwargs)

    return wrapped


def _random_noise(random_noise: Any) -> Any:
    """``skimage.util.random_noise`` seeded from the package's RNG when no ``rng`` is given."""

    def wrapped(image: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        if kwargs.get("rng") is None:
            kwargs["rng"] = int(_RANDOM.randint(0, 2**31 - 1))
        return random_noise(image, *args, **kwargs)

    return wrapped


def _load() -> ModuleType:
    """Import the package and bridge its incompatibilities (once: see :func:`imagecorruptions`)."""
    with _import_stand_ins():
        package = require("imagecorruptions", EXTRA, DISTRIBUTION, "ImageNet-C corruptions")
        module = importlib.import_module("imagecorruptions.corruptions")
    import skimage.util

    module.np = _View(np, float_=np.float64, random=_RANDOM)
    module.gaussian = _gaussian(module.gaussian)
    module.sk = _View(
        module.sk, util=_View(skimage.util, random_noise=_random_noise(skimage.util.random_noise))
    )
    return package


def imagecorruptions() -> ModuleType:
    """The ``imagecorruptions`` package, imported once and made to work on current dependencies.

    Raises:
        MissingDependencyError: the package (or OpenCV / scikit-image) is not installed; the message
            names ``pip install 'vlmrobust-data[corruptions]'``.
    """
    global _PACKAGE
    with _LOCK:
        if _PACKAGE is None:
            _PACKAGE = _load()
        return _PACKAGE
