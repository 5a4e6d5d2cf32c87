"""Words for stored codes (fault codes, kinds of visit, stakeholder groups…), as message ids.

Flask-free, so that both the web pages (through :mod:`portal.web.filters`, which makes
them lazy strings) and documents rendered outside a request (the monthly report's PDF, in
the worker) translate the same words with the same catalogues.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the extraction keyword pybabel knows
    """Mark a message for translation; it is translated where it is shown."""
    return message


KINDS = {
    "elevator": N_("Elevator"),
    "escalator": N_("Escalator"),
    "door": N_("Automatic door"),
    "hvac": N_("HVAC unit"),
}
VISIT_KINDS = {
    "preventive": N_("Preventive maintenance"),
    "repair": N_("Repair"),
    "inspection": N_("Safety inspection"),
    "modernisation": N_("Modernisation work"),
}
FAULTS = {
    "door_obstruction": N_("door obstructed"),
    "door_lock": N_("door lock"),
    "door": N_("door"),
    "leveling": N_("stops out of level"),
    "drive_fault": N_("drive (motor)"),
    "power_loss": N_("power cut"),
    "overspeed": N_("overspeed safety"),
    "entrapment": N_("someone trapped"),
    "controller": N_("controller"),
    "safety_chain": N_("safety circuit"),
}
AUDIENCES = {
    "facility_manager": N_("Facility manager"),
    "hoa_president": N_("HOA president"),
    "field_technician": N_("Field technician"),
    "vendor_staff": N_("Vendor staff"),
    "resident": N_("Resident"),
}
DETECTED_BY = {
    "sensor": N_("sensor"),
    "report": N_("report"),
    "technician": N_("technician"),
}
VISIT_STATUSES = {
    "scheduled": N_("Planned"),
    "in_progress": N_("In progress"),
    "completed": N_("Done"),
    "cancelled": N_("Cancelled"),
}
