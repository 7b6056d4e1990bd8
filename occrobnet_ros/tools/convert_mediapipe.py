"""Convert MediaPipe's hand models from the ``mediapipe`` wheel to safetensors for PyTorch.

    python -m occrobnet_ros.tools.convert_mediapipe --wheel mediapipe-0.10.21-...whl \\
        --out weights/mediapipe

reads ``hand_landmark_{full,lite}.tflite`` and ``palm_detection_{full,lite}.tflite`` straight
from the wheel (a zip; mediapipe is never installed), maps each weighted TFLite op to the
matching layer of :class:`~occrobnet_ros.model.mediapipe_hand.MediaPipeHandLandmark` or
:class:`~occrobnet_ros.model.palm_detector.MediaPipePalmDetector`, and writes
``<name>.safetensors`` (float16, as the tflite stores its weights) with the source wheel, file
and sha256 in the metadata.

The mapping walks the graph's weighted ops (CONV_2D, DEPTHWISE_CONV_2D, PRELU,
FULLY_CONNECTED) in graph order beside the torch module's layers in registration order, and
checks each pair: kind, weight shape, stride, and for the heads which graph output they feed.
Layouts: TFLite convolution weights are OHWI (torch: OIHW), depthwise 1HWC (torch: C1HW),
PReLU slopes 1x1xC (torch: C); fp16 tensors behind DEQUANTIZE ops are read as float32.

Needs the ``tflite`` flatbuffer schema package (requirements-training.txt), not TensorFlow.
"""

import argparse
import dataclasses
import hashlib
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from occrobnet_ros.inference.hand_detection import WEIGHTS_FORMAT
from occrobnet_ros.model.mediapipe_hand import MediaPipeHandLandmark
from occrobnet_ros.model.palm_detector import MediaPipePalmDetector

LANDMARK_OUTPUTS = {  # torch head -> the tflite output it computes (hand_landmark_cpu.pbtxt)
    "landmark_head": "Identity",
    "presence_head": "Identity_1",
    "handedness_head": "Identity_2",
    "world_landmark_head": "Identity_3",
}
PALM_OUTPUTS = {
    "scores8": "Identity_1",
    "scores16": "Identity_1",
    "boxes8": "Identity",
    "boxes16": "Identity",
}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    member: str  # path inside the wheel
    build: Callable[[], nn.Module]
    head_outputs: dict[str, str]


MODELS = {
    "hand_landmark_full": ModelSpec(
        "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
        lambda: MediaPipeHandLandmark("full"),
        LANDMARK_OUTPUTS,
    ),
    "hand_landmark_lite": ModelSpec(
        "mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
        lambda: MediaPipeHandLandmark("lite"),
        LANDMARK_OUTPUTS,
    ),
    "palm_detection_full": ModelSpec(
        "mediapipe/modules/palm_detection/palm_detection_full.tflite",
        lambda: MediaPipePalmDetector("full"),
        PALM_OUTPUTS,
    ),
    "palm_detection_lite": ModelSpec(
        "mediapipe/modules/palm_detection/palm_detection_lite.tflite",
        lambda: MediaPipePalmDetector("lite"),
        PALM_OUTPUTS,
    ),
}


class ConversionError(ValueError):
    """The tflite graph does not match the torch module; the message names the layer."""


