#!/usr/bin/env python3
"""The folder-import benchmark of the photo library (issue 12, benchmark 2).

Makes COUNT distinct photo-like 12 MP JPEGs in DIR (once; kept for the next run), starts
`tintype serve` on a fresh data directory (open mode, loopback), runs
`tintype import DIR`, and reports photos per second until every photo is browsable
(on the timeline: its JPEG and WebP renditions made) and until every ingest job is done
(its AVIF renditions too). Then the anchor: ../shared/bench/vips_ingest.py over the
same files with two processes at a time.

usage: scripts/bench-import.py [--count 200] [--dir /tmp/bench-photos]
                               [--tintype target/release/tintype] [--no-anchor]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def make_photos(count: int, folder: str) -> list:
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"IMG_{i:04}.jpg") for i in range(count)]
    missing = [(i, p) for i, p in enumerate(paths) if not os.path.exists(p)]
    if missing:
        print(f"making {len(missing)} photos in {folder}", file=sys.stderr)
        procs = []
        for i, p in missing:
            procs.append(subprocess.Popen([sys.executable, os.path.join(HERE, "make-bench-image.py"), p, "4032", "3024", str(100 + i)]))
            if len(procs) >= 2:
                procs.pop(0).wait()
        for proc in procs:
            proc.wait()
    return paths


def get(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=30) as res:
        return json.load(res)


def count_pages(base: str, path: str, field: str) -> int:
    n, cursor = 0, None
    while True:
        sep = "&" if "?" in path else "?"
        page = get(base, path + (f"{sep}cursor={cursor}" if cursor else ""))
        n += len(page[field])
        cursor = page.get("next_cursor")
        if not cursor:
            return n


def tintype_run(exe: str, folder: str, count: int) -> None:
    data = tempfile.mkdtemp(prefix="tintype-bench-")
    env = dict(os.environ, RUST_LOG="warn")
    env.pop("TINTYPE_CONFIG", None)
    serve = subprocess.Popen([exe, "--data-dir", data, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, env=env, text=True)
    try:
        line = serve.stdout.readline().strip()
        base = line.removeprefix("tintype listening on ")
        t0 = time.monotonic()
        imp = subprocess.Popen([exe, "import", folder, "--server", base], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
        sent = None
        browsable = None
        while True:
            if sent is None and imp.poll() is not None:
                sent = time.monotonic() - t0
                lines = imp.stdout.read().strip().splitlines()
                print(lines[-1] if lines else f"import exited with {imp.returncode}")
            if browsable is None and count_pages(base, "/v1/photos?limit=500", "photos") >= count:
                browsable = time.monotonic() - t0
            done = count_pages(base, "/v1/jobs?kind=ingest&state=succeeded&limit=500", "jobs")
            failed = count_pages(base, "/v1/jobs?kind=ingest&state=failed&limit=500", "jobs")
            if done + failed >= count and browsable is not None and sent is not None:
                finished = time.monotonic() - t0
                break
            time.sleep(0.5)
        print(f"tintype: {count} photos; import returned after {sent:.1f} s; all browsable after {browsable:.1f} s "
              f"({count / browsable:.2f} photos/s); all AVIF done after {finished:.1f} s ({count / finished:.2f} photos/s); "
              f"failed {failed}")
    finally:
        serve.terminate()
        serve.wait()
        shutil.rmtree(data, ignore_errors=True)


def anchor_run(paths: list) -> None:
    script = os.path.join(HERE, "..", "..", "shared", "bench", "vips_ingest.py")
    out = tempfile.mkdtemp(prefix="vips-bench-")
    t0 = time.monotonic()
    procs, i = [], 0
    for i, p in enumerate(paths):
        procs.append(subprocess.Popen([sys.executable, script, p, os.path.join(out, str(i))], stdout=subprocess.DEVNULL))
        if len(procs) >= 2:
            procs.pop(0).wait()
    for proc in procs:
        proc.wait()
    took = time.monotonic() - t0
    shutil.rmtree(out, ignore_errors=True)
    print(f"pyvips anchor: {len(paths)} photos, 2 processes, {took:.1f} s ({len(paths) / took:.2f} photos/s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--dir", default="/tmp/bench-photos")
    ap.add_argument("--tintype", default=os.path.join(HERE, "..", "target", "release", "tintype"))
    ap.add_argument("--no-anchor", action="store_true")
    args = ap.parse_args()
    paths = make_photos(args.count, args.dir)
    tintype_run(args.tintype, args.dir, args.count)
    if not args.no_anchor:
        anchor_run(paths)


if __name__ == "__main__":
    main()
