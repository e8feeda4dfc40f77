# The image people run. 'artifact' is a named build context the caller supplies:
#   --build-context artifact=docker-image://REPO@sha256:...   or bake: contexts = { artifact = "target:artifact" }
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ARG APP_VERSION=0.1.0
LABEL org.opencontainers.image.title="imagefleet-example" \
      org.opencontainers.image.version="${APP_VERSION}"
COPY --from=artifact /artifact/bin/hello /usr/local/bin/hello
# Cheap smoke test on the target platform (under QEMU for a foreign one).
RUN /usr/local/bin/hello
ENTRYPOINT ["/usr/local/bin/hello"]
