"""Reports: files written, self-contained HTML, Markdown/CSV content, and the HTML in headless
Chromium (every image loads, no console error)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mixforge.cli import main
from mixforge.reports.runner import run_sweep
from mixforge.reports.spec import load_spec
from mixforge.reports.store import Store
from mixforge.reports.table import pareto_front


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sweep_specs import write_spec

    tmp = tmp_path_factory.mktemp("report")
    spec = load_spec(write_spec(tmp, """name: small
axes:
  hw.xpu.array.rows: [8, 16, 64]
  op.m: [16, 64]
  hw.hbm.data_rate_bps: [5.0e+8, 2.0e+9]
derived:
  hw.xpu.array.cols: hw.xpu.array.rows
constraints:
  - {name: area, expr: "metrics.array_transistors <= 2.0e7"}
"""))
    with Store(tmp / "r.db") as st:
        run_sweep(spec, st)
    assert main(["report", str(tmp / "r.db"), "-o", str(tmp / "out")]) == 0
    return tmp / "out"


def test_pareto_front() -> None:
    pts = [(1.0, 5.0), (2.0, 2.0), (3.0, 3.0), (4.0, 1.0), (2.0, 2.0)]
    assert pareto_front(pts, [False, False]) == [0, 1, 3, 4]
    assert pareto_front(pts, [True, False]) == [3]
    assert pareto_front(pts, [True, True]) == [0, 2, 3]


def test_files_and_contents(report: Path) -> None:
    html = (report / "report.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    imgs = re.findall(r"<img [^>]*src='([^']*)'", html)
    assert len(imgs) >= 4 and all(s.startswith("data:image/png;base64,") for s in imgs)
    for ext in ("png", "pdf", "svg"):
        assert len(list((report / "figures").glob(f"*.{ext}"))) == len(imgs)
    md = (report / "report.md").read_text()
    assert "12 op points: 8 ok, 4 infeasible" in md and "```yaml" in md
    rows = list(csv.DictReader((report / "small.csv").open()))
    assert len(rows) == 12 and {r["status"] for r in rows} == {"ok", "infeasible"}
    assert all(float(r["seconds"]) > 0 for r in rows)
    # the best designs' resolved configs are complete YAML that loads back as a device
    import yaml

    from mixforge.sim.arch import arch_from_dict

    block = re.search(r"```yaml\n(.*?)```", md, re.S)
    assert block is not None
    cfg = yaml.safe_load(block.group(1))
    assert arch_from_dict(cfg["hw"]).xpu.array.rows in (8, 16)


_PROBE = """<script>window.__errors=[];window.addEventListener('error',e=>window.__errors.push(
String(e.message||e.target&&e.target.src)),true);const ce=console.error;console.error=(...a)=>{
window.__errors.push(a.join(' '));ce(...a)};window.addEventListener('load',()=>{const im=[...
document.images];document.body.setAttribute('data-probe',JSON.stringify({n:im.length,bad:im.
filter(i=>!i.complete||i.naturalWidth===0).length,errors:window.__errors}))});</script>"""


def test_html_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(n)), None)
    if exe is None:
        pytest.skip("no headless browser: install Debian's chromium (apt-get install chromium; "
                    ".ci/run does this when run as root)")
    page = tmp_path / "probe.html"
    page.write_text((report / "report.html").read_text().replace("<head>", "<head>" + _PROBE,
                                                                 1))
    proc = subprocess.run(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=180)
    m = re.search(r"data-probe=\"([^\"]*)\"", proc.stdout)
    assert m, f"page did not load: {proc.stderr[-2000:]}"
    probe = json.loads(m.group(1).replace("&quot;", '"'))
    assert probe["n"] >= 4 and probe["bad"] == 0, probe
    assert probe["errors"] == [], probe
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln and "ERROR" in ln]
    assert console == []
