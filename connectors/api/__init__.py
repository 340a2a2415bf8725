"""The REST API (FastAPI): one router per resource over the `Runtime` seam and the store."""
