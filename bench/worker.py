"""One measured run in a process of its own: `python -m bench.worker '<json spec>'`.

The runner (`python -m bench`) starts a fresh process for every run, so `peak_rss_mb` (ru_maxrss) is
this run's peak and nothing else's. The last line printed on stdout is the result as JSON.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path
from typing import Any

from bench.measure import peak_rss_mb


def run(spec: dict[str, Any]) -> dict[str, Any]:
    path, url = spec["path"], spec["url"]
    if path == "e2e_real":  # --pacing real: our sync against a sandbox served elsewhere
        from bench import e2e

        return _rss(e2e.run_real(url, spec["api_url"], spec["token"]))
    if path == "dlt_http":
        from bench import peer_dlt_http

        return _rss(peer_dlt_http.run(url, spec["api_url"], spec["token"], Path(spec["workdir"])))
    args = (url, spec["scenario"], spec["records"], spec.get("seed", 0))
    if path == "engine":
        from bench import engine_path

        result = engine_path.run(*args)
    elif path == "baseline":
        from bench import baseline

        result = baseline.run(*args)
    elif path == "dlt":
        from bench import peer_dlt

        result = peer_dlt.run(*args, workdir=Path(spec["workdir"]))
    elif path == "e2e":
        from bench import e2e

        transport = spec.get("transport", "inprocess")
        result = e2e.run(
            *args,
            transport=transport,
            prefetch=spec.get("prefetch", True),
            latency_ms=spec.get("latency_ms", 0.0),
        )
    else:
        raise SystemExit(f"unknown path {path!r}")
    return _rss(result)


def _rss(result: dict[str, Any]) -> dict[str, Any]:
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result["peak_rss_mb"] = round(max(peak_rss_mb(), children_mb), 1)
    return result


def main() -> None:
    spec = json.loads(sys.argv[1])
    result = run(spec)
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
