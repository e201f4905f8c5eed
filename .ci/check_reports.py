"""Refuse a green CI run whose JUnit reports are missing or count no tests.

pytest exits 5 when it collects nothing, which nox already treats as a failure;
this is the second lock on that door: a stage that ran no test is not a pass.
"""

import sys
import xml.etree.ElementTree as ET


def count(path: str) -> tuple[int, int]:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    tests = failures = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failures += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    return tests, failures


def main(paths: list[str]) -> int:
    status = 0
    for path in paths:
        try:
            tests, failures = count(path)
        except (OSError, ET.ParseError) as exc:
            print(f"check_reports: {path}: unreadable JUnit ({exc})")
            status = 1
            continue
        print(f"check_reports: {path}: {tests} tests, {failures} failed")
        if tests == 0 or failures:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
