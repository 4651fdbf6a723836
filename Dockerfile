# Quarry's image: `quarry serve` by default, `quarry worker` as its command for workers; runs as
# a user without privileges, keeps its data in /data. The base is a normal Python image; a
# machine without access to an image registry builds one from Debian's packages and passes it
# (docs/operations.md, "A container image"): docker build --build-arg BASE=quarry-base:bookworm .
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    QUARRY_DATA_DIR=/data \
    PATH=/opt/quarry/bin:$PATH

COPY pyproject.toml README.md /src/
COPY src /src/src
RUN python3 -m venv /opt/quarry \
 && /opt/quarry/bin/pip install --no-cache-dir /src \
 && rm -rf /src \
 && useradd --system --uid 10001 --user-group --home-dir /data --create-home quarry

USER quarry
WORKDIR /data
VOLUME /data
EXPOSE 8000 2525
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
ENTRYPOINT ["quarry"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
