"""safe_pickle.py: numpy-only pickles load; anything that names another global is refused."""

import os
import pickle

import numpy as np
import pytest

from occrobnet_ros.data.readers.safe_pickle import UnsafePickleError, load_pickle, loads

META = {
    "handJoints3D": np.arange(63, dtype=np.float64).reshape(21, 3) / 100.0,
    "camMat": np.array([[615.0, 0, 320], [0, 615, 240], [0, 0, 1]], np.float32),
    "objRot": np.array([[0.1], [0.2], [0.3]]),
    "objName": "006_mustard_bottle",
    "objLabel": np.int64(6),
    "scale": np.float32(1.5),
    "handBoundingBox": [10, 20, 30, 40],
    "handPose": None,
    "names": np.array(["a", None], dtype=object),
    "tags": {"x", "y"},
}

# A Python 2 pickle (protocol 0, as HO-3D's files were written) of {'s': numpy.float64(1.5)}:
# numpy.core module names and the scalar's bytes stored as a Python 2 str.
PY2_SCALAR = (
    b"(dp0\nS's'\np1\ncnumpy.core.multiarray\nscalar\np2\n(cnumpy\ndtype\np3\n(S'f8'\np4\nI0\n"
    b"I1\ntp5\nRp6\n(I3\nS'<'\np7\nNNNI-1\nI-1\nI0\ntp8\nbS'\\x00\\x00\\x00\\x00\\x00\\x00\\xf8?'"
    b"\np9\ntp10\nRp11\ns."
)


def _assert_meta_equal(loaded: dict) -> None:
    assert loaded.keys() == META.keys()
    for key, value in META.items():
        if isinstance(value, np.ndarray):
            assert loaded[key].dtype == value.dtype
            assert np.array_equal(loaded[key], value)
        else:
            assert loaded[key] == value


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_meta_loads_in_every_protocol(tmp_path, protocol):
    path = tmp_path / "0000.pkl"
    path.write_bytes(pickle.dumps(META, protocol=protocol))
    _assert_meta_equal(load_pickle(path))


def test_old_numpy_core_names_load():
    # numpy < 2 wrote numpy.core.multiarray; HO-3D's pickles say so.
    data = pickle.dumps(META, protocol=2)
    assert b"numpy._core.multiarray" in data
    _assert_meta_equal(loads(data.replace(b"numpy._core.", b"numpy.core.")))


def test_python2_pickle_loads():
    loaded = loads(PY2_SCALAR)
    assert loaded == {"s": 1.5}
    assert isinstance(loaded["s"], np.float64)


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _marker_command(marker) -> str:
    return f"touch {marker}"


def test_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "meta.pkl"
    path.write_bytes(pickle.dumps({"camMat": _System(_marker_command(marker))}))
    with pytest.raises(UnsafePickleError) as error:
        load_pickle(path)
    assert str(path) in str(error.value)
    assert f"{os.system.__module__}.system" in str(error.value)
    assert not marker.exists()


def test_malicious_object_inside_an_object_array_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    array = np.array([_System(_marker_command(marker)), 1], dtype=object)
    with pytest.raises(UnsafePickleError):
        loads(pickle.dumps({"a": array}))
    assert not marker.exists()


@pytest.mark.parametrize(
    "module, name",
    [
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
        ("numpy", "load"),
        ("__builtin__", "eval"),
        ("copy_reg", "_reconstructor"),
    ],
)
def test_other_callables_are_refused(tmp_path, module, name):
    marker = tmp_path / "pwned"
    argument = f"open({str(marker)!r}, 'w')".encode()
    data = b"c" + module.encode() + b"\n" + name.encode() + b"\n(V" + argument + b"\ntR."
    with pytest.raises(UnsafePickleError, match=f"'{module}.{name}'"):
        loads(data, source="evil.pkl")
    assert not marker.exists()


def test_codecs_encode_only_for_latin1():
    assert loads(pickle.dumps(b"\x00\xff", protocol=2)) == b"\x00\xff"
    data = b"c_codecs\nencode\n(Vabc\nVrot13\ntR."
    with pytest.raises(UnsafePickleError, match="rot13"):
        loads(data)


def test_broken_and_missing_files_name_the_file(tmp_path):
    path = tmp_path / "truncated.pkl"
    path.write_bytes(pickle.dumps(META)[:40])
    with pytest.raises(ValueError, match="truncated.pkl"):
        load_pickle(path)
    with pytest.raises(FileNotFoundError):
        load_pickle(tmp_path / "absent.pkl")
