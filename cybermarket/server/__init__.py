"""The server: where a request enters (protocol.py: framing, checking
against the op table, the one place errors become statuses), the service
that runs it (service.py, options.py), what it guards (limits.py,
throttle.py, passwords.py) and the ops' handlers (handlers/), which run
their SQL through the storage layer."""
