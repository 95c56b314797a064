"""The README's main job end to end: `tools/demo.sh` on the bundled tiny model
family must print exactly the committed tables (models/tiny/expected_results.md),
and the README must show those tables."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_reproduces_the_committed_tables(tmp_path):
    cli = os.environ.get("PARAMDELTA_CLI", str(ROOT / "build" / "paramdelta"))
    env = dict(os.environ, DEMO_DIR=str(tmp_path / "demo"))
    run = subprocess.run([str(ROOT / "tools" / "demo.sh"), cli], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    produced = (tmp_path / "demo" / "results.md").read_text()
    expected = (ROOT / "models" / "tiny" / "expected_results.md").read_text()
    assert produced == expected
    # The first table's ParamΔ row and the α sweep are what users read in the README.
    readme = (ROOT / "README.md").read_text()
    assert expected.strip() in readme, "README's demo tables differ from models/tiny/expected_results.md"
