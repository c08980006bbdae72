"""Build FerretDB v1.24.2 once from the Go module proxy and cache the binary.

`go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` asks the proxy for the
module's version list to check for deprecation, and a proxy that only serves exact versions
refuses that. So the exact version is downloaded (`go mod download`), copied out of the
read-only module cache, stamped with its version (FerretDB's build refuses to start without
build/version/version.txt, normally written by its release tooling) and built.

A few lines are patched before building (PATCHES). FerretDB v1.24's SQLite backend creates
the unique `_id` index on the expression `_ferretdb_sjson->"_id"` but looks documents up by
`_ferretdb_sjson->'$._id'`: equal in value, different to SQLite's planner, so every lookup,
update and delete by `_id` scanned the whole table (18 ms at 5,000 documents, growing
linearly). With the lookup written like the index, they are index searches (about 1 ms at any
size); the same is done for `_id: {$in: [...]}`, and a bulk update no longer keeps every
statement's cursor open until it deadlocks. The build id carries the patch level so a binary
built with older patches is rebuilt.
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
PATCH_LEVEL = "score3"

IN_PUSHDOWN = """\
	if idFilter, _ := params.Filter.Get("_id"); whereClause == "" {
		if cond, ok := idFilter.(*types.Document); ok && cond.Len() == 1 {
			if values, _ := cond.Get("$in"); values != nil {
				if list, ok := values.(*types.Array); ok && list.Len() > 0 && list.Len() <= 1000 {
					placeholders := make([]string, 0, list.Len())
					inArgs := make([]any, 0, list.Len())
					for i := 0; i < list.Len(); i++ {
						item := must.NotFail(list.Get(i))
						switch item.(type) {
						case string, types.ObjectID:
							placeholders = append(placeholders, "?")
							inArgs = append(inArgs, string(must.NotFail(sjson.MarshalSingleValue(item))))
						}
					}
					if len(placeholders) == list.Len() {
						whereClause = fmt.Sprintf(` WHERE %s IN (%s)`, metadata.IDColumn,
							strings.Join(placeholders, ", "))
						args = inArgs
					}
				}
			}
		}
	}
"""

# (file, text FerretDB ships, text we build)
PATCHES = (
    ("internal/backends/sqlite/metadata/metadata.go",
     "IDColumn = DefaultColumn + \"->'$._id'\"",
     "IDColumn = DefaultColumn + `->\"_id\"`"),
    # Query pushed `_id` down only when it was the filter's sole key, so {_id, version} (every
    # conditional save) scanned the table. Every caller filters the rows again in full, so
    # pushing down the `_id` part of a larger filter is safe.
    ("internal/backends/sqlite/collection.go",
     "if params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get(\"_id\")\n\t\tswitch v.(type) {"
     "\n\t\tcase string, types.ObjectID:\n\t\t\twhereClause",
     "if params.Filter.Len() >= 1 {\n\t\tv, _ := params.Filter.Get(\"_id\")\n\t\tswitch v.(type) {"
     "\n\t\tcase string, types.ObjectID:\n\t\t\twhereClause"),
    # `_id: {$in: [...]}` (a batch read, update or delete by ids) scanned the table too; it is
    # an index search when every listed id is a string or an ObjectID.
    ("internal/backends/sqlite/collection.go",
     "\tq += whereClause\n\tq += prepareOrderByClause(params.Sort)",
     IN_PUSHDOWN + "\tq += whereClause\n\tq += prepareOrderByClause(params.Sort)"),
    # A multi-statement update (a bulk write) kept every statement's SQLite cursor open until
    # the last one: with more statements than pooled connections it waited forever.
    ("internal/handler/msg_update.go",
     "\t\tresult, err := common.UpdateDocument(ctx, c, \"update\", iter, &u)\n",
     "\t\tresult, err := common.UpdateDocument(ctx, c, \"update\", iter, &u)\n"
     "\t\tcloser.Close()\n"),
)


def binary_path() -> Path:
    return cache_dir() / f"ferretdb-{VERSION}-{PATCH_LEVEL}" / "ferretdb"


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
        for relative, shipped, patched in PATCHES:
            path = work / relative
            text = path.read_text()
            if text.count(shipped) != 1:
                raise ProvisionError(f"cannot patch FerretDB: {relative} no longer contains "
                                     f"{shipped!r}")
            path.write_text(text.replace(shipped, patched))
        (work / "build" / "version" / "version.txt").write_text(VERSION + "\n")
        partial = target.with_suffix(".partial")
        build = subprocess.run([go, "build", "-trimpath", "-o", str(partial), "./cmd/ferretdb"],
                               cwd=work, capture_output=True, text=True, env=env)
        if build.returncode != 0:
            raise ProvisionError("building FerretDB failed: " + build.stderr.strip()[-800:])
        partial.replace(target)
