"""Ask whether this minion matches a target, as the master and the minion decide it.

Every function answers True or False for the minion running the job, using
its id, grains and pillar, through :mod:`fluxforge.targeting` -- the same
code that chose the minions of a job. A target that cannot be used raises
:class:`~fluxforge.errors.TargetError`.
"""

from __future__ import annotations

from fluxforge import targeting
from fluxforge.plugins.context import current
from fluxforge.plugins.loader import inline


def _this(tgt: str, tgt_type: str) -> bool:
    ctx = current()
    return targeting.matches(
        tgt, tgt_type, ctx.opts.id, ctx.grains, ctx.pillar, ctx.opts.nodegroups
    )


@inline
def glob(tgt: str) -> bool:
    """Return whether this minion's id matches the shell glob ``tgt``.

    CLI example: ``ff '*' match.glob 'web*'``
    """
    return _this(tgt, "glob")


@inline
def pcre(tgt: str) -> bool:
    """Return whether this minion's id matches the regular expression ``tgt`` (from its start).

    CLI example: ``ff '*' match.pcre 'web[0-9]+$'``
    """
    return _this(tgt, "pcre")


@inline
def list_(tgt: str) -> bool:
    """Return whether this minion's id is one of the comma-separated ids in ``tgt``.

    CLI example: ``ff '*' match.list web1,web2``
    """
    return _this(tgt, "list")


def _data(tgt: str, source: str, delimiter: str, regex: bool) -> bool:
    ctx = current()
    data = ctx.grains if source == "grains" else ctx.pillar
    return targeting.data_matches(data, tgt, delimiter, regex)


@inline
def grain(tgt: str, delimiter: str = ":") -> bool:
    """Return whether a grain matches ``key:sub:glob`` (case-insensitive; a list matches by member).

    CLI example: ``ff '*' match.grain 'os:Debian'``
    """
    return _data(tgt, "grains", delimiter, regex=False)


@inline
def grain_pcre(tgt: str, delimiter: str = ":") -> bool:
    """Return whether a grain matches ``key:sub:regex`` (case-insensitive, from the start).

    CLI example: ``ff '*' match.grain_pcre 'os:(Debian|Ubuntu)'``
    """
    return _data(tgt, "grains", delimiter, regex=True)


@inline
def pillar(tgt: str, delimiter: str = ":") -> bool:
    """Return whether a pillar value matches ``key:sub:glob`` (case-insensitive).

    CLI example: ``ff '*' match.pillar 'role:web*'``
    """
    return _data(tgt, "pillar", delimiter, regex=False)


@inline
def pillar_pcre(tgt: str, delimiter: str = ":") -> bool:
    """Return whether a pillar value matches ``key:sub:regex`` (case-insensitive, from the start).

    CLI example: ``ff '*' match.pillar_pcre 'role:(web|db)$'``
    """
    return _data(tgt, "pillar", delimiter, regex=True)


@inline
def ipcidr(tgt: str) -> bool:
    """Return whether an address in grains ``ipv4``/``ipv6`` is in ``tgt``, a network or address.

    CLI example: ``ff '*' match.ipcidr 10.0.0.0/8``
    """
    return _this(tgt, "ipcidr")


@inline
def compound(tgt: str) -> bool:
    """Return whether this minion matches the compound expression ``tgt``.

    ``N@name`` uses the ``nodegroups`` of this minion's configuration.

    CLI example: ``ff '*' match.compound 'G@os:Debian and not web3'``
    """
    return _this(tgt, "compound")


@inline
def nodegroup(name: str) -> bool:
    """Return whether this minion is in the nodegroup ``name`` of its ``nodegroups`` option.

    CLI example: ``ff '*' match.nodegroup webservers``
    """
    return _this(name, "nodegroup")
