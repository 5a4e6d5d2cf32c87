"""Monthly service reports and exports of a customer's data."""
