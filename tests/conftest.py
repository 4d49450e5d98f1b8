"""Shared pytest fixtures: simulator selection and skip rules for optional simulators."""

from __future__ import annotations

import pytest

from mixforge.toolchain import simulator_available


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
