"""Root conftest.

* The toolkit's pytest plugin (``cluster``, ``cluster_manager``, ``eventually``
  fixtures) is loaded explicitly, so the suites work even where the package's
  ``pytest11`` entry point is not installed.  The entry point has the same name
  as the module, so where it *is* installed pytest sees the plugin as already
  registered and loads it once.
* Hypothesis runs the ``ci`` profile unless ``HYPOTHESIS_PROFILE`` says
  otherwise: derandomized (the same examples every run, from each test's own
  source) and without the example database, so a verdict never depends on
  the draw or on what an earlier run happened to save.  The cases that matter
  most are pinned with ``@example`` besides.  ``HYPOTHESIS_PROFILE=explore``
  draws fresh random examples (10x as many) to hunt for new bugs locally;
  a failure there prints the ``@example`` to pin.
"""

import os

from hypothesis import settings

pytest_plugins = ["pipeline.testing.pytest_plugin"]

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
