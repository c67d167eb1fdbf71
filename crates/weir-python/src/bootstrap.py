"""Weir's Python side: turns KSML function definitions into Python functions.

Loaded once per interpreter as the module `weir_bootstrap`. User code is parsed with
`ast` and its positions are moved to where the code sits in the YAML file, so that syntax
errors and tracebacks name the YAML file and line, and Python's traceback shows the YAML
source line itself: the definition's text is put in `linecache` (`remember_source`), so no
file is read for it (functions may not read host files).
"""

import ast

LOGGER = "__weir_logger__"
STORES = "__weir_stores__"


def remember_source(filename, text):
    """Gives `linecache` a definition file's text under the name its code is compiled
    with. An entry without a modification time is never checked against the file."""
    import linecache

    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)


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
    keyword_only = []
    body = []
    if "log" in list(spec["params"]) + [c[0] for c in spec["custom"]]:
        body += _stmts(f"log = {LOGGER}({spec['logger']!r})", line)
    else:
        # Bound once, when the function is defined, rather than looked up on every call.
        keyword_only.append(f"log={LOGGER}({spec['logger']!r})")
    if spec["stores"]:
        keyword_only.append(f"{STORES}=None")
    star = "*, " + ", ".join(keyword_only) if keyword_only else ""
    signature = ", ".join(s for s in (signature, star) if s)
    fn = _stmts(f"def {name}({signature}):\n    pass", line)[0]

    if spec["stores"]:
        # As KSML: `stores` is a global holding the called function's stores, and each store
        # is also a local named after it.
        body += _stmts(f"global stores\nstores = {STORES}", line)
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


class _Metric:
    """A counter, meter or timer of the `metrics` built-in."""

    __slots__ = ("_kind", "_name", "_tags", "_record")

    def __init__(self, kind, name, tags, record):
        self._kind, self._name, self._tags, self._record = kind, str(name), {str(k): str(v) for k, v in (tags or {}).items()}, record
        record(kind, self._name, self._tags, "register", 0)

    def increment(self, delta=1):
        self._record(self._kind, self._name, self._tags, "add", int(delta))

    def mark(self, n=1):
        self._record(self._kind, self._name, self._tags, "add", int(n))

    def updateSeconds(self, seconds):
        self._record(self._kind, self._name, self._tags, "time", int(seconds * 1_000_000_000))

    def updateMillis(self, millis):
        self._record(self._kind, self._name, self._tags, "time", int(millis * 1_000_000))

    def updateNanos(self, nanos):
        self._record(self._kind, self._name, self._tags, "time", int(nanos))

    def close(self):
        self._record(self._kind, self._name, self._tags, "remove", 0)


class Metrics:
    """KSML's `metrics` object: `metrics.counter(name, tags)`, `.meter(...)`, `.timer(...)`."""

    __slots__ = ("_record",)

    def __init__(self, record):
        self._record = record

    def counter(self, name, tags=None):
        return _Metric("counter", name, tags, self._record)

    def meter(self, name, tags=None):
        return _Metric("meter", name, tags, self._record)

    def timer(self, name, tags=None):
        return _Metric("timer", name, tags, self._record)


def new_namespace(namespace, emit, record_metric):
    """The module namespace shared by all functions of one definition."""
    loggers = {}

    def logger(name):
        found = loggers.get(name)
        if found is None:
            found = loggers[name] = Logger(name, emit)
        return found

    return {
        "__builtins__": __builtins__,
        "__name__": f"ksml.{namespace}",
        LOGGER: logger,
        "metrics": Metrics(record_metric),
        "stores": None,
    }


# ---- structs with a schema: KSML's `@type` and `@schema` keys ------------------------------

_ABSENT = object()
_META = ("@type", "@schema")
_dict_contains = dict.__contains__
_dict_get = dict.get
_dict_delitem = dict.__delitem__
_dict_setitem = dict.__setitem__
_dict_pop = dict.pop


