"""Root conftest: the toolkit's pytest plugin (``cluster``, ``cluster_manager``,
``eventually`` fixtures) is loaded explicitly, so the suites work even where the
package's ``pytest11`` entry point is not installed.  The entry point has the
same name as the module, so where it *is* installed pytest sees the plugin as
already registered and loads it once."""

pytest_plugins = ["pipeline.testing.pytest_plugin"]
