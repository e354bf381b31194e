"""The minion process: publications in, jobs run in a worker pool, returns out."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import os
import signal
import threading
import time
from typing import Any

import zmq

from fluxforge import targeting
from fluxforge.config import MinionConfig, ensure_private_dir
from fluxforge.errors import ConfigError, ExecutionError, FluxForgeError, TargetError, WireError
from fluxforge.events import tags
from fluxforge.files.client import FileClient
from fluxforge.grains.core import all_grains
from fluxforge.logs import Warner
from fluxforge.minion.channel import Channel, RequestFailed, RequestRefused, replay_floor
from fluxforge.minion.runner import run_function
from fluxforge.plugins.context import JobContext, current
from fluxforge.plugins.loader import Functions, execution_functions, state_functions
from fluxforge.protocol import ids, wire
from fluxforge.protocol.crypto import MinionIdentity, PublicationOpener
from fluxforge.protocol.drain import Drainer, set_reconnect
from fluxforge.protocol.replay import FloorFile, JidWindow

log = logging.getLogger("fluxforge.minion")

# A broadcast (gen, sealed with that generation's session key), or a job
# sealed to this minion's own key.
PUB_KINDS = {"pub": 2, "mpub": 1}
MAX_BUFFERED = 256
# Publications of an unknown key generation are kept unverified: at most this many bytes.
MAX_BUFFERED_BYTES = 32 * 1024 * 1024
# Publications queued in zmq before the loop reads them (the loop reads in batches).
SUB_HWM = 1000
RETURN_RETRY_SECONDS = 300.0
# How long a stopping minion tries to tell the master of the jobs it aborts.
ABORT_RETURN_SECONDS = 5.0
# Jobs that arrive before the first pillar has come wait at most this long for it.
PILLAR_WAIT_SECONDS = 10.0


class Minion:
    """One minion: its channel, its subscription and its running jobs."""

    def __init__(
        self,
        cfg: MinionConfig,
        identity: MinionIdentity | None = None,
        ctx: zmq.Context[Any] | None = None,
        funcs: Functions | None = None,
        pool: concurrent.futures.ThreadPoolExecutor | None = None,
        grains: dict[str, Any] | None = None,
        states: Functions | None = None,
    ) -> None:
        if not ids.valid_id(cfg.id):
            raise ConfigError(
                f"minion id {cfg.id!r} is not valid: use letters, digits, '.', '_' or '-'; "
                "set minion: id: in the config"
            )
        self.cfg = cfg
        targeting.set_regex_timeout(cfg.target_regex_timeout)
        self.id = cfg.id
        self.identity = identity or MinionIdentity.load(cfg.pki_dir)
        self.ctx = ctx or zmq.Context.instance()
        self.funcs = funcs or execution_functions(cfg.cachedir)
        self.states = states or state_functions(cfg.cachedir)
        self.pool = pool or concurrent.futures.ThreadPoolExecutor(
            cfg.worker_threads, thread_name_prefix="job"
        )
        self.grains = grains if grains is not None else all_grains(cfg)
        self.pillar: dict[str, Any] = {}
        self.pillar_error = ""
        self.pillar_ready = asyncio.Event()
        self._pillar_fetch: asyncio.Future[None] | None = None
        self.hooks = Hooks(self)
        self.files = FileClient(cfg.cachedir, self.hooks.request)
        self._started: dict[str, dict[str, Any]] = {}
        self.warner = Warner(log)
        self.jids = JidWindow()
        self.channel = Channel(cfg, self.identity, self.ctx, on_auth=self._on_auth)
        self.floor_file = FloorFile(os.path.join(cfg.cachedir, "replay", f"{cfg.id}.floor"))
        self._load_floor()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        set_reconnect(self.sub)
        self.sub.setsockopt(zmq.MAXMSGSIZE, cfg.max_frame_size)
        self.sub.setsockopt(zmq.RCVHWM, SUB_HWM)
        self.sub.setsockopt(zmq.SUBSCRIBE, wire.BROADCAST_TOPIC)
        self.sub.setsockopt(zmq.SUBSCRIBE, wire.minion_topic(cfg.id))
        self.sub.connect(f"tcp://{cfg.master}:{cfg.publish_port}")
        self.running: dict[str, JobContext] = {}
        self._buffered: list[bytes] = []
        self._rekeying: asyncio.Task[None] | None = None
        self._opener: PublicationOpener | None = None
        self._opener_key: bytes | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._sub_reader: Drainer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.stopping = asyncio.Event()

    def _load_floor(self) -> None:
        """Refuse every jid this minion accepted before it (re)started, as kept on disk."""
        master = self.channel.master_pub
        if master is None:
            return  # first contact: nothing was accepted from this master yet
        jid, problem = self.floor_file.load(master)
        if problem:
            log.warning("%s: replay floor: %s", self.id, problem)
        if jid:
            self.jids.floor = max(self.jids.floor, jid)
            log.debug("%s: replay floor %s from %s", self.id, jid, self.floor_file.path)

    def _keep_floor(self, jid: str) -> None:
        master = self.channel.master_pub
        if master is None:
            return
        try:
            self.floor_file.save(jid, master)
        except OSError as exc:
            self.warner.warn(
                "floor",
                f"{self.id}: cannot keep the replay floor in {self.floor_file.path} "
                f"({exc.strerror}); after a restart, a replayed older job could run again",
            )

    def _on_auth(self, master_time: float) -> None:
        floor = replay_floor(master_time)
        self.jids.floor = max(self.jids.floor, floor) if self.jids.floor else floor
        # After every authentication (a restarted master, a rotated key) the
        # master hears this minion's grains again and compiles its pillar.
        self._spawn(self._introduce())

    async def _introduce(self) -> None:
        try:
            await self.channel.request("grains", {"grains": wire.plain(self.grains)})
            await self.load_pillar()
        except FluxForgeError as exc:
            self.warner.warn("introduce", f"{self.id}: could not send grains or get pillar: {exc}")
            if not self.pillar and not self.pillar_error:
                # Never let jobs mistake a pillar that did not come for an empty one.
                self.pillar_error = (
                    f"no pillar from the master ({exc}); run ffutil.refresh_pillar to try again"
                )
        finally:
            self.pillar_ready.set()

    async def load_pillar(self) -> None:
        """Fetch this minion's pillar; a compile error is kept and reported by jobs.

        Callers that ask while a fetch runs share it: the master compiles one
        pillar per minion at a time and refuses a second request meanwhile.
        """
        if self._pillar_fetch is None or self._pillar_fetch.done():
            self._pillar_fetch = asyncio.ensure_future(self._fetch_pillar())
        await asyncio.shield(self._pillar_fetch)

    async def _fetch_pillar(self) -> None:
        reply = await self.channel.request("pillar", {"env": ""}, timeout=PILLAR_WAIT_SECONDS)
        if not isinstance(reply, dict) or not isinstance(reply.get("pillar"), dict):
            raise WireError("the master sent a malformed pillar reply")
        self.pillar = reply["pillar"]
        self.pillar_error = str(reply.get("error") or "")
        if self.pillar_error:
            self.warner.warn("pillar", f"{self.id}: pillar error: {self.pillar_error}")

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("%s: a task failed: %s: %s", self.id, type(exc).__name__, exc, exc_info=exc)

    # -- publications -----------------------------------------------------

    def on_message(self, frames: list[bytes]) -> None:
        """Handle one message from the publisher: ``[topic, publication]``."""
        if len(frames) != 2:
            self.warner.warn(
                "pub-parts", f"{self.id}: dropped a publication of {len(frames)} parts"
            )
            return
        self.on_publication(frames[1])

    def on_publication(self, data: bytes) -> None:
        """Handle one publication frame: a broadcast, or a job sealed to this minion."""
        try:
            kind, parts = wire.parse_frame(data, self.cfg.max_frame_size, PUB_KINDS)
            gen, sealed = parts if kind == "pub" else (None, parts[0])
            if not isinstance(gen, int | None) or not isinstance(sealed, bytes):
                raise WireError("publication parts have the wrong types")
        except WireError as exc:
            self.warner.warn("pub-frame", f"{self.id}: dropped a publication: {exc}")
            return
        # Nothing is opened before this process has authenticated: the first
        # auth raises the jid floor that stops replays from before a restart.
        session = self.channel.sessions.get(gen) if gen is not None else None
        master_pub, sign_pub = self.channel.master_pub, self.channel.master_sign_pub
        if not self.channel.sessions or (gen is not None and session is None):
            self._rekey_then(data)
            return
        try:
            assert master_pub is not None and sign_pub is not None  # pinned at auth
            if self._opener is None or self._opener_key != sign_pub:
                self._opener = PublicationOpener(sign_pub)
                self._opener_key = sign_pub
            if session is not None:
                payload = self._opener.open(sealed, session)
            else:
                payload = self._opener.open_to(sealed, self.channel.boxes, master_pub)
            load = wire.check(
                wire.unpack_inner(payload, self.cfg.max_frame_size),
                wire.PUBLICATION_SHAPE,
                "publication",
            )
        except WireError as exc:
            self.warner.warn("pub-auth", f"{self.id}: dropped a publication: {exc}")
            return
        if not self.pillar_ready.is_set():
            self._spawn(self._when_ready(load))
            return
        self._consider(load)

    async def _when_ready(self, load: dict[str, Any]) -> None:
        """Decide on a job that came before the first pillar, once it is here."""
        # The introduction may take an auth_timeout for the grains and then
        # the pillar's own wait.
        wait = PILLAR_WAIT_SECONDS + self.cfg.auth_timeout + 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.pillar_ready.wait(), wait)
        self._consider(load)

    def _consider(self, load: dict[str, Any]) -> None:
        """Run a job if it targets this minion and was not seen before."""
        try:
            mine = targeting.matches(
                load["tgt"], load["tgt_type"], self.id, self.grains, self.pillar
            )
        except TargetError as exc:
            self.warner.warn("target", f"{self.id}: dropped job {load['jid']}: {exc}")
            return
        if not mine:
            log.debug("%s: job %s is not for this minion", self.id, load["jid"])
            return
        if not self.jids.accept(load["jid"]):
            why = "seen before" if load["jid"] > self.jids.floor else "at or below the replay floor"
            self.warner.warn("replay", f"{self.id}: dropped replayed job {load['jid']} ({why})")
            return
        # Kept before the job runs: once it has run, no restart may run it again.
        self._keep_floor(load["jid"])
        self._spawn(self.run_job(load))

    def _rekey_then(self, data: bytes) -> None:
        """Keep a publication of an unknown key generation and re-authenticate."""
        held = sum(len(d) for d in self._buffered)
        if len(self._buffered) < MAX_BUFFERED and held + len(data) <= MAX_BUFFERED_BYTES:
            self._buffered.append(data)
        if self._rekeying is None or self._rekeying.done():
            self._rekeying = asyncio.get_running_loop().create_task(self._rekey())

    async def _rekey(self) -> None:
        try:
            await self.channel.authenticate()
        except FluxForgeError as exc:
            self.warner.warn("rekey", f"{self.id}: cannot fetch the new session key: {exc}")
        frames, self._buffered = self._buffered, []
        for data in frames:
            kind, parts = wire.parse_frame(data, self.cfg.max_frame_size, PUB_KINDS)
            if not self.channel.sessions:
                self.warner.warn("gen", f"{self.id}: dropped a publication: not authenticated")
            elif kind == "mpub" or parts[0] in self.channel.sessions:
                self.on_publication(data)
            else:
                self.warner.warn(
                    "gen", f"{self.id}: dropped a publication of unknown key {parts[0]}"
                )

    # -- jobs -------------------------------------------------------------

    def _fire(self, tag: str, data: dict[str, Any]) -> None:
        """Fire an event from a job's worker thread."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._spawn, self._send_event(tag, data))

    async def _send_event(self, tag: str, data: dict[str, Any]) -> None:
        try:
            await self.channel.request("event", {"tag": tag, "data": data})
        except FluxForgeError as exc:
            self.warner.warn("event", f"{self.id}: event {tag} not delivered: {exc}")

    async def run_job(self, load: dict[str, Any]) -> None:
        """Run a job, send heartbeats while it runs, return the result.

        Functions marked :func:`fluxforge.plugins.loader.inline` (quick, never
        blocking) run on the loop; everything else runs in the worker pool.
        """
        jid, fun = load["jid"], load["fun"]
        log.debug("%s: running job %s %s", self.id, jid, fun)
        ctx = JobContext(
            opts=self.cfg,
            grains=self.grains,
            pillar=self.pillar,
            funcs=self.funcs,
            jid=jid,
            fun=fun,
            fire_event=self._fire,
            minion=self.hooks,
            pillar_error=self.pillar_error,
            states=self.states,
            files=self.files,
        )
        started = time.monotonic()

        def progress(data: dict[str, Any]) -> None:
            elapsed = round(time.monotonic() - started, 3)
            body = {"jid": jid, "fun": fun, "elapsed": elapsed, "data": wire.plain(data)}
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._spawn, self._heartbeat(body))

        ctx.progress = progress
        self.running[jid] = ctx
        self._started[jid] = {
            "jid": jid,
            "fun": fun,
            "arg": _fun_args(load),
            "tgt": load["tgt"],
            "tgt_type": load["tgt_type"],
            "user": load["user"],
            "started": time.time(),
        }
        try:
            if self.funcs.is_inline(fun):
                outcome = run_function(ctx, fun, load["arg"], load["kwarg"])
            else:
                outcome = await self._in_pool(ctx, load)
        finally:
            self.running.pop(jid, None)
            self._started.pop(jid, None)
        ret = {"jid": jid, "fun": fun, "fun_args": _fun_args(load), **outcome}
        await self._deliver(ret)

    async def _in_pool(self, ctx: JobContext, load: dict[str, Any]) -> dict[str, Any]:
        """Run the job's function in a worker thread, with a heartbeat every interval."""
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        call = contextvars.copy_context().run
        future = loop.run_in_executor(
            self.pool, call, run_function, ctx, load["fun"], load["arg"], load["kwarg"]
        )
        interval = self.cfg.heartbeat_interval

        def beat() -> None:
            if future.done():
                return
            elapsed = round(time.monotonic() - start, 3)
            body = {"jid": ctx.jid, "fun": ctx.fun, "elapsed": elapsed, "data": {}}
            self._spawn(self._heartbeat(body))
            timer[0] = loop.call_later(interval, beat)

        timer = [loop.call_later(interval, beat)]
        try:
            return await future
        finally:
            timer[0].cancel()

    async def _heartbeat(self, body: dict[str, Any]) -> None:
        try:
            await self.channel.request("prog", body)
        except FluxForgeError:
            pass

    async def _deliver(self, ret: dict[str, Any]) -> None:
        """Send a return, retrying while the master is away; the master drops duplicates.

        A return the master refuses (too big, say) is replaced, once, by a
        short error return saying why, so the operator sees a failure rather
        than a minion that never answered.
        """
        deadline = time.monotonic() + RETURN_RETRY_SECONDS
        delay = 0.5
        replaced = False
        while True:
            try:
                await self.channel.request("ret", ret)
                return
            except RequestFailed as exc:
                refused = isinstance(exc, RequestRefused)
                if refused and not replaced:
                    log.warning("%s: return of job %s refused: %s", self.id, ret["jid"], exc)
                    ret, replaced = _refusal(ret, exc), True
                    continue
                if refused or time.monotonic() > deadline or self.stopping.is_set():
                    log.warning("%s: return of job %s lost: %s", self.id, ret["jid"], exc)
                    return
                self.warner.warn("ret-retry", f"{self.id}: {exc}; retrying the return")
            except FluxForgeError as exc:
                self.warner.warn("ret-retry", f"{self.id}: {exc}; retrying the return")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- life cycle -------------------------------------------------------

    async def start(self) -> None:
        """Start receiving and authenticate until accepted."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.channel.start_reading()
        self._sub_reader = Drainer(self.sub, self.on_message)
        await self.channel.authenticate_until_accepted(self.stopping)
        if not self.stopping.is_set():
            started = {"grains_count": len(self.grains)}
            self._spawn(self._send_event(tags.minion_start(self.id), started))

    async def stop(self) -> None:
        """Cancel running jobs, return them as aborted, and close sockets."""
        self.stopping.set()
        aborted = [_aborted(job) for job in self._started.values()]
        for ctx in self.running.values():
            ctx.cancelled.set()
        if self._pillar_fetch is not None:
            self._pillar_fetch.cancel()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if aborted:
            await self._return_aborted(aborted)
        if self._sub_reader is not None:
            self._sub_reader.close()
        self.channel.close()
        self.sub.close(0)
        self.floor_file.close()

    async def _return_aborted(self, rets: list[dict[str, Any]]) -> None:
        """Send the returns of the jobs a stop aborted, within ABORT_RETURN_SECONDS.

        Without them a client would wait for these minions until its timeout
        and report them as not returning, with no word of why.
        """

        async def send(ret: dict[str, Any]) -> None:
            try:
                await self.channel.request("ret", ret, timeout=ABORT_RETURN_SECONDS)
                log.info("%s: job %s aborted by the stop", self.id, ret["jid"])
            except FluxForgeError as exc:
                log.warning("%s: job %s aborted; its return was lost: %s", self.id, ret["jid"], exc)

        sends = asyncio.gather(*(send(ret) for ret in rets))
        try:
            await asyncio.wait_for(sends, ABORT_RETURN_SECONDS)
        except TimeoutError:
            log.warning(
                "%s: the master took no return of the %d aborted job(s)", self.id, len(rets)
            )


class Hooks:
    """What a job may ask of its minion (:class:`fluxforge.plugins.context.MinionHooks`).

    Called from worker threads; each call hands its work to the minion's
    event loop and waits for it.
    """

    def __init__(self, minion: Minion) -> None:
        self.minion = minion

    def _check_thread(self) -> asyncio.AbstractEventLoop:
        loop = self.minion._loop
        if loop is None or not loop.is_running():
            raise ExecutionError("the minion is not running")
        if threading.get_ident() == self.minion._loop_thread:
            raise ExecutionError("a function that talks to the master cannot be @inline")
        return loop

    def _await(self, coro: Any, timeout: float) -> Any:
        try:
            loop = self._check_thread()
        except ExecutionError:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)

    def request(self, kind: str, body: dict[str, Any], timeout: float = 30.0) -> Any:
        """Send a request to the master and wait for the reply body."""
        return self._await(self.minion.channel.request(kind, body, timeout=timeout), timeout + 1)

    def refresh(self, what: str) -> None:
        """Reload grains (and send them to the master), pillar, or modules.

        Returns once the master has the new grains or this minion has the new
        pillar, so a job that changes grains returns only after the master
        can target by them.
        """
        self._check_thread()
        minion = self.minion
        try:
            ctx: JobContext | None = current()
        except RuntimeError:
            ctx = None
        if what == "grains":
            grains = all_grains(minion.cfg)
            minion.grains = grains
            if ctx is not None:
                ctx.grains = grains
            self.request("grains", {"grains": wire.plain(grains)})
        elif what == "pillar":
            self._await(minion.load_pillar(), PILLAR_WAIT_SECONDS + 1)
            if ctx is not None:
                ctx.pillar, ctx.pillar_error = minion.pillar, minion.pillar_error
        elif what == "modules":
            minion.funcs.scan()
            minion.states.scan()
        else:
            raise ExecutionError(f"cannot refresh {what!r}: use grains, pillar or modules")

    def running(self) -> list[dict[str, Any]]:
        """The jobs running on this minion, oldest first."""
        # list() copies in one step under the GIL while the loop may change the dict.
        jobs = sorted(list(self.minion._started.values()), key=lambda j: j["started"])
        return [dict(job, pid=os.getpid()) for job in jobs]

    def kill(self, jid: str) -> bool:
        """Cancel the job ``jid``; False when it is not running here."""
        ctx = self.minion.running.get(jid)
        if ctx is None:
            return False
        ctx.cancelled.set()
        return True


def _refusal(ret: dict[str, Any], exc: Exception) -> dict[str, Any]:
    """The short error return sent in place of ``ret`` when the master refused it."""
    return {
        "jid": ret["jid"],
        "fun": ret["fun"],
        "fun_args": [],
        "return": f"the return was not delivered: {str(exc)[:400]}",
        "retcode": 1,
        "success": False,
        "duration": ret.get("duration", 0.0),
    }


def _aborted(job: dict[str, Any]) -> dict[str, Any]:
    """The return of running job ``job`` (an entry of ``Minion._started``) that a stop ends."""
    return {
        "jid": job["jid"],
        "fun": job["fun"],
        "fun_args": list(job["arg"]),
        "return": "aborted: the minion was stopped while the job ran",
        "retcode": 1,
        "success": False,
        "duration": round(max(time.time() - job["started"], 0.0), 3),
    }


def _fun_args(load: dict[str, Any]) -> list[Any]:
    args = list(load["arg"])
    if load["kwarg"]:
        args.append(dict(load["kwarg"]))
    return args


async def _serve(cfg: MinionConfig) -> None:
    minion = Minion(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starter = loop.create_task(minion.start())
    await stop.wait()
    log.info("%s: stopping", cfg.id)
    starter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starter
    await minion.stop()
    minion.pool.shutdown(wait=False, cancel_futures=True)


def run(cfg: MinionConfig) -> None:
    """Run a minion in the foreground until SIGTERM or SIGINT."""
    ensure_private_dir(cfg.pki_dir)
    log.info("minion %s starting; master %s:%d", cfg.id, cfg.master, cfg.ret_port)
    asyncio.run(_serve(cfg))
