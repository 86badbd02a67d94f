"""Validation: JSON Schemas of documents, specs and environments.yaml, and lint rules."""
