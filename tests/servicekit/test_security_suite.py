"""`make security` in its short form: the attacker's probes against the real exporter."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_security_probes_short_form(tmp_path):
    out = tmp_path / "security.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.security", "--short", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    measured = json.loads(out.read_text())
    assert measured["checks"] and all(measured["checks"].values()), measured["checks"]
    flood = measured["this tree"]["flood"]
    # Under the flood every legitimate scrape is answered, and attackers get only refusals.
    assert flood["attacked"]["ok"] == flood["attacked"]["scrapes"] > 0
    assert set(flood["attacker_answers"]) <= {"401", "429"}
    assert int(flood["attacker_answers"].get("401", 0)) > 0
