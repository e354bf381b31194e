"""The pillar compiler (real files, a real MasterConfig) and the ``pillar`` execution module."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from fluxforge.config import MasterConfig, MinionConfig, build
from fluxforge.errors import ExecutionError, PillarError
from fluxforge.pillar import EXT_PILLARS, compile_pillar, compiler, merge
from fluxforge.plugins.context import JobContext, activate, deactivate
from fluxforge.plugins.loader import Functions

DEBIAN = {"os": "Debian", "os_family": "Debian", "roles": ["web"]}
REDHAT = {"os": "RedHat", "os_family": "RedHat", "roles": ["db"]}


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def config(tmp_path: Path, **options: Any) -> MasterConfig:
    options.setdefault("pillar_roots", {"base": ["pillar"]})
    cfg: MasterConfig = build(MasterConfig, {"root_dir": str(tmp_path), **options})
    return cfg


def compile_for(cfg: MasterConfig, minion_id: str, grains: Any = None, env: str = "") -> Any:
    return compile_pillar(cfg, minion_id, DEBIAN if grains is None else grains, env)


def refused(cfg: MasterConfig, minion_id: str = "web1", grains: Any = None) -> str:
    with pytest.raises(PillarError) as info:
        compile_for(cfg, minion_id, grains)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- top file and targets ---------------------------------------------------------------


def test_glob_targets_give_minions_different_pillar(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": """\
                base:
                  '*':
                    - common
                  'web*':
                    - web
                  'db*':
                    - db
            """,
            "common.sls": "ntp: pool.ntp.org\n",
            "web.sls": "role: web\nport: 80\n",
            "db.sls": "role: db\npassword: s3cret\n",
        },
    )
    cfg = config(tmp_path)
    assert compile_for(cfg, "web1") == {"ntp": "pool.ntp.org", "role": "web", "port": 80}
    assert compile_for(cfg, "db1") == {"ntp": "pool.ntp.org", "role": "db", "password": "s3cret"}
    assert compile_for(cfg, "mail1") == {"ntp": "pool.ntp.org"}


def test_pcre_and_list_matches(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": """\
                base:
                  '^web[0-9]+$':
                    - match: pcre
                    - web
                  'db1,mail1':
                    - match: list
                    - listed
            """,
            "web.sls": "web: true\n",
            "listed.sls": "listed: true\n",
        },
    )
    cfg = config(tmp_path)
    assert compile_for(cfg, "web12") == {"web": True}
    assert compile_for(cfg, "webx") == {}
    assert compile_for(cfg, "mail1") == {"listed": True}


def test_grain_and_compound_and_nodegroup_matches(tmp_path: Path) -> None:
    # Needs fluxforge.targeting.matches(..., grains=, pillar=, nodegroups=).
    write(
        tmp_path / "pillar",
        {
            "top.sls": """\
                base:
                  'os:Debian':
                    - match: grain
                    - debian
                  'G@roles:db and not web*':
                    - match: compound
                    - dbrole
                  'webs':
                    - match: nodegroup
                    - grouped
            """,
            "debian.sls": "pkg: apache2\n",
            "dbrole.sls": "db: true\n",
            "grouped.sls": "grouped: true\n",
        },
    )
    cfg = config(tmp_path, nodegroups={"webs": "L@web1,web2"})
    assert compile_for(cfg, "web1", DEBIAN) == {"pkg": "apache2", "grouped": True}
    assert compile_for(cfg, "db1", REDHAT) == {"db": True}
    assert compile_for(cfg, "web9", REDHAT) == {}


def test_unknown_match_type_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "pillar", {"top.sls": "base:\n  '*':\n    - match: fuzzy\n    - a\n"})
    message = refused(config(tmp_path))
    assert message.startswith("pillar/base/top.sls: base: target '*': unknown match 'fuzzy'")


def test_no_top_file_gives_empty_pillar(tmp_path: Path) -> None:
    (tmp_path / "pillar").mkdir()
    assert compile_for(config(tmp_path), "web1") == {}


def test_several_environments_and_roots(tmp_path: Path) -> None:
    write(
        tmp_path / "base1",
        {
            "top.sls": "base:\n  '*':\n    - common\n    - shared\n",
            "common.sls": "level: base\nsettings: {a: 1, b: 1}\n",
        },
    )
    write(
        tmp_path / "base2",
        {
            "common.sls": "level: shadowed\n",  # base1 has it: never read
            "shared.sls": "shared: from-base2\n",
        },
    )
    write(
        tmp_path / "dev",
        {
            "top.sls": "dev:\n  'web*':\n    - devonly\n",
            "devonly.sls": "level: dev\nsettings: {b: 2}\n",
        },
    )
    write(tmp_path / "aaa", {"top.sls": "aaa:\n  '*':\n    - first\n", "first.sls": "level: aaa\n"})
    cfg = config(
        tmp_path,
        pillar_roots={"dev": ["dev"], "base": ["base1", "base2"], "aaa": ["aaa"]},
    )
    # base first, then the others sorted (aaa, dev): dev, merged last, wins.
    assert compile_for(cfg, "web1") == {
        "level": "dev",
        "settings": {"a": 1, "b": 2},
        "shared": "from-base2",
    }
    assert compile_for(cfg, "db1")["level"] == "aaa"
    # One environment asked for: only its top file and its targets.
    assert compile_for(cfg, "web1", env="dev") == {"level": "dev", "settings": {"b": 2}}
    with pytest.raises(PillarError, match="pillar environment 'prod' is not in pillar_roots"):
        compile_for(cfg, "web1", env="prod")


def test_top_in_base_may_target_another_environment(tmp_path: Path) -> None:
    write(tmp_path / "base", {"top.sls": "dev:\n  '*':\n    - app\n", "app.sls": "where: base\n"})
    write(tmp_path / "dev", {"app.sls": "where: dev\n"})
    cfg = config(tmp_path, pillar_roots={"base": ["base"], "dev": ["dev"]})
    assert compile_for(cfg, "web1") == {"where": "dev"}


def test_top_naming_an_unknown_environment_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "pillar", {"top.sls": "prod:\n  '*':\n    - a\n"})
    message = refused(config(tmp_path))
    assert message == "pillar/base/top.sls: environment 'prod' is not in pillar_roots"


def test_top_sls_glob_names(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - users.*\n",
            "users/alice.sls": "users: {alice: 1}\n",
            "users/bob/init.sls": "users: {bob: 2}\n",
        },
    )
    assert compile_for(config(tmp_path), "web1") == {"users": {"alice": 1, "bob": 2}}


# --- SLS files ---------------------------------------------------------------------------


def test_missing_sls_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "pillar", {"top.sls": "base:\n  '*':\n    - present\n    - absent\n"})
    write(tmp_path / "pillar", {"present.sls": "a: 1\n"})
    message = refused(config(tmp_path))
    assert message == (
        "Specified SLS 'absent' in environment 'base' is not available on the master "
        "(named by pillar/base/top.sls)"
    )


def test_merge_order_later_wins_nested_dicts_merge_lists_replace(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - one\n  'web*':\n    - two\n",
            "one.sls": """\
                app:
                  port: 80
                  opts: {debug: false, log: info}
                  hosts: [a, b]
                keep: 1
            """,
            "two.sls": """\
                app:
                  port: 8080
                  opts: {debug: true}
                  hosts: [c]
            """,
        },
    )
    assert compile_for(config(tmp_path), "web1") == {
        "app": {"port": 8080, "opts": {"debug": True, "log": "info"}, "hosts": ["c"]},
        "keep": 1,
    }


def test_merge_function() -> None:
    dest = {"a": {"b": 1, "c": [1]}, "d": 1}
    assert merge(dest, {"a": {"c": [2], "e": None}, "d": {"x": 1}}) == {
        "a": {"b": 1, "c": [2], "e": None},
        "d": {"x": 1},
    }
    assert dest == {"a": {"b": 1, "c": [1]}, "d": 1}  # not changed


def test_include_absolute_and_relative_including_file_wins(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - web.site\n    - common\n",
            "web/site.sls": """\
                include:
                  - .ports
                  - common
                site: example.org
                port: 443
            """,
            "web/ports.sls": "port: 80\nports: [80, 443]\n",
            "web/init.sls": "include:\n  - .ports\nunused: true\n",
            "common.sls": "common: true\n",
        },
    )
    cfg = config(tmp_path)
    got = compile_for(cfg, "web1")
    # The including file's own values win over what it includes.
    assert got == {"site": "example.org", "port": 443, "ports": [80, 443], "common": True}


def test_sls_is_rendered_once_and_merged_where_top_lists_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - a\n    - b\n    - common\n",
            "a.sls": "include: [common]\na: 1\n",
            "b.sls": "include: [common]\nb: 1\ncommon: from-b\n",
            "common.sls": "common: from-common\n",
        },
    )
    rendered: list[str] = []
    real_render = compiler.render

    def counting_render(text: str, **kwargs: Any) -> Any:
        rendered.append(kwargs["name"])
        return real_render(text, **kwargs)

    monkeypatch.setattr(compiler, "render", counting_render)
    cfg = config(tmp_path)
    # b's own value wins over its include; common.sls, listed after b in the top
    # file, is merged again there (as Salt does) but was rendered only once.
    assert compile_for(cfg, "web1") == {"a": 1, "b": 1, "common": "from-common"}
    assert sorted(rendered) == [
        "pillar/base/a.sls",
        "pillar/base/b.sls",
        "pillar/base/common.sls",
        "pillar/base/top.sls",
    ]
    write(tmp_path / "pillar", {"top.sls": "base:\n  '*':\n    - common\n    - b\n    - common\n"})
    assert compile_for(cfg, "web1") == {"b": 1, "common": "from-b"}


def test_include_cycle_ends(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - a\n",
            "a.sls": "include: [b]\na: 1\n",
            "b.sls": "include: [a]\nb: 1\n",
        },
    )
    assert compile_for(config(tmp_path), "web1") == {"a": 1, "b": 1}


def test_relative_include_from_init_and_parent(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - app\n",
            "app/init.sls": "include: [.db]\n",
            "app/db.sls": "include: ['..shared']\ndb: pg\n",
            "shared.sls": "shared: yes\n",
        },
    )
    assert compile_for(config(tmp_path), "web1") == {"db": "pg", "shared": True}


def test_include_with_key_and_defaults(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - main\n",
            "main.sls": """\
                include:
                  - users:
                      key: 'org:people'
                      defaults: {shell: /bin/zsh}
            """,
            "users.sls": "alice: {{ shell }}\n",
        },
    )
    assert compile_for(config(tmp_path), "web1") == {"org": {"people": {"alice": "/bin/zsh"}}}


def test_include_of_missing_sls_and_going_above_the_roots(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - a\n",
            "a.sls": "include: [nothere]\n",
        },
    )
    cfg = config(tmp_path)
    assert refused(cfg) == (
        "Specified SLS 'nothere' in environment 'base' is not available on the master "
        "(named by pillar/base/a.sls)"
    )
    write(tmp_path / "pillar", {"a.sls": "include: ['...etc.passwd']\n"})
    assert "goes above the pillar roots" in refused(cfg)
    write(tmp_path / "pillar", {"a.sls": "include: ['../../etc/passwd']\n"})
    assert "goes above the pillar roots" in refused(cfg)
    write(tmp_path / "pillar", {"a.sls": "include: ['/etc/passwd']\n"})
    assert (
        refused(cfg) == "pillar/base/a.sls: include '/etc/passwd' must be an SLS name, not a path"
    )


def test_sls_must_render_to_a_mapping(tmp_path: Path) -> None:
    write(tmp_path / "pillar", {"top.sls": "base:\n  '*':\n    - a\n", "a.sls": "- x\n"})
    assert refused(config(tmp_path)) == "pillar/base/a.sls: must render to a mapping, not a list"


def test_render_errors_name_file_and_line_but_not_the_secret(tmp_path: Path) -> None:
    write(tmp_path / "pillar", {"top.sls": "base:\n  '*':\n    - db\n"})
    cfg = config(tmp_path)
    broken = {
        "jinja syntax": "user: app\npassword: {{ 'hunter2' | nosuchfilter }}\n",
        "undefined": "user: app\npassword: hunter2{{ missing }}\n",
        "yaml": "user: app\npassword: hunter2: x\n",
        "duplicate": "user: app\npassword: hunter2\npassword: hunter2\n",
    }
    for case, text in broken.items():
        write(tmp_path / "pillar", {"db.sls": text})
        message = refused(cfg)
        assert message.startswith("pillar/base/db.sls, line "), case
        assert "hunter2" not in message, case
        line = 3 if case == "duplicate" else 2
        assert f", line {line}" in message, case


def test_jinja_sees_grains_id_env_and_opts(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '{{ id }}':\n    - host\n",
            "host.sls": """\
                {% if grains['os'] == 'Debian' %}
                pkg: apache2
                {% else %}
                pkg: httpd
                {% endif %}
                me: {{ id }}
                also: {{ minion_id }}
                env: {{ saltenv }}-{{ env }}
                opts: {{ opts | json }}
                sls: {{ sls }}
            """,
        },
    )
    cfg = config(tmp_path)
    assert compile_for(cfg, "web1", DEBIAN) == {
        "pkg": "apache2",
        "me": "web1",
        "also": "web1",
        "env": "base-base",
        "opts": {"id": "web1", "environment": "base"},
        "sls": "host",
    }
    assert compile_for(cfg, "db1", REDHAT)["pkg"] == "httpd"


def test_pillar_in_context_is_the_pillar_merged_so_far(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - first\n    - second\n",
            "first.sls": "domain: example.org\n",
            "second.sls": "fqdn: {{ id }}.{{ pillar['domain'] }}\n",
        },
    )
    got = compile_for(config(tmp_path), "web1")
    assert got == {"domain": "example.org", "fqdn": "web1.example.org"}


def test_jinja_imports_come_from_the_roots_and_cannot_leave_them(tmp_path: Path) -> None:
    (tmp_path / "outside.jinja").write_text("{% set leaked = 'yes' %}")
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - app\n",
            "app/map.jinja": "{% set ports = {'Debian': 80} %}",
            "app/init.sls": (
                "{% from 'app/map.jinja' import ports %}\nport: {{ ports[grains.os] }}\n"
            ),
        },
    )
    cfg = config(tmp_path)
    assert compile_for(cfg, "web1") == {"port": 80}
    for name in ("../outside.jinja", str(tmp_path / "outside.jinja")):
        write(tmp_path / "pillar", {"app/init.sls": f"{{% from '{name}' import leaked %}}\n"})
        assert "not found" in refused(cfg)


def test_dates_stay_the_text_written_and_result_packs(tmp_path: Path) -> None:
    write(
        tmp_path / "pillar",
        {
            "top.sls": "base:\n  '*':\n    - a\n",
            "a.sls": "expires: 2030-01-02\nat: 2030-01-02 03:04:05\nn: [1, 2.5, null]\n",
        },
    )
    got = compile_for(config(tmp_path), "web1")
    # As Salt loads them: a date or time is the text written.
    assert got == {"expires": "2030-01-02", "at": "2030-01-02 03:04:05", "n": [1, 2.5, None]}
    assert msgpack.unpackb(msgpack.packb(got)) == got


# --- ext_pillar -----------------------------------------------------------------------------


def ext_cfg(tmp_path: Path, root: str = "ext", **options: Any) -> MasterConfig:
    write(
        tmp_path / "pillar", {"top.sls": "base:\n  '*':\n    - a\n", "a.sls": "from: sls\nx: 1\n"}
    )
    return config(tmp_path, ext_pillar=[{"file_tree": {"root": root}}], **options)


def test_file_tree_yaml_json_and_folder_merge_over_sls_pillar(tmp_path: Path) -> None:
    write(
        tmp_path / "ext",
        {
            "web1.yaml": "from: yaml\nnested: {a: 1}\n",
            "web1.json": '{"json": true, "nested": {"b": 2}}',
            "web1/20-late.yml": "order: late\n",
            "web1/10-early.yaml": "order: early\nearly: true\n",
            "web1/30.json": '{"nested": {"a": 3}}',
            "web1/notes.txt": "ignored",
            "web2.yaml": "secret_of_web2: hunter2\n",
        },
    )
    cfg = ext_cfg(tmp_path)  # a relative root: under root_dir
    assert compile_for(cfg, "web1") == {
        "from": "yaml",
        "x": 1,
        "json": True,
        "nested": {"a": 3, "b": 2},
        "order": "late",
        "early": True,
    }
    # Another minion's file is not read; a minion without files keeps its SLS pillar.
    assert compile_for(cfg, "db1") == {"from": "sls", "x": 1}
    assert "secret_of_web2" not in compile_for(cfg, "web1")


def test_file_tree_absolute_root_and_several_sources_in_order(tmp_path: Path) -> None:
    write(tmp_path / "one", {"web1.yaml": "v: 1\nonly1: true\n"})
    write(tmp_path / "two", {"web1.yaml": "v: 2\n"})
    write(tmp_path / "pillar", {"top.sls": "base: {}\n"})
    cfg = config(
        tmp_path,
        ext_pillar=[
            {"file_tree": {"root": str(tmp_path / "one")}},
            {"file_tree": {"root": "two"}},
        ],
    )
    assert compile_for(cfg, "web1") == {"v": 2, "only1": True}


def test_file_tree_refuses_links_that_leave_the_root(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text("stolen: true\n")
    (tmp_path / "ext").mkdir()
    os.symlink(tmp_path / "secret.yaml", tmp_path / "ext" / "web1.yaml")
    cfg = ext_cfg(tmp_path)
    assert refused(cfg) == "file_tree/web1.yaml: resolves outside the root; refused"
    os.unlink(tmp_path / "ext" / "web1.yaml")
    (tmp_path / "ext" / "web1").mkdir()
    os.symlink(tmp_path / "secret.yaml", tmp_path / "ext" / "web1" / "a.yaml")
    assert refused(cfg) == "file_tree/web1/a.yaml: resolves outside the root; refused"
    os.unlink(tmp_path / "ext" / "web1" / "a.yaml")
    os.rmdir(tmp_path / "ext" / "web1")
    os.symlink(tmp_path, tmp_path / "ext" / "web1")
    assert refused(cfg) == "file_tree/web1: resolves outside the root; refused"


def test_file_tree_refuses_ids_that_are_paths(tmp_path: Path) -> None:
    write(tmp_path, {"ext/x.yaml": "a: 1\n", "secret.yaml": "stolen: true\n"})
    cfg = ext_cfg(tmp_path)
    assert "refused minion id" in refused(cfg, minion_id="../secret")


def test_file_tree_bad_data_names_file_and_line_not_value(tmp_path: Path) -> None:
    write(tmp_path / "ext", {"web1/a.yaml": "ok: 1\ntoken: hunter2: x\n"})
    message = refused(ext_cfg(tmp_path))
    assert message.startswith("file_tree/web1/a.yaml, line 2: ")
    assert "hunter2" not in message
    write(tmp_path / "ext", {"web1/a.yaml": "- a list\n"})
    assert refused(ext_cfg(tmp_path)) == "file_tree/web1/a.yaml: must hold a mapping, not a list"


def test_file_tree_options_are_checked(tmp_path: Path) -> None:
    cfg = ext_cfg(tmp_path, root="missing")
    assert refused(cfg) == f"ext_pillar file_tree: root {tmp_path / 'missing'} is not a folder"
    cfg = config(tmp_path, ext_pillar=[{"file_tree": {"root": "ext", "follow": True}}])
    assert refused(cfg) == "ext_pillar file_tree: options must be {root: FOLDER}"


def test_unknown_ext_pillar_names_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path / "pillar", {"top.sls": "base: {}\n"})
    cfg = config(tmp_path, ext_pillar=[{"vault": {"url": "x"}}])
    assert refused(cfg) == "ext_pillar 'vault' is unknown; known: file_tree"


def test_ext_pillar_registry_takes_new_sources(tmp_path: Path) -> None:
    def by_os(cfg: MasterConfig, minion_id: str, grains: Any, options: Any) -> dict[str, Any]:
        return {"os_said": f"{grains['os']}-{options['suffix']}", "x": 2}

    EXT_PILLARS["by_os"] = by_os
    try:
        cfg = ext_cfg(tmp_path)
        cfg = config(tmp_path, ext_pillar=[{"by_os": {"suffix": "s"}}])
        assert compile_for(cfg, "web1") == {"from": "sls", "x": 2, "os_said": "Debian-s"}
    finally:
        del EXT_PILLARS["by_os"]


# --- the pillar execution module --------------------------------------------------------------

PILLAR = {
    "users": {"alice": {"uid": 1000, "groups": ["adm", "web"]}, "bob": {"uid": 1001}},
    "apps": [{"name": "site"}, {"name": "api"}],
    "ntp": "pool.ntp.org",
    "odd:key": "literal",
}


@pytest.fixture
def job(tmp_path: Path) -> Iterator[JobContext]:
    opts = build(MinionConfig, {"id": "t1", "root_dir": str(tmp_path)})
    ctx = JobContext(opts=opts, grains={}, pillar=PILLAR, funcs=Functions(), jid="1", fun="t")
    token = activate(ctx)
    yield ctx
    deactivate(token)


def call(job: JobContext, fun: str, /, *args: object, **kwargs: object) -> object:
    return job.funcs.call(fun, list(args), kwargs)


def test_items_and_ls(job: JobContext) -> None:
    got = call(job, "pillar.items")
    assert got == PILLAR
    assert got is not PILLAR
    assert call(job, "pillar.ls") == ["apps", "ntp", "odd:key", "users"]


def test_get_paths_list_indexes_and_defaults(job: JobContext) -> None:
    assert call(job, "pillar.get", "users:alice:uid") == 1000
    assert call(job, "pillar.get", "users:alice:groups:1") == "web"
    assert call(job, "pillar.get", "apps:0:name") == "site"
    assert call(job, "pillar.get", "odd:key") == "literal"
    assert call(job, "pillar.get", "users:carol") == ""
    assert call(job, "pillar.get", "users:carol", "none") == "none"
    assert call(job, "pillar.get", "users/bob/uid", delimiter="/") == 1001


def test_item_and_keys(job: JobContext) -> None:
    assert call(job, "pillar.item", "ntp", "users:bob", "nope") == {
        "ntp": "pool.ntp.org",
        "users:bob": {"uid": 1001},
        "nope": "",
    }
    assert call(job, "pillar.keys") == ["apps", "ntp", "odd:key", "users"]
    assert call(job, "pillar.keys", "users") == ["alice", "bob"]
    assert call(job, "pillar.keys", "users:alice") == ["groups", "uid"]
    with pytest.raises(ExecutionError, match="at 'ntp' is a str, not a mapping"):
        call(job, "pillar.keys", "ntp")
    with pytest.raises(ExecutionError, match="no key 'users:carol'"):
        call(job, "pillar.keys", "users:carol")


def test_every_function_fails_with_the_masters_pillar_error(job: JobContext) -> None:
    job.pillar_error = "pillar/base/db.sls, line 2: 'missing' is undefined"
    for fun, args in [
        ("pillar.items", ()),
        ("pillar.get", ("ntp",)),
        ("pillar.item", ("ntp",)),
        ("pillar.keys", ()),
        ("pillar.ls", ()),
    ]:
        with pytest.raises(PillarError) as info:
            call(job, fun, *args)
        assert str(info.value) == job.pillar_error
