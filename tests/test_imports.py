"""`import normcore` imports none of the optional integrations; nc.preprocess is there on first use."""

import subprocess
import sys

OPTIONAL = ("sklearn", "scipy", "torch", "onnx", "onnxruntime", "matplotlib", "dask")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_import_loads_no_optional_integration():
    loaded = _run("import sys, normcore; print(' '.join(m for m in %r if m in sys.modules))" % (OPTIONAL,))
    assert loaded == "", f"import normcore imported {loaded}"


def test_preprocess_on_first_use():
    out = _run("import importlib, numpy as np, normcore as nc\n"
               "s = nc.preprocess.Standardizer().fit(np.eye(3))\n"
               "print('preprocess' in dir(nc), type(s).__name__,"
               " nc.preprocess is importlib.import_module('normcore.preprocess'))")
    assert out == "True Standardizer True"
