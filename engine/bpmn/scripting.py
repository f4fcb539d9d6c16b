"""A restricted script environment for conditions, timer expressions and script tasks.

SpiffWorkflow's default environment calls ``eval``/``exec`` with full builtins (measured: an
expression could import ``os`` and open files). Diagrams here are data, so every expression and
script is checked against an AST allow-list before it runs:

- no imports, function or class definitions, lambdas, ``global``, ``with``, ``try``, ``yield``;
- no names or attributes starting with ``_`` (closes ``().__class__`` walks), no ``format``;
- only the builtins in ``SAFE_BUILTINS`` plus our calendar helpers and the case data;
- ``**``, ``*`` and ``<<`` go through size-checked helpers, ``range`` is capped;
- a wall-clock limit (``TIME_LIMIT_S``) enforced by a trace function while the code runs.
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine import calendar as cal
from engine.errors import UnsafeExpression

TIME_LIMIT_S = 1.0
MAX_RANGE = 10_000
MAX_RESULT_LEN = 100_000
_GUARD = "_pp_guard_"

_ALLOWED_NODES = (
    ast.Module, ast.Expression, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.If,
    ast.For, ast.While, ast.Break, ast.Continue, ast.Pass, ast.Delete,
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Compare, ast.Call, ast.keyword,
    ast.Name, ast.Load, ast.Store, ast.Del, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice,
    ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp,
    ast.GeneratorExp, ast.comprehension, ast.JoinedStr, ast.FormattedValue, ast.Starred,
    ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.MatMult,
    ast.Not, ast.Invert, ast.UAdd, ast.USub,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
)  # fmt: skip
_FORBIDDEN_ATTRIBUTES = {"format", "format_map", "mro", "gi_frame", "f_globals", "f_locals"}


def _checked_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ValueError(f"range() is limited to {MAX_RANGE} items in diagrams")
    return result


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else 0


def _guard_mult(left: Any, right: Any) -> Any:
    counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
    if counts and max(_size(left), _size(right)) * max(abs(c) for c in counts) > MAX_RESULT_LEN:
        raise ValueError("that repetition is too large for a diagram expression")
    return left * right


def _guard_pow(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, (int, float)) and abs(exponent) > 64:
        raise ValueError("exponents above 64 are not allowed in diagram expressions")
    return base**exponent


def _guard_lshift(value: Any, bits: Any) -> Any:
    if isinstance(bits, int) and bits > 64:
        raise ValueError("shifts above 64 bits are not allowed in diagram expressions")
    return value << bits


_GUARDS: dict[type[ast.operator], str] = {ast.Mult: "mult", ast.Pow: "pow", ast.LShift: "lshift"}
_GUARD_FUNCS = {f"{_GUARD}mult": _guard_mult, f"{_GUARD}pow": _guard_pow, f"{_GUARD}lshift": _guard_lshift}

SAFE_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "enumerate": enumerate,
    "float": float, "int": int, "isinstance": isinstance, "len": len, "list": list, "max": max,
    "min": min, "range": _checked_range, "reversed": reversed, "round": round, "set": set,
    "sorted": sorted, "str": str, "sum": sum, "tuple": tuple, "zip": zip,
    "True": True, "False": False, "None": None,
    "date": date, "datetime": datetime, "timedelta": timedelta,
}  # fmt: skip


def calendar_helpers(get_calendar: Callable[[], cal.WorkingCalendar]) -> dict[str, Any]:
    """Functions diagrams may call; working-day ones read the authority's current calendar."""
    return {
        "add_days": cal.add_days,
        "add_weeks": cal.add_weeks,
        "add_months": cal.add_months,
        "add_working_days": lambda d, n: get_calendar().add_working_days(d, n),
        "working_days_between": lambda a, b: get_calendar().working_days_between(a, b),
        "next_working_day": lambda d: get_calendar().next_working_day(d),
        "is_working_day": lambda d: get_calendar().is_working_day(d),
        "first_panel_date_on_or_after": lambda d: get_calendar().first_panel_date_on_or_after(d),
        "last_weekday_of_month": cal.last_weekday_of_month,
        "age_in_years": cal.age_in_years,
        "earliest": lambda *ds: min(cal.as_date(d) for d in ds if d is not None),
        "latest": lambda *ds: max(cal.as_date(d) for d in ds if d is not None),
        "as_date": cal.as_date,
    }


