"""Amaranth -> Verilog -> Verilator + cocotb, exhaustive, driven from pytest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mixforge import toolchain
from mixforge.errors import ConfigError
from mixforge.hw.export import write_verilog
from mixforge.hw.primitives import PipelinedMul
from mixforge.toolchain import run_cocotb


@pytest.mark.rtl
@pytest.mark.parametrize("a_width,b_width,stages", [(8, 8, 2), (4, 8, 3)])
def test_pipelined_mul_exhaustive(tmp_path: Path, sim: str, a_width: int, b_width: int,
                                  stages: int) -> None:
    dut = PipelinedMul(a_width=a_width, b_width=b_width, stages=stages)
    exp = write_verilog(dut, "pipelined_mul", tmp_path, generator="PipelinedMul",
                        params=dut.params, latency=dut.latency, throughput=dut.throughput)
    res = run_cocotb(verilog_sources=[exp.verilog], toplevel=exp.toplevel,
                     test_module="tb_pipelined_mul", test_dir=toolchain.testbench_dir(), sim=sim,
                     extra_env={"MIXFORGE_TB_PARAMS": json.dumps(dut.params)})
    assert res.tests == 2
    assert res.failed == 0, res.failures


def test_sidecar_names_the_design(tmp_path: Path) -> None:
    dut = PipelinedMul(a_width=6, b_width=5, stages=1)
    exp = write_verilog(dut, "m", tmp_path, generator="PipelinedMul", params=dut.params,
                        latency=dut.latency, throughput=dut.throughput)
    meta = json.loads(exp.sidecar.read_text())
    assert meta["params"] == {"a_width": 6, "b_width": 5, "stages": 1}
    assert meta["latency"] == 1 and meta["toplevel"] == "m"
    assert len(meta["sha256"]) == 64 and "module m" in exp.verilog.read_text()


@pytest.mark.parametrize("kw,msg", [({"a_width": 1}, "a_width: must be an integer in 2..32"),
                                    ({"stages": 0}, "stages: must be an integer >= 1")])
def test_bad_parameters(kw: dict[str, int], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        PipelinedMul(**kw)
