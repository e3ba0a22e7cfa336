"""A small, safe maths language for time curves: ``"4*sin(2*pi*0.3*t) * env(t)"``.

Head-pose curves come from a language model, so their text is untrusted data. It is parsed with
:func:`ast.parse` and the tree is walked against a whitelist; nothing is ever passed to ``eval`` or
``exec``, no attribute, subscript, keyword, lambda, comprehension or string can appear, and only the
names below are visible. Evaluation is vectorised over a numpy time grid (one pass per node), in
float64, with bounds on text length, node count, nesting depth, exponent size and wall time.

Grammar (Python expression syntax)::

    expr   := number | name | expr op expr | -expr | +expr | func(expr, ...) | (expr)
    op     := + - * / % **
    name   := t | pi | e | tau | duration | bpm
    func   := sin cos tan tanh exp log sqrt abs sign floor min max clip smoothstep
              (plus the audio helpers the caller provides, e.g. env(t), beat(t), onset(t), voice(t))

Every failure — bad syntax, a forbidden construct, a non-finite result, running out of time — raises
:class:`DSLError`, and nothing else.
"""

from __future__ import annotations

import ast
import math
import time
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from ..errors import X3DError

MAX_SOURCE_CHARS = 1000
MAX_NODES = 200
MAX_DEPTH = 40
MAX_LITERAL = 1.0e6
MAX_EXPONENT = 8.0
DEFAULT_TIME_LIMIT_S = 0.5

AudioHelper = Callable[[np.ndarray], np.ndarray]
"""An audio helper maps an array of times (seconds) to an array of values of the same shape."""


class DSLError(X3DError):
    """The expression is not valid in the curve language, or cannot be evaluated safely."""


def _smoothstep(e0: np.ndarray, e1: np.ndarray, x: np.ndarray) -> np.ndarray:
    span = np.where(np.abs(e1 - e0) < 1e-12, 1e-12, e1 - e0)
    u = np.clip((x - e0) / span, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _checked_log(x: np.ndarray) -> np.ndarray:
    if np.any(x <= 0):
        raise DSLError("log() of a value <= 0")
    return np.log(x)


def _checked_sqrt(x: np.ndarray) -> np.ndarray:
    if np.any(x < 0):
        raise DSLError("sqrt() of a negative value")
    return np.sqrt(x)


# name -> (function, minimum arguments, maximum arguments)
_FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int, int]] = {
    "sin": (np.sin, 1, 1),
    "cos": (np.cos, 1, 1),
    "tan": (np.tan, 1, 1),
    "tanh": (np.tanh, 1, 1),
    "exp": (np.exp, 1, 1),
    "log": (_checked_log, 1, 1),
    "sqrt": (_checked_sqrt, 1, 1),
    "abs": (np.abs, 1, 1),
    "sign": (np.sign, 1, 1),
    "floor": (np.floor, 1, 1),
    "min": (lambda *xs: np.minimum.reduce(np.broadcast_arrays(*xs)), 2, 8),
    "max": (lambda *xs: np.maximum.reduce(np.broadcast_arrays(*xs)), 2, 8),
    "clip": (lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi), 3, 3),
    "smoothstep": (_smoothstep, 3, 3),
}
BUILTIN_FUNCTIONS = tuple(sorted(_FUNCTIONS))

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Pow)
_UNARYOPS = (ast.UAdd, ast.USub)


