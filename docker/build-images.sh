#!/usr/bin/env bash
# Build manrs-lab's container images, offline (no image registry needed).
#
#   docker/build-images.sh [--only NAME...] [--no-cache] [--no-pin] [-v|--verbose]
#
# NAME: frr bird rtr host lab (default: all). Each image is tagged manrs-lab/<name>:latest.
# `lab` is the all-in-one image (FRR, BIRD, stayrtr, the package, JupyterLab); its build
# context is the repository's committed files (`git archive HEAD`: uncommitted changes, a
# notebook's outputs, stay out; a copy of the working tree only outside a git checkout),
# staged (see docker/lab/Dockerfile): the package, labs/, topologies/, notebooks/ (the .ipynb
# files), docker/lab/; PIP_CERT (or the `cert` of /etc/pip.conf), when set, is the CA bundle
# pip trusts during that build. A rebuild leaves no untagged images: the image it replaces is
# removed (unless a container uses it), and the Python stage is kept as
# manrs-lab/lab-build-cache:<tag> (what the next build reuses) instead of an untagged image.
# First makes the base image with docker/build-base.sh (debootstrap + docker import; skipped
# when it exists), then builds every image FROM it with --build-arg BASE=<base image>.
# Daemon versions are pinned to the natively installed Debian packages when the host has them
# (and the mirror still offers that version); --no-pin takes whatever the mirror has.
#
# Environment:
#   BASE_IMAGE  base to build FROM (default manrs-lab/base:bookworm, made by build-base.sh;
#               set BASE_IMAGE=debian:bookworm-slim where a registry is reachable)
#   LOG_DIR     where per-image build logs go (default /tmp/manrs-lab-build)
#   LAB_IMAGE_TAG  the lab image's tag (default latest): a second working tree builds and
#               tests its own lab image without rebuilding another's. Node images stay :latest
#               (topology files name them).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
IRRD_VERSION=$(sed -n 's/^IRRD_VERSION=//p' "$REPO/install.sh")  # the labs' registry server
ALL_IMAGES=(frr bird rtr host lab)
BASE_IMAGE=${BASE_IMAGE:-manrs-lab/base:bookworm}
LOG_DIR=${LOG_DIR:-/tmp/manrs-lab-build}
LAB_IMAGE_TAG=${LAB_IMAGE_TAG:-latest}
ONLY=()
NO_CACHE=()
PIN=1
VERBOSE=0

say() { printf 'build-images: %s\n' "$*"; }
die() { printf 'build-images: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --only)
            shift
            while [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; do ONLY+=("$1"); shift; done
            [ ${#ONLY[@]} -gt 0 ] || die "--only needs at least one image name (${ALL_IMAGES[*]})"
            continue ;;
        --no-cache) NO_CACHE=(--no-cache) ;;
        --no-pin) PIN=0 ;;
        -v|--verbose) VERBOSE=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

IMAGES=("${ALL_IMAGES[@]}")
if [ ${#ONLY[@]} -gt 0 ]; then
    for name in "${ONLY[@]}"; do
        [ -f "$HERE/$name/Dockerfile" ] || die "unknown image '$name' (known: ${ALL_IMAGES[*]})"
    done
    IMAGES=("${ONLY[@]}")
fi

# --- the engine -----------------------------------------------------------------------------
command -v docker >/dev/null 2>&1 \
    || die "docker is not installed. Run docker/start-dockerd.sh (installs docker.io and starts dockerd)."
if ! docker info >/dev/null 2>&1; then
    die "the Docker engine is not running (docker info fails). Start it with docker/start-dockerd.sh."
fi
# Without the buildx plugin, the docker CLI can only use the classic builder.
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
fi

mkdir -p "$LOG_DIR"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- the base image -------------------------------------------------------------------------
# Only our own base is made here; any other BASE_IMAGE is pulled by `docker build` as usual.
if [ "${BASE_IMAGE%%:*}" = "manrs-lab/base" ]; then
    t0=$(now)
    if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        say "[base] $BASE_IMAGE: building with debootstrap (about a minute)"
    fi
    BASE_IMAGE=$BASE_IMAGE "$HERE/build-base.sh" 2>"$LOG_DIR/base.log" \
        || { cat "$LOG_DIR/base.log" >&2; die "base image $BASE_IMAGE failed (log: $LOG_DIR/base.log)"; }
    say "[base] $BASE_IMAGE ready in $(elapsed "$t0")s"
fi

# --- version pins: the natively installed packages -------------------------------------------
pin_arg() {  # ARGNAME debian-package
    [ "$PIN" -eq 1 ] || return 0
    local ver
    ver=$(dpkg-query -W -f '${db:Status-Abbrev} ${Version}' "$2" 2>/dev/null | awk '$1 == "ii" { print $2 }') || true
    [ -n "$ver" ] || return 0
    if apt-cache show "$2=$ver" >/dev/null 2>&1; then
        printf -- '--build-arg\n%s=%s\n' "$1" "$ver"
    else
        say "note: $2 $ver (installed here) is not offered by the mirror; not pinning" >&2
    fi
}

versions_of() {  # image -> "pkg version, ..."
    local pkgs
    case "$1" in
        frr) pkgs="frr frr-rpki-rtrlib" ;;
        bird) pkgs="bird2" ;;
        rtr) pkgs="stayrtr" ;;
        lab) pkgs="frr bird2 stayrtr python3" ;;
        *) pkgs="python3 iproute2" ;;
    esac
    # shellcheck disable=SC2086
    local image="manrs-lab/$1:latest"
    [ "$1" = lab ] && image="manrs-lab/lab:$LAB_IMAGE_TAG"
    docker run --rm --network none --entrypoint dpkg-query "$image" \
        -W -f '${Package} ${Version}\n' $pkgs 2>/dev/null | paste -sd, - | sed 's/,/, /g'
}

