"""Build FerretDB v1.24.2 once from the Go module proxy and cache the binary.

`go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` asks the proxy for the
module's version list to check for deprecation, and a proxy that only serves exact versions
refuses that. So the exact version is downloaded (`go mod download`), copied out of the
read-only module cache, stamped with its version (FerretDB's build refuses to start without
build/version/version.txt, normally written by its release tooling) and built.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from score_devenv.paths import cache_dir

MODULE = "github.com/FerretDB/FerretDB"
VERSION = "v1.24.2"


def binary_path() -> Path:
    return cache_dir() / f"ferretdb-{VERSION}" / "ferretdb"


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go")
                                else None)
    if go is None:
        from score_devenv.servers import ProvisionError

        raise ProvisionError(
            "FerretDB is not built yet and Go is not installed: install Go 1.22 or newer "
            "(https://go.dev/doc/install), or set MONGODB_URI to a MongoDB server")
    return go


def ensure_binary() -> Path:
    target = binary_path()
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel run waits for this build, not a second one
        if target.exists():
            return target
        _build(target)
    return target


def _build(target: Path) -> None:
    from score_devenv.servers import ProvisionError, log

    go = _go()
    env = {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"}
    log(f"building FerretDB {VERSION} with Go (once, about a minute; cached in {target.parent})")
    download = subprocess.run([go, "mod", "download", "-json", f"{MODULE}@{VERSION}"],
                              capture_output=True, text=True, env=env)
    if download.returncode != 0:
        raise ProvisionError(f"could not download {MODULE}@{VERSION} from the Go module proxy: "
                             + (download.stdout + download.stderr).strip()[-500:])
    source = Path(json.loads(download.stdout)["Dir"])
    with tempfile.TemporaryDirectory(prefix="ferretdb-build-") as tmp:
        work = Path(tmp) / "src"
        shutil.copytree(source, work)
        for path in work.rglob("*"):
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o200)
        (work / "build" / "version" / "version.txt").write_text(VERSION + "\n")
        partial = target.with_suffix(".partial")
        build = subprocess.run([go, "build", "-trimpath", "-o", str(partial), "./cmd/ferretdb"],
                               cwd=work, capture_output=True, text=True, env=env)
        if build.returncode != 0:
            raise ProvisionError("building FerretDB failed: " + build.stderr.strip()[-800:])
        partial.replace(target)
