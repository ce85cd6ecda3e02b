"""SET_LANGUAGE: the language of the connection's messages."""

from cybermarket import i18n
from cybermarket.server.context import Call
from cybermarket.server.handlers import handles


@handles("SET_LANGUAGE")
async def set_language(call: Call, language: str) -> str:
    """The server's best match for the tag (validated as well formed),
    adopted by the connection when the answer goes out: this answer is
    already in the new language."""
    call.language = i18n.match(language)
    return call.language
