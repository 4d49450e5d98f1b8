"""mixforge.reports: design-space sweeps, the result store, and reports.

``spec`` (sweep YAML -> points), ``points`` / ``kinds_workloads`` / ``kinds_serving`` (point
kinds: op, synth_pe, synth_array, model, serve), ``store`` (SQLite WAL), ``executors`` (local
pool, Ray), ``runner`` (the coordinator), ``table`` / ``plots`` / ``html`` (the report), ``cli``
(``mixforge sweep``, ``mixforge report``). See the README section "Design-space sweeps".
"""

__all__: list[str] = []
