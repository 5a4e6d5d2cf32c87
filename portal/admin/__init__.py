"""Administration by vendor staff with the administrator right: people (invite, deactivate,
reactivate); the fleet's registry comes next (issue #13)."""
