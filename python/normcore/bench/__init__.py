"""The benchmark suite: normcore side by side with NumPy, PyTorch and ONNX Runtime, and the memory-copy roofline.

Run it with ``python -m normcore bench [--quick]``. The pieces:

- :mod:`.peers`: the libraries (how to set their threads and bind an op to preallocated buffers);
- :mod:`.cases`: the operations, spelled once per library, and the cases (operation × size);
- :mod:`.harness`: checking each contender against normcore, then interleaved, median-of-rounds timing;
- :mod:`.report`: text, Markdown and JSON reports; :mod:`.machine`: what it ran on; :mod:`.cli`: the command.

PyTorch and ONNX Runtime are optional: they are imported only when present and needed.
"""
