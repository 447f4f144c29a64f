"""Small helpers shared by the tasks."""