@dataclass(frozen=True)
class Expression:
    """A parsed, validated curve expression (evaluate it with :meth:`evaluate`).

    Attributes:
        source: the text it was parsed from.
        tree: the validated syntax tree (only whitelisted node types).
        helpers: names of the audio helpers it calls.
    """

    source: str
    tree: ast.Expression
    helpers: frozenset[str]

    def evaluate(
        self,
        t: np.ndarray,
        constants: Mapping[str, float] | None = None,
        helpers: Mapping[str, AudioHelper] | None = None,
        time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    ) -> np.ndarray:
        """Values at times ``t`` (seconds), (N,) float64, all finite.

        Args:
            t: (N,) times in seconds.
            constants: extra named numbers (``duration``, ``bpm``) visible to the expression.
            helpers: audio helper functions by name; calling one that is missing is a :class:`DSLError`.
            time_limit_s: wall-clock budget for the whole evaluation.
        """
        times = np.asarray(t, dtype=np.float64)
        if times.ndim != 1:
            raise DSLError(f"time grid must be 1-D, got shape {times.shape}")
        names = {"t": times, "pi": math.pi, "e": math.e, "tau": 2 * math.pi}
        for key, value in (constants or {}).items():
            names[key] = float(value)
        walker = _Evaluator(names, dict(helpers or {}), time.monotonic() + time_limit_s, len(times))
        with np.errstate(all="ignore"):
            out = walker.visit(self.tree.body)
        out = np.broadcast_to(np.asarray(out, dtype=np.float64), times.shape).copy()
        if not np.all(np.isfinite(out)):
            raise DSLError(
                f"expression '{_short(self.source)}' produced non-finite values (overflow or division by zero)"
            )
        return out


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def parse_expression(
    source: str,
    helper_names: tuple[str, ...] | frozenset[str] = (),
    constant_names: tuple[str, ...] | frozenset[str] = ("duration", "bpm"),
) -> Expression:
    """Parse and validate ``source``; raises :class:`DSLError` for anything outside the language.

    Args:
        source: the expression text.
        helper_names: audio helper function names the expression may call (``env``, ``beat``, ...).
        constant_names: extra constant names it may use besides ``t``, ``pi``, ``e``, ``tau``.
    """
    if not isinstance(source, str):
        raise DSLError(f"an expression must be text, got {type(source).__name__}")
    text = source.strip()
    if not text:
        raise DSLError("empty expression")
    if len(text) > MAX_SOURCE_CHARS:
        raise DSLError(f"expression is {len(text)} characters long; the limit is {MAX_SOURCE_CHARS}")
    # Bound nesting before the Python parser sees it: its own recursion limits raise assorted errors.
    depth = 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth > MAX_DEPTH:
            raise DSLError(f"expression nests deeper than {MAX_DEPTH} levels")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        msg = getattr(exc, "msg", None) or type(exc).__name__
        raise DSLError(f"cannot parse expression '{_short(text)}': {msg}") from None
    allowed_names = {"t", "pi", "e", "tau", *constant_names}
    functions = set(_FUNCTIONS) | set(helper_names)
    used_helpers: set[str] = set()
    count = 0

    def check(node: ast.AST, level: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise DSLError(f"expression has more than {MAX_NODES} parts")
        if level > MAX_DEPTH:
            raise DSLError(f"expression nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DSLError(f"only numbers are allowed as literals, got {type(value).__name__}")
            if (isinstance(value, int) and value.bit_length() > 64) or not math.isfinite(float(value)):
                raise DSLError("number literal is too large")
            if abs(float(value)) > MAX_LITERAL:
                raise DSLError(f"number literal {float(value):g} exceeds {MAX_LITERAL:g}")
        elif isinstance(node, ast.Name):
            if node.id not in allowed_names:
                raise DSLError(f"unknown name '{_short(node.id, 30)}' (allowed: {', '.join(sorted(allowed_names))})")
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                raise DSLError(f"operator {type(node.op).__name__} is not allowed")
            if isinstance(node.op, ast.Pow):
                _check_static_exponent(node.right)
            check(node.left, level + 1)
            check(node.right, level + 1)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARYOPS):
                raise DSLError(f"operator {type(node.op).__name__} is not allowed")
            check(node.operand, level + 1)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise DSLError("only calls of named functions are allowed, e.g. sin(t)")
            name = node.func.id
            if name not in functions:
                raise DSLError(
                    f"unknown function '{_short(name, 30)}' (allowed: {', '.join(sorted(functions))})"
                )
            if node.keywords:
                raise DSLError(f"{name}() takes no keyword arguments")
            lo, hi = _FUNCTIONS[name][1:] if name in _FUNCTIONS else (1, 1)
            if not lo <= len(node.args) <= hi:
                want = str(lo) if lo == hi else f"{lo} to {hi}"
                raise DSLError(f"{name}() takes {want} argument(s), got {len(node.args)}")
            if name not in _FUNCTIONS:
                used_helpers.add(name)
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    raise DSLError("starred arguments are not allowed")
                check(arg, level + 1)
        else:
            raise DSLError(f"'{type(node).__name__}' is not allowed in a curve expression")

    check(tree.body, 0)
    return Expression(source=text, tree=tree, helpers=frozenset(used_helpers))


def _check_static_exponent(node: ast.AST) -> None:
    """Reject literal exponents that are too large (``2 ** 1000``) before evaluating anything."""
    value = None
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        value = float(node.value)
    elif (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARYOPS)
        and isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        value = float(node.operand.value)
    if value is not None and abs(value) > MAX_EXPONENT:
        raise DSLError(f"exponent {value:g} is too large (limit {MAX_EXPONENT:g})")


class _Evaluator:
    """Walks a validated tree; every value is a float or a float64 array broadcastable to (N,)."""

    def __init__(self, names: dict, helpers: dict[str, AudioHelper], deadline: float, n: int) -> None:
        self.names = names
        self.helpers = helpers
        self.deadline = deadline
        self.n = n

    def _tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise DSLError("expression took too long to evaluate")

    def visit(self, node: ast.AST):
        self._tick()
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                raise DSLError(f"name '{node.id}' has no value here")
            return self.names[node.id]
        if isinstance(node, ast.UnaryOp):
            v = self.visit(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a = np.asarray(self.visit(node.left), dtype=np.float64)
            b = np.asarray(self.visit(node.right), dtype=np.float64)
            op = node.op
            if isinstance(op, ast.Add):
                return a + b
            if isinstance(op, ast.Sub):
                return a - b
            if isinstance(op, ast.Mult):
                return a * b
            if isinstance(op, ast.Div):
                if np.any(b == 0):
                    raise DSLError("division by zero")
                return a / b
            if isinstance(op, ast.Mod):
                if np.any(b == 0):
                    raise DSLError("modulo by zero")
                return np.mod(a, b)
            # Pow: bounded exponent; negative bases only with whole exponents (no complex numbers).
            if np.any(np.abs(b) > MAX_EXPONENT):
                raise DSLError(f"exponent larger than {MAX_EXPONENT:g}")
            if np.any((a < 0) & (b != np.floor(b))):
                raise DSLError("fractional power of a negative number")
            if np.any((a == 0) & (b < 0)):
                raise DSLError("zero raised to a negative power")
            return np.power(a, b)
        if isinstance(node, ast.Call):
            name = node.func.id
            args = [np.asarray(self.visit(arg), dtype=np.float64) for arg in node.args]
            if name in _FUNCTIONS:
                return _FUNCTIONS[name][0](*args)
            helper = self.helpers.get(name)
            if helper is None:
                raise DSLError(f"audio helper '{name}' is not available here")
            x = np.broadcast_to(args[0], (self.n,)).astype(np.float64)
            y = np.asarray(helper(x), dtype=np.float64)
            if y.shape != x.shape:
                raise DSLError(f"audio helper '{name}' returned shape {y.shape}, expected {x.shape}")
            return y
        raise DSLError(f"'{type(node).__name__}' is not allowed in a curve expression")


def evaluate_expression(
    source: str,
    t: np.ndarray,
    constants: Mapping[str, float] | None = None,
    helpers: Mapping[str, AudioHelper] | None = None,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
) -> np.ndarray:
    """Parse and evaluate in one step: (N,) float64 values of ``source`` at times ``t``."""
    expr = parse_expression(
        source, helper_names=tuple(helpers or ()), constant_names=tuple(constants or ())
    )
    return expr.evaluate(t, constants=constants, helpers=helpers, time_limit_s=time_limit_s)
