#!/usr/bin/env bash
# Builds the images tenantctl's default config uses, from Debian packages only:
# debootstrap -> docker import -> small Dockerfiles on top. No container registry is needed,
# which is how an operator on an air-gapped host (with an internal Debian mirror) would do it.
# Idempotent: an image whose recipe has not changed is kept (the recipe hash is an image label).
#
# Env: TENANTCTL_DEBIAN_MIRROR (default http://deb.debian.org/debian), TENANTCTL_IMAGE_CACHE
#      (where the rootfs tarball is cached, default ~/.cache/tenantctl), FORCE=1 rebuilds all,
#      TENANTCTL_IMAGE_NAMESPACE (default tenantctl): the repository prefix of every image built,
#      e.g. tenantctl-next to build and try new recipes beside the images in use
#      (tenantctl-next/postgres:15, ...) without touching them.
set -euo pipefail
cd "$(dirname "$0")/.."

mirror="${TENANTCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${TENANTCTL_IMAGE_CACHE:-$HOME/.cache/tenantctl}"
packages="postgresql-15,redis-server,nodejs,tini,ca-certificates"
# Bump when the rootfs recipe (the debootstrap and import steps below) changes; the package list is
# part of the recipe already. Editing the rest of this script must not trigger a new debootstrap.
base_recipe_version=1
namespace="${TENANTCTL_IMAGE_NAMESPACE:-tenantctl}"
if ! [[ "$namespace" =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]]; then
  printf '[build-images] TENANTCTL_IMAGE_NAMESPACE=%q is not a valid image repository prefix\n' "$namespace" >&2; exit 1
fi
base_image="$namespace/debian-base:bookworm"

log() { printf '[build-images] %s\n' "$*" >&2; }

# docker_build ARGS...: quiet unless it fails (the legacy builder also warns on every success).
docker_build() {
  local out
  out=$(docker build -q "$@" 2>&1) || { printf '%s\n' "$out" >&2; log "docker build failed"; exit 1; }
}

# hash_of FILE... -> a short content hash used as the image's recipe label
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

image_label() { docker image inspect --format '{{ index .Config.Labels "tenantctl.recipe" }}' "$1" 2>/dev/null || true; }

build_base() {
  local recipe; recipe=$(printf 'v%s %s' "$base_recipe_version" "$packages" | sha256sum | cut -c1-16)
  if [ "${FORCE:-0}" != 1 ] && [ "$(image_label "$base_image")" = "$recipe" ]; then
    log "$base_image is up to date"; return
  fi
  mkdir -p "$cache"
  local tarball="$cache/rootfs-$recipe.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install debootstrap"; exit 1; }
    local root; root=$(mktemp -d /tmp/tenantctl-rootfs.XXXXXX)
    trap 'rm -rf "$root"' RETURN
    log "debootstrap bookworm ($packages) from $mirror; takes about a minute"
    debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { log "debootstrap failed; see $cache/debootstrap.log"; tail -5 "$cache/debootstrap.log" >&2; exit 1; }
    # Keep the image lean: package caches and lists are not needed at run time.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  fi
  log "importing $base_image"
  docker import --change "LABEL tenantctl.recipe=$recipe" --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' "$tarball" "$base_image" >/dev/null
}

# build_from_dir IMAGE DIR [docker build args...]
build_from_dir() {
  local image="$1" dir="$2"; shift 2
  local recipe; recipe=$(hash_of $(find "$dir" -type f | sort) <(docker image inspect --format '{{.Id}}' "$base_image"))
  if [ "${FORCE:-0}" != 1 ] && [ "$(image_label "$image")" = "$recipe" ]; then
    log "$image is up to date"; return
  fi
  log "building $image"
  docker_build --label "tenantctl.recipe=$recipe" --build-arg BASE_IMAGE="$base_image" -t "$image" "$@" "$dir"
}

