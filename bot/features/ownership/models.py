"""Tables of the ownership feature."""
