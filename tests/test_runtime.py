"""Runtime: ISA dispatch (forced by env, switched in process), threads, determinism, the C++ package."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import normcore as nc
from normcore import _core

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)


def test_isas():
    isas = nc.available_isas()
    assert isas[0] == "baseline"
    assert nc.active_isa() in isas
    assert set(isas) <= {"baseline", "avx2", "avx512"}


@pytest.mark.parametrize("name", nc.available_isas())
def test_force_isa_by_environment(name):
    r = run_python("import normcore; print(normcore.active_isa())", NORMCORE_FORCE_ISA=name)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == name


@pytest.mark.parametrize("name", ["sse9", "AVX2 "] + ([] if "avx512" in nc.available_isas() else ["avx512"]))
def test_force_unknown_isa_fails_at_import_naming_available(name):
    r = run_python("import normcore", NORMCORE_FORCE_ISA=name)
    assert r.returncode != 0
    assert "NORMCORE_FORCE_ISA" in r.stderr and "baseline" in r.stderr


def test_set_isa_in_process():
    before = nc.active_isa()
    try:
        for name in nc.available_isas():
            _core.set_isa(name)
            assert nc.active_isa() == name
        with pytest.raises(ValueError, match="baseline"):
            _core.set_isa("nope")
    finally:
        _core.set_isa(before)


def test_omp_num_threads_is_honoured():
    r = run_python("import normcore; print(normcore.get_num_threads())", OMP_NUM_THREADS="1")
    assert r.stdout.strip() == "1", r.stderr
    r = run_python("import normcore; print(normcore.get_num_threads())", OMP_NUM_THREADS="3")
    assert r.stdout.strip() == "3", r.stderr


def test_blocked_reduction_is_identical_for_any_thread_count(threads, rng):
    x = rng.standard_normal(5_000_017) * 1e3
    sums = []
    for n in (1, 2, 3, 4):
        nc.set_num_threads(n)
        sums.append(_core.blocked_sum(x))
    assert len({s.hex() for s in sums}) == 1
    assert sums[0] == pytest.approx(float(np.sum(x, dtype=np.float64)), rel=1e-12)


def test_copy_roofline_helper(rng):
    x = rng.standard_normal(1_000_003).astype(np.float32)
    np.testing.assert_array_equal(_core.copy(x), x)


def test_version_matches_metadata():
    assert nc.__version__ == importlib.metadata.version("normcore") == _core.version()


def test_cmakedir_cli():
    r = subprocess.run([sys.executable, "-m", "normcore", "--cmakedir"], capture_output=True, text=True, check=True)
    d = Path(r.stdout.strip())
    assert d == Path(nc.get_cmake_dir())
    assert (d / "normcoreConfig.cmake").is_file() and (d / "normcoreConfigVersion.cmake").is_file()
    assert (Path(nc.get_include()) / "normcore" / "normcore.hpp").is_file()


def _cmake() -> str | None:
    found = shutil.which("cmake")
    if found:
        return found
    try:
        import cmake  # the PyPI package from the test extra

        return str(Path(cmake.CMAKE_BIN_DIR) / "cmake")
    except ImportError:
        return None


@pytest.mark.slow
def test_cpp_consumer_builds_against_installed_package(tmp_path):
    """examples/cpp, a stand-alone CMake project, finds the installed package and runs."""
    cmake = _cmake()
    if cmake is None:
        pytest.skip("cmake not available")
    build = tmp_path / "build"
    cfg = [cmake, "-S", str(ROOT / "examples" / "cpp"), "-B", str(build), f"-Dnormcore_DIR={nc.get_cmake_dir()}",
           "-DCMAKE_BUILD_TYPE=Release"]
    subprocess.run(cfg, check=True, capture_output=True, text=True, timeout=300)
    subprocess.run([cmake, "--build", str(build)], check=True, capture_output=True, text=True, timeout=300)
    r = subprocess.run([str(build / "normcore_example")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"normcore {nc.__version__}" in r.stdout


def test_stub_lists_the_activation_enum():
    """_core.pyi's Activation enum is the compiled one (names and ids), so type checkers see the catalog."""
    import re

    from normcore import _core

    stub = (Path(nc.__file__).parent / "_core.pyi").read_text()
    body = stub.split("class Activation(enum.IntEnum):", 1)[1].split("\ndef ", 1)[0]
    listed = {m.group(1): int(m.group(2)) for m in re.finditer(r"^    (\w+) = (\d+)$", body, re.M)}
    assert listed == {name: int(v) for name, v in _core.Activation.__members__.items()}
