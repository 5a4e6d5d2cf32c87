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
SIGNALS = {
    "door_reopenings": N_("Door re-openings"),
    "leveling": N_("Levelling error"),
    "motor_temperature": N_("Motor temperature"),
    "vibration": N_("Vibration"),
    "traffic": N_("Trips"),
}
SIGNAL_UNITS = {
    "door_reopenings": N_("per 100 door cycles"),
    "leveling": N_("mm"),
    "motor_temperature": N_("°C"),
    "vibration": N_("mm/s"),
    "traffic": N_("trips per hour"),
}
# for facility managers and HOA presidents: "Our sensors see {what} since {day}."
SIGNAL_PLAIN = {
    "door_reopenings": N_("the doors reopening more often than usual"),
    "leveling": N_("the car stopping a little out of level"),
    "motor_temperature": N_("the motor running warmer than usual"),
    "vibration": N_("more vibration than usual"),
    "traffic": N_("the unit making no trips at a busy time"),
}
WATCH_STATUSES = {
    "open": N_("Open"),
    "confirmed": N_("Confirmed"),
    "dismissed": N_("Dismissed"),
    "resolved": N_("Back to normal"),
    "followed_by_outage": N_("Followed by an outage"),
}
SEVERITIES = {
    "low": N_("Low"),
    "medium": N_("Medium"),
    "high": N_("High"),
}
FINDINGS = {
    "door_sensor": N_("Door sensor dirty or misaligned"),
    "door_operator": N_("Door operator or rollers worn"),
    "levelling_sensor": N_("Levelling sensor or brake adjustment"),
    "motor_bearing": N_("Motor bearing or drive"),
    "ventilation": N_("Machine room ventilation"),
    "guide_rails": N_("Guide rails or shoes"),
    "controller": N_("Controller or wiring"),
    "other": N_("Other cause (see the report)"),
}
DISMISS_REASONS = {
    "no_fault_found": N_("Checked: no fault found"),
    "known_cause": N_("Known, harmless cause (works, event, season)"),
    "sensor_fault": N_("The sensor itself is faulty"),
    "other": N_("Other reason"),
}
# A health score's reasons ({value}: the factor's value, already formatted).
HEALTH_REASONS = {
    "availability_gap": N_("availability {value} points below target"),
    "outages": N_("{value} breakdowns per unit in 30 days"),
    "repeat_faults": N_("{value} repeat faults per unit in 30 days"),
    "restore_hours": N_("{value} h to restore a breakdown on average"),
    "response_over_hours": N_("technicians {value} h later than committed on average"),
    "missed_arrivals": N_("{value} announced arrival times missed per unit"),
    "late_visits": N_("{value} visits late or missed per unit"),
    "open_feedback_days": N_("feedback waiting for {value} days"),
    "warnings_confirmed": N_("{value} sensor warnings confirmed per unit"),
    "low_last_score": N_("latest CSAT low"),
    "scores_falling": N_("CSAT falling"),
    "unanswered_feedback": N_("{value} feedback items unanswered for over a week"),
    "resident_complaints": N_("{value} resident complaints per unit in 30 days"),
    "technician_not_met": N_("no technician met in 12 months"),
    "silent": N_("no answer in 180 days"),
    "new_president": N_("a new president in the last 90 days"),
}
HEALTH_FACTORS = {
    "availability_gap": N_("Availability below the contract's target"),
    "outages": N_("Breakdowns per unit"),
    "repeat_faults": N_("Repeat faults per unit"),
    "restore_hours": N_("Time to restore a breakdown"),
    "response_over_hours": N_("Technicians later than committed"),
    "missed_arrivals": N_("Announced arrival times missed"),
    "late_visits": N_("Visits late or missed"),
    "open_feedback_days": N_("Age of open feedback"),
    "warnings_confirmed": N_("Sensor warnings confirmed"),
    "low_last_score": N_("Latest answer low"),
    "scores_falling": N_("Answers falling"),
    "unanswered_feedback": N_("Feedback unanswered for over a week"),
    "resident_complaints": N_("Resident complaints per unit"),
    "technician_not_met": N_("No technician met in 12 months"),
    "silent": N_("No answer in 180 days"),
    "new_president": N_("A new president"),
}
OUTREACH_CHANNELS = {
    "call": N_("Call"),
    "email": N_("E-mail"),
    "meet": N_("Meet at the next visit"),
}
