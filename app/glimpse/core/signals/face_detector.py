"""MTCNN face detection (Zhang et al. 2016) on ONNX Runtime, with the weights the
`mtcnn` wheel ships (MIT licence; mtcnn/assets/weights/{pnet,rnet,onet}.lz4).

The wheel's own code needs TensorFlow; only its weight files are used here: each is
a joblib + lz4 list of Keras arrays, turned once per process into three small ONNX
graphs (onnx.helper; no export step, no torch) and run by onnxruntime, which Glimpse
already has for CLIP. The three stages are the published ones:
  P-Net  a 12 px sliding window over an image pyramid proposes boxes;
  R-Net  each proposal, cropped and resized to 24 px, is kept or dropped and refined;
  O-Net  the survivors at 48 px: a final score, box and five landmarks.
Boxes are in pixels of the image given: (x1, y1, x2, y2, score).
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from glimpse.core.errors import EngineUnavailable

_PACKAGE = "mtcnn"

# Layer lists: conv (kernel), prelu, pool (kernel, stride, keras "same"?), flatten
# (Keras Permute((2,1,3)) then Flatten: the weights were converted from Caffe's
# C,W,H order), dense (units). The weights come in this order, one array per slot.
_PNET = [("conv",), ("prelu",), ("pool", 2, 2, True), ("conv",), ("prelu",), ("conv",),
         ("prelu",)]
_RNET = [("conv",), ("prelu",), ("pool", 3, 2, True), ("conv",), ("prelu",),
         ("pool", 3, 2, False), ("conv",), ("prelu",), ("flatten",), ("dense",), ("prelu",)]
_ONET = [("conv",), ("prelu",), ("pool", 3, 2, True), ("conv",), ("prelu",),
         ("pool", 3, 2, False), ("conv",), ("prelu",), ("pool", 2, 2, True), ("conv",),
         ("prelu",), ("flatten",), ("dense",), ("prelu",)]
# Output heads after the trunk: (name, softmax?). P-Net's are 1x1 convolutions.
_PNET_HEADS = [("box", False), ("prob", True)]
_RNET_HEADS = [("box", False), ("prob", True)]
_ONET_HEADS = [("box", False), ("points", False), ("prob", True)]


def weights_dir() -> Path:
    """The weight folder of the mtcnn package, found without importing it (its
    __init__ imports TensorFlow)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable("Finding faces needs the 'mtcnn' package (its weights): "
                                "pip install mtcnn")
    return Path(next(iter(spec.submodule_search_locations))) / "assets" / "weights"


def load_weights(name: str) -> list[np.ndarray]:
    path = weights_dir() / f"{name}.lz4"
    if not path.is_file():
        raise EngineUnavailable(f"The face detector weights {path} are missing; reinstall mtcnn.")
    try:
        import joblib
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EngineUnavailable("Reading the face detector weights needs joblib and lz4: "
                                "pip install mtcnn") from exc
    return [np.asarray(a, dtype=np.float32) for a in joblib.load(path)]


