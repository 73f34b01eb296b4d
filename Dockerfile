# One image, two production entry points:
#   docker run IMAGE                      -> Slack HTTP endpoint + /healthz (`infrabot web`); the web chat
#                                            answers 404 here (HOST=0.0.0.0) unless WEB_CHAT_TOKEN is set
#   docker run IMAGE infrabot worker      -> the arq worker (the only process given cloud credentials)
# Both expect REDIS_URL and MONGODB_URL pointing at managed services.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY bots bots
COPY core core
COPY jobs jobs
COPY infra infra
COPY config config
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=8000
RUN useradd --create-home --uid 10001 infrabot
COPY --from=build /opt/venv /opt/venv
USER infrabot
WORKDIR /home/infrabot
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/healthz')"
CMD ["infrabot", "web"]
