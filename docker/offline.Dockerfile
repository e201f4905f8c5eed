# The mabeam node image where no registry is reachable ("offline" mode of
# `invoke image`; docs/containers.md).
#
# BASE is mabeam-pipeline/base:bookworm: Debian bookworm minbase with python3
# (3.11) and ca-certificates, debootstrapped on the host and `docker import`ed.
# The context is assembled by pipeline/containers/image.py:
#   site-packages/     the node's runtime dependencies, installed on the host
#                      (pip install --target) from a cp311 manylinux wheelhouse
#   app/               pyproject.toml and the .py files of mabeam/ and pipeline/
# and it appends one LABEL line (toolkit, source digest, how the image was made).
#
# No RUN step: the build needs neither network nor pip in the image.  The
# settings come first and the source last, so a rebuild after an edit redoes
# only the last COPY and the LABEL.
# No ENTRYPOINT: the containers provider passes the whole command
# (`python3 -m mabeam ...` or `python3 -m pipeline.toxiproxy ...`).
ARG BASE=mabeam-pipeline/base:bookworm
FROM ${BASE}

ENV PYTHONUNBUFFERED=1 PYTHONPATH=/app
WORKDIR /app
EXPOSE 8000
CMD ["python3", "-m", "mabeam", "--help"]

# Debian's python3 looks here for locally installed packages
COPY site-packages/ /usr/local/lib/python3.11/dist-packages/
COPY app/ /app/