def build_graph(name: str, layers: Sequence[tuple], heads: Sequence[tuple[str, bool]],
                weights: Sequence[np.ndarray], fully_convolutional: bool) -> bytes:
    """An ONNX model (NCHW float input "image") from Keras weights in layer order."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    it = iter(weights)
    x = "image"

    def const(array: np.ndarray) -> str:
        key = f"w{len(inits)}"
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), key))
        return key

    def out() -> str:
        return f"t{len(nodes)}"

    def conv(src: str) -> str:
        kernel, bias = next(it), next(it)  # Keras (kh, kw, in, out) -> ONNX (out, in, kh, kw)
        dst = out()
        nodes.append(helper.make_node("Conv", [src, const(kernel.transpose(3, 2, 0, 1)),
                                               const(bias)], [dst]))
        return dst

    def dense(src: str) -> str:
        kernel, bias = next(it), next(it)
        dst = out()
        nodes.append(helper.make_node("Gemm", [src, const(kernel), const(bias)], [dst]))
        return dst

    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            x = conv(x)
        elif kind == "dense":
            x = dense(x)
        elif kind == "prelu":
            alpha = next(it)
            slope = alpha.reshape(-1, 1, 1) if alpha.ndim == 3 else alpha
            dst = out()
            nodes.append(helper.make_node("PRelu", [x, const(slope)], [dst]))
            x = dst
        elif kind == "pool":
            _, k, s, same = layer
            # Keras "same" pads at the end for these even inputs: ONNX ceil_mode does that
            dst = out()
            nodes.append(helper.make_node("MaxPool", [x], [dst], kernel_shape=[k, k],
                                          strides=[s, s], ceil_mode=int(same)))
            x = dst
        elif kind == "flatten":
            t = out()
            nodes.append(helper.make_node("Transpose", [x], [t], perm=[0, 3, 2, 1]))
            dst = f"{t}f"
            nodes.append(helper.make_node("Flatten", [t], [dst], axis=1))
            x = dst
    outputs = []
    for head, softmax in heads:
        y = conv(x) if fully_convolutional else dense(x)
        if softmax:
            nodes.append(helper.make_node("Softmax", [y], [head], axis=1))
        else:
            nodes.append(helper.make_node("Identity", [y], [head]))
        outputs.append(helper.make_tensor_value_info(head, TensorProto.FLOAT, None))
    if next(it, None) is not None:
        raise EngineUnavailable(f"The {name} weights do not fit its layers; reinstall mtcnn.")
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                    ["n", 3, "h", "w"])],
        outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # onnxruntime reads it; the graph is checked when the session loads
    return bytes(model.SerializeToString())


@dataclass(frozen=True)
class Thresholds:
    """Per stage: P-Net proposals, R-Net and O-Net keep a box above these face
    probabilities (the paper's 0.6/0.7/0.7; O-Net's final one is set by the caller)."""

    pnet: float = 0.6
    rnet: float = 0.7
    onet: float = 0.7


def nms(boxes: np.ndarray, threshold: float, by_min: bool = False) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first; overlap is
    IoU, or intersection over the smaller box with by_min (the final MTCNN step:
    drops a small box inside a bigger one)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2, s = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3], boxes[:, 4]
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-s)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter
        overlap = np.where(denom > 0, inter / np.maximum(denom, 1e-9), 0.0)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def square(boxes: np.ndarray) -> np.ndarray:
    """Each box made square around its centre (side = its longer side)."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + (w - side) / 2
    out[:, 1] = boxes[:, 1] + (h - side) / 2
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def refine(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Move each box's corners by the network's offsets (fractions of its size)."""
    out = boxes.copy()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    out[:, 0] += reg[:, 0] * w
    out[:, 1] += reg[:, 1] * h
    out[:, 2] += reg[:, 2] * w
    out[:, 3] += reg[:, 3] * h
    return out


def pyramid(height: int, width: int, min_face: float, factor: float = 0.709) -> list[float]:
    """Scales at which a min_face-pixel face fills P-Net's 12 px window, down to the
    scale where the shorter side is 12 px."""
    scales = []
    scale = 12.0 / min_face
    side = min(height, width) * scale
    while side >= 12:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


def _normalise(pixels: np.ndarray) -> np.ndarray:
    """HWC uint8 RGB -> NCHW float in [-1, 1] as the networks were trained."""
    return ((pixels.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]


def _crops(image: Image.Image, boxes: np.ndarray, size: int) -> np.ndarray:
    """Each box cut from the image (outside it: black) and resized to size x size."""
    batch = np.empty((len(boxes), 3, size, size), dtype=np.float32)
    for i, (x1, y1, x2, y2) in enumerate(boxes[:, :4]):
        crop = image.crop((int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2))))
        batch[i] = _normalise(np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR)))[0]
    return batch


class MTCNN:
    """The three networks, built on first use; detect() is serialised by the caller."""

    def __init__(self, min_face: int = 20, thresholds: Thresholds = Thresholds(),
                 providers: Sequence[str] = ()) -> None:
        self.min_face = min_face
        self.thresholds = thresholds
        # CUDA first where ONNX Runtime has it (core/encoding/providers.py); the CPU by default.
        self.providers = list(providers) or ["CPUExecutionProvider"]
        self._sessions: tuple[Any, Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._sessions is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = 1  # tiny graphs: threads cost more than they give
                options.inter_op_num_threads = 1
                made = []
                for name, layers, heads, conv in (("pnet", _PNET, _PNET_HEADS, True),
                                                  ("rnet", _RNET, _RNET_HEADS, False),
                                                  ("onet", _ONET, _ONET_HEADS, False)):
                    graph = build_graph(name, layers, heads, load_weights(name), conv)
                    made.append(ort.InferenceSession(graph, options, providers=self.providers))
                self._sessions = (made[0], made[1], made[2])
        return self._sessions

    def detect(self, image: Image.Image,
               min_face: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Faces in an RGB image: boxes (n, 5: x1, y1, x2, y2, probability) and
        landmarks (n, 5, 2: eyes, nose, mouth corners), in the image's pixels.
        min_face (px) overrides the detector's smallest face for this image."""
        pnet, rnet, onet = self._load()
        image = image.convert("RGB")
        width, height = image.size
        t = self.thresholds
        proposals = []
        level = image
        for scale in pyramid(height, width, min_face or self.min_face):
            w, h = int(np.ceil(width * scale)), int(np.ceil(height * scale))
            # each level from the one before: a resize costs its source's pixels
            level = level.resize((w, h), Image.Resampling.BILINEAR) if scale < 1 else image.resize((w, h))
            box_reg, prob = pnet.run(None, {"image": _normalise(np.asarray(level))})
            ys, xs = np.nonzero(prob[0, 1] > t.pnet)
            if not len(ys):
                continue
            cells = np.stack([xs * 2, ys * 2, xs * 2 + 12, ys * 2 + 12], axis=1) / scale
            found = np.concatenate([refine(cells.astype(np.float32),
                                           box_reg[0, :, ys, xs]),
                                    prob[0, 1, ys, xs][:, None]], axis=1)
            proposals.append(found[nms(found, 0.5)])
        empty = (np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))
        if not proposals:
            return empty
        boxes = np.concatenate(proposals)
        boxes = square(boxes[nms(boxes, 0.7)])
        # R-Net
        box_reg, prob = rnet.run(None, {"image": _crops(image, boxes, 24)})
        keep = prob[:, 1] > t.rnet
        boxes, box_reg = boxes[keep], box_reg[keep]
        if not len(boxes):
            return empty
        boxes[:, 4] = prob[keep, 1]
        kept = nms(boxes, 0.7)
        boxes = square(refine(boxes[kept], box_reg[kept]))
        # O-Net
        box_reg, points, prob = onet.run(None, {"image": _crops(image, boxes, 48)})
        keep = prob[:, 1] > t.onet
        boxes, box_reg, points = boxes[keep], box_reg[keep], points[keep]
        if not len(boxes):
            return empty
        boxes[:, 4] = prob[keep, 1]
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        marks = np.stack([boxes[:, 0:1] + w[:, None] * points[:, 0:5],
                          boxes[:, 1:2] + h[:, None] * points[:, 5:10]], axis=2)
        boxes = refine(boxes, box_reg)
        kept = nms(boxes, 0.7, by_min=True)
        return boxes[kept].astype(np.float32), marks[kept].astype(np.float32)