# The tenant app image: Dockerfile.multitenant on top of the node image, built from the repo
# root (.dockerignore narrows the context to dist/app). The recipe covers the Dockerfile, the
# bundle and the node image it builds on, so a rebuilt bundle or base makes a new app image.
build_app() {
  local image="$namespace/app:latest" node_image="$namespace/node:bookworm"
  # Re-bundle whenever the bundler is installed (it takes a fraction of a second), so a stale
  # dist/app never ends up in the image; without node_modules, an existing bundle is used.
  if [ -d node_modules/esbuild ]; then
    node scripts/bundle-app.mjs
  elif [ ! -s dist/app/server.cjs ] || [ ! -s dist/app/healthcheck.sh ] || [ ! -s dist/app/entrypoint.sh ]; then
    log "dist/app is missing and esbuild is not installed: run npm ci first"; exit 1
  fi
  local recipe; recipe=$(hash_of Dockerfile.multitenant dist/app/server.cjs dist/app/healthcheck.sh dist/app/entrypoint.sh <(docker image inspect --format '{{.Id}}' "$node_image"))
  if [ "${FORCE:-0}" != 1 ] && [ "$(image_label "$image")" = "$recipe" ]; then
    log "$image is up to date"; return
  fi
  log "building $image"
  docker_build --label "tenantctl.recipe=$recipe" --build-arg NODE_IMAGE="$node_image" \
    -f Dockerfile.multitenant -t "$image" .
}

# The front door's gateway (apps/gateway): its bundle on top of the node image, built with
# dist/gateway as the context. The recipe covers the Dockerfile, the bundle and the node image.
build_gateway() {
  local image="$namespace/gateway:latest" node_image="$namespace/node:bookworm"
  if [ -d node_modules/esbuild ]; then
    node scripts/bundle-gateway.mjs >/dev/null
  elif [ ! -s dist/gateway/server.cjs ]; then
    log "dist/gateway is missing and esbuild is not installed: run npm ci first"; exit 1
  fi
  local recipe; recipe=$(hash_of images/gateway/Dockerfile dist/gateway/server.cjs <(docker image inspect --format '{{.Id}}' "$node_image"))
  if [ "${FORCE:-0}" != 1 ] && [ "$(image_label "$image")" = "$recipe" ]; then
    log "$image is up to date"; return
  fi
  log "building $image"
  docker_build --label "tenantctl.recipe=$recipe" --build-arg NODE_IMAGE="$node_image" \
    -f images/gateway/Dockerfile -t "$image" dist/gateway
}

# The agent's base image: images/agent on top of the node image; apt-get fetches docker.io (bookworm)
# and compose v2 (trixie's docker-compose package, its plugin binary only) during the build.
build_agent_base() {
  local image="$namespace/agent-base:bookworm" node_image="$namespace/node:bookworm"
  local recipe; recipe=$(hash_of images/agent/Dockerfile <(docker image inspect --format '{{.Id}}' "$node_image"))
  if [ "${FORCE:-0}" != 1 ] && [ "$(image_label "$image")" = "$recipe" ]; then
    log "$image is up to date"; return
  fi
  log "building $image"
  docker_build --label "tenantctl.recipe=$recipe" --build-arg NODE_IMAGE="$node_image" --build-arg DEBIAN_MIRROR="$mirror" \
    -t "$image" images/agent
}

# build_with_context IMAGE DOCKERFILE_DIR CONTEXT: a Dockerfile in images/ whose files come from
# another folder (the frontbase stand-ins: apps/frontbase/). The recipe covers both folders and the base.
build_with_context() {
  local image="$1" dockerfile_dir="$2" context="$3"
  local recipe; recipe=$(hash_of $(find "$dockerfile_dir" "$context" -type f | sort) <(docker image inspect --format '{{.Id}}' "$base_image"))
  if [ "${FORCE:-0}" != 1 ] && [ "$(image_label "$image")" = "$recipe" ]; then
    log "$image is up to date"; return
  fi
  log "building $image"
  docker_build --label "tenantctl.recipe=$recipe" --build-arg BASE_IMAGE="$base_image" -t "$image" \
    -f "$dockerfile_dir/Dockerfile" "$context"
}

build_base
build_from_dir "$namespace/postgres:15" images/postgres
build_from_dir "$namespace/redis:7" images/redis
build_from_dir "$namespace/node:bookworm" images/node
build_app
build_from_dir "$namespace/nginx:bookworm" images/nginx
build_gateway
# What the tenantctl agent runs on (images/agent: the docker CLI and compose v2 on the node image);
# `tenantctl agent up` copies the CLI bundle onto it (src/agent/image.ts).
build_agent_base
# The frontbase template's stand-in images (templates/frontbase/), from Debian packages too.
build_with_context "$namespace/frontbase-backend:latest" images/frontbase-backend apps/frontbase
build_with_context "$namespace/frontbase-edge:latest" images/frontbase-edge apps/frontbase
build_with_context "$namespace/frontbase-frontend:latest" images/frontbase-frontend apps/frontbase
build_with_context "$namespace/webdis:latest" images/webdis apps/frontbase
# Images replaced by a rebuild are left untagged; remove those of ours, nothing else.
docker image prune -f --filter label=tenantctl.recipe >/dev/null
