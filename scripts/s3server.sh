#!/usr/bin/env bash
# Run a local S3-compatible server (versitygw, posix backend) for creditmeter.
#
#   scripts/s3server.sh install        install versitygw into .cache/bin (once; a few minutes)
#   scripts/s3server.sh [start]        install if missing, start on 127.0.0.1 with a free port
#                                      and a temporary data directory, wait for /health, and
#                                      print the environment to use; Ctrl-C stops it
#
# Environment: S3_PORT (default: a free port), S3_DATA (default: a new temporary directory),
# ROOT_ACCESS_KEY / ROOT_SECRET_KEY (default: creditmeter-local / creditmeter-local-secret).
set -euo pipefail

VERSION=v1.8.0
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="$ROOT/.cache/bin"
BIN="$BIN_DIR/versitygw"

install() {
	if [[ -x "$BIN" ]]; then
		return
	fi
	mkdir -p "$BIN_DIR"
	echo "installing versitygw $VERSION into $BIN_DIR (a few minutes, once)" >&2
	(cd "${TMPDIR:-/tmp}" && GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VERSION")
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

start() {
	install
	port="${S3_PORT:-$(free_port)}"
	data="${S3_DATA:-}"
	own_data=0
	if [[ -z "$data" ]]; then
		data="$(mktemp -d "${TMPDIR:-/tmp}/creditmeter-s3-XXXXXX")"
		own_data=1
	fi
	export ROOT_ACCESS_KEY="${ROOT_ACCESS_KEY:-creditmeter-local}"
	export ROOT_SECRET_KEY="${ROOT_SECRET_KEY:-creditmeter-local-secret}"
	"$BIN" --port "127.0.0.1:$port" --health /health --quiet posix "$data" &
	pid=$!
	cleanup() {
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		if [[ $own_data == 1 ]]; then rm -rf "$data"; fi
	}
	trap cleanup EXIT INT TERM
	for _ in $(seq 1 300); do
		if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
			cat <<MSG
versitygw is up on http://127.0.0.1:$port (data: $data). Point creditmeter at it with:

  export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port
  export AWS_ACCESS_KEY_ID=$ROOT_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$ROOT_SECRET_KEY AWS_REGION=us-east-1

Create buckets with any S3 client (aws s3 mb s3://ai-events). Ctrl-C stops it.
MSG
			wait "$pid"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "versitygw exited" >&2
			exit 1
		fi
		sleep 0.05
	done
	echo "versitygw did not answer /health" >&2
	exit 1
}

case "${1:-start}" in
install) install ;;
start) start ;;
*)
	echo "usage: $0 [install|start]" >&2
	exit 2
	;;
esac
