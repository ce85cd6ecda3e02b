"""`cybermarket call` and `cybermarket shell`: requests from the command line.

    cybermarket call [--host H] [--port P] [--tls] [--insecure] [--json] OP key=value ...
    cybermarket shell [--host H] [--port P] [--tls] [--insecure]

`call` sends one request on a new connection and prints the answer; `shell`
reads requests line by line and sends them all on one connection, so that a
login lasts from one line to the next.  The shell keeps the session token of
its login (protocol 1.1) and, when the connection is lost, logs the next one
in with it (RESUME); it does not print the token.

Arguments are written key=value.  Each value is read by the argument's type
in the op table (cybermarket/ops.py):

- an integer argument (ids, quantities, stock, limit) must be written as an
  integer, else the request is not sent;
- text arguments and prices are sent as the string given: a price stays
  "19.99", never a float;
- `key=` sends the empty string;
- `key=nil`, the bare word, sends nil, for any key; nil in quotes sends the
  text "nil": `key="nil"` or `key='nil'` on a shell line, and for `call`,
  whose command line has lost its quotes to the shell it was typed in,
  `'key="nil"'` (a value that is "nil" with its quotes).  nil for a
  required argument is refused before sending, since the server would
  refuse it anyway and the text was more likely meant.

A key the op table does not know for the op is still sent, as a string
(bare `nil` as nil): the server is the judge, and answers 400 naming the
key.  An op the table does not know is refused by the shell, with the
nearest op named (a typo, most likely); `call` sends it (and names the
nearest op beside the server's 400), so that an op of a newer server can
still be reached.  Op names may be given in any case; they are sent in upper
case.

After a login (or a rename) the shell asks the server for the account
(GET_ACCOUNT), so that its prompt shows the name as stored, not the login as
typed (an email, the name in another case).

Without a terminal (input from a pipe or a file), the shell asks for
nothing: a line that leaves a password off is refused.  Its exit status is
then 0 when every line went well, else the highest of: 1 for an error
status, 2 for a refused line (an unknown op among them), 3 when the
connection failed.

Exit status of `call`: 0 for a 2xx answer, 1 for any other status (the
status and message go to stderr), 2 for a request that could not be
written (a bad key=value word), 3 when the server could not be reached or
the connection failed.
"""

import difflib
import getpass
import json
import os
import re
import sys

from cybermarket import i18n
from cybermarket.client.blocking import TOKEN_OPS, Client, ClientError, ProtocolError, is_table
from cybermarket.ops import OPS
from cybermarket.tools import words
from cybermarket.tools.tables import printable, text_table
from cybermarket.tools.words import _
from cybermarket.values import Integer

PASSWORD_ARGS = ("password", "old_password", "new_password")
NIL = "nil"
# A value "nil" still in its quotes: how `call`, whose arguments a shell has
# already unquoted, is told the text nil.
QUOTED_NILS = ('"nil"', "'nil'")
QUIT_WORDS = ("quit", "exit")
HELP_WORDS = ("help", "?")
# Product photos travel over HTTP on the web endpoint (protocol 1.3), not
# as ops: the shell's own commands.
PHOTO_WORDS = ("set_photo", "remove_photo")
PHOTO_USAGE = i18n.N_("""set_photo PRODUCT_ID FILE  uploads an image file (JPEG, PNG or WebP) as a
                           product's photo, on the web endpoint (--web)
remove_photo PRODUCT_ID    removes a product's photo""")
HISTORY_FILE = "~/.cybermarket_history"
HISTORY_LENGTH = 1000
PROMPT = "cybermarket> "

EXIT_OK = 0
EXIT_STATUS = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_INTERRUPTED = 130

# Ops that rename the account logged in: the prompt asks for the new name.
RENAMES = ("SET_CLIENT_USERNAME", "SET_MERCHANT_STORENAME")

# Argument names client.call() takes for itself; they cannot be passed as
# keyword arguments of a request.
RESERVED_KEYS = ("op", "check")

_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_MONEY_TEXT = re.compile(r"-?[0-9]+\.[0-9]{2}")


class UsageError(ValueError):
    """A request that cannot be written from the words given."""


