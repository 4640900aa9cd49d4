"""News feeds: staff-managed RSS/Atom sources polled into items for newsletters and digests."""
