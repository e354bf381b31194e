"""The apt ``pkg`` module and the pkg states, against the host's real dpkg.

Nothing is downloaded. Reading (list_pkgs, version, latest_version with
``refresh=False``) uses the real package database. Installing and removing
use a tiny package that the test builds with ``dpkg-deb --build`` in
tmp_path (``fluxforge-test-<random>``, with one conffile so that purge has
something to clear), installed through ``sources`` (``dpkg -i``) and
removed with ``apt-get remove``/``purge``, which need no network. The
package is purged again after each test whatever happens. Installs by
package name alone are only tried for a name apt does not know, where the
state refuses before calling apt-get. Needs root and a Debian-family host;
skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxforge.errors import ExecutionError
from fluxforge.host.procs import Command, Outcome
from fluxforge.plugins.context import JobContext
from fluxforge.testing import job_context

pytestmark = [
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg (a Debian host)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="installing packages needs root"),
]


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[JobContext]:
    with job_context(tmp_path / "root") as job:
        yield job


def _build_deb(folder: Path, name: str, version: str) -> str:
    root = folder / f"{name}_{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / f"{name}.conf").write_text("setting = 1\n")
    (root / "DEBIAN" / "conffiles").write_text(f"/etc/{name}.conf\n")
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: FluxForge tests <tests@localhost>\n"
        "Description: throwaway package built by the FluxForge unit tests\n"
    )
    out = folder / f"{name}_{version}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(root), str(out)],
        check=True,
        capture_output=True,
    )
    return str(out)


@pytest.fixture
def deb(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """``(name, path of version 1.0-1, path of version 1.1-1)``; purged afterwards."""
    name = f"fluxforge-test-{uuid.uuid4().hex[:8]}"
    v1 = _build_deb(tmp_path, name, "1.0-1")
    v2 = _build_deb(tmp_path, name, "1.1-1")
    try:
        yield name, v1, v2
    finally:
        subprocess.run(["dpkg", "--purge", name], capture_output=True)
        assert not Path(f"/etc/{name}.conf").exists()


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> object:
    return job.funcs.call(fun, list(args), kwargs)


def state(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> dict[str, object]:
    assert job.states is not None
    result: dict[str, object] = job.states[fun](*args, **kwargs)
    assert set(result) == {"name", "result", "changes", "comment"}
    return result


# --- reading the real package database ------------------------------------


def test_loader_picks_the_apt_backend_here(ctx: JobContext) -> None:
    from fluxforge.modules import pkg_apt

    assert ctx.funcs["pkg.install"] is pkg_apt.install


def test_list_pkgs_and_version_read_dpkg(ctx: JobContext) -> None:
    pkgs = call(ctx, "pkg.list_pkgs")
    assert isinstance(pkgs, dict) and len(pkgs) > 10
    dpkg_version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "dpkg"], capture_output=True, text=True
    ).stdout
    assert pkgs["dpkg"] == dpkg_version
    assert call(ctx, "pkg.version", "dpkg") == dpkg_version
    assert call(ctx, "pkg.version", "dpkg", "fluxforge-no-such-package") == {
        "dpkg": dpkg_version,
        "fluxforge-no-such-package": "",
    }
    listed = call(ctx, "pkg.list_pkgs", versions_as_list="true")
    assert isinstance(listed, dict) and listed["dpkg"] == [dpkg_version]


def test_version_cmp_uses_debian_ordering(ctx: JobContext) -> None:
    assert call(ctx, "pkg.version_cmp", "1.0-1", "1.0-2") == -1
    assert call(ctx, "pkg.version_cmp", "1:0.9", "2.0") == 1
    assert call(ctx, "pkg.version_cmp", "1.0~rc1", "1.0") == -1
    assert call(ctx, "pkg.version_cmp", "2.0", "2.0") == 0


def test_latest_version_without_refresh_of_unknown_package_is_empty(ctx: JobContext) -> None:
    assert call(ctx, "pkg.latest_version", "fluxforge-no-such-package", refresh="false") == ""


def test_refresh_db_parses_apt_output(tmp_path: Path) -> None:
    # Faked: a real apt-get update needs the network, which tests must not use.
    text = (
        "Hit:1 http://deb.debian.org/debian bookworm InRelease\n"
        "Get:2 http://deb.debian.org/debian bookworm-updates InRelease [55.4 kB]\n"
        "Ign:3 http://example.invalid/repo stable InRelease\n"
        "Reading package lists...\n"
    )
    seen: list[Command] = []

    def fake(command: Command) -> Outcome:
        seen.append(command)
        return Outcome(text, "", 0, 1)

    with job_context(tmp_path, command_runner=fake) as ctx:
        assert call(ctx, "pkg.refresh_db") == {
            "http://deb.debian.org/debian bookworm InRelease": None,
            "http://deb.debian.org/debian bookworm-updates InRelease": True,
            "http://example.invalid/repo stable InRelease": False,
        }
    assert [c.argv for c in seen] == [["apt-get", "-q", "update"]]
    assert seen[0].fname == "pkg.refresh_db" and seen[0].env["DEBIAN_FRONTEND"] == "noninteractive"


# --- install, upgrade, remove, purge with a local .deb ---------------------


def test_install_from_sources_upgrade_remove_and_purge(
    ctx: JobContext, deb: tuple[str, str, str]
) -> None:
    name, v1, v2 = deb
    assert call(ctx, "pkg.source_info", v1) == {"name": name, "version": "1.0-1", "arch": "all"}
    assert call(ctx, "pkg.install", sources=[{name: v1}]) == {name: {"old": "", "new": "1.0-1"}}
    assert call(ctx, "pkg.version", name) == "1.0-1"
    assert call(ctx, "pkg.install", sources=[{name: v2}]) == {
        name: {"old": "1.0-1", "new": "1.1-1"}
    }
    # Known only from dpkg's status: nothing newer to offer.
    assert call(ctx, "pkg.latest_version", name, refresh="false") == ""
    assert call(ctx, "pkg.remove", name) == {name: {"old": "1.1-1", "new": ""}}
    assert call(ctx, "pkg.remove", name) == {}
    # remove keeps the conffile: dpkg state rc, which purge clears.
    assert call(ctx, "pkg.list_pkgs", removed="true")[name] == "1.1-1"  # type: ignore[index]
    assert Path(f"/etc/{name}.conf").exists()
    assert call(ctx, "pkg.purge", pkgs=[name]) == {name: {"old": "1.1-1", "new": ""}}
    assert name not in call(ctx, "pkg.list_pkgs", removed="true")  # type: ignore[operator]
    assert not Path(f"/etc/{name}.conf").exists()


def test_install_refuses_a_missing_source_file(ctx: JobContext, tmp_path: Path) -> None:
    with pytest.raises(ExecutionError, match="does not exist"):
        call(ctx, "pkg.install", sources=[{"x": str(tmp_path / "nope.deb")}])
    with pytest.raises(ExecutionError, match="name a package"):
        call(ctx, "pkg.install")


# --- states ----------------------------------------------------------------


def test_installed_predicts_applies_and_is_idempotent(
    ctx: JobContext, deb: tuple[str, str, str]
) -> None:
    name, v1, _ = deb
    expected = {name: {"old": "", "new": "1.0-1"}}
    ctx.test = True
    ret = state(ctx, "pkg.installed", name, sources=[{name: v1}])
    assert ret["result"] is None and ret["changes"] == expected
    assert call(ctx, "pkg.version", name) == ""  # test mode touched nothing
    ctx.test = False
    ret = state(ctx, "pkg.installed", name, sources=[{name: v1}])
    assert ret["result"] is True and ret["changes"] == expected, ret
    ret = state(ctx, "pkg.installed", name, sources=[{name: v1}])
    assert ret["result"] is True and ret["changes"] == {}
    assert "already installed" in str(ret["comment"])
    # A pin to another version is predicted in test mode (not applied: apt
    # would look for 9.9 in its repositories).
    ctx.test = True
    ret = state(ctx, "pkg.installed", name, version="9.9")
    assert ret["result"] is None and ret["changes"] == {name: {"old": "1.0-1", "new": "9.9"}}
    ret = state(ctx, "pkg.installed", name, version="1.0-1")
    assert ret["result"] is True and ret["changes"] == {}
    ctx.test = False
    # Only dpkg knows it, at its installed version: latest has nothing to do.
    ret = state(ctx, "pkg.latest", name)
    assert ret["result"] is True and ret["changes"] == {}


def test_removed_and_purged_predict_apply_and_are_idempotent(
    ctx: JobContext, deb: tuple[str, str, str]
) -> None:
    name, v1, _ = deb
    call(ctx, "pkg.install", sources=[{name: v1}])
    gone = {name: {"old": "1.0-1", "new": ""}}
    ctx.test = True
    ret = state(ctx, "pkg.removed", name)
    assert ret["result"] is None and ret["changes"] == gone
    ctx.test = False
    ret = state(ctx, "pkg.removed", name, version="0.1")  # another version: not removed
    assert ret["result"] is True and ret["changes"] == {}
    ret = state(ctx, "pkg.removed", name)
    assert ret["result"] is True and ret["changes"] == gone, ret
    assert state(ctx, "pkg.removed", name)["changes"] == {}
    # Its conffile remains: purged still has something to do.
    ctx.test = True
    ret = state(ctx, "pkg.purged", pkgs=[name], name="ignored")
    assert ret["result"] is None and ret["changes"] == {name: {"old": "1.0-1", "new": ""}}
    ctx.test = False
    ret = state(ctx, "pkg.purged", pkgs=[name], name="ignored")
    assert ret["result"] is True and ret["changes"] == {name: {"old": "1.0-1", "new": ""}}
    assert state(ctx, "pkg.purged", name)["changes"] == {}


def test_installed_and_latest_fail_for_an_unknown_package_without_calling_apt(
    ctx: JobContext,
) -> None:
    name = f"fluxforge-no-such-{uuid.uuid4().hex[:8]}"
    for test_mode in (True, False):
        ctx.test = test_mode
        ret = state(ctx, "pkg.installed", name)
        assert ret["result"] is False and "No package manager candidate" in str(ret["comment"])
        ret = state(ctx, "pkg.latest", name)
        assert ret["result"] is False and "No information found" in str(ret["comment"])
    assert state(ctx, "pkg.removed", name)["result"] is True


# --- version constraints in pkg.installed ------------------------------------


def predict_apply(job: JobContext, fun: str, /, **kwargs: object) -> dict[str, object]:
    """Run ``fun`` in test mode, for real, then again; return the real run's changes.

    The prediction must equal the real changes, and the second real run
    must change nothing.
    """
    job.test = True
    predicted = state(job, fun, **kwargs)
    job.test = False
    applied = state(job, fun, **kwargs)
    assert applied["result"] is True, applied
    assert predicted["result"] is (None if applied["changes"] else True), predicted
    assert predicted["changes"] == applied["changes"], (predicted, applied)
    again = state(job, fun, **kwargs)
    assert again["result"] is True and again["changes"] == {}, again
    changes = applied["changes"]
    assert isinstance(changes, dict)
    return changes


def test_constraints_parse_and_match(ctx: JobContext) -> None:
    from fluxforge.host import pkgops

    assert pkgops.parse_constraint("1.2-1") == [("==", "1.2-1")]
    assert pkgops.parse_constraint("=1.2-1") == [("==", "1.2-1")]
    assert pkgops.parse_constraint("==1:1.2~rc1") == [("==", "1:1.2~rc1")]
    assert pkgops.parse_constraint(">= 1.0, <2.0") == [(">=", "1.0"), ("<", "2.0")]
    for bad in (">>1", "~1", "=>1", ">=1.0,", "<", "1.0 2.0", "!1"):
        with pytest.raises(ValueError, match="cannot read the version constraint"):
            pkgops.parse_constraint(bad)
    cmp = ctx.funcs["pkg.version_cmp"]
    versions = ["1.0-1", "2.0-1", "1.10-1", "1.9~rc1-1", "1.9-1"]
    assert pkgops.sorted_versions(versions, cmp) == [
        "2.0-1",
        "1.10-1",
        "1.9-1",
        "1.9~rc1-1",
        "1.0-1",
    ]
    assert pkgops.best_match(versions, pkgops.parse_constraint("<2.0"), cmp) == "1.10-1"
    assert pkgops.best_match(versions, pkgops.parse_constraint(">1.0,<1.9"), cmp) == "1.9~rc1-1"
    assert pkgops.best_match(versions, pkgops.parse_constraint("<=1.0-1"), cmp) == "1.0-1"
    assert pkgops.best_match(versions, pkgops.parse_constraint("!=2.0-1"), cmp) == "1.10-1"
    assert pkgops.best_match(versions, pkgops.parse_constraint(">2.0-1"), cmp) is None
    # An exact pin is an exact string, as ``pkg.version`` prints it.
    assert pkgops.satisfies("1.0-1", [("==", "1.0-1")], cmp)
    assert not pkgops.satisfies("1.0-1", [("==", "1.0")], cmp)
    assert pkgops.satisfies("1.0-1", [(">=", "1.0")], cmp)


def test_list_repo_pkgs_reads_apt_lists(ctx: JobContext, deb: tuple[str, str, str]) -> None:
    name, v1, _ = deb
    madison = subprocess.run(
        ["apt-cache", "madison", "dpkg"], capture_output=True, text=True
    ).stdout
    listed = call(ctx, "pkg.list_repo_pkgs", "dpkg", name)
    assert listed == {
        "dpkg": [line.split("|")[1].strip() for line in madison.splitlines()],
        name: [],
    }
    call(ctx, "pkg.install", sources=[{name: v1}])
    # Installed from a file only: dpkg's status is no repository.
    assert call(ctx, "pkg.list_repo_pkgs", name) == {name: []}


def test_installed_keeps_a_version_that_meets_the_constraint(
    ctx: JobContext, deb: tuple[str, str, str]
) -> None:
    name, v1, v2 = deb
    call(ctx, "pkg.install", sources=[{name: v1}])
    for spec in (
        ">=1.0",
        ">0.9",
        "<2.0",
        "<1.1",
        "<=1.0-1",
        "==1.0-1",
        "=1.0-1",
        "1.0-1",
        "!=1.1-1",
        ">=1.0,<2.0",
        ">= 1.0-1 , <= 1.0-1",
    ):
        for with_source in (False, True):
            sources = [{name: v2}] if with_source else None
            changes = predict_apply(ctx, "pkg.installed", name=name, version=spec, sources=sources)
            assert changes == {}, spec
        ret = state(ctx, "pkg.installed", name="ignored", pkgs=[{name: spec}])
        assert ret["result"] is True and ret["changes"] == {}, (spec, ret)
        assert "already installed" in str(ret["comment"])
    assert call(ctx, "pkg.version", name) == "1.0-1"


def test_installed_upgrades_and_downgrades_to_meet_the_constraint(
    ctx: JobContext, deb: tuple[str, str, str]
) -> None:
    name, v1, v2 = deb
    # Not installed: the file's version meets the range.
    changes = predict_apply(
        ctx, "pkg.installed", name=name, version=">=1.0,<1.1", sources=[{name: v1}]
    )
    assert changes == {name: {"old": "", "new": "1.0-1"}}
    changes = predict_apply(ctx, "pkg.installed", name=name, version=">=1.1", sources=[{name: v2}])
    assert changes == {name: {"old": "1.0-1", "new": "1.1-1"}}
    assert call(ctx, "pkg.version", name) == "1.1-1"
    # A constraint in pkgs, its file in sources; < means a downgrade.
    changes = predict_apply(
        ctx, "pkg.installed", name="ignored", pkgs=[{name: "<1.1"}], sources=[{name: v1}]
    )
    assert changes == {name: {"old": "1.1-1", "new": "1.0-1"}}
    changes = predict_apply(
        ctx, "pkg.installed", name=name, version="==1.1-1", sources=[{name: v2}]
    )
    assert changes == {name: {"old": "1.0-1", "new": "1.1-1"}}
    assert call(ctx, "pkg.version", name) == "1.1-1"


def test_installed_fails_when_no_version_meets_the_constraint(
    ctx: JobContext, deb: tuple[str, str, str]
) -> None:
    name, v1, v2 = deb
    call(ctx, "pkg.install", sources=[{name: v1}])
    cases: list[tuple[str, list[dict[str, str]] | None, str]] = [
        (">=2.0", [{name: v2}], "available: 1.1-1"),
        (">1.0-1,<1.1", [{name: v2}], "available: 1.1-1"),
        ("<1.0", [{name: v2}], "available: 1.1-1"),
        ("==1.2-1", [{name: v2}], "available: 1.1-1"),
        (">=2.0", None, "available: none"),  # apt's lists do not know the package
    ]
    for spec, sources, available in cases:
        for test_mode in (True, False):
            ctx.test = test_mode
            ret = state(ctx, "pkg.installed", name=name, version=spec, sources=sources)
            assert ret["result"] is False and ret["changes"] == {}, ret
            assert f"No version of {name} satisfies {spec!r} ({available})" in str(
                ret["comment"]
            ), ret
    ctx.test = False
    assert call(ctx, "pkg.version", name) == "1.0-1"


def test_installed_and_removed_refuse_a_malformed_constraint(
    ctx: JobContext, deb: tuple[str, str, str]
) -> None:
    name, v1, _ = deb
    for spec in (">>1", "~1", ">=1.0,", "=>1.0", "<1.0 >0.5"):
        for test_mode in (True, False):
            ctx.test = test_mode
            ret = state(ctx, "pkg.installed", name=name, version=spec, sources=[{name: v1}])
            assert ret["result"] is False and ret["changes"] == {}, ret
            assert f"{name}: cannot read the version constraint {spec!r}" in str(ret["comment"])
            ret = state(ctx, "pkg.installed", name="x", pkgs=[{name: spec}])
            assert ret["result"] is False and "cannot read the version constraint" in str(
                ret["comment"]
            )
    ctx.test = False
    assert call(ctx, "pkg.version", name) == ""
    call(ctx, "pkg.install", sources=[{name: v1}])
    ret = state(ctx, "pkg.removed", name, version=">>1")
    assert ret["result"] is False and "cannot read the version constraint" in str(ret["comment"])
    assert call(ctx, "pkg.version", name) == "1.0-1"


def test_removed_with_a_constraint(ctx: JobContext, deb: tuple[str, str, str]) -> None:
    name, v1, _ = deb
    call(ctx, "pkg.install", sources=[{name: v1}])
    assert predict_apply(ctx, "pkg.removed", name=name, version="<1.0") == {}
    changes = predict_apply(ctx, "pkg.removed", name=name, version=">=1.0,<2.0")
    assert changes == {name: {"old": "1.0-1", "new": ""}}