class RequiredNil(UsageError):
    """Bare nil for a required argument.  The hint differs by command: on a
    shell line quotes reach the shell, on `call`'s command line they must
    get past the user's own shell."""

    def __init__(self, key):
        self.key = key
        super().__init__(self.hint(f'{key}="nil"'))

    def hint(self, quoted):
        return _(
            "{key}: nil is only for optional arguments; for the text, quote it: {quoted}"
        ).format(key=self.key, quoted=quoted)

    def for_call(self):
        return self.hint(f"""'{self.key}="nil"'""")


class Word(str):
    """A word of a shell line, which remembers whether any part of its value
    (after the first "=") was quoted or escaped: `key=nil` is nil,
    `key="nil"` the text."""

    quoted_value = False


# --- reading requests -----------------------------------------------------------


def op_name(word):
    """The op name as sent: upper case."""
    return word.upper()


def nearest_op(word):
    """The op whose name is nearest to `word`, in word's case when it is
    lower case (as completion gives it), or None when none is near."""
    found = difflib.get_close_matches(op_name(word), OPS, n=1)
    if not found:
        return None
    return found[0].lower() if word.islower() else found[0]


def no_such_op(word):
    """The UsageError for a word that names no op of the table: with the
    nearest op, which a typo most likely meant."""
    nearest = nearest_op(word)
    if nearest is None:
        return UsageError(_("no op named {word!r}; `help` lists them").format(word=word))
    return UsageError(_("no op named {word!r}; did you mean {op}?").format(word=word, op=nearest))


def parse_value(spec, key, text, quoted=False):
    """The value to send for `key=text`; spec is the op table's Arg for the
    key, or None when the key is unknown.  `quoted`: the value was written
    in quotes (or with a backslash) on a shell line."""
    if text == NIL and not quoted:
        if spec is None or spec.optional:
            return None
        if isinstance(spec.kind, Integer):
            raise UsageError(_("{key}: must be an integer, not nil").format(key=key))
        raise RequiredNil(key)
    if text in QUOTED_NILS:
        text = NIL
    if spec is not None and isinstance(spec.kind, Integer):
        if not _INTEGER_TEXT.fullmatch(text):
            raise UsageError(
                _("{key}: must be an integer, not {text!r}").format(key=key, text=text)
            )
        return int(text)
    return text


def split_word(word):
    """(key, text) from a `key=value` word."""
    key, sep, text = word.partition("=")
    if not sep or not key:
        raise UsageError(_("expected key=value, not {word!r}").format(word=word))
    return key, text


def parse_args(op, words):
    """The args map for `op` (an ops.Op, or None for an op the table does
    not know) from `key=value` words."""
    specs = op.args if op is not None else {}
    args = {}
    for word in words:
        key, text = split_word(word)
        if key in args:
            raise UsageError(_("{key}: given twice").format(key=key))
        if key in RESERVED_KEYS:
            raise UsageError(
                _("{key}: this client cannot send an argument of that name").format(key=key)
            )
        quoted = getattr(word, "quoted_value", False)
        args[key] = parse_value(specs.get(key), key, text, quoted)
    return args


def parse_request(words):
    """(op name, args) from the words of a request: OP key=value ..."""
    if not words:
        raise UsageError(_("no op given"))
    name = op_name(words[0])
    return name, parse_args(OPS.get(name), words[1:])


_BLANKS = " \t\r\n"


def lex(line):
    """The words of a line, split as shlex.split() splits them (POSIX rules:
    '...' takes everything literally, "..." lets a backslash escape " and itself,
    a backslash outside quotes escapes any character), each word a list of
    (text, quoted) pieces.  shlex itself cannot tell which parts of a word
    were quoted, and that decides what `key=nil` means."""
    pieces: list[tuple[str, bool]] | None
    words, pieces, i = [], None, 0
    while i < len(line):
        ch = line[i]
        if ch in _BLANKS:
            if pieces is not None:
                words.append(pieces)
                pieces = None
            i += 1
            continue
        if pieces is None:
            pieces = []
        if ch == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ValueError("No closing quotation")
            pieces.append((line[i + 1 : end], True))
            i = end + 1
        elif ch == '"':
            text, i = [], i + 1
            while True:
                if i >= len(line):
                    raise ValueError("No closing quotation")
                if line[i] == '"':
                    i += 1
                    break
                if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in '"\\':
                    i += 1
                text.append(line[i])
                i += 1
            pieces.append(("".join(text), True))
        elif ch == "\\":
            if i + 1 >= len(line):
                raise ValueError("No escaped character")
            pieces.append((line[i + 1], True))
            i += 2
        else:
            pieces.append((ch, False))
            i += 1
    if pieces is not None:
        words.append(pieces)
    return words


