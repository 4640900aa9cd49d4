"""The staff dashboard and the reports page: what needs attention, and charts over time."""
