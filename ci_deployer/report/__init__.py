"""Reporters: plans and apply results as text, Markdown (Jinja2 templates kept as files) and JSON."""
