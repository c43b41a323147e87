"""A layer of the user's own, named by a dotted path: `model.activation=my_layers.Swish`.

The path is `module.Class` (or `package.module.Class`), found as `import` finds it from the folder
the command runs in. The class needs `forward(self, z)` and `backward(self, grad)`, nothing more.

Torch-free: `check_layer_path` finds the module's file and reads the class from its source
without running it (the user's module imports torch, and the config checks run before torch is
imported); `import_layer_class` imports it when a network is built.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from importlib.machinery import PathFinder
from pathlib import Path

from experiments.errors import ConfigError

METHODS = {"forward": "forward(self, z)", "backward": "backward(self, grad)"}
HOW = (
    "a layer of your own is a class with forward(self, z) and backward(self, grad) in a .py "
    "file of the folder you run from"
)


def is_layer_path(name: object) -> bool:
    """`module.Class`: two or more Python identifiers joined by dots."""
    return isinstance(name, str) and "." in name and all(p.isidentifier() for p in name.split("."))


def check_layer_path(key: str, name: str, folder: str | Path | None = None) -> None:
    """Raise a one-line `ConfigError` when `name`'s module is not found from `folder` (default:
    the working folder) or its source shows the class missing or lacking a method."""
    folder = Path(folder or os.getcwd())
    module, cls = name.rsplit(".", 1)
    source = _module_file(key, name, folder)
    if source is None or source.suffix != ".py":  # a namespace package, a compiled module
        return
    try:
        tree = ast.parse(source.read_bytes(), filename=str(source))
    except SyntaxError as err:
        raise ConfigError(f"{key}={name}: {source} line {err.lineno}: {err.msg}") from None
    methods = _class_methods(tree, cls)
    if methods is None and not {cls, "*"} & _bindings(tree):
        raise _no_class(key, name, module)
    for method in METHODS:
        if methods is not None and method not in methods:
            raise _no_method(key, name, method)


def import_layer_class(key: str, name: str) -> type:
    """The class `name` imported, the working folder first on `sys.path` for this import only;
    a one-line `ConfigError` when it does not import or lacks a method."""
    module_name, cls = name.rsplit(".", 1)
    folder = os.getcwd()
    sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and module_name.startswith(err.name):
            raise _no_module(key, name, module_name, Path(folder)) from None
        raise _failed(key, name, module_name, err) from None
    except Exception as err:  # the user's module raised while importing
        raise _failed(key, name, module_name, err) from None
    finally:
        sys.path.remove(folder)
    layer = getattr(module, cls, None)
    if not isinstance(layer, type):
        raise _no_class(key, name, module_name)
    for method in METHODS:
        if not callable(getattr(layer, method, None)):
            raise _no_method(key, name, method)
    return layer


def _module_file(key: str, name: str, folder: Path) -> Path | None:
    """The module's source file, searched in `folder` then `sys.path`, as importing from
    `folder` would, without importing anything (a package's `__init__` does not run)."""
    module = name.rsplit(".", 1)[0]
    search: list[str] | None = [str(folder), *sys.path]
    spec = None
    for part in module.split("."):
        spec = PathFinder.find_spec(part, search) if search is not None else None
        if spec is None:
            raise _no_module(key, name, module, folder)
        search = list(spec.submodule_search_locations or []) or None
    return Path(spec.origin) if spec is not None and spec.origin else None


def _class_methods(tree: ast.Module, cls: str) -> set[str] | None:
    """The methods of the top-level class `cls`, all of them as far as the source can tell
    (None: no such class statement, or one with bases, which may give it more methods)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            if node.bases or node.keywords:
                return None
            defs = (ast.FunctionDef, ast.AsyncFunctionDef)
            return {n.name for n in node.body if isinstance(n, defs)} | _assigned(node.body)
    return None


def _bindings(tree: ast.Module) -> set[str]:
    """Top-level names bound in `tree`; '*' for a `from x import *`, which may bind any."""
    names = _assigned(tree.body)
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _assigned(body: list[ast.stmt]) -> set[str]:
    """Names bound by plain assignments: `backward = forward` counts as a method."""
    names = set()
    for node in body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _no_module(key: str, name: str, module: str, folder: Path) -> ConfigError:
    return ConfigError(
        f"{key}={name}: no module {module} in {folder}: {HOW}, named there as module.Class"
    )


def _failed(key: str, name: str, module: str, err: Exception) -> ConfigError:
    return ConfigError(f"{key}={name}: importing {module} failed: {type(err).__name__}: {err}")


def _no_class(key: str, name: str, module: str) -> ConfigError:
    cls = name.rsplit(".", 1)[1]
    return ConfigError(f"{key}={name}: module {module} has no class {cls}: {HOW}")


def _no_method(key: str, name: str, method: str) -> ConfigError:
    cls = name.rsplit(".", 1)[1]
    return ConfigError(f"{key}={name}: class {cls} has no {METHODS[method]} method: {HOW}")
