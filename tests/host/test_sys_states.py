"""The user, group and cmd states, run for real and in test mode.

Each state is checked against the contract: test mode predicts exactly the
changes of the real run that follows and touches nothing, and a second real
run reports no changes. user and group states create and delete real
``fftest_<random>`` accounts as root (skipped otherwise), always removed by
a fixture. cmd states run real commands; ``cmd.script`` fetches its script
through a real in-process file client over a file_roots folder in tmp_path.
The pkg and service states are tested in test_pkg_apt.py and
test_service_sysv.py.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxforge.files.client import local_client
from fluxforge.plugins.context import JobContext
from fluxforge.testing import job_context

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="changing accounts needs root")


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    roots = tmp_path / "srv"
    (roots / "scripts").mkdir(parents=True)
    files = local_client(str(tmp_path / "cache"), {"base": [str(roots)]})
    with job_context(tmp_path / "root", files=files) as job:
        yield job


def state(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> dict[str, Any]:
    assert job.states is not None
    result: dict[str, Any] = job.states[fun](*args, **kwargs)
    assert set(result) == {"name", "result", "changes", "comment"}
    return result


def predict_apply_repeat(job: JobContext, fun: str, /, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run ``fun`` in test mode, for real, then again: return the changes of the real run."""
    job.test = True
    predicted = state(job, fun, *args, **kwargs)
    job.test = False
    applied = state(job, fun, *args, **kwargs)
    assert applied["result"] is True, applied
    assert predicted["result"] is (None if applied["changes"] else True), predicted
    assert predicted["changes"] == applied["changes"], (predicted, applied)
    again = state(job, fun, *args, **kwargs)
    assert again["result"] is True and again["changes"] == {}, again
    changes: dict[str, Any] = applied["changes"]
    return changes


# --- user ------------------------------------------------------------------


@root_only
def test_user_present_creates_then_updates_then_absent(ctx: JobContext, names: list[str]) -> None:
    user, g1, g2, _ = names
    for group in (g1, g2):
        subprocess.run(["groupadd", group], check=True)
    ctx.test = True
    state(ctx, "user.present", user, shell="/bin/sh", groups=[g1])
    assert ctx.funcs["user.info"](user) == {}  # test mode created nothing
    changes = predict_apply_repeat(ctx, "user.present", user, shell="/bin/sh", groups=[g1])
    assert changes == {"name": user, "shell": "/bin/sh", "groups": [g1]}
    assert pwd.getpwnam(user).pw_shell == "/bin/sh"
    assert os.path.isdir(f"/home/{user}")
    changes = predict_apply_repeat(
        ctx, "user.present", user, shell="/bin/bash", groups=[g2], fullname="Tess T"
    )
    assert changes == {"shell": "/bin/bash", "fullname": "Tess T", "groups": [g2]}
    assert ctx.funcs["user.list_groups"](user) == sorted([user, g2])
    # remove_groups False adds without taking away.
    changes = predict_apply_repeat(ctx, "user.present", user, groups=[g1], remove_groups=False)
    assert changes == {"groups": sorted([g1, g2])}
    # Arguments not given are left alone; optional groups that do not exist are skipped.
    assert state(ctx, "user.present", user, optional_groups=["fftest_no_such_group", g1])[
        "changes"
    ] == {"groups": [g1]}
    changes = predict_apply_repeat(ctx, "user.absent", user, purge=True)
    assert changes == {user: "removed"}
    assert ctx.funcs["user.info"](user) == {} and not os.path.exists(f"/home/{user}")


@root_only
def test_user_present_with_uid_and_primary_group(ctx: JobContext, names: list[str]) -> None:
    user, group, _, _ = names
    subprocess.run(["groupadd", group], check=True)
    gid = grp.getgrnam(group).gr_gid
    uid = next(u for u in range(42000, 43000) if not _uid_used(u))
    changes = predict_apply_repeat(
        ctx, "user.present", user, uid=uid, gid=group, home=f"/tmp/{user}", createhome=False
    )
    assert changes == {"name": user, "gid": gid, "uid": uid, "home": f"/tmp/{user}"}
    entry = pwd.getpwnam(user)
    assert (entry.pw_uid, entry.pw_gid, entry.pw_dir) == (uid, gid, f"/tmp/{user}")
    assert not os.path.exists(f"/tmp/{user}")


@root_only
def test_user_present_fails_for_missing_groups(ctx: JobContext, names: list[str]) -> None:
    ret = state(ctx, "user.present", names[0], groups=["fftest_no_such_group"])
    assert ret["result"] is False and "fftest_no_such_group" in ret["comment"]
    ret = state(ctx, "user.present", names[0], gid="fftest_no_such_group")
    assert ret["result"] is False and "does not exist" in ret["comment"]
    assert ctx.funcs["user.info"](names[0]) == {}
    assert state(ctx, "user.absent", names[0])["changes"] == {}


