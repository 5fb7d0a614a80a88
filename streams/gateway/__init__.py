"""The HTTP gateway: every API shape, one pipeline (see service.py)."""
