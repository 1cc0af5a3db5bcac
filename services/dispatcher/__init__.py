"""The webhook dispatcher: carriers' endpoints told about their consignments' changes."""