HELPER_NAMES = frozenset(calendar_helpers(cal.WorkingCalendar))
ALLOWED_CALLS = frozenset(SAFE_BUILTINS) | HELPER_NAMES


class _Guard(ast.NodeTransformer):
    """Rewrite size-sensitive operators into calls to the guard helpers."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        name = _GUARDS.get(type(node.op))
        if name is None:
            return node
        call = ast.Call(func=ast.Name(id=f"{_GUARD}{name}", ctx=ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        if type(node.op) not in _GUARDS:
            return node
        target = ast.Name(id=node.target.id, ctx=ast.Load()) if isinstance(node.target, ast.Name) else None
        if target is None:
            raise UnsafeExpression("augmented *=, **= and <<= work only on plain names in diagrams")
        value = self.visit_BinOp(ast.BinOp(left=target, op=node.op, right=node.value))
        assert isinstance(value, ast.expr)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)


def check(source: str, mode: str = "eval") -> ast.AST:
    """Parse ``source`` and refuse anything outside the allow-list (raises UnsafeExpression)."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise UnsafeExpression(f"not a valid expression: {exc.msg} in {source!r}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise UnsafeExpression(f"{type(node).__name__} is not allowed in diagram expressions: {source!r}")
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
        if name.startswith("_") or (isinstance(node, ast.Attribute) and name in _FORBIDDEN_ATTRIBUTES):
            raise UnsafeExpression(f"{name!r} may not be used in diagram expressions: {source!r}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in ALLOWED_CALLS:
            raise UnsafeExpression(f"{node.func.id}() is not a function diagrams may call: {source!r}")
    return tree


@lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> Any:
    tree = _Guard().visit(check(source, mode))
    ast.fix_missing_locations(tree)
    return compile(tree, "<diagram>", mode)


def _run_limited(run: Callable[[], Any], limit: float) -> Any:
    deadline = time.monotonic() + limit
    previous = sys.gettrace()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the expression ran for more than {limit:g} s")
        return tracer

    sys.settrace(tracer)
    try:
        return run()
    finally:
        sys.settrace(previous)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Case data plus allowed helpers in scope; nothing else."""

    def __init__(self, helpers: dict[str, Any], time_limit: float = TIME_LIMIT_S) -> None:
        super().__init__({**SAFE_BUILTINS, **helpers})
        self.time_limit = time_limit

    def _scope(self, context: dict[str, Any], external: dict[str, Any] | None) -> dict[str, Any]:
        scope: dict[str, Any] = {"__builtins__": {}}
        scope.update(self.globals)
        scope.update(_GUARD_FUNCS)
        scope.update(external or {})
        scope.update(context)
        return scope

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        code = _compile(expression.strip(), "eval")
        scope = self._scope(context, external_context)
        return _run_limited(lambda: eval(code, scope), self.time_limit)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        code = _compile(script, "exec")
        scope = self._scope(context, external_context)
        before = set(scope)
        _run_limited(lambda: exec(code, scope), self.time_limit)
        hidden = set(self.globals) | set(_GUARD_FUNCS) | set(external_context or {}) | {"__builtins__"}
        for key, value in scope.items():
            if key not in hidden and not callable(value):
                context[key] = value
        for key in before - set(scope):
            context.pop(key, None)
        return True


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine with the restricted environment and a validate hook."""

    def __init__(self, helpers: dict[str, Any], time_limit: float = TIME_LIMIT_S) -> None:
        super().__init__(environment=RestrictedEnvironment(helpers, time_limit))

    def validate(self, expression: str) -> None:
        check(expression, "exec")