def make_word(pieces):
    """A Word from (text, quoted) pieces: quoted_value when quotes or a
    backslash touched the value, even an empty pair (`key=nil""`), but not
    when they end at the "=" (`'key='nil` is bare nil)."""
    word = Word("".join(text for text, _ in pieces))
    seen_equals = False
    for text, quoted in pieces:
        if seen_equals:
            word.quoted_value = word.quoted_value or quoted
        elif "=" in text:
            seen_equals = True
            word.quoted_value = quoted and text.partition("=")[2] != ""
    return word


def split_line(line):
    """The words of a shell line, quoted as in a POSIX shell; none for a
    blank line or a comment (a line starting with #)."""
    if line.lstrip().startswith("#"):
        return []
    try:
        return [make_word(pieces) for pieces in lex(line)]
    except ValueError as e:
        raise UsageError(_("cannot read the line: {reason}").format(reason=e)) from None


def missing_passwords(name, args):
    """The password arguments of op `name` that are not in args."""
    op = OPS.get(name)
    if op is None:
        return []
    return [key for key in PASSWORD_ARGS if key in op.args and key not in args]


def mentions_password(line):
    """True when a line holds a password argument (kept out of history)."""
    return "password=" in line


# --- printing answers -------------------------------------------------------------


def scalar_text(value):
    """A value as printed: strings as they are, nil, true/false, numbers."""
    if value is None:
        return NIL
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def cell_text(value):
    return printable(scalar_text(value))


