"""Command routing: the registry, parsing, permissions and the one error boundary."""
