# tend in a container: an image whose entrypoint is `tend init --` (PID 1: reaps, forwards
# signals, stops every process of the container gracefully). Build and use:
#
#   docker build -t tend .
#   docker run --rm tend                      # `tend doctor`: what containment the container gets
#   docker run --rm tend sh -c 'sleep 1 & exec sleep 2'
#
# Use it as a base: FROM tend, then your CMD. Cgroups in containers: docs/container.md.

# The .deb, built with the commands CI runs (tests/install/dockerfile_test.sh checks that).
FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/
RUN ./scripts/deps.sh
COPY . .
RUN ./scripts/package.sh build-deb /out

FROM debian:12-slim
COPY --from=build /out/ /tmp/tend/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/tend/tend_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/tend
ENTRYPOINT ["tend", "init", "--"]
CMD ["tend", "doctor"]
