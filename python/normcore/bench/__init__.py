"""The benchmark suite: normcore side by side with NumPy, PyTorch and ONNX Runtime."""
