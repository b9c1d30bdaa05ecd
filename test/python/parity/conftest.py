"""Parity suite set-up: the profile (ci or thorough) and the case counts it reports.

Profile: ADAPOOL_PARITY_PROFILE=ci|thorough, or --parity-profile when pytest is
pointed at this directory (pytest only reads options from the conftest files of
the paths it is given). ci is the default: fixed seeds, >= 2000 generated cases.
"""

from __future__ import annotations

import parity_support as support


def pytest_addoption(parser):
    parser.addoption(
        "--parity-profile",
        choices=sorted(support.PROFILES),
        default=None,
        help="adapool parity suite profile (default: $ADAPOOL_PARITY_PROFILE or ci)",
    )


def pytest_configure(config):
    try:
        chosen = config.getoption("--parity-profile")
    except ValueError:  # the option is registered only when this conftest is initial
        chosen = None
    if chosen:
        support.profile_name = chosen
    support.profile()  # fails early on an unknown name


def pytest_report_header(config):
    import torch

    return f"adapool parity profile: {support.profile_name} (torch {torch.__version__})"


def pytest_terminal_summary(terminalreporter):
    counts = support.counts
    if not counts:
        return
    generated = counts["generated"] + counts["generated-nonfinite"] + counts["generated-gradcheck"]
    terminalreporter.write_sep("-", "adapool parity against torch")
    if generated or counts["torch-derived"] or counts["error"] or counts["known-difference"]:
        terminalreporter.write_line(
            f"parity ({support.profile_name} profile): {generated} generated cases "
            f"({counts['generated']} forward+backward, {counts['generated-nonfinite']} "
            f"non-finite, {counts['generated-gradcheck']} gradcheck), "
            f"{counts['torch-derived']} torch-derived cases, {counts['error']} error cases, "
            f"{counts['known-difference']} known-difference cases"
        )
    if support.features:
        terminalreporter.write_line(
            "generated forward+backward cases covered: "
            + ", ".join(f"{name} {n}" for name, n in sorted(support.features.items()))
        )
    generated_max = (
        counts["max-generated"] + counts["max-generated-nonfinite"]
        + counts["max-generated-gradcheck"]
    )
    if generated_max or any(
        counts[f"max-{kind}"] for kind in ("torch-derived", "error", "known-difference")
    ):
        terminalreporter.write_line(
            f"parity max pooling ({support.profile_name} profile): {generated_max} generated cases "
            f"({counts['max-generated']} forward+backward, "
            f"{counts['max-generated-nonfinite']} non-finite, "
            f"{counts['max-generated-gradcheck']} gradcheck), "
            f"{counts['max-torch-derived']} torch-derived cases, {counts['max-error']} error "
            f"cases, {counts['max-known-difference']} known-difference cases"
        )
    if support.max_features:
        terminalreporter.write_line(
            "generated max forward+backward cases covered: "
            + ", ".join(f"{name} {n}" for name, n in sorted(support.max_features.items()))
        )
