"""The ASTM F3548-21 DSS endpoints (``/dss/v1``) and their wire schemas."""
