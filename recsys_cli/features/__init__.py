"""Features computed from the train window only: item text vectors and side features."""
