"""Reserved event tags: every builder's tag parses back into its parts."""

from __future__ import annotations

import pytest

from fluxforge.events import tags

JID = "20261201223344556677"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (tags.AUTH, tags.Tag("auth")),
        (tags.KEY, tags.Tag("key")),
        (tags.MASTER_START, tags.Tag("master", event="start")),
        (tags.job_new(JID), tags.Tag("job", event="new", jid=JID)),
        (tags.job_ret(JID, "web1"), tags.Tag("job", event="ret", jid=JID, minion="web1")),
        (tags.job_prog(JID, "db.x-1"), tags.Tag("job", event="prog", jid=JID, minion="db.x-1")),
        (tags.job_sync(JID), tags.Tag("job", event="sync", jid=JID)),
        (tags.minion_start("web1"), tags.Tag("minion", event="start", minion="web1")),
        (tags.beacon("web1", "inotify"), tags.Tag("beacon", event="inotify", minion="web1")),
        (
            tags.beacon("web1", "inotify", "etc/motd"),
            tags.Tag("beacon", event="inotify", minion="web1", rest=("etc", "motd")),
        ),
        (tags.PRESENCE_CHANGE, tags.Tag("presence", event="change")),
        (tags.PRESENCE_PRESENT, tags.Tag("presence", event="present")),
        (tags.run(JID, "ret"), tags.Tag("run", event="ret", jid=JID)),
        (tags.reactor("fired", "x"), tags.Tag("reactor", event="fired", rest=("x",))),
        (tags.hook("github", "push"), tags.Tag("hook", event="github", rest=("push",))),
    ],
)
def test_every_builder_parses_back(tag: str, expected: tags.Tag) -> None:
    assert tags.is_reserved(tag)
    assert tags.parse(tag) == expected


def test_job_tags_share_the_job_prefix() -> None:
    prefix = tags.job_prefix(JID)
    for tag in (tags.job_new(JID), tags.job_ret(JID, "a"), tags.job_sync(JID)):
        assert tag.startswith(prefix)
    assert not tags.job_new(JID + "1").startswith(prefix)


@pytest.mark.parametrize(
    "tag",
    [
        "myapp/deploy",  # free: not reserved
        "ff/",
        "ff/unknown/x",
        "ff/auth/extra",
        "ff/job/" + JID,
        "ff/job/" + JID + "/ret",  # a return names its minion
        "ff/job/" + JID + "/ret/a/b",
        "ff/minion/web1",
        "ff/minion//start",  # empty component
        "ff/beacon/web1",
    ],
)
def test_tags_of_no_reserved_shape_parse_to_none(tag: str) -> None:
    assert tags.parse(tag) is None


def test_a_minion_fires_free_tags_and_only_its_own_reserved_ones() -> None:
    assert tags.minion_may_fire("web1", "myapp/deploy/done")
    assert tags.minion_may_fire("web1", tags.minion_start("web1"))
    assert tags.minion_may_fire("web1", tags.beacon("web1", "load"))
    assert not tags.minion_may_fire("web1", tags.minion_start("web10"))
    assert not tags.minion_may_fire("web1", tags.beacon("web2", "load"))
    assert not tags.minion_may_fire("web1", tags.job_ret(JID, "web1"))
    assert not tags.minion_may_fire("web1", tags.AUTH)
    assert not tags.minion_may_fire("web1", "")
    assert not tags.minion_may_fire("web1", "x" * (tags.MAX_TAG_LENGTH + 1))
