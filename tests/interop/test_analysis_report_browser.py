"""The HTML page of `paramdelta analyze --html`, loaded in a real browser
(headless Chromium, which runs its script; --dump-dom gives the document
afterwards): the table sorts and filters as the address asks, the charts
have a bar per block in block order, and tensor names written to attack the
page (markup, a closing script tag) stay text."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

HOSTILE = [
    'model.layers.1.<img src=x onerror="document.title=\'pwned\'">.weight',
    "model.layers.2.</script><script>document.title='pwned'</script>.weight",
]
BLOCKS = 12


def write_models(root: Path) -> None:
    rng = np.random.default_rng(4)
    names = [f"model.layers.{i}.{part}.weight" for i in range(BLOCKS) for part in ("mlp", "attn")]
    names += ["lm_head.weight", *HOSTILE]
    base = {n: rng.standard_normal((8, 16)).astype(np.float32) for n in names}
    post = {n: v + rng.standard_normal(v.shape).astype(np.float32) * 0.01 for n, v in base.items()}
    # The new base moves some blocks far more than others, so that the charts have a shape.
    new = {n: v + rng.standard_normal(v.shape).astype(np.float32) * 0.001 * (1 + i % 5)
           for i, (n, v) in enumerate(base.items())}
    for name, tensors in (("base", base), ("post", post), ("new-base", new)):
        save_file(tensors, str(root / f"{name}.safetensors"))


class Document(HTMLParser):
    """Rows of the tensor table, the charts' bars, and every element's tag."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.body_attrs: dict[str, str] = {}
        self.rows: list[dict] = []
        self.charts: list[dict] = []
        self.title = ""
        self.shown = ""
        self._stack: list[str] = []
        self._cell: list[str] | None = None
        self._in_tbody = False
        self._in_tensors = False  # the browser adds a tbody to every table: only this one's rows count
        self._in_rect_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self._stack.append(tag)
        if tag == "body":
            self.body_attrs = a
        elif tag == "tbody" and self._in_tensors:
            self._in_tbody = True
        elif tag == "table":
            self._in_tensors = a.get("id") == "tensors"
        elif tag == "tr" and self._in_tbody:
            self.rows.append({"cells": [], "values": [], "hidden": "hidden" in a})
        elif tag == "td" and self._in_tbody:
            self._cell = []
            self.rows[-1]["values"].append(a.get("data-value"))
        elif tag == "figure":
            self.charts.append({"key": a.get("data-key"), "bars": []})
        elif tag == "title" and "rect" in self._stack:
            self._in_rect_title = True
            self.charts[-1]["bars"].append("")
        elif tag == "span" and a.get("id") == "shown":
            self._cell = []

    def handle_endtag(self, tag):
        if self._stack and self._stack[-1] == tag:
            self._stack.pop()
        if tag in ("tbody", "table"):
            self._in_tbody = False
        elif tag == "td" and self._cell is not None and self._in_tbody:
            self.rows[-1]["cells"].append("".join(self._cell))
            self._cell = None
        elif tag == "span" and self._cell is not None:
            self.shown = "".join(self._cell)
            self._cell = None
        elif tag == "title":
            self._in_rect_title = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_rect_title:
            self.charts[-1]["bars"][-1] += data
        elif self._stack and self._stack[-1] == "title" and "head" in self._stack:
            self.title += data


def browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail("no Chromium: run tools/setup.sh (it installs Debian's chromium)")


def dump_dom(page: Path, fragment: str, profile: Path) -> Document:
    out = subprocess.run([browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={profile}", "--dump-dom", f"{page.resolve().as_uri()}#{fragment}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    doc = Document()
    doc.feed(out.stdout)
    return doc


@pytest.fixture(scope="module")
def report(tmp_path_factory, run_paramdelta):
    root = tmp_path_factory.mktemp("report")
    write_models(root)
    run_paramdelta("compute", "--base", root / "base.safetensors", "--post", root / "post.safetensors",
                   "-o", root / "delta.safetensors", "-q")
    args = ["analyze", "--delta", root / "delta.safetensors", "--base", root / "base.safetensors",
            "--new-base", root / "new-base.safetensors"]
    run_paramdelta(*args, "--html", root / "report.html", "-q")
    analysis = json.loads(run_paramdelta(*args, "--json").stdout)
    return root, analysis


def test_the_table_sorts_and_filters_as_the_address_asks(report, tmp_path):
    root, analysis = report
    doc = dump_dom(root / "report.html", "sort=drift_ratio&order=descending&filter=mlp", tmp_path)
    assert doc.body_attrs.get("data-ready") == "true", "the page's script did not finish"
    names = [row["cells"][0] for row in doc.rows]
    expected = sorted(analysis["tensors"], key=lambda t: -t["drift"]["ratio"])
    assert names == [t["name"] for t in expected]
    hidden = {row["cells"][0] for row in doc.rows if row["hidden"]}
    assert hidden == {t["name"] for t in analysis["tensors"] if "mlp" not in t["name"]}
    assert doc.shown == str(BLOCKS)

    doc = dump_dom(root / "report.html", "sort=drift_cosine&order=ascending", tmp_path)
    names = [row["cells"][0] for row in doc.rows]
    assert names == [t["name"] for t in sorted(analysis["tensors"], key=lambda t: t["drift"]["cosine"])]
    assert not any(row["hidden"] for row in doc.rows)


def test_the_charts_have_a_bar_per_block_in_block_order(report, tmp_path):
    root, analysis = report
    doc = dump_dom(root / "report.html", "", tmp_path)
    assert [c["key"] for c in doc.charts] == ["delta_norm", "relative_change", "drift_ratio", "drift_cosine"]
    blocks = analysis["blocks"]
    assert [b["name"] for b in blocks] == [f"model.layers.{i}" for i in range(BLOCKS)]
    for chart in doc.charts:
        assert [bar.split(":")[0] for bar in chart["bars"]] == [b["name"] for b in blocks], chart["key"]
    ratios = [float(bar.split(": ")[1]) for bar in doc.charts[2]["bars"]]
    assert ratios == pytest.approx([b["drift"]["ratio"] for b in blocks], rel=1e-3)


def test_hostile_tensor_names_stay_text(report, tmp_path):
    root, _ = report
    doc = dump_dom(root / "report.html", "", tmp_path)
    assert doc.body_attrs.get("data-ready") == "true"
    assert "img" not in doc.tags
    assert doc.tags.count("script") == 1
    assert "pwned" not in doc.title
    names = {row["cells"][0] for row in doc.rows}
    for name in HOSTILE:
        assert name in names
