"""Video: frames in, tracked objects out."""
