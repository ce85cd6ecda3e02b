"""Reading a server's --metrics endpoint: GET, and /metrics parsed into
samples to compare before and after some traffic."""

import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.server import HOST


def get(port, path, timeout=10.0):
    """(status, body text) of GET http://HOST:port/path."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port):
    """{(name, frozenset of labels): value} of every sample at /metrics."""
    status, text = get(port, "/metrics")
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
