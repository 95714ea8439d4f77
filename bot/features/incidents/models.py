"""Tables of the incidents feature."""
