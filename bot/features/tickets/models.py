"""Tables of the tickets feature."""
