"""JUnit XML for CI: one testsuite per exercise or homework, one testcase per test."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Sequence

from grader.results import SubmissionResult

__all__ = ["to_junit"]


def to_junit(results: Sequence[SubmissionResult]) -> str:
    """An XML document for ``results`` (a test failing or erroring marks its testcase)."""
    root = ET.Element("testsuites", name="d2l-grade")
    for result in results:
        for unit in result.units:
            failures = sum(t.status == "failed" for t in unit.tests)
            errors = sum(t.status == "error" for t in unit.tests)
            suite = ET.SubElement(root, "testsuite", name=f"{result.student or result.sources[0]}::{unit.id}",
                                  tests=str(len(unit.tests)), failures=str(failures), errors=str(errors),
                                  time=f"{result.seconds:.3f}")
            for test in unit.tests:
                case = ET.SubElement(suite, "testcase", classname=f"{result.student or 'submission'}.{unit.id}",
                                     name=test.name, time="0")
                ET.SubElement(case, "properties").append(
                    ET.Element("property", name="score", value=f"{test.score:g}/{test.max_score:g}"))
                if test.status != "passed":
                    tag = "error" if test.status == "error" else "failure"
                    first = test.message.splitlines()[0] if test.message else test.status
                    node = ET.SubElement(case, tag, message=first)
                    node.text = test.message
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
