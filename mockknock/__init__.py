"""mockknock: Knock (knock.app) on your own machine.

Knock's trigger API, and the signed, schema-valid webhook sequences Knock would send, following YAML scenarios.
"""

__version__ = "0.1.0"
