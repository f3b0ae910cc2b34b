"""Hidden check: APP_PORT picks the port, default 8080, bad values exit 2 naming APP_PORT."""

from checklib import compare, fail, passed, paths, rng, run


def dry_run(ws, env):  # type: ignore[no-untyped-def]
    return run(["python3", "server.py", "--dry-run"], ws, env=env)


def main() -> None:
    ws, _ = paths()
    proc = dry_run(ws, {})
    compare(
        "default (exit, stdout)",
        (proc.returncode, proc.stdout.strip()),
        (0, "serving on 127.0.0.1:8080"),
    )
    for port in (rng().randint(1025, 65535), 1, 65535):
        proc = dry_run(ws, {"APP_PORT": str(port)})
        compare(
            f"APP_PORT={port}",
            (proc.returncode, proc.stdout.strip()),
            (0, f"serving on 127.0.0.1:{port}"),
        )
    for bad in ("http", "0", "65536", "-5", "80.5"):
        proc = dry_run(ws, {"APP_PORT": bad})
        if proc.returncode != 2 or "APP_PORT" not in proc.stderr or "serving on" in proc.stdout:
            said = f"stderr {proc.stderr[-200:]!r}, stdout {proc.stdout!r}"
            fail(f"APP_PORT={bad!r}: exit {proc.returncode}, {said}")
    passed()


main()