class SchemaStruct(dict):
    """A struct with a schema (an Avro record, ...) as a function receives it: a dict of the
    record's fields that also answers KSML's `@type` (the schema's name) and `@schema` (the
    schema, in KSML's schema notation) keys on lookup, `in`, `get`, `del`, `pop`,
    `setdefault` and assignment, as KSML's dict does. They are kept beside the fields, not
    among them: iteration, `len`, `keys()`, `==` and JSON see the fields only, and they are
    never part of a returned value (KSML drops them from results too). `@schema` is copied
    from the schema on first use, so changing it changes this value's copy only.

    One subclass per schema (`schema_struct_class`) carries the schema, so making a value
    costs no more than making a dict."""

    __slots__ = ("_type", "_schema")
    _info = ("", None)

    def _meta(self, key):
        """The value of `@type` or `@schema`, `_ABSENT` once deleted."""
        try:
            return self._type if key == "@type" else self._schema
        except AttributeError:  # untouched: from the schema
            name, template = self._info
            if key == "@type":
                return name
            self._schema = schema = _deep_copy(template)
            return schema

    def _has(self, key):
        try:
            return (self._type if key == "@type" else self._schema) is not _ABSENT
        except AttributeError:
            return True

    def _set(self, key, value):
        if key == "@type":
            self._type = value
        else:
            self._schema = value

    def __missing__(self, key):
        if (key == "@type" or key == "@schema") and self._has(key):
            return self._meta(key)
        raise KeyError(key)

    def __contains__(self, key):
        return _dict_contains(self, key) or ((key == "@type" or key == "@schema") and self._has(key))

    def get(self, key, default=None):
        if (key == "@type" or key == "@schema") and not _dict_contains(self, key):
            return self._meta(key) if self._has(key) else default
        return _dict_get(self, key, default)

    def __setitem__(self, key, value):
        if key == "@type" or key == "@schema":
            self._set(key, value)
        else:
            _dict_setitem(self, key, value)

    def __delitem__(self, key):
        if (key == "@type" or key == "@schema") and not _dict_contains(self, key):
            if not self._has(key):
                raise KeyError(key)
            self._set(key, _ABSENT)
        else:
            _dict_delitem(self, key)

    def pop(self, key, *default):
        if (key == "@type" or key == "@schema") and not _dict_contains(self, key):
            if self._has(key):
                value = self._meta(key)
                self._set(key, _ABSENT)
                return value
            if default:
                return default[0]
            raise KeyError(key)
        return _dict_pop(self, key, *default)

    def setdefault(self, key, default=None):
        if (key == "@type" or key == "@schema") and not _dict_contains(self, key):
            if self._has(key):
                return self._meta(key)
            self._set(key, default)
            return default
        return dict.setdefault(self, key, default)


def _deep_copy(value):
    """A copy of a schema (dicts, lists and scalars) to change freely."""
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def schema_struct_class(name, schema):
    """The `SchemaStruct` class of one schema: its name (`@type`) and the schema as KSML
    represents it (`@schema`, copied for each value that asks for it)."""
    return type("SchemaStruct", (SchemaStruct,), {"__slots__": (), "_info": (name, schema)})


# ---- `java`: the one Java module KSML's `ksml.py` typing helper imports ---------------------

_JAVA_PACKAGE = "io.axual.ksml.proxy."


def install_java_shim(proxies):
    """Registers a module `java` whose `type(name)` gives Weir's class for the KSML proxy
    classes that `ksml.py` (KSML's typing helper, often copied into module directories) looks
    up at run time, e.g. `java.type('io.axual.ksml.proxy.store.KeyValueStoreProxy')`.
    `proxies` maps the simple Java class name to Weir's class. Any other name is refused
    with an ImportError that says why."""
    import sys
    import types

    known = dict(proxies)
    known["log.LoggerBridge$PythonLogger"] = Logger
    known["metric.MetricsBridge"] = Metrics

    def java_type(name):
        if isinstance(name, str) and name.startswith(_JAVA_PACKAGE):
            rest = name[len(_JAVA_PACKAGE):]
            found = known.get(rest)
            if found is not None:
                return found
        raise ImportError(
            f"java.type({name!r}): Weir runs Python on CPython, without Java classes; only KSML's "
            f"proxy classes are available, for ksml.py's type hints: {', '.join(sorted(_JAVA_PACKAGE + k for k in known))}"
        )

    module = types.ModuleType("java", "Weir's stand-in for GraalPy's `java` module: only `java.type` of KSML's proxy classes.")
    module.type = java_type
    sys.modules.setdefault("java", module)


def load_function(namespace, spec):
    """Compiles one function, runs its globalCode, defines it; returns the function."""
    global_code, code = compile_function(spec)
    if global_code is not None:
        exec(global_code, namespace)
    exec(code, namespace)
    return namespace[spec["name"]]


# ---- pythonContext: what user code may do ------------------------------------------------

_WRITE_FLAGS = None


def _denied(action, setting):
    return PermissionError(
        f"{action} is not allowed for KSML functions; set 'pythonContext.{setting}: true' in the runner config to allow it"
    )


