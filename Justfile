# weir tasks. Each recipe is a plain go command; `just ci` is exactly what CI runs.
set shell := ["bash", "-euo", "pipefail", "-c"]

# list the recipes
default:
    @just --list

# run weir with the embedded defaults (data in ./weir-data, 127.0.0.1:4195); extra args go to serve
run *ARGS:
    go run ./cmd/weir serve {{ARGS}}

# the whole test suite, as in the README
test:
    go test ./...

# the race detector on the concurrent core
race:
    go test -race ./wal/ ./actors/

# every Fuzz* target in the module, TIME each (go test runs one fuzz target at a time)
fuzz TIME="30s":
    for pkg in $(go list ./...); do \
      for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do \
        echo "== $pkg $target"; \
        go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime {{TIME}}; \
      done; \
    done

# every benchmark (figures go to docs/benchmarks.md); PKGS narrows it, e.g. `just bench ./wal/`
bench PKGS="./..." COUNT="1":
    go test -run '^$' -bench . -benchmem -count {{COUNT}} {{PKGS}}

# gofmt, vet, go.mod/go.sum tidiness (check only, changes nothing) and race on wal/ and actors/
verify:
    test -z "$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
    go vet ./...
    go mod tidy -diff
    go test -race ./wal/ ./actors/

# what CI runs
ci:
    .ci/run
