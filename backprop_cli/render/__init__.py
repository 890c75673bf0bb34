"""Renderers: results -> strings, rich renderables or JSON-ready dicts. None of them prints."""
