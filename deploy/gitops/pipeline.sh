#!/bin/sh
# The steps of strangler's delivery pipeline, one subcommand each; the GitHub Actions
# workflow (github-actions.yaml) and the Tekton tasks (tekton/) both run them, from the
# repository's root:
#
#   deploy/gitops/pipeline.sh images                      the images (ROLES= picks some)
#   deploy/gitops/pipeline.sh build REGISTRY TAG          build (and push with PUSH=1)
#   deploy/gitops/pipeline.sh scan REGISTRY TAG           Trivy, when it is installed
#   deploy/gitops/pipeline.sh render SPEC OUT REGISTRY TAG [REPO_URL REPO_PATH REVISION]
#   deploy/gitops/pipeline.sh apply OUT ENV               kubectl apply -k OUT/overlays/ENV
#
# The builder is buildah when present, docker otherwise (BUILDER= chooses); BASE (the roles')
# and AIRFLOW_BASE (the Airflow image's), when set, are passed as the base-image argument. TRIVY_SEVERITY (default HIGH,CRITICAL)
# names the findings that fail the scan.
set -eu

images() {
    if [ -n "${ROLES:-}" ]; then
        for role in $(echo "$ROLES" | tr ',' ' '); do
            echo "$role"
        done
        return
    fi
    for dockerfile in deploy/images/*.Dockerfile; do
        basename "$dockerfile" .Dockerfile
    done
}

builder() {
    if [ -n "${BUILDER:-}" ]; then
        echo "$BUILDER"
    elif command -v buildah >/dev/null 2>&1; then
        echo buildah
    elif command -v docker >/dev/null 2>&1; then
        echo docker
    else
        echo "pipeline.sh: neither buildah nor docker is installed" >&2
        exit 1
    fi
}

build() {
    registry=$1 tag=$2 tool=$(builder)
    for role in $(images); do
        ref="$registry/strangler-$role:$tag"
        echo "building $ref with $tool"
        base=${BASE:-}
        [ "$role" = airflow ] && base=${AIRFLOW_BASE:-}
        if [ -n "$base" ]; then
            set -- --build-arg "BASE=$base"
        else
            set --
        fi
        if [ "$tool" = buildah ]; then
            buildah build --layers "$@" -f "deploy/images/$role.Dockerfile" -t "$ref" .
        else
            docker build "$@" -f "deploy/images/$role.Dockerfile" -t "$ref" .
        fi
        if [ "${PUSH:-0}" = 1 ]; then
            "$tool" push "$ref"
        fi
    done
}

scan() {
    registry=$1 tag=$2
    if ! command -v trivy >/dev/null 2>&1; then
        echo "trivy is not installed: the images are not scanned"
        return 0
    fi
    for role in $(images); do
        ref="$registry/strangler-$role:$tag"
        echo "scanning $ref"
        trivy image --exit-code 1 --ignore-unfixed --no-progress \
            --severity "${TRIVY_SEVERITY:-HIGH,CRITICAL}" "$ref"
    done
}

render() {
    spec=$1 out=$2 registry=$3 tag=$4
    if [ $# -ge 5 ]; then
        strangler render k8s "$spec" "$out" --tag "$tag" \
            --repo-url "$5" --repo-path "$6" --revision "${7:-HEAD}"
    else
        strangler render k8s "$spec" "$out" --tag "$tag"
    fi
    # The overlays name the images bare: point every overlay at the images this run pushed.
    for overlay in "$out"/overlays/*/kustomization.yaml; do
        sed -i -e "s|^- name: strangler-\(.*\)\$|- name: strangler-\\1\\n  newName: $registry/strangler-\\1|" \
            -e "s|^  newTag: .*\$|  newTag: $tag|" "$overlay"
    done
    echo "rendered $spec into $out for $registry, tag $tag"
}

apply() {
    out=$1 env=$2
    kubectl apply -k "$out/overlays/$env"
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
    images) images ;;
    build) build "$@" ;;
    scan) scan "$@" ;;
    render) render "$@" ;;
    apply) apply "$@" ;;
    *)
        echo "usage: pipeline.sh images | build | scan | render | apply (see its header)" >&2
        exit 2
        ;;
esac
