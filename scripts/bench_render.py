"""What untrusted context costs a render: one big SLS, grains and pillar trusted, then untrusted.

    .venv/bin/python scripts/bench_render.py [--states 200] [--runs 15]

The SLS has four interpolations per state (a string, an int, a path built
around a grain, a list) over 300 grains and a pillar of one mapping per
state. Prints the best CPU time of ``--runs`` renders each way; nothing
here asserts a goal, it reports.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from fluxforge.render.renderers import render


def sls(states: int) -> str:
    return "".join(
        f"app{i}:\n"
        f"  user.present:\n"
        f"    - name: {{{{ pillar.app{i}.user }}}}\n"
        f"    - uid: {{{{ pillar.app{i}.port }}}}\n"
        f"    - home: /srv/{{{{ grains.g{i % 300} }}}}\n"
        f"    - groups: {{{{ pillar.app{i}.hosts }}}}\n"
        for i in range(states)
    )


def best(fn: Callable[[], Any], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--states", type=int, default=200)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    grains = {f"g{i}": f"value {i}" for i in range(300)}
    pillar = {
        f"app{i}": {"user": f"u{i}", "port": 8000 + i, "hosts": [f"h{j}" for j in range(10)]}
        for i in range(args.states)
    }
    text = sls(args.states)
    values = {"grains": grains, "pillar": pillar}
    trusted = best(lambda: render(text, name="big.sls", context=values), args.runs)
    untrusted = best(
        lambda: render(text, name="big.sls", context={}, untrusted_context=values), args.runs
    )
    print(f"{args.states} states, {4 * args.states} interpolations, best of {args.runs} (CPU):")
    print(f"  trusted context    {trusted * 1000:8.1f} ms")
    print(f"  untrusted context  {untrusted * 1000:8.1f} ms  ({untrusted / trusted - 1:+.0%})")


if __name__ == "__main__":
    main()