@root_only
def test_test_mode_predicts_users_and_groups_an_earlier_state_creates(
    ctx: JobContext, names: list[str]
) -> None:
    # In a run, group.present comes before user.present; in test mode neither
    # exists yet, and the prediction must not be a failure.
    user, group, _, _ = names
    ctx.test = True
    ret = state(ctx, "user.present", user, gid=group, groups=[group], createhome=False)
    assert ret["result"] is None, ret
    assert ret["changes"]["gid"] == group
    ret = state(ctx, "group.present", group, members=[user])
    assert ret["result"] is None and ret["changes"]["members"] == [user], ret
    assert ctx.funcs["user.info"](user) == {} and ctx.funcs["group.info"](group) == {}


# A SHA-512 crypt hash of "pw" with the salt "abcdefgh" (``openssl passwd -6``, glibc crypt).
PW_HASH = (
    "$6$abcdefgh$KQeXafAQAaOoKTevphVU215RvJdgzyfASRasIOuh12hO8u0r1bGW92ZnTmC9IjsiQ8VPiTXBi"
    "ZF49dFL1U4wX/"
)
REDACTED = {"password": "XXX-REDACTED-XXX"}


def _shadow(job: JobContext, user: str) -> str:
    passwd: str = job.funcs["user.shadow_info"](user)["passwd"]
    return passwd


