"""A restricted script environment for conditions, timer expressions and script tasks.

SpiffWorkflow's default environment calls ``eval``/``exec`` with full builtins (measured: an
expression could import ``os`` and open files). Diagrams here are data, so every expression and
script is checked against an AST allow-list before it runs:

- no imports, function or class definitions, lambdas, ``global``, ``with``, ``try``, ``yield``;
- no names or attributes starting with ``_`` (closes ``().__class__`` walks), no ``format``;
- only the builtins in ``SAFE_BUILTINS`` plus our calendar helpers and the case data;
- ``**``, ``*``, ``<<``, ``+`` and ``%`` go through size-checked helpers, and so do the string
  methods that build their result in one C call (``ljust``, ``join``, ``replace`` ...); an
  f-string's format spec must be written out, with small widths; ``range`` is capped and ``sum``
  adds numbers only: no single C call can run long or take much memory;
- constant sub-expressions are folded through the same helpers by ``check``, so a bomb written
  out in a diagram (``(10**64)**64``, ``'a'.ljust(900000000)``) is refused when it is validated;
- a CPU-time budget (``TIME_LIMIT_S`` of the thread's own CPU time: a busy machine does not
  count against it) and a memory ceiling (``MEMORY_LIMIT_BYTES`` of resident growth), checked by
  a trace function that follows only the diagram's own frames. Library code (the calendar and
  its holiday tables, SpiffWorkflow) runs untraced at full speed.

Measured before (issue 15): a wall-clock limit traced every line of every library call, so a
cold process's first working-day expression (building the holiday tables under the tracer) took
0.87-1.01 s on a loaded machine, and about 1 case in 50 fell into error.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine import calendar as cal
from engine.errors import ExpressionMemory, ExpressionTimeout, UnsafeExpression

TIME_LIMIT_S = 1.0
MEMORY_LIMIT_BYTES = 256 * 1024 * 1024
MAX_RANGE = 10_000
MAX_RESULT_LEN = 100_000
MAX_INT_BITS = 10_000
MAX_FORMAT_WIDTH = 1_000
_GUARD = "_pp_guard_"
_DIAGRAM_FILE = "<diagram>"
BUDGET_TRIES = 3  # overruns in a row before an expression counts as broken (a busy machine, a collection)
_MEMORY_CHECK_EVERY = 64

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


def _bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) and not isinstance(value, bool) else 0


def _too_large(what: str) -> ValueError:
    return ValueError(f"{what} is too large for a diagram expression")


def _guard_mult(left: Any, right: Any) -> Any:
    counts = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
    if counts and max(_size(left), _size(right)) * max(abs(c) for c in counts) > MAX_RESULT_LEN:
        raise _too_large("that repetition")
    if _bits(left) + _bits(right) > MAX_INT_BITS:
        raise _too_large("that number")
    return left * right


def _guard_pow(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, (int, float)) and abs(exponent) > 64:
        raise ValueError("exponents above 64 are not allowed in diagram expressions")
    if isinstance(exponent, int) and _bits(base) * abs(exponent) > MAX_INT_BITS:
        raise _too_large("that power")
    return base**exponent


def _guard_lshift(value: Any, bits: Any) -> Any:
    if isinstance(bits, int) and bits > 64:
        raise ValueError("shifts above 64 bits are not allowed in diagram expressions")
    if isinstance(bits, int) and _bits(value) + bits > MAX_INT_BITS:
        raise _too_large("that number")
    return value << bits


def _guard_add(left: Any, right: Any) -> Any:
    if _size(left) + _size(right) > MAX_RESULT_LEN:
        raise _too_large("that joined text or list")
    return left + right


_PERCENT_SPEC = re.compile(r"%[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?")


def refuse_wide_format(spec: str) -> None:
    """A width or precision is applied inside one C call: keep it small, and never from data (``*``)."""
    for number in re.findall(r"\*|\d+", spec):
        if number == "*" or int(number) > MAX_FORMAT_WIDTH:
            raise _too_large(f"the format width {number!r}")


def _guard_mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        for match in _PERCENT_SPEC.finditer(left):
            refuse_wide_format(match.group(0))
    return left % right


def _width_result(value: Any, method: str, args: tuple, kwargs: dict[str, Any]) -> int:
    """An upper bound of the result's length for the string methods that can build a huge one."""
    first = args[0] if args else next(iter(kwargs.values()), None)
    if method in {"ljust", "rjust", "center", "zfill"}:
        return first if isinstance(first, int) else 0
    if method == "expandtabs":
        return _size(value) * (first if isinstance(first, int) else 8)
    if method == "replace" and len(args) >= 2 and isinstance(value, str) and isinstance(args[0], str):
        return _size(value) + (value.count(args[0]) * _size(args[1]))
    return 0


WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join"})