class _Environment(dict):
    """The environment user code sees when environment variables are not inherited: empty,
    with errors that say why."""

    def __missing__(self, key):
        raise KeyError(
            f"{key!r}: environment variables are not visible to KSML functions; "
            "set 'pythonContext.inheritEnvironmentVariables: true' in the runner config"
        )


def install_guard(settings, module_path):
    """Installs, once per process and before any user code runs, the audit hook that
    enforces the runner config's `pythonContext` switches. `settings` maps each switch name
    to a bool; `module_path` (or None) is put first on `sys.path` and readable."""
    import os
    import site
    import sys

    if module_path:
        sys.path.insert(0, module_path)
    readable = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p}
    for p in site.getsitepackages() + [site.getusersitepackages()]:
        readable.add(os.path.realpath(p))
    if module_path:
        readable.add(os.path.realpath(module_path))
    readable = tuple(sorted(r.rstrip(os.sep) + os.sep for r in readable))
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    files = settings["allowHostFileAccess"]
    sockets = settings["allowHostSocketAccess"]
    processes = settings["allowCreateProcess"]
    native = settings["allowNativeAccess"]
    threads = settings["allowCreateThread"]

    file_events = {
        "os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
        "os.symlink", "os.link", "os.utime", "os.chdir", "shutil.rmtree", "shutil.move",
        "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree", "os.listdir", "os.scandir",
    }
    process_events = {
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
        "os.forkpty", "os.startfile", "os.kill", "os.killpg", "pty.spawn",
    }

    def readable_path(path, mode, flags):
        if isinstance(path, int):
            return True
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & write_flags)
        if writing:
            return False
        try:
            real = os.path.realpath(os.fsdecode(path))
        except Exception:
            return False
        return (real + os.sep).startswith(readable) or any(real.startswith(r) for r in readable)

    def hook(event, args):
        if event == "open":
            if not files and not readable_path(args[0], args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else None):
                raise _denied(f"opening the file {args[0]!r}", "allowHostFileAccess")
        elif event in file_events:
            if not files and not (event in ("os.listdir", "os.scandir") and readable_path(args[0] if args else ".", "r", 0)):
                raise _denied(f"'{event}'", "allowHostFileAccess")
        elif event.startswith("socket.") and event != "socket.__new__":
            if not sockets:
                raise _denied(f"network access ('{event}')", "allowHostSocketAccess")
        elif event in process_events:
            if not processes:
                raise _denied(f"starting a process ('{event}')", "allowCreateProcess")
        elif event.startswith("ctypes."):
            if not native:
                raise _denied(f"native code through ctypes ('{event}')", "allowNativeAccess")

    sys.addaudithook(hook)

    if not threads:
        import _thread
        import threading

        def no_threads(*args, **kwargs):
            raise _denied("starting a thread", "allowCreateThread")

        _thread.start_new_thread = no_threads
        _thread.start_new = no_threads
        threading._start_new_thread = no_threads

    if not settings["inheritEnvironmentVariables"]:
        os.environ = _Environment()


# ---- weir test: assert blocks and module directories -------------------------------------


def compile_assertion(code, filename):
    """Compiles an assert block's code, (text, line, col), as the body of
    `_run_assertions()` (as KSML's test runner does), keeping its YAML positions."""
    body = _parse(code, filename, "code").body
    fn = _stmts("def _run_assertions():\n    pass", code[1])[0]
    fn.body = body or _stmts("pass", code[1])
    return compile(ast.fix_missing_locations(ast.Module(body=[fn], type_ignores=[])), filename, "exec")


def new_assertion_namespace():
    """The globals the assert blocks of one test share (`records`, stores)."""
    return {"__builtins__": __builtins__, "__name__": "ksml_test"}


def run_assertion(namespace, code, filename):
    exec(compile_assertion(code, filename), namespace)
    namespace["_run_assertions"]()


def add_module_path(path):
    """Puts a suite's `moduleDirectory` first on `sys.path`."""
    import sys

    if path not in sys.path:
        sys.path.insert(0, path)


def remove_module_path(path):
    """Takes a `moduleDirectory` off `sys.path` and forgets the modules imported from it,
    so the next test imports them afresh."""
    import importlib
    import os
    import sys

    while path in sys.path:
        sys.path.remove(path)
    root = os.path.realpath(path) + os.sep
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and os.path.realpath(file).startswith(root):
            del sys.modules[name]
    importlib.invalidate_caches()