@root_only
def test_user_present_password_hash_enforce_and_empty(
    ctx: JobContext, names: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    user = names[0]
    other = PW_HASH.replace("$6$abcdefgh$", "$6$zyxwvuts$")
    caplog.set_level("DEBUG")
    changes = predict_apply_repeat(ctx, "user.present", user, password=PW_HASH, createhome=False)
    assert changes == {"name": user, **REDACTED} and _shadow(ctx, user) == PW_HASH
    ctx.test = True
    ret = state(ctx, "user.present", user, password=other, shell="/bin/bash")
    assert (
        ret["comment"]
        == f"User {user} set to be changed: shell: /bin/bash, password: XXX-REDACTED-XXX"
    )
    ctx.test = False
    # A different hash replaces the current one (enforce_password defaults to True) ...
    assert predict_apply_repeat(ctx, "user.present", user, password=other) == REDACTED
    assert _shadow(ctx, user) == other
    # ... unless enforce_password is False: then only an account without one gets it.
    assert (
        predict_apply_repeat(ctx, "user.present", user, password=PW_HASH, enforce_password=False)
        == {}
    )
    assert _shadow(ctx, user) == other
    changes = predict_apply_repeat(ctx, "user.present", user, empty_password=True)
    assert changes == REDACTED and _shadow(ctx, user) == ""
    ctx.funcs["user.set_password"](user, "!")  # locked, as useradd leaves an account
    changes = predict_apply_repeat(
        ctx, "user.present", user, password=PW_HASH, enforce_password=False
    )
    assert changes == REDACTED and _shadow(ctx, user) == PW_HASH
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "chpasswd" in logged and "abcdefgh" not in logged and "zyxwvuts" not in logged


@root_only
def test_user_present_hash_password_reuses_the_salt(
    ctx: JobContext, names: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    user = names[0]
    caplog.set_level("DEBUG")
    ctx.test = True
    ret = state(ctx, "user.present", user, password="s3cret", hash_password=True)
    assert ret["changes"] == {"name": user, **REDACTED} and ctx.funcs["user.info"](user) == {}
    ctx.test = False
    changes = predict_apply_repeat(
        ctx, "user.present", user, password="s3cret", hash_password=True, createhome=False
    )
    assert changes == {"name": user, **REDACTED}
    hashed = _shadow(ctx, user)
    salt = hashed.split("$")[2]
    assert hashed.startswith("$6$")
    assert ctx.funcs["user.gen_password"]("s3cret", salt) == hashed
    # Another clear-text password: a new hash; the same one again: nothing to do.
    changes = predict_apply_repeat(ctx, "user.present", user, password="n3w", hash_password=True)
    assert changes == REDACTED and ctx.funcs["user.gen_password"](
        "n3w", _shadow(ctx, user).split("$")[2]
    ) == _shadow(ctx, user)
    # A hash set elsewhere with its own salt (and SHA-256) is checked with that salt.
    sha256 = ctx.funcs["user.gen_password"]("pw", "saltsalt", "sha256")
    ctx.funcs["user.set_password"](user, sha256)
    ret = state(ctx, "user.present", user, password="pw", hash_password=True)
    assert (ret["result"], ret["changes"]) == (True, {}) and _shadow(ctx, user) == sha256
    # With enforce_password False a differing password is left alone, without hashing.
    ret = state(ctx, "user.present", user, password="x", hash_password=True, enforce_password=False)
    assert (ret["result"], ret["changes"]) == (True, {}) and _shadow(ctx, user) == sha256
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "openssl" in logged
    for secret in ("s3cret", "n3w", "'pw'", sha256, hashed):
        assert secret not in logged


def _uid_used(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


# --- group -----------------------------------------------------------------


@root_only
def test_group_present_members_and_absent(ctx: JobContext, names: list[str]) -> None:
    group, alice, bob, carol = names
    for user in (alice, bob, carol):
        subprocess.run(["useradd", "-M", "-N", user], check=True)
    gid = next(g for g in range(42000, 43000) if not _gid_used(g))
    changes = predict_apply_repeat(ctx, "group.present", group, gid=gid, members=[alice, bob])
    assert changes == {"name": group, "gid": gid, "members": sorted([alice, bob])}
    assert sorted(grp.getgrnam(group).gr_mem) == sorted([alice, bob])
    changes = predict_apply_repeat(ctx, "group.present", group, addusers=[carol], delusers=[alice])
    assert changes == {"members": sorted([bob, carol])}
    changes = predict_apply_repeat(ctx, "group.present", group, members=[alice])
    assert changes == {"members": [alice]}
    changes = predict_apply_repeat(ctx, "group.present", group, gid=gid + 1)
    assert changes == {"gid": gid + 1} and grp.getgrnam(group).gr_gid == gid + 1
    ret = state(ctx, "group.present", group, members=[alice], addusers=[bob])
    assert ret["result"] is False and "cannot be combined" in ret["comment"]
    ret = state(ctx, "group.present", group, members=["fftest_nobody_here"])
    assert ret["result"] is False and "do not exist" in ret["comment"]
    changes = predict_apply_repeat(ctx, "group.absent", group)
    assert changes == {group: ""}
    assert ctx.funcs["group.info"](group) == {}


def _gid_used(gid: int) -> bool:
    try:
        grp.getgrgid(gid)
    except KeyError:
        return False
    return True


# --- cmd -------------------------------------------------------------------


def test_cmd_run_reports_output_and_fails_on_nonzero(ctx: JobContext, tmp_path: Path) -> None:
    ret = state(ctx, "cmd.run", "echo out; echo err >&2; pwd", cwd=str(tmp_path), env={"X": "1"})
    assert ret["result"] is True
    assert set(ret["changes"]) == {"pid", "retcode", "stdout", "stderr"}
    assert ret["changes"]["stdout"] == f"out\n{tmp_path}"
    assert ret["changes"]["stderr"] == "err" and ret["changes"]["retcode"] == 0
    ret = state(ctx, "cmd.run", 'echo "$A$B"', env=[{"A": "x"}, {"B": "y"}])
    assert ret["changes"]["stdout"] == "xy"
    ret = state(ctx, "cmd.run", "exit 3")
    assert ret["result"] is False and ret["changes"]["retcode"] == 3
    ret = state(ctx, "cmd.run", "true", cwd=str(tmp_path / "nope"))
    assert ret["result"] is False and "does not exist" in ret["comment"]


def test_cmd_run_in_test_mode_runs_nothing(ctx: JobContext, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ctx.test = True
    ret = state(ctx, "cmd.run", f"touch {marker}")
    assert ret["result"] is None and ret["changes"] == {}
    assert ret["comment"] == f'Command "touch {marker}" would have been executed'
    assert not marker.exists()


@root_only
def test_cmd_run_as_another_user(ctx: JobContext) -> None:
    ret = state(ctx, "cmd.run", "id -un", runas="nobody")
    assert ret["result"] is True and ret["changes"]["stdout"] == "nobody"


def test_cmd_wait_runs_only_through_mod_watch(ctx: JobContext, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ret = state(ctx, "cmd.wait", f"echo hi > {marker}")
    assert ret == {"name": f"echo hi > {marker}", "result": True, "changes": {}, "comment": ""}
    assert not marker.exists()
    ctx.test = True
    ret = state(ctx, "cmd.mod_watch", f"echo hi > {marker}", sfun="wait", cwd="/")
    assert ret["result"] is None and not marker.exists()
    ctx.test = False
    ret = state(ctx, "cmd.mod_watch", f"echo hi > {marker}", sfun="wait", cwd="/", order=3)
    assert ret["result"] is True and ret["changes"]["retcode"] == 0
    assert marker.read_text() == "hi\n"


def test_cmd_script_fetches_from_the_file_server(ctx: JobContext, tmp_path: Path) -> None:
    script = tmp_path / "srv" / "scripts" / "hello.sh"
    script.write_text('echo "hello $1 from $(pwd)"\nexit "${2:-0}"\n')
    ctx.test = True
    ret = state(ctx, "cmd.script", "greet", source="ff://scripts/hello.sh", args="you")
    assert ret["result"] is None and "would have been executed" in ret["comment"]
    ctx.test = False
    ret = state(ctx, "cmd.script", "greet", source="ff://scripts/hello.sh", args="you", cwd="/")
    assert ret["result"] is True and ret["changes"]["stdout"] == "hello you from /"
    ret = state(ctx, "cmd.script", "ff://scripts/hello.sh", args="you 4")
    assert ret["result"] is False and ret["changes"]["retcode"] == 4
    ret = state(ctx, "cmd.mod_watch", "greet", sfun="script", source="ff://scripts/hello.sh")
    assert ret["result"] is True and ret["changes"]["stdout"].startswith("hello  from")
    ret = state(ctx, "cmd.script", "ff://scripts/missing.sh")
    assert ret["result"] is False and "Unable to fetch" in ret["comment"]
