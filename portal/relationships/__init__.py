"""The vendor's relationship tools: risk list, outreach tasks, renewals, satisfaction equations."""
