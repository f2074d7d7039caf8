"""Adapter placeholder: filled by its host issue."""
