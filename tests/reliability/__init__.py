"""Helpers of the reliability tests: a recording SMTP server and real worker processes."""
