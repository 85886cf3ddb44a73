"""The documentation runs as written: the Sphinx site builds with no warning, every example
of the gallery runs, and every Python code block of README.md and docs/*.md runs.

Markers in the Markdown, an HTML comment on the line before a ```python fence:

- ``<!-- needs-datasets -->``: the block reads the real benchmark tables
  (``load_dataset``); it runs with ``SKMIXSYNTH_DATA`` pointing at them and is skipped, with
  the reason, where they are absent (see tests/conftest.py).
- ``<!-- not-run: REASON -->``: a measurement that takes minutes (its output is quoted
  beside it); not collected. The reason is required.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
EXAMPLES = sorted((REPO / "examples").glob("*.py"))
MARKDOWN = [README, *sorted(DOCS.glob("*.md")), *sorted((DOCS / "guide").glob("*.md"))]

FENCE = re.compile(
    r"(?:<!--\s*(?P<marker>[a-z-]+)(?::\s*(?P<reason>[^>]*?))?\s*-->\s*\n)?"
    r"```python\n(?P<code>.*?)```",
    flags=re.S,
)
MARKERS = {None, "needs-datasets", "not-run"}


def _blocks(path):
    """(marker, reason, code, line) of every ```python block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    return [
        (m["marker"], m["reason"], m["code"], text.count("\n", 0, m.start("code")) + 1)
        for m in FENCE.finditer(text)
    ]


def _params():
    params = []
    for path in MARKDOWN:
        for marker, _, code, line in _blocks(path):
            if marker == "not-run":
                continue
            marks = [pytest.mark.slow]
            if marker == "needs-datasets":
                marks.append(pytest.mark.datasets)
            name = f"{path.relative_to(REPO).as_posix()}:{line}"
            params.append(pytest.param(path, code, marker, id=name, marks=marks))
    return params


def test_readme_has_code():
    assert _blocks(README)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.relative_to(REPO).as_posix())
def test_markdown_markers_are_known(path):
    """A typo in a marker would silently run (or skip) a block: only known ones, and
    not-run always says why."""
    for marker, reason, _, line in _blocks(path):
        assert marker in MARKERS, f"{path.name}:{line}: unknown marker {marker!r}"
        if marker == "not-run":
            assert reason and reason.strip(), f"{path.name}:{line}: not-run needs a reason"


@pytest.mark.parametrize(("path", "code", "marker"), _params())
def test_markdown_block_runs(path, code, marker, tmp_path, monkeypatch, data_home):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if marker == "needs-datasets":
        monkeypatch.setenv("SKMIXSYNTH_DATA", str(data_home))
    threads = torch.get_num_threads()  # a block may set it (docs/guide/threads.md)
    try:
        exec(compile(code, str(path), "exec"), {"__name__": "__docs__"})
    finally:
        torch.set_num_threads(threads)


def _run(args, cwd, timeout=600):
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(example, tmp_path):
    done = _run([sys.executable, str(example)], cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert done.stdout.strip(), f"{example.name} printed nothing"
    assert "Traceback" not in done.stdout


def test_examples_are_in_the_gallery():
    """Each example has the title sphinx-gallery needs and a place in the gallery's order."""
    sys.path.insert(0, str(DOCS))
    try:
        from _gallery_order import ORDER
    finally:
        sys.path.remove(str(DOCS))
    assert sorted(ORDER) == sorted(p.name for p in EXAMPLES)
    for example in EXAMPLES:
        docstring = example.read_text(encoding="utf-8").split('"""')[1]
        lines = [line for line in docstring.strip().splitlines()]
        assert set(lines[0]) == {"="} and set(lines[2]) == {"="}, example.name


@pytest.mark.slow
def test_sphinx_build_has_no_warning(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra: pip install 'skmixsynth[docs]'")
    for module in ("numpydoc", "sphinx_gallery", "myst_parser", "pydata_sphinx_theme"):
        pytest.importorskip(module, reason="the docs extra: pip install 'skmixsynth[docs]'")
    # The examples run in test_example_runs: the build only shows their code (plot_gallery=0).
    done = _run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-D", "plot_gallery=0", "-d", str(tmp_path / "doctrees"), str(DOCS),
         str(tmp_path / "html")],
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    html = tmp_path / "html"
    for page in ("index.html", "api.html", "guide/which_model.html",
                 "auto_examples/index.html", "generated/skmixsynth.MixGANSynthesizer.html",
                 "mixgan.html"):
        assert (html / page).is_file(), page


@pytest.mark.parametrize(
    "module", ["skmixsynth", "skmixsynth.metrics", "skmixsynth.plotting", "skmixsynth.datasets"]
)
def test_api_reference_lists_every_public_name(module):
    """docs/api.rst names every public name: a new one (or a moved one) must be added there."""
    import importlib

    listed = set()
    current = None
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        if line.startswith(".. currentmodule::"):
            current = line.split("::")[1].strip()
        elif current and line.startswith("   ") and not line.strip().startswith(":"):
            listed.add(f"{current}.{line.strip()}")
    public = {f"{module}.{name}" for name in importlib.import_module(module).__all__
              if not name.startswith("__")}
    assert public <= listed, sorted(public - listed)
