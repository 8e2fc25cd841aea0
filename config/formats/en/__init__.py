"""English, the only language the app speaks."""
