"""Return injection: an accepted minion returns to jobs that were never its own.

Every accepted minion hears broadcast jobs, and the master used to take a
return to one from any of them (to let a minion whose grains changed have
its say): a forged result, with any retcode, then appeared in another
operator's ``ff`` output and exit code, and a 15 MiB one per job filled the
job cache. Returns are now accepted only from minions the master resolved
for the job or could not rule out, and only up to ``max_return_size``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from fluxforge.testing import Cluster, Result
from fluxforge.testing.attack import (
    RawPeer,
    assert_still_serving,
    enroll,
    listen,
    ret_body,
    start_web1,
    wait_warning,
)


def _ff_in_background(cluster: Cluster, *args: str) -> tuple[threading.Thread, list[Result]]:
    out: list[Result] = []
    thread = threading.Thread(target=lambda: out.append(cluster.ff(*args)), daemon=True)
    thread.start()
    return thread, out


@pytest.mark.parametrize("target", ["web1", "web*"])
def test_a_return_to_another_minions_job_is_refused(
    cluster: Cluster, peers: list[RawPeer], target: str
) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    listener = listen(cluster, "ff/job/")
    # test.sleep keeps the job open while the forged return comes in.
    thread, out = _ff_in_background(cluster, target, "test.sleep", "1.5", "--out", "json")
    try:
        jid = ""
        deadline = time.monotonic() + 15
        while not jid and time.monotonic() < deadline:
            event = listener.get(0.5)
            if event is not None and event[0].endswith("/new"):
                jid = event[1]["jid"]
        assert jid, "the job was not published"
        forged = ret_body(jid, "forged", "test.sleep") | {"retcode": 3, "success": False}
        evil.send(evil.request("ret", forged))
        reply = evil.reply()
        assert reply["ok"] is False, reply
        assert f"job {jid} does not target evil" in str(reply["error"]), reply
        wait_warning(cluster, "master", "refused request from evil", "does not target evil")
        evil.send(evil.request("prog", {"jid": jid, "fun": "x", "elapsed": 1.0, "data": {}}))
        assert evil.reply()["ok"] is False
    finally:
        thread.join(60)
        listener.close()
    assert out, "ff did not finish"
    res = out[0]
    assert res.returncode == 0 and res.json() == {"web1": True}, res
    job = cluster.job(jid)
    assert job is not None and sorted(job["returns"]) == ["web1"], job
    assert "forged" not in str(job)
    assert_still_serving(cluster, drop=("evil",))


def test_an_oversized_return_is_refused_and_the_minion_says_so(
    cluster: Cluster, peers: list[RawPeer]
) -> None:
    start_web1(cluster)
    evil = enroll(peers, cluster)
    # A job evil is expected for: its return is welcome, but not 5 MiB of it.
    res = cluster.ff("evil", "test.ping", "--async")
    assert res.returncode == 0, res
    jid = res.stdout.strip()
    evil.send(evil.request("ret", ret_body(jid, "x" * (5 * 2**20))))
    reply = evil.reply()
    assert reply["ok"] is False and "over max_return_size" in str(reply["error"]), reply
    wait_warning(cluster, "master", "refused request from evil", "over max_return_size")
    job = cluster.job(jid)
    assert job is not None and job["returns"] == {}, str(job)[:300]
    # After the refusal a short return is still welcome.
    evil.send(evil.request("ret", ret_body(jid, "short")))
    assert evil.reply()["ok"] is True

    # A real minion whose return is refused delivers a short error return at once.
    big = "head -c 5000000 /dev/zero | tr '\\0' x"
    res = cluster.ff("web1", "cmd.run", big, "--out", "json", "-t", "20")
    assert res.returncode == 1, res
    value: Any = res.json()["web1"]
    assert "the return was not delivered" in value and "max_return_size" in value, value
    wait_warning(cluster, "web1", "refused", "max_return_size")
    assert "lost" not in cluster.log("web1")
    assert_still_serving(cluster, drop=("evil",))
