"""Reading and writing ROS 2 bags (mcap or sqlite3) without rosbag2, with rosbags.

rosbags handles the containers: the rosbag2 directory (metadata.yaml + .mcap / .db3), a bare
.mcap file written by any MCAP writer, and each connection's message definition and type hash.
The messages themselves are rclpy's (sensor_msgs, occrobnet_ros.msg), serialised by rclpy, so
the bag tools share image_conversion.py, camera_info.py and messages.py with the node.

Our own types are registered in the rosbags typestore from the ``msg/*.msg`` text, so a bag we
write carries the same definitions and RIHS01 hashes as ``rosidl`` generates (tested), and
``ros2 bag play`` / Foxglove decode it without this package.

Bags recorded with an earlier version of our messages (HandPose without ``joint_visibility``,
``handedness`` and ``track_id``) still read: a connection whose definition differs from today's
is decoded with the definition the bag carries, and copied field by field into today's rclpy
message; the fields it lacks take their "unknown" values (:data:`LEGACY_DEFAULTS`).
"""

import importlib
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from rclpy.serialization import deserialize_message, serialize_message
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, Writer
from rosbags.rosbag2.enums import StoragePlugin
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from occrobnet_ros.prediction import VISIBILITY_UNKNOWN

PACKAGE = "occrobnet_ros"
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
BAG_VERSION = 9  # the rosbag2 metadata version Jazzy and Kilted write
# Fields an older definition of our messages lacks: the value that means "not known".
LEGACY_DEFAULTS = {
    ("HandPose", "joint_visibility"): [VISIBILITY_UNKNOWN] * 21,
    ("HandPose", "handedness"): 0.5,
}


class BagError(Exception):
    """A bag that cannot be used as asked; the message says why (for a one-line CLI error)."""


