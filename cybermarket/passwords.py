"""Password hashing on a small thread pool of its own.

Argon2id is deliberately slow and memory-hungry: 64 MiB and 3 passes
(argon2-cffi's defaults, RFC 9106's second recommended option), but one
lane instead of four.  Four lanes run on four threads, so one hash would
take every core of a small machine and stall the reactor; one lane keeps a
hash on one core.  Hashing releases the GIL, and it gets its own pool
(1 thread by default) apart from the database's: a login storm queues behind
itself and cannot starve database work or the reactor.  Hashes made with
other parameters still verify: each PHC string carries its own.
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool


class Hasher:
    def __init__(self, threads=1, reactor=None, hasher=None):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.hasher = hasher or PasswordHasher(parallelism=1)
        self.pool = ThreadPool(minthreads=0, maxthreads=threads, name="cybermarket-hash")
        self._dummy = None

    def start(self):
        self.pool.start()

    def stop(self):
        self.pool.stop()

    def hash(self, password):
        """Deferred firing with the PHC string ($argon2id$...)."""
        return deferToThreadPool(self.reactor, self.pool, self.hasher.hash, password)

    def verify(self, stored, password):
        """Deferred firing with True or False.  With stored None (no such
        account) a dummy hash is checked, so that an unknown login costs as
        long as a wrong password and timing reveals nothing."""
        return deferToThreadPool(self.reactor, self.pool, self.verify_sync, stored, password)

    def verify_sync(self, stored, password):
        if stored is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash("not a password of anyone")
            stored = self._dummy
            password = password + "\0"  # never matches
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
