"""Summarise a uss_qualifier report.json: passed and failed checks per scenario.

Standard library only, so it runs under the interpreter of the uss_qualifier checkout as well as
the project's own. Usage::

    python conformance/summarize.py REPORT_JSON [--markdown FAILURES_MD]

Prints one line per scenario run (passed checks, failed checks by severity, execution errors)
and a short description of every failed check. With ``--markdown`` it also writes every failed
check with the requests uss_qualifier sent and what the server answered. Exits 1 when a check of
severity High or Critical failed or a scenario raised an execution error, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BLOCKING_SEVERITIES = frozenset({"Critical", "High"})
SEVERITY_ORDER = ("Critical", "High", "Medium", "Low")
_MAX_BODY_CHARS = 1500


@dataclass
class FailedCheck:
    case: str
    step: str
    name: str
    severity: str
    summary: str
    details: str
    queries: list[dict[str, Any]]


@dataclass
class ScenarioRun:
    name: str
    scenario_type: str
    suite_label: str
    passed: int = 0
    failed: list[FailedCheck] = field(default_factory=list)
    execution_error: str | None = None
    skipped: str | None = None
    queries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return self.execution_error is not None or any(
            f.severity in BLOCKING_SEVERITIES for f in self.failed
        )


def _steps(scenario: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for case in scenario.get("cases") or []:
        for step in case.get("steps") or []:
            yield case.get("name", "?"), step
    cleanup = scenario.get("cleanup")
    if cleanup:
        yield "Cleanup", cleanup


def _main_host(scenarios: list[dict[str, Any]]) -> str:
    """The host:port most queried in a suite run: the DSS instance it was aimed at."""
    hosts: Counter[str] = Counter()
    for scenario in scenarios:
        for _, step in _steps(scenario):
            for query in step.get("queries") or []:
                url = query.get("request", {}).get("url", "")
                if url:
                    hosts[urlsplit(url).netloc] += 1
    return hosts.most_common(1)[0][0] if hosts else "?"


def _collect_scenarios(action: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if action.get("test_scenario"):
        yield action["test_scenario"]
    skipped = action.get("skipped_action")
    if skipped:
        declaration = skipped.get("declaration") or {}
        target = declaration.get("test_scenario") or declaration.get("test_suite") or {}
        name = target.get("scenario_type") or target.get("suite_type") or "?"
        yield {"name": name, "scenario_type": name, "skipped": skipped.get("reason", "")}
    suite = action.get("test_suite")
    if suite:
        for sub in suite.get("actions") or []:
            yield from _collect_scenarios(sub)
    generator = action.get("action_generator")
    if generator:
        for sub in generator.get("actions") or []:
            yield from _collect_scenarios(sub)


def _suite_runs(action: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """Groups of scenarios, one group per run of the dss_probing suite (one per DSS instance)."""
    generator = action.get("action_generator")
    if generator:
        for sub in generator.get("actions") or []:
            yield from _suite_runs(sub)
        return
    suite = action.get("test_suite")
    if suite and any(
        a.get("test_scenario") or a.get("skipped_action") for a in suite.get("actions") or []
    ):
        yield list(_collect_scenarios(action))
        return
    if suite:
        for sub in suite.get("actions") or []:
            yield from _suite_runs(sub)
        return
    if action.get("test_scenario"):
        yield [action["test_scenario"]]


def parse_report(report: dict[str, Any]) -> list[ScenarioRun]:
    runs: list[ScenarioRun] = []
    for scenarios in _suite_runs(report["report"]):
        label = f"primary {_main_host(scenarios)}"
        for scenario in scenarios:
            run = ScenarioRun(
                name=scenario.get("name", "?"),
                scenario_type=scenario.get("scenario_type", "?"),
                suite_label=label,
                skipped=scenario.get("skipped"),
            )
            by_time: dict[str, dict[str, Any]] = {}
            for _, step in _steps(scenario):
                for query in step.get("queries") or []:
                    run.queries.append(query)
                    initiated = query.get("request", {}).get("initiated_at")
                    if initiated:
                        by_time[initiated] = query
            for case_name, step in _steps(scenario):
                run.passed += len(step.get("passed_checks") or [])
                for check in step.get("failed_checks") or []:
                    stamps = check.get("query_report_timestamps") or []
                    run.failed.append(
                        FailedCheck(
                            case=case_name,
                            step=step.get("name", "?"),
                            name=check.get("name", "?"),
                            severity=check.get("severity", "?"),
                            summary=check.get("summary", ""),
                            details=check.get("details", ""),
                            queries=[by_time[s] for s in stamps if s in by_time],
                        )
                    )
            error = scenario.get("execution_error")
            if error:
                run.execution_error = f"{error.get('type', '?')}: {error.get('message', '')}"
            runs.append(run)
    return runs


def _clip(text: str, limit: int = _MAX_BODY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more chars)"


def _body(part: dict[str, Any]) -> str:
    if part.get("json") is not None:
        return _clip(json.dumps(part["json"], sort_keys=True))
    if part.get("body"):
        return _clip(str(part["body"]))
    return "(empty)"


def _describe_query(query: dict[str, Any]) -> list[str]:
    request = query.get("request", {})
    response = query.get("response", {})
    lines = [f"- `{request.get('method', '?')} {request.get('url', '?')}`"]
    if request.get("json") is not None or request.get("body"):
        lines.append(f"  - sent: `{_body(request)}`")
    code = response.get("code")
    failure = response.get("failure")
    answer = f"HTTP {code}" if code is not None else f"no answer ({failure})"
    lines.append(f"  - answered {answer}: `{_body(response)}`")
    return lines


def summary_lines(runs: list[ScenarioRun]) -> list[str]:
    lines: list[str] = []
    width = max((len(r.name) for r in runs), default=10)
    current = None
    for run in runs:
        if run.suite_label != current:
            current = run.suite_label
            lines.append(f"== dss_probing, {current}")
        counts = Counter(f.severity for f in run.failed)
        failed = ", ".join(f"{counts[s]} {s}" for s in SEVERITY_ORDER if counts[s]) or "0"
        if run.skipped is not None:
            if "scenarios_filter" in run.skipped:
                continue  # left out on purpose by --filter
            lines.append(f"  skip {run.name:<{width}}  ({_clip(run.skipped, 120)})")
            continue
        mark = "FAIL" if run.blocking else ("warn" if run.failed else "ok")
        error = "  EXECUTION ERROR" if run.execution_error else ""
        lines.append(
            f"  {mark:4} {run.name:<{width}}  passed {run.passed:3}  failed {failed}{error}"
        )
    skipped = sum(1 for r in runs if r.skipped is not None)
    total_passed = sum(r.passed for r in runs)
    all_failed = Counter(f.severity for r in runs for f in r.failed)
    errors = sum(1 for r in runs if r.execution_error)
    failed = ", ".join(f"{all_failed[s]} {s}" for s in SEVERITY_ORDER if all_failed[s]) or "0"
    lines.append(
        f"TOTAL: {len(runs) - skipped} scenario runs ({skipped} skipped), "
        f"{total_passed} checks passed, failed {failed}, {errors} execution errors"
    )
    return lines


def failure_lines(runs: list[ScenarioRun]) -> list[str]:
    lines: list[str] = []
    for run in runs:
        for f in run.failed:
            lines.append(
                f"[{f.severity}] {run.name} ({run.suite_label}) / {f.case} / {f.step} / {f.name}: "
                f"{f.summary}"
            )
        if run.execution_error:
            error = _clip(run.execution_error, 300)
            lines.append(f"[ERROR] {run.name} ({run.suite_label}): {error}")
    return lines


def failures_markdown(runs: list[ScenarioRun]) -> str:
    out = ["# uss_qualifier dss_probing: failed checks", ""]
    for line in summary_lines(runs):
        out.append(f"    {line}")
    out.append("")
    for run in runs:
        if not run.failed and not run.execution_error:
            continue
        out.append(f"## {run.name} ({run.scenario_type}), {run.suite_label}")
        out.append("")
        if run.execution_error:
            out.append(f"Execution error: `{_clip(run.execution_error, 3000)}`")
            out.append("")
        for f in run.failed:
            out.append(f"### [{f.severity}] {f.name}")
            out.append("")
            out.append(f"Test case *{f.case}*, step *{f.step}*.")
            out.append("")
            out.append(f"Summary: {f.summary}")
            out.append("")
            if f.details:
                out.append(f"Details: {_clip(f.details, 3000)}")
                out.append("")
            for query in f.queries:
                out.extend(_describe_query(query))
            out.append("")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.json written by uss_qualifier")
    parser.add_argument("--markdown", type=Path, help="write failed checks with queries here")
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.report.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: cannot read report {args.report}: {exc}", file=sys.stderr)
        return 2
    if "report" not in report:
        print(f"error: {args.report} has no 'report' field", file=sys.stderr)
        return 2
    runs = parse_report(report)
    for line in summary_lines(runs):
        print(line)
    failures = failure_lines(runs)
    if failures:
        print("\nFailed checks:")
        for line in failures:
            print(f"  {line}")
        if any(r.blocking for r in runs):
            print(
                "(A High or Critical failure stops its scenario: the steps after it did not run.)"
            )
    if args.markdown:
        args.markdown.write_text(failures_markdown(runs))
        print(f"\nDetails (requests and answers): {args.markdown}")
    return 1 if any(r.blocking for r in runs) or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