def _guard_call(value: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """``value.method(*args)`` for the methods in ``WIDTH_METHODS``, size-checked first."""
    if method == "join" and isinstance(value, str) and args:
        parts = list(args[0])
        if sum(_size(p) for p in parts) + _size(value) * max(len(parts) - 1, 0) > MAX_RESULT_LEN:
            raise _too_large("that joined text")
        return value.join(parts)
    if _width_result(value, method, args, kwargs) > MAX_RESULT_LEN:
        raise _too_large(f"the result of {method}()")
    return getattr(value, method)(*args, **kwargs)


def _numbers_sum(values: Any, start: Any = 0) -> Any:
    """``sum`` of numbers only (adding lists or strings with it is quadratic inside one C call)."""
    if not isinstance(start, (int, float)):
        raise ValueError("sum() adds numbers only in diagram expressions")
    return sum(values, start)


_GUARDS: dict[type[ast.operator], str] = {
    ast.Mult: "mult", ast.Pow: "pow", ast.LShift: "lshift", ast.Add: "add", ast.Mod: "mod",
}  # fmt: skip
_GUARD_FUNCS: dict[str, Callable[..., Any]] = {
    f"{_GUARD}mult": _guard_mult, f"{_GUARD}pow": _guard_pow, f"{_GUARD}lshift": _guard_lshift,
    f"{_GUARD}add": _guard_add, f"{_GUARD}mod": _guard_mod, f"{_GUARD}call": _guard_call,
}  # fmt: skip

SAFE_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "enumerate": enumerate,
    "float": float, "int": int, "isinstance": isinstance, "len": len, "list": list, "max": max,
    "min": min, "range": _checked_range, "reversed": reversed, "round": round, "set": set,
    "sorted": sorted, "str": str, "sum": _numbers_sum, "tuple": tuple, "zip": zip,
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
    """Rewrite size-sensitive operators and string methods into calls to the guard helpers."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        name = _GUARDS.get(type(node.op))
        if name is None:
            return node
        call = ast.Call(func=ast.Name(id=f"{_GUARD}{name}", ctx=ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Attribute) and node.func.attr in WIDTH_METHODS):
            return node
        args = [node.func.value, ast.Constant(node.func.attr), *node.args]
        call = ast.Call(func=ast.Name(id=f"{_GUARD}call", ctx=ast.Load()), args=args, keywords=node.keywords)
        return ast.copy_location(call, node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        if type(node.op) not in _GUARDS:
            return node
        target = ast.Name(id=node.target.id, ctx=ast.Load()) if isinstance(node.target, ast.Name) else None
        if target is None:
            raise UnsafeExpression("augmented +=, *=, %=, **= and <<= work only on plain names in diagrams")
        value = self.visit_BinOp(ast.BinOp(left=target, op=node.op, right=node.value))
        assert isinstance(value, ast.expr)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)


_UNKNOWN = object()
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: lambda v: -v, ast.UAdd: lambda v: +v, ast.Invert: lambda v: ~v, ast.Not: lambda v: not v,
}  # fmt: skip


class _Folder(ast.NodeVisitor):
    """Work out constant sub-expressions through the guards, so a written-out bomb is refused statically.

    Every value folded has passed a guard, so folding itself is cheap and small."""

    def __init__(self) -> None:
        self.values: dict[int, Any] = {}

    def value(self, node: ast.AST | None) -> Any:
        return self.values.get(id(node), _UNKNOWN) if node is not None else _UNKNOWN

    def visit_Constant(self, node: ast.Constant) -> None:
        self.values[id(node)] = node.value

    def visit_Tuple(self, node: ast.Tuple | ast.List) -> None:
        self.generic_visit(node)
        found = [self.value(e) for e in node.elts]
        if _UNKNOWN not in found:
            self.values[id(node)] = tuple(found) if isinstance(node, ast.Tuple) else found

    visit_List = visit_Tuple

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self.generic_visit(node)
        self._fold(node, lambda: _UNARY[type(node.op)](self.value(node.operand)), [node.operand])

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.generic_visit(node)
        name = _GUARDS.get(type(node.op))
        operator = _GUARD_FUNCS[f"{_GUARD}{name}"] if name else _OPERATORS.get(type(node.op))
        if operator is not None:
            self._fold(node, lambda: operator(self.value(node.left), self.value(node.right)), [node.left, node.right])

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        if not (isinstance(node.func, ast.Attribute) and node.func.attr in WIDTH_METHODS) or node.keywords:
            return
        method, receiver = node.func.attr, node.func.value
        first = self.value(node.args[0]) if node.args else _UNKNOWN
        if method in {"ljust", "rjust", "center", "zfill"} and isinstance(first, int) and first > MAX_RESULT_LEN:
            raise ValueError(f"the result of {method}() is too large for a diagram expression")
        if method == "expandtabs" and isinstance(first, int) and first > MAX_FORMAT_WIDTH:
            raise ValueError("that tab size is too large for a diagram expression")
        parts = [receiver, *node.args]
        self._fold(node, lambda: _guard_call(self.value(receiver), method, *[self.value(a) for a in node.args]), parts)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        for part in node.values:
            if isinstance(part, ast.FormattedValue) and part.format_spec is not None:
                spec = part.format_spec
                if not (isinstance(spec, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in spec.values)):
                    raise ValueError("f-string format specs must be written out, not computed")
                refuse_wide_format("".join(str(v.value) for v in spec.values if isinstance(v, ast.Constant)))
        self.generic_visit(node)

    def _fold(self, node: ast.AST, compute: Callable[[], Any], inputs: Sequence[ast.AST]) -> None:
        if any(self.value(i) is _UNKNOWN for i in inputs):
            return
        try:
            self.values[id(node)] = compute()
        except ValueError:
            raise
        except Exception:  # noqa: BLE001 - 1/0 or 'a' - 1 is the run-time checks' business, not a bomb
            return


_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Sub: lambda a, b: a - b, ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b,
    ast.RShift: lambda a, b: a >> b if b <= MAX_INT_BITS else 0, ast.BitOr: lambda a, b: a | b,
    ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b,
}  # fmt: skip


def check(source: str, mode: str = "eval") -> ast.AST:
    """Parse ``source`` and refuse anything outside the allow-list (raises UnsafeExpression)."""
    try:
        tree = ast.parse(source, mode=mode)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        message = exc.msg if isinstance(exc, SyntaxError) else "too deeply nested or too long"
        raise UnsafeExpression(f"not a valid expression: {message} in {source[:200]!r}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise UnsafeExpression(f"{type(node).__name__} is not allowed in diagram expressions: {source!r}")
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
        if name.startswith("_") or (isinstance(node, ast.Attribute) and name in _FORBIDDEN_ATTRIBUTES):
            raise UnsafeExpression(f"{name!r} may not be used in diagram expressions: {source!r}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in ALLOWED_CALLS:
            raise UnsafeExpression(f"{node.func.id}() is not a function diagrams may call: {source!r}")
    try:
        _Folder().visit(tree)
    except (ValueError, RecursionError) as exc:
        raise UnsafeExpression(f"{exc}: {source[:200]!r}") from None
    return tree


@lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> Any:
    tree = _Guard().visit(check(source, mode))
    ast.fix_missing_locations(tree)
    return compile(tree, _DIAGRAM_FILE, mode)


_STATM: dict[int, int] = {}  # pid -> an open /proc/self/statm of that process (a fork opens its own)


def _resident_bytes() -> int:
    """This process's resident memory now (Linux /proc); 0 where it cannot be read (no ceiling).

    The file stays open and is read again from its start: opening it for each expression cost
    more than the expression (six times on a completion; issue 18)."""
    pid = os.getpid()
    try:
        fd = _STATM.get(pid)
        if fd is None:
            for inherited in _STATM.values():  # a parent's descriptor describes the parent: closed, and
                os.close(inherited)  # this process opens its own
            _STATM.clear()
            fd = _STATM[pid] = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(fd, 128, 0).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _run_limited(run: Callable[[], Any], limit: float, memory: int = MEMORY_LIMIT_BYTES) -> Any:
    """Run diagram code with a budget of this thread's CPU time and of memory growth.

    Only frames compiled from the diagram are traced: a library call (the calendar building its
    holiday tables, say) is neither slowed nor interrupted, and a limit is never raised inside
    library code, a garbage-collector callback or another tool's frame."""
    deadline = time.thread_time() + limit
    ceiling = _resident_bytes() + memory
    events = 0
    previous = sys.gettrace()

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal events
        if time.thread_time() > deadline:
            raise ExpressionTimeout(f"the expression used more than {limit:g} s of CPU time")
        events += 1
        if events % _MEMORY_CHECK_EVERY == 0 and ceiling > memory and _resident_bytes() > ceiling:
            raise ExpressionMemory(f"the expression used more than {memory // 2**20} MB of memory")
        return local

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        return local(frame, event, arg) if frame.f_code.co_filename == _DIAGRAM_FILE else None

    sys.settrace(on_call)
    try:
        return run()
    finally:
        sys.settrace(previous)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Case data plus allowed helpers in scope; nothing else."""

    def __init__(self, helpers: dict[str, Any], time_limit: float = TIME_LIMIT_S,
                 memory_limit: int = MEMORY_LIMIT_BYTES) -> None:  # fmt: skip
        super().__init__({**SAFE_BUILTINS, **helpers})
        self.time_limit, self.memory_limit = time_limit, memory_limit

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
        return _run_limited(lambda: eval(code, scope), self.time_limit, self.memory_limit)

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        code = _compile(script, "exec")
        scope = self._scope(context, external_context)
        before = set(scope)
        _run_limited(lambda: exec(code, scope), self.time_limit, self.memory_limit)
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