def read_wheel_member(wheel: str | Path, member: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


@dataclasses.dataclass
class WeightedOp:
    """A TFLite op that carries weights, its tensors already in torch's layout."""

    kind: str  # "conv", "depthwise", "prelu", "linear"
    weight: np.ndarray
    bias: np.ndarray | None
    stride: int
    output: int  # tensor index of the op's result
    index: int  # op index in the graph, for messages


class TfliteGraph:
    """The first subgraph of a .tflite file: ops, constants (fp16 dequantized), outputs."""

    def __init__(self, data: bytes) -> None:
        import tflite  # the flatbuffer schema; imported here so --help works without it

        self._tflite = tflite
        self.model = tflite.Model.GetRootAsModel(data, 0)
        self.graph = self.model.Subgraphs(0)
        builtin = {v: k for k, v in vars(tflite.BuiltinOperator).items() if k.isupper()}
        self.ops = []
        self.dequantized_from: dict[int, int] = {}  # fp32 tensor -> its fp16 constant
        for index in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(index)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            name = builtin[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            if name == "DEQUANTIZE":
                self.dequantized_from[op.Outputs(0)] = op.Inputs(0)
            self.ops.append((index, name, op))

    def output_names(self) -> dict[int, str]:
        return {int(i): self.tensor_name(int(i)) for i in self.graph.OutputsAsNumpy()}

    def tensor_name(self, index: int) -> str:
        return self.graph.Tensors(index).Name().decode()

    def constant(self, index: int) -> np.ndarray:
        """A constant tensor as float32 (or its integer type), following a DEQUANTIZE."""
        index = self.dequantized_from.get(index, index)
        tensor = self.graph.Tensors(index)
        raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(raw, int):  # the schema returns 0 for an empty buffer
            raise ConversionError(f"tensor {index} ({self.tensor_name(index)}) is not constant")
        types = self._tflite.TensorType
        dtype = {types.FLOAT32: np.float32, types.FLOAT16: np.float16, types.INT32: np.int32}[
            tensor.Type()
        ]
        shape = tuple(int(v) for v in tensor.ShapeAsNumpy())
        value = np.frombuffer(raw.tobytes(), dtype).reshape(shape)
        return value.astype(np.float32) if dtype == np.float16 else value.copy()

    def weighted_ops(self) -> list[WeightedOp]:
        """Every CONV_2D, DEPTHWISE_CONV_2D, PRELU and FULLY_CONNECTED, in graph order."""
        found = []
        for index, name, op in self.ops:
            if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "PRELU", "FULLY_CONNECTED"):
                continue
            inputs = [int(i) for i in op.InputsAsNumpy()]
            weight = self.constant(inputs[1])
            bias = self.constant(inputs[2]) if len(inputs) > 2 and inputs[2] >= 0 else None
            stride = self._stride(op, name) if name.endswith("CONV_2D") else 1
            if name == "CONV_2D":
                kind, weight = "conv", weight.transpose(0, 3, 1, 2)  # OHWI -> OIHW
            elif name == "DEPTHWISE_CONV_2D":
                kind, weight = "depthwise", weight.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
            elif name == "PRELU":
                kind, weight = "prelu", weight.reshape(-1)  # 1x1xC slopes
            else:
                kind = "linear"  # (out, in), as torch
            found.append(WeightedOp(kind, weight, bias, stride, int(op.Outputs(0)), index))
        return found

    def _stride(self, op, name: str) -> int:
        options = {
            "CONV_2D": self._tflite.Conv2DOptions,
            "DEPTHWISE_CONV_2D": self._tflite.DepthwiseConv2DOptions,
        }[name]()
        table = op.BuiltinOptions()
        options.Init(table.Bytes, table.Pos)
        if options.StrideH() != options.StrideW():
            raise ConversionError(f"non-square stride {options.StrideH()}x{options.StrideW()}")
        return options.StrideH()

    def reachable_outputs(self, tensor: int) -> set[str]:
        """Names of the graph outputs computed from ``tensor``."""
        outputs = self.output_names()
        reached = {tensor}
        for _, _, op in self.ops:  # ops are stored in execution order
            if any(int(i) in reached for i in op.InputsAsNumpy()):
                reached.update(int(o) for o in op.OutputsAsNumpy())
        return {outputs[t] for t in reached if t in outputs}


def torch_layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """The module's weighted layers (conv, PReLU, linear) in registration order."""
    return [
        (name, layer)
        for name, layer in module.named_modules()
        if isinstance(layer, (nn.Conv2d, nn.PReLU, nn.Linear))
    ]


def _layer_kind(layer: nn.Module) -> str:
    if isinstance(layer, nn.Conv2d):
        depthwise = layer.groups > 1 and layer.groups == layer.in_channels
        return "depthwise" if depthwise else "conv"
    return "prelu" if isinstance(layer, nn.PReLU) else "linear"


def map_weights(graph: TfliteGraph, module: nn.Module, head_outputs: dict[str, str]) -> dict:
    """The torch state dict of ``module`` filled from the graph; every pair checked."""
    ops, layers = graph.weighted_ops(), torch_layers(module)
    if len(ops) != len(layers):
        raise ConversionError(f"the graph has {len(ops)} weighted ops, the module {len(layers)}")
    state = {}
    for op, (name, layer) in zip(ops, layers):
        where = f"op {op.index} -> {name}"
        _check_pair(graph, op, name, layer, head_outputs, where)
        state[f"{name}.weight"] = torch.from_numpy(op.weight.copy())
        if getattr(layer, "bias", None) is not None:
            state[f"{name}.bias"] = torch.from_numpy(op.bias.copy())
        elif op.bias is not None and np.any(op.bias != 0):
            raise ConversionError(f"{where}: the module has no bias, the graph a non-zero one")
    module.load_state_dict(state, strict=True)
    return state


def _check_pair(graph, op: WeightedOp, name: str, layer: nn.Module, head_outputs, where) -> None:
    if op.kind != _layer_kind(layer):
        raise ConversionError(f"{where}: graph has {op.kind}, module {_layer_kind(layer)}")
    if tuple(op.weight.shape) != tuple(layer.weight.shape):
        raise ConversionError(
            f"{where}: weight shape {op.weight.shape} vs {tuple(layer.weight.shape)}"
        )
    if isinstance(layer, nn.Conv2d) and layer.stride[0] != op.stride:
        raise ConversionError(f"{where}: stride {op.stride} vs {layer.stride[0]}")
    if getattr(layer, "bias", None) is not None and op.bias is None:
        raise ConversionError(f"{where}: the module has a bias, the graph none")
    if name in head_outputs:
        reached = graph.reachable_outputs(op.output)
        if reached != {head_outputs[name]}:
            raise ConversionError(f"{where}: feeds {sorted(reached)}, not {head_outputs[name]}")


def convert(wheel: str | Path, name: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(float32 state dict, metadata) of model ``name`` (a key of ``MODELS``) from the wheel."""
    spec = MODELS[name]
    data = read_wheel_member(wheel, spec.member)
    state = map_weights(TfliteGraph(data), spec.build(), spec.head_outputs)
    metadata = {
        "format": WEIGHTS_FORMAT,
        "model": name,
        "source_wheel": Path(wheel).name,
        "source_file": spec.member,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "license": "Apache-2.0 (Google MediaPipe; see weights/mediapipe/NOTICE)",
    }
    return state, metadata


def write(state: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    """Write as float16: the tflite stores float16 weights, so nothing is lost."""
    tensors = {key: value.to(torch.float16).contiguous() for key, value in state.items()}
    for key, value in tensors.items():
        if not torch.equal(value.float(), state[key]):
            raise ConversionError(f"{key} does not survive float16")
    save_file(tensors, str(path), metadata=metadata)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", required=True, help="the mediapipe wheel (.whl) to read")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        state, metadata = convert(args.wheel, name)
        path = args.out / f"{name}.safetensors"
        write(state, metadata, path)
        parameters = sum(value.numel() for value in state.values())
        print(
            f"{path}: {len(state)} tensors, {parameters:,} parameters, "
            f"{path.stat().st_size / 1e6:.2f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
