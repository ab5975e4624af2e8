"""The libraries normcore is measured against, behind one small interface.

A :class:`Library` knows how to tell whether it is installed, its version, how to set its thread count, and how
to *bind* an operation to preallocated NumPy buffers: it turns the buffers into its own array type (a
``torch.from_numpy`` view, an ``OrtValue`` over the same memory...) and hands them to the operation's builder,
which returns the zero-argument callable that gets timed. Every library writes into the same preallocated output
array, so no call allocates its result and all of them touch the same memory.

Optional peers (PyTorch, ONNX Runtime) are imported lazily, only when a case needs them, so ``normcore.bench``
imports without them.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

#: A builder gets the library's views of the input buffers and of the output buffer (keyword ``out``) and
#: returns the zero-argument callable to time. It may allocate scratch space; the callable must not allocate.
Builder = Callable[..., Callable[[], Any]]


class LazyModule:
    """A module imported on first attribute access, so ``torch.sigmoid`` can be written in op tables that are
    defined at import time without importing torch (or failing) when it is absent."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


torch = LazyModule("torch")
onnx = LazyModule("onnx")
ort = LazyModule("onnxruntime")


def _importable(*names: str) -> bool:
    return all(importlib.util.find_spec(n) is not None for n in names)


@dataclass(frozen=True)
class Library:
    """A library under test. Subclasses override what differs: threads, array conversion, binding."""

    name: str
    modules: tuple[str, ...]
    #: False when the library always runs on one thread whatever the row's thread count (NumPy).
    threaded: bool = True

    def available(self) -> bool:
        return _importable(*self.modules)

    def version(self) -> str | None:
        if not self.available():
            return None
        return str(getattr(importlib.import_module(self.modules[-1]), "__version__", "?"))

    def set_threads(self, n: int) -> None:
        """Use ``n`` threads from now on (a no-op for single-threaded libraries)."""

    def wrap(self, a: np.ndarray) -> Any:
        """This library's view of a NumPy buffer, sharing its memory."""
        return a

    def bind(self, build: Any, inputs: Sequence[np.ndarray], out: np.ndarray, threads: int) -> Callable[[], Any]:
        """The zero-argument callable computing ``build``'s operation from ``inputs`` into ``out``."""
        return build(*(self.wrap(a) for a in inputs), out=self.wrap(out))


class _Normcore(Library):
    def set_threads(self, n: int) -> None:
        import normcore

        normcore.set_num_threads(n)

    def version(self) -> str | None:
        import normcore

        return normcore.__version__


class _Torch(Library):
    def set_threads(self, n: int) -> None:
        torch.set_num_threads(n)

    def wrap(self, a: np.ndarray) -> Any:
        return torch.from_numpy(a)


@dataclass(frozen=True)
class OnnxNode:
    """A one-node ONNX graph ``y = op_type(inputs...)`` with attributes; ONNX Runtime's "builder".

    ``opset``: the default-domain opset the model imports (Gelu needs 20, Mish 18); the IR version is the lowest
    that opset allows. ``gate``: the graph is ``y = in0 · op_type(inputs...)`` instead, a second node (Mul) that
    spells what has no ONNX op of its own, e.g. silu = x·Sigmoid(x) (ONNX Runtime fuses the pair into one kernel).
    ``then``: unary ops applied in turn to the result, e.g. ``("Relu",)`` for BatchNormalization → Relu.
    """

    op_type: str
    attributes: tuple[tuple[str, Any], ...] = ()
    opset: int = 17
    gate: bool = False
    then: tuple[str, ...] = ()

    @classmethod
    def of(cls, op_type: str, *, opset: int = 17, gate: bool = False, then: tuple[str, ...] = (),
           **attributes: Any) -> OnnxNode:
        return cls(op_type, tuple(sorted(attributes.items())), opset, gate, tuple(then))

    def model(self, inputs: Sequence[np.ndarray]) -> Any:
        """The ONNX model over 1-D inputs of the given arrays' length and dtype."""
        h = onnx.helper
        elem = h.np_dtype_to_tensor_dtype(inputs[0].dtype)
        names = [f"in{i}" for i in range(len(inputs))]
        stages = [f"t{i}" for i in range(len(self.then))] + ["out"]  # the main op writes stages[0]
        if self.gate:
            nodes = [h.make_node(self.op_type, names, ["gate"], **dict(self.attributes)),
                     h.make_node("Mul", [names[0], "gate"], [stages[0]])]
        else:
            nodes = [h.make_node(self.op_type, names, [stages[0]], **dict(self.attributes))]
        nodes += [h.make_node(op, [a], [b]) for op, a, b in zip(self.then, stages, stages[1:])]
        graph = h.make_graph(
            nodes,
            f"normcore_bench_{self.op_type}",
            [h.make_tensor_value_info(nm, elem, list(a.shape)) for nm, a in zip(names, inputs)],
            [h.make_tensor_value_info("out", elem, list(inputs[0].shape))],
        )
        opsets = [h.make_opsetid("", self.opset)]
        model = h.make_model(graph, opset_imports=opsets, producer_name="normcore.bench")
        model.ir_version = h.find_min_ir_version_for(opsets)
        onnx.checker.check_model(model)
        return model


class _OnnxRuntime(Library):
    """ONNX Runtime on the CPU provider: one session per (operation, thread count), built outside the timing,
    run through an IOBinding whose input and output are OrtValues over the preallocated NumPy buffers, so a run
    neither copies its input nor allocates its output."""

    def version(self) -> str | None:
        return str(ort.__version__) if self.available() else None

    def bind(self, build: Any, inputs: Sequence[np.ndarray], out: np.ndarray, threads: int) -> Callable[[], Any]:
        if not isinstance(build, OnnxNode):
            raise TypeError(f"onnxruntime contenders are OnnxNode specs, got {type(build).__name__}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # ORT's pool threads keep spinning for over 10 ms after a run returns, taking the second core from
        # whatever runs next: in interleaved rounds normcore's 16M sigmoid (2 threads) went from 1.3 to 5.4 ms
        # right after an ORT run. Stop the spinning when a run returns (it still spins during the run). The
        # price, ORT's alone: back-to-back 64K runs on 2 threads take ~20 µs instead of ~11 µs, because the
        # workers must be woken; 16M runs are unaffected.
        options.add_session_config_entry("session.force_spinning_stop", "1")
        model = build.model(inputs).SerializeToString()
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        binding = session.io_binding()
        # Keep the OrtValues alive as long as the callable: they only borrow the NumPy memory.
        values = [ort.OrtValue.ortvalue_from_numpy(a) for a in (*inputs, out)]
        for i, v in enumerate(values[:-1]):
            binding.bind_ortvalue_input(f"in{i}", v)
        binding.bind_ortvalue_output("out", values[-1])

        def run() -> None:
            session.run_with_iobinding(binding)

        run.keepalive = (session, binding, values)  # type: ignore[attr-defined]
        return run


NORMCORE = _Normcore("normcore", ("normcore",))
#: NumPy's ufuncs run on one thread: its column is single-threaded in every row.
NUMPY = Library("numpy", ("numpy",), threaded=False)
TORCH = _Torch("torch", ("torch",))
ONNXRUNTIME = _OnnxRuntime("onnxruntime", ("onnx", "onnxruntime"))

#: Column order of the report.
LIBRARIES = (NORMCORE, NUMPY, TORCH, ONNXRUNTIME)
