"""axe-core (npm, pinned in package.json, installed by scripts/deps.sh) run inside the page: WCAG 2.1 A and AA rules.

`check(driver, step)` fails on any serious or critical violation and counts what it checked; the counts are
printed at the end of the run (conftest's pytest_terminal_summary).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from tools.devstack import ROOT

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = ("serious", "critical")

RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(r => done({version: axe.version, violations: r.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}))}))
  .catch(e => done({error: String(e)}));
"""


@dataclass
class Counts:
    pages: int = 0  # page states checked (one page at one width in one language)
    rules: set[str] = field(default_factory=set)
    minor: int = 0  # moderate or minor violations seen (reported, not failing)
    failing: int = 0
    version: str = ""


COUNTS = Counts()


def _source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"axe-core is missing ({AXE_JS}): run `make deps` (npm ci installs the version package.json pins)")
    return AXE_JS.read_text()


def run(driver, step: str) -> dict:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now: {"version", "violations"}."""
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(_source())
    driver.set_script_timeout(60)
    result = driver.execute_async_script(RUN_JS, TAGS)
    assert "error" not in result, f"{step}: axe failed: {result.get('error')}"
    return result


def check(driver, step: str) -> None:
    """Run axe on the page as it is now; fail on a serious or critical WCAG 2.1 AA violation."""
    result = run(driver, step)
    COUNTS.version = result["version"]
    COUNTS.pages += 1
    failing = [v for v in result["violations"] if v["impact"] in FAILING]
    COUNTS.rules.update(v["id"] for v in result["violations"])
    COUNTS.minor += len(result["violations"]) - len(failing)
    COUNTS.failing += len(failing)
    width = driver.execute_script("return window.innerWidth")
    lang = driver.execute_script("return document.documentElement.lang")
    assert not failing, f"{step} ({lang}, {width}px): axe found\n" + json.dumps(failing, indent=1, ensure_ascii=False)


def summary() -> str:
    rules = ", ".join(sorted(COUNTS.rules)) or "none"
    return (f"axe-core {COUNTS.version}: {COUNTS.pages} page states checked against WCAG 2.1 A/AA; "
            f"{COUNTS.failing} serious/critical violations, {COUNTS.minor} moderate/minor (rules seen: {rules})")  # fmt: skip