# --- what an image was built from ----------------------------------------------------------
# A node image is labelled with a hash of its folder (docker/<name>/), the lab image with a hash
# of its staged context (the package, labs, topologies, notebooks; not the build's CA), so tests
# can tell a stale image from a current one (tests/containers/clab_support.py computes the same).
context_hash() {  # folder [path to leave out] -> sha256 over each file's sha256sum line, in C order
    (cd "$1" && find . -path "${2:-./-}" -prune -o -type f -print0 | LC_ALL=C sort -z \
        | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

# --- the lab image's build context ------------------------------------------------------------
LAB_CONTEXT=
cleanup_context() { [ -z "$LAB_CONTEXT" ] || rm -rf "$LAB_CONTEXT"; }
trap cleanup_context EXIT
stage_lab_context() {
    local ca
    LAB_CONTEXT=$(mktemp -d /tmp/manrs-lab-context.XXXXXX)
    mkdir -p "$LAB_CONTEXT/package" "$LAB_CONTEXT/notebooks" "$LAB_CONTEXT/build-ca"
    local from_git=0
    if git -C "$REPO" rev-parse --verify -q HEAD >/dev/null 2>&1; then
        from_git=1
        local dirty
        dirty=$(git -C "$REPO" status --porcelain -- pyproject.toml README.md LICENSE src labs \
            topologies notebooks docker/lab | head -n 5)
        if [ -n "$dirty" ]; then
            say "note: building the lab image from the last commit ($(git -C "$REPO" rev-parse --short HEAD)); not in it:"
            printf '%s\n' "$dirty" | sed 's/^/    /'
        fi
    else
        say "note: not a git checkout: the lab image is built from the files as they are"
    fi
    copy_into() {  # destination, paths relative to the repository (missing ones skipped)
        local dest=$1 have=() q
        shift
        for q in "$@"; do
            if [ -e "$REPO/$q" ]; then have+=("$q"); fi
        done
        [ ${#have[@]} -gt 0 ] || return 0
        if [ "$from_git" -eq 1 ]; then
            git -C "$REPO" archive --format=tar HEAD -- "${have[@]}" | tar -C "$dest" -xf -
        else
            tar -C "$REPO" --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' \
                --exclude='.ipynb_checkpoints' --exclude='.manrs-lab' -cf - "${have[@]}" \
                | tar -C "$dest" -xf -
        fi
    }
    copy_into "$LAB_CONTEXT/package" pyproject.toml README.md LICENSE src
    copy_into "$LAB_CONTEXT" labs topologies notebooks docker/lab
    # The learner's notebooks folder holds the notebooks, not the script that generates them.
    find "$LAB_CONTEXT/notebooks" -type f ! -name '*.ipynb' ! -name 'README.md' -delete
    # pyproject.toml names README.md as the long description.
    [ -f "$LAB_CONTEXT/package/README.md" ] || printf '# manrs-lab\n' >"$LAB_CONTEXT/package/README.md"
    # Behind a TLS-inspecting proxy, pip in the build trusts what the host's pip trusts.
    ca=${PIP_CERT:-}
    if [ -z "$ca" ] && [ -r /etc/pip.conf ]; then
        ca=$(awk -F' *= *' '$1 == "cert" { print $2; exit }' /etc/pip.conf)
    fi
    if [ -n "$ca" ] && [ -f "$ca" ]; then cp "$ca" "$LAB_CONTEXT/build-ca/ca.pem"; fi
}

# --- no untagged images left behind -----------------------------------------------------------
remove_replaced() {  # tag, id it had before the build: that image, if nothing uses it any more
    local new
    new=$(docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true)
    [ -n "$2" ] && [ "$2" != "$new" ] || return 0
    if [ -z "$(docker image inspect -f '{{join .RepoTags ","}}' "$2" 2>/dev/null)" ] \
        && [ -z "$(docker ps -aq --filter "ancestor=$2")" ]; then
        docker image rm "$2" >/dev/null 2>&1 && say "removed the image $1 replaced (${2#sha256:})" || true
    fi
}

keep_stage_cache() {  # stage label: tag this build's Python stage, remove the stages it replaced
    local cache="manrs-lab/lab-build-cache:$LAB_IMAGE_TAG" ids newest id
    ids=$(docker images -q --no-trunc --filter "label=org.manrs-lab.stage=$1")
    newest=$(printf '%s\n' "$ids" | head -n 1)
    [ -n "$newest" ] || return 0
    docker tag "$newest" "$cache"
    for id in $ids; do
        [ "$id" = "$newest" ] && continue
        if [ -z "$(docker image inspect -f '{{join .RepoTags ","}}' "$id" 2>/dev/null)" ]; then
            docker image rm "$id" >/dev/null 2>&1 || true
        fi
    done
}

# --- the images -----------------------------------------------------------------------------
total0=$(now)
n=0
for name in "${IMAGES[@]}"; do
    n=$((n + 1))
    tag="manrs-lab/$name:latest"
    [ "$name" = lab ] && tag="manrs-lab/lab:$LAB_IMAGE_TAG"
    args=(--build-arg "BASE=$BASE_IMAGE" -t "$tag" "${NO_CACHE[@]}")
    case "$name" in
        frr) mapfile -t pins < <(pin_arg FRR_VERSION frr) ;;
        bird) mapfile -t pins < <(pin_arg BIRD_VERSION bird2) ;;
        rtr) mapfile -t pins < <(pin_arg STAYRTR_VERSION stayrtr) ;;
        lab) mapfile -t pins < <(pin_arg FRR_VERSION frr; pin_arg BIRD_VERSION bird2
                                 pin_arg STAYRTR_VERSION stayrtr
                                 # IRRd: the version install.sh installs (one place says it)
                                 printf -- '--build-arg\nIRRD_VERSION=%s\n' "$IRRD_VERSION") ;;
        *) pins=() ;;
    esac
    args+=("${pins[@]}")
    context=("$HERE/$name")
    old_id=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    stage_label="manrs-lab-venv-$LAB_IMAGE_TAG"
    if [ "$name" = lab ]; then
        stage_lab_context
        args+=(--build-arg "STAGE_LABEL=$stage_label")
        args+=(--label "org.manrs-lab.context=$(context_hash "$LAB_CONTEXT" ./build-ca)")
        context=(-f "$LAB_CONTEXT/docker/lab/Dockerfile" "$LAB_CONTEXT")
    else
        args+=(--label "org.manrs-lab.context=$(context_hash "$HERE/$name")")
    fi
    log="$LOG_DIR/$name.log"
    t0=$(now)
    if [ "$VERBOSE" -eq 1 ]; then
        docker build "${args[@]}" "${context[@]}" 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
    else
        rc=0
        docker build "${args[@]}" "${context[@]}" >"$log" 2>&1 || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        tail -n 25 "$log" >&2
        die "[$n/${#IMAGES[@]}] $tag failed after $(elapsed "$t0")s (full log: $log)"
    fi
    remove_replaced "$tag" "$old_id"
    [ "$name" = lab ] && keep_stage_cache "$stage_label"
    size=$(docker image inspect -f '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')
    say "[$n/${#IMAGES[@]}] $tag built in $(elapsed "$t0")s ($size; $(versions_of "$name"))"
done
say "done: ${#IMAGES[@]} image(s) in $(elapsed "$total0")s"
