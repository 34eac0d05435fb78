"""The registry coverage tally: one line at the end of a run of ``tests/zoo/test_zoo_registry_coverage.py``.

Each coverage case records its outcome (``maps``, ``error`` or ``traceback``) in its report's user properties, which
``pytest-xdist`` carries back from the workers; the line counts them per registry, for example
``registry coverage: 276 cases: 276 maps, 0 one-line errors, 0 unlisted errors, 0 tracebacks, 0 failed checks
(hf 10/10 maps, ...)``.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from tests.zoo.registry import OUTCOME_PROPERTY

COVERAGE_TEST = "test_model_gives_maps_or_one_clear_line"


def _outcome(report: pytest.TestReport) -> str | None:
    return next((value for key, value in report.user_properties if key == OUTCOME_PROPERTY), None)


def coverage_tally(reports: list[pytest.TestReport]) -> str | None:
    """The tally line over the coverage cases' call reports, or ``None`` when none ran.

    ``failed checks`` counts cases whose maps the check rejected (map size, prefix tokens); ``unlisted errors`` the
    one-line errors of models not listed as unsupported (both fail the test, as tracebacks do).
    """
    counts: Counter[str] = Counter()
    per_group: dict[str, Counter[str]] = defaultdict(Counter)
    for report in reports:
        outcome = _outcome(report)
        if outcome is None:
            continue
        status = outcome if report.passed or outcome != "error" else "unlisted error"
        counts[status] += 1
        group = report.nodeid.rsplit("[", 1)[-1].split("/", 1)[0]
        per_group[group][status] += 1
        per_group[group]["cases"] += 1
    total = sum(counts.values())
    if not total:
        return None
    groups = ", ".join(f"{name} {tally['maps']}/{tally['cases']} maps" for name, tally in sorted(per_group.items()))
    return (
        f"registry coverage: {total} cases: {counts['maps']} maps, {counts['error']} one-line errors, "
        f"{counts['unlisted error']} unlisted errors, {counts['traceback']} tracebacks, {counts['failed check']} "
        f"failed checks ({groups})"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reports = [
        report
        for key in ("passed", "failed")
        for report in terminalreporter.stats.get(key, [])
        if getattr(report, "when", None) == "call" and COVERAGE_TEST in report.nodeid
    ]
    line = coverage_tally(reports)
    if line:
        terminalreporter.write_line(line)
