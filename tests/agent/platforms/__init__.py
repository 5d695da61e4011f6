"""Tests of the per-platform desktop integration (mirrors agent/platforms/)."""
