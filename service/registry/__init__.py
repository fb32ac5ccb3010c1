"""The tool and agent registry that nodes reference."""
