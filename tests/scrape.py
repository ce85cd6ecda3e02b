"""Reading a server's --metrics endpoint: GET, and /metrics parsed into
samples to compare before and after some traffic."""

import http.client
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.server import HOST


def get(port, path, timeout=10.0, source=None):
    """(status, body text) of GET http://HOST:port/path, from the loopback
    address `source` if given (its connection counts in that address's
    connection cap)."""
    if source is not None:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout, source_address=(source, 0))
        try:
            conn.request("GET", path)
            answer = conn.getresponse()
            return answer.status, answer.read().decode()
        finally:
            conn.close()
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port, source=None):
    """{(name, frozenset of labels): value} of every sample at /metrics."""
    status, text = get(port, "/metrics", source=source)
    assert status == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)
