"""Engagement: click and open tracking, A/B subject tests, provider webhooks, campaign reports."""
