"""cybermarket: the server of an online marketplace."""

__version__ = "1.0.0"
