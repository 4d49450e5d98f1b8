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
    if "sim" in metafunc.fixturenames:
        metafunc.parametrize("sim", rtl_sims(metafunc.config))
