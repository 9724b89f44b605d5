"""Dependencies run one way: models <- hw <- circuits <- deepxbar."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["models", "hw", "circuits", "deepxbar"]


@pytest.mark.parametrize("layer", LAYERS)
def test_no_upward_imports(layer):
    higher = set(LAYERS[LAYERS.index(layer) + 1:])
    for path in (ROOT / layer).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in higher, f"{path} imports {name}"
