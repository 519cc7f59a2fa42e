"""I/O adapter for object stores: a narrow Protocol in our own vocabulary, and S3."""
