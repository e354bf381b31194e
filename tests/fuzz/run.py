"""Run fuzz targets under atheris (coverage-guided): ``python tests/fuzz/run.py [target ...]``.

``--time S`` is each target's budget in seconds. Each target runs in a
process of its own (libFuzzer ends the process when it is done). The corpus
grows in ``.fuzz/corpus/<target>`` across runs and starts from the target's
seeds; an input that crashes a target is written to
``.fuzz/artifacts/<target>/`` and the run fails, naming it. See
docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".fuzz"


def _child(name: str, seconds: int, rng_seed: int) -> None:
    import atheris

    # Our code, and the parsers it hands peer input to, guide the search.
    with atheris.instrument_imports(include=["fluxforge", "yaml", "jinja2"]):
        from tests.fuzz import harnesses

        target = harnesses.TARGETS[name]
        seeds = target.seeds()
        for seed in seeds:  # imports what the target uses, instrumented
            harnesses.run_one(target, seed)
    seed_dir = WORK / "seeds" / name
    corpus = WORK / "corpus" / name
    artifacts = WORK / "artifacts" / name
    for folder in (seed_dir, corpus, artifacts):
        folder.mkdir(parents=True, exist_ok=True)
    for old in seed_dir.iterdir():
        old.unlink()
    for index, seed in enumerate(seeds):
        (seed_dir / f"seed-{index}").write_bytes(seed)
    for index, crasher in enumerate(harnesses.crashers(name)):
        (seed_dir / f"crasher-{index}").write_bytes(crasher.read_bytes())

    def one_input(data: bytes) -> None:
        harnesses.run_one(target, data)

    args = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        f"-seed={rng_seed}",
        f"-max_len={target.max_len}",
        "-timeout=20",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={artifacts}/",
        str(corpus),
        str(seed_dir),
    ]
    atheris.Setup(args, one_input)
    atheris.Fuzz()


def _summary(log: str) -> str:
    lines = [line for line in log.splitlines() if line.startswith("#") and "cov:" in line]
    last = lines[-1].split() if lines else []
    return " ".join(last[:4]) if last else "no stats"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:  # before anything of ours is imported uninstrumented
        _child(argv[1], int(argv[3]), int(argv[5]))
        return 0
    from tests.fuzz.harnesses import TARGETS

    parser = argparse.ArgumentParser(
        prog="scripts/fuzz", description="Coverage-guided fuzzing of FluxForge with atheris."
    )
    parser.add_argument(
        "targets", nargs="*", metavar="target", help=f"default: all of {', '.join(TARGETS)}"
    )
    parser.add_argument("--time", type=int, default=300, help="seconds per target (300)")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="libFuzzer's random seed; 0 (the default) draws one. A fixed seed makes a "
        "short run take the same path each time (scripts/test uses 1)",
    )
    args = parser.parse_args(argv)
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target {unknown[0]!r}; choose from {', '.join(TARGETS)}")
    WORK.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    failed = []
    for name in args.targets or list(TARGETS):
        log_path = WORK / f"{name}.log"
        with open(log_path, "w") as log:
            proc = subprocess.run(
                [
                    *(sys.executable, __file__, "--child", name),
                    *("--time", str(args.time), "--seed", str(args.seed)),
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=args.time + 120,
                check=False,
            )
        text = log_path.read_text(errors="replace")
        if proc.returncode == 0:
            print(f"fuzz {name}: ok ({_summary(text)})")
            continue
        failed.append(name)
        print(f"fuzz {name}: FAILED (exit {proc.returncode}); log: {log_path}")
        print("\n".join(text.splitlines()[-30:]))
    if failed:
        print(
            f"fuzz: {len(failed)} target(s) crashed: {', '.join(failed)}. Each crashing "
            "input is in .fuzz/artifacts/<target>/: copy it to tests/fuzz/crashers/<target>/, "
            "fix the code it names and add a regression test in tests/unit.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
