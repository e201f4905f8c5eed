"""The performance stage: workload patterns run by Locust against a fresh
cluster, measured from Locust's own statistics and every node's telemetry,
judged against thresholds and reported as JUnit for the gate.

``python -m pipeline.load`` (what ``nox -s performance`` runs); the
configuration is the ``[performance]`` table of ``pipeline.toml``
(:mod:`pipeline.load.config`).  Modules: ``config``, ``locust`` (the Locust
process), ``telemetry`` (node sampling), ``stats`` (Locust's CSV),
``results`` (metrics, criteria, trust), ``junit`` (the report), ``progress``
(lines and tables), ``plot`` (the PNG), ``runner`` (the stage).
"""
