# edge-tts-clone server image: the runtime install only (onnxruntime + numpy, no torch).
#   docker build -t edge-tts-clone .
#   docker run -d --name edge-tts-clone -p 10210:10210 -p 10211:10211 -v edge-tts-clone-data:/data edge-tts-clone
# BUILD_FROM: any Debian bookworm (Python 3.11, as Raspberry Pi OS) for amd64 or arm64.
ARG BUILD_FROM=debian:bookworm-slim
FROM ${BUILD_FROM}

ARG BUILD_VERSION=0.1.0
LABEL org.opencontainers.image.title="edge-tts-clone" \
      org.opencontainers.image.description="Local GPT-SoVITS voice cloning for Home Assistant (Wyoming TTS server)" \
      org.opencontainers.image.source="https://github.com/edge-tts-clone/edge-tts-clone" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${BUILD_VERSION}"

ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/edge-tts-clone \
    PATH=/opt/edge-tts-clone/bin:${PATH}

# Python 3.11 from Debian; every Python dependency comes as a wheel, so no compiler is needed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv "${VIRTUAL_ENV}" \
    && groupadd --system --gid 10210 edge-tts-clone \
    && useradd --system --uid 10210 --gid 10210 --home-dir /data --shell /usr/sbin/nologin edge-tts-clone \
    && install -d -o edge-tts-clone -g edge-tts-clone -m 0750 /data

# Dependencies before the code, so a code change does not reinstall them.
COPY pyproject.toml /tmp/edge-tts-clone/pyproject.toml
RUN python3 -c "import tomllib; print(*tomllib.load(open('/tmp/edge-tts-clone/pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        > /tmp/edge-tts-clone/requirements.txt \
    && pip install -r /tmp/edge-tts-clone/requirements.txt

COPY README.md LICENSE /tmp/edge-tts-clone/
COPY wyoming_server /tmp/edge-tts-clone/wyoming_server
# The check imports no onnxruntime: a cross-build for arm64 runs under qemu-user, where it crashes
# (docs/aarch64.md).
RUN pip install --no-deps /tmp/edge-tts-clone \
    && rm -rf /tmp/edge-tts-clone \
    && test -x "${VIRTUAL_ENV}/bin/edge-tts-clone" && python3 -m wyoming_server.cli.health --help >/dev/null

# Voices, models, the cache and the admin token live in the volume: they survive restarts and upgrades.
VOLUME /data
ENV EDGE_TTS_CLONE_DATA_DIR=/data
USER edge-tts-clone
WORKDIR /data
# 10210: Wyoming (Home Assistant); 10211: admin API and web page.
EXPOSE 10210/tcp 10211/tcp
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python3", "-m", "wyoming_server.cli.health"]
# Arguments are `serve` flags (`docker run IMAGE --threads 2`); EDGE_TTS_CLONE_<FLAG> variables work too.
# SIGTERM: replies in progress get --shutdown-grace (5 s) to finish, inside Docker's 10 s stop timeout.
ENTRYPOINT ["edge-tts-clone"]
