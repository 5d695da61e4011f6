"""Raw operating-system bindings used by the platform backends (no logic)."""
