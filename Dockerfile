# authd's container image: the static binary alone, as an unprivileged user, its data in a volume.
# It is built from a binary that `go build` made, so building it pulls no image:
#
#   CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o authd ./cmd/authd
#   docker build -t authd .
#   docker run -p 8000:8000 -v authd-data:/data authd
#
# The binary carries its root certificates (for Google and SMTP over TLS) and its migrations.
FROM scratch
COPY authd /authd
COPY --chown=65532:65532 --chmod=700 deploy/data /data
USER 65532:65532
ENV AUTH_ADDR=0.0.0.0:8000 \
    AUTH_DATABASE_URL=sqlite:/data/authd.db \
    TMPDIR=/data
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["/authd"]
