# Two images from one file, both non-root:
#   docker build -t infrabot .                        -> chat image: `infrabot web` (default), `infrabot slack`,
#                                                        `infrabot discord`; no Pulumi CLI, no cloud plugin.
#                                                        With HOST=0.0.0.0 the web chat answers 404 unless
#                                                        WEB_CHAT_TOKEN is set; Slack's endpoint and probes work.
#   docker build --target worker -t infrabot-worker . -> `infrabot worker` with a pinned Pulumi CLI and the
#                                                        gcp and random plugins installed at build time
# Both expect REDIS_URL and MONGODB_URL pointing at managed services; the worker also PULUMI_BACKEND_URL=gs://...
# Stop with SIGTERM: chat processes finish turns in flight, the worker stops taking jobs and lets running ones
# finish for SHUTDOWN_GRACE_SECONDS (give the orchestrator a longer grace period than that).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY bots bots
COPY core core
COPY jobs jobs
COPY infra infra
COPY config config
COPY telemetry telemetry
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim AS base
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000 LOG_FORMAT=json
RUN useradd --create-home --uid 10001 infrabot
COPY --from=build /opt/venv /opt/venv
WORKDIR /home/infrabot

# The Pulumi CLI release, checked against the checksums Pulumi publishes next to it.
FROM base AS pulumi
ARG PULUMI_VERSION=3.274.1
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends curl ca-certificates >/dev/null \
 && cd /tmp \
 && curl -fsSLO "https://get.pulumi.com/releases/sdk/pulumi-v${PULUMI_VERSION}-linux-x64.tar.gz" \
 && curl -fsSLO "https://get.pulumi.com/releases/sdk/pulumi-${PULUMI_VERSION}-checksums.txt" \
 && grep " pulumi-v${PULUMI_VERSION}-linux-x64.tar.gz\$" "pulumi-${PULUMI_VERSION}-checksums.txt" | sha256sum -c - \
 && tar -xzf "pulumi-v${PULUMI_VERSION}-linux-x64.tar.gz" -C /opt \
 && rm -rf /tmp/pulumi-* /var/lib/apt/lists/*

FROM base AS worker
# The provider plugins match the pulumi-gcp and pulumi-random Python packages pinned in pyproject.toml.
ARG PULUMI_GCP_PLUGIN_VERSION=10.2.0
ARG PULUMI_RANDOM_PLUGIN_VERSION=4.21.4
COPY --from=pulumi /opt/pulumi /opt/pulumi
ENV PATH=/opt/pulumi:$PATH ENGINE=pulumi PULUMI_SKIP_UPDATE_CHECK=true METRICS_PORT=9464
USER infrabot
RUN pulumi version && pulumi plugin install resource gcp "v${PULUMI_GCP_PLUGIN_VERSION}" \
 && pulumi plugin install resource random "v${PULUMI_RANDOM_PLUGIN_VERSION}"
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"METRICS_PORT\"]}/livez')"
STOPSIGNAL SIGTERM
CMD ["infrabot", "worker"]

# Last, so a plain `docker build .` gives the chat image.
FROM base AS chat
USER infrabot
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/livez')"
STOPSIGNAL SIGTERM
CMD ["infrabot", "web"]
