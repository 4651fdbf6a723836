"""One reader per family of input types: bytes in, ``Document`` out, ``DocumentError`` on failure."""
