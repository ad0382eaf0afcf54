"""The runtime dynamics package stays apart from its research code."""

from __future__ import annotations

import subprocess
import sys


def test_runtime_never_imports_the_research_code() -> None:
    code = (
        "import sys, engines.dynamics, engines.transition, server.engine, server.cli.cmd_serve\n"
        "from engines.dynamics import LearnedDynamics\n"
        "print(sorted(m for m in sys.modules if m.startswith('engines.dynamics.research')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
