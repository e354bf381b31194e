"""The conformance suite of the master's stores: what any job store or minion data store must do.

The master depends on the interfaces :class:`fluxforge.master.stores.JobStore`
and :class:`fluxforge.master.stores.MinionDataStore`, never on an
implementation. Any implementation (the SQLite caches, a returner, a job
history, a PostgreSQL store) is accepted once it passes this suite: write
then read back, unicode ids and values, values of several MiB, concurrent
writers (threads, two openers, two processes), reopening after the process
was SIGKILLed, and the semantics the master relies on (one return per
minion and job, pruning by age, forgetting a minion).

To run it against an implementation, subclass the suite in a test module
and give it a factory, a callable that opens a store on a folder (a ``str``
path, created if missing): a fresh folder opens an empty store, the same
folder the same data. A store that does not live in files (PostgreSQL)
maps the folder to a namespace of its own, e.g. a schema per folder::

    from fluxforge.testing import JobStoreSuite, MinionDataStoreSuite

    class TestMyJobStore(JobStoreSuite):
        factory = MyJobStore

    class TestMyMinionStore(MinionDataStoreSuite):
        factory = my_package.open_minion_store

pytest then collects every ``test_*`` method (each takes pytest's
``tmp_path``; the base classes are not collected by themselves). The
process tests pickle the factory to child processes: it must be importable
by its qualified name there (a class or a module-level function of an
installed module, not something defined in a test file). A store that
cannot be opened twice at once (by two openers in one process or by two
processes) sets ``shared = False``, and those tests are skipped. Without
pytest, call a method with a fresh empty folder:
``TestMyJobStore().test_write_then_read_back(path)``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import os
import pickle
import subprocess
import sys
import time
import unittest
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from fluxforge.master.stores import JobStore, MinionDataStore
from fluxforge.protocol import wire

LARGE = 6 * 1024 * 1024
UNICODE_IDS = ("wébserver-ü", "节点-1", "ракета🚀", "plain")
THREADS, PER_THREAD = 8, 40
CHILD_TIMEOUT = 60.0

StoreT = TypeVar("StoreT", covariant=True)


class Factory(Protocol[StoreT]):
    """What opens a store on a folder: a store class, or a module-level function."""

    def __call__(self, folder: str, /) -> StoreT: ...


# -- data the tests write ---------------------------------------------------


def job_load(jid: str, tgt: str | list[str] = "*", fun: str = "test.ping") -> dict[str, Any]:
    """A publication load as the master records it."""
    return {
        "jid": jid,
        "tgt": tgt,
        "tgt_type": "list" if isinstance(tgt, list) else "glob",
        "fun": fun,
        "arg": [],
        "kwarg": {},
        "user": "root",
        "ret": "",
        "timeout": 5.0,
    }


def job_return(jid: str, minion_id: str, value: Any = True) -> dict[str, Any]:
    """A return as the master stores it (with the authenticated ``id``)."""
    return {
        "id": minion_id,
        "jid": jid,
        "fun": "test.ping",
        "fun_args": [],
        "return": value,
        "retcode": 0,
        "success": True,
        "duration": 0.01,
    }


def jid_of(n: int) -> str:
    """The ``n``-th jid of the tests (20 digits, increasing with ``n``)."""
    return f"{20240101000000000000 + n:020d}"


def add_returns(store: JobStore, jid: str, minion_ids: list[str]) -> None:
    """Add a return for each id, packed once as the master does."""
    for minion_id in minion_ids:
        ret = job_return(jid, minion_id, {"who": minion_id})
        store.add_return(ret, wire.pack(ret))


def add_job_with_returns(store: JobStore, jid: str, minion_ids: list[str]) -> None:
    """Record a job expecting ``minion_ids`` and a return from each."""
    store.add_job(job_load(jid), list(minion_ids))
    add_returns(store, jid, minion_ids)


def set_minions(store: MinionDataStore, minion_ids: list[str]) -> None:
    """Give each id grains and a pillar naming it."""
    for minion_id in minion_ids:
        store.set_grains(minion_id, {"id": minion_id, "roles": ["web"]})
        store.set_pillar(minion_id, {"owner": minion_id})


def wait_for_clock() -> float:
    """``time.time()`` once it is surely later than every earlier reading."""
    start = time.time()
    time.sleep(0.1)
    while time.time() <= start:  # a clock that stood still
        time.sleep(0.01)
    return time.time()


def run_parallel(work: Callable[[int], Any], count: int = THREADS) -> list[Any]:
    """Run ``work(0) .. work(count - 1)`` in as many threads at once; re-raise a failure."""
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return [f.result() for f in [pool.submit(work, i) for i in range(count)]]


# -- stores in child processes ----------------------------------------------

_CHILD = "from fluxforge.testing.stores import serve_child; serve_child()"


def serve_child() -> None:
    """The body of a store process (see :class:`StoreProcess`); not for direct use.

    Opens the store, says ``ready``, waits for ``go``, writes and flushes,
    says ``flushed``, then waits: ``close`` closes the store and exits; a
    SIGKILL is the crash under test.
    """
    factory, folder, work, args = pickle.loads(base64.b64decode(sys.argv[1]))
    store = factory(folder)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit(3)
    work(store, *args)
    store.flush()
    print("flushed", flush=True)
    if sys.stdin.readline().strip() == "close":
        store.close()
        print("closed", flush=True)


class StoreProcess:
    """A child process that opens a store with ``factory`` and runs ``work(store, *args)``."""

    def __init__(
        self, factory: Callable[[str], Any], folder: str, work: Callable[..., None], *args: Any
    ) -> None:
        spec = base64.b64encode(pickle.dumps((factory, folder, work, args))).decode()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, spec],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def expect(self, word: str) -> None:
        """Wait until the child says ``word``; fail with its stderr if it says anything else."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != word:
            self.proc.kill()
            assert self.proc.stderr is not None
            err = self.proc.stderr.read()
            self.kill()
            raise AssertionError(f"store process said {line!r}, not {word!r}:\n{err}")

    def say(self, word: str) -> None:
        """Send the child one line."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL the child (no close, no exit handlers) and reap it."""
        self.proc.kill()
        self.proc.wait(CHILD_TIMEOUT)
        self._close_pipes()

    def finish(self) -> None:
        """Ask the child to close its store, and wait for a clean exit."""
        self.say("close")
        self.expect("closed")
        if self.proc.wait(CHILD_TIMEOUT) != 0:
            raise AssertionError(f"store process exited with {self.proc.returncode}")
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@contextmanager
def store_processes(
    count: int, factory: Callable[[str], Any], folder: str, work: Callable[..., None], *args: Any
) -> Iterator[list[StoreProcess]]:
    """``count`` store processes, each running ``work(store, i, *args)``; killed if left running."""
    procs = [StoreProcess(factory, folder, work, i, *args) for i in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.proc.poll() is None:
                proc.kill()


def _job_part(store: JobStore, part: int, jid: str) -> None:
    """A child's share of one job's returns: ids ``p<part>-<n>``."""
    add_returns(store, jid, [f"p{part}-{n}" for n in range(PER_THREAD)])


def _job_crash(store: JobStore, part: int, jid: str) -> None:
    add_job_with_returns(store, jid, [f"c{n}" for n in range(PER_THREAD)])


def _minion_part(store: MinionDataStore, part: int) -> None:
    set_minions(store, [f"p{part}-{n}" for n in range(PER_THREAD)])


# -- the suites -------------------------------------------------------------


class StoreSuite:
    """What both suites share: the factory and how a test opens a store."""

    factory: ClassVar[Factory[Any]]
    shared: ClassVar[bool] = True

    def folder(self, tmp_path: Path) -> str:
        """The folder of the store under test."""
        return str(tmp_path / "store")

    @contextmanager
    def opened(self, tmp_path: Path) -> Iterator[Any]:
        """A store opened on the test's folder, closed after."""
        store = type(self).factory(self.folder(tmp_path))
        try:
            yield store
        finally:
            store.close()

    def need_shared(self) -> None:
        """Skip a test of two openers when the store does not allow them."""
        if not type(self).shared:
            raise unittest.SkipTest("this store cannot be opened twice at once")

    def crash_child(self, tmp_path: Path, work: Callable[..., None], *args: Any) -> None:
        """Run ``work`` in a child that flushes and is then SIGKILLed without a close."""
        with store_processes(1, type(self).factory, self.folder(tmp_path), work, *args) as procs:
            procs[0].expect("ready")
            procs[0].say("go")
            procs[0].expect("flushed")
            procs[0].kill()

    def processes_write(self, tmp_path: Path, work: Callable[..., None], *args: Any) -> None:
        """Two child processes run ``work`` at the same moment, then close their stores."""
        self.need_shared()
        with store_processes(2, type(self).factory, self.folder(tmp_path), work, *args) as procs:
            for proc in procs:
                proc.expect("ready")
            for proc in procs:
                proc.say("go")
            for proc in procs:
                proc.expect("flushed")
            for proc in procs:
                proc.finish()


class JobStoreSuite(StoreSuite):
    """The conformance suite of a :class:`~fluxforge.master.stores.JobStore`."""

    factory: ClassVar[Factory[JobStore]]

    def test_is_a_job_store(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            assert isinstance(store, JobStore)

    def test_write_then_read_back(self, tmp_path: Path) -> None:
        jid = jid_of(1)
        with self.opened(tmp_path) as store:
            assert store.get_job(jid) is None
            store.add_job(job_load(jid), ["web1", "web2"])
            first, second = job_return(jid, "web1", "up"), job_return(jid, "web2", [1, 2.5])
            store.add_return(first, wire.pack(first))
            store.add_return(second)  # without the packed form
            store.flush()
            expected = {
                "load": job_load(jid),
                "minions": ["web1", "web2"],
                "returns": {"web1": first, "web2": second},
            }
            assert store.get_job(jid) == expected
            assert store.get_job(jid_of(2)) is None
        with self.opened(tmp_path) as again:
            assert again.get_job(jid) == expected

    def test_close_writes_what_is_pending(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            add_job_with_returns(store, jid_of(1), ["web1"])
        with self.opened(tmp_path) as again:
            job = again.get_job(jid_of(1))
            assert job is not None and list(job["returns"]) == ["web1"]

    def test_list_jobs_newest_first_with_a_limit(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            store.add_job(job_load(jid_of(2), "web*", "cmd.run"), ["web1"])
            store.add_job(job_load(jid_of(1)), ["web1"])
            store.add_job(job_load(jid_of(3), ["web1", "web2"]), ["web1", "web2"])
            store.flush()
            assert store.list_jobs(2) == [
                {"jid": jid_of(3), "fun": "test.ping", "tgt": "web1,web2", "tgt_type": "list"},
                {"jid": jid_of(2), "fun": "cmd.run", "tgt": "web*", "tgt_type": "glob"},
            ]
            assert [j["jid"] for j in store.list_jobs()] == [jid_of(3), jid_of(2), jid_of(1)]

    def test_unicode_ids_and_values(self, tmp_path: Path) -> None:
        jid = jid_of(1)
        rets = {
            m: job_return(jid, m, {"текст": f"{m} ✓", "ключ": ["ü", "🚀"]}) for m in UNICODE_IDS
        }
        with self.opened(tmp_path) as store:
            store.add_job(job_load(jid, "节点*"), list(UNICODE_IDS))
            for ret in rets.values():
                store.add_return(ret, wire.pack(ret))
        with self.opened(tmp_path) as again:
            job = again.get_job(jid)
            assert job is not None
            assert job["load"]["tgt"] == "节点*" and job["minions"] == list(UNICODE_IDS)
            assert job["returns"] == rets
            assert again.list_jobs(1)[0]["tgt"] == "节点*"

    def test_large_returns(self, tmp_path: Path) -> None:
        jid = jid_of(1)
        big = job_return(jid, "web1", {"out": "x" * LARGE, "lines": ["y" * 1024] * 2048})
        with self.opened(tmp_path) as store:
            store.add_job(job_load(jid), ["web1"])
            store.add_return(big, wire.pack(big))
        with self.opened(tmp_path) as again:
            job = again.get_job(jid)
            assert job is not None and job["returns"]["web1"] == big

    def test_one_return_per_minion_and_job(self, tmp_path: Path) -> None:
        jid = jid_of(1)
        first, second = job_return(jid, "web1", "first"), job_return(jid, "web1", "second")
        with self.opened(tmp_path) as store:
            store.add_job(job_load(jid), ["web1"])
            store.add_return(first, wire.pack(first))
            store.add_return(second, wire.pack(second))
            store.flush()
            job = store.get_job(jid)
            assert job is not None and list(job["returns"]) == ["web1"]
            assert job["returns"]["web1"] in (first, second)

    def test_prune_forgets_jobs_by_age(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            add_job_with_returns(store, jid_of(1), ["web1"])
            store.flush()
            between = wait_for_clock()
            wait_for_clock()
            add_job_with_returns(store, jid_of(2), ["web1"])
            store.flush()
            store.prune(24.0)
            store.flush()
            assert store.get_job(jid_of(1)) is not None
            store.prune((time.time() - between) / 3600)
            store.flush()
            assert store.get_job(jid_of(1)) is None
            assert [j["jid"] for j in store.list_jobs()] == [jid_of(2)]
            kept = store.get_job(jid_of(2))
            assert kept is not None and list(kept["returns"]) == ["web1"]
        with self.opened(tmp_path) as again:
            assert again.get_job(jid_of(1)) is None and again.get_job(jid_of(2)) is not None

    def test_threads_write_and_read_at_once(self, tmp_path: Path) -> None:
        jid = jid_of(1)

        def work(part: int) -> None:
            ids = [f"t{part}-{n}" for n in range(PER_THREAD)]
            for minion_id in ids:
                add_returns(store, jid, [minion_id])
                if part % 2:  # readers too, as the master's worker thread reads
                    store.get_job(jid)
                    store.list_jobs(5)

        with self.opened(tmp_path) as store:
            store.add_job(job_load(jid), [])
            run_parallel(work)
            store.flush()
            job = store.get_job(jid)
            assert job is not None and len(job["returns"]) == THREADS * PER_THREAD

    def test_two_openers_write_at_once(self, tmp_path: Path) -> None:
        self.need_shared()
        with self.opened(tmp_path) as one, self.opened(tmp_path) as two:
            stores = (one, two)
            run_parallel(
                lambda i: add_job_with_returns(
                    stores[i % 2], jid_of(i), [f"o{i}-{n}" for n in range(PER_THREAD)]
                )
            )
        with self.opened(tmp_path) as again:
            for i in range(THREADS):
                job = again.get_job(jid_of(i))
                assert job is not None and len(job["returns"]) == PER_THREAD, i

    def test_two_processes_write_at_once(self, tmp_path: Path) -> None:
        jid = jid_of(1)
        with self.opened(tmp_path) as store:
            store.add_job(job_load(jid), [])
        self.processes_write(tmp_path, _job_part, jid)
        with self.opened(tmp_path) as again:
            job = again.get_job(jid)
            assert job is not None
            assert sorted(job["returns"]) == sorted(
                f"p{p}-{n}" for p in range(2) for n in range(PER_THREAD)
            )

    def test_reopen_after_a_crash(self, tmp_path: Path) -> None:
        self.crash_child(tmp_path, _job_crash, jid_of(1))
        with self.opened(tmp_path) as store:
            job = store.get_job(jid_of(1))
            assert job is not None and len(job["returns"]) == PER_THREAD
            add_job_with_returns(store, jid_of(2), ["after"])
        with self.opened(tmp_path) as again:
            assert [j["jid"] for j in again.list_jobs()] == [jid_of(2), jid_of(1)]

    def test_writes_on_an_event_loop_are_durable_after_flush(self, tmp_path: Path) -> None:
        async def write(store: JobStore) -> None:
            add_job_with_returns(store, jid_of(1), ["web1", "web2"])
            store.flush()
            job = store.get_job(jid_of(1))
            assert job is not None and sorted(job["returns"]) == ["web1", "web2"]

        with self.opened(tmp_path) as store:
            asyncio.run(write(store))
        with self.opened(tmp_path) as again:
            assert again.get_job(jid_of(1)) is not None


class MinionDataStoreSuite(StoreSuite):
    """The conformance suite of a :class:`~fluxforge.master.stores.MinionDataStore`."""

    factory: ClassVar[Factory[MinionDataStore]]

    def test_is_a_minion_data_store(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            assert isinstance(store, MinionDataStore)

    def test_write_then_read_back(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            assert store.get("web1") == (None, None) and store.grains("web1") is None
            assert store.ids() == []
            store.set_grains("web1", {"roles": ["web"], "num_cpus": 4})
            # Reads see this opener's writes at once, flushed or not.
            assert store.get("web1") == ({"roles": ["web"], "num_cpus": 4}, None)
            store.set_pillar("web1", {"db": {"password": "x"}})
            store.set_grains("db1", {"roles": ["db"]})
            store.set_pillar("only-pillar", {"a": 1})
        with self.opened(tmp_path) as again:
            assert again.get("web1") == (
                {"roles": ["web"], "num_cpus": 4},
                {"db": {"password": "x"}},
            )
            assert again.grains("db1") == {"roles": ["db"]}
            assert again.get("only-pillar") == (None, {"a": 1})
            assert again.ids() == ["db1", "only-pillar", "web1"]

    def test_new_grains_replace_old_and_keep_pillar(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            store.set_pillar("web1", {"a": 1})
            store.set_grains("web1", {"v": 1, "old": True})
            store.set_grains("web1", {"v": 2})
            assert store.get("web1") == ({"v": 2}, {"a": 1})
        with self.opened(tmp_path) as again:
            assert again.get("web1") == ({"v": 2}, {"a": 1})

    def test_a_failed_pillar_compile_leaves_the_pillar_unknown(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            store.set_grains("web1", {"v": 1})
            store.set_pillar("web1", {"old": True})
            store.set_pillar("web1", None)
            assert store.get("web1") == ({"v": 1}, None)
        with self.opened(tmp_path) as again:
            assert again.get("web1") == ({"v": 1}, None)

    def test_forget_drops_an_entry_for_good(self, tmp_path: Path) -> None:
        with self.opened(tmp_path) as store:
            set_minions(store, ["web1", "web2", "web3"])
            store.forget(["web1", "never-seen"])
            assert store.get("web1") == (None, None)
            assert store.ids() == ["web2", "web3"]
        with self.opened(tmp_path) as again:
            assert again.ids() == ["web2", "web3"]
            again.forget(iter(["web3"]))  # any iterable
        with self.opened(tmp_path) as third:
            assert third.ids() == ["web2"]
            third.set_grains("web1", {"back": True})  # a forgotten id may come back
            assert third.get("web1") == ({"back": True}, None)

    def test_unicode_ids_and_values(self, tmp_path: Path) -> None:
        data = {m: {"имя": m, "tags": ["ü", "🚀", "节点"]} for m in UNICODE_IDS}
        with self.opened(tmp_path) as store:
            for minion_id, grains in data.items():
                store.set_grains(minion_id, grains)
                store.set_pillar(minion_id, {"秘密": minion_id})
        with self.opened(tmp_path) as again:
            assert again.ids() == sorted(UNICODE_IDS)
            for minion_id, grains in data.items():
                assert again.get(minion_id) == (grains, {"秘密": minion_id})

    def test_large_values(self, tmp_path: Path) -> None:
        grains = {"blob": "g" * LARGE, "many": {f"k{n}": n for n in range(50_000)}}
        pillar = {"blob": "p" * LARGE}
        with self.opened(tmp_path) as store:
            store.set_grains("web1", grains)
            store.set_pillar("web1", pillar)
        with self.opened(tmp_path) as again:
            assert again.get("web1") == (grains, pillar)

    def test_threads_write_at_once(self, tmp_path: Path) -> None:
        def work(part: int) -> None:
            for n in range(PER_THREAD):
                # Grains by one thread, pillar of the same id by another.
                store.set_grains(f"t{part}-{n}", {"n": n})
                store.set_pillar(f"t{(part + 1) % THREADS}-{n}", {"p": n})
                store.get(f"t{part}-{n}")
                store.ids()

        with self.opened(tmp_path) as store:
            run_parallel(work)
            store.flush()
        with self.opened(tmp_path) as again:
            assert len(again.ids()) == THREADS * PER_THREAD
            for part in range(THREADS):
                for n in range(PER_THREAD):
                    assert again.get(f"t{part}-{n}") == ({"n": n}, {"p": n})

    def test_two_openers_write_at_once(self, tmp_path: Path) -> None:
        self.need_shared()
        with self.opened(tmp_path) as one, self.opened(tmp_path) as two:
            stores = (one, two)
            run_parallel(
                lambda i: set_minions(stores[i % 2], [f"o{i}-{n}" for n in range(PER_THREAD)])
            )
        with self.opened(tmp_path) as again:
            assert len(again.ids()) == THREADS * PER_THREAD
            assert again.get("o3-7") == ({"id": "o3-7", "roles": ["web"]}, {"owner": "o3-7"})

    def test_two_processes_write_at_once(self, tmp_path: Path) -> None:
        self.processes_write(tmp_path, _minion_part)
        with self.opened(tmp_path) as again:
            assert again.ids() == sorted(f"p{p}-{n}" for p in range(2) for n in range(PER_THREAD))

    def test_reopen_after_a_crash(self, tmp_path: Path) -> None:
        self.crash_child(tmp_path, _minion_part)
        with self.opened(tmp_path) as store:
            assert len(store.ids()) == PER_THREAD
            assert store.get("p0-0") == ({"id": "p0-0", "roles": ["web"]}, {"owner": "p0-0"})
            store.set_grains("after", {"v": 1})
        with self.opened(tmp_path) as again:
            assert again.grains("after") == {"v": 1} and len(again.ids()) == PER_THREAD + 1
