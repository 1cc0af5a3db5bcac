"""The broker's classpath: Kafka's jars, resolved once by Maven from Maven Central into
the cache, then read from the marker file that lists them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from infra.harness import exclusive_lock
from infra.kafka.broker_config import POM_FILE, BrokerConfig, BrokerError


def kafka_classpath(config: BrokerConfig) -> list[Path]:
    """Return the broker's classpath, running Maven only if it is not cached yet."""
    cached = _cached_classpath(config)
    if cached is not None:
        return cached
    config.classpath_marker.parent.mkdir(parents=True, exist_ok=True)
    # Two processes (a dev `up` and a test session) may both find the cache cold.
    with exclusive_lock(config.classpath_marker.with_suffix(".lock")):
        cached = _cached_classpath(config)
        if cached is not None:
            return cached
        _resolve_jars_with_maven(config)
        jars = sorted(config.jar_dir.glob("*.jar"))
        if not any(jar.name.startswith("kafka_2.13-") for jar in jars):
            raise BrokerError(f"Maven ran but no kafka_2.13 jar is in {config.jar_dir}")
        marker_tmp = config.classpath_marker.with_suffix(".tmp")
        marker_tmp.write_text(os.pathsep.join(str(jar) for jar in jars) + "\n")
        marker_tmp.replace(config.classpath_marker)  # atomic: never half-written
        return jars


def _cached_classpath(config: BrokerConfig) -> list[Path] | None:
    marker = config.classpath_marker
    if not marker.is_file():
        return None
    jars = [Path(entry) for entry in marker.read_text().strip().split(os.pathsep) if entry]
    if not jars or not all(jar.is_file() for jar in jars):
        return None  # cache was partially deleted: resolve again
    return jars


def _resolve_jars_with_maven(config: BrokerConfig) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError("`mvn` is not on PATH; it is needed once to fetch the Kafka jars")
    # A stale, partial lib dir from an interrupted run could mix versions of a jar.
    shutil.rmtree(config.jar_dir, ignore_errors=True)
    command = [
        mvn,
        "-q",
        "-B",
        "-Dstyle.color=never",
        "-f",
        str(POM_FILE),
        f"-Dkafka.version={config.kafka_version}",
        f"-Dkafka.lib.dir={config.jar_dir}",
        "dependency:copy-dependencies",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BrokerError(
            f"Maven could not resolve Kafka {config.kafka_version} "
            f"(exit {result.returncode}):\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
        )
