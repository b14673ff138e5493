"""IPython extension of the portability runs: every value a chapter's asserts compare, written down.

``benchmarks/portability.py`` loads it into each chapter's kernel (the kernels nbval starts). It
rewrites ``assert a < b`` into code that evaluates ``a`` and ``b`` once, in Python's order and with
its short-circuits, appends them and the outcome to ``$AAD_CLAIMS_FILE`` (one JSON line per
comparison), and asserts exactly as before. An assert that is not a comparison (``assert
np.all(...)``) records its truth value. Nothing is recorded, and nothing rewritten, unless
``$AAD_CLAIMS_FILE`` is set.

Each record: notebook (``$AAD_CLAIMS_NOTEBOOK``), nbval's cell number, the assert and the
comparison as source text (``ast.unparse``), its operators, its operands and whether it held.
"""

import ast
import json
import os

import numpy as np

OPERATORS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
             ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}


def plain(value):
    """A JSON value standing for an operand: numbers, strings and booleans as they are, small
    collections as sorted lists, anything else by its repr (cut to 80 characters)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value if not isinstance(value, float) or np.isfinite(value) else repr(value)
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (list, tuple)) and len(value) <= 8:
        return [plain(v) for v in value]
    return repr(value)[:80]


class Recorder:
    """Writes the records of one kernel."""

    def __init__(self, shell, path, notebook):
        self.path, self.notebook, self.cell = path, notebook, -1
        shell.events.register("pre_run_cell", self.next_cell)  # nbval runs cells without history, so without counts

    def next_cell(self, info):
        self.cell += 1

    def write(self, assertion, part, operators, operands, held):
        record = {"notebook": self.notebook, "cell": self.cell, "assert": assertion,
                  "part": part, "ops": operators, "values": [plain(v) for v in operands], "held": bool(held)}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def compare(self, assertion, part, operators, thunks):
        """Evaluate a chained comparison as Python does (left to right, stopping at the first false link)."""
        operands, held = [thunks[0]()], True
        for operator, thunk in zip(operators, thunks[1:]):
            operands.append(thunk())
            held = _apply(operator, operands[-2], operands[-1])
            if not held:
                break
        self.write(assertion, part, list(operators[: len(operands) - 1]), operands, held)
        return held

    def truth(self, assertion, part, thunk):
        value = thunk()
        self.write(assertion, part, [], [], value)
        return value


def _apply(operator, left, right):
    return {"<": lambda: left < right, "<=": lambda: left <= right, ">": lambda: left > right,
            ">=": lambda: left >= right, "==": lambda: left == right, "!=": lambda: left != right,
            "in": lambda: left in right, "not in": lambda: left not in right,
            "is": lambda: left is right, "is not": lambda: left is not right}[operator]()


def _thunk(node):
    return ast.Lambda(args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]), body=node)


class RewriteAsserts(ast.NodeTransformer):
    """``assert <test>`` -> the same assert, its comparisons routed through ``__claims__``."""

    def visit_Assert(self, node):
        self.assertion = ast.unparse(node)
        node.test = self.route(node.test)
        return node

    def route(self, node):
        if isinstance(node, ast.BoolOp):
            node.values = [self.route(value) for value in node.values]
            return node
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            node.operand = self.route(node.operand)
            return node
        part = ast.unparse(node)
        if isinstance(node, ast.Compare) and all(type(op) in OPERATORS for op in node.ops):
            operators = [OPERATORS[type(op)] for op in node.ops]
            args = [ast.Constant(self.assertion), ast.Constant(part), ast.Tuple([ast.Constant(op) for op in operators], ast.Load()),
                    ast.List([_thunk(n) for n in [node.left, *node.comparators]], ast.Load())]
            method = "compare"
        else:
            args, method = [ast.Constant(self.assertion), ast.Constant(part), _thunk(node)], "truth"
        call = ast.Call(ast.Attribute(ast.Name("__claims__", ast.Load()), method, ast.Load()), args, [])
        return ast.copy_location(call, node)


class Transformer(ast.NodeTransformer):
    """IPython's AST hook (``shell.ast_transformers``): rewrites the asserts of every cell."""

    def visit_Module(self, node):
        return ast.fix_missing_locations(RewriteAsserts().visit(node))


def load_ipython_extension(shell):
    path = os.environ.get("AAD_CLAIMS_FILE")
    if not path:
        return
    shell.user_ns["__claims__"] = Recorder(shell, path, os.environ.get("AAD_CLAIMS_NOTEBOOK", "?"))
    shell.ast_transformers.append(Transformer())
