"""Parsed targets as trees that decide in three values (True, False, None: unknown)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from fluxforge.errors import TargetError
from fluxforge.targeting.matchers import (
    Data,
    as_list,
    data_test,
    glob_pattern,
    in_network,
    network,
    regex_pattern,
)

DEFAULT_DELIMITER = ":"


class Node:
    """A parsed target; ``decide`` is None when it needs grains or pillar given as None."""

    __slots__ = ("uses",)
    uses: frozenset[str]  # of "grains", "pillar"

    def decide(self, mid: str, grains: Data | None, pillar: Data | None) -> bool | None:
        raise NotImplementedError


class IdTest(Node):
    __slots__ = ("test",)

    def __init__(self, test: Callable[[str], bool]) -> None:
        self.uses = frozenset()
        self.test = test

    def decide(self, mid: str, grains: Data | None, pillar: Data | None) -> bool | None:
        return self.test(mid)


class DataTest(Node):
    __slots__ = ("source", "test")

    def __init__(self, source: str, test: Callable[[Data], bool]) -> None:
        self.uses = frozenset({source})
        self.source = source
        self.test = test

    def decide(self, mid: str, grains: Data | None, pillar: Data | None) -> bool | None:
        data = grains if self.source == "grains" else pillar
        return None if data is None else self.test(data)


class NodegroupRef(Node):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.uses = frozenset()
        self.name = name

    def decide(self, mid: str, grains: Data | None, pillar: Data | None) -> bool | None:
        raise TargetError(f"nodegroup {self.name!r} was not expanded; pass the nodegroups")


class Not(Node):
    __slots__ = ("operand",)

    def __init__(self, operand: Node) -> None:
        self.uses = operand.uses
        self.operand = operand

    def decide(self, mid: str, grains: Data | None, pillar: Data | None) -> bool | None:
        value = self.operand.decide(mid, grains, pillar)
        return None if value is None else not value


class All(Node):
    __slots__ = ("items",)

    def __init__(self, items: list[Node]) -> None:
        self.uses = frozenset().union(*(i.uses for i in items))
        self.items = tuple(items)

    def decide(self, mid: str, grains: Data | None, pillar: Data | None) -> bool | None:
        result: bool | None = True
        for item in self.items:
            value = item.decide(mid, grains, pillar)
            if value is False:
                return False
            if value is None:
                result = None
        return result


class AnyOf(Node):
    __slots__ = ("items",)

    def __init__(self, items: list[Node]) -> None:
        self.uses = frozenset().union(*(i.uses for i in items))
        self.items = tuple(items)

    def decide(self, mid: str, grains: Data | None, pillar: Data | None) -> bool | None:
        result: bool | None = False
        for item in self.items:
            value = item.decide(mid, grains, pillar)
            if value is True:
                return True
            if value is None:
                result = None
        return result


@lru_cache(maxsize=1024)
def single(tgt_type: str, pattern: str, delimiter: str = DEFAULT_DELIMITER) -> Node:
    """The node of a one-word target of ``tgt_type``; raises TargetError if it is unusable."""
    if tgt_type in ("glob", "pcre"):
        if tgt_type == "glob":
            rx = glob_pattern(pattern)
            return IdTest(lambda mid: rx.match(mid) is not None)
        return IdTest(regex_pattern(pattern).test)
    if tgt_type == "list":
        return IdTest(frozenset(as_list(pattern)).__contains__)
    if tgt_type == "ipcidr":
        net = network(pattern)
        return DataTest("grains", lambda grains: in_network(net, grains))
    if tgt_type == "nodegroup":
        return NodegroupRef(pattern)
    source, _, kind = tgt_type.partition("_")
    test = data_test(pattern, delimiter, kind == "pcre")
    return DataTest("grains" if source == "grain" else "pillar", test)
