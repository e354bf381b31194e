"""Template injection: untrusted values that change the YAML they are printed in, or run as Jinja.

Pillar and state SLS files are rendered Jinja then YAML, with grains the
minion reports, pillar values, and job arguments (``pillar=`` overrides,
``state.single`` arguments). A grain holding a newline and ``include:``
lines, printed by ``location: {{ grains.get('location') }}``, used to add
an include to the document, and the attacking minion received two other
minions' pillar secrets. A value passed by a user used to be rendered as
Jinja itself when a state asked for ``template: jinja`` (server-side
template injection, the class of Salt's CVE-2021-25283, whose fix moved
Salt's Jinja into a sandbox). Now such values land in the document as
exactly the value and are never rendered as templates. Reactor files (to
come) use the same render API with event data as untrusted context; that
case is tested through the API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fluxforge.render.renderers import render
from fluxforge.testing import Cluster

INCLUDE_ATTACK = "paris\ninclude:\n  - web1_secrets\n  - db1_secrets\n"

PILLAR = {
    "top.sls": """
        base:
          '*':
            - common
          'web1':
            - web1_secrets
          'db1':
            - db1_secrets
        """,
    "common.sls": """
        location: {{ grains.get('location') }}
        """,
    "web1_secrets.sls": """
        web1_password: web1-s3cret
        """,
    "db1_secrets.sls": """
        db1_password: db1-s3cret
        """,
}


def test_a_grain_cannot_include_other_minions_pillar(cluster: Cluster) -> None:
    cluster.write_tree(cluster.pillar_root, PILLAR)
    cluster.start_master()
    cluster.start_minion("web1", grains={"location": "london"})
    cluster.start_minion("db1", grains={"location": "berlin"})
    cluster.start_minion("attacker", grains={"location": INCLUDE_ATTACK})
    cluster.accept_and_wait()

    res = cluster.ff("attacker", "pillar.items", "--out", "json")
    assert res.returncode == 0, res
    assert res.json() == {"attacker": {"location": INCLUDE_ATTACK}}

    # The others still get their own secrets.
    res = cluster.ff("web1", "pillar.items", "--out", "json")
    assert res.json() == {"web1": {"location": "london", "web1_password": "web1-s3cret"}}


# A value that ends one state and starts another, with some of YAML's indicators
# (tests/unit/test_renderers.py has the others, document markers among them).
HOSTILE = (
    "hi # not a comment: {a: [b]} & *c ! | > % @ `d` 'e' \"f\" \u2028\n"
    "evil:\n  cmd.run:\n    - name: touch {out}/evil\n"
)


def state_tree(out: Path) -> dict[str, str]:
    return {
        "top.sls": """
            base:
              '*':
                - motd
            """,
        "motd.sls": f"""
            from_grain:
              file.managed:
                - name: {out}/from_grain
                - contents: {{{{ grains['motd'] }}}}
            from_pillar:
              file.managed:
                - name: {out}/from_pillar
                - contents: "{{{{ pillar['motd'] }}}}"
            """,
    }


def test_a_grain_or_pillar_value_cannot_add_a_state(cluster: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    hostile = HOSTILE.replace("{out}", str(out))
    cluster.write_tree(cluster.file_root, state_tree(out))
    cluster.write_tree(
        cluster.pillar_root,
        {"top.sls": "base:\n  '*':\n    - motd\n", "motd.sls": "motd: {{ grains['motd'] }}\n"},
    )
    cluster.start_master()
    cluster.start_minion("m1", grains={"motd": hostile})
    cluster.accept_and_wait()

    res = cluster.ff("m1", "state.apply", "--out", "json")
    assert res.returncode == 0, res
    states = res.json()["m1"]
    assert sorted(state["__id__"] for state in states.values()) == ["from_grain", "from_pillar"]
    assert (out / "from_grain").read_text() == hostile
    assert (out / "from_pillar").read_text() == hostile
    assert not (out / "evil").exists()


def test_event_data_lands_as_data_in_a_reactor_file() -> None:
    # A reactor SLS in Salt's format, rendered as the reactor will render it:
    # the event's tag and data are untrusted context.
    reaction = """
        notify:
          local.cmd.run:
            - tgt: {{ data['id'] }}
            - arg:
              - echo {{ data['data']['message'] }}
        """
    data: dict[str, Any] = {
        "id": "web1\n    - tgt_type: glob\n  local.cmd.run:\n    - tgt: '*'",
        "data": {"message": "hello\n      - rm -rf /srv\n- x: {{ 7*7 }}"},
    }
    result = render(
        reaction.replace("\n        ", "\n"),
        name="reactor/notify.sls",
        context={},
        untrusted_context={"tag": "ff/minion/web1/custom", "data": data},
    )
    assert result == {
        "notify": {
            "local.cmd.run": [
                {"tgt": data["id"]},
                {"arg": ["echo " + data["data"]["message"]]},
            ]
        }
    }


INJECTED = "{{ salt['cmd.run']('touch %s') }}"


def test_job_arguments_are_never_rendered_as_jinja(cluster: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cluster.write_tree(
        cluster.file_root,
        {
            "from_pillar.sls": f"""
                motd:
                  file.managed:
                    - name: {out}/motd
                    - contents_pillar: motd
                    - template: jinja
                """,
            "printed.sls": f"""
                motd:
                  file.managed:
                    - name: {out}/motd
                    - contents: '{{{{ pillar['motd'] }}}}'
                    - template: jinja
                """,
        },
    )
    cluster.start_master()
    cluster.start_minion("m1")
    cluster.accept_and_wait()

    for sls in ("from_pillar", "printed"):
        pwned = out / f"pwned-{sls}"
        override = json.dumps({"motd": INJECTED % pwned})
        res = cluster.ff("m1", "state.sls", sls, f"pillar={override}", "--out", "json")
        assert not pwned.exists(), f"{sls}: the pillar override ran as Jinja"
        assert res.returncode == 1, res
        (state,) = res.json()["m1"].values()
        assert state["result"] is False
        assert "never rendered as templates" in state["comment"], state

    pwned = out / "pwned-single"
    res = cluster.ff(
        "m1",
        "state.single",
        "file.managed",
        f"{out}/single",
        f"contents={INJECTED % pwned}",
        "template=jinja",
        "--out",
        "json",
    )
    assert not pwned.exists(), "a state.single argument ran as Jinja"
    assert res.returncode == 1, res
    (state,) = res.json()["m1"].values()
    assert "never rendered as templates" in state["comment"], state