def message_directory() -> Path:
    """The directory with our ``.msg`` files: the installed share/, else the source tree."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory(PACKAGE)) / "msg")
    except Exception:  # not installed with colcon, or ament_index absent: use the source tree
        pass
    candidates.append(Path(__file__).resolve().parents[2] / "msg")
    for directory in candidates:
        if any(directory.glob("*.msg")):
            return directory
    raise BagError(f"no {PACKAGE} .msg files in {', '.join(map(str, candidates))}")


@cache
def typestore() -> Typestore:
    """The Kilted typestore plus occrobnet_ros/msg/*, read from their .msg text."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for path in sorted(message_directory().glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    store.register(types)
    return store


def type_name(msg_class: type) -> str:
    """``sensor_msgs/msg/Image`` for rclpy's ``sensor_msgs.msg.Image``."""
    package = msg_class.__module__.split(".")[0]
    return f"{package}/msg/{msg_class.__name__}"


@cache
def message_class(name: str) -> type:
    """The rclpy message class of a bag type name such as ``sensor_msgs/msg/Image``."""
    package, _, short = name.partition("/msg/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), short)
    except (ImportError, AttributeError):
        raise BagError(f"message type {name} is not installed in this Python") from None


# --- writing


class BagWriter:
    """A rosbag2 bag being written: ``write(topic, msg, time_ns)`` with rclpy messages.

    ``with BagWriter(path, "mcap") as bag: bag.write("/image", image_msg, stamp_ns)``
    """

    def __init__(self, path: Path, storage: str = "mcap") -> None:
        if storage not in STORAGES:
            raise BagError(f"storage must be one of {sorted(STORAGES)}, not {storage!r}")
        path = Path(path)
        if path.exists():
            raise BagError(f"{path} exists: rosbag2 writes a new directory, remove it first")
        self.path = path
        self._writer = Writer(path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
        self._connections: dict[str, Connection] = {}

    def __enter__(self) -> "BagWriter":
        self._writer.open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._writer.close()

    def write(self, topic: str, msg: Any, time_ns: int) -> None:
        """Serialise ``msg`` (rclpy) on ``topic`` at receive time ``time_ns``."""
        self.write_raw(topic, type_name(type(msg)), serialize_message(msg), time_ns)

    def write_raw(self, topic: str, msg_type: str, data: bytes, time_ns: int) -> None:
        """Write already serialised CDR ``data`` of type ``msg_type`` (a recorder's bytes)."""
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(topic, msg_type, typestore=typestore())
            self._connections[topic] = connection
        self._writer.write(connection, int(time_ns), data)


# --- reading


def normalise_topic(topic: str) -> str:
    """Bags store absolute names: ``image`` is ``/image``."""
    return topic if topic.startswith("/") else f"/{topic}"


class BagReader:
    """One bag opened for reading: its topics, and its messages as rclpy objects."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise BagError(f"{self.path}: no such bag")
        try:
            self._reader = Reader(self.path)
            self._reader.open()
        except Exception as error:  # rosbags raises several types for "not a bag"
            raise BagError(f"{self.path}: cannot open as a ROS 2 bag ({error})") from None
        self.topics: dict[str, str] = {
            topic: info.msgtype for topic, info in self._reader.topics.items()
        }
        self.counts: dict[str, int] = {
            topic: info.msgcount for topic, info in self._reader.topics.items()
        }

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> "BagReader":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def describe_topics(self) -> str:
        """``/a (type, N msgs), /b (...)`` for error messages."""
        if not self.topics:
            return "none"
        return ", ".join(
            f"{topic} ({kind}, {self.counts[topic]} msgs)"
            for topic, kind in sorted(self.topics.items())
        )

    def require(self, topic: str, types: Iterable[str], what: str) -> str:
        """The bag's name of ``topic``; a BagError listing the bag's topics when it is absent
        or of none of ``types``."""
        topic, types = normalise_topic(topic), tuple(types)
        if topic not in self.topics:
            raise BagError(
                f"{self.path}: no {what} topic {topic}. Topics in this bag: "
                f"{self.describe_topics()}"
            )
        if self.topics[topic] not in types:
            raise BagError(
                f"{self.path}: {what} topic {topic} has type {self.topics[topic]}, expected "
                f"{' or '.join(types)}"
            )
        return topic

    def raw_messages(self, topics: Iterable[str]) -> Iterator[tuple[str, str, int, bytes]]:
        """(topic, type, receive time ns, CDR bytes) of ``topics``, in receive-time order."""
        wanted = {normalise_topic(t) for t in topics}
        connections = [c for c in self._reader.connections if c.topic in wanted]
        if not connections:
            return  # rosbags reads every connection when given none
        for connection, time_ns, data in self._reader.messages(connections=connections):
            yield connection.topic, connection.msgtype, time_ns, data

    def messages(self, topics: Iterable[str]) -> Iterator[tuple[str, int, Any]]:
        """(topic, receive time ns, rclpy message) of ``topics``, in receive-time order."""
        legacy = self._legacy_typestores()
        for topic, msg_type, time_ns, data in self.raw_messages(topics):
            if topic in legacy:
                old = legacy[topic].deserialize_cdr(data, msg_type)
                yield topic, time_ns, upgrade(old, message_class(msg_type)())
            else:
                yield topic, time_ns, deserialize_message(data, message_class(msg_type))

    def _legacy_typestores(self) -> dict[str, Typestore]:
        """Topic -> a typestore of the bag's own definition, for our types recorded with a
        definition other than today's."""
        stores = {}
        for connection in self._reader.connections:
            if not connection.msgtype.startswith(f"{PACKAGE}/"):
                continue
            recorded = getattr(connection.msgdef, "data", "") or ""
            current = typestore().generate_msgdef(connection.msgtype, ros_version=2)[0]
            if not recorded.strip() or recorded.strip() == current.strip():
                continue
            store = get_typestore(Stores.EMPTY)
            store.register(get_types_from_msg(recorded, connection.msgtype))
            stores[connection.topic] = store
        return stores


def upgrade(old: Any, msg: Any) -> Any:
    """Copy a rosbags message ``old`` (an older definition) into the rclpy message ``msg``,
    field by field; fields ``old`` lacks get their LEGACY_DEFAULTS value (else the default)."""
    kind = type(msg).__name__
    for name in msg.get_fields_and_field_types():
        target = getattr(msg, name)
        if not hasattr(old, name):
            # An undetected part stays all zero, as the message definitions promise.
            if (kind, name) in LEGACY_DEFAULTS and getattr(old, "detected", True):
                setattr(msg, name, LEGACY_DEFAULTS[kind, name])
            continue
        value = getattr(old, name)
        if _is_message(target):
            upgrade(value, target)
        elif isinstance(target, list) and target and _is_message(target[0]):
            for item_old, item in zip(value, target, strict=True):
                upgrade(item_old, item)
        else:
            setattr(msg, name, value)
    return msg


def _is_message(value: Any) -> bool:
    return hasattr(value, "get_fields_and_field_types")
