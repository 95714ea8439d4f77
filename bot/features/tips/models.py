"""Tables of the tips feature."""
