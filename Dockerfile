# One image for the Python services of the stack: the exporter, the enhancer and the demo
# (inventory API, fake integrations, simulator, webhook sink). docker-compose.yml picks
# the program with `command:`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p servicekit exporter enhancer reporter \
    && touch servicekit/__init__.py exporter/__init__.py enhancer/__init__.py reporter/__init__.py \
    && pip install '.[demo]' \
    && pip uninstall -y inventory-monitor \
    && rm -rf servicekit exporter enhancer reporter build *.egg-info
COPY . .
# Editable, so the services find their rule files next to the code; the demo (not an
# installed package) runs as `python -m demo.*` from the working directory /app.
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin inventory \
    && mkdir -p /data \
    && chown inventory:inventory /data

USER inventory
VOLUME ["/data"]
EXPOSE 9877 9878 8080 8181 8182 8183 9099
CMD ["inventory-exporter", "--config", "/app/demo/exporter.docker.yml"]
