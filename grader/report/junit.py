"""JUnit XML for CI: one testsuite per exercise or homework, one testcase per test.

Every text a student controls (student id, file names, messages quoting an exception)
passes through :func:`~grader.report.escape.xml_text`, so the file stays valid XML 1.0."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Sequence

from grader.report.escape import xml_text
from grader.results import SubmissionResult

__all__ = ["to_junit"]


def to_junit(results: Sequence[SubmissionResult]) -> str:
    """An XML document for ``results`` (a test failing or erroring marks its testcase)."""
    root = ET.Element("testsuites", name="d2l-grade")
    for result in results:
        student = xml_text(result.student or (result.sources[0] if result.sources else "submission"))
        for unit in result.units:
            failures = sum(t.status == "failed" for t in unit.tests)
            errors = sum(t.status == "error" for t in unit.tests)
            suite = ET.SubElement(root, "testsuite", name=f"{student}::{xml_text(unit.id)}",
                                  tests=str(len(unit.tests)), failures=str(failures), errors=str(errors),
                                  time=f"{result.seconds:.3f}")
            for test in unit.tests:
                case = ET.SubElement(suite, "testcase",
                                     classname=f"{xml_text(result.student) or 'submission'}.{xml_text(unit.id)}",
                                     name=xml_text(test.name), time="0")
                ET.SubElement(case, "properties").append(
                    ET.Element("property", name="score", value=f"{test.score:g}/{test.max_score:g}"))
                if test.status != "passed":
                    tag = "error" if test.status == "error" else "failure"
                    first = test.message.splitlines()[0] if test.message else test.status
                    node = ET.SubElement(case, tag, message=xml_text(first))
                    node.text = xml_text(test.message)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
