# Compiles the program in the dev-env image and ships the binary in a minimal carrier.
# 'dev-env' is a named build context the caller supplies:
#   --build-context dev-env=docker-image://REPO@sha256:...   or bake: contexts = { dev-env = "target:dev-env" }
# ARGs used in FROM must come before the first FROM.
ARG BUSYBOX_IMAGE=busybox:1.36

FROM dev-env AS build
ARG APP_VERSION=0.1.0
# Number of generated functions: sets the compile step's cost.
ARG FUNCTIONS=3500
WORKDIR /src
COPY src/ ./
RUN sh gen.sh "$FUNCTIONS" 8 gen && make -j"$(nproc)" VERSION="$APP_VERSION" && ./hello

FROM ${BUSYBOX_IMAGE}
COPY --from=build /src/hello /artifact/bin/hello
