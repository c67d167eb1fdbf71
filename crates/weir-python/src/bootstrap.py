"""Weir's Python side: turns KSML function definitions into Python functions.

Loaded once per interpreter as the module `weir_bootstrap`. User code is parsed with
`ast` and its positions are moved to where the code sits in the YAML file, so that syntax
errors and tracebacks name the YAML file and line (and Python's traceback shows the YAML
source line itself, since the file exists).
"""

import ast

LOGGER = "__weir_logger__"
STORES = "__weir_stores__"


class WeirSyntaxError(SyntaxError):
    """A SyntaxError in user code, at its YAML position, naming the KSML field."""

    def __init__(self, msg, filename, lineno, offset, text, field):
        super().__init__(msg, (filename, lineno, offset, text))
        self.field = field


def _shift(tree, line, col):
    """Moves every node from snippet positions to YAML positions. The lines of a block
    scalar all start at the same YAML column, so every column moves by the same amount."""
    ast.increment_lineno(tree, line - 1)
    for node in ast.walk(tree):
        if hasattr(node, "col_offset"):
            node.col_offset += col - 1
            if getattr(node, "end_col_offset", None) is not None:
                node.end_col_offset += col - 1
    return tree


def _parse(source, filename, field, mode="exec"):
    text, line, col = source
    try:
        tree = ast.parse(text, filename=filename, mode=mode)
    except SyntaxError as e:
        lineno = (e.lineno or 1) + line - 1
        offset = (e.offset or 1) + col - 1
        raise WeirSyntaxError(e.msg, filename, lineno, offset, e.text, field) from None
    return _shift(tree, line, col)


def _stmts(text, line):
    """Statements Weir adds (prologue), placed at the function's YAML line."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if hasattr(node, "lineno"):
            node.lineno = node.end_lineno = line
            node.col_offset = node.end_col_offset = 0
    return tree.body


class _InjectLogger(ast.NodeTransformer):
    """Gives every function defined in globalCode its own `log`, as KSML does."""

    def __init__(self, logger_name):
        self.logger_name = logger_name

    def _inject(self, node):
        self.generic_visit(node)
        args = node.args
        names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        if "log" not in names:
            stmt = _stmts(f"log = {LOGGER}({self.logger_name!r})", node.lineno)[0]
            node.body.insert(0, stmt)
        return node

    visit_FunctionDef = _inject
    visit_AsyncFunctionDef = _inject


def compile_function(spec):
    """Compiles one KSML function. `spec` is a dict:
    name, logger, filename, line (of the definition), params (fixed, in order),
    custom (list of (name, default source or None)), stores (names), returns (bool),
    global_code / code / expression: (text, line, col) or None.
    Returns (global code object or None, code object defining the function)."""
    filename = spec["filename"]
    global_code = None
    if spec["global_code"] is not None:
        tree = _parse(spec["global_code"], filename, "globalCode")
        tree = _InjectLogger(spec["logger"]).visit(tree)
        global_code = compile(ast.fix_missing_locations(tree), filename, "exec")

    line = spec["line"]
    name = spec["name"]
    signature = ", ".join(list(spec["params"]) + [f"{c[0]}=None" for c in spec["custom"]])
    star = f"*, {STORES}=None" if spec["stores"] else ""
    signature = ", ".join(s for s in (signature, star) if s)
    fn = _stmts(f"def {name}({signature}):\n    pass", line)[0]

    body = _stmts(f"log = {LOGGER}({spec['logger']!r})", line)
    for store in spec["stores"]:
        body += _stmts(f"{store} = {STORES}[{store!r}]", line)
    for param, default in spec["custom"]:
        if default is not None:
            body += _stmts(f"if {param} is None: {param} = {default}", line)
    if spec["code"] is not None:
        body += _parse(spec["code"], filename, "code").body
    if spec["returns"] and spec["expression"] is not None:
        expr = _parse(spec["expression"], filename, "expression", mode="eval").body
        ret = ast.Return(value=expr)
        ast.copy_location(ret, expr)
        body.append(ret)
    if not body:
        body = _stmts("pass", line)
    fn.body = body
    module = ast.Module(body=[fn], type_ignores=[])
    code = compile(ast.fix_missing_locations(module), filename, "exec")
    return global_code, code


class Logger:
    """KSML's `log` object: SLF4J-style methods with `{}` placeholders."""

    __slots__ = ("_name", "_emit")

    def __init__(self, name, emit):
        self._name = name
        self._emit = emit

    def _log(self, level, msg, args):
        text = str(msg)
        if args:
            parts = text.split("{}")
            out = [parts[0]]
            for i, part in enumerate(parts[1:]):
                out.append(str(args[i]) if i < len(args) else "{}")
                out.append(part)
            text = "".join(out)
        self._emit(level, self._name, text)

    def trace(self, msg, *args):
        self._log("trace", msg, args)

    def debug(self, msg, *args):
        self._log("debug", msg, args)

    def info(self, msg, *args):
        self._log("info", msg, args)

    def warn(self, msg, *args):
        self._log("warn", msg, args)

    def error(self, msg, *args):
        self._log("error", msg, args)

    def isTraceEnabled(self):
        return True

    isDebugEnabled = isInfoEnabled = isWarnEnabled = isErrorEnabled = isTraceEnabled

    def getName(self):
        return self._name


def new_namespace(namespace, emit):
    """The module namespace shared by all functions of one definition."""
    loggers = {}

    def logger(name):
        found = loggers.get(name)
        if found is None:
            found = loggers[name] = Logger(name, emit)
        return found

    return {"__builtins__": __builtins__, "__name__": f"ksml.{namespace}", LOGGER: logger}


def load_function(namespace, spec):
    """Compiles one function, runs its globalCode, defines it; returns the function."""
    global_code, code = compile_function(spec)
    if global_code is not None:
        exec(global_code, namespace)
    exec(code, namespace)
    return namespace[spec["name"]]
