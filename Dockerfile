# syntax=docker/dockerfile:1

# ---- build ----------------------------------------------------------------
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# build.rs reads the revision for build_info; .git is not in the build context:
#   docker build --build-arg CDB_EXPORTER_REVISION="$(git rev-parse --short=12 HEAD)" .
ARG CDB_EXPORTER_REVISION=""
# Cache mounts keep the crate registry and the compiled dependencies between
# builds, so a source change recompiles only this crate. target/ lives in the
# cache, hence the copy of the binary out of it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && cp target/release/cdb-rollback-exporter /usr/local/bin/cdb-rollback-exporter

# ---- runtime --------------------------------------------------------------
# Debian 12 glibc matches the builder's; the binary links glibc dynamically.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG CDB_EXPORTER_REVISION=""
LABEL org.opencontainers.image.title="cdb-rollback-exporter" \
      org.opencontainers.image.revision="${CDB_EXPORTER_REVISION}" \
      org.opencontainers.image.description="Prometheus exporter for Tencent Cloud CDB for MySQL rollback jobs" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /usr/local/bin/cdb-rollback-exporter /usr/local/bin/cdb-rollback-exporter
# Numeric, so that Kubernetes can verify runAsNonRoot.
USER 65532:65532
EXPOSE 9867
ENTRYPOINT ["/usr/local/bin/cdb-rollback-exporter"]
CMD ["--config.file=/etc/cdb-rollback-exporter/config.yml"]
