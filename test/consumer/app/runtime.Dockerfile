# Two runtimes from one artifact: `--target api` and `--target worker`.
FROM debian:bookworm-slim AS api
COPY --from=artifact /out/api /usr/local/bin/api
ENTRYPOINT ["/usr/local/bin/api"]

FROM debian:bookworm-slim AS worker
COPY --from=artifact /out/worker /usr/local/bin/worker
ENTRYPOINT ["/usr/local/bin/worker"]
