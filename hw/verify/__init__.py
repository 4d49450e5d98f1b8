"""cocotb testbenches, drivers / monitors and vector plans, shipped with the package.

``mixforge verify`` and the test suite run these modules (``tb_*.py``) in the simulator
process; :func:`mixforge.toolchain.testbench_dir` is this folder.
"""
