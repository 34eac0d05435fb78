"""Run the registry coverage sweep and print the tally: models producing maps / clear errors / tracebacks.

The cases are those of ``tests/zoo/registry.py`` (every timm family representative, every torchvision
classification model, Hugging Face types from tiny configs, open_clip towers); each is tried as the coverage test
tries it. One line per case, then a tally per group; ``--json FILE`` also writes every outcome.

    PYTHONPATH=src python scripts/model_coverage.py                 # everything
    PYTHONPATH=src python scripts/model_coverage.py --group timm --sample
    PYTHONPATH=src python scripts/model_coverage.py --rest --json rest.json   # what -m slow runs
    PYTHONPATH=src python scripts/model_coverage.py --only timm/swin_transformer/swin
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from collections import Counter
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.zoo import registry

GROUPS = {
    "timm": registry.timm_cases,
    "tv": registry.torchvision_cases,
    "hf": registry.hf_cases,
    "open_clip": registry.open_clip_cases,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=[*GROUPS, "all"], default="all")
    parser.add_argument("--sample", action="store_true", help="only the default (fast) sample")
    parser.add_argument("--rest", action="store_true", help="only the cases outside the default sample (-m slow)")
    parser.add_argument("--only", nargs="*", default=None, help="case ids to run")
    parser.add_argument("--json", type=Path, default=None, help="write the outcomes there")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    groups = list(GROUPS) if args.group == "all" else [args.group]
    outcomes: list[registry.Outcome] = []
    with tempfile.TemporaryDirectory() as tmp:
        for group in groups:
            cases = GROUPS[group]()
            if args.sample or args.rest:
                sample = {case.id for case in registry.default_sample(cases)}
                cases = [case for case in cases if (case.id in sample) == args.sample]
            if args.only:
                cases = [case for case in cases if case.id in args.only]
            for case in cases:
                outcome = registry.run_case(case, Path(tmp))
                outcomes.append(outcome)
                print(
                    f"{outcome.status:12s} {outcome.seconds:6.1f}s {outcome.cpu_seconds:6.1f}s cpu {case.id:48s} "
                    f"{outcome.message}",
                    flush=True,
                )
    print()
    for group in groups:
        mine = [o for o in outcomes if o.case.split("/")[0] == group]
        if not mine:
            continue
        tally = Counter(o.status for o in mine)
        share = 100 * tally["maps"] / len(mine)
        print(
            f"{group}: {len(mine)} models: {tally['maps']} maps ({share:.1f} %), {tally['error']} clear errors, "
            f"{tally['traceback']} tracebacks, {tally['failed check']} failed checks; "
            f"{sum(o.seconds for o in mine):.0f} s, {sum(o.cpu_seconds for o in mine):.0f} s cpu"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
