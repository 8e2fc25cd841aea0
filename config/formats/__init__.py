"""Format modules (settings.FORMAT_MODULE_PATH): the admin's dates, one way everywhere."""
