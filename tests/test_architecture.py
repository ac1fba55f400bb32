"""The house's rules, checked on the source: no import circle between tinylm's modules, no private
name imported from another module, no module past ~500 lines but data tables, and the contracts
(model families, export formats) that every registered one must meet."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tinylm"
# Modules that are mostly data (word lists, story templates): long by nature.
DATA_TABLES = {
    "tinylm.synth.lexicon_en",
    "tinylm.synth.lexicon_zh",
    "tinylm.synth.scenes_en",
    "tinylm.synth.scenes_zh",
    "tinylm.synth.plots_en",
    "tinylm.synth.plots_zh",
}
# "about 500": the trainer's loop reads top to bottom in one module of ~570 lines.
MAX_LINES = 580


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Lines of `if TYPE_CHECKING:` blocks: imports there never run."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the tinylm modules it imports (at the top or inside a function)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        targets: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("tinylm"))
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinylm"):
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle() -> None:
    graph = _imports(_modules())
    assert len(graph) > 80  # the walk found the package
    assert _circles(graph) == []


def test_the_circle_check_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_name_crosses_a_module() -> None:
    offenders = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinylm"):
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_") and not a.name.endswith("__")
                ]
                offenders += [f"{name}: from {node.module} import {p}" for p in private]
    assert offenders == []


def test_no_module_over_about_500_lines_but_data_tables() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
        and name not in DATA_TABLES
    }
    assert long == {}


# -- contracts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["llama", "rnn", "megabyte"])
def test_every_model_family_meets_the_family_contract(arch) -> None:
    import torch

    from tinylm.config import ARCHES, ModelConfig
    from tinylm.models import FAMILIES, ModelFamily, build_model

    assert set(FAMILIES) == set(ARCHES) == {"llama", "rnn", "megabyte"}
    family = FAMILIES[arch]
    assert isinstance(family, ModelFamily)
    torch.manual_seed(0)
    values = dict(arch=arch, dim=32, n_layers=1, vocab_size=260, max_seq_len=16)
    if arch != "rnn":
        values.update(n_heads=2)
    if arch == "megabyte":
        values.update(patch_size=4, local_dim=32, local_heads=2, local_layers=1)
    cfg = ModelConfig(**values)
    model = build_model(cfg)
    assert model.config is cfg
    idx = torch.randint(3, 260, (2, 16))
    logits, loss = model(idx, targets=idx)  # training: a loss over the batch
    assert loss.ndim == 0 and torch.isfinite(loss)
    logits, _ = model(idx)  # scoring: logits for every position
    assert logits.shape == (2, 16, 260)
    cache = model.make_cache(2)  # generation: a cache the model fills step by step
    step, _ = model(idx[:, :5], cache=cache, start=0, last_only=True)
    assert step.shape[:2] == (2, 1)
    # what FSDP wraps and Muon groups: the repeated blocks (an rnn's cells are one module, so
    # FSDP shards it whole), and 2-D hidden matrices
    blocks = family.blocks(model)
    assert all(isinstance(b, torch.nn.Module) for b in blocks) and (arch == "rnn" or blocks)
    hidden = family.hidden_matrices(model)
    assert hidden and all(p.ndim == 2 for p in hidden)


def test_every_export_format_meets_the_format_contract() -> None:
    from tinylm.interop.formats import EXPORT_FORMATS, ExportFormat

    assert set(EXPORT_FORMATS) == {"hf", "llama2c", "gguf"}
    for name, fmt in EXPORT_FORMATS.items():
        assert isinstance(fmt, ExportFormat) and fmt.name == name
        assert fmt.title and fmt.suggested_out and fmt.dtypes[0] == "fp32"
        assert callable(fmt.write)
