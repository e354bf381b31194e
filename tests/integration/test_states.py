"""End to end: state trees applied through a real master to real minions, with the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fluxforge.testing import Cluster, wait_until

TREE = {
    "top.sls": """
        base:
          '*':
            - common
          'roles:web':
            - match: grain
            - web
        """,
    "common.sls": """
        {% set out = grains['out'] %}
        out_dir:
          file.directory:
            - name: {{ out }}
            - makedirs: True
        motd:
          file.managed:
            - name: {{ out }}/motd
            - source: ff://files/motd.j2
            - template: jinja
            - require:
              - file: out_dir
        stamp:
          cmd.run:
            - name: echo stamped > {{ out }}/stamp
            - creates: {{ out }}/stamp
            - require:
              - file: motd
        """,
    "web.sls": """
        include:
          - .web_conf
        """,
    "web_conf.sls": """
        site_conf:
          file.managed:
            - name: {{ grains['out'] }}/site.conf
            - contents: "listen {{ pillar['port'] }}"
            - require:
              - file: out_dir
        """,
    "files/motd.j2": "Hello from {{ grains['id'] }}, tier {{ pillar['tier'] }}\n",
    "_states/site.py": '''
        def configured(name: str, value: str = "") -> dict:
            """A custom state that changes nothing."""
            return {"name": name, "result": True, "changes": {}, "comment": f"value {value}"}
        ''',
    "custom.sls": """
        custom_thing:
          site.configured:
            - value: forty-two
        """,
}

PILLAR = {
    "top.sls": "base:\n  '*':\n    - common\n",
    "common.sls": "tier: {{ 'front' if grains['id'].startswith('web') else 'back' }}\nport: 8080\n",
}


def start(cluster: Cluster) -> dict[str, Path]:
    cluster.write_tree(cluster.file_root, TREE)
    cluster.write_tree(cluster.pillar_root, PILLAR)
    cluster.start_master()
    outs = {}
    for minion_id, roles in (("web1", ["web"]), ("db1", ["db"])):
        outs[minion_id] = cluster.root / "out" / minion_id
        cluster.start_minion(minion_id, grains={"roles": roles, "out": str(outs[minion_id])})
    cluster.accept_and_wait("web1", "db1")
    return outs


def by_id(ret: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A minion's state return keyed by state id."""
    return {state["__id__"]: state for state in ret.values()}


def test_highstate_test_mode_apply_and_idempotence(cluster: Cluster) -> None:
    outs = start(cluster)

    # test=True predicts and touches nothing.
    res = cluster.ff("*", "state.apply", "test=True", "--out", "json")
    assert res.returncode == 0, res
    predicted = {m: by_id(ret) for m, ret in res.json().items()}
    assert set(predicted["web1"]) == {"out_dir", "motd", "stamp", "site_conf"}
    assert set(predicted["db1"]) == {"out_dir", "motd", "stamp"}
    assert all(s["result"] is None for s in predicted["web1"].values())
    assert not outs["web1"].exists() and not outs["db1"].exists()

    # The real run: the highstate outputter by default, progress with -v.
    res = cluster.ff("-v", "*", "state.apply")
    assert res.returncode == 0, res
    assert "Summary" in res.stdout and "Failed" in res.stdout, res
    assert "[1/" in res.stderr, res
    assert (outs["web1"] / "motd").read_text() == "Hello from web1, tier front\n"
    assert (outs["db1"] / "motd").read_text() == "Hello from db1, tier back\n"
    assert (outs["web1"] / "site.conf").read_text().strip() == "listen 8080"
    assert not (outs["db1"] / "site.conf").exists()
    assert (outs["web1"] / "stamp").read_text() == "stamped\n"

    # Again: nothing changes, and states ran in requisite order.
    res = cluster.ff("*", "state.apply", "--out", "json")
    assert res.returncode == 0, res
    for ret in res.json().values():
        states = sorted(ret.values(), key=lambda s: s["__run_num__"])
        assert [s["changes"] for s in states] == [{}] * len(states), states
        order = [s["__id__"] for s in states]
        assert order.index("out_dir") < order.index("motd") < order.index("stamp")
        for state in states:
            assert set(state) >= {"name", "result", "changes", "comment", "duration"}
            assert set(state) >= {"start_time", "__run_num__", "__id__", "__sls__"}


def test_failures_errors_custom_states_and_one_run_at_a_time(cluster: Cluster) -> None:
    start(cluster)

    res = cluster.ff("web1", "state.single", "cmd.run", "exit 3", "--out", "json")
    assert res.returncode == 1, res
    (state,) = res.json()["web1"].values()
    assert state["result"] is False

    res = cluster.ff("web1", "state.sls", "nosuch")
    assert res.returncode == 1, res
    assert "nosuch" in res.stdout, res

    res = cluster.ff("*", "ffutil.sync_states", "--out", "json")
    assert res.json() == {"web1": ["states.site"], "db1": ["states.site"]}, res
    res = cluster.ff("db1", "state.sls", "custom", "--out", "json")
    assert res.returncode == 0, res
    (state,) = res.json()["db1"].values()
    assert state["comment"] == "value forty-two" and state["result"] is True

    # A second state run while one is running is refused, not interleaved.
    # (The `sleep 4` is the long state run under test, not a wait.)
    slow = cluster.ff("web1", "state.single", "cmd.run", "sleep 4", "--async")
    assert slow.returncode == 0, slow

    def slow_running() -> bool:
        running = cluster.ff("web1", "ffutil.running", "--out", "json").json()["web1"]
        return any(job["jid"] == slow.stdout.strip() for job in running)

    wait_until(slow_running, 10, interval=0.1, what="the slow state run to show as running")
    res = cluster.ff("web1", "state.apply", "--out", "json")
    assert res.returncode == 1, res
    assert "already running" in str(res.json()["web1"]), res
