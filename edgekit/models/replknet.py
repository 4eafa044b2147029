"""RepLKNet placeholder (being written)."""
