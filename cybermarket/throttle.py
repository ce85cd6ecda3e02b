"""Failed-login throttling: a sliding window of failure times per key.

Keys are a login name (per role) and a peer address.  Once a key has `limit`
failures inside `window` seconds, logins for it are refused (429) until the
oldest of those failures leaves the window.  A successful login forgives
nothing: otherwise the owner's own logins would hand a guesser fresh tries.  Runs on the reactor thread only,
so it needs no lock; each server process keeps its own counts.
"""

from collections import deque


class Throttle:
    def __init__(self, clock, limit=10, window=300.0):
        self.clock = clock
        self.limit = limit
        self.window = window
        self._failures = {}

    def _recent(self, key):
        times = self._failures.get(key)
        if times is None:
            return None
        cutoff = self.clock.seconds() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def blocked(self, *keys):
        for key in keys:
            times = self._recent(key)
            if times is not None and len(times) >= self.limit:
                return True
        return False

    def failed(self, *keys):
        now = self.clock.seconds()
        for key in keys:
            times = self._recent(key)
            if times is None:
                times = self._failures[key] = deque()
            times.append(now)
            # Keep memory bounded under a flood: only `limit` entries matter.
            while len(times) > self.limit:
                times.popleft()

    def sweep(self):
        """Forget keys whose failures have all left the window."""
        for key in list(self._failures):
            self._recent(key)
