"""Maintenance: plans that schedule visits, the technician visit life cycle, reports."""
