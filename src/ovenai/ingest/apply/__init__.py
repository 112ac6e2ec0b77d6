"""The events of a batch of stored bodies applied exactly once, in one transaction."""
