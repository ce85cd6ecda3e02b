"""Tools for people: the `cybermarket` command (cli.py), its `call` and
`shell` (shell.py) and the operator's report (report.py).  They use the
clients and the storage layer, never the server."""
