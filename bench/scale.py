"""``make bench-scale``: does a second worker add what a second core should?

On a private embedded stack, the 24 benchmark photos × 3 (72 images, ~1600 px, the default model →
PNG) as one burst through Kafka and S3: first 1 worker, then 2 workers, each worker with
ONE inference thread (``models.intra_op_threads=1``), the same 12 partitions. The ratio of
the two rates is how well the stream path scales out when each worker has a core of its
own (target ≥ 1.8×). The broker and the S3 server share the same 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench.dataset import photos
from bench.e2e import run
from bench.report import machine, replace_section

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD: dict[str, object] = {"intra_op_threads": 1, "inter_op_threads": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the 24 photos")
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    rates = {}
    for workers in (1, 2):
        rate, _, _, rss, _ = asyncio.run(run(workers, args.rounds, paced=False, models=ONE_THREAD))
        rates[workers] = rate
        print(f"{workers} worker(s), 1 inference thread each: {rate:.2f} images/s, RSS {rss}")
    ratio = rates[2] / rates[1]
    lines = [
        f"Machine: {machine()}. {len(photos()) * args.rounds} JPEGs of ~1600 px in one burst "
        "(u2netp → PNG), embedded stack on the same 2 cores, 12 partitions; each worker with "
        "one inference thread. Command: `make bench-scale`.",
        "",
        "| workers | images/s |",
        "|---|---|",
        f"| 1 | {rates[1]:.2f} |",
        f"| 2 | {rates[2]:.2f} |",
        "",
        f"**2 workers ÷ 1 worker: {ratio:.2f}×** (target ≥ 1.8×).",
    ]
    print("\n".join(lines))
    replace_section(args.write, "scale", "\n".join(lines))


if __name__ == "__main__":
    main()
