"""Satisfaction: survey scores per stakeholder group (CSAT, CES, NPS)."""
