"""Input documents: from bytes and an ``inputType`` to pages, words with boxes, tables and attachments."""
