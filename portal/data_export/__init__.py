"""Give the data back: a customer's equipment data exported as one ZIP, by the worker."""
