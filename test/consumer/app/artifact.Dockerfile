# Compiles once per platform in the dev-env; both runtimes copy from here.
FROM dev-env AS build
WORKDIR /src
COPY src/ .
RUN make

FROM scratch
COPY --from=build /src/out/ /out/
