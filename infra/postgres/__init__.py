"""The project's private PostgreSQL cluster for development and tests (see ``cluster``)."""

from infra.postgres.cluster import ClusterConfig, ClusterError, PostgresCluster, StartOutcome

__all__ = ["ClusterConfig", "ClusterError", "PostgresCluster", "StartOutcome"]
