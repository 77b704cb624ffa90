"""spamgw: a voice and SMS spam and fraud filtering gateway."""

__version__ = "0.1.0"
