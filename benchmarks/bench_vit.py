"""Speed of the vit pipeline: end-to-end vs model-only FPS, vs a transformers pipeline loop, FLOP/s vs the
measured matmul peak. Same rows as `apps bench vit` (VitApp.benchmark).

    python benchmarks/bench_vit.py                 # vit_tiny and vit_base, fp32 and bf16, 100 frames
    python benchmarks/bench_vit.py --quick         # vit_tiny only, 20 frames
    python benchmarks/bench_vit.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--layouts", nargs="*", default=None, choices=["vit_tiny", "vit_base"])
    parser.add_argument("--precisions", nargs="*", default=None, choices=["fp32", "bf16"])
    parser.add_argument("--json", dest="json_path", default=None, help="Also write the rows to this file.")
    args = parser.parse_args()
    from plugins.vit.bench import benchmark

    rows = benchmark(quick=args.quick, frames=args.frames, layouts=args.layouts, precisions=args.precisions)
    for row in rows:
        ratio = row["value"] / row["peer_value"] if row.get("peer_value") else float("nan")
        print(
            f"{row['name']:<48} {row['value']:>9} {row['unit']:<9} {row['peer']:<46} {row['peer_value']:>9}  x{ratio:.2f}"
        )
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
