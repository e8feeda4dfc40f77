# The toolchain image: everything the compile step needs, nothing of the program.
# No '# syntax=' line: that would pull a frontend image from Docker Hub.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG DEBIAN_FRONTEND=noninteractive
# The clean-up also drops what apt and dpkg stamp with the time of the build
# (logs, binary caches, *-old backups, ldconfig's aux-cache): with them the
# same packages would give a new digest on every rebuild from scratch.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev make \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/* /var/cache/ldconfig/aux-cache \
           /var/cache/debconf/*-old /var/lib/dpkg/*-old
