# hack/vm/lib.sh: what the VM lanes (run.sh, systemd.sh) share; sourced after they define log.
# shellcheck shell=bash

# build_binaries: sets nook (NOOK_VM_NOOK, else this tree's release build, with the programs
# nook runs from next to itself) and testbin (NOOK_VM_TESTBIN; "none" for no integration tests;
# else the oci-integration test binary cargo builds), from the repo root.
build_binaries() {
    nook=${NOOK_VM_NOOK:-}
    if [ -z "$nook" ]; then
        log "building nook (release)"
        cargo build --release --bins --quiet
        nook=$repo/target/x86_64-unknown-linux-gnu/release/nook
    fi
    testbin=${NOOK_VM_TESTBIN:-}
    if [ -z "$testbin" ]; then
        log "building the OCI integration tests"
        # The executable's path is only known from cargo's JSON messages.
        testbin=$(cargo test --test oci-integration --no-run --message-format=json 2>/dev/null |
            grep -o '"executable":"[^"]*oci_integration-[^"]*"' | tail -n 1 | cut -d'"' -f4 || true)
        if [ -z "$testbin" ]; then
            log "cannot build or find the oci-integration test binary"
            exit 1
        fi
    elif [ "$testbin" = none ]; then
        testbin=""
    fi
}
