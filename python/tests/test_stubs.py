"""The type stubs are the native module's and the Pythonic API's contract: every function and
class a stub names exists, with the parameters the stub gives (the native functions' text
signatures come from pyo3), and the native module has nothing the stub leaves out."""

import ast
import inspect
import os

import couler
from couler import _native, dsl

HERE = os.path.dirname(os.path.abspath(couler.__file__))


def _stub(name):
    with open(os.path.join(HERE, name)) as f:
        return ast.parse(f.read())


def _functions(tree):
    """Name -> its definitions (several for an ``@overload``ed function)."""
    out = {}
    for n in tree.body:
        if isinstance(n, ast.FunctionDef):
            out.setdefault(n.name, []).append(n)
    return out


def _classes(tree):
    return {n.name for n in tree.body if isinstance(n, ast.ClassDef)}


def _params(fn):
    a = fn.args
    star = [a.vararg.arg] if a.vararg else []
    stars = [a.kwarg.arg] if a.kwarg else []
    return [x.arg for x in a.posonlyargs + a.args] + star + [x.arg for x in a.kwonlyargs] + stars


def test_native_stub_matches_the_module_function_for_function():
    tree = _stub("_native.pyi")
    stubbed = _functions(tree)
    public = {n for n in dir(_native) if not n.startswith("__")}
    native_functions = {n for n in public if inspect.isbuiltin(getattr(_native, n))}
    assert set(stubbed) == native_functions
    for name, (fn,) in stubbed.items():
        actual = list(inspect.signature(getattr(_native, name)).parameters)
        assert _params(fn) == actual, name
    native_classes = {n for n in public if inspect.isclass(getattr(_native, n))}
    assert _classes(tree) == native_classes


def test_pythonic_stub_names_what_the_module_has():
    tree = _stub("dsl.pyi")
    for name, defs in _functions(tree).items():
        assert hasattr(dsl, name), name
        actual = list(inspect.signature(getattr(dsl, name)).parameters)
        if len(defs) == 1:
            assert _params(defs[0]) == actual, name
        else:  # each overload takes some of the implementation's parameters, in its order
            for d in defs:
                assert [p for p in actual if p in _params(d)] == _params(d), name
    for name in _classes(tree):
        if name.startswith("_"):
            continue  # the stub's own typing helpers (TypedDicts of keyword options)
        assert inspect.isclass(getattr(dsl, name)), name
