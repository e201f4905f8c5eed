# The mabeam node image on machines that can pull python:3.11-slim ("registry"
# mode of `invoke image`; docs/containers.md).
#
# The build context is not the repository: pipeline/containers/image.py
# assembles a small one (`python -m pipeline.containers.image --context DIR`
# writes it, for a `docker build DIR` by hand):
#   requirements.txt   the node's runtime dependencies, read from pyproject.toml
#   app/               pyproject.toml and the .py files of mabeam/ and pipeline/
# and it appends one LABEL line (toolkit, source digest, how the image was made).
#
# No ENTRYPOINT: the containers provider passes the whole command
# (`python3 -m mabeam ...` or `python3 -m pipeline.toxiproxy ...`).
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONUNBUFFERED=1 PYTHONPATH=/app PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
EXPOSE 8000
CMD ["python3", "-m", "mabeam", "--help"]

# dependencies before the source: this layer stays cached while only the source changes
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY app/ /app/
RUN python3 -m compileall -q /app
