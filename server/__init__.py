"""The service queue: HTTP API, storage and (later) the supporters' dashboard."""
