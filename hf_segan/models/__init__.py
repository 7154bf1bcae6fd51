"""Model definitions: config in, tensors out. No I/O, no globals."""
