"""Load dataset pickles that may hold numpy arrays and nothing else.

HO-3D and H2O-3D ship their per-frame annotations (``meta/<frame>.pkl``) as pickles, most of
them written by Python 2. ``pickle.load`` runs whatever callable a pickle names, so a tampered
download could run any command on the training machine. ``load_pickle`` reads them with an
unpickler whose ``find_class`` resolves only what numpy arrays, dtypes and scalars need, plus a
few plain containers; any other global ends the load with ``UnsafePickleError`` before anything
is called. The error names the file and the refused global.

Python 2 pickles store byte strings as ``str``; ``encoding="latin1"`` (the default here, as the
HO-3D scripts load them) turns them back into the bytes numpy expects.
"""

import codecs
import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

try:  # numpy >= 2 moved numpy.core to numpy._core; old pickles still name numpy.core.
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray
    from numpy.core import numeric as _numeric


class UnsafePickleError(ValueError):
    """A pickle names a global outside the allowlist; nothing in it was executed."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, and only for that."""
    if codecs.lookup(encoding).name != "iso8859-1":
        raise UnsafePickleError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1")


# The numpy functions that rebuild arrays, scalars and protocol-5 buffers, by module and name.
_NUMPY_CORE = {
    ("multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("multiarray", "scalar"): _multiarray.scalar,
    ("numeric", "_frombuffer"): _numeric._frombuffer,
}
# (module, name) -> object: everything a pickle may name. Python 2 pickles say numpy.core and
# __builtin__; numpy 2 writes numpy._core.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    **{
        (f"{package}.{module}", name): value
        for package in ("numpy.core", "numpy._core")
        for (module, name), value in _NUMPY_CORE.items()
    },
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): bytearray,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("__builtin__", "complex"): complex,
    ("collections", "OrderedDict"): OrderedDict,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``ALLOWED_GLOBALS``; ``source`` names the file in errors."""

    def __init__(self, file: io.BufferedIOBase, source: str, encoding: str = "latin1") -> None:
        super().__init__(file, encoding=encoding)
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source}: refusing to unpickle the global '{module}.{name}' "
                "(only numpy arrays, dtypes, scalars and plain containers are allowed)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source}: refusing a persistent id in the pickle")


def load_pickle(path: str | os.PathLike, encoding: str = "latin1") -> Any:
    """The object stored in the pickle file ``path``, read with ``RestrictedUnpickler``.

    Raises ``FileNotFoundError`` when the file is missing, ``UnsafePickleError`` when the pickle
    names a global outside the allowlist, and ``ValueError`` (naming the file) when it is not a
    readable pickle.
    """
    path = Path(path)
    with path.open("rb") as file:
        return loads(file.read(), source=str(path), encoding=encoding)


def loads(data: bytes, source: str = "<bytes>", encoding: str = "latin1") -> Any:
    """``load_pickle`` for bytes in memory; ``source`` names them in error messages."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source, encoding).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{source}: not a readable pickle ({error})") from error
