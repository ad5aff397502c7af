"""Example training package for Vertex AI's Python package runner, scheduled by gridshift."""
