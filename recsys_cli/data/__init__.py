"""Data: the interim tables, sources that produce them, preprocessing and splits."""
