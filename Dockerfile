# share-bucket bot container: a static binary on distroless, running as
# non-root (uid 65532), with its SQLite state in a volume.
#
#   docker build -t share-bucket .
#   docker run -d --name share-bucket \
#     -e SLACK_APP_TOKEN -e SLACK_BOT_TOKEN -e COLLABORATOR_ROLE_ARN \
#     -e APPROVERS -e ALLOWED_BUCKETS -e APPROVAL_CHANNEL -e AWS_REGION \
#     -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN \
#     -v share-bucket-state:/var/lib/share-bucket -p 8080:8080 share-bucket
#
# AWS credentials come from the SDK's chain: the variables above, or a
# profile (-e AWS_PROFILE -v ~/.aws:/home/nonroot/.aws:ro), or the ECS task
# or EC2 instance role with nothing passed. docker stop's default 10 s is
# enough: on SIGTERM the bot finishes work in flight within 8 s and exits.
#
# A named volume takes the directory's owner (65532) from the image. A bind
# mount keeps the host directory's owner: chown it to 65532 first. Several
# replicas must share a PostgreSQL DATABASE_URL instead of the SQLite file.

# Build stage. The Debian-based golang image has make. go.mod asks for Go
# 1.26.8 or later and the image sets GOTOOLCHAIN=local, so an older 1.26
# image fails with a clear message instead of downloading a toolchain.
FROM golang:1.26 AS build
WORKDIR /src
ENV CGO_ENABLED=0

# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

# The same command as a developer's `make build`:
# CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/bot ./cmd/bot
COPY . .
RUN make build

# The state directory, owned by the runtime user, so that a new named
# volume mounted there is writable by it.
RUN install -d -m 0750 /state

# Runtime stage: CA certificates and tzdata, no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/bot /bot
COPY --from=build --chown=65532:65532 /state /var/lib/share-bucket

ENV DATABASE_URL=sqlite:/var/lib/share-bucket/share-bucket.db \
    HTTP_ADDR=:8080
VOLUME ["/var/lib/share-bucket"]
# /healthz, /readyz and /metrics. Slack needs no inbound port (Socket Mode).
EXPOSE 8080
USER 65532:65532

# There is no shell or curl in the image: the binary probes itself
# (GET http://127.0.0.1:8080/healthz, following HTTP_ADDR; exit 0 or 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/bot", "healthcheck"]

ENTRYPOINT ["/bot"]
