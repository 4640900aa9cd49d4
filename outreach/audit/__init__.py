"""Audit log: who changed what and when, viewable by admins."""
