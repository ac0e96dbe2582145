"""Scan findings: one clear, complete alert per scanned image, basic and enhanced scanning alike."""
