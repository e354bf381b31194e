"""Salt's options after the function: each one works or is a usage error, never an argument."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fluxforge.cli import ff
from fluxforge.cli.args import parse_count, reject_options
from fluxforge.errors import UsageError


def test_reject_options_names_the_option_and_the_way_out() -> None:
    with pytest.raises(UsageError) as caught:
        reject_options("ff -L", ["web1,db1", "test.arg"], ["a b", "--static-ish", "c"], 0)
    assert str(caught.value) == (
        "no such option: --static-ish; an argument that starts with '-' goes after '--': "
        "ff -L web1,db1 test.arg -- 'a b' --static-ish c"
    )


def test_reject_options_in_place_of_target_or_function() -> None:
    with pytest.raises(UsageError) as caught:
        reject_options("ff", ["-x", "test.ping"], [], 0)
    assert str(caught.value) == "no such option: -x; see `ff --help`"


@pytest.mark.parametrize(
    ("head", "args", "literal"),
    [
        (["*", "test.echo"], ["-1"], 1),
        (["*", "test.echo"], ["-"], 0),
        (["*", "cmd.run"], ["ls", "-la", "/"], 2),
        (["*", "test.echo"], ["hello"], 0),
        (["-x"], [], 5),
    ],
)
def test_reject_options_spares_words_after_dashdash(
    head: list[str], args: list[str], literal: int
) -> None:
    reject_options("ff", head, args, literal)


@pytest.mark.parametrize(
    ("head", "args"), [(["*", "test.echo"], ["-1"]), (["-x", "test.ping"], []), (["*", "-n"], [])]
)
def test_reject_options_refuses(head: list[str], args: list[str]) -> None:
    with pytest.raises(UsageError, match="no such option"):
        reject_options("ff", head, args, 0)


@pytest.mark.parametrize(("text", "count"), [("1", 1), ("12", 12), (" 3 ", 3)])
def test_parse_count(text: str, count: int) -> None:
    assert parse_count(text, "--subset") == count


@pytest.mark.parametrize("text", ["0", "-2", "x", "1.5", ""])
def test_parse_count_rejects(text: str) -> None:
    with pytest.raises(UsageError, match=r"--subset must be a whole number above 0"):
        parse_count(text, "--subset")


@pytest.mark.parametrize(
    ("target", "function", "args", "literal", "expected"),
    [
        (None, None, (), 0, ("*", "sys.doc", ())),
        ("web1", None, (), 0, ("web1", "sys.doc", ())),
        ("*", "cmd.run", (), 0, ("*", "sys.doc", ("cmd.run",))),
        ("*", "sys.doc", ("cmd",), 0, ("*", "sys.doc", ("cmd",))),
    ],
)
def test_doc_turns_into_sys_doc(
    target: str | None,
    function: str | None,
    args: tuple[str, ...],
    literal: int,
    expected: tuple[str, str, tuple[str, ...]],
) -> None:
    assert ff._words(target, function, args, True, literal) == expected


def _conf(tmp_path: Path) -> str:
    conf = tmp_path / "ff.conf"
    conf.write_text(f"master:\n  root_dir: {tmp_path}\n")
    return str(conf)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["*", "test.echo", "--statik"], "no such option: --statik;"),
        (["*", "test.echo", "-1"], "goes after '--': ff '*' test.echo -- -1"),
        (["-L", "a,b", "test.arg", "x", "-n"], "goes after '--': ff -L a,b test.arg -- x -n"),
        (["-x", "test.ping"], "no such option: -x; see `ff --help`"),
        (["*", "test.ping", "--return", "mysql"], "--return mysql: returners are not available"),
        (["*", "test.ping", "--no-color", "--force-color"], "at most one of --no-color"),
        (["*", "test.ping", "--out-file-append"], "--out-file-append needs --out-file"),
        (["*", "test.ping", "--subset", "0"], "--subset must be a whole number above 0"),
        (["*", "test.ping", "--subset", "1", "-b", "2"], "--subset cannot be combined with -b"),
        (["*", "-d", "cmd.run", "cmd.shell"], "one function or module at a time"),
        (["*"], "give TARGET and FUNCTION"),
    ],
)
def test_ff_usage_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    res = CliRunner().invoke(ff.main, ["-c", _conf(tmp_path), *argv])
    assert res.exit_code == 2, res.output
    assert message in res.output


@pytest.mark.parametrize(
    ("argv", "params", "args"),
    [
        (["*", "test.echo", "--", "-1"], {}, ("-1",)),
        (
            ["*", "test.ping", "-s", "--show-jid", "--hide-timeout", "--no-colour"],
            {"static": True, "show_jid": True, "hide_timeout": True, "no_color": True},
            (),
        ),
        (
            ["*", "test.echo", "x", "--subset", "2", "--force-color", "--output-file", "f"],
            {"subset": "2", "force_color": True, "out_file": "f"},
            ("x",),
        ),
        (["*", "test.ping", "--out-file-append", "--return", "r"], {"out_file_append": True}, ()),
        (["web1", "--documentation", "cmd.run"], {"doc": True, "returner": None}, ()),
    ],
)
def test_ff_salt_options_are_options_not_arguments(
    argv: list[str], params: dict[str, object], args: tuple[str, ...]
) -> None:
    ctx = ff.main.make_context("ff", argv)
    assert ctx.params["args"] == args
    for name, value in params.items():
        assert ctx.params[name] == value, name


@pytest.mark.parametrize(
    "argv", [["*", "test.echo", "--", "-1"], ["-d"], ["web1", "-d", "cmd.run"]]
)
def test_ff_salt_options_then_need_a_master(tmp_path: Path, argv: list[str]) -> None:
    """Past the checks: what is left to fail is the absent master."""
    res = CliRunner().invoke(ff.main, ["-c", _conf(tmp_path), *argv])
    assert "no master is running here" in res.output, res.output


def test_ff_out_file_is_opened_before_the_master_is_asked(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("kept\n")
    res = CliRunner().invoke(
        ff.main,
        ["-c", _conf(tmp_path), "*", "test.ping", "--out-file", str(target), "--out-file-append"],
    )
    assert "no master is running here" in res.output
    assert target.read_text() == "kept\n"
    res = CliRunner().invoke(
        ff.main, ["-c", _conf(tmp_path), "*", "test.ping", "--out-file", str(tmp_path / "no/x")]
    )
    assert res.exit_code == 2 and "No such file or directory" in res.output


def test_ff_call_refuses_an_unknown_option_but_not_after_dashdash(tmp_path: Path) -> None:
    from fluxforge.cli import call

    res = CliRunner().invoke(call.main, ["--local", "test.echo", "-n"])
    assert res.exit_code == 2
    assert (
        "no such option: -n; an argument that starts with '-' goes after '--': "
        "ff-call --local test.echo -- -n"
    ) in res.output
    conf = tmp_path / "ff.conf"
    conf.write_text(f"minion:\n  id: here\n  root_dir: {tmp_path}\n")
    res = CliRunner().invoke(call.main, ["-c", str(conf), "--local", "test.echo", "--", "-n"])
    assert res.exit_code == 0, res.output
    assert res.output == "local:\n    -n\n"


@pytest.mark.parametrize(
    ("word", "states"),
    [
        ("acc", ("accepted",)),
        ("accepted", ("accepted",)),
        ("pre", ("pending",)),
        ("un", ("pending",)),
        ("unaccepted", ("pending",)),
        ("rej", ("rejected",)),
        ("rejected", ("rejected",)),
        ("den", ("denied",)),
        ("DENIED", ("denied",)),
        ("all", ("accepted", "denied", "pending", "rejected")),
    ],
)
def test_ff_key_list_words(word: str, states: tuple[str, ...]) -> None:
    from fluxforge.cli.key import list_states

    assert list_states(word) == states


@pytest.mark.parametrize("argv", [["-l", "mine"], ["-l", ""], ["-l", "acc", "-P"]])
def test_ff_key_list_usage_errors(tmp_path: Path, argv: list[str]) -> None:
    from fluxforge.cli import key

    res = CliRunner().invoke(key.main, ["-c", _conf(tmp_path), *argv])
    assert res.exit_code == 2, res.output
    assert "-l takes acc" in res.output or "one action at a time" in res.output


def test_ff_key_log_level_has_no_short_l() -> None:
    from fluxforge.cli import key

    res = CliRunner().invoke(key.main, ["--help"])
    assert "-l, --list acc|pre|rej|den|all" in res.output
    assert "--log-level" in res.output and "-l, --log-level" not in res.output


def test_ff_key_print_and_master_finger_without_a_master(tmp_path: Path) -> None:
    """With no master running, ff-key reads the key store and master.pub itself."""
    import json

    from fluxforge import config
    from fluxforge.cli import key
    from fluxforge.master.keys import KeyStore
    from fluxforge.protocol.crypto import MinionIdentity
    from fluxforge.protocol.keyfiles import encode_key, fingerprint

    conf = _conf(tmp_path)
    pki = config.load_master(conf).pki_dir
    web1 = MinionIdentity.generate().box_public
    KeyStore(pki).register("web1", web1)
    res = CliRunner().invoke(key.main, ["-c", conf, "-P", "--out", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"pending": {"web1": encode_key(web1)}}
    res = CliRunner().invoke(key.main, ["-c", conf, "-f", "master"])
    assert res.exit_code == 0 and res.output == "", res.output  # no master keys made yet
    master = MinionIdentity.generate().box_public
    (Path(pki) / "master.pub").write_text(encode_key(master) + "\n")
    res = CliRunner().invoke(key.main, ["-c", conf, "-F"])
    assert res.output == (
        f"Local Keys:\nmaster.pub:  {fingerprint(master)}\n"
        f"Unaccepted Keys:\nweb1:  {fingerprint(web1)}\n"
    )
    res = CliRunner().invoke(key.main, ["-c", conf, "-l", "un"])
    assert res.output == "Unaccepted Keys:\nweb1\n"


def test_an_option_close_to_a_known_one_is_named_as_the_likely_typo() -> None:
    with pytest.raises(UsageError, match=r"^no such option: --outt; did you mean --out\?$"):
        reject_options("ff", ["*", "test.ping"], ["--outt", "json"], 0, ["--out", "--timeout"])
    # Far from every known option: still the hint about '--'.
    with pytest.raises(UsageError, match="goes after '--'"):
        reject_options("ff", ["*", "cmd.run"], ["-x"], 0, ["--out", "--timeout"])
