"""Shared pytest fixtures: simulator selection and skip rules for optional simulators, and one
C++ compiler cache for every Verilator build of the run.

Works unchanged for new test folders and under pytest-xdist (``-n auto``, the default in
pyproject.toml): builds of one cache key are serialised by a file lock in
:mod:`mixforge.toolchain`, so parallel workers reuse each other's builds.
"""

from __future__ import annotations

import os

import pytest

from mixforge.toolchain import cache_dir, simulator_available


def pytest_configure(config: pytest.Config) -> None:
    """Point ccache at the run's build cache once, so tests that redirect
    ``MIXFORGE_CACHE_DIR`` to a temporary folder still reuse the compiled Verilator run-time
    (a user's own ``CCACHE_DIR`` is kept)."""
    os.environ.setdefault("CCACHE_DIR", str(cache_dir() / "ccache"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--sim", action="append", default=None,
                     help="HDL simulator(s) for rtl tests (verilator, icarus); default: "
                          "verilator, plus icarus when installed")


def rtl_sims(config: pytest.Config) -> list[str]:
    chosen = config.getoption("--sim")
    if chosen:
        return list(chosen)
    return ["verilator"] + (["icarus"] if simulator_available("icarus") else [])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``sim``. Without ``--sim``: Verilator always; Icarus (when installed) in the
    default run only for tests marked ``icarus`` (a smoke set), for every other rtl test under
    ``-m slow`` -- Icarus is 10-100x slower, and CI has a time budget."""
    if "sim" not in metafunc.fixturenames:
        return
    sims: list[object] = list(rtl_sims(metafunc.config))
    if not metafunc.config.getoption("--sim") and "icarus" in sims \
            and metafunc.definition.get_closest_marker("icarus") is None:
        sims[sims.index("icarus")] = pytest.param("icarus", marks=pytest.mark.slow)
    metafunc.parametrize("sim", sims)
