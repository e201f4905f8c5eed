"""Nodes in containers: what the containers cluster provider builds on.

- ``engine``: reaching the Docker engine (testcontainers underneath).
- ``image``: the node image (``mabeam-pipeline/node:src-<digest>``), built from
  ``python:3.11-slim`` where a registry is reachable, or offline from a
  debootstrapped Debian base and a host-side wheelhouse where none is.
- ``toxiproxy``: Toxiproxy in a container (the official image, or the embedded
  server in the node image when that cannot be pulled).
"""