def is_number(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and bool(_MONEY_TEXT.fullmatch(value))


def numeric_columns(rows, count):
    """For each column, True when every cell is a number (an integer or a
    money string): those columns are aligned to the right."""
    return [
        bool(rows) and all(i < len(row) and is_number(row[i]) for row in rows) for i in range(count)
    ]


def format_table(columns, rows):
    """A table as aligned text: a header, a rule, one line per row; cells
    escaped (cell_text) before they are laid out."""
    count = max([len(columns)] + [len(row) for row in rows])
    right = {i for i, numeric in enumerate(numeric_columns(rows, count)) if numeric}
    return text_table(columns, [[cell_text(v) for v in row] for row in rows], right)


def table_footer(data):
    count = len(data["rows"])
    text = words.ngettext("{n} row", "{n} rows", count).format(n=count)
    if data.get("next") is not None:
        text += _("; more: after={key}").format(key=cell_text(data["next"]))
    return f"({text})"


def format_map(data):
    return "\n".join(f"{printable(str(k))}: {cell_text(v)}" for k, v in data.items())


def format_data(data):
    """The data of an answer as text: a table, key: value lines, or the
    value itself."""
    if is_table(data):
        return format_table(data["columns"], data["rows"]) + "\n" + table_footer(data)
    if isinstance(data, dict):
        return format_map(data)
    return cell_text(data)


# Everything the server sends is printed through printable() (or, as JSON,
# through escape_json()): a message or value holding ESC, CR, BEL or a bidi
# override could otherwise rewrite what the terminal shows.


def format_result(response):
    """What a successful answer prints: its data, or its message when it
    has none."""
    if response.data is None:
        return printable(str(response.message))
    return format_data(response.data)


def format_error(response):
    """An error answer for people: its status and its message (a program
    reads the code: `--json` shows the whole answer, `error` included)."""
    return _("error {status}: {message}").format(
        status=response.status, message=printable(str(response.message))
    )


def escape_json(text):
    """JSON text with every character a terminal would act on written as a
    \\u escape, as json.dumps(ensure_ascii=True) would; the rest stays as
    it is, so that names in other scripts stay readable."""
    return "".join(ch if ch.isprintable() or ch == "\n" else json.dumps(ch)[1:-1] for ch in text)


def response_json(response):
    whole = {"id": response.id, "status": response.status, "message": response.message}
    if response.data is not None:
        whole["data"] = response.data
    if response.error is not None:  # protocol 1.2; None from a 1.1 server
        whole["error"] = response.error
    return escape_json(json.dumps(whole, indent=2, ensure_ascii=False, default=str))


# --- help ---------------------------------------------------------------------------

USAGE = i18n.N_("""\
Type an op and its arguments: OP key=value ...  (op names in any case)
  key=          sends an empty string
  key=nil       sends nil (refused for a required argument)
  key="nil"     sends the text nil, as does key='nil': quoted, nil is text
  key='a b'     quotes a value with spaces (as in a POSIX shell)
Integer arguments must be integers; other values are sent as written (a
price stays a string).  Keys an op does not take are sent anyway, and the
server names them in its 400 answer.
Passwords left off the line are asked for, without echo (on a terminal;
input from a pipe must give them on the line).
help OP shows one op; quit, exit or Ctrl-D leaves.""")


def describe_op(op):
    """An op's name, role, purpose and arguments, from the op table."""
    lines = [f"{op.name} ({op.role or 'anyone'}): {op.doc}"]
    width = max([len(name) for name in op.args] + [0])
    for name, spec in op.args.items():
        lines.append(f"    {name.ljust(width)}  {spec.describe()}")
    if not op.args:
        lines.append("    (no arguments)")
    if op.one_of:
        lines.append(f"    give at least one of {', '.join(op.one_of)}")
    return "\n".join(lines)


def help_text(words=()):
    """`help` lists every op; `help OP` shows one."""
    if not words:
        ops = "\n".join(describe_op(op) for op in OPS.values())
        return _(USAGE) + "\n\n" + _(PHOTO_USAGE) + "\n\n" + ops
    parts = []
    for word in words:
        op = OPS.get(op_name(word))
        if op is None:
            raise no_such_op(word)
        parts.append(describe_op(op))
    return "\n".join(parts)


# --- completion ---------------------------------------------------------------------


def _matching(words, text):
    """The words starting with text, case-insensitively, in text's case."""
    lower = text.islower()
    found = [w for w in words if w.upper().startswith(text.upper())]
    return [w.lower() if lower else w for w in found]


def completions(before, text):
    """Completions of `text`, the word under the cursor, given the line
    before it (`before`)."""
    words = before.split()
    if not words:
        ops = _matching(list(OPS), text)
        commands = [w for w in HELP_WORDS[:1] + QUIT_WORDS if w.startswith(text.lower())]
        return sorted(w + " " for w in ops + commands)
    if words[0].lower() in HELP_WORDS:
        return sorted(w + " " for w in _matching(list(OPS), text))
    op = OPS.get(op_name(words[0]))
    if op is None or "=" in text:
        return []
    given = {w.partition("=")[0] for w in words[1:]}
    return [f"{name}=" for name in op.args if name not in given and name.startswith(text)]


class Completer:
    """The readline completer: complete(text, state)."""

    def __init__(self, readline):
        self.readline = readline
        self.matches = []

    def complete(self, text, state):
        if state == 0:
            buffer = self.readline.get_line_buffer()
            begin = self.readline.get_begidx()
            self.matches = completions(buffer[:begin], text)
        return self.matches[state] if state < len(self.matches) else None


# --- the terminal ---------------------------------------------------------------------


def history_path():
    return os.path.expanduser(HISTORY_FILE)


def setup_readline():
    """History and tab completion, or None where readline is missing."""
    try:
        import readline
    except ImportError:
        return None
    try:
        readline.read_history_file(history_path())
    except OSError:
        pass
    readline.set_history_length(HISTORY_LENGTH)
    readline.set_completer_delims(" \t\n")
    readline.set_completer(Completer(readline).complete)
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    return readline


def forget_last_line(readline):
    """Drop the line just read from history (it held a password)."""
    if readline is None:
        return
    length = readline.get_current_history_length()
    if length:
        readline.remove_history_item(length - 1)


def save_history(readline):
    if readline is None:
        return
    path = history_path()
    try:
        readline.write_history_file(path)
        os.chmod(path, 0o600)
    except OSError:
        pass


def refuse_missing_passwords(name, args):
    """Without a terminal there is nobody to ask, and taking the next input
    line as the password would send the next request as one."""
    missing = missing_passwords(name, args)
    if missing:
        raise UsageError(
            _(
                "{keys}: not given, and without a terminal the shell cannot ask for it; "
                "write {words} on the line"
            ).format(keys=", ".join(missing), words=" ".join(key + "=..." for key in missing))
        )


def ask_passwords(name, args, read_password):
    """Fill in the password arguments left off, asking for each."""
    for key in missing_passwords(name, args):
        args[key] = read_password(f"{key}: ")
    return args


# --- connections ------------------------------------------------------------------------

# The connection failed (refused, reset, closed, timed out, TLS) or the
# answer could not be followed: the client is closed after any of these.
CONNECTION_ERRORS = (OSError, EOFError, ProtocolError)


def address(options):
    return f"{options.host}:{options.port}"


def web_address(options):
    """The web endpoint: --web, or the server's host on port 8080."""
    web = getattr(options, "web", None)
    if web:
        return web
    secure = options.tls or options.insecure or bool(options.cafile)
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"{'https' if secure else 'http'}://{host}:8080"


def make_client(options):
    """A connected client for the command's --host, --port and TLS options,
    which has asked the server for the command's language (SET_LANGUAGE;
    English, the server's default, needs no asking)."""
    client = Client(
        host=options.host,
        port=options.port,
        tls=options.tls or options.insecure or bool(options.cafile),
        timeout=options.timeout,
        tls_verify=not options.insecure,
        cafile=options.cafile,
        web=web_address(options),
    )
    if words.language() != i18n.DEFAULT:
        try:
            client.call("SET_LANGUAGE", language=words.language())
        except BaseException:
            client.close()
            raise
    return client


def reason(error):
    """An exception as one line of text (it may quote the server)."""
    return printable(str(error) or type(error).__name__)


def say(text, stream=None):
    print(text, file=stream or sys.stdout, flush=True)


# --- cybermarket call ---------------------------------------------------------------------


def unknown_op(response):
    """True when the answer may be the server's refusal of an unknown op:
    `malformed`, or any 400 from a 1.1 server (which sends no code)."""
    if response.code is not None:
        return response.code == "malformed"
    return response.status == 400


def run_call(options):
    """`cybermarket call`: one request, its answer printed; the exit status."""
    try:
        name, args = parse_request([options.op, *options.args])
    except RequiredNil as e:
        say(f"cybermarket call: {e.for_call()}", sys.stderr)
        return EXIT_USAGE
    except UsageError as e:
        say(f"cybermarket call: {e}", sys.stderr)
        return EXIT_USAGE
    if sys.stdin.isatty():
        try:
            ask_passwords(name, args, getpass.getpass)
        except (EOFError, KeyboardInterrupt):
            say(_("cybermarket call: cancelled"), sys.stderr)
            return EXIT_USAGE
    try:
        with make_client(options) as client:
            response = client.call(name, **args)
    except CONNECTION_ERRORS as e:
        say(f"cybermarket call: {address(options)}: {reason(e)}", sys.stderr)
        return EXIT_CONNECTION
    except KeyboardInterrupt:
        say(
            _("cybermarket call: interrupted; the request may or may not have been carried out"),
            sys.stderr,
        )
        return EXIT_INTERRUPTED
    if options.json:
        say(response_json(response))
    elif response.ok:
        say(format_result(response))
    if not response.ok:
        say(format_error(response), sys.stderr)
        if unknown_op(response) and name not in OPS and nearest_op(options.op) is not None:
            # Sent all the same (a newer server may have the op), but a
            # typo is the likelier story.
            say(f"cybermarket call: {no_such_op(options.op)}", sys.stderr)
        return EXIT_STATUS
    return EXIT_OK


# --- cybermarket shell ----------------------------------------------------------------------


class Session:
    """The shell's one connection: opened when first needed, and again on
    the next command after it is lost."""

    def __init__(self, options):
        self.options = options
        self.client = None
        self.login = None  # (role, login name) after a login on this connection
        # The login's session token: the next connection resumes it.
        self.token = None
        self.connections = 0
        self.status = EXIT_OK  # the worst outcome so far, as an exit status

    def failed(self, status):
        self.status = max(self.status, status)

    def connect(self):
        """True once connected; says why not otherwise."""
        if self.client is not None:
            return True
        try:
            self.client = make_client(self.options)
        except CONNECTION_ERRORS as e:
            say(
                _("cannot connect to {address}: {reason}").format(
                    address=address(self.options), reason=reason(e)
                ),
                sys.stderr,
            )
            self.failed(EXIT_CONNECTION)
            return False
        self.connections += 1
        if self.connections > 1:
            return self.resume()
        return True

    def resume(self) -> bool:
        """On a new connection, carry the login over with its token; say
        how it went.  False when the connection failed meanwhile."""
        where = address(self.options)
        if self.token is None:
            say(_("reconnected to {address} (not logged in)").format(address=where), sys.stderr)
            return True
        assert self.client is not None  # connect() made one
        try:
            response = self.client.call("RESUME", token=self.token)
        except CONNECTION_ERRORS as e:
            self.lost(reason(e))
            return False
        if response.ok and isinstance(response.data, dict):
            self.login = (
                printable(str(response.data.get("role"))),
                printable(str(response.data.get("name"))),
            )
            say(
                _("reconnected to {address}; resumed the login as {role} {name}").format(
                    address=where, role=self.login[0], name=repr(self.login[1])
                ),
                sys.stderr,
            )
        else:
            say(
                _(
                    "reconnected to {address} (not logged in:"
                    " the login could not be resumed, {error})"
                ).format(address=where, error=format_error(response)),
                sys.stderr,
            )
            self.login = self.token = None
        return True

    def close(self):
        if self.client is not None:
            try:
                self.client.close()
            except CONNECTION_ERRORS:
                pass
        self.client = None

    def lost(self, reason):
        """The connection failed mid-request: say so, and forget it."""
        self.close()
        self.failed(EXIT_CONNECTION)
        self.say_gone(
            _(
                "connection lost ({reason}); the request may or may not have been carried out"
            ).format(reason=reason)
        )

    def say_gone(self, text):
        if self.login is not None and self.token is not None:
            login = f"{self.login[0]} {self.login[1]!r}"
            say(f"{text}; the next command reconnects and resumes the login as {login}", sys.stderr)
            return
        if self.login is not None:
            text += _("; the login as {role} {login!r} is gone").format(
                role=self.login[0], login=self.login[1]
            )
        say(text + _("; the next command reconnects"), sys.stderr)
        self.login = None

    def call(self, name, args):
        """The response, or None when there was none."""
        if not self.connect():
            return None
        assert self.client is not None  # connect() made one
        try:
            response = self.client.call(name, **args)
        except CONNECTION_ERRORS as e:
            self.lost(reason(e))
            return None
        except KeyboardInterrupt:
            # An answer may still come: this connection is out of step.
            self.lost(_("interrupted"))
            return None
        self.track_login(name, args, response)
        if self.client is not None and self.client.closed:  # the server closes after a 413
            self.close()
            self.say_gone(_("the server closed the connection"))
        return response

    def track_login(self, name, args, response):
        assert self.client is not None  # the call was made on it
        self.token = self.client.token  # the client follows the token
        if not response.ok:
            return
        if name in ("CLIENT_LOGIN", "MERCHANT_LOGIN"):
            self.login = (name.split("_")[0].lower(), printable(str(args.get("login"))))
            self.ask_name()
        elif name in RENAMES and self.login is not None:
            self.ask_name()
        elif name == "RESUME" and isinstance(response.data, dict):
            self.login = (
                printable(str(response.data.get("role"))),
                printable(str(response.data.get("name"))),
            )
        elif name in ("CLIENT_LOGOUT", "MERCHANT_LOGOUT"):
            self.login = None

    def ask_name(self):
        """The login's name as the server keeps it (GET_ACCOUNT), for the
        prompt: a login by email, or by the name in another case, would
        otherwise show as typed until a reconnect.  A server that does not
        know GET_ACCOUNT (before protocol 1.2) leaves the name as it was."""
        assert self.client is not None and self.login is not None
        try:
            response = self.client.call("GET_ACCOUNT")
        except CONNECTION_ERRORS as e:
            self.dropped(reason(e))
            return
        except KeyboardInterrupt:
            self.dropped(_("interrupted"))
            return
        if response.ok and isinstance(response.data, dict) and "name" in response.data:
            self.login = (self.login[0], printable(str(response.data["name"])))

    def dropped(self, why):
        """The connection failed after a request went well (a login): say
        so, and forget the connection; the next command reconnects."""
        self.close()
        self.failed(EXIT_CONNECTION)
        self.say_gone(_("connection lost ({reason})").format(reason=why))

    @property
    def prompt(self):
        if self.login is None:
            return PROMPT
        return f"cybermarket ({self.login[0]} {self.login[1]})> "


def show(response, name=None):
    """Print an answer: the result on stdout, an error on stderr.  A login's
    or a password change's session token is not shown: the shell keeps it
    for itself, and a terminal's scrollback is no place for it."""
    if not response.ok:
        say(format_error(response), sys.stderr)
    elif name in TOKEN_OPS and isinstance(response.data, dict) and set(response.data) == {"token"}:
        say(printable(str(response.message)))
    else:
        say(format_result(response))


def run_line(session, line, read_password):
    """Carry out one shell line; False when the shell should end.  A line
    that fails is counted in session.status.  read_password asks for a
    password left off the line; None when there is no terminal to ask on."""
    try:
        words = split_line(line)
        if not words:
            return True
        command = words[0].lower()
        if command in QUIT_WORDS:
            return False
        if command in HELP_WORDS:
            say(help_text(words[1:]))
            return True
        if command in PHOTO_WORDS:
            run_photo(session, command, words[1:])
            return True
        if op_name(words[0]) not in OPS:
            # The shell knows the op table: a typo is refused here, with the
            # op it most likely meant, rather than sent for the server's 400.
            raise no_such_op(words[0])
        name, args = parse_request(words)
        if read_password is None:
            refuse_missing_passwords(name, args)
    except UsageError as e:
        say(f"{_('error')}: {e}", sys.stderr)
        session.failed(EXIT_USAGE)
        return True
    if read_password is not None:
        try:
            ask_passwords(name, args, read_password)
        except (EOFError, KeyboardInterrupt):
            say("\n" + _("cancelled"), sys.stderr)
            session.failed(EXIT_USAGE)
            return True
    response = session.call(name, args)
    if response is not None:
        show(response, name)
        if not response.ok:
            session.failed(EXIT_STATUS)
    return True


def run_photo(session, command, args):
    """set_photo PRODUCT_ID FILE, or remove_photo PRODUCT_ID, with the
    session's login (its token)."""
    wanted = 2 if command == "set_photo" else 1
    if len(args) != wanted or not re.fullmatch(r"[0-9]{1,18}", args[0]):
        usage = "set_photo PRODUCT_ID FILE" if wanted == 2 else "remove_photo PRODUCT_ID"
        say(f"{_('error')}: {_('usage: {usage}').format(usage=usage)}", sys.stderr)
        session.failed(EXIT_USAGE)
        return
    if not session.connect():
        return
    client = session.client
    product_id = int(args[0])
    try:
        if command == "set_photo":
            say(f"photo: {client.set_photo(product_id, args[1])}")
        else:
            client.remove_photo(product_id)
            say("ok")
    except ClientError as e:
        say(format_error(e.response), sys.stderr)
        session.failed(EXIT_STATUS)
    except (OSError, ValueError) as e:
        say(f"{_('error')}: {reason(e)}", sys.stderr)
        session.failed(EXIT_CONNECTION if isinstance(e, ConnectionError) else EXIT_USAGE)


def read_line(prompt, interactive):
    """The next line; EOFError at the end of input."""
    return input(prompt if interactive else "")


def run_shell(options):
    """`cybermarket shell`: the interactive loop; the exit status."""
    interactive = sys.stdin.isatty()
    readline = setup_readline() if interactive else None
    read_password = getpass.getpass if interactive else None
    session = Session(options)
    if interactive and session.connect():
        say(
            _("connected to {address}; `help` lists the ops, `quit` leaves").format(
                address=address(options)
            )
        )
    try:
        while True:
            try:
                line = read_line(session.prompt, interactive)
            except EOFError:
                if interactive:
                    say("")
                break
            except KeyboardInterrupt:
                say("")
                continue
            if mentions_password(line):
                forget_last_line(readline)
            if not run_line(session, line, read_password):
                break
    finally:
        session.close()
        save_history(readline)
    # A script learns from the status whether every line went well; a
    # person at the terminal has seen each answer.
    return EXIT_OK if interactive else session.status
