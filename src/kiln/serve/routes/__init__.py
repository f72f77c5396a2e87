"""One router per resource: predict, explain, health, metadata, metrics, page."""
