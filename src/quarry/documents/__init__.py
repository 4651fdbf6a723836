"""Input documents: from bytes and an ``inputType`` to text, pages and tables."""
