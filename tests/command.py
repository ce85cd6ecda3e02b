"""The `cybermarket` command run inside the test process: cli.main with the
working directory, the locale variables, stdout and stderr of a child
process (tests.server.run_cli), answered as a CompletedProcess.

A new process costs more than most commands do (imports, Alembic's
scripts, pandas and matplotlib for `report`), so the tests that judge a
command only by its output and exit status run it here; a real process is
kept where the process itself is what is tested (the entry point, the
locale a new process starts with, a separate process opening a file).

Everything the command changes for its process is put back afterwards:
the environment, the working directory and the language it chose
(cybermarket.tools.words), so that no run leaks into the next test.
"""

import contextlib
import io
import os
import subprocess
import sys

from cybermarket.tools import cli, words

# What tests.server.child_env leaves of the locale: English unless asked.
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
CHILD_LOCALE = {"LANG": "C.UTF-8"}


@contextlib.contextmanager
def environment(environ):
    """os.environ with the locale of a child process and `environ` on top,
    as it was again afterwards."""
    saved = dict(os.environ)
    try:
        for name in LOCALE_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(CHILD_LOCALE)
        os.environ.update(environ)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def no_input():
    """sys.stdin empty and not a terminal, as /dev/null is to a child."""
    saved = sys.stdin
    sys.stdin = io.StringIO()
    try:
        yield
    finally:
        sys.stdin = saved


def run_here(*args, cwd, environ=None):
    """`cybermarket ARGS` in this process, from the folder `cwd`, with the
    locale variables of `environ` (else English); a CompletedProcess with
    the exit status and the text written to stdout and stderr."""
    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    language = words.language()
    here = os.getcwd()
    try:
        with environment(environ or {}):
            os.chdir(cwd)
            with (
                no_input(),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
            ):
                try:
                    status = cli.main(argv)
                except SystemExit as e:  # argparse: a usage error, or --help
                    status = e.code
    finally:
        os.chdir(here)
        words.use(language)
    if status is None:
        status = 0
    elif not isinstance(status, int):  # sys.exit("message"): said on stderr
        err.write(f"{status}\n")
        status = 1
    return subprocess.CompletedProcess(
        ["cybermarket", *argv], status, out.getvalue(), err.getvalue()
    )
