"""The ingest service: publishers' events and messages in, durable Kafka records out."""

from services.ingest.app import create_app

__all__ = ["create_app"]
