"""What a fake stage does (see fake_noxfile.py): ``fake_stage.py NAME ACTION [PYTEST ARGS...]``.

Actions: pass, fail, crash (no report), malformed, hang (never ends), metrics
(writes metric properties), untrusted, pytest (runs pytest on flaky_tests.py).
Every report records the pytest arguments it got as the property ``posargs``.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

name, action, args = sys.argv[1], sys.argv[2], sys.argv[3:]
report = Path("reports") / f"{name}.xml"
report.parent.mkdir(exist_ok=True)


def junit(cases: str, props: dict[str, str] | None = None) -> None:
    props = {"posargs": json.dumps(args), **(props or {})}
    rendered = "".join(f'<property name="{k}" value={quoteattr(v)}/>' for k, v in props.items())
    report.write_text(
        f'<?xml version="1.0"?><testsuites><testsuite name="{name}">'
        f"<properties>{rendered}</properties>{cases}</testsuite></testsuites>"
    )


print(f"fake stage {name}: {action}", flush=True)
if action == "pass":
    junit('<testcase classname="fake" name="test_one"/><testcase classname="fake" name="test_two"/>')
elif action == "fail":
    junit(
        '<testcase classname="fake" name="test_ok"/>'
        '<testcase classname="fake" name="test_broken"><failure message="boom">boom</failure></testcase>'
    )
    sys.exit(1)
elif action == "crash":
    sys.exit(3)
elif action == "malformed":
    report.write_text("<testsuites><testsuite name='x'><testcase")
    sys.exit(1)
elif action == "metrics":
    junit('<testcase classname="fake" name="test_load"/>', {"metric.p95_ms": "612", "metric.error_rate": "0.001"})
elif action == "untrusted":
    junit(
        '<testcase classname="fake" name="test_load"/>',
        {"metric.p95_ms": "100", "pipeline.trusted": "false", "pipeline.untrusted_reason": "noisy host"},
    )
elif action == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    print(f"hanging {os.getpid()} {child.pid}", flush=True)
    time.sleep(3600)
elif action == "pytest":
    tests = Path(__file__).with_name("flaky_tests.py")
    code = subprocess.call(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tests),
            f"--junitxml={report}",
            "-o",
            "junit_family=xunit2",
            "-p",
            "no:cacheprovider",
            "-q",
            *args,
        ]
    )
    sys.exit(code)
else:
    sys.exit(f"unknown action {action}")
