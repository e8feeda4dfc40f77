# The toolchain image: everything the compile step needs, nothing of the program.
# No '# syntax=' line: that would pull a frontend image from Docker Hub.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make && rm -rf /var/lib/apt/lists/*
